//! What leakwatch's mails say: the private check's result, breach alerts, and the pieces
//! they share (a breach's lines, its description without markup).

use leakwatch_catalog::{Breach, pastes::Paste};

use crate::impact::{ImpactReport, render_text};

/// The mail that asks an address to confirm its alert subscription.
pub(crate) fn confirm_subscription_text(url: &str, token: &str) -> String {
    format!(
        "Hello,\n\nsomeone (we hope you) asked {url} to send this address an alert whenever\na newly loaded data breach contains it. To confirm, open this link within two days:\n\n  {url}/api/v1/subscriptions/confirm?token={token}\n\nIf you did not ask for this, ignore this mail: without the link nothing happens\nand nothing more will be sent.\n\n-- \nleakwatch, {url}\n"
    )
}

/// The mail that asks an address's owner to confirm hiding it (opt-out).
pub(crate) fn confirm_opt_out_text(url: &str, token: &str) -> String {
    format!(
        "Hello,\n\nsomeone (we hope you) asked {url} to hide this address: it would no longer\nappear in any search of {url} or any alert, for any data breach, now or later.\nTo confirm, open this link within two days and press the button:\n\n  {url}/api/v1/opt-out/confirm?token={token}\n\nIf you did not ask for this, ignore this mail: without the link nothing happens.\n\n-- \nleakwatch, {url}\n"
    )
}

/// The mail to a domain's role address that verifies a registration of the domain.
pub(crate) fn verify_domain_text(
    url: &str,
    domain: &str,
    requester: &str,
    contact: &str,
    token: &str,
) -> String {
    format!(
        "Hello,\n\nsomeone asked leakwatch at {url} to let them search {domain} for breached\naddresses and to alert them when a new breach holds addresses on it:\n\n  requested by: {requester}\n  alerts would go to: {contact}\n\nThis mail goes to a role address of the domain so that only its administrators\ncan agree. To verify the domain, open this link within two days and press the\nbutton on its page (opening the link alone changes nothing):\n\n  {url}/api/v1/domains/verify?token={token}\n\nIf you do not know this request, ignore this mail: nothing happens.\n\n-- \nleakwatch, {url}\n"
    )
}

/// The mail that asks a vendor's owner whether they want its impact reports.
pub(crate) fn confirm_vendor_owner_text(
    url: &str,
    tenant: &str,
    vendor: &str,
    token: &str,
) -> String {
    format!(
        "Hello,\n\nan API key of the organisation \"{tenant}\" at {url} named this address as the\nowner of its supplier \"{vendor}\": when a breach hits that supplier, its impact report\n(which of the organisation's data and addresses it exposes) would be mailed here.\nTo agree, open this link within two days and press the button on its page:\n\n  {url}/api/v1/vendor-owner/confirm?token={token}\n\nIf you do not know this organisation, ignore this mail: nothing is sent to you.\n\n-- \nleakwatch, {url}\n"
    )
}

/// The mail to a domain's previous contact when its alerts were redirected.
pub(crate) fn registration_changed_text(
    url: &str,
    domain: &str,
    tenant: &str,
    by: &str,
    contact: &str,
    webhook: Option<&str>,
) -> String {
    let webhook = webhook.unwrap_or("none (alerts go by mail)");
    format!(
        "Hello,\n\nthe breach alerts for {domain} (tenant \"{tenant}\") at {url} were changed by\n{by}. They now go to:\n\n  contact: {contact}\n  webhook: {webhook}\n\nIf nobody in your organisation made this change, revoke that API key and tell the\noperator of {url}.\n\n-- \nleakwatch, {url}\n"
    )
}

/// The operator's mail about an API key that read in bulk.
pub(crate) fn key_anomaly_text(
    url: &str,
    key: &leakwatch_catalog::keys::ApiKey,
    kind: &str,
    count: u64,
    threshold: u64,
    suspended: bool,
) -> String {
    let what = kind.replace('-', " ");
    let then = if suspended {
        format!(
            "The key is suspended: its requests are refused until you resume it with\n\n  leakwatch keys resume {}\n",
            key.prefix
        )
    } else {
        format!(
            "The key still works (suspend_on_anomaly is off). To stop it:\n\n  leakwatch keys revoke {}\n",
            key.prefix
        )
    };
    format!(
        "Hello,\n\nthe API key {prefix} (\"{name}\", tenant \"{tenant}\") of {url} read {count} distinct\n{what} within the hour, more than the {threshold} the configuration allows.\n\n{then}\nIts requests are in the audit log:\n\n  leakwatch audit-log show --key {prefix}\n\n-- \nleakwatch, {url}\n",
        prefix = key.prefix,
        name = key.name,
        tenant = key.tenant,
    )
}

/// The impact report mailed to a vendor's owner.
pub(crate) fn vendor_impact_text(url: &str, vendor: &str, report: &ImpactReport) -> String {
    format!(
        "Hello,\n\nyou own the relationship with {vendor} in leakwatch's vendor inventory at {url}.\n\n{}\n-- \nleakwatch, {url}\n",
        render_text(report)
    )
}

/// The body of a breach alert.
pub(crate) fn alert_text(url: &str, b: &Breach, whose: &str, unsubscribe: &str) -> String {
    format!(
        "Hello,\n\na data breach was just loaded into leakwatch at {url}:\n\n  {}\n\n{whose}\n\n{}\n\nWhat to do:\n  1. Change the password of the account there, and of every other account where\n     the same password was used.\n  2. Turn on two-step verification wherever it is offered.\n  3. Expect phishing that quotes the exposed data to look genuine.\n\nYou get this mail because you subscribed to leakwatch's alerts. To stop them:\n  {unsubscribe}\n\n-- \nleakwatch, {url}\n",
        breach_lines(b, "  "),
        plain_text(&b.description),
    )
}

/// A paste alert: which paste, whose addresses, what to do.
pub(crate) fn paste_alert_text(url: &str, p: &Paste, whose: &str, unsubscribe: &str) -> String {
    let title = p.title.as_deref().unwrap_or("(no title)");
    let date = p.date.as_deref().unwrap_or("date unknown");
    format!(
        "Hello,\n\na paste was just added to leakwatch at {url}:\n\n  {} paste {} -- {title} ({date})\n  {} distinct e-mail address{} in it\n\n{whose}\n\nWhat to do:\n  1. A paste often lists addresses with their passwords: change the password of each\n     account of the address, starting with the mailbox itself.\n  2. Turn on two-step verification wherever it is offered.\n  3. Expect phishing and spam aimed at the address.\n\nYou get this mail because you subscribed to leakwatch's alerts. To stop them:\n  {unsubscribe}\n\n-- \nleakwatch, {url}\n",
        p.source,
        p.id,
        p.email_count,
        if p.email_count == 1 { "" } else { "es" },
    )
}

/// A breach in a mail: title, domain and date, then what it exposed, indented.
pub(crate) fn breach_lines(b: &Breach, indent: &str) -> String {
    let domain = if b.domain.is_empty() {
        "no domain"
    } else {
        &b.domain
    };
    format!(
        "{} ({domain}, {})\n{indent}  Exposed: {}",
        b.title,
        b.breach_date,
        b.data_classes.join(", ")
    )
}

/// HTML (as HIBP's descriptions hold) reduced to its text.
pub(crate) fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The body of a private-check mail.
pub(crate) fn check_result_text(
    public_url: &str,
    found: &[&Breach],
    websites: &[String],
    loaded: usize,
) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Hello,\n\nsomeone (we hope you) asked leakwatch at {public_url} to check this address\nagainst the data breaches it holds.\n"
    );
    if found.is_empty() {
        let _ = writeln!(
            t,
            "Good news: this address is not in any of the {loaded} breaches loaded here.\n\nThat is no guarantee: not every breach is known, and not every known one is\nloaded. Keep using a different password on every site (a password manager makes\nthat easy) and turn on two-step verification where it is offered."
        );
    } else {
        let _ = writeln!(
            t,
            "This address appears in {} data breach{}:\n",
            found.len(),
            if found.len() == 1 { "" } else { "es" }
        );
        for b in found {
            let _ = writeln!(t, "  * {}", breach_lines(b, "  "));
        }
        if !websites.is_empty() {
            let _ = writeln!(
                t,
                "\nStealer logs -- records that malware on a computer made of what was typed into\nit -- hold this address's login and password for these websites:\n"
            );
            for site in websites {
                let _ = writeln!(t, "  * {site}");
            }
            let _ = writeln!(
                t,
                "\nChange those passwords first: they were taken as typed and work until they are\nchanged. Then have the computers you used checked for malware."
            );
        }
        let _ = writeln!(
            t,
            "\nWhat to do:\n  1. Change the password of each of these accounts, and of every other account\n     where you used the same password. Use a different password for every site;\n     a password manager makes that easy.\n  2. Turn on two-step verification wherever it is offered.\n  3. Expect phishing: mails, messages and calls that quote the exposed data to\n     look genuine. Do not follow links in them; go to the site yourself."
        );
    }
    let _ = writeln!(
        t,
        "\nNobody but this mailbox was told the result. If you did not ask for this check,\nignore this mail: nothing more will be sent.\n\n-- \nleakwatch, {public_url}"
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_their_markup() {
        assert_eq!(
            plain_text(
                r#"In 2024, <a href="https://x.example" target="_blank">Fictobank</a> lost &quot;data&quot; &amp; more."#
            ),
            r#"In 2024, Fictobank lost "data" & more."#
        );
    }
}
