//! Supply-chain impact: when a breach's Domain or recorded Vendor matches an entry of the
//! vendor inventory, which vendors are hit, which of the data classes you send each one are
//! among the breach's, how many addresses of your verified domains appear in it, a risk
//! score, and what to do — ranked, as JSON, as a printable HTML page, and as mail text.
//!
//! Risk = criticality (1–5) × the highest sensitivity (1–5, [`sensitivity`]) among the
//! exposed classes, plus half a point per further exposed class: 1 (a minor vendor leaked
//! nothing of yours) to about 30 (a critical vendor leaked passwords and more). A matched
//! vendor whose classes are not in the breach still scores its criticality, since the breach
//! may not list everything.

use leakwatch_catalog::{Breach, vendors::Vendor};

/// How harmful a data class (HIBP's names) is in the wrong hands, 1 to 5.
pub fn sensitivity(class: &str) -> u8 {
    let c = class.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| c.contains(w));
    if has(&[
        "password",
        "credit card",
        "bank account",
        "social security",
        "government issued",
        "passport",
        "health",
        "medical",
        "auth token",
        "private key",
        "partial credit",
    ]) {
        5
    } else if has(&[
        "security questions",
        "pins",
        "biometric",
        "financial",
        "sexual",
        "criminal",
    ]) {
        4
    } else if has(&[
        "dates of birth",
        "phone",
        "physical address",
        "geographic",
        "gps",
        "salar",
        "employer",
        "family",
        "religio",
        "ethnic",
        "political",
    ]) {
        3
    } else if has(&[
        "email",
        "names",
        "usernames",
        "ip address",
        "gender",
        "job title",
        "social media",
    ]) {
        2
    } else {
        1
    }
}

/// One vendor hit by a breach.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorImpact {
    /// The vendor.
    pub vendor: String,
    /// Who owns the relationship.
    pub owner: String,
    /// Its criticality.
    pub criticality: u8,
    /// `domain` (the breached domain is the vendor's) or `vendor` (the breach names it).
    pub matched_by: &'static str,
    /// The data classes you send it that are in the breach, most sensitive first.
    pub exposed_classes: Vec<String>,
    /// The risk score (see the module doc).
    pub risk: f32,
    /// What to do, most urgent first.
    pub actions: Vec<String>,
}

/// Addresses of one of your verified domains in the breach.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainExposure {
    /// The domain.
    pub domain: String,
    /// How many of its addresses are in the breach.
    pub addresses: u64,
}

/// The impact of one breach on the inventory.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactReport {
    /// The breach (HIBP's model).
    pub breach: Breach,
    /// Vendors hit, highest risk first.
    pub vendors: Vec<VendorImpact>,
    /// Your verified domains with addresses in the breach.
    pub your_domains: Vec<DomainExposure>,
}

fn actions(v: &Vendor, exposed: &[String], breach: &Breach) -> Vec<String> {
    let has = |word: &str| exposed.iter().any(|c| c.to_lowercase().contains(word));
    let mut out = Vec::new();
    if has("password") {
        out.push(format!(
            "Reset the passwords of every account you share with {}, and check for reuse with `leakwatch audit`.",
            v.name
        ));
    }
    if has("credit card") || has("bank account") {
        out.push("Ask the card issuer or bank to monitor, and reissue where needed.".into());
    }
    if has("email") || has("names") || has("phone") {
        out.push(format!(
            "Warn your users: expect phishing that quotes {} or {} and your data; watch look-alike domains with `leakwatch lookalike`.",
            v.name,
            if breach.domain.is_empty() { "the breached service" } else { &breach.domain }
        ));
    }
    if has("geographic") || has("browser") || has("device") || has("ip address") {
        out.push(
            "Expect targeted attacks using location and device details; review what you send the vendor and stop sending what it does not need.".into(),
        );
    }
    if exposed.is_empty() {
        out.push(format!(
            "Ask {} to confirm in writing whether your data was included; the breach lists none of the classes you send.",
            v.name
        ));
    } else {
        out.push(format!(
            "Ask {} for its incident report and the exact records of yours that left; check the contract's breach-notification terms.",
            v.name
        ));
    }
    if v.criticality >= 4 {
        out.push(format!(
            "Review the relationship with {} (criticality {}): access it holds, credentials and keys to rotate, a fallback.",
            v.name, v.criticality
        ));
    }
    out
}

/// The impact of `breach` on `vendors`, with `your_domains` already counted; `None` if no
/// vendor matches.
pub fn impact(
    breach: &Breach,
    vendors: &[Vendor],
    your_domains: Vec<DomainExposure>,
) -> Option<ImpactReport> {
    let mut hit: Vec<VendorImpact> = vendors
        .iter()
        .filter_map(|v| {
            let matched_by = v.matches(&breach.domain, breach.vendor.as_deref())?;
            let mut exposed: Vec<String> = v
                .data_classes
                .iter()
                .filter(|c| {
                    breach
                        .data_classes
                        .iter()
                        .any(|b| b.eq_ignore_ascii_case(c))
                })
                .cloned()
                .collect();
            exposed.sort_by(|a, b| sensitivity(b).cmp(&sensitivity(a)).then(a.cmp(b)));
            let top = exposed.first().map_or(1, |c| sensitivity(c));
            let extra = exposed.len().saturating_sub(1) as f32 * 0.5;
            Some(VendorImpact {
                vendor: v.name.clone(),
                owner: v.owner.clone(),
                criticality: v.criticality,
                matched_by,
                actions: actions(v, &exposed, breach),
                risk: f32::from(v.criticality) * (f32::from(top) + extra),
                exposed_classes: exposed,
            })
        })
        .collect();
    if hit.is_empty() {
        return None;
    }
    hit.sort_by(|a, b| {
        b.risk
            .total_cmp(&a.risk)
            .then(b.criticality.cmp(&a.criticality))
            .then(a.vendor.cmp(&b.vendor))
    });
    Some(ImpactReport {
        breach: breach.clone(),
        vendors: hit,
        your_domains,
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as plain text (for mail and the CLI).
pub fn render_text(r: &ImpactReport) -> String {
    use std::fmt::Write;
    let b = &r.breach;
    let mut t = format!(
        "Supply-chain impact of the {} breach ({}, breached {}, {} accounts)\nExposed in the breach: {}\n\n",
        b.title,
        if b.domain.is_empty() {
            "no domain"
        } else {
            &b.domain
        },
        b.breach_date,
        b.pwn_count,
        b.data_classes.join(", ")
    );
    for (i, v) in r.vendors.iter().enumerate() {
        let _ = writeln!(
            t,
            "{}. {} — risk {:.1} (criticality {}, matched by {}; owner {})\n   Your data exposed: {}",
            i + 1,
            v.vendor,
            v.risk,
            v.criticality,
            v.matched_by,
            if v.owner.is_empty() { "none" } else { &v.owner },
            if v.exposed_classes.is_empty() {
                "none listed".to_owned()
            } else {
                v.exposed_classes.join(", ")
            }
        );
        for a in &v.actions {
            let _ = writeln!(t, "   - {a}");
        }
    }
    if !r.your_domains.is_empty() {
        let _ = writeln!(t, "\nAddresses of your verified domains in the breach:");
        for d in &r.your_domains {
            let _ = writeln!(t, "   {}: {}", d.domain, d.addresses);
        }
    }
    t
}

/// The report as a printable HTML page (no scripts, inline style only).
pub fn render_html(r: &ImpactReport) -> String {
    let b = &r.breach;
    let mut rows = String::new();
    for (i, v) in r.vendors.iter().enumerate() {
        let actions: String = v
            .actions
            .iter()
            .map(|a| format!("<li>{}</li>", escape(a)))
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td><strong>{}</strong><br><small>owner: {}</small></td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td><ul>{}</ul></td></tr>",
            i + 1,
            escape(&v.vendor),
            escape(if v.owner.is_empty() { "none" } else { &v.owner }),
            v.risk,
            v.criticality,
            v.matched_by,
            escape(&v.exposed_classes.join(", ")),
            actions
        ));
    }
    let domains: String = r
        .your_domains
        .iter()
        .map(|d| format!("<li>{}: {}</li>", escape(&d.domain), d.addresses))
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Impact: {title}</title>\
<style>body{{font:14px/1.4 system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #999;padding:.4rem;vertical-align:top;text-align:left}}@media print{{body{{margin:0}}}}</style>\
<h1>Supply-chain impact: {title}</h1><p>{domain} · breached {date} · {count} accounts<br>Exposed in the breach: {classes}</p>\
<table><thead><tr><th>#</th><th>Vendor</th><th>Risk</th><th>Criticality</th><th>Matched by</th><th>Your data exposed</th><th>What to do</th></tr></thead><tbody>{rows}</tbody></table>\
<h2>Your verified domains in the breach</h2><ul>{domains}</ul></html>\n",
        title = escape(&b.title),
        domain = escape(if b.domain.is_empty() {
            "no domain"
        } else {
            &b.domain
        }),
        date = escape(&b.breach_date),
        count = b.pwn_count,
        classes = escape(&b.data_classes.join(", ")),
        domains = if domains.is_empty() {
            "<li>none</li>".to_owned()
        } else {
            domains
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitivities_rank_the_worst_classes_first() {
        assert_eq!(sensitivity("Passwords"), 5);
        assert_eq!(sensitivity("Credit cards"), 5);
        assert_eq!(sensitivity("Geographic locations"), 3);
        assert_eq!(sensitivity("Email addresses"), 2);
        assert_eq!(sensitivity("Browser user agent details"), 1);
        assert!(
            render_html(&ImpactReport {
                breach: Breach::from_manifest(
                    r#"{"Name":"X","Title":"X<y>","BreachDate":"2024-01-01"}"#,
                    false
                )
                .unwrap(),
                vendors: vec![],
                your_domains: vec![],
            })
            .contains("X&lt;y&gt;")
        );
    }
}
