//! The dashboard's Vendors page (issue #23, scope `vendors`): the impact ranking of every
//! live breach that reaches a vendor of the tenant (risk, exposed classes, the tenant's
//! addresses in it, recommended actions, a vendors-by-risk chart, a printable report per
//! breach), and the inventory with its forms: add or edit a vendor, remove one, import a
//! whole inventory as CSV (the format `leakwatch vendors export --format csv` writes).
//!
//! The forms call the same service steps as `/api/v1/vendors` and the CLI (`vendors::put`,
//! `remove`, `replace_all`, `parse_csv`) under the session's key, so an owner address off the
//! tenant's verified domains gets a confirmation link before any report, here as there.

use std::sync::Arc;

use axum::{
    extract::{RawQuery, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use leakwatch_service::{
    impact::ImpactReport,
    keys::Scope,
    vendors::{self, Vendor},
};

use super::{Viewer, checked_form_up_to, notice, on_catalog, page, reason, slot};
use crate::{ApiError, AppState, pages::escape, v3::query_param};

/// The largest inventory a CSV import may be.
const MAX_IMPORT: usize = 256 * 1024;

/// One row of the impact ranking: a vendor hit by a breach.
struct Ranked {
    vendor: String,
    breach: String,
    breach_name: String,
    risk: f32,
    exposed: Vec<String>,
    addresses: u64,
    actions: Vec<String>,
}

/// The ranking of every report, riskiest first.
fn ranking(reports: &[ImpactReport]) -> Vec<Ranked> {
    let mut rows: Vec<Ranked> = reports
        .iter()
        .flat_map(|r| {
            let addresses = r.your_domains.iter().map(|d| d.addresses).sum();
            r.vendors.iter().map(move |v| Ranked {
                vendor: v.vendor.clone(),
                breach: r.breach.title.clone(),
                breach_name: r.breach.name.clone(),
                risk: v.risk,
                exposed: v.exposed_classes.clone(),
                addresses,
                actions: v.actions.clone(),
            })
        })
        .collect();
    rows.sort_by(|a, b| b.risk.total_cmp(&a.risk).then(a.vendor.cmp(&b.vendor)));
    rows
}

/// Vendors by risk as an inline SVG bar chart (no script, allowed by the strict CSP), with
/// its numbers in text as well for those who do not see it.
fn risk_chart(rows: &[Ranked]) -> String {
    let max = rows.iter().map(|r| r.risk).fold(1.0f32, f32::max);
    let (bar_h, label_w, width) = (22, 260, 640);
    let mut svg = format!(
        "<figure class=\"timeline\"><svg role=\"img\" aria-labelledby=\"risk-chart-title\" \
         viewBox=\"0 0 {width} {}\" width=\"{width}\"><title id=\"risk-chart-title\">Vendors by \
         risk</title>",
        rows.len() * bar_h + 4
    );
    for (i, r) in rows.iter().enumerate() {
        let y = i * bar_h + 2;
        let w = ((width - label_w - 50) as f32 * r.risk / max).max(2.0);
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{}\">{} · {}</text><rect class=\"bar\" x=\"{label_w}\" \
             y=\"{}\" width=\"{w:.0}\" height=\"{}\"></rect><text x=\"{:.0}\" \
             y=\"{}\">{:.1}</text>",
            y + 15,
            escape(&r.vendor),
            escape(&r.breach),
            y + 3,
            bar_h - 6,
            label_w as f32 + w + 6.0,
            y + 15,
            r.risk
        ));
    }
    svg.push_str("</svg><figcaption>Vendors hit by a breach, by risk score (criticality × the sensitivity of what it exposed of yours).</figcaption></figure>");
    svg
}

/// `GET /dashboard/vendors` (`?edit=NAME` fills the form with that vendor).
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let edit = query_param(query.as_deref(), "edit");
    vendors_page(&state, &viewer, StatusCode::OK, None, edit.as_deref()).await
}

/// The Vendors page: the ranking, the inventory and the forms (`edit`: the vendor the
/// add-or-edit form starts from).
async fn vendors_page(
    state: &Arc<AppState>,
    viewer: &Viewer,
    status: StatusCode,
    outcome: Option<(&str, bool)>,
    edit: Option<&str>,
) -> Result<Response, ApiError> {
    if let Some(refused) = viewer.refusal(Scope::Vendors, "Vendors") {
        return Ok(refused);
    }
    let session = &viewer.session;
    let by = session.by.clone();
    let (inventory, reports) = on_catalog(state, "reading the vendor inventory", move |s| {
        s.catalog.write(|c| {
            let inventory = vendors::list(c, &by)?;
            let reports = vendors::reports(&s.store, &s.catalog, c, s.operator_key.as_ref(), &by)?;
            Ok((inventory, reports))
        })
    })
    .await?;
    let csrf = escape(&session.csrf);
    let mut body = outcome.map_or_else(String::new, |(text, bad)| notice(text, bad));
    body.push_str(
        "<section aria-labelledby=\"ranking-title\"><h3 id=\"ranking-title\">Impact ranking</h3>",
    );
    let rows = ranking(&reports);
    if rows.is_empty() {
        body.push_str("<p>No breach reaches a vendor of your inventory.</p>");
    } else {
        body.push_str(&risk_chart(&rows));
        body.push_str(
            "<table id=\"ranking\"><caption>Vendors hit by breaches, riskiest first</caption><thead><tr>\
             <th scope=\"col\">Vendor</th><th scope=\"col\">Breach</th><th scope=\"col\">Risk</th>\
             <th scope=\"col\">Your data exposed</th><th scope=\"col\">Your addresses in it</th>\
             <th scope=\"col\">Recommended actions</th><th scope=\"col\">Report</th></tr>\
             </thead><tbody>",
        );
        for r in &rows {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td><ul>{}</ul></td>\
                 <td><a href=\"/dashboard/vendors/report?breach={}\">Printable report of {}</a>\
                 </td></tr>",
                escape(&r.vendor),
                escape(&r.breach),
                r.risk,
                escape(&r.exposed.join(", ")),
                r.addresses,
                r.actions
                    .iter()
                    .map(|a| format!("<li>{}</li>", escape(a)))
                    .collect::<String>(),
                escape(&r.breach_name),
                escape(&r.breach),
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str(
        "</section><section aria-labelledby=\"inventory-title\"><h3 id=\"inventory-title\">Inventory</h3>",
    );
    if inventory.is_empty() {
        body.push_str("<p>No vendor yet.</p>");
    } else {
        body.push_str(
            "<table id=\"inventory\"><caption>Your vendors</caption><thead><tr><th scope=\"col\">Name</th>\
             <th scope=\"col\">Domains</th><th scope=\"col\">Data classes sent</th>\
             <th scope=\"col\">Criticality</th><th scope=\"col\">Owner</th>\
             <th scope=\"col\">Change</th></tr></thead><tbody>",
        );
        for v in &inventory {
            let name = escape(&v.name);
            body.push_str(&format!(
                "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
                 <a href=\"/dashboard/vendors?edit={name}#vendor-form\" aria-label=\"Edit {name}\">\
                 Edit</a><form method=\"post\" action=\"/dashboard/vendors/remove\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" \
                 name=\"name\" value=\"{name}\"><button type=\"submit\" aria-label=\"Remove \
                 {name}\">Remove</button></form></td></tr>",
                escape(&v.domains.join(", ")),
                escape(&v.data_classes.join(", ")),
                v.criticality,
                escape(&v.owner)
            ));
        }
        body.push_str("</tbody></table>");
    }
    let editing =
        edit.and_then(|name| inventory.iter().find(|v| v.name.eq_ignore_ascii_case(name)));
    body.push_str(&vendor_form(&csrf, editing));
    body.push_str(&format!(
        "<section aria-labelledby=\"import-title\"><h3 id=\"import-title\">Import an inventory</h3>\
         <p>CSV with the columns <code>name,domains,data_classes,criticality,owner,notes</code> \
         (lists separated by <code>;</code>), as <code>leakwatch vendors export --format csv</code> \
         writes it. The import <strong>replaces</strong> the whole inventory; one bad record \
         refuses it all.</p><form method=\"post\" action=\"/dashboard/vendors/import\" \
         id=\"vendor-import\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"vendor-csv-file\">CSV file</label><input id=\"vendor-csv-file\" \
         type=\"file\" accept=\".csv,text/csv\"><label for=\"vendor-csv\">Or paste the CSV\
         </label><textarea id=\"vendor-csv\" name=\"csv\" rows=\"6\" required></textarea>\
         <div class=\"row\"><button type=\"submit\">Replace the inventory</button></div></form>\
         </section><script src=\"/assets/dashboard.js\"></script>"
    ));
    Ok(page(status, "Vendors", Some(session), &body))
}

/// The add-or-edit form, filled from `vendor` when editing one.
fn vendor_form(csrf: &str, vendor: Option<&Vendor>) -> String {
    let value = |f: fn(&Vendor) -> String| vendor.map(f).map_or_else(String::new, |v| escape(&v));
    let criticality = vendor.map_or(3, |v| v.criticality);
    let options: String = (1..=5)
        .map(|n| {
            format!(
                "<option value=\"{n}\"{}>{n}{}</option>",
                if n == criticality { " selected" } else { "" },
                match n {
                    1 => " (could do without)",
                    5 => " (business stops without it)",
                    _ => "",
                }
            )
        })
        .collect();
    format!(
        "<section aria-labelledby=\"vendor-form-title\"><h3 id=\"vendor-form-title\">{}</h3>\
         <form method=\"post\" action=\"/dashboard/vendors\" id=\"vendor-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"v-name\">Name</label><input id=\"v-name\" name=\"name\" required \
         value=\"{}\">\
         <label for=\"v-domains\">Domains (separated by commas)</label><input id=\"v-domains\" \
         name=\"domains\" required value=\"{}\">\
         <label for=\"v-classes\">Data classes you send it (separated by <code>;</code>, e.g. \
         Email addresses; Names)</label><input id=\"v-classes\" name=\"data_classes\" \
         value=\"{}\">\
         <label for=\"v-criticality\">Criticality</label><select id=\"v-criticality\" \
         name=\"criticality\">{options}</select>\
         <label for=\"v-owner\">Owner (gets the impact report)</label><input id=\"v-owner\" \
         name=\"owner\" type=\"email\" value=\"{}\">\
         <label for=\"v-notes\">Notes</label><input id=\"v-notes\" name=\"notes\" value=\"{}\">\
         <div class=\"row\"><button type=\"submit\">Save the vendor</button></div></form></section>",
        if vendor.is_some() {
            "Edit a vendor"
        } else {
            "Add a vendor"
        },
        value(|v| v.name.clone()),
        value(|v| v.domains.join(", ")),
        value(|v| v.data_classes.join("; ")),
        value(|v| v.owner.clone()),
        value(|v| v.notes.clone()),
    )
}

/// A list field of the form: split on `separators`, trimmed, empties dropped.
fn list_field(value: &str, separators: &[char]) -> Vec<String> {
    value
        .split(separators)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Runs a change of the inventory and answers the page with its outcome (or its reason).
async fn after(
    state: &Arc<AppState>,
    viewer: &Viewer,
    outcome: Result<String, ApiError>,
) -> Result<Response, ApiError> {
    match outcome {
        Ok(text) => vendors_page(state, viewer, StatusCode::OK, Some((&text, false)), None).await,
        Err(e) => {
            let (status, why) = reason(e).await;
            vendors_page(state, viewer, status, Some((&why, true)), None).await
        }
    }
}

/// `POST /dashboard/vendors`: adds a vendor, or replaces the one of the same name.
pub(crate) async fn save(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    request: Request,
) -> Result<Response, ApiError> {
    let audit = slot(&request);
    let form = checked_form_up_to(&viewer.session, request, 16 * 1024).await?;
    let field = |name| query_param(Some(&form), name).unwrap_or_default();
    audit.target(&field("name"));
    let outcome = async {
        let vendor = Vendor {
            name: field("name"),
            domains: list_field(&field("domains"), &[',', ';', ' ']),
            data_classes: list_field(&field("data_classes"), &[';', ',']),
            criticality: field("criticality")
                .trim()
                .parse()
                .map_err(|_| ApiError::BadRequest("The criticality must be 1 to 5"))?,
            owner: field("owner").trim().to_owned(),
            notes: field("notes"),
        }
        .validate()
        .map_err(|e| ApiError::Refused(e.to_string()))?;
        let by = viewer.session.by.clone();
        let stored = on_catalog(&state, "storing a vendor", move |s| {
            s.catalog
                .write(|c| vendors::put(c, s.operator_key.as_ref(), &by, vendor))
        })
        .await?;
        Ok(if stored.owner_pending {
            format!(
                "{} is saved. Its owner gets a link to confirm the address first: no report goes there before.",
                stored.vendor.name
            )
        } else {
            format!("{} is saved.", stored.vendor.name)
        })
    }
    .await;
    after(&state, &viewer, outcome).await
}

/// `POST /dashboard/vendors/remove`: removes the form's vendor.
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    request: Request,
) -> Result<Response, ApiError> {
    let audit = slot(&request);
    let form = checked_form_up_to(&viewer.session, request, 8 * 1024).await?;
    let name = query_param(Some(&form), "name").unwrap_or_default();
    audit.target(&name);
    let by = viewer.session.by.clone();
    let removed = name.clone();
    let outcome = on_catalog(&state, "removing a vendor", move |s| {
        s.catalog.write(|c| vendors::remove(c, &by, &removed))
    })
    .await
    .map(|()| format!("{name} is removed."));
    after(&state, &viewer, outcome).await
}

/// `POST /dashboard/vendors/import`: the form's CSV replaces the whole inventory.
pub(crate) async fn import(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    request: Request,
) -> Result<Response, ApiError> {
    let audit = slot(&request);
    let form = checked_form_up_to(&viewer.session, request, MAX_IMPORT).await?;
    let csv = query_param(Some(&form), "csv").unwrap_or_default();
    let outcome = match vendors::parse_csv(&csv) {
        Err(e) => Err(ApiError::Refused(e.to_string())),
        Ok(inventory) => {
            audit.size(inventory.len());
            let by = viewer.session.by.clone();
            on_catalog(&state, "importing vendors", move |s| {
                s.catalog
                    .write(|c| vendors::replace_all(c, s.operator_key.as_ref(), &by, inventory))
            })
            .await
            .map(|n| format!("{n} vendor(s) imported: the inventory was replaced."))
        }
    };
    after(&state, &viewer, outcome).await
}

/// What the printable report may load: its own inline style sheet, nothing else (no script
/// at all).
const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /dashboard/vendors/report?breach=NAME`: a breach's supply-chain impact as the
/// printable page `/api/v1/vendors/impact/{breach}?format=html` also answers.
pub(crate) async fn report(
    State(state): State<Arc<AppState>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    if let Some(refused) = viewer.refusal(Scope::Vendors, "Vendors") {
        return Ok(refused);
    }
    let breach = query_param(query.as_deref(), "breach").unwrap_or_default();
    slot(&request).target(&breach);
    let report = crate::vendors::impact_report(&state, viewer.session.by.clone(), breach).await?;
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        leakwatch_service::impact::render_html(&report),
    )
        .into_response();
    crate::pages::harden(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(REPORT_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
