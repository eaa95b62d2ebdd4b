//! One event's proof in the C2SP `tlog-proof@v1` text format, so a verifier that knows only
//! the standards (a signed note, a checkpoint, an RFC 6962 inclusion proof) checks it:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the event's leaf bytes>        optional in the spec; always written here
//! index <leaf index = seq - 1>
//! <base64 hash>                                   the inclusion proof, leaf's sibling first
//! ...
//!                                                 (empty line)
//! <the checkpoint note, verbatim>
//! ```
//!
//! The `extra` line holds the record's **leaf bytes** (`docs/integrity.md` section 1: log id
//! u128 little-endian, seq, timestamp, flags, encoding, body), so the proof is self-contained:
//! the record hash is `SHA-256(0x00 | leaf bytes)`, and the inclusion proof authenticates the
//! leaf bytes against the signed root. The spec says never to trust `extra` implicitly; here
//! it is trusted only through that hash, and its seq must be `index + 1`.
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::integrity::note::Signer;
//! use mtlog_audit::integrity::tlog_proof::TlogProof;
//! use mtlog_audit::{Level, Options, Reader, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let signer = Signer::from_seed("example.com/audit", [5; 32])?; // use io::Entropy
//! let sink = Sink::open(Options::new(dir).signer(signer.clone()))?;
//! for n in 0..3 {
//!     sink.event(Level::Information, "Paid {N}").with("N", n).emit()?;
//! }
//! sink.close()?;
//! let reader = Reader::open(dir)?;
//! let note = String::from_utf8(reader.checkpoints()?.pop().unwrap().bytes)?;
//! let proof = reader.export_bundle(2..=2, &note)?.to_tlog_proofs()?.remove(0);
//! let text = proof.to_text();
//! assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
//!
//! let proved = TlogProof::parse(&text)?.verify(&[signer.verifier()], &[])?;
//! assert_eq!((proved.seq, proved.checkpoint.size()), (2, 3));
//! let altered = text.replacen("index 1", "index 0", 1);
//! assert!(TlogProof::parse(&altered)?.verify(&[signer.verifier()], &[]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::checkpoint::{legacy_origin, Checkpoint, OpenError};
use super::merkle::{self, Hash, ProofError};
use super::note::{NoteKey, Verifier};

/// The first line of a proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The most proof hashes accepted (a tree of 2^64 leaves needs 64).
pub const PROOF_HASHES_MAX: usize = 64;

/// A parsed proof (not yet verified). See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// The opaque extra data: here, the record's leaf bytes.
    pub extra: Option<Vec<u8>>,
    /// The leaf index.
    pub index: u64,
    /// The inclusion proof, leaf's sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

/// What a verified proof proves: the event at `seq` of the log `log_id`, in the signed tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvedEvent {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The keys whose signatures verified.
    pub signed_by: Vec<NoteKey>,
    /// The log id from the leaf bytes.
    pub log_id: u128,
    /// The seq (`index + 1`).
    pub seq: u64,
    /// The record's timestamp, as recorded.
    pub timestamp_nanos: i64,
    /// The record's flags.
    pub flags: u16,
    /// The body encoding byte.
    pub encoding: u8,
    /// The record body.
    pub body: Vec<u8>,
}

/// Why a proof did not parse or verify. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlogProofError {
    /// A line is not what the format puts there.
    Malformed {
        /// The line (1-based).
        line: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// No `extra` line: this verifier rebuilds the record from it.
    NoRecord,
    /// The leaf bytes are shorter than their fixed fields.
    ShortLeaf {
        /// Their length.
        len: usize,
    },
    /// The leaf's seq is not `index + 1`.
    SeqMismatch {
        /// The proof's index.
        index: u64,
        /// The seq in the leaf bytes.
        seq: u64,
    },
    /// The checkpoint did not open.
    Checkpoint(OpenError),
    /// The checkpoint is another log's.
    OtherLog {
        /// Its origin.
        origin: String,
    },
    /// The inclusion proof does not lead to the checkpoint's root: the record or proof was
    /// altered.
    Proof(ProofError),
}

impl fmt::Display for TlogProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlogProofError::Malformed { line, expected } => {
                write!(f, "tlog-proof line {line}: expected {expected}")
            }
            TlogProofError::NoRecord => write!(f, "tlog-proof has no extra line (the record)"),
            TlogProofError::ShortLeaf { len } => {
                write!(f, "tlog-proof record is {len} bytes, shorter than a leaf's 35")
            }
            TlogProofError::SeqMismatch { index, seq } => {
                write!(f, "tlog-proof index {index} holds a record of seq {seq}, not {}", index + 1)
            }
            TlogProofError::Checkpoint(e) => write!(f, "tlog-proof checkpoint: {e}"),
            TlogProofError::OtherLog { origin } => write!(
                f,
                "tlog-proof checkpoint is another log's: origin {origin:?} (give --origin if \
                 this log was given a custom origin)"
            ),
            TlogProofError::Proof(e) => {
                write!(f, "tlog-proof record is not in the checkpoint's tree: {e}")
            }
        }
    }
}

impl std::error::Error for TlogProofError {}

impl TlogProof {
    /// The proof's text. See the [module docs](self) for an example.
    pub fn to_text(&self) -> String {
        let mut text = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            text.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        text.push_str(&format!("index {}\n", self.index));
        for hash in &self.proof {
            text.push_str(&BASE64.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parses a proof. The input is untrusted. See the [module docs](self) for an example.
    ///
    /// # Errors
    /// [`TlogProofError::Malformed`] naming the first line that is not what the format puts
    /// there.
    pub fn parse(text: &str) -> Result<TlogProof, TlogProofError> {
        let bad = |line, expected| TlogProofError::Malformed { line, expected };
        let (head, checkpoint) = text.split_once("\n\n").ok_or(bad(1, "an empty line"))?;
        let mut lines = head.split('\n').enumerate().map(|(i, l)| (i + 1, l)).peekable();
        match lines.next() {
            Some((_, TLOG_PROOF_HEADER)) => {}
            _ => return Err(bad(1, TLOG_PROOF_HEADER)),
        }
        let mut extra = None;
        if let Some((line, rest)) =
            lines.peek().and_then(|(n, l)| Some((*n, l.strip_prefix("extra ")?)))
        {
            extra = Some(BASE64.decode(rest).map_err(|_| bad(line, "extra <base64>"))?);
            lines.next();
        }
        let (line, index) = lines.next().ok_or(bad(2, "index <n>"))?;
        let index = index
            .strip_prefix("index ")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .filter(|n| *n == "0" || !n.starts_with('0'))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or(bad(line, "index <decimal, no leading zero>"))?;
        let mut proof = Vec::new();
        for (line, hash) in lines {
            if proof.len() == PROOF_HASHES_MAX {
                return Err(bad(line, "the empty line (too many proof hashes)"));
            }
            let bytes = BASE64.decode(hash).map_err(|_| bad(line, "a base64 hash"))?;
            proof.push(Hash::try_from(bytes).map_err(|_| bad(line, "a 32-byte hash"))?);
        }
        Ok(TlogProof { extra, index, proof, checkpoint: checkpoint.to_owned() })
    }

    /// Verifies the proof: the checkpoint's signature with `verifiers`, its origin (one of
    /// `origins`, or by default a verifying key's name or the legacy origin of the record's
    /// log id), the record's seq against the index, and the inclusion of the record's leaf
    /// hash in the checkpoint's root. See the [module docs](self) for an example.
    ///
    /// # Errors
    /// The first [`TlogProofError`] found.
    pub fn verify(
        &self,
        verifiers: &[Verifier],
        origins: &[String],
    ) -> Result<ProvedEvent, TlogProofError> {
        let (checkpoint, signed_by) = Checkpoint::open_note(self.checkpoint.as_bytes(), verifiers)
            .map_err(TlogProofError::Checkpoint)?;
        let leaf = self.extra.as_deref().ok_or(TlogProofError::NoRecord)?;
        let event = parse_leaf(leaf)?;
        let origin = checkpoint.origin();
        let own = match origins {
            [] => {
                origin == legacy_origin(event.log_id) || signed_by.iter().any(|k| k.name == origin)
            }
            list => list.iter().any(|o| o == origin),
        };
        if !own {
            return Err(TlogProofError::OtherLog { origin: origin.to_owned() });
        }
        if event.seq != self.index.saturating_add(1) {
            return Err(TlogProofError::SeqMismatch { index: self.index, seq: event.seq });
        }
        let hash = merkle::leaf_hash(leaf);
        merkle::verify_inclusion(
            &hash,
            self.index,
            checkpoint.size(),
            &self.proof,
            &checkpoint.root(),
        )
        .map_err(TlogProofError::Proof)?;
        let Leaf { log_id, seq, timestamp_nanos, flags, encoding, body } = event;
        Ok(ProvedEvent {
            checkpoint,
            signed_by,
            log_id,
            seq,
            timestamp_nanos,
            flags,
            encoding,
            body,
        })
    }
}

/// The leaf bytes of an event record (`docs/integrity.md` section 1): what the RFC 6962 leaf
/// hash covers, and what a tlog-proof's `extra` line holds.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::{chain, merkle, tlog_proof};
///
/// let bytes = tlog_proof::leaf_bytes(7, 1, 1_000, 0, 0, b"body");
/// assert_eq!(bytes.len(), 35 + 4);
/// assert_eq!(bytes[..16], 7u128.to_le_bytes()); // the log id, little-endian
/// assert_eq!(merkle::leaf_hash(&bytes), chain::leaf_hash(7, 1, 1_000, 0, 0, b"body"));
/// ```
pub fn leaf_bytes(
    log_id: u128,
    seq: u64,
    timestamp_nanos: i64,
    flags: u16,
    encoding: u8,
    body: &[u8],
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(LEAF_FIXED_LEN + body.len());
    bytes.extend_from_slice(&log_id.to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&timestamp_nanos.to_le_bytes());
    bytes.extend_from_slice(&flags.to_le_bytes());
    bytes.push(encoding);
    bytes.extend_from_slice(body);
    bytes
}

/// The fields of an event's leaf bytes.
struct Leaf {
    log_id: u128,
    seq: u64,
    timestamp_nanos: i64,
    flags: u16,
    encoding: u8,
    body: Vec<u8>,
}

fn parse_leaf(bytes: &[u8]) -> Result<Leaf, TlogProofError> {
    let short = || TlogProofError::ShortLeaf { len: bytes.len() };
    let (log_id, rest) = bytes.split_first_chunk::<16>().ok_or_else(short)?;
    let (seq, rest) = rest.split_first_chunk::<8>().ok_or_else(short)?;
    let (ts, rest) = rest.split_first_chunk::<8>().ok_or_else(short)?;
    let (flags, rest) = rest.split_first_chunk::<2>().ok_or_else(short)?;
    let (encoding, body) = rest.split_first().ok_or_else(short)?;
    Ok(Leaf {
        log_id: u128::from_le_bytes(*log_id),
        seq: u64::from_le_bytes(*seq),
        timestamp_nanos: i64::from_le_bytes(*ts),
        flags: u16::from_le_bytes(*flags),
        encoding: *encoding,
        body: body.to_vec(),
    })
}

/// Log id (16) + seq (8) + timestamp (8) + flags (2) + encoding (1).
const LEAF_FIXED_LEN: usize = 35;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::integrity::note::Signer;

    #[test]
    fn the_spec_example_layout_parses_and_round_trips() {
        // The C2SP example's shape (its signatures elided there, so ours are made here).
        let signer = Signer::from_seed("example.com/fancylog", [1; 32]).unwrap();
        let note = Checkpoint::new("example.com/fancylog", 109482, [3; 32])
            .unwrap()
            .sign(&[&signer])
            .unwrap();
        let hash = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
        let text =
            format!("{TLOG_PROOF_HEADER}\nextra AAEC\nindex 73894\n{hash}\n{hash}\n\n{note}");
        let proof = TlogProof::parse(&text).unwrap();
        assert_eq!((proof.extra.as_deref(), proof.index), (Some(&[0, 1, 2][..]), 73894));
        assert_eq!(proof.proof.len(), 2);
        assert_eq!(proof.to_text(), text);
        let without = format!("{TLOG_PROOF_HEADER}\nindex 0\n\n{note}");
        let proof = TlogProof::parse(&without).unwrap();
        assert_eq!((proof.extra, proof.index, proof.proof.len()), (None, 0, 0));
    }

    #[test]
    fn malformed_proofs_name_their_line() {
        let cases = [
            ("", 1),
            ("c2sp.org/tlog-proof@v2\nindex 0\n\nx", 1),
            ("c2sp.org/tlog-proof@v1\nindex 01\n\nx", 2),
            ("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nx", 2),
            ("c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx", 3),
            ("c2sp.org/tlog-proof@v1\nextra AA==\n\nx", 2),
        ];
        for (text, line) in cases {
            let err = TlogProof::parse(text).unwrap_err();
            assert!(
                matches!(err, TlogProofError::Malformed { line: l, .. } if l == line),
                "{text:?}: {err}"
            );
        }
    }
}
