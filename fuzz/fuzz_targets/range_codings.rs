//! The range code (`hexflate`: gzip and brotli for range text, through SSSE3, AVX2 and table
//! loops): on arbitrary bytes, and on arbitrary range text (each byte mapped into the code's
//! alphabet), every loop writes the same bits, and what is encoded decodes back through
//! flate2 and the brotli crate; what is not range text is refused. Never a panic.
#![no_main]

use leakwatch_api::bench_support::check_range_codings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // Arbitrary bytes are almost never range text: half the inputs are mapped into its
    // alphabet, so that the encoders' paths (every length, every mix of 4- and 5-bit codes,
    // every pending-bit count at a vector step) are what the fuzzer explores.
    let alphabet = b"0123456789ABCDEF:\r\n";
    let body: Vec<u8> = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        rest.iter()
            .map(|b| alphabet[*b as usize % alphabet.len()])
            .collect()
    };
    if let Err(e) = check_range_codings(&body) {
        panic!("{e}");
    }
});
