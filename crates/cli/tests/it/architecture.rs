//! The layers of ARCHITECTURE.md, held by a test: `cargo metadata` lists each workspace
//! crate's normal (non-dev) dependencies, and a crate that depends on one its layer must not
//! reach fails the test.
//!
//! The service layer (issue #17) is being built: the edges api and cli still have to the
//! engines are listed in `NOT_YET`, and the test also fails when one of them is gone, so the
//! list shrinks as the work lands and never hides a new edge.

use std::collections::{BTreeMap, BTreeSet};

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![test!(every_crate_depends_only_on_the_layers_below_it)]
}

/// (crate, crates it must not depend on). "*" = any workspace crate.
const FORBIDDEN: &[(&str, &[&str])] = &[
    // The storage engine knows nothing of leakwatch's other parts.
    ("leakwatch-store", &["*"]),
    // Engines do not call up into the edges.
    ("leakwatch-ingest", &["leakwatch-api", "leakwatch"]),
    (
        "leakwatch-catalog",
        &["leakwatch-api", "leakwatch", "leakwatch-ingest"],
    ),
    (
        "leakwatch-notify",
        &["leakwatch-api", "leakwatch", "leakwatch-ingest"],
    ),
    (
        "leakwatch-mirror",
        &["leakwatch-api", "leakwatch", "leakwatch-ingest"],
    ),
    ("leakwatch-identity", &["*"]),
    // The data directory's layout is below everything that lives in it.
    ("leakwatch-datadir", &["*"]),
    ("leakwatch-lookalike", &["*"]),
    // The credential check's protocol is arithmetic and byte formats: it knows how a login
    // is normalised (identity) and nothing of storage, HTTP or the catalogue.
    ("leakwatch-credentials", &PROTOCOL_ONLY),
    // A login server's client speaks HTTP and the protocol's arithmetic, nothing else.
    ("leakwatch-client", &PROTOCOL_ONLY),
    // The audit trail's format and seal know nothing of who may do what (the service makes
    // the events).
    ("leakwatch-trail", &["*"]),
    // A Directory backend moves bytes for the store and knows nothing else of leakwatch.
    (
        "leakwatch-objstore",
        &[
            "leakwatch-ingest",
            "leakwatch-catalog",
            "leakwatch-notify",
            "leakwatch-mirror",
            "leakwatch-datadir",
            "leakwatch-service",
            "leakwatch-api",
            "leakwatch",
        ],
    ),
    // Generated corpora need the key functions (store), not the import pipeline.
    (
        "leakwatch-gen",
        &["leakwatch-ingest", "leakwatch-api", "leakwatch-catalog"],
    ),
    // The edges reach the engines through the service layer only (the store's snapshot
    // types are allowed to api for the range hot path).
    ("leakwatch-api", &ENGINES_BEHIND_THE_SERVICE),
    ("leakwatch", &ENGINES_BEHIND_THE_SERVICE),
    // The CLI may start the server; the server never calls the CLI.
    ("leakwatch-api", &["leakwatch"]),
    ("leakwatch-service", &["leakwatch-api", "leakwatch"]),
];

/// What the credential check's protocol crate and its client may not depend on: every
/// workspace crate but identity (how a login is normalised) and, for the client, the protocol.
const PROTOCOL_ONLY: [&str; 14] = [
    "leakwatch-store",
    "leakwatch-ingest",
    "leakwatch-catalog",
    "leakwatch-notify",
    "leakwatch-mirror",
    "leakwatch-datadir",
    "leakwatch-objstore",
    "leakwatch-service",
    "leakwatch-api",
    "leakwatch",
    "leakwatch-audit",
    "leakwatch-trail",
    "leakwatch-lookalike",
    "leakwatch-gen",
];

/// The engines the edges (api, cli) reach only through the service layer.
const ENGINES_BEHIND_THE_SERVICE: [&str; 8] = [
    "leakwatch-ingest",
    "leakwatch-objstore",
    "leakwatch-catalog",
    "leakwatch-notify",
    "leakwatch-mirror",
    "leakwatch-audit",
    "leakwatch-lookalike",
    "leakwatch-trail",
];

/// Edges that break a rule above until the service crate takes them over (issue #17).
const NOT_YET: &[(&str, &str)] = &[];

/// Each workspace crate's normal dependencies on other workspace crates.
fn workspace_graph() -> BTreeMap<String, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let members: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null()) // normal, not dev or build
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|d| members.contains(d))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

fn every_crate_depends_only_on_the_layers_below_it() {
    let graph = workspace_graph();
    assert!(
        graph.contains_key("leakwatch-store") && graph.contains_key("leakwatch"),
        "{graph:?}"
    );
    let mut broken = BTreeSet::new();
    for (krate, forbidden) in FORBIDDEN {
        let deps = graph
            .get(*krate)
            .unwrap_or_else(|| panic!("{krate} is not a workspace crate any more"));
        for dep in deps {
            if forbidden.contains(&"*") || forbidden.contains(&dep.as_str()) {
                broken.insert((krate.to_string(), dep.clone()));
            }
        }
    }
    let not_yet: BTreeSet<(String, String)> = NOT_YET
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<_> = broken.difference(&not_yet).collect();
    assert!(new.is_empty(), "dependencies that break a layer: {new:?}");
    let gone: Vec<_> = not_yet.difference(&broken).collect();
    assert!(
        gone.is_empty(),
        "these edges are gone: take them off NOT_YET: {gone:?}"
    );
}
