//! `leakwatch sync` on loopback: a mirror of a source leakwatch, and of nginx serving
//! downloader-style per-prefix files over TLS; incremental syncs that fetch only what
//! changed; kills and a network cut followed by resumes. Every mirror is compared with a
//! model computed from the source's input files, not with leakwatch's own answers.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use leakwatch_gen::GenFormat;
use leakwatch_store::Namespace;
use serde_json::Value;

use crate::support::{
    Model, Server, free_port, generate, http_get, ingest_quiet, leakwatch, merge, metric,
    metrics_until, model_of_hash_lines, model_range, private_ca, store_model, try_leakwatch, write,
};

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(a_mirror_syncs_every_range_then_only_the_changed_ones_and_ends_identical_to_its_source),
        test!(a_sync_killed_mid_way_publishes_nothing_and_resumes_where_it_stopped),
        test!(a_sync_over_http2_cut_off_from_its_source_stops_with_a_clear_error_and_resumes_later).needs(&[Need::Openssl]),
        test!(sync_refuses_what_is_not_a_range_api_with_one_line),
        test!(a_mirror_of_nginx_serving_downloader_files_over_tls_uses_http2_and_gzip_and_refetches_only_changed_files).needs(&[Need::Nginx, Need::Openssl]),
        test!(timeouts_429_and_5xx_are_retried_with_backoff_and_the_mirror_still_ends_identical),
        test!(a_sync_ignores_sigpipe_so_a_source_going_away_cannot_end_it_silently),
    ]
}

const RANGES: u64 = 1 << 20;

/// Runs `leakwatch sync --json` into `data` and returns its per-namespace reports.
fn sync(data: &Path, from: &str, extra: &[&str]) -> Vec<Value> {
    let out = spawn_sync(data, from, extra).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    reports.as_array().unwrap().clone()
}

fn n(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {report}"))
}

/// The 5-hex prefixes of a model's hashes.
fn prefixes(m: &Model) -> BTreeSet<String> {
    m.keys().map(|k| k[..5].to_owned()).collect()
}

fn generation(data: &Path) -> u64 {
    let dir = leakwatch_store::MmapDirectory::open(data.join("store")).unwrap();
    leakwatch_store::read_manifest(&dir).unwrap().generation
}

/// Waits until the server at `addr` answers `prefix`'s range as `model` says.
fn wait_for_range(addr: &str, prefix: &str, model: &Model) {
    let want = model_range(model, prefix).join("\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, _, body) = http_get(addr, &format!("/range/{prefix}"), &[]);
        if body == want.as_bytes() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} never served the new {prefix}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn a_mirror_syncs_every_range_then_only_the_changed_ones_and_ends_identical_to_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mirror = tmp.path().join("mirror");
    let sha_in = generate(GenFormat::Sha1, 30_000, 31);
    let ntlm_in = generate(GenFormat::Ntlm, 8_000, 32);
    for (name, bytes) in [("sha1.txt", &sha_in), ("ntlm.txt", &ntlm_in)] {
        let file = write(&tmp.path().join(name), bytes);
        ingest_quiet(src.to_str().unwrap(), file.to_str().unwrap());
    }
    let sha_model = model_of_hash_lines(&sha_in, 40);
    let ntlm_model = model_of_hash_lines(&ntlm_in, 32);
    let server = Server::start(&src);
    let from = format!("http://{}", server.addr);

    // First sync: every range fetched whole; the mirror holds exactly the source.
    let first = sync(&mirror, &from, &["--mode", "both"]);
    assert_eq!(first.len(), 2);
    for (report, model) in [(&first[0], &sha_model), (&first[1], &ntlm_model)] {
        assert_eq!(n(report, "fetched"), RANGES, "{report}");
        assert_eq!(n(report, "not_modified"), 0, "{report}");
        assert_eq!(
            n(report, "changed"),
            prefixes(model).len() as u64,
            "{report}"
        );
        assert_eq!(n(report, "hashes"), model.len() as u64, "{report}");
        assert!(report["published_generation"].is_u64(), "{report}");
    }
    assert_eq!(store_model(&mirror, Namespace::Sha1), sha_model);
    assert_eq!(store_model(&mirror, Namespace::Ntlm), ntlm_model);
    let first_bytes = n(&first[0], "bytes");

    // A few hundred hashes change at the source: 250 new ones and 100 seen again.
    let fresh = generate(GenFormat::Sha1, 250, 33);
    let again: Vec<&str> = std::str::from_utf8(&sha_in)
        .unwrap()
        .lines()
        .step_by(300)
        .take(100)
        .collect();
    let mut change = fresh.clone();
    for line in &again {
        change.extend_from_slice(format!("{}:5\n", &line[..40]).as_bytes());
    }
    let change_model = model_of_hash_lines(&change, 40);
    assert!(change_model.len() > 300, "a few hundred hashes change");
    let file = write(&tmp.path().join("change.txt"), &change);
    ingest_quiet(src.to_str().unwrap(), file.to_str().unwrap());
    let sha_model = merge(&sha_model, &change_model);
    let touched = prefixes(&change_model);
    wait_for_range(&server.addr, touched.first().unwrap(), &sha_model);

    // Second sync: only the touched ranges come back whole, the rest are 304s; counts are
    // replaced (the mirror equals the source), not added.
    let before = generation(&mirror);
    let second = sync(&mirror, &from, &["--mode", "both"]);
    let (sha, ntlm) = (&second[0], &second[1]);
    assert_eq!(n(sha, "changed"), touched.len() as u64, "{sha}");
    assert_eq!(
        n(sha, "not_modified"),
        RANGES - touched.len() as u64,
        "{sha}"
    );
    assert_eq!(n(sha, "etags_only"), 0, "{sha}");
    assert!(
        n(sha, "bytes") * 20 < first_bytes,
        "an incremental sync transfers a fraction: {} of {first_bytes}",
        n(sha, "bytes")
    );
    // NTLM did not change at the source, so its half is the sync of an unchanged source:
    // nothing transferred, nothing published (a third sync to show it alone would cost a
    // million more requests).
    assert_eq!(n(ntlm, "changed"), 0, "{ntlm}");
    assert_eq!(n(ntlm, "not_modified"), RANGES, "{ntlm}");
    assert_eq!(n(ntlm, "bytes"), 0, "{ntlm}");
    assert!(ntlm["published_generation"].is_null(), "{ntlm}");
    assert_eq!(sha["published_generation"].as_u64(), Some(before + 1));
    assert_eq!(generation(&mirror), before + 1);
    assert_eq!(store_model(&mirror, Namespace::Sha1), sha_model);
    assert_eq!(store_model(&mirror, Namespace::Ntlm), ntlm_model);
    let stats = leakwatch(&["stats", "--data", mirror.to_str().unwrap()], None);
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.contains(&format!("mirror of {from}")), "{stats}");

    // The mirror's own answers are a good upstream: served, they match the source's, ETags
    // included (content digests), so a mirror of the mirror would see no change.
    let mirror_server = Server::start(&mirror);
    for prefix in touched
        .iter()
        .take(20)
        .chain(prefixes(&sha_model).iter().take(5))
    {
        let path = format!("/range/{prefix}");
        let (_, src_headers, src_body) = http_get(&server.addr, &path, &[]);
        let (_, headers, body) = http_get(&mirror_server.addr, &path, &[]);
        assert_eq!(body, src_body, "{prefix}");
        assert_eq!(headers["etag"], src_headers["etag"], "{prefix}");
    }
}

/// Starts `leakwatch sync` in the background.
fn spawn_sync(data: &Path, from: &str, extra: &[&str]) -> Child {
    Command::new(crate::support::bin())
        .args([
            "sync",
            "--quiet",
            "--json",
            "--data",
            data.to_str().unwrap(),
            "--from",
            from,
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the sync's journal holds at least `bytes` (the sync still running).
fn wait_for_journal(child: &mut Child, journal: &Path, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::metadata(journal).map_or(0, |m| m.len()) < bytes {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before the journal reached {bytes} bytes"
        );
        assert!(Instant::now() < deadline, "the journal never grew");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the sync's journal holds at least `bytes`, then kills the sync (SIGKILL).
fn kill_when_journal_reaches(mut child: Child, journal: &Path, bytes: u64) {
    wait_for_journal(&mut child, journal, bytes);
    child.kill().unwrap();
    child.wait().unwrap();
}

fn a_sync_killed_mid_way_publishes_nothing_and_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mirror = tmp.path().join("mirror");
    let input = generate(GenFormat::Sha1, 20_000, 41);
    let file = write(&tmp.path().join("in.txt"), &input);
    ingest_quiet(src.to_str().unwrap(), file.to_str().unwrap());
    let model = model_of_hash_lines(&input, 40);
    let server = Server::start(&src);
    let from = format!("http://{}", server.addr);
    let journal = mirror.join("sync").join("sha1.journal");

    // A first sync killed twice: nothing is published in between.
    for at in [4u64 << 20, 12 << 20] {
        kill_when_journal_reaches(spawn_sync(&mirror, &from, &[]), &journal, at);
        assert_eq!(
            generation(&mirror),
            0,
            "published before every range was in"
        );
    }
    let resumed = sync(&mirror, &from, &[]);
    assert_eq!(resumed.len(), 1, "SHA-1 only without --mode");
    let r = &resumed[0];
    assert!(n(r, "resumed") > 0, "{r}");
    assert_eq!(n(r, "resumed") + n(r, "fetched"), RANGES, "{r}");
    assert_eq!(n(r, "changed"), prefixes(&model).len() as u64, "{r}");
    assert_eq!(store_model(&mirror, Namespace::Sha1), model);
    assert!(!journal.exists(), "the journal goes once published");

    // The source changes; a sync of it is killed while a server reads the mirror: the
    // server keeps answering the previous generation, then the resumed sync publishes.
    let change = generate(GenFormat::Sha1, 300, 42);
    let change_file = write(&tmp.path().join("change.txt"), &change);
    ingest_quiet(src.to_str().unwrap(), change_file.to_str().unwrap());
    let new_model = merge(&model, &model_of_hash_lines(&change, 40));
    let changed: Vec<String> = prefixes(&model_of_hash_lines(&change, 40))
        .into_iter()
        .collect();
    wait_for_range(&server.addr, &changed[0], &new_model);
    let mirror_server = Server::start(&mirror);
    let published = generation(&mirror);
    let manifest = std::fs::read(mirror.join("store").join("manifest")).unwrap();
    let mut child = spawn_sync(&mirror, &from, &[]);
    wait_for_journal(&mut child, &journal, 4 << 20);
    // The server on the mirror shows the running sync's progress in its metrics.
    let text = metrics_until(&mirror_server.metrics_addr, |t| {
        metric(t, "leakwatch_sync_running") == Some(1.0)
            && metric(t, "leakwatch_sync_ranges_done{namespace=\"sha1\"}").is_some_and(|n| n > 0.0)
    });
    assert_eq!(
        metric(&text, "leakwatch_sync_ranges_total{namespace=\"sha1\"}"),
        Some(RANGES as f64)
    );
    assert!(
        metric(
            &text,
            "leakwatch_mirror_changed_seconds{namespace=\"sha1\"}"
        )
        .is_some()
    );
    kill_when_journal_reaches(child, &journal, 8 << 20);
    assert_eq!(
        std::fs::read(mirror.join("store").join("manifest")).unwrap(),
        manifest
    );
    // Killed, its status file names a process that is gone: no sync runs.
    let text = metrics_until(&mirror_server.metrics_addr, |t| {
        metric(t, "leakwatch_sync_running") == Some(0.0)
    });
    assert!(metric(&text, "leakwatch_sync_ranges_done{namespace=\"sha1\"}").is_none());
    for prefix in changed.iter().take(10) {
        let (_, _, body) = http_get(&mirror_server.addr, &format!("/range/{prefix}"), &[]);
        assert_eq!(
            body,
            model_range(&model, prefix).join("\r\n").as_bytes(),
            "{prefix}"
        );
    }
    let resumed = sync(&mirror, &from, &[]);
    let r = &resumed[0];
    assert!(n(r, "resumed") > 0, "{r}");
    assert_eq!(n(r, "changed"), changed.len() as u64, "{r}");
    assert_eq!(r["published_generation"].as_u64(), Some(published + 1));
    assert_eq!(store_model(&mirror, Namespace::Sha1), new_model);
    wait_for_range(&mirror_server.addr, &changed[0], &new_model);
}

/// Also the mirror chain as the public API is served: a leakwatch over TLS, which speaks
/// HTTP/2 to the syncing leakwatch by ALPN.
fn a_sync_over_http2_cut_off_from_its_source_stops_with_a_clear_error_and_resumes_later() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mirror = tmp.path().join("mirror");
    let input = generate(GenFormat::Sha1, 5_000, 51);
    let file = write(&tmp.path().join("in.txt"), &input);
    ingest_quiet(src.to_str().unwrap(), file.to_str().unwrap());
    let (ca, cert, key) = private_ca(tmp.path());
    let tls = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let server = Server::start_with(&src, &tls, &[]);
    let addr = server.addr.clone();
    let from = format!("https://{addr}");
    let ca_arg = ["--ca-cert", ca.to_str().unwrap()];
    let journal = mirror.join("sync").join("sha1.journal");
    let mut child = spawn_sync(
        &mirror,
        &from,
        &["--retries", "2", "--timeout", "2", ca_arg[0], ca_arg[1]],
    );
    wait_for_journal(&mut child, &journal, 4 << 20);
    drop(server); // the network goes away
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "{}: {stderr}",
        out.status
    );
    assert!(
        stderr.contains("no answer after 3 attempts") && stderr.contains("run the sync again"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
    assert_eq!(generation(&mirror), 0);
    // The source comes back at the same address; the sync resumes.
    let mut args = vec!["--listen", &addr];
    args.extend_from_slice(&tls);
    let _server = Server::start_with(&src, &args, &[]);
    let r = &sync(&mirror, &from, &ca_arg)[0];
    assert!(n(r, "resumed") > 0, "{r}");
    assert_eq!(n(r, "resumed") + n(r, "fetched"), RANGES, "{r}");
    assert_eq!(n(r, "http2"), n(r, "fetched"), "HTTP/2 by ALPN: {r}");
    assert_eq!(
        store_model(&mirror, Namespace::Sha1),
        model_of_hash_lines(&input, 40)
    );
}

/// Whether the process ignores SIGPIPE (`SigIgn` in `/proc/PID/status`).
fn ignores_sigpipe(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .unwrap()
        .trim();
    u64::from_str_radix(ignored, 16).unwrap() & (1 << (libc::SIGPIPE - 1)) != 0
}

/// Regression (CI, stop 32): `leakwatch sync` reset SIGPIPE to its default, as the commands
/// that print do, and rustls writes TLS records with `writev` (no MSG_NOSIGNAL), so a write
/// racing the source's death killed the sync without a word instead of the one-line error
/// and exit status 1. The race is rare, so this asserts its cause: the running sync ignores
/// SIGPIPE, while a printing command still ends quietly on a closed pipe.
fn a_sync_ignores_sigpipe_so_a_source_going_away_cannot_end_it_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let file = write(
        &tmp.path().join("in.txt"),
        &generate(GenFormat::Sha1, 100, 7),
    );
    ingest_quiet(src.to_str().unwrap(), file.to_str().unwrap());
    let server = Server::start(&src);
    let mirror = tmp.path().join("mirror");
    let mut child = spawn_sync(&mirror, &format!("http://{}", server.addr), &[]);
    wait_for_journal(&mut child, &mirror.join("sync").join("sha1.journal"), 1);
    let ignored = ignores_sigpipe(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ignored, "a running sync must ignore SIGPIPE");

    // `leakwatch gen … | head -c 1`: the closed pipe ends gen by SIGPIPE, silently.
    let mut generator = Command::new(crate::support::bin())
        .args(["gen", "passwords", "--count", "1000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(generator.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(generator.stdout.take());
    let out = generator.wait_with_output().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(libc::SIGPIPE),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sync_refuses_what_is_not_a_range_api_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let src = tmp.path().join("src");
    let file = write(
        &tmp.path().join("in.txt"),
        &generate(GenFormat::Sha1, 10, 1),
    );
    ingest_quiet(src.to_str().unwrap(), file.to_str().unwrap());
    let server = Server::start(&src);
    for (from, says) in [
        ("ftp://example.org/", "http:// or https://"),
        ("https://u:p@example.org/", "credentials"),
        (
            &format!("http://{}/nothing/{{prefix}}", server.addr) as &str,
            "answered 404",
        ),
    ] {
        let out = try_leakwatch(
            &[
                "sync",
                "-q",
                "--data",
                data.to_str().unwrap(),
                "--from",
                from,
            ],
            None,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{from}");
        assert!(stderr.contains(says), "{from}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{from}: {stderr}");
    }
    assert_eq!(generation(&data), 0);
}

/// nginx serving `root` over TLS with HTTP/2 and gzip; killed on drop.
struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master stops its workers (killed, it orphans them).
        // SAFETY: kill(2) on our own child's pid, which `wait` has not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn start_nginx(dir: &Path, root: &Path, cert: &Path, key: &Path) -> Nginx {
    let port = free_port();
    for sub in ["client", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let d = dir.display();
    // Downloader files are NNNNN.txt; a prefix without a file is an empty range.
    let conf = format!(
        r#"daemon off;
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/client; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    root {root};
    gzip on; gzip_types text/plain; gzip_min_length 20;
    location ~ "^/range/([0-9A-F]{{5}})$" {{
      default_type text/plain;
      try_files /$1.txt /empty.txt;
    }}
  }}
}}
"#,
        cert = cert.display(),
        key = key.display(),
        root = root.display(),
    );
    let conf_path = write(&dir.join("nginx.conf"), conf.as_bytes());
    let child = Command::new("nginx")
        .args([
            "-p",
            dir.to_str().unwrap(),
            "-c",
            conf_path.to_str().unwrap(),
            "-e",
            "stderr",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx { child, port }
}

/// The model of a downloader directory: its files' lines under their prefixes.
fn model_of_dir(root: &Path) -> Model {
    let mut text = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.len() != 9 || !name.ends_with(".txt") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            text.extend_from_slice(format!("{}{line}\n", &name[..5]).as_bytes());
        }
    }
    model_of_hash_lines(&text, 40)
}

fn a_mirror_of_nginx_serving_downloader_files_over_tls_uses_http2_and_gzip_and_refetches_only_changed_files()
 {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ranges");
    leakwatch(
        &[
            "gen",
            "passwords",
            "--count",
            "20000",
            "--seed",
            "61",
            "--dir",
            "--out",
            root.to_str().unwrap(),
        ],
        None,
    );
    write(&root.join("empty.txt"), b"");
    // One damaged line in one file: counted, sampled by position, skipped.
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().len() == 9 && !p.ends_with("empty.txt"))
        .collect();
    files.sort();
    let damaged = &files[7];
    let mut text = std::fs::read(damaged).unwrap();
    text.extend_from_slice(b"\r\nNOT A HASH LINE");
    std::fs::write(damaged, &text).unwrap();
    let (ca, cert, key) = private_ca(tmp.path());
    let nginx = start_nginx(tmp.path(), &root, &cert, &key);
    let from = format!("https://127.0.0.1:{}", nginx.port);
    let mirror = tmp.path().join("mirror");
    let ca_arg = ["--ca-cert", ca.to_str().unwrap()];

    let first = &sync(&mirror, &from, &ca_arg)[0];
    assert_eq!(
        n(first, "http2"),
        RANGES,
        "every answer over HTTP/2: {first}"
    );
    assert_eq!(n(first, "rejected_lines"), 1, "{first}");
    assert_eq!(n(first, "retries"), 0, "{first}");
    let model = model_of_dir(&root);
    assert_eq!(store_model(&mirror, Namespace::Sha1), model);
    // nginx compresses every file above its 20-byte minimum: all but the empty range's.
    assert_eq!(n(first, "gzip"), files.len() as u64, "{first}");
    let rejects = std::fs::read_to_string(mirror.join("sync").join("sha1.rejects")).unwrap();
    let prefix = &damaged.file_name().unwrap().to_str().unwrap()[..5];
    assert!(
        rejects.contains(&format!("range {prefix} line")),
        "{rejects}"
    );

    // Three files grow a line and a range that had no file gets one: four ranges change,
    // every other one is a 304 on nginx's ETags. (That a sync of an unchanged source
    // publishes nothing is shown against leakwatch in the first test of this module.)
    let new_line = |i: usize| format!("\r\n{:035X}:{}", 0xABCDEF_u64 + i as u64, 7 + i);
    for (i, f) in files.iter().skip(100).step_by(1000).take(3).enumerate() {
        let mut text = std::fs::read(f).unwrap();
        text.extend_from_slice(new_line(i).as_bytes());
        std::fs::write(f, text).unwrap();
    }
    let empty_prefix = (0..RANGES)
        .map(|p| format!("{p:05X}"))
        .find(|p| !root.join(format!("{p}.txt")).exists())
        .unwrap();
    write(
        &root.join(format!("{empty_prefix}.txt")),
        &new_line(9).as_bytes()[2..],
    );
    let third = &sync(&mirror, &from, &ca_arg)[0];
    assert_eq!(n(third, "changed"), 4, "{third}");
    assert_eq!(n(third, "not_modified"), RANGES - 4, "{third}");
    assert_eq!(store_model(&mirror, Namespace::Sha1), model_of_dir(&root));
}

/// A range source that fails on purpose: the first request for one range in every 50,000 is
/// answered 503, 429 (`Retry-After: 1`), or not at all within the sync's timeout; every other
/// request is served from the model, with content ETags and 304s. Counts every request.
struct FlakySource {
    model: Model,
    hits: Vec<std::sync::atomic::AtomicU32>,
}

const FAULT_EVERY: u32 = 50_000;

fn fault(prefix: u32) -> Option<u32> {
    matches!(prefix % FAULT_EVERY, 7..=9).then_some(prefix % FAULT_EVERY)
}

async fn flaky_range(
    axum::extract::State(source): axum::extract::State<std::sync::Arc<FlakySource>>,
    axum::extract::Path(hex): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::{http::StatusCode, response::IntoResponse};
    let Ok(prefix) = u32::from_str_radix(&hex, 16) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let first =
        source.hits[prefix as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
    match fault(prefix) {
        Some(7) if first => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Some(8) if first => {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response();
        }
        Some(9) if first => tokio::time::sleep(Duration::from_secs(8)).await,
        _ => {}
    }
    let body = model_range(&source.model, &hex).join("\r\n");
    let etag = format!("\"{:x}\"", fnv1a(body.as_bytes()));
    if headers
        .get("if-none-match")
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    ([("etag", etag)], body).into_response()
}

/// FNV-1a: any digest of the body does for these ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn timeouts_429_and_5xx_are_retried_with_backoff_and_the_mirror_still_ends_identical() {
    let input = generate(GenFormat::Sha1, 10_000, 81);
    let source = std::sync::Arc::new(FlakySource {
        model: model_of_hash_lines(&input, 40),
        hits: (0..RANGES)
            .map(|_| std::sync::atomic::AtomicU32::new(0))
            .collect(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let app = axum::Router::new()
        .route("/range/{prefix}", axum::routing::get(flaky_range))
        .with_state(source.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let tmp = tempfile::tempdir().unwrap();
    let mirror = tmp.path().join("mirror");
    let from = format!("http://{addr}");
    // Not --quiet: without a terminal, progress comes as log lines with rate and ETA.
    let out = Command::new(crate::support::bin())
        .args([
            "sync",
            "--json",
            "--timeout",
            "3",
            "--retries",
            "3",
            "--data",
        ])
        .arg(&mirror)
        .args(["--from", &from])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1048576/1048576 ranges") && stderr.contains("ranges/s, ETA"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &report[0];
    let faults = (0..RANGES as u32).filter(|&p| fault(p).is_some()).count() as u64;
    assert_eq!(faults, 63);
    assert_eq!(n(r, "retries"), faults, "one retry per injected fault: {r}");
    for p in 0..RANGES as u32 {
        let hits = source.hits[p as usize].load(std::sync::atomic::Ordering::Relaxed);
        let want = if fault(p).is_some() { 2 } else { 1 };
        assert_eq!(hits, want, "requests for {p:05X}");
    }
    assert_eq!(store_model(&mirror, Namespace::Sha1), source.model);
    // A second sync is all 304s from this source too.
    let again = &sync(&mirror, &from, &[])[0];
    assert_eq!(n(again, "not_modified"), RANGES, "{again}");
}
