//! A bucket's entries: for each leaked (login, password) pair and each of its password's
//! variants, a [`TAG_LEN`]-byte tag of the OPRF output that says exact or similar. The
//! client, having finalised its own output, computes the exact and the similar tag and looks
//! for either; nobody without the OPRF key can compute any tag, so a bucket reveals neither
//! logins nor passwords, nor which of its entries are exact.

use sha2::{Digest, Sha256};

use crate::oprf::OUTPUT_LEN;

/// Bytes of a tag: at 16 billion credentials × 11 entries over 2^20 buckets (~170,000
/// entries a bucket), the chance that a check meets a false match is ~2^-110.
pub const TAG_LEN: usize = 16;

/// A bucket entry's tag.
pub type Tag = [u8; TAG_LEN];

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

/// The tag of an OPRF output as an entry of kind `kind`: the first [`TAG_LEN`] bytes of
/// SHA-256(label of the kind ‖ output).
pub fn tag(output: &[u8; OUTPUT_LEN], kind: Match) -> Tag {
    let mut hash = Sha256::new();
    hash.update(kind.label());
    hash.update(output);
    let digest = hash.finalize();
    let mut tag = [0; TAG_LEN];
    tag.copy_from_slice(&digest[..TAG_LEN]);
    tag
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
}
