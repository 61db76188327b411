//! API keys and the operator key: create, list, revoke an API key; rotate the operator key
//! that seals aliases (the store's alias files re-sealed from the old key to the new one).

use std::fmt;

use leakwatch_catalog::Catalog;
use leakwatch_identity::OperatorKey;
use leakwatch_ingest::ResealSummary;
use leakwatch_store::StoreWriter;

pub use leakwatch_catalog::keys::{ApiKey, Quotas, Scope, Scopes};

use crate::{DataDir, Principal, ServiceError};

/// What a new key is for and may do.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Who it is for.
    pub name: String,
    /// Requests per minute.
    pub rpm: u32,
    /// Last valid day (`YYYY-MM-DD`), if it expires.
    pub expires: Option<String>,
    /// What it may do.
    pub scopes: Scopes,
    /// The tenant it joins (none: a tenant of its own).
    pub tenant: Option<String>,
    /// Its daily quotas per scope.
    pub quotas: Quotas,
}

/// Creates a key; returns it with its secret, which is shown only now.
pub fn create(
    catalog: &mut Catalog,
    _by: &Principal,
    new: &NewKey,
) -> Result<(ApiKey, String), ServiceError> {
    Ok(catalog.create_key(
        &new.name,
        new.rpm,
        new.expires.as_deref(),
        &new.scopes,
        new.tenant.as_deref(),
        &new.quotas,
    )?)
}

/// Whether `tenant` still acts: a key of it is usable at `now`. A tenant with no key at all
/// (the operator's `default` on a server without keys) is not ended by that. When every key
/// of a tenant is revoked or expired, its domains get no alert and no webhook, and its
/// vendors' owners no report.
pub fn tenant_is_live(catalog: &Catalog, tenant: &str, now: u64) -> Result<bool, ServiceError> {
    let keys = catalog.tenant_keys(tenant)?;
    Ok(keys.is_empty() || keys.iter().any(|k| k.is_usable(now)))
}

/// `by` acting for `tenant`, which must exist (a key names it, or it is `default`): a
/// mistyped `--tenant` is refused, not made into an empty tenant.
pub fn act_for(catalog: &Catalog, by: Principal, tenant: &str) -> Result<Principal, ServiceError> {
    let by = by.acting_for(tenant)?;
    if !catalog.tenant_exists(by.tenant()?)? {
        return Err(ServiceError::UnknownTenant(tenant.to_owned()));
    }
    Ok(by)
}

/// Ends `tenant`: revokes every key of it that is not revoked yet; returns them.
pub fn revoke_tenant(
    catalog: &mut Catalog,
    _by: &Principal,
    tenant: &str,
) -> Result<Vec<ApiKey>, ServiceError> {
    if catalog.tenant_keys(tenant)?.is_empty() {
        return Err(ServiceError::UnknownTenant(tenant.to_owned()));
    }
    Ok(catalog.revoke_tenant(tenant)?)
}

/// Where a key stands at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyState {
    /// Revoked at this time.
    Revoked(String),
    /// Past its last valid day.
    Expired,
    /// Suspended for reading in bulk, for this reason, until `keys resume`.
    Suspended(String),
    /// Usable, until this day if it expires.
    Active(Option<String>),
}

impl KeyState {
    /// The state of `key` at `now` (Unix seconds).
    pub fn of(key: &ApiKey, now: u64) -> KeyState {
        match (&key.revoked, key.is_usable(now)) {
            (Some(when), _) => KeyState::Revoked(when.clone()),
            (None, false) => KeyState::Expired,
            (None, true) => match &key.suspended {
                Some(reason) => KeyState::Suspended(reason.clone()),
                None => KeyState::Active(key.expires.clone()),
            },
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyState::Revoked(when) => write!(f, "revoked {when}"),
            KeyState::Expired => f.write_str("expired"),
            KeyState::Suspended(reason) => write!(f, "suspended: {reason}"),
            KeyState::Active(Some(until)) => write!(f, "active until {until}"),
            KeyState::Active(None) => f.write_str("active"),
        }
    }
}

/// Every key with its state now, oldest first.
pub fn list(catalog: &Catalog, _by: &Principal) -> Result<Vec<(ApiKey, KeyState)>, ServiceError> {
    let now = crate::now_unix();
    Ok(catalog
        .keys()?
        .into_iter()
        .map(|k| {
            let state = KeyState::of(&k, now);
            (k, state)
        })
        .collect())
}

/// Revokes a key by its id or prefix.
pub fn revoke(catalog: &mut Catalog, _by: &Principal, which: &str) -> Result<ApiKey, ServiceError> {
    Ok(catalog.revoke_key(which)?)
}

/// What [`rotate`] did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The key replaced, as it is now (ending after the overlap).
    pub old: ApiKey,
    /// Its successor: the same name, rpm, scopes and expiry.
    pub new: ApiKey,
    /// The successor's secret, shown only now.
    pub secret: String,
}

/// Issues a successor of the usable key `which` (the same name, rpm, scopes, expiry and
/// tenant, so it keeps the tenant's domains, webhooks and vendors) and
/// lets the old key work for `overlap_days` more days (to the end of that day), so its
/// holder can move over without an outage.
pub fn rotate(
    catalog: &mut Catalog,
    _by: &Principal,
    which: &str,
    overlap_days: u32,
) -> Result<Rotated, ServiceError> {
    let now = crate::now_unix();
    let old = find(catalog, which)?;
    if !old.is_usable(now) {
        return Err(ServiceError::KeyNotUsable(old.prefix));
    }
    let last_day = &crate::format_date_time(now + u64::from(overlap_days) * 86_400)[..10];
    let (old, new, secret) = catalog.rotate_key(old.id, last_day)?;
    Ok(Rotated { old, new, secret })
}

/// The key with this id, or the one key with this prefix (see `Catalog::find_key`).
pub fn find(catalog: &Catalog, which: &str) -> Result<ApiKey, ServiceError> {
    catalog.find_key(which).map_err(|e| match e {
        leakwatch_catalog::CatalogError::NotFound(_) => ServiceError::UnknownKey(which.to_owned()),
        other => other.into(),
    })
}

/// Re-seals every alias file of the store from `old` to `new` and publishes the result
/// (files already under `new` are left alone), spilling to the data directory's tmp/ within
/// `memory` bytes.
pub fn rotate_operator_key(
    data: &DataDir,
    _by: &Principal,
    old: &OperatorKey,
    new: &OperatorKey,
    memory: usize,
) -> Result<ResealSummary, ServiceError> {
    if old.id() == new.id() {
        return Err(ServiceError::SameOperatorKey);
    }
    let mut writer = StoreWriter::open(crate::open_store_dir(data)?)?;
    Ok(leakwatch_ingest::reseal(
        &mut writer,
        old,
        new,
        &data.tmp(),
        memory,
    )?)
}
