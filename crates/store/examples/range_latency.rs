//! In-process range-query latency, without HTTP: `Snapshot::range` over pseudo-random 5-hex
//! prefixes (a fixed xorshift sequence, so two stores see the same queries).
//!
//! `cargo run --release -p leakwatch-store --example range_latency -- STORE_DIR [N]`
//! Not a test: it prints, it does not assert.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        return Err("usage: range_latency STORE_DIR [N]".into());
    }
    let dir = leakwatch_store::MmapDirectory::open(&args[1])?;
    let snap = leakwatch_store::Snapshot::open(&dir)?;
    let n: usize = args.get(2).map_or(Ok(1_000_000), |s| s.parse())?;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 44) as u32 // 20 bits
    };
    let mut lines = 0usize;
    for _ in 0..n.min(100_000) {
        lines += snap.range(leakwatch_store::Namespace::Sha1, next())?.len(); // warm up
    }
    let t = std::time::Instant::now();
    for _ in 0..n {
        lines += snap.range(leakwatch_store::Namespace::Sha1, next())?.len();
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{per:.3} us per range ({n} ranges, {lines} lines)");
    Ok(())
}
