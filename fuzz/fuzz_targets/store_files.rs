//! The store's file readers fed arbitrary (mostly corrupted) files: a segment, a manifest,
//! a postings file and a mirror's ETag table (also behind a valid footer, so that the
//! decompression and the table parser see arbitrary bodies). Opening may fail with an error;
//! reading an opened segment may fail; nothing panics or loops.
#![no_main]

use leakwatch_store::{EtagTable, FileSlice, Key, Manifest, Postings, Segment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::decode(data);
    let _ = Postings::decode("fuzz.post", data);
    let _ = EtagTable::decode("fuzz.etags", data);
    let mut framed = data.to_vec();
    framed.extend_from_slice(&1u32.to_le_bytes());
    framed.extend_from_slice(&crc32c::crc32c(data).to_le_bytes());
    framed.extend_from_slice(&(data.len() as u64).to_le_bytes());
    framed.extend_from_slice(b"LWETAGS\x01");
    if let Ok(table) = EtagTable::decode("fuzz.etags", &framed) {
        let _ = table.get(0xFFFFF);
    }
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
