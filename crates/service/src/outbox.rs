//! The outbox's contents: which alerts and impact reports a published breach queues, and
//! what every mail and webhook call says when the delivery worker asks (looked up at that
//! moment in the served store and catalogue, so a retired breach or an unsubscribed address
//! sends nothing). Only this crate composes mail; the texts are in `mail_texts.rs`.
//!
//! Alerts are deduplicated per (subscriber, breach) in the outbox and the breach is then
//! marked alerted: a crash between the two queues nothing twice. Subscribers hear only of
//! breaches added (HIBP's AddedDate) no earlier than they subscribed.

use std::collections::BTreeSet;

use leakwatch_catalog::{Breach, Catalog, now_unix, outbox::Pending};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::{Email, Outgoing, Subscription, WebhookCall};

pub use leakwatch_notify::{Link, Payload};

mod paste_alerts;
mod worker;
use paste_alerts::paste_alert;
pub use paste_alerts::queue_paste_alerts;
pub use worker::{Served, WorkerSetup, start_worker};

use crate::ServiceError;

use crate::{
    CatalogHandle, StoreHandle,
    mail_texts::{
        alert_text, check_result_text, confirm_opt_out_text, confirm_subscription_text,
        confirm_vendor_owner_text, key_anomaly_text, registration_changed_text, vendor_impact_text,
        verify_domain_text,
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
    let subscription = alert_subscription(catalog, key, subscriber)?;
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
        let delivery = format!("alert.{}.{}", pending.id, pending.created);
        let body = serde_json::json!({
            "event": "breach.alert",
            "delivery": delivery,
            "domain": domain,
            "accounts": accounts,
            "breach": &b,
        });
        return alert_webhook(m, subscriber, hook, "breach.alert", delivery, &body);
    }
    let whose = whose_line(&subscription, accounts);
    Ok(Outgoing::Mail(Email {
        to: subscription.recipient().to_owned(),
        subject: format!("leakwatch alert: {}", b.title),
        text: alert_text(url, &b, &whose, &unsubscribe),
        id: format!("alert.{}.{}", pending.id, pending.created),
        unsubscribe: Some(unsubscribe),
    }))
}

/// The active subscriber `subscriber`'s subscription, opened, while its tenant (if any)
/// still has a live key.
fn alert_subscription(
    catalog: &Catalog,
    key: &OperatorKey,
    subscriber: i64,
) -> Result<Subscription, Undeliverable> {
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
    Subscription::open(&row.sealed, key).ok_or(Undeliverable::Sealed("subscription"))
}

/// A signed call of a domain's webhook with `body`.
fn alert_webhook(
    m: &Mailroom<'_>,
    subscriber: i64,
    hook: &leakwatch_notify::Webhook,
    event: &'static str,
    delivery: String,
    body: &serde_json::Value,
) -> Result<Outgoing, Undeliverable> {
    // Vetted again now, with a fresh lookup: the name may point elsewhere than at
    // registration. The call goes only to the addresses vetted here.
    let vetted = crate::egress::vet(&m.egress, &hook.url).map_err(|e| {
        tracing::warn!(
            subscriber,
            "a webhook call was refused by the egress guard: {e}"
        );
        Undeliverable::Egress(e)
    })?;
    Ok(Outgoing::Webhook(WebhookCall {
        url: hook.url.clone(),
        addrs: vetted.addrs,
        secret: hook.secret.clone(),
        event,
        delivery,
        body: serde_json::to_vec(body)?,
    }))
}

/// Whose addresses an alert is about, as its mail says.
fn whose_line(subscription: &Subscription, accounts: u64) -> String {
    match subscription {
        Subscription::Domain { domain, .. } => format!(
            "{accounts} address{} on {domain} {} in it.",
            if accounts == 1 { "" } else { "es" },
            if accounts == 1 { "is" } else { "are" }
        ),
        _ => "Your address is in it.".to_owned(),
    }
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
