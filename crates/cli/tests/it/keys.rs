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
    ]
}

/// Creates a key with the CLI and returns the secret it printed.
pub fn create_key(data: &str, name: &str, rpm: &str) -> String {
    let out = leakwatch(
        &[
            "keys", "create", "--data", data, "--name", name, "--rpm", rpm,
        ],
        None,
    );
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(secret.len(), 32, "{secret}");
    secret
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
    assert_eq!(s["SubscribedUntil"], "9999-12-31T23:59:59Z");
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
