//! `POST /api/v1/check-by-mail`: the private e-mail check (HPI's model). The answer goes by
//! mail to the address checked, never in the HTTP response, so nobody learns whether
//! someone else's address was breached.
//!
//! The request only validates the address, applies the rate limits (per client IP and per
//! address) and queues a sealed [`Payload::CheckResult`] in the outbox; the lookup happens
//! when the worker composes the mail ([`compose`]). So a breached and an unbreached address
//! get the same response, byte for byte, after the same work. The address is never logged,
//! and the per-address limit keys on a keyed hash held in memory only.

use std::{
    hash::{BuildHasher, RandomState},
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, mpsc::Sender},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_catalog::{Breach, outbox::Pending};
use leakwatch_identity::OperatorKey;
use leakwatch_notify::{Email, Mailer, Payload, RetryPolicy};

use crate::{ApiError, AppState, v3::query_param};

/// The one answer to every accepted private check.
pub(crate) const ACCEPTED_BODY: &str = "{\"status\":\"queued\",\"message\":\"Look in your inbox: if the address can receive mail, the result is on its way to it, and only to it.\"}";

/// Largest request body read (an address is at most 254 bytes).
const MAX_BODY: usize = 4096;

/// How often a client and an address may ask.
#[derive(Debug, Clone, Copy)]
pub struct CheckLimits {
    /// Checks per client IP address per hour (burst and refill).
    pub per_ip_per_hour: u32,
    /// Checks per e-mail address per day (burst and refill).
    pub per_address_per_day: u32,
}

impl Default for CheckLimits {
    fn default() -> Self {
        CheckLimits {
            per_ip_per_hour: 10,
            per_address_per_day: 3,
        }
    }
}

/// What the server needs to mail private-check results.
#[derive(Debug)]
pub struct MailSetup {
    /// The SMTP server.
    pub mailer: Mailer,
    /// Seals queued payloads (they name their recipient).
    pub key: OperatorKey,
    /// The catalogue database, which the delivery worker opens on its own connection.
    pub catalog_path: PathBuf,
    /// The URL people reach this server at, quoted in mails.
    pub public_url: String,
    /// Retry and lease policy of the delivery worker.
    pub retry: RetryPolicy,
    /// Rate limits of the private check.
    pub limits: CheckLimits,
    pub(crate) wake: Mutex<Option<Sender<()>>>,
    by_ip: crate::v3::RateLimiter,
    by_address: crate::v3::RateLimiter,
    /// Keys the per-address limiter, so memory holds no address.
    address_hasher: RandomState,
}

impl MailSetup {
    /// Mail setup with the default retry policy and limits.
    pub fn new(
        mailer: Mailer,
        key: OperatorKey,
        catalog_path: PathBuf,
        public_url: String,
    ) -> Self {
        MailSetup {
            mailer,
            key,
            catalog_path,
            public_url: public_url.trim_end_matches('/').to_owned(),
            retry: RetryPolicy::default(),
            limits: CheckLimits::default(),
            wake: Mutex::new(None),
            by_ip: Default::default(),
            by_address: Default::default(),
            address_hasher: RandomState::new(),
        }
    }

    fn wake_worker(&self) {
        if let Some(tx) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(());
        }
    }
}

/// The address a request body names: JSON `{"email": ...}` or a form field `email`.
fn requested_address(content_type: &str, body: &[u8]) -> Result<String, ApiError> {
    let wrong = ApiError::BadRequest(
        "Send the address as JSON {\"email\": \"...\"} or as the form field email",
    );
    if content_type.starts_with("application/json") {
        #[derive(serde::Deserialize)]
        struct Body {
            email: String,
        }
        serde_json::from_slice::<Body>(body)
            .map(|b| b.email)
            .map_err(|_| wrong)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = std::str::from_utf8(body).map_err(|_| wrong)?;
        query_param(Some(text), "email").ok_or(ApiError::BadRequest(
            "Send the address as JSON {\"email\": \"...\"} or as the form field email",
        ))
    } else {
        Err(ApiError::UnsupportedMediaType(
            "Send application/json or application/x-www-form-urlencoded",
        ))
    }
}

pub(crate) async fn check_by_mail(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let mail = state.mail.as_ref().ok_or(ApiError::Unavailable(
        "Private checks by mail are not set up on this server",
    ))?;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| ApiError::TooLarge("The request body is larger than 4 KiB"))?;
    let raw = requested_address(&content_type, &body)?;
    let email = leakwatch_identity::normalize_email(&raw)
        .map_err(|_| ApiError::BadRequest("The address is not a valid e-mail address"))?;

    if let Some(ip) = peer {
        let id = RandomState::hash_one(&mail.address_hasher, ip);
        let per_hour = f64::from(mail.limits.per_ip_per_hour.max(1));
        mail.by_ip
            .take_tokens(id, per_hour, per_hour / 3600.0)
            .map_err(ApiError::RateLimited)?;
    }
    let id = mail.address_hasher.hash_one(&email);
    let per_day = f64::from(mail.limits.per_address_per_day.max(1));
    mail.by_address
        .take_tokens(id, per_day, per_day / 86_400.0)
        .map_err(ApiError::RateLimited)?;

    let sealed = Payload::CheckResult { email }.seal(&mail.key);
    let queued = state.clone();
    tokio::task::spawn_blocking(move || queued.catalog.enqueue(None, &sealed))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    mail.wake_worker();
    Ok((
        StatusCode::ACCEPTED,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        ACCEPTED_BODY,
    )
        .into_response())
}

/// The mail for a queued notification, looked up now in the served store and catalogue.
pub(crate) fn compose(
    state: &AppState,
    pending: &Pending,
    payload: Payload,
) -> Result<Email, String> {
    let mail = state.mail.as_ref().ok_or("mail is not set up")?;
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
            Ok(Email {
                to: email,
                subject: "Your leakwatch check".to_owned(),
                text: check_result_text(&mail.public_url, &found, live.len()),
                id: format!("check.{}.{}", pending.id, pending.created),
            })
        }
        _ => Err("this server cannot compose that notification".to_owned()),
    }
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
            let _ = writeln!(
                t,
                "  * {} ({}, {})\n    Exposed: {}",
                b.title,
                if b.domain.is_empty() {
                    "no domain"
                } else {
                    &b.domain
                },
                b.breach_date,
                b.data_classes.join(", ")
            );
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

/// Starts the delivery worker on its own thread; it stops when `stop` is set.
pub(crate) fn start_worker(
    state: Arc<AppState>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let mail = state.mail.as_ref()?;
    let catalog = match leakwatch_catalog::Catalog::open(&mail.catalog_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("leakwatch serve: outbox worker not started: {e}");
            return None;
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    *mail.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    let mut worker =
        leakwatch_notify::Worker::new(catalog, mail.key.clone(), mail.mailer.clone(), mail.retry);
    std::thread::Builder::new()
        .name("leakwatch-outbox".into())
        .spawn(move || {
            worker.run(&stop, &rx, &mut |pending, payload| {
                compose(&state, pending, payload)
            });
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_come_as_json_or_form_fields() {
        let ok = |ct: &str, body: &str| requested_address(ct, body.as_bytes()).ok();
        assert_eq!(
            ok("application/json", r#"{"email":"a@b.example"}"#).as_deref(),
            Some("a@b.example")
        );
        assert_eq!(
            ok("application/x-www-form-urlencoded", "email=a%40b.example").as_deref(),
            Some("a@b.example")
        );
        assert_eq!(ok("application/json", "{}"), None);
        assert_eq!(ok("application/x-www-form-urlencoded", "mail=x"), None);
        assert!(matches!(
            requested_address("text/plain", b"a@b.example"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}
