//! `leakwatch backup` and `leakwatch restore` (the protocol is the service layer's:
//! `leakwatch_service::backup`).

use std::path::Path;

use anyhow::Result;
use leakwatch_datadir::DataDir;
use leakwatch_service::{
    Principal,
    backup::{self, Seal},
};

use super::auditlog::AuditSetup;

/// `leakwatch backup`.
pub fn backup(data: &Path, dest: &Path, encrypt_to: &[String], audit: &AuditSetup) -> Result<()> {
    let key = audit.key("backup", data)?;
    let started = std::time::Instant::now();
    let done = backup::backup(
        &DataDir::new(data),
        &Principal::operator(),
        dest,
        Seal {
            audit: &key,
            recipients: encrypt_to,
        },
    )?;
    println!(
        "backup of generation {} in {}: {} store files, {} bytes{}{} in {:.1}s",
        done.generation,
        dest.display(),
        done.files,
        done.bytes,
        if done.catalogue {
            ", and the catalogue"
        } else {
            ""
        },
        if encrypt_to.is_empty() {
            ""
        } else {
            ", encrypted"
        },
        started.elapsed().as_secs_f64()
    );
    if encrypt_to.is_empty() {
        eprintln!(
            "warning: this backup is not encrypted: whoever reads {} reads the catalogue and the \
             store as they are; give --encrypt-to AGE_RECIPIENT to encrypt it",
            dest.display()
        );
    }
    Ok(())
}

/// `leakwatch restore`.
pub fn restore(src: &Path, data: &Path, identity: Option<&Path>, audit: &AuditSetup) -> Result<()> {
    let key = audit.key("restore", data)?;
    let generation = backup::restore(
        src,
        &Principal::operator(),
        &DataDir::new(data),
        &key,
        identity,
    )?;
    println!(
        "restored generation {generation} into {} (the signed manifest and every checksum verified)",
        data.display()
    );
    Ok(())
}
