//! leakwatch's HTTP server: the HIBP-compatible Pwned Passwords range API, the HIBP v3
//! breach catalogue and account endpoints, health and metrics.
//!
//! [`app`] builds the whole router from an [`AppState`], so tests drive it in-process, and
//! [`serve`] runs it on a listener with the connection limits (see [`server`]). One route
//! table; every route is timed and counted by one layer, and handlers compress their own
//! large answers ([`compress`]). Errors are [`ApiError`]s, which map to a status and a
//! one-line plain-text reason and never reveal internals.
//! Query values (prefixes, accounts) are never logged.

mod account;
mod answer_tier;
mod audited;
mod check_mail;
mod compress;
mod credentials;
mod dashboard;
mod demo;
mod domains;
mod error;
mod hexflate;
mod lookalike;
mod metrics;
mod outbox;
mod padding;
mod pages;
mod pastes;
pub mod proxy_protocol;
mod range;
mod range_cache;
mod server;
mod state;
mod stealer;
mod subscribe;
mod v3;
mod vendors;
mod web;

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{MethodRouter, any, delete, get, post},
};

pub use answer_tier::{AnswerCodings, AnswerTier};
pub use check_mail::{CheckLimits, MailSetup};
pub use error::ApiError;
pub use server::{serve, tls_config};
/// A TLS configuration for [`serve`] (rustls), made by [`tls_config`].
pub type TlsConfig = tokio_rustls::rustls::ServerConfig;
pub use range_cache::{DEFAULT_BUDGET as DEFAULT_RANGE_CACHE, RangeCache};
pub use state::{AppState, DEFAULT_CREDENTIAL_PAGE_CHECKS, ServerLimits};

/// What `examples/range_codings.rs` times (BENCHMARKS.md, #20) and
/// `fuzz/fuzz_targets/range_codings.rs` checks; not an interface.
#[doc(hidden)]
pub mod bench_support {
    use std::io::Read;

    use crate::hexflate::{self, Loop};

    /// The range code's literal loops this processor runs, by name, the table's first.
    pub fn literal_loops() -> Vec<&'static str> {
        Loop::ALL
            .iter()
            .filter(|l| l.available())
            .map(|l| name(*l))
            .collect()
    }

    fn name(lp: Loop) -> &'static str {
        match lp {
            Loop::Table => "table",
            #[cfg(target_arch = "x86_64")]
            Loop::Ssse3 => "ssse3",
            #[cfg(target_arch = "x86_64")]
            Loop::Avx2 => "avx2",
        }
    }

    /// `body`'s literal codes through the loop named `lp` (one of [`literal_loops`]);
    /// `None` for text the code does not hold or a loop not run here.
    pub fn literal_codes(body: &[u8], lp: &str) -> Option<Vec<u8>> {
        let lp = *Loop::ALL
            .iter()
            .find(|l| name(**l) == lp && l.available())?;
        hexflate::literal_codes(body, lp)
    }

    /// Checks the range code on `body`: every literal loop writes the table loop's bytes and
    /// takes exactly the bodies of range text's alphabet; a gzip member and a brotli stream of
    /// such a body decode back to it through flate2 and the brotli crate (independent
    /// decoders); any other body gets neither. The error says which part failed.
    pub fn check_range_codings(body: &[u8]) -> Result<(), String> {
        let in_code = body.iter().all(|b| b"0123456789ABCDEF:\r\n".contains(b));
        let table = hexflate::literal_codes(body, Loop::Table);
        if table.is_some() != in_code {
            return Err(format!("the table loop held {}: wrong", table.is_some()));
        }
        for lp in Loop::ALL.iter().filter(|l| l.available()) {
            if hexflate::literal_codes(body, *lp) != table {
                return Err(format!("{lp:?} wrote other bytes than the table loop"));
            }
        }
        let gzip = hexflate::gzip(body);
        let brotli = hexflate::brotli(body);
        // One brotli meta-block holds at most 16 MiB: a longer body goes to the general encoder.
        let brotli_holds = in_code && body.len() <= 1 << 24;
        if gzip.is_some() != in_code || brotli.is_some() != brotli_holds {
            return Err("gzip or brotli took a body outside the code, or refused one in it".into());
        }
        let (Some(gzip), Some(brotli)) = (gzip, brotli) else {
            return Ok(());
        };
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_end(&mut back)
            .map_err(|e| format!("gzip does not decode: {e}"))?;
        if back != body {
            return Err("gzip decodes to other bytes".into());
        }
        back.clear();
        brotli::Decompressor::new(&brotli[..], 4096)
            .read_to_end(&mut back)
            .map_err(|e| format!("brotli does not decode: {e}"))?;
        if back != body {
            return Err("brotli decodes to other bytes".into());
        }
        Ok(())
    }

    /// `body` as the server sends range text in gzip and in brotli.
    pub fn range_gzip(body: &[u8]) -> Option<Vec<u8>> {
        hexflate::gzip(body)
    }
    pub fn range_brotli(body: &[u8]) -> Option<Vec<u8>> {
        hexflate::brotli(body)
    }
}

use compress::{Accepts, respond};
use leakwatch_service::keys::Scope;

/// The router serving every endpoint.
///
/// Every route, and the fallback that answers 404, is timed and counted by
/// [`metrics::Track`]; a keyed route also carries the access it declares in the route
/// table, which the [`v3::Caller`] extractor enforces. There is no per-request timeout or
/// concurrency limit: every handler runs from request to answer without an await point, so a
/// timeout could never fire and a runtime thread holds one request at a time; slow and
/// surplus clients are cut off per connection by [`serve`] instead. Handlers compress their
/// own answers: tower-http's layer cost the range route a third of its throughput.
pub fn app(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for (path, access, handler) in route_table() {
        let handler = match access {
            Access::Public => handler,
            Access::Key(scope) => handler.layer(axum::Extension(v3::Declared(scope))).layer(
                axum::middleware::from_fn_with_state(state.clone(), audited::record),
            ),
            Access::Dashboard => handler.layer(axum::middleware::from_fn_with_state(
                state.clone(),
                audited::record,
            )),
        };
        router = router.route(
            path,
            handler.layer(state.metrics.track(path, state.access_log)),
        );
    }
    let not_found: MethodRouter<Arc<AppState>> = any(|| async { ApiError::NotFound })
        .layer(state.metrics.track("unmatched", state.access_log));
    router
        .fallback_service(not_found.with_state(state.clone()))
        .with_state(state)
}

/// The router of the metrics listener: `GET /metrics` (Prometheus text) and nothing else.
/// It is not on the public listener (`serve --metrics-listen`, loopback by default): request
/// counts, store size and the outbox are for the operator's monitoring, not for the world.
pub fn metrics_app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::render))
        .with_state(state)
}

/// Serves [`metrics_app`] on `listener` until the process ends.
pub async fn serve_metrics(listener: tokio::net::TcpListener, state: Arc<AppState>) {
    if let Err(e) = axum::serve(listener, metrics_app(state)).await {
        tracing::error!("the metrics listener stopped: {e}");
    }
}

/// Who may call a route, as the route table declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Anyone (the page, the range API, the breach catalogue, links from mails).
    Public,
    /// A valid API key holding this scope (none: any valid key).
    Key(Option<Scope>),
    /// The dashboard: a session made from a key with the `dashboard` scope (or the form
    /// that makes one); each page checks the scope of what it shows. Audited like keys.
    Dashboard,
}

/// Every route's path template and declared access, as [`app`] serves them.
pub fn route_access() -> Vec<(&'static str, Access)> {
    route_table()
        .into_iter()
        .map(|(path, access, _)| (path, access))
        .collect()
}

/// The Pwned Passwords range route.
const RANGE_ROUTE: &str = "/range/{prefix}";

/// Every route: its path template, who may call it, and its handler. [`app`] builds the
/// router from this list, and a test checks that `/openapi.json` documents exactly these
/// paths. Every `/api/v3` handler takes `v3::UserAgent` or `v3::Caller` as its first argument,
/// so the user agent is checked first (403), then the key (401), its scope (403) and its rate
/// (429), as HIBP does, before anything else is read. A handler that takes `Caller` on a
/// route declared public answers 500: a test calls every route.
fn route_table() -> Vec<(&'static str, Access, MethodRouter<Arc<AppState>>)> {
    use Access::{Key, Public};
    vec![
        ("/", Public, get(web::index)),
        ("/assets/app.js", Public, get(web::app_js)),
        ("/assets/app.css", Public, get(web::app_css)),
        ("/assets/dashboard.js", Public, get(web::dashboard_js)),
        ("/assets/check-login.js", Public, get(web::check_login_js)),
        ("/assets/credentials.js", Public, get(web::credentials_js)),
        ("/assets/casefold.js", Public, get(web::casefold_js)),
        (
            "/assets/vendor/noble-oprf.js",
            Public,
            get(web::noble_oprf_js),
        ),
        (RANGE_ROUTE, Public, get(range::range)),
        ("/healthz", Public, get(|| async { "ok\n" })),
        ("/demo/mailbox", Public, get(demo::mailbox)),
        ("/readyz", Public, get(readyz)),
        ("/openapi.json", Public, get(openapi)),
        ("/api/v3/breaches", Public, get(v3::breaches)),
        ("/api/v3/breach/{name}", Public, get(v3::breach)),
        ("/api/v3/latestbreach", Public, get(v3::latest_breach)),
        ("/api/v3/dataclasses", Public, get(v3::data_classes)),
        (
            "/api/v3/subscription/status",
            Key(None),
            get(v3::subscription_status),
        ),
        (
            "/api/v3/breachedaccount/{account}",
            Key(Some(Scope::Account)),
            get(account::breached_account),
        ),
        (
            "/api/v3/breachedaccount/range/{prefix}",
            Key(Some(Scope::AccountRange)),
            get(account::breached_account_range),
        ),
        (
            "/api/v1/check-by-mail",
            Public,
            post(check_mail::check_by_mail),
        ),
        ("/api/v1/subscriptions", Public, post(subscribe::subscribe)),
        (
            "/api/v1/subscriptions/confirm",
            Public,
            get(subscribe::confirm),
        ),
        ("/api/v1/opt-out", Public, post(subscribe::opt_out)),
        (
            "/api/v1/opt-out/confirm",
            Public,
            get(subscribe::opt_out_page).post(subscribe::opt_out_confirm),
        ),
        (
            "/api/v1/unsubscribe",
            Public,
            get(subscribe::unsubscribe_page).post(subscribe::unsubscribe),
        ),
        (
            "/api/v1/domains",
            Key(Some(Scope::Domain)),
            post(domains::register),
        ),
        (
            "/api/v1/domains/{domain}/verify",
            Key(Some(Scope::Domain)),
            post(domains::verify),
        ),
        (
            "/api/v1/domains/verify",
            Public,
            get(domains::verify_page).post(domains::verify_by_link),
        ),
        (
            "/api/v3/breacheddomain/{domain}",
            Key(Some(Scope::Domain)),
            get(domains::breached_domain),
        ),
        (
            "/api/v3/stealerlogsbyemail/{email}",
            Key(Some(Scope::StealerLogs)),
            get(stealer::by_email),
        ),
        (
            "/api/v3/stealerlogsbywebsitedomain/{domain}",
            Key(Some(Scope::StealerLogs)),
            get(stealer::by_website_domain),
        ),
        (
            "/api/v3/stealerlogsbyemaildomain/{domain}",
            Key(Some(Scope::StealerLogs)),
            get(stealer::by_email_domain),
        ),
        (
            "/api/v3/pasteaccount/{email}",
            Key(Some(Scope::Pastes)),
            get(pastes::paste_account),
        ),
        (
            "/api/v3/subscribeddomains",
            Key(Some(Scope::Domain)),
            get(domains::subscribed_domains),
        ),
        (
            "/api/v1/lookalike",
            Key(Some(Scope::Lookalike)),
            get(lookalike::lookalike),
        ),
        (
            "/api/v1/vendors",
            Key(Some(Scope::Vendors)),
            get(vendors::list).post(vendors::put),
        ),
        (
            "/api/v1/vendors/{name}",
            Key(Some(Scope::Vendors)),
            delete(vendors::remove),
        ),
        (
            "/api/v1/vendors/impact/{breach}",
            Key(Some(Scope::Vendors)),
            get(vendors::impact),
        ),
        (
            "/api/v1/credentials/check",
            Key(Some(Scope::Credentials)),
            post(credentials::check),
        ),
        (
            "/api/v1/credentials/page-check",
            Public,
            post(credentials::page_check),
        ),
        (
            "/api/v1/vendor-owner/confirm",
            Public,
            get(vendors::owner_page).post(vendors::owner_confirm),
        ),
    ]
    .into_iter()
    .chain(dashboard_routes())
    .collect()
}

/// The dashboard's part of the route table (see [`route_table`]).
fn dashboard_routes() -> Vec<(&'static str, Access, MethodRouter<Arc<AppState>>)> {
    vec![
        ("/dashboard", Access::Dashboard, get(dashboard::home)),
        (
            "/dashboard/sign-in",
            Access::Dashboard,
            post(dashboard::sign_in),
        ),
        (
            "/dashboard/sign-out",
            Access::Dashboard,
            post(dashboard::sign_out),
        ),
        (
            "/dashboard/activity",
            Access::Dashboard,
            get(dashboard::activity),
        ),
        (
            "/dashboard/vendors",
            Access::Dashboard,
            get(dashboard::vendors::list).post(dashboard::vendors::save),
        ),
        (
            "/dashboard/lookalikes",
            Access::Dashboard,
            get(dashboard::lookalikes::page_of),
        ),
        (
            "/dashboard/vendors/remove",
            Access::Dashboard,
            post(dashboard::vendors::remove),
        ),
        (
            "/dashboard/vendors/import",
            Access::Dashboard,
            post(dashboard::vendors::import),
        ),
        (
            "/dashboard/vendors/report",
            Access::Dashboard,
            get(dashboard::vendors::report),
        ),
        (
            "/dashboard/domains",
            Access::Dashboard,
            get(dashboard::domains::list).post(dashboard::domains::register),
        ),
        (
            "/dashboard/domains/verify",
            Access::Dashboard,
            post(dashboard::domains::verify),
        ),
        (
            "/dashboard/domains/breaches",
            Access::Dashboard,
            get(dashboard::domains::breaches),
        ),
        (
            "/dashboard/domains/export",
            Access::Dashboard,
            get(dashboard::domains::export),
        ),
        (
            "/dashboard/passkey",
            Access::Dashboard,
            get(dashboard::passkeys::second_factor),
        ),
        (
            "/dashboard/passkey/challenge",
            Access::Dashboard,
            post(dashboard::passkeys::sign_in_challenge),
        ),
        (
            "/dashboard/passkey/verify",
            Access::Dashboard,
            post(dashboard::passkeys::sign_in_verify),
        ),
        (
            "/dashboard/passkeys",
            Access::Dashboard,
            get(dashboard::passkeys::list),
        ),
        (
            "/dashboard/passkeys/options",
            Access::Dashboard,
            post(dashboard::passkeys::enrol_options),
        ),
        (
            "/dashboard/passkeys/enrol",
            Access::Dashboard,
            post(dashboard::passkeys::enrol),
        ),
        (
            "/dashboard/passkeys/remove",
            Access::Dashboard,
            post(dashboard::passkeys::remove),
        ),
    ]
}

/// The OpenAPI 3.1 description of every endpoint.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi(accepts: Accepts) -> Response {
    respond(
        "application/json; charset=utf-8",
        OPENAPI.as_bytes().to_vec(),
        accepts,
    )
}

/// Why a replica of an object store that has no generation local yet answers 503.
pub(crate) const NOT_READY: &str = "This server is still downloading the store; try again shortly";

/// Ready once an import has published a generation and this server has it: a load balancer
/// sends no traffic to a server that would answer every range "never leaked".
async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if !state.store.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the first generation is still downloading\n".to_owned(),
        );
    }
    match state.store.snapshot().generation() {
        0 => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: nothing is published yet (import data first)\n".to_owned(),
        ),
        generation => (StatusCode::OK, format!("ready: generation {generation}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_documents_exactly_the_routes_served() {
        let spec: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(spec["openapi"], "3.1.0");
        let mut documented: Vec<String> =
            spec["paths"].as_object().unwrap().keys().cloned().collect();
        let mut served: Vec<String> = route_table()
            .into_iter()
            .map(|(p, _, _)| p.to_owned())
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
        for (path, item) in spec["paths"].as_object().unwrap() {
            let op = ["post", "get", "delete"]
                .iter()
                .map(|m| &item[*m])
                .find(|op| op.is_object())
                .unwrap_or_else(|| panic!("{path}: no operation"));
            let responses = op["responses"].as_object();
            assert!(
                op["summary"].is_string()
                    // A form's POST succeeds with 303 See Other (the dashboard's sign-in).
                    && responses.is_some_and(|r| {
                        r.keys()
                            .any(|code| code.starts_with('2') || code == "303")
                    }),
                "{path}"
            );
            for param in path
                .split('{')
                .skip(1)
                .map(|p| p.split('}').next().unwrap())
            {
                let declared = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == param && p["in"] == "path");
                assert!(declared, "{path}: path parameter {param} undeclared");
            }
        }
    }
}
