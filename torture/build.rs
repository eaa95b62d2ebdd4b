//! Records the cargo profile the binary is built with (`torture`, `release`, `debug`), for the
//! report's provenance: cargo's own PROFILE variable says only "release" or "debug".

fn main() {
    let out = std::env::var("OUT_DIR").unwrap_or_default();
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    let profile = std::path::Path::new(&out)
        .ancestors()
        .nth(3)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("unknown")
        .to_owned();
    println!("cargo:rustc-env=TORTURE_PROFILE={profile}");
    println!("cargo:rerun-if-changed=build.rs");
}
