//! Durability benchmarks: the sink's durable throughput and latency, and the same-run
//! baselines it is judged against.
//!
//! Every number is an append counted once it is fdatasynced. Baselines run in the same process
//! on the same disk just before or after, so a result is a **ratio**, not a wall-clock claim:
//! - `raw`: one thread writing `k` records per `fdatasync` into a zero-filled file: the disk's
//!   limit for that batch size;
//! - `naive`: one record per `fdatasync` into a zero-filled file: what a careful single writer
//!   without group commit gets;
//! - SQLite in WAL mode with `synchronous=FULL` (in `benches/compare.rs`, a dev-dependency).
//!
//! Wall time is read here on purpose: measuring it is the point.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mtlog_audit::{Event, Level, Options, Sink};
use serde::Serialize;

/// One measured configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// What was measured.
    pub name: String,
    /// Durable appends per second.
    pub per_sec: f64,
    /// Latency percentiles in microseconds (0 where not measured).
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Appends counted.
    pub count: u64,
    /// fdatasync calls (or batches) issued, where known.
    pub syncs: u64,
}

impl Measurement {
    /// A measurement from a latency histogram: `count` appends over `elapsed`.
    pub fn from_histogram(
        name: String,
        count: u64,
        elapsed: Duration,
        hist: &Histogram<u64>,
        syncs: u64,
    ) -> Measurement {
        Measurement {
            name,
            per_sec: count as f64 / elapsed.as_secs_f64(),
            p50_us: hist.value_at_quantile(0.50),
            p99_us: hist.value_at_quantile(0.99),
            p999_us: hist.value_at_quantile(0.999),
            count,
            syncs,
        }
    }
}

/// The template of the benchmark events. The padding is a property only: rendered into the
/// message as well, it was stored twice and the "1 KiB" events were 2 KiB (until 2026-11-27).
const TEMPLATE: &str = "Writer {Writer} event {N}";

/// The padding property of a benchmark event of about `size` bytes once encoded.
fn padding(size: usize) -> String {
    "x".repeat(size.saturating_sub(120).max(1))
}

/// A benchmark event: `event` (new, from [`TEMPLATE`]) with its properties, rendered.
fn bench_event(event: Event, writer: u64, n: u64, pad: &str) -> Event {
    event.with_property("Writer", writer).with_property("N", n).with_property("Pad", pad).render()
}

/// Runs `writers` threads emitting events of about `event_size` bytes into a fresh sink in
/// `dir` for `duration`, each emit timed.
///
/// # Panics
/// If the sink cannot be opened or an emit fails: a benchmark of a failing sink means nothing.
pub fn sink_closed_loop(
    dir: &Path,
    writers: usize,
    event_size: usize,
    duration: Duration,
) -> Measurement {
    try_sink_closed_loop(dir, writers, event_size, duration).expect("sink closed loop")
}

/// As [`sink_closed_loop`], returning the sink's error (a full disk, say) instead of panicking,
/// for the `mtlog-audit bench` command.
///
/// # Errors
/// The first error of opening the sink, an emit or closing it; the writers stop at it.
pub fn try_sink_closed_loop(
    dir: &Path,
    writers: usize,
    event_size: usize,
    duration: Duration,
) -> Result<Measurement, mtlog_audit::Error> {
    let name = format!("mtlog-audit, {writers} writer(s)");
    Ok(closed_loop(Options::new(dir), name, writers, event_size, duration, |_| {})?.0)
}

/// As [`sink_closed_loop`], with the integrity layer on: a generated Ed25519 signer and a signed
/// checkpoint every `every_events` durable events (the Merkle tree is kept for every event, each
/// checkpoint is signed, written and fsynced).
///
/// # Panics
/// As [`sink_closed_loop`], and if the key cannot be generated.
pub fn sink_closed_loop_signed(
    dir: &Path,
    writers: usize,
    event_size: usize,
    duration: Duration,
    every_events: u64,
) -> Measurement {
    use mtlog_audit::integrity::note::Signer;
    use mtlog_audit::io::{Entropy, OsEntropy};
    let signer = Signer::generate("mtlog-audit.bench/signed", &mut |b| OsEntropy.fill(b))
        .expect("generate a signing key");
    let options = Options::new(dir).signer(signer).checkpoint_every_events(Some(every_events));
    let name =
        format!("mtlog-audit, {writers} writer(s), signed checkpoint every {every_events} events");
    closed_loop(options, name, writers, event_size, duration, |_| {}).expect("signed loop").0
}

/// Overload: `writers` emitters against a queue bound of `queue_max` (< `writers`), so most of
/// them are held by back-pressure at any moment. Shows that memory stays bounded: the deepest
/// queue the sink saw, and the process's resident set sampled every 10 ms, the peak of each
/// half of the run separately (a queue that grew without bound would raise the second half).
///
/// # Panics
/// As [`sink_closed_loop`].
pub fn sink_overload(
    dir: &Path,
    writers: usize,
    queue_max: usize,
    event_size: usize,
    duration: Duration,
) -> Overload {
    let name = format!("mtlog-audit, {writers} writer(s), queue_max {queue_max} (overload)");
    let options = Options::new(dir).queue_max(queue_max);
    let rss_before_mb = rss_mb();
    let peaks = Mutex::new((0.0f64, 0.0f64));
    let (measurement, stats) = closed_loop(options, name, writers, event_size, duration, |stop| {
        let started = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let rss = rss_mb();
            let mut p = peaks.lock().unwrap();
            if started.elapsed() < duration / 2 {
                p.0 = p.0.max(rss);
            } else {
                p.1 = p.1.max(rss);
            }
            drop(p);
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .expect("overload loop");
    let (rss_first_half_peak_mb, rss_second_half_peak_mb) = peaks.into_inner().unwrap();
    Overload {
        measurement,
        queue_max,
        queue_depth_max: stats.queue_depth_max,
        rss_before_mb,
        rss_first_half_peak_mb,
        rss_second_half_peak_mb,
    }
}

/// What [`sink_overload`] measured besides throughput and latency.
#[derive(Clone, Debug, Serialize)]
pub struct Overload {
    /// Throughput and latency (latency includes the wait for room in the queue).
    pub measurement: Measurement,
    /// The configured bound.
    pub queue_max: usize,
    /// The deepest queue the sink saw (`SinkStats::queue_depth_max`).
    pub queue_depth_max: usize,
    /// Resident set of the process before the sink opened, MB.
    pub rss_before_mb: f64,
    /// Peak resident set in the first half of the run, MB.
    pub rss_first_half_peak_mb: f64,
    /// Peak resident set in the second half of the run, MB.
    pub rss_second_half_peak_mb: f64,
}

/// The process's resident set in MB (`VmRSS` of `/proc/self/status`; 0 where unreadable).
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The closed loop: `writers` threads emit until `duration` has passed, while `watch` runs on
/// one more thread until told to stop.
fn closed_loop(
    options: Options,
    name: String,
    writers: usize,
    event_size: usize,
    duration: Duration,
    watch: impl FnOnce(&AtomicBool) + Send,
) -> Result<(Measurement, mtlog_audit::SinkStats), mtlog_audit::Error> {
    let sink = Sink::open(options)?;
    let pad = padding(event_size);
    let stop = AtomicBool::new(false);
    // The first emit error: it stops every writer, and the run returns it.
    let failure = Mutex::new(None::<mtlog_audit::Error>);
    let hist = Mutex::new(new_hist());
    let count = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..writers {
            let (sink, pad, stop, hist, count) = (&sink, &pad, &stop, &hist, &count);
            let failure = &failure;
            s.spawn(move || {
                let mut local = new_hist();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let event = sink.new_event(Level::Information, TEMPLATE);
                    let event = bench_event(event, t as u64, n, pad);
                    let t0 = Instant::now();
                    if let Err(e) = sink.emit(&event) {
                        failure.lock().unwrap().get_or_insert(e);
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    let _ = local.record(t0.elapsed().as_micros() as u64);
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
                let _ = hist.lock().unwrap().add(&local);
            });
        }
        let stop = &stop;
        s.spawn(move || watch(stop));
        // Sleep in short steps, so a failing run ends early.
        while started.elapsed() < duration && !stop.load(Ordering::Relaxed) {
            std::thread::sleep((duration - started.elapsed().min(duration)).min(STOP_POLL));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed();
    let stats = sink.stats();
    if let Some(e) = failure.into_inner().unwrap() {
        let _ = sink.close(); // the emit error is the one to report
        return Err(e);
    }
    sink.close()?;
    let hist = hist.into_inner().unwrap();
    let count = count.into_inner();
    let m = Measurement::from_histogram(name, count, elapsed, &hist, stats.batches);
    Ok((m, stats))
}

/// How often the closed loop checks whether a writer failed.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Offers `rate` events per second (open loop, spread over `writers` threads) for `duration`
/// and measures latency from each event's **scheduled** time, so a stall is not hidden by the
/// generator waiting for it (no coordinated omission).
///
/// # Panics
/// As [`sink_closed_loop`].
pub fn sink_fixed_rate(
    dir: &Path,
    writers: usize,
    rate: u64,
    event_size: usize,
    duration: Duration,
) -> Measurement {
    let sink = Sink::open(Options::new(dir)).expect("open sink");
    let pad = padding(event_size);
    let hist = Mutex::new(new_hist());
    let count = AtomicU64::new(0);
    let per_writer = rate as f64 / writers as f64;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..writers {
            let (sink, pad, hist, count) = (&sink, &pad, &hist, &count);
            s.spawn(move || {
                let mut local = new_hist();
                let interval = Duration::from_secs_f64(1.0 / per_writer);
                let mut next = started + interval.mul_f64(t as f64 / writers as f64);
                let mut n = 0u64;
                while next < started + duration {
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                    let event = sink.new_event(Level::Information, TEMPLATE);
                    let event = bench_event(event, t as u64, n, pad);
                    sink.emit(&event).expect("emit");
                    let _ = local.record(next.elapsed().as_micros() as u64);
                    n += 1;
                    next += interval;
                }
                count.fetch_add(n, Ordering::Relaxed);
                let _ = hist.lock().unwrap().add(&local);
            });
        }
    });
    let elapsed = started.elapsed();
    let stats = sink.stats();
    sink.close().expect("close");
    let hist = hist.into_inner().unwrap();
    let count = count.into_inner();
    Measurement::from_histogram(
        format!("mtlog-audit, {rate}/s offered"),
        count,
        elapsed,
        &hist,
        stats.batches,
    )
}

/// The raw limit: one thread appending `per_sync` records of `record_size` bytes per
/// `fdatasync` into a zero-filled, preallocated file, for `duration`.
///
/// # Panics
/// On I/O errors.
pub fn raw_fdatasync(
    dir: &Path,
    per_sync: usize,
    record_size: usize,
    duration: Duration,
) -> Measurement {
    try_raw_fdatasync(dir, per_sync, record_size, duration).expect("raw fdatasync")
}

/// As [`raw_fdatasync`], returning the I/O error (a full disk, say) instead of panicking, for
/// the `mtlog-audit bench` command. The file it created is removed either way; an existing file
/// of that name is refused, never overwritten.
///
/// # Errors
/// The first error creating, zero-filling, writing or syncing `dir/raw-{per_sync}.bin`.
pub fn try_raw_fdatasync(
    dir: &Path,
    per_sync: usize,
    record_size: usize,
    duration: Duration,
) -> std::io::Result<Measurement> {
    let path = dir.join(format!("raw-{per_sync}.bin"));
    let result = raw_fdatasync_into(&path, per_sync, record_size, duration);
    // Only a file this call created is removed: an existing one was refused, and is not ours.
    if !matches!(&result, Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists) {
        let _ = std::fs::remove_file(&path);
    }
    result
}

fn raw_fdatasync_into(
    path: &Path,
    per_sync: usize,
    record_size: usize,
    duration: Duration,
) -> std::io::Result<Measurement> {
    const FILE_BYTES: u64 = 256 << 20;
    let file = zero_filled(path, FILE_BYTES)?;
    let record = vec![0xA5u8; record_size];
    let mut batch = Vec::with_capacity(record_size * per_sync);
    let mut hist = new_hist();
    let mut offset = 0u64;
    let mut count = 0u64;
    let mut syncs = 0u64;
    let started = Instant::now();
    while started.elapsed() < duration {
        batch.clear();
        for _ in 0..per_sync {
            batch.extend_from_slice(&record);
        }
        if offset + batch.len() as u64 > FILE_BYTES {
            offset = 0; // wrap: the blocks stay allocated, as in a preallocated segment
        }
        let t0 = Instant::now();
        file.write_all_at(&batch, offset)?;
        file.sync_data()?;
        let _ = hist.record(t0.elapsed().as_micros() as u64);
        offset += batch.len() as u64;
        count += per_sync as u64;
        syncs += 1;
    }
    let elapsed = started.elapsed();
    drop(file);
    Ok(Measurement::from_histogram(
        if per_sync == 1 {
            "naive: 1 record per fdatasync".into()
        } else {
            format!("raw: {per_sync} records per fdatasync")
        },
        count,
        elapsed,
        &hist,
        syncs,
    ))
}

/// A new file of `len` zero bytes, written and fdatasynced, as a preallocated segment is. An
/// existing file is refused (`AlreadyExists`), never overwritten.
fn zero_filled(path: &Path, len: u64) -> std::io::Result<File> {
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        file.write_all_at(&zeros, at)?;
        at += zeros.len() as u64;
    }
    file.sync_data()?;
    Ok(file)
}

/// Sequential read bandwidth of `path` in bytes per second (cache dropped where permitted).
///
/// # Panics
/// On I/O errors.
pub fn read_bandwidth(path: &Path) -> f64 {
    let file = File::open(path).expect("open");
    let len = file.metadata().expect("stat").len();
    let mut buf = vec![0u8; 1 << 20];
    let started = Instant::now();
    let mut at = 0;
    while at < len {
        let n = file.read_at(&mut buf, at).expect("read");
        if n == 0 {
            break;
        }
        at += n as u64;
    }
    len as f64 / started.elapsed().as_secs_f64()
}

fn new_hist() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant digits: bounded memory, whatever the run length.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// Formats measurements as a Markdown table with ratios against `baseline`.
pub fn table(rows: &[Measurement]) -> String {
    let mut out = String::from(
        "| configuration | durable appends/s | p50 µs | p99 µs | p99.9 µs | fdatasyncs |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for m in rows {
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {} |\n",
            m.name, m.per_sec, m.p50_us, m.p99_us, m.p999_us, m.syncs
        ));
    }
    out
}

/// Open (recover) and verify speed over a log of about `log_bytes`, beside the sequential read
/// bandwidth of the same files, all in MB/s, measured in one run. The log is written in large
/// batches (one fdatasync per 4,096 events) to build it quickly.
///
/// # Panics
/// On I/O errors.
pub fn recovery_speed(dir: &Path, log_bytes: u64) -> RecoverySpeed {
    use mtlog_audit::event::{Event, EventId};
    use mtlog_audit::io::{OsEntropy, RealDisk, SystemClock};
    use mtlog_audit::wal::log::Log;
    use mtlog_audit::wal::writer::Batch;
    let segment_bytes = 64 << 20;
    let options = Options::new(dir).segment_bytes(segment_bytes).body_max(1 << 20);
    let disk = std::sync::Arc::new(RealDisk);
    let clock = std::sync::Arc::new(SystemClock);
    let mut log = Log::open(disk, &options, clock, &OsEntropy).expect("create log");
    let event = Event::new(EventId([9; 16]), 0, Level::Information, "bulk {Pad}")
        .with_property("Pad", padding(1024))
        .render();
    let mut body = Vec::new();
    event.encode_body(&mut body).expect("encode");
    let mut batch = Batch::default();
    for _ in 0..4096 {
        batch.bodies.extend_from_slice(&body);
        batch.push_body_written(0, body.len());
    }
    let mut hashes = Vec::new();
    let mut written = 0u64;
    while written < log_bytes {
        hashes.clear();
        // The engine's commit, as the sink's leader runs it (no preparer: rotation prepares).
        let a = log.commit(&batch, &mut hashes, None, || true).appended;
        assert!(a.error.is_none(), "append: {:?}", a.error);
        written += (body.len() as u64 + 96) * 4096;
    }
    log.close().expect("seal");
    drop(log);
    let bytes: u64 = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wal"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let mb = bytes as f64 / 1e6;
    let t0 = Instant::now();
    let mut read = 0u64;
    for e in std::fs::read_dir(dir).expect("list").filter_map(Result::ok) {
        if e.file_name().to_string_lossy().ends_with(".wal") {
            read += (read_bandwidth(&e.path()) > 0.0) as u64;
        }
    }
    let read_secs = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let sink = Sink::open(Options::new(dir).segment_bytes(segment_bytes)).expect("recover");
    let open_secs = t0.elapsed().as_secs_f64();
    drop(sink);
    let t0 = Instant::now();
    let report = mtlog_audit::Reader::open(dir).expect("reader").verify_integrity();
    let verify_secs = t0.elapsed().as_secs_f64();
    assert!(report.is_valid());
    let _ = read;
    RecoverySpeed {
        log_mb: mb,
        read_mb_s: mb / read_secs,
        open_mb_s: mb / open_secs,
        verify_mb_s: mb / verify_secs,
    }
}

/// The result of [`recovery_speed`].
#[derive(Clone, Debug, Serialize)]
pub struct RecoverySpeed {
    /// Log size in MB.
    pub log_mb: f64,
    /// Sequential read of the segment files (page cache warm, as right after writing).
    pub read_mb_s: f64,
    /// `Sink::open`: scan, classify, fsync, prepare.
    pub open_mb_s: f64,
    /// `Reader::open` + `verify_integrity`: scan, CRC, chain.
    pub verify_mb_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtlog_audit::EventId;

    #[test]
    fn the_raw_baseline_never_overwrites_or_removes_a_file_it_did_not_create() {
        let tmp = tempfile::tempdir().unwrap();
        let theirs = tmp.path().join("raw-1.bin");
        std::fs::write(&theirs, b"someone else's").unwrap();
        let err = try_raw_fdatasync(tmp.path(), 1, 64, Duration::from_millis(1)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&theirs).unwrap(), b"someone else's");
        // Its own file it removes.
        try_raw_fdatasync(tmp.path(), 8, 64, Duration::from_millis(1)).unwrap();
        assert!(!tmp.path().join("raw-8.bin").exists());
    }

    #[test]
    fn benchmark_events_encode_to_about_the_requested_size() {
        let event = Event::new(EventId([7; 16]), 1 << 60, Level::Information, TEMPLATE);
        let event = bench_event(event, 63, 1 << 40, &padding(1024));
        let mut body = Vec::new();
        event.encode_body(&mut body).expect("encode");
        assert!((1000..=1100).contains(&body.len()), "{} bytes", body.len());
    }

    #[test]
    fn overload_holds_the_queue_at_its_bound_and_samples_memory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let o = sink_overload(tmp.path(), 32, 4, 256, Duration::from_millis(300));
        assert!(o.measurement.count > 0, "{o:?}");
        assert!(o.queue_depth_max <= 4, "{o:?}");
        // 32 emitters against a bound of 4: the queue filled to its bound at least once.
        assert_eq!(o.queue_depth_max, 4, "{o:?}");
        assert!(o.rss_before_mb > 0.0 && o.rss_first_half_peak_mb > 0.0, "{o:?}");
    }
}
