//! `POST /api/v1/credentials/check` (scope `credentials`): the private credential check.
//! The client sends its login's bucket and an OPRF-blinded element of (login, password) as
//! JSON — `{"bucket": 703710, "bucketBits": 20, "blinded": "<base64>"}` — and gets the
//! server's evaluation and the bucket's entry tags — `{"bucketBits": 20, "evaluated":
//! "<base64>", "tags": "<base64 of 12-byte tags>", "entries": N}` — or, for a bucket split
//! into more bits than it sent, only `{"bucketBits": N}` to send again with. Nothing here
//! sees a login or a password; the audit record keeps the bucket's keyed digest only.

use std::{hash::BuildHasher, net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request, State},
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use leakwatch_service::credentials::{self, CheckAnswer, CheckRequest};
use serde::{Deserialize, Serialize};

use crate::{
    ApiError, AppState,
    compress::Accepts,
    stealer::blocking,
    v3::{Caller, json},
};

/// A check's body as the client sends it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Body {
    bucket: u32,
    bucket_bits: u32,
    blinded: String,
}

/// The answer's body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    bucket_bits: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<usize>,
}

/// The largest body a check needs (a 32-byte element in base64 and two numbers) with room.
const MAX_BODY: usize = 1024;

/// `POST /api/v1/credentials/check`.
pub(crate) async fn check(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let request = read(request).await?;
    caller
        .audit
        .target(&format!("{}/{}", request.bucket, request.bucket_bits));
    let by = caller.by.clone();
    let (answer, entries) = respond(
        &state,
        accepts,
        move |snap, keys, request| credentials::check(snap, keys, &by, request),
        request,
    )
    .await?;
    if let Some(n) = entries {
        caller.audit.size(n);
    }
    Ok(answer)
}

/// `POST /api/v1/credentials/page-check`: the web page's form, limited per client address.
pub(crate) async fn page_check(
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let per_hour = state.credential_page_checks_per_hour;
    if per_hour == 0 {
        return Err(ApiError::Unavailable(
            "The web page's credential check is switched off on this server",
        ));
    }
    if let Some(ip) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let id = state.credential_page_hasher.hash_one(ip);
        let per_hour = f64::from(per_hour);
        state
            .credential_page_limiter
            .take_tokens(id, per_hour, per_hour / 3600.0)
            .map_err(ApiError::RateLimited)?;
    }
    let request = read(request).await?;
    let (answer, _) = respond(
        &state,
        accepts,
        |snap, keys, request| {
            credentials::check_from_page(snap, keys, &leakwatch_service::Principal::Public, request)
        },
        request,
    )
    .await?;
    Ok(answer)
}

/// A check's body, read and decoded.
async fn read(request: Request) -> Result<CheckRequest, ApiError> {
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| ApiError::TooLarge("A credential check's body is at most 1 KiB"))?;
    let body: Body = serde_json::from_slice(&body).map_err(|_| {
        ApiError::BadRequest(
            "Send JSON: bucket (a number), bucketBits (20 to 32) and blinded (base64)",
        )
    })?;
    let blinded = STANDARD
        .decode(body.blinded.as_bytes())
        .map_err(|_| ApiError::BadRequest("blinded is not base64"))?;
    Ok(CheckRequest {
        bucket: body.bucket,
        bucket_bits: body.bucket_bits,
        blinded,
    })
}

/// Runs a check off the async threads and words its answer; also returns how many entries
/// went out.
async fn respond(
    state: &Arc<AppState>,
    accepts: Accepts,
    check: impl FnOnce(
        &leakwatch_store::Snapshot,
        &credentials::CredentialKeys,
        &CheckRequest,
    ) -> Result<CheckAnswer, leakwatch_service::ServiceError>
    + Send
    + 'static,
    request: CheckRequest,
) -> Result<(Response, Option<usize>), ApiError> {
    let keys = state.credential_keys.clone().ok_or(ApiError::Unavailable(
        "The credential check is not set up on this server",
    ))?;
    let snap = state.store.snapshot();
    let answer = blocking(move || check(&snap, &keys, &request)).await?;
    let (answer, entries) = match answer {
        CheckAnswer::MoreBits(bits) => (
            Answer {
                bucket_bits: bits,
                evaluated: None,
                tags: None,
                entries: None,
            },
            None,
        ),
        CheckAnswer::Entries {
            bucket_bits,
            evaluated,
            tags,
            entries,
        } => (
            Answer {
                bucket_bits,
                evaluated: Some(STANDARD.encode(evaluated)),
                tags: Some(STANDARD.encode(tags)),
                entries: Some(entries),
            },
            Some(entries),
        ),
        _ => return Err(ApiError::Internal("an unknown check answer".into())),
    };
    Ok((json(&answer, accepts), entries))
}
