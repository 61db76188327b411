//! The answer tier (`serve --answer-dir`): answers sent from the files equal the reference in
//! every encoding and carry the same ETag as a rendering, a publish moves answers to the new
//! generation's files (the old ones are never served again, then deleted), a damaged file is
//! not trusted (its ranges are rendered from the store), and neither is another store's file
//! of the same generation number. Through `leakwatch serve`: files are written when a
//! generation is served, not when a request first asks; a failed build is retried after a
//! wait, not at every request; the directory cannot be inside the data directory; a coding
//! left out of the files (`--answer-codings`) is answered from the store, and a file written
//! with other codings is not adopted.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use leakwatch_api::{AnswerTier, AppState};
use leakwatch_store::Namespace;

use crate::harness::Test;
use crate::range_cache::{CODINGS, decoded, range_lines, shaped_store};
use crate::support::*;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(async every_answer_from_the_tier_equals_the_reference_in_every_encoding),
        test!(async after_a_publish_the_tier_answers_from_the_new_generation_only),
        test!(async a_damaged_answer_file_is_not_served_from),
        test!(async an_answer_file_of_another_store_at_the_same_generation_is_not_served),
        test!(the_answer_files_are_written_at_the_start_and_at_each_publish_not_at_a_request),
        test!(a_failed_answer_build_is_retried_later_and_leaves_nothing_behind),
        test!(an_answer_dir_inside_the_data_directory_is_refused),
        test!(a_coding_left_out_of_the_answer_files_is_answered_from_the_store),
    ]
}

/// Server state over `data` with an answer tier in `dir` (no range cache, so that an answer
/// not from the tier is a rendering) and the tier.
fn tiered(data: &Path, dir: &Path) -> (Arc<AppState>, Arc<AnswerTier>) {
    let tier = Arc::new(AnswerTier::open(dir).unwrap());
    let mut state = Arc::try_unwrap(app_state_caching(data, 0)).ok().unwrap();
    state.answer_tier = Some(tier.clone());
    (Arc::new(state), tier)
}

fn populated(model: &Model) -> Vec<String> {
    let mut prefixes: Vec<String> = model.keys().map(|k| k[..5].to_owned()).collect();
    prefixes.dedup();
    prefixes
}

async fn every_answer_from_the_tier_equals_the_reference_in_every_encoding() {
    // Ranges of ~60 lines (compressed in every coding) and of ~2 (too small to compress:
    // the tier holds them plain only).
    for (prefixes, lines) in [(256, 60), (64, 2)] {
        let (tmp, data, model) = shaped_store(prefixes, lines);
        let (state, tier) = tiered(&data, &tmp.path().join("answers"));
        let reference = app_state_caching(&data, 0);
        tier.build(&state.store.snapshot()).unwrap();
        let generation = state.store.snapshot().generation();
        assert_eq!(tier.serving(), vec![(Namespace::Sha1, generation)]);
        let mut asked = populated(&model);
        assert_eq!(asked.len(), prefixes as usize);
        asked.extend(["00001", "FFFFF"].map(String::from)); // empty: rendered, not in the file
        for prefix in &asked {
            for coding in CODINGS {
                let (got, etag) = range_lines(&state, prefix, coding, &[]).await;
                assert_eq!(got, model_range(&model, prefix), "{prefix} {coding:?}");
                let (_, rendered_etag) = range_lines(&reference, prefix, coding, &[]).await;
                assert_eq!(
                    etag, rendered_etag,
                    "{prefix} {coding:?}: the ETag of a rendering"
                );
            }
            // Padded answers take their real lines from the tier too.
            let (padded, _) = range_lines(&state, prefix, None, &[("Add-Padding", "true")]).await;
            let real: Vec<_> = padded
                .iter()
                .filter(|l| !l.ends_with(":0"))
                .cloned()
                .collect();
            assert_eq!(real, model_range(&model, prefix), "{prefix} padded");
            assert!(
                (800..=1000).contains(&padded.len()),
                "{prefix}: {}",
                padded.len()
            );
        }
        let (sent, failed, built) = tier.counters();
        assert_eq!((failed, built), (0, 1));
        // Every populated range in each coding, and padded, came from the file.
        assert_eq!(sent, prefixes as u64 * 4, "answers sent from the tier");
        let metrics = get_metrics(&state).await;
        assert!(
            metrics.contains(&format!(
                "leakwatch_answer_tier_generation{{namespace=\"sha1\"}} {generation}"
            )),
            "{metrics}"
        );
    }
}

/// Waits until the tier answers `ns` from `generation` (its background build is done).
fn wait_serving(tier: &AnswerTier, generation: u64) {
    let start = Instant::now();
    while !tier.serving().contains(&(Namespace::Sha1, generation)) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the answer tier never served generation {generation}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn after_a_publish_the_tier_answers_from_the_new_generation_only() {
    let (tmp, data, mut model) = shaped_store(16, 200);
    let dir = tmp.path().join("answers");
    let (state, tier) = tiered(&data, &dir);
    let changed = model.keys().next().unwrap()[..5].to_owned();
    // The first request starts the build in the background and is rendered meanwhile.
    let (first, old_etag) = range_lines(&state, &changed, None, &[]).await;
    assert_eq!(first, model_range(&model, &changed));
    let old = state.store.snapshot().generation();
    wait_serving(&tier, old);
    let (_, etag) = range_lines(&state, &changed, Some("gzip"), &[]).await;
    assert_eq!(etag, old_etag);

    let added = format!("{changed}00000000000000000000000000000000077");
    let extra = write(&tmp.path().join("x.txt"), format!("{added}:5\n").as_bytes());
    ingest_quiet(data.to_str().unwrap(), extra.to_str().unwrap());
    *model.entry(added).or_default() += 5;
    assert!(state.store.reload_if_changed().unwrap());
    let new = state.store.snapshot().generation();
    assert!(new > old);
    // Before and after the new generation's file is written, never the old answer.
    for coding in CODINGS {
        let (got, etag) = range_lines(&state, &changed, coding, &[]).await;
        assert_eq!(got, model_range(&model, &changed), "{coding:?}");
        assert_ne!(etag, old_etag);
    }
    wait_serving(&tier, new);
    let sent_before = tier.counters().0;
    for coding in CODINGS {
        let (got, _) = range_lines(&state, &changed, coding, &[]).await;
        assert_eq!(
            got,
            model_range(&model, &changed),
            "{coding:?} from the new file"
        );
    }
    assert_eq!(tier.counters().0, sent_before + 3);
    assert_eq!(tier.serving(), vec![(Namespace::Sha1, new)]);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![leakwatch_store::answer_file_name(Namespace::Sha1, new)]
    );
}

async fn a_damaged_answer_file_is_not_served_from() {
    use std::os::unix::fs::FileExt;
    let (tmp, data, model) = shaped_store(8, 300);
    let dir = tmp.path().join("answers");
    let (state, tier) = tiered(&data, &dir);
    let snap = state.store.snapshot();
    tier.build(&snap).unwrap();
    let path = dir.join(leakwatch_store::answer_file_name(
        Namespace::Sha1,
        snap.generation(),
    ));
    // A byte inside the first range's plain answer turns into another hex digit (bit rot on
    // disk, or someone editing the file): the mapped pages show it.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let prefix = populated(&model)[0].clone();
    file.write_all_at(b"Z", 10).unwrap();
    drop(file);
    let (got, _) = range_lines(&state, &prefix, None, &[]).await;
    assert_eq!(
        got,
        model_range(&model, &prefix),
        "rendered from the store instead"
    );
    let (_, failed, _) = tier.counters();
    assert_eq!(failed, 1);
    assert!(
        tier.serving().is_empty(),
        "the damaged file is no longer served from"
    );
    assert!(!path.exists(), "deleted, to be written anew");
    // The next request starts a new build; answers are right before and after it.
    for other in populated(&model) {
        let (got, _) = range_lines(&state, &other, Some("gzip"), &[]).await;
        assert_eq!(got, model_range(&model, &other));
    }
    wait_serving(&tier, snap.generation());
    for other in populated(&model) {
        let (got, _) = range_lines(&state, &other, Some("gzip"), &[]).await;
        assert_eq!(got, model_range(&model, &other));
    }
    assert_eq!(tier.counters(), (8, 1, 2), "(sent, failed, built)");
}

/// Two stores both at generation 1, one answer directory: the second server must not take
/// the first one's file for its own (the file names only namespace and generation).
async fn an_answer_file_of_another_store_at_the_same_generation_is_not_served() {
    let (tmp, data_a, _) = shaped_store(16, 100);
    let (_tmp_b, data_b, model_b) = shaped_store(16, 130);
    let dir = tmp.path().join("answers");
    let (state_a, tier_a) = tiered(&data_a, &dir);
    let (state_b, tier_b) = tiered(&data_b, &dir);
    let (snap_a, snap_b) = (state_a.store.snapshot(), state_b.store.snapshot());
    assert_eq!(snap_a.generation(), snap_b.generation());
    tier_a.build(&snap_a).unwrap();
    tier_b.build(&snap_b).unwrap();
    assert_eq!(tier_b.counters().2, 1, "written anew, not adopted");
    for prefix in populated(&model_b) {
        for coding in CODINGS {
            let (got, _) = range_lines(&state_b, &prefix, coding, &[]).await;
            assert_eq!(got, model_range(&model_b, &prefix), "{prefix} {coding:?}");
        }
    }
    assert_eq!(tier_b.counters().0, 16 * 3, "all from the tier");
}

fn tier_metric(server: &Server, until: impl Fn(&str) -> bool) -> String {
    metrics_until(&server.metrics_addr, until)
}

fn counter(text: &str, name: &str) -> u64 {
    metric(text, &format!("leakwatch_answer_tier_{name}_total")).unwrap_or(-1.0) as u64
}

fn serves_generation(text: &str, generation: u64) -> bool {
    text.contains(&format!(
        "leakwatch_answer_tier_generation{{namespace=\"sha1\"}} {generation}\n"
    ))
}

fn generation_of(data: &Path) -> u64 {
    app_state_caching(data, 0).store.snapshot().generation()
}

/// The range `prefix` from `server`, as lines, checked against `model`.
fn assert_range(server: &Server, model: &Model, prefix: &str) {
    let (status, _, body) = http_get(&server.addr, &format!("/range/{prefix}"), &[]);
    assert_eq!(status, 200);
    let got: Vec<String> = String::from_utf8(body)
        .unwrap()
        .split("\r\n")
        .map(String::from)
        .collect();
    assert_eq!(got, model_range(model, prefix), "{prefix}");
}

fn the_answer_files_are_written_at_the_start_and_at_each_publish_not_at_a_request() {
    let (tmp, data, mut model) = shaped_store(16, 100);
    let dir = tmp.path().join("answers");
    let server = Server::start_with(&data, &["--answer-dir", dir.to_str().unwrap()], &[]);
    let first = generation_of(&data);
    // No range has been asked for: the start alone writes the served generation's file.
    let text = tier_metric(&server, |t| serves_generation(t, first));
    assert_eq!(
        (counter(&text, "files_built"), counter(&text, "sent")),
        (1, 0)
    );
    let prefix = populated(&model)[0].clone();
    assert_range(&server, &model, &prefix);
    let text = tier_metric(&server, |_| true);
    assert_eq!(
        counter(&text, "sent"),
        1,
        "the first request came from the file"
    );

    // A publish: the new generation's file is written without a request either.
    let added = format!("{prefix}00000000000000000000000000000000042");
    let extra = write(&tmp.path().join("x.txt"), format!("{added}:3\n").as_bytes());
    ingest_quiet(data.to_str().unwrap(), extra.to_str().unwrap());
    *model.entry(added).or_default() += 3;
    let second = generation_of(&data);
    assert!(second > first);
    let text = tier_metric(&server, |t| serves_generation(t, second));
    assert_eq!(
        (counter(&text, "files_built"), counter(&text, "sent")),
        (2, 1)
    );
    assert_range(&server, &model, &prefix);
    let text = tier_metric(&server, |_| true);
    assert_eq!(counter(&text, "sent"), 2);
    server.stop();
}

fn a_failed_answer_build_is_retried_later_and_leaves_nothing_behind() {
    let (tmp, data, model) = shaped_store(16, 100);
    let dir = tmp.path().join("answers");
    // Something in the way of the file's name (a directory with a file in it: no rename
    // can replace it, whoever runs the test), as a full disk or a failing one would be.
    let name = leakwatch_store::answer_file_name(Namespace::Sha1, generation_of(&data));
    let blocker = dir.join(&name);
    std::fs::create_dir_all(&blocker).unwrap();
    write(&blocker.join("in-the-way"), b"x");
    let server = Server::start_with(&data, &["--answer-dir", dir.to_str().unwrap()], &[]);
    tier_metric(&server, |t| counter(t, "build_failures") == 1);
    // Requests meanwhile are answered from the store, and do not each start a build.
    for prefix in populated(&model) {
        assert_range(&server, &model, &prefix);
    }
    let text = tier_metric(&server, |_| true);
    assert_eq!(counter(&text, "sent"), 0);
    assert!(
        counter(&text, "build_failures") <= 2,
        "retried at a request's pace: {text}"
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![name.clone()], "no .partial file left behind");

    // Once the way is clear, a later try succeeds without a restart.
    std::fs::remove_dir_all(&blocker).unwrap();
    let text = tier_metric(&server, |t| counter(t, "files_built") == 1);
    assert!(counter(&text, "build_failures") >= 1);
    assert_range(&server, &model, &populated(&model)[3]);
    let text = tier_metric(&server, |_| true);
    assert_eq!(counter(&text, "sent"), 1);
    server.stop();
}

fn an_answer_dir_inside_the_data_directory_is_refused() {
    let (tmp, data, _) = shaped_store(4, 10);
    let link = tmp.path().join("link-to-data");
    std::os::unix::fs::symlink(&data, &link).unwrap();
    for dir in [
        data.join("answers"),
        data.clone(),
        link.join("deeper/answers"),
        // `..` that comes back inside.
        tmp.path().join("elsewhere/../data/answers"),
    ] {
        let mut child = serve_command(&data)
            .args(["--answer-dir", dir.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{}: the server started", dir.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(!status.success(), "{}", dir.display());
        assert!(err.contains("inside the data directory"), "{err}");
        assert!(!data.join("answers").exists() && !data.join("deeper").exists());
    }
}

/// The size of the one answer file in `dir`.
fn answer_file_size(dir: &Path) -> u64 {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(files.len(), 1, "one answer file");
    files[0].metadata().unwrap().len()
}

/// Every populated range in each coding from `server`, decoded and checked against `model`;
/// how many of them the tier sent.
fn ask_every_coding(server: &Server, model: &Model) -> u64 {
    let before = counter(&tier_metric(server, |_| true), "sent");
    for prefix in populated(model) {
        for coding in CODINGS {
            let accept: Vec<(&str, &str)> =
                coding.map(|c| ("Accept-Encoding", c)).into_iter().collect();
            let (status, headers, body) =
                http_get(&server.addr, &format!("/range/{prefix}"), &accept);
            assert_eq!(status, 200);
            let sent = headers.get("content-encoding").map(String::as_str);
            assert_eq!(sent, coding, "{prefix}: the coding asked for");
            let lines: Vec<String> = decoded(sent, &body)
                .split("\r\n")
                .map(String::from)
                .collect();
            assert_eq!(lines, model_range(model, &prefix), "{prefix} {coding:?}");
        }
    }
    counter(&tier_metric(server, |_| true), "sent") - before
}

fn a_coding_left_out_of_the_answer_files_is_answered_from_the_store() {
    let (tmp, data, model) = shaped_store(16, 120);
    let generation = generation_of(&data);
    let (all, gzip_only) = (tmp.path().join("all"), tmp.path().join("gzip-only"));
    let server = Server::start_with(&data, &["--answer-dir", all.to_str().unwrap()], &[]);
    tier_metric(&server, |t| serves_generation(t, generation));
    assert_eq!(
        ask_every_coding(&server, &model),
        16 * 3,
        "all three from the files"
    );
    server.stop();

    let args = [
        "--answer-dir",
        gzip_only.to_str().unwrap(),
        "--answer-codings",
        "gzip",
    ];
    let server = Server::start_with(&data, &args, &[]);
    tier_metric(&server, |t| serves_generation(t, generation));
    assert_eq!(
        ask_every_coding(&server, &model),
        16 * 2,
        "brotli rendered from the store"
    );
    server.stop();
    let (with_all, with_gzip) = (answer_file_size(&all), answer_file_size(&gzip_only));
    assert!(
        with_gzip * 10 < with_all * 8,
        "{with_gzip} bytes against {with_all}"
    );

    // The same directory with brotli asked for again: the file is written anew, not adopted.
    let server = Server::start_with(&data, &["--answer-dir", gzip_only.to_str().unwrap()], &[]);
    let text = tier_metric(&server, |t| serves_generation(t, generation));
    assert_eq!(counter(&text, "files_built"), 1);
    assert_eq!(ask_every_coding(&server, &model), 16 * 3);
    server.stop();
    assert_eq!(answer_file_size(&gzip_only), with_all);
}
