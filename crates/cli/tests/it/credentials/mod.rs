//! The private credential check (issue #24): buckets built by `leakwatch credentials build`
//! from a dump and a generated stealer-log tree, checked through a running server by the
//! Rust client (`leakwatch-client`) and the CLI: every leaked pair exact, variants of its
//! password similar (derived here from MIGP's rules, not from the implementation), random
//! pairs not found; the request bytes, the server's log, the audit trail and the data
//! directory hold neither a login nor a password; a key rotation is followed by a running
//! server. And the JavaScript client against the shared vectors.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use leakwatch_client::{Client, Match};
use leakwatch_credentials::{BUCKET_BITS, bucket_of, normalize_login};

use crate::{
    harness::{Need, Test},
    support::*,
};

mod page;

use page::{
    the_browser_client_and_the_rust_client_agree_on_every_answer,
    the_pages_check_is_limited_per_client_address_and_bad_requests_get_their_status,
};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(the_javascript_credential_client_agrees_with_the_shared_vectors)
            .needs(&[Need::NodePackages]),
        test!(every_leaked_pair_is_exact_its_variants_similar_and_random_pairs_not_found),
        test!(
            a_check_sends_neither_login_nor_password_and_the_server_keeps_only_the_buckets_digest
        ),
        test!(credentials_check_prints_the_answer_and_exits_as_grep_does),
        test!(a_rotated_key_rebuilds_every_bucket_and_the_running_server_follows_it),
        test!(a_dump_read_from_standard_input_is_built_and_then_known_by_its_fingerprint),
        test!(the_pages_check_is_limited_per_client_address_and_bad_requests_get_their_status),
        test!(the_browser_client_and_the_rust_client_agree_on_every_answer)
            .needs(&[Need::NodePackages, Need::Chromium]),
    ]
}

fn the_javascript_credential_client_agrees_with_the_shared_vectors() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js/credentials.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every login case, every fold, both RFC vectors and seven checks per entry ran.
    let passed: usize = stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed > 1_600, "{stdout}");
}

/// Passwords of the dump: a few shapes people use, fictional.
const SHAPES: &[&str] = &[
    "Summer2024",
    "hunter",
    "Passw0rd!",
    "qwerty",
    "Tr0ub4dor&",
    "letmein",
];

/// A built store and what it was built from.
struct Built {
    tmp: tempfile::TempDir,
    data: PathBuf,
    key_file: PathBuf,
    dump: PathBuf,
    logs: PathBuf,
    api_key: String,
    /// Every leaked pair as clients type it: (login as written, password).
    pairs: Vec<(String, String)>,
    /// Normalised login → its leaked passwords.
    leaked: BTreeMap<String, BTreeSet<String>>,
}

impl Built {
    fn was_leaked(&self, login: &str, password: &str) -> bool {
        normalize_login(login)
            .ok()
            .and_then(|l| self.leaked.get(&l))
            .is_some_and(|p| p.contains(password))
    }

    fn build_args<'a>(&'a self, command: &'a str) -> Vec<&'a str> {
        vec![
            "credentials",
            command,
            "-q",
            "--data",
            self.data.to_str().unwrap(),
            "--oprf-key-file",
            self.key_file.to_str().unwrap(),
            "--stealer",
            self.logs.to_str().unwrap(),
            self.dump.to_str().unwrap(),
        ]
    }

    fn serve(&self) -> Server {
        Server::start_with(
            &self.data,
            &["--oprf-key-file", self.key_file.to_str().unwrap()],
            &[],
        )
    }
}

/// A CSV dump of `accounts` fictional accounts (an e-mail address and a username each, so
/// two pairs a line) and a generated stealer-log tree, built into buckets under a new key.
fn built(accounts: usize) -> Built {
    built_with(accounts, 300)
}

/// [`built`] with a stealer-log tree of about `units` units.
fn built_with(accounts: usize, units: u64) -> Built {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut csv = String::from("email,username,password\n");
    let mut pairs = Vec::new();
    for i in 0..accounts {
        let shape = SHAPES[i % SHAPES.len()];
        let password = if i % 3 == 0 {
            shape.to_owned()
        } else {
            format!("{shape}{}", i % 97)
        };
        let mut email = format!("member{i}.doe@corp{}.example", i % 7);
        if i % 10 == 0 {
            email = email.to_uppercase(); // as typed
        }
        let username = format!("Member_{i}");
        csv.push_str(&format!("{email},{username},{password}\n"));
        pairs.push((email, password.clone()));
        pairs.push((username, password));
    }
    let dump = write(&tmp.path().join("shop.csv"), csv.as_bytes());
    let logs = tmp.path().join("logs");
    let truth = leakwatch_gen::write_stealer_tree(&logs, units, 5, 31).unwrap();
    pairs.extend(
        truth
            .captures
            .iter()
            .filter(|c| !c.password.is_empty() && normalize_login(&c.login).is_ok())
            .map(|c| (c.login.clone(), c.password.clone())),
    );
    let mut leaked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (login, password) in &pairs {
        leaked
            .entry(normalize_login(login).unwrap())
            .or_default()
            .insert(password.clone());
    }
    let mut b = Built {
        key_file: tmp.path().join("oprf.key"),
        tmp,
        data,
        dump,
        logs,
        api_key: String::new(),
        pairs,
        leaked,
    };
    let out = leakwatch(&b.build_args("build"), None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("a new OPRF key"), "{said}");
    assert!(
        said.contains(&format!("{} (login, password) pairs", b.pairs.len())),
        "{said}"
    );
    b.api_key = crate::keys::create_scoped_key(
        b.data.to_str().unwrap(),
        "login server",
        "1000000",
        "credentials",
    );
    b
}

/// Variants of `password` by MIGP's published rules, as this test reads them: a symbol or a
/// digit appended, the first letter's case switched, the last character removed.
fn migp_variants(password: &str) -> Vec<String> {
    let mut out = vec![format!("{password}!"), format!("{password}1")];
    let mut chars = password.chars();
    if let Some(first) = chars.next().filter(char::is_ascii_alphabetic) {
        let switched = if first.is_ascii_uppercase() {
            first.to_ascii_lowercase()
        } else {
            first.to_ascii_uppercase()
        };
        out.push(std::iter::once(switched).chain(chars).collect());
    }
    if password.chars().count() > 1 {
        let mut shorter = password.to_owned();
        shorter.pop();
        out.push(shorter);
    }
    out
}

fn every_leaked_pair_is_exact_its_variants_similar_and_random_pairs_not_found() {
    let b = built(400);
    let server = b.serve();
    let client = Client::new(&format!("http://{}", server.addr), &b.api_key);
    assert!(b.pairs.len() > 1000, "{}", b.pairs.len());
    for (login, password) in &b.pairs {
        assert_eq!(
            client.check(login, password).unwrap(),
            Some(Match::Exact),
            "{login}"
        );
    }
    // Variants of every fifth pair: similar, unless the variant was itself leaked with the
    // login (then exact).
    let mut similar = 0;
    for (login, password) in b.pairs.iter().step_by(5) {
        for variant in migp_variants(password) {
            let expected = if b.was_leaked(login, &variant) {
                Match::Exact
            } else {
                similar += 1;
                Match::Similar
            };
            assert_eq!(
                client.check(login, &variant).unwrap(),
                Some(expected),
                "{login} {variant}"
            );
        }
    }
    assert!(similar > 500, "{similar}");
    // The summary's example, by hand.
    assert_eq!(
        client
            .check("member0.doe@corp0.example", "Summer2024!")
            .unwrap(),
        Some(Match::Similar)
    );
    for (login, password) in random_pairs(&b, 1000) {
        assert_eq!(client.check(&login, &password).unwrap(), None, "{login}");
    }
}

/// `n` pairs nobody leaked: half a fresh login with a random password, half a leaked login
/// with a random password.
fn random_pairs(b: &Built, n: usize) -> Vec<(String, String)> {
    let mut rng = 0x5eed_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    (0..n)
        .map(|i| {
            let password = format!("{:016x}", next());
            let login = if i % 2 == 0 {
                format!("stranger{}@elsewhere.example", next() % 1_000_000)
            } else {
                b.pairs[(next() % b.pairs.len() as u64) as usize].0.clone()
            };
            (login, password)
        })
        .collect()
}

/// A TCP relay in front of `server` that keeps every byte clients send through it.
fn capturing_relay(server: &str) -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let captured = Arc::new(Mutex::new(Vec::new()));
    let (kept, server) = (captured.clone(), server.to_owned());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let mut upstream = TcpStream::connect(&server).unwrap();
            let (mut down, mut up) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up, &mut down);
            });
            let kept = kept.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 << 10];
                while let Ok(n) = client.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    kept.lock().unwrap().extend_from_slice(&buf[..n]);
                    if upstream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = upstream.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, captured)
}

fn a_check_sends_neither_login_nor_password_and_the_server_keeps_only_the_buckets_digest() {
    let b = built(30);
    let server = b.serve();
    let (relay, captured) = capturing_relay(&server.addr);
    let client = Client::new(&format!("http://{relay}"), &b.api_key);
    let checked: Vec<&(String, String)> = b.pairs.iter().step_by(7).take(8).collect();
    for (login, password) in &checked {
        assert_eq!(client.check(login, password).unwrap(), Some(Match::Exact));
    }
    let sent = captured.lock().unwrap().clone();
    let sent_text = String::from_utf8_lossy(&sent).to_lowercase();
    assert!(
        sent_text.contains("post /api/v1/credentials/check"),
        "{sent_text}"
    );
    assert!(sent_text.contains("\"bucketbits\":20"), "{sent_text}");
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut needles = Vec::new();
    for (login, password) in &checked {
        let normal = normalize_login(login).unwrap();
        needles.extend([
            login.to_lowercase(),
            normal.clone(),
            password.to_lowercase(),
            b64(login).to_lowercase(),
            b64(&normal).to_lowercase(),
            b64(password).to_lowercase(),
        ]);
        // The local part alone, too (the domain is shared by many).
        if let Some((local, _)) = normal.split_once('@') {
            needles.push(local.to_owned());
        }
    }
    for needle in &needles {
        assert!(!sent_text.contains(needle.as_str()), "{needle:?} was sent");
    }
    // The server's log names routes, never values.
    let log = server.log.lock().unwrap().to_lowercase();
    for needle in &needles {
        assert!(
            !log.contains(needle.as_str()),
            "{needle:?} in the server's log"
        );
    }
    server.stop();

    // One audit record a check, its target the keyed digest of the bucket: `--target`
    // finds the record by the bucket (the log computes the digest), and nothing in the
    // trail, the store or the catalogue holds a login or a password.
    let d = b.data.to_str().unwrap();
    let show = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["audit-log", "show", "--data", d, "--json"];
        args.extend_from_slice(extra);
        String::from_utf8(leakwatch(&args, None).stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let records = show(&["--action", "credentials.check.post"]);
    assert_eq!(records.len(), checked.len(), "{records:?}");
    let (login, _) = checked[0];
    let bucket = bucket_of(&normalize_login(login).unwrap(), BUCKET_BITS);
    let target = format!("{bucket}/{BUCKET_BITS}");
    let found = show(&["--action", "credentials.check.post", "--target", &target]);
    assert!(!found.is_empty());
    assert!(found.iter().all(|r| r["status"] == 200));
    let digest = found[0]["target"].as_str().unwrap().to_owned();
    assert!(!digest.contains(&bucket.to_string()), "{digest}");
    let lowered: Vec<&str> = needles.iter().map(String::as_str).collect();
    assert_none_in_clear(&b.data, lowered.iter().copied());
    for (login, password) in &checked {
        assert_none_in_clear(&b.data, [login.as_str(), password.as_str()]);
    }
}

/// `leakwatch credentials check`: the API key from the environment or a file, the password
/// from standard input.
fn check_cli(server: &Server, key: &str, login: &str, password: &str, extra: &[&str]) -> Output {
    let mut child = std::process::Command::new(bin())
        .args(["credentials", "check", "--server"])
        .arg(format!("http://{}", server.addr))
        .arg(login)
        .arg("--password-stdin")
        .args(extra)
        .env("LEAKWATCH_API_KEY", key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

use std::process::Output;

fn credentials_check_prints_the_answer_and_exits_as_grep_does() {
    let b = built(20);
    let other =
        crate::keys::create_scoped_key(b.data.to_str().unwrap(), "reader", "1000", "account");
    let server = b.serve();
    let (login, password) = &b.pairs[0];
    let run = |login: &str, password: &str, extra: &[&str]| {
        let out = check_cli(&server, &b.api_key, login, password, extra);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(run(login, password, &[]).0, Some(0));
    assert_eq!(run(login, password, &[]).1, "exact");
    let (code, out, _) = run(login, &format!("{password}!"), &["--json"]);
    assert_eq!(code, Some(0));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["result"], "similar");
    assert_eq!(json["login"], login.as_str());
    assert_eq!(
        run(login, "not-this-one-at-all", &[]),
        (Some(1), "not found".into(), String::new())
    );
    // Errors: exit 2 with a reason (a key the server refuses, a server that is not there).
    let refused = check_cli(
        &server,
        "0123456789abcdef0123456789abcdef",
        login,
        password,
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    // A key without the `credentials` scope is refused too.
    let out = check_cli(&server, &other, login, password, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{:?}",
        out
    );
    // The key from a private file instead of the environment.
    let key_file = b.tmp.path().join("api.key");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_file)
            .unwrap();
        writeln!(f, "{}", b.api_key).unwrap();
    }
    let out = check_cli(
        &server,
        "wrong",
        login,
        password,
        &["--key-file", key_file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

fn a_rotated_key_rebuilds_every_bucket_and_the_running_server_follows_it() {
    let b = built(40);
    let old_key = std::fs::read_to_string(&b.key_file).unwrap();
    let server = b.serve();
    let client = Client::new(&format!("http://{}", server.addr), &b.api_key);
    let (login, password) = &b.pairs[3];
    assert_eq!(client.check(login, password).unwrap(), Some(Match::Exact));
    // Building the same sources again under the same key changes nothing.
    let again = leakwatch(&b.build_args("build"), None);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already built"));

    let out = leakwatch(&b.build_args("rotate-key"), None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("rotated to OPRF key"), "{said}");
    assert!(
        said.contains("1 older credential segments retired"),
        "{said}"
    );
    let new_key = std::fs::read_to_string(&b.key_file).unwrap();
    assert_ne!(new_key, old_key);
    assert!(!Path::new(&format!("{}.next", b.key_file.display())).exists());
    // The running server picks up the new generation and then the new key.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answers: Vec<_> = b
            .pairs
            .iter()
            .step_by(9)
            .map(|(l, p)| client.check(l, p).unwrap())
            .collect();
        if answers.iter().all(|a| *a == Some(Match::Exact)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answers:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(server);

    // A key file others may read stops the server at its start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&b.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = try_leakwatch(
        &[
            "serve",
            "--data",
            b.data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--oprf-key-file",
            b.key_file.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("readable by others"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression: the build read every source once for its fingerprint before evaluating, which
/// emptied standard input, so a dump piped in built nothing.
fn a_dump_read_from_standard_input_is_built_and_then_known_by_its_fingerprint() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, key_file) = (tmp.path().join("data"), tmp.path().join("oprf.key"));
    let dump = write(
        &tmp.path().join("combo.txt"),
        b"ann@shop.example:Summer2024\nbob@shop.example:hunter22\n",
    );
    let args = |source: &str| {
        vec![
            "credentials".to_owned(),
            "build".into(),
            "--data".into(),
            data.to_str().unwrap().into(),
            "--oprf-key-file".into(),
            key_file.to_str().unwrap().into(),
            source.into(),
        ]
    };
    let piped = args("-");
    let piped: Vec<&str> = piped.iter().map(String::as_str).collect();
    let out = leakwatch(&piped, Some(&std::fs::read(&dump).unwrap()));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("2 (login, password) pairs"), "{said}");
    let again = args(dump.to_str().unwrap());
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    let out = leakwatch(&again, None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("already built"), "{said}");
    // Stealer logs piped in (`--stealer -`) too.
    let logs = b"https://shop.example.net/login:carol:Winter2023\nhttps://mail.example.org/:dan@mail.example.org:correct horse\n";
    let mut piped = args("--quiet");
    piped.extend(["--stealer".to_owned(), "-".to_owned()]);
    let piped: Vec<&str> = piped.iter().map(String::as_str).collect();
    let out = leakwatch(&piped, Some(logs));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("2 (login, password) pairs"), "{said}");
}
