//! What packaging needs from the binary: shell completions and the manual page, generated
//! from the CLI definition so they never drift from it.

use crate::support::*;

#[test]
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

/// The hardened unit in `packaging/` passes `systemd-analyze verify` with no warning (an
/// unknown or misspelt setting would be one), pointed at the binary under test.
#[test]
fn the_systemd_unit_verifies_cleanly() {
    let have = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available(have, "systemd unit", "apt-get install systemd") {
        return;
    }
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/leakwatch.service"),
    )
    .unwrap();
    for setting in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ReadWritePaths=/var/lib/leakwatch",
    ] {
        assert!(unit.lines().any(|l| l == setting), "{setting}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = write(
        &tmp.path().join("leakwatch.service"),
        unit.replace("/usr/local/bin/leakwatch", bin()).as_bytes(),
    );
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
