//! The web page in a real browser: Debian's Chromium driven by npm `playwright-core`
//! (`tests/js/web.mjs`) clicks through every flow — breach catalogue and timeline, password
//! check, private e-mail check, subscription — against `leakwatch serve`, while a real SMTP
//! server (aiosmtpd) receives what the page asked to be mailed. Screenshots of each flow are
//! saved under the test target's temporary directory.

use std::path::Path;

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![test!(the_web_page_runs_every_flow_in_chromium).needs(&[
        Need::Chromium,
        Need::NodePackages,
        Need::Aiosmtpd,
    ])]
}

fn breach(data: &Path, name: &str, date: &str, classes: &str, pwn: &str) {
    leakwatch(
        &[
            "breach",
            "add",
            "--data",
            data.to_str().unwrap(),
            "--name",
            name,
            "--title",
            name,
            "--domain",
            &format!("{}.example", name.to_lowercase()),
            "--breach-date",
            date,
            "--data-classes",
            classes,
            "--pwn-count",
            pwn,
        ],
        None,
    );
}

fn the_web_page_runs_every_flow_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(tmp.path(), 0);
    let data = tmp.path().join("data");
    // Four breaches in three months; the page must draw three bars.
    breach(
        &data,
        "Alphashop",
        "2021-05-10",
        "Email addresses,Passwords",
        "120000",
    );
    breach(
        &data,
        "Betagame",
        "2021-05-28",
        "Usernames,Passwords",
        "5400",
    );
    breach(
        &data,
        "Gammamail",
        "2022-11-02",
        "Email addresses,Phone numbers",
        "990000",
    );
    breach(
        &data,
        "Deltabank",
        "2024-03-04",
        "Email addresses,Dates of birth",
        "31000",
    );
    // A password seen exactly 3 times (plaintext list: hashed at ingest, never stored).
    let list = write(
        &tmp.path().join("passwords.txt"),
        b"hunter2\nhunter2\nletmein\nhunter2\ncorrect horse\n",
    );
    ingest_quiet(data.to_str().unwrap(), list.to_str().unwrap());
    let server = Server::start_with(
        &data,
        &["--smtp-url", &smtp.url()],
        &[("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)],
    );

    let expect = serde_json::json!({
        "knownPassword": "hunter2",
        "knownCount": 3,
        "unknownPassword": "a password nobody has ever used 7f3a",
        "breaches": 4,
        "months": 3,
        "filter": {"query": "betagame", "expected": 1, "title": "Betagame"},
        "checkEmail": "reader@example.test",
        "subscribeEmail": "watcher@example.test",
        "hideEmail": "private@example.test",
    });
    let (report, shots) = browser_script(
        "web.mjs",
        &format!("http://{}/", server.addr),
        "web-screenshots",
        tmp.path(),
        &expect,
    );
    eprintln!("screenshots in {}", shots.display());
    for shot in [
        "page",
        "phone",
        "breaches",
        "password-found",
        "password-not-found",
        "email-check",
        "subscribe",
        "hide",
    ] {
        let png = std::fs::read(shots.join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{shot}.png");
    }
    // The prefixes the page sent are the SHA-1 prefixes of the two passwords, computed here.
    let prefix = |p: &str| {
        use sha1::Digest;
        let d = sha1::Sha1::digest(p.as_bytes());
        format!("/range/{:02X}{:02X}{:X}", d[0], d[1], d[2] >> 4)
    };
    assert_eq!(report["ranges"][0]["path"], prefix("hunter2"));
    assert_eq!(
        report["ranges"][1]["path"],
        prefix("a password nobody has ever used 7f3a")
    );

    // What the page asked to be mailed arrived, to those addresses only.
    let mails = smtp.wait_for(3, 30);
    let to = |who: &str| {
        mails
            .iter()
            .filter(|m| m["rcpt_tos"] == serde_json::json!([who]))
            .map(|m| m["subject"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(to("reader@example.test"), ["Your leakwatch check"]);
    assert_eq!(
        to("watcher@example.test"),
        ["Confirm your leakwatch alerts"]
    );
    assert_eq!(
        to("private@example.test"),
        ["Confirm: hide this address in leakwatch"]
    );
    assert_eq!(mails.len(), 3, "{mails:#?}");
}
