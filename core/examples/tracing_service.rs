//! A service that logs through `tracing`, with selective audit routing: ordinary lines go to
//! the console, events marked `audit = true` (and anything at ERROR) also go to the audit log,
//! durably, with the fields of their spans.
//!
//! Run: `cargo run -p mtlog-audit --example tracing_service --features tracing`

use std::sync::Arc;

use mtlog_audit::adapters::tracing::AuditLayer;
use mtlog_audit::adapters::{Delivery, Routing, SharedSink};
use mtlog_audit::{Options, Reader, Sink};
use tracing_subscriber::layer::SubscriberExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new("./audit-data-tracing");
    let sink = Arc::new(Sink::open(Options::new(dir))?);
    let audit = SharedSink::new(sink.clone(), Routing::default(), Delivery::Blocking);
    let subscriber = tracing_subscriber::registry().with(AuditLayer::new(audit.clone()));
    tracing::subscriber::with_default(subscriber, || {
        for request in 0..3u64 {
            let span = tracing::info_span!("request", RequestId = request, TenantId = "acme");
            let _enter = span.enter();
            tracing::info!("handling request"); // ordinary: not audited
            tracing::info!(
                audit = true,
                UserId = 42u64,
                RecordId = format!("r-{request}").as_str(),
                template = "User {UserId} accessed record {RecordId}",
                "User 42 accessed record r-{}",
                request
            );
        }
        tracing::error!(code = 503u64, "upstream unavailable"); // audited by level
    });
    let stats = audit.stats();
    println!(
        "audited {} events, skipped {} ordinary lines",
        stats.delivered.load(std::sync::atomic::Ordering::Relaxed),
        stats.skipped.load(std::sync::atomic::Ordering::Relaxed)
    );
    sink.close()?;
    let reader = Reader::open(dir)?;
    for e in reader.replay(1..=u64::MAX)? {
        println!("{}", e?.event.to_clef());
    }
    if !reader.verify_integrity().is_valid() {
        return Err("audit log failed verification".into());
    }
    Ok(())
}
