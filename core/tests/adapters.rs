//! The logger adapters end to end: selective routing, templates, span fields, blocking and
//! bounded asynchronous delivery, and the audit! macro.

#![cfg(all(feature = "tracing", feature = "log", feature = "slog"))]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mtlog_audit::adapters::{Delivery, Routing, SharedSink};
use mtlog_audit::{audit, Level, Options, Reader, Sink, Value};

fn events(dir: &std::path::Path) -> Vec<mtlog_audit::Event> {
    Reader::open(dir).unwrap().replay(1..=u64::MAX).unwrap().map(|e| e.unwrap().event).collect()
}

#[test]
fn the_audit_macro_binds_arguments_to_template_names() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::open(Options::new(tmp.path())).unwrap();
    let (user_id, record_id) = (42u64, "r-7");
    let r = audit!(sink, "User {UserId} accessed record {RecordId}", user_id, record_id).unwrap();
    audit!(sink, Level::Warning => "Login failed for {UserId}", user_id).unwrap();
    sink.close().unwrap();
    let got = events(tmp.path());
    assert_eq!(r.seq, 1);
    assert_eq!(got[0].template, "User {UserId} accessed record {RecordId}");
    assert_eq!(got[0].message, "User 42 accessed record r-7");
    assert_eq!(got[0].property("RecordId"), Some(&Value::Str("r-7".into())));
    assert_eq!(got[1].level, Level::Warning);
}

#[test]
fn tracing_routes_marked_and_severe_events_with_span_fields_and_templates() {
    use tracing_subscriber::layer::SubscriberExt;
    let tmp = tempfile::tempdir().unwrap();
    let sink = Arc::new(Sink::open(Options::new(tmp.path())).unwrap());
    let shared = SharedSink::new(sink.clone(), Routing::default(), Delivery::Blocking);
    let layer = mtlog_audit::adapters::tracing::AuditLayer::new(shared.clone());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", RequestId = "req-1", TenantId = 7u64);
        let _g = span.enter();
        tracing::info!("ordinary log line, not audited");
        tracing::info!(
            audit = true,
            UserId = 42u64,
            RecordId = "r-7",
            template = "User {UserId} accessed record {RecordId}",
            "User 42 accessed record r-7"
        );
        tracing::error!(code = 500u64, "payment gateway down");
        tracing::error!(target: "mtlog_audit::sink", "the library's own diagnostics never loop back");
    });
    let got = events(tmp.path());
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].template, "User {UserId} accessed record {RecordId}");
    assert_eq!(got[0].message, "User 42 accessed record r-7");
    assert_eq!(got[0].property("RequestId"), Some(&Value::Str("req-1".into())));
    assert_eq!(got[0].property("TenantId"), Some(&Value::U64(7)));
    assert_eq!(got[0].property("UserId"), Some(&Value::U64(42)));
    assert_eq!(got[1].level, Level::Error);
    assert_eq!(shared.stats().delivered.load(Ordering::Relaxed), 2);
    assert_eq!(shared.stats().skipped.load(Ordering::Relaxed), 2);
}

#[test]
fn log_and_slog_adapters_route_by_mark_and_target() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Arc::new(Sink::open(Options::new(tmp.path())).unwrap());
    let routing = Routing { target_prefixes: vec!["payments".into()], ..Routing::default() };
    let shared = SharedSink::new(sink.clone(), routing, Delivery::Blocking);
    let logger = mtlog_audit::adapters::log::AuditLogger::new(shared.clone());
    use log::Log;
    logger.log(
        &log::Record::builder()
            .target("app")
            .level(log::Level::Info)
            .args(format_args!("skip me"))
            .build(),
    );
    let kvs: &[(&str, bool)] = &[("audit", true)];
    logger.log(
        &log::Record::builder()
            .target("app")
            .level(log::Level::Info)
            .key_values(&kvs)
            .args(format_args!("user 42 exported records"))
            .build(),
    );
    logger.log(
        &log::Record::builder()
            .target("payments::card")
            .level(log::Level::Debug)
            .args(format_args!("card ok"))
            .build(),
    );
    let drain = mtlog_audit::adapters::slog::AuditDrain::new(shared.clone());
    let root = slog::Logger::root(drain, slog::o!("service" => "billing"));
    slog::info!(root, "invoice issued"; "audit" => true, "InvoiceId" => 77u64);
    slog::info!(root, "ordinary slog line");
    let got = events(tmp.path());
    let messages: Vec<&str> = got.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["user 42 exported records", "card ok", "invoice issued"]);
    assert_eq!(got[2].property("InvoiceId"), Some(&Value::U64(77)));
    assert_eq!(got[2].property("service"), Some(&Value::Str("billing".into())));
}

#[test]
fn async_delivery_is_bounded_and_drops_nothing() {
    use tracing_subscriber::layer::SubscriberExt;
    let tmp = tempfile::tempdir().unwrap();
    let sink = Arc::new(Sink::open(Options::new(tmp.path())).unwrap());
    let shared = SharedSink::new(sink.clone(), Routing::everything(), Delivery::Async { queue: 4 });
    let subscriber = tracing_subscriber::registry()
        .with(mtlog_audit::adapters::tracing::AuditLayer::new(shared.clone()));
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..500u64 {
            tracing::info!(N = i, "event {}", i);
        }
    });
    shared.shutdown();
    assert_eq!(shared.stats().delivered.load(Ordering::Relaxed), 500);
    let got = events(tmp.path());
    assert_eq!(got.len(), 500);
    assert_eq!(got[499].property("N"), Some(&Value::U64(499)));
}
