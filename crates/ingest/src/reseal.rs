//! Operator-key rotation: every alias file sealed under the old key is re-tagged and
//! re-sealed under the new one and published in one manifest swap. Also alias compaction
//! (all files into one, same key), which shares the machinery and leaves out the aliases of
//! forgotten accounts (`leakwatch forget`). Both take the operator key: the store only sees
//! sealed blocks, so only the key holder can merge them or tell which aliases those are.
//!
//! Every block names its domains (and in version-1 files each domain's records start with its
//! sealed name), so the domain — needed for the new tag and to seal under — comes back
//! without the original dumps. The new records are sorted with the same bounded external
//! sort as an import. Until the swap, readers see the old files; a crash leaves them, and
//! the next writer removes the unfinished new file.

use leakwatch_identity::OperatorKey;
use leakwatch_store::{AliasMeta, Commit, Key, SealedKind, StoreError, StoreWriter};

use crate::{
    IngestError,
    aliases::{AliasOpener, AliasRuns, SealingBuffer, block_kind},
    fresh_spill_dir, io_err,
};

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResealSummary {
    /// Alias files re-sealed (and replaced by one).
    pub files: usize,
    /// Records written.
    pub records: u64,
    /// Generation published (unchanged when nothing needed re-sealing).
    pub generation: u64,
}

/// Re-seals every alias file sealed with `old` under `new`. Files already under `new` are
/// left alone; a file under any other key stops the rotation before anything changes.
pub fn reseal(
    writer: &mut StoreWriter,
    old: &OperatorKey,
    new: &OperatorKey,
    tmp_dir: &std::path::Path,
    memory: usize,
) -> Result<ResealSummary, IngestError> {
    let manifest = writer.manifest().clone();
    let stale: Vec<&AliasMeta> = manifest
        .aliases
        .iter()
        .filter(|a| a.key_id != new.id())
        .collect();
    if let Some(foreign) = stale.iter().find(|a| a.key_id != old.id()) {
        return Err(IngestError::Invalid(format!(
            "{} was sealed with key {}, which is neither the old key ({}) nor the new one ({})",
            foreign.file,
            foreign.key_id,
            old.id(),
            new.id()
        )));
    }
    let mut summary = ResealSummary {
        generation: manifest.generation,
        ..ResealSummary::default()
    };
    if stale.is_empty() {
        return Ok(summary);
    }
    let spill = fresh_spill_dir(tmp_dir, "reseal-")?;
    let mut added = Vec::new();
    // One new file per kind of sealed file (aliases, and the stealer-log kinds).
    for kind in SealedKind::ALL {
        let of_kind: Vec<&&AliasMeta> = stale.iter().filter(|a| a.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let runs = AliasRuns::of_kind(spill.path().to_path_buf(), memory / 2, block_kind(kind));
        let mut buffer = SealingBuffer::new(new, &runs);
        for meta in of_kind {
            each_alias(writer, meta, old, |domain, alias| {
                buffer
                    .push(domain, alias)
                    .map_err(io_err("writing re-seal runs"))
            })?;
            summary.files += 1;
        }
        buffer.finish().map_err(io_err("writing re-seal runs"))?;
        let meta = runs.write_alias_file(writer, new)?;
        summary.records += meta.records;
        added.push(meta);
    }
    let published = writer.commit(Commit {
        aliases_added: added,
        aliases_removed: stale.iter().map(|a| a.file.clone()).collect(),
        ..Commit::default()
    })?;
    summary.generation = published.generation;
    Ok(summary)
}

/// What an alias compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AliasCompaction {
    /// Alias files merged into one (0: nothing was rewritten).
    pub files: usize,
    /// Aliases of forgotten accounts left out.
    pub erased: u64,
    /// Alias files left as they are because no operator key was given: their aliases are
    /// sealed in blocks that only the key opens.
    pub unmerged: usize,
}

/// Merges every alias file into one (same key only), so domain search reads one file
/// whatever the number of imports, and leaves out the aliases of forgotten accounts (a
/// single file that holds one is rewritten too); the stealer-log files likewise, each kind
/// into one file of its own. Opening the sealed blocks takes the
/// operator `key`; without it nothing is rewritten.
pub fn compact_aliases(
    writer: &mut StoreWriter,
    tmp_dir: &std::path::Path,
    memory: usize,
    key: Option<&OperatorKey>,
) -> Result<AliasCompaction, IngestError> {
    let manifest = writer.manifest().clone();
    let Some(key) = key else {
        let unmerged = SealedKind::ALL
            .into_iter()
            .map(|kind| manifest.aliases.iter().filter(|a| a.kind == kind).count())
            .filter(|&n| n > 1)
            .sum();
        return Ok(AliasCompaction {
            unmerged,
            ..AliasCompaction::default()
        });
    };
    if manifest.aliases.is_empty() {
        return Ok(AliasCompaction::default());
    }
    let first = &manifest.aliases[0].key_id;
    if let Some(other) = manifest.aliases.iter().find(|a| &a.key_id != first) {
        return Err(IngestError::MixedAliasKeys(
            first.clone(),
            other.key_id.clone(),
        ));
    }
    if first != key.id() {
        return Err(IngestError::Invalid(format!(
            "the alias files are sealed under operator key {first}, not the configured key {}",
            key.id()
        )));
    }
    // The manifest's keys were checked when the store opened them; an unreadable one
    // cannot match an alias either.
    let forgotten: std::collections::HashSet<Key> = manifest
        .forgotten
        .iter()
        .filter_map(|hex| Key::from_hex(hex.as_bytes()))
        .collect();
    let is_forgotten = |kind: SealedKind, key: &str, value: &str| {
        !forgotten.is_empty()
            && account_of(kind, key, value).is_some_and(|a| forgotten.contains(&Key::account(&a)))
    };
    let spill = fresh_spill_dir(tmp_dir, "aliases-")?;
    let mut summary = AliasCompaction::default();
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    // Each kind of sealed file on its own: its files merged into one, forgotten accounts
    // left out.
    for kind in SealedKind::ALL {
        let files: Vec<&AliasMeta> = manifest.aliases.iter().filter(|a| a.kind == kind).collect();
        let erasing = !forgotten.is_empty() && {
            let mut found = false;
            for meta in &files {
                each_alias(writer, meta, key, |k, v| {
                    found |= is_forgotten(kind, k, v);
                    Ok(())
                })?;
            }
            found
        };
        if files.len() < 2 && !erasing {
            continue;
        }
        let runs = AliasRuns::of_kind(spill.path().to_path_buf(), memory / 2, block_kind(kind));
        let mut buffer = SealingBuffer::new(key, &runs);
        for meta in &files {
            each_alias(writer, meta, key, |k, v| {
                if erasing && is_forgotten(kind, k, v) {
                    summary.erased += 1;
                    return Ok(());
                }
                buffer.push(k, v).map_err(io_err("writing alias runs"))
            })?;
        }
        buffer.finish().map_err(io_err("writing alias runs"))?;
        let pushed = runs.pushed.load(std::sync::atomic::Ordering::Relaxed);
        if pushed > 0 {
            added.push(runs.write_alias_file(writer, key)?);
        }
        removed.extend(files.iter().map(|a| a.file.clone()));
        summary.files += files.len();
    }
    if removed.is_empty() {
        return Ok(summary);
    }
    writer.commit(Commit {
        aliases_added: added,
        aliases_removed: removed,
        ..Commit::default()
    })?;
    Ok(summary)
}

/// The account (normalised e-mail address) a record of a sealed file of `kind` belongs to:
/// what `forget` erases with it.
pub(crate) fn account_of(kind: SealedKind, key: &str, value: &str) -> Option<String> {
    match kind {
        SealedKind::Aliases => Some(format!("{value}@{key}")),
        SealedKind::StealerEmail => Some(key.to_owned()),
        SealedKind::StealerWebsite => Some(value.to_owned()),
        SealedKind::StealerDomain => value
            .split_once('\0')
            .map(|(alias, _)| format!("{alias}@{key}")),
        _ => None,
    }
}

/// Calls `f(domain, alias)` for every alias of published alias file `meta`, opened under
/// `key`; the first error stops it.
fn each_alias(
    writer: &StoreWriter,
    meta: &AliasMeta,
    key: &OperatorKey,
    mut f: impl FnMut(&str, &str) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let file =
        leakwatch_store::AliasFile::open(&meta.file, writer.directory().open_read(&meta.file)?)?;
    let mut opener = AliasOpener::of_kind(key, block_kind(meta.kind));
    let mut failed = None;
    file.for_each(|entry| {
        if failed.is_some() {
            return;
        }
        let opened = opener.open(entry, |domain, alias| {
            if failed.is_none()
                && let Err(e) = f(domain, alias)
            {
                failed = Some(e);
            }
        });
        if opened.is_err() {
            failed = Some(IngestError::Store(StoreError::corrupt(
                &meta.file,
                0,
                format!(
                    "an alias does not open under the operator key {}: the file is damaged",
                    key.id()
                ),
            )));
        }
    })?;
    failed.map_or(Ok(()), Err)
}
