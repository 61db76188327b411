//! The web page, served by the same binary: `/` and its two assets, compiled in. Every
//! answer carries a Content-Security-Policy that allows nothing from elsewhere, so the page
//! cannot load a third-party script even if an injected one tried. The page itself (in
//! `web/`) talks only to this server's API. Nothing here renders data on the server.

use axum::response::Response;

use crate::compress::{Accepts, respond};

const INDEX: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const APP_CSS: &str = include_str!("web/app.css");
const DASHBOARD_JS: &str = include_str!("web/dashboard.js");

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
