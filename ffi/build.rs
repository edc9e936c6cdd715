//! Generates the C header `include/rxguard.h` from `src/lib.rs` with cbindgen.
//!
//! The header is committed. Normally the build rewrites it when it is out of date; with
//! `RXGUARD_CHECK_HEADER=1` (as in CI) the build fails instead, so a stale committed header is
//! caught.

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config_path = dir.join("cbindgen.toml");
    let source = dir.join("src/lib.rs");
    let header = dir.join("include/rxguard.h");
    for path in [&config_path, &source, &header] {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    println!("cargo::rerun-if-env-changed=RXGUARD_CHECK_HEADER");

    let config = cbindgen::Config::from_file(&config_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", config_path.display()));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(&source)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen could not generate the header: {e}"));
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    let committed = std::fs::read(&header).ok();
    if committed.as_deref() == Some(generated.as_slice()) {
        return;
    }
    if std::env::var_os("RXGUARD_CHECK_HEADER").is_some_and(|v| v == "1") {
        panic!(
            "{} is not the header cbindgen generates from src/lib.rs: run `cargo build -p \
             rxguard-ffi` (without RXGUARD_CHECK_HEADER) and commit the new header",
            header.display()
        );
    }
    std::fs::create_dir_all(header.parent().expect("the header is in include/"))
        .and_then(|()| std::fs::write(&header, &generated))
        .unwrap_or_else(|e| panic!("writing {}: {e}", header.display()));
}
