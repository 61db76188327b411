//! The holes a security review found (issue #18, docs/SECURITY.md), each tried as an attacker
//! or a careless operator would, and shown closed: a mistyped data path must not serve "never
//! leaked" to everyone, and an operator key readable by others is refused.

use std::os::unix::fs::PermissionsExt;

use crate::harness::Test;
use crate::support::*;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(serve_refuses_a_data_path_that_does_not_exist_and_creates_nothing),
        test!(async an_empty_data_directory_answers_503_until_the_first_import),
        test!(async a_sha1_only_store_answers_ntlm_ranges_with_503),
        test!(an_operator_key_file_readable_by_others_is_refused),
        test!(operator_key_generate_out_writes_a_private_file_that_opens),
    ]
}

/// Found: `serve --data /typo/path` created an empty data directory and answered every range
/// with an empty 200 ("never leaked") and `/readyz` with 200.
fn serve_refuses_a_data_path_that_does_not_exist_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let typo = tmp.path().join("typo").join("path");
    let out = try_leakwatch(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            typo.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success(), "serve started on a missing path");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a data directory") && stderr.trim().lines().count() == 1,
        "not one line saying why: {stderr}"
    );
    assert!(!tmp.path().join("typo").exists(), "serve created something");
}

/// An existing directory with nothing published (a fresh systemd `StateDirectory`) serves,
/// but is not ready and answers no range until an import publishes one.
async fn an_empty_data_directory_answers_503_until_the_first_import() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let state = app_state(&data);
    let (status, _, body) = get(&state, "/readyz", &[]).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    for uri in ["/range/5BAA6", "/range/8846F?mode=ntlm"] {
        let (status, _, body) = get(&state, uri, &[]).await;
        assert_eq!(status, 503, "{uri}: {}", String::from_utf8_lossy(&body));
        assert!(!body.is_empty(), "{uri}: 503 without a reason");
    }
    // The first import publishes; the same server is then ready and answers.
    let input = write(&tmp.path().join("pw.txt"), b"password\n");
    ingest_quiet(data.to_str().unwrap(), input.to_str().unwrap());
    state.store.reload_if_changed().unwrap();
    assert_eq!(get(&state, "/readyz", &[]).await.0, 200);
    let (status, _, body) = get(&state, "/range/5BAA6", &[]).await;
    assert_eq!(status, 200);
    // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8, an independent fact.
    assert!(
        String::from_utf8_lossy(&body).contains("1E4C9B93F3F0682250B6CF8331B7EE68FD8:1"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// A store that holds only SHA-1 hashes must not say "never leaked" about every NTLM hash.
async fn a_sha1_only_store_answers_ntlm_ranges_with_503() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A SHA-1 hash list (40 hex digits and a count), so no NTLM hash is made.
    let input = write(
        &tmp.path().join("sha1.txt"),
        b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3\n",
    );
    ingest_quiet(data.to_str().unwrap(), input.to_str().unwrap());
    let state = app_state(&data);
    assert_eq!(get(&state, "/readyz", &[]).await.0, 200);
    assert_eq!(get(&state, "/range/5BAA6", &[]).await.0, 200);
    let (status, _, body) = get(&state, "/range/8846F?mode=ntlm", &[]).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("NTLM"));
}

/// Found: a key file readable by group or others was accepted. It is refused, as ssh refuses
/// a private key, and accepted once it is 0600.
fn an_operator_key_file_readable_by_others_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let key = write(
        &tmp.path().join("operator.key"),
        b"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    );
    let list = |key: &std::path::Path| {
        try_leakwatch(
            &[
                "subscribe",
                "list",
                "--data",
                data.to_str().unwrap(),
                "--operator-key-file",
                key.to_str().unwrap(),
            ],
            None,
        )
    };
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = list(&key);
        assert!(!out.status.success(), "a {mode:o} key file was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("readable by others") && stderr.contains("chmod 600"),
            "{mode:o}: {stderr}"
        );
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = list(&key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `operator-key generate --out FILE` writes a new 0600 file that the commands accept, and
/// never overwrites an existing one.
fn operator_key_generate_out_writes_a_private_file_that_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("operator.key");
    let file = path.to_str().unwrap();
    leakwatch(&["operator-key", "generate", "--out", file], None);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key = std::fs::read_to_string(&path).unwrap();
    assert_eq!(key.trim().len(), 64);
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    let again = try_leakwatch(&["operator-key", "generate", "--out", file], None);
    assert!(!again.status.success(), "an existing key file was replaced");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key, "and kept");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    leakwatch(
        &[
            "subscribe",
            "list",
            "--data",
            data.to_str().unwrap(),
            "--operator-key-file",
            file,
        ],
        None,
    );
}
