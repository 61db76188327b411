//! What finding and checking a range's answer in an answer file costs at the public corpus's
//! shape: every one of the 1,048,576 prefixes populated, so the index is 60 MB and does not
//! fit a CPU cache. µs per `AnswerFile::entry` over prefixes in a pseudo-random order (the
//! uniform load of `bench/range_shape.sh`), then over one prefix again and again (a cache-hot
//! lookup: the floor). Then the checksum every send pays, at the sizes of a real range's
//! answers (~76 KB plain, ~41 KB gzip): the file's XXH3-64 against the CRC32C the store's
//! other files use, on the same cache-hot bytes.
//!
//! `cargo run --release -p leakwatch-store --example answer_lookup -- [N]`
//!
//! Not a test: it prints, it does not assert. The file is written to a temporary directory
//! (~50 MB) and deleted.

use std::{hint::black_box, time::Instant};

use leakwatch_store::{AnswerFile, AnswerFileWriter, Namespace, RANGES, RangeAnswers};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(Ok(2_000_000), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let mut writer = AnswerFileWriter::create(dir.path(), Namespace::Sha1, 1, 0)?;
    for prefix in 0..RANGES {
        let answers = RangeAnswers {
            lines: 1,
            etag: u64::from(prefix),
            bodies: [b"x", b"", b""],
        };
        writer.push(prefix, answers)?;
    }
    let file = AnswerFile::open(&writer.finish()?)?;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*: a fixed pseudo-random order, the same every run.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 44) as u32
    };
    let prefixes: Vec<u32> = (0..n).map(|_| next()).collect();
    for (label, order) in [
        ("uniform prefixes", &prefixes),
        ("one prefix", &vec![0x5BAA6; n]),
    ] {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            for &p in order.iter() {
                black_box(file.entry(black_box(p)));
            }
            best = best.min(start.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        println!("{label:<18} {best:.3} µs a lookup (best of 5 × {n})");
    }
    for len in [41_000, 76_000] {
        let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let rounds = 20_000;
        let time = |f: &dyn Fn(&[u8]) -> u64| {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let start = Instant::now();
                for _ in 0..rounds {
                    black_box(f(black_box(&body)));
                }
                best = best.min(start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds));
            }
            best
        };
        let xxh3 = time(&|b| twox_hash::XxHash3_64::oneshot(b));
        let crc = time(&|b| u64::from(crc32c::crc32c(b)));
        println!(
            "checksum of {len} B: xxh3-64 {xxh3:.2} µs, crc32c {crc:.2} µs ({:.1}×)",
            crc / xxh3
        );
    }
    Ok(())
}
