//! The organisation dashboard's sessions over a real socket: an API key with the `dashboard`
//! scope is exchanged for an `HttpOnly`, `SameSite=Strict` cookie; each tenant sees only its
//! own domains and keys; a form without its CSRF token, or from another site, is refused; a
//! revoked key ends its sessions; the catalogue never holds a token; sign-in is audited.

use std::collections::BTreeMap;

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(
            dashboard_sessions_are_cookies_scoped_to_their_tenant_csrf_checked_and_end_with_their_key
        ),
        test!(a_tenant_with_a_passkey_cannot_open_the_dashboard_with_its_key_alone)
            .needs(&[Need::Chromium, Need::NodePackages]),
        test!(the_dashboard_registers_and_verifies_a_domain_then_shows_and_exports_its_breaches)
            .needs(&[Need::Dnslib]),
        test!(the_activity_page_shows_the_tenants_own_records_from_the_verified_audit_log),
        test!(the_dashboard_end_to_end_in_chromium_for_two_tenants_with_no_serious_axe_violation)
            .needs(&[
                Need::Chromium,
                Need::NodePackages,
                Need::Dnslib,
                Need::Aiosmtpd
            ]),
    ]
}

/// A POSTed form over a fresh connection: (status, lower-cased headers, body).
fn post_form(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: &str,
) -> (u16, BTreeMap<String, String>, String) {
    let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    let (status, headers, body) =
        parse_response(&http_raw(addr, "POST", path, &all, form.as_bytes()));
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

pub(crate) fn get_page(addr: &str, path: &str, cookie: Option<&str>) -> (u16, String) {
    let cookie = cookie.map(|c| format!("leakwatch_dashboard={c}"));
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("Cookie", c.as_str())).collect();
    let (status, _, body) = http_get(addr, path, &headers);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Signs in with `key`; the session token from the cookie, whose attributes are checked.
pub(crate) fn sign_in(addr: &str, key: &str) -> String {
    sign_in_to(addr, key, "/dashboard")
}

/// Signs in with `key`, expecting to be sent to `landing`; the session token.
fn sign_in_to(addr: &str, key: &str, landing: &str) -> String {
    let (status, headers, body) = post_form(addr, "/dashboard/sign-in", &[], &format!("key={key}"));
    assert_eq!(status, 303, "{body}");
    assert_eq!(headers["location"], landing);
    let cookie = &headers["set-cookie"];
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for wanted in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/dashboard",
        "Max-Age=1800",
    ] {
        assert!(attributes.contains(&wanted), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http: no Secure flag ({cookie})"
    );
    let token = attributes[0]
        .strip_prefix("leakwatch_dashboard=")
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 64, "{token}");
    token
}

/// The CSRF token a signed-in page's forms carry.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    page[at..at + 64].to_owned()
}

fn dashboard_sessions_are_cookies_scoped_to_their_tenant_csrf_checked_and_end_with_their_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let scopes = "dashboard,domain";
    let acme = crate::keys::create_key_with(d, "acme soc", "1000", scopes, &["--tenant", "acme"]);
    let globex =
        crate::keys::create_key_with(d, "globex soc", "1000", scopes, &["--tenant", "globex"]);
    let no_dashboard =
        crate::keys::create_key_with(d, "acme api", "1000", "domain", &["--tenant", "acme"]);
    for (domain, tenant) in [("acme.example", "acme"), ("globex.example", "globex")] {
        operator_cli(
            &data,
            &[
                "domain",
                "verify",
                domain,
                "--trust",
                "--tenant",
                tenant,
                "--contact",
                &format!("soc@{domain}"),
            ],
        );
    }
    let server = Server::start_with(
        &data,
        &[],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();

    // Not signed in: the sign-in form, and the other pages send there.
    let (status, page) = get_page(addr, "/dashboard", None);
    assert_eq!(status, 200);
    assert!(
        page.contains("name=\"key\"") && page.contains("type=\"password\""),
        "{page}"
    );
    let (status, _, _) = http_get(addr, "/dashboard/activity", &[]);
    assert_eq!(status, 303);

    // Keys that may not sign in.
    let (status, _, body) = post_form(addr, "/dashboard/sign-in", &[], "key=0123456789abcdef");
    assert_eq!(status, 401, "{body}");
    let (status, headers, body) = post_form(
        addr,
        "/dashboard/sign-in",
        &[],
        &format!("key={no_dashboard}"),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("dashboard scope") && !headers.contains_key("set-cookie"));
    // A sign-in form posted from another site is refused, whatever the key.
    let (status, headers, _) = post_form(
        addr,
        "/dashboard/sign-in",
        &[
            ("Origin", "http://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        &format!("key={acme}"),
    );
    assert_eq!(status, 403);
    assert!(!headers.contains_key("set-cookie"));
    // An older browser without Sec-Fetch-Site is judged by its Origin.
    let (status, _, _) = post_form(
        addr,
        "/dashboard/sign-in",
        &[("Origin", "http://evil.example")],
        &format!("key={acme}"),
    );
    assert_eq!(status, 403);
    // Regression (found in Chromium): this origin's own form, under the pages'
    // `Referrer-Policy: no-referrer`, arrives with `Origin: null`; Sec-Fetch-Site decides.
    let (status, _, body) = post_form(
        addr,
        "/dashboard/sign-in",
        &[("Origin", "null"), ("Sec-Fetch-Site", "same-origin")],
        &format!("key={acme}"),
    );
    assert_eq!(status, 303, "{body}");

    // Each tenant sees its own domain only.
    let a = sign_in(addr, &acme);
    let b = sign_in(addr, &globex);
    let (status, page_a) = get_page(addr, "/dashboard", Some(&a));
    assert_eq!(status, 200);
    assert!(
        page_a.contains("acme.example") && !page_a.contains("globex.example"),
        "{page_a}"
    );
    let (_, page_b) = get_page(addr, "/dashboard", Some(&b));
    assert!(
        page_b.contains("globex.example") && !page_b.contains("acme.example"),
        "{page_b}"
    );
    // Activity: the tenant's own keys, the session's marked; none of the other tenant's.
    let (status, activity) = get_page(addr, "/dashboard/activity", Some(&a));
    assert_eq!(status, 200);
    assert!(activity.contains("acme soc") && activity.contains("(this session)"));
    assert!(
        activity.contains("acme api") && !activity.contains("globex soc"),
        "{activity}"
    );
    // A forged cookie is no session.
    let (_, page) = get_page(addr, "/dashboard", Some(&"0".repeat(64)));
    assert!(page.contains("name=\"key\""));

    // Signing out needs the session's CSRF token.
    let cookie_a = format!("leakwatch_dashboard={a}");
    let (status, _, _) = post_form(addr, "/dashboard/sign-out", &[("Cookie", &cookie_a)], "");
    assert_eq!(status, 403);
    let (status, _, _) = post_form(
        addr,
        "/dashboard/sign-out",
        &[("Cookie", &cookie_a)],
        &format!("csrf={}", csrf_of(&page_b)),
    );
    assert_eq!(status, 403, "another session's token does not do");
    assert!(
        get_page(addr, "/dashboard", Some(&a))
            .1
            .contains("acme.example")
    );
    let (status, headers, _) = post_form(
        addr,
        "/dashboard/sign-out",
        &[("Cookie", &cookie_a)],
        &format!("csrf={}", csrf_of(&page_a)),
    );
    assert_eq!(status, 303);
    assert!(headers["set-cookie"].contains("Max-Age=0"));
    assert!(
        get_page(addr, "/dashboard", Some(&a))
            .1
            .contains("name=\"key\"")
    );

    // Revoking the key ends its sessions at once.
    assert!(
        get_page(addr, "/dashboard", Some(&b))
            .1
            .contains("globex.example")
    );
    operator_cli(&data, &["keys", "revoke", &globex[..6]]);
    assert!(
        get_page(addr, "/dashboard", Some(&b))
            .1
            .contains("name=\"key\"")
    );

    // The catalogue holds no session token (nor key) in clear.
    let c = sign_in(addr, &acme);
    server.stop();
    assert_none_in_clear(&data, [a.as_str(), b.as_str(), c.as_str(), acme.as_str()]);
    // Sign-ins are audit records of their key; failed ones of the public.
    let records = crate::auditlog::show(&data, &[]);
    let signed_in: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["action"] == "dashboard.sign-in.post" && r["status"] == 303)
        .collect();
    assert_eq!(signed_in.len(), 4, "{records:#?}");
    assert!(signed_in.iter().all(|r| r["principal"]["kind"] != "public"));
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "dashboard.sign-in.post" && r["status"] == 401)
    );
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "dashboard.sign-out.post" && r["status"] == 303)
    );
}

/// A JSON POST of the passkey step's script: (status, body).
fn post_json(addr: &str, path: &str, token: &str, csrf: &str, body: &str) -> (u16, String) {
    let cookie = format!("leakwatch_dashboard={token}");
    let (status, _, body) = parse_response(&http_raw(
        addr,
        "POST",
        path,
        &[
            ("Cookie", &cookie),
            ("X-CSRF-Token", csrf),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    ));
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn a_tenant_with_a_passkey_cannot_open_the_dashboard_with_its_key_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let scopes = "dashboard,domain";
    let enrol = crate::keys::create_key_with(d, "acme soc", "1000", scopes, &["--tenant", "acme"]);
    let second =
        crate::keys::create_key_with(d, "acme oncall", "1000", scopes, &["--tenant", "acme"]);
    let third =
        crate::keys::create_key_with(d, "acme audit", "1000", scopes, &["--tenant", "acme"]);
    let globex =
        crate::keys::create_key_with(d, "globex soc", "1000", scopes, &["--tenant", "globex"]);
    operator_cli(
        &data,
        &[
            "domain",
            "verify",
            "acme.example",
            "--trust",
            "--tenant",
            "acme",
            "--contact",
            "soc@acme.example",
        ],
    );
    let server = Server::start_with(
        &data,
        &[],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();
    let port = addr.rsplit(':').next().unwrap();
    // A passkey's relying party is a host name: the browser is pointed at localhost.
    let (report, shots) = browser_script(
        "passkeys.mjs",
        &format!("http://localhost:{port}/"),
        "passkey-screenshots",
        tmp.path(),
        &serde_json::json!({
            "enrolKey": enrol,
            "secondKey": second,
            "tenantDomain": "acme.example",
            "passkeyName": "Ops laptop",
        }),
    );
    assert!(
        report["stepUrl"]
            .as_str()
            .unwrap()
            .ends_with("/dashboard/passkey"),
        "{report}"
    );
    assert!(
        report["guardedUrl"]
            .as_str()
            .unwrap()
            .ends_with("/dashboard/passkey"),
        "{report}"
    );
    assert_ne!(report["lastUsed"], "never", "{report}");
    assert!(shots.join("dashboard-passkeys.png").exists());

    // Over a socket, with a third key of the tenant: the key alone gets a session that owes
    // its passkey and shows nothing.
    let owing = sign_in_to(addr, &third, "/dashboard/passkey");
    for path in [
        "/dashboard",
        "/dashboard/vendors",
        "/dashboard/activity",
        "/dashboard/passkeys",
    ] {
        let cookie = format!("leakwatch_dashboard={owing}");
        let (status, headers, body) = http_get(addr, path, &[("Cookie", &cookie)]);
        assert_eq!(status, 303, "{path}: {}", String::from_utf8_lossy(&body));
        assert_eq!(headers["location"], "/dashboard/passkey", "{path}");
    }
    let (status, step) = get_page(addr, "/dashboard/passkey", Some(&owing));
    assert_eq!(status, 200);
    assert!(!step.contains("acme.example"), "{step}");
    let csrf = {
        let at = step.find("data-csrf=\"").unwrap() + "data-csrf=\"".len();
        step[at..at + 64].to_owned()
    };
    // The signature the browser posted is good once: replayed against this session's own
    // fresh challenge it does not verify, and without a challenge there is nothing to verify.
    let replay = report["verifyBody"].as_str().unwrap();
    let (status, body) = post_json(addr, "/dashboard/passkey/verify", &owing, &csrf, replay);
    assert_eq!(status, 409, "{body}");
    let (status, challenge) = post_json(addr, "/dashboard/passkey/challenge", &owing, &csrf, "");
    assert_eq!(status, 200, "{challenge}");
    let challenge: serde_json::Value = serde_json::from_str(&challenge).unwrap();
    assert_eq!(
        challenge["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{challenge}"
    );
    let (status, body) = post_json(addr, "/dashboard/passkey/verify", &owing, &csrf, replay);
    assert_eq!(status, 401, "{body}");
    // Without the CSRF token the script's requests are refused.
    let (status, _) = post_json(addr, "/dashboard/passkey/challenge", &owing, "", "");
    assert_eq!(status, 403);
    // Still owing after all that.
    let cookie = format!("leakwatch_dashboard={owing}");
    let (status, _, _) = http_get(addr, "/dashboard", &[("Cookie", &cookie)]);
    assert_eq!(status, 303);

    // Another tenant's keys are untouched by acme's passkey, and cannot enrol into it.
    let other = sign_in(addr, &globex);
    let (status, page) = get_page(addr, "/dashboard/passkeys", Some(&other));
    assert_eq!(status, 200);
    assert!(
        page.contains("No passkey yet") && !page.contains("Ops laptop"),
        "{page}"
    );

    // The operator's way back in for a tenant that lost its passkeys: list, remove all; the
    // keys alone open the dashboard again.
    let listed = operator_cli(&data, &["keys", "passkeys", "--tenant", "acme"]);
    assert!(listed.contains("\"Ops laptop\""), "{listed}");
    let removed = operator_cli(
        &data,
        &["keys", "passkeys", "--tenant", "acme", "--remove-all"],
    );
    assert!(removed.contains("removed 1 passkey"), "{removed}");
    sign_in(addr, &third);
    server.stop();

    assert_none_in_clear(&data, [owing.as_str(), other.as_str(), third.as_str()]);
    // Enrolment and the passkey sign-in are audit records of their keys.
    let records = crate::auditlog::show(&data, &[]);
    let of = |action: &str, status: u64| {
        records
            .iter()
            .filter(|r| r["action"] == action && r["status"] == status)
            .count()
    };
    assert_eq!(of("dashboard.passkeys.enrol.post", 201), 1, "{records:#?}");
    assert_eq!(of("dashboard.passkey.verify.post", 200), 1, "{records:#?}");
    assert_eq!(of("dashboard.passkey.verify.post", 401), 1, "{records:#?}");
    assert_eq!(of("keys.passkeys.remove", 0), 1, "{records:#?}");
    assert!(
        records
            .iter()
            .filter(|r| r["action"].as_str().unwrap_or("").contains("passkey"))
            .all(|r| r["principal"]["kind"] != "public"),
        "{records:#?}"
    );
}

/// A form posted with the session's cookie: (status, body).
fn post_session_form(addr: &str, path: &str, token: &str, form: &str) -> (u16, String) {
    let cookie = format!("leakwatch_dashboard={token}");
    let (status, _, body) = post_form(addr, path, &[("Cookie", &cookie)], form);
    (status, body)
}

/// The fields of one CSV line as RFC 4180 writes them (every field quoted here).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    while chars.peek().is_some() {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match (c, chars.peek()) {
                    ('"', Some('"')) => {
                        chars.next();
                        field.push('"');
                    }
                    ('"', _) => break,
                    (c, _) => field.push(c),
                }
            }
        }
        for c in chars.by_ref() {
            if c == ',' {
                break;
            }
            field.push(c);
        }
        fields.push(field);
    }
    fields
}

fn the_dashboard_registers_and_verifies_a_domain_then_shows_and_exports_its_breaches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = crate::mail::data_with_breach(
        tmp.path(),
        &[
            "ann@corp.test",
            "bob@corp.test",
            "-cmd@corp.test",
            "eve@elsewhere.test",
        ],
    );
    let d = data.to_str().unwrap();
    let scopes = "dashboard,domain";
    let acme = crate::keys::create_key_with(d, "acme soc", "1000", scopes, &["--tenant", "acme"]);
    let globex =
        crate::keys::create_key_with(d, "globex soc", "1000", scopes, &["--tenant", "globex"]);
    let no_domain =
        crate::keys::create_key_with(d, "acme viewer", "1000", "dashboard", &["--tenant", "acme"]);
    let dns_port = free_udp_port();
    let server = Server::start_with(
        &data,
        &["--dns-resolver", &format!("127.0.0.1:{dns_port}")],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();
    let a = sign_in(addr, &acme);
    let (status, page) = get_page(addr, "/dashboard/domains", Some(&a));
    assert_eq!(status, 200);
    assert!(page.contains("No domain registered yet"), "{page}");
    let csrf = csrf_of(&page);

    // The registration form: refused without its CSRF token, done with it.
    let form = "domain=Corp.Test&contact=soc%40corp.test";
    let (status, _) = post_session_form(addr, "/dashboard/domains", &a, form);
    assert_eq!(status, 403);
    let (status, page) = post_session_form(
        addr,
        "/dashboard/domains",
        &a,
        &format!("csrf={csrf}&{form}"),
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("corp.test is registered"), "{page}");
    // The TXT record the page asks for is the one the API names for this tenant.
    let (status, _, api) = crate::mail::keyed(
        addr,
        "POST",
        "/api/v1/domains",
        &acme,
        r#"{"domain":"corp.test","contact":"soc@corp.test"}"#,
    );
    assert_eq!(status, 201, "{api}");
    let record = api["DnsTxtRecord"].as_str().unwrap().to_owned();
    assert!(page.contains(&format!("<code>{record}</code>")), "{page}");
    // A bad contact is a clear reason on the page, and registers nothing.
    let (status, page) = post_session_form(
        addr,
        "/dashboard/domains",
        &a,
        &format!("csrf={csrf}&domain=other.test&contact=not-an-address"),
    );
    assert_eq!(status, 400);
    assert!(
        page.contains("not a valid e-mail address") && !page.contains("<td>other.test</td>"),
        "{page}"
    );

    // Verification by mail needs mail: this server has none, and says so; a non-role
    // address is refused before that.
    let (status, page) = post_session_form(
        addr,
        "/dashboard/domains/verify",
        &a,
        &format!("csrf={csrf}&domain=corp.test&method=mail&address=ann%40corp.test"),
    );
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("Verification mail goes only to security@"),
        "{page}"
    );
    let (status, page) = post_session_form(
        addr,
        "/dashboard/domains/verify",
        &a,
        &format!("csrf={csrf}&domain=corp.test&method=mail&address=security%40corp.test"),
    );
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("Mail is not set up"), "{page}");

    // Verification by DNS: the resolver down, a wrong record, then the right one.
    let verify = format!("csrf={csrf}&domain=corp.test&method=dns");
    let (status, page) = post_session_form(addr, "/dashboard/domains/verify", &a, &verify);
    assert_eq!(status, 503, "{page}");
    {
        let _dns = DnsServer::start_on(
            tmp.path(),
            dns_port,
            "corp.test. 60 IN TXT \"leakwatch-verify=0000\"\n",
        );
        let (status, page) = post_session_form(addr, "/dashboard/domains/verify", &a, &verify);
        assert_eq!(status, 409, "{page}");
        assert!(page.contains("TXT record was not found"), "{page}");
    }
    // A breached-addresses page of a domain not verified yet is refused.
    let (status, _) = get_page(
        addr,
        "/dashboard/domains/breaches?domain=corp.test",
        Some(&a),
    );
    assert_eq!(status, 403);
    let _dns = DnsServer::start_on(
        tmp.path(),
        dns_port,
        &format!("corp.test. 60 IN TXT \"{record}\"\n"),
    );
    let (status, page) = post_session_form(addr, "/dashboard/domains/verify", &a, &verify);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("corp.test is verified"), "{page}");

    // Its breached addresses, per breach, and the exposure chart: what the API's
    // breacheddomain answers.
    let (status, _, api) =
        crate::mail::keyed(addr, "GET", "/api/v3/breacheddomain/corp.test", &acme, "");
    assert_eq!(status, 200);
    let api: BTreeMap<String, Vec<String>> = serde_json::from_value(api).unwrap();
    assert_eq!(api.len(), 3, "{api:?}");
    let (status, page) = get_page(
        addr,
        "/dashboard/domains/breaches?domain=corp.test",
        Some(&a),
    );
    assert_eq!(status, 200, "{page}");
    for alias in api.keys() {
        assert!(
            page.contains(&format!("{alias}@corp.test")),
            "{alias}: {page}"
        );
    }
    assert!(!page.contains("elsewhere.test"), "{page}");
    assert!(page.contains("Geographic locations"), "{page}");
    assert_eq!(page.matches("<rect class=\"bar\"").count(), 1, "{page}");

    // The CSV export: one row per address and breach, the same as the API's answer, and a
    // leading '-' defused for spreadsheets.
    let cookie = format!("leakwatch_dashboard={a}");
    let (status, headers, body) = http_get(
        addr,
        "/dashboard/domains/export?domain=corp.test",
        &[("Cookie", &cookie)],
    );
    assert_eq!(status, 200);
    assert!(headers["content-type"].starts_with("text/csv"));
    assert!(headers["content-disposition"].starts_with("attachment"));
    let csv = String::from_utf8(body).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "address,alias,breach,title,breach_date,added_date,data_classes"
    );
    let mut exported: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        let f = csv_fields(line);
        assert_eq!(f.len(), 7, "{line}");
        let alias = f[1].strip_prefix('\'').unwrap_or(&f[1]).to_owned();
        assert_eq!(
            f[0].strip_prefix('\'').unwrap_or(&f[0]),
            format!("{alias}@corp.test")
        );
        exported.entry(alias).or_default().push(f[2].clone());
    }
    assert_eq!(exported, api);
    assert!(csv.contains("\"'-cmd@corp.test\""), "{csv}");

    // Another tenant sees none of it, and can export none of it.
    let b = sign_in(addr, &globex);
    let (_, page) = get_page(addr, "/dashboard/domains", Some(&b));
    assert!(!page.contains("corp.test"), "{page}");
    for path in [
        "/dashboard/domains/breaches?domain=corp.test",
        "/dashboard/domains/export?domain=corp.test",
    ] {
        let (status, body) = get_page(addr, path, Some(&b));
        assert_eq!(status, 403, "{path}");
        assert!(!body.contains("ann@corp.test"), "{body}");
    }
    // A key without the domain scope gets the page refused.
    let c = sign_in(addr, &no_domain);
    let (status, _) = get_page(addr, "/dashboard/domains", Some(&c));
    assert_eq!(status, 403);
    server.stop();

    let records = crate::auditlog::show(&data, &[]);
    let count = |action: &str, status: u64| {
        records
            .iter()
            .filter(|r| r["action"] == action && r["status"] == status)
            .count()
    };
    assert_eq!(count("dashboard.domains.post", 200), 1, "{records:#?}");
    assert_eq!(
        count("dashboard.domains.verify.post", 200),
        1,
        "{records:#?}"
    );
    assert_eq!(
        count("dashboard.domains.export.get", 200),
        1,
        "{records:#?}"
    );
    let export = records
        .iter()
        .find(|r| r["action"] == "dashboard.domains.export.get" && r["status"] == 200)
        .unwrap();
    assert_eq!(export["size"], 3, "{export}");
    assert!(export["target"].is_string(), "{export}");
}

fn the_activity_page_shows_the_tenants_own_records_from_the_verified_audit_log() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let scopes = "dashboard,domain";
    let acme = crate::keys::create_key_with(d, "acme soc", "1000", scopes, &["--tenant", "acme"]);
    let globex =
        crate::keys::create_key_with(d, "globex soc", "1000", scopes, &["--tenant", "globex"]);
    let server = Server::start_with(
        &data,
        &[],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();
    for key in [&acme, &globex] {
        let (status, _, _) = crate::mail::keyed(addr, "GET", "/api/v3/subscribeddomains", key, "");
        assert_eq!(status, 200);
    }
    let a = sign_in(addr, &acme);
    let (status, page) = get_page(addr, "/dashboard/activity", Some(&a));
    assert_eq!(status, 200, "{page}");
    let audit = &page[page.find("id=\"audit\"").expect("the audit table")..];
    // The key's last use is known (it was just used), and its records are listed.
    assert!(!page.contains(">never<"), "{page}");
    for action in ["subscribeddomains.get", "dashboard.sign-in.post"] {
        assert!(
            audit.contains(&format!("<code>{action}</code>")),
            "{action}: {audit}"
        );
    }
    assert!(audit.contains("acme soc (key #"), "{audit}");
    assert!(!audit.contains("globex"), "{audit}");
    server.stop();

    // What the page listed is what the independent reader (`audit-log show`, which verifies
    // the chain too) holds for this tenant: each of the page's rows, in its order.
    let records = crate::auditlog::show(&data, &[]);
    let acme_actions: Vec<String> = records
        .iter()
        .filter(|r| r["principal"]["tenant"] == "acme")
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    let shown: Vec<String> = audit
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            let at = row.find("<code>").unwrap() + "<code>".len();
            row[at..at + row[at..].find("</code>").unwrap()].to_owned()
        })
        .collect();
    assert!(!shown.is_empty());
    // The page shows the newest first; the log holds them oldest first, and the page's own
    // request came after it was read.
    let mut oldest_first = shown.clone();
    oldest_first.reverse();
    assert_eq!(
        acme_actions[..oldest_first.len()],
        oldest_first[..],
        "{acme_actions:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["principal"]["tenant"] == "globex" && r["action"] == "subscribeddomains.get")
    );
}

/// The serious and critical axe-core violations a browser phase reported, by page.
fn axe_violations(report: &serde_json::Value) -> Vec<String> {
    report["axe"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(page, found)| {
            found
                .as_array()
                .unwrap()
                .iter()
                .map(move |v| format!("{page}: {}", v.as_str().unwrap()))
        })
        .collect()
}

fn the_dashboard_end_to_end_in_chromium_for_two_tenants_with_no_serious_axe_violation() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let acme = crate::keys::create_key_with(d, "acme soc", "1000", "all", &["--tenant", "acme"]);
    let globex =
        crate::keys::create_key_with(d, "globex soc", "1000", "all", &["--tenant", "globex"]);
    let dns_port = free_udp_port();
    let server = Server::start_with(
        &data,
        &[
            "--smtp-url",
            &smtp.url(),
            "--dns-resolver",
            &format!("127.0.0.1:{dns_port}"),
        ],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let base = format!("http://localhost:{port}/");
    let mut expect = serde_json::json!({
        "keyA": acme,
        "keyB": globex,
        "domain": "corp.test",
        "contact": "soc@corp.test",
        "vendor": {
            "name": "Trackly",
            "domains": "trackly.example",
            "classes": "Email addresses; Names",
            "criticality": 4,
        },
        "breach": "Trackly",
        "lookalikeSender": "billing@c0rp.test",
    });
    let mut phase = |name: &str| {
        expect["phase"] = name.into();
        let (report, shots) =
            browser_script("dashboard.mjs", &base, "dashboard-e2e", tmp.path(), &expect);
        assert_eq!(axe_violations(&report), Vec::<String>::new(), "{name}");
        (report, shots)
    };

    // The browser registers the domain; the DNS operator publishes the record it shows.
    let (report, _) = phase("register");
    let record = report["record"].as_str().unwrap().to_owned();
    let _dns = DnsServer::start_on(
        tmp.path(),
        dns_port,
        &format!("corp.test. 60 IN TXT \"{record}\"\n"),
    );
    // The browser verifies it and adds the vendor (and a form without its token is refused).
    phase("verify");

    // The vendor's breach is published, holding two of the domain's addresses: the domain's
    // contact gets the breach alert, and the vendor's owner (the same address) its impact.
    add_breach(
        &data,
        "Trackly",
        &[
            "--title",
            "Trackly",
            "--domain",
            "trackly.example",
            "--data-classes",
            "Email addresses,Names,Passwords",
        ],
    );
    let dump = write(
        &tmp.path().join("trackly.txt"),
        b"ann@corp.test:pw1\nbob@corp.test:pw2\nzed@else.test:pw3\n",
    );
    ingest_dump(&data, &dump, "Trackly", &[]);
    let mails = smtp.wait_for(2, 30);
    let subjects: Vec<&str> = mails
        .iter()
        .filter(|m| m["rcpt_tos"][0] == "soc@corp.test")
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("leakwatch: vendor Trackly hit by the Trackly breach")),
        "{subjects:?}"
    );
    assert_eq!(subjects.len(), 2, "{subjects:?}");

    // The tour: exposure, ranking, printable report, look-alikes, activity, passkeys; then
    // tenant B sees none of it. axe-core on every page.
    let (_, shots) = phase("tour");
    server.stop();
    // The README's screenshots: written from here when asked (small PNGs, committed).
    let names = [
        "public",
        "dashboard-exposure",
        "dashboard-vendors",
        "dashboard-activity",
    ];
    for name in names {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}");
        if std::env::var_os("LEAKWATCH_WRITE_SCREENSHOTS").is_some() {
            let docs =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
        }
    }
}
