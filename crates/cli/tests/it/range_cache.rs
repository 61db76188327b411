//! The range cache: every answer it sends equals a fresh rendering in every encoding, a
//! publish retires the old generation's answers, and padding leaves a full range as it is.

use std::io::Read;

use leakwatch_gen::{GenFormat, RangeShape};

use crate::harness::Test;
use crate::support::*;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(async every_cached_answer_equals_a_fresh_rendering_in_every_encoding),
        test!(async after_a_publish_no_answer_of_the_old_generation_is_served),
        test!(async a_padded_answer_of_a_range_of_a_thousand_lines_is_the_plain_answer),
        test!(async a_client_taking_gzip_or_br_gets_range_text_in_gzip),
    ]
}

/// A store of `prefixes` ranges of about `lines` lines each, and its reference model.
pub(crate) fn shaped_store(
    prefixes: u32,
    lines: u32,
) -> (tempfile::TempDir, std::path::PathBuf, Model) {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    let shape = RangeShape {
        prefixes,
        lines_per_range: lines,
    };
    leakwatch_gen::write_shaped(&mut text, GenFormat::Sha1, shape, 17).unwrap();
    let file = write(&tmp.path().join("shaped.txt"), &text);
    let data = tmp.path().join("data");
    ingest_quiet(data.to_str().unwrap(), file.to_str().unwrap());
    (tmp, data, model_of_hash_lines(&text, 40))
}

pub(crate) const CODINGS: [Option<&str>; 3] = [None, Some("gzip"), Some("br")];

/// `body` decoded from the `Content-Encoding` it was `sent` in.
pub(crate) fn decoded(sent: Option<&str>, body: &[u8]) -> String {
    let mut text = String::new();
    match sent {
        None => text = String::from_utf8(body.to_vec()).unwrap(),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_string(&mut text)
                .unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_string(&mut text)
                .unwrap();
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    text
}

/// A range answer as lines, decoded from the encoding its `Content-Encoding` names, which
/// must be the one asked for (answers this size are always compressed).
pub(crate) async fn range_lines(
    state: &std::sync::Arc<leakwatch_api::AppState>,
    prefix: &str,
    coding: Option<&str>,
    extra: &[(&str, &str)],
) -> (Vec<String>, String) {
    let mut headers = extra.to_vec();
    if let Some(c) = coding {
        headers.push(("Accept-Encoding", c));
    }
    let (status, h, body) = get(state, &format!("/range/{prefix}"), &headers).await;
    assert_eq!(status, 200, "{prefix}");
    let sent = h.get("content-encoding").map(|v| v.to_str().unwrap());
    let text = decoded(sent, &body);
    if text.len() >= 512 {
        assert_eq!(sent, coding, "{prefix}: sent in the coding asked for");
    }
    let lines = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    (lines.collect(), h["etag"].to_str().unwrap().to_owned())
}

async fn every_cached_answer_equals_a_fresh_rendering_in_every_encoding() {
    let (_tmp, data, model) = shaped_store(512, 60);
    // Room for about 60 of the 1,536 answers: entries are evicted and rendered again.
    let cached = app_state_caching(&data, 192 << 10);
    let fresh = app_state_caching(&data, 0);
    let mut prefixes: Vec<String> = model.keys().map(|k| k[..5].to_owned()).collect();
    prefixes.dedup();
    assert_eq!(prefixes.len(), 512);
    prefixes.extend(["00001", "7FFFF", "FFFFF"].map(String::from)); // empty ranges too
    for round in 0..2 {
        for prefix in &prefixes {
            for coding in CODINGS {
                let (got, etag) = range_lines(&cached, prefix, coding, &[]).await;
                assert_eq!(
                    got,
                    model_range(&model, prefix),
                    "{prefix} {coding:?} round {round}"
                );
                let (again, fresh_etag) = range_lines(&fresh, prefix, coding, &[]).await;
                assert_eq!(got, again);
                assert_eq!(
                    etag, fresh_etag,
                    "{prefix}: one ETag whatever the coding or cache"
                );
            }
        }
    }
    // A popular prefix asked for again is a hit.
    for _ in 0..3 {
        range_lines(&cached, &prefixes[0], Some("gzip"), &[]).await;
    }
    let metrics = get_metrics(&cached).await;
    let value = |name: &str| -> u64 {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("leakwatch_range_cache_hits_total") >= 3, "{metrics}");
    assert!(
        value("leakwatch_range_cache_misses_total") >= 1536,
        "{metrics}"
    );
    assert!(value("leakwatch_range_cache_bytes") <= 192 << 10);
    assert_eq!(value("leakwatch_range_cache_budget_bytes"), 192 << 10);
    let uncached = get_metrics(&fresh).await;
    assert!(
        uncached.contains("leakwatch_range_cache_hits_total 0"),
        "{uncached}"
    );
}

async fn after_a_publish_no_answer_of_the_old_generation_is_served() {
    let (_tmp, data, mut model) = shaped_store(16, 200);
    let state = app_state_caching(&data, 64 << 20);
    let changed = model.keys().next().unwrap()[..5].to_owned();
    let unchanged = model.keys().last().unwrap()[..5].to_owned();
    let mut before = Vec::new();
    for coding in CODINGS {
        for _ in 0..2 {
            before.push(range_lines(&state, &changed, coding, &[]).await);
            range_lines(&state, &unchanged, coding, &[]).await;
        }
    }
    // A new hash in one range and a higher count for one already there.
    let added = format!("{changed}00000000000000000000000000000000077");
    let bumped = model.keys().next().unwrap().clone();
    let tmp = tempfile::tempdir().unwrap();
    let extra = write(
        &tmp.path().join("x.txt"),
        format!("{added}:5\n{bumped}:1000\n").as_bytes(),
    );
    ingest_quiet(data.to_str().unwrap(), extra.to_str().unwrap());
    *model.entry(added).or_default() += 5;
    *model.get_mut(&bumped).unwrap() += 1000;
    assert!(state.store.reload_if_changed().unwrap());
    for coding in CODINGS {
        let (got, etag) = range_lines(&state, &changed, coding, &[]).await;
        assert_eq!(got, model_range(&model, &changed), "{coding:?}");
        assert!(before.iter().all(|(_, old)| *old != etag), "a new ETag");
        let (same, _) = range_lines(&state, &unchanged, coding, &[]).await;
        assert_eq!(same, model_range(&model, &unchanged));
    }
}

async fn a_padded_answer_of_a_range_of_a_thousand_lines_is_the_plain_answer() {
    let (_tmp, data, model) = shaped_store(4, 1100);
    let state = app_state(&data);
    for prefix in model
        .keys()
        .map(|k| k[..5].to_owned())
        .collect::<std::collections::BTreeSet<_>>()
    {
        assert!(model_range(&model, &prefix).len() >= 1000);
        for coding in CODINGS {
            let plain = range_lines(&state, &prefix, coding, &[]).await;
            let padded = range_lines(&state, &prefix, coding, &[("Add-Padding", "true")]).await;
            assert_eq!(
                padded, plain,
                "{prefix} {coding:?}: nothing to pad, so nothing added"
            );
        }
    }
}

/// A browser sends `gzip, deflate, br`: range text goes in gzip, which every client decodes
/// (brotli costs as much and is as small); a client that says it prefers br still gets br.
async fn a_client_taking_gzip_or_br_gets_range_text_in_gzip() {
    let (_tmp, data, model) = shaped_store(2, 200);
    let state = app_state(&data);
    let prefix = model.keys().next().unwrap()[..5].to_owned();
    for (accept, want) in [
        ("gzip, deflate, br", "gzip"),
        ("br, gzip", "gzip"),
        ("br, gzip;q=0.5", "br"),
        ("br", "br"),
    ] {
        let (status, h, _) = get(
            &state,
            &format!("/range/{prefix}"),
            &[("Accept-Encoding", accept)],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(h["content-encoding"], want, "{accept}");
    }
    let (lines, _) = range_lines(&state, &prefix, Some("gzip"), &[]).await;
    assert_eq!(lines, model_range(&model, &prefix));
}
