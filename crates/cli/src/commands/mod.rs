//! Each command carried out: one module per command (or family), called by `run` with its
//! parsed flags; what they share (opening the store and the catalogue) is here.

mod audit;
mod auditlog;
mod backup;
mod breach;
mod check;
mod credentials;
mod demo;
mod domain;
mod generate;
mod ingest;
mod keys;
mod lookalike;
mod paste;
mod serve;
mod setup;
mod store;
mod subscribe;
mod sync;
mod vendors;

use std::{io::Write, path::Path, sync::Arc};

use anyhow::{Context, Result};
use leakwatch_datadir::DataDir;
use leakwatch_store::Directory;

use crate::flags::*;

/// Carries out one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    #[cfg(unix)]
    if cli.command.only_prints_local_state() {
        crate::die_quietly_on_closed_pipe();
    }
    let audit = auditlog::AuditSetup::of(&cli);
    match cli.command.audited() {
        Some(audited) => auditlog::run_audited(&audit, audited, || dispatch(cli.command, &audit)),
        None => dispatch(cli.command, &audit),
    }
}

pub use auditlog::result_size;
pub use credentials::Exit;

/// Carries out one command.
fn dispatch(command: Command, audit: &auditlog::AuditSetup) -> Result<()> {
    match command {
        Command::Serve(args) => serve::run(*args, audit),
        Command::AuditKey { what } => auditlog::audit_key_cmd(what),
        Command::AuditLog { what } => auditlog::audit_log_cmd(audit, what),
        Command::Ingest(args) => ingest::run(args),
        Command::Sync(args) => sync::run(args),
        Command::Breach { what } => breach::breach(what),
        Command::Paste { what } => paste::paste(what),
        Command::Keys { what } => keys::keys(what),
        Command::OperatorKey { what } => keys::operator_key(what),
        Command::Credentials { what } => credentials::credentials(what),
        Command::Check {
            what: CheckWhat::Password { data },
        } => check::check_password(&data.data),
        Command::Check {
            what:
                CheckWhat::Account {
                    data,
                    account,
                    default_region,
                    json,
                    key,
                },
        } => check::check_account(&data.data, &account, default_region.as_deref(), json, &key),
        Command::Check {
            what: CheckWhat::Domain { data, domain, key },
        } => check::check_domain(&data.data, &domain, &key),
        Command::Domain { what } => domain::domain_cmd(what),
        Command::Subscribe { what } => subscribe::subscribe_cmd(what),
        Command::Lookalike { what } => lookalike::lookalike_cmd(what),
        Command::Completions { shell } => setup::completions(shell),
        Command::Manpage => setup::manpage(),
        Command::Vendors { what } => vendors::vendors_cmd(what),
        Command::Audit(AuditArgs {
            data,
            export,
            format,
            output,
            show_hashes,
        }) => audit::audit_cmd(&data.data, &export, format, output, show_hashes),
        Command::Stats(StatsArgs { data, deep }) => store::stats(&data.data, deep),
        Command::Compact(args) => store::compact(args),
        Command::Verify { data } => store::verify(data),
        Command::Forget(args) => store::forget(args),
        Command::Backup(BackupArgs {
            data,
            dest,
            encrypt_to,
        }) => backup::backup(&data.data, &dest, &encrypt_to, audit),
        Command::Restore(RestoreArgs {
            data,
            src,
            identity,
        }) => backup::restore(&src, &data.data, identity.as_deref(), audit),
        Command::Config { what } => setup::config(what),
        Command::Migrate { data } => store::migrate(data),
        Command::Gen { what } => generate::run(what),
        Command::Demo(DemoArgs { data, listen }) => demo::demo(data, listen, audit),
    }
}

/// Whether `path` lies inside the data directory `data` (or is it), with links and `..`
/// resolved as far as each exists: what a copy of the data directory carries.
pub fn inside_data_dir(path: &Path, data: &Path) -> Result<bool> {
    Ok(resolved(path)?.starts_with(resolved(data)?))
}

/// `path` made absolute with its links and `..` resolved, as far as it exists (the rest
/// taken as given): a directory about to be made may not exist yet.
fn resolved(path: &Path) -> Result<std::path::PathBuf> {
    let absolute =
        std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let mut found = std::path::PathBuf::new();
    for part in absolute.components() {
        match part {
            // `found` holds no links (each step is canonical), so `..` is its parent.
            std::path::Component::ParentDir => {
                found.pop();
            }
            std::path::Component::CurDir => {}
            part => {
                found.push(part);
                if let Ok(real) = found.canonicalize() {
                    found = real;
                }
            }
        }
    }
    Ok(found)
}

pub fn catalog(data: &Path) -> Result<leakwatch_service::Catalog> {
    let data = DataDir::new(data);
    let what = match data.catalog_url() {
        Ok(Some(url)) => format!("opening the catalogue at {url}"),
        _ => format!("opening {}", data.catalog().display()),
    };
    leakwatch_service::open_catalog(&data).context(what)
}

pub fn store_dir(data: &Path) -> Result<Arc<dyn Directory>> {
    leakwatch_service::open_store_dir(&DataDir::new(data))
        .with_context(|| format!("opening store in {}", data.display()))
}

/// Runs a generator into a file or, for `-`, standard output (a closed pipe is not an error).
pub fn write_to(
    out: &Path,
    generate: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let result = if out.as_os_str() == "-" {
        generate(&mut std::io::stdout().lock())
    } else {
        generate(
            &mut std::fs::File::create(out)
                .with_context(|| format!("creating {}", out.display()))?,
        )
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
