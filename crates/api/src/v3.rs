//! HIBP API v3: the breach catalogue (`breaches`, `breach/{name}`, `latestbreach`,
//! `dataclasses`, no key needed) and the keyed endpoints (`subscription/status` so far).
//! Answers are HIBP's JSON byte for byte (see `leakwatch_catalog::Breach`); every `/api/v3`
//! request needs a `User-Agent` (403 without, as HIBP). Keyed endpoints need a valid
//! `hibp-api-key` (401, plain text) and stay within the key's requests per minute (429 with
//! `retry-after` and HIBP's JSON body). Retired breaches are never returned. The account
//! endpoints are in [`crate::account`].

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Path, RawQuery, State},
    http::{header, request::Parts},
    response::{IntoResponse, Response},
};
use leakwatch_service::{
    Principal,
    breaches::Breach,
    keys::{ApiKey, Scope, Scopes},
    limits::Limited,
};

use crate::{
    ApiError, AppState,
    compress::{Accepts, respond},
};

/// A request that names its user agent; rejected with 403 otherwise, as HIBP.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserAgent;

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().is_empty())
            .then_some(UserAgent)
            .ok_or(ApiError::Forbidden(
                "A user agent is required: send a User-Agent header naming your application",
            ))
    }
}

/// The access a keyed route declares in the route table: the scope it needs (none: any
/// valid key). Put on the route by [`crate::app`]; read by [`Caller`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Declared(pub Option<Scope>);

/// The calling API key: the request has a user agent (403), a usable `hibp-api-key` (401),
/// the scope its route declares (403, naming it; checked by the service layer's
/// `Principal::require`), and the key had a token left this minute (429), in that order.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The key, as the catalogue holds it.
    pub key: ApiKey,
    /// The principal the service layer acts for, made from the key once per request.
    pub by: Principal,
    /// The request's audit record: the handler notes its target and how much went out.
    pub audit: crate::audited::AuditSlot,
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        UserAgent::from_request_parts(parts, state).await?;
        let presented = parts
            .headers
            .get("hibp-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        if !state.store.is_ready() {
            return Err(ApiError::Unavailable(crate::NOT_READY));
        }
        if !state.catalog.keys_are_current() {
            return Err(ApiError::Unavailable(
                "The key catalogue cannot be reached; try again later",
            ));
        }
        let key = (!presented.is_empty())
            .then(|| state.catalog.key(presented))
            .flatten()
            .filter(|k| k.is_usable(leakwatch_service::now_unix()))
            .ok_or(ApiError::Unauthorized)?;
        let Some(Declared(scope)) = parts.extensions.get::<Declared>().copied() else {
            return Err(ApiError::Internal(format!(
                "{} takes an API key but its route declares no access",
                parts.uri.path()
            )));
        };
        let by = Principal::api_key(&key);
        let audit = parts
            .extensions
            .get::<crate::audited::AuditSlot>()
            .cloned()
            .unwrap_or_default();
        audit.principal(&by);
        if let Some(reason) = &key.suspended {
            return Err(ApiError::Suspended(reason.clone()));
        }
        if let Some(scope) = scope {
            by.require(scope)
                .map_err(|_| ApiError::Forbidden(missing_scope(scope)))?;
        }
        state
            .key_limits
            .admit(&key, scope, crate::state::now_ms())
            .map_err(|why| match why {
                Limited::Quota {
                    scope,
                    limit,
                    retry_after,
                } => ApiError::QuotaUsedUp {
                    scope,
                    limit,
                    retry_after,
                },
                Limited::Rate { retry_after } => ApiError::RateLimited(retry_after),
                _ => ApiError::RateLimited(60),
            })?;
        // The key's last-used day, written once a day per key, off the request's path.
        let now = leakwatch_service::now_unix();
        if state.catalog.use_is_news(&key, now) {
            let (s, used) = (state.clone(), key.clone());
            tokio::task::spawn_blocking(move || {
                if let Err(e) = s.catalog.record_use(&used, now) {
                    tracing::warn!("recording a key's last use failed: {e}");
                }
            });
        }
        Ok(Caller { key, by, audit })
    }
}

/// The 403 reason for a key without `scope`.
fn missing_scope(scope: Scope) -> &'static str {
    match scope {
        Scope::Account => "This API key lacks the scope account (breachedaccount)",
        Scope::AccountRange => "This API key lacks the scope account-range",
        Scope::Domain => "This API key lacks the scope domain",
        Scope::DomainBulk => "This API key lacks the scope domain-bulk",
        Scope::Vendors => "This API key lacks the scope vendors",
        Scope::Lookalike => "This API key lacks the scope lookalike",
        Scope::StealerLogs => "This API key lacks the scope stealerlogs",
        Scope::Pastes => "This API key lacks the scope pastes",
        Scope::Credentials => "This API key lacks the scope credentials",
        Scope::Dashboard => "This API key lacks the scope dashboard",
        _ => "This API key lacks the scope this endpoint needs",
    }
}

/// Token buckets by id: each holds up to `capacity` tokens, refilled continuously.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    buckets: std::sync::Mutex<std::collections::HashMap<u64, (f64, std::time::Instant)>>,
}

/// Above this many buckets, full ones (idle clients) are forgotten: a full bucket and a
/// missing one behave the same.
const MAX_IDLE_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// Takes a token from bucket `id` (created full), or says how many whole seconds until
    /// one is free.
    pub(crate) fn take_tokens(&self, id: u64, capacity: f64, per_second: f64) -> Result<(), u64> {
        let now = std::time::Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_IDLE_BUCKETS {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_second < capacity
            });
        }
        let (tokens, at) = buckets.entry(id).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct SubscriptionStatus {
    subscription_name: String,
    description: String,
    subscribed_until: String,
    rpm: u32,
    domain_search_max_breached_accounts: u32,
    includes_stealer_logs: bool,
    /// leakwatch's addition: what the key may do (`all`, or the scope names).
    scopes: Vec<&'static str>,
}

pub(crate) async fn subscription_status(Caller { key, .. }: Caller, accepts: Accepts) -> Response {
    json(
        &SubscriptionStatus {
            subscription_name: key.name.clone(),
            description: format!(
                "leakwatch API key {}…, {} requests per minute",
                key.prefix, key.rpm
            ),
            subscribed_until: key
                .expires
                .as_deref()
                .map(|d| format!("{d}T23:59:59Z"))
                .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_owned()),
            rpm: key.rpm,
            // Domain search has no per-key cap yet.
            domain_search_max_breached_accounts: u32::MAX >> 1,
            includes_stealer_logs: key.scopes.allows(Scope::StealerLogs),
            scopes: match &key.scopes {
                Scopes::All => vec!["all"],
                Scopes::Only(set) => set.iter().map(|s| s.name()).collect(),
            },
        },
        accepts,
    )
}

/// A JSON answer, compressed when large (see [`crate::compress::respond`]).
pub(crate) fn json(value: &impl serde::Serialize, accepts: Accepts) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => respond("application/json; charset=utf-8", body, accepts),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

/// The breaches requests may see (not retired), borrowed from the catalogue's shared copy.
pub(crate) fn live(all: &[Breach]) -> impl Iterator<Item = &Breach> {
    all.iter().filter(|b| !b.is_retired)
}

/// Query parameters by case-insensitive name (HIBP documents `Domain`, clients send `domain`).
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query.unwrap_or("").split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        k.eq_ignore_ascii_case(name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |i: usize| b.get(i).and_then(|&c| (c as char).to_digit(16));
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) async fn breaches(
    _: UserAgent,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let domain = query_param(query.as_deref(), "domain")
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase());
    let spam = match query_param(query.as_deref(), "isspamlist").map(|v| v.to_ascii_lowercase()) {
        None => None,
        Some(v) if v == "true" => Some(true),
        Some(v) if v == "false" => Some(false),
        Some(_) => return Err(ApiError::BadRequest("IsSpamList must be true or false")),
    };
    let all = state.catalog.breaches();
    let list: Vec<&Breach> = live(&all)
        .filter(|b| {
            domain
                .as_deref()
                .is_none_or(|d| d.is_empty() || b.domain == d)
        })
        .filter(|b| spam.is_none_or(|s| b.is_spam_list == s))
        .collect();
    Ok(json(&list, accepts))
}

pub(crate) async fn breach(
    _: UserAgent,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let all = state.catalog.breaches();
    live(&all)
        .find(|b| b.name.eq_ignore_ascii_case(name.trim()))
        .map(|b| json(b, accepts))
        .ok_or(ApiError::NotFound)
}

pub(crate) async fn latest_breach(
    _: UserAgent,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
) -> Result<Response, ApiError> {
    // AddedDate is fixed-width ISO 8601, so text order is time order.
    let all = state.catalog.breaches();
    live(&all)
        .max_by(|a, b| {
            a.added_date
                .cmp(&b.added_date)
                .then_with(|| b.name.cmp(&a.name))
        })
        .map(|b| json(b, accepts))
        .ok_or(ApiError::NotFound)
}

pub(crate) async fn data_classes(
    _: UserAgent,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
) -> Response {
    let all = state.catalog.breaches();
    let mut classes: Vec<&str> = live(&all)
        .flat_map(|b| b.data_classes.iter().map(String::as_str))
        .collect();
    classes.sort_by_key(|c| c.to_lowercase());
    classes.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    json(&classes, accepts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_case_insensitive_and_decoded() {
        assert_eq!(
            query_param(Some("domain=a.example"), "Domain").as_deref(),
            Some("a.example")
        );
        assert_eq!(
            query_param(Some("x=1&Domain=b%2Eexample"), "domain").as_deref(),
            Some("b.example")
        );
        assert_eq!(
            query_param(Some("IsSpamList=true"), "isspamlist").as_deref(),
            Some("true")
        );
        assert_eq!(query_param(None, "domain"), None);
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
        assert_eq!(percent_decode("a+b%20c"), "a b c");
    }
}
