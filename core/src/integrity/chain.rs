//! The hash chain over event records.
//!
//! Each event record is a **leaf** whose bytes are its logical content, independent of where it
//! is stored (segment, offset and durable watermark are placement, not content):
//!
//! ```text
//! leaf bytes  = log_id (16, LE) | seq (8, LE) | timestamp_nanos (8, LE) | flags (2, LE)
//!             | encoding (1) | body
//! leaf hash   = SHA-256(0x00 | leaf bytes)                       (RFC 6962 leaf hash)
//! chain[0]    = SHA-256("mtlog-audit/chain/v1" | log_id (16, LE))  (genesis)
//! chain[n]    = SHA-256(0x02 | chain[n-1] | leaf hash[n])
//! ```
//!
//! The leaf hash is exactly the RFC 6962 Merkle leaf hash, so the chain and the Merkle tree
//! cover the same bytes and share one SHA-256 pass over the body. The 0x02 prefix separates the
//! chain's domain from RFC 6962's leaf (0x00) and node (0x01) hashes.
//!
//! # Examples
//!
//! The receipt of an emit is the chain value after the event; anyone holding the records can
//! recompute it:
//!
//! ```
//! use mtlog_audit::integrity::chain;
//! use mtlog_audit::{Level, Options, Reader, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Sink::open(Options::new(dir))?;
//! let first = sink.event(Level::Information, "One").emit()?;
//! let second = sink.event(Level::Information, "Two").emit()?;
//!
//! let reader = Reader::open(dir)?;
//! let records = reader.records(1..=2)?;
//! let (log_id, r) = (reader.log_id(), &records[0]);
//! let leaf = chain::leaf_hash(log_id, r.seq, r.timestamp_nanos, r.flags, r.encoding, &r.body);
//! assert_eq!(leaf, r.leaf_hash);
//! let after_first = chain::link(&chain::genesis(log_id), &leaf);
//! assert_eq!(after_first, first.chain_hash);
//! assert_eq!(chain::link(&after_first, &records[1].leaf_hash), second.chain_hash);
//! assert_eq!(chain::to_hex(&second.chain_hash).len(), 64);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use sha2::{Digest, Sha256};

/// A SHA-256 digest. See the [module docs](self) for an example.
pub type Hash = [u8; 32];

/// The chain value before the first event of the log `log_id`. See the [module docs](self) for an
/// example.
pub fn genesis(log_id: u128) -> Hash {
    let mut h = Sha256::new();
    h.update(b"mtlog-audit/chain/v1");
    h.update(log_id.to_le_bytes());
    h.finalize().into()
}

/// The RFC 6962 leaf hash of an event record. See the [module docs](self) for an example.
pub fn leaf_hash(
    log_id: u128,
    seq: u64,
    timestamp_nanos: i64,
    flags: u16,
    encoding: u8,
    body: &[u8],
) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(log_id.to_le_bytes());
    h.update(seq.to_le_bytes());
    h.update(timestamp_nanos.to_le_bytes());
    h.update(flags.to_le_bytes());
    h.update([encoding]);
    h.update(body);
    h.finalize().into()
}

/// The next chain value. See the [module docs](self) for an example.
pub fn link(prev: &Hash, leaf: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x02]);
    h.update(prev);
    h.update(leaf);
    h.finalize().into()
}

/// Lowercase hex of a hash, for reports. See the [module docs](self) for an example.
pub fn to_hex(hash: &Hash) -> String {
    let mut s = String::with_capacity(64);
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_hash_is_rfc6962_leaf_hash_of_the_leaf_bytes() {
        // Build the leaf bytes by hand and hash them the RFC 6962 way.
        let mut leaf = Vec::new();
        leaf.extend_from_slice(&5u128.to_le_bytes());
        leaf.extend_from_slice(&9u64.to_le_bytes());
        leaf.extend_from_slice(&(-1i64).to_le_bytes());
        leaf.extend_from_slice(&1u16.to_le_bytes());
        leaf.push(0);
        leaf.extend_from_slice(b"body");
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&leaf);
        let expected: Hash = h.finalize().into();
        assert_eq!(leaf_hash(5, 9, -1, 1, 0, b"body"), expected);
    }

    #[test]
    fn chain_depends_on_order() {
        let g = genesis(1);
        let a = leaf_hash(1, 1, 0, 0, 0, b"a");
        let b = leaf_hash(1, 2, 0, 0, 0, b"b");
        assert_ne!(link(&link(&g, &a), &b), link(&link(&g, &b), &a));
        assert_ne!(genesis(1), genesis(2));
    }
}
