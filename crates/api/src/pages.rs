//! The small HTML pages people reach from links in mails (confirm, unsubscribe, opt-out,
//! domain verification) and the headers every HTML answer carries: the strict
//! Content-Security-Policy (nothing from elsewhere, forms only to this origin),
//! `Referrer-Policy: no-referrer` (a link's token never leaves in a Referer), no framing,
//! no sniffing. A page that acts does so only from its button (a POST): a mail scanner that
//! follows every link changes nothing.

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::ApiError;

/// The body of a page's form POST (`application/x-www-form-urlencoded`, at most 8 KiB), to
/// read fields from with `v3::query_param`.
pub(crate) async fn form(request: Request) -> Result<String, ApiError> {
    form_up_to(request, 8 * 1024).await
}

/// A form's body of up to `limit` bytes (413 beyond).
pub(crate) async fn form_up_to(request: Request, limit: usize) -> Result<String, ApiError> {
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::TooLarge("The form is larger than this server accepts"))?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Nothing from elsewhere; scripts, styles and requests only to this origin.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// Puts the headers every HTML answer carries on `response`.
pub(crate) fn harden(response: &mut Response) {
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
}

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A page with a title and `body_html` (already escaped), answered with `status`.
pub(crate) fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} · leakwatch</title><main><h1>{}</h1>{body_html}<p><a href=\"/\">leakwatch</a></p></main></html>\n",
            escape(title),
            escape(title)
        ),
    )
        .into_response();
    harden(&mut response);
    response
}

/// A page saying what happened, in one paragraph of plain text.
pub(crate) fn done(title: &str, text: &str) -> Response {
    page(StatusCode::OK, title, &format!("<p>{}</p>", escape(text)))
}

/// A page that explains (`text_html`, already escaped) and acts only from its button: a form
/// that POSTs `token` to `action`.
pub(crate) fn confirm(
    title: &str,
    text_html: &str,
    action: &str,
    token: &str,
    button: &str,
) -> Response {
    page(
        StatusCode::OK,
        title,
        &format!(
            "{text_html}<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">{}</button></form>",
            escape(action),
            escape(token),
            escape(button)
        ),
    )
}
