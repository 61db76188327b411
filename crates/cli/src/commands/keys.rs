//! `leakwatch keys` (API keys) and `leakwatch operator-key`.

use anyhow::{Context, Result};
use leakwatch_service::{
    Principal,
    keys::{self, NewKey},
};

use super::catalog;
use crate::flags::*;

pub fn keys(cmd: KeysCmd) -> Result<()> {
    let by = Principal::operator();
    match cmd {
        KeysCmd::Create {
            data,
            name,
            rpm,
            max_rpm,
            expires,
            valid_days,
            scope,
            tenant,
            quotas,
        } => {
            let mut all = std::collections::BTreeMap::new();
            for q in quotas {
                for (scope, n) in q.0 {
                    anyhow::ensure!(
                        all.insert(scope, n).is_none(),
                        "--quota names scope {scope} twice"
                    );
                }
            }
            let quotas = keys::Quotas(all);
            // Every key ends unless the operator writes out that it does not.
            let expires = match expires.as_deref() {
                Some("never") => None,
                Some(day) => Some(day.to_owned()),
                None => Some(
                    leakwatch_service::format_date_time(
                        leakwatch_service::now_unix() + u64::from(valid_days) * 86_400,
                    )[..10]
                        .to_owned(),
                ),
            };
            anyhow::ensure!(
                rpm <= max_rpm,
                "--rpm {rpm} is above the ceiling of {max_rpm} requests per minute (setting [keys] max_rpm, or --max-rpm, raises it)"
            );
            let new = NewKey {
                name,
                rpm,
                expires,
                scopes: scope,
                tenant,
                quotas,
            };
            let (key, secret) = keys::create(&mut catalog(&data.data)?, &by, &new)?;
            println!("{secret}");
            eprintln!(
                "created key {} (prefix {}) for {:?} in tenant {}, scopes {}, {} requests per minute{}{}; it is shown only now",
                key.id,
                key.prefix,
                key.name,
                key.tenant,
                key.scopes,
                key.rpm,
                if key.quotas.0.is_empty() {
                    String::new()
                } else {
                    format!(", daily quotas {}", key.quotas)
                },
                key.expires
                    .map(|e| format!(", valid until {e}"))
                    .unwrap_or_default()
            );
        }
        KeysCmd::List { data, tenant } => {
            println!(
                "{:>4}  {:<8} {:<24} {:<16} {:>6}  {:<20}  {:<28}  {:<10}  STATE",
                "ID", "PREFIX", "NAME", "TENANT", "RPM", "CREATED", "SCOPES", "LAST USED"
            );
            let mut migrated = 0;
            for (k, state) in keys::list(&catalog(&data.data)?, &by)? {
                if tenant.as_ref().is_some_and(|t| *t != k.tenant) {
                    continue;
                }
                // A key from before scopes may do everything: marked, so it gets narrowed.
                let scopes = if k.scopes_migrated {
                    migrated += 1;
                    format!("{}*", k.scopes)
                } else {
                    k.scopes.to_string()
                };
                println!(
                    "{:>4}  {:<8} {:<24} {:<16} {:>6}  {:<20}  {scopes:<28}  {:<10}  {state}",
                    k.id,
                    k.prefix,
                    k.name,
                    k.tenant,
                    k.rpm,
                    k.created,
                    k.last_used.as_deref().unwrap_or("never")
                );
            }
            if migrated > 0 {
                eprintln!(
                    "* {migrated} key(s) predate scopes and may do everything: give each only what it needs (create a narrower key, move its client over, revoke this one)"
                );
            }
        }
        KeysCmd::Rotate {
            data,
            key,
            overlap_days,
        } => {
            let r = keys::rotate(&mut catalog(&data.data)?, &by, &key, overlap_days)?;
            println!("{}", r.secret);
            eprintln!(
                "key {} (prefix {}) succeeds key {} (prefix {}) for {:?}, scopes {}; the old key works until {} (the overlap), the new one is shown only now",
                r.new.id,
                r.new.prefix,
                r.old.id,
                r.old.prefix,
                r.new.name,
                r.new.scopes,
                r.old.expires.as_deref().unwrap_or("its expiry"),
            );
        }
        KeysCmd::Revoke { data, key, tenant } => {
            let mut catalog = catalog(&data.data)?;
            let revoked = match (key, tenant) {
                (Some(key), _) => vec![keys::revoke(&mut catalog, &by, &key)?],
                (None, Some(tenant)) => keys::revoke_tenant(&mut catalog, &by, &tenant)?,
                (None, None) => anyhow::bail!("name a key, or a tenant with --tenant"),
            };
            for k in &revoked {
                println!(
                    "revoked key {} (prefix {}) of {:?} in tenant {}",
                    k.id, k.prefix, k.name, k.tenant
                );
            }
            if revoked.is_empty() {
                println!("every key of that tenant was revoked already");
            }
        }
        KeysCmd::Passkeys {
            data,
            tenant,
            remove,
            remove_all,
        } => passkeys(&data.data, by, &tenant, remove.as_deref(), remove_all)?,
        KeysCmd::Resume { data, key } => {
            let k = leakwatch_service::bulk::resume(&mut catalog(&data.data)?, &by, &key)?;
            println!(
                "resumed key {} (prefix {}) of {:?}: a running server accepts it again within a second",
                k.id, k.prefix, k.name
            );
        }
    }
    Ok(())
}

/// `leakwatch keys passkeys`: a tenant's dashboard passkeys listed, or removed (the way back
/// in for a tenant that lost them).
fn passkeys(
    data: &std::path::Path,
    by: Principal,
    tenant: &str,
    remove: Option<&str>,
    remove_all: bool,
) -> Result<()> {
    let mut catalog = catalog(data)?;
    let by = keys::act_for(&catalog, by, tenant)?;
    if remove.is_some() || remove_all {
        let removed = leakwatch_service::passkeys::remove(&mut catalog, &by, remove)?;
        anyhow::ensure!(
            removed > 0 || remove_all,
            "tenant {tenant} has no passkey of that id (see `keys passkeys --tenant {tenant}`)"
        );
        println!(
            "removed {removed} passkey(s) of tenant {tenant}; sessions made from now on need none unless one remains"
        );
        return Ok(());
    }
    let found = leakwatch_service::passkeys::list(&catalog, &by)?;
    if found.is_empty() {
        println!("tenant {tenant} has no passkey");
    }
    for p in found {
        println!(
            "{}\t{:?}\tenrolled {}\tlast used {}",
            p.id,
            p.name,
            leakwatch_service::format_date_time(p.created as u64),
            p.last_used.map_or_else(
                || "never".to_owned(),
                |at| leakwatch_service::format_date_time(at as u64)
            )
        );
    }
    Ok(())
}

/// `leakwatch operator-key`.
pub fn operator_key(cmd: OperatorKeyCmd) -> Result<()> {
    let (data, old_key_file, key, memory) = match cmd {
        OperatorKeyCmd::Generate { out } => {
            let key = leakwatch_identity::OperatorKey::generate_hex();
            return match out {
                None => {
                    println!("{key}");
                    Ok(())
                }
                Some(path) => {
                    write_private(&path, &key)?;
                    eprintln!("operator key written to {} (mode 0600)", path.display());
                    Ok(())
                }
            };
        }
        OperatorKeyCmd::Rotate {
            data,
            old_key_file,
            key,
            memory,
        } => (data, old_key_file, key, memory),
    };
    let new = key
        .load()?
        .context("pass the new key with --operator-key-file (or LEAKWATCH_OPERATOR_KEY_FILE)")?;
    let old = OperatorKeyArg {
        operator_key_file: Some(old_key_file),
    }
    .load()?
    .context("reading the old key")?;
    let by = Principal::operator();
    let s = keys::rotate_operator_key(&data.dir(), &by, &old, &new, memory)?;
    if s.files == 0 {
        println!(
            "nothing to re-seal: every alias file is under key {}",
            new.id()
        );
    } else {
        println!(
            "re-sealed {} alias files ({} records) from key {} to key {}; published generation {}",
            s.files,
            s.records,
            old.id(),
            new.id(),
            s.generation
        );
    }
    Ok(())
}

/// Writes `key` to the new file `path`, readable and writable by its owner only.
pub(super) fn write_private(path: &std::path::Path, key: &str) -> Result<()> {
    Ok(leakwatch_service::key_files::write_private(path, key)?)
}
