//! Operator-key rotation: every alias file sealed under the old key is re-tagged and
//! re-sealed under the new one and published in one manifest swap. Also alias compaction
//! (all files into one, same key), which shares the machinery and, given the operator key,
//! leaves out the aliases of forgotten accounts (`leakwatch forget`): the store only sees
//! sealed bytes, so only the key holder can tell which records those are.
//!
//! Each domain's records start with its sealed domain name ([`DOMAIN_RECORD`] sorts first),
//! so the domain — needed for the new tag and as the aliases' associated data — comes back
//! without the original dumps. The new records are sorted with the same bounded external
//! sort as an import. Until the swap, readers see the old files; a crash leaves them, and
//! the next writer removes the unfinished new file.

use leakwatch_identity::{DOMAIN_RECORD, OperatorKey};
use leakwatch_store::{AliasMeta, Commit, Key, StoreError, StoreWriter};

use crate::{
    IngestError,
    aliases::{AliasBuffer, AliasRuns},
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
    let runs = AliasRuns::new(spill.path().to_path_buf(), memory / 2);
    let mut buffer = AliasBuffer::new(&runs);
    let (mut old_sealer, mut new_sealer) = (old.sealer(), new.sealer());
    for meta in &stale {
        let file = leakwatch_store::AliasFile::open(
            &meta.file,
            writer.directory().open_read(&meta.file)?,
        )?;
        let mut current: Option<(u64, String, u64)> = None; // old tag, domain, new tag
        let mut failure: Option<IngestError> = None;
        let corrupt =
            |why: &str| IngestError::Store(StoreError::corrupt(&meta.file, 0, why.to_owned()));
        file.for_each(|tag, sealed| {
            if failure.is_some() {
                return;
            }
            let step = (|| -> Result<(), IngestError> {
                if current.as_ref().is_none_or(|c| c.0 != tag) {
                    if sealed.first() != Some(&DOMAIN_RECORD) {
                        return Err(corrupt("a domain's records do not start with its name"));
                    }
                    let domain = old_sealer
                        .open_domain(tag, sealed)
                        .map_err(|_| corrupt("a domain record does not open under the old key"))?;
                    let new_tag = new_sealer.domain_tag(&domain);
                    buffer
                        .push(new_tag, &new_sealer.seal_domain(&domain))
                        .map_err(io_err("writing re-seal runs"))?;
                    current = Some((tag, domain, new_tag));
                    return Ok(());
                }
                let (_, domain, new_tag) = current.as_ref().expect("set above");
                let alias = old_sealer
                    .open(domain, sealed)
                    .map_err(|_| corrupt("an alias does not open under the old key"))?;
                buffer
                    .push(*new_tag, &new_sealer.seal(domain, &alias))
                    .map_err(io_err("writing re-seal runs"))
            })();
            if let Err(e) = step {
                failure = Some(e);
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        summary.files += 1;
    }
    buffer.finish().map_err(io_err("writing re-seal runs"))?;
    let meta = runs.write_alias_file(writer, new.id())?;
    summary.records = meta.records;
    let published = writer.commit(Commit {
        aliases_added: vec![meta],
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
}

/// Merges every alias file into one (same key only), so domain search reads one file
/// whatever the number of imports. With the operator key (`erase`), the aliases of
/// forgotten accounts are left out too, and a single file that holds one is rewritten.
pub fn compact_aliases(
    writer: &mut StoreWriter,
    tmp_dir: &std::path::Path,
    memory: usize,
    erase: Option<&OperatorKey>,
) -> Result<AliasCompaction, IngestError> {
    let manifest = writer.manifest().clone();
    // The manifest's keys were checked when the store opened them; an unreadable one
    // cannot match an alias either.
    let forgotten: std::collections::HashSet<Key> = manifest
        .forgotten
        .iter()
        .filter_map(|hex| Key::from_hex(hex.as_bytes()))
        .collect();
    let erase = erase.filter(|_| !forgotten.is_empty());
    let erasing = match erase {
        Some(key) if !manifest.aliases.is_empty() => count_forgotten(writer, key, &forgotten)? > 0,
        _ => false,
    };
    if manifest.aliases.len() < 2 && !erasing {
        return Ok(AliasCompaction::default());
    }
    let key_id = &manifest.aliases[0].key_id;
    if let Some(other) = manifest.aliases.iter().find(|a| &a.key_id != key_id) {
        return Err(IngestError::MixedAliasKeys(
            key_id.clone(),
            other.key_id.clone(),
        ));
    }
    let spill = fresh_spill_dir(tmp_dir, "aliases-")?;
    let runs = AliasRuns::new(spill.path().to_path_buf(), memory / 2);
    let mut buffer = AliasBuffer::new(&runs);
    let mut erased = 0u64;
    let mut judge = erase
        .filter(|_| erasing)
        .map(|key| ForgottenAliases::new(key, &forgotten));
    each_alias_record(writer, |file, tag, sealed| {
        if let Some(judge) = judge.as_mut()
            && judge.is_forgotten(file, tag, sealed)?
        {
            erased += 1;
            return Ok(());
        }
        buffer
            .push(tag, sealed)
            .map_err(io_err("writing alias runs"))
    })?;
    buffer.finish().map_err(io_err("writing alias runs"))?;
    let meta = runs.write_alias_file(writer, key_id)?;
    writer.commit(Commit {
        aliases_added: vec![meta],
        aliases_removed: manifest.aliases.iter().map(|a| a.file.clone()).collect(),
        ..Commit::default()
    })?;
    Ok(AliasCompaction {
        files: manifest.aliases.len(),
        erased,
    })
}

/// How many alias records belong to forgotten accounts (a pass that writes nothing).
fn count_forgotten(
    writer: &StoreWriter,
    key: &OperatorKey,
    forgotten: &std::collections::HashSet<Key>,
) -> Result<u64, IngestError> {
    let mut judge = ForgottenAliases::new(key, forgotten);
    let mut count = 0u64;
    each_alias_record(writer, |file, tag, sealed| {
        count += u64::from(judge.is_forgotten(file, tag, sealed)?);
        Ok(())
    })?;
    Ok(count)
}

/// Calls `f(file name, tag, sealed)` for every record of every published alias file, in
/// file order; the first error stops it.
fn each_alias_record(
    writer: &StoreWriter,
    mut f: impl FnMut(&str, u64, &[u8]) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    for meta in &writer.manifest().aliases {
        let file = leakwatch_store::AliasFile::open(
            &meta.file,
            writer.directory().open_read(&meta.file)?,
        )?;
        let mut failed = None;
        file.for_each(|tag, sealed| {
            if failed.is_none()
                && let Err(e) = f(&meta.file, tag, sealed)
            {
                failed = Some(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// Tells, record by record in file order, whether an alias is a forgotten account's: each
/// domain's records start with its sealed name, which gives the domain the aliases after it
/// are sealed with; an alias's account key is SHA-1 of `alias@domain`, as at import.
struct ForgottenAliases<'a> {
    sealer: leakwatch_identity::Sealer,
    key_id: String,
    forgotten: &'a std::collections::HashSet<Key>,
    domain: Option<(u64, String)>,
}

impl<'a> ForgottenAliases<'a> {
    fn new(key: &OperatorKey, forgotten: &'a std::collections::HashSet<Key>) -> Self {
        ForgottenAliases {
            sealer: key.sealer(),
            key_id: key.id().to_owned(),
            forgotten,
            domain: None,
        }
    }

    fn is_forgotten(&mut self, file: &str, tag: u64, sealed: &[u8]) -> Result<bool, IngestError> {
        let corrupt = |why: String| IngestError::Store(StoreError::corrupt(file, 0, why));
        if sealed.first() == Some(&DOMAIN_RECORD) {
            let domain = self.sealer.open_domain(tag, sealed).map_err(|_| {
                corrupt(format!(
                    "a domain record does not open under the operator key {}",
                    self.key_id
                ))
            })?;
            self.domain = Some((tag, domain));
            return Ok(false);
        }
        let Some((_, domain)) = self.domain.as_ref().filter(|d| d.0 == tag) else {
            return Err(corrupt(
                "a domain's records do not start with its name".into(),
            ));
        };
        let alias = self
            .sealer
            .open(domain, sealed)
            .map_err(|_| corrupt("an alias does not open under the operator key".into()))?;
        Ok(self
            .forgotten
            .contains(&Key::account(&format!("{alias}@{domain}"))))
    }
}
