//! `leakwatch paste add | list`: the paste catalogue behind `pasteaccount`.

use std::io::Read;

use anyhow::{Context, Result};
use leakwatch_service::{
    Principal,
    pastes::{self, PasteMeta},
};

use super::catalog;
use crate::flags::PasteCmd;

/// Carries out one `paste` subcommand.
pub fn paste(cmd: PasteCmd) -> Result<()> {
    let by = Principal::operator();
    match cmd {
        PasteCmd::Add {
            data,
            source,
            id,
            title,
            date,
            key,
            file,
        } => {
            let key = key.load()?.context(
                "a paste's addresses are filed keyed under the operator key: pass \
                 --operator-key-file (or LEAKWATCH_OPERATOR_KEY_FILE)",
            )?;
            let mut bytes = Vec::new();
            if file.as_os_str() == "-" {
                std::io::stdin().read_to_end(&mut bytes)?;
            } else {
                bytes =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            }
            let text = String::from_utf8_lossy(&bytes);
            let meta = PasteMeta {
                source,
                id,
                title,
                date,
            };
            let added = pastes::add(&mut catalog(&data.data)?, &by, &key, meta, &text)
                .context("adding the paste")?;
            let p = &added.paste;
            println!(
                "{} paste {}/{}: {} distinct address(es){}",
                if added.replaced { "replaced" } else { "added" },
                p.source,
                p.id,
                p.email_count,
                p.date
                    .as_deref()
                    .map(|d| format!(", posted {d}"))
                    .unwrap_or_default()
            );
        }
        PasteCmd::List { data } => {
            for p in pastes::list(&catalog(&data.data)?, &by)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    p.source,
                    p.id,
                    p.date.as_deref().unwrap_or("-"),
                    p.email_count,
                    p.title.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
