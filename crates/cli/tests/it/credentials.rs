//! The private credential check (issue #24), so far its protocol: the JavaScript client
//! (crates/api/src/web/credentials.js over the vendored @noble/curves) run by node against
//! the vectors the Rust crate is tested against too — logins and buckets from Python, the
//! case-folding table, RFC 9497 A.1.1, the protocol's entries under a key.

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(the_javascript_credential_client_agrees_with_the_shared_vectors)
            .needs(&[Need::NodePackages]),
    ]
}

fn the_javascript_credential_client_agrees_with_the_shared_vectors() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js/credentials.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every login case, every fold, both RFC vectors and seven checks per entry ran.
    let passed: usize = stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed > 1_600, "{stdout}");
}
