//! The outbox's contents: which alerts and impact reports a published breach queues, and
//! what every mail and webhook call says when the delivery worker asks (looked up at that
//! moment in the served store and catalogue, so a retired breach or an unsubscribed address
//! sends nothing). Only this crate composes mail; the texts are in `mail_texts.rs`.
//!
//! Alerts are deduplicated per (subscriber, breach) in the outbox and the breach is then
//! marked alerted: a crash between the two queues nothing twice. Subscribers hear only of
//! breaches added (HIBP's AddedDate) no earlier than they subscribed.

use std::{
    collections::BTreeSet,
    sync::{Arc, atomic::AtomicBool, mpsc::Sender},
};

use leakwatch_catalog::{Breach, Catalog, now_unix, outbox::Pending};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::{
    Deliveries, Email, Mailer, Outgoing, OwnerError, RetryPolicy, Subscription, WebhookCall,
};

pub use leakwatch_notify::{Link, Payload};

use crate::{DataDir, ServiceError};

use crate::{
    CatalogHandle, StoreHandle,
    mail_texts::{
        alert_text, check_result_text, confirm_opt_out_text, confirm_subscription_text,
        confirm_vendor_owner_text, key_anomaly_text, paste_alert_text, registration_changed_text,
        vendor_impact_text, verify_domain_text,
    },
};

/// How long a confirmation link works.
pub const CONFIRM_LINK_SECS: u64 = 2 * 86_400;

/// What the outbox reads to queue and compose: the served store and catalogue, the operator
/// key that seals and opens every payload, and the URL people reach the server at, quoted in
/// mails.
#[derive(Debug, Clone, Copy)]
pub struct Mailroom<'a> {
    /// The served store.
    pub store: &'a StoreHandle,
    /// The served catalogue.
    pub catalog: &'a CatalogHandle,
    /// The operator key.
    pub key: &'a OperatorKey,
    /// The server's public URL, without a trailing slash.
    pub public_url: &'a str,
    /// Where webhooks may go (vetted again for every call).
    pub egress: crate::egress::EgressPolicy,
}

/// Queues one alert per (active subscriber, breach in the store not yet alerted) where the
/// subscriber's address, or an address on its domain, is in the breach; then marks those
/// breaches alerted. Returns how many alerts were queued.
pub fn queue_alerts(m: &Mailroom<'_>, catalog: &mut Catalog) -> Result<usize, ServiceError> {
    let key = m.key;
    let snap = m.store.snapshot();
    let alerted = catalog.alerted_breaches()?;
    let all = m.catalog.breaches();
    // Store-local id and catalogue entry of every breach not alerted yet. A breach the
    // catalogue does not describe (or has retired) is left for later.
    let new: Vec<(u32, &Breach)> = snap
        .manifest()
        .breaches
        .iter()
        .enumerate()
        .filter(|(_, name)| !alerted.iter().any(|a| a.eq_ignore_ascii_case(name)))
        .filter_map(|(id, name)| {
            all.iter()
                .find(|b| &b.name == name && !b.is_retired)
                .map(|b| (id as u32, b))
        })
        .collect();
    if new.is_empty() {
        return Ok(0);
    }
    let now = now_unix();
    let mut live = TenantsLive::new(now);
    let mut queued = 0;
    for subscriber in catalog.subscribers()? {
        // A domain of a tenant whose every key is revoked or expired hears nothing more
        // (issue #18, finding 4): ending a tenant ends what it set up.
        if !subscriber.is_active() || !live.check(catalog, subscriber.tenant.as_deref())? {
            continue;
        }
        let Some(subscription) = Subscription::open(&subscriber.sealed, key) else {
            tracing::warn!(
                subscriber = subscriber.id,
                "a subscriber does not open under the operator key; skipped"
            );
            continue;
        };
        let hits: Vec<(u32, u64)> = match &subscription {
            Subscription::Email { email } => {
                let candidates = leakwatch_identity::lookup_candidates(email, None)?;
                let ids: BTreeSet<u32> = crate::accounts::breach_ids(&snap, &candidates)?
                    .into_iter()
                    .collect();
                new.iter()
                    .filter(|(id, _)| ids.contains(id))
                    .map(|&(id, _)| (id, 1))
                    .collect()
            }
            Subscription::Domain { domain, .. } => {
                let found = crate::domain_search::breached_domain(&snap, key, domain)?;
                new.iter()
                    .map(|&(id, b)| {
                        let n = found
                            .values()
                            .filter(|names| names.iter().any(|n| n == &b.name))
                            .count() as u64;
                        // A stealer-log set's addresses are in its own sealed files, not in
                        // domain search's alias files.
                        let captured = if b.is_stealer_log {
                            crate::stealer_logs::aliases_in_set(&snap, key, domain, &b.name)?
                        } else {
                            0
                        };
                        Ok((id, n + captured))
                    })
                    .collect::<Result<Vec<_>, ServiceError>>()?
                    .into_iter()
                    .filter(|&(_, n)| n > 0)
                    .collect()
            }
            _ => Vec::new(),
        };
        // Only breaches added after the subscriber subscribed (HIBP's AddedDate; a tie
        // alerts): whoever subscribes later can check the older ones themselves.
        let verified = subscriber.verified.unwrap_or(0);
        let added_after = |id: u32| {
            new.iter()
                .find(|(i, _)| *i == id)
                .and_then(|(_, b)| leakwatch_catalog::parse_date_time(&b.added_date))
                .is_none_or(|added| verified <= added)
        };
        for (id, accounts) in hits.into_iter().filter(|&(id, _)| added_after(id)) {
            let breach = snap.manifest().breaches[id as usize].clone();
            let dedupe = format!("alert {} {}", subscriber.id, breach.to_lowercase());
            let payload = Payload::BreachAlert {
                subscriber: subscriber.id,
                breach,
                accounts,
            };
            if catalog
                .enqueue(Some(dedupe.as_bytes()), &payload.seal(key), now)?
                .is_some()
            {
                queued += 1;
            }
        }
    }
    for (_, b) in &new {
        catalog.mark_alerted(&b.name, now)?;
    }
    if queued > 0 {
        tracing::info!(queued, "breach alerts queued");
    }
    Ok(queued)
}

/// Queues one alert per (active subscriber, paste not alerted yet) where the subscriber's
/// address, or an address on its domain, is in the paste and the paste was added after the
/// subscriber subscribed; then marks those pastes alerted. Returns how many were queued.
pub fn queue_paste_alerts(m: &Mailroom<'_>, catalog: &mut Catalog) -> Result<usize, ServiceError> {
    let new = catalog.unalerted_pastes()?;
    if new.is_empty() {
        return Ok(0);
    }
    let key = m.key;
    let now = now_unix();
    let mut live = TenantsLive::new(now);
    let mut queued = 0;
    for subscriber in catalog.subscribers()? {
        if !subscriber.is_active() || !live.check(catalog, subscriber.tenant.as_deref())? {
            continue;
        }
        let Some(subscription) = Subscription::open(&subscriber.sealed, key) else {
            continue;
        };
        let verified = subscriber.verified.unwrap_or(0) as i64;
        for paste in new.iter().filter(|p| verified <= p.added) {
            let accounts = match &subscription {
                Subscription::Email { email } => {
                    let Ok(address) = leakwatch_identity::normalize_email(email) else {
                        continue;
                    };
                    u64::from(
                        catalog.paste_holds(
                            paste.row,
                            &crate::pastes::account_digest(key, &address),
                        )?,
                    )
                }
                Subscription::Domain { domain, .. } => catalog
                    .paste_domain_accounts(paste.row, &crate::pastes::domain_digest(key, domain))?,
                _ => 0,
            };
            if accounts == 0 {
                continue;
            }
            let (source, id) = (paste.paste.source.clone(), paste.paste.id.clone());
            let dedupe = format!(
                "paste alert {} {}/{id}",
                subscriber.id,
                source.to_lowercase()
            );
            let payload = Payload::PasteAlert {
                subscriber: subscriber.id,
                source,
                id,
                accounts,
            };
            if catalog
                .enqueue(Some(dedupe.as_bytes()), &payload.seal(key), now)?
                .is_some()
            {
                queued += 1;
            }
        }
    }
    for paste in &new {
        catalog.mark_paste_alerted(paste.row, now as i64)?;
    }
    if queued > 0 {
        tracing::info!(queued, "paste alerts queued");
    }
    Ok(queued)
}

/// Queues one impact report per (vendor, live breach not assessed yet) that matches, to
/// the vendor's owner when it is an e-mail address; then marks those breaches assessed.
/// Breaches already in the catalogue when the inventory is first used are assessed too:
/// a vendor's past breach is news to its customer.
pub fn queue_impact_alerts(m: &Mailroom<'_>, catalog: &mut Catalog) -> Result<usize, ServiceError> {
    let key = m.key;
    let done = catalog.impact_alerted()?;
    let all = m.catalog.breaches();
    let new: Vec<&Breach> = all
        .iter()
        .filter(|b| !b.is_retired && !done.iter().any(|d| d.eq_ignore_ascii_case(&b.name)))
        .collect();
    if new.is_empty() {
        return Ok(0);
    }
    let vendors = catalog.all_vendors()?;
    let now = now_unix();
    let mut live = TenantsLive::new(now);
    let mut queued = 0;
    for b in &new {
        for tv in &vendors {
            let v = &tv.vendor;
            if v.matches(&b.domain, b.vendor.as_deref()).is_none()
                || !live.check(catalog, Some(&tv.tenant))?
            {
                continue;
            }
            let Ok(owner) = leakwatch_identity::normalize_email(&v.owner) else {
                continue;
            };
            if !crate::vendors::owner_may_be_mailed(catalog, key, &tv.tenant, &v.name, &owner)? {
                continue;
            }
            let dedupe = format!(
                "impact {} {} {}",
                tv.tenant,
                v.name.to_lowercase(),
                b.name.to_lowercase()
            );
            let payload = Payload::VendorImpact {
                tenant: tv.tenant.clone(),
                breach: b.name.clone(),
                vendor: v.name.clone(),
                owner,
            };
            if catalog
                .enqueue(Some(dedupe.as_bytes()), &payload.seal(key), now)?
                .is_some()
            {
                queued += 1;
            }
        }
        catalog.mark_impact_alerted(&b.name, now)?;
    }
    if queued > 0 {
        tracing::info!(queued, "vendor impact reports queued");
    }
    Ok(queued)
}

/// Which tenants still act ([`crate::keys::tenant_is_live`]) at one instant, each asked
/// once.
struct TenantsLive {
    now: u64,
    known: std::collections::BTreeMap<String, bool>,
}

impl TenantsLive {
    fn new(now: u64) -> TenantsLive {
        TenantsLive {
            now,
            known: Default::default(),
        }
    }

    /// Whether `tenant` acts (a row of no tenant, an address, always does).
    fn check(&mut self, catalog: &Catalog, tenant: Option<&str>) -> Result<bool, ServiceError> {
        let Some(tenant) = tenant else {
            return Ok(true);
        };
        if let Some(&live) = self.known.get(tenant) {
            return Ok(live);
        }
        let live = crate::keys::tenant_is_live(catalog, tenant, self.now)?;
        self.known.insert(tenant.to_owned(), live);
        Ok(live)
    }
}

/// Why a queued notification is given up instead of sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Undeliverable {
    /// What it was about was removed before delivery.
    #[error("the {0} was removed before delivery")]
    Removed(&'static str),
    /// What it names does not open under the operator key.
    #[error("the {0} does not open under the operator key")]
    Sealed(&'static str),
    /// A payload this server does not compose.
    #[error("this server cannot compose that notification")]
    Unknown,
    /// The queued address no longer reads as one.
    #[error("the queued address is no longer valid")]
    BadAddress,
    /// The breach no longer matches a vendor of the inventory.
    #[error("the breach no longer matches a vendor")]
    NoVendorMatch,
    /// The subscriber unsubscribed (or was removed) before delivery.
    #[error("the subscriber unsubscribed before delivery")]
    Unsubscribed,
    /// Every API key of the tenant it is for was revoked or expired before delivery.
    #[error("every API key of the tenant was revoked before delivery")]
    KeyRevoked,
    /// The breach was retired before delivery.
    #[error("the breach was retired before delivery")]
    Retired,
    /// The breach is live in the catalogue but this server has not loaded it yet: another
    /// server queued the notification first. Try later.
    #[error("this server has not loaded breach {0} yet")]
    NotLoadedYet(String),
    /// Mail is not set up on this server.
    #[error("mail is not set up")]
    NotSetUp,
    /// The webhook's host now resolves where webhooks may not go.
    #[error("the webhook was refused: {0}")]
    Egress(crate::egress::EgressError),
    /// Reading the store or the catalogue failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A webhook body did not encode.
    #[error("encoding the webhook body: {0}")]
    Json(#[from] serde_json::Error),
}

/// What to send for a queued notification, looked up now in the served store and catalogue.
pub fn compose(
    m: &Mailroom<'_>,
    catalog: &Catalog,
    pending: &Pending,
    payload: Payload,
) -> Result<Outgoing, Undeliverable> {
    let (key, url) = (m.key, m.public_url);
    match payload {
        Payload::CheckResult { email } => check_result(m, pending, email),
        Payload::ConfirmSubscription { email } => {
            let token = Link::Confirm {
                email: email.clone(),
                expires: pending.created + CONFIRM_LINK_SECS,
            }
            .token(key);
            Ok(Outgoing::Mail(Email {
                to: email,
                subject: "Confirm your leakwatch alerts".to_owned(),
                text: confirm_subscription_text(url, &token),
                id: format!("confirm.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::KeyAnomaly {
            to,
            key: id,
            watched,
            count,
            threshold,
            suspended,
        } => {
            let k = catalog
                .key_by_id(id)
                .map_err(ServiceError::from)?
                .ok_or(Undeliverable::Removed("API key"))?;
            Ok(Outgoing::Mail(Email {
                to,
                subject: format!(
                    "leakwatch: API key {} ({}) read in bulk{}",
                    k.prefix,
                    k.name,
                    if suspended { " and was suspended" } else { "" }
                ),
                text: key_anomaly_text(url, &k, &watched, count, threshold, suspended),
                id: format!("anomaly.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::ConfirmOptOut { email } => {
            let token = Link::OptOut {
                email: email.clone(),
                expires: pending.created + CONFIRM_LINK_SECS,
            }
            .token(key);
            Ok(Outgoing::Mail(Email {
                to: email,
                subject: "Confirm: hide this address in leakwatch".to_owned(),
                text: confirm_opt_out_text(url, &token),
                id: format!("optout.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::VerifyDomain {
            subscriber,
            address,
        } => {
            catalog
                .subscriber(subscriber)
                .map_err(ServiceError::from)?
                .ok_or(Undeliverable::Removed("domain registration"))?;
            let Some((registration, requester)) =
                crate::domains::registration_by_id(catalog, key, subscriber)?
            else {
                return Err(Undeliverable::Sealed("registration"));
            };
            let (domain, contact) = (registration.domain, registration.contact);
            let requester = match (requester, registration.key) {
                (Some(k), _) => format!(
                    "API key \"{}\" (prefix {}) of tenant \"{}\"",
                    k.name, k.prefix, registration.tenant
                ),
                (None, Some(_)) => format!(
                    "an API key of tenant \"{}\" that has since been removed",
                    registration.tenant
                ),
                (None, None) => format!("the operator, for tenant \"{}\"", registration.tenant),
            };
            let token = Link::VerifyDomain {
                subscriber,
                expires: pending.created + crate::domains::VERIFY_LINK_SECS,
            }
            .token(key);
            Ok(Outgoing::Mail(Email {
                to: address,
                subject: format!("Verify {domain} for leakwatch"),
                text: verify_domain_text(url, &domain, &requester, &contact, &token),
                id: format!("verify.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::VendorImpact {
            tenant,
            breach,
            vendor,
            owner,
        } => vendor_impact(m, catalog, pending, &tenant, &breach, &vendor, owner),
        Payload::RegistrationChanged { subscriber, to, by } => {
            let Some((r, _)) = crate::domains::registration_by_id(catalog, key, subscriber)? else {
                return Err(Undeliverable::Removed("domain registration"));
            };
            Ok(Outgoing::Mail(Email {
                to,
                subject: format!("leakwatch: the alerts for {} were redirected", r.domain),
                text: registration_changed_text(
                    url,
                    &r.domain,
                    &r.tenant,
                    &by,
                    &r.contact,
                    r.webhook.as_ref().map(|w| w.url.as_str()),
                ),
                id: format!("changed.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::ConfirmVendorOwner {
            tenant,
            vendor,
            owner,
        } => {
            let token = Link::VendorOwner {
                tenant: tenant.clone(),
                vendor: vendor.clone(),
                owner: owner.clone(),
                expires: pending.created + CONFIRM_LINK_SECS,
            }
            .token(key);
            Ok(Outgoing::Mail(Email {
                to: owner,
                subject: format!("Confirm: leakwatch impact reports for vendor {vendor}"),
                text: confirm_vendor_owner_text(url, &tenant, &vendor, &token),
                id: format!("owner.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        alert @ (Payload::BreachAlert { .. } | Payload::PasteAlert { .. }) => {
            subscriber_alert(m, catalog, pending, alert)
        }
        _ => Err(Undeliverable::Unknown),
    }
}

/// The result of a private check, mailed to the address checked.
fn check_result(
    m: &Mailroom<'_>,
    pending: &Pending,
    email: String,
) -> Result<Outgoing, Undeliverable> {
    let candidates = leakwatch_identity::lookup_candidates(&email, None)
        .map_err(|_| Undeliverable::BadAddress)?;
    let snap = m.store.snapshot();
    let ids = crate::accounts::breach_ids(&snap, &candidates).map_err(ServiceError::from)?;
    let all = m.catalog.breaches();
    let live: Vec<&Breach> = all.iter().filter(|b| !b.is_retired).collect();
    // The owner sees every breach the address is in, sensitive ones included (HIBP
    // shows those to verified owners, which a mailbox's reader is).
    let mut found: Vec<&Breach> = ids
        .iter()
        .filter_map(|&id| snap.breach_name(id))
        .filter_map(|name| live.iter().copied().find(|b| b.name == name))
        .collect();
    found.sort_by(|a, b| b.breach_date.cmp(&a.breach_date).then(a.name.cmp(&b.name)));
    found.dedup_by(|a, b| a.name == b.name);
    // The websites stealer logs captured this address on: the mailbox owns the address.
    let websites = match leakwatch_identity::normalize_email(&email) {
        Ok(address) if found.iter().any(|b| b.is_stealer_log) => {
            crate::stealer_logs::websites_captured(&snap, m.key, &address, &|name| {
                found.iter().any(|b| b.is_stealer_log && b.name == name)
            })?
        }
        _ => Vec::new(),
    };
    Ok(Outgoing::Mail(Email {
        to: email,
        subject: "Your leakwatch check".to_owned(),
        text: check_result_text(m.public_url, &found, &websites, live.len()),
        id: format!("check.{}.{}", pending.id, pending.created),
        unsubscribe: None,
    }))
}

/// A vendor's impact report, mailed to the vendor's owner.
fn vendor_impact(
    m: &Mailroom<'_>,
    catalog: &Catalog,
    pending: &Pending,
    tenant: &str,
    breach: &str,
    vendor: &str,
    owner: String,
) -> Result<Outgoing, Undeliverable> {
    if !crate::keys::tenant_is_live(catalog, tenant, now_unix())? {
        return Err(Undeliverable::KeyRevoked);
    }
    if !crate::vendors::owner_may_be_mailed(catalog, m.key, tenant, vendor, &owner)? {
        return Err(Undeliverable::Removed("vendor's owner"));
    }
    // A vendor's breach may have no dump in the store: what this server must have loaded
    // is the catalogue entry the report is made from.
    let loaded = m.catalog.breaches().iter().any(|b| b.name == breach);
    if !loaded
        && catalog
            .get(breach)
            .map_err(ServiceError::from)?
            .is_some_and(|b| !b.is_retired)
    {
        return Err(Undeliverable::NotLoadedYet(breach.to_owned()));
    }
    let by = crate::Principal::leakwatch().acting_for(tenant)?;
    let report = crate::vendors::report(m.store, m.catalog, catalog, Some(m.key), &by, breach)?
        .ok_or(Undeliverable::NoVendorMatch)?;
    let v = report
        .vendors
        .iter()
        .find(|v| v.vendor == vendor)
        .ok_or(Undeliverable::Removed("vendor"))?;
    Ok(Outgoing::Mail(Email {
        to: owner,
        subject: format!(
            "leakwatch: vendor {} hit by the {} breach (risk {:.1})",
            v.vendor, report.breach.title, v.risk
        ),
        text: vendor_impact_text(m.public_url, &v.vendor, &report),
        id: format!("impact.{}.{}", pending.id, pending.created),
        unsubscribe: None,
    }))
}

/// A breach alert to a subscriber: a mail, or a signed webhook call for a domain with one.
fn breach_alert(
    m: &Mailroom<'_>,
    catalog: &Catalog,
    pending: &Pending,
    subscriber: i64,
    breach: &str,
    accounts: u64,
) -> Result<Outgoing, Undeliverable> {
    let (url, key) = (m.public_url, m.key);
    let row = catalog
        .subscriber(subscriber)
        .map_err(ServiceError::from)?
        .filter(|s| s.is_active())
        .ok_or(Undeliverable::Unsubscribed)?;
    if let Some(tenant) = &row.tenant
        && !crate::keys::tenant_is_live(catalog, tenant, now_unix())?
    {
        return Err(Undeliverable::KeyRevoked);
    }
    let subscription =
        Subscription::open(&row.sealed, key).ok_or(Undeliverable::Sealed("subscription"))?;
    // Asked of the catalogue itself, not of the copy this server serves: on a shared
    // catalogue another server may queue an alert for a breach this one has not loaded yet,
    // and that breach is news, not retired.
    let b = catalog
        .get(breach)
        .map_err(ServiceError::from)?
        .filter(|b| !b.is_retired)
        .ok_or(Undeliverable::Retired)?;
    let unsubscribe = format!(
        "{url}/api/v1/unsubscribe?token={}",
        Link::Unsubscribe { subscriber }.token(key)
    );
    if let Subscription::Domain {
        domain,
        webhook: Some(hook),
        ..
    } = &subscription
    {
        // Vetted again now, with a fresh lookup: the name may point elsewhere than at
        // registration. The call goes only to the addresses vetted here.
        let vetted = crate::egress::vet(&m.egress, &hook.url).map_err(|e| {
            tracing::warn!(
                subscriber,
                "a webhook call was refused by the egress guard: {e}"
            );
            Undeliverable::Egress(e)
        })?;
        let delivery = format!("alert.{}.{}", pending.id, pending.created);
        let body = serde_json::json!({
            "event": "breach.alert",
            "delivery": delivery,
            "domain": domain,
            "accounts": accounts,
            "breach": &b,
        });
        return Ok(Outgoing::Webhook(WebhookCall {
            url: hook.url.clone(),
            addrs: vetted.addrs,
            secret: hook.secret.clone(),
            event: "breach.alert",
            delivery,
            body: serde_json::to_vec(&body)?,
        }));
    }
    let whose = match &subscription {
        Subscription::Domain { domain, .. } => format!(
            "{accounts} address{} on {domain} {} in it.",
            if accounts == 1 { "" } else { "es" },
            if accounts == 1 { "is" } else { "are" }
        ),
        _ => "Your address is in it.".to_owned(),
    };
    Ok(Outgoing::Mail(Email {
        to: subscription.recipient().to_owned(),
        subject: format!("leakwatch alert: {}", b.title),
        text: alert_text(url, &b, &whose, &unsubscribe),
        id: format!("alert.{}.{}", pending.id, pending.created),
        unsubscribe: Some(unsubscribe),
    }))
}

/// A subscriber's alert of a breach or a paste.
fn subscriber_alert(
    m: &Mailroom<'_>,
    catalog: &Catalog,
    pending: &Pending,
    alert: Payload,
) -> Result<Outgoing, Undeliverable> {
    match alert {
        Payload::BreachAlert {
            subscriber,
            breach,
            accounts,
        } => breach_alert(m, catalog, pending, subscriber, &breach, accounts),
        Payload::PasteAlert {
            subscriber,
            source,
            id,
            accounts,
        } => paste_alert(m, catalog, pending, subscriber, (&source, &id), accounts),
        _ => Err(Undeliverable::Unknown),
    }
}

/// A paste alert, by mail or to the domain's webhook (event `paste.alert`).
fn paste_alert(
    m: &Mailroom<'_>,
    catalog: &Catalog,
    pending: &Pending,
    subscriber: i64,
    (source, id): (&str, &str),
    accounts: u64,
) -> Result<Outgoing, Undeliverable> {
    let (url, key) = (m.public_url, m.key);
    let row = catalog
        .subscriber(subscriber)
        .map_err(ServiceError::from)?
        .filter(|s| s.is_active())
        .ok_or(Undeliverable::Unsubscribed)?;
    if let Some(tenant) = &row.tenant
        && !crate::keys::tenant_is_live(catalog, tenant, now_unix())?
    {
        return Err(Undeliverable::KeyRevoked);
    }
    let subscription =
        Subscription::open(&row.sealed, key).ok_or(Undeliverable::Sealed("subscription"))?;
    let paste = catalog
        .pastes()
        .map_err(ServiceError::from)?
        .into_iter()
        .find(|p| p.source.eq_ignore_ascii_case(source) && p.id == id)
        .ok_or(Undeliverable::Retired)?;
    let unsubscribe = format!(
        "{url}/api/v1/unsubscribe?token={}",
        Link::Unsubscribe { subscriber }.token(key)
    );
    let delivery = format!("alert.{}.{}", pending.id, pending.created);
    if let Subscription::Domain {
        domain,
        webhook: Some(hook),
        ..
    } = &subscription
    {
        let vetted = crate::egress::vet(&m.egress, &hook.url).map_err(|e| {
            tracing::warn!(
                subscriber,
                "a webhook call was refused by the egress guard: {e}"
            );
            Undeliverable::Egress(e)
        })?;
        let body = serde_json::json!({
            "event": "paste.alert",
            "delivery": delivery,
            "domain": domain,
            "accounts": accounts,
            "paste": &paste,
        });
        return Ok(Outgoing::Webhook(WebhookCall {
            url: hook.url.clone(),
            addrs: vetted.addrs,
            secret: hook.secret.clone(),
            event: "paste.alert",
            delivery,
            body: serde_json::to_vec(&body)?,
        }));
    }
    let whose = match &subscription {
        Subscription::Domain { domain, .. } => format!(
            "{accounts} address{} on {domain} {} in it.",
            if accounts == 1 { "" } else { "es" },
            if accounts == 1 { "is" } else { "are" }
        ),
        _ => "Your address is in it.".to_owned(),
    };
    Ok(Outgoing::Mail(Email {
        to: subscription.recipient().to_owned(),
        subject: format!("leakwatch alert: a paste on {}", paste.source),
        text: paste_alert_text(url, &paste, &whose, &unsubscribe),
        id: delivery,
        unsubscribe: Some(unsubscribe),
    }))
}

/// A server as the outbox worker sees it: what it serves now, when mail is set up.
pub trait Served: Send + Sync + 'static {
    /// What the outbox queues and composes from; none when mail is not set up.
    fn mailroom(&self) -> Option<Mailroom<'_>>;
}

/// What the delivery worker needs of its own.
#[derive(Debug, Clone)]
pub struct WorkerSetup {
    /// The data directory: its catalogue (the worker's own connection) and `outbox.lock`.
    pub data: DataDir,
    /// The operator key, which opens what requests sealed.
    pub key: OperatorKey,
    /// The SMTP server.
    pub mailer: Mailer,
    /// Retries and leases.
    pub retry: RetryPolicy,
}

/// Seals `payload` under the operator key and queues it for `by` (not deduplicated): a
/// private check's result, a confirmation, a verification link. What it sends depends only
/// on the payload, which names its recipient.
pub fn queue(
    catalog: &CatalogHandle,
    key: &OperatorKey,
    _by: &crate::Principal,
    payload: &Payload,
) -> Result<Option<i64>, crate::ServiceError> {
    Ok(catalog.enqueue(None, &payload.seal(key))?)
}

/// Starts the delivery worker of `served` on its own thread. On a catalogue of its own
/// (`catalog.db`) only one server per data directory delivers (`outbox.lock`; it alone may
/// release a dead worker's claims at start). On a shared catalogue (PostgreSQL) every
/// server delivers: claims skip rows another worker holds, and a dead worker's claims come
/// back when their lease runs out. It stops when `stop` is set; a message on the returned
/// sender wakes it at once.
pub fn start_worker<S: Served>(
    served: Arc<S>,
    setup: WorkerSetup,
    stop: Arc<AtomicBool>,
) -> Option<(std::thread::JoinHandle<()>, Sender<()>)> {
    let catalog = match crate::open_catalog(&setup.data) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("outbox worker not started: {e}");
            return None;
        }
    };
    let shared = catalog.dialect() == leakwatch_catalog::Dialect::Postgres;
    let lock = if shared {
        tracing::info!("the catalogue is shared: this server delivers alongside the others");
        None
    } else {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(setup.data.outbox_lock())
            .ok()?;
        if lock.try_lock().is_err() {
            tracing::warn!(
                "another server delivers this data directory's mail; this one only queues it"
            );
            return None;
        }
        Some(lock)
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut retry = setup.retry;
    if shared {
        retry.batch = 1;
    }
    let mut worker = leakwatch_notify::Worker::new(catalog, setup.key, setup.mailer, retry);
    let thread = std::thread::Builder::new()
        .name("leakwatch-outbox".into())
        .spawn(move || {
            // Held for the thread's life: the lock is what makes this the only worker, and
            // only the only worker may release claims (a shared catalogue's wait for their
            // lease).
            if let Some(_lock) = &lock {
                match worker.release_claims() {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("{n} interrupted deliveries resumed"),
                    Err(e) => tracing::error!("outbox: {e}"),
                }
            }
            let mut owner = ServerDeliveries { served, seen: None };
            worker.run(&stop, &rx, &mut owner);
            drop(lock);
        })
        .ok()?;
    Some((thread, tx))
}

/// The server as the worker's owner.
struct ServerDeliveries<S> {
    served: Arc<S>,
    /// Store generation and breach names last scanned for alerts.
    seen: Option<(u64, usize)>,
}

impl<S: Served> Deliveries for ServerDeliveries<S> {
    fn queue(&mut self, catalog: &mut Catalog) -> Result<usize, OwnerError> {
        let Some(m) = self.served.mailroom() else {
            return Ok(0);
        };
        // Pastes are added to the catalogue, not the store: asked for at every round (one
        // indexed query that finds none almost always).
        let pasted = queue_paste_alerts(&m, catalog)?;
        let marker = (m.store.snapshot().generation(), m.catalog.breaches().len());
        if self.seen == Some(marker) {
            return Ok(pasted);
        }
        let queued = queue_alerts(&m, catalog)? + queue_impact_alerts(&m, catalog)?;
        self.seen = Some(marker);
        Ok(pasted + queued)
    }

    fn compose(
        &mut self,
        catalog: &Catalog,
        pending: &Pending,
        payload: Payload,
    ) -> Result<Outgoing, OwnerError> {
        let m = self.served.mailroom().ok_or(Undeliverable::NotSetUp)?;
        match compose(&m, catalog, pending, payload) {
            // The resolver did not answer: the webhook is vetted again on the next try.
            Err(Undeliverable::Egress(e @ crate::egress::EgressError::Dns(_))) => {
                Err(Box::new(leakwatch_notify::TryLater(e.to_string())))
            }
            Err(e @ Undeliverable::NotLoadedYet(_)) => {
                Err(Box::new(leakwatch_notify::TryLater(e.to_string())))
            }
            other => Ok(other?),
        }
    }
}
