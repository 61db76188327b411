//! leakwatch's storage engine: immutable, checksummed segments of hashes with counts or
//! breach sets.
//!
//! - [`Directory`]: write-once-read-many file storage ([`MmapDirectory`], [`RamDirectory`]).
//! - [`Segment`]: one file of sorted (hash, count) pairs of one [`Namespace`], grouped by the
//!   top bits of the hash so that a 5-hex range is one contiguous, checksummed read.
//! - [`Postings`]: the breach sets an account segment's values stand for.
//! - [`AliasFile`]: sealed e-mail local parts filed by a keyed domain tag, for domain search.
//! - [`EtagTable`]: a mirrored namespace's per-range ETags from its source.
//! - [`AnswerFile`]: every range of a generation rendered ahead (a server's answer tier).
//! - [`Manifest`]: the list of live files, breaches and imported sources, replaced atomically.
//! - [`Snapshot`] to read a published generation, [`StoreWriter`] to publish a new one.
//!
//! This crate does not parse input files, hash passwords, or serve HTTP.

mod alias;
mod answers;
mod bits;
mod directory;
mod error;
mod etags;
mod footer;
mod key;
mod manifest;
mod postings;
mod render;
mod segment;
mod snapshot;
mod writer;

pub use alias::{
    ALIAS_VERSION, AliasEntry, AliasFile, AliasStats, AliasWriter, MAX_BLOCK_LEN, MAX_SEALED_LEN,
};
pub use answers::{
    ANSWER_SLOTS, ANSWERS_VERSION, AnswerEntry, AnswerFile, AnswerFileWriter, RangeAnswers,
    answer_file_name, remove_partial_answer_files,
};
#[cfg(feature = "contract")]
pub use directory::contract;
pub use directory::{
    Directory, FileSlice, MmapDirectory, RamDirectory, Sharing, WriteFile, WriterLock, check_name,
};
pub use error::{Result, StoreError};
pub use etags::{ETAGS_VERSION, EtagTable, MAX_ETAG_LEN, RANGES};
pub use key::{Key, Namespace, PREFIX_BITS};
pub use manifest::{
    AliasMeta, MANIFEST_FILE, MANIFEST_VERSION, Manifest, MirrorMeta, SealedKind, SegmentMeta,
    SourceRecord,
};
pub use postings::{
    POSTINGS_VERSION, Postings, breach_ref, canonical_refs, ref_breach, ref_is_primary,
};
pub use render::render_entries;
pub use segment::{
    EncodedGroups, GroupCoding, GroupEncoder, GroupLayout, MAX_SPLIT, SEGMENT_VERSION, Segment,
    SegmentIter, SegmentStats, SegmentWriter, TARGET_GROUP_LEN,
};
pub use snapshot::{Snapshot, read_manifest, sum_repeats, unix_now};
pub use writer::{Commit, CompactStats, StoreWriter};

#[cfg(test)]
mod tests;
