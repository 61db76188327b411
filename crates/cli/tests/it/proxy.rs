//! Behind a load balancer (issue #21): with `serve --proxy-protocol-from`, the PROXY protocol
//! v2 header a trusted proxy (real HAProxy, `send-proxy-v2`) opens each connection with names
//! the client, and the audit trail records that client as the peer; nobody else's header is
//! believed, and a trusted proxy's connection without one is closed.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::Command,
    time::Duration,
};

use crate::harness::{Need, Test};
use crate::support::*;

/// This module's tests, for the harness (main.rs).
pub(crate) fn tests() -> Vec<Test> {
    vec![
        test!(behind_haproxy_the_audit_trail_records_the_client_named_by_the_proxy_protocol)
            .needs(&[Need::Haproxy]),
    ]
}

/// The address HAProxy connects to leakwatch from: another loopback address than the
/// client's (127.0.0.1), so the two cannot be confused.
const PROXY_SOURCE: &str = "127.0.0.9";

/// One raw exchange over `stream`: what the server answered before closing ("" if it closed
/// without a word).
fn exchange(mut stream: TcpStream, bytes: &[u8]) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}

fn behind_haproxy_the_audit_trail_records_the_client_named_by_the_proxy_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    crate::mail::load_breach(tmp.path(), &data, "Oldbank", &["ann@corp-one.test"]);
    let key = crate::keys::create_tenant_key(d, "analyst", "northwind");
    let server = Server::start_with(&data, &["--proxy-protocol-from", PROXY_SOURCE], &[]);
    let haproxy = crate::objstore::start_haproxy_with(
        tmp.path(),
        &[&server.addr],
        &format!("source {PROXY_SOURCE} send-proxy-v2 check-send-proxy"),
    );

    // Through HAProxy: the client's own address and port are the peer.
    let mut clients = Vec::new();
    for _ in 0..3 {
        let stream = TcpStream::connect(&haproxy.addr).unwrap();
        let client = stream.local_addr().unwrap().to_string();
        let request = format!(
            "GET /api/v3/breachedaccount/ann@corp-one.test HTTP/1.1\r\nHost: x\r\n\
             hibp-api-key: {key}\r\nUser-Agent: proxy-test\r\nConnection: close\r\n\r\n"
        );
        let answer = exchange(stream, request.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        clients.push(client);
    }

    // Straight to leakwatch from an untrusted address with a forged header claiming
    // 192.0.2.66: the header is not read, so the request is a bad one.
    let forged = {
        let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        h.extend_from_slice(&[192, 0, 2, 66, 127, 0, 0, 1, 0x1f, 0x90, 0x1f, 0x90]);
        h.extend_from_slice(
            format!(
                "GET /api/v3/breachedaccount/ann@corp-one.test HTTP/1.1\r\nHost: x\r\n\
                 hibp-api-key: {key}\r\nUser-Agent: proxy-test\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        h
    };
    let answer = exchange(TcpStream::connect(&server.addr).unwrap(), &forged);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");

    // From the trusted address without a header: closed, nothing answered. (std cannot bind
    // before connecting; python's socket can.)
    let out = Command::new("python3")
        .args([
            "-c",
            "import socket, sys\n\
             s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 10, (sys.argv[3], 0))\n\
             s.sendall(b'GET /range/00000 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n\
             try:\n    said = s.recv(100)\nexcept ConnectionResetError:\n    said = b''\n\
             print(repr(said))",
        ])
        .args(server.addr.rsplit_once(':').map(|(h, p)| [h, p]).unwrap())
        .arg(PROXY_SOURCE)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.trim() == "b''",
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(haproxy);
    server.stop();

    let peers: Vec<String> = crate::auditlog::show(&data, &[])
        .iter()
        .filter(|r| r["route"].as_str().is_some_and(|r| r.starts_with("/api/")))
        .map(|r| r["peer"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        peers, clients,
        "the requests through HAProxy, each by its client"
    );
}
