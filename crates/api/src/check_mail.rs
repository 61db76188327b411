//! `POST /api/v1/check-by-mail`: the private e-mail check (HPI's model). The answer goes by
//! mail to the address checked, never in the HTTP response, so nobody learns whether
//! someone else's address was breached.
//!
//! The request only validates the address, applies the rate limits (per client IP and per
//! address) and queues a sealed [`Payload::CheckResult`] in the outbox; the lookup happens
//! when the worker composes the mail (`crate::outbox`). So a breached and an unbreached address
//! get the same response, byte for byte, after the same work. The address is never logged,
//! and the per-address limit keys on a keyed hash held in memory only.

use std::{
    hash::{BuildHasher, RandomState},
    net::SocketAddr,
    sync::{Arc, Mutex, mpsc::Sender},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_service::DataDir;
use leakwatch_service::{
    Principal,
    mail::{Mailer, RetryPolicy},
    outbox::{self, Payload},
};

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

/// What the server needs to mail private-check results, alerts and reports. What it queues
/// is sealed with `AppState::operator_key`, which must be set too (there is one key, so what
/// a request seals the worker can open).
#[derive(Debug)]
pub struct MailSetup {
    /// The SMTP server.
    pub mailer: Mailer,
    /// The data directory: its catalogue, which the delivery worker opens on its own
    /// connection, and the lock that makes that worker the only one.
    pub data: DataDir,
    /// The URL people reach this server at, quoted in mails.
    pub public_url: String,
    /// Retry and lease policy of the delivery worker.
    pub retry: RetryPolicy,
    /// Rate limits of the private check.
    pub limits: CheckLimits,
    pub(crate) wake: Mutex<Option<Sender<()>>>,
    pub(crate) by_ip: crate::v3::RateLimiter,
    pub(crate) by_address: crate::v3::RateLimiter,
    /// Keys the per-address limiter, so memory holds no address.
    pub(crate) address_hasher: RandomState,
}

impl MailSetup {
    /// Mail setup with the default retry policy and limits.
    pub fn new(mailer: Mailer, data: DataDir, public_url: String) -> Self {
        MailSetup {
            mailer,
            data,
            public_url: public_url.trim_end_matches('/').to_owned(),
            retry: RetryPolicy::default(),
            limits: CheckLimits::default(),
            wake: Mutex::new(None),
            by_ip: Default::default(),
            by_address: Default::default(),
            address_hasher: RandomState::new(),
        }
    }

    pub(crate) fn wake_worker(&self) {
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
    let email = mail_request(&state, request).await?;
    queue_and_accept(
        state,
        Principal::Public,
        Payload::CheckResult { email },
        ACCEPTED_BODY,
    )
    .await
}

/// Reads a request that names an address to mail, checks that mail is set up and the
/// address valid, and takes a token from the client's and the address's rate limits.
/// Returns the normalised address.
pub(crate) async fn mail_request(state: &AppState, request: Request) -> Result<String, ApiError> {
    let (mail, _) = state
        .mailing()
        .ok_or(ApiError::Unavailable("Mail is not set up on this server"))?;
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
        let id = mail.address_hasher.hash_one(ip);
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
    Ok(email)
}

/// Seals and queues `payload`, wakes the worker, and answers 202 with `body`.
pub(crate) async fn queue_and_accept(
    state: Arc<AppState>,
    by: Principal,
    payload: Payload,
    body: &'static str,
) -> Result<Response, ApiError> {
    let (mail, key) = state
        .mailing()
        .ok_or(ApiError::Unavailable("Mail is not set up on this server"))?;
    let key = key.clone();
    let queued = state.clone();
    tokio::task::spawn_blocking(move || outbox::queue(&queued.catalog, &key, &by, &payload))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    mail.wake_worker();
    Ok((
        StatusCode::ACCEPTED,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response())
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
