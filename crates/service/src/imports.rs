//! Imports into the store (password corpora and dumps of accounts), and the catalogue entry
//! of the breach a dump is linked to, brought up to date after it.

use leakwatch_catalog::Catalog;
use leakwatch_store::StoreWriter;

pub use leakwatch_ingest::stealer::TableMap;
pub use leakwatch_ingest::{
    ColumnMap, Format, IngestError, IngestOptions, LayoutError, Mismatch, Source, Summary,
    private_spill_dir,
};

use crate::{DataDir, Principal, ServiceError, breaches::Breach};

/// Imports `source` into the store of `data` and publishes one generation (or none, when
/// the same input was imported before: `Summary::already_imported`). A dump that adds a
/// breach new to the store takes the store id a shared catalogue allocates to it
/// (`Catalog::store_breach_id`), so importers on other machines never take it.
pub fn import(
    data: &DataDir,
    _by: &Principal,
    source: &Source,
    opts: &IngestOptions,
) -> Result<Summary, ServiceError> {
    let mut writer = StoreWriter::open(crate::open_store_dir(data)?)?;
    let mut opts = opts.clone();
    let shared = crate::shared_catalog_url(data)?.is_some();
    if let Some(name) = &opts.breach
        && let (floor, true) = writer.breach_id(name)
        && shared
    {
        opts.breach_store_id = crate::open_catalog(data)?.store_breach_id(name, floor)?;
    }
    let summary = leakwatch_ingest::ingest(&mut writer, source, &opts)?;
    if !summary.already_imported {
        crate::announce_publication(data, summary.generation);
    }
    Ok(summary)
}

/// Brings the catalogue entry of `breach` up to date after a dump import: PwnCount is the
/// number of distinct accounts the store links to the breach (all its imports), and the
/// data classes gain what the dump was seen to hold. Only a real change touches
/// ModifiedDate (a repeated import changes nothing).
pub fn record_breach_import(
    catalog: &mut Catalog,
    breach: &str,
    s: &Summary,
) -> Result<Breach, ServiceError> {
    let seen = s.fields_seen;
    let update = |b: &mut Breach| {
        b.pwn_count = s.breach_accounts;
        for (n, class) in [
            (seen.emails, "Email addresses"),
            (seen.phones, "Phone numbers"),
            (seen.usernames, "Usernames"),
            (seen.passwords, "Passwords"),
        ] {
            if n > 0 && !b.data_classes.iter().any(|c| c == class) {
                b.data_classes.push(class.to_owned());
            }
        }
        b.data_classes.sort();
    };
    let current = catalog
        .get(breach)?
        .ok_or_else(|| ServiceError::BreachGone(breach.to_owned()))?;
    let mut wanted = current.clone();
    update(&mut wanted);
    if wanted == current {
        return Ok(current);
    }
    Ok(catalog.edit(breach, update)?)
}
