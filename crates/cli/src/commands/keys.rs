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
            expires,
        } => {
            let new = NewKey { name, rpm, expires };
            let (key, secret) = keys::create(&mut catalog(&data.data)?, &by, &new)?;
            println!("{secret}");
            eprintln!(
                "created key {} (prefix {}) for {:?}, {} requests per minute{}; it is shown only now",
                key.id,
                key.prefix,
                key.name,
                key.rpm,
                key.expires
                    .map(|e| format!(", valid until {e}"))
                    .unwrap_or_default()
            );
        }
        KeysCmd::List { data } => {
            println!(
                "{:>4}  {:<8} {:<24} {:>6}  {:<20}  STATE",
                "ID", "PREFIX", "NAME", "RPM", "CREATED"
            );
            for (k, state) in keys::list(&catalog(&data.data)?, &by)? {
                println!(
                    "{:>4}  {:<8} {:<24} {:>6}  {:<20}  {state}",
                    k.id, k.prefix, k.name, k.rpm, k.created
                );
            }
        }
        KeysCmd::Revoke { data, key } => {
            let k = keys::revoke(&mut catalog(&data.data)?, &by, &key)?;
            println!("revoked key {} (prefix {}) of {:?}", k.id, k.prefix, k.name);
        }
    }
    Ok(())
}

/// `leakwatch operator-key`.
pub fn operator_key(cmd: OperatorKeyCmd) -> Result<()> {
    let OperatorKeyCmd::Rotate {
        data,
        old_key_file,
        key,
        memory,
    } = cmd
    else {
        println!("{}", leakwatch_identity::OperatorKey::generate_hex());
        return Ok(());
    };
    let new = key
        .load()?
        .context("set the new key in LEAKWATCH_OPERATOR_KEY or --operator-key-file")?;
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
