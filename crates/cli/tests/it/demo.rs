//! `leakwatch demo`: one command builds a fictional world and serves it with a demo mailbox.
//! Checked through the API (breaches of every kind, the printed key and addresses), in
//! Debian's Chromium (the page's list and timeline, a private check asked for from the page
//! and its mail read back from `/demo/mailbox` within 5 s), and across runs (the world kept,
//! the previous key revoked, an older world rebuilt, a foreign directory refused).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(the_demo_serves_a_world_of_every_kind_of_breach_and_mails_into_its_mailbox)
            .needs(&[Need::Chromium, Need::NodePackages]),
        test!(a_second_demo_run_keeps_the_world_and_revokes_the_previous_key),
        test!(the_demo_mailbox_is_not_served_by_a_real_server),
        test!(async the_demo_mailbox_answers_only_loopback_peers),
        test!(the_demo_refuses_a_directory_that_is_not_a_demos),
    ]
}

/// A running `leakwatch demo` and what its banner printed.
struct Demo {
    child: Child,
    /// `http://localhost:PORT`.
    url: String,
    /// `127.0.0.1:PORT`, for the test's own HTTP client.
    addr: String,
    key: String,
    addresses: Vec<String>,
    /// What it wrote to standard error before the banner.
    log: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `leakwatch demo --data DIR` on a free loopback port and reads its banner.
fn start_demo(dir: &Path) -> Demo {
    let mut child = Command::new(bin())
        .args([
            "demo",
            "--data",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        // Nothing of the test harness's environment may be needed: the demo has its own keys.
        .env_remove("LEAKWATCH_AUDIT_KEY_FILE")
        .env_remove("LEAKWATCH_INSECURE_OPERATOR_KEY_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            kept.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    loop {
        let mut line = String::new();
        let n = stdout.read_line(&mut line).unwrap();
        assert!(
            n > 0,
            "the demo exited before serving:\n{banner}\n{}",
            log.lock().unwrap()
        );
        banner.push_str(&line);
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://localhost:"))
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let port = url.rsplit(':').next().unwrap().to_owned();
    let after = |label: &str| {
        banner
            .lines()
            .skip_while(|l| !l.contains(label))
            .skip(1)
            .map(str::trim)
            .take_while(|l| !l.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let key = after("Demo API key")[0].clone();
    let addresses = after("Addresses to try");
    let log = log.lock().unwrap().clone();
    Demo {
        child,
        url,
        addr: format!("127.0.0.1:{port}"),
        key,
        addresses,
        log,
    }
}

fn get_json(demo: &Demo, path: &str, key: Option<&str>) -> (u16, serde_json::Value) {
    let mut headers = vec![("user-agent", "leakwatch-tests")];
    if let Some(k) = key {
        headers.push(("hibp-api-key", k));
    }
    let (status, _, body) = http_get(&demo.addr, path, &headers);
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

fn the_demo_serves_a_world_of_every_kind_of_breach_and_mails_into_its_mailbox() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = start_demo(&tmp.path().join("demo"));
    assert!(
        demo.log.contains("building a fictional world"),
        "{}",
        demo.log
    );
    assert_eq!(demo.addresses.len(), 3, "three addresses to try");

    // The catalogue: at least 15 breaches, of every kind the issue names.
    let (status, breaches) = get_json(&demo, "/api/v3/breaches", None);
    assert_eq!(status, 200);
    let breaches = breaches.as_array().unwrap();
    assert!(breaches.len() >= 15, "{} breaches", breaches.len());
    for flag in [
        "IsSensitive",
        "IsSpamList",
        "IsFabricated",
        "IsMalware",
        "IsStealerLog",
    ] {
        assert!(
            breaches.iter().any(|b| b[flag] == true),
            "no breach with {flag}"
        );
    }
    let months: std::collections::BTreeSet<&str> = breaches
        .iter()
        .map(|b| &b["BreachDate"].as_str().unwrap()[..7])
        .collect();

    // Each address to try is in breaches the printed key can look up.
    for address in &demo.addresses {
        let (status, found) = get_json(
            &demo,
            &format!("/api/v3/breachedaccount/{address}?truncateResponse=false"),
            Some(&demo.key),
        );
        assert_eq!(status, 200, "{address}");
        assert!(!found.as_array().unwrap().is_empty(), "{address}");
    }
    // The first one's breaches, by the API: the mail the page asks for must name each.
    let check = demo.addresses[0].clone();
    let (_, of_check) = get_json(
        &demo,
        &format!("/api/v3/breachedaccount/{check}?truncateResponse=false"),
        Some(&demo.key),
    );
    let titles: Vec<String> = of_check
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["Title"].as_str().unwrap().to_owned())
        .collect();
    assert!(titles.len() >= 3, "{titles:?}");

    let expect = serde_json::json!({
        "breaches": breaches.len(),
        "months": months.len(),
        "checkEmail": check,
        "key": demo.key,
        "tenantDomain": "examplecorp.example",
    });
    let (report, shots) = browser_script(
        "demo.mjs",
        &format!("{}/", demo.url),
        "demo-screenshots",
        tmp.path(),
        &expect,
    );
    let mail = report["mail"].as_str().unwrap();
    for title in &titles {
        assert!(
            mail.contains(title.as_str()),
            "{title} not in the mail:\n{mail}"
        );
    }
    for shot in ["demo-breaches", "demo-mailbox", "dashboard-vendors"] {
        let png = std::fs::read(shots.join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{shot}.png");
    }
}

fn a_second_demo_run_keeps_the_world_and_revokes_the_previous_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let first = start_demo(&dir);
    let old_key = first.key.clone();
    assert_eq!(
        get_json(&first, "/api/v3/subscription/status", Some(&old_key)).0,
        200
    );
    // The printed key signs in to the dashboard: Example Corp's verified domain, and the
    // vendors its world's breaches reach (by domain, and MailBlast named by Newsletterly).
    let session = crate::dashboard::sign_in(&first.addr, &old_key);
    let (status, home) = crate::dashboard::get_page(&first.addr, "/dashboard", Some(&session));
    assert_eq!(status, 200);
    assert!(home.contains("examplecorp.example"), "{home}");
    let (status, vendors) =
        crate::dashboard::get_page(&first.addr, "/dashboard/vendors", Some(&session));
    assert_eq!(status, 200);
    let ranking = &vendors[vendors.find("<table id=\"ranking\"").unwrap()..];
    let ranking = &ranking[..ranking.find("</table>").unwrap()];
    for vendor in ["Trackwise", "TalentPool", "MailBlast"] {
        assert!(
            ranking.contains(&format!("<td>{vendor}</td>")),
            "{vendor}: {vendors}"
        );
    }
    assert!(!ranking.contains("<td>PayDay Payroll</td>"));
    drop(first);
    // The demo's keys are its own and private.
    for key in ["operator.key", "audit.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }

    let second = start_demo(&dir);
    assert!(
        second.log.contains("using the demo world"),
        "{}",
        second.log
    );
    assert_ne!(second.key, old_key);
    assert_eq!(
        get_json(&second, "/api/v3/subscription/status", Some(&second.key)).0,
        200
    );
    assert_eq!(
        get_json(&second, "/api/v3/subscription/status", Some(&old_key)).0,
        401,
        "the previous run's key is revoked"
    );
    drop(second);

    // A world built by another version of the demo is built again.
    std::fs::write(dir.join("demo-version"), "1").unwrap();
    let third = start_demo(&dir);
    assert!(
        third.log.contains("building a fictional world"),
        "{}",
        third.log
    );
    let (status, breaches) = get_json(&third, "/api/v3/breaches", None);
    assert_eq!(status, 200);
    assert!(breaches.as_array().unwrap().len() >= 15);
}

fn the_demo_mailbox_is_not_served_by_a_real_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_breach(&data, "Somebreach", &[]);
    let server = Server::start(&data);
    assert_eq!(http_get(&server.addr, "/demo/mailbox", &[]).0, 404);
}

fn the_demo_refuses_a_directory_that_is_not_a_demos() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("precious");
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir.join("thesis.txt"), b"years of work");
    let out = try_leakwatch(
        &[
            "demo",
            "--data",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a demo directory"), "{err}");
    assert_eq!(
        std::fs::read(dir.join("thesis.txt")).unwrap(),
        b"years of work"
    );
}

async fn the_demo_mailbox_answers_only_loopback_peers() {
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_breach(&data, "Somebreach", &[]);
    let mailbox = tmp.path().join("mailbox");
    leakwatch_service::mail::Mailer::maildir(&mailbox, "demo@leakwatch.example")
        .unwrap()
        .send(&leakwatch_service::mail::Email {
            to: "reader@mail.example".into(),
            subject: "Your leakwatch check".into(),
            text: "<script>alert(1)</script> in a body is text".into(),
            id: "check.1.1".into(),
            unsubscribe: None,
        })
        .unwrap();
    let mut state = std::sync::Arc::into_inner(app_state(&data)).unwrap();
    state.demo_mailbox = Some(mailbox);
    let app = leakwatch_api::app(std::sync::Arc::new(state));
    let from = |peer: Option<&str>| {
        let mut req = axum::http::Request::get("/demo/mailbox")
            .body(axum::body::Body::empty())
            .unwrap();
        if let Some(p) = peer {
            req.extensions_mut()
                .insert(ConnectInfo::<std::net::SocketAddr>(p.parse().unwrap()));
        }
        let app = app.clone();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    for peer in ["127.0.0.1:5000", "[::1]:5000"] {
        let (status, page) = from(Some(peer)).await;
        assert_eq!(status, 200, "{peer}");
        assert!(page.contains("To reader@mail.example"), "{page}");
        assert!(
            page.contains("&lt;script&gt;") && !page.contains("<script>"),
            "escaped"
        );
    }
    assert_eq!(from(Some("192.0.2.7:5000")).await.0, 404);
    assert_eq!(from(None).await.0, 404);
}
