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
    Catalog, Principal, ServiceError, now_unix,
    outbox::Link,
    vendors::{self, OwnerConfirmation, Vendor},
};

use crate::{
    ApiError, AppState,
    compress::Accepts,
    pages,
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
    Caller { by, audit, .. }: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
) -> Result<Response, ApiError> {
    let vendors = blocking(&state, move |c| vendors::list(c, &by)).await?;
    audit.size(vendors.len());
    Ok(json(&vendors, accepts))
}

pub(crate) async fn put(
    Caller { by, audit, .. }: Caller,
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
    audit.target(&vendor.name);
    let operator = state.operator_key.clone();
    let stored = blocking(&state, move |c| {
        vendors::put(c, operator.as_ref(), &by, vendor)
    })
    .await?;
    // The vendor as stored, and `ownerPending` when its owner must follow a mailed link
    // before any report goes there.
    let mut answer =
        serde_json::to_value(&stored.vendor).map_err(|e| ApiError::Internal(e.to_string()))?;
    answer["ownerPending"] = stored.owner_pending.into();
    let mut response = json(&answer, accepts);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub(crate) async fn remove(
    Caller { by, audit, .. }: Caller,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    audit.target(&name);
    blocking(&state, move |c| vendors::remove(c, &by, &name)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn impact(
    Caller { by, audit, .. }: Caller,
    accepts: Accepts,
    State(state): State<Arc<AppState>>,
    Path(breach): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    audit.target(&breach);
    let html = query_param(query.as_deref(), "format").is_some_and(|f| f == "html");
    let report = impact_report(&state, by, breach).await?;
    if html {
        return Ok((
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            leakwatch_service::impact::render_html(&report),
        )
            .into_response());
    }
    Ok(json(&report, accepts))
}

/// `breach`'s supply-chain impact on `by`'s tenant (404 if it reaches no vendor of it):
/// what the API answers and the dashboard prints.
pub(crate) async fn impact_report(
    state: &Arc<AppState>,
    by: Principal,
    breach: String,
) -> Result<leakwatch_service::impact::ImpactReport, ApiError> {
    let s = state.clone();
    tokio::task::spawn_blocking(move || {
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
    .ok_or(ApiError::NotFound)
}

/// The (tenant, vendor, owner) a vendor owner's confirmation link names, if the token is
/// this server's and unexpired.
fn owner_link(state: &AppState, token: Option<&str>) -> Result<(String, String, String), ApiError> {
    let operator = state.operator_key.as_ref().ok_or(ApiError::Unavailable(
        "Vendor owners are confirmed with the operator key: set it when serving",
    ))?;
    let Some(Link::VendorOwner {
        tenant,
        vendor,
        owner,
        expires,
    }) = token.and_then(|t| Link::from_token(t, operator))
    else {
        return Err(ApiError::BadRequest(
            "This link is not valid: copy the whole link from the mail",
        ));
    };
    if now_unix() > expires {
        return Err(ApiError::BadRequest(
            "This confirmation link has expired: ask the organisation to save the vendor again",
        ));
    }
    Ok((tenant, vendor, owner))
}

/// `GET /api/v1/vendor-owner/confirm?token=`: the page a vendor owner's confirmation link
/// opens, naming the tenant and the vendor; it changes nothing (its button does).
pub(crate) async fn owner_page(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let token = query_param(query.as_deref(), "token").unwrap_or_default();
    let (tenant, vendor, owner) = owner_link(&state, Some(&token))?;
    let text = format!(
        "<p>The organisation “{}” named <strong>{}</strong> as the owner of its supplier “{}”: when a breach hits that supplier, its impact report would be mailed to this address.</p><p>Agree only if you know this organisation. If you do not, close this page: nothing is sent to you.</p>",
        pages::escape(&tenant),
        pages::escape(&owner),
        pages::escape(&vendor)
    );
    Ok(pages::confirm(
        "Receive impact reports?",
        &text,
        "/api/v1/vendor-owner/confirm",
        &token,
        "Send me its impact reports",
    ))
}

/// `POST /api/v1/vendor-owner/confirm` (form field `token`): the page's button.
pub(crate) async fn owner_confirm(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let form = pages::form(request).await?;
    let (tenant, vendor, owner) = owner_link(&state, query_param(Some(&form), "token").as_deref())?;
    let by = Principal::link_holder();
    match blocking(&state, move |c| {
        vendors::confirm_owner(c, &by, &tenant, &vendor, &owner)
    })
    .await?
    {
        OwnerConfirmation::Confirmed => Ok(pages::done(
            "Confirmed",
            "Impact reports for this supplier will come to this address.",
        )),
        _ => Err(ApiError::NotFound),
    }
}
