//! The store as readers see it: [`Snapshot`], an immutable view of one published
//! generation. Queries merge the segments of a namespace and sum counts; account segments
//! carry a postings file each ([`Postings`]), so a lookup maps the stored breach-set id to
//! breach ids. Writing and publishing are in `writer.rs`. Nothing here parses input or
//! speaks HTTP.

use std::{
    io::Write,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::{
    alias::AliasFile,
    directory::{Directory, FileSlice},
    error::{Result, StoreError},
    etags::EtagTable,
    key::{Key, Namespace, PREFIX_BITS},
    manifest::{AliasMeta, MANIFEST_FILE, MANIFEST_VERSION, Manifest, MirrorMeta, SealedKind},
    postings::{Postings, ref_breach},
    segment::{Segment, SegmentIter},
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
    match dir.read_manifest_bytes()? {
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
    credential: Vec<Segment>,
    /// One per account segment, same order.
    pub(crate) postings: Vec<Arc<Postings>>,
    aliases: Vec<AliasFile>,
    /// Every file the manifest names, as mapped when the snapshot was opened (what
    /// [`Snapshot::copy_to`] writes out).
    files: Vec<(String, FileSlice)>,
    /// Account keys the manifest says are forgotten: never answered.
    pub(crate) forgotten: std::collections::HashSet<Key>,
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

    /// Opens the generation `manifest` describes (its files from `dir`); the default
    /// manifest gives the empty store of generation 0.
    pub fn open_manifest(dir: &dyn Directory, manifest: Manifest) -> Result<Snapshot> {
        let mut snap = Snapshot {
            manifest: Manifest::default(),
            sha1: Vec::new(),
            ntlm: Vec::new(),
            account: Vec::new(),
            credential: Vec::new(),
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
                Namespace::Credential => snap.credential.push(seg),
            }
        }
        check_one_oprf_key(&manifest)?;
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
        dest.publish_manifest(self.manifest.generation, &manifest)?;
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

    /// Whether the account `key` is forgotten (by the manifest or a pending erasure): the
    /// store never answers it, and nothing filed elsewhere under it should be answered.
    pub fn is_forgotten(&self, key: Key) -> bool {
        self.forgotten.contains(&key)
    }

    /// The manifest this snapshot was opened from.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// The published generation (0 for an empty store).
    pub fn generation(&self) -> u64 {
        self.manifest.generation
    }
    /// A digest of the live segments of `ns` (each one's [`Segment::fingerprint`]): what
    /// is derived from them (a server's answer files) names it, so that content of another
    /// store at the same generation number is never taken for this one's.
    pub fn segments_fingerprint(&self, ns: Namespace) -> u64 {
        let prints: Vec<u8> = self
            .segments(ns)
            .iter()
            .flat_map(|s| s.fingerprint().to_le_bytes())
            .collect();
        twox_hash::XxHash3_64::oneshot(&prints)
    }

    /// Live segments of a namespace, oldest first.
    pub fn segments(&self, ns: Namespace) -> &[Segment] {
        match ns {
            Namespace::Sha1 => &self.sha1,
            Namespace::Ntlm => &self.ntlm,
            Namespace::Account => &self.account,
            Namespace::Credential => &self.credential,
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
            sum_repeats(&mut out);
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
                if let Some(n) = seg.render_sha1_range(prefix, out)? {
                    return Ok(n);
                }
                let mut lines = crate::render::LineWriter::new(ns);
                lines.make_room(seg.range_len_bound(prefix), out);
                let mut n = 0;
                let decoded = seg.for_each_in_range(prefix, |key, count| {
                    lines.push(key, count, out);
                    n += 1;
                });
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

    /// The fingerprint of the OPRF key the live credential entries were built under (the
    /// same for all of them), `None` when there are none.
    pub fn credential_key(&self) -> Option<&str> {
        self.manifest.credential_key()
    }

    /// The keys of every credential entry whose top 20 bits are `prefix`, sorted, each once
    /// (the values, how often an entry was built, mean nothing to a check).
    pub fn credential_range(&self, prefix: u32) -> Result<Vec<u128>> {
        let mut out = Vec::new();
        for seg in &self.credential {
            seg.for_each_in_range(prefix, |k, _| out.push(k.low_u128()))?;
        }
        if self.credential.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
        Ok(out)
    }

    /// The keys of every credential entry whose first `bits` bits (20 to 32: a split bucket's
    /// part) are `part`, sorted, each once: only the groups that hold them are read.
    pub fn credential_part(&self, part: u32, bits: u32) -> Result<Vec<u128>> {
        let mut out = Vec::new();
        for seg in &self.credential {
            seg.for_each_with_prefix(u64::from(part), bits, |k, _| out.push(k.low_u128()))?;
        }
        if self.credential.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
        Ok(out)
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

    /// The name of a store-local breach id (none for an id a shared catalogue allocated
    /// whose import is not published yet).
    pub fn breach_name(&self, id: u32) -> Option<&str> {
        self.manifest
            .breaches
            .get(id as usize)
            .map(String::as_str)
            .filter(|n| !n.is_empty())
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

    /// Every live alias file with its manifest entry (which names the sealing key): the
    /// files of [`SealedKind::Aliases`].
    pub fn alias_files(&self) -> impl Iterator<Item = (&AliasMeta, &AliasFile)> {
        self.sealed_files(SealedKind::Aliases)
    }

    /// Every live file of sealed blocks of `kind`, with its manifest entry.
    pub fn sealed_files(&self, kind: SealedKind) -> impl Iterator<Item = (&AliasMeta, &AliasFile)> {
        self.manifest
            .aliases
            .iter()
            .zip(&self.aliases)
            .filter(move |(m, _)| m.kind == kind)
    }

    /// Checks every checksum of every segment and alias file.
    pub fn verify(&self) -> Result<()> {
        for seg in self
            .sha1
            .iter()
            .chain(&self.ntlm)
            .chain(&self.account)
            .chain(&self.credential)
        {
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

/// Account values are breach-set ids: summing them as counts would be nonsense; credential
/// entries are answered only by the credential check, a bucket at a time.
fn password_namespace(ns: Namespace) -> Result<()> {
    match ns {
        Namespace::Sha1 | Namespace::Ntlm => Ok(()),
        Namespace::Account => Err(StoreError::InvalidArgument(
            "accounts have breach sets, not counts".into(),
        )),
        Namespace::Credential => Err(StoreError::InvalidArgument(
            "credential entries are read only by the credential check".into(),
        )),
    }
}

/// Every credential segment names the OPRF key it was built under, and all name the same:
/// a check's output under one key finds nothing among entries built under another.
fn check_one_oprf_key(manifest: &Manifest) -> Result<()> {
    let mut keys = manifest
        .segments_of(Namespace::Credential)
        .map(|s| (s, s.oprf_key.as_deref()));
    let Some((first, key)) = keys.next() else {
        return Ok(());
    };
    if key.is_none() {
        return Err(StoreError::corrupt(
            &first.file,
            0,
            "credential segment without its OPRF key's fingerprint",
        ));
    }
    if let Some((other, _)) = keys.find(|(_, k)| *k != key) {
        return Err(StoreError::corrupt(
            &other.file,
            0,
            "credential segments built under different OPRF keys",
        ));
    }
    Ok(())
}

pub(crate) fn postings_set<'a>(
    seg: &Segment,
    postings: &'a Postings,
    set: u64,
) -> Result<&'a [u32]> {
    postings.set(set).ok_or_else(|| {
        StoreError::corrupt(
            seg.name(),
            0,
            format!("breach set {set} missing from the postings"),
        )
    })
}

/// Streams the sorted union of segments: `f(key, hits)` with one `(segment index, value)`
/// per segment holding the key. Memory is one decoded group per segment, whatever the
/// segments' sizes.
pub(crate) fn merge_heads(
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

/// Sorts `entries` by key and sums the counts of a key that appears more than once (a range
/// merged from several segments, or a source's answer that repeats a line), saturating.
pub fn sum_repeats(entries: &mut Vec<(Key, u64)>) {
    entries.sort_unstable_by_key(|e| e.0);
    entries.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = kept.1.saturating_add(later.1);
        }
        same
    });
}
