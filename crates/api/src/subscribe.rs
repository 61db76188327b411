//! Alert subscriptions for e-mail addresses: `POST /api/v1/subscriptions` mails a
//! confirmation link (signed with the operator key, expiring after two days; nothing is
//! stored until it is followed), `GET /api/v1/subscriptions/confirm?token=` subscribes, and
//! `GET /api/v1/unsubscribe?token=` (the link in every alert) shows a page whose button
//! unsubscribes, as a `POST` does (RFC 8058 one-click). The subscribe request answers the
//! same whatever the address, like the private check, and shares its rate limits. Domains are subscribed by their verified
//! owners elsewhere.

use std::sync::Arc;

use axum::{
    extract::{RawQuery, Request, State},
    response::Response,
};
use leakwatch_service::{
    Principal, now_unix,
    outbox::{Link, Payload},
    subscriptions,
};

use crate::{
    ApiError, AppState,
    check_mail::{mail_request, queue_and_accept},
    pages,
    v3::query_param,
};

/// The one answer to every accepted subscription request.
pub(crate) const SUBSCRIBE_BODY: &str = "{\"status\":\"queued\",\"message\":\"Look in your inbox: if the address can receive mail, a confirmation link is on its way to it.\"}";

pub(crate) async fn subscribe(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let email = mail_request(&state, request).await?;
    queue_and_accept(
        state,
        Principal::Public,
        Payload::ConfirmSubscription { email },
        SUBSCRIBE_BODY,
    )
    .await
}

/// The link a request's `token` parameter carries, if this server made it.
fn link(state: &AppState, query: Option<&str>) -> Result<Link, ApiError> {
    let (_, key) = state
        .mailing()
        .ok_or(ApiError::Unavailable("Mail is not set up on this server"))?;
    query_param(query, "token")
        .and_then(|t| Link::from_token(&t, key))
        .ok_or(ApiError::BadRequest(
            "This link is not valid: copy the whole link from the mail",
        ))
}

pub(crate) async fn confirm(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let Link::Confirm { email, expires } = link(&state, query.as_deref())? else {
        return Err(ApiError::BadRequest("This is not a confirmation link"));
    };
    let now = now_unix();
    if now > expires {
        return Err(ApiError::BadRequest(
            "This confirmation link has expired: subscribe again",
        ));
    }
    let db = state.clone();
    tokio::task::spawn_blocking(move || {
        let (_, key) = db.mailing().expect("checked by link()");
        // The link's holder confirmed it: the address's owner is the principal.
        let by = Principal::link_holder();
        db.catalog
            .write(|c| subscriptions::subscribe_email(c, key, &by, &email))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(pages::done(
        "Subscribed",
        "You will get a mail whenever a newly loaded data breach contains this address. Every alert has a link to unsubscribe.",
    ))
}

/// `GET /api/v1/unsubscribe?token=`: the link in every alert opens a page whose button
/// unsubscribes; the GET itself changes nothing (a mail scanner follows links).
pub(crate) async fn unsubscribe_page(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let Link::Unsubscribe { .. } = link(&state, query.as_deref())? else {
        return Err(ApiError::BadRequest("This is not an unsubscribe link"));
    };
    let token = query_param(query.as_deref(), "token").unwrap_or_default();
    Ok(pages::confirm(
        "Stop these alerts",
        "<p>No more alerts will be sent to this address. You can subscribe again at any time.</p>",
        "/api/v1/unsubscribe",
        &token,
        "Unsubscribe",
    ))
}

/// `POST /api/v1/unsubscribe`: the page's button (form field `token`) or a mail client's
/// RFC 8058 one-click (`List-Unsubscribe=One-Click` to the URL with `?token=`) unsubscribes.
pub(crate) async fn unsubscribe(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let form = pages::form(request).await?;
    let from_form = query_param(Some(&form), "token").is_some();
    let Link::Unsubscribe { subscriber } = link(
        &state,
        if from_form {
            Some(&form)
        } else {
            query.as_deref()
        },
    )?
    else {
        return Err(ApiError::BadRequest("This is not an unsubscribe link"));
    };
    let db = state.clone();
    tokio::task::spawn_blocking(move || {
        db.catalog
            .write(|c| subscriptions::unsubscribe(c, subscriber))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(pages::done(
        "Unsubscribed",
        "No more alerts will be sent to this address. You can subscribe again at any time.",
    ))
}

/// The one answer to every accepted opt-out request.
pub(crate) const OPT_OUT_BODY: &str = "{\"status\":\"queued\",\"message\":\"Look in your inbox: if the address can receive mail, a confirmation link is on its way to it.\"}";

/// `POST /api/v1/opt-out`: mails the address a link that hides it. Answers like the private
/// check, whatever the address, and shares its rate limits.
pub(crate) async fn opt_out(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let email = mail_request(&state, request).await?;
    queue_and_accept(
        state,
        Principal::Public,
        Payload::ConfirmOptOut { email },
        OPT_OUT_BODY,
    )
    .await
}

/// The opt-out link's address, if the link is this server's, unexpired and an opt-out.
fn opt_out_link(state: &AppState, query: Option<&str>) -> Result<String, ApiError> {
    let Link::OptOut { email, expires } = link(state, query)? else {
        return Err(ApiError::BadRequest("This is not an opt-out link"));
    };
    if now_unix() > expires {
        return Err(ApiError::BadRequest(
            "This link has expired: ask to hide the address again",
        ));
    }
    Ok(email)
}

/// `GET /api/v1/opt-out/confirm?token=`: a page with a button, not the opt-out itself, so
/// that a mail scanner that follows every link hides nothing.
pub(crate) async fn opt_out_page(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    opt_out_link(&state, query.as_deref())?;
    let token = query_param(query.as_deref(), "token").unwrap_or_default();
    Ok(pages::confirm(
        "Hide this address",
        "<p>It will no longer appear in any search or alert here, for any data breach, now or later. This cannot be undone from this page.</p>",
        "/api/v1/opt-out/confirm",
        &token,
        "Hide this address",
    ))
}

/// `POST /api/v1/opt-out/confirm` (form field `token`): forgets the address in the store at
/// once, as `leakwatch forget` does (one publication). While an import holds the store's
/// writer lock, the address is hidden at once all the same and the publication follows when
/// the import is done ([`crate::StoreHandle::forget`]).
pub(crate) async fn opt_out_confirm(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let form = pages::form(request).await?;
    let email = opt_out_link(&state, Some(&form))?;
    let db = state.clone();
    tokio::task::spawn_blocking(move || {
        subscriptions::opt_out(&db.store, &Principal::link_holder(), &email)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(pages::done(
        "Hidden",
        "This address no longer appears in any search or alert here, for any data breach.",
    ))
}
