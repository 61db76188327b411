//! Backup and restore of a data directory while it serves and imports.
//!
//! A backup copies the catalogue first (SQLite's online backup), then the store's published
//! generation (the files one snapshot holds mapped). In that order a backup taken during a
//! dump import can hold a store newer than its catalogue (the import's PwnCount not yet
//! written), which importing the same file again repairs, as after a crash at that instant;
//! never a catalogue ahead of its store.
//!
//! A restore checks every checksum of the backup, writes it beside the data directory under
//! a temporary name (`.NAME.restoring`) and renames it into place, so an interrupted restore
//! leaves no half data directory behind.

use std::path::{Path, PathBuf};

use leakwatch_catalog::{Catalog, CatalogError};
use leakwatch_datadir::DataDir;
use leakwatch_store::{MmapDirectory, Snapshot, StoreError};

/// Why a backup or a restore stopped. Nothing is left half-written in the destination's
/// place: a backup goes into an empty directory, a restore is renamed into place last.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The destination holds files already.
    #[error("{} is not empty", .0.display())]
    NotEmpty(PathBuf),
    /// The source of a restore is not a backup.
    #[error("{} holds no backup", .0.display())]
    NoBackup(PathBuf),
    /// A checksum of the backup's store failed.
    #[error("the backup's store is damaged")]
    DamagedStore(#[source] StoreError),
    /// A page checksum of the backup's catalogue failed.
    #[error("the backup's catalogue is damaged")]
    DamagedCatalogue(#[source] CatalogError),
    /// Copying the catalogue failed.
    #[error("backing up the catalogue")]
    Catalogue(#[source] CatalogError),
    /// Copying the store failed.
    #[error("backing up the store")]
    Store(#[source] StoreError),
    /// The restore's destination path ends in `..` or `/`.
    #[error("the data directory needs a name")]
    Unnamed,
    /// A file operation failed, with what was being done.
    #[error("{context} {}", .path.display())]
    Io {
        /// What was being done, e.g. "creating".
        context: &'static str,
        /// On what.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The store could not be read.
    #[error(transparent)]
    Open(#[from] StoreError),
    /// The catalogue could not be read.
    #[error(transparent)]
    OpenCatalogue(#[from] CatalogError),
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] std::io::Error),
}

/// What a backup copied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupSummary {
    /// The store generation backed up.
    pub generation: u64,
    /// Store files copied.
    pub files: usize,
    /// Store bytes copied.
    pub bytes: u64,
    /// Whether there was a catalogue to copy.
    pub catalogue: bool,
}

/// Makes `dir` if needed; refuses one that holds anything.
fn empty_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(dir).map_err(|source| BackupError::Io {
        context: "creating",
        path: dir.to_owned(),
        source,
    })?;
    if std::fs::read_dir(dir)?.next().is_some() {
        return Err(BackupError::NotEmpty(dir.to_owned()));
    }
    Ok(())
}

/// Backs the data directory `data` up into `dest`, a new or empty directory.
pub fn backup(
    data: &DataDir,
    _by: &crate::Principal,
    dest: &DataDir,
) -> Result<BackupSummary, BackupError> {
    empty_dir(dest.root())?;
    let catalogue = data.catalog().exists();
    if catalogue {
        Catalog::open(&data.catalog())?
            .backup_to(&dest.catalog())
            .map_err(BackupError::Catalogue)?;
    }
    let snap = Snapshot::open(&MmapDirectory::open(data.store())?)?;
    let bytes = snap
        .copy_to(&MmapDirectory::open(dest.store())?)
        .map_err(BackupError::Store)?;
    Ok(BackupSummary {
        generation: snap.generation(),
        files: snap.manifest().live_files().count(),
        bytes,
        catalogue,
    })
}

/// Restores the backup `src` into `data`, which must not exist or be empty; returns the
/// store generation restored.
pub fn restore(src: &DataDir, _by: &crate::Principal, data: &DataDir) -> Result<u64, BackupError> {
    if !src.store().is_dir() {
        return Err(BackupError::NoBackup(src.root().to_owned()));
    }
    let snap = Snapshot::open(&MmapDirectory::open(src.store())?)?;
    snap.verify().map_err(BackupError::DamagedStore)?;
    let catalogue = if src.catalog().exists() {
        let c = Catalog::open(&src.catalog())?;
        c.verify(&src.catalog())
            .map_err(BackupError::DamagedCatalogue)?;
        Some(c)
    } else {
        None
    };
    let root = data.root();
    if root.exists() {
        empty_dir(root)?;
        std::fs::remove_dir(root)?;
    }
    let name = root
        .file_name()
        .ok_or(BackupError::Unnamed)?
        .to_string_lossy();
    let staging = DataDir::new(root.with_file_name(format!(".{name}.restoring")));
    let _ = std::fs::remove_dir_all(staging.root());
    std::fs::create_dir_all(staging.root())?;
    if let Some(c) = &catalogue {
        c.backup_to(&staging.catalog())?;
    }
    snap.copy_to(&MmapDirectory::open(staging.store())?)?;
    std::fs::rename(staging.root(), root).map_err(|source| BackupError::Io {
        context: "moving the restored files to",
        path: root.to_owned(),
        source,
    })?;
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(snap.generation())
}
