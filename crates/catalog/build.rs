//! Compiles SQLite's checksum VFS shim (`csrc/cksumvfs.c`, SQLite's own `ext/misc` source,
//! public domain, unmodified) against the SQLite that libsqlite3-sys bundles, so every page
//! of the catalogue carries an 8-byte checksum that is checked whenever the page is read.

fn main() {
    println!("cargo:rerun-if-changed=csrc/cksumvfs.c");
    let include = std::env::var("DEP_SQLITE3_INCLUDE")
        .expect("libsqlite3-sys (bundled) tells where sqlite3.h is");
    cc::Build::new()
        .warnings(false) // SQLite's code, kept as upstream wrote it
        .define("SQLITE_CKSUMVFS_STATIC", None)
        .include(include)
        .file("csrc/cksumvfs.c")
        .compile("cksumvfs");
}
