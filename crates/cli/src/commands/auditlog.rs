//! The audit log at the command line: the audit key (`audit-key generate`), reading the log
//! (`audit-log verify|show|export`), and the record every audited command leaves — written,
//! synced and sealed before the command's process ends, after the log was opened (so a
//! command whose record cannot be written never runs).

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use anyhow::{Context, Result};
use leakwatch_service::{
    DataDir, Principal,
    auditlog::{self, AuditKey, AuditLog, Entry, Event},
};

use crate::flags::*;

/// Where the audit key and the syslog copy come from (the global flags).
#[derive(Debug, Clone)]
pub struct AuditSetup {
    pub key_file: Option<PathBuf>,
    pub syslog: Option<PathBuf>,
    pub file_bytes: u64,
}

impl AuditSetup {
    pub fn of(cli: &Cli) -> AuditSetup {
        AuditSetup {
            key_file: cli.audit_key_file.clone(),
            syslog: cli.audit_syslog.clone(),
            file_bytes: cli.audit_file_size as u64,
        }
    }

    /// The audit key, which `what` cannot run without; it must be private and outside the
    /// data directory `data` (whoever can write the log must not also hold its seal there).
    pub fn key(&self, what: &str, data: &Path) -> Result<AuditKey> {
        let Some(path) = &self.key_file else {
            anyhow::bail!(
                "`{what}` is audited and needs the audit key: pass --audit-key-file FILE (or \
                 LEAKWATCH_AUDIT_KEY_FILE; make one with `leakwatch audit-key generate --out FILE`, \
                 outside the data directory)"
            );
        };
        anyhow::ensure!(
            !super::inside_data_dir(path, data)?,
            "the audit key file {} is inside the data directory {}: keep it outside, where \
             a copy of the data directory does not carry it",
            path.display(),
            data.display()
        );
        let text = read_private(path).context("reading the audit key")?;
        AuditKey::from_hex(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// The audit log of `data`, open for `what`'s records (sealing what a crash left).
    pub fn open(&self, what: &str, data: &Path) -> Result<AuditLog> {
        let key = self.key(what, data)?;
        self.open_with(key, data)
    }

    fn open_with(&self, key: AuditKey, data: &Path) -> Result<AuditLog> {
        let log = AuditLog::open(&DataDir::new(data), key, self.file_bytes)
            .with_context(|| format!("opening the audit log of {}", data.display()))?;
        Ok(match &self.syslog {
            Some(socket) => log.forward_to(socket)?,
            None => log,
        })
    }
}

/// How much an audited command put out (accounts, addresses, rows), for its record. A
/// process runs one command, so one counter is the command's.
static RESULT_SIZE: AtomicU64 = AtomicU64::new(0);

/// Sets how much the running command put out.
pub fn result_size(n: u64) {
    RESULT_SIZE.store(n, Ordering::Relaxed);
}

/// Runs the audited command `audited` (`run`), its record written and sealed before this
/// returns; its status is 0 when it succeeded, 1 when it failed.
pub fn run_audited(
    setup: &AuditSetup,
    audited: Audited,
    run: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let key = setup.key(audited.command, &audited.data)?;
    let log = if audited.log_after {
        None
    } else {
        Some(setup.open_with(key.clone(), &audited.data)?)
    };
    let operator = Principal::operator();
    let by = match &audited.tenant {
        Some(tenant) => operator.clone().acting_for(tenant).unwrap_or(operator),
        None => operator,
    };
    let result = run();
    let entry = Entry {
        by: &by,
        action: audited.action,
        route: audited.command,
        target: audited.target.as_deref(),
        status: u16::from(result.is_err()),
        size: RESULT_SIZE.load(Ordering::Relaxed),
        peer: None,
    };
    let recorded: Result<()> = match log {
        Some(log) => log.commit(entry, true).map_err(Into::into),
        // A restore that failed wrote no data directory, and its record makes none: a
        // failed restore leaves nothing behind (its error is on standard error).
        None if result.is_err() && !audited.data.exists() => Ok(()),
        None => setup
            .open_with(key, &audited.data)
            .and_then(|log| Ok(log.commit(entry, true)?)),
    };
    match (result, recorded) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(e.context("writing the audit record")),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// `leakwatch audit-key`.
pub fn audit_key_cmd(cmd: AuditKeyCmd) -> Result<()> {
    match cmd {
        AuditKeyCmd::Generate { out } => {
            super::keys::write_private(&out, &AuditKey::generate_hex())?;
            eprintln!(
                "audit key written to {} (mode 0600); keep it outside the data directory",
                out.display()
            );
            Ok(())
        }
    }
}

/// `leakwatch audit-log`.
pub fn audit_log_cmd(setup: &AuditSetup, cmd: AuditLogCmd) -> Result<()> {
    match cmd {
        AuditLogCmd::Verify { data } => verify(setup, &data.data),
        AuditLogCmd::Show { data, filter, json } => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            if !json {
                writeln!(
                    out,
                    "{:<24} {:<9} {:<24} {:<20} {:<6} {:>8} {:<32} PEER",
                    "TIME", "KIND", "PRINCIPAL", "ACTION", "STATUS", "SIZE", "TARGET"
                )?;
            }
            each_event(setup, &data.data, &filter, |e| {
                if json {
                    writeln!(out, "{}", auditlog::event_json(e))
                } else {
                    writeln!(out, "{}", table_line(e))
                }
            })
        }
        AuditLogCmd::Export { data, filter, out } => super::write_to(&out, |w| {
            let mut failed = None;
            let result = each_event(setup, &data.data, &filter, |e| {
                writeln!(w, "{}", auditlog::event_json(e))
            });
            if let Err(e) = result {
                failed = Some(e);
            }
            match failed {
                Some(e) => Err(std::io::Error::other(format!("{e:#}"))),
                None => Ok(()),
            }
        }),
    }
}

fn verify(setup: &AuditSetup, data: &Path) -> Result<()> {
    let key = setup.key("audit-log verify", data)?;
    let report = auditlog::verify(&DataDir::new(data), &key, None)
        .map_err(|e| anyhow::anyhow!("the audit log does not verify: {e}"))?;
    println!(
        "the audit log verifies: {} files, {} records, {} events",
        report.files, report.records, report.events
    );
    if report.unsealed > 0 || report.torn_bytes > 0 {
        println!(
            "unsealed tail: {} records after the last checkpoint{} (a crash before the seal; \
             the next start of `serve` or an audited command seals it)",
            report.unsealed,
            if report.torn_bytes > 0 {
                format!(", and a torn record of {} bytes", report.torn_bytes)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Hands every event of the (verified) log that passes `filter` to `each`, oldest first.
fn each_event(
    setup: &AuditSetup,
    data: &Path,
    filter: &AuditFilter,
    mut each: impl FnMut(&Event) -> std::io::Result<()>,
) -> Result<()> {
    let key = setup.key("audit-log", data)?;
    let key_id = match &filter.key {
        Some(which) => Some(
            leakwatch_service::keys::find(&super::catalog(data)?, which)
                .with_context(|| format!("no API key {which}"))?
                .id,
        ),
        None => None,
    };
    let target = filter.target.as_deref().map(|t| auditlog::digest(&key, t));
    let mut written = Ok(());
    auditlog::verify(
        &DataDir::new(data),
        &key,
        Some(&mut |_, _, e: Event| {
            let wanted = filter.since.is_none_or(|t| e.time_ms >= t)
                && filter.until.is_none_or(|t| e.time_ms < t)
                && key_id
                    .is_none_or(|id| e.who.kind == auditlog::WhoKind::ApiKey && e.who.id == id)
                && filter.action.as_deref().is_none_or(|a| e.action == a)
                && target.is_none_or(|t| e.target == Some(t));
            if wanted && written.is_ok() {
                written = each(&e);
            }
        }),
    )
    .map_err(|e| anyhow::anyhow!("the audit log does not verify: {e}"))?;
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// One event as a line of the `show` table.
fn table_line(e: &Event) -> String {
    let who = match e.who.kind {
        auditlog::WhoKind::ApiKey | auditlog::WhoKind::Operator => {
            let mut w = format!("{}#{}", e.who.name, e.who.id);
            if !e.who.tenant.is_empty() {
                w.push_str(&format!(" ({})", e.who.tenant));
            }
            w
        }
        _ => "-".into(),
    };
    format!(
        "{:<24} {:<9} {:<24} {:<20} {:<6} {:>8} {:<32} {}",
        auditlog::rfc3339_ms(e.time_ms),
        auditlog::kind_name(e.who.kind),
        who,
        e.action,
        e.status,
        e.size,
        e.target
            .map(|t| auditlog::hex(&t))
            .unwrap_or_else(|| "-".into()),
        e.peer.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
    )
}
