//! External sort of sealed aliases, for the alias file of a dump import.
//!
//! Workers buffer `(domain tag, sealed record)` records in a flat arena (each alias and each
//! domain name sealed on its own, the domain's record first in its tag); when a worker's
//! share of the memory budget is full the buffer is sorted, deduplicated and written as a run
//! file. At publication the runs are merged (a heap over buffered readers), repeats across
//! runs dropped, and each record opened again and gathered into the store's sealed blocks
//! ([`BlockBuilder`]) for its [`AliasWriter`]. Memory stays bounded whatever the number of
//! aliases, and no run holds anything but sealed bytes.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    fs::File,
    io::{self, BufReader, BufWriter, Read, Write},
    path::PathBuf,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use leakwatch_identity::{
    BlockBuilder, BlockKind, DOMAIN_RECORD, OperatorKey, SealError, SealedBlock,
};
use leakwatch_store::{
    AliasEntry, AliasMeta, AliasWriter, SealedKind, StoreError, StoreWriter, unix_now,
};

/// The stealer-log files' kinds, in the order an import gathers them: by address, by
/// website, by e-mail domain.
pub(crate) const STEALER_KINDS: [BlockKind; 3] = [
    BlockKind::StealerEmailWebsites,
    BlockKind::StealerWebsiteAddresses,
    BlockKind::StealerDomainAliases,
];

/// The store's name for what a file of `kind` blocks holds.
pub(crate) fn sealed_kind(kind: BlockKind) -> SealedKind {
    match kind {
        BlockKind::StealerEmailWebsites => SealedKind::StealerEmail,
        BlockKind::StealerWebsiteAddresses => SealedKind::StealerWebsite,
        BlockKind::StealerDomainAliases => SealedKind::StealerDomain,
        _ => SealedKind::Aliases,
    }
}

/// The blocks a file of the store's `kind` holds.
pub(crate) fn block_kind(kind: SealedKind) -> BlockKind {
    match kind {
        SealedKind::StealerEmail => BlockKind::StealerEmailWebsites,
        SealedKind::StealerWebsite => BlockKind::StealerWebsiteAddresses,
        SealedKind::StealerDomain => BlockKind::StealerDomainAliases,
        _ => BlockKind::Aliases,
    }
}

/// The run files of one import (of one kind of sealed file).
pub(crate) struct AliasRuns {
    dir: PathBuf,
    kind: BlockKind,
    budget: usize,
    runs: Mutex<Vec<PathBuf>>,
    next: AtomicU64,
    /// Records pushed (before deduplication).
    pub(crate) pushed: AtomicU64,
}

impl AliasRuns {
    /// Runs in `dir`, each worker holding at most `budget` bytes before it writes one.
    #[cfg(test)]
    pub(crate) fn new(dir: PathBuf, budget: usize) -> AliasRuns {
        AliasRuns::of_kind(dir, budget, BlockKind::Aliases)
    }

    /// Runs of records for a file of `kind` blocks (each key's name record first, as a
    /// domain's, then its values).
    pub(crate) fn of_kind(dir: PathBuf, budget: usize, kind: BlockKind) -> AliasRuns {
        AliasRuns {
            dir,
            kind,
            budget: budget.max(64 << 10),
            runs: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
        }
    }

    /// Merges every run into a new alias file of `writer`, sealed under `key`, and describes
    /// it for the commit that publishes it.
    pub(crate) fn write_alias_file(
        &self,
        writer: &mut StoreWriter,
        key: &OperatorKey,
    ) -> Result<AliasMeta, crate::IngestError> {
        let kind = sealed_kind(self.kind);
        let (name, mut out) = writer.create_sealed_file(kind)?;
        self.merge_into(&mut out, key)?;
        let stats = out.finish()?;
        Ok(AliasMeta {
            file: name,
            kind,
            records: stats.records,
            bytes: stats.bytes,
            created_unix: unix_now(),
            key_id: key.id().to_owned(),
        })
    }

    /// Merges every run into `out`, in blocks sealed under `key`.
    pub(crate) fn merge_into(
        &self,
        out: &mut AliasWriter,
        key: &OperatorKey,
    ) -> Result<(), MergeError> {
        let runs = std::mem::take(&mut *self.runs.lock().unwrap_or_else(|e| e.into_inner()));
        let mut readers = Vec::with_capacity(runs.len());
        for path in &runs {
            readers.push(BufReader::with_capacity(
                64 << 10,
                File::open(path).map_err(MergeError::Io)?,
            ));
        }
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some((tag, sealed)) = read_record(r).map_err(MergeError::Io)? {
                heap.push(Reverse((tag, sealed, i)));
            }
        }
        let mut blocks = Blocks {
            out,
            builder: BlockBuilder::of_kind(key, self.kind),
            sealer: key.sealer(),
            domain: None,
        };
        let mut last: Option<(u64, Vec<u8>)> = None;
        while let Some(Reverse((tag, sealed, i))) = heap.pop() {
            if last
                .as_ref()
                .is_none_or(|(t, s)| (*t, s.as_slice()) != (tag, &sealed[..]))
            {
                blocks.push(tag, &sealed)?;
            }
            if let Some((t, s)) = read_record(&mut readers[i]).map_err(MergeError::Io)? {
                heap.push(Reverse((t, s, i)));
            }
            last = Some((tag, sealed));
        }
        blocks.finish()?;
        for path in runs {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}

/// The merge's output: opens each record and gathers the aliases into sealed blocks.
struct Blocks<'a> {
    out: &'a mut AliasWriter,
    builder: BlockBuilder,
    sealer: leakwatch_identity::Sealer,
    /// The domain of the current tag, from its domain record.
    domain: Option<(u64, String)>,
}

impl Blocks<'_> {
    fn push(&mut self, tag: u64, sealed: &[u8]) -> Result<(), MergeError> {
        if sealed.first() == Some(&DOMAIN_RECORD) {
            let domain = self
                .sealer
                .open_domain(tag, sealed)
                .map_err(|_| MergeError::Unseal)?;
            self.domain = Some((tag, domain));
            return Ok(());
        }
        let Some((_, domain)) = self.domain.as_ref().filter(|d| d.0 == tag) else {
            return Err(MergeError::Unseal);
        };
        let alias = self
            .sealer
            .open(domain, sealed)
            .map_err(|_| MergeError::Unseal)?;
        if let Some(block) = self.builder.push(tag, domain, &alias) {
            self.write(block)?;
        }
        Ok(())
    }

    fn write(&mut self, block: SealedBlock) -> Result<(), MergeError> {
        write_block(self.out, block)
    }

    fn finish(self) -> Result<(), MergeError> {
        match self.builder.finish() {
            Some(block) => write_block(self.out, block),
            None => Ok(()),
        }
    }
}

fn write_block(out: &mut AliasWriter, block: SealedBlock) -> Result<(), MergeError> {
    out.push_block(block.first_tag, block.records, &block.bytes)
        .map_err(MergeError::Store)
}

/// Opens what alias files hand out, of either version, into `(domain, alias)` pairs: a
/// version-2 block whole, a version-1 record against the domain record before it (each
/// domain's records start with its sealed name).
pub struct AliasOpener {
    kind: BlockKind,
    sealer: leakwatch_identity::Sealer,
    /// Version 1: the domain of the current tag.
    domain: Option<(u64, String)>,
}

impl std::fmt::Debug for AliasOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliasOpener").finish_non_exhaustive()
    }
}

impl AliasOpener {
    /// An opener for files sealed under `key`.
    pub fn new(key: &OperatorKey) -> AliasOpener {
        AliasOpener::of_kind(key, BlockKind::Aliases)
    }

    /// An opener for the files the store lists as `kind`, sealed under `key`.
    pub fn for_files(key: &OperatorKey, kind: SealedKind) -> AliasOpener {
        AliasOpener::of_kind(key, block_kind(kind))
    }

    /// An opener for files of `kind` blocks sealed under `key` (their groups' keys come as
    /// `domain`, their values as `alias`).
    pub fn of_kind(key: &OperatorKey, kind: BlockKind) -> AliasOpener {
        AliasOpener {
            kind,
            sealer: key.sealer(),
            domain: None,
        }
    }

    /// Calls `f(domain, alias)` for every alias `entry` holds (entries of one file, in its
    /// order). Damage, or another key, is [`SealError::Unseal`].
    pub fn open(
        &mut self,
        entry: AliasEntry<'_>,
        mut f: impl FnMut(&str, &str),
    ) -> Result<(), SealError> {
        match entry {
            AliasEntry::Block {
                index,
                first_tag,
                sealed,
                ..
            } => {
                for g in self
                    .sealer
                    .open_block(self.kind, index, first_tag, sealed)?
                {
                    for alias in &g.aliases {
                        f(&g.domain, alias);
                    }
                }
            }
            // Version-1 records are aliases only.
            AliasEntry::Record { .. } if self.kind != BlockKind::Aliases => {
                return Err(SealError::Unseal);
            }
            AliasEntry::Record { tag, sealed } if sealed.first() == Some(&DOMAIN_RECORD) => {
                self.domain = Some((tag, self.sealer.open_domain(tag, sealed)?));
            }
            AliasEntry::Record { tag, sealed } => {
                let Some((_, domain)) = self.domain.as_ref().filter(|d| d.0 == tag) else {
                    return Err(SealError::Unseal);
                };
                f(domain, &self.sealer.open(domain, sealed)?);
            }
            _ => return Err(SealError::Unseal),
        }
        Ok(())
    }
}

/// Seals `(domain, alias)` pairs into a run buffer under one key, with each domain's name
/// record pushed when the domain changes (the merge needs it before the aliases of its tag;
/// repeats are dropped there).
pub(crate) struct SealingBuffer<'a> {
    sealer: leakwatch_identity::Sealer,
    buffer: AliasBuffer<'a>,
    last: Option<(String, u64)>,
}

impl<'a> SealingBuffer<'a> {
    pub(crate) fn new(key: &OperatorKey, runs: &'a AliasRuns) -> Self {
        SealingBuffer {
            sealer: key.sealer(),
            buffer: AliasBuffer::new(runs),
            last: None,
        }
    }

    pub(crate) fn push(&mut self, domain: &str, alias: &str) -> io::Result<()> {
        let tag = match &self.last {
            Some((d, tag)) if d == domain => *tag,
            _ => {
                let tag = self.sealer.domain_tag(domain);
                self.buffer.push(tag, &self.sealer.seal_domain(domain))?;
                self.last = Some((domain.to_owned(), tag));
                tag
            }
        };
        let sealed = self.sealer.seal(domain, alias);
        self.buffer.push(tag, &sealed)
    }

    pub(crate) fn finish(self) -> io::Result<()> {
        self.buffer.finish()
    }
}

/// Why merging runs failed.
#[derive(Debug)]
pub(crate) enum MergeError {
    Io(io::Error),
    Store(StoreError),
    /// A run's record did not open under the key it was sealed with, or an alias came
    /// before its domain's name: the spill file was damaged.
    Unseal,
}

impl From<MergeError> for crate::IngestError {
    fn from(e: MergeError) -> Self {
        match e {
            MergeError::Io(source) => crate::IngestError::Io {
                context: "merging alias runs".into(),
                source,
            },
            MergeError::Store(e) => crate::IngestError::Store(e),
            MergeError::Unseal => crate::IngestError::Io {
                context: "merging alias runs".into(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a spilled alias does not open under the operator key: the spill file was damaged",
                ),
            },
        }
    }
}

fn read_record(r: &mut impl Read) -> io::Result<Option<(u64, Vec<u8>)>> {
    let mut head = [0u8; RECORD_HEAD];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut sealed = vec![0u8; u16::from_be_bytes([head[8], head[9]]) as usize];
    r.read_exact(&mut sealed)?;
    let tag = u64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
    Ok(Some((tag, sealed)))
}

/// A run record's head: the tag (8 bytes, big-endian) and the sealed length (2).
const RECORD_HEAD: usize = 10;
/// Longest sealed record a run takes: a stealer value (`alias NUL website`) and its seal.
const MAX_RUN_RECORD: usize = 1 + 16 + leakwatch_identity::MAX_VALUE_LEN;

/// One worker's buffer: records `[tag BE 8][len BE 2][sealed]` back to back.
pub(crate) struct AliasBuffer<'a> {
    runs: &'a AliasRuns,
    arena: Vec<u8>,
    starts: Vec<u32>,
}

impl<'a> AliasBuffer<'a> {
    pub(crate) fn new(runs: &'a AliasRuns) -> Self {
        AliasBuffer {
            runs,
            arena: Vec::new(),
            starts: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, tag: u64, sealed: &[u8]) -> io::Result<()> {
        debug_assert!(!sealed.is_empty() && sealed.len() <= MAX_RUN_RECORD);
        self.starts.push(self.arena.len() as u32);
        self.arena.extend_from_slice(&tag.to_be_bytes());
        self.arena
            .extend_from_slice(&(sealed.len() as u16).to_be_bytes());
        self.arena.extend_from_slice(sealed);
        self.runs.pushed.fetch_add(1, Ordering::Relaxed);
        if self.arena.len() + self.starts.len() * 4 >= self.runs.budget {
            self.write_run()?;
        }
        Ok(())
    }

    fn record(&self, start: u32) -> &[u8] {
        let s = start as usize;
        let len = u16::from_be_bytes([self.arena[s + 8], self.arena[s + 9]]) as usize;
        &self.arena[s..s + RECORD_HEAD + len]
    }

    fn write_run(&mut self) -> io::Result<()> {
        if self.starts.is_empty() {
            return Ok(());
        }
        let mut starts = std::mem::take(&mut self.starts);
        // (tag, sealed) order: the tag bytes are big-endian, so compare them, then the
        // sealed bytes after the length.
        starts.sort_unstable_by(|&a, &b| {
            let (ra, rb) = (self.record(a), self.record(b));
            (&ra[..8], &ra[RECORD_HEAD..]).cmp(&(&rb[..8], &rb[RECORD_HEAD..]))
        });
        starts.dedup_by(|a, b| self.record(*a) == self.record(*b));
        let n = self.runs.next.fetch_add(1, Ordering::Relaxed);
        let stem = sealed_kind(self.runs.kind).file_stem();
        let path = self.runs.dir.join(format!("{stem}-{n:06}.run"));
        let mut out = BufWriter::with_capacity(256 << 10, File::create(&path)?);
        for &s in &starts {
            out.write_all(self.record(s))?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        self.runs
            .runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path);
        self.arena.clear();
        starts.clear();
        self.starts = starts;
        Ok(())
    }

    /// Writes what is left as a last run.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.write_run()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use leakwatch_store::{AliasFile, Directory, RamDirectory};

    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn runs_from_several_workers_merge_into_one_file_of_every_distinct_alias() {
        let key = OperatorKey::from_hex(KEY).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let runs = AliasRuns::new(tmp.path().to_path_buf(), 0); // smallest budget: many runs
        let pair = |w: u64, i: u64| {
            // Repeats within and across workers; a domain's aliases in many runs.
            let domain = format!("d{}.example", (i * 7 + w) % 50);
            (domain, format!("user{}", i % 3000))
        };
        std::thread::scope(|s| {
            for w in 0..3u64 {
                let (runs, key) = (&runs, &key);
                s.spawn(move || {
                    let mut b = SealingBuffer::new(key, runs);
                    for i in 0..20_000u64 {
                        let (domain, alias) = pair(w, i);
                        b.push(&domain, &alias).unwrap();
                    }
                    b.finish().unwrap();
                });
            }
        });
        let want: std::collections::BTreeSet<_> = (0..3u64)
            .flat_map(|w| (0..20_000u64).map(move |i| pair(w, i)))
            .collect();
        assert!(runs.runs.lock().unwrap().len() > 3, "expected several runs");
        let dir = Arc::new(RamDirectory::new());
        let mut w = AliasWriter::new(dir.create("a").unwrap()).unwrap();
        runs.merge_into(&mut w, &key).unwrap();
        assert_eq!(w.finish().unwrap().records, want.len() as u64);
        let file = AliasFile::open("a", dir.open_read("a").unwrap()).unwrap();
        assert!(
            file.bytes() < want.len() as u64 * 6,
            "{} bytes",
            file.bytes()
        );
        let mut got = std::collections::BTreeSet::new();
        let mut opener = AliasOpener::new(&key);
        file.for_each(|e| {
            opener
                .open(e, |d, a| assert!(got.insert((d.to_owned(), a.to_owned()))))
                .unwrap()
        })
        .unwrap();
        assert_eq!(got, want);
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "runs removed"
        );
    }
}
