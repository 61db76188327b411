//! A bucket's entries: for each leaked (login, password) pair and each of its password's
//! variants, a [`TAG_BITS`]-bit tag of the OPRF output that says exact or similar. The
//! client, having finalised its own output, computes the exact and the similar tag and looks
//! for either; nobody without the OPRF key can compute any tag, so a bucket reveals neither
//! logins nor passwords, nor which of its entries are exact.
//!
//! An entry is stored as a 128-bit key, the bucket's 20 bits above the tag's 108 (the
//! store's `credential` namespace, laid out as NTLM keys are), so that a bucket is one
//! contiguous range of the store, as a password range is.

use sha2::{Digest, Sha256};

use crate::login::BUCKET_BITS;
use crate::oprf::OUTPUT_LEN;

/// Bits of a tag: at 16 billion credentials × 10 entries over 2^20 buckets (~150,000 entries
/// a bucket), the chance that a check meets a false match is ~2^-90.
pub const TAG_BITS: u32 = 128 - BUCKET_BITS;

/// A bucket entry's tag, in the low [`TAG_BITS`] bits.
pub type Tag = u128;

/// What an entry says of the pair whose output it tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Match {
    /// This login with this password was leaked.
    Exact,
    /// This login was leaked with a password of which this one is a variant.
    Similar,
}

impl Match {
    fn label(self) -> &'static [u8] {
        match self {
            Match::Exact => b"leakwatch credential entry v1 exact",
            Match::Similar => b"leakwatch credential entry v1 similar",
        }
    }

    /// The answer's word: `exact` or `similar`.
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Exact => "exact",
            Match::Similar => "similar",
        }
    }
}

/// The tag of an OPRF output as an entry of kind `kind`: the first [`TAG_BITS`] bits of
/// SHA-256(label of the kind ‖ output), big-endian.
pub fn tag(output: &[u8; OUTPUT_LEN], kind: Match) -> Tag {
    let mut hash = Sha256::new();
    hash.update(kind.label());
    hash.update(output);
    let digest = hash.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first) >> BUCKET_BITS
}

/// The store key of an entry: the bucket's bits above the tag's.
pub fn entry_key(bucket: u32, tag: Tag) -> u128 {
    debug_assert!(bucket < 1 << BUCKET_BITS && tag >> TAG_BITS == 0);
    u128::from(bucket) << TAG_BITS | tag
}

/// What a client learns from a bucket's tags (sorted, as a bucket holds them) for its
/// output: exact before similar, `None` for not found.
pub fn lookup(sorted_tags: &[Tag], output: &[u8; OUTPUT_LEN]) -> Option<Match> {
    [Match::Exact, Match::Similar]
        .into_iter()
        .find(|&kind| sorted_tags.binary_search(&tag(output, kind)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_tags_of_one_output_differ_and_are_found_as_what_they_are() {
        let output = [7u8; OUTPUT_LEN];
        let other = [8u8; OUTPUT_LEN];
        assert_ne!(tag(&output, Match::Exact), tag(&output, Match::Similar));
        let mut tags = vec![tag(&output, Match::Similar), tag(&other, Match::Exact)];
        tags.sort();
        assert_eq!(lookup(&tags, &output), Some(Match::Similar));
        assert_eq!(lookup(&tags, &other), Some(Match::Exact));
        assert_eq!(lookup(&tags, &[9u8; OUTPUT_LEN]), None);
        // Exact wins when a pair's password is also a variant of another leaked password.
        tags.push(tag(&output, Match::Exact));
        tags.sort();
        assert_eq!(lookup(&tags, &output), Some(Match::Exact));
    }

    #[test]
    fn a_tag_is_the_top_108_bits_of_its_sha256_under_the_bucket() {
        let output = [0u8; OUTPUT_LEN];
        let mut hash = Sha256::new();
        hash.update(b"leakwatch credential entry v1 exact");
        hash.update(output);
        let digest = hash.finalize();
        let t = tag(&output, Match::Exact);
        assert_eq!(t >> TAG_BITS, 0);
        // The tag's first byte is the digest's first byte (108 = 128 - 20 bits, shifted).
        assert_eq!((t >> (TAG_BITS - 8)) as u8, digest[0]);
        let key = entry_key(0xABCDE, t);
        assert_eq!(key >> TAG_BITS, 0xABCDE);
        assert_eq!(key & ((1 << TAG_BITS) - 1), t);
    }
}
