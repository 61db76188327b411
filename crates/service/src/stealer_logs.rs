//! Stealer logs (HIBP's three stealer-log endpoints): which websites an address's
//! credentials were captured on, which addresses were captured on a website, and for an
//! e-mail domain each alias's websites — for a domain the asking tenant has verified
//! (`domains::verified_for`, scope `stealerlogs`).
//!
//! The pairs are kept only sealed, in three kinds of files of sealed blocks filed by a keyed
//! tag (`SealedKind::StealerEmail`, `StealerWebsite`, `StealerDomain`), written by a
//! stealer-log import. Each address found is hashed back into its account and kept only
//! while that account is still linked to a stealer-log set, so a forgotten address (or a
//! deleted set's) leaves every answer at once, before any compaction rewrites the files.

use std::collections::{BTreeMap, BTreeSet};

use leakwatch_catalog::keys::Scope;
use leakwatch_identity::OperatorKey;
use leakwatch_store::{Key, SealedKind, Snapshot};

use crate::{Principal, ServiceError, domain_search::DomainSearchError, domains::Searchable};

/// Names the stealer-log sets of the catalogue (`IsStealerLog`), to tell which of an
/// account's links are captures.
pub type IsStealerSet<'a> = &'a dyn Fn(&str) -> bool;

/// `GET /api/v3/stealerlogsbyemail/{email}`: the websites `email` (normalised; its domain
/// verified for `by`, `domain`) was captured on, sorted.
pub fn websites_of_address(
    snap: &Snapshot,
    key: &OperatorKey,
    by: &Principal,
    domain: &Searchable,
    email: &str,
    is_set: IsStealerSet<'_>,
) -> Result<Vec<String>, ServiceError> {
    by.require(Scope::StealerLogs)?;
    let email = leakwatch_identity::normalize_email(email)?;
    if email.rsplit_once('@').map(|(_, d)| d) != Some(domain.domain()) {
        return Err(ServiceError::DomainNotVerified(email));
    }
    websites_captured(snap, key, &email, is_set)
}

/// The websites the normalised address `email` was captured on, sorted, for whoever the
/// caller decided may know: the tenant that verified its domain, the operator, or the
/// mailbox itself (the private check's mail).
pub(crate) fn websites_captured(
    snap: &Snapshot,
    key: &OperatorKey,
    email: &str,
    is_set: IsStealerSet<'_>,
) -> Result<Vec<String>, ServiceError> {
    if !captured(snap, email, is_set)? {
        return Ok(Vec::new());
    }
    let mut sites = BTreeSet::new();
    values_of(snap, key, SealedKind::StealerEmail, email, |site| {
        sites.insert(site.to_owned());
    })?;
    Ok(sites.into_iter().collect())
}

/// The operator's look-up of an address's websites (`leakwatch check account`), scope
/// `stealerlogs`.
pub fn websites_as_operator(
    snap: &Snapshot,
    key: &OperatorKey,
    by: &Principal,
    email: &str,
    is_set: IsStealerSet<'_>,
) -> Result<Vec<String>, ServiceError> {
    by.require(Scope::StealerLogs)?;
    if matches!(by, Principal::ApiKey { .. }) {
        return Err(ServiceError::DomainNotVerified(email.to_owned()));
    }
    websites_captured(
        snap,
        key,
        &leakwatch_identity::normalize_email(email)?,
        is_set,
    )
}

/// `GET /api/v3/stealerlogsbywebsitedomain/{domain}`: the addresses captured on the
/// website `domain` (verified for `by`), sorted.
pub fn addresses_of_website(
    snap: &Snapshot,
    key: &OperatorKey,
    by: &Principal,
    website: &Searchable,
    is_set: IsStealerSet<'_>,
) -> Result<Vec<String>, ServiceError> {
    by.require(Scope::StealerLogs)?;
    let mut found = BTreeSet::new();
    values_of(
        snap,
        key,
        SealedKind::StealerWebsite,
        website.domain(),
        |address| {
            found.insert(address.to_owned());
        },
    )?;
    let mut out = Vec::with_capacity(found.len());
    for address in found {
        if captured(snap, &address, is_set)? {
            out.push(address);
        }
    }
    Ok(out)
}

/// `GET /api/v3/stealerlogsbyemaildomain/{domain}`: each alias of the e-mail domain
/// `domain` (verified for `by`) with the websites it was captured on, both sorted.
pub fn aliases_of_domain(
    snap: &Snapshot,
    key: &OperatorKey,
    by: &Principal,
    domain: &Searchable,
    is_set: IsStealerSet<'_>,
) -> Result<BTreeMap<String, Vec<String>>, ServiceError> {
    by.require(Scope::StealerLogs)?;
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    values_of(
        snap,
        key,
        SealedKind::StealerDomain,
        domain.domain(),
        |pair| {
            if let Some((alias, site)) = pair.split_once('\0') {
                found
                    .entry(alias.to_owned())
                    .or_default()
                    .insert(site.to_owned());
            }
        },
    )?;
    let mut out = BTreeMap::new();
    for (alias, sites) in found {
        if captured(snap, &format!("{alias}@{}", domain.domain()), is_set)? {
            out.insert(alias, sites.into_iter().collect());
        }
    }
    Ok(out)
}

/// How many aliases of the e-mail `domain` the stealer-log set `set` captured on a website
/// (for the domain's alert when the set is published).
pub(crate) fn aliases_in_set(
    snap: &Snapshot,
    key: &OperatorKey,
    domain: &str,
    set: &str,
) -> Result<u64, ServiceError> {
    let mut aliases = BTreeSet::new();
    values_of(snap, key, SealedKind::StealerDomain, domain, |pair| {
        if let Some((alias, _)) = pair.split_once('\0') {
            aliases.insert(alias.to_owned());
        }
    })?;
    let mut n = 0;
    for alias in aliases {
        n += u64::from(captured(snap, &format!("{alias}@{domain}"), &|name| {
            name == set
        })?);
    }
    Ok(n)
}

/// Whether the account `address` is linked to a stealer-log set (and not forgotten).
fn captured(
    snap: &Snapshot,
    address: &str,
    is_set: IsStealerSet<'_>,
) -> Result<bool, ServiceError> {
    let ids = snap
        .account_breaches(Key::account(address))
        .map_err(DomainSearchError::from)?;
    Ok(ids
        .iter()
        .filter_map(|&id| snap.breach_name(id))
        .any(is_set))
}

/// Calls `f` with every value filed under `key_text` in the files of `kind`.
fn values_of(
    snap: &Snapshot,
    key: &OperatorKey,
    kind: SealedKind,
    key_text: &str,
    mut f: impl FnMut(&str),
) -> Result<(), ServiceError> {
    let tag = key.domain_tag(key_text);
    for (meta, file) in snap.sealed_files(kind) {
        if meta.key_id != key.id() {
            return Err(DomainSearchError::WrongKey {
                file: meta.file.clone(),
                found: meta.key_id.clone(),
                configured: key.id().to_owned(),
            }
            .into());
        }
        // A block may hold other keys' values around this one's.
        let mut opener = leakwatch_ingest::AliasOpener::for_files(key, kind);
        let mut damaged = false;
        file.for_tag(tag, |entry| {
            let opened = opener.open(entry, |k, v| {
                if k == key_text {
                    f(v);
                }
            });
            damaged |= opened.is_err();
        })
        .map_err(DomainSearchError::from)?;
        if damaged {
            return Err(DomainSearchError::Unseal(meta.file.clone()).into());
        }
    }
    Ok(())
}
