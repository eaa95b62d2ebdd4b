//! The commands. Each returns an exit code or a [`Failure`] carrying its message and code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mtlog_audit::event::timestamp::{format_rfc3339, parse_rfc3339};
use mtlog_audit::filter::Filter;
use mtlog_audit::integrity::chain::to_hex;
use mtlog_audit::{Level, Options, Reader, Sink, StoredEvent};
use serde_json::json;

/// A command that could not do its job: what went wrong, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

/// Exit code: the log has damage.
pub const EXIT_DAMAGED: u8 = 1;
/// Exit code: a usage error (clap uses it too), e.g. a format this binary was built without.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: bad input or an I/O error.
pub const EXIT_INPUT: u8 = 3;

pub type Outcome = Result<ExitCode, Failure>;

pub fn input(message: impl std::fmt::Display) -> Failure {
    Failure { message: message.to_string(), code: EXIT_INPUT }
}

/// Text output formats for replay.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line with seq, chain hash and the event.
    Json,
    /// Compact Log Event Format, one object per line.
    Clef,
}

/// Export formats.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON lines with seq and chain hash.
    Jsonl,
    /// Compact Log Event Format.
    Clef,
    /// Comma-separated: seq, timestamp, level, message, template, event id, properties (JSON).
    Csv,
    /// Apache Parquet, one row per event (needs a build with the `parquet` feature).
    Parquet,
}

/// Why an export could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportError {
    /// The format needs a cargo feature this binary was built without: a usage error.
    #[cfg_attr(
        feature = "parquet",
        expect(dead_code, reason = "parquet is the only feature-gated format")
    )]
    FeatureMissing { format: &'static str, feature: &'static str },
    /// Writing CSV to the output failed.
    Csv { output: PathBuf, source: csv::Error },
    /// Encoding or writing Parquet to the output failed.
    #[cfg(feature = "parquet")]
    Parquet { output: PathBuf, source: parquet::errors::ParquetError },
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FeatureMissing { format, feature } => write!(
                f,
                "--format {format}: this mtlog-audit was built without the `{feature}` feature; \
                 build it with `cargo install --path cli --features {feature}`, or run \
                 `cargo run -p mtlog-audit-cli --features {feature} -- export ...`"
            ),
            Self::Csv { output, source } => write!(f, "{}: {source}", output.display()),
            #[cfg(feature = "parquet")]
            Self::Parquet { output, source } => write!(f, "{}: {source}", output.display()),
        }
    }
}

impl From<ExportError> for Failure {
    fn from(e: ExportError) -> Self {
        let code = match e {
            ExportError::FeatureMissing { .. } => EXIT_USAGE,
            _ => EXIT_INPUT,
        };
        Failure { message: e.to_string(), code }
    }
}

/// Recovery modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Keep the valid prefix; stop at the first damage.
    Conservative,
    /// Keep every valid record, past damage too, and record each gap.
    Aggressive,
}

pub fn open(dir: &Path, salvage: bool) -> Result<Reader, Failure> {
    if !dir.is_dir() {
        return Err(input(format!("{}: not a directory", dir.display())));
    }
    let reader = if salvage { Reader::open_salvage(dir) } else { Reader::open(dir) };
    let reader = reader.map_err(|e| input(format!("{}: {e}", dir.display())))?;
    if reader.verify_integrity().segments == 0 {
        return Err(input(format!("{}: not an mtlog-audit log (no segment files)", dir.display())));
    }
    Ok(reader)
}

pub fn verify(
    wal: &Path,
    keys: &[String],
    checkpoint_files: &[std::path::PathBuf],
    origins: &[String],
    as_json: bool,
) -> Outcome {
    use mtlog_audit::integrity::audit::Origins;
    let verifiers = crate::integrity::load_keys(keys)?;
    let external = crate::integrity::load_checkpoints(checkpoint_files)?;
    let reader = open(wal, false)?;
    let r = reader.verify_integrity();
    let origins = match origins {
        [] => Origins::Default { log_id: reader.log_id() },
        list => Origins::Exactly(list),
    };
    let audit = reader.audit_origins(&verifiers, external, origins).map_err(input)?;
    let cache = crate::integrity::check_cache(&reader);
    let verdict =
        audit.verdict().min(crate::integrity::cache_verdict(cache.as_ref(), !r.is_valid()));
    // Logs without checkpoints, verified without keys, print what they always printed.
    let show_audit = !audit.checkpoints.is_empty() || !verifiers.is_empty();
    let findings: Vec<String> = r.findings.iter().map(ToString::to_string).collect();
    if as_json {
        let mut out = json!({
            "valid": r.is_valid(),
            "segments": r.segments,
            "events": r.events,
            "seq_first": r.seq_range.map(|x| x.0),
            "seq_last": r.seq_range.map(|x| x.1),
            "durable_watermark": r.watermark,
            "head_hash": to_hex(&r.head_hash),
            "findings": findings,
        });
        if let (Some(out), Some(extra)) = (
            out.as_object_mut(),
            crate::integrity::audit_json(&audit, cache.as_ref(), verdict).as_object(),
        ) {
            out.extend(extra.clone());
        }
        println!("{out}");
    } else {
        println!("log        {}", wal.display());
        println!("segments   {}", r.segments);
        match r.seq_range {
            Some((a, b)) => {
                println!("events     {} in the valid prefix (seqs {a}..={b})", r.events)
            }
            None => println!("events     0 in the valid prefix"),
        }
        println!("durable    seqs up to {}", r.watermark);
        println!("head hash  {}", to_hex(&r.head_hash));
        if findings.is_empty() {
            println!("result     valid: every record checksummed, seqs contiguous, chain intact");
        } else {
            println!("result     DAMAGED: {} finding(s)", findings.len());
            for f in &findings {
                println!("  {f}");
            }
        }
        crate::integrity::print_audit(&audit, cache.as_ref(), show_audit, verdict);
    }
    let code = crate::integrity::verdict_code(verdict);
    Ok(if code == 0 { ExitCode::SUCCESS } else { ExitCode::from(code) })
}

pub fn parse_seq_range(text: &str) -> Result<(u64, u64), Failure> {
    let bad = || input(format!("--seq {text}: expected A..B, A.. or ..B"));
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let a = if a.is_empty() { 1 } else { a.parse().map_err(|_| bad())? };
    let b = b.strip_prefix('=').unwrap_or(b);
    let b = if b.is_empty() { u64::MAX } else { b.parse().map_err(|_| bad())? };
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

fn line(e: &StoredEvent, format: Format) -> String {
    match format {
        Format::Clef => e.event.to_clef(),
        Format::Json => json!({
            "seq": e.seq,
            "chain_hash": to_hex(&e.chain_hash),
            "clock_adjusted": e.clock_adjusted,
            "event": serde_json::from_str::<serde_json::Value>(&e.event.to_clef()).unwrap_or_default(),
        })
        .to_string(),
        Format::Text => format!(
            "{:>8} {} [{}] {}",
            e.seq,
            format_rfc3339(e.timestamp_nanos),
            e.event.level.as_str(),
            e.event.message
        ),
    }
}

pub fn replay(
    wal: &Path,
    seq: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    output: Format,
    as_json: bool,
) -> Outcome {
    let reader = open(wal, false)?;
    let format = if as_json { Format::Json } else { output };
    let iter = match (seq, from, to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(input("use either --seq or --from/--to, not both"))
        }
        (Some(s), None, None) => {
            let (a, b) = parse_seq_range(s)?;
            let first = reader.verify_integrity().seq_range.map_or(1, |r| r.0);
            seq_range_in_log(s, (a, b), (first, reader.seq_last()))?;
            reader.replay(a..=b)
        }
        (None, f, t) => {
            let from =
                f.map(parse_rfc3339).transpose().map_err(|e| input(format!("--from: {e}")))?;
            let to = t.map(parse_rfc3339).transpose().map_err(|e| input(format!("--to: {e}")))?;
            match (from, to) {
                (None, None) => reader.replay(1..=u64::MAX),
                (f, t) => reader.replay_time(f.unwrap_or(i64::MIN), t.unwrap_or(i64::MAX)),
            }
        }
    }
    .map_err(input)?;
    // A record in the range that cannot be read is named on stderr as it comes, and the exit
    // code says the output is incomplete: nothing in the asked range is skipped silently.
    let mut missing: Vec<String> = Vec::new();
    for e in iter {
        let e = match e {
            Ok(e) => e,
            Err(err @ (mtlog_audit::Error::Corruption(_) | mtlog_audit::Error::Body { .. })) => {
                eprintln!("not replayed: {err}");
                missing.push(err.to_string());
                continue;
            }
            Err(err) => return Err(input(err)),
        };
        println!("{}", line(&e, format));
        if crate::out::closed() {
            break; // a closed pipe (| head) is not an error; `out` reports any other failure
        }
    }
    incomplete("replay", &missing)
}

/// The outcome of a read that could not return everything asked: exit 1 (damage), naming each
/// record or range it could not read.
fn incomplete(command: &str, missing: &[String]) -> Outcome {
    if missing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Err(Failure {
        message: format!(
            "{command} is incomplete: {} record(s) or range(s) of the log could not be read: {}",
            missing.len(),
            missing.join("; ")
        ),
        code: EXIT_DAMAGED,
    })
}

/// `--seq A..B` must name at least one seq the log holds (`held`, first and last; last 0 for
/// an empty log): a range wholly past the end or before the start is an input error, not an
/// empty success that reads as "no such events". A range that overlaps the log prints the
/// seqs it holds.
fn seq_range_in_log(text: &str, (a, b): (u64, u64), held: (u64, u64)) -> Result<(), Failure> {
    let (first, last) = held;
    if last == 0 {
        return Err(input(format!("--seq {text}: the log holds no events")));
    }
    if a > last || b < first {
        return Err(input(format!(
            "--seq {text}: outside the log, which holds seqs {first}..={last}"
        )));
    }
    Ok(())
}

pub fn export(
    wal: &Path,
    format: ExportFormat,
    filter: Option<&str>,
    output: &Path,
    force: bool,
    as_json: bool,
) -> Outcome {
    // A format this build cannot write is a usage error: say so before touching any file.
    ExportWriter::check_built(format)?;
    let filter = filter.map(Filter::parse).transpose().map_err(input)?;
    let reader = open(wal, false)?;
    let total = reader.verify_integrity().events;
    let target = crate::output::OutputFile::create(output, force, wal)?;
    let mut writer = ExportWriter::create(format, target.file()?, output)?;
    let bar = progress(total, as_json);
    let mut written = 0u64;
    let mut missing: Vec<String> = Vec::new();
    for e in reader.replay(1..=u64::MAX).map_err(input)? {
        let e = match e {
            Ok(e) => e,
            Err(err @ (mtlog_audit::Error::Corruption(_) | mtlog_audit::Error::Body { .. })) => {
                missing.push(err.to_string());
                continue;
            }
            Err(err) => return Err(input(err)),
        };
        bar.inc(1);
        if filter.as_ref().is_some_and(|f| !f.matches(&e.event)) {
            continue;
        }
        writer.append(&e, output)?;
        written += 1;
    }
    writer.finish(output)?;
    target.commit()?;
    bar.finish_and_clear();
    if as_json {
        let mut summary = json!({ "exported": written, "scanned": total, "output": output });
        if !missing.is_empty() {
            summary["not_exported"] = json!(missing);
        }
        println!("{summary}");
    } else {
        println!("exported {written} of {total} events to {}", output.display());
    }
    incomplete("export", &missing)
}

/// The CSV columns, in order: the header row.
const CSV_HEADER: [&str; 7] =
    ["seq", "timestamp", "level", "message", "template", "event_id", "properties"];

/// An export file being written, one event at a time.
enum ExportWriter {
    /// One line per event: JSON lines or CLEF.
    Lines {
        out: std::io::BufWriter<std::fs::File>,
        format: ExportFormat,
    },
    // Boxed: the writers hold their buffers inline (hundreds of bytes to over a kilobyte), and
    // there is one `ExportWriter` per export.
    Csv(Box<csv::Writer<std::fs::File>>),
    #[cfg(feature = "parquet")]
    Parquet(Box<crate::export_parquet::ParquetExport>),
}

impl ExportWriter {
    /// Fails with a usage error if `format` needs a feature this binary was built without.
    fn check_built(format: ExportFormat) -> Result<(), ExportError> {
        match format {
            #[cfg(not(feature = "parquet"))]
            ExportFormat::Parquet => Err(parquet_missing()),
            _ => Ok(()),
        }
    }

    /// Starts writing `format` into `file`, the content of the output named `output`.
    fn create(format: ExportFormat, file: std::fs::File, output: &Path) -> Result<Self, Failure> {
        let csv_error = |source| ExportError::Csv { output: output.to_owned(), source };
        match format {
            ExportFormat::Jsonl | ExportFormat::Clef => {
                Ok(Self::Lines { out: std::io::BufWriter::new(file), format })
            }
            ExportFormat::Csv => {
                let mut out = csv_writer(file);
                out.write_record(CSV_HEADER).map_err(csv_error)?;
                Ok(Self::Csv(Box::new(out)))
            }
            #[cfg(feature = "parquet")]
            ExportFormat::Parquet => crate::export_parquet::ParquetExport::create(file)
                .map(|out| Self::Parquet(Box::new(out)))
                .map_err(|source| {
                    ExportError::Parquet { output: output.to_owned(), source }.into()
                }),
            #[cfg(not(feature = "parquet"))]
            ExportFormat::Parquet => Err(parquet_missing().into()),
        }
    }

    fn append(&mut self, e: &StoredEvent, output: &Path) -> Result<(), Failure> {
        match self {
            Self::Lines { out, format } => {
                let text = match format {
                    ExportFormat::Clef => e.event.to_clef(),
                    _ => line(e, Format::Json),
                };
                writeln!(out, "{text}").map_err(|err| input(format!("{}: {err}", output.display())))
            }
            Self::Csv(out) => out
                .write_record(csv_record(e))
                .map_err(|source| ExportError::Csv { output: output.to_owned(), source }.into()),
            #[cfg(feature = "parquet")]
            Self::Parquet(out) => out.append(e, &properties_json(e)).map_err(|source| {
                ExportError::Parquet { output: output.to_owned(), source }.into()
            }),
        }
    }

    /// Flushes buffered rows and, for Parquet, writes the footer.
    fn finish(self, output: &Path) -> Result<(), Failure> {
        match self {
            Self::Lines { mut out, .. } => {
                out.flush().map_err(|err| input(format!("{}: {err}", output.display())))
            }
            Self::Csv(mut out) => {
                out.flush().map_err(|err| input(format!("{}: {err}", output.display())))
            }
            #[cfg(feature = "parquet")]
            Self::Parquet(out) => out.finish().map_err(|source| {
                ExportError::Parquet { output: output.to_owned(), source }.into()
            }),
        }
    }
}

#[cfg(not(feature = "parquet"))]
fn parquet_missing() -> ExportError {
    ExportError::FeatureMissing { format: "parquet", feature: "parquet" }
}

/// The CSV dialect of the export: RFC 4180 quoting (only fields that need it), LF row ends.
fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::Writer::from_writer(out)
}

/// One CSV row: the fields of [`CSV_HEADER`], in its order. `timestamp` is the event's own
/// (CLEF `@t`), as in every other export format.
fn csv_record(e: &StoredEvent) -> [String; 7] {
    [
        e.seq.to_string(),
        format_rfc3339(e.event.timestamp_nanos),
        e.event.level.as_str().to_owned(),
        e.event.message.clone(),
        e.event.template.clone(),
        e.event.id.to_string(),
        properties_json(e),
    ]
}

/// The event's properties as one JSON object: its CLEF form without the `@` fields.
fn properties_json(e: &StoredEvent) -> String {
    let clef: serde_json::Value = serde_json::from_str(&e.event.to_clef()).unwrap_or_default();
    let props: serde_json::Map<String, serde_json::Value> = clef
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !k.starts_with('@'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    serde_json::Value::Object(props).to_string()
}

fn progress(total: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

pub fn recover(input_dir: &Path, output: &Path, mode: Mode, as_json: bool) -> Outcome {
    use mtlog_audit::Error as LogError;
    use std::collections::BTreeMap;

    /// Adds `seq` to the runs of seqs kept (start -> inclusive end); false if already there.
    fn keep(runs: &mut BTreeMap<u64, u64>, seq: u64) -> bool {
        let before = runs.range(..=seq).next_back().map(|(&a, &b)| (a, b));
        if before.is_some_and(|(_, b)| b >= seq) {
            return false;
        }
        let after = seq.checked_add(1).and_then(|n| runs.remove(&n));
        match before {
            Some((a, b)) if b.checked_add(1) == Some(seq) => runs.insert(a, after.unwrap_or(seq)),
            _ => runs.insert(seq, after.unwrap_or(seq)),
        };
        true
    }

    let reader = open(input_dir, mode == Mode::Aggressive)?;
    let at_output = |e: &dyn std::fmt::Display| input(format!("{}: {e}", output.display()));
    if output.exists() && std::fs::read_dir(output).map_err(|e| at_output(&e))?.next().is_some() {
        return Err(input(format!("{}: output directory is not empty", output.display())));
    }
    let report = reader.verify_integrity();
    let stopped_by = if mode == Mode::Conservative { reader.corruption().cloned() } else { None };
    let sink = Sink::open(Options::new(output)).map_err(|e| at_output(&e))?;
    let source = input_dir.display().to_string();
    let bar = progress(report.events, as_json);
    // What is true about the output, gathered while copying: the seqs kept (as runs: a log's
    // seqs are mostly contiguous, so this stays small whatever its size), second copies of a
    // seq (not kept), and records listed at open that could not be read or decoded now.
    let mut runs: BTreeMap<u64, u64> = BTreeMap::new();
    let mut kept = 0u64;
    let mut duplicates: Vec<(u64, u64, u64)> = Vec::new();
    let mut unreadable: Vec<(u64, String)> = Vec::new();
    for e in reader.replay(1..=u64::MAX).map_err(input)? {
        let e = match e {
            Ok(e) => e,
            // The damage that ends a conservative recovery's prefix: reported as where it stopped.
            Err(LogError::Corruption(c)) if stopped_by.as_ref() == Some(&c) => continue,
            Err(err @ LogError::Corruption(_)) | Err(err @ LogError::Body { .. }) => {
                let seq = match &err {
                    LogError::Corruption(c) => c.seq_range.0,
                    LogError::Body { seq, .. } => *seq,
                    _ => 0,
                };
                eprintln!("not recovered: {err}");
                unreadable.push((seq, err.to_string()));
                continue;
            }
            Err(err) => return Err(input(err)),
        };
        if !keep(&mut runs, e.seq) {
            duplicates.push((e.seq, e.segment.0, e.offset));
            continue;
        }
        sink.emit(&e.event).map_err(input)?;
        kept += 1;
        bar.inc(1);
    }
    // Gaps: seqs below the highest one read (seqs run from 1 without gaps) that were not kept.
    // Nothing is known to have existed above it.
    let seq_high = runs.values().max().copied().unwrap_or(0);
    let seq_high = unreadable.iter().map(|u| u.0).fold(seq_high, u64::max);
    let mut gaps: Vec<(u64, u64)> = Vec::new();
    let mut next = 1u64;
    for (&a, &b) in &runs {
        if a > next {
            gaps.push((next, a - 1));
        }
        next = b.saturating_add(1);
    }
    if seq_high >= next && seq_high > 0 {
        gaps.push((next, seq_high));
    }
    // Everything found is recorded in the recovered log itself, so it cannot be overlooked.
    let note = |template: &str| sink.event(Level::Warning, template).with("Input", source.clone());
    let mut notes = 0u64;
    for &(a, b) in &gaps {
        note("Recovery gap: seqs {FromSeq}..={ToSeq} of {Input} were damaged and are missing")
            .with("FromSeq", a)
            .with("ToSeq", b)
            .with("RecoveryGap", true)
            .emit()
            .map_err(input)?;
        notes += 1;
    }
    for (seq, why) in &unreadable {
        note("Recovery: seq {Seq} of {Input} was not recovered: {Reason}")
            .with("Seq", *seq)
            .with("Reason", why.clone())
            .with("RecoveryUnreadable", true)
            .emit()
            .map_err(input)?;
        notes += 1;
    }
    for &(seq, segment, offset) in &duplicates {
        note("Recovery: seq {Seq} of {Input} found again in segment {Segment} at offset {Offset}; the first copy was kept")
            .with("Seq", seq)
            .with("Segment", segment)
            .with("Offset", offset)
            .with("RecoveryDuplicate", true)
            .emit()
            .map_err(input)?;
        notes += 1;
    }
    for f in &report.findings {
        note("Recovery finding in {Input}: segment {Segment} offset {Offset}: {Kind} (seq {SeqExpected} expected there)")
            .with("Segment", f.segment.0)
            .with("Offset", f.offset)
            .with("Kind", f.anomaly.damage_kind().to_string())
            .with("SeqExpected", f.seq_expected)
            .with("RecoveryFinding", true)
            .emit()
            .map_err(input)?;
        notes += 1;
    }
    let stopped_at = stopped_by.as_ref().map(|c| c.seq_range.0);
    if let Some(seq) = stopped_at {
        note("Recovery stopped at seq {Seq} of {Input}: damage; later records were not recovered")
            .with("Seq", seq)
            .with("RecoveryStopped", true)
            .emit()
            .map_err(input)?;
        notes += 1;
    }
    sink.close().map_err(input)?;
    bar.finish_and_clear();
    let findings: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    let summary = json!({
        "input": input_dir,
        "output": output,
        "mode": format!("{mode:?}").to_lowercase(),
        "events_kept": kept,
        "gaps": gaps.iter().map(|(a, b)| json!({"from_seq": a, "to_seq": b})).collect::<Vec<_>>(),
        "unreadable": unreadable.iter().map(|(seq, why)| json!({"seq": seq, "reason": why})).collect::<Vec<_>>(),
        "duplicates": duplicates.iter().map(|(seq, segment, offset)| json!({"seq": seq, "segment": segment, "offset": offset})).collect::<Vec<_>>(),
        "stopped_at_seq": stopped_at,
        "findings": findings,
        "notes_recorded": notes,
    });
    let report_path = output.join("recovery-report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&summary).unwrap_or_default())
        .map_err(|e| input(format!("{}: {e}", report_path.display())))?;
    if as_json {
        println!("{summary}");
    } else {
        println!("recovered {kept} events from {} into {}", input_dir.display(), output.display());
        for (a, b) in &gaps {
            println!("  gap: seqs {a}..={b} missing (recorded in the recovered log)");
        }
        for (_, why) in &unreadable {
            println!("  not recovered: {why}");
        }
        for (seq, segment, offset) in &duplicates {
            println!("  duplicate: seq {seq} again in segment {segment} at offset {offset} (first copy kept)");
        }
        if let Some(s) = stopped_at {
            println!("  stopped at seq {s}: damage (use --mode aggressive to salvage past it)");
        }
        for f in &findings {
            println!("  finding: {f}");
        }
        println!("report: {}", report_path.display());
    }
    let clean =
        findings.is_empty() && gaps.is_empty() && unreadable.is_empty() && duplicates.is_empty();
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(EXIT_DAMAGED) })
}

pub fn stats(wal: &Path, as_json: bool) -> Outcome {
    let reader = open(wal, false)?;
    let report = reader.verify_integrity();
    let mut levels = std::collections::BTreeMap::<String, u64>::new();
    let (mut first, mut last) = (None::<i64>, None::<i64>);
    let mut adjusted = 0u64;
    let mut unreadable = 0u64;
    for e in reader.replay(1..=u64::MAX).map_err(input)? {
        // Damage is counted and summarised below (the findings line), not an input error:
        // stats describes a damaged log too.
        let e = match e {
            Ok(e) => e,
            Err(mtlog_audit::Error::Corruption(_) | mtlog_audit::Error::Body { .. }) => {
                unreadable += 1;
                continue;
            }
            Err(err) => return Err(input(err)),
        };
        *levels.entry(e.event.level.as_str().to_owned()).or_default() += 1;
        first = Some(first.map_or(e.timestamp_nanos, |f| f.min(e.timestamp_nanos)));
        last = Some(last.map_or(e.timestamp_nanos, |l| l.max(e.timestamp_nanos)));
        adjusted += u64::from(e.clock_adjusted);
    }
    let bytes: u64 = std::fs::read_dir(wal)
        .map_err(input)?
        .filter_map(Result::ok)
        .filter(|d| d.file_name().to_string_lossy().ends_with(".wal"))
        .filter_map(|d| d.metadata().ok())
        .map(|m| m.len())
        .sum();
    if as_json {
        println!(
            "{}",
            json!({
                "segments": report.segments, "events": report.events, "bytes": bytes,
                "first": first.map(format_rfc3339), "last": last.map(format_rfc3339),
                "levels": levels, "clock_adjusted": adjusted, "findings": report.findings.len(),
                "unreadable": unreadable,
            })
        );
    } else {
        println!("segments        {}", report.segments);
        println!("events          {}", report.events);
        println!("bytes on disk   {bytes}");
        println!("earliest        {}", first.map_or("-".into(), format_rfc3339));
        println!("latest          {}", last.map_or("-".into(), format_rfc3339));
        println!("clock adjusted  {adjusted}");
        for (l, n) in &levels {
            println!("  {l:<12} {n}");
        }
        if !report.is_valid() || unreadable > 0 {
            println!(
                "damage          {} finding(s), {unreadable} record(s) unreadable: run \
                 `mtlog-audit verify`",
                report.findings.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn monitor(wal: &Path, interval_ms: u64, max_seconds: Option<u64>, as_json: bool) -> Outcome {
    let started = Instant::now();
    let mut seen = open(wal, false)?.seq_last();
    let mut window_start = Instant::now();
    let mut window_events = 0u64;
    if !as_json {
        eprintln!("following {} from seq {} (Ctrl-C to stop)", wal.display(), seen + 1);
    }
    loop {
        if max_seconds.is_some_and(|m| started.elapsed() >= Duration::from_secs(m)) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(interval_ms));
        let reader = open(wal, false)?;
        let last = reader.seq_last();
        if last > seen {
            for e in reader.replay(seen + 1..=last).map_err(input)? {
                let e = e.map_err(input)?;
                println!("{}", line(&e, if as_json { Format::Json } else { Format::Text }));
                if crate::out::closed() {
                    return Ok(ExitCode::SUCCESS); // nobody is reading any more (| head)
                }
                window_events += 1;
            }
            seen = last;
        }
        let elapsed = window_start.elapsed();
        if elapsed >= Duration::from_secs(5) {
            if !as_json {
                eprintln!(
                    "rate: {:.1} events/s, head seq {seen}",
                    window_events as f64 / elapsed.as_secs_f64()
                );
            }
            window_start = Instant::now();
            window_events = 0;
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, Failure> {
    let bad = || input(format!("--duration {text}: expected e.g. 60s, 500ms, 2m"));
    let t = text.trim();
    let (num, unit) =
        t.split_at(t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len()));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if !(0.01..=3600.0).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_size(text: &str) -> Result<usize, Failure> {
    let bad = || input(format!("--event-size {text}: expected e.g. 1KB, 512B"));
    let t = text.trim().to_ascii_uppercase();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: usize = num.parse().map_err(|_| bad())?;
    let size = match unit {
        "" | "B" => Some(n),
        "KB" | "K" | "KIB" => n.checked_mul(1024),
        _ => return Err(bad()),
    };
    // An overflowing product is outside the range as much as a too-large one.
    let size = size.ok_or_else(bad)?;
    if !(64..=(256 << 10)).contains(&size) {
        return Err(bad());
    }
    Ok(size)
}

pub fn bench(
    duration: &str,
    concurrency: usize,
    event_size: &str,
    dir: Option<&Path>,
    as_json: bool,
) -> Outcome {
    let duration = parse_duration(duration)?;
    let size = parse_size(event_size)?;
    if !(1..=1024).contains(&concurrency) {
        return Err(input(format!("--concurrency {concurrency}: expected 1..=1024")));
    }
    // Bench works in a directory of its own, new inside --dir (default: the current one), and
    // removes only that (when `scratch` is dropped, on every path out of this function):
    // whatever --dir held before is never touched.
    let parent = dir.unwrap_or(Path::new("."));
    let scratch = tempfile::Builder::new()
        .prefix("mtlog-audit-bench-")
        .tempdir_in(parent)
        .map_err(|e| input(format!("--dir {}: {e}", parent.display())))?;
    let io_error = |what: &str, e: &dyn std::fmt::Display| {
        input(format!("{what} in {}: {e}", scratch.path().display()))
    };
    if !as_json {
        eprintln!(
            "measuring {concurrency} writer(s), {size}-byte events, {duration:?} each, in {}",
            scratch.path().display()
        );
    }
    let raw_fdatasync = |per_sync| {
        mtlog_audit_bench::try_raw_fdatasync(scratch.path(), per_sync, size, duration)
            .map_err(|e| io_error(&format!("raw fdatasync, {per_sync} per sync"), &e))
    };
    let naive = raw_fdatasync(1)?;
    let raw = raw_fdatasync(64)?;
    let sink_dir = scratch.path().join("sink");
    let ours = mtlog_audit_bench::try_sink_closed_loop(&sink_dir, concurrency, size, duration)
        .map_err(|e| io_error("the sink", &e))?;
    scratch.close().map_err(|e| input(format!("removing the bench directory: {e}")))?;
    let rows = [naive.clone(), raw.clone(), ours.clone()];
    if as_json {
        println!(
            "{}",
            json!({ "results": rows.iter().map(|m| json!({
            "name": m.name, "per_sec": m.per_sec, "p50_us": m.p50_us, "p99_us": m.p99_us,
            "p999_us": m.p999_us, "count": m.count, "syncs": m.syncs })).collect::<Vec<_>>(),
            "ratio_to_naive": ours.per_sec / naive.per_sec,
            "ratio_to_raw_64": ours.per_sec / raw.per_sec,
            "self_checks": mtlog_audit::SELF_CHECKS })
        );
    } else {
        if mtlog_audit::SELF_CHECKS {
            // This workspace's --release arms them for the torture harness; a service's own
            // release build does not have them.
            println!(
                "note: this build of mtlog-audit runs its debug self-checks (every body decoded \
                 again); for numbers as services see them: cargo run --profile bench -p \
                 mtlog-audit-cli -- bench ...\n"
            );
        }
        print!("{}", mtlog_audit_bench::table(&rows));
        println!(
            "\nmtlog-audit / naive fdatasync-per-record: {:.2}x",
            ours.per_sec / naive.per_sec
        );
        println!("mtlog-audit / raw 64-records-per-fdatasync: {:.2}x", ours.per_sec / raw.per_sec);
    }
    Ok(ExitCode::SUCCESS)
}

/// `mtlog-audit torture ARGS`: the torture harness's own command line (`torture::cli`), run
/// in this process; its child processes are this executable with `torture` in front of their
/// arguments. With `--json` the harness runs quietly and one JSON line gives its exit code and
/// where the machine-readable report is (`report.json` in `--report DIR`, default
/// `torture-report`).
pub fn torture(mut args: Vec<std::ffi::OsString>, as_json: bool) -> ExitCode {
    // A harness run (not a subcommand such as `replay`) is told to be quiet.
    let harness_run = args.first().is_none_or(|a| a.to_string_lossy().starts_with('-'));
    if as_json && harness_run {
        args.extend(["--quiet".into(), "--no-progress".into()]);
    }
    let report = if args.iter().any(|a| a == "--no-report") {
        None
    } else {
        let dir = args.iter().position(|a| a == "--report").and_then(|i| args.get(i + 1));
        Some(dir.map_or_else(|| "torture-report".into(), std::path::PathBuf::from))
    };
    let argv = std::iter::once(std::ffi::OsString::from("mtlog-audit torture")).chain(args);
    let code = torture::cli::main_with(argv, &["torture".to_owned()]);
    if as_json {
        let report = report.map(|d| d.join("report.json"));
        let passed = code == ExitCode::SUCCESS;
        println!("{}", json!({ "command": "torture", "passed": passed, "report": report }));
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_ranges_and_sizes_parse_or_say_what_was_expected() {
        assert_eq!(parse_seq_range("3..7").unwrap(), (3, 7));
        assert_eq!(parse_seq_range("3..=7").unwrap(), (3, 7));
        assert_eq!(parse_seq_range("..7").unwrap(), (1, 7));
        assert_eq!(parse_seq_range("3..").unwrap(), (3, u64::MAX));
        assert!(parse_seq_range("7..3").is_err());
        assert!(parse_seq_range("x").is_err());
        assert_eq!(parse_size("1KB").unwrap(), 1024);
        assert!(parse_size("1GB").is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("forever").is_err());
    }

    #[test]
    fn event_sizes_that_overflow_are_refused_not_a_panic() {
        // Regression (issue 19, 13): `n * 1024` overflowed for 2^54 KB and panicked.
        for text in ["18014398509481984KB", "18446744073709551615K", "99999999999999999999B"] {
            assert!(parse_size(text).unwrap_err().message.contains("expected"), "{text}");
        }
        assert_eq!(parse_size("256KB").unwrap(), 256 << 10);
        assert!(parse_size("257KB").is_err());
    }

    #[test]
    fn a_seq_range_must_overlap_the_seqs_the_log_holds() {
        // Regression (issue 19, 16): `replay --seq 1000..2000` on a log of 90 events printed
        // nothing and exited 0.
        assert!(seq_range_in_log("1000..2000", (1000, 2000), (1, 90)).is_err());
        assert!(seq_range_in_log("91..", (91, u64::MAX), (1, 90)).is_err());
        assert!(seq_range_in_log("..4", (1, 4), (5, 90)).is_err());
        assert!(seq_range_in_log("1..", (1, u64::MAX), (1, 0)).is_err(), "an empty log");
        assert!(seq_range_in_log("90..2000", (90, 2000), (1, 90)).is_ok());
        assert!(seq_range_in_log("..1", (1, 1), (1, 90)).is_ok());
        let message = seq_range_in_log("1000..2000", (1000, 2000), (1, 90)).unwrap_err().message;
        assert_eq!(message, "--seq 1000..2000: outside the log, which holds seqs 1..=90");
    }

    #[test]
    fn csv_fields_with_commas_quotes_and_newlines_are_quoted_and_quotes_doubled() {
        // Goal: the csv crate quotes exactly as the hand-written quoting it replaced did (RFC
        // 4180: quote a field holding a comma, quote, CR or LF; double inner quotes; LF ends
        // a row). Method: write one row through the writer export uses and compare bytes.
        let mut out = csv_writer(Vec::new());
        out.write_record(["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", ""]).unwrap();
        let bytes = out.into_inner().unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\n"
        );
    }
}
