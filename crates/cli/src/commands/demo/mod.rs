//! `leakwatch demo`: a fictional world built once into a demo directory, then served with a
//! demo mailbox.
//!
//! The world is about twenty breaches of every kind (a retailer's insider breach, an
//! analytics vendor's breach that reaches its customers, a spam list, a sensitive, a
//! fabricated, a malware and a retired breach, a stealer-log set), 100,000 fictional people
//! spread over them, a password corpus, a paste, the tenant Example Corp with its verified
//! domain, five vendors and a few alert subscriptions. Everything is made the way an operator
//! would make it: each step is a `leakwatch` command line run by this same binary against the
//! demo's data directory, so each goes through the service layer as the operator and leaves
//! its audit record. Mail goes to a Maildir inside the demo directory, shown at
//! `/demo/mailbox` to loopback clients.
//!
//! The demo directory holds `data/` (the data directory), its own `operator.key` and
//! `audit.key` (0600), `mailbox/`, and `demo-version`: a directory built by another version
//! of the world is rebuilt. A directory that is neither empty nor a demo's is refused, never
//! removed.
//!
//! This module is the command and the demo directory (`DemoDir`: its parts, how it is
//! emptied, and how a step runs); `world.rs` is the world and how it is built.

mod world;

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context, Result};

use super::serve::{Serving, serve, start_logging};
use crate::flags::*;
use world::{TENANT, TRY_ADDRESSES, WORLD_VERSION, build_world};

/// The demo directory's parts.
struct DemoDir {
    root: PathBuf,
}

impl DemoDir {
    fn data(&self) -> PathBuf {
        self.root.join("data")
    }
    fn operator_key(&self) -> PathBuf {
        self.root.join("operator.key")
    }
    fn audit_key(&self) -> PathBuf {
        self.root.join("audit.key")
    }
    fn mailbox(&self) -> PathBuf {
        self.root.join("mailbox")
    }
    fn version(&self) -> PathBuf {
        self.root.join("demo-version")
    }
    /// The (empty) configuration file of the commands the demo runs: nothing of the
    /// caller's configuration reaches the demo.
    fn config(&self) -> PathBuf {
        self.root.join("demo.toml")
    }
    fn demo_key_id(&self) -> PathBuf {
        self.root.join("demo-key-prefix")
    }
    fn scratch(&self) -> PathBuf {
        self.root.join("scratch")
    }

    /// Whether the world in it is this build's.
    fn is_current(&self) -> bool {
        std::fs::read_to_string(self.version()).is_ok_and(|v| v.trim() == WORLD_VERSION)
    }

    /// Empties the directory for a new world: only what a demo (of any version) puts there
    /// is removed, and a directory holding anything else is refused.
    fn clear(&self) -> Result<()> {
        const OURS: [&str; 14] = [
            // This layout.
            "data",
            "operator.key",
            "audit.key",
            "mailbox",
            "demo-version",
            "demo-key-prefix",
            "demo.toml",
            "scratch",
            // Version 1 served the directory itself as its data directory.
            "store",
            "catalog.db",
            "tmp",
            "audit",
            "spill",
            "rejects",
        ];
        if !self.root.exists() {
            return Ok(());
        }
        let entries: Vec<_> = std::fs::read_dir(&self.root)
            .with_context(|| format!("reading {}", self.root.display()))?
            .collect::<std::io::Result<_>>()?;
        let foreign: Vec<String> = entries
            .iter()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !OURS.contains(&n.as_str()) && !n.starts_with("catalog.db"))
            .collect();
        anyhow::ensure!(
            foreign.is_empty(),
            "{} is not a demo directory (it holds {}): give `leakwatch demo --data` a new or empty directory",
            self.root.display(),
            foreign.join(", ")
        );
        for e in entries {
            let path = e.path();
            if e.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .with_context(|| format!("removing {}", path.display()))?;
        }
        Ok(())
    }

    /// This binary, run against the demo's data directory with the demo's keys and nothing
    /// of the caller's environment or configuration.
    fn leakwatch(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(std::env::current_exe().unwrap_or_else(|_| "leakwatch".into()));
        cmd.env_clear();
        for var in ["PATH", "HOME", "TMPDIR", "LANG"] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        cmd.env("LEAKWATCH_CONFIG", self.config())
            .env("LEAKWATCH_DATA", self.data())
            .env("LEAKWATCH_AUDIT_KEY_FILE", self.audit_key())
            .env("LEAKWATCH_OPERATOR_KEY_FILE", self.operator_key())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a `leakwatch` command line; its standard output, or an error with its standard
    /// error.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .leakwatch(args)
            .output()
            .with_context(|| format!("running leakwatch {}", args.join(" ")))?;
        anyhow::ensure!(
            out.status.success(),
            "leakwatch {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// `leakwatch demo`.
pub fn demo(
    data: Option<PathBuf>,
    listen: SocketAddr,
    audit: &super::auditlog::AuditSetup,
) -> Result<()> {
    let root = data.unwrap_or_else(|| {
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("leakwatch").join("demo")
    });
    let dir = DemoDir { root };
    if dir.is_current() {
        eprintln!(
            "leakwatch demo: using the demo world in {}",
            dir.root.display()
        );
    } else {
        dir.clear()?;
        let started = std::time::Instant::now();
        eprintln!(
            "leakwatch demo: building a fictional world in {} ...",
            dir.root.display()
        );
        build_world(&dir)?;
        eprintln!(
            "leakwatch demo: built in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let key = fresh_demo_key(&dir)?;
    let mut audit = audit.clone();
    audit.key_file = Some(dir.audit_key());
    let audit = audit.open("demo", &dir.data())?;
    start_logging(LogFormat::Human);
    let banner = format!(
        "\nleakwatch demo: a fictional world, served.\n\
         \n  The public page:     {{url}}/\
         \n  The demo mailbox:    {{url}}/demo/mailbox   (every mail the demo sends lands here)\
         \n  The dashboard:       {{url}}/dashboard      (sign in with the key below)\
         \n  The API:             {{url}}/api/v3/breaches\
         \n  Demo API key (Example Corp, every scope; shown only now, revoked by the next run):\
         \n    {key}\
         \n\n  Addresses to try (\"Mail me the result\" on the page, then open the mailbox):\
         \n    {}\n    {}\n    {}\
         \n\n  curl -H 'hibp-api-key: {key}' -H 'user-agent: demo' {{url}}/api/v3/breachedaccount/{}\
         \n  curl {{url}}/range/5BAA6\
         \n\nPress Ctrl-C to stop.",
        TRY_ADDRESSES[0], TRY_ADDRESSES[1], TRY_ADDRESSES[2], TRY_ADDRESSES[0]
    );
    serve(
        &dir.data(),
        Serving {
            range_cache: leakwatch_api::DEFAULT_RANGE_CACHE,
            answer_dir: None,
            answer_codings: Default::default(),
            listen,
            metrics_listen: "127.0.0.1:0".parse().expect("an address"),
            default_region: None,
            access_log: false,
            mail: None,
            key: OperatorKeyArg {
                operator_key_file: Some(dir.operator_key()),
            },
            oprf_key_file: None,
            credential_page_checks: leakwatch_api::DEFAULT_CREDENTIAL_PAGE_CHECKS,
            dns_resolver: None,
            insecure_webhooks_to_loopback: false,
            tls: None,
            banner: Some(banner),
            demo_mailbox: Some(dir.mailbox()),
            audit: Some(audit),
            bulk: None,
            proxy_protocol: None,
            store_poll: std::time::Duration::from_millis(500),
        },
    )
}

/// Revokes the previous run's demo key and makes a new one, for Example Corp with every
/// scope: a key is shown once, so each run shows its own.
fn fresh_demo_key(dir: &DemoDir) -> Result<String> {
    if let Ok(prefix) = std::fs::read_to_string(dir.demo_key_id()) {
        let prefix = prefix.trim();
        // Already revoked (or gone with a rebuilt world) is fine.
        let _ = dir.run(&["keys", "revoke", prefix]);
    }
    let key = dir
        .run(&[
            "keys",
            "create",
            "--name",
            "demo",
            "--tenant",
            TENANT,
            "--scope",
            "all",
            "--rpm",
            "600",
            "--valid-days",
            "30",
        ])?
        .trim()
        .to_owned();
    anyhow::ensure!(
        key.len() >= 6 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "keys create printed no key"
    );
    std::fs::write(dir.demo_key_id(), &key[..6])?;
    Ok(key)
}
