//! Domain search over the sealed aliases: every breached address on a domain and the
//! breaches each appears in (HIBP's `breacheddomain` shape, `{"alias": ["Breach", ...]}`).
//!
//! The aliases are opened with the operator key; each is hashed back into its account
//! (`alias@domain`) and looked up, so an alias whose account is no longer linked to any
//! breach is not listed. Who may ask for a domain is decided before ([`search`] takes a
//! `domains::Searchable`); hiding sensitive or retired breaches is the caller's business,
//! since the store knows only names.

use std::collections::BTreeMap;

use leakwatch_identity::{InvalidIdentifier, OperatorKey};
use leakwatch_store::{Snapshot, StoreError};

/// Why a domain search failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainSearchError {
    /// The domain is not a valid domain name.
    #[error(transparent)]
    Domain(#[from] InvalidIdentifier),
    /// An alias file was sealed under another operator key.
    #[error("{file} is sealed under operator key {found}, not the configured key {configured}")]
    WrongKey {
        /// The alias file.
        file: String,
        /// Its key id.
        found: String,
        /// The configured key's id.
        configured: String,
    },
    /// A sealed alias does not open: the file is damaged.
    #[error("an alias in {0} does not open under the operator key: the file is damaged")]
    Unseal(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// [`breached_domain`] for `by` (scope `domain`), over a domain the service found `by` may
/// search (`domains::searchable`: verified for an API key's tenant).
pub fn search(
    snap: &Snapshot,
    key: &OperatorKey,
    by: &crate::Principal,
    domain: &crate::domains::Searchable,
) -> Result<BTreeMap<String, Vec<String>>, crate::ServiceError> {
    by.require(leakwatch_catalog::keys::Scope::Domain)?;
    Ok(breached_domain(snap, key, domain.domain())?)
}

/// The operator's search of any domain (`leakwatch check domain`), scope `domain`.
pub fn search_as_operator(
    snap: &Snapshot,
    key: &OperatorKey,
    by: &crate::Principal,
    domain: &str,
) -> Result<BTreeMap<String, Vec<String>>, crate::ServiceError> {
    let domain = crate::domains::Searchable::trusted(by, domain)?;
    search(snap, key, by, &domain)
}

/// Every alias on `domain` (normalised to punycode) with the names of the breaches its
/// address is linked to, both sorted.
pub fn breached_domain(
    snap: &Snapshot,
    key: &OperatorKey,
    domain: &str,
) -> Result<BTreeMap<String, Vec<String>>, DomainSearchError> {
    let domain = leakwatch_identity::normalize_domain(domain)?;
    let tag = key.domain_tag(&domain);
    let mut aliases = std::collections::BTreeSet::new();
    for (meta, file) in snap.alias_files() {
        if meta.key_id != key.id() {
            return Err(DomainSearchError::WrongKey {
                file: meta.file.clone(),
                found: meta.key_id.clone(),
                configured: key.id().to_owned(),
            });
        }
        // A version-2 block may hold other domains' aliases around this one's.
        let mut opener = leakwatch_ingest::AliasOpener::new(key);
        let mut damaged = false;
        file.for_tag(tag, |entry| {
            let opened = opener.open(entry, |d, alias| {
                if d == domain {
                    aliases.insert(alias.to_owned());
                }
            });
            damaged |= opened.is_err();
        })?;
        if damaged {
            return Err(DomainSearchError::Unseal(meta.file.clone()));
        }
    }
    let mut out = BTreeMap::new();
    for alias in aliases {
        let ids =
            snap.account_breaches(leakwatch_store::Key::account(&format!("{alias}@{domain}")))?;
        let mut names: Vec<String> = ids
            .iter()
            .filter_map(|&id| snap.breach_name(id).map(str::to_owned))
            .collect();
        names.sort();
        if !names.is_empty() {
            out.insert(alias, names);
        }
    }
    Ok(out)
}
