//! Signed notes as C2SP `signed-note` defines them, with Ed25519 keys, byte-compatible with Go's
//! `golang.org/x/mod/sumdb/note` (the format of Go's checksum database, Sigstore and witnesses).
//!
//! ```text
//! <text, one or more lines, each ending in a newline>
//! <blank line>
//! — <key name> <base64(key ID (4, BE) | Ed25519 signature of the text (64))>
//! — <another key name> <...>                      (one or more signature lines)
//! ```
//!
//! The dash is U+2014 (bytes E2 80 94) followed by a space. The text includes its final newline
//! and ends at the **last** blank line. The key ID is the first four bytes (big-endian) of
//! `SHA-256(key name | 0x0A | 0x01 | 32-byte public key)`; 0x01 names Ed25519.
//!
//! Keys travel as text, in the formats Go's `note` package reads and writes:
//!
//! ```text
//! verifier key: <name>+<key ID, 8 hex digits>+<base64(0x01 | 32-byte public key)>
//! signer key:   PRIVATE+KEY+<name>+<key ID, 8 hex digits>+<base64(0x01 | 32-byte seed)>
//! ```
//!
//! Opening a note has three distinct outcomes, because an auditor must tell them apart:
//!
//! - **verified**: at least one signature from a known key verifies, and every signature from a
//!   known key verifies ([`open`] returns the keys);
//! - **unverifiable**: no signature is from a known key ([`NoteError::Unverifiable`]). This says
//!   nothing about tampering: the note may be signed by a key the verifier was not given (for
//!   example a rotated one);
//! - **rejected**: a signature from a known key does not verify ([`NoteError::InvalidSignature`]:
//!   the text or signature was altered), or the note is malformed.
//!
//! Parsing treats the note as hostile: at most [`NOTE_LEN_MAX`] bytes and [`SIGNATURES_MAX`]
//! signatures, never a panic, and every error names what is wrong and on which line.
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::integrity::note::{self, NoteError, Signer};
//!
//! let alice = Signer::from_seed("alice.example/log", [1; 32])?; // use io::Entropy
//! let bob = Signer::from_seed("bob.example/witness", [2; 32])?;
//! let signed = note::sign("hello\nworld\n", &[&alice, &bob])?;
//!
//! let parsed = note::parse(signed.as_bytes())?; // syntax only: nothing is trusted yet
//! assert_eq!(parsed.signatures.len(), 2);
//!
//! let opened = note::open(signed.as_bytes(), &[alice.verifier()])?;
//! assert_eq!(opened.text, "hello\nworld\n");
//! assert_eq!(opened.verified, [alice.key().clone()]);
//! assert_eq!(opened.unverifiable, [bob.key().clone()]); // a key we were not given
//!
//! let altered = signed.replacen("world", "w0rld", 1);
//! let rejected = note::open(altered.as_bytes(), &[alice.verifier()]);
//! assert!(matches!(rejected, Err(NoteError::InvalidSignature { .. })));
//! let unknown = note::open(signed.as_bytes(), &[]);
//! assert!(matches!(unknown, Err(NoteError::Unverifiable { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Maintainers: this module differs from Go's `note.Open` in two deliberate, stricter ways. Every
// signature line from a known key is verified (Go skips repeats of a key it already verified; the
// spec says known-key signatures MUST be verified). Ed25519 verification is strict (canonical S
// and R, no small-order keys): a signature an honest signer made always passes, while a
// malleated one does not.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
#![deny(missing_docs)]

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The largest note [`parse`] and [`open`] accept, and [`sign`] produces (1 MiB). See
/// [`NoteError`] for an example.
pub const NOTE_LEN_MAX: usize = 1 << 20;
/// The most signature lines a note may carry (Go's limit too; the spec asks for at least 16).
/// See [`SignError`] for an example.
pub const SIGNATURES_MAX: usize = 100;
/// The longest key name a [`Signer`] or [`Verifier`] may have, in bytes. See [`KeyError`] for
/// an example.
pub const KEY_NAME_LEN_MAX: usize = 256;

/// A key as a signed note names it: key name plus 4-byte key ID. Together they identify one key
/// (and its algorithm); shown as `name+xxxxxxxx`, the prefix of its verifier key text.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::note::{NoteKey, Signer};
///
/// let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let key: &NoteKey = signer.key();
/// assert_eq!(key.name, "example.com/audit");
/// assert_eq!(key.to_string(), format!("example.com/audit+{:08x}", key.id));
/// assert!(signer.verifier().to_vkey().starts_with(&format!("{key}+")));
/// # Ok::<(), mtlog_audit::integrity::note::KeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoteKey {
    /// The key name, conventionally a schema-less URL such as `example.com/audit-log`.
    pub name: String,
    /// The key ID.
    pub id: u32,
}

impl fmt::Display for NoteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:08x}", self.name, self.id)
    }
}

/// The key ID of an Ed25519 key as the signed-note spec defines it: the first four bytes, read
/// big-endian, of `SHA-256(name | 0x0A | 0x01 | public key)`.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::note::{key_id, Verifier, PUBLIC_KEY_LEN};
///
/// let mut public = [0x66; PUBLIC_KEY_LEN]; // the Ed25519 base point, a valid public key
/// public[0] = 0x58;
/// let verifier = Verifier::from_public_key("example.com/audit", &public)?;
/// assert_eq!(verifier.key().id, key_id("example.com/audit", &public));
/// assert_ne!(key_id("example.org/audit", &public), key_id("example.com/audit", &public));
/// # Ok::<(), mtlog_audit::integrity::note::KeyError>(())
/// ```
pub fn key_id(name: &str, public_key: &[u8; PUBLIC_KEY_LEN]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let digest: [u8; 32] = h.finalize().into();
    let [a, b, c, d, ..] = digest;
    u32::from_be_bytes([a, b, c, d])
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// An Ed25519 signing key with its note key name: signs checkpoints.
///
/// `Debug` shows only the key name and ID, never the secret.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::note::{KeyError, Signer};
///
/// let signer = Signer::from_seed("example.com/audit", [3; 32])?; // use io::Entropy
/// assert_eq!(signer.key().name, "example.com/audit");
/// let text = signer.private_key_text(); // PRIVATE+KEY+example.com/audit+<id>+<base64>
/// let loaded = Signer::from_private_key_text(&text)?;
/// assert_eq!(loaded.verifier(), signer.verifier());
/// assert!(!format!("{signer:?}").contains(&text[text.len() - 20..])); // no secret in Debug
///
/// let bad_name = Signer::from_seed("has space", [3; 32]);
/// assert!(matches!(bad_name, Err(KeyError::InvalidName { .. })));
/// # Ok::<(), KeyError>(())
/// ```
#[derive(Clone)]
pub struct Signer {
    key: NoteKey,
    signing: SigningKey,
}

impl Signer {
    /// Generates a new key named `name`. The 32-byte seed comes from `fill`, which the caller
    /// wires to its `io::Entropy` (so a simulation can make keys deterministically):
    ///
    /// ```
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::io::{Entropy, OsEntropy};
    ///
    /// let signer = Signer::generate("example.com/audit", &mut |buf| OsEntropy.fill(buf))?;
    /// let vkey = signer.verifier().to_vkey(); // give this to auditors
    /// let secret = signer.private_key_text(); // keep this secret
    /// # assert!(vkey.starts_with("example.com/audit+"));
    /// # assert!(secret.starts_with("PRIVATE+KEY+example.com/audit+"));
    /// # Ok::<(), mtlog_audit::integrity::note::KeyError>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError::InvalidName`] if `name` is not a valid key name.
    pub fn generate(name: &str, fill: &mut impl FnMut(&mut [u8])) -> Result<Signer, KeyError> {
        check_key_name(name)?;
        let mut seed = [0u8; SEED_LEN];
        fill(&mut seed);
        Signer::from_seed(name, seed)
    }

    /// The signer for an Ed25519 `seed` (the RFC 8032 private key) under `name`. See [`Signer`] for
    /// an example.
    ///
    /// # Errors
    /// [`KeyError::InvalidName`] if `name` is not a valid key name.
    pub fn from_seed(name: &str, seed: [u8; SEED_LEN]) -> Result<Signer, KeyError> {
        check_key_name(name)?;
        let signing = SigningKey::from_bytes(&seed);
        let id = key_id(name, signing.verifying_key().as_bytes());
        Ok(Signer { key: NoteKey { name: name.to_owned(), id }, signing })
    }

    /// Reads a signer key in Go's text format,
    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 | seed)>`, checking that the key ID matches
    /// the key. A trailing newline (as in a key file) is ignored. See [`Signer`] for an example.
    ///
    /// # Errors
    /// A [`KeyError`] naming the first defect: `TooLong`, `MissingPart`, `InvalidName`,
    /// `InvalidKeyId`, `InvalidBase64`, `UnknownAlgorithm`, `WrongKeyLength` or
    /// `KeyIdMismatch`. Errors never include the secret.
    pub fn from_private_key_text(text: &str) -> Result<Signer, KeyError> {
        let text = text.trim_end_matches(['\n', '\r']);
        if text.len() > KEY_TEXT_LEN_MAX {
            return Err(KeyError::TooLong { len: text.len(), max: KEY_TEXT_LEN_MAX });
        }
        let rest = text
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(KeyError::MissingPart { part: KeyPart::PrivatePrefix })?;
        let (name, stored, key) = split_key_text(rest)?;
        let seed: [u8; SEED_LEN] = ed25519_key_bytes(key)?;
        let signer = Signer::from_seed(name, seed)?;
        if signer.key.id != stored {
            return Err(KeyError::KeyIdMismatch { stored, computed: signer.key.id });
        }
        Ok(signer)
    }

    /// The signer key in Go's text format (see [`Signer::from_private_key_text`]). It holds the
    /// secret: store it with the care of a password. See [`Signer`] for an example.
    pub fn private_key_text(&self) -> String {
        let mut key = Vec::with_capacity(1 + SEED_LEN);
        key.push(ALG_ED25519);
        key.extend_from_slice(self.signing.as_bytes());
        format!("{PRIVATE_KEY_PREFIX}{}+{:08x}+{}", self.key.name, self.key.id, BASE64.encode(key))
    }

    /// The key's name and ID. See [`Signer`] for an example.
    pub fn key(&self) -> &NoteKey {
        &self.key
    }

    /// The verifier for this signer's signatures. See [`Signer`] for an example.
    pub fn verifier(&self) -> Verifier {
        Verifier { key: self.key.clone(), verifying: self.signing.verifying_key() }
    }

    /// The Ed25519 signature of `message`. Deterministic (RFC 8032): the same key and message
    /// always give the same signature.
    fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("key", &self.key).finish_non_exhaustive()
    }
}

/// An Ed25519 public key with its note key name: checks signatures. Built from the verifier key
/// text an auditor is given.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::note::{KeyError, Signer, Verifier};
///
/// let signer = Signer::from_seed("example.com/audit", [3; 32])?; // use io::Entropy
/// let vkey = signer.verifier().to_vkey(); // example.com/audit+<key id>+<base64>
/// let verifier = Verifier::from_vkey(&format!("{vkey}\n"))?; // as read from a file
/// assert_eq!(verifier, signer.verifier());
/// assert_eq!(verifier.key(), signer.key());
/// assert!(vkey.starts_with(&verifier.key().to_string()));
///
/// let other_name = vkey.replacen("example.com", "example.org", 1);
/// let refused = Verifier::from_vkey(&other_name);
/// assert!(matches!(refused, Err(KeyError::KeyIdMismatch { .. })));
/// assert_eq!(Verifier::from_public_key("k", &[0; 32]), Err(KeyError::WeakKey));
/// # Ok::<(), KeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    key: NoteKey,
    verifying: VerifyingKey,
}

impl Verifier {
    /// Reads a verifier key, `<name>+<hex key ID>+<base64(0x01 | public key)>`, checking that
    /// the key ID matches and that the key is a canonical point outside the small-order subgroup.
    /// A trailing newline (as in a key file) is ignored. See [`Verifier`] for an example.
    ///
    /// # Errors
    /// A [`KeyError`] naming the first defect: `TooLong`, `MissingPart`, `InvalidName`,
    /// `InvalidKeyId`, `InvalidBase64`, `UnknownAlgorithm`, `WrongKeyLength`, `WeakKey` or
    /// `KeyIdMismatch`.
    pub fn from_vkey(text: &str) -> Result<Verifier, KeyError> {
        let text = text.trim_end_matches(['\n', '\r']);
        if text.len() > KEY_TEXT_LEN_MAX {
            return Err(KeyError::TooLong { len: text.len(), max: KEY_TEXT_LEN_MAX });
        }
        let (name, stored, key) = split_key_text(text)?;
        let public: [u8; PUBLIC_KEY_LEN] = ed25519_key_bytes(key)?;
        let verifier = Verifier::from_public_key(name, &public)?;
        if verifier.key.id != stored {
            return Err(KeyError::KeyIdMismatch { stored, computed: verifier.key.id });
        }
        Ok(verifier)
    }

    /// The verifier for a raw 32-byte Ed25519 public key under `name`. See [`Verifier`] for an
    /// example.
    ///
    /// # Errors
    /// [`KeyError::InvalidName`], or [`KeyError::WeakKey`] for a key that is not a canonical
    /// encoding of a point outside the small-order subgroup (such a key would accept forgeries).
    pub fn from_public_key(
        name: &str,
        public: &[u8; PUBLIC_KEY_LEN],
    ) -> Result<Verifier, KeyError> {
        check_key_name(name)?;
        let verifying = VerifyingKey::from_bytes(public).map_err(|_| KeyError::WeakKey)?;
        if verifying.is_weak() || verifying.as_bytes() != public {
            return Err(KeyError::WeakKey);
        }
        Ok(Verifier { key: NoteKey { name: name.to_owned(), id: key_id(name, public) }, verifying })
    }

    /// The verifier key text (see [`Verifier::from_vkey`]): what auditors are given. See
    /// [`Verifier`] for an example.
    pub fn to_vkey(&self) -> String {
        let mut key = Vec::with_capacity(1 + PUBLIC_KEY_LEN);
        key.push(ALG_ED25519);
        key.extend_from_slice(self.verifying.as_bytes());
        format!("{}+{}", self.key, BASE64.encode(key))
    }

    /// The key's name and ID. See [`Verifier`] for an example.
    pub fn key(&self) -> &NoteKey {
        &self.key
    }

    /// Whether `signature` is this key's strict Ed25519 signature of `message`.
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; SIGNATURE_LEN]>::try_from(signature) else { return false };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.verifying.verify_strict(message, &signature).is_ok()
    }
}

/// Why key text or a key name was refused.
///
/// # Examples
///
/// Loading key text that was cut short, altered or misnamed:
///
/// ```
/// use mtlog_audit::integrity::note::{
///     KeyError, KeyPart, NameDefect, Signer, Verifier, KEY_NAME_LEN_MAX,
/// };
///
/// let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let vkey = signer.verifier().to_vkey(); // example.com/audit+<key id>+<base64>
///
/// let cut = signer.key().to_string(); // name+id, without the key material
/// let err = Verifier::from_vkey(&cut).unwrap_err();
/// assert_eq!(err, KeyError::MissingPart { part: KeyPart::KeyMaterial });
/// assert_eq!(err.to_string(), "key text lacks its key material");
///
/// let err = Verifier::from_vkey(&vkey.replacen("example.com", "example com", 1)).unwrap_err();
/// assert_eq!(err, KeyError::InvalidName { defect: NameDefect::Space });
/// assert_eq!(err.to_string(), "invalid key name: it contains a space");
///
/// let long = "a".repeat(KEY_NAME_LEN_MAX + 1);
/// let err = Signer::from_seed(&long, [1; 32]).unwrap_err();
/// assert_eq!(err, KeyError::InvalidName { defect: NameDefect::TooLong { len: 257 } });
///
/// let private = signer.private_key_text(); // PRIVATE+KEY+example.com/audit+<id>+<base64>
/// let err = Signer::from_private_key_text(&private["PRIVATE+".len()..]).unwrap_err();
/// assert_eq!(err, KeyError::MissingPart { part: KeyPart::PrivatePrefix });
/// # Ok::<(), KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key text is longer than any valid key.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The longest accepted.
        max: usize,
    },
    /// A `+`-separated part of the key text is missing.
    MissingPart {
        /// The part missing.
        part: KeyPart,
    },
    /// The key name is not valid.
    InvalidName {
        /// What is wrong with it.
        defect: NameDefect,
    },
    /// The key ID is not exactly eight hexadecimal digits.
    InvalidKeyId,
    /// The key material is not standard padded base64.
    InvalidBase64,
    /// The key material names a signature algorithm other than Ed25519 (0x01).
    UnknownAlgorithm {
        /// The algorithm byte found.
        found: u8,
    },
    /// The key material has the wrong length for an Ed25519 key.
    WrongKeyLength {
        /// The length an Ed25519 key has.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// The key ID in the text is not the one the name and key give: the text was altered or
    /// pieced together from two keys.
    KeyIdMismatch {
        /// The key ID written in the text.
        stored: u32,
        /// The key ID of the name and key.
        computed: u32,
    },
    /// The public key is not a canonical encoding of a point outside the small-order subgroup.
    WeakKey,
}

/// A part of a key text. See [`KeyError`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPart {
    /// The `PRIVATE+KEY+` prefix of a signer key.
    PrivatePrefix,
    /// The key ID after the name.
    KeyId,
    /// The base64 key material after the key ID.
    KeyMaterial,
}

/// What is wrong with a key name. See [`KeyError`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameDefect {
    /// The name is empty.
    Empty,
    /// The name is longer than [`KEY_NAME_LEN_MAX`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The name contains a Unicode space.
    Space,
    /// The name contains `+`, which separates the parts of key text.
    Plus,
    /// The name contains an ASCII control character, which no note may hold.
    ControlCharacter,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::TooLong { len, max } => {
                write!(f, "key text is {len} bytes, longer than the maximum {max}")
            }
            KeyError::MissingPart { part } => write!(f, "key text lacks its {part}"),
            KeyError::InvalidName { defect } => write!(f, "invalid key name: {defect}"),
            KeyError::InvalidKeyId => write!(f, "key ID is not eight hexadecimal digits"),
            KeyError::InvalidBase64 => write!(f, "key material is not standard base64"),
            KeyError::UnknownAlgorithm { found } => {
                write!(f, "key algorithm {found:#04x} is not ed25519 (0x01)")
            }
            KeyError::WrongKeyLength { expected, found } => {
                write!(f, "ed25519 key is {found} bytes, expected {expected}")
            }
            KeyError::KeyIdMismatch { stored, computed } => write!(
                f,
                "key ID {stored:08x} does not match the key, whose ID is {computed:08x}: the key \
                 text was altered"
            ),
            KeyError::WeakKey => write!(f, "ed25519 public key is non-canonical or of small order"),
        }
    }
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyPart::PrivatePrefix => "PRIVATE+KEY+ prefix",
            KeyPart::KeyId => "key ID",
            KeyPart::KeyMaterial => "key material",
        })
    }
}

impl fmt::Display for NameDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameDefect::Empty => write!(f, "it is empty"),
            NameDefect::TooLong { len } => {
                write!(f, "it is {len} bytes, longer than the maximum {KEY_NAME_LEN_MAX}")
            }
            NameDefect::Space => write!(f, "it contains a space"),
            NameDefect::Plus => write!(f, "it contains '+'"),
            NameDefect::ControlCharacter => write!(f, "it contains a control character"),
        }
    }
}

impl std::error::Error for KeyError {}

// ---------------------------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------------------------

/// One signature line of a note, not yet verified. See [`Note`] for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The key the line names.
    pub key: NoteKey,
    /// The signature bytes after the key ID.
    pub bytes: Vec<u8>,
    /// The line number (1-based) in the note.
    pub line: usize,
}

/// A syntactically valid note whose signatures have not been checked.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::note::{self, Note, Signer};
///
/// let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let signed = note::sign("hello\nworld\n", &[&signer, &signer])?;
/// let parsed: Note = note::parse(signed.as_bytes())?;
/// assert_eq!(parsed.text, "hello\nworld\n");
/// let lines: Vec<usize> = parsed.signatures.iter().map(|s| s.line).collect();
/// assert_eq!(lines, [4, 5]); // after two text lines and the blank line
/// assert_eq!(&parsed.signatures[0].key, signer.key());
/// assert_eq!(parsed.signatures[0].bytes.len(), 64); // an Ed25519 signature
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, including its final newline. Untrusted until [`open`] verifies it.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<Signature>,
}

/// A note whose text a known key signed. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNote {
    /// The signed text, including its final newline.
    pub text: String,
    /// The known keys whose signatures verified, in the order of their first line.
    pub verified: Vec<NoteKey>,
    /// The keys of signatures that could not be checked because no verifier for them was given
    /// (for example a witness, or a key rotated out). Not evidence of tampering.
    pub unverifiable: Vec<NoteKey>,
}

/// Parses a note without checking signatures. The input is untrusted. See the
/// [module docs](self) for an example.
///
/// # Errors
/// A [`NoteError`] naming what is malformed and on which line: `TooLarge`, `InvalidUtf8`,
/// `ControlCharacter`, `MissingBlankLine`, `NoSignatures`, `UnterminatedLine`,
/// `TooManySignatures` or `MalformedSignature`.
///
/// # Panics
/// Never: assertions check that a parsed note has 1 to [`SIGNATURES_MAX`] signatures, which
/// the checks before them guarantee.
pub fn parse(msg: &[u8]) -> Result<Note, NoteError> {
    if msg.len() > NOTE_LEN_MAX {
        return Err(NoteError::TooLarge { len: msg.len(), max: NOTE_LEN_MAX });
    }
    let msg = std::str::from_utf8(msg).map_err(|e| NoteError::InvalidUtf8 {
        line: line_of(msg.get(..e.valid_up_to()).unwrap_or_default()) + 1,
    })?;
    if let Some((line, byte)) = first_control_character(msg) {
        return Err(NoteError::ControlCharacter { line, byte });
    }
    // The text ends at the last blank line: signature lines never contain one.
    let split = msg.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
    let text = msg.get(..split + 1).unwrap_or_default();
    let lines = msg.get(split + 2..).unwrap_or_default();
    // The text's lines, then the blank line: signatures start two lines after the text's last.
    let line_first = line_of(text) + 2;
    if lines.is_empty() {
        return Err(NoteError::NoSignatures { line: line_first });
    }
    if !lines.ends_with('\n') {
        return Err(NoteError::UnterminatedLine { line: line_first + line_of(lines) });
    }
    let mut signatures = Vec::new();
    for (i, line) in lines.split_terminator('\n').enumerate() {
        let line_no = line_first + i;
        if i >= SIGNATURES_MAX {
            return Err(NoteError::TooManySignatures { line: line_no, max: SIGNATURES_MAX });
        }
        let signature = parse_signature_line(line, line_no)
            .map_err(|defect| NoteError::MalformedSignature { line: line_no, defect })?;
        signatures.push(signature);
    }
    assert!(!signatures.is_empty());
    assert!(signatures.len() <= SIGNATURES_MAX);
    Ok(Note { text: text.to_owned(), signatures })
}

/// Parses a note and checks its signatures against the known `verifiers`. See the
/// [module docs](self) for an example.
///
/// Signatures from keys not among `verifiers` are listed as unverifiable and otherwise ignored,
/// as the spec requires. Every signature from a known key must verify.
///
/// # Errors
/// [`NoteError::Unverifiable`] if no signature is from a known key; [`NoteError::InvalidSignature`]
/// if one from a known key does not verify (the note was altered); [`NoteError::AmbiguousKey`] if
/// two verifiers share a name and key ID; otherwise the [`parse`] errors.
pub fn open(msg: &[u8], verifiers: &[Verifier]) -> Result<OpenedNote, NoteError> {
    let note = parse(msg)?;
    let mut verified: Vec<NoteKey> = Vec::new();
    let mut unverifiable: Vec<NoteKey> = Vec::new();
    for signature in &note.signatures {
        let mut known = verifiers.iter().filter(|v| v.key == signature.key);
        match (known.next(), known.next()) {
            (None, _) => push_unique(&mut unverifiable, &signature.key),
            (Some(_), Some(_)) => {
                return Err(NoteError::AmbiguousKey { key: signature.key.clone() });
            }
            (Some(verifier), None) => {
                if !verifier.verify(note.text.as_bytes(), &signature.bytes) {
                    return Err(NoteError::InvalidSignature {
                        key: signature.key.clone(),
                        line: signature.line,
                    });
                }
                push_unique(&mut verified, &signature.key);
            }
        }
    }
    if verified.is_empty() {
        return Err(NoteError::Unverifiable { unknown: unverifiable });
    }
    Ok(OpenedNote { text: note.text, verified, unverifiable })
}

/// Signs `text` with each signer, in order, and returns the note.
///
/// The text must end in a newline and hold no ASCII control character other than newline, so
/// that the note always parses back to the same text.
///
/// See the [module docs](self) for an example.
///
/// # Errors
/// [`SignError::Unterminated`] or [`SignError::ControlCharacter`] for text no note can
/// carry; [`SignError::NoSigners`] or [`SignError::TooManySigners`] for a signer list that is
/// empty or longer than [`SIGNATURES_MAX`]; [`SignError::TooLarge`] if the note would exceed
/// [`NOTE_LEN_MAX`].
pub fn sign(text: &str, signers: &[&Signer]) -> Result<String, SignError> {
    if !text.ends_with('\n') {
        return Err(SignError::Unterminated);
    }
    if let Some((line, byte)) = first_control_character(text) {
        return Err(SignError::ControlCharacter { line, byte });
    }
    if signers.is_empty() {
        return Err(SignError::NoSigners);
    }
    if signers.len() > SIGNATURES_MAX {
        return Err(SignError::TooManySigners { count: signers.len(), max: SIGNATURES_MAX });
    }
    let mut note = String::with_capacity(text.len() + 1 + signers.len() * 128);
    note.push_str(text);
    note.push('\n');
    for signer in signers {
        let mut blob = Vec::with_capacity(4 + SIGNATURE_LEN);
        blob.extend_from_slice(&signer.key.id.to_be_bytes());
        blob.extend_from_slice(&signer.sign(text.as_bytes()));
        note.push_str(SIGNATURE_PREFIX);
        note.push_str(&signer.key.name);
        note.push(' ');
        note.push_str(&BASE64.encode(&blob));
        note.push('\n');
    }
    if note.len() > NOTE_LEN_MAX {
        return Err(SignError::TooLarge { len: note.len(), max: NOTE_LEN_MAX });
    }
    debug_assert_eq!(parse(note.as_bytes()).map(|n| n.text), Ok(text.to_owned()));
    Ok(note)
}

/// Why a note was not accepted.
///
/// # Examples
///
/// Each error names the line at fault:
///
/// ```
/// use mtlog_audit::integrity::note::{self, NoteError, SignatureDefect, Signer, NOTE_LEN_MAX};
///
/// let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let signed = note::sign("hello\nworld\n", &[&signer])?;
///
/// let truncated = &signed[..signed.len() - 1]; // the final newline lost
/// let err = note::open(truncated.as_bytes(), &[signer.verifier()]).unwrap_err();
/// assert_eq!(err, NoteError::UnterminatedLine { line: 4 });
/// assert_eq!(err.to_string(), "signed note line 4: missing final newline (truncated note?)");
///
/// let undashed = signed.replacen('\u{2014}', "-", 1);
/// let err = note::parse(undashed.as_bytes()).unwrap_err();
/// let defect = SignatureDefect::MissingDash;
/// assert_eq!(err, NoteError::MalformedSignature { line: 4, defect });
///
/// let altered = signed.replacen("world", "w0rld", 1);
/// let err = note::open(altered.as_bytes(), &[signer.verifier()]).unwrap_err();
/// assert_eq!(err, NoteError::InvalidSignature { key: signer.key().clone(), line: 4 });
/// assert!(err.to_string().ends_with("does not verify: the note was altered"));
///
/// let err = note::parse(&vec![b'a'; NOTE_LEN_MAX + 1]).unwrap_err();
/// assert!(matches!(err, NoteError::TooLarge { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than [`NOTE_LEN_MAX`].
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The largest accepted.
        max: usize,
    },
    /// The note is not valid UTF-8.
    InvalidUtf8 {
        /// The line (1-based) holding the first invalid byte.
        line: usize,
    },
    /// The note holds an ASCII control character other than newline.
    ControlCharacter {
        /// The line (1-based) holding it.
        line: usize,
        /// The character.
        byte: u8,
    },
    /// No blank line separates the text from signatures.
    MissingBlankLine,
    /// The note ends at its blank line: there is no signature line.
    NoSignatures {
        /// The line where the first signature should be.
        line: usize,
    },
    /// The last line does not end in a newline (a truncated note).
    UnterminatedLine {
        /// The line.
        line: usize,
    },
    /// A signature line is malformed.
    MalformedSignature {
        /// The line (1-based).
        line: usize,
        /// What is wrong with it.
        defect: SignatureDefect,
    },
    /// More than [`SIGNATURES_MAX`] signature lines.
    TooManySignatures {
        /// The first line past the limit.
        line: usize,
        /// The limit.
        max: usize,
    },
    /// Two of the verifiers given have the same key name and ID, so it is unclear which applies.
    AmbiguousKey {
        /// The key.
        key: NoteKey,
    },
    /// A signature from a known key does not verify: the text or the signature was altered.
    InvalidSignature {
        /// The key.
        key: NoteKey,
        /// The signature's line (1-based).
        line: usize,
    },
    /// No signature is from a key among the verifiers given, so none could be checked. This is
    /// not evidence of tampering: the note may be signed by a key the verifier does not hold.
    Unverifiable {
        /// The keys the note's signatures name.
        unknown: Vec<NoteKey>,
    },
}

/// What is wrong with a signature line. See [`NoteError`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureDefect {
    /// The line does not start with an em dash (U+2014) and a space.
    MissingDash,
    /// The key name is invalid.
    InvalidKeyName(NameDefect),
    /// No space-separated signature follows the key name.
    MissingSignature,
    /// The signature is not standard padded base64.
    InvalidBase64,
    /// The signature is too short to hold a key ID and any signature bytes.
    TooShort {
        /// Its decoded length.
        len: usize,
    },
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteError::TooLarge { len, max } => {
                write!(f, "signed note is {len} bytes, larger than the maximum {max}")
            }
            NoteError::InvalidUtf8 { line } => write!(f, "signed note line {line}: invalid utf-8"),
            NoteError::ControlCharacter { line, byte } => {
                write!(f, "signed note line {line}: control character {byte:#04x}")
            }
            NoteError::MissingBlankLine => {
                write!(f, "signed note has no blank line before its signatures")
            }
            NoteError::NoSignatures { line } => {
                write!(f, "signed note line {line}: expected a signature line, found the end")
            }
            NoteError::UnterminatedLine { line } => {
                write!(f, "signed note line {line}: missing final newline (truncated note?)")
            }
            NoteError::MalformedSignature { line, defect } => {
                write!(f, "signed note line {line}: malformed signature: {defect}")
            }
            NoteError::TooManySignatures { line, max } => {
                write!(f, "signed note line {line}: more than {max} signatures")
            }
            NoteError::AmbiguousKey { key } => {
                write!(f, "two verifier keys are named {key}: keep one")
            }
            NoteError::InvalidSignature { key, line } => write!(
                f,
                "signed note line {line}: signature by known key {key} does not verify: the note \
                 was altered"
            ),
            NoteError::Unverifiable { unknown } => {
                write!(f, "signed note has no signature from a known key (signed by:")?;
                for key in unknown {
                    write!(f, " {key}")?;
                }
                write!(f, "); it cannot be checked, which is not evidence of tampering")
            }
        }
    }
}

impl fmt::Display for SignatureDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureDefect::MissingDash => write!(f, "expected \"\u{2014} \" at the start"),
            SignatureDefect::InvalidKeyName(defect) => write!(f, "invalid key name: {defect}"),
            SignatureDefect::MissingSignature => write!(f, "no signature after the key name"),
            SignatureDefect::InvalidBase64 => write!(f, "signature is not standard base64"),
            SignatureDefect::TooShort { len } => {
                write!(f, "signature is {len} bytes, too short for a key ID and a signature")
            }
        }
    }
}

impl std::error::Error for NoteError {}

/// Why a note could not be signed.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::note::{self, SignError, Signer, SIGNATURES_MAX};
///
/// let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// assert_eq!(note::sign("no newline", &[&signer]), Err(SignError::Unterminated));
/// let err = note::sign("one\ntw\to\n", &[&signer]).unwrap_err();
/// assert_eq!(err, SignError::ControlCharacter { line: 2, byte: b'\t' });
/// assert_eq!(err.to_string(), "note text line 2: control character 0x09");
/// assert_eq!(note::sign("text\n", &[]), Err(SignError::NoSigners));
/// let crowd = vec![&signer; SIGNATURES_MAX + 1];
/// let err = note::sign("text\n", &crowd).unwrap_err();
/// assert_eq!(err, SignError::TooManySigners { count: 101, max: 100 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The text does not end in a newline.
    Unterminated,
    /// The text holds an ASCII control character other than newline.
    ControlCharacter {
        /// The line (1-based) holding it.
        line: usize,
        /// The character.
        byte: u8,
    },
    /// No signer was given: a note needs at least one signature.
    NoSigners,
    /// More signers than a note may carry.
    TooManySigners {
        /// The number given.
        count: usize,
        /// The limit, [`SIGNATURES_MAX`].
        max: usize,
    },
    /// The note would exceed [`NOTE_LEN_MAX`].
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Unterminated => write!(f, "note text must end in a newline"),
            SignError::ControlCharacter { line, byte } => {
                write!(f, "note text line {line}: control character {byte:#04x}")
            }
            SignError::NoSigners => write!(f, "a note needs at least one signer"),
            SignError::TooManySigners { count, max } => {
                write!(f, "{count} signers, more than the {max} a note may carry")
            }
            SignError::TooLarge { len, max } => {
                write!(f, "signed note would be {len} bytes, larger than the maximum {max}")
            }
        }
    }
}

impl std::error::Error for SignError {}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn parse_signature_line(line: &str, line_no: usize) -> Result<Signature, SignatureDefect> {
    let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or(SignatureDefect::MissingDash)?;
    let (name, encoded) = rest.split_once(' ').ok_or(SignatureDefect::MissingSignature)?;
    // Parsing accepts names of any length (the note size bounds them); only our own keys are
    // held to KEY_NAME_LEN_MAX.
    check_name_characters(name).map_err(SignatureDefect::InvalidKeyName)?;
    if encoded.is_empty() {
        return Err(SignatureDefect::MissingSignature);
    }
    let blob = BASE64.decode(encoded).map_err(|_| SignatureDefect::InvalidBase64)?;
    let len = blob.len();
    let Some((id, bytes)) = blob.split_first_chunk::<4>() else {
        return Err(SignatureDefect::TooShort { len });
    };
    if bytes.is_empty() {
        return Err(SignatureDefect::TooShort { len });
    }
    let key = NoteKey { name: name.to_owned(), id: u32::from_be_bytes(*id) };
    Ok(Signature { key, bytes: bytes.to_vec(), line: line_no })
}

/// Splits `<name>+<hex id>+<base64>` (the base64 may itself hold `+`), checking name and ID.
fn split_key_text(text: &str) -> Result<(&str, u32, &str), KeyError> {
    let mut parts = text.splitn(3, '+');
    let name = parts.next().unwrap_or_default();
    let id = parts.next().ok_or(KeyError::MissingPart { part: KeyPart::KeyId })?;
    let key = parts.next().ok_or(KeyError::MissingPart { part: KeyPart::KeyMaterial })?;
    check_key_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::InvalidKeyId);
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| KeyError::InvalidKeyId)?;
    Ok((name, id, key))
}

/// Decodes `base64(0x01 | 32 bytes)`: an Ed25519 seed or public key.
fn ed25519_key_bytes(encoded: &str) -> Result<[u8; 32], KeyError> {
    let key = BASE64.decode(encoded).map_err(|_| KeyError::InvalidBase64)?;
    let (&alg, bytes) =
        key.split_first().ok_or(KeyError::WrongKeyLength { expected: 32, found: 0 })?;
    if alg != ALG_ED25519 {
        return Err(KeyError::UnknownAlgorithm { found: alg });
    }
    bytes.try_into().map_err(|_| KeyError::WrongKeyLength { expected: 32, found: bytes.len() })
}

/// Checks a name for one of our own keys: the spec's rules plus a length bound.
fn check_key_name(name: &str) -> Result<(), KeyError> {
    if name.len() > KEY_NAME_LEN_MAX {
        let defect = NameDefect::TooLong { len: name.len() };
        return Err(KeyError::InvalidName { defect });
    }
    check_name_characters(name).map_err(|defect| KeyError::InvalidName { defect })
}

/// The spec's key name rules: non-empty, no Unicode space, no `+`; and, because no note may
/// hold one, no control character.
fn check_name_characters(name: &str) -> Result<(), NameDefect> {
    if name.is_empty() {
        return Err(NameDefect::Empty);
    }
    if name.chars().any(char::is_whitespace) {
        return Err(NameDefect::Space);
    }
    if name.contains('+') {
        return Err(NameDefect::Plus);
    }
    if name.chars().any(|c| c.is_ascii_control()) {
        return Err(NameDefect::ControlCharacter);
    }
    Ok(())
}

/// The first ASCII control character other than newline (below U+0020, as the spec says), with
/// its 1-based line.
fn first_control_character(text: &str) -> Option<(usize, u8)> {
    let offset = text.bytes().position(|b| b < 0x20 && b != b'\n')?;
    let byte = text.as_bytes().get(offset).copied()?;
    Some((line_of(text.get(..offset).unwrap_or_default()) + 1, byte))
}

/// The number of newlines in `prefix`, so the byte after it is on line `line_of(prefix) + 1`.
fn line_of(prefix: impl AsRef<[u8]>) -> usize {
    prefix.as_ref().iter().filter(|&&b| b == b'\n').count()
}

fn push_unique(keys: &mut Vec<NoteKey>, key: &NoteKey) {
    if !keys.contains(key) {
        keys.push(key.clone());
    }
}

/// The signature type byte of Ed25519 in the signed-note spec.
const ALG_ED25519: u8 = 0x01;
/// Em dash (U+2014) and a space: how every signature line starts.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";
/// Length of an Ed25519 seed (RFC 8032 private key). See [`Signer`] for an example.
pub const SEED_LEN: usize = 32;
/// Length of an Ed25519 public key. See [`key_id`] for an example.
pub const PUBLIC_KEY_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
/// The longest key text: prefix, name, ID, base64 of 33 bytes and separators, with room.
const KEY_TEXT_LEN_MAX: usize = KEY_NAME_LEN_MAX + 128;

const _: () = assert!(SIGNATURE_PREFIX.len() == 4);
const _: () = assert!(SIGNATURES_MAX >= 16, "the spec requires accepting at least 16");

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    // Known-answer values from golang.org/x/mod/sumdb/note note_test.go (values only).
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZIn\
                             NIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2t\
                             iOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> NoteKey {
        NoteKey { name: "PeterNeumann".into(), id: 0xc74f20a3 }
    }

    fn enoch() -> NoteKey {
        NoteKey { name: "EnochRoot".into(), id: 0xaf0cfe78 }
    }

    fn counter_fill(start: u8) -> impl FnMut(&mut [u8]) {
        let mut next = start;
        move |buf: &mut [u8]| {
            for b in buf {
                *b = next;
                next = next.wrapping_add(1);
            }
        }
    }

    #[test]
    fn go_reference_keys_parse_and_print_back_identically() {
        let verifier = Verifier::from_vkey(PETER_VKEY).unwrap();
        assert_eq!(verifier.key(), &peter());
        assert_eq!(verifier.to_vkey(), PETER_VKEY);
        let signer = Signer::from_private_key_text(PETER_SKEY).unwrap();
        assert_eq!(signer.key(), &peter());
        assert_eq!(signer.private_key_text(), PETER_SKEY);
        assert_eq!(signer.verifier(), verifier);
        assert_eq!(Verifier::from_vkey(ENOCH_VKEY).unwrap().key(), &enoch());
        // The spec's key ID formula, spelled out.
        let public: [u8; 32] = BASE64.decode(&PETER_VKEY[22..]).unwrap()[1..].try_into().unwrap();
        let mut h = Sha256::new();
        h.update(b"PeterNeumann\n\x01");
        h.update(public);
        assert_eq!(h.finalize()[..4], 0xc74f20a3u32.to_be_bytes());
        assert_eq!(key_id("PeterNeumann", &public), 0xc74f20a3);
    }

    #[test]
    fn signing_reproduces_the_go_note_byte_for_byte() {
        // Ed25519 is deterministic, so the same key and text must give Go's exact note.
        let signer = Signer::from_private_key_text(PETER_SKEY).unwrap();
        let note = sign(TEXT, &[&signer]).unwrap();
        assert_eq!(note, format!("{TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn the_go_note_opens_with_its_verifier() {
        let verifier = Verifier::from_vkey(PETER_VKEY).unwrap();
        let opened = open(format!("{TEXT}\n{PETER_SIG}").as_bytes(), &[verifier]).unwrap();
        assert_eq!(opened.text, TEXT);
        assert_eq!(opened.verified, vec![peter()]);
        assert!(opened.unverifiable.is_empty());
    }

    #[test]
    fn a_signature_from_an_unknown_key_is_unverifiable_never_invalid() {
        let peter_v = Verifier::from_vkey(PETER_VKEY).unwrap();
        let enoch_v = Verifier::from_vkey(ENOCH_VKEY).unwrap();
        let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let opened = open(msg.as_bytes(), std::slice::from_ref(&peter_v)).unwrap();
        assert_eq!(opened.verified, vec![peter()]);
        assert_eq!(opened.unverifiable, vec![enoch()]);

        let opened = open(msg.as_bytes(), &[peter_v.clone(), enoch_v.clone()]).unwrap();
        assert_eq!(opened.verified, vec![peter(), enoch()]);
        assert!(opened.unverifiable.is_empty());

        let err = open(msg.as_bytes(), &[]).unwrap_err();
        assert_eq!(err, NoteError::Unverifiable { unknown: vec![peter(), enoch()] });
        // A key sharing the name but not the ID (or the reverse) is another key: unknown.
        let renamed = msg.replace("PeterNeumann", "PeterNeuman");
        let err = open(renamed.replace(ENOCH_SIG, "").as_bytes(), &[peter_v]).unwrap_err();
        let unknown = vec![NoteKey { name: "PeterNeuman".into(), id: 0xc74f20a3 }];
        assert_eq!(err, NoteError::Unverifiable { unknown });
    }

    #[test]
    fn an_altered_signature_from_a_known_key_is_invalid() {
        let peter_v = Verifier::from_vkey(PETER_VKEY).unwrap();
        let bad_sig = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let err = open(format!("{TEXT}\n{bad_sig}").as_bytes(), std::slice::from_ref(&peter_v));
        let err = err.unwrap_err();
        assert_eq!(err, NoteError::InvalidSignature { key: peter(), line: 4 });
        // Stricter than Go: a bad repeat of a key already verified still rejects the note.
        let msg = format!("{TEXT}\n{PETER_SIG}{bad_sig}");
        let err = open(msg.as_bytes(), std::slice::from_ref(&peter_v)).unwrap_err();
        assert_eq!(err, NoteError::InvalidSignature { key: peter(), line: 5 });
        let altered = format!("{TEXT}\n{PETER_SIG}").replace("cryptography", "cryptographY");
        let err = open(altered.as_bytes(), &[peter_v]).unwrap_err();
        assert_eq!(err, NoteError::InvalidSignature { key: peter(), line: 4 });
    }

    #[test]
    fn repeated_signatures_are_listed_once() {
        let peter_v = Verifier::from_vkey(PETER_VKEY).unwrap();
        let msg = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}");
        let opened = open(msg.as_bytes(), &[peter_v]).unwrap();
        assert_eq!(opened.verified, vec![peter()]);
        assert_eq!(opened.unverifiable, vec![enoch()]);
    }

    #[test]
    fn two_verifiers_with_the_same_key_name_and_id_are_ambiguous() {
        let peter_v = Verifier::from_vkey(PETER_VKEY).unwrap();
        let enoch_v = Verifier::from_vkey(ENOCH_VKEY).unwrap();
        let verifiers = [enoch_v.clone(), peter_v, enoch_v];
        let err = open(format!("{TEXT}\n{ENOCH_SIG}").as_bytes(), &verifiers).unwrap_err();
        assert_eq!(err, NoteError::AmbiguousKey { key: enoch() });
        // Unused duplicates do not matter.
        open(format!("{TEXT}\n{PETER_SIG}").as_bytes(), &verifiers).unwrap();
    }

    #[test]
    fn more_than_a_hundred_signatures_are_refused() {
        let peter_v = Verifier::from_vkey(PETER_VKEY).unwrap();
        let msg = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
        let err = open(msg.as_bytes(), &[peter_v]).unwrap_err();
        assert_eq!(err, NoteError::TooManySignatures { line: 104, max: 100 });
        let msg = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
        assert_eq!(parse(msg.as_bytes()).unwrap().signatures.len(), 100);
    }

    #[test]
    fn malformed_notes_name_the_defect_and_line() {
        let sig_line = PETER_SIG.trim_end();
        let cases: Vec<(String, NoteError)> = vec![
            (TEXT.into(), NoteError::MissingBlankLine),
            (format!("{TEXT}\n"), NoteError::NoSignatures { line: 4 }),
            (format!("{TEXT}\n{sig_line}"), NoteError::UnterminatedLine { line: 4 }),
            (format!("\x01{TEXT}\n{PETER_SIG}"), NoteError::ControlCharacter { line: 1, byte: 1 }),
            (format!("{TEXT}\n{PETER_SIG}\r"), NoteError::ControlCharacter { line: 5, byte: 13 }),
            (
                format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
                NoteError::MalformedSignature { line: 5, defect: SignatureDefect::MissingDash },
            ),
            (
                format!("{TEXT}\n- PeterNeumann AAAAAAAA\n"),
                NoteError::MalformedSignature { line: 4, defect: SignatureDefect::MissingDash },
            ),
            (
                format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAc=\n"),
                NoteError::MalformedSignature { line: 4, defect: SignatureDefect::InvalidBase64 },
            ),
            (
                format!("{TEXT}\n\u{2014} PeterNeumann\n"),
                NoteError::MalformedSignature {
                    line: 4,
                    defect: SignatureDefect::MissingSignature,
                },
            ),
            (
                format!("{TEXT}\n\u{2014} a+b AAAAAAA=\n"),
                NoteError::MalformedSignature {
                    line: 4,
                    defect: SignatureDefect::InvalidKeyName(NameDefect::Plus),
                },
            ),
            (
                format!("{TEXT}\n\u{2014} PeterNeumann AAAAAA==\n"),
                NoteError::MalformedSignature {
                    line: 4,
                    defect: SignatureDefect::TooShort { len: 4 },
                },
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(parse(msg.as_bytes()).unwrap_err(), want, "{msg:?}");
        }
        let mut bytes = format!("{TEXT}\n{PETER_SIG}").into_bytes();
        bytes.insert(0, 0xff);
        assert_eq!(parse(&bytes).unwrap_err(), NoteError::InvalidUtf8 { line: 1 });
        let big = vec![b'a'; NOTE_LEN_MAX + 1];
        let err = parse(&big).unwrap_err();
        assert_eq!(err, NoteError::TooLarge { len: NOTE_LEN_MAX + 1, max: NOTE_LEN_MAX });
    }

    #[test]
    fn text_with_blank_lines_round_trips() {
        // The text ends at the last blank line, so blank lines inside it are fine.
        let signer = Signer::from_private_key_text(PETER_SKEY).unwrap();
        for text in ["a\n\nb\n", "\n", "a\n\n", "\u{2014} looks like a signature\n"] {
            let note = sign(text, &[&signer]).unwrap();
            let opened = open(note.as_bytes(), &[signer.verifier()]).unwrap();
            assert_eq!(opened.text, text);
        }
    }

    #[test]
    fn sign_refuses_text_no_note_can_carry() {
        let signer = Signer::from_private_key_text(PETER_SKEY).unwrap();
        assert_eq!(sign("no newline", &[&signer]), Err(SignError::Unterminated));
        assert_eq!(sign("", &[&signer]), Err(SignError::Unterminated));
        assert_eq!(
            sign("a\nb\tc\n", &[&signer]),
            Err(SignError::ControlCharacter { line: 2, byte: b'\t' })
        );
        assert_eq!(sign("a\n", &[]), Err(SignError::NoSigners));
        let many = vec![&signer; 101];
        assert_eq!(sign("a\n", &many), Err(SignError::TooManySigners { count: 101, max: 100 }));
    }

    #[test]
    fn every_mangling_of_the_reference_keys_is_refused() {
        // Same sweep as Go's own tests: every proper substring, and every byte incremented.
        for (text, parse) in [
            (PETER_VKEY, (|t: &str| Verifier::from_vkey(t).is_ok()) as fn(&str) -> bool),
            (PETER_SKEY, |t: &str| Signer::from_private_key_text(t).is_ok()),
        ] {
            let b = text.as_bytes();
            for i in 0..=b.len() {
                for j in i + 1..=b.len() {
                    if (i, j) != (0, b.len()) {
                        let sub = String::from_utf8_lossy(&b[i..j]);
                        assert!(!parse(&sub), "{sub:?} accepted");
                    }
                }
            }
            for i in 0..b.len() {
                let mut m = b.to_vec();
                m[i] += 1;
                let mangled = String::from_utf8_lossy(&m);
                assert!(!parse(&mangled), "{mangled:?} accepted");
            }
        }
    }

    #[test]
    fn key_defects_are_named() {
        // Values from Go's tests: an unknown algorithm (with its key ID adjusted to match).
        let err = Verifier::from_vkey(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        );
        assert_eq!(err.unwrap_err(), KeyError::UnknownAlgorithm { found: 0x65 });
        let cases = [
            ("PeterNeumann", KeyError::MissingPart { part: KeyPart::KeyId }),
            ("PeterNeumann+c74f20a3", KeyError::MissingPart { part: KeyPart::KeyMaterial }),
            ("+c74f20a3+AA==", KeyError::InvalidName { defect: NameDefect::Empty }),
            ("a b+c74f20a3+AA==", KeyError::InvalidName { defect: NameDefect::Space }),
            ("a\u{3000}b+c74f20a3+AA==", KeyError::InvalidName { defect: NameDefect::Space }),
            (
                "a\x7fb+c74f20a3+AA==",
                KeyError::InvalidName { defect: NameDefect::ControlCharacter },
            ),
            ("PeterNeumann+c74f20a+AA==", KeyError::InvalidKeyId),
            ("PeterNeumann+c74f20ax+AA==", KeyError::InvalidKeyId),
            ("PeterNeumann+c74f20a3+AA=", KeyError::InvalidBase64),
            ("PeterNeumann+c74f20a3+AQ==", KeyError::WrongKeyLength { expected: 32, found: 0 }),
            (
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                KeyError::KeyIdMismatch { stored: 0xc74f20a4, computed: 0xc74f20a3 },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Verifier::from_vkey(text).unwrap_err(), want, "{text}");
        }
        let long = "a".repeat(KEY_NAME_LEN_MAX + 1);
        let err = Signer::generate(&long, &mut counter_fill(0)).unwrap_err();
        let defect = NameDefect::TooLong { len: KEY_NAME_LEN_MAX + 1 };
        assert_eq!(err, KeyError::InvalidName { defect });
        let err = Signer::from_private_key_text(PETER_VKEY).unwrap_err();
        assert_eq!(err, KeyError::MissingPart { part: KeyPart::PrivatePrefix });
        // The identity point has small order: it would accept forged signatures.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(Verifier::from_public_key("x", &identity), Err(KeyError::WeakKey));
    }

    #[test]
    fn generated_keys_round_trip_through_their_text_forms_and_sign() {
        let signer = Signer::generate("example.com/audit", &mut counter_fill(7)).unwrap();
        let again = Signer::generate("example.com/audit", &mut counter_fill(7)).unwrap();
        assert_eq!(signer.private_key_text(), again.private_key_text(), "fill is the only input");
        let vkey = signer.verifier().to_vkey();
        assert!(vkey.starts_with(&format!("example.com/audit+{:08x}+", signer.key().id)));
        let verifier = Verifier::from_vkey(&vkey).unwrap();
        assert_eq!(verifier, signer.verifier());
        let reread = Signer::from_private_key_text(&signer.private_key_text()).unwrap();
        assert_eq!(reread.verifier(), verifier);
        let note = sign("hello\n", &[&reread]).unwrap();
        assert_eq!(
            open(note.as_bytes(), &[verifier]).unwrap().verified,
            vec![signer.key().clone()]
        );
        assert!(!format!("{signer:?}").contains(&signer.private_key_text()[30..]));
    }

    #[test]
    fn every_bit_flip_of_the_go_note_is_rejected_or_unverifiable() {
        let verifier = Verifier::from_vkey(PETER_VKEY).unwrap();
        let note = format!("{TEXT}\n{PETER_SIG}").into_bytes();
        for i in 0..note.len() {
            for bit in 0..8 {
                let mut m = note.clone();
                m[i] ^= 1 << bit;
                let result = open(&m, std::slice::from_ref(&verifier));
                assert!(result.is_err(), "byte {i} bit {bit} accepted");
            }
        }
    }

    #[test]
    fn error_messages_are_lowercase_without_a_trailing_period() {
        let errors: Vec<String> = vec![
            NoteError::MissingBlankLine.to_string(),
            NoteError::Unverifiable { unknown: vec![peter()] }.to_string(),
            NoteError::InvalidSignature { key: peter(), line: 4 }.to_string(),
            KeyError::KeyIdMismatch { stored: 1, computed: 2 }.to_string(),
            SignError::NoSigners.to_string(),
        ];
        for e in errors {
            assert!(!e.ends_with('.'), "{e}");
            assert!(e.chars().next().unwrap().is_lowercase(), "{e}");
        }
        let shown = NoteError::Unverifiable { unknown: vec![peter()] }.to_string();
        assert!(shown.contains("PeterNeumann+c74f20a3"), "{shown}");
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let _ = parse(&bytes);
            let _ = open(&bytes, &[]);
        }

        #[test]
        fn parsing_note_shaped_text_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("\n".to_string()), Just("\u{2014} ".to_string()), Just(" ".to_string()),
                    Just("+".to_string()), Just("=".to_string()), Just("AAAA".to_string()),
                    Just("PeterNeumann".to_string()), "[a-zA-Z0-9/+=]{0,12}",
                ],
                0..40,
            )
        ) {
            let text: String = parts.concat();
            let verifier = Verifier::from_vkey(PETER_VKEY).unwrap();
            let _ = open(text.as_bytes(), &[verifier]);
            let _ = Verifier::from_vkey(&text);
            let _ = Signer::from_private_key_text(&text);
        }

        #[test]
        fn signed_notes_round_trip(
            lines in proptest::collection::vec("[^\\x00-\\x1f]{0,30}", 1..5),
        ) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let signer = Signer::from_private_key_text(PETER_SKEY).unwrap();
            let note = sign(&text, &[&signer]).unwrap();
            let opened = open(note.as_bytes(), &[signer.verifier()]).unwrap();
            prop_assert_eq!(opened.text, text);
        }
    }
}
