//! `leakwatch domain`: domains of verified owners.

use anyhow::{Context, Result};

use super::catalog;
use super::check::check_domain;
use crate::flags::*;

pub fn domain_cmd(cmd: DomainCmd) -> Result<()> {
    use leakwatch_notify::Subscription;
    let need_key = |key: &OperatorKeyArg| {
        key.load()?.context(
            "domains are sealed with the operator key: set LEAKWATCH_OPERATOR_KEY or --operator-key-file",
        )
    };
    match cmd {
        DomainCmd::Search { data, domain, key } => check_domain(&data.data, &domain, &key),
        DomainCmd::List { data, key } => {
            let operator = need_key(&key)?;
            let catalog = catalog(&data.data)?;
            let keys = catalog.keys()?;
            println!("key\tdomain\tcontact\tverified");
            for row in catalog.subscribers()? {
                let Some(Subscription::Domain {
                    domain,
                    contact,
                    key,
                    ..
                }) = Subscription::open(&row.sealed, &operator)
                else {
                    continue;
                };
                let prefix = keys
                    .iter()
                    .find(|k| k.id == key)
                    .map_or("(removed)", |k| k.prefix.as_str());
                let verified = row
                    .verified
                    .map_or("no".to_owned(), leakwatch_catalog::format_date_time);
                println!("{prefix}\t{domain}\t{contact}\t{verified}");
            }
            Ok(())
        }
        DomainCmd::Verify {
            data,
            domain,
            api_key,
            contact,
            dns_resolver,
            trust,
            key,
        } => {
            let operator = need_key(&key)?;
            let domain = leakwatch_identity::normalize_domain(&domain)
                .map_err(|e| anyhow::anyhow!("not a domain: {e}"))?;
            let mut catalog = catalog(&data.data)?;
            let holder = catalog
                .keys()?
                .into_iter()
                .find(|k| k.prefix == api_key || k.id.to_string() == api_key)
                .with_context(|| format!("no API key {api_key} (see `leakwatch keys list`)"))?;
            let probe = Subscription::Domain {
                domain: domain.clone(),
                contact: String::new(),
                key: holder.id,
                webhook: None,
            };
            let existing = catalog
                .subscriber_by_digest(&probe.digest(&operator))?
                .and_then(|row| Some((row.clone(), Subscription::open(&row.sealed, &operator)?)));
            let webhook = match &existing {
                Some((_, Subscription::Domain { webhook, .. })) => webhook.clone(),
                _ => None,
            };
            let contact = match (contact, &existing) {
                (Some(c), _) => leakwatch_identity::normalize_email(&c)
                    .map_err(|e| anyhow::anyhow!("--contact: {e}"))?,
                (None, Some((_, Subscription::Domain { contact, .. }))) => contact.clone(),
                _ => anyhow::bail!("the first registration of a domain needs --contact ADDRESS"),
            };
            let subscription = Subscription::Domain {
                domain: domain.clone(),
                contact,
                key: holder.id,
                webhook,
            };
            let now = leakwatch_catalog::now_unix();
            let id = catalog.put_subscriber(
                &subscription.digest(&operator),
                &subscription.seal(&operator),
                Some(holder.id),
                None,
                now,
            )?;
            let record = leakwatch_service::domains::dns_token(&operator, holder.id, &domain);
            if !trust {
                let resolver = dns_resolver.unwrap_or_else(leakwatch_service::dns::system_resolver);
                let found = leakwatch_service::dns::txt_records(
                    resolver,
                    &domain,
                    std::time::Duration::from_secs(3),
                )?;
                if !found.iter().any(|r| r.trim() == record) {
                    anyhow::bail!(
                        "{domain} has no TXT record {record:?} (asked {resolver}): publish it and run this again"
                    );
                }
            }
            catalog.verify_subscriber(id, now)?;
            println!("{domain} verified for API key {}", holder.prefix);
            Ok(())
        }
    }
}
