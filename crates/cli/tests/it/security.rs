//! The holes a security review found (issue #18, docs/SECURITY.md), each tried as an attacker
//! or a careless operator would, and shown closed: a mistyped data path must not serve "never
//! leaked" to everyone, and an operator key readable by others is refused.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{Need, Test};
use crate::support::*;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(serve_refuses_a_data_path_that_does_not_exist_and_creates_nothing),
        test!(async an_empty_data_directory_answers_503_until_the_first_import),
        test!(async a_sha1_only_store_answers_ntlm_ranges_with_503),
        test!(an_operator_key_file_readable_by_others_is_refused),
        test!(operator_key_generate_out_writes_a_private_file_that_opens),
        test!(the_operator_key_comes_from_a_file_not_the_environment),
        test!(webhooks_go_only_to_public_https_hosts_vetted_again_at_delivery)
            .needs(&[Need::Aiosmtpd, Need::Dnslib]),
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

/// Found (finding 5): any `http://` or `https://` webhook URL was taken — loopback, RFC 1918,
/// the cloud metadata address — and a verified key could change it unnoticed. Now: https to
/// public addresses only, vetted at registration and again, with a fresh lookup, at
/// delivery (the call goes to the vetted address); a change is mailed to the old contact.
fn webhooks_go_only_to_public_https_hosts_vetted_again_at_delivery() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    crate::mail::load_breach(tmp.path(), &data, "Oldbank", &["x@elsewhere.test"]);
    let key = crate::keys::create_tenant_key(d, "corp", "corp");
    // Something that would take the call if it were made: any connection counts.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_port = trap.local_addr().unwrap().port();
    let dns_port = free_port();
    let zone =
        |hook_ip: &str| format!("evil.test. 0 IN A 127.0.0.1\nhook.test. 0 IN A {hook_ip}\n");
    let dns = DnsServer::start_on(tmp.path(), dns_port, &zone("198.51.100.7"));
    let resolver = format!("127.0.0.1:{dns_port}");
    let args = [
        "--smtp-url",
        &smtp.url(),
        "--mail-retry-after",
        "1",
        "--dns-resolver",
        &resolver,
    ];
    let server = Server::start_with(&data, &args, &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let addr = server.addr.as_str();
    let register = |url: &str, contact: &str| {
        let body = serde_json::json!({"domain": "corp.test", "contact": contact,
            "webhook": {"url": url, "secret": "a webhook secret of some length"}});
        crate::mail::keyed(addr, "POST", "/api/v1/domains", &key, &body.to_string())
    };
    for url in [
        "http://127.0.0.1/".to_owned(),
        "https://10.0.0.1/".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::1]/".to_owned(),
        "https://[::ffff:127.0.0.1]/".to_owned(),
        format!("https://evil.test:{trap_port}/hook"),
    ] {
        let (status, _, reason) = register(&url, "soc@corp.test");
        let reason = reason.as_str().unwrap_or_default().to_owned();
        assert_eq!(status, 400, "{url}: {reason}");
        assert!(
            reason.lines().count() == 1
                && (reason.contains("https://") || reason.contains("public")),
            "{url}: {reason:?}"
        );
    }
    // A public name is taken; the domain is verified.
    let hook = format!("https://hook.test:{trap_port}/hook");
    let (status, _, reg) = register(&hook, "soc@corp.test");
    assert_eq!(status, 201, "{reg}");
    operator_cli(
        &data,
        &[
            "domain",
            "verify",
            "corp.test",
            "--trust",
            "--tenant",
            "corp",
        ],
    );
    // Redirecting the alerts (here the contact) is mailed to the contact it had.
    let (status, _, _) = register(&hook, "new@corp.test");
    assert_eq!(status, 201);
    let mails = smtp.wait_for(1, 30);
    let told = crate::mail::mails_to(&mails, "soc@corp.test");
    assert_eq!(told.len(), 1, "{mails:#?}");
    let body = told[0]["body"].as_str().unwrap();
    assert!(
        body.contains("new@corp.test") && body.contains(&hook) && body.contains("corp"),
        "{body}"
    );

    // The name now points at loopback (TTL 0; leakwatch caches nothing): the alert of a new
    // breach is composed, vetted again, and not sent anywhere.
    drop(dns);
    let _dns = DnsServer::start_on(tmp.path(), dns_port, &zone("127.0.0.1"));
    crate::mail::load_breach(tmp.path(), &data, "Newbank", &["ann@corp.test"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !server
        .log
        .lock()
        .unwrap()
        .contains("refused by the egress guard")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no refusal logged: {}",
            server.log.lock().unwrap()
        );
        assert!(
            trap.accept().is_err(),
            "the webhook call was made to loopback"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        trap.accept().is_err(),
        "the webhook call was made to loopback"
    );
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains("ann@corp.test"), "an address in the log");
}

/// Found (finding 8): the operator key could come from an environment variable, which
/// `/proc/PID/environ`, crash reports and child processes show. Now it is read only behind
/// the test setting, and refused with the way to do it otherwise.
fn the_operator_key_comes_from_a_file_not_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    crate::mail::load_breach(tmp.path(), &data, "Somebank", &["ann@example.test"]);
    let check = |env: &[(&str, &str)], args: &[&str]| {
        std::process::Command::new(bin())
            .args([
                "check",
                "domain",
                "example.test",
                "--data",
                data.to_str().unwrap(),
            ])
            .args(args)
            .env_remove("LEAKWATCH_INSECURE_OPERATOR_KEY_ENV")
            .env_remove("LEAKWATCH_OPERATOR_KEY")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let refused = check(&[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)], &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--operator-key-file") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
    // The README's form: a file only its owner reads.
    let file = tmp.path().join("operator.key");
    leakwatch(
        &["operator-key", "generate", "--out", file.to_str().unwrap()],
        None,
    );
    std::fs::write(&file, format!("{OPERATOR_KEY}\n")).unwrap();
    let from_file = check(&[], &["--operator-key-file", file.to_str().unwrap()]);
    assert!(
        from_file.status.success(),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );
    assert!(String::from_utf8_lossy(&from_file.stdout).contains("ann"));
    // The test setting, and only it, lets the variable through.
    let setting = [
        ("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY),
        ("LEAKWATCH_INSECURE_OPERATOR_KEY_ENV", "1"),
    ];
    assert!(check(&setting, &[]).status.success());
}
