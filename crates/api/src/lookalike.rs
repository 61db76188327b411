//! `GET /api/v1/lookalike?domain=D[&sender=S]`: every look-alike variant of D (kind,
//! Unicode, punycode), and with `sender`, the verdict for S against D. Needs an API key:
//! generation costs milliseconds, so it is not open to anyone. See `leakwatch_service::lookalike`.

use std::sync::Arc;

use axum::{
    extract::{RawQuery, State},
    response::Response,
};

use leakwatch_service::lookalike;

use crate::{
    ApiError, AppState,
    compress::Accepts,
    v3::{Caller, json, query_param},
};

#[derive(serde::Serialize)]
struct Answer {
    domain: String,
    variants: Vec<lookalike::Variant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<lookalike::Verdict>,
}

pub(crate) async fn lookalike(
    Caller { audit, .. }: Caller,
    accepts: Accepts,
    State(_): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = query.as_deref();
    let domain = query_param(query, "domain")
        .filter(|d| !d.trim().is_empty() && d.len() <= 253)
        .ok_or(ApiError::BadRequest(
            "Give the domain to protect: ?domain=example.com",
        ))?;
    audit.target(&domain);
    let sender = query_param(query, "sender");
    let answer = tokio::task::spawn_blocking(move || {
        let variants = lookalike::variants(&domain, &lookalike::Options::default())?;
        let verdict = sender
            .map(|s| lookalike::verdict(&s, std::slice::from_ref(&domain)))
            .transpose()?;
        Ok::<_, lookalike::InvalidDomain>(Answer {
            domain: variants[0].unicode.clone(),
            variants,
            verdict,
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|_| ApiError::BadRequest("Not a valid domain name"))?;
    audit.size(answer.variants.len());
    Ok(json(&answer, accepts))
}
