//! Breach dumps end to end: every dump format imports completely with each malformed line
//! counted, every account is found in its breaches, PwnCount and password counts match a
//! reference built from the generated file with independent parsers (the `csv` crate,
//! serde_json, hand-written rules for the generator's mistakes), re-imports change nothing,
//! and no address or password reaches the data directory or the output.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use leakwatch_store::{Namespace, Snapshot};
use sha1::Digest;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(every_dump_format_imports_completely_and_every_account_is_found),
        test!(the_same_accounts_in_several_breaches_are_linked_to_each_and_survive_compaction),
        test!(no_address_or_password_reaches_the_data_directory_or_the_output),
        test!(async(2) breachedaccount_answers_filters_and_refuses_like_hibp),
        test!(domain_search_opens_the_sealed_aliases_before_and_after_a_key_rotation),
        test!(a_gzipped_dump_on_standard_input_imports_like_the_file),
    ]
}

fn summary_number(out: &str, label: &str) -> u64 {
    let at = out
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in {out}"));
    out[..at]
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap()
}

fn store_files(data: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(data.join("store"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn every_dump_format_imports_completely_and_every_account_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let formats = [
        Dump::Combo(':'),
        Dump::Combo(';'),
        Dump::Combo('|'),
        Dump::Combo('\t'),
        Dump::Csv,
        Dump::Tsv,
        Dump::Jsonl,
    ];
    for (i, format) in formats.into_iter().enumerate() {
        let data = tmp.path().join(format!("d{i}"));
        let bytes = gen_dump(format, 12_000, 100 + i as u64, "6");
        let model = model_of_dump(&bytes, format);
        let total = model.lines.len() as u64 + model.rejected;
        assert!(
            model.rejected * 100 >= total * 5,
            "{format:?}: {} of {total} malformed, want at least 5%",
            model.rejected
        );
        // Compressed input too, for half of them.
        let file = if i % 2 == 0 {
            write(&tmp.path().join(format!("dump{i}.txt")), &bytes)
        } else {
            write(
                &tmp.path().join(format!("dump{i}.txt.zst")),
                &zstd::encode_all(&bytes[..], 3).unwrap(),
            )
        };
        add_breach(&data, "Dumped", &[]);
        let out = ingest_dump(&data, &file, "Dumped", &[]);
        assert_eq!(
            summary_number(&out, "lines read"),
            total,
            "{format:?}: {out}"
        );
        assert_eq!(
            summary_number(&out, "rejected"),
            model.rejected,
            "{format:?}: {out}"
        );
        assert_eq!(
            summary_number(&out, "accepted"),
            model.lines.len() as u64,
            "{format:?}: {out}"
        );

        // Every identifier of every accepted line is linked to the breach, and nothing else is.
        let snap = snapshot(&data);
        let ids: BTreeSet<&String> = model.lines.iter().flat_map(Line::identifiers).collect();
        for id in &ids {
            assert_eq!(
                store_breaches(&snap, id),
                BTreeSet::from(["Dumped".to_owned()]),
                "{format:?}: {id}"
            );
        }
        let stored: u64 = snap
            .segments(Namespace::Account)
            .iter()
            .map(|s| s.hashes())
            .sum();
        assert_eq!(stored, ids.len() as u64, "{format:?}: distinct identifiers");
        assert_eq!(
            snap.accounts_in_breach("Dumped").unwrap(),
            model.distinct_emails().len() as u64
        );

        // Passwords went into the password store with their counts.
        let passwords: String = model
            .lines
            .iter()
            .filter_map(|l| l.password.as_ref())
            .map(|p| format!("{p}\n"))
            .collect();
        let (sha1, ntlm) = model_of_plain(passwords.as_bytes());
        assert_eq!(store_model(&data, Namespace::Sha1), sha1, "{format:?}");
        assert_eq!(store_model(&data, Namespace::Ntlm), ntlm, "{format:?}");

        // The catalogue learnt the PwnCount and the data classes.
        let shown: serde_json::Value = serde_json::from_slice(
            &leakwatch(
                &["breach", "show", "--data", data.to_str().unwrap(), "Dumped"],
                None,
            )
            .stdout,
        )
        .unwrap();
        assert_eq!(shown["PwnCount"], model.distinct_emails().len() as u64);
        let has = |class: &str| {
            shown["DataClasses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == class)
        };
        assert!(has("Email addresses") && has("Passwords"), "{shown}");
        let with_usernames = matches!(format, Dump::Csv | Dump::Tsv | Dump::Jsonl);
        assert_eq!(has("Usernames"), with_usernames, "{shown}");

        // Re-importing changes nothing, byte for byte.
        let before = store_files(&data);
        let again = ingest_dump(&data, &file, "Dumped", &[]);
        assert!(again.contains("already imported"), "{again}");
        assert_eq!(
            store_files(&data),
            before,
            "{format:?}: re-import changed the store"
        );
    }
}

fn the_same_accounts_in_several_breaches_are_linked_to_each_and_survive_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let combo = gen_dump(Dump::Combo(':'), 8_000, 7, "5");
    let text = String::from_utf8(combo.clone()).unwrap();
    let first_half: String = text.lines().take(4_000).map(|l| format!("{l}\n")).collect();
    let all = write(&tmp.path().join("all.txt"), &combo);
    let half = write(&tmp.path().join("half.txt"), first_half.as_bytes());
    let csv = gen_dump(Dump::Csv, 3_000, 8, "5");
    let csv_file = write(&tmp.path().join("other.csv"), &csv);
    for b in ["Alpha", "Beta", "Gamma"] {
        add_breach(&data, b, &[]);
    }
    ingest_dump(&data, &all, "Alpha", &[]);
    ingest_dump(&data, &half, "Beta", &[]);
    ingest_dump(&data, &csv_file, "Gamma", &[]);
    // The same file into Gamma too: a new link, not a no-op.
    let out = ingest_dump(&data, &half, "Gamma", &[]);
    assert!(!out.contains("already imported"), "{out}");

    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // PwnCount when a breach gets a second file holding accounts it already has (the first
    // half again, with CRLF line ends: another source, the same accounts): the union.
    let again = write(
        &tmp.path().join("half-crlf.txt"),
        first_half.replace('\n', "\r\n").as_bytes(),
    );
    let out = ingest_dump(&data, &again, "Alpha", &[]);
    assert!(!out.contains("already imported"), "{out}");
    let shown: serde_json::Value = serde_json::from_slice(
        &leakwatch(
            &["breach", "show", "--data", data.to_str().unwrap(), "Alpha"],
            None,
        )
        .stdout,
    )
    .unwrap();
    let alpha_emails = model_of_dump(&combo, Dump::Combo(':'))
        .distinct_emails()
        .len();
    assert_eq!(shown["PwnCount"], alpha_emails as u64);
    for (bytes, format, breaches) in [
        (&combo[..], Dump::Combo(':'), &["Alpha"][..]),
        (
            first_half.as_bytes(),
            Dump::Combo(':'),
            &["Beta", "Gamma"][..],
        ),
        (&csv[..], Dump::Csv, &["Gamma"][..]),
    ] {
        for line in model_of_dump(bytes, format).lines {
            for id in line.identifiers() {
                let set = want.entry(id.clone()).or_default();
                set.extend(breaches.iter().map(|b| b.to_string()));
            }
        }
    }
    let check = |snap: &Snapshot| {
        for (id, breaches) in &want {
            assert_eq!(&store_breaches(snap, id), breaches, "{id}");
        }
        assert!(store_breaches(snap, "never-in-any-dump@nowhere.example").is_empty());
    };
    check(&snapshot(&data));
    leakwatch(&["compact", "--data", data.to_str().unwrap()], None);
    let snap = snapshot(&data);
    assert_eq!(snap.segments(Namespace::Account).len(), 1);
    check(&snap);
    leakwatch(&["verify", "--data", data.to_str().unwrap()], None);

    // The store links by Name: a loaded breach may change its Title, not its Name.
    let d = data.to_str().unwrap();
    let rename = try_leakwatch(
        &["breach", "edit", "--data", d, "Alpha", "--name", "Omega"],
        None,
    );
    assert!(!rename.status.success());
    assert!(String::from_utf8_lossy(&rename.stderr).contains("cannot be renamed"));
    leakwatch(
        &[
            "breach",
            "edit",
            "--data",
            d,
            "Alpha",
            "--title",
            "Alpha Inc.",
        ],
        None,
    );

    // `check account` answers offline with every breach, in any spelling of the address.
    let sample = text
        .lines()
        .find(|l| l.contains('@') && !l.starts_with('@'))
        .unwrap();
    let email = sample.split(':').next().unwrap().to_uppercase();
    let out = leakwatch(
        &[
            "check",
            "account",
            "--data",
            data.to_str().unwrap(),
            "--json",
            &email,
        ],
        None,
    );
    let got: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: BTreeSet<String> = got
        .iter()
        .map(|b| b["Name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(Some(&names), want.get(&email.to_lowercase()), "{email}");
}

fn no_address_or_password_reaches_the_data_directory_or_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    add_breach(&data, "Leaky", &[]);
    let mut needles = BTreeSet::new();
    let mut outputs = String::new();
    for (i, format) in [Dump::Combo(':'), Dump::Csv, Dump::Jsonl]
        .into_iter()
        .enumerate()
    {
        let bytes = gen_dump(format, 5_000, 300 + i as u64, "5");
        for line in model_of_dump(&bytes, format).lines {
            needles.extend(line.email.clone());
            // Short passwords ("123456") could occur in binary data by chance; eight
            // characters cannot, in files this size.
            needles.extend(line.password.clone().filter(|p| p.len() >= 8));
            if let Some(e) = &line.email {
                needles.insert(e.split('@').next().unwrap().to_owned());
            }
        }
        let file = write(&tmp.path().join(format!("dump{i}")), &bytes);
        outputs.push_str(&ingest_dump(&data, &file, "Leaky", &[]));
    }
    leakwatch(&["compact", "--data", data.to_str().unwrap()], None);
    // Aliases shorter than 8 bytes are skipped for the same reason as short passwords, and
    // so is the password "password": our own files name the data class "Passwords".
    let own_words = "passwords email addresses usernames phone numbers";
    let needles: Vec<&String> = needles
        .iter()
        .filter(|n| n.len() >= 8 && !own_words.contains(&n.to_lowercase()))
        .collect();
    assert!(needles.len() > 10_000, "{} needles", needles.len());
    let patterns = write(
        &tmp.path().join("needles.txt"),
        needles
            .iter()
            .map(|n| format!("{n}\n"))
            .collect::<String>()
            .as_bytes(),
    );
    // grep itself, as the acceptance line says: -F fixed strings, -i any case, -a binary.
    let grep = std::process::Command::new("grep")
        .args(["-r", "-a", "-i", "-F", "-l", "-f"])
        .arg(&patterns)
        .arg(&data)
        .output()
        .expect("grep");
    assert_eq!(
        grep.status.code(),
        Some(1),
        "grep found secrets in: {}",
        String::from_utf8_lossy(&grep.stdout)
    );
    // The check is live: the same grep finds a needle planted in the directory.
    let planted = data.join("planted.txt");
    std::fs::write(&planted, needles[needles.len() / 2]).unwrap();
    let grep = std::process::Command::new("grep")
        .args(["-r", "-a", "-i", "-F", "-l", "-f"])
        .arg(&patterns)
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(grep.status.code(), Some(0));
    std::fs::remove_file(planted).unwrap();
    for n in &needles {
        assert!(!outputs.contains(n.as_str()), "ingest output shows {n}");
    }
}

/// A GET in-process, with an API key or none, with or without a User-Agent: status and body.
async fn get(
    state: &std::sync::Arc<leakwatch_api::AppState>,
    path: &str,
    key: Option<&str>,
    agent: bool,
) -> (u16, String) {
    let mut headers = Vec::new();
    if agent {
        headers.push(("user-agent", "leakwatch-tests"));
    }
    if let Some(k) = key {
        headers.push(("hibp-api-key", k));
    }
    let (status, _, body) = crate::support::get(state, path, &headers).await;
    (status, String::from_utf8(body).unwrap())
}

async fn breachedaccount_answers_filters_and_refuses_like_hibp() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let combo = gen_dump(Dump::Combo(':'), 6_000, 11, "5");
    let slice = |from, to| lines_between(&combo, from, to);
    add_breach(&data, "Visible", &["--domain", "visible.example"]);
    add_breach(
        &data,
        "Unverified",
        &["--domain", "other.example", "--verified", "false"],
    );
    add_breach(&data, "Hidden", &["--sensitive"]);
    add_breach(&data, "Gone", &[]);
    let imports: [(&str, Vec<u8>); 5] = [
        ("Visible", combo.clone()),
        ("Unverified", slice(0, 3_000)),
        ("Hidden", slice(0, 1_000)),
        ("Gone", slice(1_000, 2_000)),
        // Accounts known only to sensitive or retired breaches.
        ("Hidden", gen_dump(Dump::Combo(':'), 500, 12, "0")),
    ];
    let mut model: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (i, (breach, bytes)) in imports.iter().enumerate() {
        let f = write(&tmp.path().join(format!("part{i}.txt")), bytes);
        ingest_dump(&data, &f, breach, &[]);
        for line in model_of_dump(bytes, Dump::Combo(':')).lines {
            model.entry(line.email.unwrap()).or_default().insert(breach);
        }
    }
    leakwatch(
        &["breach", "retire", "--data", data.to_str().unwrap(), "Gone"],
        None,
    );
    let key = crate::keys::create_key(data.to_str().unwrap(), "tests", "1000000");
    let state = app_state(&data);
    let catalog: Vec<serde_json::Value> = serde_json::from_slice(
        &leakwatch(
            &["breach", "list", "--json", "--data", data.to_str().unwrap()],
            None,
        )
        .stdout,
    )
    .unwrap();
    let full = |name: &str| catalog.iter().find(|b| b["Name"] == name).unwrap().clone();
    let visible = |set: &BTreeSet<&str>| -> Vec<&'static str> {
        ["Unverified", "Visible"]
            .into_iter()
            .filter(|b| set.contains(b))
            .collect()
    };

    let mut checked = 0;
    for (i, (email, set)) in model.iter().enumerate().filter(|(i, _)| i % 7 == 0) {
        // Clients send the address as the user typed it.
        let typed = if i % 2 == 0 {
            email.to_uppercase()
        } else {
            email.clone()
        };
        let base = format!("/api/v3/breachedaccount/{}", percent_encode(&typed));
        let expect = |names: Vec<&str>, truncated: bool| -> (u16, serde_json::Value) {
            if names.is_empty() {
                return (404, serde_json::Value::Null);
            }
            let items: Vec<serde_json::Value> = names
                .iter()
                .map(|n| {
                    if truncated {
                        serde_json::json!({ "Name": n })
                    } else {
                        full(n)
                    }
                })
                .collect();
            (200, serde_json::Value::from(items))
        };
        let names = visible(set);
        let cases = [
            (base.clone(), expect(names.clone(), true)),
            (
                format!("{base}?includeUnverified=false"),
                expect(
                    names.iter().copied().filter(|n| *n == "Visible").collect(),
                    true,
                ),
            ),
            (
                format!("{base}?domain=OTHER.example&truncateResponse=false"),
                expect(
                    names
                        .iter()
                        .copied()
                        .filter(|n| *n == "Unverified")
                        .collect(),
                    false,
                ),
            ),
            (
                format!("{base}?truncateResponse=False"),
                expect(names.clone(), false),
            ),
        ];
        for (path, (want_status, want_body)) in cases {
            let (status, body) = get(&state, &path, Some(&key), true).await;
            assert_eq!(status, want_status, "{path}");
            if status == 200 {
                let got: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(got, want_body, "{path}");
            }
            checked += 1;
        }
    }
    assert!(checked > 3_000, "{checked} requests checked");
    // Only-hidden accounts look exactly like unknown ones.
    let hidden_only = model
        .iter()
        .find(|(_, s)| visible(s).is_empty())
        .map(|(e, _)| e.clone())
        .unwrap();
    for account in [hidden_only.as_str(), "nobody@visible.example", "somebody"] {
        let path = format!("/api/v3/breachedaccount/{}", percent_encode(account));
        assert_eq!(
            get(&state, &path, Some(&key), true).await.0,
            404,
            "{account}"
        );
    }

    // Refusals: key, user agent, malformed account, bad flag.
    let some = format!(
        "/api/v3/breachedaccount/{}",
        percent_encode(model.keys().next().unwrap())
    );
    assert_eq!(get(&state, &some, None, true).await.0, 401);
    assert_eq!(
        get(
            &state,
            &some,
            Some("0123456789abcdef0123456789abcdef"),
            true
        )
        .await
        .0,
        401
    );
    assert_eq!(get(&state, &some, Some(&key), false).await.0, 403);
    for bad in ["%20%20", "a%40", "%40b.example", "x%40localhost"] {
        let (status, body) = get(
            &state,
            &format!("/api/v3/breachedaccount/{bad}"),
            Some(&key),
            true,
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            !body.contains('@'),
            "a 400 must not echo the account: {body}"
        );
    }
    let (status, _) = get(
        &state,
        &format!("{some}?truncateResponse=maybe"),
        Some(&key),
        true,
    )
    .await;
    assert_eq!(status, 400);

    // The k-anonymity range: every account whose SHA-1 starts with the prefix, recomputed
    // from the model, with only its visible breaches.
    let hex = |s: &str| -> String {
        sha1::Sha1::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    };
    let by_hash: BTreeMap<String, &BTreeSet<&str>> =
        model.iter().map(|(e, s)| (hex(e), s)).collect();
    for email in model.keys().step_by(97) {
        let prefix = &hex(email)[..6];
        let want: Vec<serde_json::Value> = by_hash
            .range(prefix.to_owned()..)
            .take_while(|(h, _)| h.starts_with(prefix))
            .filter(|(_, s)| !visible(s).is_empty())
            .map(|(h, s)| serde_json::json!({ "hashSuffix": &h[6..], "websites": visible(s) }))
            .collect();
        for asked in [prefix.to_owned(), prefix.to_lowercase()] {
            let (status, body) = get(
                &state,
                &format!("/api/v3/breachedaccount/range/{asked}"),
                Some(&key),
                true,
            )
            .await;
            assert_eq!(status, 200, "{asked}");
            assert_eq!(body, serde_json::to_string(&want).unwrap(), "{asked}");
        }
    }
    for bad in ["ABCDE", "ABCDEF0", "GHIJKL"] {
        let path = format!("/api/v3/breachedaccount/range/{bad}");
        assert_eq!(get(&state, &path, Some(&key), true).await.0, 400, "{bad}");
    }
    assert_eq!(
        get(&state, "/api/v3/breachedaccount/range/ABCDEF", None, true)
            .await
            .0,
        401
    );
}

fn domain_search_opens_the_sealed_aliases_before_and_after_a_key_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    add_breach(&data, "Alpha", &[]);
    add_breach(&data, "Beta", &[]);
    add_breach(&data, "Gone", &[]);
    let mut reference: BTreeMap<String, BTreeMap<String, BTreeSet<&str>>> = BTreeMap::new();
    for (i, (breach, format, count)) in [
        ("Alpha", Dump::Combo(':'), 5_000u64),
        ("Beta", Dump::Csv, 2_000),
        ("Gone", Dump::Combo(';'), 300),
    ]
    .into_iter()
    .enumerate()
    {
        let bytes = gen_dump(format, count, 500 + i as u64, "5");
        let file = write(&tmp.path().join(format!("dump{i}")), &bytes);
        ingest_dump(&data, &file, breach, &[]);
        for line in model_of_dump(&bytes, format).lines {
            let email = line.email.unwrap();
            let (alias, domain) = email.rsplit_once('@').unwrap();
            if breach != "Gone" {
                reference
                    .entry(domain.to_owned())
                    .or_default()
                    .entry(alias.to_owned())
                    .or_default()
                    .insert(breach);
            } else {
                reference
                    .entry(domain.to_owned())
                    .or_default()
                    .entry(alias.to_owned())
                    .or_default();
            }
        }
    }
    leakwatch(&["breach", "retire", "--data", d, "Gone"], None);
    // Aliases only in the retired breach drop out.
    for aliases in reference.values_mut() {
        aliases.retain(|_, breaches| !breaches.is_empty());
    }
    let mut domains: Vec<&String> = reference.keys().collect();
    domains.sort_by_key(|d| std::cmp::Reverse(reference[*d].len()));
    let sample: Vec<String> = domains
        .iter()
        .take(3)
        .chain(domains.iter().rev().take(2))
        .map(|d| d.to_string())
        .collect();
    let search = |key: &str, domain: &str| -> serde_json::Value {
        let out = with_key(&["check", "domain", "--data", d, domain], key);
        assert!(
            out.status.success(),
            "check domain {domain}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let expect =
        |domain: &str| -> serde_json::Value { serde_json::to_value(&reference[domain]).unwrap() };
    for domain in &sample {
        // Any case and a trailing dot find the same domain.
        assert_eq!(
            search(OPERATOR_KEY, &format!("{}.", domain.to_uppercase())),
            expect(domain)
        );
    }
    assert_eq!(
        search(OPERATOR_KEY, "nobody.example"),
        serde_json::json!({})
    );

    // Compaction without the operator key cannot open the sealed blocks and leaves the
    // files; with it, it merges them; answers do not change.
    let out = leakwatch(&["compact", "--data", d], None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 alias files left unmerged"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let unmerged = store_files(&data)
        .into_keys()
        .filter(|f| f.ends_with(".alias"))
        .count();
    assert_eq!(unmerged, 3);
    let out = with_key(&["compact", "--data", d], OPERATOR_KEY);
    assert!(out.status.success());
    let merged = store_files(&data)
        .into_keys()
        .filter(|f| f.ends_with(".alias"))
        .count();
    assert_eq!(merged, 1);
    for domain in &sample {
        assert_eq!(search(OPERATOR_KEY, domain), expect(domain));
    }
    // A new import adds a file again, for the rotation below to merge.
    let extra = gen_dump(Dump::Combo(':'), 200, 599, "0");
    let extra_file = write(&tmp.path().join("extra"), &extra);
    ingest_dump(&data, &extra_file, "Alpha", &[]);
    for line in model_of_dump(&extra, Dump::Combo(':')).lines {
        let email = line.email.unwrap();
        let (alias, domain) = email.rsplit_once('@').unwrap();
        reference
            .entry(domain.to_owned())
            .or_default()
            .entry(alias.to_owned())
            .or_default()
            .insert("Alpha");
    }
    let expect =
        |domain: &str| -> serde_json::Value { serde_json::to_value(&reference[domain]).unwrap() };

    // Rotate: the old key's files are replaced, the new key answers the same, the old one no
    // longer opens anything.
    let old_file = write(&tmp.path().join("old.key"), OPERATOR_KEY.as_bytes());
    // Key files must be private (a key file others can read is refused).
    std::fs::set_permissions(
        &old_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let new_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let alias_files = || -> BTreeSet<String> {
        store_files(&data)
            .into_keys()
            .filter(|f| f.ends_with(".alias"))
            .collect()
    };
    let rotate = || {
        let old = old_file.to_str().unwrap();
        with_key(
            &["operator-key", "rotate", "--data", d, "--old-key-file", old],
            new_key,
        )
    };
    let before = alias_files();
    assert_eq!(before.len(), 2);
    let out = rotate();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = alias_files();
    assert_eq!(after.len(), 1);
    assert!(after.is_disjoint(&before));
    for domain in &sample {
        assert_eq!(search(new_key, domain), expect(domain));
    }
    let stale = with_key(&["check", "domain", "--data", d, &sample[0]], OPERATOR_KEY);
    assert!(!stale.status.success());
    assert!(String::from_utf8_lossy(&stale.stderr).contains("rotate"));
    // A second rotation with the same keys has nothing to do.
    let out = rotate();
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to re-seal"));
    leakwatch(&["verify", "--data", d], None);
}

fn a_gzipped_dump_on_standard_input_imports_like_the_file() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let bytes = gen_dump(Dump::Jsonl, 3_000, 21, "5");
    let model = model_of_dump(&bytes, Dump::Jsonl);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let data = tmp.path().join("data");
    add_breach(&data, "Piped", &[]);
    let mut child = std::process::Command::new(bin())
        .args([
            "ingest",
            "-q",
            "--data",
            data.to_str().unwrap(),
            "--breach",
            "Piped",
            "-",
        ])
        .env("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&gz).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.contains("format Jsonl"), "{out}");
    assert_eq!(summary_number(&out, "rejected"), model.rejected, "{out}");
    let snap = snapshot(&data);
    for id in model.lines.iter().flat_map(Line::identifiers) {
        assert_eq!(
            store_breaches(&snap, id),
            BTreeSet::from(["Piped".to_owned()]),
            "{id}"
        );
    }
    // The same bytes from a file are the same source: nothing new.
    let file = write(&tmp.path().join("dump.jsonl"), &bytes);
    assert!(ingest_dump(&data, &file, "Piped", &[]).contains("already imported"));
}
