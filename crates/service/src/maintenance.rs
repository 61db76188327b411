//! The store's and the catalogue's upkeep: compact, forget, verify, migrate. Each takes the
//! store's writer lock (or reads a snapshot) and publishes at most one generation per step.

use leakwatch_catalog::{Catalog, checksums::FileCheck};
use leakwatch_identity::OperatorKey;
use leakwatch_ingest::AliasCompaction;
use leakwatch_store::{CompactStats, Key, Namespace, Snapshot, StoreWriter};

use crate::{DataDir, Principal, ServiceError};

/// How much alias compaction may hold in memory before it spills to tmp/.
const ALIAS_MEMORY: usize = 1 << 30;

/// What alias compaction did.
#[derive(Debug, Clone, Copy)]
pub struct AliasesCompacted {
    /// Files merged and aliases of forgotten accounts left out.
    pub done: AliasCompaction,
    /// Aliases of forgotten accounts stay sealed in the files: no operator key was given to
    /// open and leave them out.
    pub forgotten_kept: bool,
}

/// Merges every alias file into one, leaving out forgotten accounts' aliases when the
/// operator key is given.
fn compact_aliases(
    writer: &mut StoreWriter,
    data: &DataDir,
    key: Option<&OperatorKey>,
) -> Result<AliasesCompacted, ServiceError> {
    let done = leakwatch_ingest::compact_aliases(writer, &data.tmp(), ALIAS_MEMORY, key)?;
    let m = writer.manifest();
    Ok(AliasesCompacted {
        done,
        forgotten_kept: key.is_none() && !m.forgotten.is_empty() && !m.aliases.is_empty(),
    })
}

/// What `compact` did, per namespace (none: nothing to merge) and to the aliases.
#[derive(Debug, Clone)]
pub struct Compacted {
    /// Each namespace's merge.
    pub namespaces: Vec<(Namespace, Option<CompactStats>)>,
    /// The alias files' merge.
    pub aliases: AliasesCompacted,
}

/// Merges each namespace's segments into one, then the alias files.
pub fn compact(
    data: &DataDir,
    _by: &Principal,
    key: Option<&OperatorKey>,
) -> Result<Compacted, ServiceError> {
    let mut w = StoreWriter::open(crate::open_store_dir(data)?)?;
    let mut namespaces = Vec::new();
    for ns in Namespace::ALL {
        namespaces.push((ns, w.compact(ns)?));
    }
    let aliases = compact_aliases(&mut w, data, key)?;
    crate::announce_publication(data, w.manifest().generation);
    Ok(Compacted {
        namespaces,
        aliases,
    })
}

/// What `forget` did.
#[derive(Debug, Clone)]
pub struct Forgotten {
    /// Account keys forgotten (every reading of every identifier).
    pub keys: usize,
    /// The generation from which they are never answered.
    pub generation: u64,
    /// With compaction: the account segments were rewritten without them, and the aliases.
    pub compacted: Option<AliasesCompacted>,
    /// With the operator key: the paste links dropped from the catalogue (without it they
    /// stay, unanswered: a paste lookup never answers a forgotten address).
    pub paste_links: Option<usize>,
}

/// Forgets identifiers (every reading of each, as a lookup would read it) in one
/// publication; with `compact`, rewrites the account segments and the aliases without them
/// (the aliases only with the operator key `key`). With `key`, the addresses' paste links
/// leave the catalogue too.
pub fn forget(
    data: &DataDir,
    _by: &Principal,
    identifiers: &[String],
    default_region: Option<&str>,
    compact: bool,
    key: Option<&OperatorKey>,
) -> Result<Forgotten, ServiceError> {
    let mut keys = Vec::new();
    let mut addresses = Vec::new();
    for raw in identifiers {
        let readings = leakwatch_identity::lookup_candidates(raw, default_region)?;
        keys.extend(readings.iter().map(|c| Key::account(c.as_str())));
        addresses.extend(
            readings
                .iter()
                .filter(|c| c.email_parts().is_some())
                .map(|c| c.as_str().to_owned()),
        );
    }
    let mut writer = StoreWriter::open(crate::open_store_dir(data)?)?;
    let n = keys.len();
    let generation = writer.forget(keys)?.generation;
    let compacted = if compact {
        writer.compact(Namespace::Account)?;
        Some(compact_aliases(&mut writer, data, key)?)
    } else {
        None
    };
    crate::announce_publication(data, writer.manifest().generation);
    let paste_links = match key {
        Some(key) if !addresses.is_empty() => Some(crate::pastes::forget(
            &mut crate::open_catalog(data)?,
            key,
            &addresses,
        )?),
        _ => None,
    };
    Ok(Forgotten {
        keys: n,
        generation,
        compacted,
        paste_links,
    })
}

/// What `verify` checked.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The store's published generation.
    pub generation: u64,
    /// Segment files verified.
    pub segments: usize,
    /// Alias files verified.
    pub aliases: usize,
    /// The catalogue's pages, if there is a catalogue.
    pub catalog: Option<FileCheck>,
}

/// Verifies every checksum of the store's published generation, then every page of the
/// catalogue. A catalogue too damaged to open is scanned page by page, so the error says
/// where.
pub fn verify(data: &DataDir) -> Result<Verified, ServiceError> {
    let snap = Snapshot::open(crate::open_store_dir(data)?.as_ref())?;
    snap.verify()?;
    let m = snap.manifest();
    let mut verified = Verified {
        generation: snap.generation(),
        segments: m.segments.len(),
        aliases: m.aliases.len(),
        catalog: None,
    };
    let path = data.catalog();
    if path.exists() {
        verified.catalog = Some(match Catalog::open(&path) {
            Ok(c) => c.verify(&path)?,
            Err(e) => {
                leakwatch_catalog::checksums::verify_file(&path)?;
                return Err(e.into());
            }
        });
    }
    Ok(verified)
}

/// What `migrate` did.
#[derive(Debug, Clone, Copy)]
pub struct Migrated {
    /// The catalogue's schema version before, if it changed.
    pub catalog_from: Option<i64>,
    /// The schema version it has now.
    pub catalog_schema: i64,
    /// The store's generation.
    pub generation: u64,
    /// The store's manifest format (read as it is).
    pub manifest_format: u32,
}

/// Brings the catalogue to this version's schema; the store is read as it is.
pub fn migrate(data: &DataDir, _by: &Principal) -> Result<Migrated, ServiceError> {
    let catalog_from = Catalog::migrate(&data.catalog())?;
    let snap = Snapshot::open(crate::open_store_dir(data)?.as_ref())?;
    Ok(Migrated {
        catalog_from,
        catalog_schema: leakwatch_catalog::SCHEMA_VERSION,
        generation: snap.generation(),
        manifest_format: snap.manifest().format_version,
    })
}
