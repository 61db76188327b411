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
