//! `/api/v1/vendors`: the vendor inventory over HTTP (list, add or replace, remove) and
//! `/api/v1/vendors/impact/{breach}`, a breach's supply-chain impact as JSON or, with
//! `?format=html`, a printable page. Every endpoint needs an API key.

use std::sync::Arc;

use axum::{
    extract::{Path, RawQuery, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_service::{
    Catalog, ServiceError,
    vendors::{self, Vendor},
};

use crate::{
    ApiError, AppState,
    compress::Accepts,
    v3::{Caller, json, query_param},
};

/// Runs a service action on the catalogue connection, off the async threads.
async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&mut Catalog) -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = state.clone();
    Ok(tokio::task::spawn_blocking(move || db.catalog.write(f))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??)
}

pub(crate) async fn list(
    Caller { by, .. }: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
) -> Result<Response, ApiError> {
    let vendors = blocking(&state, move |c| vendors::list(c, &by)).await?;
    Ok(json(&vendors, accepts))
}

pub(crate) async fn put(
    Caller { by, .. }: Caller,
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
    let stored = blocking(&state, move |c| vendors::put(c, &by, vendor)).await?;
    let mut response = json(&stored, accepts);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub(crate) async fn remove(
    Caller { by, .. }: Caller,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    blocking(&state, move |c| vendors::remove(c, &by, &name)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn impact(
    Caller { by, .. }: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(breach): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let html = query_param(query.as_deref(), "format").is_some_and(|f| f == "html");
    let s = state.clone();
    let report = tokio::task::spawn_blocking(move || {
        s.catalog.write(|c| {
            vendors::report(
                &s.store,
                &s.catalog,
                c,
                s.operator_key.as_ref(),
                &by,
                &breach,
            )
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??
    .ok_or(ApiError::NotFound)?;
    if html {
        return Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            leakwatch_service::impact::render_html(&report),
        )
            .into_response());
    }
    Ok(json(&report, accepts))
}
