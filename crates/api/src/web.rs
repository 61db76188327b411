//! The web page, served by the same binary: `/` and its two assets, compiled in. Every
//! answer carries a Content-Security-Policy that allows nothing from elsewhere, so the page
//! cannot load a third-party script even if an injected one tried. The page itself (in
//! `web/`) talks only to this server's API. Nothing here renders data on the server.

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};

use crate::compress::{Accepts, respond};

const INDEX: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const APP_CSS: &str = include_str!("web/app.css");

/// Nothing from elsewhere; scripts, styles and requests only to this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str, accepts: Accepts) -> Response {
    let mut response = respond(content_type, body.as_bytes().to_vec(), accepts);
    let headers: &mut HeaderMap = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

pub(crate) async fn index(accepts: Accepts) -> Response {
    page("text/html; charset=utf-8", INDEX, accepts)
}

pub(crate) async fn app_js(accepts: Accepts) -> Response {
    page("text/javascript; charset=utf-8", APP_JS, accepts)
}

pub(crate) async fn app_css(accepts: Accepts) -> Response {
    page("text/css; charset=utf-8", APP_CSS, accepts)
}
