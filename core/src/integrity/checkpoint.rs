//! Checkpoints: the signed statement "the log `origin` had `size` leaves with Merkle root
//! `root`", in the C2SP `tlog-checkpoint` format inside a C2SP signed note (see [`note`]), as
//! Go's checksum database, Sigstore and transparency-log witnesses write them.
//!
//! ```text
//! <origin>\n                      the log's identity, conventionally a schema-less URL
//! <tree size>\n                   ASCII decimal, no leading zeroes ("0" for the empty tree)
//! <root hash>\n                   standard base64 of the 32-byte RFC 6962 root
//! <extension line>\n ...          optional, opaque, non-empty (not recommended by the spec)
//!
//! — <key name> <base64(key ID | Ed25519 signature)>\n ...
//! ```
//!
//! A checkpoint held outside the log is what makes truncation and rollback detectable: the log
//! must still contain a tree of `size` leaves with that root, and any later checkpoint must be
//! consistent with it ([`merkle::verify_consistency`]).
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::integrity::checkpoint::Checkpoint;
//! use mtlog_audit::integrity::merkle::{self, StoredTree};
//! use mtlog_audit::integrity::note::Signer;
//!
//! let mut tree = StoredTree::new();
//! for record in [&b"first"[..], b"second", b"third"] {
//!     tree.push(merkle::leaf_hash(record));
//! }
//! let signer = Signer::generate("example.com/audit", &mut |buf| buf.fill(7))?; // use Entropy
//! let note = Checkpoint::new("example.com/audit", tree.size(), tree.root())?.sign(&[&signer])?;
//!
//! // An auditor holding only the note, the verifier key and one record with its proof:
//! let (checkpoint, signed_by) = Checkpoint::open_note(note.as_bytes(), &[signer.verifier()])?;
//! assert_eq!(signed_by, [signer.key().clone()]);
//! let proof = merkle::inclusion_proof(1, checkpoint.size(), &tree)?;
//! merkle::verify_inclusion(&merkle::leaf_hash(b"second"), 1, checkpoint.size(), &proof,
//!     &checkpoint.root())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`note`]: super::note
//! [`merkle::verify_consistency`]: super::merkle::verify_consistency

// Maintainers: a `Checkpoint` is valid by construction (private fields, checked in `new`,
// `with_extensions` and `parse_body`), so `to_body` is infallible and always parses back.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
#![deny(missing_docs)]

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::merkle::Hash;
use super::note::{self, NoteError, NoteKey, SignError, Signer, Verifier};

/// The longest origin line accepted, in bytes. See [`CheckpointTextError`] for an example.
pub const ORIGIN_LEN_MAX: usize = 1024;
/// The longest extension line accepted, in bytes. See [`CheckpointTextError`] for an example.
pub const EXTENSION_LEN_MAX: usize = 1024;
/// The most extension lines accepted. See [`CheckpointTextError`] for an example.
pub const EXTENSIONS_MAX: usize = 64;

/// The origin sinks used by default earlier, `mtlog-audit/<log id, 32 hex digits>`. Today's
/// default is the signing key's name (C2SP asks the origin to match it, and Go's and the
/// witnesses' tools expect it); logs signed under this one still verify as their own.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::checkpoint::legacy_origin;
/// assert_eq!(legacy_origin(0xab), format!("mtlog-audit/{}ab", "0".repeat(30)));
/// ```
pub fn legacy_origin(log_id: u128) -> String {
    format!("mtlog-audit/{log_id:032x}")
}

/// A tree head: the log's identity, its size and its Merkle root, plus optional extension lines.
///
/// Signing and opening notes is shown in the [module docs](self).
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::checkpoint::{CheckpointTextError, Checkpoint};
/// use mtlog_audit::integrity::merkle::EMPTY_ROOT;
///
/// let checkpoint = Checkpoint::new("example.com/audit", 0, EMPTY_ROOT)?
///     .with_extensions(vec!["witnessed-by example.org".into()])?;
/// assert_eq!((checkpoint.origin(), checkpoint.size()), ("example.com/audit", 0));
/// assert_eq!(checkpoint.root(), EMPTY_ROOT);
/// assert_eq!(checkpoint.extensions(), ["witnessed-by example.org"]);
///
/// let body = checkpoint.to_body();
/// let empty_root_base64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
/// assert!(body.starts_with(&format!("example.com/audit\n0\n{empty_root_base64}\n")));
/// assert_eq!(Checkpoint::parse_body(&body)?, checkpoint);
/// assert!(Checkpoint::new("two\nlines", 0, EMPTY_ROOT).is_err());
/// # Ok::<(), CheckpointTextError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines. See [`Checkpoint`] for an example.
    ///
    /// # Errors
    /// [`CheckpointTextError`] (on line 1) if `origin` is empty, longer than [`ORIGIN_LEN_MAX`] or holds
    /// a control character (a newline included).
    pub fn new(
        origin: impl Into<String>,
        size: u64,
        root: Hash,
    ) -> Result<Checkpoint, CheckpointTextError> {
        let origin = origin.into();
        check_line(LINE_ORIGIN, &origin, ORIGIN_LEN_MAX)?;
        Ok(Checkpoint { origin, size, root, extensions: Vec::new() })
    }

    /// The same checkpoint with these extension lines (each without its newline). See
    /// [`Checkpoint`] for an example.
    ///
    /// # Errors
    /// [`CheckpointTextError`] naming the first invalid line: empty, too long, holding a control character,
    /// or past [`EXTENSIONS_MAX`].
    pub fn with_extensions(
        mut self,
        extensions: Vec<String>,
    ) -> Result<Checkpoint, CheckpointTextError> {
        check_extension_count(extensions.len())?;
        for (i, line) in extensions.iter().enumerate() {
            check_line(LINE_EXTENSIONS + i, line, EXTENSION_LEN_MAX)?;
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// The log's identity. See [`Checkpoint`] for an example.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of leaves in the tree. See [`Checkpoint`] for an example.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root of the tree of [`size`](Checkpoint::size) leaves. See [`Checkpoint`] for
    /// an example.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The extension lines, without their newlines. See [`Checkpoint`] for an example.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size, root and extension lines, each ending in a newline. See
    /// [`Checkpoint`] for an example.
    pub fn to_body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root));
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        debug_assert_eq!(Checkpoint::parse_body(&body).as_ref(), Ok(self));
        body
    }

    /// Parses a checkpoint body (a note's text). The input is untrusted. See [`Checkpoint`] for an
    /// example.
    ///
    /// # Errors
    /// A [`CheckpointTextError`] saying what is wrong and on which line: the text is too large, does
    /// not end in a newline, lacks a line, or holds an invalid origin, size, root or extension
    /// line.
    pub fn parse_body(text: &str) -> Result<Checkpoint, CheckpointTextError> {
        if text.len() > BODY_LEN_MAX {
            return Err(CheckpointTextError::TooLarge { len: text.len(), max: BODY_LEN_MAX });
        }
        if !text.ends_with('\n') {
            let line = text.bytes().filter(|&b| b == b'\n').count() + 1;
            return Err(CheckpointTextError::Unterminated { line });
        }
        let mut lines = text.split_terminator('\n');
        let origin = lines.next().ok_or(CheckpointTextError::MissingLine { line: LINE_ORIGIN })?;
        check_line(LINE_ORIGIN, origin, ORIGIN_LEN_MAX)?;
        let size = lines.next().ok_or(CheckpointTextError::MissingLine { line: LINE_SIZE })?;
        let size = parse_size(size)?;
        let root = lines.next().ok_or(CheckpointTextError::MissingLine { line: LINE_ROOT })?;
        let root = parse_root(root)?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        Checkpoint { origin: origin.to_owned(), size, root, extensions: Vec::new() }
            .with_extensions(extensions)
    }

    /// Signs the checkpoint with each signer, in order, and returns the signed note. Sign with
    /// both the old and the new key across a key rotation, so verifiers holding either accept.
    /// See the [module docs](self) for an example.
    ///
    /// # Errors
    /// [`SignError::NoSigners`] or [`SignError::TooManySigners`]; the body itself is always valid.
    pub fn sign(&self, signers: &[&Signer]) -> Result<String, SignError> {
        note::sign(&self.to_body(), signers)
    }

    /// Opens a signed checkpoint note: checks its signatures against `verifiers` (see
    /// [`note::open`]), then parses the signed body. Returns the checkpoint and the known keys
    /// whose signatures verified. See the [module docs](self) for an example.
    ///
    /// # Errors
    /// [`OpenError::Note`] for a note that is malformed, altered ([`NoteError::InvalidSignature`])
    /// or signed by no known key ([`NoteError::Unverifiable`], not evidence of tampering);
    /// [`OpenError::Body`] for a validly signed text that is not a checkpoint.
    pub fn open_note(
        msg: &[u8],
        verifiers: &[Verifier],
    ) -> Result<(Checkpoint, Vec<NoteKey>), OpenError> {
        // Verify before reading: the text of a note means nothing until a known key vouches.
        let opened = note::open(msg, verifiers)?;
        let checkpoint = Checkpoint::parse_body(&opened.text)?;
        Ok((checkpoint, opened.verified))
    }
}

/// Why a checkpoint body was refused.
///
/// # Examples
///
/// Each error names the line at fault; a bad size or root also says what is wrong with it
/// ([`SizeDefect`], [`RootDefect`]):
///
/// ```
/// use mtlog_audit::integrity::checkpoint::{
///     CheckpointTextError, Checkpoint, RootDefect, SizeDefect, EXTENSIONS_MAX, EXTENSION_LEN_MAX,
///     ORIGIN_LEN_MAX,
/// };
///
/// let root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; // base64 of 32 zero bytes
/// let body = format!("example.com/audit\n007\n{root}\n");
/// let err = Checkpoint::parse_body(&body).unwrap_err();
/// assert_eq!(err, CheckpointTextError::InvalidTreeSize { line: 2, defect: SizeDefect::LeadingZero });
/// assert_eq!(err.to_string(), "checkpoint line 2: invalid tree size: leading zero");
///
/// let err = Checkpoint::parse_body("example.com/audit\n7\nAAAA\n").unwrap_err();
/// let defect = RootDefect::Length { found: 3 };
/// assert_eq!(err, CheckpointTextError::InvalidRootHash { line: 3, defect });
/// assert_eq!(err.to_string(), "checkpoint line 3: invalid root hash: 3 bytes, expected 32");
///
/// let err = Checkpoint::parse_body("example.com/audit\n7\n").unwrap_err();
/// assert_eq!(err.to_string(), "checkpoint line 3: missing (expected the root hash)");
///
/// // The same limits hold when building one.
/// let long = "a".repeat(ORIGIN_LEN_MAX + 1);
/// let err = Checkpoint::new(long, 7, [0; 32]).unwrap_err();
/// assert_eq!(err, CheckpointTextError::LineTooLong { line: 1, len: 1025, max: 1024 });
/// let checkpoint = Checkpoint::new("example.com/audit", 7, [0; 32])?;
/// let err = checkpoint.clone().with_extensions(vec!["x".repeat(EXTENSION_LEN_MAX + 1)]);
/// assert!(matches!(err, Err(CheckpointTextError::LineTooLong { line: 4, .. })));
/// let err = checkpoint.with_extensions(vec!["x".into(); EXTENSIONS_MAX + 1]);
/// assert_eq!(err, Err(CheckpointTextError::TooManyExtensions { count: 65, max: 64 }));
/// # Ok::<(), CheckpointTextError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointTextError {
    /// The body is larger than any valid checkpoint body.
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The largest accepted.
        max: usize,
    },
    /// The last line does not end in a newline.
    Unterminated {
        /// The line (1-based).
        line: usize,
    },
    /// A mandatory line (1 origin, 2 tree size, 3 root hash) is missing.
    MissingLine {
        /// The line (1-based).
        line: usize,
    },
    /// The origin or an extension line is empty.
    EmptyLine {
        /// The line (1-based).
        line: usize,
    },
    /// A line is longer than its limit.
    LineTooLong {
        /// The line (1-based).
        line: usize,
        /// Its length in bytes.
        len: usize,
        /// Its limit.
        max: usize,
    },
    /// A line holds an ASCII control character.
    ControlCharacter {
        /// The line (1-based).
        line: usize,
        /// The character.
        byte: u8,
    },
    /// The tree size line is not a canonical decimal `u64`.
    InvalidTreeSize {
        /// The line (always 2).
        line: usize,
        /// What is wrong.
        defect: SizeDefect,
    },
    /// The root hash line is not the base64 of 32 bytes.
    InvalidRootHash {
        /// The line (always 3).
        line: usize,
        /// What is wrong.
        defect: RootDefect,
    },
    /// More than [`EXTENSIONS_MAX`] extension lines.
    TooManyExtensions {
        /// The number present.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// What is wrong with a tree size line. See [`CheckpointTextError`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeDefect {
    /// The line is empty.
    Empty,
    /// A character other than an ASCII digit.
    NotDecimal,
    /// A leading zero (only "0" itself may start with one).
    LeadingZero,
    /// The number does not fit in 64 bits.
    Overflow,
}

/// What is wrong with a root hash line. See [`CheckpointTextError`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootDefect {
    /// Not standard padded base64.
    Base64,
    /// Decodes to the wrong number of bytes.
    Length {
        /// The number of bytes decoded.
        found: usize,
    },
}

impl fmt::Display for CheckpointTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointTextError::TooLarge { len, max } => {
                write!(f, "checkpoint body is {len} bytes, larger than the maximum {max}")
            }
            CheckpointTextError::Unterminated { line } => {
                write!(f, "checkpoint line {line}: missing final newline")
            }
            CheckpointTextError::MissingLine { line } => {
                write!(f, "checkpoint line {line}: missing (expected the {})", line_name(*line))
            }
            CheckpointTextError::EmptyLine { line } => {
                write!(f, "checkpoint line {line}: the {} is empty", line_name(*line))
            }
            CheckpointTextError::LineTooLong { line, len, max } => write!(
                f,
                "checkpoint line {line}: the {} is {len} bytes, longer than the maximum {max}",
                line_name(*line)
            ),
            CheckpointTextError::ControlCharacter { line, byte } => {
                write!(f, "checkpoint line {line}: control character {byte:#04x}")
            }
            CheckpointTextError::InvalidTreeSize { line, defect } => {
                write!(f, "checkpoint line {line}: invalid tree size: {defect}")
            }
            CheckpointTextError::InvalidRootHash { line, defect } => {
                write!(f, "checkpoint line {line}: invalid root hash: {defect}")
            }
            CheckpointTextError::TooManyExtensions { count, max } => {
                write!(f, "checkpoint has {count} extension lines, more than the maximum {max}")
            }
        }
    }
}

impl fmt::Display for SizeDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SizeDefect::Empty => "empty",
            SizeDefect::NotDecimal => "not a decimal number",
            SizeDefect::LeadingZero => "leading zero",
            SizeDefect::Overflow => "larger than 2^64 - 1",
        })
    }
}

impl fmt::Display for RootDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootDefect::Base64 => write!(f, "not standard base64"),
            RootDefect::Length { found } => write!(f, "{found} bytes, expected 32"),
        }
    }
}

impl std::error::Error for CheckpointTextError {}

/// Why a signed checkpoint was not accepted.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::checkpoint::{CheckpointTextError, Checkpoint, OpenError};
/// use mtlog_audit::integrity::note::{self, NoteError, Signer};
///
/// let ours = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let other = Signer::from_seed("example.org/audit", [2; 32])?;
/// let signed = Checkpoint::new("example.com/audit", 7, [0; 32])?.sign(&[&ours])?;
///
/// // Opened with the wrong key: cannot be checked (not evidence of tampering).
/// let err = Checkpoint::open_note(signed.as_bytes(), &[other.verifier()]).unwrap_err();
/// let unknown = vec![ours.key().clone()];
/// assert_eq!(err, OpenError::Note(NoteError::Unverifiable { unknown }));
///
/// // Validly signed, but not a checkpoint.
/// let hello = note::sign("hello\n", &[&ours])?;
/// let err = Checkpoint::open_note(hello.as_bytes(), &[ours.verifier()]).unwrap_err();
/// assert_eq!(err, OpenError::Body(CheckpointTextError::MissingLine { line: 2 }));
/// assert_eq!(
///     err.to_string(),
///     concat!(
///         "validly signed note is not a checkpoint: ",
///         "checkpoint line 2: missing (expected the tree size)",
///     )
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// The note is malformed, altered, or signed by no known key.
    Note(NoteError),
    /// A known key signed a text that is not a valid checkpoint.
    Body(CheckpointTextError),
}

impl From<NoteError> for OpenError {
    fn from(e: NoteError) -> OpenError {
        OpenError::Note(e)
    }
}

impl From<CheckpointTextError> for OpenError {
    fn from(e: CheckpointTextError) -> OpenError {
        OpenError::Body(e)
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Note(e) => write!(f, "{e}"),
            OpenError::Body(e) => write!(f, "validly signed note is not a checkpoint: {e}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Note(e) => Some(e),
            OpenError::Body(e) => Some(e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Checks an origin or extension line: non-empty, bounded, no control character.
fn check_line(line: usize, text: &str, max: usize) -> Result<(), CheckpointTextError> {
    if text.is_empty() {
        return Err(CheckpointTextError::EmptyLine { line });
    }
    if text.len() > max {
        return Err(CheckpointTextError::LineTooLong { line, len: text.len(), max });
    }
    if let Some(byte) = text.bytes().find(|&b| b < 0x20) {
        return Err(CheckpointTextError::ControlCharacter { line, byte });
    }
    Ok(())
}

fn check_extension_count(count: usize) -> Result<(), CheckpointTextError> {
    if count > EXTENSIONS_MAX {
        return Err(CheckpointTextError::TooManyExtensions { count, max: EXTENSIONS_MAX });
    }
    Ok(())
}

fn parse_size(text: &str) -> Result<u64, CheckpointTextError> {
    let invalid = |defect| CheckpointTextError::InvalidTreeSize { line: LINE_SIZE, defect };
    if text.is_empty() {
        return Err(invalid(SizeDefect::Empty));
    }
    // `u64::from_str` would accept a leading '+': check the digits first.
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(SizeDefect::NotDecimal));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(invalid(SizeDefect::LeadingZero));
    }
    text.parse::<u64>().map_err(|_| invalid(SizeDefect::Overflow))
}

fn parse_root(text: &str) -> Result<Hash, CheckpointTextError> {
    // The body bound keeps the line short enough to decode before checking its length.
    let invalid = |defect| CheckpointTextError::InvalidRootHash { line: LINE_ROOT, defect };
    let bytes = BASE64.decode(text).map_err(|_| invalid(RootDefect::Base64))?;
    let found = bytes.len();
    bytes.try_into().map_err(|_| invalid(RootDefect::Length { found }))
}

fn line_name(line: usize) -> &'static str {
    match line {
        LINE_ORIGIN => "origin",
        LINE_SIZE => "tree size",
        LINE_ROOT => "root hash",
        _ => "extension line",
    }
}

const LINE_ORIGIN: usize = 1;
const LINE_SIZE: usize = 2;
const LINE_ROOT: usize = 3;
const LINE_EXTENSIONS: usize = 4;
/// Standard base64 of 32 bytes.
const ROOT_LINE_LEN: usize = 44;
/// "18446744073709551615".
const SIZE_LINE_LEN_MAX: usize = 20;
/// The largest valid body: every line at its limit, with newlines.
const BODY_LEN_MAX: usize = ORIGIN_LEN_MAX
    + 1
    + SIZE_LINE_LEN_MAX
    + 1
    + ROOT_LINE_LEN
    + 1
    + EXTENSIONS_MAX * (EXTENSION_LEN_MAX + 1);

const _: () = assert!(ROOT_LINE_LEN == 32usize.div_ceil(3) * 4);
const _: () = assert!(BODY_LEN_MAX < note::NOTE_LEN_MAX / 2, "room for signatures");

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::integrity::merkle::{self, StoredTree};

    // From golang.org/x/mod/sumdb/tlog note_test.go (values only): the tree of size
    // 123456789012 whose root is the RFC 6962 leaf hash of "hello world".
    const GO_BODY: &str =
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";

    fn signer(name: &str, seed: u8) -> Signer {
        Signer::from_seed(name, [seed; 32]).unwrap()
    }

    fn example() -> Checkpoint {
        Checkpoint::new("example.com/audit", 5, merkle::leaf_hash(b"x")).unwrap()
    }

    #[test]
    fn body_matches_go_tlog_byte_for_byte() {
        let root = merkle::leaf_hash(b"hello world");
        let checkpoint = Checkpoint::new("go.sum database tree", 123456789012, root).unwrap();
        assert_eq!(checkpoint.to_body(), GO_BODY);
        assert_eq!(Checkpoint::parse_body(GO_BODY).unwrap(), checkpoint);
    }

    #[test]
    fn the_c2sp_example_body_parses() {
        let body = "example.com/behind-the-sofa\n20852163\n\
                    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let checkpoint = Checkpoint::parse_body(body).unwrap();
        assert_eq!(checkpoint.origin(), "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size(), 20852163);
        assert_eq!(checkpoint.to_body(), body);
    }

    #[test]
    fn empty_tree_and_extension_lines_round_trip() {
        let empty = Checkpoint::new("o", 0, merkle::EMPTY_ROOT).unwrap();
        assert_eq!(empty.to_body(), "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
        let with = example().with_extensions(vec!["Timestamp: 1".into(), "— x".into()]).unwrap();
        let body = with.to_body();
        assert!(body.ends_with("\nTimestamp: 1\n— x\n"));
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), with);
    }

    #[test]
    fn malformed_bodies_name_the_defect_and_line() {
        let root = "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=";
        let size = |defect| CheckpointTextError::InvalidTreeSize { line: 2, defect };
        let bad_root = |defect| CheckpointTextError::InvalidRootHash { line: 3, defect };
        let cases = [
            ("".to_string(), CheckpointTextError::Unterminated { line: 1 }),
            (GO_BODY.trim_end().to_string(), CheckpointTextError::Unterminated { line: 3 }),
            (format!("{GO_BODY}JOE"), CheckpointTextError::Unterminated { line: 4 }),
            ("o\n".to_string(), CheckpointTextError::MissingLine { line: 2 }),
            ("o\n1\n".to_string(), CheckpointTextError::MissingLine { line: 3 }),
            (format!("\n1\n{root}\n"), CheckpointTextError::EmptyLine { line: 1 }),
            (format!("o\n1\n{root}\n\n"), CheckpointTextError::EmptyLine { line: 4 }),
            (format!("o\n1\n{root}\nx\n\n"), CheckpointTextError::EmptyLine { line: 5 }),
            (
                format!("o\t\n1\n{root}\n"),
                CheckpointTextError::ControlCharacter { line: 1, byte: 9 },
            ),
            (format!("o\n\n{root}\n"), size(SizeDefect::Empty)),
            (format!("o\n0xabcdef\n{root}\n"), size(SizeDefect::NotDecimal)),
            (format!("o\n+5\n{root}\n"), size(SizeDefect::NotDecimal)),
            (format!("o\n-5\n{root}\n"), size(SizeDefect::NotDecimal)),
            (format!("o\n 5\n{root}\n"), size(SizeDefect::NotDecimal)),
            (format!("o\n05\n{root}\n"), size(SizeDefect::LeadingZero)),
            (format!("o\n18446744073709551616\n{root}\n"), size(SizeDefect::Overflow)),
            (
                "o\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n".to_string(),
                bad_root(RootDefect::Base64),
            ),
            ("o\n1\nAAAA\n".to_string(), bad_root(RootDefect::Length { found: 3 })),
            ("o\n1\n\n".to_string(), bad_root(RootDefect::Length { found: 0 })),
            (format!("o\n1\n{root}A\n"), bad_root(RootDefect::Base64)),
            (format!("o\n1\n{}\n", "A".repeat(48)), bad_root(RootDefect::Length { found: 36 })),
        ];
        for (body, want) in cases {
            assert_eq!(Checkpoint::parse_body(&body), Err(want), "{body:?}");
        }
        let max = format!("o\n18446744073709551615\n{root}\n");
        assert_eq!(Checkpoint::parse_body(&max).unwrap().size(), u64::MAX);
        let many = format!("o\n1\n{root}\n{}", "e\n".repeat(EXTENSIONS_MAX + 1));
        let err = Checkpoint::parse_body(&many).unwrap_err();
        assert_eq!(err, CheckpointTextError::TooManyExtensions { count: 65, max: 64 });
        let long = format!("{}\n1\n{root}\n", "o".repeat(ORIGIN_LEN_MAX + 1));
        let err = Checkpoint::parse_body(&long).unwrap_err();
        assert_eq!(err, CheckpointTextError::LineTooLong { line: 1, len: 1025, max: 1024 });
    }

    #[test]
    fn invalid_checkpoints_cannot_be_built() {
        let root = merkle::EMPTY_ROOT;
        assert_eq!(Checkpoint::new("", 0, root), Err(CheckpointTextError::EmptyLine { line: 1 }));
        let err = Checkpoint::new("a\nb", 0, root).unwrap_err();
        assert_eq!(err, CheckpointTextError::ControlCharacter { line: 1, byte: b'\n' });
        let err = example().with_extensions(vec!["ok".into(), String::new()]).unwrap_err();
        assert_eq!(err, CheckpointTextError::EmptyLine { line: 5 });
    }

    #[test]
    fn signed_checkpoints_round_trip_and_name_their_signers() {
        let key = signer("example.com/audit", 1);
        let note = example().sign(&[&key]).unwrap();
        assert!(note.starts_with(&example().to_body()));
        assert!(note.contains("\n\n\u{2014} example.com/audit "));
        let (opened, signed_by) =
            Checkpoint::open_note(note.as_bytes(), &[key.verifier()]).unwrap();
        assert_eq!(opened, example());
        assert_eq!(signed_by, vec![key.key().clone()]);
    }

    #[test]
    fn across_a_key_rotation_either_key_verifies_and_no_key_is_unverifiable() {
        let (old, new) = (signer("example.com/audit", 1), signer("example.com/audit", 2));
        assert_ne!(old.key(), new.key(), "same name, different key IDs");
        let note = example().sign(&[&old, &new]).unwrap();
        for (verifiers, verified) in [
            (vec![old.verifier()], vec![old.key().clone()]),
            (vec![new.verifier()], vec![new.key().clone()]),
            (vec![old.verifier(), new.verifier()], vec![old.key().clone(), new.key().clone()]),
        ] {
            let (checkpoint, signed_by) =
                Checkpoint::open_note(note.as_bytes(), &verifiers).unwrap();
            assert_eq!(checkpoint, example());
            assert_eq!(signed_by, verified);
        }
        let err = Checkpoint::open_note(note.as_bytes(), &[]).unwrap_err();
        let unknown = vec![old.key().clone(), new.key().clone()];
        assert_eq!(err, OpenError::Note(NoteError::Unverifiable { unknown }));
        let stranger = signer("example.com/audit", 3);
        let err = Checkpoint::open_note(note.as_bytes(), &[stranger.verifier()]).unwrap_err();
        assert!(matches!(err, OpenError::Note(NoteError::Unverifiable { .. })), "{err}");
    }

    #[test]
    fn a_signed_text_that_is_not_a_checkpoint_is_a_body_error() {
        let key = signer("k", 1);
        let note = note::sign("hello\n", &[&key]).unwrap();
        let err = Checkpoint::open_note(note.as_bytes(), &[key.verifier()]).unwrap_err();
        assert_eq!(err, OpenError::Body(CheckpointTextError::MissingLine { line: 2 }));
        assert!(err.to_string().starts_with("validly signed note is not a checkpoint"), "{err}");
    }

    #[test]
    fn every_byte_change_of_a_signed_checkpoint_is_rejected_or_unverifiable() {
        // Goal: no single-byte change to a signed checkpoint is ever accepted, and none is
        // reported as "verified". Method: exhaustive over a small note, every byte position,
        // every one of the 255 other values. A change inside the signer's name or key ID makes
        // the signature unknown ("unverifiable", never "tampered"); a change elsewhere in the
        // text or signature is an invalid signature or a malformed note.
        let key = signer("log", 9);
        let checkpoint = Checkpoint::new("o", 7, merkle::leaf_hash(b"r")).unwrap();
        let note = checkpoint.sign(&[&key]).unwrap().into_bytes();
        let verifiers = [key.verifier()];
        let (mut unverifiable, mut invalid, mut malformed) = (0, 0, 0);
        for i in 0..note.len() {
            for delta in 1..=255u8 {
                let mut changed = note.clone();
                changed[i] ^= delta;
                match Checkpoint::open_note(&changed, &verifiers) {
                    Ok(opened) => panic!("byte {i} ^ {delta:#04x} accepted: {opened:?}"),
                    Err(OpenError::Note(NoteError::Unverifiable { .. })) => unverifiable += 1,
                    Err(OpenError::Note(NoteError::InvalidSignature { .. })) => invalid += 1,
                    Err(_) => malformed += 1,
                }
            }
        }
        assert!(unverifiable > 0);
        assert!(invalid > 0);
        assert!(malformed > 0);
        // Which outcome each region gives: the body is signed, the key name is not.
        let body_len = checkpoint.to_body().len();
        let mut changed = note.clone();
        changed[0] ^= 0x01; // origin 'o' -> 'n'
        let err = Checkpoint::open_note(&changed, &verifiers).unwrap_err();
        assert!(matches!(err, OpenError::Note(NoteError::InvalidSignature { line: 5, .. })));
        let name_at = body_len + 1 + "\u{2014} ".len();
        let mut changed = note;
        changed[name_at] ^= 0x01; // key name "log" -> "mog"
        let err = Checkpoint::open_note(&changed, &verifiers).unwrap_err();
        assert!(matches!(err, OpenError::Note(NoteError::Unverifiable { .. })), "{err}");
    }

    #[test]
    fn a_checkpoint_proves_inclusion_and_consistency_to_an_outsider() {
        // Goal: the pieces compose the way an auditor will use them. Method: sign checkpoints at
        // two sizes, then verify an inclusion and a consistency proof using only the notes, the
        // verifier key text and the proofs.
        let key = signer("example.com/audit", 4);
        let vkey = key.verifier().to_vkey();
        let mut tree = StoredTree::new();
        let mut notes = Vec::new();
        for i in 0..20u32 {
            tree.push(merkle::leaf_hash(&i.to_le_bytes()));
            if i == 6 || i == 19 {
                let checkpoint = Checkpoint::new("example.com/audit", tree.size(), tree.root());
                notes.push(checkpoint.unwrap().sign(&[&key]).unwrap());
            }
        }
        let verifier = Verifier::from_vkey(&vkey).unwrap();
        let (old, _) =
            Checkpoint::open_note(notes[0].as_bytes(), std::slice::from_ref(&verifier)).unwrap();
        let (new, _) = Checkpoint::open_note(notes[1].as_bytes(), &[verifier]).unwrap();
        let proof = merkle::consistency_proof(old.size(), new.size(), &tree).unwrap();
        merkle::verify_consistency(old.size(), new.size(), &old.root(), &new.root(), &proof)
            .unwrap();
        let proof = merkle::inclusion_proof(3, old.size(), &tree).unwrap();
        let leaf = merkle::leaf_hash(&3u32.to_le_bytes());
        merkle::verify_inclusion(&leaf, 3, old.size(), &proof, &old.root()).unwrap();
    }

    proptest! {
        #[test]
        fn bodies_round_trip(
            origin in "[^\\x00-\\x1f]{1,40}", size in any::<u64>(), root in any::<[u8; 32]>(),
            extensions in proptest::collection::vec("[^\\x00-\\x1f]{1,20}", 0..4),
        ) {
            let checkpoint = Checkpoint::new(origin, size, root).unwrap()
                .with_extensions(extensions).unwrap();
            prop_assert_eq!(Checkpoint::parse_body(&checkpoint.to_body()).unwrap(), checkpoint);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "(?s).{0,200}") {
            let _ = Checkpoint::parse_body(&text);
            let _ = Checkpoint::open_note(text.as_bytes(), &[]);
        }

        #[test]
        fn parsing_checkpoint_shaped_text_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("\n"), Just("0"), Just("18446744073709551615"), Just("="),
                    Just("TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0"), Just("o"), Just("+"),
                ],
                0..20,
            )
        ) {
            let _ = Checkpoint::parse_body(&parts.concat());
        }
    }
}
