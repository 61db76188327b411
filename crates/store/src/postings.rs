//! Posting lists of the account namespace: the breach set each breach-set id stands for.
//!
//! An account segment stores, with every account hash, a small integer (1, 2, …) instead of
//! a count; its postings file, written beside it and named in the manifest, maps that
//! integer to a sorted list of *breach references*. A reference is a store-local breach id
//! (an index into [`crate::Manifest::breaches`]) shifted left by one, with the low bit set
//! when the identifier was only ever *secondary* in that breach (a username or phone number
//! on a line that also had an e-mail address): PwnCount counts primary identifiers only, so
//! one person's address, username and phone number count once. See [`breach_ref`].
//!
//! An import segment has two sets (`{breach, primary}` = 1, `{breach, secondary}` = 2) and
//! spends about one bit per account on them; a compacted segment numbers the distinct sets
//! by descending frequency, so the common sets get the short codes. A lookup is one segment
//! probe plus one array index, whatever the number of breaches.
//!
//! The whole file is read into memory on open (it holds distinct *sets*, not accounts) and
//! checked against its checksum. Layout in docs/FORMAT.md.

use crate::{
    error::{Result, StoreError},
    footer::{self, Fields},
};

/// Trailing magic of a postings file.
pub const POSTINGS_MAGIC: &[u8; 8] = b"LWPOSTS\x01";
/// Layout version of postings files.
pub const POSTINGS_VERSION: u32 = 1;
const FOOTER_LEN: usize = footer::TRAILER_LEN + 8;

/// The reference to breach `id` for an identifier that is primary (or only secondary) in it.
pub const fn breach_ref(id: u32, primary: bool) -> u32 {
    (id << 1) | (!primary as u32)
}

/// The breach id a reference names.
pub const fn ref_breach(r: u32) -> u32 {
    r >> 1
}

/// Whether a reference marks a primary identifier.
pub const fn ref_is_primary(r: u32) -> bool {
    r & 1 == 0
}

/// Makes a set of references canonical: sorted, unique, and without the secondary
/// reference to a breach the set also references as primary.
pub fn canonical_refs(set: &mut Vec<u32>) {
    set.sort_unstable();
    set.dedup();
    // A primary `2i` sorts right before its secondary `2i + 1`.
    set.dedup_by(|later, kept| *later == *kept + 1 && ref_is_primary(*kept));
}

/// The breach sets of one account segment, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postings {
    /// `starts[i]..starts[i + 1]` is set `i + 1` in `ids`.
    starts: Vec<u32>,
    ids: Vec<u32>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7F) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

impl Postings {
    /// Builds postings from sets of breach references given in id order (set 1 first).
    /// Each set is made canonical here ([`canonical_refs`]).
    pub fn new(sets: impl IntoIterator<Item = Vec<u32>>) -> Postings {
        let mut starts = vec![0u32];
        let mut ids = Vec::new();
        for mut set in sets {
            canonical_refs(&mut set);
            ids.extend_from_slice(&set);
            starts.push(ids.len() as u32);
        }
        Postings { starts, ids }
    }

    /// Number of sets.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }
    /// True when there is no set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The breach references of set `id` (1-based, as stored in the segment), sorted.
    pub fn set(&self, id: u64) -> Option<&[u32]> {
        let i = usize::try_from(id.checked_sub(1)?).ok()?;
        let (&a, &b) = (self.starts.get(i)?, self.starts.get(i + 1)?);
        Some(&self.ids[a as usize..b as usize])
    }

    /// Every set in id order.
    pub fn sets(&self) -> impl Iterator<Item = &[u32]> {
        self.starts
            .windows(2)
            .map(|w| &self.ids[w[0] as usize..w[1] as usize])
    }

    /// Serialises: per set a varint length and delta-coded varint ids, then the footer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ids.len() * 2 + FOOTER_LEN);
        for set in self.sets() {
            put_varint(&mut out, set.len() as u64);
            let mut prev = 0u32;
            for (i, &id) in set.iter().enumerate() {
                put_varint(&mut out, u64::from(if i == 0 { id } else { id - prev }));
                prev = id;
            }
        }
        let sets = Fields::with_capacity(8).u64(self.len() as u64);
        footer::append_trailer(&mut out, POSTINGS_VERSION, sets, POSTINGS_MAGIC);
        out
    }

    /// Parses and checks a file written by [`Postings::encode`].
    pub fn decode(name: &str, bytes: &[u8]) -> Result<Postings> {
        let trailer = footer::check_trailer(
            name,
            "postings",
            bytes,
            POSTINGS_MAGIC,
            POSTINGS_VERSION..=POSTINGS_VERSION,
            8,
        )?;
        let (sets, body) = (trailer.extra.u64(0), trailer.body);
        let bad = |at: usize, why: &str| StoreError::corrupt(name, at as u64, why.to_owned());
        let mut starts = vec![0u32];
        let mut ids = Vec::new();
        let mut at = 0;
        for _ in 0..sets {
            let len = get_varint(body, &mut at).ok_or_else(|| bad(at, "truncated set"))?;
            let mut prev = 0u64;
            for i in 0..len {
                let v = get_varint(body, &mut at).ok_or_else(|| bad(at, "truncated set"))?;
                let id = if i == 0 { v } else { prev + v };
                if (i > 0 && v == 0) || id > u64::from(u32::MAX) {
                    return Err(bad(at, "set not strictly increasing"));
                }
                ids.push(id as u32);
                prev = id;
            }
            starts.push(ids.len() as u32);
        }
        if at != body.len() {
            return Err(bad(at, "trailing bytes after the last set"));
        }
        Ok(Postings { starts, ids })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_answers_by_one_based_id() {
        let p = Postings::new([vec![3], vec![9, 1, 1, 300_000], vec![], vec![u32::MAX]]);
        let back = Postings::decode("p", &p.encode()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.set(1), Some(&[3][..]));
        assert_eq!(back.set(2), Some(&[1, 9, 300_000][..]));
        assert_eq!(back.set(3), Some(&[][..]));
        assert_eq!(back.set(4), Some(&[u32::MAX][..]));
        assert_eq!(back.set(0), None);
        assert_eq!(back.set(5), None);
    }

    #[test]
    fn references_carry_the_breach_and_whether_the_identifier_was_primary() {
        assert_eq!(ref_breach(breach_ref(7, true)), 7);
        assert_eq!(ref_breach(breach_ref(7, false)), 7);
        assert!(ref_is_primary(breach_ref(7, true)));
        assert!(!ref_is_primary(breach_ref(7, false)));
        let mut set = vec![
            breach_ref(3, false),
            breach_ref(1, false),
            breach_ref(3, true),
            2,
            2,
        ];
        canonical_refs(&mut set);
        // 2 is breach 1 as primary: it absorbs breach 1's secondary reference.
        assert_eq!(set, [breach_ref(1, true), breach_ref(3, true)]);
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let bytes = Postings::new([vec![1, 2, 3], vec![7], vec![0, 5]]).encode();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            assert!(
                Postings::decode("p", &bad).is_err(),
                "flip at {i} undetected"
            );
        }
    }
}
