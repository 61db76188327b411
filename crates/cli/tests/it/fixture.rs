//! Format compatibility: a store written by format version 1 (committed under
//! tests/fixtures/store-v1 by the first release, built from tests/fixtures/input-v1.txt)
//! must open and answer exactly, forever. The current writer must produce the bytes under
//! tests/fixtures/store-v1-current from the same input, so an accidental encoding change
//! fails here; a deliberate writer change within the format (such as the group size, which
//! every reader of the version handles) regenerates store-v1-current only. A format change
//! bumps the version and adds new fixtures; old ones stay.

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
    for e in std::fs::read_dir(fixtures().join("store-v1-current")).unwrap() {
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

/// Rebuilds store-v1-current after a deliberate writer change; by hand only:
/// `cargo test -p leakwatch --test it -- --ignored regenerate_fixture`
#[test]
#[ignore]
fn regenerate_fixture() {
    let input = fixtures().join("input-v1.txt");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ingest_quiet(data.to_str().unwrap(), input.to_str().unwrap());
    let out = fixtures().join("store-v1-current");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    for e in std::fs::read_dir(data.join("store")).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), out.join(e.file_name())).unwrap();
        }
    }
}

/// The account part of format version 1 (account segments, postings, alias files): a small
/// generated CSV dump loaded into breach `FixtureBreach` under the tests' operator key.
fn accounts_fixture() -> PathBuf {
    fixtures().join("accounts-v1")
}

fn load_accounts_fixture(data: &std::path::Path) {
    use crate::accounts::*;
    add_breach(data, "FixtureBreach", &[]);
    ingest_dump(
        data,
        &accounts_fixture().join("dump.csv"),
        "FixtureBreach",
        &[],
    );
}

#[test]
fn version_1_account_store_opens_and_answers_exactly() {
    use crate::accounts::*;
    let dump = std::fs::read(accounts_fixture().join("dump.csv")).unwrap();
    let model = model_of_dump(&dump, Dump::Csv);
    assert!(model.rejected > 0 && model.lines.len() > 40);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("store")).unwrap();
    for e in std::fs::read_dir(accounts_fixture().join("store")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.join("store").join(e.file_name())).unwrap();
    }
    let snap = snapshot(&data);
    snap.verify().unwrap();
    for id in model.lines.iter().flat_map(Line::identifiers) {
        assert_eq!(
            store_breaches(&snap, id),
            std::collections::BTreeSet::from(["FixtureBreach".to_owned()]),
            "{id}"
        );
    }
    assert_eq!(
        snap.accounts_in_breach("FixtureBreach").unwrap(),
        model.distinct_emails().len() as u64
    );
    // The sealed aliases of one domain open under the tests' key.
    let email = model.lines[0].email.clone().unwrap();
    let (alias, domain) = email.rsplit_once('@').unwrap();
    let key = leakwatch_identity::OperatorKey::from_hex(OPERATOR_KEY).unwrap();
    let found = leakwatch_api::domain::breached_domain(&snap, &key, domain).unwrap();
    assert_eq!(found.get(alias), Some(&vec!["FixtureBreach".to_owned()]));
}

#[test]
fn current_writer_reproduces_version_1_account_files_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    load_accounts_fixture(&data);
    let mut compared = Vec::new();
    for e in std::fs::read_dir(accounts_fixture().join("store")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if [".seg", ".post", ".alias"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            let fresh = std::fs::read(data.join("store").join(&name)).unwrap();
            assert!(
                fresh == std::fs::read(e.path()).unwrap(),
                "{name} differs from the v1 fixture"
            );
            compared.push(name);
        }
    }
    compared.sort();
    assert_eq!(compared.len(), 5, "{compared:?}");
}

/// Rebuilds the account fixture; by hand only, for a new format version:
/// `cargo test -p leakwatch --test it -- --ignored regenerate_accounts_fixture`
#[test]
#[ignore]
fn regenerate_accounts_fixture() {
    let dump = crate::accounts::gen_dump(crate::accounts::Dump::Csv, 60, 9, "10");
    std::fs::create_dir_all(accounts_fixture()).unwrap();
    std::fs::write(accounts_fixture().join("dump.csv"), dump).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    load_accounts_fixture(&data);
    let out = accounts_fixture().join("store");
    std::fs::create_dir_all(&out).unwrap();
    for e in std::fs::read_dir(data.join("store")).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), out.join(e.file_name())).unwrap();
        }
    }
}

/// A catalogue of schema version 2 (before page checksums), written by the release before
/// them (commit f481e66) with `tests/fixtures/catalog-v2/make.sh`, which also saved that
/// release's own listings of it. It is refused until `leakwatch migrate`; after it the current
/// build lists exactly what the old one did, and every page verifies.
#[test]
fn a_version_2_catalogue_is_refused_until_migrated_then_lists_what_it_held() {
    let fixture = fixtures().join("catalog-v2");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(fixture.join("catalog.db"), data.join("catalog.db")).unwrap();
    let d = data.to_str().unwrap();
    let list = |what: &[&str]| -> String {
        let mut args = what.to_vec();
        args.extend(["--data", d]);
        String::from_utf8(leakwatch(&args, None).stdout).unwrap()
    };

    let refused = try_leakwatch(&["breach", "list", "--data", d], None);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("schema version 2") && stderr.contains("leakwatch migrate"),
        "{stderr}"
    );

    let migrated = list(&["migrate"]);
    assert!(migrated.contains("schema version 2 → 3"), "{migrated}");
    for (args, file) in [
        (&["breach", "list"][..], "breach-list.txt"),
        (&["keys", "list"][..], "keys-list.txt"),
        (&["vendors", "export"][..], "vendors-export.csv"),
    ] {
        let want = std::fs::read_to_string(fixture.join(file)).unwrap();
        assert_eq!(list(args), want, "{args:?}");
    }
    leakwatch(&["verify", "--data", d], None);
    let again = list(&["migrate"]);
    assert!(again.contains("nothing to do"), "{again}");
}
