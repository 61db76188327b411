//! A writer of a store: [`StoreWriter`] writes new segments and publishes a generation by
//! its manifest; it also removes what crashed writers left behind and merges segments
//! ([`StoreWriter::compact`]), uniting the breach sets of equal account keys. Reading is in
//! `snapshot.rs`.
//!
//! On an exclusive directory (local disk) it holds the cross-process writer lock. On a shared
//! one (an object store, [`Sharing::Shared`]) several writers work at once: each names its
//! files with a token of its own, publishes generation n+1 create-only, and when another
//! writer took n+1 first, re-reads the newest manifest, applies its [`Commit`] to that
//! instead and tries again ([`StoreWriter::commit`]); files no manifest names are left to
//! the grace period.

use std::{
    collections::{HashMap, HashSet},
    io::Write,
    sync::Arc,
    time::{Duration, SystemTime},
};

use crate::{
    alias::AliasWriter,
    directory::{Directory, Sharing, WriterLock},
    error::{Result, StoreError},
    etags::EtagTable,
    key::{Key, Namespace},
    manifest::{
        AliasMeta, MANIFEST_FILE, MANIFEST_VERSION, Manifest, MirrorMeta, SealedKind, SegmentMeta,
        SourceRecord,
    },
    postings::{Postings, canonical_refs},
    segment::{GroupCoding, Segment, SegmentStats, SegmentWriter},
};

use crate::snapshot::{Snapshot, merge_heads, postings_set, read_manifest, unix_now};

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
    /// Breaches at ids a shared catalogue allocated (`Catalog::store_breach_id`): the
    /// table grows to hold each id (slots below it that nobody filled yet stay empty, for
    /// the importer that holds them), so writers adding new breaches at once never take
    /// each other's ids.
    pub placed_breaches: Vec<(String, u32)>,
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
    /// In a shared directory, a token in every file name this writer makes, so that
    /// writers working at once never pick the same name.
    tag: Option<String>,
    _lock: WriterLock,
}

/// How often a commit is rebased on a newer generation before it gives up.
const MAX_REBASES: u64 = 64;

impl StoreWriter {
    /// Takes the writer lock (an exclusive directory), reads the manifest, and deletes every
    /// file a crashed writer left behind (unfinished files and segments no manifest names;
    /// in a shared directory only those older than its grace period).
    pub fn open(dir: Arc<dyn Directory>) -> Result<StoreWriter> {
        let lock = dir.lock_writer()?;
        let manifest = read_manifest(dir.as_ref())?;
        let tag = match dir.sharing() {
            Sharing::Shared { .. } => Some(writer_token()),
            _ => None,
        };
        let w = StoreWriter {
            dir,
            manifest,
            next_seq: 0,
            tag,
            _lock: lock,
        };
        w.remove_unreferenced_by(&w.manifest)?;
        Ok(w)
    }

    /// Deletes unfinished files and every file `manifest` does not name; in a shared
    /// directory, only those written before its grace period and named by no manifest
    /// published within it (a reader may still be on that generation).
    fn remove_unreferenced_by(&self, manifest: &Manifest) -> Result<usize> {
        let mut removed = self.dir.remove_partials()?;
        let mut live: HashSet<String> = manifest.live_files().map(str::to_owned).collect();
        let candidates = match self.dir.sharing() {
            Sharing::Shared { grace } => {
                let before = SystemTime::now()
                    .checked_sub(grace)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                for bytes in self.dir.read_manifests_since(before)? {
                    live.extend(Manifest::decode(&bytes)?.live_files().map(str::to_owned));
                }
                self.dir.list_written_before(before)?
            }
            _ => self.dir.list()?,
        };
        for name in candidates {
            if name != MANIFEST_FILE && !live.contains(&name) {
                self.dir.delete(&name)?;
                removed += 1;
            }
        }
        if let Sharing::Shared { grace } = self.dir.sharing() {
            // Last, so that the files of these generations were counted live above.
            let before = SystemTime::now()
                .checked_sub(grace)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            self.dir.remove_manifests_before(before)?;
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
        self.manifest.sources.iter().any(|s| {
            s.fingerprint == fingerprint
                && s.breach.as_deref() == breach
                && s.credential_key.is_none()
        })
    }

    /// Whether the credential-check entries of the source with this fingerprint were built
    /// into the store under the OPRF key with fingerprint `key`.
    pub fn has_credential_source(&self, fingerprint: &str, key: &str) -> bool {
        self.manifest
            .sources
            .iter()
            .any(|s| s.fingerprint == fingerprint && s.credential_key.as_deref() == Some(key))
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
        let generation = self.manifest.generation + 1;
        let name = match &self.tag {
            None => format!("{generation:010}-{:03}-{suffix}", self.next_seq),
            Some(tag) => format!("{generation:010}-{tag}-{:03}-{suffix}", self.next_seq),
        };
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
        self.create_sealed_file(SealedKind::Aliases)
    }

    /// Starts a new file of sealed blocks of `kind` (an alias file's layout) that the next
    /// commit can publish.
    pub fn create_sealed_file(&mut self, kind: SealedKind) -> Result<(String, AliasWriter)> {
        let name = self.next_name(&format!("{}.alias", kind.file_stem()));
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
        self.create_segment_with(ns, expected_hashes, GroupCoding::LowBytes)
    }

    /// [`StoreWriter::create_segment`] with groups coded as `coding`: the older codings
    /// only for the tests that keep their readers honest.
    pub fn create_segment_with(
        &mut self,
        ns: Namespace,
        expected_hashes: u64,
        coding: GroupCoding,
    ) -> Result<(String, SegmentWriter)> {
        let name = self.next_name(&format!("{}.seg", ns.name()));
        let out = self.dir.create(&name)?;
        let writer = SegmentWriter::with_coding(out, ns, expected_hashes, coding)?;
        Ok((name.clone(), writer))
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
            oprf_key: None,
        }
    }

    /// Publishes a new generation: one manifest, replaced atomically (exclusive directory)
    /// or created only if absent (shared). Files retired by the commit are deleted afterwards
    /// in an exclusive directory (readers holding them keep their mapped bytes), and left to
    /// the grace period in a shared one.
    ///
    /// In a shared directory, when another writer published the next generation first, the
    /// commit is applied to the newest manifest instead and published as the generation
    /// after it, unless that writer changed what the commit depends on
    /// ([`StoreError::Conflict`]).
    pub fn commit(&mut self, commit: Commit) -> Result<&Manifest> {
        let mut rebases = 0;
        let next = loop {
            let next = applied(&self.manifest, &commit);
            match self.dir.publish_manifest(next.generation, &next.encode()) {
                Ok(()) => break next,
                Err(StoreError::GenerationTaken(_)) if rebases < MAX_REBASES => {
                    rebases += 1;
                    let newer = read_manifest(self.dir.as_ref())?;
                    check_rebase(&self.manifest, &newer, &commit)?;
                    if newer.generation < next.generation {
                        // The winner's manifest is not visible yet: ask again shortly.
                        std::thread::sleep(Duration::from_millis(20 * rebases));
                    }
                    self.manifest = newer;
                }
                Err(e) => return Err(e),
            }
        };
        let before = std::mem::replace(&mut self.manifest, next);
        self.next_seq = 0;
        if let Sharing::Shared { .. } = self.dir.sharing() {
            return Ok(&self.manifest);
        }
        // Delete what the new manifest no longer names (retired segments, their postings,
        // retired alias files).
        let live: HashSet<&str> = self.manifest.live_files().collect();
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
            let mut meta = Self::segment_meta(name, ns, writer.finish()?);
            // Credential segments all name one OPRF key (the snapshot checked): so does their
            // merge.
            meta.oprf_key = self.manifest.credential_key().map(str::to_owned);
            meta
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

/// `base` with `commit` applied: the manifest of the generation after it.
fn applied(base: &Manifest, commit: &Commit) -> Manifest {
    let mut next = base.clone();
    next.format_version = MANIFEST_VERSION;
    next.generation += 1;
    next.published_unix = unix_now();
    next.segments.retain(|s| !commit.removed.contains(&s.file));
    next.segments.extend(commit.added.iter().cloned());
    next.sources.extend(commit.sources.iter().cloned());
    for name in &commit.breaches {
        if next.breach_id(name).is_none() {
            next.breaches.push(name.clone());
        }
    }
    for (name, id) in &commit.placed_breaches {
        let at = *id as usize;
        if next.breaches.len() <= at {
            next.breaches.resize(at + 1, String::new());
        }
        if next.breaches[at].is_empty() {
            next.breaches[at].clone_from(name);
        }
    }
    next.aliases
        .retain(|a| !commit.aliases_removed.contains(&a.file));
    next.aliases.extend(commit.aliases_added.iter().cloned());
    next.forgotten.extend(
        commit
            .forget
            .iter()
            .map(|k| k.to_hex(Namespace::Account).to_ascii_lowercase()),
    );
    next.forgotten.sort_unstable();
    next.forgotten.dedup();
    if let Some(mirror) = &commit.mirror {
        next.mirrors.retain(|m| m.namespace != mirror.namespace);
        next.mirrors.push(mirror.clone());
    }
    next
}

/// Whether `commit`, made on `base`, still means the same applied to `newer`, which another
/// writer published meanwhile: what it retires is still live, the breach ids its postings
/// use for new breaches are still the ids they get, and no source it imports was imported
/// by the other writer too (its hashes would count twice).
fn check_rebase(base: &Manifest, newer: &Manifest, commit: &Commit) -> Result<()> {
    let live: HashSet<&str> = newer.live_files().collect();
    if let Some(gone) = commit
        .removed
        .iter()
        .chain(&commit.aliases_removed)
        .find(|f| !live.contains(f.as_str()))
    {
        return Err(StoreError::Conflict(format!(
            "{gone}, which this commit replaces, was retired by generation {}",
            newer.generation
        )));
    }
    let ids = |m: &Manifest| {
        let mut next = m.clone();
        commit
            .breaches
            .iter()
            .map(|name| {
                if next.breach_id(name).is_none() {
                    next.breaches.push(name.clone());
                }
                next.breach_id(name)
            })
            .collect::<Vec<_>>()
    };
    if ids(base) != ids(newer) {
        return Err(StoreError::Conflict(format!(
            "generation {} added breaches, so the ids this import gave its new breaches are taken",
            newer.generation
        )));
    }
    if let Some((name, id)) = commit.placed_breaches.iter().find(|(name, id)| {
        let slot = newer.breaches.get(*id as usize).map_or("", String::as_str);
        let elsewhere = newer.breach_id(name).is_some_and(|at| at != *id);
        !(slot.is_empty() || slot == name) || elsewhere
    }) {
        return Err(StoreError::Conflict(format!(
            "generation {} holds another breach at id {id}, or {name:?} at another id: the \
             catalogue that allocated it is not the one the other writer used",
            newer.generation
        )));
    }
    if let Some(twice) = commit.sources.iter().find(|s| {
        newer
            .sources
            .iter()
            .any(|n| n.fingerprint == s.fingerprint && n.breach == s.breach)
    }) {
        return Err(StoreError::Conflict(format!(
            "source {} was imported by another writer meanwhile",
            twice.fingerprint
        )));
    }
    Ok(())
}

/// A token for the file names of one writer of a shared directory: unique among writers
/// working at once (process, time and the standard library's per-process random seed).
fn writer_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:016x}", h.finish())
}
