//! `leakwatch breach`: the breach catalogue.

use anyhow::{Context, Result, bail};
use leakwatch_store::Snapshot;

use super::{catalog, store_dir};
use crate::flags::*;

pub fn breach(cmd: BreachCmd) -> Result<()> {
    use leakwatch_catalog::Breach;
    let show = |b: &Breach| -> Result<()> {
        println!("{}", serde_json::to_string_pretty(b)?);
        Ok(())
    };
    match cmd {
        BreachCmd::Add { data, from, fields } => {
            let mut b = match &from {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let is_toml = path
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
                    Breach::from_manifest(&text, is_toml)?
                }
                None => {
                    let (Some(name), Some(date)) = (&fields.name, &fields.breach_date) else {
                        bail!("give --name and --breach-date, or --from MANIFEST");
                    };
                    Breach::from_manifest(
                        &serde_json::json!({ "Name": name, "BreachDate": date }).to_string(),
                        false,
                    )?
                }
            };
            fields.apply(&mut b);
            show(&catalog(&data.data)?.add(b)?)
        }
        BreachCmd::Edit {
            data,
            breach,
            fields,
        } => {
            // The store links accounts to breaches by Name: renaming one it knows would
            // orphan those links.
            if let Some(new) = &fields.name
                && new != &breach
                && Snapshot::open(store_dir(&data.data)?.as_ref())?
                    .manifest()
                    .breach_id(&breach)
                    .is_some()
            {
                bail!(
                    "{breach:?} has accounts loaded in the store, which links them by Name: it cannot be renamed to {new:?} (its Title can change freely)"
                );
            }
            show(&catalog(&data.data)?.edit(&breach, |b| fields.apply(b))?)
        }
        BreachCmd::Import { data, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let n = catalog(&data.data)?.import_hibp_json(&text)?;
            println!("imported {n} breaches from {}", file.display());
            Ok(())
        }
        BreachCmd::List { data, json } => {
            let all = catalog(&data.data)?.all()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!(
                    "{:<24} {:<12} {:>12}  {:<28} FLAGS",
                    "NAME", "DATE", "PWNCOUNT", "DOMAIN"
                );
                for b in &all {
                    let flags: Vec<&str> = [
                        (b.is_retired, "retired"),
                        (b.is_sensitive, "sensitive"),
                        (!b.is_verified, "unverified"),
                        (b.is_spam_list, "spam-list"),
                        (b.is_fabricated, "fabricated"),
                        (b.is_malware, "malware"),
                        (b.is_stealer_log, "stealer-log"),
                    ]
                    .into_iter()
                    .filter_map(|(on, label)| on.then_some(label))
                    .collect();
                    println!(
                        "{:<24} {:<12} {:>12}  {:<28} {}",
                        b.name,
                        b.breach_date,
                        b.pwn_count,
                        b.domain,
                        flags.join(",")
                    );
                }
            }
            Ok(())
        }
        BreachCmd::Show { data, breach } => {
            let b = catalog(&data.data)?
                .get(&breach)?
                .with_context(|| format!("no breach named {breach:?}"))?;
            show(&b)
        }
        BreachCmd::Retire { data, breach } => show(&catalog(&data.data)?.retire(&breach)?),
    }
}
