//! The store's upkeep: `stats`, `compact`, `verify`, `forget`, `migrate`.

use std::path::Path;

use anyhow::{Context, Result};
use leakwatch_service::{
    Principal, ServiceError,
    imports::IngestError,
    maintenance::{self, AliasesCompacted},
    stats,
};
use leakwatch_store::{Namespace, Snapshot};

use super::store_dir;
use crate::flags::*;

/// A maintenance error as the operator reads it: alias files under two keys name the
/// command that reconciles them.
fn worded(e: ServiceError) -> anyhow::Error {
    if matches!(e, ServiceError::Ingest(IngestError::MixedAliasKeys(..))) {
        anyhow::anyhow!("{e}: run `leakwatch operator-key rotate` first")
    } else {
        e.into()
    }
}

/// Says what alias compaction did.
fn report_aliases(a: &AliasesCompacted) {
    match a.done.files {
        0 if a.done.unmerged > 0 => println!(
            "aliases: {} alias files left unmerged: their aliases are sealed in blocks only the operator key opens; give it to merge them",
            a.done.unmerged
        ),
        0 => println!("aliases: nothing to compact"),
        n => println!(
            "aliases: merged {n} alias file(s) into one, leaving out {} alias(es) of forgotten accounts",
            a.done.erased
        ),
    }
    if a.forgotten_kept {
        println!(
            "aliases of forgotten accounts stay sealed in the alias files (never answered): give the operator key to remove them"
        );
    }
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
    let aliases: Vec<_> = snap.alias_files().map(|(_, f)| f).collect();
    if aliases.is_empty() {
        println!("aliases: none");
    } else {
        let records: u64 = aliases.iter().map(|f| f.records()).sum();
        let bytes: u64 = aliases.iter().map(|f| f.bytes()).sum();
        let old = aliases.iter().filter(|f| f.version() == 1).count();
        println!(
            "aliases: {} files, {records} aliases, {bytes} bytes, {:.2} B/alias{}",
            aliases.len(),
            bytes as f64 / records.max(1) as f64,
            match old {
                0 => String::new(),
                n => format!(" ({n} version-1 files, whose records count domain names too)"),
            }
        );
    }
    Ok(())
}

/// `leakwatch compact`.
pub fn compact(args: CompactArgs) -> Result<()> {
    let CompactArgs { data, key } = args;
    let key = key.load()?;
    let done =
        maintenance::compact(&data.dir(), &Principal::operator(), key.as_ref()).map_err(worded)?;
    for (ns, merged) in done.namespaces {
        match merged {
            Some(s) => println!(
                "{ns}: merged {} segments into one: {} hashes, {} -> {} bytes",
                s.merged, s.hashes, s.bytes_before, s.bytes_after
            ),
            None => println!("{ns}: nothing to compact"),
        }
    }
    report_aliases(&done.aliases);
    Ok(())
}

/// `leakwatch verify`.
pub fn verify(data: DataArg) -> Result<()> {
    let v = maintenance::verify(&data.dir()).context("verification failed")?;
    println!(
        "ok: manifest, {} segments and {} alias files verified (generation {})",
        v.segments, v.aliases, v.generation
    );
    if let Some(check) = v.catalog {
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
    let key = key.load()?;
    let done = maintenance::forget(
        &data.dir(),
        &Principal::operator(),
        &identifiers,
        default_region.as_deref(),
        compact,
        key.as_ref(),
    )
    .map_err(worded)?;
    println!(
        "forgot {} identifier(s) ({} key(s)): never answered from generation {} on",
        identifiers.len(),
        done.keys,
        done.generation
    );
    match &done.compacted {
        Some(aliases) => {
            println!("account segments compacted: the keys are gone from the files");
            report_aliases(aliases);
        }
        None => println!("they leave the segment files at the next `leakwatch compact`"),
    }
    if let Some(n) = done.paste_links {
        println!("{n} paste link(s) removed from the catalogue");
    }
    Ok(())
}

/// `leakwatch migrate`.
pub fn migrate(data: DataArg) -> Result<()> {
    let m = maintenance::migrate(&data.dir(), &Principal::operator())
        .with_context(|| format!("migrating {}", data.dir().catalog().display()))?;
    match m.catalog_from {
        Some(found) => println!("catalogue: schema version {found} → {}", m.catalog_schema),
        None => println!(
            "catalogue: schema version {}, nothing to do",
            m.catalog_schema
        ),
    }
    println!(
        "store: generation {}, manifest format {}: read as it is",
        m.generation, m.manifest_format
    );
    Ok(())
}
