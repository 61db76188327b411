//! What finding a range's record in an answer file costs at the public corpus's shape:
//! every one of the 1,048,576 prefixes populated, so the index is 48 MB and does not fit a
//! CPU cache. µs per `AnswerFile::entry` over prefixes in a pseudo-random order (the
//! uniform load of `bench/range_shape.sh`), then over one prefix again and again (a cache-hot
//! lookup: the floor).
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
    Ok(())
}
