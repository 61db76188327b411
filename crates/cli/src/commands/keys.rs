//! `leakwatch keys` (API keys) and `leakwatch operator-key`.

use anyhow::{Context, Result, bail};
use leakwatch_store::StoreWriter;

use super::{catalog, store_dir};
use crate::flags::*;

pub fn keys(cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::Create {
            data,
            name,
            rpm,
            expires,
        } => {
            let (key, secret) = catalog(&data.data)?.create_key(&name, rpm, expires.as_deref())?;
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
            let now = leakwatch_catalog::now_unix();
            for k in catalog(&data.data)?.keys()? {
                let state = match (&k.revoked, k.is_usable(now)) {
                    (Some(when), _) => format!("revoked {when}"),
                    (None, false) => "expired".to_owned(),
                    (None, true) => k
                        .expires
                        .as_ref()
                        .map(|e| format!("active until {e}"))
                        .unwrap_or("active".into()),
                };
                println!(
                    "{:>4}  {:<8} {:<24} {:>6}  {:<20}  {state}",
                    k.id, k.prefix, k.name, k.rpm, k.created
                );
            }
        }
        KeysCmd::Revoke { data, key } => {
            let k = catalog(&data.data)?.revoke_key(&key)?;
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
    if old.id() == new.id() {
        bail!("the old and the new key are the same");
    }
    let mut writer = StoreWriter::open(store_dir(&data.data)?)?;
    let s = leakwatch_ingest::reseal(&mut writer, &old, &new, &data.dir().tmp(), memory)?;
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
