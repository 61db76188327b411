//! The data directory: one type, [`DataDir`], owns its layout (docs/FORMAT.md, "Data
//! directory"), so no crate spells a path of another's; the status files a running import or
//! sync keeps there, typed once for the writer and the reader ([`status`]); and the one way a
//! small file is replaced ([`replace_file`]).
//!
//! The store is handed only its own folder ([`DataDir::store`]) and knows nothing of the rest.

pub mod status;

use std::{
    io::{self, Write},
    path::{Path, PathBuf},
};

/// A data directory's layout. Paths only: nothing is created or read here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's own folder (segments, manifest, its `LOCK`), when the store is local.
    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The file that binds this directory to a store on object storage (`s3://BUCKET/PREFIX`,
    /// one line): with it, the directory holds this machine's side of that store (catalogue,
    /// audit trail, spill space) and [`DataDir::store_cache`], and `store/` is not used.
    pub fn store_url_file(&self) -> PathBuf {
        self.root.join("store-url")
    }

    /// The local copies of a remote store's files (downloaded whole, memory-mapped).
    pub fn store_cache(&self) -> PathBuf {
        self.root.join("store-cache")
    }

    /// A replica's copy of the manifest of the generation it serves from a remote store, so
    /// that it serves that generation from its cache at its next start even while the object
    /// store cannot be reached.
    pub fn served_manifest(&self) -> PathBuf {
        self.root.join("served-manifest")
    }

    /// The URL of the object-storage store this directory is bound to, if it is.
    pub fn store_url(&self) -> io::Result<Option<String>> {
        read_binding(&self.store_url_file())
    }

    /// The breach catalogue (SQLite), unless the directory is bound to a shared one
    /// ([`DataDir::catalog_url`]).
    pub fn catalog(&self) -> PathBuf {
        self.root.join("catalog.db")
    }

    /// The file that binds this directory to a catalogue on PostgreSQL
    /// (`postgres://USER@HOST:PORT/DB`, one line, never a password): with it, `catalog.db`
    /// is not used.
    pub fn catalog_url_file(&self) -> PathBuf {
        self.root.join("catalog-url")
    }

    /// The URL of the PostgreSQL catalogue this directory is bound to, if it is.
    pub fn catalog_url(&self) -> io::Result<Option<String>> {
        read_binding(&self.catalog_url_file())
    }

    /// Spill space of imports and alias rewrites (emptied by the next writer).
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where an import started at `unix` samples its rejected lines.
    pub fn rejects(&self, unix: u64) -> PathBuf {
        self.root.join("rejects").join(format!("{unix}.txt"))
    }

    /// `leakwatch sync`'s folder: its lock, journals, rejects and status file.
    pub fn sync(&self) -> PathBuf {
        self.root.join("sync")
    }

    /// The running import's status ([`status::ImportStatus`]).
    pub fn import_status(&self) -> PathBuf {
        self.root.join("import-status.json")
    }

    /// The running sync's status ([`status::SyncStatus`]).
    pub fn sync_status(&self) -> PathBuf {
        self.sync().join("status.json")
    }

    /// Erasures accepted while another writer held the store: account keys, 40 hex digits a
    /// line, published when the writer lock frees.
    pub fn pending_forget(&self) -> PathBuf {
        self.root.join("pending-forget.txt")
    }

    /// The audit trail (`trail-NNNNNNNN.log` files and their `LOCK`; FORMAT.md, "Audit
    /// trail"), appended by the server and the operator's commands.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// Locked by the one server that delivers the outbox.
    pub fn outbox_lock(&self) -> PathBuf {
        self.root.join("outbox.lock")
    }
}

/// The one-line URL in a binding file, if the file is there.
fn read_binding(path: &Path) -> io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Where [`replace_file`] writes before the rename (`PATH` with the extension `tmp`): a
/// leftover of a crash, which the next replacement overwrites.
pub fn temporary_of(path: &Path) -> PathBuf {
    path.with_extension("tmp")
}

/// How durable a [`replace_file`] must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Renamed into place; a crash may lose it (status files, rewritten every second).
    BestEffort,
    /// fsync'ed before the rename and the directory after it: once this returns, a crash
    /// keeps the new content.
    Synced,
}

/// Replaces `path` with `bytes` atomically: a reader sees the old file or the new one, never
/// a part. Written to `PATH.tmp` first, then renamed over `path`.
pub fn replace_file(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    let tmp = temporary_of(path);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    if durability == Durability::Synced {
        file.sync_all()?;
    }
    drop(file);
    std::fs::rename(&tmp, path)?;
    if durability == Durability::Synced
        && let Some(dir) = path.parent()
    {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_one_format_md_draws() {
        let d = DataDir::new("/srv/lw");
        let check = |got: PathBuf, want: &str| assert_eq!(got, Path::new(want));
        check(d.store(), "/srv/lw/store");
        check(d.catalog(), "/srv/lw/catalog.db");
        check(d.tmp(), "/srv/lw/tmp");
        check(d.rejects(17), "/srv/lw/rejects/17.txt");
        check(d.sync(), "/srv/lw/sync");
        check(d.import_status(), "/srv/lw/import-status.json");
        check(d.sync_status(), "/srv/lw/sync/status.json");
        check(d.pending_forget(), "/srv/lw/pending-forget.txt");
        check(d.outbox_lock(), "/srv/lw/outbox.lock");
        check(d.audit(), "/srv/lw/audit");
    }

    #[test]
    fn a_replaced_file_holds_the_new_bytes_and_no_temporary_is_left() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("status.json");
        for (bytes, durability) in [
            (&b"first"[..], Durability::BestEffort),
            (b"second, longer", Durability::Synced),
        ] {
            replace_file(&path, bytes, durability).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["status.json"]);
    }
}
