//! `leakwatch breach`: the breach catalogue.

use anyhow::{Context, Result, bail};
use leakwatch_service::{
    Principal,
    breaches::{self, Breach},
};

use super::catalog;
use crate::flags::*;

pub fn breach(cmd: BreachCmd) -> Result<()> {
    let by = Principal::operator();
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
            show(&breaches::add(&mut catalog(&data.data)?, &by, b)?)
        }
        BreachCmd::Edit {
            data,
            breach,
            fields,
        } => {
            let mut catalog = catalog(&data.data)?;
            let edited =
                breaches::edit(&data.dir(), &mut catalog, &by, &breach, |b| fields.apply(b))?;
            show(&edited)
        }
        BreachCmd::Import { data, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let n = breaches::import_hibp_json(&mut catalog(&data.data)?, &by, &text)?;
            println!("imported {n} breaches from {}", file.display());
            Ok(())
        }
        BreachCmd::List { data, json } => {
            let all = breaches::list(&catalog(&data.data)?)?;
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
            let b = breaches::get(&catalog(&data.data)?, &breach)?
                .with_context(|| format!("no breach named {breach:?}"))?;
            show(&b)
        }
        BreachCmd::Retire { data, breach } => {
            show(&breaches::retire(&mut catalog(&data.data)?, &by, &breach)?)
        }
    }
}
