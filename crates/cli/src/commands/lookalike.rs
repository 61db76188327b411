//! `leakwatch lookalike`: look-alike domains.

use std::{io::Write, path::PathBuf};

use anyhow::{Context, Result};

use crate::flags::*;

pub fn lookalike_cmd(cmd: LookalikeCmd) -> Result<()> {
    let lines = |path: &Option<PathBuf>| -> Result<Vec<String>> {
        Ok(match path {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        })
    };
    let mut out = std::io::stdout().lock();
    match cmd {
        LookalikeCmd::Generate {
            domain,
            dictionary,
            tld,
            json,
        } => {
            let options = leakwatch_service::lookalike::Options {
                dictionary: lines(&dictionary)?,
                tlds: lines(&tld)?,
            };
            let variants = leakwatch_service::lookalike::variants(&domain, &options)
                .map_err(|e| anyhow::anyhow!("{domain}: {e}"))?;
            if json {
                serde_json::to_writer(&mut out, &variants)?;
                writeln!(out)?;
            } else {
                for v in variants {
                    writeln!(out, "{}\t{}\t{}", v.kind, v.unicode, v.punycode)?;
                }
            }
        }
        LookalikeCmd::Check {
            sender,
            protect,
            json,
        } => {
            let verdict = leakwatch_service::lookalike::verdict(&sender, &protect)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                serde_json::to_writer(&mut out, &verdict)?;
                writeln!(out)?;
            } else {
                match verdict {
                    leakwatch_service::lookalike::Verdict::Legitimate { protected } => {
                        writeln!(out, "legitimate: {protected} itself")?
                    }
                    leakwatch_service::lookalike::Verdict::Lookalike {
                        protected,
                        trick,
                        distance,
                    } => writeln!(
                        out,
                        "LOOK-ALIKE of {protected}: {trick}{}",
                        distance
                            .map(|d| format!(" (edit distance {d})"))
                            .unwrap_or_default()
                    )?,
                    _ => writeln!(out, "clean: imitates none of the protected domains")?,
                }
            }
        }
    }
    Ok(())
}
