//! Alert subscriptions of single addresses: subscribe (confirmed by the address's owner, or
//! added by the operator), list, unsubscribe, remove; and an owner's opt-out, which hides
//! the address everywhere. Subscriptions are sealed under the operator key; the catalogue
//! finds them by a keyed digest.

use leakwatch_catalog::Catalog;
use leakwatch_identity::OperatorKey;
use leakwatch_notify::Subscription;

use crate::{Forgot, Principal, ServiceError, StoreHandle};

/// Subscribes the normalised address `email` to alerts for breaches published from now on
/// (already confirmed: by its owner's link, or by the operator); returns the subscriber id.
pub fn subscribe_email(
    catalog: &mut Catalog,
    operator: &OperatorKey,
    _by: &Principal,
    email: &str,
) -> Result<i64, ServiceError> {
    let s = Subscription::Email {
        email: email.to_owned(),
    };
    let now = crate::now_unix();
    Ok(catalog.put_subscriber(
        &s.digest(operator),
        &s.seal(operator),
        None,
        None,
        Some(now),
        now,
    )?)
}

/// A subscriber as the operator lists it.
#[derive(Debug, Clone)]
pub struct SubscriberView {
    /// Row id.
    pub id: i64,
    /// What it watches: an address, or `*@domain`; none when it does not open under the
    /// operator key given.
    pub watches: Option<String>,
    /// Where its alerts go: the address, a domain's contact or its webhook's URL.
    pub alerts_to: String,
    /// When it was confirmed or verified.
    pub verified: Option<u64>,
    /// When it unsubscribed.
    pub unsubscribed: Option<u64>,
}

/// Every subscriber, opened.
pub fn list(
    catalog: &Catalog,
    operator: &OperatorKey,
    _by: &Principal,
) -> Result<Vec<SubscriberView>, ServiceError> {
    Ok(catalog
        .subscribers()?
        .into_iter()
        .map(|row| {
            let (watches, alerts_to) = match Subscription::open(&row.sealed, operator) {
                Some(Subscription::Email { email }) => (Some(email.clone()), email),
                Some(Subscription::Domain {
                    domain,
                    contact,
                    webhook,
                    ..
                }) => (
                    Some(format!("*@{domain}")),
                    webhook.map_or(contact, |w| w.url),
                ),
                _ => (None, String::new()),
            };
            SubscriberView {
                id: row.id,
                watches,
                alerts_to,
                verified: row.verified,
                unsubscribed: row.unsubscribed,
            }
        })
        .collect())
}

/// The subscriber id of the normalised address `email`.
pub fn find_email(
    catalog: &Catalog,
    operator: &OperatorKey,
    email: &str,
) -> Result<i64, ServiceError> {
    let s = Subscription::Email {
        email: email.to_owned(),
    };
    Ok(catalog
        .subscriber_by_digest(&s.digest(operator))?
        .ok_or_else(|| ServiceError::UnknownSubscriber("with that address".into()))?
        .id)
}

/// Removes subscriber `id` (its row; alerts already queued still go).
pub fn remove(catalog: &mut Catalog, _by: &Principal, id: i64) -> Result<(), ServiceError> {
    if catalog.remove_subscriber(id)? {
        Ok(())
    } else {
        Err(ServiceError::UnknownSubscriber(id.to_string()))
    }
}

/// Hides the normalised address `email` from every answer, for its owner (who confirmed by
/// the mailed opt-out link): forgotten in the store as `leakwatch forget` does, published at
/// once, or hidden at once and published after an import that holds the writer lock.
pub fn opt_out(store: &StoreHandle, _by: &Principal, email: &str) -> Result<Forgot, ServiceError> {
    Ok(store.forget(&[leakwatch_store::Key::account(email)])?)
}

/// Stops alerts to subscriber `id` (its unsubscribe link); the row stays on record.
pub fn unsubscribe(catalog: &mut Catalog, id: i64) -> Result<bool, ServiceError> {
    Ok(catalog.unsubscribe(id, crate::now_unix())?)
}
