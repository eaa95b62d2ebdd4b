//! `mtlog-audit serve`: Seq-compatible CLEF ingestion that answers only once events are durable.
//!
//! A service that already ships its logs to Seq (Serilog, mtlog, seq-logging, seqlog, ...)
//! points its Seq URL here and gets the library's guarantee: `201 Created` means every event of
//! the request was fdatasynced into its tenant's log. The HTTP layer is axum on a tokio runtime;
//! each request's events are parsed and checked whole first ([`mod@ingest`]), then emitted in
//! order on a blocking thread, so a runtime thread never waits for an fsync.
//!
//! Answers (`docs/serve.md`): 201 stored; 400 a malformed event (the body names its line or
//! index; nothing of the request stored); 401 no or unknown API key; 413 a body or an event too
//! large, or too many events; 503 with `Retry-After` when the server is saturated, the disk is
//! full, or a write failed (the tenant's log is reopened by recovery before the next request).

pub mod ingest;
pub mod tenants;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use mtlog_audit::event::Event;
use mtlog_audit::{Error, Options};
use tokio::sync::Semaphore;

use crate::commands::{input, Failure, Outcome};
use ingest::{IngestError, Shape};
use tenants::Tenant;

/// The command line of `serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:5341")]
    pub listen: String,
    /// Directory of the tenants' logs: tenant T writes DATA/T.
    #[arg(long)]
    pub data: PathBuf,
    /// An API key and the tenant it writes to, KEY:TENANT (repeatable; keys of 16+ characters).
    #[arg(long = "api-key", required = true)]
    pub api_keys: Vec<String>,
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 10 << 20)]
    pub body_max: usize,
    /// Most events in one request (more: 413).
    #[arg(long, default_value_t = 10_000)]
    pub events_max: usize,
    /// Requests being stored at once; past it a request gets 503 and Retry-After, never a queue.
    #[arg(long, default_value_t = 256)]
    pub inflight_max: usize,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

struct Shared {
    keys: HashMap<[u8; 32], Arc<Tenant>>,
    inflight: Arc<Semaphore>,
    body_max_event: usize,
    events_max: usize,
}

/// Runs the server until SIGINT or SIGTERM, then drains in-flight requests and seals every
/// tenant's log.
///
/// # Errors
/// A bad key list or tenant name, a data directory or log that cannot be opened, an address
/// that cannot be bound.
pub fn serve(args: &ServeArgs) -> Outcome {
    let keys = tenants::parse_keys(&args.api_keys).map_err(input)?;
    std::fs::create_dir_all(&args.data)
        .map_err(|e| input(format!("{}: {e}", args.data.display())))?;
    let mut opened: BTreeMap<String, Arc<Tenant>> = BTreeMap::new();
    for tenant in keys.values() {
        if !opened.contains_key(tenant) {
            let t = Tenant::open(&args.data, tenant).map_err(|e| {
                input(format!("tenant {tenant}: {}: {e}", args.data.join(tenant).display()))
            })?;
            opened.insert(tenant.clone(), Arc::new(t));
        }
    }
    let shared = Arc::new(Shared {
        keys: keys.into_iter().map(|(k, t)| (k, Arc::clone(&opened[&t]))).collect(),
        inflight: Arc::new(Semaphore::new(args.inflight_max.max(1))),
        body_max_event: Options::new(&args.data).body_max_effective(),
        events_max: args.events_max.max(1),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()
        .map_err(|e| input(format!("starting the runtime: {e}")))?;
    let served = runtime.block_on(run(args, Arc::clone(&shared)));
    let mut failed = Vec::new();
    for tenant in opened.values() {
        if let Err(e) = tenant.close() {
            failed.push(format!("tenant {}: closing: {e}", tenant.name));
        }
    }
    served?;
    if !failed.is_empty() {
        return Err(input(failed.join("; ")));
    }
    eprintln!("serve: stopped; {} tenant log(s) sealed", opened.len());
    Ok(ExitCode::SUCCESS)
}

async fn run(args: &ServeArgs, shared: Arc<Shared>) -> Result<(), Failure> {
    let app = Router::new()
        .route("/api/events/raw", post(ingest_handler))
        // Seq's newer endpoint: always CLEF (seqlog posts here with use_clef).
        .route("/ingest/clef", post(clef_handler))
        .layer(DefaultBodyLimit::max(args.body_max))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| input(format!("--listen {}: {e}", args.listen)))?;
    let addr =
        listener.local_addr().map_err(|e| input(format!("--listen {}: {e}", args.listen)))?;
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| input(format!("serving on {addr}: {e}")))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn clef_handler(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ingest(shared, query, headers, body, Some(Shape::Clef)).await
}

async fn ingest_handler(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ingest(shared, query, headers, body, None).await
}

/// One request: `shape` fixed by the route, or (`None`) chosen by the query and content type.
async fn ingest(
    shared: Arc<Shared>,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
    shape: Option<Shape>,
) -> Response {
    let key = headers
        .get("X-Seq-ApiKey")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query.get("apiKey").map(String::as_str));
    let Some(tenant) = key.and_then(|k| shared.keys.get(&tenants::digest(k))) else {
        return answer(StatusCode::UNAUTHORIZED, "no API key, or an unknown one", None);
    };
    let Ok(permit) = Arc::clone(&shared.inflight).try_acquire_owned() else {
        return answer(StatusCode::SERVICE_UNAVAILABLE, "saturated: retry later", Some(1));
    };
    let clef = shape == Some(Shape::Clef)
        || query.contains_key("clef")
        || headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/vnd.serilog.clef"));
    let shape = if clef { Shape::Clef } else { Shape::JsonBatch };
    let events = match ingest::parse(&body, shape, shared.body_max_event, shared.events_max) {
        Ok(events) => events,
        Err(e) => {
            let status =
                if e.is_size() { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
            return answer(status, &refused(&e), None);
        }
    };
    let tenant = Arc::clone(tenant);
    let stored = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        store(&tenant, &events)
    })
    .await;
    match stored {
        Ok(Ok(())) => {
            let mut r = (StatusCode::CREATED, r#"{"MinimumLevelAccepted":null}"#).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        Ok(Err(e)) => answer(e.status, &e.message, e.retry_after),
        Err(join) => answer(StatusCode::INTERNAL_SERVER_ERROR, &format!("storing: {join}"), None),
    }
}

fn refused(e: &IngestError) -> String {
    format!("{e}; nothing of this request was stored")
}

struct StoreError {
    status: StatusCode,
    message: String,
    retry_after: Option<u32>,
}

/// Emits the request's events in order; each `emit` returns once its event is durable.
fn store(tenant: &Tenant, events: &[Event]) -> Result<(), StoreError> {
    let unavailable = |message: String| StoreError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message,
        retry_after: Some(5),
    };
    let sink = tenant
        .sink()
        .map_err(|e| unavailable(format!("tenant {}: reopening: {e}", tenant.name)))?;
    for (i, event) in events.iter().enumerate() {
        if let Err(e) = sink.emit(event) {
            let stored = format!("the first {i} of {} events are stored", events.len());
            return Err(match e {
                Error::DiskFull { .. } => unavailable(format!("disk full: {stored}, the rest not")),
                Error::Poisoned(_) => {
                    tenant.poisoned(&sink);
                    unavailable(format!(
                        "a write failed: {stored}; event {i}'s outcome is unknown (retry; \
                         consumers de-duplicate by @i)"
                    ))
                }
                Error::Closed => unavailable(format!("shutting down: {stored}, the rest not")),
                other => StoreError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: format!("{stored}; event {i}: {other}"),
                    retry_after: None,
                },
            });
        }
    }
    Ok(())
}

/// A JSON error answer, as Seq words them (`{"Error": ...}`).
fn answer(status: StatusCode, message: &str, retry_after: Option<u32>) -> Response {
    let body = serde_json::json!({ "Error": message }).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(s) = retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    r
}
