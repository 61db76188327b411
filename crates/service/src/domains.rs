//! Domain ownership: the proof a domain's owner publishes in DNS, and the role addresses
//! a verification mail may go to.

use std::{net::SocketAddr, time::Duration};

use leakwatch_catalog::{Catalog, subscribers::Subscriber};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::Subscription;

pub use leakwatch_notify::Webhook;

use crate::{Principal, ServiceError, keys::ApiKey};

/// The local parts a verification mail may go to, as HIBP offers.
pub const ROLE_ADDRESSES: [&str; 5] =
    ["security", "admin", "hostmaster", "postmaster", "webmaster"];

/// The TXT record value that proves control of `domain` for API key `key`.
pub fn dns_token(operator: &OperatorKey, key: i64, domain: &str) -> String {
    let digest =
        operator.keyed_digest(b"domain verification", format!("{key}:{domain}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("leakwatch-verify={hex}")
}

/// How long a domain verification link works.
pub const VERIFY_LINK_SECS: u64 = 2 * 86_400;

/// A registration of a domain by an API key, as the catalogue keeps it (sealed) and opened.
#[derive(Debug, Clone)]
pub struct DomainRegistration {
    /// Its subscriber row id.
    pub id: i64,
    /// The normalised domain.
    pub domain: String,
    /// Where alerts and verification results go by mail.
    pub contact: String,
    /// The API key that registered it.
    pub key: i64,
    /// Where alerts go instead, if set.
    pub webhook: Option<Webhook>,
    /// When control of the domain was proven (Unix seconds), if it was.
    pub verified: Option<u64>,
}

impl DomainRegistration {
    fn open(row: &Subscriber, operator: &OperatorKey) -> Option<DomainRegistration> {
        match Subscription::open(&row.sealed, operator)? {
            Subscription::Domain {
                domain,
                contact,
                key,
                webhook,
            } => Some(DomainRegistration {
                id: row.id,
                domain,
                contact,
                key,
                webhook,
                verified: row.verified,
            }),
            _ => None,
        }
    }
}

/// The digest a registration of `domain` by key `key` is found by.
fn digest(operator: &OperatorKey, key: i64, domain: &str) -> [u8; 32] {
    Subscription::Domain {
        domain: domain.to_owned(),
        contact: String::new(),
        key,
        webhook: None,
    }
    .digest(operator)
}

/// Key `key`'s registration of `domain` (normalised), if it registered it.
pub fn registration(
    catalog: &Catalog,
    operator: &OperatorKey,
    key: i64,
    domain: &str,
) -> Result<Option<DomainRegistration>, ServiceError> {
    Ok(catalog
        .subscriber_by_digest(&digest(operator, key, domain))?
        .and_then(|row| DomainRegistration::open(&row, operator)))
}

/// Every domain registration that opens under the operator key, in catalogue order.
pub fn registrations(
    catalog: &Catalog,
    operator: &OperatorKey,
) -> Result<Vec<DomainRegistration>, ServiceError> {
    Ok(catalog
        .subscribers()?
        .iter()
        .filter_map(|row| DomainRegistration::open(row, operator))
        .collect())
}

/// Every domain key `key` has verified, sorted.
pub fn verified_domains(
    catalog: &Catalog,
    operator: &OperatorKey,
    key: i64,
) -> Result<Vec<String>, ServiceError> {
    let mut out: Vec<String> = catalog
        .subscribers()?
        .iter()
        .filter(|r| r.key_id == Some(key) && r.verified.is_some())
        .filter_map(|r| DomainRegistration::open(r, operator))
        .map(|r| r.domain)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// What a registration sets: the contact (none: keep the registration's; a first
/// registration needs one) and the webhook (`None`: keep the registration's).
#[derive(Debug, Clone)]
pub struct Register {
    /// The API key registering.
    pub key: i64,
    /// The normalised domain.
    pub domain: String,
    /// The normalised contact address.
    pub contact: Option<String>,
    /// The webhook to set (`Some(None)` removes it).
    pub webhook: Option<Option<Webhook>>,
}

/// Registers (or re-registers) a domain for an API key; returns the registration as stored.
/// A re-registration keeps its verification.
pub fn register(
    catalog: &mut Catalog,
    operator: &OperatorKey,
    _by: &Principal,
    r: Register,
) -> Result<DomainRegistration, ServiceError> {
    let existing = registration(catalog, operator, r.key, &r.domain)?;
    let contact = match (r.contact, &existing) {
        (Some(c), _) => c,
        (None, Some(e)) => e.contact.clone(),
        (None, None) => return Err(ServiceError::NoContact),
    };
    let webhook = match r.webhook {
        Some(w) => w,
        None => existing.and_then(|e| e.webhook),
    };
    let subscription = Subscription::Domain {
        domain: r.domain.clone(),
        contact,
        key: r.key,
        webhook,
    };
    catalog.put_subscriber(
        &subscription.digest(operator),
        &subscription.seal(operator),
        Some(r.key),
        None,
        crate::now_unix(),
    )?;
    registration(catalog, operator, r.key, &r.domain)?
        .ok_or_else(|| ServiceError::UnknownSubscriber(r.domain))
}

/// Marks a registration verified (the operator trusts it, or its owner proved control).
/// False if there is no such registration.
pub fn mark_verified(
    catalog: &mut Catalog,
    _by: &Principal,
    registration: i64,
) -> Result<bool, ServiceError> {
    Ok(catalog.verify_subscriber(registration, crate::now_unix())?)
}

/// Registration `id`, opened, with the API key that made it (none: the key was removed).
pub fn registration_by_id(
    catalog: &Catalog,
    operator: &OperatorKey,
    id: i64,
) -> Result<Option<(DomainRegistration, Option<ApiKey>)>, ServiceError> {
    let Some(r) = catalog
        .subscriber(id)?
        .and_then(|row| DomainRegistration::open(&row, operator))
    else {
        return Ok(None);
    };
    let key = catalog.key_by_id(r.key)?;
    Ok(Some((r, key)))
}

/// What following a verification link's button did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkVerification {
    /// The registration is verified now.
    Verified,
    /// It was verified before: a link verifies once.
    AlreadyUsed,
    /// There is no such registration (any more).
    Gone,
}

/// Verifies registration `id` by its mailed link: once, while it is unverified.
pub fn verify_by_link(
    catalog: &mut Catalog,
    by: &Principal,
    id: i64,
) -> Result<LinkVerification, ServiceError> {
    match catalog.subscriber(id)? {
        None => Ok(LinkVerification::Gone),
        Some(row) if row.verified.is_some() => Ok(LinkVerification::AlreadyUsed),
        Some(_) => Ok(if mark_verified(catalog, by, id)? {
            LinkVerification::Verified
        } else {
            LinkVerification::Gone
        }),
    }
}

/// Looks for `registration`'s TXT record at `resolver` (blocking, up to a few seconds: not
/// while holding the catalogue); [`mark_verified`] follows when it is there.
pub fn check_dns(
    operator: &OperatorKey,
    registration: &DomainRegistration,
    resolver: SocketAddr,
) -> Result<(), ServiceError> {
    let record = dns_token(operator, registration.key, &registration.domain);
    let found = crate::dns::txt_records(resolver, &registration.domain, DNS_TIMEOUT)?;
    if !found.iter().any(|r| r.trim() == record) {
        return Err(ServiceError::NoTxtRecord {
            domain: registration.domain.clone(),
            record,
            resolver,
        });
    }
    Ok(())
}

/// How long a DNS verification waits for the resolver.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);
