//! What packaging needs from the binary: shell completions and the manual page, generated
//! from the CLI definition so they never drift from it.

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(completions_and_the_manual_page_come_from_the_cli_definition),
        test!(the_systemd_units_verify_cleanly).needs(&[Need::SystemdAnalyze]),
        test!(the_grafana_dashboard_only_queries_exported_metrics),
    ]
}

fn completions_and_the_manual_page_come_from_the_cli_definition() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef leakwatch"),
        ("fish", "complete -c leakwatch"),
    ] {
        let out = leakwatch(&["completions", shell], None);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}");
        for sub in [
            "serve",
            "ingest",
            "audit",
            "lookalike",
            "vendors",
            "subscribe",
        ] {
            assert!(text.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let man = String::from_utf8(leakwatch(&["manpage"], None).stdout).unwrap();
    assert!(man.contains(".TH leakwatch 1"), "{man}");
    assert!(man.contains("serve") && man.contains("audit"), "{man}");
}

/// The hardened units in `packaging/` (the server, and the daily sync with its timer) pass
/// `systemd-analyze verify` with no warning (an unknown or misspelt setting would be one),
/// pointed at the binary under test.
fn the_systemd_units_verify_cleanly() {
    let packaging = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging");
    let tmp = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for name in [
        "leakwatch.service",
        "leakwatch-sync.service",
        "leakwatch-sync.timer",
    ] {
        let unit = std::fs::read_to_string(packaging.join(name)).unwrap();
        if name.ends_with(".service") {
            for setting in [
                "DynamicUser=yes",
                "ProtectSystem=strict",
                "NoNewPrivileges=yes",
                "ReadWritePaths=/var/lib/leakwatch",
                "StateDirectory=leakwatch",
            ] {
                assert!(unit.lines().any(|l| l == setting), "{name}: {setting}");
            }
        }
        paths.push(write(
            &tmp.path().join(name),
            unit.replace("/usr/local/bin/leakwatch", bin()).as_bytes(),
        ));
    }
    // The sync runs as the server's dynamic user (named after leakwatch.service).
    let sync = std::fs::read_to_string(packaging.join("leakwatch-sync.service")).unwrap();
    assert!(sync.lines().any(|l| l == "User=leakwatch"));
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}

/// Every metric the Grafana dashboard in `packaging/grafana/` queries is one the server
/// exports (read from a live `/metrics`), so the dashboard never shows a silent empty panel.
fn the_grafana_dashboard_only_queries_exported_metrics() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../packaging/grafana/leakwatch.json"),
    )
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("leakwatch_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                queried.insert(name);
            }
        }
    }
    assert!(queried.len() >= 6, "{queried:?}");

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let list = write(&tmp.path().join("p.txt"), b"hunter2\n");
    ingest_quiet(data.to_str().unwrap(), list.to_str().unwrap());
    // With mail set up, so the outbox metrics are exported too (the SMTP server is never
    // contacted: nothing is queued).
    let server = Server::start_with(
        &data,
        &["--smtp-url", "smtp://127.0.0.1:9"],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );
    http_get(&server.addr, "/range/5BAA6", &[]);
    // And an import running, so its metrics are exported too.
    let (mut import, stdin) = running_import(&data, 300_000);
    let exported = metrics_until(&server.metrics_addr, |t| {
        metric(t, "leakwatch_import_running") == Some(1.0)
    });
    drop(stdin);
    assert!(import.wait().unwrap().success());
    for name in &queried {
        assert!(
            exported
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "the dashboard queries {name}, which /metrics does not export"
        );
    }
}
