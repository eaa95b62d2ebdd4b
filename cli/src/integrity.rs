//! Tamper-evidence commands: keygen, the checkpoint half of verify, prove, bundle and
//! verify-bundle. Exit codes are in `main.rs` and `docs/cli.md`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mtlog_audit::integrity::audit::{AuditReport, AuditVerdict, CheckpointInput, SignatureStatus};
use mtlog_audit::integrity::bundle::{Bundle, BundleError};
use mtlog_audit::integrity::chain::to_hex;
use mtlog_audit::integrity::checkpoint::{Checkpoint, OpenError};
use mtlog_audit::integrity::note::{self, NoteError, Signer, Verifier};
use mtlog_audit::integrity::store;
use mtlog_audit::integrity::tlog_proof::{TlogProof, TlogProofError, TLOG_PROOF_HEADER};
use mtlog_audit::io::{Entropy, OsEntropy};
use mtlog_audit::reader::TileConflict;
use mtlog_audit::{MerkleCacheReport, Reader};
use serde_json::{json, Value};

use crate::commands::{input, Failure, Outcome, EXIT_DAMAGED};

/// Exit code: a checkpoint or bundle was altered, or the log's history disagrees with one.
pub const EXIT_TAMPERED: u8 = 4;
/// Exit code: the log holds fewer events than a checkpoint it was shown.
pub const EXIT_BEHIND: u8 = 5;
/// Exit code: checkpoints are signed only by keys not given.
pub const EXIT_UNVERIFIABLE: u8 = 6;

/// The exit code of an audit verdict.
pub fn verdict_code(verdict: AuditVerdict) -> u8 {
    match verdict {
        AuditVerdict::Tampered => EXIT_TAMPERED,
        AuditVerdict::Behind => EXIT_BEHIND,
        AuditVerdict::Damaged => EXIT_DAMAGED,
        AuditVerdict::Unverifiable => EXIT_UNVERIFIABLE,
        AuditVerdict::Valid => 0,
    }
}

/// The largest `--key` file read: a verifier key is one short line.
pub const KEY_FILE_LEN_MAX: u64 = 4 << 10;
/// The largest `--checkpoint` file read: a signed note is at most [`note::NOTE_LEN_MAX`].
pub const CHECKPOINT_FILE_LEN_MAX: u64 = note::NOTE_LEN_MAX as u64;
/// The largest `--bundle` file read; a larger range is exported as several bundles.
pub const BUNDLE_FILE_LEN_MAX: u64 = 64 << 20;

/// Why an input file named on the command line was not read.
#[derive(Debug)]
pub enum InputFileError {
    /// The file holds more than the limit (or never ends, like `/dev/zero`).
    TooLarge { what: &'static str, path: PathBuf, limit: u64 },
    /// The file could not be opened or read.
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

impl std::fmt::Display for InputFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputFileError::TooLarge { what, path, limit } => write!(
                f,
                "{what} {}: larger than the limit of {limit} bytes; not read",
                path.display()
            ),
            InputFileError::Io { what, path, source } => {
                write!(f, "{what} {}: cannot read: {source}", path.display())
            }
        }
    }
}

impl From<InputFileError> for Failure {
    fn from(e: InputFileError) -> Failure {
        input(e)
    }
}

/// Reads the whole of `path`, refusing it past `limit` bytes. Reads at most `limit + 1` bytes,
/// so memory stays bounded whatever the file is (a FIFO, `/dev/zero`, a huge file).
pub fn read_bounded(
    what: &'static str,
    path: &Path,
    limit: u64,
) -> Result<Vec<u8>, InputFileError> {
    use std::io::Read;
    let io = |source| InputFileError::Io { what, path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(InputFileError::TooLarge { what, path: path.to_path_buf(), limit });
    }
    Ok(bytes)
}

/// Whether a `--key` argument is key text rather than a file name: Go's key text starts
/// `<name>+<8 hex digits>+` (or `PRIVATE+KEY+`) and holds no whitespace. A path that happens
/// to look like that must be written with a directory (`./name+0123abcd+x`).
pub fn looks_like_key_text(arg: &str) -> bool {
    if arg.starts_with(PRIVATE_KEY_PREFIX) {
        return true;
    }
    if arg.chars().any(char::is_whitespace) || arg.starts_with('.') || arg.starts_with('/') {
        return false;
    }
    let mut parts = arg.splitn(3, '+');
    let (Some(name), Some(id), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !name.is_empty() && id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Reads `--key` values: the key text itself, or a path to a verifier key file (see
/// [`looks_like_key_text`]). No error repeats key material: a private key given by mistake
/// is named as such, never printed.
pub fn load_keys(keys: &[String]) -> Result<Vec<Verifier>, Failure> {
    keys.iter().enumerate().map(|(i, arg)| load_key(i + 1, arg)).collect()
}

fn load_key(position: usize, arg: &str) -> Result<Verifier, Failure> {
    if looks_like_key_text(arg) {
        return parse_vkey(arg)
            .map_err(|why| input(format!("--key #{position} (key text): {why}")));
    }
    let path = Path::new(arg);
    let bytes = read_bounded("--key file", path, KEY_FILE_LEN_MAX)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| input(format!("--key file {}: not UTF-8 text", path.display())))?;
    parse_vkey(text.trim()).map_err(|why| input(format!("--key file {}: {why}", path.display())))
}

/// Parses verifier key text; the error never holds the text.
fn parse_vkey(text: &str) -> Result<Verifier, String> {
    if text.starts_with(PRIVATE_KEY_PREFIX) {
        return Err("this is a PRIVATE signing key (not printed); verifying needs only the \
                    verifier key (.vkey). If it was typed on a command line or shared, treat \
                    it as exposed and rotate it"
            .into());
    }
    Verifier::from_vkey(text).map_err(|e| e.to_string())
}

/// Reads `--checkpoint` files, each at most [`CHECKPOINT_FILE_LEN_MAX`] bytes.
pub fn load_checkpoints(files: &[PathBuf]) -> Result<Vec<CheckpointInput>, Failure> {
    files
        .iter()
        .map(|f| {
            let bytes = read_bounded("--checkpoint", f, CHECKPOINT_FILE_LEN_MAX)?;
            Ok(CheckpointInput { source: f.display().to_string(), external: true, bytes })
        })
        .collect()
}

/// The tile cache's side of `verify`: `None` when the log has no `merkle/` directory.
pub fn check_cache(reader: &Reader) -> Option<MerkleCacheReport> {
    reader.dir().join(store::MERKLE_DIR).is_dir().then(|| reader.check_merkle_cache())
}

/// What the tile cache says about the log. A tile that does not decode is cache damage (no
/// verdict); an intact tile that records other hashes than the log's was written for another
/// history: the log was rewritten after it (tampered). One holding hashes past the end of a
/// clean log says the log was longer (behind); past the end of a damaged one, it is explained
/// by the damage.
pub fn cache_verdict(cache: Option<&MerkleCacheReport>, wal_damaged: bool) -> AuditVerdict {
    let conflicts = cache.map(|c| c.tiles_conflicting.as_slice()).unwrap_or_default();
    conflicts.iter().fold(AuditVerdict::Valid, |verdict, (_, conflict)| {
        verdict.min(match conflict {
            TileConflict::Disagrees => AuditVerdict::Tampered,
            TileConflict::PastEnd { .. } if wal_damaged => AuditVerdict::Valid,
            TileConflict::PastEnd { .. } => AuditVerdict::Behind,
        })
    })
}

/// The checkpoint and cache lines of `verify` (text) after the WAL lines; `verdict` is the
/// audit's and the cache's together.
pub fn print_audit(
    report: &AuditReport,
    cache: Option<&MerkleCacheReport>,
    show_checkpoints: bool,
    verdict: AuditVerdict,
) {
    if show_checkpoints {
        print_checkpoints(report);
    }
    if let Some(cache) = cache {
        print_cache(cache);
    }
    let cache_alarm = cache.is_some_and(|c| !c.tiles_conflicting.is_empty());
    if !show_checkpoints && !cache_alarm {
        return; // a log without checkpoints, verified without keys: the WAL lines say it all
    }
    let verified = report
        .checkpoints
        .iter()
        .filter(|c| matches!(c.signature, SignatureStatus::Verified(_)))
        .count();
    match verdict {
        AuditVerdict::Valid if report.signatures_checked => println!(
            "integrity  valid: {verified} checkpoint(s) signed by trusted keys, roots match the \
             log, consistent"
        ),
        AuditVerdict::Valid => println!(
            "integrity  roots match the log and are consistent; signatures not checked (give \
             --key)"
        ),
        AuditVerdict::Damaged => {
            println!("integrity  checkpoints up to the damage match; see the findings above")
        }
        other => println!("integrity  {other}"),
    }
}

fn print_checkpoints(report: &AuditReport) {
    println!("merkle     {} events, root {}", report.tree_size, to_hex(&report.root));
    if report.checkpoints.is_empty() {
        println!("checkpoint none found");
    }
    for c in &report.checkpoints {
        let size = c.checkpoint.as_ref().map_or("?".to_owned(), |c| c.size().to_string());
        let place = if c.external { "external" } else { "in log" };
        println!("checkpoint {size} ({place}) {}", c.source);
        println!("             {}; {}", c.signature, c.tree);
    }
    for c in &report.consistency {
        println!("consistent {} -> {}: {}", c.old_size, c.new_size, c.status);
    }
    for (seq, key) in &report.keys_learned {
        println!("key        trusted {key} from the rotation record at seq {seq}");
    }
}

/// The checkpoint and cache fields of `verify --json`.
pub fn audit_json(
    report: &AuditReport,
    cache: Option<&MerkleCacheReport>,
    verdict: AuditVerdict,
) -> Value {
    let checkpoints: Vec<Value> = report
        .checkpoints
        .iter()
        .map(|c| {
            json!({
                "source": c.source,
                "external": c.external,
                "tree_size": c.checkpoint.as_ref().map(Checkpoint::size),
                "origin": c.checkpoint.as_ref().map(|c| c.origin().to_owned()),
                "signature": c.signature.to_string(),
                "tree": c.tree.to_string(),
            })
        })
        .collect();
    let consistency: Vec<Value> = report
        .consistency
        .iter()
        .map(|c| json!({"old_size": c.old_size, "new_size": c.new_size, "status": c.status.to_string()}))
        .collect();
    let path_and = |p: &Path, why: &dyn std::fmt::Display| format!("{}: {why}", p.display());
    let damaged: Vec<String> = cache
        .map(|c| c.tiles_damaged.iter().map(|(p, why)| path_and(p, why)).collect())
        .unwrap_or_default();
    let conflicting: Vec<String> = cache
        .map(|c| c.tiles_conflicting.iter().map(|(p, why)| path_and(p, why)).collect())
        .unwrap_or_default();
    json!({
        "tree_size": report.tree_size,
        "merkle_root": to_hex(&report.root),
        "checkpoints": checkpoints,
        "consistency": consistency,
        "keys_learned": report.keys_learned.iter().map(|(s, k)| json!({"seq": s, "key": k.to_string()})).collect::<Vec<_>>(),
        "verdict": format!("{verdict:?}").to_lowercase(),
        "merkle_cache_damaged": damaged,
        "merkle_cache_contradicts_log": conflicting,
    })
}

/// The cache lines of `verify`: damaged tiles (a cache, rebuilt on the next open) and tiles
/// that contradict the log (evidence against the log).
fn print_cache(cache: &MerkleCacheReport) {
    if !cache.tiles_damaged.is_empty() {
        println!(
            "cache      {} damaged tile(s), not used (a cache: rebuilt from the WAL on the next \
             open; the log itself is not affected)",
            cache.tiles_damaged.len()
        );
        for (path, why) in &cache.tiles_damaged {
            println!("  {}: {why}", path.display());
        }
    }
    if !cache.tiles_conflicting.is_empty() {
        println!(
            "cache      EVIDENCE AGAINST THE LOG: {} intact tile(s) record another history: the \
             log was rewritten or truncated after they were written",
            cache.tiles_conflicting.len()
        );
        for (path, why) in &cache.tiles_conflicting {
            println!("  {}: {why}", path.display());
        }
    }
}

pub fn keygen(name: &str, out: &Path, as_json: bool) -> Outcome {
    let signer = Signer::generate(name, &mut |buf| OsEntropy.fill(buf))
        .map_err(|e| input(format!("--name {name}: {e}")))?;
    let key_path = with_suffix(out, "key");
    let vkey_path = with_suffix(out, "vkey");
    for p in [&key_path, &vkey_path] {
        if p.exists() {
            return Err(input(format!("{}: already exists; not overwriting a key", p.display())));
        }
    }
    write_private(&key_path, &format!("{}\n", signer.private_key_text()))?;
    let vkey = signer.verifier().to_vkey();
    std::fs::write(&vkey_path, format!("{vkey}\n"))
        .map_err(|e| input(format!("{}: {e}", vkey_path.display())))?;
    if as_json {
        println!(
            "{}",
            json!({"name": name, "key": signer.key().to_string(), "private_key_file": key_path,
                   "vkey_file": vkey_path, "vkey": vkey})
        );
    } else {
        println!("private key  {} (mode 0600: keep it secret)", key_path.display());
        println!("verifier key {} (give this to auditors)", vkey_path.display());
        println!("{vkey}");
    }
    Ok(ExitCode::SUCCESS)
}

fn with_suffix(prefix: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = prefix.as_os_str().to_os_string();
    name.push(".");
    name.push(suffix);
    name.into()
}

fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| input(format!("{}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| input(format!("{}: {e}", path.display())))
}

/// The tree size proofs are made for by default: the newest checkpoint's, else the log's.
fn default_tree_size(reader: &Reader) -> Result<u64, Failure> {
    let newest = reader.checkpoints().map_err(input)?.iter().filter_map(|f| f.size_named).max();
    Ok(newest.filter(|&n| n <= reader.tree_size()).unwrap_or(reader.tree_size()))
}

pub fn prove(
    reader: &Reader,
    seq: Option<u64>,
    old_size: Option<u64>,
    tree_size: Option<u64>,
    as_json: bool,
) -> Outcome {
    let size = match tree_size {
        Some(s) => s,
        None => default_tree_size(reader)?,
    };
    let hex_all = |h: &[[u8; 32]]| h.iter().map(to_hex).collect::<Vec<_>>();
    match (seq, old_size) {
        (Some(seq), None) => {
            let p = reader
                .prove_inclusion(seq, size)
                .map_err(|e| input(format!("--seq {seq}: {e}")))?;
            if as_json {
                println!(
                    "{}",
                    json!({"seq": p.seq, "leaf_index": p.leaf_index(), "tree_size": p.tree_size,
                           "leaf_hash": to_hex(&p.leaf_hash), "root": to_hex(&p.root),
                           "proof": hex_all(&p.hashes)})
                );
            } else {
                println!("seq        {} (leaf index {})", p.seq, p.leaf_index());
                println!("tree size  {}", p.tree_size);
                println!("leaf hash  {}", to_hex(&p.leaf_hash));
                println!("root       {}", to_hex(&p.root));
                println!(
                    "proof      {} hash(es), deepest sibling first (RFC 9162)",
                    p.hashes.len()
                );
                for h in &p.hashes {
                    println!("  {}", to_hex(h));
                }
            }
        }
        (None, Some(old)) => {
            let p = reader
                .prove_consistency(old, size)
                .map_err(|e| input(format!("--old-size {old}: {e}")))?;
            if as_json {
                println!(
                    "{}",
                    json!({"old_size": p.old_size, "new_size": p.new_size,
                           "old_root": to_hex(&p.old_root), "new_root": to_hex(&p.new_root),
                           "proof": hex_all(&p.hashes)})
                );
            } else {
                println!("old size   {} root {}", p.old_size, to_hex(&p.old_root));
                println!("new size   {} root {}", p.new_size, to_hex(&p.new_root));
                println!("proof      {} hash(es) (RFC 9162 consistency)", p.hashes.len());
                for h in &p.hashes {
                    println!("  {}", to_hex(h));
                }
            }
        }
        _ => return Err(input("give exactly one of --seq N or --old-size N")),
    }
    Ok(ExitCode::SUCCESS)
}

/// The checkpoint a proof or bundle is made against: `checkpoint`, else the log's latest; its
/// path and text (read with a bound).
fn checkpoint_to_prove_against(
    reader: &Reader,
    checkpoint: Option<&Path>,
) -> Result<(PathBuf, String), Failure> {
    let path = match checkpoint {
        Some(p) => p.to_path_buf(),
        None => reader.dir().join(store::CHECKPOINTS_DIR).join(store::LATEST),
    };
    let note = read_bounded("checkpoint", &path, CHECKPOINT_FILE_LEN_MAX)
        .map_err(|e| input(format!("{e} (no checkpoint to prove against)")))?;
    let note = String::from_utf8(note)
        .map_err(|_| input(format!("checkpoint {}: not UTF-8 text", path.display())))?;
    Ok((path, note))
}

/// `prove --seq N --tlog-proof`: the event's proof as a C2SP `tlog-proof@v1` on stdout.
pub fn prove_tlog(reader: &Reader, seq: u64, checkpoint: Option<&Path>) -> Outcome {
    let (_, note) = checkpoint_to_prove_against(reader, checkpoint)?;
    let bundle = reader.export_bundle(seq..=seq, &note).map_err(input)?;
    let proofs = bundle.to_tlog_proofs().map_err(input)?;
    let [proof] = proofs.as_slice() else {
        return Err(input(format!("--seq {seq}: no such event in the checkpoint's tree")));
    };
    print!("{}", proof.to_text());
    Ok(ExitCode::SUCCESS)
}

pub fn bundle(
    reader: &Reader,
    seqs: (u64, u64),
    checkpoint: Option<&Path>,
    output: &Path,
    force: bool,
    as_json: bool,
) -> Outcome {
    let (path, note) = checkpoint_to_prove_against(reader, checkpoint)?;
    let (first, last) = seqs;
    let last = last.min(reader.tree_size());
    let bundle = reader.export_bundle(first..=last, &note).map_err(input)?;
    crate::output::write_new(output, bundle.to_json().as_bytes(), force, reader.dir())?;
    if as_json {
        println!(
            "{}",
            json!({"output": output, "count": bundle.count, "seq_first": bundle.seq_first,
                   "seq_last": bundle.seq_last, "tree_size": bundle.tree_size, "checkpoint": path})
        );
    } else {
        println!(
            "bundled {} events (seqs {}..={}) with proofs against the checkpoint of {} events \
             ({}) into {}",
            bundle.count,
            bundle.seq_first,
            bundle.seq_last,
            bundle.tree_size,
            path.display(),
            output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `verify-bundle`; `seqs` is the range asked for (`--seq A..B`; `A..`: up to the checkpoint's
/// tree size), the only defence against entries dropped at an end of a bundle.
pub fn verify_bundle(
    file: &Path,
    keys: &[String],
    origins: &[String],
    seqs: Option<(u64, Option<u64>)>,
    as_json: bool,
) -> Outcome {
    let verifiers = load_keys(keys)?;
    if verifiers.is_empty() {
        return Err(input("verify-bundle needs at least one --key"));
    }
    let bytes = read_bounded("--bundle", file, BUNDLE_FILE_LEN_MAX)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| input(format!("--bundle {}: not UTF-8 text", file.display())))?;
    if text.starts_with(TLOG_PROOF_HEADER) {
        return verify_tlog_proof(file, &text, &verifiers, origins, seqs, as_json);
    }
    let result = Bundle::from_json(&text)
        .and_then(|b| b.verify_origins(&verifiers, origins))
        .and_then(|report| match seqs {
            Some((first, last)) => report.require_range(first, last).map(|()| report),
            None => Ok(report),
        });
    let range_note = |r: &mtlog_audit::integrity::bundle::BundleReport| match seqs {
        Some(_) => "; the range asked for".to_owned(),
        None if r.reaches_checkpoint() => "; up to the checkpoint's signed tree size".to_owned(),
        None => "; the range is the bundle's own, unsigned statement (give --seq A..B to \
                 require the one you asked for)"
            .to_owned(),
    };
    let (code, message) = match &result {
        Ok(r) => (
            0,
            format!(
                "valid: {} events, seqs {}..={}, each proved in the checkpoint of {} events \
                 signed by {}{}",
                r.count,
                r.seq_first,
                r.seq_last,
                r.checkpoint.size(),
                r.signed_by.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                range_note(r)
            ),
        ),
        Err(BundleError::Checkpoint(OpenError::Note(NoteError::Unverifiable { .. }))) => (
            EXIT_UNVERIFIABLE,
            format!(
                "UNVERIFIABLE: {}",
                result.as_ref().err().map(ToString::to_string).unwrap_or_default()
            ),
        ),
        Err(e @ BundleError::OtherLog { .. }) => (EXIT_UNVERIFIABLE, format!("UNVERIFIABLE: {e}")),
        Err(BundleError::Format(e)) => return Err(input(format!("{}: {e}", file.display()))),
        Err(e) => (EXIT_TAMPERED, format!("TAMPERED: {e}")),
    };
    verdict("bundle", file, code, &message, as_json)
}

/// Prints a bundle's or a proof's verdict and turns its code into the exit code.
fn verdict(what: &str, file: &Path, code: u8, message: &str, as_json: bool) -> Outcome {
    if as_json {
        println!("{}", json!({"valid": code == 0, "result": message}));
    } else {
        println!("{what:<10} {}", file.display());
        println!("result     {message}");
    }
    Ok(if code == 0 { ExitCode::SUCCESS } else { ExitCode::from(code) })
}

/// `verify-bundle` on a C2SP tlog-proof: one event.
fn verify_tlog_proof(
    file: &Path,
    text: &str,
    verifiers: &[Verifier],
    origins: &[String],
    seqs: Option<(u64, Option<u64>)>,
    as_json: bool,
) -> Outcome {
    let proof = TlogProof::parse(text).map_err(|e| input(format!("{}: {e}", file.display())))?;
    let (code, message) = match proof.verify(verifiers, origins) {
        Ok(p) if seqs.is_some_and(|asked| asked != (p.seq, Some(p.seq))) => (
            EXIT_TAMPERED,
            format!("TAMPERED: the proof is for seq {}, not the range asked for", p.seq),
        ),
        Ok(p) => (
            0,
            format!(
                "valid: seq {} of log {:032x}, proved in the checkpoint of {} events signed by {}",
                p.seq,
                p.log_id,
                p.checkpoint.size(),
                p.signed_by.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ),
        ),
        Err(
            e @ (TlogProofError::Checkpoint(OpenError::Note(NoteError::Unverifiable { .. }))
            | TlogProofError::OtherLog { .. }),
        ) => (EXIT_UNVERIFIABLE, format!("UNVERIFIABLE: {e}")),
        Err(e @ (TlogProofError::Malformed { .. } | TlogProofError::NoRecord)) => {
            return Err(input(format!("{}: {e}", file.display())))
        }
        Err(e) => (EXIT_TAMPERED, format!("TAMPERED: {e}")),
    };
    verdict("proof", file, code, &message, as_json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_and_file_names_are_told_apart_by_shape() {
        let signer = Signer::from_seed("example.com/audit", [1; 32]).unwrap();
        assert!(looks_like_key_text(&signer.verifier().to_vkey()));
        assert!(looks_like_key_text(&signer.private_key_text()));
        for path in [
            "/missing.vkey",
            "audit.vkey",
            "./example.com+0123abcd+x",
            "/keys/example.com+0123abcd+x",
            "keys/audit.vkey",
            "name+0123abc+x",  // a 7-digit key ID
            "name+0123abcg+x", // not hex
            "+0123abcd+x",     // no name
            "name+0123abcd",   // no key material
            "name+0123abcd+x y",
        ] {
            assert!(!looks_like_key_text(path), "{path}");
        }
    }
}
