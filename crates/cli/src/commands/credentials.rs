//! `leakwatch credentials build|rotate-key|check`: the private credential check's buckets,
//! its OPRF key, and its client.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use leakwatch_service::{
    DataDir, Principal,
    credentials::{self, CredentialSource, OprfKeyFile},
    imports::{IngestOptions, Source, private_spill_dir},
};

use crate::flags::*;

/// The end of a command that says its outcome by exit status alone (`credentials check`:
/// 1 not found, 2 an error already printed): `main` exits with it and prints nothing.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// `leakwatch credentials`.
pub fn credentials(cmd: CredentialsCmd) -> Result<()> {
    match cmd {
        CredentialsCmd::Build(args) => build(args, false),
        CredentialsCmd::RotateKey(args) => build(args, true),
        CredentialsCmd::Check(args) => check(args),
    }
}

fn build(args: CredentialsBuildArgs, rotate: bool) -> Result<()> {
    let CredentialsBuildArgs {
        data,
        dumps,
        stealer,
        key,
        format,
        map,
        identifier,
        memory,
        threads,
        tmp_dir,
        quiet,
    } = args;
    anyhow::ensure!(
        !dumps.is_empty() || !stealer.is_empty(),
        "name the breach dumps (DUMP…) or stealer logs (--stealer PATH) to build from"
    );
    let key_file = OprfKeyFile::new(key.oprf_key_file.context(
        "pass --oprf-key-file FILE (or LEAKWATCH_OPRF_KEY_FILE): the credential check's OPRF \
         key is kept in a file only its owner may read (made there when it does not exist)",
    )?);
    let mut opts = IngestOptions::new(&data.data);
    opts.format = format.format();
    opts.dump.identifier = identifier.map(Into::into);
    if let Some(map) = &map {
        opts.dump.map = Some(
            map.parse()
                .map_err(|e| anyhow::anyhow!("--map {map:?}: {e}"))?,
        );
    }
    opts.memory = memory;
    if let Some(t) = threads {
        opts.threads = t;
    }
    opts.progress = !quiet;
    if let Some(dir) = &tmp_dir {
        opts.tmp_dir = private_spill_dir(dir);
    }
    let sources: Vec<CredentialSource> = dumps
        .iter()
        .map(|d| CredentialSource {
            source: Source::from_arg(d),
            stealer: false,
        })
        .chain(stealer.iter().map(|p| CredentialSource {
            source: Source::from_arg(p),
            stealer: true,
        }))
        .collect();
    let (data_dir, by) = (DataDir::new(&data.data), Principal::operator());
    let done = if rotate {
        credentials::rotate_key(&data_dir, &by, &sources, &key_file, &opts)
    } else {
        credentials::build(&data_dir, &by, &sources, &key_file, &opts)
    };
    if tmp_dir.is_some() {
        let _ = std::fs::remove_dir(&opts.tmp_dir);
    }
    let built = done?;
    let b = &built.build;
    if built.key_created && !rotate {
        println!(
            "a new OPRF key {} was written to {} (mode 0600): keep it as you keep the operator key",
            b.key_fingerprint,
            key_file.path().display()
        );
    }
    for s in b.sources.iter().filter(|s| s.already_built) {
        println!(
            "{}: already built under key {} ({}); skipped",
            s.label, b.key_fingerprint, s.fingerprint
        );
    }
    if b.pairs == 0 && b.sources.iter().all(|s| s.already_built) {
        return Ok(());
    }
    println!(
        "{} lines read: {} (login, password) pairs, {} rejected; {} OPRF evaluations in {:.1}s \
         ({:.0} pairs/s)",
        b.lines,
        b.pairs,
        b.rejected,
        b.evaluations,
        b.seconds,
        b.pairs_per_second()
    );
    println!(
        "  credential entries: {} distinct, {} new, segment {} bytes ({:.1} bytes a pair)",
        b.entries.distinct,
        b.entries.new,
        b.entries.bytes,
        b.entries.bytes as f64 / (b.pairs.max(1)) as f64
    );
    if let Some(file) = &b.rejects_file {
        println!(
            "  rejected lines sampled (by number only) in {}",
            file.display()
        );
    }
    if rotate {
        println!(
            "rotated to OPRF key {}: {} older credential segments retired; key file {} replaced",
            b.key_fingerprint,
            b.retired,
            key_file.path().display()
        );
    }
    println!("published generation {}", b.generation);
    Ok(())
}

/// `leakwatch credentials check`: exit 0 leaked, 1 not found, 2 an error.
fn check(args: CredentialsCheckArgs) -> Result<()> {
    match check_unexited(&args) {
        Ok(Some(found)) => {
            say(&args, found.as_str());
            Ok(())
        }
        Ok(None) => {
            say(&args, "not found");
            Err(Exit(1).into())
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            Err(Exit(2).into())
        }
    }
}

fn say(args: &CredentialsCheckArgs, result: &str) {
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "login": args.login, "result": result })
        );
    } else {
        println!("{result}");
    }
}

fn check_unexited(args: &CredentialsCheckArgs) -> Result<Option<leakwatch_client::Match>> {
    let api_key = match &args.key_file {
        Some(path) => read_private(path)?.trim().to_owned(),
        None => std::env::var("LEAKWATCH_API_KEY").context(
            "pass the API key (scope credentials) in LEAKWATCH_API_KEY or in a file with \
             --key-file FILE",
        )?,
    };
    let password = if args.password_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        line.strip_suffix('\r').unwrap_or(line).to_owned()
    } else {
        rpassword::prompt_password("Password (not echoed): ")?
    };
    let client = leakwatch_client::Client::new(&args.server, &api_key);
    Ok(client.check(&args.login, &password)?)
}
