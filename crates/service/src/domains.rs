//! Domain ownership, per tenant: registrations (with their webhooks), the proof a domain's
//! owner publishes in DNS, the role addresses a verification mail may go to, and which
//! domains a principal may search ([`Searchable`]).

use std::{net::SocketAddr, time::Duration};

use leakwatch_catalog::{Catalog, keys::Scope, subscribers::Subscriber, tenants::DEFAULT_TENANT};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::Subscription;

pub use leakwatch_notify::Webhook;

use crate::{Principal, ServiceError, keys::ApiKey};

/// The local parts a verification mail may go to, as HIBP offers.
pub const ROLE_ADDRESSES: [&str; 5] =
    ["security", "admin", "hostmaster", "postmaster", "webmaster"];

/// The TXT record value that proves control of `domain` for `tenant` (every key of the
/// tenant, and a rotated key's successor, shares it).
pub fn dns_token(operator: &OperatorKey, tenant: &str, domain: &str) -> String {
    let digest = operator.keyed_digest(
        b"domain verification",
        format!("tenant {tenant}:{domain}").as_bytes(),
    );
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("leakwatch-verify={hex}")
}

/// How long a domain verification link works.
pub const VERIFY_LINK_SECS: u64 = 2 * 86_400;

/// A tenant's registration of a domain, as the catalogue keeps it (sealed) and opened.
#[derive(Debug, Clone)]
pub struct DomainRegistration {
    /// Its subscriber row id.
    pub id: i64,
    /// The tenant it belongs to.
    pub tenant: String,
    /// The normalised domain.
    pub domain: String,
    /// Where alerts and verification results go by mail.
    pub contact: String,
    /// The API key that last registered it (none: the operator did).
    pub key: Option<i64>,
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
                tenant: row
                    .tenant
                    .clone()
                    .unwrap_or_else(|| DEFAULT_TENANT.to_owned()),
                domain,
                contact,
                key: (key != OPERATOR_REGISTERED).then_some(key),
                webhook,
                verified: row.verified,
            }),
            _ => None,
        }
    }
}

/// The key id sealed into a registration the operator made without naming a key.
const OPERATOR_REGISTERED: i64 = 0;

/// The digest a tenant's registration of `domain` is stored under (unique per tenant and
/// domain; registrations from before tenants keep the digest of their key, and are found
/// by their tenant column all the same).
fn digest(operator: &OperatorKey, tenant: &str, domain: &str) -> [u8; 32] {
    operator.keyed_digest(
        b"subscriber domain",
        format!("tenant {tenant}:{domain}").as_bytes(),
    )
}

/// `tenant`'s registration of `domain` (normalised), if it registered it. Should an older
/// catalogue hold two (two keys of what became one tenant), the verified one, then the
/// oldest, is the tenant's.
pub fn registration(
    catalog: &Catalog,
    operator: &OperatorKey,
    tenant: &str,
    domain: &str,
) -> Result<Option<DomainRegistration>, ServiceError> {
    let mut found: Vec<DomainRegistration> = tenant_registrations(catalog, operator, tenant)?
        .into_iter()
        .filter(|r| r.domain == domain)
        .collect();
    found.sort_by_key(|r| (r.verified.is_none(), r.id));
    Ok(found.into_iter().next())
}

/// Every registration of the principal's tenant, in catalogue order (the `domain` scope).
pub fn of_tenant(
    catalog: &Catalog,
    operator: &OperatorKey,
    by: &Principal,
) -> Result<Vec<DomainRegistration>, ServiceError> {
    by.require(leakwatch_catalog::keys::Scope::Domain)?;
    tenant_registrations(catalog, operator, by.tenant()?)
}

/// Every registration of `tenant`, in catalogue order.
fn tenant_registrations(
    catalog: &Catalog,
    operator: &OperatorKey,
    tenant: &str,
) -> Result<Vec<DomainRegistration>, ServiceError> {
    Ok(catalog
        .tenant_subscribers(tenant)?
        .iter()
        .filter_map(|row| DomainRegistration::open(row, operator))
        .collect())
}

/// Every domain registration that opens under the operator key, in catalogue order (the
/// operator's listing, across tenants).
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

/// Every domain `tenant` has verified, sorted.
pub fn verified_domains(
    catalog: &Catalog,
    operator: &OperatorKey,
    tenant: &str,
) -> Result<Vec<String>, ServiceError> {
    let mut out: Vec<String> = tenant_registrations(catalog, operator, tenant)?
        .into_iter()
        .filter(|r| r.verified.is_some())
        .map(|r| r.domain)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// A domain a principal may search: verified for an API key's tenant, any for the
/// operator and leakwatch's worker. Only [`searchable`] and [`searchable_domains`] make
/// one, so a domain search cannot skip the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searchable(String);

impl Searchable {
    /// The normalised domain.
    pub fn domain(&self) -> &str {
        &self.0
    }

    /// For the worker and the operator, who may search any domain.
    pub(crate) fn trusted(by: &Principal, domain: &str) -> Result<Searchable, ServiceError> {
        if matches!(by, Principal::ApiKey { .. }) {
            return Err(ServiceError::DomainNotVerified(domain.to_owned()));
        }
        Ok(Searchable(domain.to_owned()))
    }
}

/// May `by` search `domain` (normalised)? Scope `domain`, and for an API key the domain
/// verified for its tenant.
pub fn searchable(
    catalog: &Catalog,
    operator: &OperatorKey,
    by: &Principal,
    domain: &str,
) -> Result<Searchable, ServiceError> {
    verified_for(catalog, operator, by, Scope::Domain, domain)
}

/// May `by` ask in `scope` about `domain` (normalised)? The scope, and for an API key the
/// domain verified for its tenant (the stealer-log endpoints ask this in `stealerlogs`).
pub fn verified_for(
    catalog: &Catalog,
    operator: &OperatorKey,
    by: &Principal,
    scope: Scope,
    domain: &str,
) -> Result<Searchable, ServiceError> {
    by.require(scope)?;
    if !matches!(by, Principal::ApiKey { .. }) {
        return Searchable::trusted(by, domain);
    }
    if verified_domains(catalog, operator, by.tenant()?)?
        .iter()
        .any(|d| d == domain)
    {
        Ok(Searchable(domain.to_owned()))
    } else {
        Err(ServiceError::DomainNotVerified(domain.to_owned()))
    }
}

/// Every domain verified for `by`'s tenant, as domains it may search (scope `domain`).
pub fn searchable_domains(
    catalog: &Catalog,
    operator: &OperatorKey,
    by: &Principal,
) -> Result<Vec<Searchable>, ServiceError> {
    by.require(Scope::Domain)?;
    Ok(verified_domains(catalog, operator, by.tenant()?)?
        .into_iter()
        .map(Searchable)
        .collect())
}

/// What a registration sets: the contact (none: keep the registration's; a first
/// registration needs one) and the webhook (`None`: keep the registration's).
#[derive(Debug, Clone)]
pub struct Register {
    /// The API key registering (none: the operator, for the tenant it acts for).
    pub key: Option<i64>,
    /// The normalised domain.
    pub domain: String,
    /// The normalised contact address.
    pub contact: Option<String>,
    /// The webhook to set, checked by the egress guard (`Some(None)` removes it).
    pub webhook: Option<Option<crate::egress::CheckedWebhook>>,
}

/// Registers (or re-registers) a domain for `by`'s tenant; returns the registration as
/// stored. A re-registration keeps its verification.
pub fn register(
    catalog: &mut Catalog,
    operator: &OperatorKey,
    by: &Principal,
    r: Register,
) -> Result<DomainRegistration, ServiceError> {
    by.require(Scope::Domain)?;
    let tenant = by.tenant()?.to_owned();
    let key = match by {
        Principal::ApiKey { id, .. } => Some(*id),
        _ => r.key,
    };
    let existing = registration(catalog, operator, &tenant, &r.domain)?;
    let contact = match (r.contact, &existing) {
        (Some(c), _) => c,
        (None, Some(e)) => e.contact.clone(),
        (None, None) => return Err(ServiceError::NoContact),
    };
    let webhook = match r.webhook {
        Some(w) => w.map(|w| w.webhook().clone()),
        None => existing.as_ref().and_then(|e| e.webhook.clone()),
    };
    // A changed webhook or contact is told to the contact it had: a key of the tenant
    // cannot redirect a domain's alerts unnoticed.
    let changed = existing.as_ref().filter(|e| {
        e.contact != contact
            || e.webhook.as_ref().map(|w| &w.url) != webhook.as_ref().map(|w| &w.url)
    });
    let tell = changed.map(|e| leakwatch_notify::Payload::RegistrationChanged {
        subscriber: e.id,
        to: e.contact.clone(),
        by: by.to_string(),
    });
    let subscription = Subscription::Domain {
        domain: r.domain.clone(),
        contact,
        key: key.unwrap_or(OPERATOR_REGISTERED),
        webhook,
    };
    match &existing {
        Some(e) => {
            catalog.update_subscriber(e.id, &subscription.seal(operator), key)?;
        }
        None => {
            catalog.put_subscriber(
                &digest(operator, &tenant, &r.domain),
                &subscription.seal(operator),
                key,
                Some(&tenant),
                None,
                crate::now_unix(),
            )?;
        }
    }
    if let Some(payload) = tell {
        catalog.enqueue(None, &payload.seal(operator), crate::now_unix())?;
    }
    registration(catalog, operator, &tenant, &r.domain)?
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

/// Registration `id`, opened, with the API key that made it (none: the operator did, or
/// the key was removed).
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
    let key = match r.key {
        Some(k) => catalog.key_by_id(k)?,
        None => None,
    };
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
    let record = dns_token(operator, &registration.tenant, &registration.domain);
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
