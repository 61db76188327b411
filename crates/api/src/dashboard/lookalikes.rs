//! The dashboard's Look-alikes page (issue #23, scope `lookalike`): the tenant's verified
//! domains to protect, every look-alike variant of one (dnstwist's kinds: kind, Unicode,
//! punycode), and a sender check: does this sender domain or address imitate one of them,
//! and how. A GET form (it changes nothing); the same computation as `/api/v1/lookalike`.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    extract::{RawQuery, Request, State},
    http::StatusCode,
    response::Response,
};
use leakwatch_service::{keys::Scope, lookalike};

use super::{Viewer, on_catalog, page, slot};
use crate::{ApiError, AppState, pages::escape, v3::query_param};

/// The verdict as a sentence.
fn verdict_text(sender: &str, verdict: &lookalike::Verdict) -> (String, bool) {
    match verdict {
        lookalike::Verdict::Legitimate { protected } => (
            format!("{sender} is {protected} (or a subdomain of it): legitimate."),
            false,
        ),
        lookalike::Verdict::Lookalike {
            protected,
            trick,
            distance,
        } => (
            format!(
                "{sender} imitates {protected}: {trick}{}.",
                distance.map_or_else(String::new, |d| format!(" (edit distance {d})"))
            ),
            true,
        ),
        _ => (
            format!("{sender} does not imitate any of the domains checked."),
            false,
        ),
    }
}

/// `GET /dashboard/lookalikes[?domain=D][&sender=S]`.
pub(crate) async fn page_of(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    if let Some(refused) = viewer.refusal(Scope::Lookalike, "Look-alikes") {
        return Ok(refused);
    }
    let session = &viewer.session;
    let protected = match state.operator_key.clone() {
        Some(operator) => {
            let by = session.by.clone();
            on_catalog(&state, "the domains to protect", move |s| {
                s.catalog
                    .write(|c| lookalike::protected_domains(c, &operator, &by))
            })
            .await?
        }
        None => Vec::new(),
    };
    let query = query.as_deref();
    let field = |name| {
        query_param(query, name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 253)
    };
    let (domain, sender) = (field("domain"), field("sender"));
    let ask_dns = field("registered").is_some();
    if let Some(target) = domain.as_ref().or(sender.as_ref()) {
        slot(&request).target(target);
    }
    let checked_against = domain
        .clone()
        .map_or_else(|| protected.clone(), |d| vec![d]);
    let resolver = state.dns_resolver;
    let (variants, verdict, registered) = {
        let (domain, sender) = (domain.clone(), sender.clone());
        tokio::task::spawn_blocking(move || {
            let variants = domain
                .map(|d| lookalike::variants(&d, &lookalike::Options::default()))
                .transpose();
            let verdict = sender
                .filter(|_| !checked_against.is_empty())
                .map(|s| lookalike::verdict(&s, &checked_against))
                .transpose();
            // Asked for only: a DNS lookup for every variant (hundreds to thousands).
            let registered = match (&variants, ask_dns) {
                (Ok(Some(v)), true) => Some(lookalike::registered(resolver, &v[1..])),
                _ => None,
            };
            (variants, verdict, registered)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    let mut status = StatusCode::OK;
    let mut body = String::from(
        "<section aria-labelledby=\"protect-title\"><h3 id=\"protect-title\">Domains you protect</h3>",
    );
    if protected.is_empty() {
        body.push_str("<p>No verified domain yet: verify one on the Domains page, or name any domain below.</p>");
    } else {
        body.push_str("<ul>");
        for d in &protected {
            let d = escape(d);
            body.push_str(&format!(
                "<li><a href=\"/dashboard/lookalikes?domain={d}\">{d}</a></li>"
            ));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "</section><section aria-labelledby=\"check-title\"><h3 id=\"check-title\">Check</h3>\
         <form method=\"get\" action=\"/dashboard/lookalikes\"><label for=\"la-domain\">Domain to \
         protect (empty: all of yours)</label><input id=\"la-domain\" name=\"domain\" \
         value=\"{}\" autocomplete=\"off\"><label for=\"la-sender\">Sender to check (a domain or \
         an address, optional)</label><input id=\"la-sender\" name=\"sender\" value=\"{}\" \
         autocomplete=\"off\"><div class=\"row\"><button type=\"submit\">Check</button></div>\
         </form>",
        escape(domain.as_deref().unwrap_or("")),
        escape(sender.as_deref().unwrap_or(""))
    ));
    match verdict {
        Ok(Some(v)) => {
            let (text, bad) = verdict_text(sender.as_deref().unwrap_or(""), &v);
            body.push_str(&format!(
                "<p id=\"verdict\" class=\"result{}\" role=\"status\">{}</p>",
                if bad { " bad" } else { "" },
                escape(&text)
            ));
        }
        Ok(None) if sender.is_some() => body.push_str(
            "<p id=\"verdict\" class=\"result\" role=\"status\">Name a domain to check the sender against.</p>",
        ),
        Ok(None) => {}
        Err(_) => {
            status = StatusCode::BAD_REQUEST;
            body.push_str(
                "<p class=\"result bad\" role=\"alert\">The sender is not a valid domain or address.</p>",
            );
        }
    }
    body.push_str("</section>");
    match variants {
        Ok(Some(variants)) => {
            slot(&request).size(variants.len());
            let (sections, dns_failed) = variant_sections(&variants, registered);
            if dns_failed {
                status = StatusCode::SERVICE_UNAVAILABLE;
            }
            body.push_str(&sections);
        }
        Ok(None) => {}
        Err(_) => {
            status = StatusCode::BAD_REQUEST;
            body.push_str(
                "<p class=\"result bad\" role=\"alert\">The domain to protect is not a valid domain name.</p>",
            );
        }
    }
    Ok(page(status, "Look-alikes", Some(session), &body))
}

/// The sections of a domain's variants: the registered ones (a button to look them up, the
/// lookups' outcome) and every variant by kind; and whether the DNS failed.
fn variant_sections(
    variants: &[lookalike::Variant],
    registered: Option<Result<Vec<bool>, leakwatch_service::ServiceError>>,
) -> (String, bool) {
    let mut body = String::new();
    let mut dns_failed = false;
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &variants[1..] {
        *kinds.entry(v.kind).or_default() += 1;
    }
    let escaped = escape(&variants[0].punycode);
    body.push_str(
        "<section aria-labelledby=\"registered-title\"><h3 id=\"registered-title\">\
         Registered look-alikes</h3>",
    );
    match registered {
        None => body.push_str(&format!(
            "<p>Which of them someone already holds is a DNS lookup per variant: \
             asked for only.</p><form method=\"get\" action=\"/dashboard/lookalikes\">\
             <input type=\"hidden\" name=\"domain\" value=\"{escaped}\">\
             <input type=\"hidden\" name=\"registered\" value=\"1\"><button \
             type=\"submit\">Look up which are registered</button></form>"
        )),
        Some(Err(e)) => {
            dns_failed = true;
            tracing::warn!("look-alike lookups failed: {e}");
            body.push_str(
                "<p class=\"result bad\" role=\"alert\">The DNS resolver did not answer: \
                 try again later.</p>",
            );
        }
        Some(Ok(found)) => {
            let held: Vec<&lookalike::Variant> = variants[1..]
                .iter()
                .zip(&found)
                .filter(|(_, registered)| **registered)
                .map(|(v, _)| v)
                .collect();
            if held.is_empty() {
                body.push_str(&format!(
                    "<p id=\"registered\">None of the {} variants is registered.</p>",
                    found.len()
                ));
            } else {
                body.push_str(
                    "<table id=\"registered\"><caption>Variants that have name servers \
                     or an address</caption><thead><tr><th scope=\"col\">Kind</th>\
                     <th scope=\"col\">As people read it</th><th scope=\"col\">As DNS \
                     spells it</th></tr></thead><tbody>",
                );
                for v in held {
                    body.push_str(&format!(
                        "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                        escape(v.kind),
                        escape(&v.unicode),
                        escape(&v.punycode)
                    ));
                }
                body.push_str("</tbody></table>");
            }
        }
    }
    body.push_str("</section>");
    body.push_str(&format!(
        "<section aria-labelledby=\"variants-title\"><h3 id=\"variants-title\">{} look-alikes \
         of {}</h3><p>{}</p><table id=\"variants\"><caption>Every variant, by kind</caption>\
         <thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">As people read it</th>\
         <th scope=\"col\">As DNS spells it</th></tr></thead><tbody>",
        variants.len() - 1,
        escape(&variants[0].unicode),
        kinds
            .iter()
            .map(|(k, n)| format!("{} {n}", escape(k)))
            .collect::<Vec<_>>()
            .join(" · ")
    ));
    for v in &variants[1..] {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(v.kind),
            escape(&v.unicode),
            escape(&v.punycode)
        ));
    }
    body.push_str("</tbody></table></section>");
    (body, dns_failed)
}
