//! API keys and the tenants they stand for: each tenant its own log, `DATA/TENANT`, readable by
//! every other command.
//!
//! Keys are compared by their SHA-256 (a map of digests), so the time a lookup takes says
//! nothing about how much of a guessed key was right; a key is never printed, only its
//! tenant's name.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mtlog_audit::{Error, Options, Sink};
use sha2::{Digest, Sha256};

/// Why the `--api-key` list was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not `KEY:TENANT`.
    Shape {
        /// Which `--api-key`, from 1.
        position: usize,
    },
    /// A tenant name that is not a plain directory name.
    TenantName {
        /// The name.
        tenant: String,
    },
    /// A key given twice (for one tenant or two).
    Duplicate {
        /// Which `--api-key`, from 1.
        position: usize,
    },
    /// A key shorter than 16 characters: guessable.
    Short {
        /// Which `--api-key`, from 1.
        position: usize,
    },
    /// No `--api-key` at all.
    None,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape { position } => write!(f, "--api-key #{position}: expected KEY:TENANT"),
            Self::TenantName { tenant } => write!(
                f,
                "tenant {tenant:?}: a tenant is a directory name of letters, digits, '-', '_' and \
                 '.', at most 64 characters, not starting with '.'"
            ),
            Self::Duplicate { position } => {
                write!(f, "--api-key #{position}: this key was already given")
            }
            Self::Short { position } => {
                write!(f, "--api-key #{position}: a key needs at least 16 characters")
            }
            Self::None => write!(f, "give at least one --api-key KEY:TENANT"),
        }
    }
}

/// Parses `KEY:TENANT` arguments into a digest → tenant map. The key is everything before the
/// last `:`, so a key may itself hold colons.
///
/// # Errors
/// [`KeyError`], naming the argument by position, never by its key.
pub fn parse_keys(args: &[String]) -> Result<HashMap<[u8; 32], String>, KeyError> {
    if args.is_empty() {
        return Err(KeyError::None);
    }
    let mut keys = HashMap::new();
    for (i, arg) in args.iter().enumerate() {
        let position = i + 1;
        let (key, tenant) = arg.rsplit_once(':').ok_or(KeyError::Shape { position })?;
        if key.chars().count() < 16 {
            return Err(KeyError::Short { position });
        }
        if !tenant_name_ok(tenant) {
            return Err(KeyError::TenantName { tenant: tenant.to_owned() });
        }
        if keys.insert(digest(key), tenant.to_owned()).is_some() {
            return Err(KeyError::Duplicate { position });
        }
    }
    Ok(keys)
}

/// The digest a key is looked up by.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn tenant_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A tenant's log: its sink, reopened after it was poisoned (a failed write or fsync leaves a
/// sink that can no longer prove what is on disk; recovery on reopen keeps only durable data).
pub struct Tenant {
    /// The tenant's name.
    pub name: String,
    dir: PathBuf,
    sink: Mutex<Option<Arc<Sink>>>,
}

impl Tenant {
    /// Opens (creating if needed) the tenant's log under `data`.
    ///
    /// # Errors
    /// As [`Sink::open`].
    pub fn open(data: &Path, name: &str) -> Result<Tenant, Error> {
        let dir = data.join(name);
        let sink = Sink::open(Options::new(&dir))?;
        Ok(Tenant { name: name.to_owned(), dir, sink: Mutex::new(Some(Arc::new(sink))) })
    }

    /// The sink, reopened first if an earlier call found it poisoned.
    ///
    /// # Errors
    /// As [`Sink::open`], when the reopen fails.
    pub fn sink(&self) -> Result<Arc<Sink>, Error> {
        let mut slot = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sink) = slot.as_ref() {
            return Ok(Arc::clone(sink));
        }
        let sink = Arc::new(Sink::open(Options::new(&self.dir))?);
        *slot = Some(Arc::clone(&sink));
        Ok(sink)
    }

    /// Forgets a poisoned sink so the next request reopens the log. The old sink is closed
    /// (releasing the directory lock) once its last user drops it.
    pub fn poisoned(&self, sink: &Arc<Sink>) {
        let mut slot = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, sink)) {
            let old = slot.take();
            drop(slot);
            if let Some(old) = old {
                let _ = old.close();
            }
        }
    }

    /// Seals the log (graceful shutdown).
    ///
    /// # Errors
    /// As [`Sink::close`].
    pub fn close(&self) -> Result<(), Error> {
        let slot = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(sink) => sink.close(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_tenants_and_bad_lists_are_refused_without_echoing_keys() {
        let keys = parse_keys(&["k:with:colons-0123456789:payments".into()]).unwrap();
        assert_eq!(
            keys.get(&digest("k:with:colons-0123456789")).map(String::as_str),
            Some("payments")
        );
        assert_eq!(parse_keys(&[]), Err(KeyError::None));
        assert_eq!(parse_keys(&["nocolon".into()]), Err(KeyError::Shape { position: 1 }));
        assert_eq!(parse_keys(&["short:t".into()]), Err(KeyError::Short { position: 1 }));
        for bad in ["..", ".hidden", "a/b", "", "x y"] {
            let arg = format!("0123456789abcdef:{bad}");
            assert!(matches!(parse_keys(&[arg]), Err(KeyError::TenantName { .. })), "{bad:?}");
        }
        let twice = vec!["0123456789abcdef:a".to_owned(), "0123456789abcdef:b".to_owned()];
        let err = parse_keys(&twice).unwrap_err();
        assert_eq!(err, KeyError::Duplicate { position: 2 });
        assert!(!err.to_string().contains("0123456789abcdef"));
    }
}
