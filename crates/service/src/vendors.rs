//! The vendor inventory (list, add or replace, import, remove) and its impact reports:
//! which vendors a live breach hits, and how many addresses of the verified domains it holds.

use leakwatch_catalog::{Catalog, keys::Scope};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::Subscription;
use leakwatch_store::Snapshot;

pub use leakwatch_catalog::vendors::{CSV_HEADER, Vendor};

use crate::{
    CatalogHandle, Principal, ServiceError, StoreHandle,
    impact::{DomainExposure, ImpactReport},
};

/// The inventory, by name.
pub fn list(catalog: &Catalog, by: &Principal) -> Result<Vec<Vendor>, ServiceError> {
    by.require(Scope::Vendors)?;
    Ok(catalog.vendors()?)
}

/// Adds a vendor, or replaces the one of the same name; returns it as stored (validated).
pub fn put(catalog: &mut Catalog, by: &Principal, vendor: Vendor) -> Result<Vendor, ServiceError> {
    by.require(Scope::Vendors)?;
    Ok(catalog.put_vendor(vendor)?)
}

/// Replaces the whole inventory; returns how many vendors it holds.
pub fn replace_all(
    catalog: &mut Catalog,
    by: &Principal,
    vendors: Vec<Vendor>,
) -> Result<usize, ServiceError> {
    by.require(Scope::Vendors)?;
    Ok(catalog.replace_vendors(vendors)?)
}

/// Removes the vendor `name`.
pub fn remove(catalog: &mut Catalog, by: &Principal, name: &str) -> Result<(), ServiceError> {
    by.require(Scope::Vendors)?;
    if catalog.remove_vendor(name)? {
        Ok(())
    } else {
        Err(ServiceError::UnknownVendor(name.to_owned()))
    }
}

/// How many addresses of each verified domain (of any key) are in `breach`.
pub fn your_domains(
    key: Option<&OperatorKey>,
    catalog: &Catalog,
    snap: &Snapshot,
    breach: &str,
) -> Result<Vec<DomainExposure>, ServiceError> {
    let Some(key) = key else {
        return Ok(Vec::new());
    };
    let mut domains: Vec<String> = catalog
        .subscribers()?
        .into_iter()
        .filter(|s| s.is_active())
        .filter_map(|s| match Subscription::open(&s.sealed, key)? {
            Subscription::Domain { domain, .. } => Some(domain),
            _ => None,
        })
        .collect();
    domains.sort();
    domains.dedup();
    let mut out = Vec::new();
    for domain in domains {
        let found = crate::domain_search::breached_domain(snap, key, &domain)?;
        let n = found
            .values()
            .filter(|names| names.iter().any(|n| n == breach))
            .count() as u64;
        if n > 0 {
            out.push(DomainExposure {
                domain,
                addresses: n,
            });
        }
    }
    Ok(out)
}

/// The impact report of the live breach `name`, if a vendor matches it: over the served
/// store and catalogue, the catalogue connection to read the inventory and
/// subscribers from, and the operator key that opens the verified domains (none: no domain
/// counts).
pub fn report(
    store: &StoreHandle,
    breaches: &CatalogHandle,
    catalog: &Catalog,
    key: Option<&OperatorKey>,
    by: &Principal,
    name: &str,
) -> Result<Option<ImpactReport>, ServiceError> {
    by.require(leakwatch_catalog::keys::Scope::Vendors)?;
    let all = breaches.breaches();
    let Some(breach) = all
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(name) && !b.is_retired)
    else {
        return Ok(None);
    };
    let vendors = catalog.vendors()?;
    if !vendors.iter().any(|v| {
        v.matches(&breach.domain, breach.vendor.as_deref())
            .is_some()
    }) {
        return Ok(None);
    }
    let snap = store.snapshot();
    let domains = your_domains(key, catalog, &snap, &breach.name)?;
    Ok(crate::impact::impact(breach, &vendors, domains))
}
