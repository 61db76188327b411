//! The organisation dashboard (issue #23): server-rendered pages for a tenant's security
//! team, behind a session that an API key with the `dashboard` scope is exchanged for.
//!
//! - Sign-in (`POST /dashboard/sign-in`, the key in the form body, never in a URL) sets the
//!   session cookie: `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's
//!   page sends it), `Path=/dashboard`, 30 minutes, `Secure` under TLS. The catalogue keeps
//!   only the token's digest (`leakwatch_service::dashboard`).
//! - Every form that changes something carries the session's CSRF token, and every POST must
//!   come from this origin (`Sec-Fetch-Site`, `Origin`): a cross-site form is refused (403).
//! - A session acts as its key: each page checks the scope of what it shows, inside the
//!   key's tenant, and every dashboard request is an audit record (the routes carry the
//!   audit layer; the handler names the principal).
//!
//! - Once the tenant has enrolled a passkey, a new session owes one ([`passkeys`]): it is
//!   sent to the passkey step and shows nothing until a passkey of the tenant signs.
//!
//! Pages so far: the overview (the tenant's domains), Domains ([`domains`]: register, verify
//! by DNS or mail, breached addresses per breach with the exposure chart, CSV export),
//! Vendors ([`vendors`]: the ranking with its chart and printable reports, the inventory and
//! its forms), Activity (the tenant's keys, their last use, and the tenant's newest audit
//! records from the verified log), Look-alikes ([`lookalikes`]: the domains to protect,
//! their variants, a sender check) and Passkeys ([`passkeys`]).

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use leakwatch_service::{
    dashboard::{self, Session, SignInRefused},
    keys::Scope,
};

pub(crate) mod domains;
pub(crate) mod lookalikes;
pub(crate) mod passkeys;
pub(crate) mod vendors;

use crate::{
    ApiError, AppState,
    audited::AuditSlot,
    pages::{escape, form, harden},
    v3::query_param,
};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "leakwatch_dashboard";

/// The session token the request's cookie carries, if any.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then(|| value.to_owned())
        })
}

/// Runs `work` on the catalogue off the async threads (SQLite reads the disk; PostgreSQL
/// blocks on its connection thread), as every handler that touches the catalogue does.
async fn on_catalog<T: Send + 'static>(
    state: &Arc<AppState>,
    what: &'static str,
    work: impl FnOnce(&AppState) -> Result<T, leakwatch_service::ServiceError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || work(&state))
        .await
        .map_err(|e| ApiError::Internal(format!("{what}: {e}")))?
        .map_err(|e| ApiError::Internal(format!("{what}: {e}")))
}

/// The request's live session, with its token.
async fn current(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<Option<(String, Session)>, ApiError> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let looked_up = token.clone();
    let session = on_catalog(state, "reading a dashboard session", move |s| {
        dashboard::session(&s.catalog, &looked_up, leakwatch_service::now_unix())
    })
    .await?;
    Ok(session.map(|s| (token, s)))
}

/// The signed-in session of a dashboard page: extracting it looks the session up (a page
/// without one is sent to the sign-in form, 303; a session that still owes its passkey to
/// the passkey step, 303) and names its key in the request's audit record. Pages that show
/// something check its scope with [`Viewer::refusal`].
pub(crate) struct Viewer {
    /// The session token (from the cookie), to end it with.
    token: String,
    session: Session,
}

/// Any live session, also one that still owes its passkey: what the passkey step and
/// signing out take. Named in the audit record like a [`Viewer`].
pub(crate) struct Signing {
    token: String,
    session: Session,
}

impl FromRequestParts<Arc<AppState>> for Signing {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let Some((token, session)) = current(state, &parts.headers)
            .await
            .map_err(IntoResponse::into_response)?
        else {
            return Err(see_other("/dashboard"));
        };
        if let Some(slot) = parts.extensions.get::<AuditSlot>() {
            slot.principal(&session.by);
        }
        Ok(Signing { token, session })
    }
}

impl FromRequestParts<Arc<AppState>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let Signing { token, session } = Signing::from_request_parts(parts, state).await?;
        if session.owes_passkey {
            return Err(see_other(PASSKEY_STEP));
        }
        Ok(Viewer { token, session })
    }
}

/// Where a session that owes its passkey is sent.
const PASSKEY_STEP: &str = "/dashboard/passkey";

impl Viewer {
    /// The page `title` refused (403) if the session's key lacks `scope`.
    fn refusal(&self, scope: Scope, title: &str) -> Option<Response> {
        (!self.session.by.may(scope)).then(|| {
            page(
                StatusCode::FORBIDDEN,
                title,
                Some(&self.session),
                &format!(
                    "<p>This key does not hold the <code>{}</code> scope.</p>",
                    scope.name()
                ),
            )
        })
    }
}

/// Whether a POST comes from a page of this origin. Browsers say so in `Sec-Fetch-Site`,
/// which is trusted when present; without it, `Origin` must name this host. (`Origin` alone
/// is not enough: under `Referrer-Policy: no-referrer`, which every page here sends, Chromium
/// sends `Origin: null` even for this origin's own forms.) A request with neither header (a
/// script, curl) is judged by its CSRF token alone.
fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (
        header(header::ORIGIN.as_str()),
        header(header::HOST.as_str()),
    ) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// A form's body, if it comes from this origin and carries `session`'s CSRF token (403
/// otherwise): how every dashboard form that changes something is read.
async fn checked_form(session: &Session, request: Request) -> Result<String, ApiError> {
    checked_form_up_to(session, request, 8 * 1024).await
}

/// [`checked_form`] for a form of up to `limit` bytes (an inventory to import).
async fn checked_form_up_to(
    session: &Session,
    request: Request,
    limit: usize,
) -> Result<String, ApiError> {
    if !same_origin(request.headers()) {
        return Err(ApiError::Forbidden(
            "A form from another site cannot act here",
        ));
    }
    let body = crate::pages::form_up_to(request, limit).await?;
    if !dashboard::csrf_matches(
        session,
        &query_param(Some(&body), "csrf").unwrap_or_default(),
    ) {
        return Err(ApiError::Forbidden(
            "The form's CSRF token is missing or wrong: reload the page and try again",
        ));
    }
    Ok(body)
}

/// A form's outcome on top of a page: its text, as an alert when it failed.
fn notice(text: &str, failed: bool) -> String {
    format!(
        "<p class=\"result{}\" role=\"{}\">{}</p>",
        if failed { " bad" } else { "" },
        if failed { "alert" } else { "status" },
        escape(text)
    )
}

/// A refusal's status and its one-line reason (what the API would answer), for the page
/// that shows it above the form.
async fn reason(e: ApiError) -> (StatusCode, String) {
    let response = e.into_response();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The audit slot the route's audit layer put on the request (none in tests without a log).
fn slot(request: &Request) -> AuditSlot {
    request
        .extensions()
        .get::<AuditSlot>()
        .cloned()
        .unwrap_or_default()
}

/// A dashboard page: the public page's style sheet, the navigation, and a sign-out form when
/// signed in.
fn page(status: StatusCode, title: &str, session: Option<&Session>, body: &str) -> Response {
    let nav = match session {
        Some(s) => format!(
            "<nav aria-label=\"Dashboard\"><ul>{}<li><a href=\"/\">The public \
             page</a></li></ul></nav><p class=\"meta\">Signed in with the key <strong>{}</strong> \
             ({}…) of <strong>{}</strong>, until {}.</p><form method=\"post\" \
             action=\"/dashboard/sign-out\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">Sign out</button></form>",
            if s.owes_passkey {
                ""
            } else {
                "<li><a href=\"/dashboard\">Overview</a></li>\
                 <li><a href=\"/dashboard/domains\">Domains</a></li>\
                 <li><a href=\"/dashboard/vendors\">Vendors</a></li>\
                 <li><a href=\"/dashboard/lookalikes\">Look-alikes</a></li>\
                 <li><a href=\"/dashboard/activity\">Activity</a></li>\
                 <li><a href=\"/dashboard/passkeys\">Passkeys</a></li>"
            },
            escape(&s.key.name),
            escape(&s.key.prefix),
            escape(&s.key.tenant),
            escape(&leakwatch_service::format_date_time(s.expires)),
            escape(&s.csrf)
        ),
        None => "<nav aria-label=\"Dashboard\"><ul><li><a href=\"/\">The public page</a></li>\
                 </ul></nav>"
            .to_owned(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{} · leakwatch dashboard</title>\
         <link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/assets/app.css\">\
         </head><body><a class=\"skip\" href=\"#main\">Skip to content</a><header>\
         <h1>leakwatch dashboard</h1>{nav}</header><main id=\"main\"><h2>{}</h2>{body}</main>\
         </body></html>\n",
        escape(title),
        escape(title)
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    harden(&mut response);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The sign-in form, with `problem` above it if the last attempt failed.
fn sign_in_page(status: StatusCode, problem: Option<&str>) -> Response {
    let problem = problem.map_or_else(String::new, |p| {
        format!("<p class=\"result bad\" role=\"alert\">{}</p>", escape(p))
    });
    page(
        status,
        "Sign in",
        None,
        &format!(
            "<p>Sign in with an API key that holds the <code>dashboard</code> scope. The key is \
             exchanged for a 30-minute session; it is not kept in the browser.</p>{problem}\
             <form method=\"post\" action=\"/dashboard/sign-in\"><label for=\"key\">API key</label>\
             <div class=\"row\"><input id=\"key\" name=\"key\" type=\"password\" \
             autocomplete=\"off\" required><button type=\"submit\">Sign in</button></div></form>"
        ),
    )
}

/// A redirect after a form (303: the browser GETs `to`).
fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// `GET /dashboard`: the overview, or the sign-in form without a session.
pub(crate) async fn home(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let Some((_, session)) = current(&state, request.headers()).await? else {
        return Ok(sign_in_page(StatusCode::OK, None));
    };
    slot(&request).principal(&session.by);
    if session.owes_passkey {
        return Ok(see_other(PASSKEY_STEP));
    }
    let domains = match (&state.operator_key, session.by.may(Scope::Domain)) {
        (Some(operator), true) => {
            let (operator, by) = (operator.clone(), session.by.clone());
            let rows = on_catalog(&state, "listing a tenant's domains", move |s| {
                s.catalog
                    .write(|c| leakwatch_service::domains::of_tenant(c, &operator, &by))
            })
            .await?;
            if rows.is_empty() {
                "<p>No domain registered yet.</p>".to_owned()
            } else {
                let mut t = String::from(
                    "<table><caption>Your domains</caption><thead><tr><th scope=\"col\">Domain</th>\
                     <th scope=\"col\">Verified</th><th scope=\"col\">Alert contact</th></tr>\
                     </thead><tbody>",
                );
                for r in rows {
                    t.push_str(&format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(&r.domain),
                        r.verified.map_or_else(
                            || "not yet".to_owned(),
                            |at| escape(&leakwatch_service::format_date_time(at)[..10]),
                        ),
                        escape(&r.contact)
                    ));
                }
                t.push_str("</tbody></table>");
                t
            }
        }
        (None, true) => "<p>Domains need the server's operator key.</p>".to_owned(),
        (_, false) => "<p>This key does not hold the <code>domain</code> scope.</p>".to_owned(),
    };
    Ok(page(
        StatusCode::OK,
        "Overview",
        Some(&session),
        &format!(
            "<section aria-labelledby=\"domains-title\"><h3 id=\"domains-title\">Domains</h3>{domains}</section>"
        ),
    ))
}

/// `GET /dashboard/activity`: the tenant's keys, their scopes, state and last use.
pub(crate) async fn activity(
    State(state): State<Arc<AppState>>,
    Viewer { session, .. }: Viewer,
) -> Result<Response, ApiError> {
    let of = session.clone();
    let keys = on_catalog(&state, "listing a tenant's keys", move |s| {
        dashboard::tenant_keys(&s.catalog, &of, leakwatch_service::now_unix())
    })
    .await?;
    let mut t = String::from(
        "<table><caption>Your tenant's API keys</caption><thead><tr><th scope=\"col\">Name</th>\
         <th scope=\"col\">Prefix</th><th scope=\"col\">Scopes</th><th scope=\"col\">Created</th>\
         <th scope=\"col\">Last used</th><th scope=\"col\">State</th></tr></thead><tbody>",
    );
    for (key, key_state) in keys {
        let this = if key.id == session.key.id {
            " <strong>(this session)</strong>"
        } else {
            ""
        };
        t.push_str(&format!(
            "<tr><td>{}{this}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&key.name),
            escape(&key.prefix),
            escape(&key.scopes.to_string()),
            escape(&key.created),
            escape(key.last_used.as_deref().unwrap_or("never")),
            escape(&key_state.to_string())
        ));
    }
    t.push_str("</tbody></table>");
    t.push_str(&audit_slice(&state, &session).await?);
    Ok(page(StatusCode::OK, "Activity", Some(&session), &t))
}

/// How many of the tenant's newest audit records the Activity page shows.
const AUDIT_SLICE: usize = 50;

/// The Activity page's table of the tenant's newest audit records (read from the verified
/// trail), or why there is none.
async fn audit_slice(state: &Arc<AppState>, session: &Session) -> Result<String, ApiError> {
    use leakwatch_service::auditlog::{self, WhoKind};
    let Some(log) = state.audit.clone() else {
        return Ok("<p>This server keeps no audit log.</p>".to_owned());
    };
    let by = session.by.clone();
    let records = on_catalog(state, "reading the audit log", move |_| {
        log.tenant_records(&by, AUDIT_SLICE)
    })
    .await?;
    let mut t = format!(
        "<table id=\"audit\"><caption>Your tenant's newest {AUDIT_SLICE} audit records (from \
         the verified log; targets are keyed digests)</caption><thead><tr>\
         <th scope=\"col\">Time (UTC)</th><th scope=\"col\">Who</th><th scope=\"col\">Action\
         </th><th scope=\"col\">Result</th><th scope=\"col\">Size</th>\
         <th scope=\"col\">Target</th></tr></thead><tbody>"
    );
    for e in &records {
        let who = match e.who.kind {
            WhoKind::ApiKey => format!("{} (key #{})", e.who.name, e.who.id),
            kind => auditlog::kind_name(kind).to_owned(),
        };
        t.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&auditlog::rfc3339_ms(e.time_ms)),
            escape(&who),
            escape(&e.action),
            e.status,
            e.size,
            e.target.map_or_else(
                || "—".to_owned(),
                |d| format!("<code>{}</code>", &auditlog::hex(&d)[..12])
            ),
        ));
    }
    t.push_str("</tbody></table>");
    Ok(t)
}

/// `POST /dashboard/sign-in`: the form's key for a session cookie.
pub(crate) async fn sign_in(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    if !same_origin(request.headers()) {
        return Err(ApiError::Forbidden(
            "A form from another site cannot sign in here",
        ));
    }
    let audit = slot(&request);
    let body = form(request).await?;
    let presented = query_param(Some(&body), "key").unwrap_or_default();
    let now = leakwatch_service::now_unix();
    let made = on_catalog(&state, "making a dashboard session", move |s| {
        dashboard::sign_in(&s.catalog, &presented, now)
    })
    .await?;
    let session = match made {
        Ok(session) => session,
        Err(why) => {
            let status = match why {
                SignInRefused::NoDashboardScope => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            let text = match why {
                SignInRefused::NoDashboardScope => {
                    "That key does not hold the dashboard scope: ask your operator for one that does."
                }
                _ => "That is not a valid API key (or it was revoked, expired or suspended).",
            };
            return Ok(sign_in_page(status, Some(text)));
        }
    };
    audit.principal(&leakwatch_service::Principal::api_key(&session.key));
    let secure = if state.tls.is_some() { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        session.token,
        dashboard::SESSION_SECS
    );
    let mut response = see_other(if session.owes_passkey {
        PASSKEY_STEP
    } else {
        "/dashboard"
    });
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok(response)
}

/// `POST /dashboard/sign-out`: ends the session (its CSRF token required).
pub(crate) async fn sign_out(
    State(state): State<Arc<AppState>>,
    Signing { token, session }: Signing,
    request: Request,
) -> Result<Response, ApiError> {
    checked_form(&session, request).await?;
    on_catalog(&state, "ending a dashboard session", move |s| {
        dashboard::sign_out(&s.catalog, &token)
    })
    .await?;
    let mut response = see_other("/dashboard");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0"
        ))
        .map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok(response)
}
