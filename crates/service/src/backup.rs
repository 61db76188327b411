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
use leakwatch_trail::AuditKey;

use crate::backup_seal;
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
    /// A restore into a store on object storage (not supported yet: restore into a local
    /// data directory, then import or copy from there).
    #[error("{0} holds a store on object storage; restore into a local data directory")]
    RemoteStore(String),
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
    /// The backup has no signed manifest (or one from before manifests).
    #[error("the backup has no signed manifest (backup-manifest.json)")]
    Unsigned,
    /// The manifest's signature is not the audit key's: the backup was changed, or made
    /// under another audit key.
    #[error("the backup's manifest is not signed by this audit key (changed, or another key's)")]
    BadSignature,
    /// A file the manifest does not list.
    #[error("the backup holds {0}, which its signed manifest does not list")]
    NotInManifest(String),
    /// A file the manifest lists is missing.
    #[error("the backup lacks {0}, which its signed manifest lists")]
    MissingFile(String),
    /// A file differs from its manifest entry.
    #[error("{0} is damaged or changed: it differs from the backup's signed manifest")]
    Changed(String),
    /// An age recipient that does not parse.
    #[error("{0:?} is not an age recipient (age1…)")]
    BadRecipient(String),
    /// The age identity file could not be read.
    #[error("the age identity {0}")]
    Identity(String),
    /// Encrypting, or decrypting and unpacking, failed (a damaged or foreign file, the
    /// wrong identity).
    #[error("the encrypted backup: {0}")]
    Encryption(String),
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

/// How a backup is sealed: its manifest signed with the audit key, and the whole encrypted
/// to these age recipients (none: a plain directory).
#[derive(Debug, Clone, Copy)]
pub struct Seal<'a> {
    /// Signs the manifest.
    pub audit: &'a AuditKey,
    /// age X25519 recipients (`age1…`).
    pub recipients: &'a [String],
}

/// Backs the data directory `data` up to `dest`: a new or empty directory holding the
/// files and their signed manifest, or, with recipients, a new file holding them encrypted
/// (made in the data directory's `tmp/` first, which is removed after).
pub fn backup(
    data: &DataDir,
    by: &crate::Principal,
    dest: &Path,
    seal: Seal<'_>,
) -> Result<BackupSummary, BackupError> {
    if seal.recipients.is_empty() {
        let summary = backup_into(data, by, &DataDir::new(dest))?;
        backup_seal::sign(dest, summary.generation, seal.audit)?;
        return Ok(summary);
    }
    let recipients = backup_seal::recipients(seal.recipients)?;
    if dest.exists() {
        return Err(BackupError::NotEmpty(dest.to_owned()));
    }
    let staging = data.tmp().join(format!(
        "backup-{}-{}",
        std::process::id(),
        crate::now_unix()
    ));
    let result = (|| {
        let summary = backup_into(data, by, &DataDir::new(&staging))?;
        backup_seal::sign(&staging, summary.generation, seal.audit)?;
        let bytes = backup_seal::encrypt(&staging, dest, &recipients)?;
        Ok(BackupSummary { bytes, ..summary })
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// The files of a backup of `data` into the new or empty directory `dest`.
fn backup_into(
    data: &DataDir,
    _by: &crate::Principal,
    dest: &DataDir,
) -> Result<BackupSummary, BackupError> {
    empty_dir(dest.root())?;
    // A shared catalogue (PostgreSQL) is the database server's to back up (pg_dump:
    // docs/SCALE.md); the backup holds the store.
    let catalogue = data.catalog().exists() && data.catalog_url()?.is_none();
    if catalogue {
        Catalog::open(&data.catalog())?
            .backup_to(&dest.catalog())
            .map_err(BackupError::Catalogue)?;
    }
    let snap = Snapshot::open(crate::open_store_dir(data)?.as_ref())?;
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
/// store generation restored. `src` is a backup directory, or with `identity` (an age
/// identity file) an encrypted backup file, which is decrypted beside `data` first. Its
/// manifest's signature (the audit key's) and every file's size and SHA-256 are checked,
/// then every checksum of its store and catalogue, before anything is written in `data`'s
/// place; a failure leaves nothing behind.
pub fn restore(
    src: &Path,
    by: &crate::Principal,
    data: &DataDir,
    audit: &AuditKey,
    identity: Option<&Path>,
) -> Result<u64, BackupError> {
    if let Ok(Some(url)) = data.store_url() {
        return Err(BackupError::RemoteStore(url));
    }
    let Some(identity) = identity else {
        if src.is_file() {
            return Err(BackupError::Encryption(
                "this backup is encrypted: give the age identity that opens it".into(),
            ));
        }
        backup_seal::check(src, audit)?;
        return restore_dir(&DataDir::new(src), by, data);
    };
    let name = data
        .root()
        .file_name()
        .ok_or(BackupError::Unnamed)?
        .to_string_lossy()
        .into_owned();
    let unpacked = data.root().with_file_name(format!(".{name}.unpacking"));
    let _ = std::fs::remove_dir_all(&unpacked);
    let result = (|| {
        backup_seal::decrypt(src, identity, &unpacked)?;
        backup_seal::check(&unpacked, audit)?;
        restore_dir(&DataDir::new(&unpacked), by, data)
    })();
    let _ = std::fs::remove_dir_all(&unpacked);
    result
}

/// Restores the (checked) backup directory `src` into `data`.
fn restore_dir(src: &DataDir, _by: &crate::Principal, data: &DataDir) -> Result<u64, BackupError> {
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
