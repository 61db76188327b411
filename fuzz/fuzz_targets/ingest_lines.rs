//! Ingest's line parsers and format detection on arbitrary bytes: a hash line either
//! parses to a key of its namespace or is rejected with a reason; never a panic.
#![no_main]

use leakwatch_ingest::parse::{detect, hash_password, parse_hash_line, trim_cr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = detect(data);
    for line in data.split(|&b| b == b'\n') {
        let line = trim_cr(line);
        if let Err(reject) = parse_hash_line(line) {
            let _ = reject.reason();
        }
        let _ = hash_password(line);
    }
});
