//! The store's error type.
//!
//! Every failure a caller can act on has its own variant; data corruption is always
//! [`StoreError::Corrupt`] and names the file and byte offset, so an operator can find it.
//! This module does not decide what to do about an error (retry, isolate, abort): callers do.

use std::{fmt, io, path::PathBuf};

/// Errors from the segment store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An operating-system I/O failure on a named path.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory being accessed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Bytes on disk (or in memory) do not match their checksum or their format.
    #[error("corrupt data in {file} at byte {offset}: {reason}")]
    Corrupt {
        /// The store file, by its name in the directory.
        file: String,
        /// Byte offset of the damaged section.
        offset: u64,
        /// What did not check out.
        reason: String,
    },
    /// A file was written by a newer (or unknown) format version.
    #[error(
        "{file} has format version {found}; this build reads version {supported} (a newer \
         leakwatch wrote it, or the file is damaged at its version field)"
    )]
    UnsupportedVersion {
        /// The store file, by its name in the directory.
        file: String,
        /// The version found in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A file that should exist does not.
    #[error("file not found: {0}")]
    NotFound(String),
    /// A write-once file already exists.
    #[error("file already exists: {0}")]
    AlreadyExists(String),
    /// Another process holds the writer lock.
    #[error("the store at {0} is locked by another writer (ingest or compaction in progress)")]
    Locked(String),
    /// The caller broke an API contract (keys out of order, zero counts, bad names).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Another writer published this generation first (a directory shared by writers, see
    /// [`crate::Sharing`]); the loser rebases on the newer manifest and tries again.
    #[error("generation {0} was published by another writer first")]
    GenerationTaken(u64),
    /// A concurrent writer changed what a commit depends on, so it cannot be rebased (a
    /// compaction of segments another writer already replaced, say).
    #[error("a concurrent writer changed the store under this commit: {0}")]
    Conflict(String),
    /// The storage backend (an object store, say) failed or could not be reached.
    #[error("{operation}: {reason}")]
    Backend {
        /// What was being done, naming the object.
        operation: String,
        /// The backend's error, its chain of causes joined.
        reason: String,
    },
}

impl StoreError {
    /// A [`StoreError::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`StoreError::Corrupt`] for `file` at `offset`.
    pub fn corrupt(file: &str, offset: u64, reason: impl fmt::Display) -> Self {
        StoreError::Corrupt {
            file: file.to_owned(),
            offset,
            reason: reason.to_string(),
        }
    }

    /// True when the error means stored data is damaged (as opposed to an environment failure).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::UnsupportedVersion { .. }
        )
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
