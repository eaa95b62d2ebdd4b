//! A `prove --tlog-proof` / `Bundle::to_tlog_proofs` proof checks out with the standards
//! alone: the C2SP tlog-proof layout read line by line, the C2SP signed note and checkpoint,
//! SHA-256 of `0x00 | extra` as the RFC 6962 record hash, and the RFC 9162 (section 2.1.3.2)
//! inclusion check written out here from the RFC, not taken from our code.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use mtlog_audit::event::Event;
use mtlog_audit::integrity::note::{self, Signer};
use mtlog_audit::{Level, Options, Reader, Sink};

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 9162, 2.1.3.2: verifying an inclusion proof.
fn rfc9162_verify(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[[u8; 32]],
    root: [u8; 32],
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode % 2 == 1 || fnode == snode {
            r = node(p, &r);
            if fnode % 2 == 0 {
                while fnode % 2 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == root
}

/// A standards-only reading of a tlog-proof: (extra, index, proof, checkpoint note).
fn read_proof(text: &str) -> (Vec<u8>, u64, Vec<[u8; 32]>, String) {
    let (head, checkpoint) = text.split_once("\n\n").unwrap();
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
    let extra = BASE64.decode(lines.next().unwrap().strip_prefix("extra ").unwrap()).unwrap();
    let index = lines.next().unwrap().strip_prefix("index ").unwrap().parse().unwrap();
    let proof = lines.map(|l| BASE64.decode(l).unwrap().try_into().unwrap()).collect();
    (extra, index, proof, checkpoint.to_owned())
}

#[test]
fn every_events_tlog_proof_verifies_with_the_standards_alone_and_names_its_event() {
    let tmp = tempfile::tempdir().unwrap();
    let signer = Signer::from_seed("standard.example/log", [8; 32]).unwrap();
    let sink = Sink::open(Options::new(tmp.path()).signer(signer.clone())).unwrap();
    for n in 0..13u64 {
        sink.event(Level::Information, "Paid {N}").with("N", n).emit().unwrap();
    }
    sink.close().unwrap();
    let reader = Reader::open(tmp.path()).unwrap();
    let note_text = String::from_utf8(reader.checkpoints().unwrap().pop().unwrap().bytes).unwrap();
    let proofs = reader.export_bundle(1..=13, &note_text).unwrap().to_tlog_proofs().unwrap();
    let vkey = signer.verifier().to_vkey();
    for (i, proof) in proofs.iter().enumerate() {
        let (extra, index, hashes, checkpoint) = read_proof(&proof.to_text());
        assert_eq!(index, i as u64);
        // The signed note and checkpoint body (C2SP): origin, size, base64 root.
        let verifier = note::Verifier::from_vkey(&vkey).unwrap();
        let opened = note::open(checkpoint.as_bytes(), &[verifier]).unwrap();
        let lines: Vec<&str> = opened.text.lines().collect();
        assert_eq!(lines[0], "standard.example/log", "origin = key name");
        let size: u64 = lines[1].parse().unwrap();
        let root: [u8; 32] = BASE64.decode(lines[2]).unwrap().try_into().unwrap();
        // The record hash is RFC 6962's over the extra bytes.
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(&extra);
        let leaf: [u8; 32] = h.finalize().into();
        assert!(rfc9162_verify(index, size, leaf, &hashes, root), "seq {}", i + 1);
        // The leaf bytes as docs/integrity.md section 1 lays them out: the log id
        // little-endian, then the seq, which is index + 1, then the event body.
        assert_eq!(extra[..16], reader.log_id().to_le_bytes());
        assert_eq!(u64::from_le_bytes(extra[16..24].try_into().unwrap()), index + 1);
        let event = Event::decode_body(&extra[35..]).unwrap();
        assert!(event.to_clef().contains(&format!("\"N\":{i}")), "{}", event.to_clef());
        // One flipped bit of the record fails the standard check.
        let mut flipped = extra.clone();
        flipped[40] ^= 1;
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(&flipped);
        assert!(!rfc9162_verify(index, size, h.finalize().into(), &hashes, root));
    }
}
