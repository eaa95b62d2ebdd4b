//! Keys for signed checkpoints: loading a signer from a file or the environment, reading
//! verifier keys, and key rotation records.
//!
//! Key text is Go's `golang.org/x/mod/sumdb/note` format (see [`note`](super::note)): the
//! private key file holds `PRIVATE+KEY+<name>+<id>+<base64>`, the verifier key file
//! `<name>+<id>+<base64>`. `mtlog-audit keygen` writes both.
//!
//! **Rotation** is itself a log record: an event with the template [`ROTATION_TEMPLATE`] and
//! the properties [`ROTATION_OLD_KEY`] and [`ROTATION_NEW_KEY`] holding the two verifier keys.
//! The first checkpoint after it is signed by both keys. An auditor who trusts the old key
//! therefore learns the new one from the log itself: the rotation record is covered by a
//! checkpoint the old key signed (see [`audit`](super::audit)).
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::integrity::keys;
//! use mtlog_audit::integrity::note::{Signer, Verifier};
//! use mtlog_audit::io::RealDisk;
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! // The two files `mtlog-audit keygen` writes:
//! let generated = Signer::from_seed("example.com/audit", [4; 32])?; // use io::Entropy
//! std::fs::write(dir.join("audit.key"), generated.private_key_text() + "\n")?;
//! # use std::os::unix::fs::PermissionsExt;
//! std::fs::set_permissions(dir.join("audit.key"), std::fs::Permissions::from_mode(0o600))?;
//! std::fs::write(dir.join("audit.vkey"), generated.verifier().to_vkey() + "\n")?;
//!
//! // The service loads the signer; an auditor reads the verifier key.
//! let signer = keys::signer_from_file(&RealDisk, &dir.join("audit.key"))?;
//! let verifier = Verifier::from_vkey(&std::fs::read_to_string(dir.join("audit.vkey"))?)?;
//! assert_eq!(signer.verifier(), verifier);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::event::{Event, Value};
use crate::io::Disk;

use super::note::{KeyError, Signer, Verifier};
use super::store;

/// The message template of a key rotation record. See [`parse_rotation`] for an example.
pub const ROTATION_TEMPLATE: &str = "Checkpoint signing key rotated from {OldKey} to {NewKey}";
/// The property holding the old verifier key text. See [`parse_rotation`] for an example.
pub const ROTATION_OLD_KEY: &str = "OldKey";
/// The property holding the new verifier key text. See [`parse_rotation`] for an example.
pub const ROTATION_NEW_KEY: &str = "NewKey";
/// The environment variable [`signer_from_env`] reads by default. See [`signer_from_env`] for
/// an example.
pub const SIGNER_ENV: &str = "MTLOG_AUDIT_SIGNER_KEY";

/// Why a key could not be loaded. Never shows the secret.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::keys::{self, KeyLoadError};
/// use mtlog_audit::integrity::note::{KeyError, KeyPart, Signer};
/// use mtlog_audit::io::RealDisk;
///
/// # let tmp = tempfile::tempdir()?;
/// let path = tmp.path().join("audit.key");
/// let signer = Signer::from_seed("example.com/audit", [4; 32])?; // use io::Entropy
///
/// // The verifier key where the private key belongs:
/// std::fs::write(&path, signer.verifier().to_vkey())?;
/// # use std::os::unix::fs::PermissionsExt;
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
/// let err = keys::signer_from_file(&RealDisk, &path).unwrap_err();
/// let error = KeyError::MissingPart { part: KeyPart::PrivatePrefix };
/// assert_eq!(err, KeyLoadError::Key { source: path.display().to_string(), error });
/// let expected = format!("{}: key text lacks its PRIVATE+KEY+ prefix", path.display());
/// assert_eq!(err.to_string(), expected);
///
/// // A private key cut short: the error names the file, never the secret.
/// let secret = signer.private_key_text();
/// std::fs::write(&path, &secret[..secret.len() - 4])?;
/// let err = keys::signer_from_file(&RealDisk, &path).unwrap_err();
/// assert!(matches!(err, KeyLoadError::Key { error: KeyError::WrongKeyLength { .. }, .. }));
/// assert!(!err.to_string().contains(&secret[secret.len() - 24..secret.len() - 4]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyLoadError {
    /// The key file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The error kind.
        kind: std::io::ErrorKind,
    },
    /// The key file does not exist.
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The private key file can be read or written by others than its owner (Unix mode
    /// `mode & 0o077 != 0`): refused, as ssh refuses one, since anyone who read it can sign
    /// any history. Fix it with `chmod 600`, and rotate the key if others may have read it.
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The environment variable is not set (or not UTF-8).
    Unset {
        /// The variable.
        var: String,
    },
    /// The text is not a valid key.
    Key {
        /// Where it came from (file or variable).
        source: String,
        /// What is wrong.
        error: KeyError,
    },
}

impl fmt::Display for KeyLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLoadError::Io { path, kind } => write!(f, "reading {}: {kind}", path.display()),
            KeyLoadError::Missing { path } => write!(f, "key file {} not found", path.display()),
            KeyLoadError::Exposed { path, mode } => write!(
                f,
                "private key file {} has mode {mode:04o}: others can read or change it; run \
                 `chmod 600` on it (and rotate the key if someone else may have read it)",
                path.display()
            ),
            KeyLoadError::Unset { var } => write!(f, "environment variable {var} is not set"),
            KeyLoadError::Key { source, error } => write!(f, "{source}: {error}"),
        }
    }
}

impl std::error::Error for KeyLoadError {}

/// Loads a signer from a private key file (Go's text format, as `mtlog-audit keygen` writes).
/// Surrounding whitespace (a trailing newline) is ignored.
///
/// # Errors
/// [`KeyLoadError::Missing`] if the file does not exist; [`KeyLoadError::Io`] if it cannot be
/// read (or is larger than [`store::FILE_LEN_MAX`]); [`KeyLoadError::Exposed`] if its Unix mode
/// lets others than its owner read or write it; [`KeyLoadError::Key`] if its text is not a
/// valid signer key. No error shows the secret.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::keys::{self, KeyLoadError};
/// use mtlog_audit::integrity::note::Signer;
/// use mtlog_audit::io::RealDisk;
///
/// # let tmp = tempfile::tempdir()?;
/// let path = tmp.path().join("audit.key"); // written by `mtlog-audit keygen`, mode 0600
/// let signer = Signer::from_seed("example.com/audit", [4; 32])?; // use io::Entropy
/// std::fs::write(&path, format!("{}\n", signer.private_key_text()))?;
/// use std::fs::Permissions;
/// use std::os::unix::fs::PermissionsExt;
///
/// // Readable by others: refused, as ssh refuses such a key.
/// std::fs::set_permissions(&path, Permissions::from_mode(0o644))?;
/// let exposed = keys::signer_from_file(&RealDisk, &path);
/// assert!(matches!(exposed, Err(KeyLoadError::Exposed { mode: 0o644, .. })));
///
/// std::fs::set_permissions(&path, Permissions::from_mode(0o600))?;
/// let loaded = keys::signer_from_file(&RealDisk, &path)?;
/// assert_eq!(loaded.verifier(), signer.verifier());
/// let missing = keys::signer_from_file(&RealDisk, &tmp.path().join("none.key"));
/// assert!(matches!(missing, Err(KeyLoadError::Missing { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn signer_from_file<D: Disk>(disk: &D, path: &Path) -> Result<Signer, KeyLoadError> {
    let io = |e: std::io::Error| KeyLoadError::Io { path: path.to_path_buf(), kind: e.kind() };
    let bytes = store::read_file(disk, path)
        .map_err(io)?
        .ok_or_else(|| KeyLoadError::Missing { path: path.to_path_buf() })?;
    if let Some(mode) = disk.permissions(path).map_err(io)? {
        if mode & PRIVATE_KEY_MODE_FORBIDDEN != 0 {
            return Err(KeyLoadError::Exposed { path: path.to_path_buf(), mode });
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    Signer::from_private_key_text(text.trim())
        .map_err(|error| KeyLoadError::Key { source: path.display().to_string(), error })
}

/// Loads a signer from the environment variable `var` holding the private key text (by
/// default [`SIGNER_ENV`]).
///
/// # Errors
/// [`KeyLoadError::Unset`] if `var` is not set or not UTF-8; [`KeyLoadError::Key`] if its text
/// is not a valid signer key. No error shows the secret.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::keys::{self, KeyLoadError};
///
/// // With MTLOG_AUDIT_SIGNER_KEY=PRIVATE+KEY+... in the service's environment:
/// match keys::signer_from_env(keys::SIGNER_ENV) {
///     Ok(signer) => println!("signing checkpoints as {}", signer.key()),
///     Err(KeyLoadError::Unset { var }) => println!("{var} not set: checkpoints off"),
///     Err(e) => panic!("bad key: {e}"),
/// }
/// let unset = keys::signer_from_env("MTLOG_AUDIT_EXAMPLE_SURELY_UNSET");
/// assert!(matches!(unset, Err(KeyLoadError::Unset { .. })));
/// ```
pub fn signer_from_env(var: &str) -> Result<Signer, KeyLoadError> {
    let text = std::env::var(var).map_err(|_| KeyLoadError::Unset { var: var.to_owned() })?;
    Signer::from_private_key_text(text.trim())
        .map_err(|error| KeyLoadError::Key { source: format!("${var}"), error })
}

/// Permission bits a private key file must not have: any access by group or others.
const PRIVATE_KEY_MODE_FORBIDDEN: u32 = 0o077;

/// A key rotation found in the log. See [`parse_rotation`] for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRotation {
    /// The seq of the rotation record.
    pub seq: u64,
    /// The key that signed checkpoints before it.
    pub old: Verifier,
    /// The key that signs checkpoints after it.
    pub new: Verifier,
}

/// The event that records a rotation from `old` to `new` (emit it, then sign the next
/// checkpoint with both keys; `Sink::rotate_signer` does all of it). See [`parse_rotation`]
/// for an example.
pub fn rotation_event(event: Event, old: &Verifier, new: &Verifier) -> Event {
    event
        .with_property(ROTATION_OLD_KEY, old.to_vkey())
        .with_property(ROTATION_NEW_KEY, new.to_vkey())
}

/// The rotation an event records, if it is a well-formed rotation record.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::{Event, EventId, Level};
/// use mtlog_audit::integrity::keys::{self, KeyRotation};
/// use mtlog_audit::integrity::note::Signer;
///
/// let old = Signer::from_seed("example.com/audit", [1; 32])?.verifier();
/// let new = Signer::from_seed("example.com/audit", [2; 32])?.verifier();
/// let event = Event::new(EventId::ZERO, 0, Level::Information, keys::ROTATION_TEMPLATE);
/// let record = keys::rotation_event(event, &old, &new).render();
/// let found = keys::parse_rotation(9, &record);
/// assert_eq!(found, Some(KeyRotation { seq: 9, old, new }));
///
/// let other = Event::new(EventId::ZERO, 0, Level::Information, "User signed in");
/// assert_eq!(keys::parse_rotation(10, &other), None);
/// # Ok::<(), mtlog_audit::integrity::note::KeyError>(())
/// ```
pub fn parse_rotation(seq: u64, event: &Event) -> Option<KeyRotation> {
    if event.template != ROTATION_TEMPLATE {
        return None;
    }
    let key = |name| match event.property(name) {
        Some(Value::Str(text)) => Verifier::from_vkey(text).ok(),
        _ => None,
    };
    Some(KeyRotation { seq, old: key(ROTATION_OLD_KEY)?, new: key(ROTATION_NEW_KEY)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventId, Level};

    #[test]
    fn rotation_records_round_trip_and_others_are_ignored() {
        let old = Signer::from_seed("k", [1; 32]).unwrap().verifier();
        let new = Signer::from_seed("k", [2; 32]).unwrap().verifier();
        let base = Event::new(EventId([0; 16]), 0, Level::Information, ROTATION_TEMPLATE);
        let event = rotation_event(base.clone(), &old, &new).render();
        let body = {
            let mut b = Vec::new();
            event.encode_body(&mut b).unwrap();
            Event::decode_body(&b).unwrap()
        };
        let found = parse_rotation(7, &body).unwrap();
        assert_eq!(found, KeyRotation { seq: 7, old: old.clone(), new });
        assert_eq!(parse_rotation(7, &base), None);
        let other = Event::new(EventId([0; 16]), 0, Level::Information, "hello");
        assert_eq!(parse_rotation(7, &rotation_event(other, &old, &old)), None);
    }

    #[test]
    fn env_and_file_errors_never_show_the_secret() {
        let err = signer_from_env("MTLOG_AUDIT_TEST_SURELY_UNSET").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable MTLOG_AUDIT_TEST_SURELY_UNSET is not set"
        );
        let err = KeyLoadError::Key {
            source: "x".into(),
            error: Signer::from_private_key_text("PRIVATE+KEY+a+00000000+AAAA").unwrap_err(),
        };
        assert!(!err.to_string().contains("AAAA"));
    }
}
