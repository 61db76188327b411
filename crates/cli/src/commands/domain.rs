//! `leakwatch domain`: domains of verified owners.

use anyhow::{Context, Result};
use leakwatch_service::{
    Principal, ServiceError,
    domains::{self, Register},
    format_date_time, keys,
};

use super::catalog;
use super::check::check_domain;
use crate::flags::*;

pub fn domain_cmd(cmd: DomainCmd) -> Result<()> {
    let need_key = |key: &OperatorKeyArg| {
        key.load()?.context(
            "domains are sealed with the operator key: pass --operator-key-file (or LEAKWATCH_OPERATOR_KEY_FILE)",
        )
    };
    let by = Principal::operator();
    match cmd {
        DomainCmd::Search { data, domain, key } => check_domain(&data.data, &domain, &key),
        DomainCmd::List { data, tenant, key } => {
            let operator = need_key(&key)?;
            let catalog = catalog(&data.data)?;
            let keys = keys::list(&catalog, &by)?;
            println!("tenant\tkey\tdomain\tcontact\tverified");
            let rows: Vec<_> = domains::registrations(&catalog, &operator)?
                .into_iter()
                .filter(|r| tenant.as_ref().is_none_or(|t| *t == r.tenant))
                .collect();
            super::result_size(rows.len() as u64);
            for r in rows {
                let prefix = match r.key {
                    None => "(operator)",
                    Some(id) => keys
                        .iter()
                        .find(|(k, _)| k.id == id)
                        .map_or("(removed)", |(k, _)| k.prefix.as_str()),
                };
                let verified = r.verified.map_or("no".to_owned(), format_date_time);
                println!(
                    "{}\t{prefix}\t{}\t{}\t{verified}",
                    r.tenant, r.domain, r.contact
                );
            }
            Ok(())
        }
        DomainCmd::Verify {
            data,
            domain,
            api_key,
            tenant,
            contact,
            dns_resolver,
            trust,
            key,
        } => {
            let operator = need_key(&key)?;
            let domain = leakwatch_identity::normalize_domain(&domain)
                .map_err(|e| anyhow::anyhow!("not a domain: {e}"))?;
            let mut catalog = catalog(&data.data)?;
            let holder = match api_key.map(|k| keys::find(&catalog, &k)).transpose() {
                Err(ServiceError::UnknownKey(k)) => {
                    anyhow::bail!("no API key {k} (see `leakwatch keys list`)")
                }
                other => other?,
            };
            let tenant = match (&holder, tenant) {
                (Some(k), Some(t)) if k.tenant != t => anyhow::bail!(
                    "API key {} belongs to tenant {}, not {t}",
                    k.prefix,
                    k.tenant
                ),
                (Some(k), _) => k.tenant.clone(),
                (None, Some(t)) => t,
                (None, None) => {
                    anyhow::bail!("name the tenant with --tenant or an API key with --key")
                }
            };
            let by = keys::act_for(&catalog, by, &tenant)?;
            let contact = contact
                .map(|c| {
                    leakwatch_identity::normalize_email(&c)
                        .map_err(|e| anyhow::anyhow!("--contact: {e}"))
                })
                .transpose()?;
            let register = Register {
                key: holder.as_ref().map(|k| k.id),
                domain: domain.clone(),
                contact,
                webhook: None,
            };
            let registration = match domains::register(&mut catalog, &operator, &by, register) {
                Err(ServiceError::NoContact) => {
                    anyhow::bail!("the first registration of a domain needs --contact ADDRESS")
                }
                other => other?,
            };
            if !trust {
                let resolver = dns_resolver.unwrap_or_else(leakwatch_service::dns::system_resolver);
                match domains::check_dns(&operator, &registration, resolver) {
                    Err(e @ ServiceError::NoTxtRecord { .. }) => {
                        anyhow::bail!("{e}: publish it and run this again")
                    }
                    other => other?,
                }
            }
            domains::mark_verified(&mut catalog, &by, registration.id)?;
            println!("{domain} verified for tenant {tenant}");
            Ok(())
        }
    }
}
