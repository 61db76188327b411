//! `leakwatch vendors`: the vendor inventory and the supply-chain impact report.

use std::io::Write;

use anyhow::{Context, Result};

use leakwatch_service::{
    CatalogHandle, Principal, StoreHandle, keys,
    vendors::{self, CSV_HEADER, Vendor},
};

use super::catalog;
use crate::flags::*;

/// The operator acting for `--tenant`, which must exist.
fn acting_for(data: &DataArg, tenant: &TenantArg) -> Result<Principal> {
    Ok(keys::act_for(
        &catalog(&data.data)?,
        Principal::operator(),
        &tenant.tenant,
    )?)
}

pub fn vendors_cmd(cmd: VendorsCmd) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        VendorsCmd::Add {
            data,
            tenant,
            name,
            domains,
            data_classes,
            criticality,
            owner,
            notes,
        } => {
            let vendor = Vendor {
                name,
                domains,
                data_classes,
                criticality,
                owner,
                notes,
            };
            let by = acting_for(&data, &tenant)?;
            let v = vendors::put(&mut catalog(&data.data)?, None, &by, vendor)?;
            writeln!(out, "vendor {} stored", v.vendor.name)?;
        }
        VendorsCmd::Import { data, tenant, file } => {
            let by = acting_for(&data, &tenant)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let is_json = file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let inventory: Vec<Vendor> = if is_json {
                serde_json::from_str(&text).context("the JSON must be an array of vendors")?
            } else {
                vendors::parse_csv(&text)?
            };
            let n = vendors::replace_all(&mut catalog(&data.data)?, None, &by, inventory)?;
            writeln!(out, "{n} vendors imported (the inventory was replaced)")?;
        }
        VendorsCmd::Export {
            data,
            tenant,
            format,
        } => {
            let by = acting_for(&data, &tenant)?;
            let inventory = vendors::list(&catalog(&data.data)?, &by)?;
            match format {
                VendorFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &inventory)?;
                    writeln!(out)?;
                }
                VendorFormat::Csv => {
                    let mut w = csv::Writer::from_writer(out);
                    w.write_record(CSV_HEADER)?;
                    for v in &inventory {
                        w.write_record(v.to_csv_record())?;
                    }
                    w.flush()?;
                }
            }
        }
        VendorsCmd::List { data, tenant } => {
            let by = acting_for(&data, &tenant)?;
            writeln!(out, "name\tcriticality\tdomains\tdata classes\towner")?;
            for v in vendors::list(&catalog(&data.data)?, &by)? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    v.name,
                    v.criticality,
                    v.domains.join(","),
                    v.data_classes.join(","),
                    v.owner
                )?;
            }
        }
        VendorsCmd::Remove { data, tenant, name } => {
            let by = acting_for(&data, &tenant)?;
            vendors::remove(&mut catalog(&data.data)?, &by, &name)?;
            writeln!(out, "vendor {name} removed")?;
        }
        VendorsCmd::Impact {
            data,
            tenant,
            breach,
            format,
            key,
        } => {
            let by = acting_for(&data, &tenant)?;
            let store = StoreHandle::open_in(&data.dir())?;
            let handle = CatalogHandle::new(catalog(&data.data)?)?;
            let operator_key = key.load()?;
            let cat = catalog(&data.data)?;
            let reports = match &breach {
                Some(name) => {
                    vendors::report(&store, &handle, &cat, operator_key.as_ref(), &by, name)?
                        .into_iter()
                        .collect()
                }
                None => vendors::reports(&store, &handle, &cat, operator_key.as_ref(), &by)?,
            };
            if reports.is_empty() {
                anyhow::bail!(
                    "no vendor in the inventory is hit by {}",
                    breach.unwrap_or_else(|| "any breach".to_owned())
                );
            }
            match format {
                ImpactFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &reports)?;
                    writeln!(out)?;
                }
                ImpactFormat::Html => {
                    for r in &reports {
                        write!(out, "{}", leakwatch_service::impact::render_html(r))?;
                    }
                }
                ImpactFormat::Text => {
                    for r in &reports {
                        writeln!(out, "{}", leakwatch_service::impact::render_text(r))?;
                    }
                }
            }
        }
    }
    Ok(())
}
