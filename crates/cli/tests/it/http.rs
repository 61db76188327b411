//! The range API: in-process through `app()`, and over a real socket against the binary.

use std::{io::Read, sync::Arc};

use leakwatch_gen::GenFormat;
use leakwatch_ingest::{IngestOptions, Source};
use leakwatch_store::{Directory, MmapDirectory, StoreWriter};

use crate::support::*;

use crate::harness::{Need, Test};

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(async range_answers_exactly_with_hibp_headers),
        test!(async ntlm_mode_has_27_hex_suffixes),
        test!(async bad_requests_get_400_with_a_reason),
        test!(async padding_adds_zero_count_entries_up_to_800_to_1000),
        test!(async etag_gives_304_and_gzip_and_brotli_are_served_on_request),
        test!(async health_readiness_and_metrics),
        test!(async a_published_import_is_served_without_restart),
        test!(served_over_a_socket_by_the_binary),
        test!(async(2) slow_oversized_and_surplus_clients_are_cut_off_per_connection),
        test!(served_over_https_with_the_given_certificate).needs(&[Need::Openssl]),
        test!(the_access_log_names_routes_never_values),
        test!(a_running_import_shows_in_the_metrics_until_it_ends),
    ]
}

struct Fixture {
    _tmp: tempfile::TempDir,
    data: std::path::PathBuf,
    sha1: Model,
    ntlm: Model,
}

/// A store of generated SHA-1 lines plus a plaintext list (which also fills NTLM).
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let hashes = generate(GenFormat::Sha1, 50_000, 5);
    let plain = generate(GenFormat::Plain, 20_000, 6);
    let dir: Arc<dyn Directory> = Arc::new(MmapDirectory::open(data.join("store")).unwrap());
    let mut w = StoreWriter::open(dir).unwrap();
    let mut opts = IngestOptions::new(&data);
    opts.progress = false;
    for (name, bytes) in [("h.txt", &hashes), ("p.txt", &plain)] {
        let f = write(&tmp.path().join(name), bytes);
        leakwatch_ingest::ingest(&mut w, &Source::File(f), &opts).unwrap();
    }
    let (ps, pn) = model_of_plain(&plain);
    Fixture {
        sha1: merge(&model_of_hash_lines(&hashes, 40), &ps),
        ntlm: pn,
        data,
        _tmp: tmp,
    }
}

fn lines(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(!text.ends_with('\n'), "no newline after the last line");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "lines are CRLF-separated"
    );
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn range_answers_exactly_with_hibp_headers() {
    let f = fixture();
    let state = app_state(&f.data);
    // "password" is in the generated list, so 5BAA6 is non-empty; check a spread of others.
    for prefix in ["5BAA6", "00000", "FFFFF", "7C4A8", "ABCDE", "12345"] {
        let (status, headers, body) = get(&state, &format!("/range/{prefix}"), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(lines(&body), model_range(&f.sha1, prefix), "{prefix}");
        assert_eq!(headers["content-type"], "text/plain");
        assert_eq!(headers["cache-control"], "public, max-age=2678400");
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert!(headers.contains_key("etag") && headers.contains_key("last-modified"));
    }
    let (_, _, body) = get(&state, "/range/5BAA6", &[]).await;
    assert!(
        lines(&body)
            .iter()
            .any(|l| l.starts_with("1E4C9B93F3F0682250B6CF8331B7EE68FD8:"))
    );
    // Lower-case prefixes are the same range.
    let (_, _, lower) = get(&state, "/range/5baa6", &[]).await;
    assert_eq!(lower, body);
}

async fn ntlm_mode_has_27_hex_suffixes() {
    let f = fixture();
    let state = app_state(&f.data);
    for prefix in ["8846F", "32ED8", "00000"] {
        let (status, _, body) = get(&state, &format!("/range/{prefix}?mode=ntlm"), &[]).await;
        assert_eq!(status, 200);
        let got = lines(&body);
        assert_eq!(got, model_range(&f.ntlm, prefix));
        assert!(got.iter().all(|l| l.split(':').next().unwrap().len() == 27));
    }
    let (_, _, body) = get(&state, "/range/8846F?mode=ntlm", &[]).await;
    assert!(
        lines(&body)
            .iter()
            .any(|l| l.starts_with("7EAEE8FB117AD06BDD830B7586C:")),
        "NTLM of 'password'"
    );
}

async fn bad_requests_get_400_with_a_reason() {
    let f = fixture();
    let state = app_state(&f.data);
    for uri in [
        "/range/5BAA",
        "/range/5BAA61",
        "/range/GGGGG",
        "/range/5BAA6?mode=md5",
    ] {
        let (status, headers, body) = get(&state, uri, &[]).await;
        assert_eq!(status, 400, "{uri}");
        assert_eq!(headers["content-type"], "text/plain");
        let text = String::from_utf8(body).unwrap();
        assert!(
            !text.is_empty() && !text.contains('\n'),
            "one-line reason: {text:?}"
        );
    }
    let (status, _, body) = get(&state, "/range/XYZ", &[]).await;
    assert_eq!(
        (status, body.as_slice()),
        (400, &b"The hash prefix was not in a valid format"[..])
    );
    assert_eq!(get(&state, "/nope", &[]).await.0, 404);
}

async fn padding_adds_zero_count_entries_up_to_800_to_1000() {
    let f = fixture();
    let state = app_state(&f.data);
    let real = model_range(&f.sha1, "5BAA6");
    let mut sizes = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let (_, _, body) = get(&state, "/range/5BAA6", &[("Add-Padding", "true")]).await;
        let all = lines(&body);
        assert!((800..=1000).contains(&all.len()), "{}", all.len());
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, all, "padded answer is sorted");
        let kept: Vec<String> = all.iter().filter(|l| !l.ends_with(":0")).cloned().collect();
        assert_eq!(kept, real, "real entries unchanged");
        assert!(
            all.iter()
                .all(|l| l.len() >= 37 && l.split(':').next().unwrap().len() == 35)
        );
        sizes.insert(all.len());
    }
    assert!(sizes.len() > 1, "padding size is random: {sizes:?}");
}

async fn etag_gives_304_and_gzip_and_brotli_are_served_on_request() {
    let f = fixture();
    let state = app_state(&f.data);
    let (_, headers, body) = get(&state, "/range/5BAA6", &[]).await;
    let etag = headers["etag"].to_str().unwrap().to_string();
    let (status, h304, b304) = get(&state, "/range/5BAA6", &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(b304.is_empty());
    assert_eq!(h304["etag"].to_str().unwrap(), etag);
    assert_eq!(
        get(&state, "/range/5BAA6", &[("If-None-Match", "\"other\"")])
            .await
            .0,
        200
    );
    let (_, other, _) = get(&state, "/range/5BAA7", &[]).await;
    assert_ne!(
        other["etag"], headers["etag"],
        "ETags differ between ranges"
    );

    // A range of a few lines goes plain (gzip's framing would be most of it); a padded one
    // (800+ lines) is compressed, and decodes to the real lines plus count-0 padding.
    let (status, small_headers, small) =
        get(&state, "/range/5BAA6", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(status, 200);
    assert!(body.len() < 512 && small_headers.get("content-encoding").is_none());
    assert_eq!(small, body);
    let real_lines = |plain: &[u8]| -> Vec<u8> {
        let text = String::from_utf8(plain.to_vec()).unwrap();
        let real: Vec<&str> = text.split("\r\n").filter(|l| !l.ends_with(":0")).collect();
        real.join("\r\n").into_bytes()
    };
    let padded = [("Add-Padding", "true")];
    let (status, gz_headers, gz) = get(
        &state,
        "/range/5BAA6",
        &[padded[0], ("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(gz_headers["content-encoding"], "gzip");
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(real_lines(&plain), body);
    let (_, br_headers, br) = get(
        &state,
        "/range/5BAA6",
        &[padded[0], ("Accept-Encoding", "br")],
    )
    .await;
    assert_eq!(br_headers["content-encoding"], "br");
    let mut plain = Vec::new();
    brotli::Decompressor::new(&br[..], 4096)
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(real_lines(&plain), body);
    // Other large answers are compressed by their handlers too; small ones go plain.
    let (_, spec_plain_headers, spec) = get(&state, "/openapi.json", &[]).await;
    assert!(spec_plain_headers.get("content-encoding").is_none());
    let (_, spec_headers, spec_gz) =
        get(&state, "/openapi.json", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(spec_headers["content-encoding"], "gzip");
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&spec_gz[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, spec);
    let (_, spec_headers, spec_br) =
        get(&state, "/openapi.json", &[("Accept-Encoding", "br")]).await;
    assert_eq!(spec_headers["content-encoding"], "br");
    assert_eq!(spec_headers["vary"], "Accept-Encoding");
    let mut plain = Vec::new();
    brotli::Decompressor::new(&spec_br[..], 4096)
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, spec);
    let (status, ready_headers, _) = get(&state, "/readyz", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(status, 200);
    assert!(
        ready_headers.get("content-encoding").is_none(),
        "tiny answers go plain"
    );
}

async fn health_readiness_and_metrics() {
    let f = fixture();
    let state = app_state(&f.data);
    assert_eq!(get(&state, "/healthz", &[]).await.0, 200);
    let (status, _, body) = get(&state, "/readyz", &[]).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(body).unwrap().contains("generation 2"));
    get(&state, "/range/5BAA6", &[]).await;
    get(&state, "/range/zzzzz", &[]).await;
    assert_eq!(get(&state, "/no/such/page", &[]).await.0, 404);
    let text = get_metrics(&state).await;
    assert!(
        text.contains("leakwatch_http_requests_total{route=\"unmatched\",status=\"404\"} 1"),
        "{text}"
    );
    // Metrics are served only on the metrics listener (issue #18, finding 7).
    assert_eq!(get(&state, "/metrics", &[]).await.0, 404);
    // The latency histogram counts both range requests, cumulatively, ending at +Inf.
    let buckets: Vec<u64> = text
        .lines()
        .filter(|l| {
            l.starts_with(
                "leakwatch_http_request_duration_seconds_bucket{route=\"/range/{prefix}\"",
            )
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 13, "{text}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(buckets.last(), Some(&2));
    assert!(
        text.contains("leakwatch_http_request_duration_seconds_count{route=\"/range/{prefix}\"} 2")
    );
    assert!(
        text.contains("leakwatch_http_requests_total{route=\"/range/{prefix}\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("leakwatch_http_requests_total{route=\"/range/{prefix}\",status=\"400\"} 1")
    );
    assert!(text.contains("leakwatch_store_generation 2"));
    assert!(
        !text.contains("5BAA6") && !text.to_lowercase().contains("zzzzz"),
        "queried values never in metrics"
    );
}

async fn a_published_import_is_served_without_restart() {
    let f = fixture();
    let state = app_state(&f.data);
    let before = get(&state, "/range/5BAA6", &[]).await.2;
    let tmp = tempfile::tempdir().unwrap();
    let extra = write(
        &tmp.path().join("x.txt"),
        b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:5\n",
    );
    ingest_quiet(f.data.to_str().unwrap(), extra.to_str().unwrap());
    assert!(state.store.reload_if_changed().unwrap());
    let after = get(&state, "/range/5BAA6", &[]).await.2;
    assert_ne!(before, after);
    let want = f.sha1["5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"] + 5;
    assert!(lines(&after).contains(&format!("1E4C9B93F3F0682250B6CF8331B7EE68FD8:{want}")));
}

/// The real binary over a real socket: answers, hot reload, and a clean exit on SIGTERM.
fn served_over_a_socket_by_the_binary() {
    let f = fixture();
    let server = Server::start(&f.data);
    for i in 0..300u32 {
        let prefix = format!("{:05X}", i.wrapping_mul(2_654_435_761) & 0xFFFFF);
        let (status, headers, body) = http_get(&server.addr, &format!("/range/{prefix}"), &[]);
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "text/plain");
        assert_eq!(lines(&body), model_range(&f.sha1, &prefix), "{prefix}");
    }
    let (status, _, body) = http_get(&server.addr, "/range/5baa6?mode=ntlm", &[]);
    assert_eq!((status, lines(&body)), (200, model_range(&f.ntlm, "5BAA6")));

    // A new import shows up without a restart.
    let tmp = tempfile::tempdir().unwrap();
    let extra = write(
        &tmp.path().join("x.txt"),
        b"0000000000000000000000000000000000000000:77\n",
    );
    ingest_quiet(f.data.to_str().unwrap(), extra.to_str().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, _, body) = http_get(&server.addr, "/range/00000", &[]);
        if lines(&body).contains(&"00000000000000000000000000000000000:77".to_string()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "new generation not served within 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // SIGTERM: graceful shutdown, exit status 0.
    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

/// Starts `serve` on a loopback port with `limits`; the server stops when the sender drops.
async fn serve_with(
    f: &Fixture,
    limits: leakwatch_api::ServerLimits,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut state = Arc::try_unwrap(app_state(&f.data)).expect("fresh state");
    state.limits = limits;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(leakwatch_api::serve(listener, Arc::new(state), async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// What a raw client reads before the server closes or `wait` passes; `None` if the
/// connection was still open, silent, after `wait`.
fn read_until_close(
    stream: &mut std::net::TcpStream,
    wait: std::time::Duration,
) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(_) if got.is_empty() => return None,
            Err(_) => return Some(got),
        }
    }
}

async fn slow_oversized_and_surplus_clients_are_cut_off_per_connection() {
    use std::{io::Write, net::TcpStream, time::Duration};
    let f = fixture();
    let limits = leakwatch_api::ServerLimits {
        header_read_timeout: Duration::from_millis(300),
        max_header_bytes: 8192,
        ..Default::default()
    };
    let (addr, _stop) = serve_with(&f, limits).await;
    tokio::task::spawn_blocking(move || {
        // Headers larger than the limit: 431, then the connection closes.
        let mut big = TcpStream::connect(addr).unwrap();
        let filler = "a".repeat(20_000);
        let _ = write!(
            big,
            "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: {filler}\r\n\r\n"
        );
        let answer = read_until_close(&mut big, Duration::from_secs(10)).expect("closed");
        assert!(
            answer.starts_with(b"HTTP/1.1 431"),
            "{}",
            String::from_utf8_lossy(&answer)
        );

        // Half a request line, then silence: closed by the header read timeout.
        let mut slow = TcpStream::connect(addr).unwrap();
        slow.write_all(b"GET /heal").unwrap();
        let answer = read_until_close(&mut slow, Duration::from_secs(10));
        assert!(
            answer.is_some(),
            "a client that never finishes its headers is not cut off"
        );
        assert!(!answer.unwrap().starts_with(b"HTTP/1.1 200"));

        // Idle between keep-alive requests: closed too.
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let answer =
            read_until_close(&mut idle, Duration::from_secs(10)).expect("closed when idle");
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    })
    .await
    .unwrap();

    // One connection at most: a second client is not served while the first is open.
    let limits = leakwatch_api::ServerLimits {
        max_connections: 1,
        header_read_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let (addr, _stop) = serve_with(&f, limits).await;
    tokio::task::spawn_blocking(move || {
        let request = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
        let mut first = TcpStream::connect(addr).unwrap();
        first.write_all(request).unwrap();
        let mut buf = [0u8; 512];
        let n = first.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        let mut second = TcpStream::connect(addr).unwrap();
        second.write_all(request).unwrap();
        assert_eq!(
            read_until_close(&mut second, Duration::from_millis(500)),
            None,
            "served beyond max_connections"
        );
        drop(first);
        second
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let n = second.read(&mut buf).unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "served once the first closed"
        );
    })
    .await
    .unwrap();
}

/// `serve --tls-cert --tls-key`: HTTPS with a certificate from a private CA, checked by a
/// real client (ureq, rustls) that trusts only that CA.
fn served_over_https_with_the_given_certificate() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(tmp.path());
    let server = Server::start_with(
        &f.data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        server
            .log
            .lock()
            .unwrap()
            .contains("leakwatch serving https://")
    );
    let root = ureq::tls::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[root]))
                .build(),
        )
        .build()
        .into();
    let mut answer = agent
        .get(format!("https://{}/range/5BAA6", server.addr))
        .call()
        .unwrap();
    let body = answer.body_mut().read_to_vec().unwrap();
    assert_eq!(lines(&body), model_range(&f.sha1, "5BAA6"));
    // Plain HTTP on the TLS port gets no HTTP answer.
    let raw = std::panic::catch_unwind(|| http_raw(&server.addr, "GET", "/healthz", &[], b""))
        .unwrap_or_default();
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // A key that does not match the certificate is refused at start.
    let out = serve_command(&f.data)
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(tmp.path().join("ca.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS certificate and key"));
}

/// HTTP/2 (TLS, ALPN h2) has no header timeout between requests: a client that sends its
/// preface and settings and then nothing is closed after the header read timeout, like an
/// idle HTTP/1.1 client, instead of holding one of the open connections forever.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_http2_client_is_cut_off_like_an_idle_http1_one() {
    use std::{io::Write, process::Stdio, time::Duration};
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(tmp.path());
    let mut state = Arc::try_unwrap(app_state(&f.data)).expect("fresh state");
    state.limits = leakwatch_api::ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    state.tls = Some(leakwatch_api::tls_config(&cert, &key).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(leakwatch_api::serve(listener, Arc::new(state), async {
        let _ = stopped.await;
    }));
    tokio::task::spawn_blocking(move || {
        let mut client = std::process::Command::new("openssl")
            .args(["s_client", "-connect", &addr.to_string(), "-alpn", "h2"])
            .arg("-CAfile")
            .arg(&ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The HTTP/2 preface and an empty SETTINGS frame, then silence (stdin stays open).
        let mut stdin = client.stdin.take().unwrap();
        stdin
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .unwrap();
        stdin.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
        stdin.flush().unwrap();
        let started = std::time::Instant::now();
        let closed = loop {
            if client.try_wait().unwrap().is_some() {
                break true;
            }
            if started.elapsed() > Duration::from_secs(15) {
                let _ = client.kill();
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Text from openssl, then the server's binary HTTP/2 frames.
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut client.stdout.take().unwrap(), &mut out).unwrap();
        let out = String::from_utf8_lossy(&out);
        assert!(out.contains("ALPN protocol: h2"), "{out}");
        assert!(
            closed,
            "an idle HTTP/2 connection was still open after 15 s"
        );
        drop(stdin);
    })
    .await
    .unwrap();
}

/// `serve --access-log`: one event per request with the method, the route template, the
/// status and the latency, never the prefix or account asked for; as a human line or, with
/// `--log-format json`, as one JSON object per line with those fields.
fn the_access_log_names_routes_never_values() {
    let f = fixture();
    for format in ["human", "json"] {
        let server = Server::start_with(&f.data, &["--access-log", "--log-format", format], &[]);
        assert_eq!(http_get(&server.addr, "/range/5BAA6", &[]).0, 200);
        assert_eq!(http_get(&server.addr, "/range/zzzzz", &[]).0, 400);
        assert_eq!(http_get(&server.addr, "/no/such/page", &[]).0, 404);
        let account = "/api/v3/breachedaccount/someone%40example.test";
        assert_eq!(
            http_get(&server.addr, account, &[("User-Agent", "t")]).0,
            401
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while server.log.lock().unwrap().matches("latency_us").count() < 4 {
            assert!(
                std::time::Instant::now() < deadline,
                "{}",
                server.log.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let log = server.log.lock().unwrap().clone();
        let expected = [
            ("GET", "/range/{prefix}", 200),
            ("GET", "/range/{prefix}", 400),
            ("GET", "unmatched", 404),
            ("GET", "/api/v3/breachedaccount/{account}", 401),
        ];
        if format == "human" {
            for (method, route, status) in expected {
                let line = format!("method={method} route={route} status={status} latency_us=");
                assert!(log.contains(&line), "{line:?} not in {log}");
            }
        } else {
            // Every line is a JSON object; the access events carry the fields.
            let events: Vec<serde_json::Value> = log
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
            assert!(events.iter().any(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("leakwatch serving"))
            }));
            for (method, route, status) in expected {
                assert!(
                    events.iter().any(|e| e["method"] == method
                        && e["route"] == route
                        && e["status"] == status
                        && e["latency_us"].is_u64()),
                    "{method} {route} {status} not in {log}"
                );
            }
        }
        for value in ["5BAA6", "zzzzz", "someone", "no/such"] {
            assert!(!log.contains(value), "{value} in {log}");
        }
    }
}

/// A running import shows in the server's metrics — its phase, the lines it has read so far —
/// and stops showing when it ends; a status file left by a killed import counts as none.
fn a_running_import_shows_in_the_metrics_until_it_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let first = write(&tmp.path().join("p.txt"), b"hunter2\n");
    ingest_quiet(data.to_str().unwrap(), first.to_str().unwrap());
    let server = Server::start(&data);
    let idle = metrics_until(&server.metrics_addr, |_| true);
    assert_eq!(metric(&idle, "leakwatch_import_running"), Some(0.0));

    let written = 300_000u64;
    let (mut import, stdin) = running_import(&data, written);
    let busy = metrics_until(&server.metrics_addr, |t| {
        metric(t, "leakwatch_import_lines_read").is_some_and(|n| n > 0.0)
    });
    assert_eq!(metric(&busy, "leakwatch_import_running"), Some(1.0));
    assert!(
        busy.contains("leakwatch_import_phase{phase=\"reading\"} 1"),
        "{busy}"
    );
    let lines = metric(&busy, "leakwatch_import_lines_read").unwrap();
    assert!(
        lines <= written as f64,
        "{lines} lines read of {written} written"
    );
    drop(stdin);
    assert!(import.wait().unwrap().success());
    let done = metrics_until(&server.metrics_addr, |t| {
        metric(t, "leakwatch_import_running") == Some(0.0)
    });
    assert!(!done.contains("leakwatch_import_lines_read"), "{done}");

    // A killed import's status file: its process is gone, so no import runs.
    std::fs::write(
        data.join("import-status.json"),
        br#"{"pid":4194000,"started_unix":1,"updated_unix":1,"phase":"reading","lines":5,"bytes_read":9,"bytes_total":null}"#,
    )
    .unwrap();
    let stale = metrics_until(&server.metrics_addr, |_| true);
    assert_eq!(
        metric(&stale, "leakwatch_import_running"),
        Some(0.0),
        "{stale}"
    );
}
