//! `leakwatch gen`: synthetic, fictional corpora.

use anyhow::{Result, bail};
use leakwatch_gen::{GenFormat, RangeShape};

use super::write_to;
use crate::flags::*;

/// `leakwatch gen passwords|dump`.
pub fn run(what: GenWhat) -> Result<()> {
    match what {
        GenWhat::Passwords {
            count,
            seed,
            format,
            prefixes,
            lines_per_range,
            out,
            dir,
        } => {
            let shape = prefixes
                .zip(lines_per_range)
                .map(|(prefixes, lines_per_range)| RangeShape {
                    prefixes,
                    lines_per_range,
                });
            passwords(count, shape, seed, format, out, dir)
        }
        GenWhat::Dump {
            count,
            seed,
            format,
            separator,
            malformed,
            out,
        } => {
            let format = format.with_separator(separator);
            if !(0.0..=100.0).contains(&malformed) {
                bail!("--malformed is a percentage from 0 to 100");
            }
            let per_mille = (malformed * 10.0).round() as u64;
            write_to(&out, |w| {
                leakwatch_gen::write_dump(w, format, count, seed, per_mille)
            })
        }
        GenWhat::Stealer {
            count,
            seed,
            malformed,
            out,
            truth,
        } => {
            if out.exists() && std::fs::read_dir(&out)?.next().is_some() {
                bail!(
                    "{} is not empty: --out takes a new or empty directory",
                    out.display()
                );
            }
            let t = leakwatch_gen::write_stealer_tree(&out, count, malformed, seed)?;
            if let Some(path) = truth {
                write_to(&path, |w| leakwatch_gen::write_stealer_truth(w, &t))?;
            }
            println!(
                "{}: {} captures, {} malformed units",
                out.display(),
                t.captures.len(),
                t.malformed.len()
            );
            Ok(())
        }
    }
}

fn passwords(
    count: u64,
    shape: Option<RangeShape>,
    seed: u64,
    format: GenFormatArg,
    out: std::path::PathBuf,
    dir: bool,
) -> Result<()> {
    let format = GenFormat::from(format);
    if format == GenFormat::Plain && (dir || shape.is_some()) {
        bail!("--dir and --prefixes write hashes: use --format sha1 or ntlm");
    }
    if dir {
        match shape {
            Some(shape) => leakwatch_gen::write_shaped_range_dir(&out, format, shape, seed)?,
            None => leakwatch_gen::write_range_dir(&out, format, count, seed)?,
        }
        return Ok(());
    }
    let write = |w: &mut dyn std::io::Write| match shape {
        Some(shape) => leakwatch_gen::write_shaped(w, format, shape, seed),
        None => leakwatch_gen::write_passwords(w, format, count, seed),
    };
    let result = if out.as_os_str() == "-" {
        write(&mut std::io::stdout().lock())
    } else {
        write(&mut std::fs::File::create(&out)?)
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
