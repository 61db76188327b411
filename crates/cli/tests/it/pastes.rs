//! Pastes (issue #22): `leakwatch paste add` finds every address planted in a noisy paste
//! text, and `pasteaccount` answers, for each, exactly the pastes it was planted in, as
//! HIBP does (`Title`/`Date` null when unknown, dates in UTC, `EmailCount` the distinct
//! addresses) — to raw HTTP, to the npm `hibp` client and to PyPI's `pyhibp`; nothing of an
//! address is in clear on disk; a forgotten address leaves the answers; a verified domain's
//! contact hears once of each paste holding its addresses.

use std::{collections::BTreeMap, path::PathBuf};

use serde_json::{Value, json};

use crate::{
    harness::{Need, Test},
    mail::keyed,
    support::*,
};

pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(pastes_answer_exactly_the_planted_addresses_and_a_forgotten_one_leaves),
        test!(npm_hibp_and_pyhibp_get_the_paste_answers).needs(&[Need::NodePackages, Need::Pyhibp]),
        test!(a_paste_with_addresses_of_a_verified_domain_alerts_its_contact_once)
            .needs(&[Need::Aiosmtpd]),
    ]
}

/// The `i`th planted address, in the case the paste writes it.
fn planted(i: usize) -> String {
    if i.is_multiple_of(3) {
        format!("Paste.User{i}@MailBox.Example")
    } else {
        format!("paste.user{i}@mailbox.example")
    }
}

/// A paste's text: each address several times, in the wrappings pastes have (combolist
/// lines, angle brackets, quotes, sentence ends, CRLF), among things that are not addresses.
fn paste_text(addresses: impl Iterator<Item = usize>) -> String {
    let mut text = String::from("# dump of a fictional forum\r\n");
    for i in addresses {
        let a = planted(i);
        text.push_str(&format!(
            "{a}:hunter{i}\r\nFrom: \"User {i}\" <{a}>\n'{}', then mail {a}.\n",
            a.to_lowercase()
        ));
        text.push_str(&format!("user{i}@localhost x@y.z @mailbox.example {i}@\n"));
    }
    text
}

/// The pastes: (source, id, title, date as given, date as HIBP writes it, planted
/// addresses). Undated, a day, and RFC 3339 with an offset.
type PasteCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    std::ops::Range<usize>,
);
const PASTES: [PasteCase; 3] = [
    ("Pastebin", "A1b2C3", None, None, None, 0..30),
    (
        "Pastie",
        "77",
        Some("Forum dump"),
        Some("2014-03-04"),
        Some("2014-03-04T00:00:00Z"),
        10..40,
    ),
    (
        "Slexy",
        "zz9",
        None,
        Some("2015-06-07T08:09:10+02:00"),
        Some("2015-06-07T06:09:10Z"),
        5..6,
    ),
];

struct Pasted {
    tmp: tempfile::TempDir,
    data: PathBuf,
    key: String,
    /// Normalised address → the answer it must get (HIBP's order here: dated oldest
    /// first, undated last).
    want: BTreeMap<String, Value>,
}

fn add_pastes() -> Pasted {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    crate::mail::load_breach(tmp.path(), &data, "Oldbank", &["x@elsewhere.test"]);
    let key =
        crate::keys::create_key_with(data.to_str().unwrap(), "pastes", "100000", "pastes", &[]);
    let mut want: BTreeMap<String, Vec<(Option<&str>, Value)>> = BTreeMap::new();
    for (n, (source, id, title, date, utc, range)) in PASTES.iter().enumerate() {
        let file = write(
            &tmp.path().join(format!("paste{n}.txt")),
            paste_text(range.clone()).as_bytes(),
        );
        let mut args = vec!["paste", "add", "--source", source, "--id", id];
        if let Some(t) = title {
            args.extend(["--title", t]);
        }
        if let Some(d) = date {
            args.extend(["--date", d]);
        }
        args.push(file.to_str().unwrap());
        let out = operator_cli(&data, &args);
        let count = range.len();
        assert!(
            out.contains(&format!("added paste {source}/{id}: {count} distinct")),
            "{out}"
        );
        // The same paste again replaces it: nothing changes.
        let again = operator_cli(&data, &args);
        assert!(
            again.contains(&format!("replaced paste {source}/{id}: {count} distinct")),
            "{again}"
        );
        for i in range.clone() {
            want.entry(planted(i).to_lowercase()).or_default().push((
                *utc,
                json!({"Source": source, "Id": id, "Title": title, "Date": utc, "EmailCount": count}),
            ));
        }
    }
    let want = want
        .into_iter()
        .map(|(address, mut found)| {
            found.sort_by_key(|(utc, _)| (utc.is_none(), *utc));
            (
                address,
                Value::Array(found.into_iter().map(|(_, v)| v).collect()),
            )
        })
        .collect();
    Pasted {
        tmp,
        data,
        key,
        want,
    }
}

fn pastes_answer_exactly_the_planted_addresses_and_a_forgotten_one_leaves() {
    let Pasted {
        tmp: _tmp,
        data,
        key,
        want,
    } = add_pastes();
    let listed = operator_cli(&data, &["paste", "list"]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    let d = data.to_str().unwrap();
    let narrow = crate::keys::create_key_with(d, "no pastes", "100000", "account", &[]);
    let server = Server::start_with(&data, &[], &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let addr = server.addr.as_str();
    let ask = |address: &str| {
        keyed(
            addr,
            "GET",
            &format!("/api/v3/pasteaccount/{address}"),
            &key,
            "",
        )
    };
    for (address, answer) in &want {
        let (status, _, body) = ask(address);
        assert_eq!((status, &body), (200, answer), "{address}");
    }
    // Any case finds the address; the addresses the text only seemed to hold are in none.
    assert_eq!(
        ask("PASTE.USER3@MAILBOX.EXAMPLE").2,
        want["paste.user3@mailbox.example"]
    );
    for nobody in [
        "paste.user40@mailbox.example",
        "user3@localhost.example",
        "x@y.zz",
    ] {
        assert_eq!(ask(nobody).0, 404, "{nobody}");
    }
    assert_eq!(ask("not-an-address").0, 400);
    let path = "/api/v3/pasteaccount/paste.user3@mailbox.example";
    assert_eq!(
        keyed(addr, "GET", path, &narrow, "").0,
        403,
        "no scope pastes"
    );
    assert_eq!(
        http_get(addr, path, &[("User-Agent", "leakwatch-tests")]).0,
        401
    );

    // Nothing of an address is in clear in the data directory.
    assert_none_in_clear(&data, want.keys().map(|a| a.split('@').next().unwrap()));

    // `check account` lists the same pastes, oldest first, from the planted cases.
    let gone = "paste.user12@mailbox.example";
    let want_lines: Vec<String> = [1, 0]
        .iter()
        .map(|&n| {
            let (source, id, title, _, utc, range) = &PASTES[n];
            let title = title.map(|t| format!(" {t:?}")).unwrap_or_default();
            let date = utc.unwrap_or("undated");
            format!(
                "  {source}/{id}{title}, {date}, {} address(es)",
                range.len()
            )
        })
        .collect();
    let checked = operator_cli(&data, &["check", "account", gone]);
    assert!(
        checked.contains(&format!("seen in 2 paste(s):\n{}\n", want_lines.join("\n"))),
        "{checked}"
    );

    // A forgotten address leaves every paste; the others stay.
    let out = operator_cli(&data, &["forget", gone]);
    assert!(out.contains("2 paste link(s) removed"), "{out}");
    server.wait_ready();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ask(gone).0 != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "{gone} still answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        ask("paste.user13@mailbox.example").2,
        want["paste.user13@mailbox.example"]
    );
    let checked = operator_cli(&data, &["check", "account", gone]);
    assert!(checked.contains("seen in no paste"), "{checked}");
    server.stop();
}

fn npm_hibp_and_pyhibp_get_the_paste_answers() {
    let Pasted {
        tmp,
        data,
        key,
        want,
    } = add_pastes();
    let mut cases: Vec<Value> = want.iter().map(|(a, v)| json!([a, v])).collect();
    cases.push(json!(["paste.user99@mailbox.example", null]));
    let cases_file = write(
        &tmp.path().join("cases.json"),
        json!({"api_key": key, "paste_account": cases})
            .to_string()
            .as_bytes(),
    );
    let server = Server::start_with(&data, &[], &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let base = format!("http://{}", server.addr);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (program, script) in [
        ("node", "tests/js/hibp-stealer.mjs"),
        ("python3", "tests/py/pyhibp_pastes.py"),
    ] {
        let out = std::process::Command::new(program)
            .arg(root.join(script))
            .arg(&base)
            .arg(&cases_file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("{} passed, 0 failed", cases.len())),
            "{script}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    server.stop();
}

fn a_paste_with_addresses_of_a_verified_domain_alerts_its_contact_once() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = tmp.path().join("data");
    crate::mail::load_breach(tmp.path(), &data, "Oldbank", &["x@elsewhere.test"]);
    let d = data.to_str().unwrap();
    let key = crate::keys::create_tenant_key(d, "corp soc", "corp");
    let contact = "soc@mailbox.example";
    operator_cli(
        &data,
        &[
            "domain",
            "verify",
            "mailbox.example",
            "--trust",
            "--key",
            &key[..6],
            "--contact",
            contact,
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
    let add = |n: usize| {
        let (source, id, _, _, _, range) = &PASTES[n];
        let file = write(
            &tmp.path().join(format!("paste{n}.txt")),
            paste_text(range.clone()).as_bytes(),
        );
        operator_cli(
            &data,
            &[
                "paste",
                "add",
                "--source",
                source,
                "--id",
                id,
                file.to_str().unwrap(),
            ],
        )
    };
    // A paste with 30 of the domain's addresses; the same paste again alerts nobody again.
    add(0);
    let mails = smtp.wait_for(1, 30);
    add(0);
    // A second paste, with one.
    add(2);
    let mails = smtp.wait_for(mails.len() + 1, 30);
    let alerts = crate::mail::mails_to(&mails, contact);
    assert_eq!(alerts.len(), 2, "{mails:#?}");
    let bodies: Vec<&str> = alerts.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert!(bodies[0].contains("Pastebin paste A1b2C3"), "{}", bodies[0]);
    assert!(
        bodies[0].contains("30 addresses on mailbox.example are in it."),
        "{}",
        bodies[0]
    );
    assert!(bodies[1].contains("Slexy paste zz9"), "{}", bodies[1]);
    assert!(
        bodies[1].contains("1 address on mailbox.example is in it."),
        "{}",
        bodies[1]
    );
    // No address of the paste is in any mail.
    for body in &bodies {
        assert!(!body.contains("paste.user"), "{body}");
    }
    server.stop();
}
