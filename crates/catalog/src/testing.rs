//! A real PostgreSQL server for tests (feature `testing`): Debian's PostgreSQL 15 binaries
//! (`/usr/lib/postgresql/N/bin`, or `LEAKWATCH_PG_BIN`), one cluster per test process in a
//! temporary directory, on a free loopback port, stopped with the process (its parent-death
//! signal). As root (CI is) the server runs as the `postgres` user, which the Debian package
//! creates. Without the binaries the tests that need them skip, except under CI (`CI` set),
//! where that is a failure.
//!
//! Roles: `leakwatch` logs in from loopback without a password (`trust`, for tests in one
//! process, which cannot set a password variable safely), `leakwatch_pw` only with the
//! password [`Postgres::PASSWORD`] (`scram-sha-256`, for the password-file path).
//!
//! TLS: where the openssl CLI runs, the server also speaks TLS with a certificate for
//! 127.0.0.1 from a private CA made for the process ([`Postgres::ca`]); `leakwatch_tls` may
//! log in only over TLS (`hostssl`).

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The process's PostgreSQL server.
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    dir: PathBuf,
    ca: Option<PathBuf>,
}

/// A private CA and a server certificate for 127.0.0.1 it signed (EC P-256), made in `dir`
/// with the openssl CLI: (`ca.pem`, `server.pem`, `server.key`); none without openssl. For
/// every loopback TLS server of the tests (PostgreSQL here; SMTP, HTTPS and mirrors in the
/// CLI's).
pub fn private_ca(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .ok()?;
    let made = run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-days",
            "2",
            "-subj",
            "/CN=leakwatch test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    ]
    .concat())
        && run(&[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        ]
        .concat())
        && run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ]);
    made.then(|| {
        (
            dir.join("ca.pem"),
            dir.join("server.pem"),
            dir.join("server.key"),
        )
    })
}

/// [`private_ca`] in `root` for the PostgreSQL server: its key private (0600) and owned by
/// the server's user; none without openssl (a failure under CI).
fn certificates(root: &Path, user: Option<(u32, u32)>) -> Option<(PathBuf, PathBuf)> {
    let Some((_, cert, key)) = private_ca(root) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the openssl CLI (the PostgreSQL TLS tests' CA)"
        );
        return None;
    };
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).ok()?;
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&key, Some(uid), Some(gid)).ok()?;
    }
    Some((cert, key))
}

/// The process's server, started on first use; `None` where PostgreSQL is not installed
/// outside CI.
pub fn postgres() -> Option<&'static Postgres> {
    static SERVER: OnceLock<Option<Postgres>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let Some(bin) = bin_dir() else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must have PostgreSQL (apt-get install postgresql-15)"
                );
                eprintln!("SKIPPED: no PostgreSQL binaries (apt-get install postgresql-15)");
                return None;
            };
            Some(start(&bin))
        })
        .as_ref()
}

/// Whether PostgreSQL's server binaries are here (nothing is started).
pub fn installed() -> bool {
    bin_dir().is_some()
}

/// Where `initdb` and `postgres` are.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LEAKWATCH_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// The `postgres` user's uid and gid, when this process is root (the server refuses root).
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Removes the clusters of earlier test processes that are gone.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("leakwatch-pg-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn as_server_user(command: &mut Command, user: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
}

fn start(bin: &Path) -> Postgres {
    remove_stale(&std::env::temp_dir());
    let root = std::env::temp_dir().join(format!("leakwatch-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let dir = root.join("data");
    let user = server_user();
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
    }
    let log_path = root.join("postgres.log");
    let log = std::fs::File::create(&log_path).unwrap();
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&log_path, Some(uid), Some(gid)).unwrap();
    }
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&dir)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--data-checksums",
            "--no-sync",
        ])
        .args(["-E", "UTF8", "--locale=C.UTF-8"])
        .stdout(Stdio::null())
        .stderr(log.try_clone().unwrap());
    as_server_user(&mut initdb, user);
    let status = initdb.status().expect("run initdb");
    assert!(
        status.success(),
        "initdb failed: see {}",
        log_path.display()
    );
    // The password role first: pg_hba.conf takes the first line that matches.
    std::fs::write(
        dir.join("pg_hba.conf"),
        "local all postgres trust\n\
         hostssl all leakwatch_tls 127.0.0.1/32 trust\n\
         hostnossl all leakwatch_tls 127.0.0.1/32 reject\n\
         host all leakwatch_pw 127.0.0.1/32 scram-sha-256\n\
         host all all 127.0.0.1/32 trust\n",
    )
    .unwrap();
    let tls = certificates(&root, user);
    let ca = tls.is_some().then(|| root.join("ca.pem"));
    let port = free_port();
    let (tx, rx) = std::sync::mpsc::channel();
    let server_dir = dir.clone();
    std::thread::spawn(move || {
        let mut command = Command::new(bin_dir().unwrap().join("postgres"));
        command
            .arg("-D")
            .arg(&server_dir)
            .arg("-p")
            .arg(port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", server_dir.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=200"])
            .args(tls.iter().flat_map(|(cert, key)| {
                [
                    "-c".to_owned(),
                    "ssl=on".to_owned(),
                    "-c".to_owned(),
                    format!("ssl_cert_file={}", cert.display()),
                    "-c".to_owned(),
                    format!("ssl_key_file={}", key.display()),
                ]
            }))
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        as_server_user(&mut command, user);
        // SAFETY: the closure only calls prctl(2), which is async-signal-safe, between fork
        // and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command.spawn().expect("start postgres");
        tx.send(()).unwrap();
        // The parent-death signal fires when this thread ends: it waits as long as the
        // server runs.
        let _ = child.wait();
    });
    rx.recv().unwrap();
    let server = Postgres {
        port,
        dir: root,
        ca,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match server.superuser() {
            Ok(mut c) => {
                c.batch_execute(&format!(
                    "CREATE ROLE leakwatch LOGIN CREATEDB;
                     CREATE ROLE leakwatch_tls LOGIN CREATEDB;
                     CREATE ROLE leakwatch_pw LOGIN CREATEDB PASSWORD '{}';",
                    Postgres::PASSWORD
                ))
                .unwrap();
                break;
            }
            Err(e) => assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start ({e}): see {}",
                log_path.display()
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

impl Postgres {
    /// The password of the role `leakwatch_pw`.
    pub const PASSWORD: &'static str = "correct horse battery staple";

    /// The server's loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The private CA that signed the server's TLS certificate, where the server has TLS.
    pub fn ca(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// The directory of the cluster and its log (`postgres.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A connection as the superuser.
    pub fn superuser(&self) -> Result<postgres::Client, postgres::Error> {
        self.connect_as("postgres", "postgres")
    }

    /// A connection as role `user` (one that logs in without a password) to database `db`.
    pub fn connect_as(&self, user: &str, db: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .dbname(db)
            .connect_timeout(Duration::from_secs(5))
            .connect(postgres::NoTls)
    }

    /// Creates database `name` (owned by `owner`, one of the roles above) and returns its URL
    /// for that role (no password in it).
    pub fn new_database(&self, name: &str, owner: &str) -> String {
        let mut c = self.superuser().unwrap();
        // Two statements: neither may run inside a transaction block, as one batch does.
        c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE \"{name}\" OWNER {owner}"))
            .unwrap();
        format!("postgres://{owner}@127.0.0.1:{}/{name}", self.port)
    }
}
