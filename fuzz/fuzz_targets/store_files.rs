//! The store's file readers fed arbitrary (mostly corrupted) files: a segment, a manifest
//! and a postings file. Opening may fail with an error; reading an opened segment may fail;
//! nothing panics or loops.
#![no_main]

use leakwatch_store::{FileSlice, Key, Manifest, Postings, Segment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::decode(data);
    let _ = Postings::decode("fuzz.post", data);
    if let Ok(segment) = Segment::open("fuzz.seg", FileSlice::from_vec(data.to_vec())) {
        for item in segment.iter().take(100_000) {
            if item.is_err() {
                break;
            }
        }
        let _ = segment.get(Key::ZERO);
        let _ = segment.get(Key::from_u128(u128::MAX));
    }
});
