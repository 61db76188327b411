//! In-process password lookup latency, without HTTP or process start: SHA-1 of each
//! password, then `Snapshot::count`. The first pass over the list is reported apart (run it
//! after dropping the page cache for a cold figure), then a fixed number of lookups cycle
//! over the list, each timed, for the hot mean, p50 and p99. A line of exactly 40 hex digits
//! is taken as a SHA-1 already computed (to query a corpus whose passwords are not at hand).
//!
//! `cargo run --release -p leakwatch-ingest --example check_latency -- STORE_DIR PASSWORDS [N]`
//! (bench/lookup.sh runs it). Not a test: it prints one line of `key=value`, it does not assert.

use leakwatch_store::Namespace;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: check_latency STORE_DIR PASSWORDS [N]".into());
    }
    let t_open = std::time::Instant::now();
    let dir = leakwatch_store::MmapDirectory::open(&args[1])?;
    let snap = leakwatch_store::Snapshot::open(&dir)?;
    let open_us = t_open.elapsed().as_secs_f64() * 1e6;
    let passwords: Vec<String> = std::fs::read_to_string(&args[2])?
        .lines()
        .map(str::to_owned)
        .collect();
    if passwords.is_empty() {
        return Err("no passwords".into());
    }
    let n: usize = args.get(3).map_or(Ok(1_000_000), |s| s.parse())?;
    let lookup = |pw: &str| -> Result<u64, leakwatch_store::StoreError> {
        let key = match leakwatch_store::Key::from_hex(pw.as_bytes()) {
            Some(key) if pw.len() == 40 => key,
            _ => leakwatch_store::Key::sha1_of(pw.as_bytes()),
        };
        snap.count(Namespace::Sha1, key)
    };

    let t = std::time::Instant::now();
    let mut hits = 0usize;
    for pw in &passwords {
        hits += usize::from(lookup(pw)? > 0);
    }
    let first_pass_us = t.elapsed().as_secs_f64() * 1e6 / passwords.len() as f64;

    let mut each = Vec::with_capacity(n);
    let t = std::time::Instant::now();
    for i in 0..n {
        let one = std::time::Instant::now();
        std::hint::black_box(lookup(&passwords[i % passwords.len()])?);
        each.push(one.elapsed().as_nanos() as u64);
    }
    let hot_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    each.sort_unstable();
    let pct = |p: f64| each[((n as f64 * p) as usize).min(n - 1)] as f64 / 1e3;
    println!(
        "open_us={open_us:.1} first_pass_us={first_pass_us:.3} hot_us={hot_us:.3} hot_p50_us={:.3} hot_p99_us={:.3} passwords={} found={hits} lookups={n}",
        pct(0.5),
        pct(0.99),
        passwords.len()
    );
    Ok(())
}
