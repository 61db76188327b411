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

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(backups_taken_during_an_import_while_serving_restore_to_what_was_published),
        test!(restore_refuses_a_damaged_backup_and_a_directory_in_use),
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
