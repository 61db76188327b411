//! Shared test fixtures: running the binary, generated inputs, an independent reference model
//! of a store's content, a server child process, HTTP requests in-process and over a socket;
//! breach dumps and their model (`dumps.rs`); the real SMTP, DNS and webhook servers tests
//! deliver to (`sinks.rs`).

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use leakwatch_store::{MmapDirectory, Namespace, Snapshot};

mod dumps;
mod sinks;

pub use dumps::*;
pub use sinks::*;

/// Server state over the store and catalogue of a data directory, for in-process requests.
pub fn app_state(data: &Path) -> std::sync::Arc<leakwatch_api::AppState> {
    app_state_caching(data, leakwatch_api::DEFAULT_RANGE_CACHE)
}

/// [`app_state`] with a range cache of `budget` bytes (0: none).
pub fn app_state_caching(data: &Path, budget: u64) -> std::sync::Arc<leakwatch_api::AppState> {
    use leakwatch_api::{AppState, RangeCache, ServerLimits};
    use leakwatch_service::{CatalogHandle, StoreHandle};
    let catalog =
        CatalogHandle::new(leakwatch_catalog::Catalog::open(&data.join("catalog.db")).unwrap())
            .unwrap();
    let mut state = AppState::new(
        StoreHandle::open_in(&leakwatch_service::DataDir::new(data)).unwrap(),
        catalog,
        ServerLimits::default(),
    );
    state.range_cache = RangeCache::new(budget);
    std::sync::Arc::new(state)
}

/// The audit key every test process uses (`LEAKWATCH_AUDIT_KEY_FILE`, set by the harness).
pub const AUDIT_KEY: &str = "5d1c0ffee0ddba11c0de5eed5a1ad0b0e5ca1ab1ef00d5ea5b00b5cafe123456";

/// Writes [`AUDIT_KEY`] to a new private file (mode 0600) in a directory of its own, kept for
/// the test run, and returns its path.
pub fn audit_key_file() -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::Builder::new()
        .prefix("leakwatch-audit-key-")
        .tempdir()
        .expect("a temporary directory")
        .keep();
    let path = dir.join("audit.key");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("the audit key file");
    writeln!(file, "{AUDIT_KEY}").unwrap();
    path
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_leakwatch")
}

/// `leakwatch serve --data DATA` on loopback ports the kernel picks (API and metrics), for a
/// test that adds its own flags and environment and expects the server to refuse to start.
pub fn serve_command(data: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("serve").arg("--data").arg(data).args([
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    cmd
}

/// Runs `leakwatch ARGS` with optional stdin; panics with its stderr if it fails.
pub fn leakwatch(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let out = try_leakwatch(args, stdin);
    assert!(
        out.status.success(),
        "leakwatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `leakwatch ingest -q --data DATA FILE`, which must succeed.
pub fn ingest_quiet(data: &str, file: &str) -> Output {
    leakwatch(&["ingest", "-q", "--data", data, file], None)
}

pub fn try_leakwatch(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn leakwatch");
    if let Some(input) = stdin {
        let mut s = child.stdin.take().unwrap();
        s.write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Generated input bytes.
pub fn generate(format: leakwatch_gen::GenFormat, count: u64, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    leakwatch_gen::write_passwords(&mut out, format, count, seed).unwrap();
    out
}

/// Upper-case full hex hash -> summed count: what a store should hold for a namespace.
pub type Model = BTreeMap<String, u64>;

/// The reference model of `HASH:COUNT` text, parsed with nothing from leakwatch.
pub fn model_of_hash_lines(text: &[u8], hex_len: usize) -> Model {
    let mut m = Model::new();
    for line in String::from_utf8_lossy(text).lines() {
        let line = line.trim();
        if let Some((h, c)) = line.split_once(':')
            && h.len() == hex_len
            && h.chars().all(|c| c.is_ascii_hexdigit())
            && let Ok(c) = c.parse::<u64>()
            && c > 0
        {
            *m.entry(h.to_ascii_uppercase()).or_default() += c;
        }
    }
    m
}

/// The reference model of a plaintext list: SHA-1 and NTLM of each line, counted, computed
/// with the sha1/md4 crates directly.
pub fn model_of_plain(text: &[u8]) -> (Model, Model) {
    use sha1::Digest;
    let (mut s, mut n) = (Model::new(), Model::new());
    for line in String::from_utf8_lossy(text).lines() {
        if line.is_empty() {
            continue;
        }
        let sha: String = sha1::Sha1::digest(line.as_bytes())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let utf16: Vec<u8> = line.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let ntlm: String = md4::Md4::digest(&utf16)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        *s.entry(sha).or_default() += 1;
        *n.entry(ntlm).or_default() += 1;
    }
    (s, n)
}

pub fn merge(a: &Model, b: &Model) -> Model {
    let mut m = a.clone();
    for (k, v) in b {
        *m.entry(k.clone()).or_default() += v;
    }
    m
}

/// Everything a store answers for a namespace, read through a fresh snapshot.
pub fn store_model(data: &Path, ns: Namespace) -> Model {
    let dir = MmapDirectory::open(data.join("store")).unwrap();
    let snap = Snapshot::open(&dir).unwrap();
    let mut m = Model::new();
    for seg in snap.segments(ns) {
        for item in seg.iter() {
            let (k, c) = item.unwrap();
            *m.entry(k.to_hex(ns)).or_default() += c;
        }
    }
    m
}

/// The lines a range answer must hold for `prefix`: `SUFFIX:COUNT`, sorted.
pub fn model_range(m: &Model, prefix: &str) -> Vec<String> {
    m.range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, c)| format!("{}:{c}", &k[5..]))
        .collect()
}

pub fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// A `leakwatch serve` child on an ephemeral loopback port; killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    /// Where its metrics listener answers `/metrics`.
    pub metrics_addr: String,
    /// Everything the server has written to stderr so far.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Server::start_with(data, &[], &[])
    }

    /// `leakwatch serve` with extra arguments and environment (on an ephemeral port unless
    /// they say `--listen`).
    pub fn start_with(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let listen: &[&str] = if args.contains(&"--listen") {
            &[]
        } else {
            &["--listen", "127.0.0.1:0"]
        };
        let metrics: &[&str] = if args.contains(&"--metrics-listen") {
            &[]
        } else {
            &["--metrics-listen", "127.0.0.1:0"]
        };
        // A store on object storage names itself (`--data s3://… --cache-dir …`).
        let data_arg: &[&str] = if args.contains(&"--data") {
            &[]
        } else {
            &["--data", data.to_str().unwrap()]
        };
        let mut child = Command::new(bin())
            .arg("serve")
            .args(data_arg)
            .args(listen)
            .args(metrics)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut line = String::new();
        let mut metrics_addr = String::new();
        let addr = loop {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "server exited before listening: {}",
                log.lock().unwrap()
            );
            log.lock().unwrap().push_str(&line);
            if let Some(rest) = line.split("metrics at http://").nth(1) {
                metrics_addr = rest.split('/').next().unwrap().to_string();
            }
            if let Some(rest) = line.split("leakwatch serving ").nth(1) {
                let rest = rest.split("://").nth(1).unwrap();
                break rest.split('/').next().unwrap().to_string();
            }
        };
        // Keep draining stderr so the child never blocks on a full pipe.
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                kept.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Server {
            child,
            addr,
            metrics_addr,
            log,
        }
    }
}

impl Server {
    /// Waits (up to a minute) until the server has the store's newest generation local (or
    /// knows there is none): a replica of an object store listens before, and says on
    /// `/readyz` that it is still downloading.
    pub fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let downloading = |(status, _, body): (u16, BTreeMap<String, String>, Vec<u8>)| {
            status == 503 && String::from_utf8_lossy(&body).contains("still downloading")
        };
        while downloading(http_get(&self.addr, "/readyz", &[])) {
            assert!(
                std::time::Instant::now() < deadline,
                "the server was not ready after 60 s: {}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server as an init system does (SIGTERM), so it finishes and writes what
    /// it holds (the audit log's last records, the limiter's state), and waits for it.
    pub fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET over a real socket: (status, lower-cased headers, body).
pub fn http_get(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    parse_response(&http_raw(addr, "GET", path, headers, b""))
}

/// One request over a fresh connection (closed after it); the raw response bytes.
pub fn http_raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    http_raw_within(addr, method, path, headers, body, Duration::from_secs(10))
}

/// [`http_raw`] for an answer that may take up to `wait` (one that does many DNS lookups,
/// on a machine running the other tests beside it).
pub fn http_raw_within(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    wait: Duration,
) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    raw
}

/// (status, lower-cased headers, body) of a raw HTTP/1.1 response.
pub fn parse_response(raw: &[u8]) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut map = BTreeMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            map.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if map.get("transfer-encoding").is_some_and(|v| v == "chunked") {
        body = dechunk(&body);
    }
    (status, map, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

/// A GET through the router in-process (no socket) with these headers: status, headers, body.
pub async fn get(
    state: &std::sync::Arc<leakwatch_api::AppState>,
    uri: &str,
    headers: &[(&str, &str)],
) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = leakwatch_api::app(state.clone())
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

/// `GET /metrics` through the metrics listener's router in-process: the text.
pub async fn get_metrics(state: &std::sync::Arc<leakwatch_api::AppState>) -> String {
    use tower::ServiceExt;
    let req = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = leakwatch_api::metrics_app(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

/// A loopback port nothing listens on (just now: bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private CA and a certificate it signed for 127.0.0.1, made with the openssl CLI:
/// (CA, certificate, key).
pub fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    leakwatch_catalog::testing::private_ca(dir).expect("the openssl CLI makes a private CA")
}

/// A tmpfs mounted for a test (a small disk that fills up); unmounted on drop.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `kib` KiB at `dir`; `None` where mounting is not allowed (not root).
    pub fn mount(dir: &Path, kib: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    /// Bytes in use on it, as `df` counts them (blocks, not file lengths).
    pub fn used_bytes(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=used"])
            .arg(&self.0)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().nth(1).unwrap().trim().parse().unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Every file under `dir` with its length, by relative path (directories left out).
pub fn file_listing(dir: &Path) -> BTreeMap<String, u64> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, u64>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, meta.len());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A `leakwatch ingest -` into `data` that has read `lines` generated SHA-1 lines (about 45
/// bytes each) from its standard input and waits for more: it runs until the returned
/// stdin is dropped. Its phase is `reading` meanwhile.
pub fn running_import(data: &Path, lines: u64) -> (Child, std::process::ChildStdin) {
    let mut child = Command::new(bin())
        .args(["ingest", "-q", "--format", "hibp", "--data"])
        .arg(data)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&generate(leakwatch_gen::GenFormat::Sha1, lines, 77))
        .unwrap();
    stdin.flush().unwrap();
    (child, stdin)
}

/// Polls `GET /metrics` until `done` holds for its text (at most 30 s); returns the text.
pub fn metrics_until(addr: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, body) = http_get(addr, "/metrics", &[]);
        let text = String::from_utf8(body).unwrap();
        if done(&text) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics never got there:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of an unlabelled metric in a Prometheus text page.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// Fails naming the first of `needles` found in clear in any file under `dir`.
pub fn assert_none_in_clear<'a>(dir: &Path, needles: impl IntoIterator<Item = &'a str> + Clone) {
    fn every_file(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                every_file(&path, out);
            } else if path.is_file() {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut stored = Vec::new();
    every_file(dir, &mut stored);
    assert!(!stored.is_empty(), "no file under {}", dir.display());
    for (path, bytes) in &stored {
        for needle in needles.clone() {
            assert!(
                memchr::memmem::find(bytes, needle.as_bytes()).is_none(),
                "{needle:?} in clear in {}",
                path.display()
            );
        }
    }
}

/// Runs a browser script of `tests/js` (`node SCRIPT BASE_URL SCREENSHOT_DIR EXPECT_JSON`:
/// Debian's Chromium driven by playwright-core), which must succeed; returns the one JSON line
/// it printed and the directory its screenshots (named `shots`, under the test target's
/// temporary directory) went to.
pub fn browser_script(
    script: &str,
    base_url: &str,
    shots: &str,
    tmp: &Path,
    expect: &serde_json::Value,
) -> (serde_json::Value, PathBuf) {
    let expect_file = write(&tmp.join("expect.json"), expect.to_string().as_bytes());
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(shots);
    let out = Command::new("node")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/js")
                .join(script),
        )
        .arg(base_url)
        .arg(&shots)
        .arg(&expect_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} failed in the browser:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    (report, shots)
}

/// `s` percent-encoded for a URL's query or a form body (every byte but RFC 3986's
/// unreserved ones).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A UDP port on loopback free a moment ago: where a test's DNS server will listen, known
/// before the server under test starts (its `--dns-resolver`).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
