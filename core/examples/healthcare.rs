//! A clinical system recording every access to patient records (HIPAA's audit-controls
//! requirement, 45 CFR 164.312(b)): who accessed which record, when, and why, durably, in a log
//! whose order and content can be verified later. Compliance profiles (encryption of PHI,
//! pseudonymisation, retention) are tracked as their own issue and not shown here.
//!
//! Run: `cargo run -p mtlog-audit --example healthcare`

use mtlog_audit::{audit, Level, Options, Reader, Sink};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new("./audit-data-healthcare");
    let sink = Sink::open(Options::new(dir).failure_handler(|e| {
        // In a real deployment: page the on-call engineer; an audit failure is an incident.
        eprintln!("AUDIT FAILURE: {e}");
    }))?;
    let accesses = [
        ("dr.smith", "patient-1001", "treatment"),
        ("nurse.lee", "patient-1001", "medication administration"),
        ("billing.ops", "patient-2044", "payment"),
    ];
    for (user, patient, purpose) in accesses {
        audit!(sink, "{UserId} viewed chart {PatientId} for {Purpose}", user, patient, purpose)?;
    }
    audit!(sink, Level::Warning => "{UserId} was denied access to chart {PatientId}", "intern.x", "patient-3001")?;
    sink.close()?;

    let reader = Reader::open(dir)?;
    let report = reader.verify_integrity();
    println!(
        "access log: {} events, chain head {}",
        report.events,
        mtlog_audit::integrity::chain::to_hex(&report.head_hash)
    );
    for e in reader.replay(1..=u64::MAX)? {
        let e = e?;
        println!("{:>4} {:<11} {}", e.seq, e.event.level.as_str(), e.event.message);
    }
    if !report.is_valid() {
        return Err("access log failed verification".into());
    }
    Ok(())
}
