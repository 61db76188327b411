//! The store as readers and the single writer see it.
//!
//! [`Snapshot`] is an immutable view of one published generation: queries merge the
//! segments of a namespace and sum counts. [`StoreWriter`] holds the cross-process writer
//! lock, writes new segments, and publishes by replacing the manifest; it also removes what
//! crashed writers left behind and merges segments ([`StoreWriter::compact`]).
//! Nothing here parses input or speaks HTTP.

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::{
    directory::{Directory, WriterLock},
    error::{Result, StoreError},
    key::{Key, Namespace},
    manifest::{MANIFEST_FILE, MANIFEST_VERSION, Manifest, SegmentMeta, SourceRecord},
    segment::{Segment, SegmentIter, SegmentStats, SegmentWriter},
};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads the published manifest, or an empty one for a new store.
pub fn read_manifest(dir: &dyn Directory) -> Result<Manifest> {
    match dir.read_all(MANIFEST_FILE)? {
        Some(bytes) => Manifest::decode(&bytes),
        None => Ok(Manifest {
            format_version: MANIFEST_VERSION,
            ..Manifest::default()
        }),
    }
}

/// An immutable view of one published generation.
#[derive(Debug, Clone)]
pub struct Snapshot {
    manifest: Manifest,
    sha1: Vec<Segment>,
    ntlm: Vec<Segment>,
}

impl Snapshot {
    /// Opens the currently published generation. If a compaction deletes a segment between
    /// reading the manifest and opening the segment, the newer manifest is read instead.
    pub fn open(dir: &dyn Directory) -> Result<Snapshot> {
        let mut attempts = 0;
        loop {
            let manifest = read_manifest(dir)?;
            match Self::open_manifest(dir, manifest) {
                Err(StoreError::NotFound(_)) if attempts < 10 => attempts += 1,
                other => return other,
            }
        }
    }

    fn open_manifest(dir: &dyn Directory, manifest: Manifest) -> Result<Snapshot> {
        let mut snap = Snapshot {
            manifest: Manifest::default(),
            sha1: Vec::new(),
            ntlm: Vec::new(),
        };
        for meta in &manifest.segments {
            let seg = Segment::open(&meta.file, dir.open_read(&meta.file)?)?;
            if seg.namespace() != meta.namespace || seg.hashes() != meta.hashes {
                return Err(StoreError::corrupt(
                    &meta.file,
                    0,
                    "segment disagrees with the manifest",
                ));
            }
            match meta.namespace {
                Namespace::Sha1 => snap.sha1.push(seg),
                Namespace::Ntlm => snap.ntlm.push(seg),
            }
        }
        snap.manifest = manifest;
        Ok(snap)
    }

    /// The manifest this snapshot was opened from.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// The published generation (0 for an empty store).
    pub fn generation(&self) -> u64 {
        self.manifest.generation
    }
    /// Live segments of a namespace, oldest first.
    pub fn segments(&self, ns: Namespace) -> &[Segment] {
        match ns {
            Namespace::Sha1 => &self.sha1,
            Namespace::Ntlm => &self.ntlm,
        }
    }
    /// Unix time of the newest segment of a namespace (or of the manifest).
    pub fn modified_unix(&self, ns: Namespace) -> u64 {
        self.manifest
            .segments_of(ns)
            .map(|s| s.created_unix)
            .max()
            .unwrap_or(self.manifest.published_unix)
    }

    /// Every (key, summed count) with the 20-bit `prefix`, sorted by key.
    pub fn range(&self, ns: Namespace, prefix: u32) -> Result<Vec<(Key, u64)>> {
        let mut out = Vec::new();
        let segs = self.segments(ns);
        for seg in segs {
            seg.for_each_in_range(prefix, |k, c| out.push((k, c)))?;
        }
        if segs.len() > 1 {
            out.sort_unstable_by_key(|e| e.0);
            out.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    kept.1 = kept.1.saturating_add(later.1);
                }
                same
            });
        }
        Ok(out)
    }

    /// The summed count of one hash (0 when absent).
    pub fn count(&self, ns: Namespace, key: Key) -> Result<u64> {
        let mut total = 0u64;
        for seg in self.segments(ns) {
            total = total.saturating_add(seg.get(key)?.unwrap_or(0));
        }
        Ok(total)
    }

    /// Checks every checksum of every segment.
    pub fn verify(&self) -> Result<()> {
        for seg in self.sha1.iter().chain(&self.ntlm) {
            seg.verify()?;
        }
        Ok(())
    }
}

/// What to publish in one step.
#[derive(Debug, Default)]
pub struct Commit {
    /// New segments (already finished with [`StoreWriter::create_segment`]).
    pub added: Vec<SegmentMeta>,
    /// Segment files this publication retires.
    pub removed: Vec<String>,
    /// Sources this publication imports.
    pub sources: Vec<SourceRecord>,
}

/// Result of a compaction.
#[derive(Debug, Clone, Copy)]
pub struct CompactStats {
    /// Segments merged.
    pub merged: usize,
    /// Distinct hashes in the result.
    pub hashes: u64,
    /// Bytes before.
    pub bytes_before: u64,
    /// Bytes after.
    pub bytes_after: u64,
}

/// The single writer of a store: holds the lock for its lifetime.
#[derive(Debug)]
pub struct StoreWriter {
    dir: Arc<dyn Directory>,
    manifest: Manifest,
    next_seq: u32,
    _lock: WriterLock,
}

impl StoreWriter {
    /// Takes the writer lock, reads the manifest, and deletes every file a crashed writer
    /// left behind (unfinished files and segments no manifest names).
    pub fn open(dir: Arc<dyn Directory>) -> Result<StoreWriter> {
        let lock = dir.lock_writer()?;
        let manifest = read_manifest(dir.as_ref())?;
        let w = StoreWriter {
            dir,
            manifest,
            next_seq: 0,
            _lock: lock,
        };
        w.remove_unreferenced()?;
        Ok(w)
    }

    fn remove_unreferenced(&self) -> Result<usize> {
        let mut removed = self.dir.remove_partials()?;
        for name in self.dir.list()? {
            let live =
                name == MANIFEST_FILE || self.manifest.segments.iter().any(|s| s.file == name);
            if !live {
                self.dir.delete(&name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The directory written to.
    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.dir
    }
    /// The last published manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// Whether a source with this fingerprint was already imported.
    pub fn has_source(&self, fingerprint: &str) -> bool {
        self.manifest
            .sources
            .iter()
            .any(|s| s.fingerprint == fingerprint)
    }

    /// Starts a new segment file that the next [`StoreWriter::commit`] can publish.
    pub fn create_segment(
        &mut self,
        ns: Namespace,
        expected_hashes: u64,
    ) -> Result<(String, SegmentWriter)> {
        let name = format!(
            "{:010}-{:03}-{}.seg",
            self.manifest.generation + 1,
            self.next_seq,
            ns.name()
        );
        self.next_seq += 1;
        let out = self.dir.create(&name)?;
        Ok((name.clone(), SegmentWriter::new(out, ns, expected_hashes)?))
    }

    /// Describes a finished segment for a [`Commit`].
    pub fn segment_meta(name: String, ns: Namespace, stats: SegmentStats) -> SegmentMeta {
        SegmentMeta {
            file: name,
            namespace: ns,
            hashes: stats.hashes,
            total_count: stats.total_count,
            bytes: stats.bytes,
            created_unix: unix_now(),
        }
    }

    /// Publishes a new generation: one atomic manifest replacement. Files retired by the
    /// commit are deleted afterwards (readers holding them keep their mapped bytes).
    pub fn commit(&mut self, commit: Commit) -> Result<&Manifest> {
        let mut next = self.manifest.clone();
        next.format_version = MANIFEST_VERSION;
        next.generation += 1;
        next.published_unix = unix_now();
        next.segments.retain(|s| !commit.removed.contains(&s.file));
        next.segments.extend(commit.added);
        next.sources.extend(commit.sources);
        self.dir.atomic_write(MANIFEST_FILE, &next.encode())?;
        self.manifest = next;
        self.next_seq = 0;
        for name in &commit.removed {
            self.dir.delete(name)?;
        }
        Ok(&self.manifest)
    }

    /// Merges all segments of a namespace into one, summing counts. Does nothing with fewer
    /// than two segments.
    pub fn compact(&mut self, ns: Namespace) -> Result<Option<CompactStats>> {
        let snap = Snapshot::open_manifest(self.dir.as_ref(), self.manifest.clone())?;
        let segs = snap.segments(ns);
        if segs.len() < 2 {
            return Ok(None);
        }
        // Pass one counts distinct keys so the output is sized exactly; decoding is cheap.
        let mut distinct = 0u64;
        merge_segments(segs, |_, _| {
            distinct += 1;
            Ok(())
        })?;
        let (name, mut writer) = self.create_segment(ns, distinct)?;
        merge_segments(segs, |k, c| writer.push(k, c))?;
        let stats = writer.finish()?;
        let bytes_before = segs.iter().map(Segment::bytes).sum();
        let removed: Vec<String> = segs.iter().map(|s| s.name().to_owned()).collect();
        let merged = removed.len();
        self.commit(Commit {
            added: vec![Self::segment_meta(name, ns, stats)],
            removed,
            sources: Vec::new(),
        })?;
        Ok(Some(CompactStats {
            merged,
            hashes: stats.hashes,
            bytes_before,
            bytes_after: stats.bytes,
        }))
    }
}

/// Streams the sorted union of segments, summing the counts of equal keys. Memory is one
/// decoded group per segment, whatever the segments' sizes.
fn merge_segments(segs: &[Segment], mut f: impl FnMut(Key, u64) -> Result<()>) -> Result<()> {
    let mut cursors: Vec<SegmentIter<'_>> = segs.iter().map(Segment::iter).collect();
    let mut heads: Vec<Option<(Key, u64)>> = Vec::with_capacity(cursors.len());
    for c in &mut cursors {
        heads.push(c.next().transpose()?);
    }
    while let Some(min) = heads.iter().flatten().map(|h| h.0).min() {
        let mut count = 0u64;
        for (head, cursor) in heads.iter_mut().zip(&mut cursors) {
            if let Some((k, c)) = *head
                && k == min
            {
                count = count.saturating_add(c);
                *head = cursor.next().transpose()?;
            }
        }
        f(min, count)?;
    }
    Ok(())
}
