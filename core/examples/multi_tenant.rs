//! A SaaS service with one audit log per tenant: each tenant's events live in their own
//! directory (their own lock, segments and hash chain), so one tenant's log can be exported,
//! verified or deleted without touching another's.
//!
//! Run: `cargo run -p mtlog-audit --example multi_tenant`

#![allow(clippy::disallowed_methods)] // An example program: it spawns threads.

use std::collections::BTreeMap;

use mtlog_audit::{Level, Options, Reader, Sink};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new("./audit-data-tenants");
    let tenants = ["acme", "globex", "initech"];
    let mut sinks = BTreeMap::new();
    for t in tenants {
        sinks.insert(t, Sink::open(Options::new(root.join(t)))?);
    }
    std::thread::scope(|s| {
        for (tenant, sink) in &sinks {
            s.spawn(move || {
                for i in 0..50u64 {
                    sink.event(Level::Information, "Tenant {TenantId} invoice {InvoiceId} issued")
                        .with("TenantId", *tenant)
                        .with("InvoiceId", i)
                        .emit()
                        .expect("emit");
                }
            });
        }
    });
    for (tenant, sink) in sinks {
        sink.close()?;
        let reader = Reader::open(root.join(tenant))?;
        let report = reader.verify_integrity();
        let foreign = reader
            .replay(1..=u64::MAX)?
            .filter_map(Result::ok)
            .filter(|e| e.event.property("TenantId") != Some(&mtlog_audit::Value::from(tenant)))
            .count();
        println!(
            "{tenant:<8} {} events, valid: {}, foreign events: {foreign}",
            report.events,
            report.is_valid()
        );
        if !report.is_valid() || foreign != 0 {
            return Err(format!("tenant {tenant}: isolation or integrity failed").into());
        }
    }
    Ok(())
}
