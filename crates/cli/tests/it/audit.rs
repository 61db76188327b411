//! `leakwatch audit` on a generated 100,000-account pwdump export: exactly the accounts that
//! were given a password from the ingested list are reported, with the counts an independent
//! reference (md4 over the list) gives, shared passwords grouped, hashes hidden unless asked.

use std::collections::{BTreeMap, BTreeSet};

use leakwatch_gen::GenFormat;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![test!(
        audit_finds_exactly_the_planted_exposed_accounts_of_a_100k_export
    )]
}

fn ntlm_hex(password: &str) -> String {
    use md4::Digest;
    let utf16: Vec<u8> = password
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    md4::Md4::digest(&utf16)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn audit_finds_exactly_the_planted_exposed_accounts_of_a_100k_export() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let list = generate(GenFormat::Plain, 30_000, 21);
    let file = write(&tmp.path().join("list.txt"), &list);
    ingest_quiet(data.to_str().unwrap(), file.to_str().unwrap());
    let (_, ntlm_model) = model_of_plain(&list);
    let passwords: Vec<String> = String::from_utf8(list)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();

    // 100,000 accounts: every 97th uses a password from the list (planted), the rest random
    // hashes; pairs of accounts share a random password, and planted ones repeat too.
    let mut rng = fastrand::Rng::with_seed(5);
    let mut export = String::from("# secretsdump output\n");
    let mut planted: BTreeMap<String, String> = BTreeMap::new();
    let mut by_hash: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut previous_random = String::new();
    for i in 0..100_000u32 {
        let user = if i % 1000 == 0 {
            format!("CORP\\user{i}")
        } else {
            format!("user{i}")
        };
        let hash = if i % 97 == 0 {
            let h = ntlm_hex(&passwords[(i as usize / 97) % 700]);
            planted.insert(user.clone(), h.clone());
            h
        } else if i % 5000 == 2 {
            previous_random.clone()
        } else {
            let h: String = (0..16).map(|_| format!("{:02X}", rng.u8(..))).collect();
            previous_random = h.clone();
            h
        };
        by_hash.entry(hash.clone()).or_default().push(user.clone());
        export.push_str(&format!(
            "{user}:{}:aad3b435b51404eeaad3b435b51404ee:{}:::\n",
            1000 + i,
            hash.to_lowercase()
        ));
        if i == 500 {
            export.push_str("this line is not an account\n");
        }
    }
    let export_file = write(&tmp.path().join("ntds.txt"), export.as_bytes());

    let out = try_leakwatch(
        &[
            "audit",
            "--data",
            data.to_str().unwrap(),
            export_file.to_str().unwrap(),
            "--output",
            "json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 line(s) did not parse") && stderr.contains("[503]"),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["format"], "pwdump");
    assert_eq!(report["accounts"], 100_000);
    let found: BTreeSet<String> = report["exposed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["user"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = planted.keys().cloned().collect();
    assert_eq!(found, want, "exactly the planted accounts");
    for f in report["exposed"].as_array().unwrap() {
        let user = f["user"].as_str().unwrap();
        let hash = &planted[user];
        assert_eq!(f["seen"], ntlm_model[hash], "{user}");
        assert_eq!(f["sharedBy"], by_hash[hash].len(), "{user}");
        assert!(f.get("hash").is_none());
    }
    assert!(
        planted
            .values()
            .all(|h| !stdout.to_uppercase().contains(h.as_str())),
        "no hash printed without --show-hashes"
    );
    let want_groups: BTreeSet<Vec<String>> = by_hash
        .values()
        .filter(|users| users.len() > 1)
        .map(|users| {
            let mut u = users.clone();
            u.sort();
            u
        })
        .collect();
    let got_groups: BTreeSet<Vec<String>> = report["shared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            g["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(got_groups, want_groups);

    // CSV with hashes: one row per exposed account, its hash as computed here.
    let out = leakwatch(
        &[
            "audit",
            "--data",
            data.to_str().unwrap(),
            export_file.to_str().unwrap(),
            "--output",
            "csv",
            "--show-hashes",
        ],
        None,
    );
    let mut rows = csv::Reader::from_reader(&out.stdout[..]);
    assert_eq!(
        rows.headers().unwrap().iter().collect::<Vec<_>>(),
        ["user", "rid", "seen", "shared_by", "hash"]
    );
    let mut n = 0;
    for row in rows.records() {
        let row = row.unwrap();
        assert_eq!(&row[4], planted[&row[0]].as_str());
        n += 1;
    }
    assert_eq!(n, planted.len());

    // A SHA-1 list from standard input.
    let sha = |p: &str| {
        use sha1::Digest;
        sha1::Sha1::digest(p.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let input = format!(
        "{}\n{}\n",
        sha(&passwords[0]),
        sha("surely never in any list 91ae")
    );
    let out = leakwatch(
        &[
            "audit",
            "--data",
            data.to_str().unwrap(),
            "-",
            "--output",
            "json",
        ],
        Some(input.as_bytes()),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["format"], "sha1");
    assert_eq!(report["exposed"].as_array().unwrap().len(), 1);
    assert_eq!(report["exposed"][0]["user"], "line 1");
}
