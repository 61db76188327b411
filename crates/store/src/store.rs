//! The store as readers and the single writer see it.
//!
//! [`Snapshot`] is an immutable view of one published generation: queries merge the
//! segments of a namespace and sum counts. [`StoreWriter`] holds the cross-process writer
//! lock, writes new segments, and publishes by replacing the manifest; it also removes what
//! crashed writers left behind and merges segments ([`StoreWriter::compact`]).
//! Account segments carry a postings file each ([`Postings`]): a lookup maps the stored
//! breach-set id to breach ids, and compaction unions the sets of equal keys.
//! Nothing here parses input or speaks HTTP.

use std::{
    collections::HashMap,
    io::Write,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::{
    alias::{AliasFile, AliasWriter},
    directory::{Directory, FileSlice, WriterLock},
    error::{Result, StoreError},
    etags::EtagTable,
    key::{Key, Namespace, PREFIX_BITS},
    manifest::{
        AliasMeta, MANIFEST_FILE, MANIFEST_VERSION, Manifest, MirrorMeta, SegmentMeta, SourceRecord,
    },
    postings::{Postings, canonical_refs, ref_breach},
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
    account: Vec<Segment>,
    /// One per account segment, same order.
    postings: Vec<Arc<Postings>>,
    aliases: Vec<AliasFile>,
    /// Every file the manifest names, as mapped when the snapshot was opened (what
    /// [`Snapshot::copy_to`] writes out).
    files: Vec<(String, FileSlice)>,
    /// Account keys the manifest says are forgotten: never answered.
    forgotten: std::collections::HashSet<Key>,
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
            account: Vec::new(),
            postings: Vec::new(),
            aliases: Vec::new(),
            files: Vec::new(),
            forgotten: forgotten_keys(&manifest)?,
        };
        for meta in &manifest.segments {
            let file = dir.open_read(&meta.file)?;
            snap.files.push((meta.file.clone(), file.clone()));
            let seg = Segment::open(&meta.file, file)?;
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
                Namespace::Account => {
                    let name = meta.postings.as_deref().ok_or_else(|| {
                        StoreError::corrupt(&meta.file, 0, "account segment without postings")
                    })?;
                    let file = dir.open_read(name)?;
                    snap.files.push((name.to_owned(), file.clone()));
                    let postings = Postings::decode(name, file.bytes())?;
                    let limit = manifest.breaches.len() as u32;
                    if postings.sets().flatten().any(|&r| ref_breach(r) >= limit) {
                        return Err(StoreError::corrupt(
                            name,
                            0,
                            "postings name a breach the manifest does not",
                        ));
                    }
                    snap.account.push(seg);
                    snap.postings.push(Arc::new(postings));
                }
            }
        }
        for meta in &manifest.aliases {
            let file = dir.open_read(&meta.file)?;
            snap.files.push((meta.file.clone(), file.clone()));
            snap.aliases.push(AliasFile::open(&meta.file, file)?);
        }
        for mirror in &manifest.mirrors {
            let ours = manifest
                .segments_of(mirror.namespace)
                .any(|s| s.file == mirror.segment);
            if !ours || mirror.namespace == Namespace::Account {
                return Err(StoreError::corrupt(
                    MANIFEST_FILE,
                    0,
                    format!("mirror of {} names no segment of it", mirror.namespace),
                ));
            }
            // Held mapped (for `copy_to`); its checksum is checked when a sync reads it.
            let file = dir.open_read(&mirror.etags)?;
            snap.files.push((mirror.etags.clone(), file));
        }
        snap.manifest = manifest;
        Ok(snap)
    }

    /// Writes this generation into `dest`, an empty store directory: every file it maps,
    /// each through `dest`'s write path (written under a partial name, synced, renamed), then
    /// the manifest, atomically and last, so `dest` holds a store only once it is whole.
    ///
    /// This is a consistent backup taken while imports and compactions go on: published
    /// files never change, and the snapshot holds each one mapped, so one that a newer
    /// generation deletes meanwhile is still copied whole. Returns the bytes written.
    pub fn copy_to(&self, dest: &dyn Directory) -> Result<u64> {
        if !dest.list()?.is_empty() {
            return Err(StoreError::InvalidArgument(
                "the backup's store directory is not empty".into(),
            ));
        }
        let mut bytes = 0;
        for (name, file) in &self.files {
            let mut out = dest.create(name)?;
            out.write_all(file.bytes())
                .map_err(|e| StoreError::io(name, e))?;
            out.finish()?;
            bytes += file.bytes().len() as u64;
        }
        let manifest = self.manifest.encode();
        dest.atomic_write(MANIFEST_FILE, &manifest)?;
        Ok(bytes + manifest.len() as u64)
    }

    /// A mirrored namespace's segment (exactly its source's ranges as last synced) and the
    /// source's ETag table, checked against its checksum; `None` if `ns` is not mirrored.
    pub fn mirror(&self, ns: Namespace) -> Result<Option<(&MirrorMeta, &Segment, EtagTable)>> {
        let Some(meta) = self.manifest.mirror(ns) else {
            return Ok(None);
        };
        let segment = self
            .segments(ns)
            .iter()
            .find(|s| s.name() == meta.segment)
            .ok_or_else(|| StoreError::NotFound(meta.segment.clone()))?;
        let file = self
            .files
            .iter()
            .find(|(name, _)| *name == meta.etags)
            .ok_or_else(|| StoreError::NotFound(meta.etags.clone()))?;
        let table = EtagTable::decode(&meta.etags, file.1.bytes())?;
        Ok(Some((meta, segment, table)))
    }

    /// This snapshot, also never answering `keys` (an erasure a server has accepted but could
    /// not publish yet: see `leakwatch_api::StoreHandle::forget`).
    pub fn with_forgotten(&self, keys: &[Key]) -> Snapshot {
        let mut snap = self.clone();
        snap.forgotten.extend(keys.iter().copied());
        snap
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
            Namespace::Account => &self.account,
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
        password_namespace(ns)?;
        let segs = self.segments(ns);
        // Room for a range a quarter above the mean: at a billion keys an answer is ~1,000
        // lines, and growing the vector by doubling copied it twice over.
        let expected: u64 = segs.iter().map(|s| s.hashes() >> PREFIX_BITS).sum();
        let mut out = Vec::with_capacity(expected as usize * 5 / 4 + 8);
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

    /// Appends the text answer of a range (see [`crate::render_entries`]) to `out`; returns
    /// its lines.
    /// With one segment (a compacted store) the lines are written as the keys decode, with
    /// no list of entries between.
    pub fn render_range(&self, ns: Namespace, prefix: u32, out: &mut Vec<u8>) -> Result<usize> {
        password_namespace(ns)?;
        match self.segments(ns) {
            [seg] => {
                let mut lines = crate::render::LineWriter::new(ns, out);
                lines.make_room(seg.range_len_bound(prefix), out);
                let mut n = 0;
                let decoded = seg.for_each_in_range(prefix, |key, count| {
                    lines.push(key, count, out);
                    n += 1;
                });
                lines.finish(out);
                decoded.map(|()| n)
            }
            _ => {
                let entries = self.range(ns, prefix)?;
                crate::render_entries(ns, &entries, out);
                Ok(entries.len())
            }
        }
    }

    /// The summed count of one hash (0 when absent).
    pub fn count(&self, ns: Namespace, key: Key) -> Result<u64> {
        password_namespace(ns)?;
        let mut total = 0u64;
        for seg in self.segments(ns) {
            total = total.saturating_add(seg.get(key)?.unwrap_or(0));
        }
        Ok(total)
    }

    /// The store-local ids of the breaches an account hash appears in, sorted.
    /// (Whether it was primary there does not matter to a lookup.)
    pub fn account_breaches(&self, key: Key) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        if self.forgotten.contains(&key) {
            return Ok(out);
        }
        for (seg, postings) in self.account.iter().zip(&self.postings) {
            if let Some(set) = seg.get(key)? {
                out.extend(
                    postings_set(seg, postings, set)?
                        .iter()
                        .map(|&r| ref_breach(r)),
                );
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Every account hash whose top 24 bits are `prefix24` (HIBP's 6-hex account range),
    /// with its breach ids, sorted by key.
    pub fn account_range(&self, prefix24: u32) -> Result<Vec<(Key, Vec<u32>)>> {
        let prefix20 = prefix24 >> 4;
        let mut hits: Vec<(Key, Vec<u32>)> = Vec::new();
        for (seg, postings) in self.account.iter().zip(&self.postings) {
            let mut found = Vec::new();
            seg.for_each_in_range(prefix20, |k, set| {
                if (k.shift_right(136).low_u64() as u32) == prefix24 {
                    found.push((k, set));
                }
            })?;
            for (k, set) in found {
                if self.forgotten.contains(&k) {
                    continue;
                }
                let ids = postings_set(seg, postings, set)?
                    .iter()
                    .map(|&r| ref_breach(r));
                hits.push((k, ids.collect()));
            }
        }
        hits.sort_unstable_by_key(|h| h.0);
        let mut out: Vec<(Key, Vec<u32>)> = Vec::with_capacity(hits.len());
        for (k, ids) in hits {
            match out.last_mut() {
                Some(last) if last.0 == k => {
                    last.1.extend(ids);
                    last.1.sort_unstable();
                    last.1.dedup();
                }
                _ => out.push((k, ids)),
            }
        }
        Ok(out)
    }

    /// The name of a store-local breach id.
    pub fn breach_name(&self, id: u32) -> Option<&str> {
        self.manifest.breaches.get(id as usize).map(String::as_str)
    }

    /// Distinct primary identifiers linked to a breach — its PwnCount (a streaming pass
    /// over the account segments that mention it).
    pub fn accounts_in_breach(&self, name: &str) -> Result<u64> {
        let Some(id) = self.manifest.breach_id(name) else {
            return Ok(0);
        };
        let id = crate::postings::breach_ref(id, true);
        let involved: Vec<(Segment, Arc<Postings>)> = self
            .account
            .iter()
            .zip(&self.postings)
            .filter(|(_, p)| p.sets().any(|s| s.binary_search(&id).is_ok()))
            .map(|(s, p)| (s.clone(), p.clone()))
            .collect();
        let segs: Vec<Segment> = involved.iter().map(|x| x.0.clone()).collect();
        let mut n = 0u64;
        merge_heads(&segs, |_, hits| {
            for &(i, set) in hits {
                let (seg, postings) = &involved[i];
                if postings_set(seg, postings, set)?.binary_search(&id).is_ok() {
                    n += 1;
                    break;
                }
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Every live alias file with its manifest entry (which names the sealing key).
    pub fn alias_files(&self) -> impl Iterator<Item = (&AliasMeta, &AliasFile)> {
        self.manifest.aliases.iter().zip(&self.aliases)
    }

    /// Calls `f` with every sealed alias filed under a domain tag, in every alias file.
    /// The same alias may come from several files.
    pub fn aliases_for_tag(&self, tag: u64, mut f: impl FnMut(&[u8])) -> Result<()> {
        for file in &self.aliases {
            file.for_tag(tag, &mut f)?;
        }
        Ok(())
    }

    /// Checks every checksum of every segment and alias file.
    pub fn verify(&self) -> Result<()> {
        for seg in self.sha1.iter().chain(&self.ntlm).chain(&self.account) {
            seg.verify()?;
        }
        for file in &self.aliases {
            file.verify()?;
        }
        for mirror in &self.manifest.mirrors {
            self.mirror(mirror.namespace)?;
        }
        Ok(())
    }
}

/// The manifest's forgotten account keys.
fn forgotten_keys(manifest: &Manifest) -> Result<std::collections::HashSet<Key>> {
    manifest
        .forgotten
        .iter()
        .map(|hex| {
            Key::from_hex(hex.as_bytes()).ok_or_else(|| {
                StoreError::corrupt(MANIFEST_FILE, 0, "a forgotten key is not 40 hex digits")
            })
        })
        .collect()
}

/// Account values are breach-set ids: summing them as counts would be nonsense.
fn password_namespace(ns: Namespace) -> Result<()> {
    if ns == Namespace::Account {
        return Err(StoreError::InvalidArgument(
            "accounts have breach sets, not counts".into(),
        ));
    }
    Ok(())
}

fn postings_set<'a>(seg: &Segment, postings: &'a Postings, set: u64) -> Result<&'a [u32]> {
    postings.set(set).ok_or_else(|| {
        StoreError::corrupt(
            seg.name(),
            0,
            format!("breach set {set} missing from the postings"),
        )
    })
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
    /// Breach names to append to the manifest's breach table (see
    /// [`StoreWriter::breach_id`]).
    pub breaches: Vec<String>,
    /// New alias files.
    pub aliases_added: Vec<AliasMeta>,
    /// Alias files this publication retires.
    pub aliases_removed: Vec<String>,
    /// Account keys to forget from this publication on (see [`Manifest::forgotten`]).
    pub forget: Vec<Key>,
    /// A mirror entry replacing its namespace's (see [`Manifest::mirrors`]); the segment and
    /// ETag table it names must be among `added` or already published.
    pub mirror: Option<MirrorMeta>,
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
///
/// Dropped, it deletes whatever it wrote and did not publish (an import that failed half
/// way, on a full disk say, gives its space back at once instead of at the next writer's
/// start). What counts as published is read again from the manifest on disk then, not taken
/// from memory: a commit whose manifest reached the disk but reported an error must not lose
/// its files.
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
        w.remove_unreferenced_by(&w.manifest)?;
        Ok(w)
    }

    /// Deletes unfinished files and every file `manifest` does not name.
    fn remove_unreferenced_by(&self, manifest: &Manifest) -> Result<usize> {
        let mut removed = self.dir.remove_partials()?;
        let live: std::collections::HashSet<&str> = manifest.live_files().collect();
        for name in self.dir.list()? {
            if name != MANIFEST_FILE && !live.contains(name.as_str()) {
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
    /// Whether a source with this fingerprint was already imported (into this breach, for
    /// a dump: the same file loaded into another breach links its accounts there too).
    pub fn has_source(&self, fingerprint: &str, breach: Option<&str>) -> bool {
        self.manifest
            .sources
            .iter()
            .any(|s| s.fingerprint == fingerprint && s.breach.as_deref() == breach)
    }

    /// The store-local id a breach has, or will get when a commit lists it in
    /// [`Commit::breaches`].
    pub fn breach_id(&self, name: &str) -> (u32, bool) {
        match self.manifest.breach_id(name) {
            Some(id) => (id, false),
            None => (self.manifest.breaches.len() as u32, true),
        }
    }

    fn next_name(&mut self, suffix: &str) -> String {
        let name = format!(
            "{:010}-{:03}-{suffix}",
            self.manifest.generation + 1,
            self.next_seq,
        );
        self.next_seq += 1;
        name
    }

    /// Writes the postings file of a new account segment; returns its name.
    pub fn create_postings(&mut self, postings: &Postings) -> Result<String> {
        let name = self.next_name("account.post");
        let mut out = self.dir.create(&name)?;
        out.write_all(&postings.encode())
            .map_err(|e| StoreError::io("postings", e))?;
        out.finish()?;
        Ok(name)
    }

    /// Starts a new alias file that the next commit can publish.
    pub fn create_alias_file(&mut self) -> Result<(String, AliasWriter)> {
        let name = self.next_name("aliases.alias");
        let out = self.dir.create(&name)?;
        Ok((name, AliasWriter::new(out)?))
    }

    /// Writes a mirror's ETag table that the next commit can publish; returns its name.
    pub fn create_etags(&mut self, ns: Namespace, table: &EtagTable) -> Result<String> {
        let name = self.next_name(&format!("{}.etags", ns.name()));
        let mut out = self.dir.create(&name)?;
        out.write_all(&table.encode())
            .map_err(|e| StoreError::io("ETag table", e))?;
        out.finish()?;
        Ok(name)
    }

    /// Starts a new segment file that the next [`StoreWriter::commit`] can publish.
    pub fn create_segment(
        &mut self,
        ns: Namespace,
        expected_hashes: u64,
    ) -> Result<(String, SegmentWriter)> {
        let name = self.next_name(&format!("{}.seg", ns.name()));
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
            postings: None,
        }
    }

    /// Publishes a new generation: one atomic manifest replacement. Files retired by the
    /// commit are deleted afterwards (readers holding them keep their mapped bytes).
    pub fn commit(&mut self, commit: Commit) -> Result<&Manifest> {
        let before = self.manifest.clone();
        let mut next = self.manifest.clone();
        next.format_version = MANIFEST_VERSION;
        next.generation += 1;
        next.published_unix = unix_now();
        next.segments.retain(|s| !commit.removed.contains(&s.file));
        next.segments.extend(commit.added);
        next.sources.extend(commit.sources);
        for name in commit.breaches {
            if next.breach_id(&name).is_none() {
                next.breaches.push(name);
            }
        }
        next.aliases
            .retain(|a| !commit.aliases_removed.contains(&a.file));
        next.aliases.extend(commit.aliases_added);
        next.forgotten.extend(
            commit
                .forget
                .iter()
                .map(|k| k.to_hex(Namespace::Account).to_ascii_lowercase()),
        );
        next.forgotten.sort_unstable();
        next.forgotten.dedup();
        if let Some(mirror) = commit.mirror {
            next.mirrors.retain(|m| m.namespace != mirror.namespace);
            next.mirrors.push(mirror);
        }
        self.dir.atomic_write(MANIFEST_FILE, &next.encode())?;
        self.manifest = next;
        self.next_seq = 0;
        // Delete what the new manifest no longer names (retired segments, their postings,
        // retired alias files).
        let live: std::collections::HashSet<&str> = self.manifest.live_files().collect();
        let retired: Vec<String> = before
            .live_files()
            .filter(|f| !live.contains(f))
            .map(str::to_owned)
            .collect();
        for name in &retired {
            self.dir.delete(name)?;
        }
        Ok(&self.manifest)
    }

    /// Publishes a generation that forgets `keys` (see [`Manifest::forgotten`]): from it on
    /// they are never answered, and the next account compaction leaves them out.
    pub fn forget(&mut self, keys: Vec<Key>) -> Result<&Manifest> {
        self.commit(Commit {
            forget: keys,
            ..Commit::default()
        })
    }

    /// Merges all segments of a namespace into one: password counts are summed, account
    /// breach sets are united (and renumbered, most frequent first). Does nothing with
    /// fewer than two segments. A mirror's segment is left as it is: it must keep holding
    /// exactly its source's ranges for the next sync.
    pub fn compact(&mut self, ns: Namespace) -> Result<Option<CompactStats>> {
        let snap = Snapshot::open_manifest(self.dir.as_ref(), self.manifest.clone())?;
        let mirror = self.manifest.mirror(ns).map(|m| m.segment.as_str());
        let segs: Vec<Segment> = snap
            .segments(ns)
            .iter()
            .filter(|s| Some(s.name()) != mirror)
            .cloned()
            .collect();
        let segs = segs.as_slice();
        // One account segment is rewritten too while it still holds a forgotten key.
        let erasing = ns == Namespace::Account
            && snap
                .forgotten
                .iter()
                .any(|&k| segs.iter().any(|s| s.get(k).is_ok_and(|v| v.is_some())));
        if segs.len() < 2 && !erasing {
            return Ok(None);
        }
        let meta = if ns == Namespace::Account {
            self.compact_accounts(segs, &snap.postings, &snap.forgotten)?
        } else {
            // Pass one counts distinct keys so the output is sized exactly; decoding is cheap.
            let mut distinct = 0u64;
            merge_segments(segs, |_, _| {
                distinct += 1;
                Ok(())
            })?;
            let (name, mut writer) = self.create_segment(ns, distinct)?;
            merge_segments(segs, |k, c| writer.push(k, c))?;
            Self::segment_meta(name, ns, writer.finish()?)
        };
        let bytes_before = segs.iter().map(Segment::bytes).sum();
        let removed: Vec<String> = segs.iter().map(|s| s.name().to_owned()).collect();
        let stats = CompactStats {
            merged: removed.len(),
            hashes: meta.hashes,
            bytes_before,
            bytes_after: meta.bytes,
        };
        self.commit(Commit {
            added: vec![meta],
            removed,
            ..Commit::default()
        })?;
        Ok(Some(stats))
    }

    /// Writes the union of account segments: one pass to count each distinct breach set,
    /// one to write the keys with sets numbered by descending frequency.
    fn compact_accounts(
        &mut self,
        segs: &[Segment],
        postings: &[Arc<Postings>],
        forgotten: &std::collections::HashSet<Key>,
    ) -> Result<SegmentMeta> {
        let mut union: Vec<u32> = Vec::new();
        let unite = |hits: &[(usize, u64)], union: &mut Vec<u32>| -> Result<()> {
            union.clear();
            for &(i, set) in hits {
                union.extend_from_slice(postings_set(&segs[i], &postings[i], set)?);
            }
            if hits.len() > 1 {
                canonical_refs(union);
            }
            Ok(())
        };
        let mut frequency: HashMap<Vec<u32>, u64> = HashMap::new();
        let mut distinct = 0u64;
        merge_heads(segs, |key, hits| {
            if forgotten.contains(&key) {
                return Ok(()); // erased: not written again
            }
            unite(hits, &mut union)?;
            match frequency.get_mut(union.as_slice()) {
                Some(n) => *n += 1,
                None => {
                    frequency.insert(union.clone(), 1);
                }
            }
            distinct += 1;
            Ok(())
        })?;
        let mut by_frequency: Vec<(Vec<u32>, u64)> = frequency.into_iter().collect();
        by_frequency.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let ids: HashMap<Vec<u32>, u64> = by_frequency
            .iter()
            .enumerate()
            .map(|(i, (set, _))| (set.clone(), i as u64 + 1))
            .collect();
        let postings_name =
            self.create_postings(&Postings::new(by_frequency.into_iter().map(|(s, _)| s)))?;
        let (name, mut writer) = self.create_segment(Namespace::Account, distinct)?;
        merge_heads(segs, |key, hits| {
            if forgotten.contains(&key) {
                return Ok(());
            }
            unite(hits, &mut union)?;
            writer.push(key, ids[union.as_slice()])
        })?;
        let mut meta = Self::segment_meta(name, Namespace::Account, writer.finish()?);
        meta.postings = Some(postings_name);
        Ok(meta)
    }
}

/// Streams the sorted union of segments, summing the counts of equal keys.
impl Drop for StoreWriter {
    fn drop(&mut self) {
        // Best effort, still holding the lock (fields drop after this body): a manifest that
        // cannot be read now leaves the files for the next writer's start.
        if let Ok(published) = read_manifest(self.dir.as_ref()) {
            let _ = self.remove_unreferenced_by(&published);
        }
    }
}

fn merge_segments(segs: &[Segment], mut f: impl FnMut(Key, u64) -> Result<()>) -> Result<()> {
    merge_heads(segs, |key, hits| {
        f(key, hits.iter().map(|h| h.1).fold(0, u64::saturating_add))
    })
}

/// Streams the sorted union of segments: `f(key, hits)` with one `(segment index, value)`
/// per segment holding the key. Memory is one decoded group per segment, whatever the
/// segments' sizes.
fn merge_heads(
    segs: &[Segment],
    mut f: impl FnMut(Key, &[(usize, u64)]) -> Result<()>,
) -> Result<()> {
    let mut cursors: Vec<SegmentIter<'_>> = segs.iter().map(Segment::iter).collect();
    let mut heads: Vec<Option<(Key, u64)>> = Vec::with_capacity(cursors.len());
    for c in &mut cursors {
        heads.push(c.next().transpose()?);
    }
    let mut hits = Vec::with_capacity(segs.len());
    while let Some(min) = heads.iter().flatten().map(|h| h.0).min() {
        hits.clear();
        for (i, (head, cursor)) in heads.iter_mut().zip(&mut cursors).enumerate() {
            if let Some((k, c)) = *head
                && k == min
            {
                hits.push((i, c));
                *head = cursor.next().transpose()?;
            }
        }
        f(min, &hits)?;
    }
    Ok(())
}
