//! `leakwatch audit`: a password-hash export against the store.

use std::{io::Write, path::Path};

use anyhow::{Context, Result};
use leakwatch_store::Snapshot;

use leakwatch_service::audit::{Account, audit_export};

use super::store_dir;
use crate::flags::*;

pub fn audit_cmd(
    data: &Path,
    export: &str,
    format: AuditFormatArg,
    output: AuditOutput,
    show_hashes: bool,
) -> Result<()> {
    let format = format.format();
    let snap = Snapshot::open(store_dir(data)?.as_ref())?;
    let (parsed, report, ns) = if export == "-" {
        audit_export(&snap, std::io::stdin().lock(), format)?
    } else {
        let file = std::fs::File::open(export).with_context(|| format!("opening {export}"))?;
        audit_export(&snap, file, format)?
    };
    if parsed.rejected > 0 {
        eprintln!(
            "warning: {} line(s) did not parse and were skipped (lines {:?}{})",
            parsed.rejected,
            parsed.rejected_lines,
            if parsed.rejected as usize > parsed.rejected_lines.len() {
                " …"
            } else {
                ""
            }
        );
    }
    let rid = |a: &Account| a.rid.map(|r| r.to_string()).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match output {
        AuditOutput::Text => {
            writeln!(
                out,
                "{} accounts audited: {} use a password seen in a breach ({:.1}%); {} groups of accounts share a password",
                report.accounts,
                report.exposed.len(),
                100.0 * report.exposed.len() as f64 / report.accounts.max(1) as f64,
                report.shared.len()
            )?;
            for f in &report.exposed {
                write!(
                    out,
                    "{}\t{}\tseen {}\tshared by {}",
                    f.account.user,
                    rid(&f.account),
                    f.seen,
                    f.shared_by
                )?;
                if show_hashes {
                    write!(out, "\t{}", f.account.hash.to_hex(ns))?;
                }
                writeln!(out)?;
            }
        }
        AuditOutput::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let mut header = vec!["user", "rid", "seen", "shared_by"];
            if show_hashes {
                header.push("hash");
            }
            w.write_record(&header)?;
            for f in &report.exposed {
                let mut row = vec![
                    f.account.user.clone(),
                    rid(&f.account),
                    f.seen.to_string(),
                    f.shared_by.to_string(),
                ];
                if show_hashes {
                    row.push(f.account.hash.to_hex(ns));
                }
                w.write_record(&row)?;
            }
            w.flush()?;
        }
        AuditOutput::Json => {
            let exposed: Vec<serde_json::Value> = report
                .exposed
                .iter()
                .map(|f| {
                    let mut v = serde_json::json!({
                        "user": f.account.user,
                        "rid": f.account.rid,
                        "seen": f.seen,
                        "sharedBy": f.shared_by,
                    });
                    if show_hashes {
                        v["hash"] = f.account.hash.to_hex(ns).into();
                    }
                    v
                })
                .collect();
            let shared: Vec<serde_json::Value> = report
                .shared
                .iter()
                .map(|(users, exposed)| serde_json::json!({"users": users, "exposed": exposed}))
                .collect();
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({
                    "format": parsed.format,
                    "accounts": report.accounts,
                    "exposed": exposed,
                    "shared": shared,
                    "rejectedLines": parsed.rejected,
                }),
            )?;
            writeln!(out)?;
        }
    }
    Ok(())
}
