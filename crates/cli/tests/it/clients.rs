//! Real HIBP client libraries against the binary, each answer compared with a reference
//! computed from the input files: npm `hibp` (`pwnedPassword`, `pwnedPasswordRange`,
//! `breaches`, `breach`, `dataClasses`, `latestBreach`, `subscriptionStatus`,
//! `breachedAccount` with each option) and PyPI `pyhibp` (`is_password_breached`,
//! `get_all_breaches`, `get_single_breach`, `get_data_classes`, `get_account_breaches`),
//! 1,000 generated passwords and 300 accounts each (e-mail addresses in any case, usernames,
//! phone numbers, unknown ones) over generated dumps loaded into the fixture's breaches. Needs node with `npm ci` in tests/js and python3 with
//! tests/py/requirements.txt; `.ci/run` installs all of it. Elsewhere a missing client makes
//! its test count as ignored (see harness.rs), but never under CI=true.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use leakwatch_gen::GenFormat;
use serde_json::{Value, json};

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(npm_hibp_client_gets_exact_answers).needs(&[Need::NodePackages]),
        test!(pyhibp_client_gets_exact_answers).needs(&[Need::Pyhibp]),
    ]
}

/// Account cases each client runs, and how many checks each makes per case.
const ACCOUNT_CASES: usize = 300;
const JS_CHECKS_PER_ACCOUNT: usize = 3;
const PY_CHECKS_PER_ACCOUNT: usize = 2;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

struct Setup {
    tmp: tempfile::TempDir,
    data: PathBuf,
    cases_file: PathBuf,
}

/// Loads generated dumps into fixture breaches of every kind (verified, unverified spam
/// list, sensitive, retired, two on one domain) and returns the reference: normalised
/// identifier → breach names, plus the catalogue as the imports must have changed it
/// (PwnCount = distinct addresses, data classes gained). Only ModifiedDate is read back,
/// since it is the time of the import.
fn load_dumps(
    tmp: &Path,
    data: &Path,
    live: &mut [Value],
) -> (BTreeMap<String, BTreeSet<String>>, String) {
    let combo = gen_dump(Dump::Combo(':'), 4_000, 51, "5");
    let slice = |from, to| lines_between(&combo, from, to);
    let csv = gen_dump(Dump::Csv, 2_000, 52, "5");
    let imports: Vec<(&str, Vec<u8>, Dump)> = vec![
        ("Fictobank", combo.clone(), Dump::Combo(':')),
        ("Analytica", slice(0, 2_000), Dump::Combo(':')),
        ("SpamHeap", csv, Dump::Csv),
        ("QuietClub", slice(0, 500), Dump::Combo(':')),
        ("OldForum", slice(500, 1_000), Dump::Combo(':')),
        ("StealerDump", slice(1_000, 1_500), Dump::Combo(':')),
    ];
    let mut model: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut passwords = String::new();
    for (i, (breach, bytes, format)) in imports.iter().enumerate() {
        let file = write(&tmp.join(format!("dump{i}")), bytes);
        ingest_dump(data, &file, breach, &[]);
        let m = model_of_dump(bytes, *format);
        for line in &m.lines {
            if let Some(p) = &line.password {
                passwords.push_str(&format!("{p}\n"));
            }
            for id in line.identifiers() {
                model
                    .entry(id.clone())
                    .or_default()
                    .insert(breach.to_string());
            }
        }
        if let Some(b) = live.iter_mut().find(|b| b["Name"] == *breach) {
            b["PwnCount"] = json!(m.distinct_emails().len());
            let mut classes: Vec<String> = b["DataClasses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect();
            let mut gained = vec!["Email addresses", "Passwords"];
            if matches!(format, Dump::Csv) {
                gained.extend(["Usernames", "Phone numbers"]);
            }
            for g in gained {
                if !classes.iter().any(|c| c == g) {
                    classes.push(g.to_owned());
                }
            }
            classes.sort();
            b["DataClasses"] = json!(classes);
            let shown: Value = serde_json::from_slice(
                &leakwatch(
                    &["breach", "show", "--data", data.to_str().unwrap(), breach],
                    None,
                )
                .stdout,
            )
            .unwrap();
            b["ModifiedDate"] = shown["ModifiedDate"].clone();
        }
    }
    (model, passwords)
}

/// 300 account queries: addresses as typed (some upper-cased), usernames in another case,
/// phone numbers as written in the dump, and 50 unknown accounts; with the breach names each
/// client must get back (sensitive and retired never, sorted by Name).
fn account_cases(model: &BTreeMap<String, BTreeSet<String>>, live: &[Value]) -> Value {
    let visible = |set: &BTreeSet<String>, pred: &dyn Fn(&Value) -> bool| -> Vec<Value> {
        live.iter()
            .filter(|b| set.contains(b["Name"].as_str().unwrap()) && b["IsSensitive"] == false)
            .filter(|b| pred(b))
            .cloned()
            .collect::<Vec<_>>()
    };
    let sorted = |mut v: Vec<Value>| {
        v.sort_by_key(|b| b["Name"].as_str().unwrap().to_owned());
        v
    };
    let mut queries: Vec<(String, BTreeSet<String>)> = Vec::new();
    let known: Vec<(&String, &BTreeSet<String>)> = model.iter().collect();
    let step = known.len() / (ACCOUNT_CASES - 50);
    for (i, (id, set)) in known
        .iter()
        .step_by(step)
        .take(ACCOUNT_CASES - 50)
        .enumerate()
    {
        let typed = if id.starts_with('+') {
            // As the dump wrote it: +44 20 7946 0123.
            format!("{} {} {} {}", &id[..3], &id[3..5], &id[5..9], &id[9..])
        } else if i % 3 == 0 {
            id.to_uppercase()
        } else {
            id.to_string()
        };
        queries.push((typed, (*set).clone()));
    }
    queries.extend((0..50).map(|i| (format!("nobody{i}@nowhere.example"), BTreeSet::new())));
    assert_eq!(queries.len(), ACCOUNT_CASES);
    assert!(
        queries.iter().any(|q| q.0.starts_with('+')),
        "phone queries"
    );
    let names = |v: &[Value]| -> Vec<Value> { v.iter().map(|b| b["Name"].clone()).collect() };
    let cases: Vec<Value> = queries
        .iter()
        .map(|(q, set)| {
            let all = sorted(visible(set, &|_| true));
            let verified = sorted(visible(set, &|b| b["IsVerified"] == true));
            let fictobank = sorted(visible(set, &|b| b["Domain"] == "fictobank.example"));
            json!({
                "account": q,
                "names": names(&all),
                "verified_full": verified,
                "fictobank_full": fictobank,
            })
        })
        .collect();
    assert!(
        cases
            .iter()
            .filter(|c| c["names"].as_array().unwrap().len() > 1)
            .count()
            > 20,
        "accounts in several visible breaches"
    );
    json!(cases)
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
    // The breach catalogue, from the fixture; expectations computed from the file itself,
    // then changed as the dump imports must change it. Dumps add their passwords too.
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
    let mut live = crate::catalog::reference_live();
    let (model, dump_passwords) = load_dumps(tmp.path(), &data, &mut live);
    let accounts = account_cases(&model, &live);
    let (dump_sha1, dump_ntlm) = model_of_plain(dump_passwords.as_bytes());
    let (ps, ntlm) = model_of_plain(&plain);
    let ntlm = merge(&ntlm, &dump_ntlm);
    let sha1 = merge(&merge(&ps, &model_of_hash_lines(&hashes, 40)), &dump_sha1);

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
            "SubscribedUntil": format!("{}T23:59:59Z", crate::keys::day_in(365)),
            "Rpm": 100000,
            "DomainSearchMaxBreachedAccounts": 2147483647,
            "IncludesStealerLogs": true,
            "Scopes": ["all"],
        },
    });

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
        "latest": crate::catalog::latest_of(&live),
        "data_classes": crate::catalog::data_classes_of(&live),
    });
    let json = serde_json::json!({
        "passwords": cases, "ranges": ranges, "ntlm_ranges": ntlm_ranges, "catalog": catalog,
        "subscription": subscription, "accounts": accounts,
    });
    let cases_file = write(&tmp.path().join("cases.json"), json.to_string().as_bytes());
    Setup {
        data,
        cases_file,
        tmp,
    }
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

fn npm_hibp_client_gets_exact_answers() {
    let s = setup();
    let stdout = run_client("node", &js_dir().join("hibp-compat.mjs"), &s);
    let want = 1024 + ACCOUNT_CASES * JS_CHECKS_PER_ACCOUNT;
    assert!(
        stdout.contains(&format!("{want} passed, 0 failed")),
        "{stdout}"
    );
}

fn pyhibp_client_gets_exact_answers() {
    let s = setup();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/py/pyhibp_compat.py");
    let stdout = run_client("python3", &script, &s);
    let want = 1006 + ACCOUNT_CASES * PY_CHECKS_PER_ACCOUNT;
    assert!(
        stdout.contains(&format!("{want} passed, 0 failed")),
        "{stdout}"
    );
}
