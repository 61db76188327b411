//! Backup and restore while the data directory serves and imports: every backup, taken at
//! any instant of an import, holds exactly the published state before or after it, passes
//! `verify`, and restores into a fresh directory that answers exactly like the original did.
//! A damaged backup is refused before anything is written.

use std::{
    path::Path,
    process::{Command, Stdio},
};

use leakwatch_gen::GenFormat;
use leakwatch_store::Namespace;

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(backups_taken_during_an_import_while_serving_restore_to_what_was_published),
        test!(restore_refuses_a_damaged_backup_and_a_directory_in_use),
        test!(an_encrypted_backup_restores_to_a_store_that_answers_like_the_original_and_a_flipped_byte_writes_nothing)
            .needs(&[Need::Age]),
        test!(a_backups_signed_manifest_catches_a_changed_added_or_removed_file_and_another_audit_key),
    ]
}

/// Everything the directory answers: both password namespaces, the accounts, and the
/// catalogue's breaches as HIBP's JSON.
fn state(data: &Path) -> (Model, Model, Model, String) {
    let out = leakwatch(&["breach", "list", "--data", data.to_str().unwrap()], None);
    (
        store_model(data, Namespace::Sha1),
        store_model(data, Namespace::Ntlm),
        store_model(data, Namespace::Account),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn backups_taken_during_an_import_while_serving_restore_to_what_was_published() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_breach(&data, "Backed", &[]);
    let dump = gen_dump(Dump::Csv, 5_000, 21, "0");
    let dump_file = write(&tmp.path().join("dump.csv"), &dump);
    ingest_dump(&data, &dump_file, "Backed", &[]);
    let more = generate(GenFormat::Plain, 400_000, 22);
    let more_file = write(&tmp.path().join("more.txt"), &more);
    let before = state(&data);

    // The server holds the catalogue and the store open throughout.
    let server = Server::start_with(&data, &[], &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let mut import = Command::new(bin())
        .args(["ingest", "-q", "--memory", "4M", "--data"])
        .arg(&data)
        .arg(&more_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut backups = Vec::new();
    let mut during = 0;
    loop {
        let running = import.try_wait().unwrap().is_none();
        let dest = tmp.path().join(format!("backup-{}", backups.len()));
        leakwatch(
            &[
                "backup",
                "--data",
                data.to_str().unwrap(),
                dest.to_str().unwrap(),
            ],
            None,
        );
        backups.push(dest);
        during += usize::from(running);
        if !running || backups.len() >= 30 {
            break;
        }
    }
    assert!(import.wait().unwrap().success());
    let after = state(&data);
    assert_ne!(before, after);
    assert!(during >= 1, "no backup was taken while the import ran");

    let (mut saw_before, mut saw_after) = (0, 0);
    for (i, backup) in backups.iter().enumerate() {
        leakwatch(&["verify", "--data", backup.to_str().unwrap()], None);
        let fresh = tmp.path().join(format!("restored-{i}"));
        leakwatch(
            &[
                "restore",
                "--data",
                fresh.to_str().unwrap(),
                backup.to_str().unwrap(),
            ],
            None,
        );
        let got = state(&fresh);
        if got == before {
            saw_before += 1;
        } else if got == after {
            saw_after += 1;
        } else {
            panic!("backup {i} restored a state that is neither before nor after the import");
        }
        leakwatch(&["verify", "--data", fresh.to_str().unwrap()], None);
    }
    eprintln!(
        "{} backups ({during} during the import): {saw_before} before, {saw_after} after",
        backups.len()
    );
    assert!(
        saw_after >= 1,
        "the last backup, after the import, restores its state"
    );

    // The restored directory serves exactly what the original serves.
    let restored = tmp.path().join(format!("restored-{}", backups.len() - 1));
    let twin = Server::start(&restored);
    let sha1 = &after.0;
    for key in sha1.keys().step_by(sha1.len() / 20) {
        let path = format!("/range/{}", &key[..5]);
        assert_eq!(
            http_get(&server.addr, &path, &[]).2,
            http_get(&twin.addr, &path, &[]).2,
            "{path}"
        );
    }
    assert_eq!(
        http_get(&server.addr, "/api/v3/breaches", &[]).2,
        http_get(&twin.addr, "/api/v3/breaches", &[]).2
    );
}

fn restore_refuses_a_damaged_backup_and_a_directory_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let hashes = generate(GenFormat::Sha1, 20_000, 23);
    ingest_quiet(
        data.to_str().unwrap(),
        write(&tmp.path().join("h.txt"), &hashes).to_str().unwrap(),
    );
    crate::support::add_breach(&data, "Kept", &[]);
    let backup = tmp.path().join("backup");
    leakwatch(
        &[
            "backup",
            "--data",
            data.to_str().unwrap(),
            backup.to_str().unwrap(),
        ],
        None,
    );
    // A backup goes into a new directory only.
    let again = try_leakwatch(
        &[
            "backup",
            "--data",
            data.to_str().unwrap(),
            backup.to_str().unwrap(),
        ],
        None,
    );
    assert!(!again.status.success());
    // Nor is a data directory that holds anything overwritten.
    let out = try_leakwatch(
        &[
            "restore",
            "--data",
            data.to_str().unwrap(),
            backup.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));

    // One flipped byte in a segment of the backup: refused, and nothing is written.
    let seg = std::fs::read_dir(backup.join("store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&seg, bytes).unwrap();
    let fresh = tmp.path().join("fresh");
    let out = try_leakwatch(
        &[
            "restore",
            "--data",
            fresh.to_str().unwrap(),
            backup.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("damaged") && stderr.contains(".seg"),
        "{stderr}"
    );
    assert!(!fresh.exists(), "nothing was written");
}

/// A data directory with passwords, a breach dump (accounts and aliases) and a catalogue.
fn loaded(tmp: &Path) -> std::path::PathBuf {
    let data = tmp.join("data");
    add_breach(&data, "Sealed", &[]);
    let dump = gen_dump(Dump::Csv, 2_000, 31, "0");
    ingest_dump(&data, &write(&tmp.join("dump.csv"), &dump), "Sealed", &[]);
    let more = generate(GenFormat::Plain, 20_000, 32);
    ingest_quiet(
        data.to_str().unwrap(),
        write(&tmp.join("more.txt"), &more).to_str().unwrap(),
    );
    data
}

fn an_encrypted_backup_restores_to_a_store_that_answers_like_the_original_and_a_flipped_byte_writes_nothing()
 {
    let tmp = tempfile::tempdir().unwrap();
    let data = loaded(tmp.path());
    let d = data.to_str().unwrap();
    let identity = tmp.path().join("backup-identity.txt");
    let keygen = Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let recipient = String::from_utf8(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&identity)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let sealed = tmp.path().join("backup.age");
    let out = leakwatch(
        &[
            "backup",
            "--data",
            d,
            sealed.to_str().unwrap(),
            "--encrypt-to",
            &recipient,
        ],
        None,
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not encrypted"),
        "an encrypted backup is not warned about"
    );
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1\n"));
    for clear in [
        &b"SQLite format 3"[..],
        b"Sealed",
        b"backup-manifest",
        b"LWSEG",
    ] {
        assert!(
            !bytes.windows(clear.len()).any(|w| w == clear),
            "{:?} in the encrypted backup",
            String::from_utf8_lossy(clear)
        );
    }
    // The age CLI (an independent reader) opens it: a tar of the store, the catalogue
    // and the signed manifest.
    let listed = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "age -d -i '{}' '{}' | tar -t",
            identity.display(),
            sealed.display()
        ))
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let names = String::from_utf8(listed.stdout).unwrap();
    for want in [
        "catalog.db",
        "store/manifest",
        "backup-manifest.json",
        "backup-manifest.sig",
    ] {
        assert!(names.lines().any(|l| l == want), "{want} not in {names}");
    }

    // Without the identity it is refused; with it, it restores to what the original answers.
    let restored = tmp.path().join("restored");
    let r = restored.to_str().unwrap();
    let refused = try_leakwatch(&["restore", "--data", r, sealed.to_str().unwrap()], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("identity"));
    assert!(!restored.exists());
    leakwatch(
        &[
            "restore",
            "--data",
            r,
            sealed.to_str().unwrap(),
            "--identity",
            identity.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(state(&restored), state(&data));
    leakwatch(&["verify", "--data", r], None);

    // One flipped byte anywhere in it (the header, a middle chunk, the last one): refused,
    // and nothing written beside or in the target.
    for at in [30, bytes.len() / 2, bytes.len() - 5] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        let file = write(&tmp.path().join("damaged.age"), &damaged);
        let target = tmp.path().join("from-damaged");
        let out = try_leakwatch(
            &[
                "restore",
                "--data",
                target.to_str().unwrap(),
                file.to_str().unwrap(),
                "--identity",
                identity.to_str().unwrap(),
            ],
            None,
        );
        assert!(!out.status.success(), "a flip at byte {at} restored");
        assert!(!target.exists(), "a flip at byte {at} left the target");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("from-damaged"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

fn a_backups_signed_manifest_catches_a_changed_added_or_removed_file_and_another_audit_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = loaded(tmp.path());
    let d = data.to_str().unwrap();
    let backup = tmp.path().join("backup");
    let out = leakwatch(&["backup", "--data", d, backup.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: this backup is not encrypted"),
        "{stderr}"
    );
    // The manifest lists every file with its size and SHA-256 (checked here with sha2).
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("backup-manifest.json")).unwrap())
            .unwrap();
    let listed = manifest["files"].as_array().unwrap();
    let on_disk: Vec<String> = file_listing(&backup)
        .into_keys()
        .filter(|n| !n.starts_with("backup-manifest"))
        .collect();
    let mut names: Vec<String> = listed
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, on_disk);
    for f in listed {
        use sha2::Digest;
        let bytes = std::fs::read(backup.join(f["path"].as_str().unwrap())).unwrap();
        let hex: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(f["sha256"], hex.as_str());
        assert_eq!(f["bytes"], bytes.len());
    }

    let restore = |from: &Path, env: &[(&str, &str)]| {
        let target = tmp.path().join("target");
        let _ = std::fs::remove_dir_all(&target);
        let out = Command::new(bin())
            .args(["restore", "--data"])
            .arg(&target)
            .arg(from)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let exists = target.exists();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            exists,
        )
    };
    let copy = |name: &str| -> std::path::PathBuf {
        let to = tmp.path().join(name);
        Command::new("cp")
            .arg("-r")
            .arg(&backup)
            .arg(&to)
            .status()
            .unwrap();
        to
    };
    let (ok, err, _) = restore(&backup, &[]);
    assert!(ok, "{err}");
    // The catalogue changed (a byte past its header, where SQLite's own page checksum may not
    // look yet): caught by the manifest, named.
    let changed = copy("changed");
    let mut db = std::fs::read(changed.join("catalog.db")).unwrap();
    let last = db.len() - 1;
    db[last] ^= 0x01;
    std::fs::write(changed.join("catalog.db"), db).unwrap();
    let (ok, err, wrote) = restore(&changed, &[]);
    assert!(
        !ok && !wrote && err.contains("catalog.db") && err.contains("signed manifest"),
        "{err}"
    );
    // A file added, a file removed.
    let added = copy("added");
    std::fs::write(added.join("store").join("extra.seg"), b"planted").unwrap();
    let (ok, err, wrote) = restore(&added, &[]);
    assert!(
        !ok && !wrote && err.contains("store/extra.seg") && err.contains("does not list"),
        "{err}"
    );
    let removed = copy("removed");
    std::fs::remove_file(removed.join("store").join("manifest")).unwrap();
    let (ok, err, wrote) = restore(&removed, &[]);
    assert!(
        !ok && !wrote && err.contains("store/manifest") && err.contains("lacks"),
        "{err}"
    );
    // The manifest edited to match a changed file: its signature no longer holds.
    let forged = copy("forged");
    let text = std::fs::read_to_string(forged.join("backup-manifest.json")).unwrap();
    std::fs::write(
        forged.join("backup-manifest.json"),
        text.replacen("\"bytes\": ", "\"bytes\": 1", 1),
    )
    .unwrap();
    let (ok, err, wrote) = restore(&forged, &[]);
    assert!(
        !ok && !wrote && err.contains("not signed by this audit key"),
        "{err}"
    );
    // The untouched backup under another audit key: refused too.
    let other = tmp.path().join("other.key");
    leakwatch(
        &["audit-key", "generate", "--out", other.to_str().unwrap()],
        None,
    );
    let (ok, err, wrote) = restore(
        &backup,
        &[("LEAKWATCH_AUDIT_KEY_FILE", other.to_str().unwrap())],
    );
    assert!(
        !ok && !wrote && err.contains("not signed by this audit key"),
        "{err}"
    );
}
