//! Tamper evidence end to end on a real log: signed checkpoints written by the sink, the audit
//! of the log against them, proofs from the reader, export bundles, key rotation, and tamper
//! cases (every single-byte flip of every segment file, a deleted record, two swapped records,
//! a rewritten history, truncation against an external checkpoint).

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests poke real files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mtlog_audit::integrity::audit::{
    AuditReport, AuditVerdict, CheckpointInput, ConsistencyStatus, SignatureStatus, TreeStatus,
};
use mtlog_audit::integrity::bundle::{Bundle, BundleError};
use mtlog_audit::integrity::checkpoint::Checkpoint;
use mtlog_audit::integrity::merkle::{self, Hash};
use mtlog_audit::integrity::note::{Signer, Verifier};
use mtlog_audit::integrity::{chain, store, MerkleSource, RebuildReason};
use mtlog_audit::io::{Clock, RealDisk};
use mtlog_audit::wal::format::{self, BodyEncoding, RecordHeader, RecordKind, SegmentId};
use mtlog_audit::{Error, Level, Options, Reader, Sink};
use mtlog_audit_sim::{CountingEntropy, TickClock};
use proptest::prelude::*;

fn signer(seed: u8) -> Signer {
    Signer::from_seed("audit.example/log", [seed; 32]).unwrap()
}

fn open_sink(options: Options) -> Sink<RealDisk, TickClock, CountingEntropy> {
    Sink::open_with(
        options.segment_bytes(4 << 10),
        Arc::new(RealDisk),
        Arc::new(TickClock::new(1_795_000_000_000_000_000)),
        Arc::new(CountingEntropy::new()),
    )
    .unwrap()
}

fn emit(sink: &Sink<RealDisk, TickClock, CountingEntropy>, from: u64, count: u64) {
    for i in from..from + count {
        sink.event(Level::Information, "Payment {PaymentId} by {UserId}")
            .with("PaymentId", format!("p-{i}"))
            .with("UserId", 40 + i % 3)
            .emit()
            .unwrap();
    }
}

/// The sealed small log of the tamper tests: 20 events over several 4 KiB segments,
/// checkpoints every 5 events and on seal and close, copies in `external`.
fn small_log(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join("log");
    let external = root.join("external");
    let sink = open_sink(
        Options::new(&dir)
            .signer(signer(1))
            .checkpoint_every_events(Some(5))
            .checkpoint_dir(&external),
    );
    emit(&sink, 0, 20);
    sink.close().unwrap();
    (dir, external)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    files.sort();
    files
}

fn external_inputs(external: &Path) -> Vec<CheckpointInput> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(external).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "note"))
        .map(|p| CheckpointInput {
            source: p.display().to_string(),
            external: true,
            bytes: std::fs::read(&p).unwrap(),
        })
        .collect()
}

fn audit(dir: &Path, keys: &[Verifier], external: Vec<CheckpointInput>) -> AuditReport {
    Reader::open(dir).unwrap().audit(keys, external).unwrap()
}

#[test]
fn a_sealed_log_verifies_against_every_checkpoint_and_proves_each_event() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, external) = small_log(tmp.path());
    assert!(segments(&dir).len() >= 2, "the test wants several segments");
    let reader = Reader::open(&dir).unwrap();
    assert!(reader.verify_integrity().is_valid());
    assert_eq!(reader.tree_size(), 20);
    let report = reader.audit(&[signer(1).verifier()], external_inputs(&external)).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Valid, "{report:#?}");
    let sizes: Vec<u64> =
        report.checkpoints.iter().filter_map(|c| c.checkpoint.as_ref().map(|c| c.size())).collect();
    assert!(sizes.contains(&20), "a checkpoint on close: {sizes:?}");
    assert!(sizes.contains(&5) && sizes.contains(&10), "every 5 events: {sizes:?}");
    for c in &report.checkpoints {
        assert!(matches!(c.signature, SignatureStatus::Verified(_)), "{c:?}");
        assert_eq!(c.tree, TreeStatus::Matches);
    }
    assert!(report.consistency.iter().all(|c| c.status == ConsistencyStatus::Consistent));
    // Every event's inclusion proof verifies against the newest checkpoint, with public data.
    let latest = std::fs::read(dir.join("checkpoints/latest")).unwrap();
    let (checkpoint, _) = Checkpoint::open_note(&latest, &[signer(1).verifier()]).unwrap();
    assert_eq!(checkpoint.size(), 20);
    for seq in 1..=20 {
        let proof = reader.prove_inclusion(seq, 20).unwrap();
        proof.verify(&checkpoint).unwrap();
    }
    // The tiles the sink wrote agree with the WAL.
    let cache = reader.check_merkle_cache();
    assert!(cache.tiles_damaged.is_empty(), "{cache:?}");
    assert_eq!(cache.tiles_checked, 1);
}

#[test]
fn the_merkle_state_is_cached_across_a_clean_reopen_and_rebuilt_when_damaged() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = small_log(tmp.path());
    let options = || Options::new(&dir).signer(signer(1));
    let sink = open_sink(options());
    assert_eq!(sink.merkle_report().unwrap().source, MerkleSource::Cached);
    emit(&sink, 20, 300); // completes a full level-0 tile
    sink.close().unwrap();
    drop(sink);
    let state = dir.join("merkle/state");
    let mut bytes = std::fs::read(&state).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&state, &bytes).unwrap();
    let tile = store::tile_path(&dir, 0, 0);
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&tile, &bytes).unwrap();
    // The reader's proofs do not trust the damaged tile, and the cache check names it.
    let reader = Reader::open(&dir).unwrap();
    let cache = reader.check_merkle_cache();
    assert_eq!(cache.tiles_damaged.len(), 1, "{cache:?}");
    let root = merkle::root(&(1..=320).map(|s| reader.leaf_hash(s).unwrap()).collect::<Vec<_>>());
    let proof = reader.prove_inclusion(3, 320).unwrap();
    assert_eq!(proof.root, root);
    merkle::verify_inclusion(&proof.leaf_hash, 2, 320, &proof.hashes, &root).unwrap();
    drop(reader);
    let sink = open_sink(options());
    let report = sink.merkle_report().unwrap().clone();
    assert!(
        matches!(
            report.source,
            MerkleSource::Rebuilt { reason: RebuildReason::Damaged(_), tiles_rewritten: 1 }
        ),
        "{report:?}"
    );
    sink.close().unwrap();
    assert!(Reader::open(&dir).unwrap().check_merkle_cache().tiles_damaged.is_empty());
}

#[test]
fn every_single_byte_flip_of_every_segment_is_detected_with_its_location() {
    // Goal: no single-byte change to a sealed log goes unnoticed, and the report points at the
    // damaged file and a record at or before the flipped byte. Method: exhaustive over the
    // small log; each flip is made, audited (WAL scan + checkpoints) and undone.
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = small_log(tmp.path());
    let keys = [signer(1).verifier()];
    let mut flips = 0;
    for path in segments(&dir) {
        let original = std::fs::read(&path).unwrap();
        let segment =
            format::SegmentId(path.file_stem().unwrap().to_str().unwrap().parse::<u64>().unwrap());
        for offset in 0..original.len() {
            let mut bytes = original.clone();
            bytes[offset] ^= 0xff;
            std::fs::write(&path, &bytes).unwrap();
            let reader = Reader::open(&dir).unwrap();
            let integrity = reader.verify_integrity();
            let report = reader.audit(&keys, Vec::new()).unwrap();
            assert_ne!(report.verdict(), AuditVerdict::Valid, "{} byte {offset}", path.display());
            let located = integrity
                .findings
                .iter()
                .any(|f| f.segment == segment && f.offset <= offset as u64);
            assert!(located, "{} byte {offset}: {:?}", path.display(), integrity.findings);
            flips += 1;
        }
        std::fs::write(&path, &original).unwrap();
    }
    assert!(flips > 4000, "{flips}");
    assert_eq!(audit(&dir, &keys, Vec::new()).verdict(), AuditVerdict::Valid);
}

/// The event records of a log, in order: (timestamp, flags, body).
fn event_records(dir: &Path) -> (u128, Vec<(i64, u16, Vec<u8>)>) {
    let reader = Reader::open(dir).unwrap();
    let records = reader.records(1..=u64::MAX).unwrap();
    (reader.log_id(), records.into_iter().map(|r| (r.timestamp_nanos, r.flags, r.body)).collect())
}

/// Rewrites the log as one sealed segment holding `records`, with every seq, chain link,
/// checksum and seal recomputed: what an attacker with write access and our source code can
/// do. Only the checkpoints can tell.
fn rewrite_log(dir: &Path, log_id: u128, records: &[(i64, u16, Vec<u8>)]) {
    for path in segments(dir) {
        std::fs::remove_file(path).unwrap();
    }
    let segment = SegmentId(1);
    let header = format::SegmentHeader { log_id, segment, capacity: 1 << 20 };
    let mut bytes = format::encode_segment_header(&header).to_vec();
    let mut chain_hash = chain::genesis(log_id);
    let mut ts_last = 0;
    for (i, (ts, flags, body)) in records.iter().enumerate() {
        let seq = i as u64 + 1;
        let h = RecordHeader {
            kind: RecordKind::Event,
            encoding: BodyEncoding::Postcard,
            flags: *flags,
            log_id,
            segment,
            seq,
            watermark: seq - 1,
            timestamp_nanos: *ts,
            prev_hash: chain_hash,
        };
        format::encode_record(&mut bytes, &h, body);
        let leaf = chain::leaf_hash(log_id, seq, *ts, *flags, 0, body);
        chain_hash = chain::link(&chain_hash, &leaf);
        ts_last = *ts;
    }
    let seal =
        format::SealBody { count: records.len() as u64, xxh3: xxhash_rust::xxh3::xxh3_64(&bytes) };
    let h = RecordHeader {
        kind: RecordKind::Seal,
        encoding: BodyEncoding::Fixed,
        flags: 0,
        log_id,
        segment,
        seq: records.len() as u64,
        watermark: records.len() as u64,
        timestamp_nanos: ts_last,
        prev_hash: chain_hash,
    };
    format::encode_record(&mut bytes, &h, &format::encode_seal_body(&seal));
    std::fs::write(dir.join("00000000000000000001.wal"), bytes).unwrap();
}

#[test]
fn a_history_rewritten_consistently_is_caught_only_by_the_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = small_log(tmp.path());
    let keys = [signer(1).verifier()];
    let (log_id, records) = event_records(&dir);
    assert_eq!(records.len(), 20);
    // The rewriter itself is faithful: the unchanged history still verifies.
    rewrite_log(&dir, log_id, &records);
    assert_eq!(audit(&dir, &keys, Vec::new()).verdict(), AuditVerdict::Valid);

    let mut deleted = records.clone();
    deleted.remove(7); // seq 8
    let mut swapped = records.clone();
    swapped.swap(11, 12); // seqs 12 and 13
    let mut altered = records.clone();
    altered[2].2[20] ^= 1;
    for (name, forged, first_bad) in
        [("deleted", deleted, 8), ("swapped", swapped, 12), ("altered", altered, 3)]
    {
        rewrite_log(&dir, log_id, &forged);
        let reader = Reader::open(&dir).unwrap();
        assert!(reader.verify_integrity().is_valid(), "{name}: the WAL itself looks fine");
        let report = reader.audit(&keys, Vec::new()).unwrap();
        assert_eq!(report.verdict(), AuditVerdict::Tampered, "{name}: {report:#?}");
        for c in &report.checkpoints {
            let size = c.checkpoint.as_ref().unwrap().size();
            let mismatch = matches!(c.tree, TreeStatus::RootMismatch { .. });
            let behind = matches!(c.tree, TreeStatus::Behind { .. });
            if size < first_bad {
                assert_eq!(c.tree, TreeStatus::Matches, "{name} at {size}");
            } else {
                assert!(mismatch || behind, "{name} at {size}: {:?}", c.tree);
            }
        }
    }
}

#[test]
fn a_deleted_record_and_two_swapped_records_are_found_by_the_wal_scan_too() {
    // Byte-level edits that do not recompute the framing: the scan names the place.
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = small_log(tmp.path());
    let keys = [signer(1).verifier()];
    let reader = Reader::open(&dir).unwrap();
    let events: Vec<_> = reader.replay(1..=20).unwrap().map(Result::unwrap).collect();
    drop(reader);
    let (a, b) = (&events[2], &events[3]); // seqs 3 and 4, same segment
    assert_eq!(a.segment, b.segment);
    let seg = dir.join(format!("{:020}.wal", a.segment.0));
    let original = std::fs::read(&seg).unwrap();
    let (start, mid) = (a.offset as usize, b.offset as usize);
    let end = events.get(4).filter(|e| e.segment == a.segment).map(|e| e.offset as usize);
    let end = end.unwrap_or(mid + (mid - start));
    // Deleted: seq 3's bytes removed, the rest shifted down.
    let mut deleted = original[..start].to_vec();
    deleted.extend_from_slice(&original[mid..]);
    std::fs::write(&seg, &deleted).unwrap();
    let report = Reader::open(&dir).unwrap().verify_integrity();
    assert!(!report.is_valid());
    assert!(report.findings.iter().any(|f| f.offset == start as u64), "{:?}", report.findings);
    assert_ne!(audit(&dir, &keys, Vec::new()).verdict(), AuditVerdict::Valid);
    // Swapped: seqs 3 and 4 exchange places.
    if end - mid == mid - start {
        let mut swapped = original[..start].to_vec();
        swapped.extend_from_slice(&original[mid..end]);
        swapped.extend_from_slice(&original[start..mid]);
        swapped.extend_from_slice(&original[end..]);
        std::fs::write(&seg, &swapped).unwrap();
        let report = Reader::open(&dir).unwrap().verify_integrity();
        assert!(report.findings.iter().any(|f| f.offset == start as u64), "{report:?}");
        assert_ne!(audit(&dir, &keys, Vec::new()).verdict(), AuditVerdict::Valid);
    }
    std::fs::write(&seg, &original).unwrap();
}

#[test]
fn truncation_is_caught_against_an_external_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, external) = small_log(tmp.path());
    let keys = [signer(1).verifier()];
    // Cut the log back to its first segment (sealed: the WAL alone sees a shorter, clean log)
    // and remove the checkpoints that would give it away.
    let segs = segments(&dir);
    for path in &segs[1..] {
        std::fs::remove_file(path).unwrap();
    }
    let reader = Reader::open(&dir).unwrap();
    assert!(reader.verify_integrity().is_valid(), "a clean truncation");
    let kept = reader.tree_size();
    assert!(kept < 20);
    for f in reader.checkpoints().unwrap() {
        if f.size_named.unwrap() > kept {
            std::fs::remove_file(&f.path).unwrap();
        }
    }
    let _ = std::fs::remove_file(dir.join("checkpoints/latest"));
    assert_eq!(
        audit(&dir, &keys, Vec::new()).verdict(),
        AuditVerdict::Valid,
        "invisible from inside"
    );
    let report = audit(&dir, &keys, external_inputs(&external));
    assert_eq!(report.verdict(), AuditVerdict::Behind, "{report:#?}");
    let behind = report.checkpoints.iter().filter(|c| c.external).any(|c| {
        c.tree == TreeStatus::Behind { tree_size: kept }
            && c.checkpoint.as_ref().unwrap().size() == 20
    });
    assert!(behind, "{report:#?}");
    // And the sink refuses to carry on behind its own signed checkpoint.
    std::fs::copy(
        external.join(store::checkpoint_file_name(20)),
        dir.join("checkpoints").join(store::checkpoint_file_name(20)),
    )
    .unwrap();
    let opened = Sink::open(Options::new(&dir).signer(signer(1)));
    assert!(
        matches!(opened, Err(Error::BehindCheckpoint { checkpoint_size: 20, .. })),
        "{:?}",
        opened.err()
    );
}

#[test]
fn key_rotation_verifies_with_either_key_and_unknown_keys_are_unverifiable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let (old, new) = (signer(1), signer(2));
    let sink = open_sink(Options::new(&dir).signer(old.clone()).checkpoint_every_events(Some(4)));
    emit(&sink, 0, 6);
    let rotation = sink.rotate_signer(new.clone()).unwrap();
    assert_eq!(rotation.seq, 7);
    emit(&sink, 6, 6);
    sink.close().unwrap();

    let reader = Reader::open(&dir).unwrap();
    let rotations = reader.key_rotations().unwrap();
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].new, new.verifier());
    // The boundary checkpoint carries both signatures.
    let files = reader.checkpoints().unwrap();
    let boundary = files.iter().find(|f| f.size_named == Some(7)).unwrap();
    let both = [old.verifier(), new.verifier()];
    let (_, signed_by) = Checkpoint::open_note(&boundary.bytes, &both).unwrap();
    assert_eq!(signed_by.len(), 2);

    // Trusting only the old key: the new one is learned from the rotation record.
    let report = reader.audit(&[old.verifier()], Vec::new()).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Valid, "{report:#?}");
    assert_eq!(report.keys_learned, vec![(7, new.verifier().key().clone())]);
    // Both keys: valid. Only the new key: the checkpoints before the rotation cannot be
    // checked; that is "unverifiable", never "tampered".
    assert_eq!(reader.audit(&both, Vec::new()).unwrap().verdict(), AuditVerdict::Valid);
    let report = reader.audit(&[new.verifier()], Vec::new()).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Unverifiable, "{report:#?}");
    let stranger = signer(9).verifier();
    let report = reader.audit(&[stranger], Vec::new()).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Unverifiable);
    assert!(report
        .checkpoints
        .iter()
        .all(|c| matches!(c.signature, SignatureStatus::Unverifiable(_))));
}

#[test]
fn an_altered_checkpoint_note_is_tampered_not_unverifiable() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = small_log(tmp.path());
    let path = dir.join("checkpoints").join(store::checkpoint_file_name(20));
    let text = std::fs::read_to_string(&path).unwrap();
    let forged = text.replacen("\n20\n", "\n19\n", 1);
    std::fs::write(&path, forged).unwrap();
    let report = audit(&dir, &[signer(1).verifier()], Vec::new());
    assert_eq!(report.verdict(), AuditVerdict::Tampered);
    assert!(report
        .checkpoints
        .iter()
        .any(|c| matches!(c.signature, SignatureStatus::Invalid { .. })));
}

#[test]
fn bundles_verify_offline_and_show_a_dropped_swapped_or_altered_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = small_log(tmp.path());
    let note = std::fs::read_to_string(dir.join("checkpoints/latest")).unwrap();
    let bundle = Reader::open(&dir).unwrap().export_bundle(4..=9, &note).unwrap();
    let keys = [signer(1).verifier()];
    let text = bundle.to_json();
    let report = Bundle::from_json(&text).unwrap().verify(&keys).unwrap();
    assert_eq!((report.count, report.seq_first, report.seq_last), (6, 4, 9));

    let mut dropped = bundle.clone();
    dropped.entries.remove(2);
    assert!(matches!(dropped.verify(&keys), Err(BundleError::Count { found: 5, .. })));
    dropped.count = 5;
    dropped.seq_last = 8;
    assert!(matches!(dropped.verify(&keys), Err(BundleError::Seq { position: 2, .. })));
    let mut swapped = bundle.clone();
    swapped.entries.swap(0, 1);
    assert!(matches!(swapped.verify(&keys), Err(BundleError::Seq { .. })));
    let mut relabelled = bundle.clone();
    let (a, b) = (relabelled.entries[0].seq, relabelled.entries[1].seq);
    relabelled.entries.swap(0, 1);
    relabelled.entries[0].seq = a;
    relabelled.entries[1].seq = b;
    assert!(matches!(relabelled.verify(&keys), Err(BundleError::Proof { seq: 4, .. })));
    let mut altered = bundle.clone();
    altered.entries[3].timestamp_nanos += 1;
    assert!(matches!(altered.verify(&keys), Err(BundleError::Proof { seq: 7, .. })));
    let mut clef = bundle.clone();
    clef.entries[0].clef = Some(clef.entries[0].clef.clone().unwrap().replace("p-3", "p-X"));
    assert!(matches!(clef.verify(&keys), Err(BundleError::Clef { seq: 4 })));
    let err = bundle.verify(&[signer(5).verifier()]).unwrap_err();
    assert!(matches!(err, BundleError::Checkpoint(_)), "{err}");
}

fn model_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => merkle::EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            merkle::node_hash(&model_root(&leaves[..k]), &model_root(&leaves[k..]))
        }
    }
}

fn model_path(index: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = 1 << (usize::BITS - 1 - (leaves.len() - 1).leading_zeros());
    let (mut path, sibling) = if index < k {
        (model_path(index, &leaves[..k]), model_root(&leaves[k..]))
    } else {
        (model_path(index - k, &leaves[k..]), model_root(&leaves[..k]))
    };
    path.push(sibling);
    path
}

/// A 600-event log shared by the proptest cases (tiles at two levels, partial ones too).
fn proof_log() -> &'static (tempfile::TempDir, Vec<Hash>) {
    static LOG: std::sync::OnceLock<(tempfile::TempDir, Vec<Hash>)> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("log");
        let sink =
            open_sink(Options::new(&dir).signer(signer(3)).checkpoint_every_events(Some(97)));
        emit(&sink, 0, 600);
        sink.close().unwrap();
        let reader = Reader::open(&dir).unwrap();
        let leaves = reader.records(1..=600).unwrap().iter().map(|r| r.leaf_hash).collect();
        (tmp, leaves)
    })
}

static READER_LOCK: Mutex<()> = Mutex::new(());

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn reader_proofs_agree_with_the_naive_model(
        size in 1usize..=600, index in any::<prop::sample::Index>(), old in any::<prop::sample::Index>(),
    ) {
        let _guard = READER_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let (tmp, leaves) = proof_log();
        let reader = Reader::open(tmp.path().join("log")).unwrap();
        let index = index.index(size);
        let proof = reader.prove_inclusion(index as u64 + 1, size as u64).unwrap();
        prop_assert_eq!(&proof.hashes, &model_path(index, &leaves[..size]));
        prop_assert_eq!(proof.root, model_root(&leaves[..size]));
        prop_assert_eq!(proof.leaf_hash, leaves[index]);
        let old = old.index(size + 1);
        let consistency = reader.prove_consistency(old as u64, size as u64).unwrap();
        prop_assert_eq!(consistency.old_root, model_root(&leaves[..old]));
        merkle::verify_consistency(
            old as u64, size as u64, &consistency.old_root, &consistency.new_root, &consistency.hashes,
        ).unwrap();
    }
}

/// A clock the test moves by hand.
struct ManualClock(Arc<AtomicU64>);
impl Clock for ManualClock {
    fn wall_nanos(&self) -> i64 {
        1_795_000_000_000_000_000 + self.0.load(Ordering::SeqCst) as i64
    }
    fn monotonic_nanos(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[test]
fn checkpoints_follow_the_clock_and_reach_the_callback_after_they_are_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let now = Arc::new(AtomicU64::new(0));
    let notes: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = notes.clone();
    let cp_dir = dir.join("checkpoints");
    let sink = Sink::open_with(
        Options::new(&dir)
            .signer(signer(1))
            .checkpoint_every_events(None)
            .checkpoint_every(Some(std::time::Duration::from_secs(10)))
            .checkpoint_on_seal(false)
            .checkpoint_on_close(false)
            .checkpoint_callback(move |note| {
                // Called after the local copy is durable: it is already there.
                let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
                assert!(cp_dir.join(store::checkpoint_file_name(size)).exists());
                seen.lock().unwrap().push(note.to_owned());
            }),
        Arc::new(RealDisk),
        Arc::new(ManualClock(now.clone())),
        Arc::new(CountingEntropy::new()),
    )
    .unwrap();
    let one = |i: u64| sink.event(Level::Information, "Tick {N}").with("N", i).emit().unwrap();
    one(0);
    one(1);
    assert!(notes.lock().unwrap().is_empty(), "no time has passed");
    now.fetch_add(11_000_000_000, Ordering::SeqCst);
    one(2); // the batch that completes after 10 s signs everything durable
    assert_eq!(notes.lock().unwrap().len(), 1);
    one(3);
    assert_eq!(notes.lock().unwrap().len(), 1, "the interval restarts at each checkpoint");
    assert_eq!(sink.checkpoint().unwrap(), Some(4), "on demand");
    assert_eq!(sink.checkpoint().unwrap(), None, "nothing new");
    sink.close().unwrap();
    let notes = notes.lock().unwrap();
    let sizes: Vec<&str> = notes.iter().map(|n| n.lines().nth(1).unwrap()).collect();
    assert_eq!(sizes, ["3", "4"]);
    let report = audit(&dir, &[signer(1).verifier()], Vec::new());
    assert_eq!(report.verdict(), AuditVerdict::Valid);
}
