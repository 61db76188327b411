//! Mail: the private check (`POST /api/v1/check-by-mail`) and the outbox, against a real
//! SMTP server on loopback (aiosmtpd, `tests/py/smtp_sink.py`) whose messages are parsed by
//! Python's `email` package, not by anything of leakwatch's.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(private_check_mails_the_result_to_that_address_only_and_answers_identically).needs(&[Need::Aiosmtpd]),
        test!(a_busy_mail_server_delays_the_mail_but_it_arrives_once).needs(&[Need::Aiosmtpd]),
        test!(a_mail_server_that_is_down_gets_the_mail_once_it_is_up).needs(&[Need::Aiosmtpd]),
        test!(an_owner_hides_an_address_by_the_mailed_link_and_its_button).needs(&[Need::Aiosmtpd]),
        test!(an_opt_out_during_an_import_hides_at_once_survives_a_restart_and_is_published_after).needs(&[Need::Aiosmtpd]),
        test!(without_mail_set_up_the_private_check_answers_503),
        test!(alerts_reach_each_subscriber_once_also_when_the_server_is_killed_midway).needs(&[Need::Aiosmtpd]),
        test!(alerts_survive_twenty_kills_at_random_instants_and_arrive_once_per_message_id).needs(&[Need::Aiosmtpd]),
        test!(domains_are_verified_by_dns_or_role_mail_then_searched_listed_and_alerted).needs(&[Need::Aiosmtpd, Need::Dnslib]),
        test!(a_generated_breach_alerts_three_addresses_by_mail_and_a_domain_by_webhook_once_each_across_a_kill).needs(&[Need::Aiosmtpd]),
        test!(mail_goes_over_starttls_and_implicit_tls_to_a_server_with_a_private_ca).needs(&[Need::Aiosmtpd, Need::Openssl]),
        test!(a_revoked_keys_domains_get_no_alert_mail_and_no_webhook).needs(&[Need::Aiosmtpd]),
    ]
}

/// A data directory with one breach, "Fictobank", holding the given addresses.
pub(crate) fn data_with_breach(dir: &Path, addresses: &[&str]) -> PathBuf {
    let data = dir.join("data");
    add_breach(
        &data,
        "Fictobank",
        &[
            "--title",
            "Fictobank",
            "--domain",
            "fictobank.example",
            "--data-classes",
            "Email addresses,Passwords,Geographic locations",
        ],
    );
    let dump: String = addresses.iter().map(|a| format!("{a}:hunter2\n")).collect();
    let file = write(&dir.join("dump.txt"), dump.as_bytes());
    ingest_dump(&data, &file, "Fictobank", &[]);
    data
}

fn post_check(addr: &str, content_type: &str, body: &str) -> Vec<u8> {
    http_raw(
        addr,
        "POST",
        "/api/v1/check-by-mail",
        &[("Content-Type", content_type)],
        body.as_bytes(),
    )
}

/// The response without its Date header, which changes by the second.
fn without_date(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

pub(crate) fn mails_to<'a>(mails: &'a [serde_json::Value], to: &str) -> Vec<&'a serde_json::Value> {
    mails
        .iter()
        .filter(|m| m["rcpt_tos"] == serde_json::json!([to]))
        .collect()
}

fn private_check_mails_the_result_to_that_address_only_and_answers_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = data_with_breach(tmp.path(), &["alice@example.test", "bob@example.test"]);
    let server = Server::start_with(
        &data,
        &[
            "--smtp-url",
            &smtp.url(),
            "--mail-from",
            "leakwatch <alerts@leakwatch.test>",
            "--public-url",
            "https://leakwatch.test",
        ],
        &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();

    // Breached and unbreached: the same response, byte for byte (Date aside).
    let breached = post_check(
        addr,
        "application/json",
        r#"{"email":" Alice@Example.TEST "}"#,
    );
    let clean = post_check(
        addr,
        "application/json",
        r#"{"email":"carol@example.test"}"#,
    );
    assert!(
        breached.starts_with(b"HTTP/1.1 202"),
        "{}",
        String::from_utf8_lossy(&breached)
    );
    assert_eq!(without_date(&breached), without_date(&clean));
    let form = post_check(
        addr,
        "application/x-www-form-urlencoded",
        "email=dave%40example.test",
    );
    assert_eq!(without_date(&form), without_date(&clean));

    // Bad requests: a reason, and no mail.
    for (ct, body, status) in [
        ("application/json", r#"{"email":"not an address"}"#, 400),
        ("application/json", r#"{"mail":"alice@example.test"}"#, 400),
        ("text/plain", "alice@example.test", 415),
    ] {
        let (got, _, reason) = parse_response(&post_check(addr, ct, body));
        assert_eq!(got, status, "{body}");
        assert!(!reason.is_empty());
    }

    let mails = smtp.wait_for(3, 30);
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let alice = mails_to(&mails, "alice@example.test");
    assert_eq!(alice.len(), 1, "{mails:#?}");
    let body = alice[0]["body"].as_str().unwrap();
    assert!(body.contains("appears in 1 data breach:"), "{body}");
    assert!(
        body.contains("Fictobank (fictobank.example, 2024-03-04)"),
        "{body}"
    );
    assert!(
        body.contains("Email addresses, Geographic locations, Passwords"),
        "{body}"
    );
    assert!(body.contains("https://leakwatch.test"), "{body}");
    for clean in ["carol@example.test", "dave@example.test"] {
        let got = mails_to(&mails, clean);
        assert_eq!(got.len(), 1, "{clean}: {mails:#?}");
        let body = got[0]["body"].as_str().unwrap();
        assert!(body.contains("not in any of the 1 breaches"), "{body}");
        assert!(!body.contains("Fictobank"), "{body}");
    }
    for m in &mails {
        assert_eq!(m["subject"], "Your leakwatch check");
        assert_eq!(m["mail_from"], "alerts@leakwatch.test");
        assert!(
            m["message_id"]
                .as_str()
                .unwrap()
                .ends_with("@leakwatch.test>")
        );
    }
    assert!(
        mails_to(&mails, "bob@example.test").is_empty(),
        "only who asked gets mail"
    );

    // Per address: 3 a day. Alice asked once; twice more pass, the fourth is refused.
    for _ in 0..2 {
        let r = post_check(
            addr,
            "application/json",
            r#"{"email":"alice@example.test"}"#,
        );
        assert_eq!(without_date(&r), without_date(&clean));
    }
    let (status, headers, _) = parse_response(&post_check(
        addr,
        "application/json",
        r#"{"email":"alice@example.test"}"#,
    ));
    assert_eq!(status, 429);
    assert!(headers["retry-after"].parse::<u64>().unwrap() > 0);
    // Per client IP: 10 an hour. Six taken so far: the refused fourth check of alice's
    // counts for the client, the 400s and the 415 (refused before the limits) do not.
    for i in 0..4 {
        let r = post_check(
            addr,
            "application/json",
            &format!(r#"{{"email":"p{i}@example.test"}}"#),
        );
        assert!(
            r.starts_with(b"HTTP/1.1 202"),
            "{}",
            String::from_utf8_lossy(&r)
        );
    }
    let (status, _, _) = parse_response(&post_check(
        addr,
        "application/json",
        r#"{"email":"p9@example.test"}"#,
    ));
    assert_eq!(status, 429);
    assert_eq!(smtp.wait_for(9, 30).len(), 9);
    // The outbox's states are exported for monitoring.
    let (_, _, metrics) = http_get(&server.metrics_addr, "/metrics", &[]);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("leakwatch_outbox_notifications{state=\"delivered\"} 9")
            && metrics.contains("leakwatch_outbox_notifications{state=\"pending\"} 0"),
        "{metrics}"
    );

    // Neither the log nor the data directory holds a queried address in clear.
    let log = server.log.lock().unwrap().clone();
    drop(server);
    for needle in ["alice", "carol", "dave", "example.test"] {
        assert!(!log.contains(needle), "{needle} in the log: {log}");
    }
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for needle in [&b"carol@"[..], b"dave@", b"p0@example"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{} holds {}",
                    path.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
}

fn a_busy_mail_server_delays_the_mail_but_it_arrives_once() {
    let tmp = tempfile::tempdir().unwrap();
    // The first two attempts are refused with 451 (try again later).
    let smtp = SmtpSink::start(tmp.path(), 2);
    let data = data_with_breach(tmp.path(), &["alice@example.test"]);
    let server = Server::start_with(
        &data,
        &["--smtp-url", &smtp.url(), "--mail-retry-after", "1"],
        &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
    );
    let r = post_check(
        &server.addr,
        "application/json",
        r#"{"email":"alice@example.test"}"#,
    );
    assert!(r.starts_with(b"HTTP/1.1 202"));
    let mails = smtp.wait_for(1, 30);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(
        mails[0]["rcpt_tos"],
        serde_json::json!(["alice@example.test"])
    );
}

/// The mail server is down (nothing listens on its port) when the mail is queued: the
/// delivery waits, retrying, and arrives once the server is up.
fn a_mail_server_that_is_down_gets_the_mail_once_it_is_up() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let data = data_with_breach(tmp.path(), &["alice@example.test"]);
    let url = format!("smtp://127.0.0.1:{port}");
    let server = Server::start_with(
        &data,
        &["--smtp-url", &url, "--mail-retry-after", "1"],
        &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
    );
    let r = post_check(
        &server.addr,
        "application/json",
        r#"{"email":"alice@example.test"}"#,
    );
    assert!(r.starts_with(b"HTTP/1.1 202"));
    // Down for three seconds: the first attempts find nothing listening.
    std::thread::sleep(Duration::from_secs(3));
    let smtp = SmtpSink::start_on(tmp.path(), port, &[]);
    let mails = smtp.wait_for(1, 60);
    assert_eq!(mails.len(), 1, "{mails:#?}\n{}", server.log.lock().unwrap());
    assert_eq!(
        mails[0]["rcpt_tos"],
        serde_json::json!(["alice@example.test"])
    );
}

/// The owner's opt-out: a request mails a link (the same answer for any address); the link
/// shows a button and hides nothing by itself; pressing it hides the address from account
/// search at once, and nobody else's.
fn an_owner_hides_an_address_by_the_mailed_link_and_its_button() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = data_with_breach(tmp.path(), &["alice@example.test", "bob@example.test"]);
    let d = data.to_str().unwrap();
    let api_key = crate::keys::create_key(d, "t", "100000");
    let server = Server::start_with(
        &data,
        &["--smtp-url", &smtp.url(), "--mail-retry-after", "1"],
        &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
    );
    let search = |who: &str| {
        let path = format!("/api/v3/breachedaccount/{}", who.replace('@', "%40"));
        let headers = [
            ("hibp-api-key", api_key.as_str()),
            ("User-Agent", "opt-out-test"),
        ];
        http_get(&server.addr, &path, &headers).0
    };
    assert_eq!(
        (search("alice@example.test"), search("bob@example.test")),
        (200, 200)
    );

    let ask = |body: &str| {
        let r = http_raw(
            &server.addr,
            "POST",
            "/api/v1/opt-out",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let (status, _, body) = parse_response(&r);
        (status, body)
    };
    let (status, answer) = ask(r#"{"email":"Alice@Example.test"}"#);
    assert_eq!(status, 202);
    assert_eq!(
        ask(r#"{"email":"nobody@example.test"}"#),
        (202, answer.clone())
    );

    let mails = smtp.wait_for(2, 30);
    let to_alice = mails
        .iter()
        .find(|m| m["rcpt_tos"] == serde_json::json!(["alice@example.test"]))
        .unwrap_or_else(|| panic!("{mails:#?}"));
    assert_eq!(
        to_alice["subject"],
        "Confirm: hide this address in leakwatch"
    );
    let link = link_in(
        to_alice["body"].as_str().unwrap(),
        "/api/v1/opt-out/confirm?token=",
    );
    let (status, _, page) = http_get(&server.addr, &link, &[]);
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert_eq!(
        search("alice@example.test"),
        200,
        "opening the link hides nothing"
    );

    let token = link.split("token=").nth(1).unwrap();
    let confirm = |token: &str| {
        let r = http_raw(
            &server.addr,
            "POST",
            "/api/v1/opt-out/confirm",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            format!("token={token}").as_bytes(),
        );
        parse_response(&r).0
    };
    assert_eq!(confirm("00ff"), 400, "a forged token is refused");
    assert_eq!(confirm(token), 200);
    assert_eq!(search("alice@example.test"), 404, "hidden at once");
    assert_eq!(search("bob@example.test"), 200);
    let checked = String::from_utf8(
        leakwatch(
            &["check", "account", "--data", d, "alice@example.test"],
            None,
        )
        .stdout,
    )
    .unwrap();
    assert!(checked.contains("not found"), "{checked}");
}

/// An opt-out confirmed while an import holds the store's writer lock: the address is hidden
/// from every answer at once, stays hidden across a server restart (the pending erasure is on
/// disk), and is published as soon as the import is done.
fn an_opt_out_during_an_import_hides_at_once_survives_a_restart_and_is_published_after() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = data_with_breach(tmp.path(), &["alice@example.test", "bob@example.test"]);
    let d = data.to_str().unwrap();
    let api_key = crate::keys::create_key(d, "t", "100000");
    let args = ["--smtp-url", &smtp.url(), "--mail-retry-after", "1"];
    let env = [("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)];
    let mut server = Server::start_with(&data, &args, &env);
    let search = |server: &Server, who: &str| {
        let path = format!("/api/v3/breachedaccount/{}", who.replace('@', "%40"));
        let headers = [
            ("hibp-api-key", api_key.as_str()),
            ("User-Agent", "opt-out-test"),
        ];
        http_get(&server.addr, &path, &headers).0
    };
    let r = http_raw(
        &server.addr,
        "POST",
        "/api/v1/opt-out",
        &[("Content-Type", "application/json")],
        br#"{"email":"alice@example.test"}"#,
    );
    assert_eq!(parse_response(&r).0, 202);
    let mails = smtp.wait_for(1, 30);
    let link = link_in(
        mails[0]["body"].as_str().unwrap(),
        "/api/v1/opt-out/confirm?token=",
    );
    let token = link.split("token=").nth(1).unwrap().to_owned();

    // An import takes the writer lock (its status file appears once it holds it).
    let (mut import, stdin) = running_import(&data, 2_000);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("import-status.json").exists() {
        assert!(Instant::now() < deadline, "the import never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = http_raw(
        &server.addr,
        "POST",
        "/api/v1/opt-out/confirm",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("token={token}").as_bytes(),
    );
    assert_eq!(parse_response(&r).0, 200);
    assert_eq!(search(&server, "alice@example.test"), 404, "hidden at once");
    assert_eq!(search(&server, "bob@example.test"), 200);
    let pending = data.join("pending-forget.txt");
    let alice_key = account_key("alice@example.test")
        .to_hex(leakwatch_store::Namespace::Account)
        .to_ascii_lowercase();
    assert_eq!(std::fs::read_to_string(&pending).unwrap().trim(), alice_key);
    let check = |who: &str| {
        String::from_utf8(leakwatch(&["check", "account", "--data", d, who], None).stdout).unwrap()
    };
    assert!(
        !check("alice@example.test").contains("not found"),
        "not published while the import holds the store"
    );

    // A restart meanwhile keeps it hidden.
    drop(server);
    server = Server::start_with(&data, &args, &env);
    assert_eq!(
        search(&server, "alice@example.test"),
        404,
        "hidden after a restart"
    );

    // The import ends; the server publishes the erasure.
    drop(stdin);
    assert!(import.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while pending.exists() {
        assert!(
            Instant::now() < deadline,
            "the pending erasure was never published"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(check("alice@example.test").contains("not found"));
    assert!(!check("bob@example.test").contains("not found"));
    assert_eq!(search(&server, "alice@example.test"), 404);
    assert_eq!(search(&server, "bob@example.test"), 200);
}

fn without_mail_set_up_the_private_check_answers_503() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_with_breach(tmp.path(), &["alice@example.test"]);
    let server = Server::start(&data);
    let (status, _, reason) = parse_response(&post_check(
        &server.addr,
        "application/json",
        r#"{"email":"alice@example.test"}"#,
    ));
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&reason).contains("not set up"));
}

/// The path and query of the first link in a mail body that starts with `{public}{path}`.
pub(crate) fn link_in(body: &str, path: &str) -> String {
    let start = body
        .find(path)
        .unwrap_or_else(|| panic!("no {path} link in {body}"));
    body[start..].split_whitespace().next().unwrap().to_owned()
}

pub(crate) fn subjects_to(mails: &[serde_json::Value], prefix: &str) -> Vec<String> {
    let mut to: Vec<String> = mails
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().starts_with(prefix))
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    to
}

/// Adds breach NAME and imports a dump of `addresses` (plus 200 generated bystanders) into it.
pub(crate) fn load_breach(dir: &Path, data: &Path, name: &str, addresses: &[&str]) {
    add_breach(
        data,
        name,
        &[
            "--title",
            name,
            "--domain",
            &format!("{}.example", name.to_lowercase()),
        ],
    );
    let mut dump: String = addresses
        .iter()
        .map(|a| format!("{a}:pw-{name}\n"))
        .collect();
    for i in 0..200 {
        dump.push_str(&format!("bystander{i}@elsewhere.test:pw{i}\n"));
    }
    let file = write(&dir.join(format!("{name}.txt")), dump.as_bytes());
    ingest_dump(data, &file, name, &[]);
}

fn alerts_reach_each_subscriber_once_also_when_the_server_is_killed_midway() {
    let tmp = tempfile::tempdir().unwrap();
    // Each recipient is held 1 s before the server accepts it, so the kill below lands
    // while alerts are being delivered.
    let smtp = SmtpSink::start_slow(tmp.path(), 0, 1.0);
    let subscribers = ["ann@example.test", "ben@example.test", "cat@example.test"];
    // An old breach that already holds ann: loaded before anyone subscribed, never alerted.
    let data = data_with_breach(tmp.path(), &["ann@example.test"]);
    let args = ["--smtp-url", &smtp.url(), "--mail-retry-after", "1"];
    let env = [("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)];
    let mut server = Server::start_with(&data, &args, &env);

    // Subscribe three addresses and a fourth that unsubscribes again; confirm each by the
    // link in its mail.
    for who in subscribers.iter().chain(&["dan@example.test"]) {
        let r = http_raw(
            &server.addr,
            "POST",
            "/api/v1/subscriptions",
            &[("Content-Type", "application/json")],
            format!(r#"{{"email":"{who}"}}"#).as_bytes(),
        );
        assert!(
            r.starts_with(b"HTTP/1.1 202"),
            "{}",
            String::from_utf8_lossy(&r)
        );
    }
    let mails = smtp.wait_for(4, 30);
    assert_eq!(
        subjects_to(&mails, "Confirm your leakwatch alerts").len(),
        4,
        "{mails:#?}"
    );
    for m in &mails {
        let link = link_in(
            m["body"].as_str().unwrap(),
            "/api/v1/subscriptions/confirm?token=",
        );
        let (status, headers, page) = http_get(&server.addr, &link, &[]);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&page));
        assert!(headers["content-type"].starts_with("text/html"));
        // Every link page carries the strict CSP and sends no Referer (issue #18, finding 7).
        assert!(headers["content-security-policy"].contains("default-src 'none'"));
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
    // A forged or damaged token is refused.
    let (status, _, _) = http_get(
        &server.addr,
        "/api/v1/subscriptions/confirm?token=00ff",
        &[],
    );
    assert_eq!(status, 400);

    // A new breach with all four and 200 bystanders: one alert each for the three.
    let dan_unsubscribes = {
        load_breach(tmp.path(), &data, "Danbank", &["dan@example.test"]);
        let mails = smtp.wait_for(5, 30);
        let dan: Vec<_> = mails
            .iter()
            .filter(|m| m["subject"] == "leakwatch alert: Danbank")
            .collect();
        assert_eq!(dan.len(), 1, "{mails:#?}");
        assert_eq!(dan[0]["rcpt_tos"], serde_json::json!(["dan@example.test"]));
        let header = dan[0]["list_unsubscribe"].as_str().unwrap().to_owned();
        let body_link = link_in(
            dan[0]["body"].as_str().unwrap(),
            "/api/v1/unsubscribe?token=",
        );
        assert!(header.contains(&body_link), "{header} vs {body_link}");
        body_link
    };
    // The link opens a page with a button; the GET unsubscribes nobody (a mail scanner
    // follows links).
    let (status, headers, page) = http_get(&server.addr, &dan_unsubscribes, &[]);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("method=\"post\""));
    assert!(headers["content-security-policy"].contains("default-src 'none'"));
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let listed = operator_cli(&data, &["subscribe", "list"]);
    assert_eq!(
        listed.lines().filter(|l| l.ends_with("\t-")).count(),
        4,
        "a GET unsubscribed: {listed}"
    );
    // RFC 8058 one-click: a POST to the link unsubscribes.
    let r = http_raw(
        &server.addr,
        "POST",
        &dan_unsubscribes,
        &[],
        b"List-Unsubscribe=One-Click",
    );
    assert!(
        r.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&r)
    );

    // The operator subscribes eve directly, and lists everyone.
    let operator = |args: &[&str]| operator_cli(&data, args);
    operator(&["subscribe", "add", "Eve@Example.test"]);
    let listed = operator(&["subscribe", "list"]);
    for who in ["ann", "ben", "cat", "dan", "eve"] {
        assert!(
            listed.contains(&format!("\t{who}@example.test\t{who}@example.test\t20")),
            "{listed}"
        );
    }
    assert_eq!(
        listed.lines().filter(|l| l.ends_with("\t-")).count(),
        4,
        "dan unsubscribed: {listed}"
    );

    let before = smtp.messages().len();
    let rcpts_before = smtp.rcpts();
    load_breach(
        tmp.path(),
        &data,
        "Newbank",
        &[
            "ann@example.test",
            "ben@example.test",
            "cat@example.test",
            "dan@example.test",
            "eve@example.test",
        ],
    );
    // Kill -9 mid-way: once the first alert is delivered and the second is being sent
    // (its recipient held by the slow server, so not accepted yet); then start again.
    smtp.wait_for_rcpts(rcpts_before + 2, 30);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let killed_log = server.log.clone();
    let delivered_before_kill = smtp.messages().len() - before;
    let server = Server::start_with(&data, &args, &env);
    let mails = smtp.wait_for(before + 4, 60);
    let alerts = subjects_to(&mails, "leakwatch alert: Newbank");
    let mut expected = subscribers.to_vec();
    expected.push("eve@example.test");
    assert_eq!(
        alerts,
        expected,
        "once each, killed after {delivered_before_kill}: {mails:#?}\nbefore the kill:\n{}\nafter:\n{}",
        killed_log.lock().unwrap(),
        server.log.lock().unwrap()
    );
    let ids: BTreeSet<&str> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), mails.len(), "no message sent twice");
    assert!(
        subjects_to(&mails, "leakwatch alert: Fictobank").is_empty(),
        "old breaches are not alerted"
    );
    let body = mails
        .iter()
        .find(|m| m["subject"] == "leakwatch alert: Newbank")
        .unwrap()["body"]
        .as_str()
        .unwrap();
    assert!(body.contains("Your address is in it."), "{body}");
    drop(server);
}

/// kill -9 at twenty instants spread pseudo-randomly over the delivery of 40 alerts (the
/// first run queues them, each later run resumes the outbox), then one run to the end: every
/// subscriber gets the alert, and a message is sent more than once only in RFC 1047's window
/// (accepted by the mail server, killed before the outbox recorded it) — then with the same
/// Message-ID, so the receiver can drop the copy.
fn alerts_survive_twenty_kills_at_random_instants_and_arrive_once_per_message_id() {
    let tmp = tempfile::tempdir().unwrap();
    // 50 ms per recipient: delivering all 40 takes 2 s, more than the twenty runs get.
    let smtp = SmtpSink::start_slow(tmp.path(), 0, 0.05);
    let data = data_with_breach(tmp.path(), &[]);
    let subscribers: Vec<String> = (0..40).map(|i| format!("sub{i:02}@example.test")).collect();
    for who in &subscribers {
        operator_cli(&data, &["subscribe", "add", who]);
    }
    let refs: Vec<&str> = subscribers.iter().map(String::as_str).collect();
    load_breach(tmp.path(), &data, "Killbank", &refs);

    let args = ["--smtp-url", &smtp.url(), "--mail-retry-after", "1"];
    let env = [("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut delivered_at_kill = Vec::new();
    for run in 0..20 {
        let mut server = Server::start_with(&data, &args, &env);
        // The first run queues the 40 alerts before it sends any: on a loaded machine that
        // alone took longer than 150 ms, and five kills landed before the first mail (a
        // flake seen once). So the first run is killed only once a delivery is under way.
        if run == 0 {
            smtp.wait_for_rcpts(1, 30);
        }
        // xorshift: 0 to 150 ms after the server is ready, reproducibly.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 150));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        delivered_at_kill.push(smtp.messages().len());
    }
    let server = Server::start_with(&data, &args, &env);
    let deadline = Instant::now() + Duration::from_secs(120);
    let alerts = |mails: &[serde_json::Value]| -> BTreeSet<String> {
        subjects_to(mails, "leakwatch alert: Killbank")
            .into_iter()
            .collect()
    };
    let mut mails = smtp.messages();
    while alerts(&mails).len() < subscribers.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        mails = smtp.messages();
    }
    let want: BTreeSet<String> = subscribers.iter().cloned().collect();
    assert_eq!(
        alerts(&mails),
        want,
        "delivered so far at each kill: {delivered_at_kill:?}\n{}",
        server.log.lock().unwrap()
    );
    // Copies of one alert share its Message-ID; distinct alerts never do.
    let mut ids_per_recipient: std::collections::BTreeMap<String, BTreeSet<String>> =
        Default::default();
    let killbank: Vec<_> = mails
        .iter()
        .filter(|m| m["subject"] == "leakwatch alert: Killbank")
        .collect();
    for m in &killbank {
        ids_per_recipient
            .entry(m["rcpt_tos"][0].as_str().unwrap().to_owned())
            .or_default()
            .insert(m["message_id"].as_str().unwrap().to_owned());
    }
    assert!(
        ids_per_recipient.values().all(|ids| ids.len() == 1),
        "{ids_per_recipient:#?}"
    );
    let copies = killbank.len() - subscribers.len();
    // Each killed run can leave at most its one message in flight. How many kills land in
    // the window depends on timing, so it is reported, not asserted (measured on a quiet
    // machine: 0 or 1 since TCP_NODELAY, 11 before; see docs/SECURITY.md).
    assert!(copies <= 20, "{copies} copies for 20 kills");
    eprintln!(
        "20 kills (delivered at each: {delivered_at_kill:?}); {copies} copies in RFC 1047's window"
    );
    let during = delivered_at_kill
        .windows(2)
        .filter(|w| w[0] < w[1] && w[1] < subscribers.len())
        .count();
    assert!(
        during >= 10,
        "only {during} kills landed while alerts were going out: {delivered_at_kill:?}"
    );
}

pub(crate) fn keyed(
    addr: &str,
    method: &str,
    path: &str,
    key: &str,
    body: &str,
) -> (
    u16,
    std::collections::BTreeMap<String, String>,
    serde_json::Value,
) {
    let raw = http_raw(
        addr,
        method,
        path,
        &[
            ("hibp-api-key", key),
            ("User-Agent", "leakwatch-tests"),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    let (status, headers, body) = parse_response(&raw);
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, headers, json)
}

fn domains_are_verified_by_dns_or_role_mail_then_searched_listed_and_alerted() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = data_with_breach(
        tmp.path(),
        &["ann@corp.test", "bob@corp.test", "eve@elsewhere.test"],
    );
    let d = data.to_str().unwrap();
    let key = crate::keys::create_key(d, "corp soc", "100");
    let other_key = crate::keys::create_key(d, "someone else", "100");
    // The record is published once its value is known; the resolver is set up front.
    let dns_port = free_udp_port();
    let dns_addr = format!("127.0.0.1:{dns_port}");
    let server = Server::start_with(
        &data,
        &["--smtp-url", &smtp.url(), "--dns-resolver", &dns_addr],
        &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();

    let (status, _, reg) = keyed(
        addr,
        "POST",
        "/api/v1/domains",
        &key,
        r#"{"domain":"Corp.Test","contact":"soc@corp.test"}"#,
    );
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["Domain"], "corp.test");
    assert_eq!(reg["Verified"], false);
    let record = reg["DnsTxtRecord"].as_str().unwrap().to_owned();
    assert!(record.starts_with("leakwatch-verify="), "{record}");
    assert_eq!(reg["VerificationAddresses"][0], "security@corp.test");

    // Not verified yet: no search; and no DNS server answers yet either.
    let (status, _, _) = keyed(addr, "GET", "/api/v3/breacheddomain/corp.test", &key, "");
    assert_eq!(status, 403);
    let (status, _, _) = keyed(
        addr,
        "POST",
        "/api/v1/domains/corp.test/verify",
        &key,
        r#"{"method":"dns"}"#,
    );
    assert_eq!(status, 503, "resolver down");

    // A zone with the wrong record first, then the right one.
    {
        let _dns = DnsServer::start_on(
            tmp.path(),
            dns_port,
            "corp.test. 60 IN TXT \"leakwatch-verify=0000\"\n",
        );
        let (status, _, reason) = keyed(
            addr,
            "POST",
            "/api/v1/domains/corp.test/verify",
            &key,
            r#"{"method":"dns"}"#,
        );
        assert_eq!(status, 409, "{reason}");
    }
    let _dns = DnsServer::start_on(
        tmp.path(),
        dns_port,
        &format!("corp.test. 60 IN TXT \"v=spf1 -all\"\ncorp.test. 60 IN TXT \"{record}\"\n"),
    );
    let (status, _, verified) = keyed(
        addr,
        "POST",
        "/api/v1/domains/corp.test/verify",
        &key,
        r#"{"method":"dns"}"#,
    );
    assert_eq!(
        (status, &verified["Verified"]),
        (200, &serde_json::json!(true)),
        "{verified}"
    );

    // Search: exactly the corp.test addresses of the dump, in HIBP's shape.
    let (status, _, found) = keyed(addr, "GET", "/api/v3/breacheddomain/corp.test", &key, "");
    assert_eq!(status, 200);
    assert_eq!(
        found,
        serde_json::json!({"ann": ["Fictobank"], "bob": ["Fictobank"]})
    );
    let (status, _, _) = keyed(
        addr,
        "GET",
        "/api/v3/breacheddomain/corp.test",
        &other_key,
        "",
    );
    assert_eq!(status, 403, "verified for one key only");
    let (status, _, list) = keyed(addr, "GET", "/api/v3/subscribeddomains", &key, "");
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["DomainName"], "corp.test");
    assert_eq!(list[0]["PwnCount"], 2);
    assert_eq!(list[0]["PwnCountExcludingSpamLists"], 2);
    let (_, _, none) = keyed(addr, "GET", "/api/v3/subscribeddomains", &other_key, "");
    assert_eq!(none, serde_json::json!([]));

    // Verification by mail to a role address, for another domain.
    let (status, _, _) = keyed(
        addr,
        "POST",
        "/api/v1/domains",
        &other_key,
        r#"{"domain":"other.test","contact":"it@other.test"}"#,
    );
    assert_eq!(status, 201);
    let (status, _, _) = keyed(
        addr,
        "POST",
        "/api/v1/domains/other.test/verify",
        &other_key,
        r#"{"method":"mail","address":"ceo@other.test"}"#,
    );
    assert_eq!(status, 400, "only role addresses");
    let (status, _, _) = keyed(
        addr,
        "POST",
        "/api/v1/domains/other.test/verify",
        &other_key,
        r#"{"method":"mail","address":"hostmaster@other.test"}"#,
    );
    assert_eq!(status, 202);
    let mails = smtp.wait_for(1, 30);
    let verify = mails_to(&mails, "hostmaster@other.test");
    assert_eq!(verify.len(), 1, "{mails:#?}");
    let link = link_in(
        verify[0]["body"].as_str().unwrap(),
        "/api/v1/domains/verify?token=",
    );
    // Issue #18, finding 3: the mail and the link's page name who asked (the key and the
    // contact), and following the link verifies nothing — a mail scanner at the role
    // address opens every link, twice here.
    let mail_body = verify[0]["body"].as_str().unwrap();
    assert!(
        mail_body.contains("someone else") && mail_body.contains("it@other.test"),
        "{mail_body}"
    );
    for _ in 0..2 {
        let (status, headers, page) = http_get(addr, &link, &[]);
        assert_eq!(status, 200);
        let page = String::from_utf8_lossy(&page);
        assert!(
            page.contains("someone else")
                && page.contains(&other_key[..6])
                && page.contains("it@other.test")
                && page.contains("method=\"post\""),
            "{page}"
        );
        assert!(headers["content-security-policy"].contains("default-src 'none'"));
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
    let search_other = || {
        keyed(
            addr,
            "GET",
            "/api/v3/breacheddomain/other.test",
            &other_key,
            "",
        )
        .0
    };
    assert_eq!(search_other(), 403, "a GET of the link verified the domain");
    // The page's button POSTs the token: verified, once.
    let token = link.split("token=").nth(1).unwrap();
    let press = || {
        parse_response(&http_raw(
            addr,
            "POST",
            "/api/v1/domains/verify",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            format!("token={token}").as_bytes(),
        ))
    };
    let (status, headers, _) = press();
    assert_eq!(status, 200);
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(press().0, 409, "a verification link works once");
    assert_eq!(
        search_other(),
        404,
        "verified, but nobody there is breached"
    );

    // A new breach with an address on corp.test: the domain's contact is alerted, once.
    load_breach(
        tmp.path(),
        &data,
        "Newcorp",
        &["carl@corp.test", "dora@corp.test"],
    );
    let mails = smtp.wait_for(2, 30);
    let alerts = mails_to(&mails, "soc@corp.test");
    assert_eq!(alerts.len(), 1, "{mails:#?}");
    assert_eq!(alerts[0]["subject"], "leakwatch alert: Newcorp");
    let body = alerts[0]["body"].as_str().unwrap();
    assert!(
        body.contains("2 addresses on corp.test are in it."),
        "{body}"
    );
    assert_eq!(mails.len(), 2, "nothing for other.test: {mails:#?}");

    // The CLI lists both registrations.
    let out = std::process::Command::new(bin())
        .args(["domain", "list", "--data", d])
        .env("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\tcorp.test\tsoc@corp.test\t20"), "{text}");
    assert!(text.contains("\tother.test\tit@other.test\t20"), "{text}");
}

/// Subscribes each address through the API and follows the link in its confirmation mail.
fn subscribe_confirmed(smtp: &SmtpSink, addr: &str, who: &[&str]) {
    let before = smtp.messages().len();
    for w in who {
        let r = http_raw(
            addr,
            "POST",
            "/api/v1/subscriptions",
            &[("Content-Type", "application/json")],
            format!(r#"{{"email":"{w}"}}"#).as_bytes(),
        );
        assert!(
            r.starts_with(b"HTTP/1.1 202"),
            "{}",
            String::from_utf8_lossy(&r)
        );
    }
    let mails = smtp.wait_for(before + who.len(), 30);
    for w in who {
        let got = mails_to(&mails, w);
        assert_eq!(got.len(), 1, "{w}: {mails:#?}");
        let link = link_in(
            got[0]["body"].as_str().unwrap(),
            "/api/v1/subscriptions/confirm?token=",
        );
        assert_eq!(http_get(addr, &link, &[]).0, 200);
    }
}

fn a_generated_breach_alerts_three_addresses_by_mail_and_a_domain_by_webhook_once_each_across_a_kill()
 {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start_slow(tmp.path(), 0, 1.0);
    let secret = "a webhook secret of some length";
    // The receiver is down for the first call: the alert waits and is retried.
    let hooks = WebhookSink::start(tmp.path(), secret, 1);
    let data = data_with_breach(tmp.path(), &["ann@example.test"]);
    let d = data.to_str().unwrap();
    let key = crate::keys::create_key(d, "corp", "100");
    let args = [
        "--smtp-url",
        &smtp.url(),
        "--mail-retry-after",
        "1",
        "--insecure-webhooks-to-loopback",
    ];
    let env = [("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)];
    let mut server = Server::start_with(&data, &args, &env);
    let subscribers = ["ann@example.test", "ben@example.test", "cat@example.test"];
    subscribe_confirmed(&smtp, &server.addr, &subscribers);
    let (status, _, reg) = keyed(
        &server.addr,
        "POST",
        "/api/v1/domains",
        &key,
        &serde_json::json!({
            "domain": "corp.test",
            "contact": "soc@corp.test",
            "webhook": {"url": format!("http://127.0.0.1:{}/hook", hooks.port), "secret": secret},
        })
        .to_string(),
    );
    assert_eq!(status, 201, "{reg}");
    // The operator vouches for the key holder instead of DNS.
    let out = std::process::Command::new(bin())
        .args([
            "domain",
            "verify",
            "corp.test",
            "--trust",
            "--data",
            d,
            "--key",
            &key[..6],
        ])
        .env("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A generated dump with the three subscribers and two addresses on corp.test planted.
    let mut dump = gen_dump(Dump::Combo(':'), 3_000, 11, "0");
    for planted in subscribers.iter().chain(&["it@corp.test", "hr@corp.test"]) {
        dump.extend_from_slice(format!("{planted}:pw\n").as_bytes());
    }
    add_breach(
        &data,
        "Bigbank",
        &["--title", "Bigbank", "--domain", "bigbank.example"],
    );
    let before = smtp.messages().len();
    let rcpts_before = smtp.rcpts();
    ingest_dump(
        &data,
        &write(&tmp.path().join("big.txt"), &dump),
        "Bigbank",
        &[],
    );

    // Kill -9 mid-way: the first alert delivered, the second under way but not accepted
    // yet; then start again.
    smtp.wait_for_rcpts(rcpts_before + 2, 30);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let _server = Server::start_with(&data, &args, &env);
    let mails = smtp.wait_for(before + 3, 60);
    let deadline = Instant::now() + Duration::from_secs(30);
    while hooks.calls().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));

    let logs = format!(
        "before the kill:\n{}\nafter:\n{}\nmails: {mails:#?}",
        server.log.lock().unwrap(),
        _server.log.lock().unwrap()
    );
    assert_eq!(
        subjects_to(&mails[before..], "leakwatch alert: Bigbank"),
        subscribers,
        "{logs}"
    );
    assert_eq!(mails.len(), before + 3, "{logs}");
    let calls = hooks.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    assert_eq!(call["valid"], true, "signature and timestamp check out");
    assert_eq!(call["event"], "breach.alert");
    assert_eq!(call["content_type"], "application/json");
    assert_eq!(call["body"]["domain"], "corp.test");
    assert_eq!(call["body"]["accounts"], 2);
    assert_eq!(call["body"]["breach"]["Name"], "Bigbank");
    assert_eq!(call["body"]["delivery"], call["delivery"]);
    assert!(
        mails_to(&mails, "soc@corp.test").is_empty(),
        "webhook instead of mail"
    );
}

fn mail_goes_over_starttls_and_implicit_tls_to_a_server_with_a_private_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(tmp.path());
    let data = data_with_breach(tmp.path(), &["alice@example.test"]);
    for (mode, url) in [
        ("starttls", "smtp://127.0.0.1:{port}?tls=required"),
        ("implicit", "smtps://127.0.0.1:{port}"),
    ] {
        let dir = tmp.path().join(mode);
        std::fs::create_dir_all(&dir).unwrap();
        let smtp = SmtpSink::start_tls(&dir, mode, &cert, &key);
        let url = url.replace("{port}", &smtp.port.to_string());
        let server = Server::start_with(
            &data,
            &["--smtp-url", &url, "--smtp-ca-file", ca.to_str().unwrap()],
            &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
        );
        let r = post_check(
            &server.addr,
            "application/json",
            r#"{"email":"alice@example.test"}"#,
        );
        assert!(r.starts_with(b"HTTP/1.1 202"));
        let mails = smtp.wait_for(1, 30);
        assert_eq!(mails.len(), 1, "{mode}: {}", server.log.lock().unwrap());
        assert_eq!(mails[0]["tls"], true, "{mode}");
        assert_eq!(
            mails[0]["rcpt_tos"],
            serde_json::json!(["alice@example.test"])
        );
    }
}

/// Issue #18, finding 4: revoking a key ends what it set up. Three verified domains, two of
/// them (one alerted by mail, one by webhook) registered by a key that is then revoked: a
/// breach before the revocation reaches all three, a breach after it only the kept key's.
fn a_revoked_keys_domains_get_no_alert_mail_and_no_webhook() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let secret = "a webhook secret of some length";
    let hooks = WebhookSink::start(tmp.path(), secret, 0);
    let data = data_with_breach(tmp.path(), &["ann@example.test"]);
    let d = data.to_str().unwrap();
    let kept = crate::keys::create_key(d, "kept", "100");
    let revoked = crate::keys::create_key(d, "revoked", "100");
    let args = [
        "--smtp-url",
        &smtp.url(),
        "--mail-retry-after",
        "1",
        "--insecure-webhooks-to-loopback",
    ];
    let env = [("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)];
    let server = Server::start_with(&data, &args, &env);
    let hook_url = format!("http://127.0.0.1:{}/hook", hooks.port);
    for (key, domain, webhook) in [
        (&kept, "kept.test", None),
        (&revoked, "gone.test", None),
        (&revoked, "hook.test", Some(&hook_url)),
    ] {
        let mut body = serde_json::json!({"domain": domain, "contact": format!("soc@{domain}")});
        if let Some(url) = webhook {
            body["webhook"] = serde_json::json!({"url": url, "secret": secret});
        }
        let (status, _, reg) = keyed(
            &server.addr,
            "POST",
            "/api/v1/domains",
            key,
            &body.to_string(),
        );
        assert_eq!(status, 201, "{reg}");
        operator_cli(
            &data,
            &["domain", "verify", domain, "--trust", "--key", &key[..6]],
        );
    }
    let planted = ["it@kept.test", "it@gone.test", "it@hook.test"];

    // Before the revocation: every domain hears of a new breach.
    let before = smtp.messages().len();
    load_breach(tmp.path(), &data, "Firstbank", &planted);
    let mails = smtp.wait_for(before + 2, 30);
    assert_eq!(
        subjects_to(&mails[before..], "leakwatch alert: Firstbank"),
        ["soc@gone.test", "soc@kept.test"]
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while hooks.calls().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        hooks.calls().len(),
        1,
        "the webhook was not called before the revocation"
    );

    // Revoked: the next breach reaches only the kept key's domain.
    leakwatch(&["keys", "revoke", "--data", d, &revoked[..6]], None);
    let before = smtp.messages().len();
    load_breach(tmp.path(), &data, "Secondbank", &planted);
    smtp.wait_for(before + 1, 30);
    // Time for anything else queued to go out (the worker runs at least once a second).
    std::thread::sleep(Duration::from_secs(3));
    let all = smtp.messages();
    assert_eq!(
        subjects_to(&all[before..], "leakwatch alert: Secondbank"),
        ["soc@kept.test"],
        "{:#?}",
        &all[before..]
    );
    assert_eq!(hooks.calls().len(), 1, "a revoked key's webhook was called");
}
