//! HIBP v3 account search: `breachedaccount/{account}` and the k-anonymity
//! `breachedaccount/range/{6 hex}`. Both need an API key (routes in [`crate::v3`]).
//!
//! The account is normalised exactly as ingest normalised it (`leakwatch_identity`), hashed
//! with SHA-1 and looked up in the account namespace; store-local breach ids are named
//! through the manifest and described by the catalogue. Sensitive and retired breaches are
//! never returned (HIBP returns sensitive ones only to verified owners, which a key holder
//! is not), and breaches the catalogue does not hold are skipped. The account is never
//! logged or echoed back.

use std::sync::Arc;

use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use leakwatch_service::{breaches::Breach, bulk::Watched};

use crate::{
    ApiError, AppState,
    compress::Accepts,
    v3::{Caller, json, live, query_param},
};

fn flag(query: Option<&str>, name: &str, default: bool) -> Result<bool, ApiError> {
    match query_param(query, name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(ApiError::BadRequest(
            "truncateResponse and includeUnverified must be true or false",
        )),
    }
}

/// Breaches a caller may see, by store-local id.
fn visible<'a>(
    all: &'a [Breach],
    snap: &leakwatch_store::Snapshot,
    ids: &[u32],
) -> Vec<&'a Breach> {
    let mut out: Vec<&Breach> = ids
        .iter()
        .filter_map(|&id| snap.breach_name(id))
        .filter_map(|name| live(all).find(|b| b.name == name))
        .filter(|b| !b.is_sensitive)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

#[derive(serde::Serialize)]
struct Truncated<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
}

pub(crate) async fn breached_account(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let audit = caller.audit.clone();
    audit.target(&account);
    let query = query.as_deref();
    let truncate = flag(query, "truncateResponse", true)?;
    let unverified = flag(query, "includeUnverified", true)?;
    let domain = query_param(query, "domain")
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty());
    let candidates = leakwatch_identity::lookup_candidates(
        &account,
        state.default_region.as_deref(),
    )
    .map_err(|_| {
        ApiError::BadRequest("The account is not a valid e-mail address, phone number or username")
    })?;
    crate::audited::watch(&state, &caller, Watched::Accounts, &account).await?;
    let by = caller.by;
    let snap = state.store.snapshot();
    let ids = leakwatch_service::accounts::lookup(&snap, &by, &candidates)?;
    let all = state.catalog.breaches();
    let found: Vec<&Breach> = visible(&all, &snap, &ids)
        .into_iter()
        .filter(|b| unverified || b.is_verified)
        .filter(|b| {
            domain
                .as_deref()
                .is_none_or(|d| b.domain.eq_ignore_ascii_case(d))
        })
        .collect();
    if found.is_empty() {
        return Err(ApiError::NotFound);
    }
    audit.size(found.len());
    Ok(if truncate {
        json(
            &found
                .iter()
                .map(|b| Truncated { name: &b.name })
                .collect::<Vec<_>>(),
            accepts,
        )
    } else {
        json(&found, accepts)
    })
}

#[derive(serde::Serialize)]
struct RangeEntry<'a> {
    #[serde(rename = "hashSuffix")]
    hash_suffix: String,
    websites: Vec<&'a str>,
}

pub(crate) async fn breached_account_range(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(prefix): Path<String>,
) -> Result<Response, ApiError> {
    let audit = caller.audit.clone();
    audit.target(&prefix);
    if prefix.len() != 6 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(
            "The hash prefix was not in a valid format: send the first 6 hex digits of the SHA-1 of the account",
        ));
    }
    let prefix24 = u32::from_str_radix(&prefix, 16)
        .map_err(|_| ApiError::BadRequest("The hash prefix was not in a valid format"))?;
    crate::audited::watch(&state, &caller, Watched::AccountPrefixes, &prefix).await?;
    let by = caller.by;
    let snap = state.store.snapshot();
    let all = state.catalog.breaches();
    let mut out = Vec::new();
    for (key, ids) in leakwatch_service::accounts::range(&snap, &by, prefix24)? {
        let websites: Vec<&str> = visible(&all, &snap, &ids)
            .into_iter()
            .map(|b| b.name.as_str())
            .collect();
        if websites.is_empty() {
            continue;
        }
        let hex = key.to_hex(leakwatch_store::Namespace::Account);
        out.push(RangeEntry {
            hash_suffix: hex[6..].to_owned(),
            websites,
        });
    }
    audit.size(out.len());
    Ok(json(&out, accepts))
}
