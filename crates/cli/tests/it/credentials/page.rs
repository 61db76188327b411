//! The web page's side of the credential check: the "Check a login" form and its module in
//! Chromium against the Rust client, over every answer (a split bucket among them), and the
//! page's keyless route's per-address limit.

use std::{path::Path, sync::Arc};

use leakwatch_client::{Client, Match};
use leakwatch_credentials::{BUCKET_BITS, bucket_of, normalize_login};

use super::{built, built_with, migp_variants, random_pairs};
use crate::support::*;

/// Crowds the 20-bit bucket of `login` with 150,000 random entries (a bucket of a
/// 16-billion-credential store), in a credential segment under the store's key, so that it is
/// split into 22 bits: a check of it takes both clients through the split.
fn crowd_the_bucket_of(data: &Path, login: &str) {
    use leakwatch_store::{Commit, Key, MmapDirectory, Namespace, Snapshot, StoreWriter};
    let dir = Arc::new(MmapDirectory::open(data.join("store")).unwrap());
    let fingerprint = Snapshot::open(dir.as_ref())
        .unwrap()
        .credential_key()
        .unwrap()
        .to_owned();
    let bucket = u128::from(bucket_of(&normalize_login(login).unwrap(), BUCKET_BITS));
    let mut state = 0x00C0_FFEE_u64;
    let mut keys: Vec<u128> = (0..150_000)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let prefix = bucket << 12 | u128::from(state >> 52);
            prefix << 96 | u128::from(state) << 32 | u128::from(state >> 40)
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut w = StoreWriter::open(dir).unwrap();
    let (name, mut seg) = w
        .create_segment(Namespace::Credential, keys.len() as u64)
        .unwrap();
    for k in keys {
        seg.push(Key::from_digest(&k.to_be_bytes()).unwrap(), 1)
            .unwrap();
    }
    let mut meta = StoreWriter::segment_meta(name, Namespace::Credential, seg.finish().unwrap());
    meta.oprf_key = Some(fingerprint);
    w.commit(Commit {
        added: vec![meta],
        ..Commit::default()
    })
    .unwrap();
}

pub(super) fn the_browser_client_and_the_rust_client_agree_on_every_answer() {
    let b = built_with(60, 150);
    // The first pair's login is in a split bucket: both clients ask twice.
    crowd_the_bucket_of(&b.data, &b.pairs[0].0);
    let server = Server::start_with(
        &b.data,
        &[
            "--oprf-key-file",
            b.key_file.to_str().unwrap(),
            "--credential-page-checks",
            "100000",
        ],
        &[],
    );
    let client = Client::new(&format!("http://{}", server.addr), &b.api_key);
    // Every leaked pair, variants of every third, 1,000 random pairs: what each should be.
    let mut cases: Vec<(String, String, &str)> = b
        .pairs
        .iter()
        .map(|(l, p)| (l.clone(), p.clone(), "exact"))
        .collect();
    for (login, password) in b.pairs.iter().step_by(3) {
        for variant in migp_variants(password) {
            let expected = if b.was_leaked(login, &variant) {
                "exact"
            } else {
                "similar"
            };
            cases.push((login.clone(), variant, expected));
        }
    }
    cases.extend(
        random_pairs(&b, 1000)
            .into_iter()
            .map(|(l, p)| (l, p, "not found")),
    );
    let word = |m: Option<Match>| match m {
        Some(Match::Exact) => "exact",
        Some(Match::Similar) => "similar",
        _ => "not found",
    };
    let rust: Vec<&str> = cases
        .iter()
        .map(|(l, p, _)| word(client.check(l, p).unwrap()))
        .collect();
    let form: Vec<serde_json::Value> = [0, 1, cases.len() - 1]
        .iter()
        .chain(&[b.pairs.len()])
        .map(|&i| {
            let (l, p, r) = &cases[i];
            serde_json::json!({"login": l, "password": p, "result": r})
        })
        .collect();
    let pairs: Vec<[&str; 2]> = cases
        .iter()
        .map(|(l, p, _)| [l.as_str(), p.as_str()])
        .collect();
    let (report, _) = browser_script(
        "check-login.mjs",
        &format!("http://{}", server.addr),
        "check-login",
        b.tmp.path(),
        &serde_json::json!({ "form": form, "pairs": pairs }),
    );
    let browser: Vec<&str> = report["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(browser.len(), cases.len());
    for (i, (login, password, expected)) in cases.iter().enumerate() {
        assert_eq!(rust[i], *expected, "rust: {login} {password}");
        assert_eq!(browser[i], *expected, "browser: {login} {password}");
    }
    // What the page sent: buckets and blinded elements, no login or password, nowhere else.
    assert_eq!(report["otherOrigins"], serde_json::json!([]));
    let bodies = report["bodies"].as_array().unwrap();
    assert!(bodies.len() >= cases.len(), "{}", bodies.len());
    let mut split = 0;
    for body in bodies {
        let body = body.as_str().unwrap();
        let sent: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(sent.as_object().unwrap().len(), 3, "{body}");
        match sent["bucketBits"].as_u64() {
            Some(20) => {}
            Some(22) => split += 1,
            other => panic!("{other:?}: {body}"),
        }
    }
    // The split bucket's login: once by the form, once in bulk, and each variant of it.
    assert!(split >= 2, "{split}");
    let all = bodies
        .iter()
        .map(|b| b.as_str().unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join("\n");
    for (login, password, _) in cases.iter().step_by(11) {
        let normal = normalize_login(login).unwrap();
        assert!(!all.contains(&normal), "{normal} was sent");
        assert!(
            !all.contains(&password.to_lowercase()),
            "{password} was sent"
        );
    }
}

/// The web page's check needs no key but allows `--credential-page-checks` an hour from one
/// client address (429 with Retry-After after), 0 switches it off (503); a bad body gets 400
/// with a reason, a keyed check without its key 401.
pub(super) fn the_pages_check_is_limited_per_client_address_and_bad_requests_get_their_status() {
    let b = built(5);
    let normal = normalize_login(&b.pairs[0].0).unwrap();
    let blinded = leakwatch_credentials::Blinded::new(
        &leakwatch_credentials::oprf_input(&normal, &b.pairs[0].1).unwrap(),
    )
    .unwrap();
    use base64::Engine;
    let body = serde_json::json!({
        "bucket": bucket_of(&normal, BUCKET_BITS),
        "bucketBits": 20,
        "blinded": base64::engine::general_purpose::STANDARD.encode(blinded.message()),
    })
    .to_string();
    let post = |server: &Server, path: &str, body: &str, key: Option<&str>| {
        let mut headers = vec![("Content-Type", "application/json"), ("User-Agent", "test")];
        if let Some(k) = key {
            headers.push(("hibp-api-key", k));
        }
        parse_response(&http_raw(
            &server.addr,
            "POST",
            path,
            &headers,
            body.as_bytes(),
        ))
    };
    let page = "/api/v1/credentials/page-check";
    let key_file = b.key_file.to_str().unwrap();
    let server = Server::start_with(
        &b.data,
        &["--oprf-key-file", key_file, "--credential-page-checks", "3"],
        &[],
    );
    for _ in 0..3 {
        let (status, _, answer) = post(&server, page, &body, None);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["bucketBits"], 20);
        assert!(answer["entries"].as_u64().unwrap() >= 1);
    }
    let (status, headers, _) = post(&server, page, &body, None);
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    // The keyed route is limited by its key, not by the page's allowance; without a key, 401.
    let (status, _, _) = post(
        &server,
        "/api/v1/credentials/check",
        &body,
        Some(&b.api_key),
    );
    assert_eq!(status, 200);
    let (status, _, _) = post(&server, "/api/v1/credentials/check", &body, None);
    assert_eq!(status, 401);
    for (bad, reason) in [
        ("{}", "Send JSON"),
        (
            r#"{"bucket": 1, "bucketBits": 19, "blinded": "AAAA"}"#,
            "bucketBits",
        ),
        (
            r#"{"bucket": 1, "bucketBits": 20, "blinded": "not base64!"}"#,
            "base64",
        ),
    ] {
        let (status, _, text) = post(&server, "/api/v1/credentials/check", bad, Some(&b.api_key));
        assert_eq!(status, 400, "{bad}");
        assert!(
            String::from_utf8_lossy(&text).contains(reason),
            "{bad}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    drop(server);
    let off = Server::start_with(
        &b.data,
        &["--oprf-key-file", key_file, "--credential-page-checks", "0"],
        &[],
    );
    assert_eq!(post(&off, page, &body, None).0, 503);
    drop(off);
    // A server without the OPRF key answers checks 503.
    let keyless = Server::start(&b.data);
    assert_eq!(
        post(
            &keyless,
            "/api/v1/credentials/check",
            &body,
            Some(&b.api_key)
        )
        .0,
        503
    );
}
