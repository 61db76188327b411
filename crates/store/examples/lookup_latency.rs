//! In-process account lookup latency, without HTTP: `Snapshot::account_breaches` over a
//! list of SHA-1s (40 hex digits a line), cycled for a fixed number of lookups.
//!
//! `cargo run --release -p leakwatch-store --example lookup_latency -- STORE_DIR HASHES [N]`
//! (bench/accounts.sh runs it). Not a test: it prints, it does not assert.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: lookup_latency STORE_DIR HASHES [N]".into());
    }
    let dir = leakwatch_store::MmapDirectory::open(&args[1])?;
    let snap = leakwatch_store::Snapshot::open(&dir)?;
    let keys: Vec<leakwatch_store::Key> = std::fs::read_to_string(&args[2])?
        .lines()
        .filter_map(|l| leakwatch_store::Key::from_hex(l.trim().as_bytes()))
        .collect();
    if keys.is_empty() {
        return Err("no hashes".into());
    }
    let n: usize = args.get(3).map_or(Ok(1_000_000), |s| s.parse())?;
    let mut found = 0usize;
    for k in &keys {
        found += usize::from(!snap.account_breaches(*k)?.is_empty()); // warm the page cache
    }
    let t = std::time::Instant::now();
    for i in 0..n {
        found += snap.account_breaches(keys[i % keys.len()])?.len();
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "{per:.3} us per lookup ({n} lookups over {} hashes, {found} hits)",
        keys.len()
    );
    Ok(())
}
