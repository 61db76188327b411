//! Erasure (`leakwatch forget`): a forgotten identifier is never answered again — by the
//! running server, the CLI, a later import of the same dump, a compaction and a restored
//! backup — and the compaction removes its key from the files, while every other account
//! answers exactly as before.

use std::time::{Duration, Instant};

use leakwatch_store::Namespace;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![test!(
        a_forgotten_identifier_is_never_answered_again_and_leaves_the_files_at_compaction
    )]
}

fn a_forgotten_identifier_is_never_answered_again_and_leaves_the_files_at_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    add_breach(&data, "First", &[]);
    add_breach(&data, "Second", &[]);
    let dump = gen_dump(Dump::Csv, 2_000, 31, "0");
    let model = model_of_dump(&dump, Dump::Csv);
    let file = write(&tmp.path().join("dump.csv"), &dump);
    ingest_dump(&data, &file, "First", &[]);
    let mut emails = model.lines.iter().filter_map(|l| l.email.clone());
    let (gone, kept) = (emails.next().unwrap(), emails.next().unwrap());
    let key_hex = |email: &str| {
        let normalized = leakwatch_identity::normalize_email(email).unwrap();
        account_key(&normalized).to_hex(Namespace::Account)
    };
    let (gone_key, kept_key) = (key_hex(&gone), key_hex(&kept));
    let in_files =
        |data: &std::path::Path, key: &str| store_model(data, Namespace::Account).contains_key(key);
    assert!(in_files(&data, &gone_key) && in_files(&data, &kept_key));

    let api_key = crate::keys::create_key(d, "t", "100000");
    let server = Server::start(&data);
    let status = |email: &str| {
        let path = format!("/api/v3/breachedaccount/{}", email.replace('@', "%40"));
        let headers = [
            ("hibp-api-key", api_key.as_str()),
            ("User-Agent", "forget-test"),
        ];
        http_get(&server.addr, &path, &headers).0
    };
    assert_eq!((status(&gone), status(&kept)), (200, 200));

    let out = leakwatch(&["forget", "--data", d, &gone], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("never answered"));
    // The running server picks up the new generation.
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(&gone) != 404 {
        assert!(
            Instant::now() < deadline,
            "the server still answers the forgotten account"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status(&kept), 200);
    let range = format!("/api/v3/breachedaccount/range/{}", &gone_key[..6]);
    let headers = [
        ("hibp-api-key", api_key.as_str()),
        ("User-Agent", "forget-test"),
    ];
    let body = String::from_utf8(http_get(&server.addr, &range, &headers).2).unwrap();
    assert!(
        !body
            .to_ascii_uppercase()
            .contains(&gone_key[6..].to_ascii_uppercase()),
        "{body}"
    );
    let check = |data: &std::path::Path, email: &str| {
        String::from_utf8(
            leakwatch(
                &["check", "account", "--data", data.to_str().unwrap(), email],
                None,
            )
            .stdout,
        )
        .unwrap()
    };
    assert!(check(&data, &gone).contains("not found"));

    // Still in the files until a compaction; a new import of the same dump brings nothing back.
    assert!(in_files(&data, &gone_key));
    ingest_dump(&data, &file, "Second", &[]);
    assert!(check(&data, &gone).contains("not found"));
    let kept_now = check(&data, &kept);
    assert!(
        kept_now.contains("First") && kept_now.contains("Second"),
        "{kept_now}"
    );

    // Without the operator key, compaction erases the key but cannot open the sealed
    // aliases to tell which are the forgotten account's, and says so; with it, those go too
    // (one in each import's file).
    let gone_address = leakwatch_identity::normalize_email(&gone).unwrap();
    let kept_address = leakwatch_identity::normalize_email(&kept).unwrap();
    assert!(sealed_addresses(&data).contains(&gone_address));
    let out = leakwatch(&["compact", "--data", d], None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("give the operator key"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!in_files(&data, &gone_key), "compaction erased the key");
    assert!(in_files(&data, &kept_key));
    assert!(sealed_addresses(&data).contains(&gone_address));
    let out = with_key(&["compact", "--data", d], OPERATOR_KEY);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("leaving out 2 alias(es)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let sealed = sealed_addresses(&data);
    assert!(
        !sealed.contains(&gone_address),
        "the forgotten alias left the files"
    );
    assert!(sealed.contains(&kept_address));
    assert!(check(&data, &gone).contains("not found"));
    leakwatch(&["verify", "--data", d], None);

    // A backup and its restore keep it forgotten.
    let backup = tmp.path().join("backup");
    leakwatch(&["backup", "--data", d, backup.to_str().unwrap()], None);
    let restored = tmp.path().join("restored");
    leakwatch(
        &[
            "restore",
            "--data",
            restored.to_str().unwrap(),
            backup.to_str().unwrap(),
        ],
        None,
    );
    assert!(check(&restored, &gone).contains("not found"));
    assert!(check(&restored, &kept).contains("Second"));
    assert!(!in_files(&restored, &gone_key));
}

/// Every address the alias files hold, unsealed with the test's operator key.
fn sealed_addresses(data: &std::path::Path) -> std::collections::BTreeSet<String> {
    let key = leakwatch_identity::OperatorKey::from_hex(OPERATOR_KEY).unwrap();
    let dir = leakwatch_store::MmapDirectory::open(data.join("store")).unwrap();
    let snap = leakwatch_store::Snapshot::open(&dir).unwrap();
    let mut out = std::collections::BTreeSet::new();
    for (_, file) in snap.alias_files() {
        let mut opener = leakwatch_ingest::AliasOpener::new(&key);
        file.for_each(|entry| {
            opener
                .open(entry, |domain, alias| {
                    out.insert(format!("{alias}@{domain}"));
                })
                .unwrap()
        })
        .unwrap();
    }
    out
}
