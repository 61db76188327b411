//! Paste alerts (issue #22): a paste added to the catalogue alerts, once, each subscribed
//! address in it and each verified domain's contact with its count of the domain's
//! addresses; a replaced paste keeps its alerted mark and alerts nobody again.

use leakwatch_catalog::{Catalog, now_unix, outbox::Pending};
use leakwatch_notify::{Email, Outgoing, Subscription};

use super::{
    Link, Mailroom, Payload, TenantsLive, Undeliverable, alert_subscription, alert_webhook,
    whose_line,
};
use crate::{ServiceError, mail_texts::paste_alert_text};

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

/// A paste alert, by mail or to the domain's webhook (event `paste.alert`).
pub(super) fn paste_alert(
    m: &Mailroom<'_>,
    catalog: &Catalog,
    pending: &Pending,
    subscriber: i64,
    (source, id): (&str, &str),
    accounts: u64,
) -> Result<Outgoing, Undeliverable> {
    let (url, key) = (m.public_url, m.key);
    let subscription = alert_subscription(catalog, key, subscriber)?;
    let paste = catalog
        .paste(source, id)
        .map_err(ServiceError::from)?
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
        let body = serde_json::json!({
            "event": "paste.alert",
            "delivery": delivery,
            "domain": domain,
            "accounts": accounts,
            "paste": &paste,
        });
        return alert_webhook(m, subscriber, hook, "paste.alert", delivery, &body);
    }
    let whose = whose_line(&subscription, accounts);
    Ok(Outgoing::Mail(Email {
        to: subscription.recipient().to_owned(),
        subject: format!("leakwatch alert: a paste on {}", paste.source),
        text: paste_alert_text(url, &paste, &whose, &unsubscribe),
        id: delivery,
        unsubscribe: Some(unsubscribe),
    }))
}
