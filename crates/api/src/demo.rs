//! `/demo/mailbox`: the mail `leakwatch demo` delivered into its Maildir, newest first, so
//! that "Mail me the result", alerts and impact reports visibly work without a mail server.
//!
//! Served only when the server runs as the demo ([`crate::AppState::demo_mailbox`]) and only
//! to a client on loopback: the mailbox holds every demo recipient's address and result,
//! which a real deployment mails to each person alone. Anywhere else the route answers 404,
//! as if it did not exist.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{ApiError, AppState, pages::escape};

/// The most messages the page shows.
const SHOWN: usize = 200;

pub(crate) async fn mailbox(
    State(state): State<std::sync::Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let dir = state.demo_mailbox.as_ref().ok_or(ApiError::NotFound)?;
    let on_loopback = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    if !on_loopback {
        return Err(ApiError::NotFound);
    }
    // Files on disk: read off the async threads, as every handler that touches the disk does.
    let dir = dir.clone();
    let messages =
        tokio::task::spawn_blocking(move || leakwatch_service::mail::maildir::read(&dir, SHOWN))
            .await
            .map_err(|e| ApiError::Internal(format!("reading the demo mailbox: {e}")))?
            .map_err(|e| ApiError::Internal(format!("reading the demo mailbox: {e}")))?;
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Demo mailbox · leakwatch</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body>\
         <header><h1>Demo mailbox</h1><p class=\"lead\">Every mail the demo sent, newest \
         first. Only the demo keeps a copy: a real server hands each mail to its SMTP server \
         for one recipient.</p><nav aria-label=\"Sections\"><ul><li><a href=\"/\">The public \
         page</a></li></ul></nav></header><main id=\"main\">",
    );
    if messages.is_empty() {
        html.push_str(
            "<p id=\"empty\">No mail yet. Try “Mail me the result” on the public page.</p>",
        );
    } else {
        html.push_str(&format!(
            "<p>{} message{}.</p><ol class=\"mailbox\">",
            messages.len(),
            if messages.len() == 1 { "" } else { "s" }
        ));
        for m in &messages {
            let when = httpdate::fmt_http_date(m.delivered);
            html.push_str(&format!(
                "<li><article><h2>{}</h2><p class=\"meta\">To {} · {}</p><pre>{}</pre></article></li>",
                escape(&m.subject),
                escape(&m.to),
                escape(&when),
                escape(&m.text)
            ));
        }
        html.push_str("</ol>");
    }
    html.push_str("</main></body></html>\n");
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    crate::pages::harden(&mut response);
    Ok(response)
}
