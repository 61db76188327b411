//! Operator-key rotation: every alias file sealed under the old key is re-tagged and
//! re-sealed under the new one and published in one manifest swap. Also alias compaction
//! (all files into one, same key), which shares the machinery.
//!
//! Each domain's records start with its sealed domain name ([`DOMAIN_RECORD`] sorts first),
//! so the domain — needed for the new tag and as the aliases' associated data — comes back
//! without the original dumps. The new records are sorted with the same bounded external
//! sort as an import. Until the swap, readers see the old files; a crash leaves them, and
//! the next writer removes the unfinished new file.

use leakwatch_identity::{DOMAIN_RECORD, OperatorKey};
use leakwatch_store::{AliasMeta, Commit, StoreError, StoreWriter};

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

/// Merges every alias file into one (same key only), so domain search reads one file
/// whatever the number of imports. Returns the number of files merged (0: nothing to do).
pub fn compact_aliases(
    writer: &mut StoreWriter,
    tmp_dir: &std::path::Path,
    memory: usize,
) -> Result<usize, IngestError> {
    let manifest = writer.manifest().clone();
    if manifest.aliases.len() < 2 {
        return Ok(0);
    }
    let key_id = &manifest.aliases[0].key_id;
    if let Some(other) = manifest.aliases.iter().find(|a| &a.key_id != key_id) {
        return Err(IngestError::Invalid(format!(
            "alias files are sealed under different keys ({} and {}): run `leakwatch operator-key rotate` first",
            key_id, other.key_id
        )));
    }
    let spill = fresh_spill_dir(tmp_dir, "aliases-")?;
    let runs = AliasRuns::new(spill.path().to_path_buf(), memory / 2);
    let mut buffer = AliasBuffer::new(&runs);
    for meta in &manifest.aliases {
        let file = leakwatch_store::AliasFile::open(
            &meta.file,
            writer.directory().open_read(&meta.file)?,
        )?;
        let mut failed = None;
        file.for_each(|tag, sealed| {
            if failed.is_none()
                && let Err(e) = buffer.push(tag, sealed)
            {
                failed = Some(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(IngestError::Io {
                context: "writing alias runs".into(),
                source: e,
            });
        }
    }
    buffer.finish().map_err(io_err("writing alias runs"))?;
    let meta = runs.write_alias_file(writer, key_id)?;
    writer.commit(Commit {
        aliases_added: vec![meta],
        aliases_removed: manifest.aliases.iter().map(|a| a.file.clone()).collect(),
        ..Commit::default()
    })?;
    Ok(manifest.aliases.len())
}
