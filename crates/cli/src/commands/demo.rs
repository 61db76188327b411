//! `leakwatch demo`: a demo store of generated data, served.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Result;
use leakwatch_gen::GenFormat;
use leakwatch_service::{
    DataDir, Principal,
    imports::{self, IngestOptions, Source},
};
use leakwatch_store::Snapshot;

use super::serve::{Serving, serve, start_logging};
use super::store_dir;
use crate::flags::*;

pub fn demo(
    data: Option<PathBuf>,
    listen: SocketAddr,
    audit: &super::auditlog::AuditSetup,
) -> Result<()> {
    let data = data.unwrap_or_else(|| {
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("leakwatch").join("demo")
    });
    let dir = store_dir(&data)?;
    if Snapshot::open(dir.as_ref())?.generation() == 0 {
        eprintln!(
            "leakwatch demo: building a demo store in {} from generated, fictional data...",
            data.display()
        );
        let by = Principal::operator();
        let mut opts = IngestOptions::new(&data);
        opts.progress = false;
        for (format, count, seed) in [
            (GenFormat::Plain, 300_000u64, 1u64),
            (GenFormat::Sha1, 200_000, 2),
            (GenFormat::Ntlm, 100_000, 3),
        ] {
            let file = data.join("demo-input.txt");
            leakwatch_gen::write_passwords(
                &mut std::fs::File::create(&file)?,
                format,
                count,
                seed,
            )?;
            let s = imports::import(
                &DataDir::new(&data),
                &by,
                &Source::File(file.clone()),
                &opts,
            )?;
            std::fs::remove_file(&file)?;
            eprintln!(
                "  {:?}: {} lines, {} SHA-1 and {} NTLM hashes",
                format, s.lines, s.sha1.distinct, s.ntlm.distinct
            );
        }
    } else {
        eprintln!("leakwatch demo: using the demo store in {}", data.display());
    }
    // The demo keeps its own audit key beside (not in) its data directory, unless one is
    // given.
    let mut audit = audit.clone();
    if audit.key_file.is_none() {
        let file = data.with_extension("audit-key");
        if !file.exists() {
            super::keys::write_private(
                &file,
                &leakwatch_service::auditlog::AuditKey::generate_hex(),
            )?;
        }
        audit.key_file = Some(file);
    }
    let audit = audit.open("demo", &data)?;
    start_logging(LogFormat::Human);
    let banner = "\nDemo ready. Try:\n  curl http://{addr}/range/5BAA6                       # SHA-1 prefix of \"password\"\n  curl -H 'Add-Padding: true' http://{addr}/range/5BAA6\n  curl 'http://{addr}/range/8846F?mode=ntlm'           # NTLM prefix of \"password\"\nPress Ctrl-C to stop.".to_string();
    serve(
        &data,
        Serving {
            range_cache: leakwatch_api::DEFAULT_RANGE_CACHE,
            listen,
            metrics_listen: "127.0.0.1:0".parse().expect("an address"),
            default_region: None,
            access_log: false,
            mail: None,
            key: OperatorKeyArg {
                operator_key_file: None,
            },
            dns_resolver: None,
            insecure_webhooks_to_loopback: false,
            tls: None,
            banner: Some(banner),
            audit: Some(audit),
            bulk: None,
            proxy_protocol: None,
            store_poll: std::time::Duration::from_millis(500),
        },
    )
}
