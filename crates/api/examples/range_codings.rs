//! What the range code costs a range answer, by literal loop: µs per range for the literal
//! codes alone through each loop this processor runs (the table, SSSE3, AVX2), for the whole
//! gzip member and brotli stream the server sends, and for copying the text into a new `Vec`
//! (an allocation and a `memcpy`, as each encoder's output costs; `range_render` times the
//! bare `memcpy` that the render target is set against).
//!
//! `cargo run --release -p leakwatch-api --example range_codings -- STORE_DIR [N]`
//!
//! The answers are the store's populated SHA-1 ranges rendered as the server renders them (a
//! store from `leakwatch gen passwords --prefixes 4096 --lines-per-range 1900` has the real
//! corpus's ~1,900 lines a range). Every loop's bytes are checked equal to the table loop's
//! before timing. Not a test: it prints, it does not assert on time. Loops alternate in
//! rounds so that a slow moment of the machine falls on all of them.

use std::{hint::black_box, time::Instant};

use leakwatch_api::bench_support as hexflate;
use leakwatch_store::Namespace;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        return Err("usage: range_codings STORE_DIR [N]".into());
    }
    let dir = leakwatch_store::MmapDirectory::open(&args[1])?;
    let snap = leakwatch_store::Snapshot::open(&dir)?;
    let n: usize = args.get(2).map_or(Ok(256), |s| s.parse())?;
    let mut answers = Vec::new();
    for prefix in 0..1u32 << 20 {
        let mut body = Vec::new();
        if snap.render_range(Namespace::Sha1, prefix, &mut body)? > 0 {
            answers.push(body);
            if answers.len() == n {
                break;
            }
        }
    }
    if answers.is_empty() {
        return Err("the store holds no SHA-1 range".into());
    }
    let bytes: usize = answers.iter().map(Vec::len).sum();
    println!(
        "{} ranges, {:.0} bytes a range on average",
        answers.len(),
        bytes as f64 / answers.len() as f64
    );
    let loops = hexflate::literal_loops();
    for body in &answers {
        let want = hexflate::literal_codes(body, "table").ok_or("not range text")?;
        for lp in &loops {
            if hexflate::literal_codes(body, lp).as_ref() != Some(&want) {
                return Err(format!("{lp} differs from the table loop").into());
            }
        }
    }
    type Job<'a> = (String, Box<dyn Fn(&[u8]) -> usize + 'a>);
    let mut jobs: Vec<Job<'_>> = vec![(
        "copy into a new Vec".into(),
        Box::new(|b: &[u8]| black_box(b.to_vec()).len()),
    )];
    for lp in loops {
        jobs.push((
            format!("literal codes, {lp}"),
            Box::new(move |b: &[u8]| hexflate::literal_codes(b, lp).map_or(0, |o| o.len())),
        ));
    }
    jobs.push((
        "gzip member (best loop, CRC-32)".into(),
        Box::new(|b: &[u8]| hexflate::range_gzip(b).map_or(0, |o| o.len())),
    ));
    jobs.push((
        "brotli stream (best loop)".into(),
        Box::new(|b: &[u8]| hexflate::range_brotli(b).map_or(0, |o| o.len())),
    ));
    let rounds = 7;
    let mut times = vec![Vec::new(); jobs.len()];
    for _ in 0..rounds {
        for (j, (_, job)) in jobs.iter().enumerate() {
            let start = Instant::now();
            let mut out = 0;
            for body in &answers {
                out += job(black_box(body));
            }
            black_box(out);
            times[j].push(start.elapsed().as_secs_f64() * 1e6 / answers.len() as f64);
        }
    }
    for ((name, _), t) in jobs.iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        println!(
            "{name:<34} {:>7.2} µs a range (median of {rounds}; {:.2}–{:.2})",
            t[rounds / 2],
            t[0],
            t[rounds - 1]
        );
    }
    Ok(())
}
