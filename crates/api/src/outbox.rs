//! The server's side of the outbox: the delivery worker's thread, the alerts it queues when
//! a breach is published, and what every mail says.
//!
//! One worker per data directory (a lock file, `outbox.lock`, makes sure): it alone may
//! release a dead worker's claims at start. Before each round it looks for breaches in the
//! served store that have not been alerted yet; for each, every active subscriber whose
//! address (or any address on whose domain) is in it gets one alert, deduplicated by
//! (subscriber, breach) in the outbox, and the breach is then marked alerted. A crash
//! between the two queues nothing twice: the dedupe key holds. Subscribers hear only of
//! breaches added (HIBP's AddedDate) no earlier than they subscribed, even when no server
//! ran in between.

use std::{
    collections::BTreeSet,
    sync::{Arc, atomic::AtomicBool},
};

use leakwatch_catalog::{Breach, Catalog, now_unix, outbox::Pending};
use leakwatch_notify::{Deliveries, Email, Link, Outgoing, Payload, Subscription, WebhookCall};

use crate::AppState;

/// How long a confirmation link works.
pub(crate) const CONFIRM_LINK_SECS: u64 = 2 * 86_400;

/// Starts the delivery worker on its own thread, unless mail is not set up or another
/// server on this data directory already runs one; it stops when `stop` is set.
pub(crate) fn start_worker(
    state: Arc<AppState>,
    stop: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let (mail, key) = state.mailing()?;
    let lock_path = mail.catalog_path.with_file_name("outbox.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .ok()?;
    if lock.try_lock().is_err() {
        tracing::warn!(
            "another server delivers this data directory's mail; this one only queues it"
        );
        return None;
    }
    let catalog = match Catalog::open(&mail.catalog_path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("outbox worker not started: {e}");
            return None;
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    *mail.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    let mut worker =
        leakwatch_notify::Worker::new(catalog, key.clone(), mail.mailer.clone(), mail.retry);
    std::thread::Builder::new()
        .name("leakwatch-outbox".into())
        .spawn(move || {
            // Held for the thread's life: the lock is what makes this the only worker.
            let _lock = lock;
            match worker.release_claims() {
                Ok(0) => {}
                Ok(n) => tracing::info!("{n} interrupted deliveries resumed"),
                Err(e) => tracing::error!("outbox: {e}"),
            }
            let mut owner = ServerDeliveries { state, seen: None };
            worker.run(&stop, &rx, &mut owner);
        })
        .ok()
}

/// The server as the worker's owner.
struct ServerDeliveries {
    state: Arc<AppState>,
    /// Store generation and breach names last scanned for alerts.
    seen: Option<(u64, usize)>,
}

impl Deliveries for ServerDeliveries {
    fn queue(&mut self, catalog: &mut Catalog) -> Result<usize, String> {
        let snap = self.state.store.snapshot();
        let marker = (snap.generation(), self.state.catalog.breaches().len());
        if self.seen == Some(marker) {
            return Ok(0);
        }
        let queued = queue_alerts(&self.state, catalog).map_err(|e| e.to_string())?
            + queue_impact_alerts(&self.state, catalog).map_err(|e| e.to_string())?;
        self.seen = Some(marker);
        Ok(queued)
    }

    fn compose(
        &mut self,
        catalog: &Catalog,
        pending: &Pending,
        payload: Payload,
    ) -> Result<Outgoing, String> {
        compose(&self.state, catalog, pending, payload)
    }
}

/// Queues one alert per (active subscriber, breach in the store not yet alerted) where the
/// subscriber's address, or an address on its domain, is in the breach; then marks those
/// breaches alerted. Returns how many alerts were queued.
pub(crate) fn queue_alerts(
    state: &AppState,
    catalog: &mut Catalog,
) -> Result<usize, Box<dyn std::error::Error>> {
    let Some((_, key)) = state.mailing() else {
        return Ok(0);
    };
    let snap = state.store.snapshot();
    let alerted = catalog.alerted_breaches()?;
    let all = state.catalog.breaches();
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
    let mut queued = 0;
    for subscriber in catalog.subscribers()? {
        if !subscriber.is_active() {
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
                let ids: BTreeSet<u32> = crate::account::breach_ids(&snap, &candidates)?
                    .into_iter()
                    .collect();
                new.iter()
                    .filter(|(id, _)| ids.contains(id))
                    .map(|&(id, _)| (id, 1))
                    .collect()
            }
            Subscription::Domain { domain, .. } => {
                let found = crate::domain::breached_domain(&snap, key, domain)?;
                new.iter()
                    .map(|&(id, b)| {
                        let n = found
                            .values()
                            .filter(|names| names.iter().any(|n| n == &b.name))
                            .count() as u64;
                        (id, n)
                    })
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
pub(crate) fn queue_impact_alerts(
    state: &AppState,
    catalog: &mut Catalog,
) -> Result<usize, Box<dyn std::error::Error>> {
    let Some((_, key)) = state.mailing() else {
        return Ok(0);
    };
    let done = catalog.impact_alerted()?;
    let all = state.catalog.breaches();
    let new: Vec<&Breach> = all
        .iter()
        .filter(|b| !b.is_retired && !done.iter().any(|d| d.eq_ignore_ascii_case(&b.name)))
        .collect();
    if new.is_empty() {
        return Ok(0);
    }
    let vendors = catalog.vendors()?;
    let now = now_unix();
    let mut queued = 0;
    for b in &new {
        for v in &vendors {
            if v.matches(&b.domain, b.vendor.as_deref()).is_none() {
                continue;
            }
            let Ok(owner) = leakwatch_identity::normalize_email(&v.owner) else {
                continue;
            };
            let dedupe = format!("impact {} {}", v.name.to_lowercase(), b.name.to_lowercase());
            let payload = Payload::VendorImpact {
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

/// What to send for a queued notification, looked up now in the served store and catalogue.
pub(crate) fn compose(
    state: &AppState,
    catalog: &Catalog,
    pending: &Pending,
    payload: Payload,
) -> Result<Outgoing, String> {
    let (mail, key) = state.mailing().ok_or("mail is not set up")?;
    let url = &mail.public_url;
    match payload {
        Payload::CheckResult { email } => {
            let candidates = leakwatch_identity::lookup_candidates(&email, None)
                .map_err(|_| "the queued address is no longer valid".to_owned())?;
            let snap = state.store.snapshot();
            let ids = crate::account::breach_ids(&snap, &candidates).map_err(|e| e.to_string())?;
            let all = state.catalog.breaches();
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
            Ok(Outgoing::Mail(Email {
                to: email,
                subject: "Your leakwatch check".to_owned(),
                text: check_result_text(url, &found, live.len()),
                id: format!("check.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::ConfirmSubscription { email } => {
            let token = Link::Confirm {
                email: email.clone(),
                expires: pending.created + CONFIRM_LINK_SECS,
            }
            .token(key);
            Ok(Outgoing::Mail(Email {
                to: email,
                subject: "Confirm your leakwatch alerts".to_owned(),
                text: format!(
                    "Hello,\n\nsomeone (we hope you) asked {url} to send this address an alert whenever\na newly loaded data breach contains it. To confirm, open this link within two days:\n\n  {url}/api/v1/subscriptions/confirm?token={token}\n\nIf you did not ask for this, ignore this mail: without the link nothing happens\nand nothing more will be sent.\n\n-- \nleakwatch, {url}\n"
                ),
                id: format!("confirm.{}.{}", pending.id, pending.created),
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
                text: format!(
                    "Hello,\n\nsomeone (we hope you) asked {url} to hide this address: it would no longer\nappear in any search of {url} or any alert, for any data breach, now or later.\nTo confirm, open this link within two days and press the button:\n\n  {url}/api/v1/opt-out/confirm?token={token}\n\nIf you did not ask for this, ignore this mail: without the link nothing happens.\n\n-- \nleakwatch, {url}\n"
                ),
                id: format!("optout.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::VerifyDomain {
            subscriber,
            address,
        } => {
            let row = catalog
                .subscriber(subscriber)
                .map_err(|e| e.to_string())?
                .ok_or("the domain registration was removed before delivery")?;
            let Some(Subscription::Domain { domain, .. }) = Subscription::open(&row.sealed, key)
            else {
                return Err("the registration does not open under the operator key".to_owned());
            };
            let token = Link::VerifyDomain {
                subscriber,
                expires: pending.created + crate::domains::VERIFY_LINK_SECS,
            }
            .token(key);
            Ok(Outgoing::Mail(Email {
                to: address,
                subject: format!("Verify {domain} for leakwatch"),
                text: format!(
                    "Hello,\n\nsomeone asked leakwatch at {url} to let them search {domain} for breached\naddresses and to alert them when a new breach holds addresses on it. This mail\ngoes to a role address of the domain so that only its administrators can agree.\nTo verify the domain, open this link within two days:\n\n  {url}/api/v1/domains/verify?token={token}\n\nIf you did not expect this, ignore this mail: without the link nothing happens.\n\n-- \nleakwatch, {url}\n"
                ),
                id: format!("verify.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::VendorImpact {
            breach,
            vendor,
            owner,
        } => {
            let report = crate::vendors::report(state, catalog, &breach)?
                .ok_or("the breach no longer matches a vendor")?;
            let v = report
                .vendors
                .iter()
                .find(|v| v.vendor == vendor)
                .ok_or("the vendor was removed before delivery")?;
            Ok(Outgoing::Mail(Email {
                to: owner,
                subject: format!(
                    "leakwatch: vendor {} hit by the {} breach (risk {:.1})",
                    v.vendor, report.breach.title, v.risk
                ),
                text: format!(
                    "Hello,\n\nyou own the relationship with {} in leakwatch's vendor inventory at {url}.\n\n{}\n-- \nleakwatch, {url}\n",
                    v.vendor,
                    crate::impact::render_text(&report)
                ),
                id: format!("impact.{}.{}", pending.id, pending.created),
                unsubscribe: None,
            }))
        }
        Payload::BreachAlert {
            subscriber,
            breach,
            accounts,
        } => {
            let row = catalog
                .subscriber(subscriber)
                .map_err(|e| e.to_string())?
                .filter(|s| s.is_active())
                .ok_or("the subscriber unsubscribed before delivery")?;
            let subscription = Subscription::open(&row.sealed, key)
                .ok_or("the subscription does not open under the operator key")?;
            let all = state.catalog.breaches();
            let b = all
                .iter()
                .find(|b| b.name == breach && !b.is_retired)
                .ok_or("the breach was retired before delivery")?;
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
                    "breach": b,
                });
                return Ok(Outgoing::Webhook(WebhookCall {
                    url: hook.url.clone(),
                    secret: hook.secret.clone(),
                    event: "breach.alert",
                    delivery,
                    body: serde_json::to_vec(&body).map_err(|e| e.to_string())?,
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
                text: alert_text(url, b, &whose, &unsubscribe),
                id: format!("alert.{}.{}", pending.id, pending.created),
                unsubscribe: Some(unsubscribe),
            }))
        }
        _ => Err("this server cannot compose that notification".to_owned()),
    }
}

/// The body of a breach alert.
fn alert_text(url: &str, b: &Breach, whose: &str, unsubscribe: &str) -> String {
    format!(
        "Hello,\n\na data breach was just loaded into leakwatch at {url}:\n\n  {}\n\n{whose}\n\n{}\n\nWhat to do:\n  1. Change the password of the account there, and of every other account where\n     the same password was used.\n  2. Turn on two-step verification wherever it is offered.\n  3. Expect phishing that quotes the exposed data to look genuine.\n\nYou get this mail because you subscribed to leakwatch's alerts. To stop them:\n  {unsubscribe}\n\n-- \nleakwatch, {url}\n",
        breach_lines(b, "  "),
        plain_text(&b.description),
    )
}

/// A breach in a mail: title, domain and date, then what it exposed, indented.
fn breach_lines(b: &Breach, indent: &str) -> String {
    let domain = if b.domain.is_empty() {
        "no domain"
    } else {
        &b.domain
    };
    format!(
        "{} ({domain}, {})\n{indent}  Exposed: {}",
        b.title,
        b.breach_date,
        b.data_classes.join(", ")
    )
}

/// HTML (as HIBP's descriptions hold) reduced to its text.
fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The body of a private-check mail.
fn check_result_text(public_url: &str, found: &[&Breach], loaded: usize) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Hello,\n\nsomeone (we hope you) asked leakwatch at {public_url} to check this address\nagainst the data breaches it holds.\n"
    );
    if found.is_empty() {
        let _ = writeln!(
            t,
            "Good news: this address is not in any of the {loaded} breaches loaded here.\n\nThat is no guarantee: not every breach is known, and not every known one is\nloaded. Keep using a different password on every site (a password manager makes\nthat easy) and turn on two-step verification where it is offered."
        );
    } else {
        let _ = writeln!(
            t,
            "This address appears in {} data breach{}:\n",
            found.len(),
            if found.len() == 1 { "" } else { "es" }
        );
        for b in found {
            let _ = writeln!(t, "  * {}", breach_lines(b, "  "));
        }
        let _ = writeln!(
            t,
            "\nWhat to do:\n  1. Change the password of each of these accounts, and of every other account\n     where you used the same password. Use a different password for every site;\n     a password manager makes that easy.\n  2. Turn on two-step verification wherever it is offered.\n  3. Expect phishing: mails, messages and calls that quote the exposed data to\n     look genuine. Do not follow links in them; go to the site yourself."
        );
    }
    let _ = writeln!(
        t,
        "\nNobody but this mailbox was told the result. If you did not ask for this check,\nignore this mail: nothing more will be sent.\n\n-- \nleakwatch, {public_url}"
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_their_markup() {
        assert_eq!(
            plain_text(
                r#"In 2024, <a href="https://x.example" target="_blank">Fictobank</a> lost &quot;data&quot; &amp; more."#
            ),
            r#"In 2024, Fictobank lost "data" & more."#
        );
    }
}
