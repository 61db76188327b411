//! How close the store is to the information-theoretic floor (`leakwatch stats --deep`): for
//! `n` distinct `b`-bit keys, log2 C(2^b, n) ≈ n (b − log2 n + log2 e) bits, plus n times the
//! empirical entropy of their values (counts, or breach-set ids).

use std::collections::HashMap;

use leakwatch_store::{Namespace, Segment, StoreError};

/// The floor of the keys alone, in bytes per key, for `n` keys of namespace `ns`.
pub fn key_floor_per_hash(ns: Namespace, n: u64) -> f64 {
    let n = n.max(1) as f64;
    (f64::from(ns.key_bits()) - n.log2() + std::f64::consts::LOG2_E) / 8.0
}

/// One segment against its floor.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SegmentFloor {
    /// Bytes the best possible encoding of its keys and values needs.
    pub floor_bytes: f64,
    /// The empirical entropy of its values, in bits per key.
    pub value_entropy: f64,
}

/// Decodes every key of `seg` (namespace `ns`) to measure its floor.
pub fn segment_floor(seg: &Segment, ns: Namespace) -> Result<SegmentFloor, StoreError> {
    let mut freq = HashMap::<u64, u64>::new();
    seg.for_each(|_, c| {
        *freq.entry(c).or_default() += 1;
        true
    })?;
    let (floor_bytes, value_entropy) = floor_bytes(ns.key_bits(), &freq);
    Ok(SegmentFloor {
        floor_bytes,
        value_entropy,
    })
}

/// (floor in bytes, value entropy in bits) of keys whose values occur as `counts` says
/// (value → how many keys have it).
fn floor_bytes(key_bits: u32, counts: &HashMap<u64, u64>) -> (f64, f64) {
    let n: u64 = counts.values().sum();
    let nf = n.max(1) as f64;
    let entropy: f64 = counts
        .values()
        .map(|&f| {
            let p = f as f64 / nf;
            -p * p.log2()
        })
        .sum();
    let key_bits_per_hash = f64::from(key_bits) - nf.log2() + std::f64::consts::LOG2_E;
    (nf * (key_bits_per_hash + entropy) / 8.0, entropy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_keys_bits_plus_the_values_entropy() {
        // 1024 SHA-1 keys, all with value 1: no value entropy, 160 − 10 + log2 e bits each.
        let (bytes, entropy) = floor_bytes(160, &HashMap::from([(1, 1024)]));
        assert_eq!(entropy, 0.0);
        let want = 1024.0 * (150.0 + std::f64::consts::LOG2_E) / 8.0;
        assert!((bytes - want).abs() < 1e-9, "{bytes} vs {want}");
        // Two values, half the keys each: one bit of entropy per key.
        let (bytes, entropy) = floor_bytes(160, &HashMap::from([(1, 512), (7, 512)]));
        assert!((entropy - 1.0).abs() < 1e-12);
        assert!((bytes - (want + 1024.0 / 8.0)).abs() < 1e-9);
        assert!(
            (key_floor_per_hash(Namespace::Sha1, 1024) - want / 1024.0).abs() < 1e-12,
            "the key floor per hash is the same formula"
        );
    }
}
