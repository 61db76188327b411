//! `leakwatch ingest`: imports, and the catalogue's PwnCount and data classes after a dump.

use std::path::Path;

use anyhow::{Context, Result, bail};
use leakwatch_service::{
    DataDir, Principal, ServiceError, breaches,
    imports::{self, Format, IngestError, IngestOptions, LayoutError, Mismatch, Source, Summary},
};
use leakwatch_store::Namespace;

use super::catalog;
use crate::flags::*;

/// `leakwatch ingest`: the flags checked and turned into the import's options.
pub fn run(args: IngestArgs) -> Result<()> {
    let IngestArgs {
        data,
        source,
        format,
        breach,
        map,
        identifier,
        default_region,
        key,
        no_aliases,
        memory,
        threads,
        rejects,
        tmp_dir,
        quiet,
    } = args;
    let mut opts = IngestOptions::new(&data.data);
    opts.format = format.format();
    opts.dump.identifier = identifier.map(Into::into);
    opts.dump.default_region = default_region;
    if let Some(name) = &breach {
        let Some(b) = breaches::get(&catalog(&data.data)?, name)? else {
            bail!(
                "no breach named {name:?} in the catalogue: add it first with `leakwatch breach add --name {name} --breach-date YYYY-MM-DD ...`"
            );
        };
        opts.stealer_set = b.is_stealer_log;
        if !b.is_stealer_log && opts.format == Some(Format::Stealer) {
            bail!(
                "--format stealer imports into a stealer-log set, and {name:?} is a breach: \
                 add one with `leakwatch breach add --stealer-log ...`"
            );
        }
        if !no_aliases {
            opts.operator_key = Some(key.load()?.context(
                "a dump import seals e-mail aliases (for domain search, and a stealer log's \
                 address–website pairs) under the operator key: pass --operator-key-file (or \
                 LEAKWATCH_OPERATOR_KEY_FILE) (make one with `leakwatch operator-key \
                 generate`), or pass --no-aliases",
            )?);
        }
    }
    if let Some(map) = &map {
        // A stealer-log map names url/login/password, a dump's email/phone/username/password;
        // a stealer-log set without --format may be given either (it may receive a dump).
        let stealer = map.parse::<imports::TableMap>();
        let dump = map.parse::<imports::ColumnMap>();
        match (opts.format, opts.stealer_set) {
            (Some(Format::Stealer), _) | (None, true) if stealer.is_ok() => {
                opts.stealer_map = stealer.unwrap_or_default();
            }
            (Some(Format::Stealer), _) => {
                bail!("--map {map:?}: {}", stealer.err().unwrap_or_default())
            }
            _ => opts.dump.map = Some(dump.map_err(|e| anyhow::anyhow!("--map {map:?}: {e}"))?),
        }
    }
    opts.breach = breach;
    opts.memory = memory;
    if let Some(t) = threads {
        opts.threads = t;
    }
    if let Some(r) = rejects {
        opts.rejects_path = r;
    }
    opts.progress = !quiet;
    if let Some(dir) = &tmp_dir {
        opts.tmp_dir = imports::private_spill_dir(dir);
    }
    let done = ingest(&data.data, &Source::from_arg(&source), &opts);
    if tmp_dir.is_some() {
        // Emptied by the import; gone with it.
        let _ = std::fs::remove_dir(&opts.tmp_dir);
    }
    done
}

pub fn ingest(data: &Path, source: &Source, opts: &IngestOptions) -> Result<()> {
    let by = Principal::operator();
    let s = imports::import(&DataDir::new(data), &by, source, opts).map_err(worded)?;
    if s.already_imported {
        println!(
            "{}: already imported ({}); the store is unchanged",
            source.label(),
            s.fingerprint
        );
        // A crash between publishing and updating the catalogue is repaired here.
        if let Some(breach) = &s.breach {
            record_breach_import(data, breach, &s)?;
        }
        return Ok(());
    }
    println!(
        "{}: {} lines read, {} accepted, {} rejected in {:.1}s ({:.0} lines/s), format {:?}",
        source.label(),
        s.lines,
        s.accepted,
        s.rejected,
        s.seconds,
        s.lines as f64 / s.seconds.max(1e-9),
        s.format
    );
    for (ns, n) in [
        (Namespace::Sha1, s.sha1),
        (Namespace::Ntlm, s.ntlm),
        (Namespace::Account, s.accounts),
    ] {
        if n.distinct > 0 {
            println!(
                "  {ns}: {} distinct hashes, {} new, segment {} bytes",
                n.distinct, n.new, n.bytes
            );
        }
    }
    if s.aliases > 0 {
        println!("  {} sealed alias and domain records", s.aliases);
    }
    if let Some(files) = &s.stealer_files {
        println!(
            "  stealer logs: {} credential files read, {} other files read past, {} archive \
             members unreadable (encrypted or an unsupported compression)",
            files.files, files.skipped, files.unreadable
        );
        println!(
            "  {} sealed records of address–website pairs (by address, website and domain)",
            s.stealer_records
        );
    }
    if let Some(path) = &s.rejects_file {
        println!("  rejected lines sampled to {}", path.display());
    }
    println!("  published generation {}", s.generation);
    if let Some(breach) = &s.breach {
        record_breach_import(data, breach, &s)?;
    }
    Ok(())
}

/// Brings the catalogue entry of `breach` up to date after a dump import, and says so.
pub fn record_breach_import(data: &Path, breach: &str, s: &Summary) -> Result<()> {
    let b = imports::record_breach_import(&mut catalog(data)?, breach, s)?;
    println!(
        "  breach {}: PwnCount {}, data classes {}",
        b.name,
        b.pwn_count,
        b.data_classes.join(", ")
    );
    Ok(())
}

/// An import error as the operator reads it: a mismatch of options and input names the flag
/// that fixes it.
fn worded(e: ServiceError) -> anyhow::Error {
    let ServiceError::Ingest(e) = e else {
        return e.into();
    };
    let m = match e {
        IngestError::Mismatch(m) => m,
        IngestError::Layout(LayoutError::MapOnCombolist) => {
            return anyhow::anyhow!("--map applies to CSV, TSV and JSON Lines, not combolists");
        }
        IngestError::Layout(LayoutError::MapWithoutIdentifier) => {
            return anyhow::anyhow!("--map names no identifier field (email, phone or username)");
        }
        IngestError::Layout(LayoutError::NoIdentifierColumn { header }) => {
            return anyhow::anyhow!(
                "no identifier column found in the header ({header}); name one with --map email=COLUMN"
            );
        }
        other => return other.into(),
    };
    anyhow::anyhow!(match m {
        Mismatch::DirectoryAs(f) => format!("a directory is read as hibp-dir, not {f:?}"),
        Mismatch::RangeDirectoryIsAFile => "--format hibp-dir needs a directory".to_owned(),
        Mismatch::NoAccounts(f) => format!(
            "--breach links a dump's accounts to a breach; {} files hold no accounts",
            f.name()
        ),
        Mismatch::NoBreach(f) => format!(
            "a {} dump needs --breach NAME (the breach its accounts are linked to)",
            f.name()
        ),
        other => other.to_string(),
    })
}
