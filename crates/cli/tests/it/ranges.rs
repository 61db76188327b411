//! Every one of the 1,048,576 ranges of a million-hash store equals the range recomputed
//! from the input file.

use leakwatch_gen::GenFormat;
use leakwatch_store::{MmapDirectory, Namespace, Snapshot};

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(every_sha1_range_of_a_million_hash_store_matches_the_input),
        test!(every_ntlm_range_matches_the_input),
        test!(an_import_spills_under_tmp_dir_in_a_directory_of_its_own_and_touches_nothing_else),
    ]
}

fn check_every_range(ns: Namespace, format: GenFormat, count: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(format, count, 42);
    let file = write(&tmp.path().join("input.txt"), &input);
    let data = tmp.path().join("data");
    leakwatch(
        &[
            "ingest",
            "--quiet",
            "--data",
            data.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
        None,
    );
    let model = model_of_hash_lines(&input, ns.hex_len());
    assert_eq!(model.len() as u64, count);

    let dir = MmapDirectory::open(data.join("store")).unwrap();
    let snap = Snapshot::open(&dir).unwrap();
    let mut model_iter = model.iter().peekable();
    let mut checked = 0u64;
    for prefix in 0..(1u32 << 20) {
        let p = format!("{prefix:05X}");
        let mut want = Vec::new();
        while let Some((k, c)) = model_iter.next_if(|(k, _)| k.starts_with(&p)) {
            want.push(format!("{}:{c}", &k[5..]));
        }
        let got: Vec<String> = snap
            .range(ns, prefix)
            .unwrap()
            .into_iter()
            .map(|(k, c)| format!("{}:{c}", &k.to_hex(ns)[5..]))
            .collect();
        assert_eq!(got, want, "range {p}");
        checked += got.len() as u64;
    }
    assert_eq!(checked, count, "every hash appears in exactly one range");
}

fn every_sha1_range_of_a_million_hash_store_matches_the_input() {
    check_every_range(Namespace::Sha1, GenFormat::Sha1, 1_000_000);
}

fn every_ntlm_range_matches_the_input() {
    check_every_range(Namespace::Ntlm, GenFormat::Ntlm, 200_000);
}

fn an_import_spills_under_tmp_dir_in_a_directory_of_its_own_and_touches_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let input = generate(GenFormat::Sha1, 50_000, 7);
    let file = write(&tmp.path().join("input.txt"), &input);
    // A shared scratch directory: someone else's file, and what a dead import left (a pid
    // above Linux's largest).
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(scratch.join("leakwatch-spill-4194305/ingest-x")).unwrap();
    write(
        &scratch.join("leakwatch-spill-4194305/ingest-x/run"),
        b"old",
    );
    write(&scratch.join("someone-elses.txt"), b"keep me");
    let import = |data: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["ingest", "-q", "--data", data.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(file.to_str().unwrap());
        leakwatch(&args, None);
    };
    let (with, without) = (tmp.path().join("with"), tmp.path().join("without"));
    import(&with, &["--tmp-dir", scratch.to_str().unwrap()]);
    import(&without, &[]);
    // Spilled in the scratch directory, not beside the data (the default, for contrast).
    assert!(!with.join("tmp").exists());
    assert!(without.join("tmp").exists());
    let mut left: Vec<String> = std::fs::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["someone-elses.txt"]);
    assert_eq!(
        std::fs::read(scratch.join("someone-elses.txt")).unwrap(),
        b"keep me"
    );
    let model = model_of_hash_lines(&input, 40);
    let dir = MmapDirectory::open(with.join("store")).unwrap();
    let snap = Snapshot::open(&dir).unwrap();
    let hashes: u64 = snap
        .segments(Namespace::Sha1)
        .iter()
        .map(|s| s.hashes())
        .sum();
    assert_eq!(hashes, model.len() as u64);
}
