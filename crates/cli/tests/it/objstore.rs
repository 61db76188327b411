//! The store on S3-compatible object storage (issue #21) through the real binary: imports
//! into `--data s3://BUCKET/PREFIX` on a real SeaweedFS, served by several `leakwatch serve`
//! replicas, each with a cache directory of its own, compared byte for byte with a server on
//! a local data directory of the same input, and with a model of the input.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use leakwatch_gen::GenFormat;
use leakwatch_objstore::testing::{make_bucket, seaweedfs};

use crate::harness::{Need, Test};
use crate::support::{
    Model, Server, free_port, generate, http_get, ingest_quiet, merge, model_of_hash_lines,
    model_range, parse_response, write,
};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(an_import_into_s3_is_served_by_every_replica_as_a_local_store_serves_it)
            .needs(&[Need::Weed]),
        test!(a_cache_directory_serves_one_store_and_a_bad_location_is_one_clear_line)
            .needs(&[Need::Weed]),
        test!(a_replica_killed_under_load_behind_haproxy_costs_no_request)
            .needs(&[Need::Weed, Need::Haproxy]),
        test!(two_ingest_processes_racing_into_one_bucket_both_publish_and_lose_nothing)
            .needs(&[Need::Weed]),
        test!(a_replica_listens_before_its_store_is_local_and_serves_its_cache_while_the_store_is_down)
            .needs(&[Need::Weed]),
        test!(stats_verify_compact_forget_backup_and_restore_work_on_a_store_in_a_bucket)
            .needs(&[Need::Weed]),
    ]
}

/// A TCP forwarder in front of the object store that can be cut off or stalled: closed, it
/// drops every new connection at once (the store "down"); open, it relays to `to`; stalled,
/// it holds every byte of every connection, open ones included (the store hanging).
pub(crate) struct Switch {
    pub(crate) addr: String,
    state: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const STALLED: u8 = 2;

impl Switch {
    /// A switch in front of `to` (`HOST:PORT`), closed.
    pub(crate) fn new(to: &str) -> Switch {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(CLOSED));
        let (to, flag) = (to.to_owned(), state.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if flag.load(Ordering::SeqCst) == CLOSED {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&to) else {
                    continue;
                };
                let pump = |mut from: TcpStream, mut into: TcpStream| {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 << 10];
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            while flag.load(Ordering::SeqCst) == STALLED {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            if into.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = into.shutdown(std::net::Shutdown::Write);
                    });
                };
                pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(server, client);
            }
        });
        Switch { addr, state }
    }

    /// Relays (true) or drops new connections (false).
    pub(crate) fn set(&self, open: bool) {
        self.state
            .store(if open { OPEN } else { CLOSED }, Ordering::SeqCst);
    }

    /// Holds every byte until [`Switch::set`] opens it again.
    pub(crate) fn stall(&self) {
        self.state.store(STALLED, Ordering::SeqCst);
    }

    /// The bucket's environment with the endpoint through this switch.
    pub(crate) fn env<'a>(
        &'a self,
        bucket: &'a Bucket,
        endpoint: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        let mut env = bucket.env();
        env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL", endpoint));
        env
    }
}

fn a_replica_listens_before_its_store_is_local_and_serves_its_cache_while_the_store_is_down() {
    let (bucket, tmp, input) = Bucket::with_hashes("ready", 5_000, 81);
    let model = model_of_hash_lines(&input, 40);
    let prefix = prefixes(&model)[0].clone();
    let want = model_range(&model, &prefix).join("\r\n").into_bytes();
    let switch = Switch::new(seaweedfs().unwrap().strip_prefix("http://").unwrap());
    let endpoint = format!("http://{}", switch.addr);
    let env = switch.env(&bucket, &endpoint);
    let cache = tmp.path().join("replica");
    let start = || {
        let c = cache.to_str().unwrap();
        Server::start_with(&cache, &["--data", &bucket.url, "--cache-dir", c], &env)
    };

    // The store is down and nothing is cached: the replica listens, says it is not ready,
    // and answers 503 rather than "never leaked".
    let replica = start();
    for _ in 0..3 {
        let (status, _, body) = http_get(&replica.addr, "/readyz", &[]);
        assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
        let (status, _, body) = http_get(&replica.addr, &format!("/range/{prefix}"), &[]);
        assert_eq!(status, 503);
        assert!(
            String::from_utf8_lossy(&body).contains("still downloading"),
            "{}",
            String::from_utf8_lossy(&body)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // The store comes back: the replica gets the generation and is ready.
    switch.set(true);
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&replica.addr, "/readyz", &[]).0 != 200 {
        assert!(Instant::now() < deadline, "{}", replica.log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(range(&replica.addr, &prefix).2, want);
    drop(replica);

    // Restarted while the store is down: it serves the generation it had, from its cache.
    switch.set(false);
    let replica = start();
    assert_eq!(http_get(&replica.addr, "/readyz", &[]).0, 200);
    for p in prefixes(&model).iter().take(50) {
        let (status, _, body) = range(&replica.addr, p);
        assert_eq!(status, 200, "{p}");
        assert_eq!(
            body,
            model_range(&model, p).join("\r\n").into_bytes(),
            "{p}"
        );
    }
}

/// A bucket of the test's own on the process's SeaweedFS, and the environment that reaches
/// it (endpoint and credentials, as an operator sets them).
pub(crate) struct Bucket {
    pub(crate) url: String,
    env: Vec<(&'static str, String)>,
}

impl Bucket {
    pub(crate) fn new(name: &str) -> Bucket {
        let endpoint = seaweedfs().expect("Need::Weed");
        let bucket = format!("{name}-{}", std::process::id());
        make_bucket(endpoint, &bucket);
        Bucket {
            url: format!("s3://{bucket}/passwords"),
            env: vec![
                ("AWS_ENDPOINT_URL", endpoint.to_owned()),
                ("AWS_ACCESS_KEY_ID", "leakwatch-test".into()),
                ("AWS_SECRET_ACCESS_KEY", "leakwatch-test-secret".into()),
            ],
        }
    }

    pub(crate) fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// `leakwatch ARGS --data URL --cache-dir CACHE`, with the bucket's environment.
    pub(crate) fn leakwatch(&self, cache: &Path, args: &[&str]) -> std::process::Output {
        Command::new(crate::support::bin())
            .args(args)
            .args(["--data", &self.url, "--cache-dir", cache.to_str().unwrap()])
            .envs(self.env())
            .output()
            .unwrap()
    }

    /// `leakwatch ARGS` on the machine whose cache directory is `cache`, under the tests'
    /// operator key; its stdout, which it must succeed to give.
    pub(crate) fn run(&self, cache: &Path, args: &[&str]) -> String {
        let out = Command::new(crate::support::bin())
            .args(args)
            .args(["--data", &self.url, "--cache-dir", cache.to_str().unwrap()])
            .envs(self.env())
            .env("LEAKWATCH_OPERATOR_KEY", crate::support::OPERATOR_KEY)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A bucket holding one import of `count` generated SHA-1 hashes, its working directory
    /// and the input.
    fn with_hashes(name: &str, count: u64, seed: u64) -> (Bucket, tempfile::TempDir, Vec<u8>) {
        let bucket = Bucket::new(name);
        let tmp = tempfile::tempdir().unwrap();
        let input = generate(GenFormat::Sha1, count, seed);
        bucket.import(
            &tmp.path().join("importer"),
            &write(&tmp.path().join("in.txt"), &input),
        );
        (bucket, tmp, input)
    }

    /// Imports `file` from the machine whose cache directory is `cache`.
    pub(crate) fn import(&self, cache: &Path, file: &Path) {
        let out = self.leakwatch(cache, &["ingest", "-q", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A replica: `leakwatch serve --data URL --cache-dir CACHE`, once it is ready (it
    /// listens before its generation is downloaded, and says so on `/readyz`).
    pub(crate) fn replica(&self, cache: &Path) -> Server {
        let cache = cache.to_str().unwrap();
        let server = Server::start_with(
            Path::new(cache),
            &["--data", &self.url, "--cache-dir", cache],
            &self.env(),
        );
        server.wait_ready();
        server
    }
}

/// The 5-hex prefixes of a model's hashes.
fn prefixes(m: &Model) -> Vec<String> {
    let mut p: Vec<String> = m.keys().map(|k| k[..5].to_owned()).collect();
    p.dedup();
    p
}

/// Status, ETag and body of a range, as a client sees them.
fn range(addr: &str, prefix: &str) -> (u16, Option<String>, Vec<u8>) {
    let (status, headers, body) = http_get(addr, &format!("/range/{prefix}"), &[]);
    (status, headers.get("etag").cloned(), body)
}

fn an_import_into_s3_is_served_by_every_replica_as_a_local_store_serves_it() {
    let bucket = Bucket::new("serve");
    let tmp = tempfile::tempdir().unwrap();
    let first = generate(GenFormat::Sha1, 20_000, 61);
    let first_file = write(&tmp.path().join("first.txt"), &first);
    let local = tmp.path().join("local");
    ingest_quiet(local.to_str().unwrap(), first_file.to_str().unwrap());
    bucket.import(&tmp.path().join("importer-a"), &first_file);

    let local_server = Server::start(&local);
    let replicas: Vec<Server> = (0..3)
        .map(|i| bucket.replica(&tmp.path().join(format!("replica-{i}"))))
        .collect();
    let model = model_of_hash_lines(&first, 40);
    let mut asked = prefixes(&model);
    asked.truncate(300);
    asked.extend(["00000", "FFFFF", "ABCDE"].map(str::to_owned));
    for prefix in &asked {
        let want = range(&local_server.addr, prefix);
        assert_eq!(
            want.2,
            model_range(&model, prefix).join("\r\n").as_bytes(),
            "{prefix}"
        );
        for replica in &replicas {
            assert_eq!(range(&replica.addr, prefix), want, "{prefix}");
        }
    }

    // A second machine imports more; every running replica serves it within 5 s.
    let second = generate(GenFormat::Sha1, 5_000, 62);
    let second_file = write(&tmp.path().join("second.txt"), &second);
    ingest_quiet(local.to_str().unwrap(), second_file.to_str().unwrap());
    let both = merge(&model, &model_of_hash_lines(&second, 40));
    let changed = prefixes(&model_of_hash_lines(&second, 40))
        .into_iter()
        .find(|p| model_range(&model, p) != model_range(&both, p))
        .unwrap();
    let published = Instant::now();
    bucket.import(&tmp.path().join("importer-b"), &second_file);
    let want = model_range(&both, &changed).join("\r\n").into_bytes();
    for (i, replica) in replicas.iter().enumerate() {
        while range(&replica.addr, &changed).2 != want {
            assert!(
                published.elapsed() < Duration::from_secs(5),
                "replica {i} still serves the old {changed} after 5 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    eprintln!(
        "every replica served the new generation {:?} after the import ended",
        published.elapsed()
    );
    let local_server = Server::start(&local);
    for prefix in prefixes(&model_of_hash_lines(&second, 40)).iter().take(200) {
        let want = range(&local_server.addr, prefix);
        for replica in &replicas {
            assert_eq!(range(&replica.addr, prefix), want, "{prefix}");
        }
    }
}

fn a_cache_directory_serves_one_store_and_a_bad_location_is_one_clear_line() {
    let bucket = Bucket::new("bind");
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let file = write(
        &tmp.path().join("in.txt"),
        &generate(GenFormat::Sha1, 100, 3),
    );
    bucket.import(&cache, &file);
    let refuse = |args: &[&str], says: &str| {
        let out = Command::new(crate::support::bin())
            .args(args)
            .envs(bucket.env())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().filter(|l| l.contains("error")).count(),
            1,
            "{stderr}"
        );
    };
    let other = format!("{}-other", bucket.url);
    let cache_arg = cache.to_str().unwrap();
    refuse(
        &["stats", "--data", &other, "--cache-dir", cache_arg],
        "give each store its own directory",
    );
    refuse(&["stats", "--data", &bucket.url], "needs --cache-dir");
    refuse(
        &[
            "stats",
            "--data",
            "s3://Not_A_Bucket/y",
            "--cache-dir",
            cache_arg,
        ],
        "not an object-store location",
    );
    // Bound, the cache directory names its store: `--data DIR` works on it too.
    let out = Command::new(crate::support::bin())
        .args(["stats", "--data", cache_arg])
        .envs(bucket.env())
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stats.contains("sha1: 1 segments"),
        "{stats}"
    );
}

/// HAProxy in front of `servers`, as the topology puts it: round robin, health
/// checks every 100 ms, and an idempotent request that finds its server gone retried on
/// another (`retry-on all-retryable-errors`, `option redispatch`). Killed on drop.
pub(crate) struct Haproxy {
    child: Child,
    pub(crate) addr: String,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_haproxy(dir: &Path, servers: &[&str]) -> Haproxy {
    start_haproxy_with(dir, servers, "")
}

/// As [`start_haproxy`], with `options` added to every `server` line (`send-proxy-v2`, …).
pub(crate) fn start_haproxy_with(dir: &Path, servers: &[&str], options: &str) -> Haproxy {
    let port = free_port();
    let mut config = format!(
        "global\n  maxconn 512\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 10s\n  timeout server 10s\n\
         \x20 retries 3\n  option redispatch 1\n  retry-on all-retryable-errors\n\
         frontend public\n  bind 127.0.0.1:{port}\n  default_backend replicas\n\
         backend replicas\n  balance roundrobin\n  option httpchk GET /range/00000\n"
    );
    for (i, server) in servers.iter().enumerate() {
        config.push_str(&format!(
            "  server replica{i} {server} check inter 100ms fall 1 rise 2 {options}\n"
        ));
    }
    let path = write(&dir.join("haproxy.cfg"), config.as_bytes());
    let check = Command::new("haproxy")
        .args(["-c", "-f", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new("haproxy")
        .args(["-db", "-f", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while try_get(&addr, "/range/00000").is_none_or(|(status, _)| status != 200) {
        assert!(Instant::now() < deadline, "haproxy never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    Haproxy { child, addr }
}

/// One GET over a fresh connection: `None` for a connection that failed or an answer cut off.
fn try_get(addr: &str, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    raw.windows(4).any(|w| w == b"\r\n\r\n").then(|| {
        let (status, _, body) = parse_response(&raw);
        (status, body)
    })
}

fn a_replica_killed_under_load_behind_haproxy_costs_no_request() {
    let (bucket, tmp, input) = Bucket::with_hashes("failover", 5_000, 71);
    let model = model_of_hash_lines(&input, 40);
    let asked = prefixes(&model);
    let mut replicas: Vec<Server> = (0..3)
        .map(|i| bucket.replica(&tmp.path().join(format!("replica-{i}"))))
        .collect();
    let addrs: Vec<&str> = replicas.iter().map(|r| r.addr.as_str()).collect();
    let proxy = start_haproxy(tmp.path(), &addrs);

    // Bounded load: four clients, one request at a time each, every answer checked.
    let stop = AtomicBool::new(false);
    let (answered, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for client in 0..4 {
            let (stop, answered, failed) = (&stop, &answered, &failed);
            let (asked, model, proxy) = (&asked, &model, &proxy);
            s.spawn(move || {
                let mut i = client;
                while !stop.load(Ordering::Relaxed) {
                    let prefix = &asked[i % asked.len()];
                    let want = model_range(model, prefix).join("\r\n").into_bytes();
                    match try_get(&proxy.addr, &format!("/range/{prefix}")) {
                        Some((200, body)) if body == want => {
                            answered.fetch_add(1, Ordering::Relaxed)
                        }
                        other => {
                            eprintln!("{prefix}: {:?}", other.map(|(status, _)| status));
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                    i += 7;
                }
            });
        }
        std::thread::sleep(Duration::from_secs(1));
        let before = answered.load(Ordering::Relaxed);
        drop(replicas.remove(1)); // SIGKILL, mid-load
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        assert!(
            answered.load(Ordering::Relaxed) > before,
            "the load went on after the kill"
        );
    });
    let (answered, failed) = (answered.into_inner(), failed.into_inner());
    eprintln!("{answered} answers through HAProxy, {failed} failed, one of 3 replicas killed");
    assert_eq!(failed, 0, "of {}", answered + failed);
}

fn two_ingest_processes_racing_into_one_bucket_both_publish_and_lose_nothing() {
    let bucket = Bucket::new("race");
    let tmp = tempfile::tempdir().unwrap();
    let inputs = [
        generate(GenFormat::Sha1, 30_000, 81),
        generate(GenFormat::Sha1, 30_000, 82),
    ];
    // Two machines, started together. Whether their publications collide depends on timing
    // here; the collision itself is forced, with a barrier, in crates/objstore's tests
    // (`two_importers_racing_into_one_bucket_both_publish_and_lose_nothing`). Either way both
    // must publish and lose nothing.
    let importers: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let file = write(&tmp.path().join(format!("in-{i}.txt")), input);
            let cache = tmp.path().join(format!("machine-{i}"));
            Command::new(crate::support::bin())
                .args(["ingest", "-q", file.to_str().unwrap()])
                .args([
                    "--data",
                    &bucket.url,
                    "--cache-dir",
                    cache.to_str().unwrap(),
                ])
                .envs(bucket.env())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for importer in importers {
        let out = importer.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let model = merge(
        &model_of_hash_lines(&inputs[0], 40),
        &model_of_hash_lines(&inputs[1], 40),
    );
    let reader = tmp.path().join("reader");
    let stats = bucket.leakwatch(&reader, &["stats"]);
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(
        stats.contains("generation 2") && stats.contains("sources 2"),
        "{stats}"
    );
    let replica = bucket.replica(&reader);
    for prefix in prefixes(&model).iter().take(400) {
        let (status, _, body) = range(&replica.addr, prefix);
        assert_eq!(status, 200);
        assert_eq!(
            body,
            model_range(&model, prefix).join("\r\n").as_bytes(),
            "{prefix}"
        );
    }
}

fn stats_verify_compact_forget_backup_and_restore_work_on_a_store_in_a_bucket() {
    use crate::support::{Dump, gen_dump, leakwatch, model_of_dump};
    let bucket = Bucket::new("upkeep");
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("machine");
    let run = |args: &[&str]| bucket.run(&cache, args);
    // Two dumps into one breach and two password corpora: two segments of each.
    run(&[
        "breach",
        "add",
        "--name",
        "Dumpbank",
        "--breach-date",
        "2024-01-02",
    ]);
    let mut emails = std::collections::BTreeSet::new();
    for seed in [11, 12] {
        let dump = gen_dump(Dump::Combo(':'), 1_500, seed, "0");
        emails.extend(
            model_of_dump(&dump, Dump::Combo(':'))
                .distinct_emails()
                .into_iter()
                .cloned(),
        );
        let file = write(&tmp.path().join(format!("dump-{seed}.txt")), &dump);
        let f = file.to_str().unwrap();
        run(&[
            "ingest", "-q", "--breach", "Dumpbank", "--format", "combo", f,
        ]);
    }
    for seed in [21, 22] {
        let file = write(
            &tmp.path().join(format!("sha1-{seed}.txt")),
            &generate(GenFormat::Sha1, 2_000, seed),
        );
        run(&["ingest", "-q", file.to_str().unwrap()]);
    }
    let stats = run(&["stats"]);
    assert!(stats.contains("sha1: 4 segments"), "{stats}");
    assert!(stats.contains("account: 2 segments"), "{stats}");
    assert!(stats.contains("aliases: 2 files"), "{stats}");
    run(&["verify"]);
    let emails: Vec<String> = emails.into_iter().step_by(97).collect();
    assert!(emails.len() > 10);
    let check = |email: &str| run(&["check", "account", email]);
    let before: Vec<String> = emails.iter().map(|e| check(e)).collect();
    assert!(before.iter().all(|a| a.contains("Dumpbank")), "{before:?}");

    // Compacted in the bucket: one segment of each kind, the same answers.
    run(&["compact"]);
    let stats = run(&["stats"]);
    assert!(stats.contains("sha1: 1 segments"), "{stats}");
    assert!(stats.contains("account: 1 segments"), "{stats}");
    assert!(stats.contains("aliases: 1 files"), "{stats}");
    let after: Vec<String> = emails.iter().map(|e| check(e)).collect();
    assert_eq!(after, before);

    // Forgotten in the bucket: never answered again, from this machine or another.
    let gone = &emails[0];
    run(&["forget", gone]);
    assert!(check(gone).contains("not found"), "{}", check(gone));
    let other = tmp.path().join("other-machine");
    let out = bucket.leakwatch(&other, &["check", "account", gone]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("not found"));
    run(&["verify"]);

    // Backed up from the bucket, restored into a local directory: the same answers.
    let backup = tmp.path().join("backup");
    run(&["backup", backup.to_str().unwrap()]);
    let restored = tmp.path().join("restored");
    let restored_data = restored.to_str().unwrap();
    leakwatch(
        &["restore", "--data", restored_data, backup.to_str().unwrap()],
        None,
    );
    let check_restored = |email: &str| {
        // With the operator key, as `run` has it: the answer then lists pastes too.
        let out = crate::support::with_key(
            &["check", "account", "--data", restored_data, email],
            crate::support::OPERATOR_KEY,
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for (email, want) in emails.iter().zip(&before).skip(1) {
        assert_eq!(&check_restored(email), want, "{email}");
    }
    assert!(check_restored(gone).contains("not found"));
}
