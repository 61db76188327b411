//! Account lookups: the breaches an identifier is linked to, over every reading of it.

use leakwatch_store::Key;

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
