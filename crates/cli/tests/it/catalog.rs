//! The breach catalogue through the CLI and the HIBP v3 endpoints, compared with a reference
//! computed from the fixture file itself.

use std::{path::PathBuf, sync::Arc};

use leakwatch_api::AppState;
use serde_json::Value;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(async v3_catalogue_endpoints_match_the_fixture),
        test!(async cli_add_edit_retire_and_a_running_server_sees_them),
    ]
}

pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalog.json")
}

/// The reference: fixture entries, not retired, sorted by Title (case-insensitively).
pub fn reference_live() -> Vec<Value> {
    let all: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture_path()).unwrap()).unwrap();
    let mut live: Vec<Value> = all
        .into_iter()
        .filter(|b| b["IsRetired"] == false)
        .collect();
    live.sort_by_key(|b| b["Title"].as_str().unwrap().to_lowercase());
    live
}

pub fn reference_data_classes() -> Vec<String> {
    data_classes_of(&reference_live())
}

/// Every data class of these breaches, alphabetically (case-insensitively), once.
pub fn data_classes_of(live: &[Value]) -> Vec<String> {
    let mut c: Vec<String> = live
        .iter()
        .flat_map(|b| {
            b["DataClasses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    c.sort_by_key(|s| s.to_lowercase());
    c.dedup();
    c
}

pub fn reference_latest() -> Value {
    latest_of(&reference_live())
}

/// The breach with the latest AddedDate.
pub fn latest_of(live: &[Value]) -> Value {
    live.iter()
        .cloned()
        .max_by_key(|b| b["AddedDate"].as_str().unwrap().to_string())
        .unwrap()
}

/// A GET in-process, with or without a User-Agent: status, content type, body.
async fn get(state: &Arc<AppState>, uri: &str, agent: bool) -> (u16, String, Vec<u8>) {
    let agent: &[(&str, &str)] = if agent {
        &[("user-agent", "leakwatch-tests")]
    } else {
        &[]
    };
    let (status, headers, body) = crate::support::get(state, uri, agent).await;
    let ct = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, body)
}

async fn get_json(state: &Arc<AppState>, uri: &str) -> Value {
    let (status, ct, body) = get(state, uri, true).await;
    assert_eq!(status, 200, "{uri}");
    assert_eq!(ct, "application/json; charset=utf-8");
    serde_json::from_slice(&body).unwrap()
}

fn imported() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = leakwatch(
        &[
            "breach",
            "import",
            "--data",
            data.to_str().unwrap(),
            fixture_path().to_str().unwrap(),
        ],
        None,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 6 breaches"));
    (tmp, data)
}

async fn v3_catalogue_endpoints_match_the_fixture() {
    let (_tmp, data) = imported();
    let state = app_state(&data);
    let live = reference_live();
    assert_eq!(
        get_json(&state, "/api/v3/breaches").await,
        Value::Array(live.clone())
    );
    let fictobank: Vec<Value> = live
        .iter()
        .filter(|b| b["Domain"] == "fictobank.example")
        .cloned()
        .collect();
    assert_eq!(fictobank.len(), 2);
    assert_eq!(
        get_json(&state, "/api/v3/breaches?domain=fictobank.example").await,
        Value::Array(fictobank.clone())
    );
    assert_eq!(
        get_json(&state, "/api/v3/breaches?Domain=FictoBank.example").await,
        Value::Array(fictobank)
    );
    let spam: Vec<Value> = live
        .iter()
        .filter(|b| b["IsSpamList"] == true)
        .cloned()
        .collect();
    assert_eq!(
        get_json(&state, "/api/v3/breaches?IsSpamList=true").await,
        Value::Array(spam)
    );
    assert_eq!(
        get_json(&state, "/api/v3/breaches?domain=nobody.example").await,
        Value::Array(vec![])
    );

    let analytica = live.iter().find(|b| b["Name"] == "Analytica").unwrap();
    assert_eq!(
        &get_json(&state, "/api/v3/breach/Analytica").await,
        analytica
    );
    assert_eq!(
        &get_json(&state, "/api/v3/breach/analytica").await,
        analytica
    );
    assert_eq!(analytica["Vendor"], "TrackCo");
    assert_eq!(
        get(&state, "/api/v3/breach/OldForum", true).await.0,
        404,
        "retired breaches are gone"
    );
    assert_eq!(get(&state, "/api/v3/breach/Nope", true).await.0, 404);

    assert_eq!(
        get_json(&state, "/api/v3/latestbreach").await,
        reference_latest()
    );
    assert_eq!(
        reference_latest()["Name"],
        "Analytica",
        "OldForum was added later but is retired"
    );
    let classes: Vec<String> =
        serde_json::from_value(get_json(&state, "/api/v3/dataclasses").await).unwrap();
    assert_eq!(classes, reference_data_classes());
    assert!(
        !classes.contains(&"Usernames".to_string()),
        "classes of retired breaches are not listed"
    );

    for uri in [
        "/api/v3/breaches",
        "/api/v3/breach/Analytica",
        "/api/v3/latestbreach",
        "/api/v3/dataclasses",
    ] {
        let (status, _, body) = get(&state, uri, false).await;
        assert_eq!(status, 403, "{uri} without a user agent");
        assert!(!String::from_utf8(body).unwrap().is_empty());
    }
    assert_eq!(
        get(&state, "/api/v3/breaches?IsSpamList=maybe", true)
            .await
            .0,
        400
    );
}

async fn cli_add_edit_retire_and_a_running_server_sees_them() {
    let (_tmp, data) = imported();
    let d = data.to_str().unwrap();
    let state = app_state(&data);
    let out = leakwatch(
        &[
            "breach",
            "add",
            "--data",
            d,
            "--name",
            "Shoply",
            "--breach-date",
            "2026-10-01",
            "--domain",
            "Shoply.Example",
            "--data-classes",
            "Email addresses, Passwords",
            "--vendor",
            "CartCo",
            "--pwn-count",
            "42",
        ],
        None,
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            added["Title"].as_str(),
            added["Domain"].as_str(),
            added["Vendor"].as_str()
        ),
        (Some("Shoply"), Some("shoply.example"), Some("CartCo"))
    );
    assert!(
        try_leakwatch(
            &[
                "breach",
                "add",
                "--data",
                d,
                "--name",
                "shoply",
                "--breach-date",
                "2026-10-01"
            ],
            None
        )
        .status
        .code()
            != Some(0),
        "duplicate names are refused"
    );
    let bad = try_leakwatch(
        &[
            "breach",
            "add",
            "--data",
            d,
            "--name",
            "Bad",
            "--breach-date",
            "2026-02-30",
        ],
        None,
    );
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("BreachDate"));

    assert!(state.catalog.reload_if_changed().unwrap());
    assert_eq!(get_json(&state, "/api/v3/breach/Shoply").await, added);
    assert_eq!(
        get_json(&state, "/api/v3/latestbreach").await["Name"],
        "Shoply"
    );

    let tmp = tempfile::tempdir().unwrap();
    let manifest = write(
        &tmp.path().join("m.toml"),
        b"Name = \"Tomlish\"\nBreachDate = \"2020-02-02\"\nIsSensitive = true\n",
    );
    let out = leakwatch(
        &[
            "breach",
            "add",
            "--data",
            d,
            "--from",
            manifest.to_str().unwrap(),
            "--title",
            "Tomlish Ltd",
        ],
        None,
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (t["Title"].as_str(), t["IsSensitive"].as_bool()),
        (Some("Tomlish Ltd"), Some(true))
    );

    leakwatch(
        &[
            "breach",
            "edit",
            "--data",
            d,
            "Shoply",
            "--pwn-count",
            "43",
            "--sensitive",
        ],
        None,
    );
    leakwatch(&["breach", "retire", "--data", d, "Fictobank"], None);
    let shown: Value =
        serde_json::from_slice(&leakwatch(&["breach", "show", "--data", d, "shoply"], None).stdout)
            .unwrap();
    assert_eq!(
        (shown["PwnCount"].as_u64(), shown["IsSensitive"].as_bool()),
        (Some(43), Some(true))
    );
    assert_eq!(shown["AddedDate"], added["AddedDate"]);
    assert!(state.catalog.reload_if_changed().unwrap());
    assert_eq!(get(&state, "/api/v3/breach/Fictobank", true).await.0, 404);
    let list = String::from_utf8(leakwatch(&["breach", "list", "--data", d], None).stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("Fictobank") && l.contains("retired")),
        "{list}"
    );
}
