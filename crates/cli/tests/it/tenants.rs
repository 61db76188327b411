//! Tenants (issue #18): two organisations on one server, each with its keys, verified
//! domains, webhooks and vendors, see, change and hear nothing of each other; a vendor owner
//! an API key names off its tenant's verified domains gets reports only once it confirms.

use std::time::{Duration, Instant};

use crate::mail::{keyed, link_in, load_breach, mails_to};
use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(two_tenants_see_change_and_hear_nothing_of_each_other)
            .needs(&[Need::Aiosmtpd]),
        test!(a_vendor_owner_off_the_tenants_domains_gets_reports_only_after_confirming)
            .needs(&[Need::Aiosmtpd]),
        test!(a_second_key_and_a_rotated_key_keep_the_tenants_domains_and_revoking_the_tenant_ends_them),
    ]
}

const SECRET: &str = "a webhook secret of some length";

/// A vendor as the API takes it.
fn vendor(name: &str, domain: &str, owner: &str) -> String {
    serde_json::json!({
        "name": name,
        "domains": [domain],
        "dataClasses": ["Email addresses", "Passwords"],
        "criticality": 4,
        "owner": owner,
    })
    .to_string()
}

fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect()
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn two_tenants_see_change_and_hear_nothing_of_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    std::fs::create_dir_all(tmp.path().join("hooks-a")).unwrap();
    std::fs::create_dir_all(tmp.path().join("hooks-b")).unwrap();
    let hooks_a = WebhookSink::start(&tmp.path().join("hooks-a"), SECRET, 0);
    let hooks_b = WebhookSink::start(&tmp.path().join("hooks-b"), SECRET, 0);
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let a = crate::keys::create_tenant_key(d, "alpha soc", "alpha");
    let a2 = crate::keys::create_tenant_key(d, "alpha second", "alpha");
    let b = crate::keys::create_tenant_key(d, "beta soc", "beta");
    // An existing breach, so the server is ready.
    load_breach(tmp.path(), &data, "Oldbank", &["x@elsewhere.test"]);
    let args = [
        "--smtp-url",
        &smtp.url(),
        "--mail-retry-after",
        "1",
        "--insecure-webhooks-to-loopback",
    ];
    let server = Server::start_with(&data, &args, &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let addr = server.addr.as_str();
    let hook = |port: u16| format!("http://127.0.0.1:{port}/hook");

    // Each tenant registers its domain (alpha with a webhook) and the operator vouches.
    for (key, domain, webhook) in [
        (&a, "alpha.test", Some(hook(hooks_a.port))),
        (&b, "beta.test", None),
    ] {
        let mut body = serde_json::json!({"domain": domain, "contact": format!("soc@{domain}")});
        if let Some(url) = webhook {
            body["webhook"] = serde_json::json!({"url": url, "secret": SECRET});
        }
        let (status, _, reg) = keyed(addr, "POST", "/api/v1/domains", key, &body.to_string());
        assert_eq!(status, 201, "{reg}");
        operator_cli(
            &data,
            &["domain", "verify", domain, "--trust", "--key", &key[..6]],
        );
    }
    // Vendors: both buy from Trackly (one name in each tenant); alpha also from Payroll.
    for (key, body) in [
        (&a, vendor("Trackly", "trackly.example", "cto@alpha.test")),
        (&a, vendor("Payroll", "payroll.example", "hr@alpha.test")),
        (&b, vendor("Trackly", "trackly.example", "buyer@beta.test")),
    ] {
        let (status, _, v) = keyed(addr, "POST", "/api/v1/vendors", key, &body);
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["ownerPending"], false, "owners on verified domains: {v}");
    }

    // Beta sees only its own vendors and cannot delete alpha's (404, as for none).
    let (_, _, list) = keyed(addr, "GET", "/api/v1/vendors", &b, "");
    assert_eq!(names(&list), ["Trackly"]);
    assert_eq!(list[0]["owner"], "buyer@beta.test");
    let (status, _, _) = keyed(addr, "DELETE", "/api/v1/vendors/Payroll", &b, "");
    assert_eq!(status, 404);
    // Beta's "Payroll" is its own; alpha's keeps its owner.
    let body = vendor("Payroll", "payroll.example", "buyer@beta.test");
    assert_eq!(keyed(addr, "POST", "/api/v1/vendors", &b, &body).0, 201);
    let (_, _, list) = keyed(addr, "GET", "/api/v1/vendors", &a2, "");
    assert_eq!(names(&list), ["Payroll", "Trackly"]);
    assert_eq!(list[0]["owner"], "hr@alpha.test", "{list}");

    // Domains: beta cannot search or list alpha's; alpha's second key can.
    let (status, _, _) = keyed(addr, "GET", "/api/v3/breacheddomain/alpha.test", &b, "");
    assert_eq!(status, 403);
    let (_, _, subscribed) = keyed(addr, "GET", "/api/v3/subscribeddomains", &b, "");
    assert_eq!(subscribed[0]["DomainName"], "beta.test");
    assert_eq!(subscribed.as_array().unwrap().len(), 1, "{subscribed}");
    let (_, _, subscribed) = keyed(addr, "GET", "/api/v3/subscribeddomains", &a2, "");
    assert_eq!(subscribed[0]["DomainName"], "alpha.test", "{subscribed}");
    // Beta registering alpha's domain with its own webhook makes beta's own, unverified
    // registration: alpha's webhook and contact stay.
    let body = serde_json::json!({"domain": "alpha.test", "contact": "soc@beta.test",
        "webhook": {"url": hook(hooks_b.port), "secret": SECRET}});
    let (status, _, reg) = keyed(addr, "POST", "/api/v1/domains", &b, &body.to_string());
    assert_eq!((status, &reg["Verified"]), (201, &serde_json::json!(false)));
    let listed = operator_cli(&data, &["domain", "list", "--tenant", "alpha"]);
    assert!(
        listed.contains("alpha\t") && listed.contains("\talpha.test\tsoc@alpha.test\t20"),
        "{listed}"
    );
    assert!(!listed.contains("beta"), "{listed}");
    let (status, _, _) = keyed(addr, "GET", "/api/v3/breacheddomain/alpha.test", &b, "");
    assert_eq!(status, 403, "registering is not verifying");

    // A breach at Trackly holding addresses of both domains.
    let planted = ["ann@alpha.test", "bob@alpha.test", "cat@beta.test"];
    add_breach(
        &data,
        "Trackly",
        &[
            "--domain",
            "trackly.example",
            "--data-classes",
            "Email addresses,Passwords",
        ],
    );
    let dump: String = planted.iter().map(|a| format!("{a}:pw\n")).collect();
    let file = write(&tmp.path().join("trackly.txt"), dump.as_bytes());
    ingest_dump(&data, &file, "Trackly", &[]);

    // Impact reports: each tenant's counts only its own domains.
    // The catalogue names Trackly as soon as the breach is added; its accounts are served once
    // the server has loaded the import's generation (under load that took longer than the
    // first 200: the report came back without the tenant's domain).
    wait_until("the server to serve Trackly's accounts", || {
        let (status, _, report) = keyed(addr, "GET", "/api/v1/vendors/impact/Trackly", &a, "");
        status == 200
            && report["yourDomains"]
                .as_array()
                .is_some_and(|d| !d.is_empty())
    });
    for (key, own, other) in [
        (&a, "alpha.test", "beta.test"),
        (&b, "beta.test", "alpha.test"),
    ] {
        let (status, _, report) = keyed(addr, "GET", "/api/v1/vendors/impact/Trackly", key, "");
        assert_eq!(status, 200, "{report}");
        let text = report.to_string();
        assert_eq!(report["yourDomains"][0]["domain"], own, "{text}");
        assert!(!text.contains(other), "{text}");
    }
    // Mail: alpha's webhook, beta's contact; each tenant's owner its own report.
    wait_until("alpha's webhook", || !hooks_a.calls().is_empty());
    smtp.wait_for(3, 30);
    // Time for anything else queued to go out (the worker runs at least once a second).
    std::thread::sleep(Duration::from_secs(2));
    let mails = smtp.messages();
    assert_eq!(hooks_a.calls()[0]["body"]["domain"], "alpha.test");
    assert!(
        hooks_b.calls().is_empty(),
        "beta's unverified hook was called"
    );
    for (to, own, other) in [
        ("soc@beta.test", "beta.test", "alpha"),
        ("buyer@beta.test", "beta.test", "alpha"),
        ("cto@alpha.test", "alpha.test", "beta"),
    ] {
        let got = mails_to(&mails, to);
        assert!(!got.is_empty(), "nothing to {to}: {mails:#?}");
        for m in got {
            let body = m["body"].as_str().unwrap();
            assert!(body.contains(own), "{to}: {body}");
            assert!(!body.contains(other), "{to} heard of {other}: {body}");
        }
    }
    assert!(
        mails_to(&mails, "soc@alpha.test").is_empty(),
        "alpha's alerts go to its webhook"
    );
    drop(server);
}

fn a_vendor_owner_off_the_tenants_domains_gets_reports_only_after_confirming() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let key = crate::keys::create_tenant_key(d, "gamma", "gamma");
    load_breach(tmp.path(), &data, "Oldbank", &["x@elsewhere.test"]);
    let args = ["--smtp-url", &smtp.url(), "--mail-retry-after", "1"];
    let server = Server::start_with(&data, &args, &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let addr = server.addr.as_str();
    // The owner is not on a verified domain of the tenant (it has none): a link first.
    let body = vendor("Trackly", "trackly.example", "someone@victim.test");
    // Saved three times: one confirmation mail (a key cannot mail-bomb an address).
    for _ in 0..3 {
        let (status, _, v) = keyed(addr, "POST", "/api/v1/vendors", &key, &body);
        assert_eq!(
            (status, &v["ownerPending"]),
            (201, &serde_json::json!(true))
        );
    }
    let mails = smtp.wait_for(1, 30);
    let ask = mails_to(&mails, "someone@victim.test");
    assert_eq!(ask.len(), 1, "{mails:#?}");
    let text = ask[0]["body"].as_str().unwrap();
    assert!(
        text.contains("\"gamma\"") && text.contains("Trackly"),
        "{text}"
    );
    let link = link_in(text, "/api/v1/vendor-owner/confirm?token=");

    // A breach before the confirmation: no report to the owner.
    load_breach(tmp.path(), &data, "Trackly", &["a@victim.test"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(smtp.messages().len(), 1, "{:#?}", smtp.messages());

    // The link's page names the tenant and changes nothing; its button confirms.
    let (status, headers, page) = http_get(addr, &link, &[]);
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains("gamma") && page.contains("method=\"post\""),
        "{page}"
    );
    assert!(headers["content-security-policy"].contains("default-src 'none'"));
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let token = link.split("token=").nth(1).unwrap();
    let (status, _, _) = parse_response(&http_raw(
        addr,
        "POST",
        "/api/v1/vendor-owner/confirm",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("token={token}").as_bytes(),
    ));
    assert_eq!(status, 200);
    // A breach after it: the report goes out. (Trackly's domain is trackly.example.)
    add_breach(&data, "Trackly2", &["--domain", "eu.trackly.example"]);
    let mails = smtp.wait_for(2, 30);
    let reports: Vec<_> = mails_to(&mails, "someone@victim.test")
        .into_iter()
        .filter(|m| m["subject"].as_str().unwrap().contains("Trackly2"))
        .collect();
    assert_eq!(reports.len(), 1, "{mails:#?}");
    drop(server);
}

fn a_second_key_and_a_rotated_key_keep_the_tenants_domains_and_revoking_the_tenant_ends_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    load_breach(tmp.path(), &data, "Corpleak", &["ann@corp.test"]);
    let first = crate::keys::create_tenant_key(d, "first", "corp");
    let second = crate::keys::create_tenant_key(d, "second", "corp");
    let own = crate::keys::create_key(d, "loner", "100");
    operator_cli(
        &data,
        &[
            "domain",
            "verify",
            "corp.test",
            "--trust",
            "--key",
            &first[..6],
            "--contact",
            "soc@corp.test",
        ],
    );
    let server = Server::start_with(&data, &[], &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let addr = server.addr.as_str();
    let search = |key: &str| keyed(addr, "GET", "/api/v3/breacheddomain/corp.test", key, "");
    let (status, _, found) = search(&second);
    assert_eq!(
        (status, found),
        (200, serde_json::json!({"ann": ["Corpleak"]}))
    );
    assert_eq!(search(&own).0, 403, "a key of its own tenant");
    // The successor of a rotated key is in the same tenant: it searches at once.
    let out = leakwatch(
        &[
            "keys",
            "rotate",
            "--data",
            d,
            &first[..6],
            "--overlap-days",
            "0",
        ],
        None,
    );
    let successor = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    wait_until("the successor", || search(&successor).0 != 401);
    assert_eq!(search(&successor).0, 200);
    let listed = operator_cli(&data, &["keys", "list", "--tenant", "corp"]);
    assert_eq!(listed.lines().count(), 4, "header and three keys: {listed}");
    // Ending the tenant revokes every key of it, and only those.
    let out = operator_cli(&data, &["keys", "revoke", "--tenant", "corp"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    wait_until("the revocation", || search(&second).0 == 401);
    assert_eq!(search(&successor).0, 401);
    assert_eq!(search(&own).0, 403, "another tenant's key still works");
    // A tenant nobody has is refused, not made.
    let out = try_leakwatch(
        &["vendors", "list", "--data", d, "--tenant", "nobody"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no tenant \"nobody\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
