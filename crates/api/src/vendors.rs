//! `/api/v1/vendors`: the vendor inventory over HTTP (list, add or replace, remove) and
//! `/api/v1/vendors/impact/{breach}`, a breach's supply-chain impact as JSON or, with
//! `?format=html`, a printable page. Every endpoint needs an API key.

use std::sync::Arc;

use axum::{
    extract::{Path, RawQuery, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_catalog::{Catalog, CatalogError, vendors::Vendor};
use leakwatch_notify::Subscription;
use leakwatch_store::Snapshot;

use crate::{
    ApiError, AppState,
    compress::Accepts,
    impact::{DomainExposure, ImpactReport},
    v3::{Caller, json, query_param},
};

async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&mut Catalog) -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = state.clone();
    Ok(tokio::task::spawn_blocking(move || db.catalog.write(f))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??)
}

pub(crate) async fn list(
    _: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
) -> Result<Response, ApiError> {
    let vendors = blocking(&state, |c| c.vendors()).await?;
    Ok(json(&vendors, accepts))
}

pub(crate) async fn put(
    _: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|_| ApiError::TooLarge("The request body is larger than 64 KiB"))?;
    let vendor: Vendor = serde_json::from_slice(&body).map_err(|_| {
        ApiError::BadRequest(
            "Send a vendor as JSON: name, domains, dataClasses, criticality (1-5), owner, notes",
        )
    })?;
    let vendor = vendor.validate().map_err(|_| {
        ApiError::BadRequest(
            "Invalid vendor: it needs a name, real domains and a criticality of 1 to 5",
        )
    })?;
    let stored = blocking(&state, move |c| c.put_vendor(vendor)).await?;
    let mut response = json(&stored, accepts);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub(crate) async fn remove(
    _: Caller,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if blocking(&state, move |c| c.remove_vendor(&name)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

/// How many addresses of each verified domain (of any key) are in `breach`.
pub fn your_domains(
    state: &AppState,
    catalog: &Catalog,
    snap: &Snapshot,
    breach: &str,
) -> Result<Vec<DomainExposure>, String> {
    let Some(key) = state.operator_key.as_ref() else {
        return Ok(Vec::new());
    };
    let mut domains: Vec<String> = catalog
        .subscribers()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|s| s.is_active())
        .filter_map(|s| match Subscription::open(&s.sealed, key)? {
            Subscription::Domain { domain, .. } => Some(domain),
            _ => None,
        })
        .collect();
    domains.sort();
    domains.dedup();
    let mut out = Vec::new();
    for domain in domains {
        let found =
            crate::domain::breached_domain(snap, key, &domain).map_err(|e| e.to_string())?;
        let n = found
            .values()
            .filter(|names| names.iter().any(|n| n == breach))
            .count() as u64;
        if n > 0 {
            out.push(DomainExposure {
                domain,
                addresses: n,
            });
        }
    }
    Ok(out)
}

/// The impact report of the live breach `name`, if a vendor matches it (the CLI calls this
/// too, on a state it builds without serving).
pub fn report(
    state: &AppState,
    catalog: &Catalog,
    name: &str,
) -> Result<Option<ImpactReport>, String> {
    let all = state.catalog.breaches();
    let Some(breach) = all
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(name) && !b.is_retired)
    else {
        return Ok(None);
    };
    let vendors = catalog.vendors().map_err(|e| e.to_string())?;
    if !vendors.iter().any(|v| {
        v.matches(&breach.domain, breach.vendor.as_deref())
            .is_some()
    }) {
        return Ok(None);
    }
    let snap = state.store.snapshot();
    let domains = your_domains(state, catalog, &snap, &breach.name)?;
    Ok(crate::impact::impact(breach, &vendors, domains))
}

pub(crate) async fn impact(
    _: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(breach): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let html = query_param(query.as_deref(), "format").is_some_and(|f| f == "html");
    let s = state.clone();
    let report =
        tokio::task::spawn_blocking(move || s.catalog.write(|c| Ok(report(&s, c, &breach))))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??
            .map_err(ApiError::Internal)?
            .ok_or(ApiError::NotFound)?;
    if html {
        return Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::impact::render_html(&report),
        )
            .into_response());
    }
    Ok(json(&report, accepts))
}
