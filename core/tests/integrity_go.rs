//! Interop with Go's `golang.org/x/mod/sumdb/note` and `sumdb/tlog`: a log written by the sink
//! is checked by a small Go program using only those packages. It opens every signed
//! checkpoint with the vkey (`note.Open`), recomputes an event's leaf hash from the documented
//! leaf bytes (`tlog.RecordHash`), checks our inclusion and consistency proofs
//! (`tlog.CheckRecord`, `tlog.CheckTree`), and builds its own proof from our tile files
//! through `tlog.TileHashReader` (which authenticates every tile it reads against the signed
//! root), which must equal ours.
//!
//! Needs `go` and the x/mod sources (Debian: `golang-go`, `golang-golang-x-mod-dev`); skipped
//! with a message when they are missing, so `.ci/run` does not depend on them. Set
//! `MTLOG_AUDIT_REQUIRE_GO=1` to make a missing toolchain a failure.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Runs `go`, writes temp files.

use std::path::Path;
use std::process::Command;

use mtlog_audit::integrity::chain::to_hex;
use mtlog_audit::integrity::note::Signer;
use mtlog_audit::{Level, Options, Reader, Sink};
use serde_json::json;

const GOPATH: &str = "/usr/share/gocode";

const PROGRAM: &str = r#"package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	Vkey        string   `json:"vkey"`
	Notes       []string `json:"notes"`
	LeafBytes   string   `json:"leaf_bytes"`
	LeafHash    string   `json:"leaf_hash"`
	Seq         int64    `json:"seq"`
	Proof       []string `json:"proof"`
	OldSize     int64    `json:"old_size"`
	Consistency []string `json:"consistency"`
	Dir         string   `json:"dir"`
}

func hashes(hs []string) []tlog.Hash {
	var out []tlog.Hash
	for _, h := range hs {
		b, err := hex.DecodeString(h)
		check(err)
		var x tlog.Hash
		copy(x[:], b)
		out = append(out, x)
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
}

type tiles struct{ dir string }

func (t tiles) Height() int { return 8 }

func (t tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, tile := range ts {
		// Go's path is tile/8/<L>/<N>[.p/<W>]; ours is merkle/tile/<L>/<N>.
		p := strings.TrimPrefix(tile.Path(), "tile/8/")
		if i := strings.Index(p, ".p/"); i >= 0 {
			p = p[:i]
		}
		data, err := os.ReadFile(filepath.Join(t.dir, "merkle", "tile", p))
		if err != nil {
			return nil, err
		}
		hashes := data[32 : len(data)-4] // our header and checksum around the tile's hashes
		if len(hashes) < tile.W*32 {
			return nil, fmt.Errorf("tile %s holds %d hashes, want %d", p, len(hashes)/32, tile.W)
		}
		out = append(out, hashes[:tile.W*32])
	}
	return out, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func main() {
	var in input
	check(json.NewDecoder(os.Stdin).Decode(&in))
	v, err := note.NewVerifier(in.Vkey)
	check(err)
	trees := map[int64]tlog.Tree{}
	var latest tlog.Tree
	for _, text := range in.Notes {
		n, err := note.Open([]byte(text), note.VerifierList(v))
		check(err)
		lines := strings.Split(n.Text, "\n")
		size, err := strconv.ParseInt(lines[1], 10, 64)
		check(err)
		root, err := base64.StdEncoding.DecodeString(lines[2])
		check(err)
		var t tlog.Tree
		t.N = size
		copy(t.Hash[:], root)
		trees[size] = t
		if size > latest.N {
			latest = t
		}
	}
	leafBytes, err := hex.DecodeString(in.LeafBytes)
	check(err)
	leaf := tlog.RecordHash(leafBytes)
	if hex.EncodeToString(leaf[:]) != in.LeafHash {
		check(fmt.Errorf("leaf hash %x, mtlog-audit says %s", leaf, in.LeafHash))
	}
	check(tlog.CheckRecord(hashes(in.Proof), latest.N, latest.Hash, in.Seq-1, leaf))
	old, ok := trees[in.OldSize]
	if !ok {
		check(fmt.Errorf("no checkpoint of size %d", in.OldSize))
	}
	check(tlog.CheckTree(hashes(in.Consistency), latest.N, latest.Hash, old.N, old.Hash))
	reader := tlog.TileHashReader(latest, tiles{in.Dir})
	proof, err := tlog.ProveRecord(latest.N, in.Seq-1, reader)
	check(err)
	for i, h := range hashes(in.Proof) {
		if proof[i] != h {
			check(fmt.Errorf("proof hash %d differs: go %x, mtlog-audit %x", i, proof[i], h))
		}
	}
	fmt.Printf("ok: %d checkpoints opened, seq %d proved in %d leaves, consistent from %d\n",
		len(in.Notes), in.Seq, latest.N, old.N)
}
"#;

fn go_available() -> bool {
    let go = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
    go && Path::new(GOPATH).join("src/golang.org/x/mod/sumdb/tlog").is_dir()
}

#[test]
fn go_sumdb_note_and_tlog_accept_our_checkpoints_proofs_and_tiles() {
    if !go_available() {
        assert!(
            std::env::var_os("MTLOG_AUDIT_REQUIRE_GO").is_none(),
            "go or golang.org/x/mod missing"
        );
        eprintln!("skipped: needs go and {GOPATH}/src/golang.org/x/mod (golang-golang-x-mod-dev)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let signer = Signer::from_seed("audit.example/go", [4; 32]).unwrap();
    let sink = Sink::open(
        Options::new(&dir)
            .segment_bytes(64 << 10)
            .signer(signer.clone())
            .checkpoint_every_events(Some(97)),
    )
    .unwrap();
    for i in 0..700u64 {
        sink.event(Level::Information, "Event {N}").with("N", i).emit().unwrap();
    }
    sink.close().unwrap();

    let reader = Reader::open(&dir).unwrap();
    let notes: Vec<String> = reader
        .checkpoints()
        .unwrap()
        .iter()
        .map(|f| String::from_utf8(f.bytes.clone()).unwrap())
        .collect();
    let seq = 300;
    let record = reader.records(seq..=seq).unwrap().remove(0);
    let mut leaf_bytes = reader.log_id().to_le_bytes().to_vec();
    leaf_bytes.extend_from_slice(&record.seq.to_le_bytes());
    leaf_bytes.extend_from_slice(&record.timestamp_nanos.to_le_bytes());
    leaf_bytes.extend_from_slice(&record.flags.to_le_bytes());
    leaf_bytes.push(record.encoding);
    leaf_bytes.extend_from_slice(&record.body);
    let inclusion = reader.prove_inclusion(seq, 700).unwrap();
    let consistency = reader.prove_consistency(97, 700).unwrap();
    let hex_all = |h: &[[u8; 32]]| h.iter().map(to_hex).collect::<Vec<_>>();
    let input = json!({
        "vkey": signer.verifier().to_vkey(),
        "notes": notes,
        "leaf_bytes": leaf_bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "leaf_hash": to_hex(&record.leaf_hash),
        "seq": seq,
        "proof": hex_all(&inclusion.hashes),
        "old_size": 97,
        "consistency": hex_all(&consistency.hashes),
        "dir": dir,
    });
    let program = tmp.path().join("main.go");
    std::fs::write(&program, PROGRAM).unwrap();
    let input_path = tmp.path().join("input.json");
    std::fs::write(&input_path, input.to_string()).unwrap();
    let out = Command::new("go")
        .arg("run")
        .arg(&program)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", tmp.path().join("gocache"))
        .env("GOFLAGS", "")
        .stdin(std::fs::File::open(&input_path).unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "go: {stdout}{stderr}");
    assert!(stdout.starts_with("ok: "), "{stdout}{stderr}");
    eprintln!("{stdout}");
}
