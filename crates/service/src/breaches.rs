//! The breach catalogue: add, edit, import, list, show and retire breaches. The store links
//! accounts to a breach by its Name, so a Name the store knows is never changed.

use leakwatch_catalog::Catalog;
use leakwatch_store::Snapshot;

pub use leakwatch_catalog::Breach;

use crate::{DataDir, Principal, ServiceError};

/// Adds a breach (validated; its Name must be new).
pub fn add(catalog: &mut Catalog, _by: &Principal, breach: Breach) -> Result<Breach, ServiceError> {
    Ok(catalog.add(breach)?)
}

/// Changes the breach `name` by `change`; refused when it would rename a breach whose
/// accounts the store of `data` holds.
pub fn edit(
    data: &DataDir,
    catalog: &mut Catalog,
    _by: &Principal,
    name: &str,
    change: impl FnOnce(&mut Breach),
) -> Result<Breach, ServiceError> {
    let current = catalog
        .get(name)?
        .ok_or_else(|| leakwatch_catalog::CatalogError::NotFound(name.to_owned()))?;
    let mut wanted = current.clone();
    change(&mut wanted);
    if wanted.name != current.name
        && Snapshot::open(crate::open_store_dir(data)?.as_ref())?
            .manifest()
            .breach_id(name)
            .is_some()
    {
        return Err(ServiceError::RenameLoaded {
            breach: name.to_owned(),
            new: wanted.name,
        });
    }
    Ok(catalog.edit(name, |b| *b = wanted)?)
}

/// Imports HIBP's `/api/v3/breaches` JSON (adding and updating by Name); returns how many.
pub fn import_hibp_json(
    catalog: &mut Catalog,
    _by: &Principal,
    json: &str,
) -> Result<usize, ServiceError> {
    Ok(catalog.import_hibp_json(json)?)
}

/// Every breach, retired ones included, sorted by Title.
pub fn list(catalog: &Catalog) -> Result<Vec<Breach>, ServiceError> {
    Ok(catalog.all()?)
}

/// The breach `name`, if the catalogue has it.
pub fn get(catalog: &Catalog, name: &str) -> Result<Option<Breach>, ServiceError> {
    Ok(catalog.get(name)?)
}

/// Retires the breach `name`: it is kept (and stays linked in the store) but never answered.
pub fn retire(catalog: &mut Catalog, _by: &Principal, name: &str) -> Result<Breach, ServiceError> {
    Ok(catalog.retire(name)?)
}
