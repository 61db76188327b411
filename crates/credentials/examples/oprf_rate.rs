//! What the private credential check costs in CPU, single-threaded: OPRF evaluations a second
//! on the server's side (the bucket builder's `Evaluate`, ~11 a credential: the pair and up to
//! ten variants; and the check's `BlindEvaluate`), and the client's blind + finalise.
//!
//! `cargo run --release -p leakwatch-credentials --example oprf_rate [N]`
//!
//! Not a test: it prints, it does not assert. docs/BENCHMARKS.md quotes it.

use std::{hint::black_box, time::Instant};

use leakwatch_credentials::{Blinded, Match, OprfKey, oprf_input, tag, variants::variants};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |s| s.parse().expect("N is a number"));
    let key = OprfKey::from_hex(&OprfKey::generate_hex()).expect("a fresh key");
    let inputs: Vec<Vec<u8>> = (0..n)
        .map(|i| oprf_input(&format!("user{i}@example.com"), &format!("Summer{i}!")).unwrap())
        .collect();

    let start = Instant::now();
    for input in &inputs {
        black_box(tag(&key.evaluate(input).unwrap(), Match::Exact));
    }
    let evaluate = start.elapsed().as_secs_f64() / n as f64;

    let start = Instant::now();
    let mut entries = 0usize;
    for i in 0..n / 10 {
        let login = format!("user{i}@example.com");
        let password = format!("Summer{i}!");
        let input = oprf_input(&login, &password).unwrap();
        black_box(tag(&key.evaluate(&input).unwrap(), Match::Exact));
        entries += 1;
        for variant in variants(&password) {
            let input = oprf_input(&login, &variant).unwrap();
            black_box(tag(&key.evaluate(&input).unwrap(), Match::Similar));
            entries += 1;
        }
    }
    let per_credential = start.elapsed().as_secs_f64() / (n / 10) as f64;

    let blinded: Vec<Blinded> = inputs.iter().map(|i| Blinded::new(i).unwrap()).collect();
    let start = Instant::now();
    let answers: Vec<_> = blinded
        .iter()
        .map(|b| key.blind_evaluate(b.message()).unwrap())
        .collect();
    let blind_evaluate = start.elapsed().as_secs_f64() / n as f64;

    let start = Instant::now();
    for input in &inputs {
        black_box(Blinded::new(input).unwrap());
    }
    let blind = start.elapsed().as_secs_f64() / n as f64;
    let start = Instant::now();
    for ((input, b), answer) in inputs.iter().zip(&blinded).zip(&answers) {
        black_box(b.finalize(input, answer).unwrap());
    }
    let finalize = start.elapsed().as_secs_f64() / n as f64;

    let us = |s: f64| s * 1e6;
    println!("{n} inputs, one core");
    println!("server Evaluate (+ tag)    {:8.1} µs", us(evaluate));
    println!(
        "a credential and its variants ({:.1} entries) {:8.1} µs = {:.0} credentials/s a core",
        entries as f64 / (n / 10) as f64,
        us(per_credential),
        1.0 / per_credential
    );
    let core_hours = 16e9 * per_credential / 3600.0;
    println!(
        "16 billion credentials: {core_hours:.0} core-hours ({:.1} days on 2 cores, {:.1} on 64)",
        core_hours / 2.0 / 24.0,
        core_hours / 64.0 / 24.0
    );
    println!("server BlindEvaluate       {:8.1} µs", us(blind_evaluate));
    println!("client Blind               {:8.1} µs", us(blind));
    println!("client Finalize            {:8.1} µs", us(finalize));
}
