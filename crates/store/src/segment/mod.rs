//! Segment files: an immutable, sorted set of (hash, count) pairs of one namespace.
//!
//! Keys are split by their top bits into *groups* of about [`TARGET_GROUP_LEN`] keys (see
//! [`GroupLayout`]): below 67 million keys a group spans `2^g` whole 5-hex ranges (`g`, the
//! group shift), so the group table shrinks with the corpus; above, a 5-hex range is split
//! into `2^s` groups (`s`, the split), so a point lookup decodes as few keys at a billion as
//! at ten million. A range query reads one group or `2^s` adjacent ones, each contiguous and
//! checksummed. Inside a group (version 3), each key's low whole bytes below the group's
//! mean gap are stored verbatim, big-endian, one fixed-width record a key, and the few bits
//! above them are Elias–Fano coded, followed by Exp-Golomb coded counts: within a fraction of
//! a bit of the information-theoretic floor, like versions 1 and 2 (all of a key's bits
//! Rice-coded as a gap from the one before), but a key is rebuilt with one short read and no
//! 160-bit addition, and its low bytes are ready to print. Byte layout: docs/FORMAT.md.
//!
//! This module does not merge segments or know about manifests; see `crate::snapshot` and
//! `crate::writer` (the store's writer, not this module's `writer.rs`).

mod codec;
mod reader;
mod text;
mod writer;

pub use reader::{Segment, SegmentIter};
pub use writer::{EncodedGroups, GroupEncoder, SegmentWriter};

use crate::key::{Key, Namespace, PREFIX_BITS};

/// Magic bytes at the start of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"LWSEG\0\0\x01";
/// Magic bytes at the very end of every segment file.
pub const SEGMENT_END_MAGIC: &[u8; 8] = b"LWSEGEND";
/// Version of the segment layout this build writes: 3, groups of verbatim low bytes and
/// Rice-coded high bits ([`GroupCoding::LowBytes`]). It reads versions 1 and 2 (every bit of
/// a key in its Rice-coded gap; 2 adds split ranges), and writes them only when asked
/// ([`SegmentWriter::with_coding`]), so their readers stay tested.
pub const SEGMENT_VERSION: u32 = 3;
/// Most splits of a 5-hex range: 2^8 groups a range is enough for 2^20 · 2^8 · 64 ≈ 17
/// billion keys at the target group size.
pub const MAX_SPLIT: u32 = 8;
/// Footer size in bytes.
pub const FOOTER_LEN: usize = 64;
/// Group table entry size in bytes.
pub const GROUP_ENTRY_LEN: usize = 16;
/// Keys per group the writer aims for. A query decodes its key's group from the start (Rice
/// codes decode in order) after checking the group's CRC, so a point lookup or a small
/// range costs about half a group; smaller groups cost table bytes (16 a group: two bits a
/// key at this size). 64 keys: account lookups 7.2 → 2.4 µs and range answers alike, for
/// about 1% more bytes than 256-key groups. From about 67 million keys up a group is one
/// 5-hex range (`g = 0`); from about 134 million up ranges are split to keep groups near the
/// target (16 bytes of table a group, so about 2 bits a key).
pub const TARGET_GROUP_LEN: u64 = 64;
/// Largest count-code order the writer tries.
const MAX_COUNT_ORDER: u32 = 12;

/// How a segment's groups code their keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupCoding {
    /// Versions 1 and 2: each key a Rice-coded gap from the one before, all its bits in the
    /// bit stream (version 1 without splits, 2 with them). Decoding a 160-bit key takes wide
    /// reads and a 160-bit addition: most of a range's rendering at the real corpus's shape.
    RiceGaps,
    /// Version 3: each key's low bytes verbatim in a fixed-width record, only the bits above
    /// them Rice-coded; the same size, rebuilt with one short read.
    LowBytes,
}

/// Bytes of each key a version-3 group of `n` keys stores verbatim, when its keys' offsets
/// from the group's base are below `2^width`: the whole bytes below `log2(2^width / n)`, so
/// that the bits above them (coded as gaps) average a few a key; never more bytes than a
/// key's range suffix holds (17 for 160-bit keys, 13 for NTLM), so they render as hex
/// digits of the suffix and the rest (never more than 40 bits) fits a word.
pub(crate) fn low_bytes(ns: Namespace, width: u32, n: u32) -> u32 {
    let spread = width.saturating_sub(32 - n.saturating_sub(1).leading_zeros());
    (spread / 8).min((ns.key_bits() - PREFIX_BITS) / 8)
}

/// How a segment's keys are split into groups: by their top `bits` bits, so there are
/// `2^bits` groups. `bits <= 20` means a group spans `2^(20 - bits)` whole 5-hex ranges (the
/// group shift); `bits > 20` means each range is split into `2^(bits - 20)` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLayout {
    bits: u32,
}

impl GroupLayout {
    /// The layout for a segment expected to hold `n` keys: groups of at least
    /// [`TARGET_GROUP_LEN`] keys on average while they span ranges, then ranges split until
    /// groups hold fewer than that.
    pub fn for_keys(n: u64) -> GroupLayout {
        let mut shift = 0;
        while shift < PREFIX_BITS && (n << shift) < (TARGET_GROUP_LEN << PREFIX_BITS) {
            shift += 1;
        }
        let mut split = 0;
        while shift == 0 && split < MAX_SPLIT && (n >> (PREFIX_BITS + split)) >= TARGET_GROUP_LEN {
            split += 1;
        }
        GroupLayout {
            bits: PREFIX_BITS - shift + split,
        }
    }

    /// The layout recorded in a footer (shift and split), if it is one this build can read.
    fn from_footer(shift: u32, split: u32) -> Option<GroupLayout> {
        (shift <= PREFIX_BITS && split <= MAX_SPLIT && (split == 0 || shift == 0)).then_some(
            GroupLayout {
                bits: PREFIX_BITS - shift + split,
            },
        )
    }

    /// Ranges a group spans, as a power of two (0 when ranges are split).
    pub fn shift(self) -> u32 {
        PREFIX_BITS.saturating_sub(self.bits)
    }

    /// Groups a range is split into, as a power of two (0 when groups span ranges).
    pub fn split(self) -> u32 {
        self.bits.saturating_sub(PREFIX_BITS)
    }

    /// Number of groups.
    pub fn groups(self) -> u32 {
        1 << self.bits
    }

    /// The group holding `key`.
    pub fn group_of(self, ns: Namespace, key: Key) -> u32 {
        if self.bits == 0 {
            return 0;
        }
        key.shift_right(ns.key_bits() - self.bits).low_u64() as u32
    }

    /// The groups holding the 5-hex range `prefix`, in key order.
    pub fn groups_of_range(self, prefix: u32) -> std::ops::Range<u32> {
        let split = self.split();
        let first = (prefix >> self.shift()) << split;
        first..first + (1 << split)
    }

    /// The smallest key group `g` can hold.
    fn base(self, ns: Namespace, g: u32) -> Key {
        Key::first_with_prefix(ns, g as u64, self.bits)
    }
}

/// What a finished segment holds; recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentStats {
    /// Distinct keys.
    pub hashes: u64,
    /// Sum of counts (saturating).
    pub total_count: u64,
    /// File size in bytes.
    pub bytes: u64,
}

#[inline]
fn mask(len: u32) -> u64 {
    if len >= 64 {
        u64::MAX
    } else {
        (1u64 << len) - 1
    }
}

#[derive(Debug, Clone, Copy)]
struct GroupEntry {
    offset: u64,
    rice_k: u8,
    count_order: u8,
    len: u32,
    crc: u32,
}

impl GroupEntry {
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes()[..6]);
        out.push(self.rice_k);
        out.push(self.count_order);
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
    }

    fn read(b: &[u8]) -> GroupEntry {
        let mut off = [0u8; 8];
        off[..6].copy_from_slice(&b[..6]);
        GroupEntry {
            offset: u64::from_le_bytes(off),
            rice_k: b[6],
            count_order: b[7],
            len: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            crc: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
        }
    }
}
