//! Regenerates the compatibility fixtures under `testdata/` (golden and corrupt logs and the
//! corrupt logs' README), deterministically: the same bytes on every run and machine.
//!
//! Run from anywhere in the repository: `cargo run -p mtlog-audit --example make-testdata`.
//! Then run `cargo test -p mtlog-audit --test testdata` and review any snapshot change with
//! `cargo insta review` (or `INSTA_UPDATE=always`): a changed outcome for an old fixture is a
//! compatibility break, not a snapshot to accept lightly.

#[path = "../tests/testdata/generate.rs"]
mod generate;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    generate::write_all(&root);
    println!("wrote {}", root.join("testdata").display());
}
