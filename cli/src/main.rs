//! `mtlog-audit`: verify, replay, export, recover, stats, monitor and bench an audit log.
//!
//! Reading commands open the log read-only, take no lock and show only seqs up to the durable
//! watermark, so they are safe beside a running service. `--json` on every command.
//!
//! Exit codes (docs/cli.md): 0 success; 1 the log has damage (verify, recover in conservative
//! mode stopping early); 2 usage error; 3 input or I/O error (missing directory, unreadable file,
//! bad filter, bad key); 4 tampered (a checkpoint or bundle was altered, or the log's history
//! disagrees with a signed checkpoint); 5 the log is behind a checkpoint it was shown (truncated
//! or rolled back); 6 unverifiable (checkpoints signed only by keys not given).

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // A CLI: real files, real time.

// Every print of the crate goes through `out`, which a closed pipe cannot crash (see its docs):
// these shadow the standard macros in every module declared below them.
macro_rules! print {
    ($($arg:tt)*) => { $crate::out::print(format_args!($($arg)*)) };
}
macro_rules! println {
    () => { $crate::out::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::print(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! eprintln {
    () => { $crate::out::eprint(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::eprint(format_args!("{}\n", format_args!($($arg)*))) };
}

mod commands;
#[cfg(feature = "parquet")]
mod export_parquet;
mod integrity;
mod out;
mod output;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Audit logs that cannot lose data: inspect, verify and salvage them.
#[derive(Parser, Debug)]
#[command(name = "mtlog-audit", version, about)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check segments, records, the seq range and the hash chain; report every damaged range.
    /// With checkpoints: the Merkle root against every checkpoint in DIR/checkpoints and each
    /// --checkpoint, their signatures, consistency between them, and whether the log is behind
    /// one (truncated or rolled back).
    Verify {
        /// The log directory.
        #[arg(long)]
        wal: std::path::PathBuf,
        /// A trusted verifier key: a .vkey file or the key text (repeatable).
        #[arg(long)]
        key: Vec<String>,
        /// A checkpoint kept outside the log to check it against (repeatable).
        #[arg(long)]
        checkpoint: Vec<std::path::PathBuf>,
        /// The log's checkpoint origin (repeatable). Default: the trusted key's name, or the
        /// legacy `mtlog-audit/<log id>`; a checkpoint naming another is another log's.
        #[arg(long)]
        origin: Vec<String>,
    },
    /// Generate a checkpoint signing key: PREFIX.key (private, mode 0600) and PREFIX.vkey.
    Keygen {
        /// The key name, conventionally a schema-less URL such as example.com/audit.
        #[arg(long)]
        name: String,
        /// Path prefix of the two files written.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Print an inclusion proof (--seq) or a consistency proof (--old-size).
    Prove {
        /// The log directory.
        #[arg(long)]
        wal: std::path::PathBuf,
        /// The event to prove.
        #[arg(long)]
        seq: Option<u64>,
        /// Prove that the tree of this many events is a prefix of the tree of --tree-size.
        #[arg(long)]
        old_size: Option<u64>,
        /// The tree size to prove in (default: the newest checkpoint's, else the whole log).
        #[arg(long)]
        tree_size: Option<u64>,
        /// Print --seq's proof as a C2SP tlog-proof@v1 against a signed checkpoint (--checkpoint,
        /// default DIR/checkpoints/latest), checkable with standard tools alone.
        #[arg(long, requires = "seq", conflicts_with_all = ["old_size", "tree_size"])]
        tlog_proof: bool,
        /// The checkpoint a --tlog-proof proves against.
        #[arg(long, requires = "tlog_proof")]
        checkpoint: Option<std::path::PathBuf>,
    },
    /// Write an export bundle: a checkpoint, events and their inclusion proofs, verifiable
    /// offline.
    Bundle {
        /// The log directory.
        #[arg(long)]
        wal: std::path::PathBuf,
        /// Seq range `A..B` (inclusive).
        #[arg(long)]
        seq: String,
        /// The checkpoint to prove against (default: DIR/checkpoints/latest).
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
        /// Output file (JSON): a new file outside the log directory.
        #[arg(long)]
        output: std::path::PathBuf,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Verify an export bundle, or a C2SP tlog-proof (`prove --tlog-proof`), offline with a
    /// verifier key.
    VerifyBundle {
        /// The bundle file.
        #[arg(long)]
        bundle: std::path::PathBuf,
        /// A trusted verifier key: a .vkey file or the key text (repeatable).
        #[arg(long)]
        key: Vec<String>,
        /// The log's checkpoint origin (repeatable). Default: the name of the key that
        /// verified it, or the legacy `mtlog-audit/<log id>`.
        #[arg(long)]
        origin: Vec<String>,
        /// The seq range asked for, `A..B` (`A..`: up to the checkpoint's tree size). A bundle's
        /// own range is not signed: without this, entries dropped at an end go unnoticed.
        #[arg(long)]
        seq: Option<String>,
    },
    /// Print events in seq order, by seq range or time range.
    Replay {
        /// The log directory.
        #[arg(long)]
        wal: std::path::PathBuf,
        /// Seq range `A..B` (inclusive; either end may be omitted).
        #[arg(long)]
        seq: Option<String>,
        /// Earliest timestamp (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Latest timestamp (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        output: commands::Format,
    },
    /// Write events matching a filter to a file.
    Export {
        /// The log directory.
        #[arg(long)]
        wal: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum)]
        format: commands::ExportFormat,
        /// Filter, e.g. "level >= ERROR and UserId = 42 and @mt like 'payment%'".
        #[arg(long)]
        filter: Option<String>,
        /// Output file: a new file outside the log directory.
        #[arg(long)]
        output: std::path::PathBuf,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Salvage a damaged log into a new one. Never modifies the input.
    Recover {
        /// The damaged log directory (read only).
        #[arg(long)]
        input: std::path::PathBuf,
        /// A new, empty directory for the recovered log.
        #[arg(long)]
        output: std::path::PathBuf,
        /// conservative: stop at the first damage; aggressive: keep every valid record past
        /// damage and record each gap explicitly.
        #[arg(long, value_enum, default_value = "conservative")]
        mode: commands::Mode,
    },
    /// Summarise a log: segments, events, bytes, time span, levels.
    Stats {
        /// The log directory.
        #[arg(long)]
        wal: std::path::PathBuf,
    },
    /// Follow a log: print new events and rates until interrupted.
    Monitor {
        /// The log directory.
        #[arg(long)]
        wal: std::path::PathBuf,
        /// Poll interval in milliseconds.
        #[arg(long, default_value_t = 500)]
        interval_ms: u64,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        max_seconds: Option<u64>,
    },
    /// Measure durable throughput and latency beside the disk's raw fdatasync limit.
    Bench {
        /// How long each measurement runs, e.g. 60s, 500ms.
        #[arg(long, default_value = "10s")]
        duration: String,
        /// Concurrent writers.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Event size, e.g. 1KB, 512B.
        #[arg(long, default_value = "1KB")]
        event_size: String,
        /// Directory to measure in (default: the current one). Bench works in a new
        /// subdirectory of it and removes only that.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Accept CLEF over HTTP as Seq does (POST /api/events/raw) and answer 201 only once every
    /// event of the request is durable in its tenant's log (DATA/TENANT).
    Serve(serve::ServeArgs),
    /// Run the torture harness: seeded crash and fault schedules on the simulator, or real
    /// SIGKILLed processes (--real). Takes the `torture` binary's arguments, e.g.
    /// `mtlog-audit torture --seeds 100000` or `mtlog-audit torture replay --seed 7`.
    #[command(disable_help_flag = true)]
    Torture {
        /// Arguments for the harness (`mtlog-audit torture --help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify { wal, key, checkpoint, origin } => {
            commands::verify(&wal, &key, &checkpoint, &origin, cli.json)
        }
        Command::Keygen { name, out } => integrity::keygen(&name, &out, cli.json),
        Command::Prove { wal, seq, old_size, tree_size, tlog_proof, checkpoint } => {
            commands::open(&wal, false).and_then(|r| match (tlog_proof, seq) {
                (true, Some(seq)) => integrity::prove_tlog(&r, seq, checkpoint.as_deref()),
                _ => integrity::prove(&r, seq, old_size, tree_size, cli.json),
            })
        }
        Command::Bundle { wal, seq, checkpoint, output, force } => commands::parse_seq_range(&seq)
            .and_then(|seqs| {
                let reader = commands::open(&wal, false)?;
                integrity::bundle(&reader, seqs, checkpoint.as_deref(), &output, force, cli.json)
            }),
        Command::VerifyBundle { bundle, key, origin, seq } => {
            seq.as_deref().map(commands::parse_seq_range).transpose().and_then(|seqs| {
                let seqs = seqs.map(|(a, b)| (a, (b != u64::MAX).then_some(b)));
                integrity::verify_bundle(&bundle, &key, &origin, seqs, cli.json)
            })
        }
        Command::Replay { wal, seq, from, to, output } => {
            commands::replay(&wal, seq.as_deref(), from.as_deref(), to.as_deref(), output, cli.json)
        }
        Command::Export { wal, format, filter, output, force } => {
            commands::export(&wal, format, filter.as_deref(), &output, force, cli.json)
        }
        Command::Recover { input, output, mode } => {
            // Never into the log being salvaged (a missing input is recover's to report).
            let outside = match input.is_dir() {
                true => output::outside_log(&output, &input).map_err(commands::Failure::from),
                false => Ok(()),
            };
            outside.and_then(|()| commands::recover(&input, &output, mode, cli.json))
        }
        Command::Stats { wal } => commands::stats(&wal, cli.json),
        Command::Monitor { wal, interval_ms, max_seconds } => {
            commands::monitor(&wal, interval_ms, max_seconds, cli.json)
        }
        Command::Bench { duration, concurrency, event_size, dir } => {
            commands::bench(&duration, concurrency, &event_size, dir.as_deref(), cli.json)
        }
        Command::Torture { args } => Ok(commands::torture(args, cli.json)),
        Command::Serve(args) => serve::serve(&args),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            if cli.json {
                println!("{}", serde_json::json!({ "error": e.message }));
            } else {
                eprintln!("error: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    };
    out::finish(code)
}
