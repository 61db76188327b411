//! `leakwatch backup` and `leakwatch restore` (the protocol is the service layer's:
//! `leakwatch_service::backup`).

use std::path::Path;

use anyhow::Result;
use leakwatch_datadir::DataDir;
use leakwatch_service::{Principal, backup};

/// `leakwatch backup`.
pub fn backup(data: &Path, dest: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let done = backup::backup(
        &DataDir::new(data),
        &Principal::operator(),
        &DataDir::new(dest),
    )?;
    println!(
        "backup of generation {} in {}: {} store files, {} bytes{} in {:.1}s",
        done.generation,
        dest.display(),
        done.files,
        done.bytes,
        if done.catalogue {
            ", and the catalogue"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `leakwatch restore`.
pub fn restore(src: &Path, data: &Path) -> Result<()> {
    let generation = backup::restore(
        &DataDir::new(src),
        &Principal::operator(),
        &DataDir::new(data),
    )?;
    println!(
        "restored generation {generation} into {} (every checksum verified)",
        data.display()
    );
    Ok(())
}
