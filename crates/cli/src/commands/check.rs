//! `leakwatch check`: an account, a domain or a password, offline.

use std::{
    io::{IsTerminal, Read},
    path::Path,
};

use anyhow::{Context, Result};
use leakwatch_store::{Namespace, Snapshot};

use leakwatch_service::Principal;

use super::{catalog, store_dir};
use crate::flags::*;

pub fn check_domain(data: &Path, domain: &str, key: &OperatorKeyArg) -> Result<()> {
    let key = key.load()?.context(
        "domain search opens the sealed aliases: pass --operator-key-file (or LEAKWATCH_OPERATOR_KEY_FILE)",
    )?;
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    use leakwatch_service::{ServiceError, domain_search::DomainSearchError};
    let found = match leakwatch_service::domain_search::search_as_operator(
        &snap,
        &key,
        &Principal::operator(),
        domain,
    ) {
        Err(ServiceError::DomainSearch(e @ DomainSearchError::WrongKey { .. })) => {
            anyhow::bail!("{e}: rotate with `leakwatch operator-key rotate`")
        }
        other => other?,
    };
    let retired: std::collections::HashSet<String> = catalog(data)?
        .all()?
        .into_iter()
        .filter(|b| b.is_retired)
        .map(|b| b.name)
        .collect();
    let shown: std::collections::BTreeMap<String, Vec<String>> = found
        .into_iter()
        .map(|(alias, names)| {
            let names: Vec<String> = names.into_iter().filter(|n| !retired.contains(n)).collect();
            (alias, names)
        })
        .filter(|(_, names)| !names.is_empty())
        .collect();
    super::result_size(shown.len() as u64);
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

pub fn check_account(
    data: &Path,
    account: &str,
    region: Option<&str>,
    json: bool,
    key: &OperatorKeyArg,
) -> Result<()> {
    let candidates = leakwatch_identity::lookup_candidates(account, region)
        .map_err(|e| anyhow::anyhow!("not an account leakwatch can look up: {e}"))?;
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let ids = leakwatch_service::accounts::lookup(&snap, &Principal::operator(), &candidates)?;
    let catalog = catalog(data)?;
    let mut found = Vec::new();
    for id in ids {
        let name = snap
            .breach_name(id)
            .context("the store names a breach id its manifest lacks")?;
        match catalog.get(name)? {
            Some(b) => found.push(b),
            None => eprintln!(
                "warning: the store links this account to {name:?}, which the catalogue does not hold"
            ),
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    super::result_size(found.len() as u64);
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    // The operator key unseals what is kept only under it, for an address: the websites
    // stealer logs captured its login on, and the pastes it was seen in.
    let is_address = leakwatch_identity::normalize_email(account).is_ok();
    let operator = if is_address { key.load()? } else { None };
    if found.is_empty() {
        println!("not found in any breach loaded here");
    } else {
        print_breaches(&found, &snap, is_address, operator.as_ref(), account)?;
    }
    match &operator {
        Some(key) => print_pastes(&catalog, &snap, key, account)?,
        None if is_address => {
            println!("(pass --operator-key-file to list the pastes it was seen in)")
        }
        None => {}
    }
    Ok(())
}

/// The breaches an account is in, and the websites stealer logs captured its login on.
fn print_breaches(
    found: &[leakwatch_service::breaches::Breach],
    snap: &Snapshot,
    is_address: bool,
    operator: Option<&leakwatch_identity::OperatorKey>,
    account: &str,
) -> Result<()> {
    println!("found in {} breach(es):", found.len());
    for b in found {
        let mut flags = Vec::new();
        if b.is_retired {
            flags.push("retired: hidden from the API");
        }
        if b.is_sensitive {
            flags.push("sensitive: hidden from the API");
        }
        if !b.is_verified {
            flags.push("unverified");
        }
        println!(
            "  {} ({}), breached {}{}\n    data: {}",
            b.name,
            b.domain,
            b.breach_date,
            if flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", flags.join("; "))
            },
            b.data_classes.join(", ")
        );
    }
    if found.iter().any(|b| b.is_stealer_log) && is_address {
        match operator {
            Some(key) => {
                let sets: Vec<&str> = found
                    .iter()
                    .filter(|b| b.is_stealer_log)
                    .map(|b| b.name.as_str())
                    .collect();
                let sites = leakwatch_service::stealer_logs::websites_as_operator(
                    snap,
                    key,
                    &Principal::operator(),
                    account,
                    &|name| sets.contains(&name),
                )?;
                if !sites.is_empty() {
                    println!(
                        "stealer logs captured its login and password on {} website(s) -- change those passwords first:",
                        sites.len()
                    );
                    for site in sites {
                        println!("  {site}");
                    }
                }
            }
            None => println!(
                "(a stealer-log set holds it: pass --operator-key-file to list the websites its login was captured on)"
            ),
        }
    }
    Ok(())
}

/// The pastes an address was seen in, oldest first, as `pasteaccount` answers them.
fn print_pastes(
    catalog: &leakwatch_service::Catalog,
    snap: &Snapshot,
    key: &leakwatch_identity::OperatorKey,
    account: &str,
) -> Result<()> {
    let pastes =
        leakwatch_service::pastes::of_account(catalog, snap, &Principal::operator(), key, account)?;
    if pastes.is_empty() {
        println!("seen in no paste");
        return Ok(());
    }
    println!("seen in {} paste(s):", pastes.len());
    for p in pastes {
        println!(
            "  {}/{}{}, {}, {} address(es)",
            p.source,
            p.id,
            p.title.map(|t| format!(" {t:?}")).unwrap_or_default(),
            p.date.as_deref().unwrap_or("undated"),
            p.email_count
        );
    }
    Ok(())
}

pub fn read_secret() -> Result<String> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password (not echoed): ")?
    } else {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    };
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    Ok(pw.strip_suffix('\r').unwrap_or(pw).to_owned())
}

pub fn check_password(data: &Path) -> Result<()> {
    let pw = read_secret()?;
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let sha1 = snap.count(
        Namespace::Sha1,
        leakwatch_store::Key::sha1_of(pw.as_bytes()),
    )?;
    let ntlm = snap.count(Namespace::Ntlm, leakwatch_store::Key::ntlm_of(&pw))?;
    // SHA-1 is the canonical count; a store loaded only with NTLM data answers from NTLM.
    let count = if snap.segments(Namespace::Sha1).is_empty() {
        ntlm
    } else {
        sha1
    };
    println!("{count}");
    if std::io::stderr().is_terminal() {
        if count > 0 {
            eprintln!(
                "This password has been seen {count} times in breaches loaded here: do not use it."
            );
        } else {
            eprintln!("This password was not found in the breaches loaded here.");
        }
    }
    Ok(())
}
