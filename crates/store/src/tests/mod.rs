//! Store-level tests, run on both directory backends where a directory is involved: shared
//! fixtures here (reference keys and answers, segment writing, backends), the tests in one
//! module per concern.

mod accounts;
mod corruption;
mod credentials;
mod lifecycle;
mod ranges;

use std::{collections::BTreeMap, io::Write, sync::Arc};

use crate::{segment::FOOTER_LEN, *};

/// Deterministic pseudo-random keys (SplitMix64), independent of the code under test.
fn keys(ns: Namespace, n: usize, seed: u64) -> BTreeMap<Key, u64> {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut out = BTreeMap::new();
    while out.len() < n {
        let mut digest = vec![0u8; ns.hex_len() / 2];
        for chunk in digest.chunks_mut(8) {
            let v = next().to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        let count = 1
            + (next() % 1000).pow(3) / 1_000_000
            + u64::from(next() % 97 == 0) * next() % 1_000_000;
        out.insert(Key::from_digest(&digest).unwrap(), count);
    }
    out
}

fn write_segment(w: &mut StoreWriter, ns: Namespace, data: &BTreeMap<Key, u64>) -> SegmentMeta {
    write_segment_coded(w, ns, data, GroupCoding::LowBytes)
}

/// Publishes one finished segment.
fn publish(w: &mut StoreWriter, meta: SegmentMeta) {
    w.commit(Commit {
        added: vec![meta],
        ..Commit::default()
    })
    .unwrap();
}

/// Every group coding a build reads: the current one, and the one versions 1 and 2 hold
/// (written only here, so that its reader stays tested).
const CODINGS: [GroupCoding; 2] = [GroupCoding::LowBytes, GroupCoding::RiceGaps];

fn write_segment_coded(
    w: &mut StoreWriter,
    ns: Namespace,
    data: &BTreeMap<Key, u64>,
    coding: GroupCoding,
) -> SegmentMeta {
    let (name, mut sw) = w
        .create_segment_with(ns, data.len() as u64, coding)
        .unwrap();
    for (&k, &c) in data {
        sw.push(k, c).unwrap();
    }
    StoreWriter::segment_meta(name, ns, sw.finish().unwrap())
}

/// Every prefix that holds a key of `data`, with its neighbours, once each, in order.
fn prefixes_around(data: &BTreeMap<Key, u64>, ns: Namespace) -> Vec<u32> {
    let mut prefixes: Vec<u32> = data
        .keys()
        .flat_map(|k| {
            let p = k.prefix(ns);
            [p.saturating_sub(1), p, (p + 1).min(0xFFFFF)]
        })
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    prefixes
}

fn reference_range(data: &BTreeMap<Key, u64>, ns: Namespace, prefix: u32) -> Vec<(Key, u64)> {
    let lo = Key::first_with_prefix(ns, prefix as u64, PREFIX_BITS);
    data.range(lo..)
        .take_while(|(k, _)| k.prefix(ns) == prefix)
        .map(|(&k, &c)| (k, c))
        .collect()
}

/// A range's text answer made with `format!`, independently of `render.rs`.
fn reference_text(ns: Namespace, entries: &[(Key, u64)]) -> String {
    let digits = ns.suffix_hex_len();
    entries
        .iter()
        .map(|(k, c)| {
            let hex = format!("{k:?}"); // Key(40 hex digits)
            format!("{}:{c}", &hex[4 + 40 - digits..4 + 40])
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn backends() -> Vec<(Arc<dyn Directory>, Option<tempfile::TempDir>)> {
    let tmp = tempfile::tempdir().unwrap();
    vec![
        (Arc::new(RamDirectory::new()), None),
        (
            Arc::new(MmapDirectory::open(tmp.path()).unwrap()),
            Some(tmp),
        ),
    ]
}
