//! API keys: created by the CLI, checked by the keyed v3 endpoints (401 plain text, 429 with
//! `retry-after` and HIBP's JSON body), revoked without a restart.

use std::sync::Arc;

use axum::{body::Body, http::Request};
use leakwatch_api::{AppState, app};
use serde_json::Value;
use tower::ServiceExt;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(async keys_authorise_rate_limit_and_revoke),
        test!(api_keys_are_stored_only_as_their_digest),
        test!(async every_keyed_route_declares_one_scope_and_keys_without_it_get_403),
        test!(keys_need_scopes_and_stay_under_the_rpm_ceiling),
        test!(async a_rotated_key_has_a_successor_with_its_scopes_and_works_until_the_overlap_ends),
        test!(keys_expire_by_default_and_list_the_day_they_were_last_used),
        test!(daily_quotas_and_the_rate_limit_hold_across_a_restart),
    ]
}

/// Creates a key that may do everything (`--scope all`) with the CLI and returns the secret
/// it printed.
pub fn create_key(data: &str, name: &str, rpm: &str) -> String {
    create_scoped_key(data, name, rpm, "all")
}

/// Creates a key with these scopes (`--scope`) and returns the secret it printed. Tests set
/// their own rpm ceiling, as bench/ does.
pub fn create_scoped_key(data: &str, name: &str, rpm: &str, scopes: &str) -> String {
    create_key_with(data, name, rpm, scopes, &[])
}

/// Creates a key that may do everything in `tenant` (`--tenant`) and returns its secret.
pub fn create_tenant_key(data: &str, name: &str, tenant: &str) -> String {
    create_key_with(data, name, "100000", "all", &["--tenant", tenant])
}

pub fn create_key_with(data: &str, name: &str, rpm: &str, scopes: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "keys",
        "create",
        "--data",
        data,
        "--name",
        name,
        "--rpm",
        rpm,
        "--max-rpm",
        "4000000000",
        "--scope",
        scopes,
    ];
    args.extend_from_slice(extra);
    let out = leakwatch(&args, None);
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(secret.len(), 32, "{secret}");
    secret
}

/// The UTC day `days` from today, `YYYY-MM-DD`, by coreutils' `date` (an independent
/// calendar).
pub fn day_in(days: u32) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("+{days} days"), "+%F"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn status(state: &Arc<AppState>, key: Option<&str>) -> (u16, axum::http::HeaderMap, String) {
    let mut req =
        Request::get("/api/v3/subscription/status").header("user-agent", "leakwatch-tests");
    if let Some(k) = key {
        req = req.header("hibp-api-key", k);
    }
    let resp = app(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (code, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn keys_authorise_rate_limit_and_revoke() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let fast = create_key(d, "Fast Client", "600");
    let slow = create_key(d, "Slow Client", "2");
    let state = app_state(&data);

    let (code, _, body) = status(&state, Some(&fast)).await;
    assert_eq!(code, 200);
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["SubscriptionName"], "Fast Client");
    assert_eq!(s["Rpm"], 600);
    // A key made without --expires ends after the default 365 days.
    assert_eq!(s["SubscribedUntil"], format!("{}T23:59:59Z", day_in(365)));
    assert_eq!(s["IncludesStealerLogs"], true);

    for key in [
        None,
        Some(""),
        Some("0123456789abcdef0123456789abcdef"),
        Some(&fast[..31]),
    ] {
        let (code, headers, body) = status(&state, key).await;
        assert_eq!(code, 401, "{key:?}");
        assert_eq!(headers["content-type"], "text/plain");
        assert!(body.contains("hibp-api-key") && !body.contains('\n'));
    }

    // Two requests per minute: the third is refused with HIBP's 429.
    assert_eq!(status(&state, Some(&slow)).await.0, 200);
    assert_eq!(status(&state, Some(&slow)).await.0, 200);
    let (code, headers, body) = status(&state, Some(&slow)).await;
    assert_eq!(code, 429);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(
        body,
        format!(
            "{{\"statusCode\":429,\"message\":\"Rate limit is exceeded. Try again in {retry} seconds.\"}}"
        )
    );
    assert_eq!(
        status(&state, Some(&fast)).await.0,
        200,
        "limits are per key"
    );

    // No user agent: 403 before the key is even looked at.
    let req = Request::get("/api/v3/subscription/status")
        .header("hibp-api-key", &fast)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app(state.clone())
            .oneshot(req)
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );

    let list = String::from_utf8(leakwatch(&["keys", "list", "--data", d], None).stdout).unwrap();
    assert!(
        list.contains(&fast[..6]) && list.contains("Slow Client") && !list.contains(&fast),
        "{list}"
    );
    leakwatch(&["keys", "revoke", "--data", d, &fast[..6]], None);
    assert!(state.catalog.reload_if_changed().unwrap());
    assert_eq!(
        status(&state, Some(&fast)).await.0,
        401,
        "revoked keys are refused"
    );
    let list = String::from_utf8(leakwatch(&["keys", "list", "--data", d], None).stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains("Fast Client") && l.contains("revoked")),
        "{list}"
    );
}

fn api_keys_are_stored_only_as_their_digest() {
    use sha2::Digest;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let key = create_key(d, "Client", "10");
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    let holds = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    assert!(!holds(key.as_bytes()), "the key itself is on disk");
    assert!(!holds(key.to_uppercase().as_bytes()));
    assert!(holds(&digest), "its SHA-256 is what is stored");
    let listed = leakwatch(&["keys", "list", "--data", d], None);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains(&key[..6]) && !listed.contains(&key),
        "{listed}"
    );
}

/// Walks the route table (`leakwatch_api::route_access`): every keyed route declares one
/// scope (only `subscription/status` takes any valid key); for each scope, a key holding every
/// scope but that one gets 403 naming it on every route of the scope, by every method the
/// route serves, and a key holding only that scope gets past the check. The scopes come from
/// the route table, the names from the CLI's `--scope` list in the README.
async fn every_keyed_route_declares_one_scope_and_keys_without_it_get_403() {
    use leakwatch_api::Access;
    use leakwatch_service::keys::Scope;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let d = data.to_str().unwrap();
    let routes = leakwatch_api::route_access();
    let keyed: Vec<(&str, Option<Scope>)> = routes
        .iter()
        .filter_map(|(path, access)| match access {
            Access::Key(scope) => Some((*path, *scope)),
            _ => None,
        })
        .collect();
    // The HIBP-keyed endpoints and leakwatch's own organisation endpoints are all keyed.
    for path in [
        "/api/v3/breachedaccount/{account}",
        "/api/v3/breachedaccount/range/{prefix}",
        "/api/v3/breacheddomain/{domain}",
        "/api/v3/subscribeddomains",
        "/api/v3/subscription/status",
        "/api/v1/domains",
        "/api/v1/vendors",
        "/api/v1/lookalike",
    ] {
        assert!(keyed.iter().any(|(p, _)| *p == path), "{path} is not keyed");
    }
    let unscoped: Vec<&str> = keyed
        .iter()
        .filter(|(_, s)| s.is_none())
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(unscoped, ["/api/v3/subscription/status"]);

    let all_names = [
        "account",
        "account-range",
        "domain",
        "domain-bulk",
        "vendors",
        "lookalike",
        "stealerlogs",
        "pastes",
        "credentials",
        "dashboard",
    ];
    let state = app_state(&data);
    let uri_of = |path: &str| {
        path.replace("{account}", "kim%40example.com")
            .replace("{prefix}", "A1B2C3")
            .replace("{domain}", "example.com")
            .replace("{name}", "Acme")
            .replace("{breach}", "Acme")
    };
    let call = |method: &'static str, uri: String, key: String| {
        let state = state.clone();
        async move {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .header("user-agent", "leakwatch-tests")
                .header("hibp-api-key", key)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let resp = app(state).oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let scoped: std::collections::BTreeSet<Scope> = keyed.iter().filter_map(|(_, s)| *s).collect();
    for scope in scoped {
        let others: Vec<&str> = all_names
            .iter()
            .copied()
            .filter(|n| *n != scope.name())
            .collect();
        let without = create_scoped_key(d, "without", "100000", &others.join(","));
        let with = create_scoped_key(d, "with", "100000", scope.name());
        state.catalog.reload_if_changed().unwrap();
        for (path, _) in keyed.iter().filter(|(_, s)| *s == Some(scope)) {
            let mut served = 0;
            for method in ["GET", "POST", "DELETE"] {
                let (status, body) = call(method, uri_of(path), without.clone()).await;
                if status == 405 {
                    continue;
                }
                served += 1;
                assert_eq!(status, 403, "{method} {path} without {scope}: {body}");
                assert!(
                    body.contains(&format!("lacks the scope {}", scope.name())),
                    "{method} {path}: the reason does not name {scope}: {body}"
                );
                let (status, body) = call(method, uri_of(path), with.clone()).await;
                assert!(
                    status != 401 && !body.contains("lacks the scope"),
                    "{method} {path} with {scope}: {status} {body}"
                );
            }
            assert!(served > 0, "{path} answered no method");
        }
    }
    // Public routes take no key: a request without one is never 401.
    for (path, access) in &routes {
        if *access == Access::Public && !path.contains('{') {
            let (status, _, _) = get(&state, path, &[("user-agent", "leakwatch-tests")]).await;
            assert_ne!(status, 401, "{path} is public but wants a key");
            assert_ne!(
                status, 500,
                "{path} is declared public but its handler takes a key"
            );
        }
    }
}

/// `keys create` needs `--scope` (an unknown name is refused with the list); `keys list`
/// shows each key's scopes.
fn keys_need_scopes_and_stay_under_the_rpm_ceiling() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let no_scope = try_leakwatch(&["keys", "create", "--data", d, "--name", "x"], None);
    assert!(!no_scope.status.success());
    assert!(String::from_utf8_lossy(&no_scope.stderr).contains("--scope"));
    let typo = try_leakwatch(
        &[
            "keys", "create", "--data", d, "--name", "x", "--scope", "acount",
        ],
        None,
    );
    assert!(!typo.status.success());
    let why = String::from_utf8_lossy(&typo.stderr);
    assert!(
        why.contains("unknown scope") && why.contains("account-range"),
        "{why}"
    );
    // The operator's rpm ceiling (issue #18, finding 6): 10,000 unless raised.
    let greedy = |extra: &[&str]| {
        let mut args = vec![
            "keys", "create", "--data", d, "--name", "greedy", "--scope", "account", "--rpm",
            "10001",
        ];
        args.extend_from_slice(extra);
        try_leakwatch(&args, None)
    };
    let refused = greedy(&[]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("above the ceiling of 10000"), "{why}");
    assert!(greedy(&["--max-rpm", "20000"]).status.success());
    create_scoped_key(d, "soc", "10", "vendors,domain");
    let list = String::from_utf8(leakwatch(&["keys", "list", "--data", d], None).stdout).unwrap();
    assert!(list.contains("domain,vendors"), "{list}");
    assert!(!list.contains('*'), "{list}");
    // Keys from before scopes: see fixture::a_version_2_catalogue_is_refused_until_migrated_…
    // (its keys list as `all*` after `leakwatch migrate`).
}

/// `keys rotate` (issue #18, key lifecycle): the successor has the old key's name, rpm and
/// scopes and works at once; the old key keeps working to the end of the stated overlap (its
/// last day computed here by coreutils' `date`, an independent reference), and a revoked key
/// cannot be rotated.
async fn a_rotated_key_has_a_successor_with_its_scopes_and_works_until_the_overlap_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let old = create_scoped_key(d, "soc", "10", "vendors,domain");
    let out = leakwatch(
        &[
            "keys",
            "rotate",
            "--data",
            d,
            &old[..6],
            "--overlap-days",
            "3",
        ],
        None,
    );
    let new = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(new.len(), 32, "{new}");
    assert_ne!(new, old);
    let day = std::process::Command::new("date")
        .args(["-u", "-d", "+3 days", "+%F"])
        .output()
        .unwrap();
    let day = String::from_utf8(day.stdout).unwrap().trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("works until {day}")), "{stderr}");
    let list = String::from_utf8(leakwatch(&["keys", "list", "--data", d], None).stdout).unwrap();
    let line = |prefix: &str| {
        list.lines()
            .find(|l| l.contains(prefix))
            .unwrap_or_else(|| panic!("{prefix} not listed: {list}"))
            .to_owned()
    };
    let (old_line, new_line) = (line(&old[..6]), line(&new[..6]));
    assert!(
        old_line.ends_with(&format!("active until {day}")),
        "{old_line}"
    );
    for l in [&old_line, &new_line] {
        assert!(l.contains(" soc ") && l.contains("domain,vendors"), "{l}");
    }
    assert!(
        new_line.ends_with(&format!("active until {}", day_in(365))),
        "the successor keeps the key's own expiry: {new_line}"
    );
    // Both work during the overlap, with the same scopes.
    let state = app_state(&data);
    for key in [&old, &new] {
        let (code, _, body) = status(&state, Some(key)).await;
        assert_eq!(code, 200, "{body}");
        let s: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(s["Scopes"], serde_json::json!(["domain", "vendors"]));
        assert_eq!(s["Rpm"], 10);
    }
    // A revoked key is not rotated.
    leakwatch(&["keys", "revoke", "--data", d, &new[..6]], None);
    let refused = try_leakwatch(&["keys", "rotate", "--data", d, &new[..6]], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("revoked or expired"));
}

fn keys_expire_by_default_and_list_the_day_they_were_last_used() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let create = |name: &str, extra: &[&str]| create_key_with(d, name, "100", "account", extra);
    let default = create("default", &[]);
    let month = create("month", &["--valid-days", "30"]);
    let never = create("never", &["--expires", "never"]);
    let dated = create("dated", &["--expires", "2031-02-03"]);
    let list =
        || String::from_utf8(leakwatch(&["keys", "list", "--data", d], None).stdout).unwrap();
    let line = |list: &str, key: &str| {
        list.lines()
            .find(|l| l.contains(&key[..6]))
            .unwrap_or_else(|| panic!("{key} not listed: {list}"))
            .to_owned()
    };
    let listed = list();
    assert!(
        listed.lines().next().unwrap().contains("LAST USED"),
        "{listed}"
    );
    for (key, state) in [
        (&default, format!("active until {}", day_in(365))),
        (&month, format!("active until {}", day_in(30))),
        (&never, "active".to_owned()),
        (&dated, "active until 2031-02-03".to_owned()),
    ] {
        let l = line(&listed, key);
        assert!(l.ends_with(&format!("never       {state}")), "{l}");
    }
    // A request with a key records the day; the others stay unused.
    let server = Server::start(&data);
    let (status, _, _) = http_get(
        &server.addr,
        "/api/v3/subscription/status",
        &[("hibp-api-key", month.as_str()), ("User-Agent", "tests")],
    );
    assert_eq!(status, 200);
    let today = day_in(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !line(&list(), &month).contains(&format!("  {today}  ")) {
        assert!(std::time::Instant::now() < deadline, "{}", list());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(line(&list(), &default).contains("  never  "));
}

fn daily_quotas_and_the_rate_limit_hold_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    crate::mail::load_breach(tmp.path(), &data, "Somebank", &["ann@example.test"]);
    // A generous rate and a quota of 3 account lookups a day; a slow key without quotas.
    let quota = create_key_with(d, "quota", "1000", "account", &["--quota", "account=3"]);
    let slow = create_key_with(d, "slow", "2", "account", &[]);
    let get = |server: &Server, key: &str, path: &str| {
        let raw = http_raw(
            &server.addr,
            "GET",
            path,
            &[("hibp-api-key", key), ("User-Agent", "tests")],
            b"",
        );
        parse_response(&raw)
    };
    let lookup = "/api/v3/breachedaccount/ann%40example.test";
    let server = Server::start(&data);
    for _ in 0..3 {
        assert_eq!(get(&server, &quota, lookup).0, 200);
    }
    let (status, headers, body) = get(&server, &quota, lookup);
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, 429, "{body}");
    assert!(
        body.contains("daily quota of 3 requests in scope account"),
        "{body}"
    );
    let retry: u64 = headers["retry-after"].parse().unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    // A route of no scope is not counted against the quota.
    assert_eq!(get(&server, &quota, "/api/v3/subscription/status").0, 200);
    // The slow key's two tokens, then 429.
    for _ in 0..2 {
        assert_eq!(get(&server, &slow, lookup).0, 200);
    }
    assert_eq!(get(&server, &slow, lookup).0, 429);
    // The limiter's state is saved at most half a second later; a restart keeps it.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    drop(server);
    let server = Server::start(&data);
    assert_eq!(
        get(&server, &quota, lookup).0,
        429,
        "the quota was forgotten"
    );
    assert_eq!(
        get(&server, &slow, lookup).0,
        429,
        "the bucket was refilled"
    );
    // Other keys are not touched by either.
    let fresh = create_key_with(d, "fresh", "1000", "account", &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut status = get(&server, &fresh, lookup).0;
    while status == 401 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        status = get(&server, &fresh, lookup).0;
    }
    assert_eq!(status, 200);
}
