//! Export bundles: a signed checkpoint, a contiguous run of event records and one inclusion
//! proof per record, in one JSON document that verifies offline with only the verifier key.
//!
//! ```text
//! {
//!   "format": "mtlog-audit-bundle/1",
//!   "log_id": "<32 hex digits>",          the log id the leaf bytes start with
//!   "checkpoint": "<signed note text>",   C2SP tlog-checkpoint in a C2SP signed note
//!   "tree_size": S,                       the checkpoint's tree size
//!   "count": k, "seq_first": a, "seq_last": b,
//!   "entries": [ { "seq", "timestamp_nanos", "flags", "encoding",
//!                  "body": "<base64 record body>", "proof": ["<hex>", ...],
//!                  "clef": "<the event as CLEF, informational, checked against body>" } ]
//! }
//! ```
//!
//! The bundle states its count and seq range, and entries must be exactly the seqs `a..=b`:
//! an entry dropped from the file, or two swapped, fails verification. The count and range are
//! not signed, though: entries dropped at an end, with the header edited to match, are caught
//! only against the range the verifier asked for, or when the range must end at the
//! checkpoint's signed tree size ([`BundleReport::require_range`]).
//!
//! [`Reader::export_bundle`](crate::Reader::export_bundle) makes a bundle (see there for the
//! round trip); [`Bundle::verify`] checks one offline.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::chain::{self, to_hex};
use super::checkpoint::{legacy_origin, Checkpoint, OpenError};
use super::merkle::{self, Hash, ProofError};
use super::note::{NoteKey, Verifier};
use super::tlog_proof::{leaf_bytes, TlogProof};
use crate::event::Event;

/// The `format` value of this version. See [`BundleError`] for an example.
pub const BUNDLE_FORMAT: &str = "mtlog-audit-bundle/1";
/// The most entries one bundle holds. See [`Reader::export_bundle`] for an example.
///
/// [`Reader::export_bundle`]: crate::Reader::export_bundle
pub const BUNDLE_ENTRIES_MAX: u64 = 1 << 20;

/// An export bundle (see the module docs). See [`Bundle::verify`] for an example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The log id, 32 lowercase hex digits.
    pub log_id: String,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// How many entries.
    pub count: u64,
    /// The first entry's seq.
    pub seq_first: u64,
    /// The last entry's seq.
    pub seq_last: u64,
    /// The entries, in seq order.
    pub entries: Vec<BundleEntry>,
}

/// One event record with its inclusion proof. See [`entry`] for an example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEntry {
    /// The seq.
    pub seq: u64,
    /// The record's raw timestamp.
    pub timestamp_nanos: i64,
    /// The record's flags.
    pub flags: u16,
    /// The body encoding byte.
    pub encoding: u8,
    /// The body, standard base64.
    pub body: String,
    /// The inclusion proof at `tree_size`, hex hashes.
    pub proof: Vec<String>,
    /// The event as CLEF (informational; checked against the body when it decodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clef: Option<String>,
}

/// What a verified bundle proves: each entry is the event at its seq in the signed tree.
/// Which seqs it holds is the bundle's own, unsigned statement: whoever passes a bundle on can
/// drop entries at either end and edit the count and range to match. Only the range the
/// verifier asked for ([`BundleReport::require_range`]), or a range ending at the checkpoint's
/// signed tree size, rules that out. See [`Bundle::verify`] for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleReport {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The keys whose signatures verified.
    pub signed_by: Vec<NoteKey>,
    /// Entries proved.
    pub count: u64,
    /// Their seq range.
    pub seq_first: u64,
    /// Their seq range.
    pub seq_last: u64,
}

/// Why a bundle did not verify (or could not be made).
///
/// # Examples
///
/// A bundle of one record, built by hand (a reader makes them with
/// [`Reader::export_bundle`](crate::Reader::export_bundle)), then damaged:
///
/// ```
/// use mtlog_audit::event::{Event, EventId, Level};
/// use mtlog_audit::integrity::bundle::{self, Bundle, BundleError, BUNDLE_FORMAT};
/// use mtlog_audit::integrity::checkpoint::{Checkpoint, OpenError};
/// use mtlog_audit::integrity::merkle::{self, ProofError};
/// use mtlog_audit::integrity::note::{NoteError, Signer};
/// use mtlog_audit::integrity::chain;
///
/// let log_id = 7u128;
/// let mut body = Vec::new();
/// Event::new(EventId::ZERO, 0, Level::Information, "Hello").render().encode_body(&mut body)?;
/// let root = merkle::root(&[chain::leaf_hash(log_id, 1, 0, 0, 0, &body)]);
/// let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let note = Checkpoint::new("example.com/audit", 1, root)?.sign(&[&signer])?;
/// let good = Bundle {
///     format: BUNDLE_FORMAT.into(),
///     log_id: format!("{log_id:032x}"),
///     checkpoint: note,
///     tree_size: 1,
///     count: 1,
///     seq_first: 1,
///     seq_last: 1,
///     entries: vec![bundle::entry(1, 0, 0, 0, &body, &[])], // one leaf: an empty proof
/// };
/// assert_eq!(good.verify(&[signer.verifier()])?.count, 1);
///
/// let mut altered = good.clone();
/// altered.entries[0].timestamp_nanos = 1;
/// let err = altered.verify(&[signer.verifier()]).unwrap_err();
/// assert!(matches!(
///     err,
///     BundleError::Proof { seq: 1, error: ProofError::RootMismatch { .. } }
/// ));
/// assert!(err.to_string().starts_with("bundle entry seq 1 is not in the checkpoint's tree: "));
///
/// let mut dropped = good.clone();
/// dropped.entries.clear();
/// let err = dropped.verify(&[signer.verifier()]).unwrap_err();
/// assert_eq!(err, BundleError::Count { stated: 1, seq_first: 1, seq_last: 1, found: 0 });
///
/// let stranger = Signer::from_seed("example.org/audit", [2; 32])?;
/// let err = good.verify(&[stranger.verifier()]).unwrap_err();
/// let BundleError::Checkpoint(OpenError::Note(cause)) = err else { panic!("{err}") };
/// assert!(matches!(cause, NoteError::Unverifiable { .. }));
///
/// let err = Bundle::from_json(r#"{"format": "other/1"}"#).unwrap_err();
/// assert!(matches!(err, BundleError::Format(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a bundle of this format.
    Format(String),
    /// The checkpoint did not open (unverifiable, altered or malformed).
    Checkpoint(OpenError),
    /// The stated tree size is not the checkpoint's.
    TreeSize {
        /// Stated.
        stated: u64,
        /// The checkpoint's.
        checkpoint: u64,
    },
    /// The stated count or range disagrees with the entries: an entry was dropped or added.
    Count {
        /// The count stated.
        stated: u64,
        /// The range stated.
        seq_first: u64,
        /// The range stated.
        seq_last: u64,
        /// Entries present.
        found: u64,
    },
    /// An entry is not the seq its place requires (dropped, swapped or duplicated).
    Seq {
        /// The entry's position.
        position: u64,
        /// The seq expected there.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// The checkpoint is another log's: its origin is not one expected (the `origins` given,
    /// or by default the name of a key that verified it, or the legacy
    /// [`legacy_origin`] of the bundle's log id).
    OtherLog {
        /// The origin the checkpoint names.
        origin: String,
    },
    /// An entry's fields do not decode.
    Entry {
        /// Its seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// An entry's proof does not lead to the checkpoint's root: the entry was altered.
    Proof {
        /// Its seq.
        seq: u64,
        /// Why.
        error: ProofError,
    },
    /// The bundle does not cover the range the verifier asked for
    /// ([`BundleReport::require_range`]): entries were dropped at an end, with the bundle's
    /// unsigned count and range edited to match.
    Range {
        /// The first seq asked for.
        seq_first: u64,
        /// The last seq asked for (`None`: up to the checkpoint's tree size).
        seq_last: Option<u64>,
        /// The range the bundle holds.
        found: (u64, u64),
    },
    /// An entry's CLEF text is not its body's.
    Clef {
        /// Its seq.
        seq: u64,
    },
    /// Making a bundle: the log has no such records or proofs (message says which).
    Export(String),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Format(e) => write!(f, "not a {BUNDLE_FORMAT} bundle: {e}"),
            BundleError::Checkpoint(e) => write!(f, "bundle checkpoint: {e}"),
            BundleError::TreeSize { stated, checkpoint } => {
                write!(f, "bundle states tree size {stated}, its checkpoint {checkpoint}")
            }
            BundleError::Count { stated, seq_first, seq_last, found } => write!(
                f,
                "bundle states {stated} entries for seqs {seq_first}..={seq_last} but holds \
                 {found}: entries were dropped or added"
            ),
            BundleError::Seq { position, expected, found } => write!(
                f,
                "bundle entry {position} is seq {found}, expected {expected}: entries were \
                 dropped, swapped or duplicated"
            ),
            BundleError::OtherLog { origin } => write!(
                f,
                "bundle checkpoint is another log's: origin {origin:?} is not the one expected \
                 (give --origin if this log was given a custom origin)"
            ),
            BundleError::Entry { seq, reason } => write!(f, "bundle entry seq {seq}: {reason}"),
            BundleError::Proof { seq, error } => {
                write!(f, "bundle entry seq {seq} is not in the checkpoint's tree: {error}")
            }
            BundleError::Range { seq_first, seq_last, found: (a, b) } => {
                let last =
                    seq_last.map_or("the checkpoint's tree size".to_owned(), |l| l.to_string());
                write!(
                    f,
                    "bundle holds seqs {a}..={b}, not the {seq_first}..={last} asked for: entries \
                     were dropped (a bundle's own count and range are not signed)"
                )
            }
            BundleError::Clef { seq } => {
                write!(f, "bundle entry seq {seq}: its CLEF text is not what its body holds")
            }
            BundleError::Export(e) => write!(f, "cannot export a bundle: {e}"),
        }
    }
}

impl std::error::Error for BundleError {}

impl BundleReport {
    /// Whether the entries run up to the checkpoint's tree size: that end is signed, so no
    /// entry can have been dropped after the last one.
    pub fn reaches_checkpoint(&self) -> bool {
        self.seq_last == self.checkpoint.size()
    }

    /// Requires the bundle to hold exactly seqs `seq_first..=seq_last`, as the verifier asked
    /// for them (`verify-bundle --seq`); `seq_last` `None` asks for every seq up to the
    /// checkpoint's signed tree size.
    ///
    /// # Errors
    /// [`BundleError::Range`] if the bundle holds another range: entries were dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::bundle::{Bundle, BundleError};
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let signer = Signer::from_seed("example.com/audit", [5; 32])?; // use io::Entropy
    /// let sink = Sink::open(Options::new(dir).signer(signer.clone()))?;
    /// for n in 0..4 {
    ///     sink.event(Level::Information, "Paid {N}").with("N", n).emit()?;
    /// }
    /// sink.close()?;
    /// let reader = Reader::open(dir)?;
    /// let note = String::from_utf8(reader.checkpoints()?.pop().unwrap().bytes)?;
    /// let mut bundle = reader.export_bundle(2..=4, &note)?;
    /// let report = bundle.verify(&[signer.verifier()])?;
    /// assert!(report.reaches_checkpoint()); // seq 4 is the signed tree size
    /// report.require_range(2, Some(4))?;
    ///
    /// // The last entry dropped and the header edited to match: the entries left verify...
    /// bundle.entries.pop();
    /// (bundle.count, bundle.seq_last) = (2, 3);
    /// let report = bundle.verify(&[signer.verifier()])?;
    /// // ...but not as the range asked for, nor up to the checkpoint.
    /// assert!(matches!(report.require_range(2, Some(4)), Err(BundleError::Range { .. })));
    /// assert!(matches!(report.require_range(2, None), Err(BundleError::Range { .. })));
    /// assert!(!report.reaches_checkpoint());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn require_range(&self, seq_first: u64, seq_last: Option<u64>) -> Result<(), BundleError> {
        let last = seq_last.unwrap_or(self.checkpoint.size());
        if (self.seq_first, self.seq_last) != (seq_first, last) {
            let found = (self.seq_first, self.seq_last);
            return Err(BundleError::Range { seq_first, seq_last, found });
        }
        Ok(())
    }
}

impl Bundle {
    /// Each entry as a C2SP `tlog-proof@v1` against the bundle's checkpoint, its leaf bytes
    /// in the `extra` line (see [`tlog_proof`](super::tlog_proof)). Unverified: convert a
    /// bundle you made or verified. See the [`tlog_proof`](super::tlog_proof) module for an
    /// example.
    ///
    /// # Errors
    /// [`BundleError::Format`] for a bad log id; [`BundleError::Entry`] for a body or proof
    /// hash that does not decode.
    pub fn to_tlog_proofs(&self) -> Result<Vec<TlogProof>, BundleError> {
        let log_id = u128::from_str_radix(&self.log_id, 16)
            .map_err(|_| BundleError::Format("log_id is not 32 hex digits".into()))?;
        self.entries
            .iter()
            .map(|entry| {
                let seq = entry.seq;
                let bad = |reason: &str| BundleError::Entry { seq, reason: reason.to_owned() };
                let body = BASE64.decode(&entry.body).map_err(|_| bad("body is not base64"))?;
                let proof = entry
                    .proof
                    .iter()
                    .map(|h| from_hex(h).ok_or_else(|| bad("proof hash is not 64 hex digits")))
                    .collect::<Result<Vec<Hash>, _>>()?;
                let (ts, flags, encoding) = (entry.timestamp_nanos, entry.flags, entry.encoding);
                Ok(TlogProof {
                    extra: Some(leaf_bytes(log_id, seq, ts, flags, encoding, &body)),
                    index: seq.checked_sub(1).ok_or_else(|| bad("seq 0"))?,
                    proof,
                    checkpoint: self.checkpoint.clone(),
                })
            })
            .collect()
    }

    /// Parses a bundle's JSON. See [`Bundle::verify`] for an example.
    ///
    /// # Errors
    /// [`BundleError::Format`] if the text is not JSON of this layout or names another format
    /// than [`BUNDLE_FORMAT`].
    pub fn from_json(text: &str) -> Result<Bundle, BundleError> {
        let bundle: Bundle =
            serde_json::from_str(text).map_err(|e| BundleError::Format(e.to_string()))?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(BundleError::Format(format!("format is {:?}", bundle.format)));
        }
        Ok(bundle)
    }

    /// The bundle as pretty JSON. See [`Bundle::verify`] for an example.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Verifies the bundle with only public data: the checkpoint's signature with `verifiers`,
    /// the stated count and range against the entries, and every entry's inclusion proof.
    ///
    /// # Errors
    /// The first [`BundleError`] found: `Format` (format or log id), `Checkpoint` (the note
    /// does not open with `verifiers`), `TreeSize`, `Count` or `Seq` (entries dropped, added or
    /// swapped), `Entry` (a field does not decode), `Proof` (an entry was altered) or `Clef`
    /// (its CLEF text is not its body's).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::bundle::{Bundle, BundleError};
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let signer = Signer::from_seed("example.com/audit", [5; 32])?; // use io::Entropy
    /// let sink = Sink::open(Options::new(dir).signer(signer.clone()))?;
    /// sink.event(Level::Information, "Paid {Amount}").with("Amount", 100).emit()?;
    /// sink.event(Level::Information, "Paid {Amount}").with("Amount", 250).emit()?;
    /// sink.close()?;
    /// let reader = Reader::open(dir)?;
    /// let note = String::from_utf8(reader.checkpoints()?.pop().unwrap().bytes)?;
    /// let json = reader.export_bundle(1..=2, &note)?.to_json();
    ///
    /// let mut bundle = Bundle::from_json(&json)?;
    /// assert_eq!(bundle.verify(&[signer.verifier()])?.count, 2);
    /// bundle.entries.swap(0, 1); // reordered
    /// assert!(matches!(bundle.verify(&[signer.verifier()]), Err(BundleError::Seq { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, verifiers: &[Verifier]) -> Result<BundleReport, BundleError> {
        self.verify_origins(verifiers, &[])
    }

    /// [`Bundle::verify`], also requiring the checkpoint's origin to be one of `origins`
    /// (`verify-bundle --origin`); with none given, the defaults: the name of a key that
    /// verified the checkpoint, or the legacy origin of the bundle's log id.
    ///
    /// # Errors
    /// As [`Bundle::verify`], and [`BundleError::OtherLog`] for another origin.
    pub fn verify_origins(
        &self,
        verifiers: &[Verifier],
        origins: &[String],
    ) -> Result<BundleReport, BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::Format(format!("format is {:?}", self.format)));
        }
        let log_id = u128::from_str_radix(&self.log_id, 16)
            .map_err(|_| BundleError::Format("log_id is not 32 hex digits".into()))?;
        let (checkpoint, signed_by) = Checkpoint::open_note(self.checkpoint.as_bytes(), verifiers)
            .map_err(BundleError::Checkpoint)?;
        let origin = checkpoint.origin();
        let expected = match origins {
            [] => origin == legacy_origin(log_id) || signed_by.iter().any(|k| k.name == origin),
            list => list.iter().any(|o| o == origin),
        };
        if !expected {
            return Err(BundleError::OtherLog { origin: origin.to_owned() });
        }
        if checkpoint.size() != self.tree_size {
            return Err(BundleError::TreeSize {
                stated: self.tree_size,
                checkpoint: checkpoint.size(),
            });
        }
        let found = self.entries.len() as u64;
        let span = self.seq_last.checked_sub(self.seq_first).map(|d| d + 1);
        if found != self.count || span != Some(self.count) || self.seq_first == 0 {
            return Err(BundleError::Count {
                stated: self.count,
                seq_first: self.seq_first,
                seq_last: self.seq_last,
                found,
            });
        }
        for (position, entry) in self.entries.iter().enumerate() {
            let expected = self.seq_first + position as u64;
            if entry.seq != expected {
                let position = position as u64;
                return Err(BundleError::Seq { position, expected, found: entry.seq });
            }
            verify_entry(log_id, &checkpoint, entry)?;
        }
        Ok(BundleReport {
            checkpoint,
            signed_by,
            count: self.count,
            seq_first: self.seq_first,
            seq_last: self.seq_last,
        })
    }
}

fn verify_entry(
    log_id: u128,
    checkpoint: &Checkpoint,
    entry: &BundleEntry,
) -> Result<(), BundleError> {
    let seq = entry.seq;
    let bad = |reason: &str| BundleError::Entry { seq, reason: reason.to_owned() };
    let body = BASE64.decode(&entry.body).map_err(|_| bad("body is not base64"))?;
    let proof: Vec<Hash> = entry
        .proof
        .iter()
        .map(|h| from_hex(h).ok_or_else(|| bad("proof hash is not 64 hex digits")))
        .collect::<Result<_, _>>()?;
    let leaf =
        chain::leaf_hash(log_id, seq, entry.timestamp_nanos, entry.flags, entry.encoding, &body);
    merkle::verify_inclusion(&leaf, seq - 1, checkpoint.size(), &proof, &checkpoint.root())
        .map_err(|error| BundleError::Proof { seq, error })?;
    if let (Some(clef), 0) = (&entry.clef, entry.encoding) {
        let event = Event::decode_body(&body).map_err(|e| bad(&e.to_string()))?;
        if &event.to_clef() != clef {
            return Err(BundleError::Clef { seq });
        }
    }
    Ok(())
}

/// Builds a bundle entry from a record's parts and its proof.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::{Event, EventId, Level};
/// use mtlog_audit::integrity::bundle::{self, BundleEntry};
///
/// let mut body = Vec::new();
/// Event::new(EventId::ZERO, 0, Level::Information, "Hello").render().encode_body(&mut body)?;
/// let sibling = [0xab; 32];
/// let entry: BundleEntry = bundle::entry(1, 0, 0, 0, &body, &[sibling]);
/// assert_eq!(entry.proof, ["ab".repeat(32)]); // hex
/// assert_eq!(bundle::from_hex(&entry.proof[0]), Some(sibling));
/// assert!(entry.clef.unwrap().contains(r#""@m":"Hello""#)); // encoding 0: an event body
/// # Ok::<(), mtlog_audit::event::BodyError>(())
/// ```
pub fn entry(
    seq: u64,
    timestamp_nanos: i64,
    flags: u16,
    encoding: u8,
    body: &[u8],
    proof: &[Hash],
) -> BundleEntry {
    let clef = match encoding {
        0 => Event::decode_body(body).ok().map(|e| e.to_clef()),
        _ => None,
    };
    BundleEntry {
        seq,
        timestamp_nanos,
        flags,
        encoding,
        body: BASE64.encode(body),
        proof: proof.iter().map(to_hex).collect(),
        clef,
    }
}

/// Parses 64 hex digits.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::bundle::from_hex;
/// use mtlog_audit::integrity::chain;
///
/// let hash = [0x5a; 32];
/// assert_eq!(from_hex(&chain::to_hex(&hash)), Some(hash));
/// assert_eq!(from_hex(&"5A".repeat(32)), Some(hash)); // either case
/// assert_eq!(from_hex("5a5a"), None); // too short
/// assert_eq!(from_hex(&"zz".repeat(32)), None);
/// ```
pub fn from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
