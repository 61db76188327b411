//! Stealer-log reading on arbitrary bytes (issue #22): layout detection, ULP lines, blocks
//! and website extraction. Units may be malformed; nothing panics, a login never holds the
//! colon that ends it, and a website is a fixed point: lower-case ASCII with a dot, whose own
//! website is itself.
#![no_main]

use leakwatch_ingest::stealer::{Blocks, Website, detect, parse_ulp, split_ulp, website_of};
use libfuzzer_sys::fuzz_target;

fn check_website(website: &Website) {
    if let Website::Domain(domain) = website {
        assert!(domain.contains('.'), "{domain:?}");
        assert!(
            domain.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()),
            "{domain:?}"
        );
        assert_eq!(website_of(domain).as_ref(), Ok(website), "{domain:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = detect(Some("Passwords.txt"), data);
    let _ = detect(None, data);
    let mut blocks = Blocks::new();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        if let Ok((_, login, _)) = split_ulp(line) {
            assert!(!login.contains(':'), "{login:?}");
        }
        if let Ok(capture) = parse_ulp(line) {
            check_website(&capture.website);
        }
        if let Some((_, Ok(capture))) = blocks.line(i as u64 + 1, line) {
            check_website(&capture.website);
        }
        if let Ok(text) = std::str::from_utf8(line)
            && let Ok(website) = website_of(text)
        {
            check_website(&website);
        }
    }
    if let Some((_, Ok(capture))) = blocks.finish() {
        check_website(&capture.website);
    }
});
