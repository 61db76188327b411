//! Damaged files, end to end: one byte flipped in any file of a data directory (segments of
//! every namespace, postings, the sealed alias file, the manifest, the catalogue), at its
//! start, across its body and throughout its footer. `leakwatch verify` must fail naming the
//! file and a byte offset, and the server's state must either refuse to open or answer every
//! query exactly as before: never a wrong answer.

use std::{path::Path, sync::Arc};

use axum::{body::Body, http::Request};
use leakwatch_api::{AppState, ServerLimits, app};
use leakwatch_service::{CatalogHandle, StoreHandle};
use leakwatch_store::{Directory, Key, MmapDirectory, Namespace, Snapshot};
use tower::ServiceExt;

use crate::support::*;

use crate::harness::Test;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![test!(
        a_flipped_byte_in_any_file_is_named_by_verify_and_never_answered
    )]
}

/// What the data directory answers: range bodies (SHA-1 and NTLM), the breach list, and the
/// breach sets of some accounts, or why it could not answer.
#[derive(Debug, PartialEq)]
struct Answers {
    ranges: Vec<(u16, Vec<u8>)>,
    breaches: (u16, Vec<u8>),
    accounts: Vec<Result<Vec<u32>, String>>,
}

fn answers(data: &Path, prefixes: &[String], accounts: &[Key]) -> Result<Answers, String> {
    let dir: Arc<dyn Directory> =
        Arc::new(MmapDirectory::open(data.join("store")).map_err(|e| e.to_string())?);
    let catalog = leakwatch_catalog::Catalog::open(&data.join("catalog.db"))
        .and_then(CatalogHandle::new)
        .map_err(|e| e.to_string())?;
    let store = StoreHandle::open(dir.clone()).map_err(|e| e.to_string())?;
    let state = Arc::new(AppState::new(store, catalog, ServerLimits::default()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let get = |uri: &str| {
        runtime.block_on(async {
            let response = app(state.clone())
                .oneshot(
                    Request::get(uri)
                        .header("User-Agent", "corruption-test")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, body.to_vec())
        })
    };
    let mut ranges = Vec::new();
    for p in prefixes {
        ranges.push(get(&format!("/range/{p}")));
        ranges.push(get(&format!("/range/{p}?mode=ntlm")));
    }
    let snap = Snapshot::open(dir.as_ref()).map_err(|e| e.to_string())?;
    Ok(Answers {
        ranges,
        breaches: get("/api/v3/breaches"),
        accounts: accounts
            .iter()
            .map(|&k| snap.account_breaches(k).map_err(|e| e.to_string()))
            .collect(),
    })
}

/// Answers `now` may give for a query that was answered `before`: the same, or an error
/// (5xx, or a refused read) — never a different success.
fn never_wrong(before: &Answers, now: &Answers, what: &str) {
    for ((s0, b0), (s1, b1)) in before.ranges.iter().zip(&now.ranges) {
        assert!(
            *s1 >= 500 || (s1 == s0 && b1 == b0),
            "{what}: a range answered {s1} with different content"
        );
    }
    let (s0, b0) = &before.breaches;
    let (s1, b1) = &now.breaches;
    assert!(
        *s1 >= 500 || (s1 == s0 && b1 == b0),
        "{what}: breaches answered {s1}"
    );
    for (a0, a1) in before.accounts.iter().zip(&now.accounts) {
        assert!(
            a1.is_err() || a1 == a0,
            "{what}: an account's breaches changed"
        );
    }
}

/// Offsets to damage in a file of `len` bytes: its first bytes (magic, header), 16 spread over
/// its body, and every one of its last 48 (footers: lengths, offsets, versions, checksums).
fn offsets(len: usize) -> Vec<usize> {
    let mut at: Vec<usize> = (0..8.min(len)).collect();
    at.extend((1..=16).map(|i| i * len / 17));
    at.extend(len.saturating_sub(48)..len);
    at.sort_unstable();
    at.dedup();
    at
}

fn a_flipped_byte_in_any_file_is_named_by_verify_and_never_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    add_breach(&base, "Flipped", &[]);
    let dump = gen_dump(Dump::Csv, 3_000, 5, "0");
    let file = write(&tmp.path().join("dump.csv"), &dump);
    let args = ["ingest", "-q", "--breach", "Flipped", "--data"];
    let out = std::process::Command::new(bin())
        .args(args)
        .arg(&base)
        .arg(&file)
        .env("LEAKWATCH_OPERATOR_KEY", OPERATOR_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    leakwatch(&["verify", "--data", base.to_str().unwrap()], None);

    let sha1 = store_model(&base, Namespace::Sha1);
    let prefixes: Vec<String> = sha1
        .keys()
        .step_by(sha1.len() / 6)
        .map(|k| k[..5].to_owned())
        .collect();
    let accounts: Vec<Key> = store_model(&base, Namespace::Account)
        .keys()
        .step_by(500)
        .map(|hex| Key::from_hex(hex.as_bytes()).unwrap())
        .collect();
    let before = answers(&base, &prefixes, &accounts).unwrap();
    assert!(before.ranges.iter().all(|(s, _)| *s == 200) && before.breaches.0 == 200);
    assert!(
        before
            .accounts
            .iter()
            .all(|a| a.as_ref().is_ok_and(|b| !b.is_empty()))
    );

    let mut files: Vec<String> = std::fs::read_dir(base.join("store"))
        .unwrap()
        .map(|e| format!("store/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| !n.ends_with("LOCK"))
        .collect();
    files.push("catalog.db".into());
    files.sort();
    for suffix in [
        "sha1.seg",
        "ntlm.seg",
        "account.seg",
        "account.post",
        "aliases.alias",
        "manifest",
        "catalog.db",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(suffix)),
            "no {suffix} in {files:?}"
        );
    }

    let work = tmp.path().join("work");
    let (mut refused, mut answered) = (0, 0);
    for name in &files {
        let good = std::fs::read(base.join(name)).unwrap();
        let short = name.rsplit('/').next().unwrap();
        for (k, at) in offsets(good.len()).into_iter().enumerate() {
            let _ = std::fs::remove_dir_all(&work);
            crate::crash::copy_dir(&base, &work);
            let mut bad = good.clone();
            bad[at] ^= 1 << (k % 8);
            std::fs::write(work.join(name), &bad).unwrap();
            let what = format!("{name} byte {at}");

            let out = try_leakwatch(&["verify", "--data", work.to_str().unwrap()], None);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{what}: verify passed");
            assert!(
                stderr.contains(short)
                    && (stderr.contains("at byte") || stderr.contains("damaged at its version")),
                "{what}: verify did not say where: {stderr}"
            );
            match answers(&work, &prefixes, &accounts) {
                Err(_) => refused += 1,
                Ok(now) => {
                    never_wrong(&before, &now, &what);
                    answered += 1;
                }
            }
        }
    }
    eprintln!(
        "{refused} damaged copies refused to open, {answered} opened and never answered wrongly"
    );
}
