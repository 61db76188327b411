//! HIBP's stealer-log endpoints (scope `stealerlogs`), for domains the calling key's tenant
//! has verified: `stealerlogsbyemail/{email}` (the address's domain verified) →
//! `["website", …]`; `stealerlogsbywebsitedomain/{domain}` (the website verified) →
//! `["address", …]`; `stealerlogsbyemaildomain/{domain}` → `{"alias": ["website", …]}`.
//! 404 when nothing was captured; like domain search they need the operator key (503
//! without), which opens the sealed pairs.

use std::{collections::HashSet, sync::Arc};

use axum::{
    extract::{Path, State},
    response::Response,
};
use leakwatch_service::{domains, keys::Scope, stealer_logs};

use crate::{
    ApiError, AppState,
    compress::Accepts,
    domains::{normalize, on_catalog, operator_key},
    v3::{Caller, json},
};

/// The names of the catalogue's stealer-log sets.
fn stealer_sets(state: &AppState) -> HashSet<String> {
    state
        .catalog
        .breaches()
        .iter()
        .filter(|b| b.is_stealer_log)
        .map(|b| b.name.clone())
        .collect()
}

/// Checks that the caller's tenant verified `domain`, in scope `stealerlogs`.
async fn verified(
    state: &Arc<AppState>,
    caller: &Caller,
    domain: String,
) -> Result<domains::Searchable, ApiError> {
    let asker = caller.by.clone();
    on_catalog(state, move |c, op| {
        domains::verified_for(c, op, &asker, Scope::StealerLogs, &domain)
    })
    .await
}

/// Runs a lookup off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, leakwatch_service::ServiceError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??)
}

/// `GET /api/v3/stealerlogsbyemail/{email}`.
pub(crate) async fn by_email(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(email): Path<String>,
) -> Result<Response, ApiError> {
    caller.audit.target(&email);
    let operator = operator_key(&state)?.clone();
    let email = leakwatch_identity::normalize_email(&email)
        .map_err(|_| ApiError::BadRequest("The e-mail address is not valid"))?;
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    let domain = verified(&state, &caller, domain).await?;
    let (snap, sets, by) = (
        state.store.snapshot(),
        stealer_sets(&state),
        caller.by.clone(),
    );
    let found = blocking(move || {
        stealer_logs::websites_of_address(&snap, &operator, &by, &domain, &email, &|n| {
            sets.contains(n)
        })
    })
    .await?;
    answer(&caller, &found, found.len(), accepts)
}

/// `GET /api/v3/stealerlogsbywebsitedomain/{domain}`.
pub(crate) async fn by_website_domain(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(domain): Path<String>,
) -> Result<Response, ApiError> {
    caller.audit.target(&domain);
    let operator = operator_key(&state)?.clone();
    let website = verified(&state, &caller, normalize(&domain)?).await?;
    let (snap, sets, by) = (
        state.store.snapshot(),
        stealer_sets(&state),
        caller.by.clone(),
    );
    let found = blocking(move || {
        stealer_logs::addresses_of_website(&snap, &operator, &by, &website, &|n| sets.contains(n))
    })
    .await?;
    answer(&caller, &found, found.len(), accepts)
}

/// `GET /api/v3/stealerlogsbyemaildomain/{domain}`.
pub(crate) async fn by_email_domain(
    caller: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(domain): Path<String>,
) -> Result<Response, ApiError> {
    caller.audit.target(&domain);
    let operator = operator_key(&state)?.clone();
    let domain = verified(&state, &caller, normalize(&domain)?).await?;
    let (snap, sets, by) = (
        state.store.snapshot(),
        stealer_sets(&state),
        caller.by.clone(),
    );
    let found = blocking(move || {
        stealer_logs::aliases_of_domain(&snap, &operator, &by, &domain, &|n| sets.contains(n))
    })
    .await?;
    answer(&caller, &found, found.len(), accepts)
}

/// The JSON answer, or 404 when nothing was found.
fn answer(
    caller: &Caller,
    value: &impl serde::Serialize,
    size: usize,
    accepts: Accepts,
) -> Result<Response, ApiError> {
    if size == 0 {
        return Err(ApiError::NotFound);
    }
    caller.audit.size(size);
    Ok(json(value, accepts))
}
