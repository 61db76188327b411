//! The dashboard's Domains page (issue #23, scope `domain`): the tenant's registrations,
//! the forms that register a domain and verify it (DNS TXT record now, or a link mailed to a
//! role address), and for a verified domain its breached addresses per breach, with the
//! exposure chart and a CSV export.
//!
//! Each form is the API's own step (`crate::domains`: `register_domain`, `verify_by_dns`,
//! `verify_by_mail`, `breached_aliases`) called with the session's key as the caller, so a
//! form can do exactly what the key could do through the API, is checked by the same rules
//! (the egress guard for webhooks, the bulk watch and `domain-bulk` limit for exports) and
//! leaves the same audit record's target.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    extract::{RawQuery, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_service::{Breach, domains, keys::Scope};

use super::{Viewer, checked_form, notice, on_catalog, page, reason};
use crate::{
    ApiError, AppState,
    domains::{breached_aliases, register_domain, registration_of, verify_by_dns, verify_by_mail},
    pages::escape,
    v3::{Caller, query_param},
};

/// The caller the API would see for the session's key, writing into this request's record.
fn caller(viewer: &Viewer, request: &Request) -> Caller {
    Caller {
        key: viewer.session.key.clone(),
        by: viewer.session.by.clone(),
        audit: super::slot(request),
    }
}

/// `GET /dashboard/domains`: the tenant's domains, how to verify each, and the forms.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
) -> Result<Response, ApiError> {
    domains_page(&state, &viewer, StatusCode::OK, None).await
}

/// The Domains page, with `outcome` (a form's: its text, and whether it failed) on top.
async fn domains_page(
    state: &Arc<AppState>,
    viewer: &Viewer,
    status: StatusCode,
    outcome: Option<(&str, bool)>,
) -> Result<Response, ApiError> {
    if let Some(refused) = viewer.refusal(Scope::Domain, "Domains") {
        return Ok(refused);
    }
    let session = &viewer.session;
    let Some(operator) = state.operator_key.clone() else {
        return Ok(page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Domains",
            Some(session),
            "<p>Domains need the server's operator key.</p>",
        ));
    };
    let by = session.by.clone();
    let rows = on_catalog(state, "listing a tenant's domains", move |s| {
        s.catalog.write(|c| domains::of_tenant(c, &operator, &by))
    })
    .await?;
    let operator = state.operator_key.as_ref().expect("checked above");
    let csrf = escape(&session.csrf);
    let mut body = outcome.map_or_else(String::new, |(text, failed)| notice(text, failed));
    body.push_str(
        "<section aria-labelledby=\"domains-title\"><h3 id=\"domains-title\">Your domains</h3>",
    );
    if rows.is_empty() {
        body.push_str("<p>No domain registered yet.</p>");
    } else {
        body.push_str(
            "<table id=\"domains\"><caption>Registered domains</caption><thead><tr>\
             <th scope=\"col\">Domain</th><th scope=\"col\">Status</th>\
             <th scope=\"col\">Alerts go to</th><th scope=\"col\">Next</th></tr></thead><tbody>",
        );
        for r in &rows {
            let domain = escape(&r.domain);
            let alerts = match &r.webhook {
                Some(hook) => format!(
                    "{} and the webhook <code>{}</code>",
                    escape(&r.contact),
                    escape(&hook.url)
                ),
                None => escape(&r.contact),
            };
            let (state_cell, next) = match r.verified {
                Some(at) => (
                    format!(
                        "verified {}",
                        escape(&leakwatch_service::format_date_time(at)[..10])
                    ),
                    format!(
                        "<a href=\"/dashboard/domains/breaches?domain={domain}\">Breached \
                         addresses</a> · <a href=\"/dashboard/domains/export?domain={domain}\" \
                         download>CSV</a>"
                    ),
                ),
                None => {
                    let record = escape(&domains::dns_token(operator, &r.tenant, &r.domain));
                    let roles: String = domains::ROLE_ADDRESSES
                        .iter()
                        .map(|role| format!("<option>{}@{domain}</option>", escape(role)))
                        .collect();
                    (
                        "not verified".to_owned(),
                        format!(
                            "<p>Publish this TXT record on {domain}: <code>{record}</code></p>\
                             <form method=\"post\" action=\"/dashboard/domains/verify\">\
                             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                             <input type=\"hidden\" name=\"domain\" value=\"{domain}\">\
                             <input type=\"hidden\" name=\"method\" value=\"dns\">\
                             <button type=\"submit\">Check the TXT record of {domain}</button>\
                             </form><form method=\"post\" action=\"/dashboard/domains/verify\">\
                             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                             <input type=\"hidden\" name=\"domain\" value=\"{domain}\">\
                             <input type=\"hidden\" name=\"method\" value=\"mail\">\
                             <label for=\"role-{domain}\">Or mail a link to</label>\
                             <div class=\"row\"><select id=\"role-{domain}\" name=\"address\">\
                             {roles}</select><button type=\"submit\">Mail the link</button>\
                             </div></form>"
                        ),
                    )
                }
            };
            body.push_str(&format!(
                "<tr><td>{domain}</td><td>{state_cell}</td><td>{alerts}</td><td>{next}</td></tr>"
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str(&format!(
        "</section><section aria-labelledby=\"register-title\"><h3 id=\"register-title\">\
         Register a domain</h3><p>Alerts about a verified domain go to its contact, and to a \
         webhook if you give one (signed with its secret).</p>\
         <form method=\"post\" action=\"/dashboard/domains\" id=\"register\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"reg-domain\">Domain</label><input id=\"reg-domain\" name=\"domain\" \
         required autocomplete=\"off\">\
         <label for=\"reg-contact\">Alert contact (e-mail)</label><input id=\"reg-contact\" \
         name=\"contact\" type=\"email\" required autocomplete=\"email\">\
         <label for=\"reg-webhook\">Webhook URL (optional)</label><input id=\"reg-webhook\" \
         name=\"webhook_url\" type=\"url\" autocomplete=\"off\">\
         <label for=\"reg-secret\">Webhook secret (optional)</label><input id=\"reg-secret\" \
         name=\"webhook_secret\" type=\"password\" autocomplete=\"off\">\
         <div class=\"row\"><button type=\"submit\">Register</button></div></form></section>"
    ));
    Ok(page(status, "Domains", Some(session), &body))
}

/// `POST /dashboard/domains`: the registration form (its CSRF token required).
pub(crate) async fn register(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    request: Request,
) -> Result<Response, ApiError> {
    let caller = caller(&viewer, &request);
    let form = checked_form(&viewer.session, request).await?;
    let field = |name| query_param(Some(&form), name).unwrap_or_default();
    let webhook = match (field("webhook_url"), field("webhook_secret")) {
        (url, _) if url.trim().is_empty() => None,
        (url, secret) => Some(domains::Webhook {
            url: url.trim().to_owned(),
            secret,
        }),
    };
    let outcome = match caller.by.require(Scope::Domain) {
        Err(_) => Err(ApiError::Forbidden(
            "This key does not hold the domain scope",
        )),
        Ok(()) => {
            register_domain(
                &state,
                &caller,
                &field("domain"),
                &field("contact"),
                webhook,
            )
            .await
        }
    };
    match outcome {
        Ok((domain, verified)) => {
            let text = if verified {
                format!("{domain} is registered and verified.")
            } else {
                format!("{domain} is registered: verify it below.")
            };
            domains_page(&state, &viewer, StatusCode::OK, Some((&text, false))).await
        }
        Err(e) => {
            let (status, why) = reason(e).await;
            domains_page(&state, &viewer, status, Some((&why, true))).await
        }
    }
}

/// `POST /dashboard/domains/verify`: `method=dns` looks the TXT record up now,
/// `method=mail&address=` mails a link to a role address (CSRF token required).
pub(crate) async fn verify(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    request: Request,
) -> Result<Response, ApiError> {
    let caller = caller(&viewer, &request);
    let form = checked_form(&viewer.session, request).await?;
    let field = |name| query_param(Some(&form), name).unwrap_or_default();
    let domain = field("domain");
    caller.audit.target(&domain);
    let outcome = async {
        caller
            .by
            .require(Scope::Domain)
            .map_err(|_| ApiError::Forbidden("This key does not hold the domain scope"))?;
        let domain = crate::domains::normalize(&domain)?;
        let row = registration_of(&state, &caller, &domain).await?;
        match field("method").as_str() {
            "dns" => {
                verify_by_dns(&state, &caller, row).await?;
                Ok(format!("{domain} is verified."))
            }
            "mail" => {
                verify_by_mail(state.clone(), &caller, row, &field("address"), "queued").await?;
                Ok(format!(
                    "A verification link is on its way to {}.",
                    field("address")
                ))
            }
            _ => Err(ApiError::BadRequest("Choose DNS or mail")),
        }
    }
    .await;
    match outcome {
        Ok(text) => domains_page(&state, &viewer, StatusCode::OK, Some((&text, false))).await,
        Err(e) => {
            let (status, why) = reason(e).await;
            domains_page(&state, &viewer, status, Some((&why, true))).await
        }
    }
}

/// One breach of a domain's exposure: the breach and the aliases of the domain in it.
struct Exposure<'a> {
    breach: &'a Breach,
    aliases: Vec<&'a str>,
}

/// The breaches `found` (alias → breach names) names, oldest first, each with its aliases.
fn by_breach<'a>(
    found: &'a BTreeMap<String, Vec<String>>,
    breaches: &'a [Breach],
) -> Vec<Exposure<'a>> {
    let mut out: Vec<Exposure<'a>> = breaches
        .iter()
        .filter_map(|b| {
            let aliases: Vec<&str> = found
                .iter()
                .filter(|(_, names)| names.contains(&b.name))
                .map(|(alias, _)| alias.as_str())
                .collect();
            (!aliases.is_empty()).then_some(Exposure { breach: b, aliases })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.breach.breach_date.as_str(), a.breach.name.as_str())
            .cmp(&(b.breach.breach_date.as_str(), b.breach.name.as_str()))
    });
    out
}

/// Exposure per breach over time: one bar per breach at its date, as tall as the number of
/// the domain's addresses in it (inline SVG, with the numbers as text too).
fn exposure_chart(domain: &str, rows: &[Exposure<'_>]) -> String {
    let (width, height, left, bottom) = (640usize, 220usize, 40usize, 40usize);
    let max = rows
        .iter()
        .map(|r| r.aliases.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let slot = (width - left) / rows.len().max(1);
    let bar = (slot * 2 / 3).clamp(4, 60);
    let mut svg = format!(
        "<figure class=\"timeline\"><svg role=\"img\" aria-labelledby=\"exposure-title\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\"><title id=\"exposure-title\">\
         Addresses of {} exposed per breach, by breach date</title>",
        escape(domain)
    );
    for (i, r) in rows.iter().enumerate() {
        let h = ((height - bottom - 20) * r.aliases.len() / max).max(2);
        let x = left + i * slot + (slot - bar) / 2;
        let y = height - bottom - h;
        svg.push_str(&format!(
            "<rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\"><title>{}: {} \
             address(es), {}</title></rect><text x=\"{}\" y=\"{}\">{}</text>\
             <text x=\"{x}\" y=\"{}\">{}</text>",
            escape(&r.breach.title),
            r.aliases.len(),
            escape(&r.breach.breach_date),
            x,
            y.saturating_sub(4),
            r.aliases.len(),
            height - bottom + 16,
            escape(
                r.breach
                    .breach_date
                    .get(..7)
                    .unwrap_or(&r.breach.breach_date)
            ),
        ));
    }
    svg.push_str(
        "</svg><figcaption>Your addresses exposed per breach, by the date of the breach.\
         </figcaption></figure>",
    );
    svg
}

/// The domain a breaches page or export asks for, its aliases and the live breaches.
async fn exposure(
    state: &Arc<AppState>,
    caller: &Caller,
    query: Option<&str>,
) -> Result<(String, BTreeMap<String, Vec<String>>, Vec<Breach>), ApiError> {
    let domain = query_param(query, "domain").unwrap_or_default();
    caller
        .by
        .require(Scope::Domain)
        .map_err(|_| ApiError::Forbidden("This key does not hold the domain scope"))?;
    let found = breached_aliases(state, caller, &domain).await?;
    let domain = crate::domains::normalize(&domain)?;
    let breaches = state
        .catalog
        .breaches()
        .iter()
        .filter(|b| !b.is_retired)
        .cloned()
        .collect();
    Ok((domain, found, breaches))
}

/// `GET /dashboard/domains/breaches?domain=`: the verified domain's breached addresses per
/// breach (data classes, dates) and the exposure chart.
pub(crate) async fn breaches(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let caller = caller(&viewer, &request);
    let (domain, found, breaches) = match exposure(&state, &caller, query.as_deref()).await {
        Ok(found) => found,
        Err(e) => {
            let (status, why) = reason(e).await;
            return domains_page(&state, &viewer, status, Some((&why, true))).await;
        }
    };
    let rows = by_breach(&found, &breaches);
    let escaped = escape(&domain);
    let mut body = format!(
        "<p>{} address(es) of <strong>{escaped}</strong> in {} breach(es). \
         <a href=\"/dashboard/domains/export?domain={escaped}\" download>Download as CSV</a> · \
         <a href=\"/dashboard/domains\">All domains</a></p>",
        found.len(),
        rows.len()
    );
    if rows.is_empty() {
        body.push_str("<p>None of its addresses is in a breach.</p>");
    } else {
        body.push_str(&exposure_chart(&domain, &rows));
        body.push_str(
            "<table id=\"exposure\"><caption>Breached addresses per breach</caption><thead><tr>\
             <th scope=\"col\">Breach</th><th scope=\"col\">Breach date</th>\
             <th scope=\"col\">Data classes</th><th scope=\"col\">Addresses</th></tr></thead>\
             <tbody>",
        );
        for r in &rows {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.breach.title),
                escape(&r.breach.breach_date),
                escape(&r.breach.data_classes.join(", ")),
                r.aliases
                    .iter()
                    .map(|a| format!("{}@{escaped}", escape(a)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        body.push_str("</tbody></table>");
    }
    Ok(page(
        StatusCode::OK,
        &format!("Breached addresses of {domain}"),
        Some(&viewer.session),
        &body,
    ))
}

/// A CSV field: quoted, quotes doubled, and a leading `=`, `+`, `-`, `@`, tab or carriage
/// return defused with `'` so a spreadsheet does not run it as a formula.
fn csv_field(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

/// `GET /dashboard/domains/export?domain=`: the same as CSV, one row per address and
/// breach: `address,alias,breach,title,breach_date,added_date,data_classes`.
pub(crate) async fn export(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let caller = caller(&viewer, &request);
    let (domain, found, breaches) = exposure(&state, &caller, query.as_deref()).await?;
    let mut csv =
        String::from("address,alias,breach,title,breach_date,added_date,data_classes\r\n");
    for r in by_breach(&found, &breaches) {
        for alias in &r.aliases {
            let row = [
                format!("{alias}@{domain}"),
                (*alias).to_owned(),
                r.breach.name.clone(),
                r.breach.title.clone(),
                r.breach.breach_date.clone(),
                r.breach.added_date.clone(),
                r.breach.data_classes.join("; "),
            ];
            csv.push_str(
                &row.iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            csv.push_str("\r\n");
        }
    }
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        csv,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"breached-{}.csv\"",
        domain.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
            "_"
        )
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        for (value, expected) in [
            ("ann", "\"ann\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("=cmd()", "\"'=cmd()\""),
            ("+1", "\"'+1\""),
            ("-2", "\"'-2\""),
            ("@x", "\"'@x\""),
            ("a,b", "\"a,b\""),
        ] {
            assert_eq!(csv_field(value), expected, "{value}");
        }
    }
}
