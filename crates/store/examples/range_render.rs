//! What a range answer costs to make, against copying its bytes: µs per range for decoding
//! the range's keys (`Snapshot::range`), for decoding and rendering its text answer
//! (`Snapshot::render_range`, what the server does on a cache miss), and for `memcpy` of an
//! answer of the same size (the floor a static file server pays at least once); then the
//! XXH3-64 of an answer just written (cache-hot), which a miss adds for its ETag.
//!
//! `cargo run --release -p leakwatch-store --example range_render -- STORE_DIR [N]`
//!
//! Only populated prefixes are queried (a store built by `leakwatch gen passwords --prefixes
//! N --lines-per-range L` holds N of them), in a fixed pseudo-random order. Not a test: it
//! prints, it does not assert. The target: decode and render ≤ 3× the copy.
//! `RANGE_RENDER_ONLY=1` stops before the compression levels (for a profile of rendering).
//! `RANGE_RENDER_LAYOUT_FOR=2000000000` first rewrites the store's SHA-1 keys (in memory) into
//! a segment laid out for that many keys, as the real corpus's is (each range split into 32
//! groups of ~60 keys, each with its own CRC32C and start), and measures that one.

use std::{hint::black_box, time::Instant};

use leakwatch_store::Namespace;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        return Err("usage: range_render STORE_DIR [N]".into());
    }
    let dir = leakwatch_store::MmapDirectory::open(&args[1])?;
    let mut snap = leakwatch_store::Snapshot::open(&dir)?;
    let n: usize = args.get(2).map_or(Ok(20_000), |s| s.parse())?;
    let ns = Namespace::Sha1;
    if let Some(layout_for) = std::env::var_os("RANGE_RENDER_LAYOUT_FOR") {
        snap = laid_out_for(&snap, ns, layout_for.to_string_lossy().parse()?)?;
    }

    let (bytes, keys) = snap
        .segments(ns)
        .iter()
        .fold((0, 0), |(b, k), s| (b + s.bytes(), k + s.hashes()));
    println!(
        "segments: {keys} keys, {:.2} bytes a key",
        bytes as f64 / keys.max(1) as f64
    );

    let mut populated = Vec::new();
    let mut lines = 0usize;
    for prefix in 0..1u32 << 20 {
        let len = snap.range(ns, prefix)?.len();
        if len > 0 {
            populated.push(prefix);
            lines += len;
        }
    }
    if populated.is_empty() {
        return Err("the store holds no SHA-1 hashes".into());
    }
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.push(populated[(x % populated.len() as u64) as usize]);
    }
    let mut out = Vec::new();
    let mut answer_bytes = 0usize;
    for &p in &order {
        out.clear();
        snap.render_range(ns, p, &mut out)?;
        answer_bytes += out.len();
    }
    let mean_answer = answer_bytes / n;

    // The best of five rounds: this machine is shared, and a round only gets slower by what
    // else runs beside it.
    let time = |label: &str, f: &mut dyn FnMut(u32)| {
        let mut us = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for &p in &order {
                f(p);
            }
            us = us.min(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        println!("{label:<22} {us:8.2} µs per range");
        us
    };
    println!(
        "{} populated ranges, {:.0} lines and {} bytes an answer on average, {n} queries",
        populated.len(),
        lines as f64 / populated.len() as f64,
        mean_answer
    );
    time("decode", &mut |p| {
        black_box(snap.range(ns, p).expect("decodes"));
    });
    let render = time("decode and render", &mut |p| {
        out.clear();
        snap.render_range(ns, p, &mut out).expect("renders");
        black_box(&out);
    });
    // The copy reads a different source each time, as a file server's does.
    let sources: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; mean_answer]).collect();
    let mut dest = vec![0u8; mean_answer];
    let mut i = 0;
    let copy = time("memcpy of an answer", &mut |_| {
        dest.copy_from_slice(&sources[i % sources.len()]);
        black_box(&dest);
        i += 1;
    });
    println!("decode and render ÷ memcpy: {:.1}×", render / copy);
    time("XXH3-64 of an answer", &mut |_| {
        black_box(twox_hash::XxHash3_64::oneshot(black_box(&dest)));
    });
    if std::env::var_os("RANGE_RENDER_ONLY").is_some() {
        return Ok(()); // for profiling the renderer alone
    }

    // What compressing an answer costs and saves, level by level: the server compresses a
    // range once and caches it, so a level must pay for itself on a miss as well.
    let bodies: Vec<Vec<u8>> = order
        .iter()
        .take(500)
        .map(|&p| {
            let mut out = Vec::new();
            snap.render_range(ns, p, &mut out).expect("renders");
            out
        })
        .collect();
    let plain: usize = bodies.iter().map(Vec::len).sum();
    let measure = |label: String, f: &dyn Fn(&[u8]) -> usize| {
        let t = Instant::now();
        let packed: usize = bodies.iter().map(|b| f(b)).sum();
        let us = t.elapsed().as_secs_f64() * 1e6 / bodies.len() as f64;
        println!(
            "{label:<22} {us:8.1} µs per range, {:5.1}% of the plain bytes",
            packed as f64 * 100.0 / plain as f64
        );
    };
    for level in [1, 6, 9] {
        measure(format!("gzip {level}"), &|b| {
            use std::io::Write;
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            z.write_all(b).expect("in memory");
            z.finish().expect("in memory").len()
        });
    }
    for quality in [0, 1, 5, 11] {
        measure(format!("brotli {quality}"), &|b| {
            let params = brotli::enc::BrotliEncoderParams {
                quality,
                lgwin: 22,
                ..Default::default()
            };
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &b[..], &mut out, &params).expect("in memory");
            out.len()
        });
    }
    Ok(())
}

/// `snap`'s keys of `ns` rewritten (in memory) into one segment laid out for `layout_for`
/// keys (`RANGE_RENDER_LAYOUT_FOR`).
fn laid_out_for(
    snap: &leakwatch_store::Snapshot,
    ns: Namespace,
    layout_for: u64,
) -> Result<leakwatch_store::Snapshot, Box<dyn std::error::Error>> {
    let ram: std::sync::Arc<dyn leakwatch_store::Directory> =
        std::sync::Arc::new(leakwatch_store::RamDirectory::new());
    let mut w = leakwatch_store::StoreWriter::open(ram.clone())?;
    let (name, mut seg) = w.create_segment(ns, layout_for)?;
    for source in snap.segments(ns) {
        for item in source.iter() {
            let (key, count) = item?;
            seg.push(key, count)?;
        }
    }
    let meta = leakwatch_store::StoreWriter::segment_meta(name, ns, seg.finish()?);
    w.commit(leakwatch_store::Commit {
        added: vec![meta],
        ..Default::default()
    })?;
    drop(w);
    let snap = leakwatch_store::Snapshot::open(ram.as_ref())?;
    let l = snap.segments(ns)[0].group_layout();
    println!(
        "rewritten for {layout_for} keys: group shift {}, split {}",
        l.shift(),
        l.split()
    );
    Ok(snap)
}
