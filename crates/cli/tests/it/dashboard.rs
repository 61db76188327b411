//! The organisation dashboard's sessions over a real socket: an API key with the `dashboard`
//! scope is exchanged for an `HttpOnly`, `SameSite=Strict` cookie; each tenant sees only its
//! own domains and keys; a form without its CSRF token, or from another site, is refused; a
//! revoked key ends its sessions; the catalogue never holds a token; sign-in is audited.

use std::collections::BTreeMap;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![test!(
        dashboard_sessions_are_cookies_scoped_to_their_tenant_csrf_checked_and_end_with_their_key
    )]
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
    let (status, headers, body) = post_form(addr, "/dashboard/sign-in", &[], &format!("key={key}"));
    assert_eq!(status, 303, "{body}");
    assert_eq!(headers["location"], "/dashboard");
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
