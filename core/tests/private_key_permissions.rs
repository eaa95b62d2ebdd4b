//! A private key file others can read or write is refused, naming the file and its mode; one
//! only its owner can use is loaded.
//!
//! Regression: `keys::signer_from_file` accepted a world-readable key without a word, so a
//! key anyone on the host could copy (and sign any history with) went unnoticed.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;

use mtlog_audit::integrity::keys::{self, KeyLoadError};
use mtlog_audit::integrity::note::Signer;
use mtlog_audit::io::RealDisk;

#[test]
fn every_group_or_other_permission_bit_refuses_the_key_and_owner_only_loads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("audit.key");
    let signer = Signer::from_seed("perm.example/log", [2; 32]).unwrap();
    std::fs::write(&path, format!("{}\n", signer.private_key_text())).unwrap();
    for bit in [0o040, 0o020, 0o010, 0o004, 0o002, 0o001] {
        let mode = 0o600 | bit;
        std::fs::set_permissions(&path, Permissions::from_mode(mode)).unwrap();
        let err = keys::signer_from_file(&RealDisk, &path).unwrap_err();
        assert_eq!(err, KeyLoadError::Exposed { path: path.clone(), mode });
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(&format!("{mode:04o}")) && message.contains("chmod 600"));
        assert!(!message.contains(&signer.private_key_text()[20..]), "{message}");
    }
    for mode in [0o600, 0o400] {
        std::fs::set_permissions(&path, Permissions::from_mode(mode)).unwrap();
        let loaded = keys::signer_from_file(&RealDisk, &path).unwrap();
        assert_eq!(loaded.verifier(), signer.verifier());
    }
}
