//! Real HIBP client libraries against the binary, each answer compared with a reference
//! computed from the input files: npm `hibp` (`pwnedPassword`, `pwnedPasswordRange`,
//! `breaches`, `breach`, `dataClasses`, `latestBreach`, `subscriptionStatus`) and PyPI `pyhibp`
//! (`is_password_breached`, `get_all_breaches`, `get_single_breach`, `get_data_classes`),
//! 1,000 generated passwords each. Needs node with `npm ci` in tests/js and python3 with
//! tests/py/requirements.txt; `.ci/run` installs all of it. Elsewhere a missing client skips
//! loudly, but never under CI=true.

use std::path::{Path, PathBuf};

use leakwatch_gen::GenFormat;

use crate::support::*;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

fn node_available() -> bool {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && js_dir().join("node_modules/hibp").is_dir()
}

struct Setup {
    tmp: tempfile::TempDir,
    data: PathBuf,
    cases_file: PathBuf,
}

/// A store and catalogue from generated inputs, and the cases file both clients read.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let plain = generate(GenFormat::Plain, 200_000, 77);
    let hashes = generate(GenFormat::Sha1, 100_000, 78);
    for (name, bytes) in [("p.txt", &plain), ("h.txt", &hashes)] {
        let f = write(&tmp.path().join(name), bytes);
        ingest_quiet(data.to_str().unwrap(), f.to_str().unwrap());
    }
    let (ps, ntlm) = model_of_plain(&plain);
    let sha1 = merge(&ps, &model_of_hash_lines(&hashes, 40));

    // 1,000 passwords: 900 from the list (popular and rare) and 100 never used.
    let text = String::from_utf8(plain).unwrap();
    let mut distinct: Vec<&str> = text.lines().collect();
    distinct.sort();
    distinct.dedup();
    let step = distinct.len() / 900;
    let mut passwords: Vec<String> = distinct
        .iter()
        .step_by(step)
        .take(900)
        .map(|s| s.to_string())
        .collect();
    passwords.extend((0..100).map(|i| format!("never-leaked-{i}-Qx")));
    let cases: Vec<(String, u64)> = passwords
        .into_iter()
        .map(|p| {
            let (s, _) = model_of_plain(format!("{p}\n").as_bytes());
            let hash = s.keys().next().unwrap().clone();
            let want = sha1.get(&hash).copied().unwrap_or(0);
            (p, want)
        })
        .collect();
    assert!(cases.iter().filter(|c| c.1 == 0).count() >= 100);
    let range_obj = |m: &Model, prefix: &str| -> serde_json::Value {
        model_range(m, prefix)
            .into_iter()
            .map(|l| {
                let (s, c) = l.split_once(':').unwrap();
                (s.to_string(), serde_json::json!(c.parse::<u64>().unwrap()))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let prefixes = ["5BAA6", "7C4A8", "00000", "FFFFF", "ABCDE", "31415"];
    let ranges: Vec<_> = prefixes
        .iter()
        .map(|p| serde_json::json!([p, range_obj(&sha1, p)]))
        .collect();
    let ntlm_ranges: Vec<_> = ["8846F", "32ED8", "00000"]
        .iter()
        .map(|p| serde_json::json!([p, range_obj(&ntlm, p)]))
        .collect();
    // An API key from the CLI, for the keyed endpoints.
    let api_key = crate::keys::create_key(data.to_str().unwrap(), "Compat Client", "100000");
    let subscription = serde_json::json!({
        "api_key": api_key,
        "expected": {
            "SubscriptionName": "Compat Client",
            "Description": format!("leakwatch API key {}…, 100000 requests per minute", &api_key[..6]),
            "SubscribedUntil": "9999-12-31T23:59:59Z",
            "Rpm": 100000,
            "DomainSearchMaxBreachedAccounts": 2147483647,
            "IncludesStealerLogs": true,
        },
    });
    // The breach catalogue, from the fixture; expectations computed from the file itself.
    let fixture = crate::catalog::fixture_path();
    leakwatch(
        &[
            "breach",
            "import",
            "--data",
            data.to_str().unwrap(),
            fixture.to_str().unwrap(),
        ],
        None,
    );
    let live = crate::catalog::reference_live();
    let domain_breaches: Vec<_> = live
        .iter()
        .filter(|b| b["Domain"] == "fictobank.example")
        .cloned()
        .collect();
    let analytica = live
        .iter()
        .find(|b| b["Name"] == "Analytica")
        .cloned()
        .unwrap();
    let catalog = serde_json::json!({
        "breaches": live,
        "domain": "fictobank.example",
        "domain_breaches": domain_breaches,
        "name": "analytica",
        "breach": analytica,
        "latest": crate::catalog::reference_latest(),
        "data_classes": crate::catalog::reference_data_classes(),
    });
    let json = serde_json::json!({
        "passwords": cases, "ranges": ranges, "ntlm_ranges": ntlm_ranges, "catalog": catalog,
        "subscription": subscription
    });
    let cases_file = write(&tmp.path().join("cases.json"), json.to_string().as_bytes());
    Setup {
        data,
        cases_file,
        tmp,
    }
}

fn skip_unless(available: bool, what: &str, how: &str) -> bool {
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the {what} test: {how}"
        );
        eprintln!("\n*** SKIPPED {what} compatibility test: {how} ***\n");
    }
    !available
}

fn run_client(program: &str, script: &Path, s: &Setup) -> String {
    let server = Server::start(&s.data);
    let out = std::process::Command::new(program)
        .arg(script)
        .arg(format!("http://{}", server.addr))
        .arg(&s.cases_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{program} client failed:\n{stdout}\n{stderr}"
    );
    let _ = &s.tmp;
    stdout
}

#[test]
fn npm_hibp_client_gets_exact_answers() {
    if skip_unless(
        node_available(),
        "npm hibp",
        "run `npm ci --prefix tests/js` (needs node)",
    ) {
        return;
    }
    let s = setup();
    let stdout = run_client("node", &js_dir().join("hibp-compat.mjs"), &s);
    assert!(stdout.contains("1024 passed, 0 failed"), "{stdout}");
}

fn pyhibp_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import pyhibp"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn pyhibp_client_gets_exact_answers() {
    if skip_unless(
        pyhibp_available(),
        "PyPI pyhibp",
        "run `pip install -r tests/py/requirements.txt`",
    ) {
        return;
    }
    let s = setup();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/py/pyhibp_compat.py");
    let stdout = run_client("python3", &script, &s);
    assert!(stdout.contains("1006 passed, 0 failed"), "{stdout}");
}
