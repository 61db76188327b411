//! The store's upkeep: `stats`, `compact`, `verify`, `forget`, `migrate`.

use std::path::Path;

use anyhow::{Context, Result};
use leakwatch_datadir::DataDir;
use leakwatch_service::stats;
use leakwatch_store::{Namespace, Snapshot, StoreWriter};

use super::{catalog, store_dir};
use crate::flags::*;

/// Alias compaction, leaving out forgotten accounts' aliases when the operator key is given.
pub fn compact_aliases(w: &mut StoreWriter, data: &Path, key: &OperatorKeyArg) -> Result<()> {
    let key = key.load()?;
    let done =
        leakwatch_ingest::compact_aliases(w, &DataDir::new(data).tmp(), 1 << 30, key.as_ref())?;
    match done.files {
        0 => println!("aliases: nothing to compact"),
        n => println!(
            "aliases: merged {n} alias file(s) into one, leaving out {} alias(es) of forgotten accounts",
            done.erased
        ),
    }
    let m = w.manifest();
    if key.is_none() && !m.forgotten.is_empty() && !m.aliases.is_empty() {
        println!(
            "aliases of forgotten accounts stay sealed in the alias files (never answered): give the operator key to remove them"
        );
    }
    Ok(())
}

pub fn stats(data: &Path, deep: bool) -> Result<()> {
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    println!(
        "generation {}  sources {}",
        snap.generation(),
        snap.manifest().sources.len()
    );
    for ns in Namespace::ALL {
        let segs = snap.segments(ns);
        let hashes: u64 = segs.iter().map(|s| s.hashes()).sum();
        let bytes: u64 = segs.iter().map(|s| s.bytes()).sum();
        if segs.is_empty() {
            println!("{ns}: empty");
            continue;
        }
        let n = hashes.max(1) as f64;
        let floor = stats::key_floor_per_hash(ns, hashes);
        println!(
            "{ns}: {} segments, {hashes} hashes (before merging), {bytes} bytes, {:.2} B/hash (key floor {:.2} B/hash without counts)",
            segs.len(),
            bytes as f64 / n,
            floor
        );
        if let Some(m) = snap.manifest().mirror(ns) {
            let ago = leakwatch_store::unix_now().saturating_sub(m.synced_unix);
            println!(
                "  mirror of {} in {} (last changed by a sync {} h ago)",
                m.source,
                m.segment,
                ago / 3600
            );
        }
        if deep {
            for seg in segs {
                let stats::SegmentFloor {
                    floor_bytes: floor,
                    value_entropy: entropy,
                    ..
                } = stats::segment_floor(seg, ns)?;
                let n = seg.hashes().max(1) as f64;
                println!(
                    "  {}: hashes={} bytes={} bytes_per_hash={:.3} floor_bytes_per_hash={:.3} count_entropy_bits={:.3} ratio_to_floor={:.4}",
                    seg.name(),
                    seg.hashes(),
                    seg.bytes(),
                    seg.bytes() as f64 / n,
                    floor / n,
                    entropy,
                    seg.bytes() as f64 / floor.max(1.0)
                );
            }
        }
    }
    Ok(())
}

/// `leakwatch compact`.
pub fn compact(args: CompactArgs) -> Result<()> {
    let CompactArgs { data, key } = args;
    let mut w = StoreWriter::open(store_dir(&data.data)?)?;
    for ns in Namespace::ALL {
        match w.compact(ns)? {
            Some(s) => println!(
                "{ns}: merged {} segments into one: {} hashes, {} -> {} bytes",
                s.merged, s.hashes, s.bytes_before, s.bytes_after
            ),
            None => println!("{ns}: nothing to compact"),
        }
    }
    compact_aliases(&mut w, &data.data, &key)
}

/// `leakwatch verify`.
pub fn verify(data: DataArg) -> Result<()> {
    let snap = Snapshot::open(store_dir(&data.data)?.as_ref())?;
    snap.verify().context("verification failed")?;
    let m = snap.manifest();
    println!(
        "ok: manifest, {} segments and {} alias files verified (generation {})",
        m.segments.len(),
        m.aliases.len(),
        snap.generation()
    );
    let path = data.dir().catalog();
    if path.exists() {
        let check = match catalog(&data.data) {
            Ok(c) => c.verify(&path).context("verification failed")?,
            Err(e) => {
                // Too damaged to open: the page scan may still say where.
                leakwatch_catalog::checksums::verify_file(&path).context("verification failed")?;
                return Err(e.context("verification failed"));
            }
        };
        println!(
            "ok: catalogue, {} pages of {} bytes verified",
            check.pages, check.page_size
        );
    }
    Ok(())
}

/// `leakwatch forget`.
pub fn forget(args: ForgetArgs) -> Result<()> {
    let ForgetArgs {
        data,
        default_region,
        compact,
        key,
        identifiers,
    } = args;
    let mut keys = Vec::new();
    for raw in &identifiers {
        let readings = leakwatch_identity::lookup_candidates(raw, default_region.as_deref())
            .map_err(|e| anyhow::anyhow!("an identifier: {e}"))?;
        keys.extend(
            readings
                .iter()
                .map(|c| leakwatch_store::Key::account(c.as_str())),
        );
    }
    let mut writer = StoreWriter::open(store_dir(&data.data)?)?;
    let forgotten = keys.len();
    let generation = writer.forget(keys)?.generation;
    println!(
        "forgot {} identifier(s) ({forgotten} key(s)): never answered from generation {generation} on",
        identifiers.len(),
    );
    if compact {
        writer.compact(Namespace::Account)?;
        println!("account segments compacted: the keys are gone from the files");
        compact_aliases(&mut writer, &data.data, &key)?;
    } else {
        println!("they leave the segment files at the next `leakwatch compact`");
    }
    Ok(())
}

/// `leakwatch migrate`.
pub fn migrate(data: DataArg) -> Result<()> {
    let path = data.dir().catalog();
    match leakwatch_catalog::Catalog::migrate(&path)
        .with_context(|| format!("migrating {}", path.display()))?
    {
        Some(found) => println!(
            "catalogue: schema version {found} → {}",
            leakwatch_catalog::SCHEMA_VERSION
        ),
        None => println!(
            "catalogue: schema version {}, nothing to do",
            leakwatch_catalog::SCHEMA_VERSION
        ),
    }
    let snap = Snapshot::open(store_dir(&data.data)?.as_ref())?;
    println!(
        "store: generation {}, manifest format {}: read as it is",
        snap.generation(),
        snap.manifest().format_version
    );
    Ok(())
}
