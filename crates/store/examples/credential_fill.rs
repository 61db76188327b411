//! A store's credential buckets at a chosen density, for `bench/credentials.sh`: building
//! 16 billion credentials' buckets takes months of OPRF evaluations, but what a check costs the
//! server depends only on how many entries its bucket holds, not on what they are. This
//! writes `ENTRIES` random entries (login prefixes spread over each bucket's 12 lower bits, so
//! a bucket splits as a real one does) into each of `BUCKETS` evenly spaced 20-bit buckets
//! (bucket `i` is `ceil(i * 2^20 / BUCKETS)`, as `leakwatch gen passwords --prefixes` spaces
//! its ranges), as one credential segment naming the OPRF key fingerprint `FINGERPRINT`, and
//! publishes it. The segment is laid out as one holding `ENTRIES` in *every* bucket would be
//! (capped at 2^30 entries: 16 groups a bucket, so a split bucket's part is still read from
//! its own groups, as at the real layout's 256), not as one holding only the filled buckets,
//! whose few groups would each span many buckets and make every read decode them whole.
//!
//! `cargo run --release -p leakwatch-store --example credential_fill -- STORE_DIR BUCKETS ENTRIES FINGERPRINT [OFFSET]`
//!
//! With OFFSET, the buckets are moved up by it (mod 2^20): two densities in one store.
//!
//! Not a test, and not a way to make real buckets (`leakwatch credentials build` is).

use std::sync::Arc;

use leakwatch_store::{Commit, Key, MmapDirectory, Namespace, StoreWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if !(5..=6).contains(&args.len()) {
        return Err("usage: credential_fill STORE_DIR BUCKETS ENTRIES FINGERPRINT [OFFSET]".into());
    }
    let offset: u64 = args.get(5).map_or(Ok(0), |s| s.parse())?;
    let buckets: u64 = args[2].parse()?;
    let entries: u64 = args[3].parse()?;
    let mut w = StoreWriter::open(Arc::new(MmapDirectory::open(&args[1])?))?;
    let layout_for = (entries << 20).min(1 << 30);
    let (name, mut seg) = w.create_segment(Namespace::Credential, layout_for)?;
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        // SplitMix64: reproducible, and no dependency for a bench tool.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    // In bucket order: a segment takes its keys sorted.
    let mut order: Vec<u64> = (0..buckets).collect();
    order.sort_by_key(|&i| ((i << 20).div_ceil(buckets) + offset) & 0xF_FFFF);
    for i in order {
        let bucket = u128::from(((i << 20).div_ceil(buckets) + offset) & 0xF_FFFF);
        let mut keys: Vec<u128> = (0..entries)
            .map(|_| {
                let prefix = bucket << 12 | u128::from(next() & 0xFFF);
                let tag = u128::from(next()) << 32 | u128::from(next() & 0xFFFF_FFFF);
                prefix << 96 | tag
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            let key = Key::from_digest(&k.to_be_bytes()).ok_or("a 16-byte key")?;
            seg.push(key, 1)?;
        }
    }
    let mut meta = StoreWriter::segment_meta(name, Namespace::Credential, seg.finish()?);
    meta.oprf_key = Some(args[4].clone());
    // Bytes an entry leave out the group table, which is sized for the whole store.
    println!(
        "{} entries in {buckets} buckets, laid out for {layout_for} entries",
        meta.hashes
    );
    w.commit(Commit {
        added: vec![meta],
        ..Commit::default()
    })?;
    Ok(())
}
