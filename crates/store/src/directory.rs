//! The write-once-read-many directory abstraction every store file goes through.
//!
//! A [`Directory`] holds flat, named files. Its guarantees, which the rest of the store relies
//! on and which `tests` below check for every backend:
//!
//! 1. **Write once.** [`Directory::create`] fails with [`StoreError::AlreadyExists`] if the name
//!    is taken. A file becomes visible to [`Directory::open_read`] and [`Directory::list`] only
//!    when its writer's [`WriteFile::finish`] returned `Ok`; by then its bytes are durable.
//!    A writer dropped without `finish` leaves nothing visible under the name.
//! 2. **Immutable reads.** The bytes of a [`FileSlice`] never change while it is alive, even if
//!    the file is deleted meanwhile.
//! 3. **Atomic replace.** [`Directory::atomic_write`] replaces a small file so that a reader (or
//!    a crash) sees the old bytes or the new, never a mixture; when it returns, the new bytes
//!    are durable. It is the only way to change a name's contents, and the store uses it only
//!    for the manifest.
//! 4. **Writers** ([`Directory::sharing`]). An [`Sharing::Exclusive`] directory (local disk,
//!    memory) has one writer at a time: [`Directory::lock_writer`] gives at most one holder
//!    across processes, and the manifest is replaced in place. A [`Sharing::Shared`] one (an
//!    object store) lets writers on several machines work at once: each generation's manifest
//!    is a new object created only if absent ([`Directory::publish_manifest`] fails with
//!    [`StoreError::GenerationTaken`] for the loser), and a file no manifest names may be a
//!    running writer's, so it is deleted only once older than the grace period.
//! 5. **Newest manifest.** [`Directory::read_manifest_bytes`] returns the manifest of the
//!    newest published generation.
//!
//! It deliberately offers no append, no in-place update and no sub-directories: an object
//! store (S3 has exactly these operations) implements it (crates/objstore).

use std::{
    collections::HashMap,
    fmt,
    fs::{self, File, OpenOptions},
    io::{self, Write},
    ops::Deref,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use crate::error::{Result, StoreError};
use crate::manifest::MANIFEST_FILE;

/// How writers share a [`Directory`]; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sharing {
    /// One writer at a time, under [`Directory::lock_writer`].
    Exclusive,
    /// Writers on several machines at once, publishing by create-only manifests.
    Shared {
        /// How long a file no manifest names is left alone: longer than any writer takes
        /// from writing a file to publishing it, and than any reader keeps an older
        /// generation it has not fully read.
        grace: Duration,
    },
}

/// Read-only bytes of a finished file: memory-mapped on disk, shared in memory.
#[derive(Clone)]
pub struct FileSlice(Arc<dyn Deref<Target = [u8]> + Send + Sync>);

impl FileSlice {
    /// Wraps owned bytes (used by the in-memory backend and by tests).
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        FileSlice(Arc::new(bytes))
    }
    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for FileSlice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileSlice({} bytes)", self.0.len())
    }
}

/// A file being written. Nothing is visible under its name until [`WriteFile::finish`].
pub trait WriteFile: Write + Send {
    /// Flushes, makes the bytes durable, and publishes the file under its name.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Held while a process is the store's single writer; dropping it releases the lock.
pub struct WriterLock {
    _release: Box<dyn Send + Sync>,
}

impl WriterLock {
    /// A lock released when `release` is dropped (a backend's lock file or guard).
    pub fn new(release: Box<dyn Send + Sync>) -> Self {
        WriterLock { _release: release }
    }
}

impl fmt::Debug for WriterLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriterLock")
    }
}

/// Flat, write-once-read-many storage for store files. See the module docs for guarantees.
pub trait Directory: Send + Sync + fmt::Debug + 'static {
    /// Opens a finished file for reading.
    fn open_read(&self, name: &str) -> Result<FileSlice>;
    /// Starts writing a new file; fails if the name exists.
    fn create(&self, name: &str) -> Result<Box<dyn WriteFile>>;
    /// Atomically and durably replaces (or creates) a small file.
    fn atomic_write(&self, name: &str, bytes: &[u8]) -> Result<()>;
    /// Reads a whole small file, or `None` if it does not exist.
    fn read_all(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Removes a file; removing a missing file is not an error.
    fn delete(&self, name: &str) -> Result<()>;
    /// Names of all finished files.
    fn list(&self) -> Result<Vec<String>>;
    /// Takes the single-writer lock, failing with [`StoreError::Locked`] if it is held.
    fn lock_writer(&self) -> Result<WriterLock>;
    /// Deletes what writers that never finished (crashed) left behind, returning how many
    /// files. Call only while holding the writer lock.
    fn remove_partials(&self) -> Result<usize> {
        Ok(0)
    }
    /// Where the files live on local disk, if they do (for spill space next to the data).
    fn local_path(&self) -> Option<&Path> {
        None
    }
    /// How writers share this directory.
    fn sharing(&self) -> Sharing {
        Sharing::Exclusive
    }
    /// Publishes the manifest of `generation`. An exclusive directory replaces its one
    /// manifest ([`Directory::atomic_write`]; the writer lock keeps others out); a shared one
    /// creates the generation's manifest only if no writer did, else
    /// [`StoreError::GenerationTaken`].
    fn publish_manifest(&self, generation: u64, bytes: &[u8]) -> Result<()> {
        let _ = generation;
        self.atomic_write(MANIFEST_FILE, bytes)
    }
    /// The newest published generation's manifest, or `None` before the first.
    fn read_manifest_bytes(&self) -> Result<Option<Vec<u8>>> {
        self.read_all(MANIFEST_FILE)
    }
    /// The manifests of every generation published at or after `since`, and the newest one
    /// in any case: what a shared directory's readers may still be reading. An exclusive
    /// directory keeps only the newest.
    fn read_manifests_since(&self, since: SystemTime) -> Result<Vec<Vec<u8>>> {
        let _ = since;
        Ok(self.read_manifest_bytes()?.into_iter().collect())
    }
    /// Deletes the manifests of generations published before `before`, never the newest
    /// (a shared directory keeps one object per generation); returns how many. An exclusive
    /// directory has only the newest.
    fn remove_manifests_before(&self, before: SystemTime) -> Result<usize> {
        let _ = before;
        Ok(0)
    }
    /// Drops this machine's local copies of files not in `live` (the files of the generation
    /// it now serves), for a directory that caches a remote store's files; the files stay in
    /// the store, and a copy still mapped stays readable until unmapped. Copies younger than a
    /// few minutes are kept (they may be a writer's, not yet uploaded). Returns how many were
    /// dropped; a directory without a cache drops nothing.
    fn drop_cached_except(&self, live: &[&str]) -> Result<usize> {
        let _ = live;
        Ok(0)
    }
    /// The finished files last written before `before` (a shared directory's garbage
    /// collection leaves younger ones, which may be a running writer's). An exclusive
    /// directory has no other writer: every file.
    fn list_written_before(&self, before: SystemTime) -> Result<Vec<String>> {
        let _ = before;
        self.list()
    }
}

/// Refuses a name that is empty, hidden, a partial file's, or holds anything but ASCII
/// letters, digits, `-`, `_` and `.` (so never a path).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(PARTIAL_SUFFIX)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidArgument(format!(
            "bad file name {name:?}"
        )))
    }
}

const PARTIAL_SUFFIX: &str = ".partial";
const LOCK_FILE: &str = "LOCK";

/// Files in a local directory, read through `mmap`.
#[derive(Debug, Clone)]
pub struct MmapDirectory {
    root: PathBuf,
}

impl MmapDirectory {
    /// Opens (creating if needed) a store directory on local disk.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        Ok(MmapDirectory { root })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn sync_dir(&self) -> Result<()> {
        File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(&self.root, e))
    }

    fn remove_partial_files(&self) -> Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.root).map_err(|e| StoreError::io(&self.root, e))? {
            let entry = entry.map_err(|e| StoreError::io(&self.root, e))?;
            if entry
                .file_name()
                .to_string_lossy()
                .ends_with(PARTIAL_SUFFIX)
            {
                fs::remove_file(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Maps a file read-only.
///
/// # Safety
/// The caller must guarantee that no process modifies or truncates the file while the map
/// lives. The store upholds this by never opening a published file for writing: files are
/// written under a `.partial` name, renamed once finished, and only ever deleted (which keeps
/// the mapped inode alive), never changed.
unsafe fn map_readonly(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: forwarded to the caller, see the function's contract.
    unsafe { memmap2::Mmap::map(file) }
}

impl Directory for MmapDirectory {
    fn open_read(&self, name: &str) -> Result<FileSlice> {
        check_name(name)?;
        let path = self.path(name);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(name.to_owned()));
            }
            Err(e) => return Err(StoreError::io(path, e)),
        };
        let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        if len == 0 {
            return Ok(FileSlice::from_vec(Vec::new()));
        }
        // SAFETY: `name` passed `check_name`, so it is a finished, published file; such files
        // are never written again (see `map_readonly`).
        let map = unsafe { map_readonly(&file) }.map_err(|e| StoreError::io(&path, e))?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Random);
        Ok(FileSlice(Arc::new(map)))
    }

    fn create(&self, name: &str) -> Result<Box<dyn WriteFile>> {
        check_name(name)?;
        let final_path = self.path(name);
        if final_path.exists() {
            return Err(StoreError::AlreadyExists(name.to_owned()));
        }
        let partial = self.path(&format!("{name}{PARTIAL_SUFFIX}"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(|e| StoreError::io(&partial, e))?;
        Ok(Box::new(DiskWriteFile {
            out: io::BufWriter::with_capacity(1 << 20, file),
            partial,
            final_path,
            dir: self.clone(),
            finished: false,
        }))
    }

    fn atomic_write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        check_name(name)?;
        let tmp = self.path(&format!("{name}.tmp{PARTIAL_SUFFIX}"));
        let dest = self.path(name);
        (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &dest)
        })()
        .map_err(|e| StoreError::io(&dest, e))?;
        self.sync_dir()
    }

    fn read_all(&self, name: &str) -> Result<Option<Vec<u8>>> {
        check_name(name)?;
        let path = self.path(name);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    fn list(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| StoreError::io(&self.root, e))? {
            let entry = entry.map_err(|e| StoreError::io(&self.root, e))?;
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_file && check_name(&name).is_ok() && name != LOCK_FILE {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn lock_writer(&self) -> Result<WriterLock> {
        let path = self.path(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(WriterLock {
                _release: Box::new(file),
            }),
            Err(fs::TryLockError::WouldBlock) => {
                Err(StoreError::Locked(self.root.display().to_string()))
            }
            Err(fs::TryLockError::Error(e)) => Err(StoreError::io(path, e)),
        }
    }

    fn remove_partials(&self) -> Result<usize> {
        self.remove_partial_files()
    }

    fn local_path(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

struct DiskWriteFile {
    out: io::BufWriter<File>,
    partial: PathBuf,
    final_path: PathBuf,
    dir: MmapDirectory,
    finished: bool,
}

impl Write for DiskWriteFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl WriteFile for DiskWriteFile {
    fn finish(mut self: Box<Self>) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| StoreError::io(&self.partial, e))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| StoreError::io(&self.partial, e))?;
        if self.final_path.exists() {
            return Err(StoreError::AlreadyExists(
                self.final_path.display().to_string(),
            ));
        }
        fs::rename(&self.partial, &self.final_path)
            .map_err(|e| StoreError::io(&self.final_path, e))?;
        self.finished = true;
        self.dir.sync_dir()
    }
}

impl Drop for DiskWriteFile {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// Files held in memory: for tests, and for a store built and served in one process.
#[derive(Debug, Clone, Default)]
pub struct RamDirectory {
    files: Arc<Mutex<HashMap<String, FileSlice>>>,
    locked: Arc<Mutex<bool>>,
}

impl RamDirectory {
    /// An empty in-memory directory.
    pub fn new() -> Self {
        Self::default()
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<String, FileSlice>> {
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct RamWriteFile {
    name: String,
    buf: Vec<u8>,
    dir: RamDirectory,
}

impl Write for RamWriteFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteFile for RamWriteFile {
    fn finish(self: Box<Self>) -> Result<()> {
        let mut files = self.dir.files();
        if files.contains_key(&self.name) {
            return Err(StoreError::AlreadyExists(self.name));
        }
        files.insert(self.name, FileSlice::from_vec(self.buf));
        Ok(())
    }
}

struct RamLock(Arc<Mutex<bool>>);

impl Drop for RamLock {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = false;
    }
}

impl Directory for RamDirectory {
    fn open_read(&self, name: &str) -> Result<FileSlice> {
        check_name(name)?;
        self.files()
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(name.to_owned()))
    }

    fn create(&self, name: &str) -> Result<Box<dyn WriteFile>> {
        check_name(name)?;
        if self.files().contains_key(name) {
            return Err(StoreError::AlreadyExists(name.to_owned()));
        }
        Ok(Box::new(RamWriteFile {
            name: name.to_owned(),
            buf: Vec::new(),
            dir: self.clone(),
        }))
    }

    fn atomic_write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        check_name(name)?;
        self.files()
            .insert(name.to_owned(), FileSlice::from_vec(bytes.to_vec()));
        Ok(())
    }

    fn read_all(&self, name: &str) -> Result<Option<Vec<u8>>> {
        check_name(name)?;
        Ok(self.files().get(name).map(|f| f.bytes().to_vec()))
    }

    fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        self.files().remove(name);
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.files().keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    fn lock_writer(&self) -> Result<WriterLock> {
        let mut held = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        if *held {
            return Err(StoreError::Locked("memory".into()));
        }
        *held = true;
        Ok(WriterLock {
            _release: Box::new(RamLock(self.locked.clone())),
        })
    }
}

/// The contract every [`Directory`] backend must pass, run on each backend: here in
/// `tests`, and by other crates' backends through the `contract` feature. Give it an empty
/// directory.
#[cfg(any(test, feature = "contract"))]
pub mod contract {
    use super::*;

    /// Runs every check of the contract on `dir`, which must start empty.
    pub fn run_all(dir: &dyn Directory) {
        manifests_publish_in_generation_order(dir);
        write_once_and_invisible_until_finished(dir);
        unfinished_writer_leaves_nothing(dir);
        reads_survive_delete(dir);
        atomic_write_replaces(dir);
        match dir.sharing() {
            Sharing::Exclusive => single_writer_lock(dir),
            Sharing::Shared { .. } => shared_writers_find_young_files_kept(dir),
        }
        rejects_bad_names(dir);
    }

    fn manifests_publish_in_generation_order(dir: &dyn Directory) {
        assert_eq!(dir.read_manifest_bytes().unwrap(), None);
        dir.publish_manifest(1, b"generation one").unwrap();
        assert_eq!(
            dir.read_manifest_bytes().unwrap().as_deref(),
            Some(&b"generation one"[..])
        );
        dir.publish_manifest(2, b"generation two").unwrap();
        if let Sharing::Shared { .. } = dir.sharing() {
            // The loser of a race for generation 2 learns it, and changes nothing.
            assert!(matches!(
                dir.publish_manifest(2, b"a rival two"),
                Err(StoreError::GenerationTaken(2))
            ));
            assert!(matches!(
                dir.publish_manifest(1, b"a late one"),
                Err(StoreError::GenerationTaken(1))
            ));
        }
        assert_eq!(
            dir.read_manifest_bytes().unwrap().as_deref(),
            Some(&b"generation two"[..])
        );
        if let Sharing::Shared { .. } = dir.sharing() {
            assert!(
                !dir.list()
                    .unwrap()
                    .iter()
                    .any(|n| n.starts_with("manifest")),
                "published manifests are not store files"
            );
        }
    }

    fn shared_writers_find_young_files_kept(dir: &dyn Directory) {
        let w = dir.create("young.seg").unwrap();
        w.finish().unwrap();
        let past = SystemTime::now() - Duration::from_secs(3600);
        assert!(
            !dir.list_written_before(past)
                .unwrap()
                .contains(&"young.seg".to_owned())
        );
        let future = SystemTime::now() + Duration::from_secs(3600);
        assert!(
            dir.list_written_before(future)
                .unwrap()
                .contains(&"young.seg".to_owned())
        );
        dir.delete("young.seg").unwrap();
    }

    fn write_once_and_invisible_until_finished(dir: &dyn Directory) {
        let mut w = dir.create("a.seg").unwrap();
        w.write_all(b"hello").unwrap();
        assert!(matches!(
            dir.open_read("a.seg"),
            Err(StoreError::NotFound(_))
        ));
        assert!(!dir.list().unwrap().contains(&"a.seg".to_string()));
        w.finish().unwrap();
        assert_eq!(dir.open_read("a.seg").unwrap().bytes(), b"hello");
        assert!(dir.list().unwrap().contains(&"a.seg".to_string()));
        assert!(matches!(
            dir.create("a.seg"),
            Err(StoreError::AlreadyExists(_))
        ));
    }

    fn unfinished_writer_leaves_nothing(dir: &dyn Directory) {
        let mut w = dir.create("b.seg").unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert!(matches!(
            dir.open_read("b.seg"),
            Err(StoreError::NotFound(_))
        ));
        assert!(!dir.list().unwrap().iter().any(|n| n.starts_with("b.seg")));
        // The name is free again.
        let w = dir.create("b.seg").unwrap();
        w.finish().unwrap();
        assert_eq!(dir.open_read("b.seg").unwrap().bytes(), b"");
    }

    fn reads_survive_delete(dir: &dyn Directory) {
        let mut w = dir.create("c.seg").unwrap();
        w.write_all(&[7u8; 10_000]).unwrap();
        w.finish().unwrap();
        let slice = dir.open_read("c.seg").unwrap();
        dir.delete("c.seg").unwrap();
        dir.delete("c.seg").unwrap(); // idempotent
        assert_eq!(slice.bytes(), &[7u8; 10_000][..]);
        assert!(matches!(
            dir.open_read("c.seg"),
            Err(StoreError::NotFound(_))
        ));
    }

    fn atomic_write_replaces(dir: &dyn Directory) {
        assert_eq!(dir.read_all("state").unwrap(), None);
        dir.atomic_write("state", b"one").unwrap();
        let before = dir.open_read("state").unwrap();
        dir.atomic_write("state", b"two!").unwrap();
        assert_eq!(
            dir.read_all("state").unwrap().as_deref(),
            Some(&b"two!"[..])
        );
        assert_eq!(before.bytes(), b"one", "an open reader keeps the old bytes");
        let names = dir.list().unwrap();
        assert!(
            names.iter().all(|n| !n.contains("tmp")),
            "no temporary left: {names:?}"
        );
    }

    fn single_writer_lock(dir: &dyn Directory) {
        let lock = dir.lock_writer().unwrap();
        assert!(matches!(dir.lock_writer(), Err(StoreError::Locked(_))));
        drop(lock);
        let _again = dir.lock_writer().unwrap();
    }

    fn rejects_bad_names(dir: &dyn Directory) {
        for bad in ["", "../x", "a/b", ".hidden", "x.partial"] {
            assert!(
                matches!(dir.create(bad), Err(StoreError::InvalidArgument(_))),
                "{bad}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_directory_meets_contract() {
        contract::run_all(&RamDirectory::new());
    }

    #[test]
    fn mmap_directory_meets_contract() {
        let tmp = tempfile::tempdir().unwrap();
        contract::run_all(&MmapDirectory::open(tmp.path()).unwrap());
    }

    #[test]
    fn mmap_directory_lock_excludes_a_second_handle() {
        let tmp = tempfile::tempdir().unwrap();
        let a = MmapDirectory::open(tmp.path()).unwrap();
        let b = MmapDirectory::open(tmp.path()).unwrap();
        let _held = a.lock_writer().unwrap();
        assert!(matches!(b.lock_writer(), Err(StoreError::Locked(_))));
    }

    #[test]
    fn mmap_directory_removes_partials_of_crashed_writers() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = MmapDirectory::open(tmp.path()).unwrap();
        let mut w = dir.create("x.seg").unwrap();
        w.write_all(b"abc").unwrap();
        std::mem::forget(w); // as if the process died before finish
        assert!(tmp.path().join("x.seg.partial").exists());
        assert_eq!(dir.remove_partials().unwrap(), 1);
        assert!(!tmp.path().join("x.seg.partial").exists());
    }
}
