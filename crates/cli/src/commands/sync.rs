//! `leakwatch sync`: mirroring a range API.

use anyhow::Result;

use crate::flags::*;

/// `leakwatch sync`.
pub fn run(args: SyncArgs) -> Result<()> {
    let SyncArgs {
        data,
        from,
        mode,
        parallel,
        timeout,
        retries,
        ca_cert,
        json,
        quiet,
    } = args;
    let options = leakwatch_service::mirror::SyncOptions {
        source: leakwatch_service::mirror::Source::parse(&from)?,
        namespaces: mode.namespaces(),
        parallel,
        timeout: std::time::Duration::from_secs(timeout.max(1)),
        retries,
        ca_cert,
        progress: !quiet,
    };
    let reports = leakwatch_service::mirror::sync(&data.dir(), &options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    for r in &reports {
        let what = match r.published_generation {
            Some(g) => format!("published generation {g}"),
            None => "nothing changed, nothing published".to_owned(),
        };
        println!(
            "{}: {} ranges changed, {} ETags refreshed; {} fetched ({} not modified, {} resumed from an interrupted sync), {:.1} MB received, {} retries, {} rejected lines; {} hashes; {what} in {:.1} s",
            r.namespace,
            r.changed,
            r.etags_only,
            r.fetched,
            r.not_modified,
            r.resumed,
            r.bytes as f64 / 1e6,
            r.retries,
            r.rejected_lines,
            r.hashes,
            r.seconds
        );
    }
    Ok(())
}
