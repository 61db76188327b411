//! leakwatch's storage engine: immutable, checksummed segments of hashes with counts.
//!
//! - [`Directory`]: write-once-read-many file storage ([`MmapDirectory`], [`RamDirectory`]).
//! - [`Segment`]: one file of sorted (hash, count) pairs of one [`Namespace`], grouped by the
//!   top bits of the hash so that a 5-hex range is one contiguous, checksummed read.
//! - [`Manifest`]: the list of live segments and imported sources, replaced atomically.
//! - [`Snapshot`] to read a published generation, [`StoreWriter`] to publish a new one.
//!
//! This crate does not parse input files, hash passwords, or serve HTTP.

mod bits;
mod directory;
mod error;
mod key;
mod manifest;
mod segment;
mod store;

pub use directory::{Directory, FileSlice, MmapDirectory, RamDirectory, WriteFile, WriterLock};
pub use error::{Result, StoreError};
pub use key::{Key, Namespace, PREFIX_BITS};
pub use manifest::{MANIFEST_FILE, MANIFEST_VERSION, Manifest, SegmentMeta, SourceRecord};
pub use segment::{
    SEGMENT_VERSION, Segment, SegmentIter, SegmentStats, SegmentWriter, TARGET_GROUP_LEN,
    group_shift_for,
};
pub use store::{Commit, CompactStats, Snapshot, StoreWriter, read_manifest, unix_now};

#[cfg(test)]
mod tests;
