//! A payments service keeping the audit trail an auditor can check without trusting the service
//! (PCI-DSS requirement 10: audit trails that cannot be altered; SOX: evidence of who approved
//! what). Every payment, approval and refusal is emitted durably; the log signs a checkpoint
//! (a C2SP signed note over the Merkle root) every 100 events and on close; the newest signed
//! checkpoint is shipped out of the service's reach ("escrow", standing in for a WORM bucket or
//! the auditor's mailbox). Then the auditor's side, with only the public key:
//!
//! 1. the whole log against every checkpoint, the escrowed one included (signatures, roots,
//!    consistency between checkpoints, nothing truncated or rolled back);
//! 2. an inclusion proof that one payment is in the signed tree;
//! 3. an offline bundle of this run's payments, verified from its JSON alone, against the
//!    range asked for (a bundle's own count and range are not signed).
//!
//! Card numbers never enter the log: only a masked form (compliance profiles with keyed
//! pseudonymisation and AES-256-GCM are their own issue). Data lands in
//! `./audit-data-financial/` (appended to on each run), keys in `./audit-data-financial-keys/`,
//! the escrowed checkpoint and the bundle in `./audit-data-financial-escrow/`.
//!
//! Run: `cargo run --release -p mtlog-audit --example financial`, then
//! `mtlog-audit verify --wal ./audit-data-financial --key ./audit-data-financial-keys/payments.vkey
//!  --checkpoint ./audit-data-financial-escrow/checkpoint`.

// An example program: it writes its key, escrow and bundle files directly.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use mtlog_audit::integrity::audit::{AuditVerdict, CheckpointInput};
use mtlog_audit::integrity::bundle::Bundle;
use mtlog_audit::integrity::checkpoint::Checkpoint;
use mtlog_audit::integrity::keys;
use mtlog_audit::integrity::note::{self, Signer};
use mtlog_audit::io::{Entropy, OsEntropy, RealDisk};
use mtlog_audit::{audit, Level, Options, Reader, Sink};

const DATA: &str = "./audit-data-financial";
const KEYS: &str = "./audit-data-financial-keys";
const ESCROW: &str = "./audit-data-financial-escrow";
const PAYMENTS: u64 = 240;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(DATA);
    let (signer, vkey_path) = signing_key()?;
    let verifier = signer.verifier();

    // ---- The service ----
    let sink = Sink::open(
        Options::new(dir)
            .signer(signer)
            .checkpoint_every_events(Some(100))
            .failure_handler(|e| eprintln!("AUDIT FAILURE (page the on-call): {e}")),
    )?;
    let first = sink.recovery_report().seq_next;
    for n in 0..PAYMENTS {
        let amount_cents = 1_000 + (n * 7_919) % 500_000;
        let receipt = sink
            .event(
                Level::Information,
                "Payment {PaymentId} of {AmountCents} {Currency} from card {CardMasked} by {Operator}",
            )
            .with("PaymentId", format!("pay-{first}-{n}"))
            .with("AmountCents", amount_cents)
            .with("Currency", "EUR")
            .with("CardMasked", format!("**** **** **** {:04}", 4242 + n % 17))
            .with("Operator", format!("teller-{}", n % 5))
            .emit()?;
        if amount_cents > 450_000 {
            // Four eyes: large payments need a second approver, recorded with the payment's seq.
            audit!(
                sink,
                "Approval of payment seq {PaymentSeq} by {Approver}",
                receipt.seq,
                "supervisor-1"
            )?;
        }
    }
    audit!(sink, Level::Warning => "Transfer {TransferId} refused: limit exceeded for {Account}", "tr-9", "acct-77")?;
    sink.close()?; // durable, and a final signed checkpoint covers everything

    // The newest signed checkpoint leaves the service's reach.
    let reader = Reader::open(dir)?;
    let newest = reader.checkpoints()?.pop().ok_or("no checkpoint was written")?;
    std::fs::create_dir_all(ESCROW)?;
    let escrow_path = Path::new(ESCROW).join("checkpoint");
    std::fs::write(&escrow_path, &newest.bytes)?;

    // ---- The auditor: the log, the escrowed checkpoint and the public key only ----
    let reader = Reader::open(dir)?;
    let escrowed = std::fs::read(&escrow_path)?;
    let external = CheckpointInput {
        source: escrow_path.display().to_string(),
        external: true,
        bytes: escrowed.clone(),
    };
    let report = reader.audit(std::slice::from_ref(&verifier), vec![external])?;

    let note_text = String::from_utf8(escrowed)?;
    let opened = note::open(note_text.as_bytes(), std::slice::from_ref(&verifier))?;
    let checkpoint = Checkpoint::parse_body(&opened.text)?;
    let one_payment = first + PAYMENTS / 2;
    let proof = reader.prove_inclusion(one_payment, checkpoint.size())?;
    proof.verify(&checkpoint)?;

    let bundle_path = Path::new(ESCROW).join("payments-bundle.json");
    let bundle = reader.export_bundle(first..=first + 9, &note_text)?;
    std::fs::write(&bundle_path, bundle.to_json())?;
    let offline = Bundle::from_json(&std::fs::read_to_string(&bundle_path)?)?
        .verify(std::slice::from_ref(&verifier))?;
    // A bundle's own range is unsigned: hold it to the range that was asked for.
    offline.require_range(first, Some(first + 9))?;

    println!("log directory       {}", dir.display());
    println!("this run            seqs {first}..={}", reader.seq_last());
    println!(
        "audit               {} over {} events, {} signed checkpoints, {} consistency checks",
        report.verdict(),
        report.tree_size,
        report.checkpoints.len(),
        report.consistency.len()
    );
    println!(
        "inclusion proof     payment seq {one_payment} is in the escrowed tree of {} ({} hashes)",
        checkpoint.size(),
        proof.hashes.len()
    );
    println!(
        "offline bundle      seqs {}..={} ({} events) verified from {}",
        offline.seq_first,
        offline.seq_last,
        offline.count,
        bundle_path.display()
    );
    println!(
        "check it yourself   mtlog-audit verify --wal {} --key {} --checkpoint {}",
        dir.display(),
        vkey_path.display(),
        escrow_path.display()
    );
    if report.verdict() != AuditVerdict::Valid || offline.count != 10 {
        return Err(format!("the audit did not pass: {}", report.verdict()).into());
    }
    Ok(())
}

/// The service's checkpoint signing key, made on first run as
/// `mtlog-audit keygen --name payments.example/audit --out ./audit-data-financial-keys/payments`
/// would: the private key readable by its owner only, the verifier key for auditors.
fn signing_key() -> Result<(Signer, PathBuf), Box<dyn std::error::Error>> {
    let keys_dir = Path::new(KEYS);
    let (key_path, vkey_path) = (keys_dir.join("payments.key"), keys_dir.join("payments.vkey"));
    if !key_path.exists() {
        let signer = Signer::generate("payments.example/audit", &mut |b| OsEntropy.fill(b))?;
        std::fs::create_dir_all(keys_dir)?;
        write_private(&key_path, &format!("{}\n", signer.private_key_text()))?;
        std::fs::write(&vkey_path, format!("{}\n", signer.verifier().to_vkey()))?;
    }
    Ok((keys::signer_from_file(&RealDisk, &key_path)?, vkey_path))
}

#[allow(clippy::disallowed_types)] // Only the owner may read a private key: mode 0600.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
