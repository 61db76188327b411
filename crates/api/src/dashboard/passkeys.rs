//! The dashboard's passkeys (issue #23): the second-factor step of signing in, and the page
//! where a tenant enrols and removes its passkeys. The ceremonies themselves are
//! `leakwatch_service::passkeys`; here are their pages and the JSON the page's script
//! (`/assets/dashboard.js`) exchanges with the server.
//!
//! Every POST here is same-origin only and carries the session's CSRF token, in the
//! `x-csrf-token` header for the script's JSON requests and in the form for removal. The
//! second-factor routes take a [`Signing`] session (one that may still owe its passkey);
//! everything else takes a [`Viewer`], which a session owing its passkey never is.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_service::{
    dashboard::{self, Session},
    passkeys::{self, PasskeyError, RelyingParty},
};

use super::{Signing, Viewer, checked_form, on_catalog, page, same_origin, see_other, slot};
use crate::{ApiError, AppState, pages::escape, v3::query_param};

/// The largest JSON a browser's WebAuthn answer is allowed to be.
const MAX_ANSWER: usize = 64 * 1024;

/// `value` as a JSON answer with `status`, never cached.
fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("a passkey answer: {e}")).into_response(),
    }
}

/// A ceremony's failure as the page's script reads it: `{"error": "…"}` with its status.
fn refused(e: PasskeyError) -> Response {
    let status = match &e {
        PasskeyError::NotConfigured | PasskeyError::BadPublicUrl(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        PasskeyError::NoCeremony | PasskeyError::NoPasskey | PasskeyError::AlreadyEnrolled => {
            StatusCode::CONFLICT
        }
        PasskeyError::Refused => StatusCode::UNAUTHORIZED,
        PasskeyError::Malformed(_) | PasskeyError::BadName => StatusCode::BAD_REQUEST,
        _ => {
            tracing::error!("a passkey ceremony failed: {e}");
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({"error": "internal error"}),
            );
        }
    };
    json(status, &serde_json::json!({"error": e.to_string()}))
}

/// The server's relying party, or why there is none.
fn relying_party(state: &AppState) -> Result<Arc<RelyingParty>, PasskeyError> {
    state.passkeys.clone().ok_or(PasskeyError::NotConfigured)
}

/// A script's POST: from this origin, with the session's CSRF token in `x-csrf-token`.
fn checked(headers: &HeaderMap, session: &Session) -> Result<(), ApiError> {
    if !same_origin(headers) {
        return Err(ApiError::Forbidden(
            "A request from another site cannot act here",
        ));
    }
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !dashboard::csrf_matches(session, presented) {
        return Err(ApiError::Forbidden(
            "The request's CSRF token is missing or wrong: reload the page and try again",
        ));
    }
    Ok(())
}

/// The request's body, at most [`MAX_ANSWER`] bytes.
async fn body(request: Request) -> Result<String, ApiError> {
    let bytes = axum::body::to_bytes(request.into_body(), MAX_ANSWER)
        .await
        .map_err(|_| ApiError::TooLarge("The request body is larger than 64 KiB"))?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::BadRequest("The request body is not UTF-8"))
}

/// Runs a ceremony step on the catalogue thread pool; its failure becomes the JSON refusal.
async fn ceremony<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&AppState) -> Result<T, PasskeyError> + Send + 'static,
) -> Result<T, Response> {
    let state = state.clone();
    match tokio::task::spawn_blocking(move || work(&state)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(refused(e)),
        Err(e) => Err(ApiError::Internal(format!("a passkey ceremony: {e}")).into_response()),
    }
}

/// The page around the script: the CSRF token and what to do, in `data-` attributes.
fn script_page(title: &str, session: &Session, intro: &str, action: &str, extra: &str) -> Response {
    page(
        StatusCode::OK,
        title,
        Some(session),
        &format!(
            "{intro}<div id=\"passkey\" data-csrf=\"{}\" data-action=\"{action}\">{extra}\
             <p id=\"passkey-status\" class=\"result\" role=\"status\" aria-live=\"polite\"></p>\
             </div><script src=\"/assets/dashboard.js\"></script>",
            escape(&session.csrf)
        ),
    )
}

/// `GET /dashboard/passkey`: the second-factor step of a session that owes its passkey.
pub(crate) async fn second_factor(Signing { session, .. }: Signing) -> Response {
    if !session.owes_passkey {
        return see_other("/dashboard");
    }
    script_page(
        "Confirm with your passkey",
        &session,
        "<p>Your organisation protects its dashboard with passkeys: the API key alone does \
         not sign in. Confirm with one of its passkeys to continue.</p>",
        "sign-in",
        "<button type=\"button\" id=\"passkey-go\">Use a passkey</button>",
    )
}

/// `POST /dashboard/passkey/challenge`: the challenge for `navigator.credentials.get`.
pub(crate) async fn sign_in_challenge(
    State(state): State<Arc<AppState>>,
    Signing { token, session }: Signing,
    request: Request,
) -> Result<Response, Response> {
    checked(request.headers(), &session).map_err(IntoResponse::into_response)?;
    let rp = relying_party(&state).map_err(refused)?;
    let now = leakwatch_service::now_unix() as i64;
    let challenge = ceremony(&state, move |s| {
        passkeys::start_sign_in(&rp, &s.catalog, &token, &session, now)
    })
    .await?;
    Ok(json(StatusCode::OK, &challenge))
}

/// `POST /dashboard/passkey/verify`: the browser's signature; on success the session owes
/// nothing more (an audit record of the key, its target the passkey).
pub(crate) async fn sign_in_verify(
    State(state): State<Arc<AppState>>,
    Signing { token, session }: Signing,
    request: Request,
) -> Result<Response, Response> {
    checked(request.headers(), &session).map_err(IntoResponse::into_response)?;
    let audit = slot(&request);
    let rp = relying_party(&state).map_err(refused)?;
    let answer = body(request).await.map_err(IntoResponse::into_response)?;
    let now = leakwatch_service::now_unix() as i64;
    let used = ceremony(&state, move |s| {
        passkeys::finish_sign_in(&rp, &s.catalog, &token, &session, &answer, now)
    })
    .await?;
    audit.target(&used);
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"next": "/dashboard"}),
    ))
}

/// `GET /dashboard/passkeys`: the tenant's passkeys, enrolment, removal.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Viewer { session, .. }: Viewer,
) -> Result<Response, ApiError> {
    let by = session.by.clone();
    let found = on_catalog(&state, "listing passkeys", move |s| {
        s.catalog.write(|c| passkeys::list(c, &by))
    })
    .await?;
    let mut body = String::from(
        "<p>Once your organisation has a passkey, signing in to this dashboard with any of its \
         API keys also needs one of its passkeys. API requests are not affected. Keep more \
         than one; if every passkey is lost, your operator can remove them \
         (<code>leakwatch keys passkeys --tenant NAME --remove-all</code>).</p>",
    );
    if found.is_empty() {
        body.push_str("<p>No passkey yet: the dashboard opens with an API key alone.</p>");
    } else {
        body.push_str(
            "<table id=\"passkeys\"><caption>Your organisation's passkeys</caption><thead><tr>\
             <th scope=\"col\">Name</th><th scope=\"col\">Enrolled</th>\
             <th scope=\"col\">Last used</th><th scope=\"col\">Remove</th></tr></thead><tbody>",
        );
        for p in &found {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" \
                 action=\"/dashboard/passkeys/remove\"><input type=\"hidden\" name=\"csrf\" \
                 value=\"{}\"><input type=\"hidden\" name=\"id\" value=\"{}\"><button \
                 type=\"submit\" aria-label=\"Remove the passkey {}\">Remove</button></form>\
                 </td></tr>",
                escape(&p.name),
                escape(&leakwatch_service::format_date_time(p.created as u64)),
                p.last_used.map_or_else(
                    || "never".to_owned(),
                    |at| escape(&leakwatch_service::format_date_time(at as u64))
                ),
                escape(&session.csrf),
                escape(&p.id),
                escape(&p.name),
            ));
        }
        body.push_str("</tbody></table>");
    }
    let enrol = if state.passkeys.is_some() {
        "<form id=\"passkey-enrol\"><label for=\"passkey-name\">Name of the new passkey</label>\
         <div class=\"row\"><input id=\"passkey-name\" name=\"name\" maxlength=\"64\" required \
         autocomplete=\"off\"><button type=\"submit\">Add a passkey</button></div></form>"
    } else {
        "<p>Passkeys need the server's public URL (<code>--public-url</code>).</p>"
    };
    Ok(script_page("Passkeys", &session, &body, "enrol", enrol))
}

/// `POST /dashboard/passkeys/options`: the options for `navigator.credentials.create`.
pub(crate) async fn enrol_options(
    State(state): State<Arc<AppState>>,
    Viewer { token, session }: Viewer,
    request: Request,
) -> Result<Response, Response> {
    checked(request.headers(), &session).map_err(IntoResponse::into_response)?;
    let rp = relying_party(&state).map_err(refused)?;
    let now = leakwatch_service::now_unix() as i64;
    let options = ceremony(&state, move |s| {
        passkeys::start_enrolment(&rp, &s.catalog, &token, &session, now)
    })
    .await?;
    Ok(json(StatusCode::OK, &options))
}

/// `POST /dashboard/passkeys/enrol`: `{"name": …, "credential": …}`, the new credential;
/// kept for the tenant if it verifies (an audit record, its target the passkey).
pub(crate) async fn enrol(
    State(state): State<Arc<AppState>>,
    Viewer { token, session }: Viewer,
    request: Request,
) -> Result<Response, Response> {
    checked(request.headers(), &session).map_err(IntoResponse::into_response)?;
    let audit = slot(&request);
    let rp = relying_party(&state).map_err(refused)?;
    let answer = body(request).await.map_err(IntoResponse::into_response)?;
    let parsed: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|e| refused(PasskeyError::Malformed(e.to_string())))?;
    let name = parsed["name"].as_str().unwrap_or_default().to_owned();
    let credential = parsed["credential"].to_string();
    let now = leakwatch_service::now_unix() as i64;
    let id = ceremony(&state, move |s| {
        passkeys::finish_enrolment(&rp, &s.catalog, &token, &session, &name, &credential, now)
    })
    .await?;
    audit.target(&id);
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({"id": id, "next": "/dashboard/passkeys"}),
    ))
}

/// `POST /dashboard/passkeys/remove`: the form's passkey removed (its CSRF token required).
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Viewer { session, .. }: Viewer,
    request: Request,
) -> Result<Response, ApiError> {
    let audit = slot(&request);
    let body = checked_form(&session, request).await?;
    let id = query_param(Some(&body), "id").unwrap_or_default();
    audit.target(&id);
    let by = session.by.clone();
    let removed = on_catalog(&state, "removing a passkey", move |s| {
        s.catalog.write(|c| passkeys::remove(c, &by, Some(&id)))
    })
    .await?;
    if removed == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(see_other("/dashboard/passkeys"))
}
