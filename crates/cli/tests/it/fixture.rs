//! Format compatibility: a store written by format version 1 (committed under
//! tests/fixtures/store-v1 by the first release, built from tests/fixtures/input-v1.txt)
//! must open and answer exactly, forever, and so must store-v1-current (the same input in
//! the last version-1 writer's 64-key groups) and accounts-v1. The current writer must
//! produce the segments under tests/fixtures/segments-v3 (segment version 3) from the same
//! inputs, so an accidental encoding change fails here; a deliberate writer change within
//! the format regenerates segments-v3 only. A format change bumps the version and adds new
//! fixtures; old ones stay: store-v3-mirror holds manifest version 3 (a mirror and its ETag
//! table, a forgotten account); aliases-v2 holds the account fixture's alias file in alias
//! file version 2 (sealed blocks), beside accounts-v1's version-1 one.

use std::path::PathBuf;

use leakwatch_store::{MmapDirectory, Namespace, Snapshot};

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(version_1_stores_open_and_answer_exactly),
        test!(current_writer_reproduces_the_version_3_password_segments_byte_for_byte),
        test!(regenerate_fixture).ignore("by hand only"),
        test!(version_1_account_store_opens_and_answers_exactly),
        test!(current_writer_reproduces_the_account_files_byte_for_byte),
        test!(regenerate_accounts_fixture).ignore("by hand only"),
        test!(regenerate_account_segment_fixture).ignore("by hand only"),
        test!(version_2_alias_file_opens_and_answers_every_domain_exactly),
        test!(regenerate_aliases_v2_fixture).ignore("by hand only"),
        test!(a_version_2_catalogue_is_refused_until_migrated_then_lists_what_it_held),
        test!(write_store_v3_fixture).ignore("writes the committed fixture; run by hand only"),
        test!(version_3_store_with_a_mirror_opens_and_answers_exactly),
    ]
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn version_1_stores_open_and_answer_exactly() {
    for fixture in ["store-v1", "store-v1-current"] {
        version_1_store_opens_and_answers_exactly(fixture);
    }
}

fn version_1_store_opens_and_answers_exactly(fixture: &str) {
    let input = std::fs::read(fixtures().join("input-v1.txt")).unwrap();
    let (sha1, ntlm) = model_of_plain(&input);
    let tmp = tempfile::tempdir().unwrap();
    // Copy: opening for read never writes, but keep the committed files untouchable anyway.
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("store")).unwrap();
    for e in std::fs::read_dir(fixtures().join(fixture)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.join("store").join(e.file_name())).unwrap();
    }
    for seg in ["0000000001-000-sha1.seg", "0000000001-001-ntlm.seg"] {
        let bytes = std::fs::read(data.join("store").join(seg)).unwrap();
        let version = &bytes[bytes.len() - 64..bytes.len() - 60];
        assert_eq!(version, 1u32.to_le_bytes(), "{fixture}/{seg}");
    }
    assert_eq!(store_model(&data, Namespace::Sha1), sha1);
    assert_eq!(store_model(&data, Namespace::Ntlm), ntlm);
    let snap = Snapshot::open(&MmapDirectory::open(data.join("store")).unwrap()).unwrap();
    snap.verify().unwrap();
    leakwatch(&["verify", "--data", data.to_str().unwrap()], None);
}

/// The current segments of the fixtures' inputs (segment version 3).
fn segments_fixture() -> PathBuf {
    fixtures().join("segments-v3")
}

const PASSWORD_SEGMENTS: [&str; 2] = ["0000000001-000-sha1.seg", "0000000001-001-ntlm.seg"];

fn current_writer_reproduces_the_version_3_password_segments_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ingest_quiet(
        data.to_str().unwrap(),
        fixtures().join("input-v1.txt").to_str().unwrap(),
    );
    for name in PASSWORD_SEGMENTS {
        let fresh = std::fs::read(data.join("store").join(name)).unwrap();
        let want = std::fs::read(segments_fixture().join("passwords").join(name)).unwrap();
        assert_eq!(&want[want.len() - 64..want.len() - 60], 3u32.to_le_bytes());
        assert!(fresh == want, "{name} differs from the segments-v3 fixture");
    }
}

/// Rebuilds segments-v3's password segments after a deliberate writer change; by hand only:
/// `cargo test -p leakwatch --test it -- --ignored regenerate_fixture`
fn regenerate_fixture() {
    let input = fixtures().join("input-v1.txt");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ingest_quiet(data.to_str().unwrap(), input.to_str().unwrap());
    let out = segments_fixture().join("passwords");
    std::fs::create_dir_all(&out).unwrap();
    for name in PASSWORD_SEGMENTS {
        std::fs::copy(data.join("store").join(name), out.join(name)).unwrap();
    }
}

/// The account part of format version 1 (account segments, postings, alias files): a small
/// generated CSV dump loaded into breach `FixtureBreach` under the tests' operator key.
fn accounts_fixture() -> PathBuf {
    fixtures().join("accounts-v1")
}

fn load_accounts_fixture(data: &std::path::Path) {
    add_breach(data, "FixtureBreach", &[]);
    ingest_dump(
        data,
        &accounts_fixture().join("dump.csv"),
        "FixtureBreach",
        &[],
    );
}

fn version_1_account_store_opens_and_answers_exactly() {
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
    let found = leakwatch_service::domain_search::breached_domain(&snap, &key, domain).unwrap();
    assert_eq!(found.get(alias), Some(&vec!["FixtureBreach".to_owned()]));
}

/// Postings as version 1 wrote them (their format has not changed since); the dump's
/// segments (accounts, and its passwords) as segments-v3/accounts holds them; its alias file
/// as aliases-v2 holds it (alias file version 2, sealed blocks).
fn current_writer_reproduces_the_account_files_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    load_accounts_fixture(&data);
    let mut compared = Vec::new();
    for e in std::fs::read_dir(accounts_fixture().join("store")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let want = if name.ends_with(".seg") {
            segments_fixture().join("accounts").join(&name)
        } else if name.ends_with(".alias") {
            aliases_v2_fixture().join(&name)
        } else if name.ends_with(".post") {
            e.path()
        } else {
            continue;
        };
        let fresh = std::fs::read(data.join("store").join(&name)).unwrap();
        assert!(
            fresh == std::fs::read(&want).unwrap(),
            "{name} differs from {}",
            want.display()
        );
        compared.push(name);
    }
    compared.sort();
    assert_eq!(compared.len(), 5, "{compared:?}");
}

/// The account fixture's alias file as alias file version 2 lays it out.
fn aliases_v2_fixture() -> PathBuf {
    fixtures().join("aliases-v2")
}

/// The committed version-2 alias file opens under the tests' key in place of the version-1
/// one, and domain search over it answers as the dump says, for every domain of the dump.
fn version_2_alias_file_opens_and_answers_every_domain_exactly() {
    let dump = std::fs::read(accounts_fixture().join("dump.csv")).unwrap();
    let model = model_of_dump(&dump, Dump::Csv);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("store")).unwrap();
    copy_files(
        &accounts_fixture().join("store"),
        &data.join("store"),
        |name| !name.ends_with(".alias"),
    );
    copy_files(&aliases_v2_fixture(), &data.join("store"), |_| true);
    let snap = snapshot(&data);
    snap.verify().unwrap();
    let (_, file) = snap.alias_files().next().unwrap();
    assert_eq!(file.version(), 2);
    let key = leakwatch_identity::OperatorKey::from_hex(OPERATOR_KEY).unwrap();
    let mut reference: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for email in model.distinct_emails() {
        let (alias, domain) = email.rsplit_once('@').unwrap();
        reference
            .entry(domain.to_owned())
            .or_default()
            .insert(alias.to_owned());
    }
    assert!(reference.len() > 5);
    for (domain, aliases) in &reference {
        let found = leakwatch_service::domain_search::breached_domain(&snap, &key, domain).unwrap();
        assert_eq!(
            &found
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>(),
            aliases
        );
        assert!(
            found
                .values()
                .all(|b| b == &vec!["FixtureBreach".to_owned()])
        );
    }
}

/// Rebuilds aliases-v2 after a deliberate alias writer change; by hand only:
/// `cargo test -p leakwatch --test it -- --ignored regenerate_aliases_v2_fixture`
fn regenerate_aliases_v2_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    load_accounts_fixture(&data);
    copy_files(&data.join("store"), &aliases_v2_fixture(), |name| {
        name.ends_with(".alias")
    });
}

/// Rebuilds segments-v3/accounts after a deliberate writer change; by hand only:
/// `cargo test -p leakwatch --test it -- --ignored regenerate_account_segment_fixture`
fn regenerate_account_segment_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    load_accounts_fixture(&data);
    copy_files(
        &data.join("store"),
        &segments_fixture().join("accounts"),
        |name| name.ends_with(".seg"),
    );
}

/// Copies the files of `from` whose names `keep` into `to` (made if missing).
fn copy_files(from: &std::path::Path, to: &std::path::Path, keep: impl Fn(&str) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if keep(&e.file_name().to_string_lossy()) {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Rebuilds the account fixture; by hand only, for a new format version:
/// `cargo test -p leakwatch --test it -- --ignored regenerate_accounts_fixture`
fn regenerate_accounts_fixture() {
    let dump = crate::support::gen_dump(crate::support::Dump::Csv, 60, 9, "10");
    std::fs::create_dir_all(accounts_fixture()).unwrap();
    std::fs::write(accounts_fixture().join("dump.csv"), dump).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    load_accounts_fixture(&data);
    copy_files(
        &data.join("store"),
        &accounts_fixture().join("store"),
        |name| name != "LOCK",
    );
}

/// A catalogue of schema version 2 (before page checksums), written by the release before
/// them (commit f481e66) with `tests/fixtures/catalog-v2/make.sh`, which also saved that
/// release's own listings of it. It is refused until `leakwatch migrate`; after it the current
/// build lists exactly what the old one did, and every page verifies.
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
    assert!(
        migrated.contains(&format!(
            "schema version 2 → {}",
            leakwatch_catalog::SCHEMA_VERSION
        )),
        "{migrated}"
    );
    for (args, file) in [
        (&["breach", "list"][..], "breach-list.txt"),
        (&["vendors", "export"][..], "vendors-export.csv"),
    ] {
        let want = std::fs::read_to_string(fixture.join(file)).unwrap();
        assert_eq!(list(args), want, "{args:?}");
    }
    // `keys list` gained a TENANT column (schema version 5) after NAME, at column 40, and
    // SCOPES (version 4) and LAST USED (version 5) columns after CREATED: the rest of each
    // line is the old binary's; keys from before tenants are in `default`, keys from before
    // scopes may do everything they could, marked `all*`, and their last use is unknown.
    let want = std::fs::read_to_string(fixture.join("keys-list.txt")).unwrap();
    let got = list(&["keys", "list"]);
    assert_eq!(got.lines().count(), want.lines().count(), "{got}");
    for (i, (got, want)) in got.lines().zip(want.lines()).enumerate() {
        let (before, rest) = got.split_at(40);
        let (tenant, rest) = rest.split_at(17);
        let (middle, rest) = rest.split_at(30);
        let (scopes, rest) = rest.split_at(30);
        let (last_used, after) = rest.split_at(12);
        assert_eq!(format!("{before}{middle}{after}"), want, "line {i}");
        let want_new = if i == 0 {
            ("TENANT", "SCOPES", "LAST USED")
        } else {
            ("default", "all*", "never")
        };
        assert_eq!(
            (tenant.trim(), scopes.trim(), last_used.trim()),
            want_new,
            "line {i}"
        );
    }
    leakwatch(&["verify", "--data", d], None);
    let again = list(&["migrate"]);
    assert!(again.contains("nothing to do"), "{again}");
}

const V3_SOURCE: &str = "https://mirror-source.example";
const V3_FORGOTTEN: &str = "someone@example.test";

/// The ETag the v3 fixture gives a range: a tag where the range holds hashes, none elsewhere
/// (as from a source that sends ETags for some answers only).
fn v3_tag(prefix: u32, holds: bool) -> Vec<u8> {
    if holds {
        format!("\"fixture-{prefix:05X}\"").into_bytes()
    } else {
        Vec::new()
    }
}

/// Writes tests/fixtures/store-v3-mirror, a store whose manifest is version 3: the SHA-1
/// hashes of input-v1.txt as a mirror's segment with its ETag table, and a forgotten
/// account. Run once, by the build that introduced version 3; committed, never rewritten:
/// `cargo test -p leakwatch --test it -- --ignored write_store_v3_fixture`.
fn write_store_v3_fixture() {
    use leakwatch_store::{Commit, EtagTable, MirrorMeta, RANGES, StoreWriter};
    let input = std::fs::read(fixtures().join("input-v1.txt")).unwrap();
    let (sha1, _) = model_of_plain(&input);
    let out = fixtures().join("store-v3-mirror");
    std::fs::create_dir_all(&out).unwrap();
    assert!(
        std::fs::read_dir(&out).unwrap().next().is_none(),
        "the fixture exists already"
    );
    let dir: std::sync::Arc<dyn leakwatch_store::Directory> =
        std::sync::Arc::new(MmapDirectory::open(&out).unwrap());
    let mut w = StoreWriter::open(dir).unwrap();
    let (name, mut seg) = w
        .create_segment(Namespace::Sha1, sha1.len() as u64)
        .unwrap();
    for (hex, &count) in &sha1 {
        seg.push(
            leakwatch_store::Key::from_hex(hex.as_bytes()).unwrap(),
            count,
        )
        .unwrap();
    }
    let meta = StoreWriter::segment_meta(name.clone(), Namespace::Sha1, seg.finish().unwrap());
    let held: std::collections::BTreeSet<u32> = sha1
        .keys()
        .map(|h| u32::from_str_radix(&h[..5], 16).unwrap())
        .collect();
    let tags: Vec<Vec<u8>> = (0..RANGES).map(|p| v3_tag(p, held.contains(&p))).collect();
    let table = EtagTable::from_ordered(tags.iter().map(Vec::as_slice)).unwrap();
    let etags = w.create_etags(Namespace::Sha1, &table).unwrap();
    let forgotten = account_key(V3_FORGOTTEN);
    w.commit(Commit {
        added: vec![meta],
        forget: vec![forgotten],
        mirror: Some(MirrorMeta {
            namespace: Namespace::Sha1,
            source: V3_SOURCE.into(),
            segment: name,
            etags,
            synced_unix: 1_764_500_000,
        }),
        ..Commit::default()
    })
    .unwrap();
    drop(w);
    std::fs::remove_file(out.join("LOCK")).unwrap();
}

fn version_3_store_with_a_mirror_opens_and_answers_exactly() {
    let input = std::fs::read(fixtures().join("input-v1.txt")).unwrap();
    let (sha1, _) = model_of_plain(&input);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("store")).unwrap();
    for e in std::fs::read_dir(fixtures().join("store-v3-mirror")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), data.join("store").join(e.file_name())).unwrap();
    }
    assert_eq!(store_model(&data, Namespace::Sha1), sha1);
    let snap = Snapshot::open(&MmapDirectory::open(data.join("store")).unwrap()).unwrap();
    assert_eq!(snap.manifest().format_version, 3);
    let (meta, seg, table) = snap.mirror(Namespace::Sha1).unwrap().unwrap();
    assert_eq!(meta.source, V3_SOURCE);
    assert_eq!(seg.hashes(), sha1.len() as u64);
    let held: std::collections::BTreeSet<u32> = sha1
        .keys()
        .map(|h| u32::from_str_radix(&h[..5], 16).unwrap())
        .collect();
    for p in (0..leakwatch_store::RANGES)
        .step_by(997)
        .chain(held.iter().copied())
    {
        assert_eq!(table.get(p), v3_tag(p, held.contains(&p)), "{p:05X}");
    }
    let forgotten = account_key(V3_FORGOTTEN).to_hex(Namespace::Account);
    assert_eq!(snap.manifest().forgotten, [forgotten.to_ascii_lowercase()]);
    snap.verify().unwrap();
    let d = data.to_str().unwrap();
    leakwatch(&["verify", "--data", d], None);
    let stats = String::from_utf8(leakwatch(&["stats", "--data", d], None).stdout).unwrap();
    assert!(stats.contains(&format!("mirror of {V3_SOURCE}")), "{stats}");
}
