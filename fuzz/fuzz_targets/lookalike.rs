//! Look-alike generation and the verdict on arbitrary short text: every variant is a valid
//! punycode host name; no panic.
#![no_main]

use leakwatch_lookalike::{Options, check, generate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() > 40 {
        return;
    }
    if let Ok(variants) = generate(text, &Options::default()) {
        for v in variants {
            assert!(v.punycode.is_ascii() && v.punycode.len() <= 253, "{v:?}");
        }
    }
    let _ = check(text, &["example.com".to_owned()]);
});
