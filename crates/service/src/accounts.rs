//! Account lookups: the breaches an identifier is linked to, over every reading of it, and
//! the k-anonymity account range.

use leakwatch_catalog::keys::Scope;
use leakwatch_store::{Key, Snapshot};

use crate::{Principal, ServiceError};

/// The breaches an account is linked to, looked up for `by` (scope `account`).
pub fn lookup(
    snap: &Snapshot,
    by: &Principal,
    candidates: &[leakwatch_identity::Identifier],
) -> Result<Vec<u32>, ServiceError> {
    by.require(Scope::Account)?;
    Ok(breach_ids(snap, candidates)?)
}

/// Every account key with the 24-bit prefix and its breaches, for `by` (scope
/// `account-range`).
pub fn range(
    snap: &Snapshot,
    by: &Principal,
    prefix24: u32,
) -> Result<Vec<(Key, Vec<u32>)>, ServiceError> {
    by.require(Scope::AccountRange)?;
    Ok(snap.account_range(prefix24)?)
}

/// The store-local ids of every breach any reading of a queried account is linked to,
/// sorted and unique (see `leakwatch_identity::lookup_candidates`).
pub fn breach_ids(
    snap: &leakwatch_store::Snapshot,
    candidates: &[leakwatch_identity::Identifier],
) -> Result<Vec<u32>, leakwatch_store::StoreError> {
    let mut ids = Vec::new();
    for c in candidates {
        ids.extend(snap.account_breaches(Key::account(c.as_str()))?);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
