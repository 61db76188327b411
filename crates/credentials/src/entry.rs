//! A bucket's entries: for each leaked (login, password) pair and each of its password's
//! variants, a [`TAG_BITS`]-bit tag of the OPRF output that says exact or similar. The
//! client, having finalised its own output, computes the exact and the similar tag and looks
//! for either; nobody without the OPRF key can compute any tag, so a bucket reveals neither
//! logins nor passwords, nor which of its entries are exact.
//!
//! An entry is stored as a 128-bit key, the first [`LOGIN_BITS`] bits of its login's SHA-256
//! above the tag's [`TAG_BITS`] (the store's `credential` namespace, laid out as NTLM keys
//! are), so that a 20-bit bucket is one contiguous range of the store, as a password range
//! is, and a bucket too large to answer can be split by up to 12 more bits of the login
//! ([`answer_bits`]).

use sha2::{Digest, Sha256};

use crate::login::{BUCKET_BITS, MAX_BUCKET_BITS};
use crate::oprf::OUTPUT_LEN;

/// Bits of the login's SHA-256 kept in an entry's key: the most a bucket can be split to.
pub const LOGIN_BITS: u32 = MAX_BUCKET_BITS;

/// Bits of a tag: at 16 billion credentials × 10 entries over 2^20 buckets (~150,000 entries
/// a bucket), the chance that a check meets a false match is ~2^-78.
pub const TAG_BITS: u32 = 128 - LOGIN_BITS;

/// Bytes of a tag in an answer (big-endian).
pub const TAG_BYTES: usize = TAG_BITS as usize / 8;

/// The most entries one answer holds: ~768 KB of tags. A 20-bit bucket with more is split —
/// the client is asked to send more bits of its login's hash ([`answer_bits`]).
pub const MAX_ANSWER_ENTRIES: usize = 65_536;

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
    first[16 - TAG_BYTES..].copy_from_slice(&digest[..TAG_BYTES]);
    u128::from_be_bytes(first)
}

/// The store key of an entry: the first [`LOGIN_BITS`] bits of its login's SHA-256
/// (`crate::login_prefix`) above the tag's bits.
pub fn entry_key(login_prefix: u32, tag: Tag) -> u128 {
    debug_assert!(tag >> TAG_BITS == 0);
    u128::from(login_prefix) << TAG_BITS | tag
}

/// The login prefix of an entry's key.
pub fn key_login_prefix(key: u128) -> u32 {
    (key >> TAG_BITS) as u32
}

/// The tag of an entry's key.
pub fn key_tag(key: u128) -> Tag {
    key & ((1 << TAG_BITS) - 1)
}

/// How many bits of the login's hash a client must send for the 20-bit bucket whose entries'
/// keys are `keys` (sorted): the fewest, from [`BUCKET_BITS`] up, with which no part of the
/// bucket holds more than [`MAX_ANSWER_ENTRIES`] entries. It depends on the whole bucket,
/// not on the part a client asks for, so the number tells the server nothing. `None` when a
/// part stays too large even at [`LOGIN_BITS`] (one login leaked with thousands of passwords):
/// such a bucket part is not answered.
pub fn answer_bits(keys: &[u128]) -> Option<u32> {
    (BUCKET_BITS..=LOGIN_BITS).find(|&bits| largest_part(keys, bits) <= MAX_ANSWER_ENTRIES)
}

/// The bucket of `bits` bits an entry's key falls in: its login prefix's first `bits` bits.
fn bucket_of_key(key: u128, bits: u32) -> u32 {
    key_login_prefix(key) >> (LOGIN_BITS - bits)
}

/// The most entries of `keys` (sorted) that share their login prefix's first `bits` bits.
fn largest_part(keys: &[u128], bits: u32) -> usize {
    let mut largest = 0;
    let mut run = 0;
    let mut last = None;
    for &k in keys {
        let p = bucket_of_key(k, bits);
        run = if last == Some(p) { run + 1 } else { 1 };
        last = Some(p);
        largest = largest.max(run);
    }
    largest
}

/// The tags of the entries of `keys` (sorted) in the bucket `bucket` of `bits` bits, sorted:
/// what an answer holds.
pub fn bucket_tags(keys: &[u128], bucket: u32, bits: u32) -> Vec<Tag> {
    assert!((1..=LOGIN_BITS).contains(&bits), "bucket bits {bits}");
    let mut tags: Vec<Tag> = keys
        .iter()
        .filter(|&&k| bucket_of_key(k, bits) == bucket)
        .map(|&k| key_tag(k))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    tags
}

/// Tags as an answer carries them: [`TAG_BYTES`] big-endian bytes each, concatenated.
pub fn tags_to_bytes(tags: &[Tag]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tags.len() * TAG_BYTES);
    for t in tags {
        out.extend_from_slice(&t.to_be_bytes()[16 - TAG_BYTES..]);
    }
    out
}

/// The tags of an answer's bytes, sorted; `None` when the length is not a whole number of tags.
pub fn tags_from_bytes(bytes: &[u8]) -> Option<Vec<Tag>> {
    if !bytes.len().is_multiple_of(TAG_BYTES) {
        return None;
    }
    let mut tags: Vec<Tag> = bytes
        .chunks_exact(TAG_BYTES)
        .map(|c| {
            let mut b = [0u8; 16];
            b[16 - TAG_BYTES..].copy_from_slice(c);
            u128::from_be_bytes(b)
        })
        .collect();
    tags.sort_unstable();
    Some(tags)
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
    fn a_tag_is_the_first_96_bits_of_its_sha256_under_the_login_prefix() {
        let output = [0u8; OUTPUT_LEN];
        let mut hash = Sha256::new();
        hash.update(b"leakwatch credential entry v1 exact");
        hash.update(output);
        let digest = hash.finalize();
        let t = tag(&output, Match::Exact);
        assert_eq!(t >> TAG_BITS, 0);
        assert_eq!(tags_to_bytes(&[t]), digest[..12].to_vec());
        let key = entry_key(0xABCD_E012, t);
        assert_eq!(key_login_prefix(key), 0xABCD_E012);
        assert_eq!(key_tag(key), t);
        assert_eq!(tags_from_bytes(&tags_to_bytes(&[t, 5])), Some(vec![5, t]));
        assert_eq!(tags_from_bytes(&[0; 13]), None);
    }

    /// Keys of `n` entries under each of `logins` (32-bit login prefixes), every tag distinct.
    fn keys_of(logins: &[(u32, usize)]) -> Vec<u128> {
        let mut keys: Vec<u128> = logins
            .iter()
            .flat_map(|&(p, n)| (0..n as u128).map(move |t| entry_key(p, u128::from(p) << 40 | t)))
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn a_bucket_is_split_only_as_far_as_its_largest_part_needs() {
        let small = keys_of(&[(0x1234_5000, 10), (0x1234_5FFF, 10)]);
        assert_eq!(answer_bits(&small), Some(20));
        assert_eq!(bucket_tags(&small, 0x12345, 20).len(), 20);
        // Two logins whose prefixes first differ in their 21st bit (…5000 and …5800).
        let half = MAX_ANSWER_ENTRIES / 2 + 1;
        let big = keys_of(&[(0x1234_5000, half), (0x1234_5800, half)]);
        assert_eq!(answer_bits(&big), Some(21));
        assert_eq!(bucket_tags(&big, 0x12345 << 1, 21).len(), half);
        assert_eq!(bucket_tags(&big, (0x12345 << 1) | 1, 21).len(), half);
        // One login with more entries than an answer holds: never answered.
        let hot = keys_of(&[(0x1234_5000, MAX_ANSWER_ENTRIES + 1)]);
        assert_eq!(answer_bits(&hot), None);
        assert_eq!(answer_bits(&[]), Some(20));
    }
}
