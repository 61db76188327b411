//! Where a trail's numbered files are kept. The format, the chain and the seal know nothing
//! of it: a writer and [`crate::verify`] see a [`Files`] — a directory on this machine
//! ([`DirFiles`]), or a table of the PostgreSQL catalogue that every replica shares (the
//! service layer's, issue #21), which holds each file as the chunks its writers appended.
//!
//! The contract, for every place: files are numbered from 1 and only ever grow at their
//! end; everything a writer does happens while it holds the place's one writer lock
//! ([`Files::lock`]), and is durable and visible to the other writers once the lock is let
//! go ([`Locked::finish`]); a file may be cut back only to drop a torn record at its very
//! end, which a place whose appends are atomic never has.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use crate::TrailError;

/// A place that holds a trail's files.
pub trait Files: Send + std::fmt::Debug {
    /// Takes the writers' lock (waiting for it); the files are the caller's until the
    /// returned handle is finished or dropped.
    fn lock(&mut self) -> Result<Box<dyn Locked + '_>, TrailError>;
    /// The numbers of the files, ascending (for reading; no lock).
    fn seqs(&mut self) -> Result<Vec<u32>, TrailError>;
    /// File `seq`, whole (for reading; no lock).
    fn read(&mut self, seq: u32) -> Result<Vec<u8>, TrailError>;
}

/// The files while one writer holds the lock.
pub trait Locked {
    /// The newest file's number, if there is a file.
    fn newest(&mut self) -> Result<Option<u32>, TrailError>;
    /// The bytes of file `seq` after its first `from`, and the file's whole length (which
    /// may be less than `from`: then no bytes).
    fn read_from(&mut self, seq: u32, from: u64) -> Result<(Vec<u8>, u64), TrailError>;
    /// Starts file `seq` (which must not exist) with `header`.
    fn create(&mut self, seq: u32, header: &[u8]) -> Result<(), TrailError>;
    /// Appends `bytes` to file `seq`, whose length is `at`.
    fn append(&mut self, seq: u32, at: u64, bytes: &[u8]) -> Result<(), TrailError>;
    /// Cuts file `seq` back to `len` bytes: a torn record at its end (a crash mid-write).
    fn cut(&mut self, seq: u32, len: u64) -> Result<(), TrailError>;
    /// Makes what was done durable and visible, and lets the lock go.
    fn finish(self: Box<Self>) -> Result<(), TrailError>;
}

/// The file of number `seq`, as a directory names it and as errors name it everywhere.
pub fn file_name(seq: u32) -> String {
    format!("trail-{seq:08}.log")
}

pub(crate) fn io(path: &Path, source: std::io::Error) -> TrailError {
    TrailError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A trail in a directory of this machine: `trail-NNNNNNNN.log` files and their `LOCK`
/// (an advisory `flock`, so the server and the CLI's commands write one chain). Every
/// write is synced before it returns.
#[derive(Debug, Clone)]
pub struct DirFiles {
    dir: PathBuf,
}

impl DirFiles {
    /// The trail in `dir` (made on the first lock).
    pub fn new(dir: &Path) -> DirFiles {
        DirFiles {
            dir: dir.to_owned(),
        }
    }

    fn path(&self, seq: u32) -> PathBuf {
        self.dir.join(file_name(seq))
    }
}

impl Files for DirFiles {
    fn lock(&mut self) -> Result<Box<dyn Locked + '_>, TrailError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let lock_path = self.dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        lock.lock().map_err(|e| io(&lock_path, e))?;
        Ok(Box::new(DirLocked {
            files: self,
            _lock: lock,
        }))
    }

    fn seqs(&mut self) -> Result<Vec<u32>, TrailError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(|e| io(&self.dir, e))?,
        };
        let mut seqs: Vec<u32> = entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_prefix("trail-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    fn read(&mut self, seq: u32) -> Result<Vec<u8>, TrailError> {
        let path = self.path(seq);
        std::fs::read(&path).map_err(|e| io(&path, e))
    }
}

/// A directory's files under its `LOCK` (released when this is dropped).
struct DirLocked<'a> {
    files: &'a mut DirFiles,
    _lock: File,
}

impl Locked for DirLocked<'_> {
    fn newest(&mut self) -> Result<Option<u32>, TrailError> {
        Ok(self.files.seqs()?.last().copied())
    }

    fn read_from(&mut self, seq: u32, from: u64) -> Result<(Vec<u8>, u64), TrailError> {
        let path = self.files.path(seq);
        let mut file = File::open(&path).map_err(|e| io(&path, e))?;
        let len = file.metadata().map_err(|e| io(&path, e))?.len();
        let mut tail = Vec::with_capacity(len.saturating_sub(from) as usize);
        if from < len {
            file.seek(SeekFrom::Start(from))
                .and_then(|_| file.read_to_end(&mut tail))
                .map_err(|e| io(&path, e))?;
        }
        Ok((tail, len))
    }

    fn create(&mut self, seq: u32, header: &[u8]) -> Result<(), TrailError> {
        let path = self.files.path(seq);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        file.write_all(header).map_err(|e| io(&path, e))?;
        file.sync_data().map_err(|e| io(&path, e))?;
        let dir = &self.files.dir;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(dir, e))
    }

    fn append(&mut self, seq: u32, _at: u64, bytes: &[u8]) -> Result<(), TrailError> {
        let path = self.files.path(seq);
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        file.write_all(bytes).map_err(|e| io(&path, e))?;
        file.sync_data().map_err(|e| io(&path, e))
    }

    fn cut(&mut self, seq: u32, len: u64) -> Result<(), TrailError> {
        let path = self.files.path(seq);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(len).and_then(|()| f.sync_data()))
            .map_err(|e| io(&path, e))
    }

    fn finish(self: Box<Self>) -> Result<(), TrailError> {
        // Every write was synced as it was made; dropping the lock file lets the lock go.
        Ok(())
    }
}
