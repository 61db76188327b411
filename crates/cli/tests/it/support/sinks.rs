//! Real servers on loopback that tests deliver to: an SMTP server (aiosmtpd,
//! `tests/py/smtp_sink.py`), a DNS server (dnslib's zone resolver) and a webhook receiver
//! (`tests/py/webhook_sink.py`), each recording what it got for the test to read back, each
//! stopped on drop. The tests that use them declare `Need::Aiosmtpd` / `Need::Dnslib`.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{free_port, write};

/// A real SMTP server on a loopback port, recording what it accepts; stopped on drop.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    out: PathBuf,
}

impl SmtpSink {
    /// Starts one; `None` (with a loud message) on a machine without aiosmtpd, except in CI
    /// (`CI` set), where `.ci/run` installs it and its absence fails the test.
    pub fn start(dir: &Path, fail_first: u32) -> SmtpSink {
        SmtpSink::start_slow(dir, fail_first, 0.0)
    }

    /// As [`SmtpSink::start`], holding each recipient `delay` seconds before accepting it.
    pub fn start_slow(dir: &Path, fail_first: u32, delay: f64) -> SmtpSink {
        SmtpSink::start_with(dir, &[fail_first.to_string(), delay.to_string()])
    }

    /// As [`SmtpSink::start`], speaking TLS (`starttls` or `implicit`) with this certificate.
    pub fn start_tls(dir: &Path, mode: &str, cert: &Path, key: &Path) -> SmtpSink {
        SmtpSink::start_with(
            dir,
            &[
                "0".into(),
                "0".into(),
                mode.into(),
                cert.display().to_string(),
                key.display().to_string(),
            ],
        )
    }

    fn start_with(dir: &Path, extra: &[String]) -> SmtpSink {
        SmtpSink::start_on(dir, free_port(), extra)
    }

    /// As [`SmtpSink::start`], on `port`.
    pub fn start_on(dir: &Path, port: u16, extra: &[String]) -> SmtpSink {
        let (child, port, out) =
            start_py_sink_on(port, "smtp_sink.py", &dir.join("smtp.jsonl"), extra);
        SmtpSink { child, port, out }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        json_lines(&self.out)
    }

    /// How many recipients clients have started to send to so far.
    pub fn rcpts(&self) -> usize {
        json_lines(&self.out.with_extension("jsonl.events")).len()
    }

    /// Waits until clients have started `n` recipients, then a little more (at most `secs`).
    pub fn wait_for_rcpts(&self, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.rcpts() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(self.rcpts() >= n, "no delivery under way");
    }

    /// Waits until `n` messages arrived (at most `secs`), then a little longer to catch any
    /// extra one; returns them all.
    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.messages().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(700));
        self.messages()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tests/py/SCRIPT PORT OUT EXTRA...` on a free loopback port and waits for its
/// "ready" line; returns the child, the port and OUT.
fn start_py_sink(script: &str, out: &Path, extra: &[String]) -> (Child, u16, PathBuf) {
    start_py_sink_on(free_port(), script, out, extra)
}

fn start_py_sink_on(
    port: u16,
    script: &str,
    out: &Path,
    extra: &[String],
) -> (Child, u16, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/py")
        .join(script);
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .arg(out)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "{} did not start", script.display());
    (child, port, out.to_path_buf())
}

/// The JSON lines a sink has written so far.
fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A real DNS server on loopback (dnslib's zone resolver) serving one zone file.
pub struct DnsServer {
    child: Child,
}

impl DnsServer {
    /// Serves `zone` on 127.0.0.1:`port`.
    pub fn start_on(dir: &Path, port: u16, zone: &str) -> DnsServer {
        let file = write(&dir.join("zone.txt"), zone.as_bytes());
        let child = Command::new("python3")
            .args(["-m", "dnslib.zoneresolver", "--zone"])
            .arg(&file)
            .args(["--port", &port.to_string(), "--address", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        // Ready once it answers (any answer; the test checks the content through leakwatch).
        let deadline = Instant::now() + Duration::from_secs(20);
        while leakwatch_service::dns::txt_records(
            addr.parse().unwrap(),
            "probe.test",
            Duration::from_millis(200),
        )
        .is_err()
        {
            assert!(Instant::now() < deadline, "the DNS server did not start");
        }
        DnsServer { child }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real webhook receiver on loopback (`tests/py/webhook_sink.py`) that checks each call's
/// signature with Python's hmac and records it.
pub struct WebhookSink {
    child: Child,
    pub port: u16,
    out: PathBuf,
}

impl WebhookSink {
    pub fn start(dir: &Path, secret: &str, fail_first: u32) -> WebhookSink {
        let (child, port, out) = start_py_sink(
            "webhook_sink.py",
            &dir.join("webhooks.jsonl"),
            &[secret.to_owned(), fail_first.to_string()],
        );
        WebhookSink { child, port, out }
    }

    pub fn calls(&self) -> Vec<serde_json::Value> {
        json_lines(&self.out)
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
