//! The audit log (issue #19): every keyed request and privileged command leaves one record
//! with its principal, action, status and size, and no target in clear; `audit-log verify`
//! names the place of every edit an insider could make to the files, reports a torn tail a
//! crash leaves, which the next start seals; records reach a syslog socket as RFC 5424;
//! `show` filters, `export` and rotation do what they say.
//!
//! Record offsets are found with the framing FORMAT.md gives (an 84-byte header, then
//! records of a u16 length and a body whose first byte is the kind), not with leakwatch's
//! reader. Target digests are recomputed here from the audit key with the hmac crate.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::harness::Test;
use crate::mail::{keyed, load_breach};
use crate::support::*;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(every_keyed_request_and_operator_command_leaves_one_record_and_no_target_in_clear),
        test!(verify_names_every_edit_and_reports_a_torn_tail_which_the_next_start_seals),
        test!(records_reach_a_syslog_socket_as_rfc5424_lines),
        test!(show_filters_by_time_key_action_and_target_and_export_writes_the_same_records),
        test!(files_rotate_by_size_and_closed_files_are_never_rewritten),
        test!(
            audited_commands_and_serve_refuse_to_run_without_a_private_audit_key_outside_the_data
        ),
        test!(the_benchmarks_unaudited_server_still_needs_the_key_and_is_recorded_as_such),
    ]
}

const HEADER: usize = 84;
const KIND_EVENT: u8 = 2;
const KIND_CHECKPOINT: u8 = 3;

/// The records of a trail file: (offset, framed length, kind), per FORMAT.md.
fn frames(bytes: &[u8]) -> Vec<(usize, usize, u8)> {
    let mut out = Vec::new();
    let mut at = HEADER;
    while at + 2 <= bytes.len() {
        let len = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        if len == 0 || at + 2 + len > bytes.len() {
            break;
        }
        out.push((at, 2 + len, bytes[at + 2]));
        at += 2 + len;
    }
    out
}

fn trail_files(data: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// The keyed digest the log must hold for `target`, computed from the audit key as
/// FORMAT.md describes: HMAC-SHA256 under HMAC-SHA256(audit key, "leakwatch audit target
/// v1"), of the case-folded target, first 16 bytes, in hex.
fn digest(target: &str) -> String {
    let secret: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&AUDIT_KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut derive = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    derive.update(b"leakwatch audit target v1");
    let key = derive.finalize().into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(target.trim().to_lowercase().as_bytes());
    mac.finalize().into_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `audit-log show --json` with extra flags: one JSON value per record.
pub(crate) fn show(data: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "audit-log",
        "show",
        "--json",
        "--data",
        data.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = leakwatch(&args, None);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `audit-log verify`: (succeeded, stdout, stderr).
fn verify(data: &Path) -> (bool, String, String) {
    let out = try_leakwatch(
        &["audit-log", "verify", "--data", data.to_str().unwrap()],
        None,
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `id -u` / `id -un`: who the operator commands run as.
fn operator() -> (i64, String) {
    let id = |flag: &str| {
        let out = std::process::Command::new("id").arg(flag).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    (id("-u").parse().unwrap(), id("-un"))
}

fn sha1_hex(s: &str) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn every_keyed_request_and_operator_command_leaves_one_record_and_no_target_in_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let (uid, user) = operator();
    // Operator commands: a key, a breach and its dump, a vouched domain, the lookups.
    let key = crate::keys::create_tenant_key(d, "analyst", "northwind");
    let accounts = ["ann@corp-one.test", "bob@corp-one.test"];
    load_breach(tmp.path(), &data, "Oldbank", &accounts);
    operator_cli(
        &data,
        &[
            "domain",
            "verify",
            "corp-one.test",
            "--trust",
            "--key",
            &key[..6],
            "--contact",
            "soc@corp-one.test",
        ],
    );
    operator_cli(&data, &["check", "account", "Ann@corp-one.test"]);
    operator_cli(&data, &["check", "domain", "corp-one.test"]);
    // The rows `subscribe list` printed (the domain's registration is one), header aside.
    let listed = operator_cli(&data, &["subscribe", "list"]).lines().count() as u64 - 1;
    assert!(listed >= 1);
    // A failing command is recorded too, as failed.
    let failed = with_key(&["check", "account", "nobody@", "--data", d], OPERATOR_KEY);
    assert!(!failed.status.success());

    // Keyed requests, and one without a key.
    let server = Server::start_with(&data, &[], &[("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)]);
    let addr = server.addr.as_str();
    let prefix = &sha1_hex("bob@corp-one.test")[..6];
    let (s1, _, found) = keyed(
        addr,
        "GET",
        "/api/v3/breachedaccount/ann@corp-one.test",
        &key,
        "",
    );
    assert_eq!(s1, 200, "{found}");
    let (s2, _, _) = keyed(
        addr,
        "GET",
        "/api/v3/breachedaccount/zed@corp-one.test",
        &key,
        "",
    );
    assert_eq!(s2, 404);
    let path = format!("/api/v3/breachedaccount/range/{prefix}");
    let (s3, _, range) = keyed(addr, "GET", &path, &key, "");
    assert_eq!(s3, 200, "{range}");
    let range_size = range.as_array().unwrap().len();
    assert!(range_size >= 1);
    let (s4, _, domain) = keyed(
        addr,
        "GET",
        "/api/v3/breacheddomain/corp-one.test",
        &key,
        "",
    );
    assert_eq!(s4, 200, "{domain}");
    assert_eq!(domain.as_object().unwrap().len(), 2);
    let vendor = r#"{"name":"Trackly","domains":["trackly.test"],"dataClasses":["Passwords"],"criticality":3}"#;
    let (s5, _, v) = keyed(addr, "POST", "/api/v1/vendors", &key, vendor);
    assert_eq!(s5, 201, "{v}");
    let (s6, _, _) = keyed(
        addr,
        "GET",
        "/api/v3/breachedaccount/ann@corp-one.test",
        "nope",
        "",
    );
    assert_eq!(s6, 401);
    server.stop();

    let records = show(&data, &[]);
    // (kind, id, name, tenant, action, status, size, target) of each, in order.
    let op = |tenant: &str, action: &str, status: u64, size: u64, target: Option<&str>| {
        (
            "operator",
            uid,
            user.clone(),
            tenant.to_owned(),
            action.to_owned(),
            status,
            size,
            target.map(digest),
        )
    };
    let api = |action: &str, status: u64, size: u64, target: Option<&str>| {
        (
            "api-key",
            1,
            "analyst".to_owned(),
            "northwind".to_owned(),
            action.to_owned(),
            status,
            size,
            target.map(digest),
        )
    };
    let expected = vec![
        op("northwind", "keys.create", 0, 0, None),
        op("", "breach.add", 0, 0, Some("Oldbank")),
        op("", "ingest", 0, 0, Some("Oldbank")),
        op("", "domain.trust", 0, 0, Some("corp-one.test")),
        op("", "account.check", 0, 1, Some("Ann@corp-one.test")),
        op("", "domain.check", 0, 2, Some("corp-one.test")),
        op("", "subscribe.list", 0, listed, None),
        op("", "account.check", 1, 0, Some("nobody@")),
        api("breachedaccount.get", 200, 1, Some("ann@corp-one.test")),
        api("breachedaccount.get", 404, 0, Some("zed@corp-one.test")),
        api(
            "breachedaccount.range.get",
            200,
            range_size as u64,
            Some(prefix),
        ),
        api("breacheddomain.get", 200, 2, Some("corp-one.test")),
        api("vendors.post", 201, 0, Some("Trackly")),
        (
            "public",
            0,
            String::new(),
            String::new(),
            "breachedaccount.get".to_owned(),
            401,
            0,
            None,
        ),
    ];
    let got: Vec<_> = records
        .iter()
        .map(|r| {
            let p = &r["principal"];
            (
                match p["kind"].as_str().unwrap() {
                    "operator" => "operator",
                    "api-key" => "api-key",
                    "public" => "public",
                    other => panic!("unexpected principal {other}"),
                },
                p["id"].as_i64().unwrap(),
                p["name"].as_str().unwrap().to_owned(),
                p["tenant"].as_str().unwrap().to_owned(),
                r["action"].as_str().unwrap().to_owned(),
                r["status"].as_u64().unwrap(),
                r["size"].as_u64().unwrap(),
                r["target"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Requests carry their peer and route template; commands neither a peer nor a value.
    for r in &records[8..] {
        assert!(r["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{r}");
        assert!(r["route"].as_str().unwrap().starts_with("/api/"), "{r}");
    }
    assert_eq!(records[3]["route"], "domain verify --trust");

    // No identifier, address, domain or prefix in clear: in the files, or in the export.
    let export = tmp.path().join("export.jsonl");
    leakwatch(
        &[
            "audit-log",
            "export",
            "--data",
            d,
            "--out",
            export.to_str().unwrap(),
        ],
        None,
    );
    let mut haystacks: Vec<(String, Vec<u8>)> = trail_files(&data)
        .into_iter()
        .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
        .collect();
    haystacks.push(("export".into(), std::fs::read(&export).unwrap()));
    let needles = [
        "ann@corp-one.test",
        "bob@corp-one.test",
        "zed@corp-one.test",
        "nobody@",
        "corp-one.test",
        "corp-one",
        "soc@",
        "Trackly",
        prefix,
        &prefix.to_lowercase(),
    ];
    for (name, bytes) in &haystacks {
        let lower = String::from_utf8_lossy(bytes).to_lowercase();
        for needle in needles {
            assert!(
                !lower.contains(&needle.to_lowercase()),
                "{name} holds {needle:?} in clear"
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(&export).unwrap().lines().count(),
        records.len()
    );
    let (ok, out, err) = verify(&data);
    assert!(ok && !out.contains("unsealed"), "{out}{err}");
}

/// A data directory whose log spans several small files: a server with 4 KiB files, many
/// keyed requests, stopped cleanly.
fn several_files(tmp: &Path) -> PathBuf {
    let data = tmp.join("data");
    let d = data.to_str().unwrap();
    let key = crate::keys::create_scoped_key(d, "walker", "100000", "account");
    load_breach(tmp, &data, "Oldbank", &["ann@corp-two.test"]);
    let server = Server::start_with(&data, &["--audit-file-size", "4096"], &[]);
    for i in 0..300 {
        let path = format!("/api/v3/breachedaccount/user{i}@corp-two.test");
        assert_eq!(keyed(&server.addr, "GET", &path, &key, "").0, 404);
    }
    server.stop();
    data
}

/// A copy of `data`'s audit folder in a new data directory, for one edit.
fn copy_log(data: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to.join("audit")).unwrap();
    for f in trail_files(data) {
        std::fs::copy(&f, to.join("audit").join(f.file_name().unwrap())).unwrap();
    }
    to.to_owned()
}

fn verify_names_every_edit_and_reports_a_torn_tail_which_the_next_start_seals() {
    let tmp = tempfile::tempdir().unwrap();
    let data = several_files(tmp.path());
    let files = trail_files(&data);
    assert!(files.len() >= 3, "{files:?}");
    let (ok, out, err) = verify(&data);
    assert!(
        ok && out.contains("verifies") && !out.contains("unsealed"),
        "{out}{err}"
    );

    let first = std::fs::read(&files[0]).unwrap();
    let recs = frames(&first);
    let events: Vec<_> = recs.iter().filter(|r| r.2 == KIND_EVENT).collect();
    let checkpoints: Vec<_> = recs.iter().filter(|r| r.2 == KIND_CHECKPOINT).collect();
    assert!(events.len() > 4 && checkpoints.len() >= 2);
    let edit = |case: &str, change: &dyn Fn(&Path)| -> String {
        let copy = copy_log(&data, &tmp.path().join(case));
        change(&copy.join("audit"));
        let (ok, out, err) = verify(&copy);
        assert!(!ok, "{case}: verify passed: {out}");
        err
    };
    let name1 = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    let write1 = |dir: &Path, bytes: &[u8]| std::fs::write(dir.join(&name1), bytes).unwrap();

    // A flipped byte in an event (its time): the next checkpoint no longer matches.
    let (at, _, _) = *events[2];
    let err = edit("flipped", &|dir| {
        let mut b = first.clone();
        b[at + 4] ^= 0x01;
        write1(dir, &b);
    });
    assert!(err.contains(&name1) && err.contains("record"), "{err}");
    // A deleted record.
    let (at, len, _) = *events[3];
    let err = edit("deleted", &|dir| {
        let mut b = first.clone();
        b.drain(at..at + len);
        write1(dir, &b);
    });
    assert!(err.contains(&name1) && err.contains("record"), "{err}");
    // Two records swapped (two events of the same length, next to each other).
    let pair = events
        .windows(2)
        .find(|w| w[0].1 == w[1].1 && w[0].0 + w[0].1 == w[1].0)
        .expect("two adjacent events of one length");
    let err = edit("swapped", &|dir| {
        let mut b = first.clone();
        let (a, n) = (pair[0].0, pair[0].1);
        let (x, y) = (first[a..a + n].to_vec(), first[a + n..a + 2 * n].to_vec());
        b[a..a + n].copy_from_slice(&y);
        b[a + n..a + 2 * n].copy_from_slice(&x);
        write1(dir, &b);
    });
    assert!(err.contains(&name1) && err.contains("record"), "{err}");
    // A removed file.
    let name2 = files[1].file_name().unwrap().to_str().unwrap().to_owned();
    let err = edit("removed", &|dir| {
        std::fs::remove_file(dir.join(&name2)).unwrap()
    });
    assert!(err.contains(&name2) && err.contains("missing"), "{err}");
    // A file cut right after one of its checkpoints (not its last).
    let (at, len, _) = *checkpoints[0];
    let err = edit("cut", &|dir| write1(dir, &first[..at + len]));
    assert!(
        err.contains(&name2) && err.contains("does not end"),
        "{err}"
    );

    // A crash mid-write: the newest file torn in the middle of a record after its last
    // checkpoint. Reported, not failed...
    let newest = files.last().unwrap();
    let bytes = std::fs::read(newest).unwrap();
    let recs = frames(&bytes);
    let last_event = recs.iter().rev().find(|r| r.2 == KIND_EVENT).unwrap();
    std::fs::write(newest, &bytes[..last_event.0 + last_event.1 / 2]).unwrap();
    let (ok, out, err) = verify(&data);
    assert!(ok, "a torn tail is not tampering: {err}");
    assert!(
        out.contains("unsealed tail") && out.contains("torn record"),
        "{out}"
    );
    // ...and the server's next start seals it.
    let server = Server::start(&data);
    let (ok, out, err) = verify(&data);
    assert!(ok && !out.contains("unsealed"), "{out}{err}");
    drop(server);
}

fn records_reach_a_syslog_socket_as_rfc5424_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("log.sock");
    let receiver = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let sock = socket.to_str().unwrap();
    let out = leakwatch(
        &[
            "keys",
            "create",
            "--data",
            d,
            "--name",
            "siem",
            "--scope",
            "account",
            "--tenant",
            "northwind",
            "--audit-syslog",
            sock,
        ],
        None,
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    load_breach(tmp.path(), &data, "Oldbank", &["ann@corp-three.test"]);
    let server = Server::start_with(&data, &["--audit-syslog", sock], &[]);
    let path = "/api/v3/breachedaccount/ann@corp-three.test";
    assert_eq!(keyed(&server.addr, "GET", path, &key, "").0, 200);

    let mut buf = vec![0u8; 8192];
    let mut line = |want: &str| -> serde_json::Value {
        loop {
            let n = receiver.recv(&mut buf).expect("a syslog datagram");
            let text = String::from_utf8(buf[..n].to_vec()).unwrap();
            // RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
            // SP STRUCTURED-DATA [SP MSG]; authpriv.notice is <85>.
            let parts: Vec<&str> = text.splitn(8, ' ').collect();
            assert_eq!(parts.len(), 8, "{text}");
            assert_eq!(parts[0], "<85>1", "{text}");
            let ts = parts[1].as_bytes();
            assert!(
                ts.len() == 24
                    && ts[4] == b'-'
                    && ts[10] == b'T'
                    && ts[19] == b'.'
                    && ts[23] == b'Z',
                "{text}"
            );
            assert!(!parts[2].is_empty() && parts[3] == "leakwatch", "{text}");
            assert!(parts[4].parse::<u32>().is_ok(), "{text}");
            assert_eq!(parts[6], "-", "{text}");
            assert!(!text.contains("corp-three"), "a target in clear: {text}");
            let msg: serde_json::Value = serde_json::from_str(parts[7]).unwrap();
            assert_eq!(parts[5], msg["action"].as_str().unwrap(), "{text}");
            if parts[5] == want {
                return msg;
            }
        }
    };
    let created = line("keys.create");
    assert_eq!(created["principal"]["tenant"], "northwind");
    let lookup = line("breachedaccount.get");
    assert_eq!(lookup["status"], 200);
    assert_eq!(lookup["size"], 1);
    assert_eq!(lookup["target"], digest("ann@corp-three.test"));
    drop(server);
}

fn show_filters_by_time_key_action_and_target_and_export_writes_the_same_records() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let first = crate::keys::create_scoped_key(d, "first", "100000", "account");
    let second = crate::keys::create_scoped_key(d, "second", "100000", "account");
    load_breach(tmp.path(), &data, "Oldbank", &["ann@corp-four.test"]);
    let server = Server::start(&data);
    let ask = |key: &str, who: &str| {
        let path = format!("/api/v3/breachedaccount/{who}@corp-four.test");
        keyed(&server.addr, "GET", &path, key, "").0
    };
    assert_eq!(ask(&first, "ann"), 200);
    assert_eq!(ask(&second, "ann"), 200);
    assert_eq!(ask(&first, "bob"), 404);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(ask(&second, "cat"), 404);
    server.stop();

    let all = show(&data, &[]);
    assert_eq!(all.len(), 2 + 2 + 4, "{all:?}");
    let actions = |rs: &[serde_json::Value]| -> Vec<String> {
        rs.iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["principal"]["name"].as_str().unwrap(),
                    r["action"].as_str().unwrap()
                )
            })
            .collect()
    };
    // --key: one key's requests only.
    let firsts = show(&data, &["--key", &first[..6]]);
    assert_eq!(
        actions(&firsts),
        ["first breachedaccount.get", "first breachedaccount.get"]
    );
    // --action.
    let creates = show(&data, &["--action", "keys.create"]);
    assert_eq!(creates.len(), 2);
    // --target: the records about ann, whoever asked.
    let ann = show(&data, &["--target", "ANN@corp-four.test"]);
    assert_eq!(
        actions(&ann),
        ["first breachedaccount.get", "second breachedaccount.get"]
    );
    // --since / --until, RFC 3339, against the records' own times.
    let last_time = all.last().unwrap()["time"].as_str().unwrap().to_owned();
    let since = show(&data, &["--since", &last_time]);
    assert_eq!(actions(&since), ["second breachedaccount.get"]);
    let until = show(&data, &["--until", &last_time]);
    assert_eq!(until.len(), all.len() - 1);
    let none = show(&data, &["--since", "2000-01-01", "--until", "2000-01-02"]);
    assert!(none.is_empty());
    let bad = try_leakwatch(
        &["audit-log", "show", "--data", d, "--since", "yesterday"],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));

    // export: every record as a JSON line, the same as show --json.
    let out = leakwatch(&["audit-log", "export", "--data", d], None);
    let exported: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported, all);
    // The table names each record too.
    let table = leakwatch(&["audit-log", "show", "--data", d], None);
    let table = String::from_utf8(table.stdout).unwrap();
    assert_eq!(table.lines().count(), all.len() + 1, "{table}");
}

fn files_rotate_by_size_and_closed_files_are_never_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let data = several_files(tmp.path());
    let files = trail_files(&data);
    assert!(files.len() >= 3, "{files:?}");
    let closed: BTreeMap<PathBuf, Vec<u8>> = files[..files.len() - 1]
        .iter()
        .map(|f| (f.clone(), std::fs::read(f).unwrap()))
        .collect();
    for (file, bytes) in &closed {
        assert!(
            bytes.len() <= 4096 + 512,
            "{} is {} bytes",
            file.display(),
            bytes.len()
        );
        let last = frames(bytes).last().copied().unwrap();
        assert_eq!(last.2, KIND_CHECKPOINT, "{} ends unsealed", file.display());
    }
    // More records: closed files stay as they were, new files follow.
    let d = data.to_str().unwrap();
    for i in 0..40 {
        leakwatch(
            &[
                "keys",
                "create",
                "--data",
                d,
                "--name",
                &format!("k{i}"),
                "--scope",
                "account",
                "--audit-file-size",
                "4096",
            ],
            None,
        );
    }
    for (file, bytes) in &closed {
        assert_eq!(
            &std::fs::read(file).unwrap(),
            bytes,
            "{} changed",
            file.display()
        );
    }
    assert!(trail_files(&data).len() > files.len());
    let (ok, out, err) = verify(&data);
    assert!(ok && !out.contains("unsealed"), "{out}{err}");
    assert_eq!(show(&data, &["--action", "keys.create"]).len(), 41);
}

fn audited_commands_and_serve_refuse_to_run_without_a_private_audit_key_outside_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    load_breach(tmp.path(), &data, "Oldbank", &["ann@corp-five.test"]);
    let before = file_listing(&data);
    let run = |args: &[&str], key_file: Option<&Path>| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(args).env_remove("LEAKWATCH_AUDIT_KEY_FILE");
        if let Some(f) = key_file {
            cmd.env("LEAKWATCH_AUDIT_KEY_FILE", f);
        }
        cmd.output().unwrap()
    };
    let create = [
        "keys", "create", "--data", d, "--name", "x", "--scope", "account",
    ];
    for args in [
        &create[..],
        &["check", "account", "ann@corp-five.test", "--data", d],
        &[
            "serve",
            "--data",
            d,
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    ] {
        let out = run(args, None);
        assert!(!out.status.success(), "{args:?} ran without the audit key");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--audit-key-file") && err.trim().lines().count() == 1,
            "{err}"
        );
    }
    assert_eq!(
        file_listing(&data),
        before,
        "a refused command changed the data"
    );
    // A command that reads nothing private runs without it.
    assert!(run(&["breach", "list", "--data", d], None).status.success());
    // A key file others may read, or one inside the data directory, is refused.
    let open = tmp.path().join("open.key");
    std::fs::write(&open, format!("{AUDIT_KEY}\n")).unwrap();
    let out = run(&create, Some(&open));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    let inside = data.join("audit.key");
    leakwatch(
        &["audit-key", "generate", "--out", inside.to_str().unwrap()],
        None,
    );
    let out = run(&create, Some(&inside));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside the data directory"));
    // generate never replaces a key, and a log sealed under one key refuses another.
    let other = tmp.path().join("other.key");
    leakwatch(
        &["audit-key", "generate", "--out", other.to_str().unwrap()],
        None,
    );
    assert!(
        !try_leakwatch(
            &["audit-key", "generate", "--out", other.to_str().unwrap()],
            None
        )
        .status
        .success()
    );
    let out = run(&create, Some(&other));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another audit key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn the_benchmarks_unaudited_server_still_needs_the_key_and_is_recorded_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let key = crate::keys::create_scoped_key(d, "bench", "100000", "account");
    load_breach(tmp.path(), &data, "Oldbank", &["ann@corp-seven.test"]);
    let unaudited = [("LEAKWATCH_INSECURE_UNAUDITED_SERVE", "1")];
    // Without the audit key it does not start either.
    let refused = serve_command(&data)
        .env_remove("LEAKWATCH_AUDIT_KEY_FILE")
        .envs(unaudited)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let server = Server::start_with(&data, &[], &unaudited);
    let path = "/api/v3/breachedaccount/ann@corp-seven.test";
    assert_eq!(keyed(&server.addr, "GET", path, &key, "").0, 200);
    assert!(server.log.lock().unwrap().contains("NOT recorded"));
    server.stop();
    let (uid, user) = operator();
    let started = show(&data, &["--action", "serve.unaudited"]);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["principal"]["id"], uid);
    assert_eq!(started[0]["principal"]["name"], user.as_str());
    assert!(show(&data, &["--action", "breachedaccount.get"]).is_empty());
}
