//! The vendor inventory of a tenant (list, add or replace, import, remove) and its impact
//! reports: which vendors a live breach hits, and how many addresses of the tenant's
//! verified domains it holds. A vendor's owner gets reports only at an address on a verified
//! domain of the tenant, or one that confirmed a mailed link (or the operator set up): a
//! key cannot point another organisation's counts at an address of its choosing.

use leakwatch_catalog::{Catalog, keys::Scope};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::{Payload, Subscription};
use leakwatch_store::Snapshot;

pub use leakwatch_catalog::vendors::{CSV_HEADER, Vendor};

use crate::{
    CatalogHandle, Principal, ServiceError, StoreHandle,
    impact::{DomainExposure, ImpactReport},
};

/// The inventory of `by`'s tenant, by name.
pub fn list(catalog: &Catalog, by: &Principal) -> Result<Vec<Vendor>, ServiceError> {
    by.require(Scope::Vendors)?;
    Ok(catalog.vendors(by.tenant()?)?)
}

/// A vendor as stored, and whether its owner must still confirm a mailed link before
/// impact reports go to it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The vendor, validated.
    pub vendor: Vendor,
    /// A confirmation link was queued to the owner: until it is followed, no report goes
    /// there.
    pub owner_pending: bool,
}

/// Whether an impact report may go to `owner` of a vendor of `tenant` without asking: an
/// address on one of the tenant's verified domains.
fn owner_on_verified_domain(
    catalog: &Catalog,
    operator: Option<&OperatorKey>,
    tenant: &str,
    owner: &str,
) -> Result<bool, ServiceError> {
    let (Some(operator), Ok(owner)) = (operator, leakwatch_identity::normalize_email(owner)) else {
        return Ok(false);
    };
    let domain = owner.rsplit_once('@').map_or("", |(_, d)| d).to_owned();
    Ok(crate::domains::verified_domains(catalog, operator, tenant)?
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}"))))
}

/// Stores `vendors` in `by`'s tenant (`replace`: as the whole inventory). An owner address
/// an API key names off the tenant's verified domains gets a confirmation link (queued under
/// the operator key) and no report until it follows it; the operator's word stands.
fn store(
    catalog: &mut Catalog,
    operator: Option<&OperatorKey>,
    by: &Principal,
    vendors: Vec<Vendor>,
    replace: bool,
) -> Result<Vec<Stored>, ServiceError> {
    by.require(Scope::Vendors)?;
    let tenant = by.tenant()?.to_owned();
    let vendors = vendors
        .into_iter()
        .map(Vendor::validate)
        .collect::<Result<Vec<_>, _>>()?;
    let trusted = by.is_operator();
    if replace {
        catalog.replace_vendors(&tenant, vendors.clone(), trusted)?;
    } else {
        for v in &vendors {
            catalog.put_vendor(&tenant, v.clone(), trusted)?;
        }
    }
    let now = crate::now_unix();
    let stored = catalog.tenant_vendors(&tenant)?;
    let mut out = Vec::new();
    for v in vendors {
        let confirmed = stored
            .iter()
            .any(|s| s.vendor.name.eq_ignore_ascii_case(&v.name) && s.owner_confirmed);
        let mut owner_pending = false;
        if !confirmed && owner_on_verified_domain(catalog, operator, &tenant, &v.owner)? {
            catalog.confirm_vendor_owner(&tenant, &v.name, &v.owner)?;
        } else if !confirmed
            && let (Some(operator), Ok(owner)) =
                (operator, leakwatch_identity::normalize_email(&v.owner))
        {
            // One confirmation mail per tenant, vendor and owner a day, however often the
            // vendor is saved: a key cannot turn this into a mail cannon. The dedupe key is a
            // keyed digest, so the outbox names no address.
            let dedupe = operator.keyed_digest(
                b"vendor owner confirmation",
                format!(
                    "{tenant}\n{}\n{owner}\n{}",
                    v.name.to_lowercase(),
                    now / 86_400
                )
                .as_bytes(),
            );
            let payload = Payload::ConfirmVendorOwner {
                tenant: tenant.clone(),
                vendor: v.name.clone(),
                owner,
            };
            catalog.enqueue(Some(&dedupe), &payload.seal(operator), now)?;
            owner_pending = true;
        }
        out.push(Stored {
            vendor: v,
            owner_pending,
        });
    }
    Ok(out)
}

/// Adds a vendor to `by`'s tenant, or replaces the one of the same name there; returns it
/// as stored (validated). `operator` seals a confirmation mail to an owner that needs one.
pub fn put(
    catalog: &mut Catalog,
    operator: Option<&OperatorKey>,
    by: &Principal,
    vendor: Vendor,
) -> Result<Stored, ServiceError> {
    let mut stored = store(catalog, operator, by, vec![vendor], false)?;
    Ok(stored.remove(0))
}

/// Replaces the whole inventory of `by`'s tenant; returns how many vendors it holds.
pub fn replace_all(
    catalog: &mut Catalog,
    operator: Option<&OperatorKey>,
    by: &Principal,
    vendors: Vec<Vendor>,
) -> Result<usize, ServiceError> {
    Ok(store(catalog, operator, by, vendors, true)?.len())
}

/// Why an inventory in CSV cannot be read: the record (1 = the first after the header) and
/// the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CSV record {record}: {reason}")]
pub struct CsvError {
    /// Which record, counting from 1 after the header.
    pub record: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// An inventory in CSV with [`CSV_HEADER`]'s columns (lists `;`-separated), every vendor
/// validated; the first bad record refuses the whole file (an import replaces the
/// inventory, so half of one is never stored).
pub fn parse_csv(text: &str) -> Result<Vec<Vendor>, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let error = |reason: String| CsvError {
            record: i + 1,
            reason,
        };
        let record = record.map_err(|e| error(e.to_string()))?;
        let fields: Vec<&str> = record.iter().collect();
        out.push(Vendor::from_csv_record(&fields).map_err(|e| error(e.to_string()))?);
    }
    Ok(out)
}

/// Removes the vendor `name` of `by`'s tenant (another tenant's is not there for it).
pub fn remove(catalog: &mut Catalog, by: &Principal, name: &str) -> Result<(), ServiceError> {
    by.require(Scope::Vendors)?;
    if catalog.remove_vendor(by.tenant()?, name)? {
        Ok(())
    } else {
        Err(ServiceError::UnknownVendor(name.to_owned()))
    }
}

/// What following a vendor owner's confirmation link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnerConfirmation {
    /// The owner gets the vendor's impact reports from now on.
    Confirmed,
    /// The vendor is gone, or has another owner now.
    Gone,
}

/// Confirms, by its mailed link, that `owner` wants the reports of `tenant`'s `vendor`.
pub fn confirm_owner(
    catalog: &mut Catalog,
    _by: &Principal,
    tenant: &str,
    vendor: &str,
    owner: &str,
) -> Result<OwnerConfirmation, ServiceError> {
    Ok(if catalog.confirm_vendor_owner(tenant, vendor, owner)? {
        OwnerConfirmation::Confirmed
    } else {
        OwnerConfirmation::Gone
    })
}

/// Whether `tenant`'s vendor `vendor` may send its impact reports to `owner` now: the
/// vendor still names that owner, and it was confirmed (by the operator, by its link) or is
/// on one of the tenant's verified domains.
pub fn owner_may_be_mailed(
    catalog: &Catalog,
    operator: &OperatorKey,
    tenant: &str,
    vendor: &str,
    owner: &str,
) -> Result<bool, ServiceError> {
    let Some(v) = catalog
        .tenant_vendors(tenant)?
        .into_iter()
        .find(|v| v.vendor.name.eq_ignore_ascii_case(vendor))
    else {
        return Ok(false);
    };
    let same_owner = leakwatch_identity::normalize_email(&v.vendor.owner)
        .is_ok_and(|o| o.eq_ignore_ascii_case(owner));
    Ok(same_owner
        && (v.owner_confirmed || owner_on_verified_domain(catalog, Some(operator), tenant, owner)?))
}

/// How many addresses of each domain `tenant` has verified (and not unsubscribed) are in
/// `breach`: another tenant's domains never count.
pub fn your_domains(
    key: Option<&OperatorKey>,
    catalog: &Catalog,
    snap: &Snapshot,
    tenant: &str,
    breach: &str,
) -> Result<Vec<DomainExposure>, ServiceError> {
    let Some(key) = key else {
        return Ok(Vec::new());
    };
    let mut domains: Vec<String> = catalog
        .tenant_subscribers(tenant)?
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

/// The impact report of the live breach `name` for `by`'s tenant, if a vendor of its
/// inventory matches it: over the served store and catalogue, the catalogue connection to
/// read the inventory and subscribers from, and the operator key that opens the verified
/// domains (none: no domain counts).
pub fn report(
    store: &StoreHandle,
    breaches: &CatalogHandle,
    catalog: &Catalog,
    key: Option<&OperatorKey>,
    by: &Principal,
    name: &str,
) -> Result<Option<ImpactReport>, ServiceError> {
    by.require(Scope::Vendors)?;
    let tenant = by.tenant()?;
    let all = breaches.breaches();
    let Some(breach) = all
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(name) && !b.is_retired)
    else {
        return Ok(None);
    };
    let vendors = catalog.vendors(tenant)?;
    if !vendors.iter().any(|v| {
        v.matches(&breach.domain, breach.vendor.as_deref())
            .is_some()
    }) {
        return Ok(None);
    }
    let snap = store.snapshot();
    let domains = your_domains(key, catalog, &snap, tenant, &breach.name)?;
    Ok(crate::impact::impact(breach, &vendors, domains))
}

/// The impact report of every live breach that reaches a vendor of `by`'s inventory, in the
/// catalogue's order: [`report`] for all breaches at once, reading the inventory and the
/// store's snapshot once rather than per breach.
pub fn reports(
    store: &StoreHandle,
    breaches: &CatalogHandle,
    catalog: &Catalog,
    key: Option<&OperatorKey>,
    by: &Principal,
) -> Result<Vec<ImpactReport>, ServiceError> {
    by.require(Scope::Vendors)?;
    let tenant = by.tenant()?;
    let vendors = catalog.vendors(tenant)?;
    let snap = store.snapshot();
    let mut out = Vec::new();
    for breach in breaches.breaches().iter().filter(|b| !b.is_retired) {
        if !vendors.iter().any(|v| {
            v.matches(&breach.domain, breach.vendor.as_deref())
                .is_some()
        }) {
            continue;
        }
        let domains = your_domains(key, catalog, &snap, tenant, &breach.name)?;
        out.extend(crate::impact::impact(breach, &vendors, domains));
    }
    Ok(out)
}
