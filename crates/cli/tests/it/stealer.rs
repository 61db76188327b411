//! Stealer logs (issue #22): a generated tree of every layout imports completely, and HIBP's
//! three stealer-log endpoints answer exactly the (address, website) pairs of the
//! generator's own record of what it wrote — nothing more — for the asking tenant's
//! verified domains; nothing of it is in clear on disk; a forgotten address leaves every
//! answer, before and after compaction.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use crate::{
    harness::{Need, Test},
    mail::keyed,
    support::*,
};

pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(a_stealer_log_tree_imports_completely_and_the_three_endpoints_answer_exactly_its_pairs),
        test!(the_npm_hibp_client_gets_the_stealer_log_answers).needs(&[Need::NodePackages]),
        test!(a_stealer_log_set_alerts_its_domains_contact_once_and_the_private_check_names_its_websites)
            .needs(&[Need::Aiosmtpd]),
        test!(a_backup_restores_the_stealer_logs_and_the_pastes_to_a_store_that_answers_the_same),
    ]
}

/// The generator's record of a tree, read as the endpoints must answer it: for each
/// address captured on a website, those websites.
struct Reference {
    truth: leakwatch_gen::StealerTruth,
    /// address → websites.
    by_address: BTreeMap<String, BTreeSet<String>>,
}

impl Reference {
    fn of(truth: leakwatch_gen::StealerTruth) -> Reference {
        let mut by_address: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for c in &truth.captures {
            // A login is an address when it has an `@` and normalises as one.
            if let (Some(site), true) = (&c.website, c.login.contains('@'))
                && let Ok(address) = leakwatch_identity::normalize_email(&c.login)
            {
                by_address.entry(address).or_default().insert(site.clone());
            }
        }
        Reference { truth, by_address }
    }

    fn by_website(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (address, sites) in &self.by_address {
            for site in sites {
                out.entry(site.clone()).or_default().insert(address.clone());
            }
        }
        out
    }

    fn by_email_domain(&self) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
        let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for (address, sites) in &self.by_address {
            let (alias, domain) = address.rsplit_once('@').unwrap();
            out.entry(domain.to_owned())
                .or_default()
                .insert(alias.to_owned(), sites.clone());
        }
        out
    }

    /// Addresses captured only where there is no website (apps, IP hosts).
    fn without_website(&self) -> BTreeSet<String> {
        self.truth
            .captures
            .iter()
            .filter(|c| c.login.contains('@'))
            .filter_map(|c| leakwatch_identity::normalize_email(&c.login).ok())
            .filter(|a| !self.by_address.contains_key(a))
            .collect()
    }
}

fn json_set(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// Every byte of every file under `dir`.
fn a_stealer_log_tree_imports_completely_and_the_three_endpoints_answer_exactly_its_pairs() {
    let imported = import_and_verify(3000);
    let Imported {
        tmp,
        data,
        logs,
        reference,
        key,
        ingest_out: out,
    } = &imported;
    let truth = &reference.truth;
    assert!(
        reference.by_address.len() > 1000,
        "{}",
        reference.by_address.len()
    );
    let d = data.to_str().unwrap();
    let units = truth.captures.len() + truth.malformed.len();
    assert!(
        out.contains(&format!(
            "{units} lines read, {} accepted, {} rejected",
            truth.captures.len(),
            truth.malformed.len()
        )),
        "{out}"
    );

    // Malformed units are sampled by file number and line, exactly the generator's.
    let files: BTreeSet<&PathBuf> = truth
        .captures
        .iter()
        .map(|c| &c.file)
        .chain(truth.malformed.iter().map(|(f, _)| f))
        .collect();
    let number: BTreeMap<&PathBuf, usize> =
        files.iter().enumerate().map(|(i, f)| (*f, i + 1)).collect();
    let want: BTreeSet<(usize, u64)> = truth
        .malformed
        .iter()
        .map(|(f, l)| (number[f], *l))
        .collect();
    let rejects = std::fs::read_dir(data.join("rejects"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let sampled: BTreeSet<(usize, u64)> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut cells = l.split('\t');
            (
                cells.next().unwrap().parse().unwrap(),
                cells.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(sampled, want);

    // The same logs as a zip (Python's zipfile, another reader's order) change nothing.
    let zip = tmp.path().join("logs.zip");
    let zipped = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-c"])
        .arg(&zip)
        .args(["exports", "logs", "ulp"])
        .current_dir(logs)
        .status()
        .unwrap();
    assert!(zipped.success());
    let again = ingest_dump(data, &zip, "Stealer2025", &[]);
    assert!(again.contains("already imported"), "{again}");

    // Keys of another tenant, and of this one without the scope.
    let narrow = crate::keys::create_key_with(
        d,
        "no stealer scope",
        "100000",
        "account,domain",
        &["--tenant", "corp"],
    );
    let other = crate::keys::create_tenant_key(d, "other soc", "other");
    let server = Server::start_with(data, &[], &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let addr = server.addr.as_str();
    let ask = |path: &str| keyed(addr, "GET", path, key, "");

    answers_the_reference(&ask, reference);
    // The account search lists the stealer-log set like a breach.
    let some = reference.by_address.keys().next().unwrap();
    let (status, _, body) = ask(&format!(
        "/api/v3/breachedaccount/{some}?truncateResponse=false"
    ));
    assert_eq!(status, 200);
    assert_eq!(body[0]["Name"], "Stealer2025");
    assert_eq!(body[0]["IsStealerLog"], true, "{body}");

    // Only the tenant's verified domains, only with the scope, only with a key.
    let (site, _) = reference.by_website().into_iter().next().unwrap();
    for path in [
        format!("/api/v3/stealerlogsbyemail/{some}"),
        format!("/api/v3/stealerlogsbywebsitedomain/{site}"),
        format!(
            "/api/v3/stealerlogsbyemaildomain/{}",
            some.rsplit_once('@').unwrap().1
        ),
    ] {
        assert_eq!(
            keyed(addr, "GET", &path, &other, "").0,
            403,
            "{path}: another tenant's domain"
        );
        assert_eq!(
            keyed(addr, "GET", &path, &narrow, "").0,
            403,
            "{path}: no stealerlogs scope"
        );
        assert_eq!(
            http_get(addr, &path, &[("User-Agent", "leakwatch-tests")]).0,
            401,
            "{path}: no key"
        );
    }
    assert_eq!(ask("/api/v3/stealerlogsbyemail/not-an-address").0, 400);

    // Nothing of the logs is in clear in the data directory: no address, alias or website.
    let needles: BTreeSet<String> = reference
        .by_address
        .keys()
        .flat_map(|a| [a.clone(), a.rsplit_once('@').unwrap().0.to_owned()])
        .chain(reference.by_website().into_keys())
        .collect();
    assert_none_in_clear(data, needles.iter().map(String::as_str));

    // A forgotten address leaves all three endpoints at once, and after compaction too.
    let (gone, gone_sites) = reference.by_address.iter().nth(7).unwrap();
    let (alias, domain) = gone.rsplit_once('@').unwrap();
    let site = gone_sites.iter().next().unwrap();
    let check_gone = |when: &str| {
        assert_eq!(
            ask(&format!("/api/v3/stealerlogsbyemail/{gone}")).0,
            404,
            "{when}"
        );
        let (_, _, by_site) = ask(&format!("/api/v3/stealerlogsbywebsitedomain/{site}"));
        let mut want = reference.by_website()[site].clone();
        want.remove(gone);
        assert_eq!(json_set(&by_site), want, "{when}");
        let (_, _, by_domain) = ask(&format!("/api/v3/stealerlogsbyemaildomain/{domain}"));
        assert!(by_domain.get(alias).is_none(), "{when}: {alias}");
        assert_eq!(
            by_domain.as_object().unwrap().len(),
            reference.by_email_domain()[domain].len() - 1
        );
    };
    operator_cli(data, &["forget", gone]);
    server.wait_ready();
    wait_for_404(&ask, gone);
    check_gone("forgotten");
    operator_cli(data, &["compact"]);
    let after = snapshot(data);
    assert_eq!(
        after.manifest().aliases.len(),
        3,
        "one file of each stealer-log kind after compaction"
    );
    check_gone("compacted");
    server.stop();
}

/// A keyed request's status, headers and JSON body.
type Answer = (u16, BTreeMap<String, String>, serde_json::Value);

/// Every endpoint answers exactly the reference: each address its websites (and 404 for
/// addresses captured only on apps and IP hosts, and for one never captured), each website
/// its addresses, each e-mail domain its aliases with their websites.
fn answers_the_reference(ask: &dyn Fn(&str) -> Answer, reference: &Reference) {
    for (address, sites) in &reference.by_address {
        let (status, _, body) = ask(&format!("/api/v3/stealerlogsbyemail/{address}"));
        assert_eq!((status, json_set(&body)), (200, sites.clone()), "{address}");
    }
    for address in reference.without_website().iter().take(50) {
        let (status, _, _) = ask(&format!("/api/v3/stealerlogsbyemail/{address}"));
        assert_eq!(status, 404, "{address}: captured only on apps and IP hosts");
    }
    let never = format!(
        "nobody@{}",
        reference.by_email_domain().keys().next().unwrap()
    );
    assert_eq!(ask(&format!("/api/v3/stealerlogsbyemail/{never}")).0, 404);
    for (site, addresses) in &reference.by_website() {
        let (status, _, body) = ask(&format!("/api/v3/stealerlogsbywebsitedomain/{site}"));
        assert_eq!(
            (status, json_set(&body)),
            (200, addresses.clone()),
            "{site}"
        );
    }
    for (domain, aliases) in &reference.by_email_domain() {
        let (status, _, body) = ask(&format!("/api/v3/stealerlogsbyemaildomain/{domain}"));
        assert_eq!(status, 200, "{domain}");
        let got: BTreeMap<String, BTreeSet<String>> = body
            .as_object()
            .unwrap()
            .iter()
            .map(|(alias, sites)| (alias.clone(), json_set(sites)))
            .collect();
        assert_eq!(&got, aliases, "{domain}");
    }
}

/// Waits until the server has loaded the generation that forgot `gone`.
fn wait_for_404(ask: &dyn Fn(&str) -> Answer, gone: &str) {
    for _ in 0..100 {
        if ask(&format!("/api/v3/stealerlogsbyemail/{gone}")).0 == 404 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{gone} still answered after forget");
}

/// A stealer-log set imported from a generated tree, and a key of tenant `corp` that has
/// verified every address domain and website of it.
struct Imported {
    tmp: tempfile::TempDir,
    data: PathBuf,
    /// The tree.
    logs: PathBuf,
    reference: Reference,
    key: String,
    /// What `ingest` printed.
    ingest_out: String,
}

fn import_and_verify(units: u64) -> Imported {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let reference = Reference::of(leakwatch_gen::write_stealer_tree(&logs, units, 5, 23).unwrap());
    let data = tmp.path().join("data");
    add_breach(&data, "Stealer2025", &["--stealer-log"]);
    let ingest_out = ingest_dump(&data, &logs, "Stealer2025", &[]);
    let key = crate::keys::create_tenant_key(data.to_str().unwrap(), "corp soc", "corp");
    let mut domains: BTreeSet<String> = reference.by_email_domain().keys().cloned().collect();
    domains.extend(reference.by_website().keys().cloned());
    for domain in &domains {
        operator_cli(
            &data,
            &[
                "domain",
                "verify",
                domain,
                "--trust",
                "--key",
                &key[..6],
                "--contact",
                &format!("soc@{domain}"),
            ],
        );
    }
    Imported {
        tmp,
        data,
        logs,
        reference,
        key,
        ingest_out,
    }
}

fn the_npm_hibp_client_gets_the_stealer_log_answers() {
    let s = import_and_verify(600);
    let r = &s.reference;
    let list = |set: &BTreeSet<String>| serde_json::json!(set.iter().collect::<Vec<_>>());
    let mut by_email: Vec<serde_json::Value> = r
        .by_address
        .iter()
        .map(|(a, sites)| serde_json::json!([a, list(sites)]))
        .collect();
    by_email.extend(
        r.without_website()
            .iter()
            .take(20)
            .map(|a| serde_json::json!([a, null])),
    );
    let domain = r.by_email_domain().into_keys().next().unwrap();
    by_email.push(serde_json::json!([format!("nobody@{domain}"), null]));
    let cases = serde_json::json!({
        "api_key": s.key,
        "by_email": by_email,
        "by_website": r.by_website().iter().map(|(w, a)| serde_json::json!([w, list(a)])).collect::<Vec<_>>(),
        "by_email_domain": r.by_email_domain().iter().map(|(d, aliases)| {
            let map: serde_json::Map<String, serde_json::Value> =
                aliases.iter().map(|(alias, sites)| (alias.clone(), list(sites))).collect();
            serde_json::json!([d, map])
        }).collect::<Vec<_>>(),
    });
    let cases_file = write(
        &s.tmp.path().join("cases.json"),
        cases.to_string().as_bytes(),
    );
    let want = cases["by_email"].as_array().unwrap().len()
        + cases["by_website"].as_array().unwrap().len()
        + cases["by_email_domain"].as_array().unwrap().len();
    let server = Server::start_with(&s.data, &[], &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js/hibp-stealer.mjs");
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(format!("http://{}", server.addr))
        .arg(&cases_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("{want} passed, 0 failed")),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop();
}

fn a_stealer_log_set_alerts_its_domains_contact_once_and_the_private_check_names_its_websites() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    // A store already serving, and a tenant that verified the address domain.
    crate::mail::load_breach(tmp.path(), &data, "Oldbank", &["x@elsewhere.test"]);
    let key = crate::keys::create_tenant_key(d, "corp soc", "corp");
    let domain = "mailbox.example";
    operator_cli(
        &data,
        &[
            "domain",
            "verify",
            domain,
            "--trust",
            "--key",
            &key[..6],
            "--contact",
            &format!("soc@{domain}"),
        ],
    );
    let server = Server::start_with(
        &data,
        &[
            "--smtp-url",
            &smtp.url(),
            "--public-url",
            "https://leakwatch.test",
        ],
        &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();

    // The stealer-log set is published while the server runs.
    let logs = tmp.path().join("logs");
    let reference = Reference::of(leakwatch_gen::write_stealer_tree(&logs, 800, 5, 24).unwrap());
    add_breach(
        &data,
        "Stealer2025",
        &["--stealer-log", "--title", "Stealer logs 2025"],
    );
    ingest_dump(&data, &logs, "Stealer2025", &[]);
    let on_domain = reference.by_email_domain()[domain].len();
    let mails = smtp.wait_for(1, 30);
    let alerts = crate::mail::mails_to(&mails, &format!("soc@{domain}"));
    assert_eq!(alerts.len(), 1, "{mails:#?}");
    let body = alerts[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("{on_domain} addresses on {domain} are in it.")),
        "{body}"
    );

    // The private check's mail names the websites, and so does `check account`.
    let (address, sites) = reference
        .by_address
        .iter()
        .find(|(a, sites)| a.ends_with(domain) && sites.len() > 1)
        .or_else(|| reference.by_address.iter().next())
        .unwrap();
    let raw = http_raw(
        addr,
        "POST",
        "/api/v1/check-by-mail",
        &[("Content-Type", "application/json")],
        serde_json::json!({ "email": address })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(parse_response(&raw).0, 202);
    let mails = smtp.wait_for(2, 30);
    let check = crate::mail::mails_to(&mails, address);
    assert_eq!(check.len(), 1, "{mails:#?}");
    let body = check[0]["body"].as_str().unwrap();
    assert!(body.contains("Stealer logs 2025"), "{body}");
    assert!(body.contains("Change those passwords first"), "{body}");
    let listed: BTreeSet<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("  * "))
        .filter(|l| !l.contains('('))
        .map(str::to_owned)
        .collect();
    assert_eq!(&listed, sites, "{body}");
    let out = operator_cli(&data, &["check", "account", address]);
    let shown: BTreeSet<String> = out
        .lines()
        .skip_while(|l| !l.starts_with("stealer logs captured"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_owned())
        .collect();
    assert_eq!(&shown, sites, "{out}");
    server.stop();
}

/// A backup of a store holding a stealer-log set and a paste verifies, and restores into a
/// fresh directory whose three stealer-log endpoints and `pasteaccount` answer the same
/// reference the original answered: the sealed stealer-log files and the paste tables are
/// in it.
fn a_backup_restores_the_stealer_logs_and_the_pastes_to_a_store_that_answers_the_same() {
    let s = import_and_verify(400);
    let pasted: Vec<&String> = s.reference.by_address.keys().step_by(3).collect();
    let text: String = pasted.iter().map(|a| format!("{a}:secret\n")).collect();
    let file = write(&s.tmp.path().join("paste.txt"), text.as_bytes());
    let out = operator_cli(
        &s.data,
        &[
            "paste",
            "add",
            "--source",
            "Pastebin",
            "--id",
            "bk1",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.contains(&format!("{} distinct", pasted.len())), "{out}");

    let backup = s.tmp.path().join("backup");
    let restored = s.tmp.path().join("restored");
    leakwatch(
        &[
            "backup",
            "--data",
            s.data.to_str().unwrap(),
            backup.to_str().unwrap(),
        ],
        None,
    );
    leakwatch(&["verify", "--data", backup.to_str().unwrap()], None);
    // The original goes away: the answers below can come only from the restored copy.
    std::fs::remove_dir_all(&s.data).unwrap();
    leakwatch(
        &[
            "restore",
            "--data",
            restored.to_str().unwrap(),
            backup.to_str().unwrap(),
        ],
        None,
    );
    let kinds: BTreeSet<String> = snapshot(&restored)
        .manifest()
        .aliases
        .iter()
        .map(|a| format!("{:?}", a.kind))
        .collect();
    assert_eq!(kinds.len(), 3, "the three stealer-log kinds: {kinds:?}");

    let server = Server::start_with(&restored, &[], &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let addr = server.addr.as_str();
    let ask = |path: &str| keyed(addr, "GET", path, &s.key, "");
    answers_the_reference(&ask, &s.reference);
    let want = serde_json::json!([{
        "Source": "Pastebin", "Id": "bk1", "Title": null, "Date": null, "EmailCount": pasted.len()
    }]);
    for address in &pasted {
        let (status, _, body) = ask(&format!("/api/v3/pasteaccount/{address}"));
        assert_eq!((status, &body), (200, &want), "{address}");
    }
    let unpasted = s.reference.by_address.keys().nth(1).unwrap();
    assert_eq!(ask(&format!("/api/v3/pasteaccount/{unpasted}")).0, 404);
    server.stop();
}
