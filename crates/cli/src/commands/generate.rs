//! `leakwatch gen`: synthetic, fictional corpora.

use anyhow::{Result, bail};
use leakwatch_gen::GenFormat;

use super::write_to;
use crate::flags::*;

/// `leakwatch gen passwords|dump`.
pub fn run(what: GenWhat) -> Result<()> {
    match what {
        GenWhat::Passwords {
            count,
            seed,
            format,
            out,
            dir,
        } => passwords(count, seed, format, out, dir),
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
    }
}

fn passwords(
    count: u64,
    seed: u64,
    format: GenFormatArg,
    out: std::path::PathBuf,
    dir: bool,
) -> Result<()> {
    let format = GenFormat::from(format);
    if dir {
        if format == GenFormat::Plain {
            bail!("--dir writes hashes: use --format sha1 or ntlm");
        }
        return Ok(leakwatch_gen::write_range_dir(&out, format, count, seed)?);
    }
    let result = if out.as_os_str() == "-" {
        leakwatch_gen::write_passwords(&mut std::io::stdout().lock(), format, count, seed)
    } else {
        leakwatch_gen::write_passwords(&mut std::fs::File::create(&out)?, format, count, seed)
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
