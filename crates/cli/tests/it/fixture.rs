//! Format compatibility: a store written by format version 1 (committed under
//! tests/fixtures/store-v1, built from tests/fixtures/input-v1.txt) must open and answer
//! exactly, and the current writer must produce the same segment bytes from the same input,
//! so an accidental format change fails here. A deliberate change bumps the version and adds
//! a new fixture; old fixtures stay.

use std::path::PathBuf;

use leakwatch_store::{MmapDirectory, Namespace, Snapshot};

use crate::support::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn version_1_store_opens_and_answers_exactly() {
    let input = std::fs::read(fixtures().join("input-v1.txt")).unwrap();
    let (sha1, ntlm) = model_of_plain(&input);
    let tmp = tempfile::tempdir().unwrap();
    // Copy: opening for read never writes, but keep the committed files untouchable anyway.
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("store")).unwrap();
    for e in std::fs::read_dir(fixtures().join("store-v1")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.join("store").join(e.file_name())).unwrap();
    }
    assert_eq!(store_model(&data, Namespace::Sha1), sha1);
    assert_eq!(store_model(&data, Namespace::Ntlm), ntlm);
    let snap = Snapshot::open(&MmapDirectory::open(data.join("store")).unwrap()).unwrap();
    snap.verify().unwrap();
    leakwatch(&["verify", "--data", data.to_str().unwrap()], None);
}

#[test]
fn current_writer_reproduces_version_1_segments_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ingest_quiet(
        data.to_str().unwrap(),
        fixtures().join("input-v1.txt").to_str().unwrap(),
    );
    let mut compared = 0;
    for e in std::fs::read_dir(fixtures().join("store-v1")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".seg") {
            let fresh = std::fs::read(data.join("store").join(&name)).unwrap();
            assert!(
                fresh == std::fs::read(e.path()).unwrap(),
                "{name} differs from the v1 fixture"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 2);
}

/// Rebuilds the fixture; run by hand only when adding a new format version:
/// `cargo test -p leakwatch --test it -- --ignored regenerate_fixture`
#[test]
#[ignore]
fn regenerate_fixture() {
    let input = fixtures().join("input-v1.txt");
    let data = fixtures().join("store-v1-new");
    ingest_quiet(data.to_str().unwrap(), input.to_str().unwrap());
    eprintln!(
        "written to {}; move its store/ to store-v1 only for a new version",
        data.display()
    );
}
