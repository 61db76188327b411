//! What a private credential check costs against a k-anonymity range request, on a running
//! server, for `bench/credentials.sh`: CHECKS checks of logins whose buckets are among the
//! BUCKETS evenly spaced ones a bench store filled (`credential_fill`), then RANGES range
//! requests over the PREFIXES populated ranges of `leakwatch gen passwords --prefixes`, one
//! at a time over one kept-alive connection. Prints one JSON line: the server's CPU a request
//! (from `/proc/PID/stat`), the wall time a request, the answer's bytes, and for a check the
//! client's own CPU (blind, finalise, decode and look up the tags) and the bucket's entries.
//!
//! `LEAKWATCH_API_KEY=… cargo run --release -p leakwatch-client --example credential_load --
//!  URL SERVER_PID BUCKETS CHECKS PREFIXES RANGES [OFFSET]` (OFFSET: as `credential_fill`'s)
//!
//! Not a test: it prints, it does not assert.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use leakwatch_credentials::{
    BUCKET_BITS, Blinded, bucket_of, lookup, normalize_login, oprf_input, tags_from_bytes,
};

/// The CPU time the server's threads have had so far, to the nanosecond: the sum of the first
/// field of each `/proc/PID/task/*/schedstat` (`/proc/PID/stat` counts in 10 ms ticks, too
/// coarse for a few hundred requests; the runtime's threads live through a measurement).
fn server_cpu(pid: &str) -> Duration {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads") {
        let path = task.expect("a thread").path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            ns += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(ns)
}

fn spaced(i: u64, n: u64) -> u32 {
    ((i << 20).div_ceil(n)) as u32
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if !(7..=8).contains(&args.len()) {
        return Err(
            "usage: credential_load URL SERVER_PID BUCKETS CHECKS PREFIXES RANGES [OFFSET]".into(),
        );
    }
    let offset: u32 = args.get(7).map_or(Ok(0), |s| s.parse())?;
    let (url, pid) = (args[1].trim_end_matches('/'), args[2].as_str());
    let [buckets, checks, prefixes, ranges]: [u64; 4] = [
        args[3].parse()?,
        args[4].parse()?,
        args[5].parse()?,
        args[6].parse()?,
    ];
    let key = std::env::var("LEAKWATCH_API_KEY")?;
    let filled: HashSet<u32> = (0..buckets)
        .map(|i| (spaced(i, buckets) + offset) & 0xF_FFFF)
        .collect();
    let logins: Vec<String> = (0u64..)
        .map(|j| format!("bench{j}@example.com"))
        .filter(|l| filled.contains(&bucket_of(l, BUCKET_BITS)))
        .take(checks as usize)
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();

    // Checks: the client's part timed apart from the round trip.
    let one_check = |login: &str,
                     client: &mut Duration|
     -> Result<(usize, usize, u32), Box<dyn std::error::Error>> {
        let login = normalize_login(login)?;
        let input = oprf_input(&login, "Summer2024!").ok_or("input")?;
        let mut bits = BUCKET_BITS;
        loop {
            let t = Instant::now();
            let blinded = Blinded::new(&input)?;
            let body = serde_json::json!({
                "bucket": bucket_of(&login, bits), "bucketBits": bits,
                "blinded": STANDARD.encode(blinded.message()),
            })
            .to_string();
            *client += t.elapsed();
            let mut response = agent
                .post(&format!("{url}/api/v1/credentials/check"))
                .header("hibp-api-key", &key)
                .header("content-type", "application/json")
                .send(&body)?;
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(8 << 20)
                .read_to_string()?;
            if status != 200 {
                return Err(format!("{status}: {text}").into());
            }
            let t = Instant::now();
            let answer: serde_json::Value = serde_json::from_str(&text)?;
            let answer_bits = answer["bucketBits"].as_u64().ok_or("bucketBits")? as u32;
            let Some(evaluated) = answer["evaluated"].as_str() else {
                bits = answer_bits;
                *client += t.elapsed();
                continue;
            };
            let tags = tags_from_bytes(&STANDARD.decode(answer["tags"].as_str().ok_or("tags")?)?)
                .ok_or("tags")?;
            let output = blinded.finalize(&input, &STANDARD.decode(evaluated)?)?;
            std::hint::black_box(lookup(&tags, &output));
            *client += t.elapsed();
            return Ok((text.len(), tags.len(), answer_bits));
        }
    };
    let mut client = Duration::ZERO;
    for login in logins.iter().take(5) {
        one_check(login, &mut client)?; // warm: the key loaded, the pages mapped
    }
    client = Duration::ZERO;
    let (mut bytes, mut entries, mut bits) = (0usize, 0usize, 0u32);
    let (cpu0, t0) = (server_cpu(pid), Instant::now());
    for login in &logins {
        let (b, e, k) = one_check(login, &mut client)?;
        (bytes, entries, bits) = (bytes + b, entries + e, bits.max(k));
    }
    let (check_wall, check_cpu) = (t0.elapsed(), server_cpu(pid) - cpu0);

    // Ranges, plain (no padding, no compression), over the populated prefixes.
    let mut range_bytes = 0usize;
    let mut state = 7u64;
    let (cpu0, t0) = (server_cpu(pid), Instant::now());
    for _ in 0..ranges {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let prefix = spaced((state >> 33) % prefixes, prefixes);
        let mut response = agent.get(&format!("{url}/range/{prefix:05X}")).call()?;
        range_bytes += response
            .body_mut()
            .with_config()
            .limit(8 << 20)
            .read_to_vec()?
            .len();
    }
    let (range_wall, range_cpu) = (t0.elapsed(), server_cpu(pid) - cpu0);

    let per = |d: Duration, n: u64| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{}",
        serde_json::json!({
            "checks": checks,
            "check_bucket_bits": bits,
            "check_entries": entries as f64 / checks as f64,
            "check_answer_bytes": bytes as f64 / checks as f64,
            "check_server_cpu_us": per(check_cpu, checks),
            "check_wall_us": per(check_wall, checks),
            "check_client_cpu_us": per(client, checks),
            "ranges": ranges,
            "range_answer_bytes": range_bytes as f64 / ranges as f64,
            "range_server_cpu_us": per(range_cpu, ranges),
            "range_wall_us": per(range_wall, ranges),
        })
    );
    Ok(())
}
