//! A mirror source's range answer, arbitrary bytes: parsed entries are sorted, unique, of the
//! asked range and counted at least once; every other line is rejected by its number; never
//! a panic.
#![no_main]

use leakwatch_mirror::parse::parse_range;
use leakwatch_store::Namespace;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b, c], body)) = data.split_first_chunk::<3>() else {
        return;
    };
    let prefix = u32::from_be_bytes([0, a, b, c]) & 0xF_FFFF;
    let lines = body.split(|&x| x == b'\n').count() as u32;
    for ns in [Namespace::Sha1, Namespace::Ntlm] {
        let (entries, rejected) = parse_range(ns, prefix, body);
        assert!(entries.windows(2).all(|w| w[0].0 < w[1].0), "sorted, unique");
        assert!(entries.iter().all(|&(k, c)| k.prefix(ns) == prefix && c > 0));
        assert!(rejected.iter().all(|r| (1..=lines).contains(&r.line)));
        assert!(entries.len() + rejected.len() <= lines as usize);
    }
});
