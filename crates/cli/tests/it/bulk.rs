//! Bulk extraction made visible and stoppable (issue #19): a key that reads more distinct
//! account-range prefixes, accounts or domains in an hour than the configuration allows is
//! recorded in the audit log, counted in `leakwatch_key_anomalies_total`, mailed to the
//! operator's contact (a real SMTP sink) and, with `suspend_on_anomaly`, refused until
//! `keys resume`; the counts survive a restart. A large domain goes out whole only to a key
//! with the `domain-bulk` scope.

use std::time::{Duration, Instant};

use crate::harness::{Need, Test};
use crate::mail::{keyed, load_breach, mails_to};
use crate::support::*;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(a_key_reading_too_many_prefixes_is_suspended_told_once_and_resumed_and_its_count_survives_a_restart)
            .needs(&[Need::Aiosmtpd]),
        test!(accounts_and_domains_are_counted_per_key_and_a_large_domain_needs_domain_bulk),
    ]
}

/// The counts are per UTC hour: a test that crossed an hour's end would start again from
/// nothing half way. Waits out the last 40 seconds of an hour.
fn clear_of_the_hour_end() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = 3600 - now % 3600;
    if left < 40 {
        std::thread::sleep(Duration::from_secs(left + 1));
    }
}

/// The value of `leakwatch_key_anomalies_total` for one key and kind (0 when absent).
fn anomalies(text: &str, key: &str, kind: &str) -> u64 {
    let want = format!("leakwatch_key_anomalies_total{{key=\"{key}\",kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&want))
        .map_or(0, |v| v.trim().parse().unwrap())
}

fn audit_records(data: &std::path::Path, action: &str) -> Vec<serde_json::Value> {
    let out = leakwatch(
        &[
            "audit-log",
            "show",
            "--json",
            "--action",
            action,
            "--data",
            data.to_str().unwrap(),
        ],
        None,
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn a_key_reading_too_many_prefixes_is_suspended_told_once_and_resumed_and_its_count_survives_a_restart()
 {
    clear_of_the_hour_end();
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let walker = crate::keys::create_scoped_key(d, "walker", "100000", "account-range");
    let bystander = crate::keys::create_scoped_key(d, "bystander", "100000", "account-range");
    load_breach(tmp.path(), &data, "Oldbank", &["ann@corp-six.test"]);
    let url = smtp.url();
    let args = [
        "--smtp-url",
        url.as_str(),
        "--max-account-prefixes-per-hour",
        "5",
        "--suspend-on-anomaly",
        "--operator-contact",
        "ops@operator.test",
    ];
    let env = [("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)];
    let range = |addr: &str, key: &str, i: u32| {
        let path = format!("/api/v3/breachedaccount/range/{:06X}", 0xA0_0000 + i);
        keyed(addr, "GET", &path, key, "")
    };

    // Three distinct prefixes (one asked twice), then a restart.
    let server = Server::start_with(&data, &args, &env);
    for i in [0, 1, 1, 2] {
        assert_eq!(range(&server.addr, &walker, i).0, 200);
    }
    server.stop();
    let server = Server::start_with(&data, &args, &env);
    let addr = server.addr.clone();
    // Two more make five, the threshold: still answered.
    for i in [3, 4, 0] {
        assert_eq!(range(&addr, &walker, i).0, 200);
    }
    // The sixth distinct prefix crosses it (counted across the restart): refused, saying why.
    let (status, _, body) = range(&addr, &walker, 5);
    assert_eq!(status, 401, "{body}");
    let reason = body.as_str().unwrap().to_owned();
    assert!(
        reason.contains("suspended") && reason.contains("more than 5 distinct account prefixes"),
        "{reason}"
    );
    // From now on every request of the key is refused, an old prefix too; another key's
    // five (the threshold) go on.
    assert_eq!(range(&addr, &walker, 0).0, 401);
    for i in 0..5 {
        assert_eq!(range(&addr, &bystander, i).0, 200);
    }
    let listed = operator_cli(&data, &["keys", "list"]);
    assert!(listed.contains("suspended: read more than 5"), "{listed}");

    // Counted once, mailed once to the operator's contact, recorded once.
    let text = metrics_until(&server.metrics_addr, |t| {
        anomalies(t, &walker[..6], "account-prefixes") == 1
    });
    assert_eq!(anomalies(&text, &bystander[..6], "account-prefixes"), 0);
    let mails = smtp.wait_for(1, 30);
    let to_ops = mails_to(&mails, "ops@operator.test");
    assert_eq!(to_ops.len(), 1, "{mails:?}");
    let subject = to_ops[0]["subject"].as_str().unwrap();
    assert!(
        subject.contains(&walker[..6]) && subject.contains("suspended"),
        "{subject}"
    );
    assert!(
        to_ops[0]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("leakwatch keys resume {}", &walker[..6])),
        "{}",
        to_ops[0]
    );
    let records = audit_records(&data, "key.anomaly");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["principal"]["name"], "walker");
    assert_eq!(records[0]["route"], "account-prefixes");
    assert_eq!(records[0]["size"], 6);

    // The operator resumes it: accepted again within a second or two, and not suspended
    // again for the same hour's reading.
    operator_cli(&data, &["keys", "resume", &walker[..6]]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while range(&addr, &walker, 0).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the resumed key is still refused"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 6..10 {
        assert_eq!(range(&addr, &walker, i).0, 200);
    }
    assert_eq!(audit_records(&data, "keys.resume").len(), 1);
    assert_eq!(smtp.wait_for(2, 1).len(), 1, "one mail only");
    let resumed_again = try_leakwatch(&["keys", "resume", &walker[..6], "--data", d], None);
    assert!(!resumed_again.status.success());
    assert!(String::from_utf8_lossy(&resumed_again.stderr).contains("not suspended"));
}

fn accounts_and_domains_are_counted_per_key_and_a_large_domain_needs_domain_bulk() {
    clear_of_the_hour_end();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let looker =
        crate::keys::create_key_with(d, "looker", "100000", "account", &["--tenant", "acme"]);
    let other =
        crate::keys::create_key_with(d, "other", "100000", "account", &["--tenant", "acme"]);
    let searcher =
        crate::keys::create_key_with(d, "searcher", "100000", "domain", &["--tenant", "acme"]);
    let bulk = crate::keys::create_key_with(
        d,
        "bulk",
        "100000",
        "domain,domain-bulk",
        &["--tenant", "acme"],
    );
    load_breach(
        tmp.path(),
        &data,
        "Oldbank",
        &["a@big.test", "b@big.test", "c@big.test", "x@small.test"],
    );
    for domain in ["big.test", "small.test"] {
        operator_cli(
            &data,
            &[
                "domain",
                "verify",
                domain,
                "--trust",
                "--tenant",
                "acme",
                "--contact",
                "soc@acme.test",
            ],
        );
    }
    let server = Server::start_with(
        &data,
        &[
            "--max-accounts-per-hour",
            "3",
            "--max-domains-per-hour",
            "1",
            "--max-domain-answer",
            "2",
        ],
        &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)],
    );
    let addr = server.addr.as_str();
    let account = |key: &str, who: &str| {
        let path = format!("/api/v3/breachedaccount/{who}");
        keyed(addr, "GET", &path, key, "").0
    };
    // Four distinct accounts (found or not) cross 3; without suspend_on_anomaly the key
    // goes on, and another key's two are nothing.
    for who in [
        "a@big.test",
        "nobody@big.test",
        "a@big.test",
        "b@big.test",
        "zed@else.test",
    ] {
        assert!([200, 404].contains(&account(&looker, who)));
    }
    assert_eq!(account(&looker, "c@big.test"), 200);
    for who in ["a@big.test", "b@big.test"] {
        assert_eq!(account(&other, who), 200);
    }
    // The small domain answers; the big one (3 addresses > 2) only with domain-bulk.
    let (status, _, small) = keyed(
        addr,
        "GET",
        "/api/v3/breacheddomain/small.test",
        &searcher,
        "",
    );
    assert_eq!(status, 200, "{small}");
    let (status, _, refused) = keyed(
        addr,
        "GET",
        "/api/v3/breacheddomain/big.test",
        &searcher,
        "",
    );
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused.as_str().unwrap().contains("domain-bulk"),
        "{refused}"
    );
    let (status, _, whole) = keyed(addr, "GET", "/api/v3/breacheddomain/big.test", &bulk, "");
    assert_eq!(status, 200, "{whole}");
    assert_eq!(whole.as_object().unwrap().len(), 3);

    let text = metrics_until(&server.metrics_addr, |t| {
        anomalies(t, &looker[..6], "accounts") == 1 && anomalies(t, &searcher[..6], "domains") == 1
    });
    assert_eq!(anomalies(&text, &other[..6], "accounts"), 0);
    assert_eq!(
        anomalies(&text, &bulk[..6], "domains"),
        0,
        "one domain only"
    );
    let records = audit_records(&data, "key.anomaly");
    let mut seen: Vec<(String, String, u64)> = records
        .iter()
        .map(|r| {
            (
                r["principal"]["name"].as_str().unwrap().to_owned(),
                r["route"].as_str().unwrap().to_owned(),
                r["size"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("looker".to_owned(), "accounts".to_owned(), 4),
            ("searcher".to_owned(), "domains".to_owned(), 2),
        ]
    );
    // The key that was told about stays usable: suspension is the configuration's choice.
    assert_eq!(account(&looker, "a@big.test"), 200);
    server.stop();
}
