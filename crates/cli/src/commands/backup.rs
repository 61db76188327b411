//! `leakwatch backup` and `leakwatch restore`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use leakwatch_datadir::DataDir;
use leakwatch_store::{MmapDirectory, Snapshot};

use super::{catalog, store_dir};

/// Makes `dir` if needed; refuses one that holds anything.
pub fn empty_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if std::fs::read_dir(dir)?.next().is_some() {
        bail!("{} is not empty", dir.display());
    }
    Ok(())
}

/// `leakwatch backup`: the catalogue first, then the store's published generation. In that
/// order a backup taken during a dump import can hold a store newer than its catalogue (the
/// import's PwnCount not yet written), which importing the same file again repairs, as after
/// a crash at that instant; never a catalogue ahead of its store.
pub fn backup(data: &Path, dest: &Path) -> Result<()> {
    empty_dir(dest)?;
    let started = std::time::Instant::now();
    let catalogue = DataDir::new(data).catalog();
    if catalogue.exists() {
        catalog(data)?
            .backup_to(&DataDir::new(dest).catalog())
            .context("backing up the catalogue")?;
    }
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let bytes = snap
        .copy_to(&MmapDirectory::open(DataDir::new(dest).store())?)
        .context("backing up the store")?;
    println!(
        "backup of generation {} in {}: {} store files, {} bytes{} in {:.1}s",
        snap.generation(),
        dest.display(),
        snap.manifest().live_files().count(),
        bytes,
        if catalogue.exists() {
            ", and the catalogue"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `leakwatch restore`: checks every checksum of the backup, writes it beside `data` under a
/// temporary name and renames it into place, so an interrupted restore leaves no half data
/// directory behind.
pub fn restore(src: &Path, data: &Path) -> Result<()> {
    anyhow::ensure!(
        DataDir::new(src).store().is_dir(),
        "{} holds no backup",
        src.display()
    );
    let snap = Snapshot::open(&MmapDirectory::open(DataDir::new(src).store())?)?;
    snap.verify().context("the backup's store is damaged")?;
    let src_catalogue = DataDir::new(src).catalog();
    let catalogue = if src_catalogue.exists() {
        let c = leakwatch_catalog::Catalog::open(&src_catalogue)?;
        c.verify(&src_catalogue)
            .context("the backup's catalogue is damaged")?;
        Some(c)
    } else {
        None
    };
    if data.exists() {
        empty_dir(data)?;
        std::fs::remove_dir(data)?;
    }
    let name = data
        .file_name()
        .context("the data directory needs a name")?
        .to_string_lossy();
    let staging = data.with_file_name(format!(".{name}.restoring"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    if let Some(c) = &catalogue {
        c.backup_to(&DataDir::new(&staging).catalog())?;
    }
    snap.copy_to(&MmapDirectory::open(DataDir::new(&staging).store())?)?;
    std::fs::rename(&staging, data)
        .with_context(|| format!("moving the restored files to {}", data.display()))?;
    if let Some(parent) = data.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    println!(
        "restored generation {} into {} (every checksum verified)",
        snap.generation(),
        data.display()
    );
    Ok(())
}
