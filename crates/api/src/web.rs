//! The web page, served by the same binary: `/` and its assets, compiled in. Every
//! answer carries a Content-Security-Policy that allows nothing from elsewhere, so the page
//! cannot load a third-party script even if an injected one tried. The page itself (in
//! `web/`) talks only to this server's API. Nothing here renders data on the server.

use axum::response::Response;

use crate::compress::{Accepts, respond};

const INDEX: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const APP_CSS: &str = include_str!("web/app.css");
const DASHBOARD_JS: &str = include_str!("web/dashboard.js");
const CHECK_LOGIN_JS: &str = include_str!("web/check-login.js");
const CREDENTIALS_JS: &str = include_str!("web/credentials.js");
const CASEFOLD_JS: &str = include_str!("web/casefold.js");
const NOBLE_OPRF_JS: &str = include_str!("web/vendor/noble-oprf.js");

fn page(content_type: &'static str, body: &'static str, accepts: Accepts) -> Response {
    let mut response = respond(content_type, body.as_bytes().to_vec(), accepts);
    crate::pages::harden(&mut response);
    response
}

pub(crate) async fn index(accepts: Accepts) -> Response {
    page("text/html; charset=utf-8", INDEX, accepts)
}

pub(crate) async fn app_js(accepts: Accepts) -> Response {
    page("text/javascript; charset=utf-8", APP_JS, accepts)
}

/// The dashboard's one script: the passkey ceremonies (`navigator.credentials`).
pub(crate) async fn dashboard_js(accepts: Accepts) -> Response {
    page("text/javascript; charset=utf-8", DASHBOARD_JS, accepts)
}

pub(crate) async fn app_css(accepts: Accepts) -> Response {
    page("text/css; charset=utf-8", APP_CSS, accepts)
}

/// The "Check a login" form's module: the private credential check in the browser.
pub(crate) async fn check_login_js(accepts: Accepts) -> Response {
    page("text/javascript; charset=utf-8", CHECK_LOGIN_JS, accepts)
}

/// The credential check's client (protocol version 1), which the form's module imports.
pub(crate) async fn credentials_js(accepts: Accepts) -> Response {
    page("text/javascript; charset=utf-8", CREDENTIALS_JS, accepts)
}

/// The case-folding table the client's username rule uses.
pub(crate) async fn casefold_js(accepts: Accepts) -> Response {
    page("text/javascript; charset=utf-8", CASEFOLD_JS, accepts)
}

/// @noble/curves' RFC 9497 OPRF and SHA-256, vendored as one ES module (vendor/README.md).
pub(crate) async fn noble_oprf_js(accepts: Accepts) -> Response {
    page("text/javascript; charset=utf-8", NOBLE_OPRF_JS, accepts)
}
