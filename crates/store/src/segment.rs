//! Segment files: an immutable, sorted set of (hash, count) pairs of one namespace.
//!
//! Keys are split by their top bits into *groups* of about [`TARGET_GROUP_LEN`] keys (see
//! [`GroupLayout`]): below 67 million keys a group spans `2^g` whole 5-hex ranges (`g`, the
//! group shift), so the group table shrinks with the corpus; above, a 5-hex range is split
//! into `2^s` groups (`s`, the split), so a point lookup decodes as few keys at a billion as
//! at ten million. A range query reads one group or `2^s` adjacent ones, each contiguous and
//! checksummed. Inside a group (version 3), each key's low whole bytes below the group's
//! mean gap are stored verbatim, big-endian, one fixed-width record a key, and the few bits
//! above them are Rice-coded gaps, followed by Exp-Golomb coded counts: within a fraction of
//! a bit of the information-theoretic floor, like versions 1 and 2 (all of a key's bits
//! Rice-coded as a gap from the one before), but a key is rebuilt with one short read and no
//! 160-bit addition, and its low bytes are ready to print. Byte layout: docs/FORMAT.md.
//!
//! This module does not merge segments or know about manifests; see `snapshot.rs` and
//! `writer.rs`.

use std::io::Write;

use crate::{
    bits::{BitWriter, CHUNK, WindowReader},
    directory::{FileSlice, WriteFile},
    error::{Result, StoreError},
    footer::{self, Fault, Fields},
    key::{Key, Namespace, PREFIX_BITS},
};

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

/// A Rice-coded gap: `q · 2^k` plus `k` raw bits (`None` if the bits run out). `k ≤ 160`,
/// checked by the caller. Up to three reads at fixed offsets: a gap between 140-bit suffixes
/// has `k` near 129, and a loop with variable 128-bit shifts cost a fifth of a range's decode.
#[inline(always)]
fn read_gap(r: &mut WindowReader<'_>, q: u64, k: u32) -> Option<Key> {
    let raw = if k <= CHUNK {
        Key::from_u128(r.read(k) as u128)
    } else if k <= 2 * CHUNK {
        let low = r.read(CHUNK) as u128;
        Key::from_u128(low | (r.read(k - CHUNK) as u128) << CHUNK)
    } else {
        let low = r.read(CHUNK) as u128;
        let mid = r.read(CHUNK) as u128;
        // k ≤ 160, so at most 48 more bits: 16 complete the low 128, the rest (≤ 32) go high.
        let top = r.read(k - 2 * CHUNK);
        Key::from_parts(
            (top >> 16) as u32,
            low | mid << CHUNK | (top as u128) << (2 * CHUNK),
        )
    };
    if q == 0 {
        return Some(raw);
    }
    // Past 2^160 (a damaged group) is `None`; the key comparison after the add catches the rest.
    Key::from_u128(q as u128).shift_left(k).checked_add(raw)
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

/// Streams sorted (key, count) pairs into a new segment file.
pub struct SegmentWriter {
    out: Box<dyn WriteFile>,
    ns: Namespace,
    layout: GroupLayout,
    next_group: u32,
    pending: Vec<(Key, u64)>,
    pending_group: u32,
    table: Vec<u8>,
    offset: u64,
    stats: SegmentStats,
    last: Option<Key>,
    bits: BitWriter,
    coding: GroupCoding,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("ns", &self.ns)
            .field("stats", &self.stats)
            .finish()
    }
}

impl SegmentWriter {
    /// Starts a segment; `expected_hashes` (an estimate is fine) sizes the groups.
    pub fn new(out: Box<dyn WriteFile>, ns: Namespace, expected_hashes: u64) -> Result<Self> {
        Self::with_coding(out, ns, expected_hashes, GroupCoding::LowBytes)
    }

    /// Starts a segment whose groups use `coding`: [`GroupCoding::RiceGaps`] writes the
    /// versions older builds read (compatibility tests use it; nothing else should).
    pub fn with_coding(
        mut out: Box<dyn WriteFile>,
        ns: Namespace,
        expected_hashes: u64,
        coding: GroupCoding,
    ) -> Result<Self> {
        out.write_all(SEGMENT_MAGIC)
            .map_err(|e| StoreError::io("segment", e))?;
        Ok(SegmentWriter {
            out,
            ns,
            layout: GroupLayout::for_keys(expected_hashes),
            next_group: 0,
            pending: Vec::new(),
            pending_group: 0,
            table: Vec::new(),
            offset: SEGMENT_MAGIC.len() as u64,
            stats: SegmentStats {
                hashes: 0,
                total_count: 0,
                bytes: 0,
            },
            last: None,
            bits: BitWriter::new(),
            coding,
        })
    }

    /// Adds a key; keys must arrive strictly increasing and counts be at least 1.
    pub fn push(&mut self, key: Key, count: u64) -> Result<()> {
        check_next(self.ns, self.last, key, count)?;
        self.last = Some(key);
        let group = self.layout.group_of(self.ns, key);
        if group != self.pending_group {
            self.flush_through(group)?;
            self.pending_group = group;
        }
        self.pending.push((key, count));
        self.stats.hashes += 1;
        self.stats.total_count = self.stats.total_count.saturating_add(count);
        Ok(())
    }

    /// What encodes this segment's groups on other threads: see [`GroupEncoder`].
    pub fn group_encoder(&self) -> GroupEncoder {
        GroupEncoder {
            ns: self.ns,
            layout: self.layout,
            coding: self.coding,
        }
    }

    /// Appends groups a [`GroupEncoder`] of this writer made: their keys must follow every
    /// key written so far, in groups after the one [`SegmentWriter::push`] is filling.
    pub fn append_encoded(&mut self, encoded: EncodedGroups) -> Result<()> {
        let Some((first, last)) = encoded.keys else {
            return Ok(());
        };
        check_next(self.ns, self.last, first, 1)?;
        let first_group = encoded.groups.first().map_or(0, |g| g.0);
        if !self.pending.is_empty() && self.pending_group >= first_group {
            return Err(StoreError::InvalidArgument(format!(
                "encoded groups from {first_group} overlap group {} being filled",
                self.pending_group
            )));
        }
        let mut at = 0usize;
        for (g, mut entry) in encoded.groups {
            self.flush_through(g)?;
            let len = entry.offset as usize; // the group's byte length, until placed
            let bytes = &encoded.bytes[at..at + len];
            at += len;
            self.out
                .write_all(bytes)
                .map_err(|e| StoreError::io("segment", e))?;
            entry.offset = self.offset;
            self.offset += len as u64;
            entry.write_to(&mut self.table);
            self.next_group = g + 1;
        }
        self.pending_group = self.next_group;
        self.last = Some(last);
        self.stats.hashes += encoded.hashes;
        self.stats.total_count = self.stats.total_count.saturating_add(encoded.total_count);
        Ok(())
    }

    /// Writes every group before `until` (the pending one and empty ones after it).
    fn flush_through(&mut self, until: u32) -> Result<()> {
        while self.next_group < until {
            let g = self.next_group;
            let entry = if g == self.pending_group && !self.pending.is_empty() {
                let (bytes, entry) =
                    self.group_encoder()
                        .encode_group(g, &self.pending, &mut self.bits);
                self.out
                    .write_all(&bytes)
                    .map_err(|e| StoreError::io("segment", e))?;
                let entry = GroupEntry {
                    offset: self.offset,
                    ..entry
                };
                self.offset += bytes.len() as u64;
                self.pending.clear();
                entry
            } else {
                GroupEntry {
                    offset: self.offset,
                    rice_k: 0,
                    count_order: 0,
                    len: 0,
                    crc: 0,
                }
            };
            entry.write_to(&mut self.table);
            self.next_group += 1;
        }
        Ok(())
    }

    /// Writes the group table and footer and publishes the file.
    pub fn finish(mut self) -> Result<SegmentStats> {
        self.flush_through(self.layout.groups())?;
        let table_offset = self.offset;
        let table_crc = crc32c::crc32c(&self.table);
        let version = match self.coding {
            GroupCoding::RiceGaps if self.layout.split() == 0 => 1,
            GroupCoding::RiceGaps => 2,
            GroupCoding::LowBytes => SEGMENT_VERSION,
        };
        let footer = Fields::with_capacity(FOOTER_LEN)
            .u32(version)
            .bytes(&[
                self.ns.code(),
                self.ns.key_bits() as u8,
                self.layout.shift() as u8,
                self.layout.split() as u8,
            ])
            .u64(self.stats.hashes)
            .u64(self.stats.total_count)
            .u64(SEGMENT_MAGIC.len() as u64)
            .u64(table_offset)
            .u32(table_crc)
            .bytes(&[0u8; 8])
            .seal(SEGMENT_END_MAGIC);
        debug_assert_eq!(footer.len(), FOOTER_LEN);
        self.out
            .write_all(&self.table)
            .map_err(|e| StoreError::io("segment", e))?;
        self.out
            .write_all(&footer)
            .map_err(|e| StoreError::io("segment", e))?;
        self.out.finish()?;
        self.stats.bytes = table_offset + self.table.len() as u64 + FOOTER_LEN as u64;
        Ok(self.stats)
    }
}

/// Checks that `key` may follow `last` in a segment of `ns` with `count`.
fn check_next(ns: Namespace, last: Option<Key>, key: Key, count: u64) -> Result<()> {
    if count == 0 {
        return Err(StoreError::InvalidArgument("count 0".into()));
    }
    if key.bit_len() > ns.key_bits() {
        return Err(StoreError::InvalidArgument(format!(
            "{key:?} too wide for {ns}"
        )));
    }
    if last.is_some_and(|last| key <= last) {
        return Err(StoreError::InvalidArgument(format!(
            "keys out of order at {key:?}"
        )));
    }
    Ok(())
}

/// Encodes whole groups of a segment on any thread (an import's sorter threads), for its
/// [`SegmentWriter`] to append in order: encoding is most of writing a segment, and each
/// group's bytes depend only on its keys.
#[derive(Debug, Clone, Copy)]
pub struct GroupEncoder {
    ns: Namespace,
    layout: GroupLayout,
    coding: GroupCoding,
}

/// Groups a [`GroupEncoder`] made: their bytes, and their table entries with each group's
/// byte length where its offset will go.
#[derive(Debug, Default)]
pub struct EncodedGroups {
    groups: Vec<(u32, GroupEntry)>,
    bytes: Vec<u8>,
    /// The first and last key.
    keys: Option<(Key, Key)>,
    hashes: u64,
    total_count: u64,
}

impl GroupEncoder {
    /// Whether keys equal in their top `bits` bits fill whole groups: then runs of them
    /// (an import's partitions) are encoded apart and appended in order.
    pub fn whole_groups_within(&self, bits: u32) -> bool {
        self.layout.bits >= bits
    }

    /// Encodes `keys` (strictly ascending, counts at least 1), which must be all the keys of
    /// the groups they fall in.
    pub fn encode(&self, keys: &[(Key, u64)]) -> Result<EncodedGroups> {
        let mut out = EncodedGroups::default();
        let mut bits = BitWriter::new();
        let mut last = None;
        for &(key, count) in keys {
            check_next(self.ns, last, key, count)?;
            last = Some(key);
            out.total_count = out.total_count.saturating_add(count);
        }
        let (Some(&(first, _)), Some(last)) = (keys.first(), last) else {
            return Ok(out);
        };
        out.keys = Some((first, last));
        out.hashes = keys.len() as u64;
        let mut rest = keys;
        while let Some(&(key, _)) = rest.first() {
            let g = self.layout.group_of(self.ns, key);
            let n = rest.partition_point(|&(k, _)| self.layout.group_of(self.ns, k) == g);
            let (bytes, mut entry) = self.encode_group(g, &rest[..n], &mut bits);
            entry.offset = bytes.len() as u64;
            out.bytes.extend_from_slice(&bytes);
            out.groups.push((g, entry));
            rest = &rest[n..];
        }
        Ok(out)
    }

    /// Encodes group `g` (its keys `elems`); the entry's offset is left 0.
    fn encode_group(
        &self,
        g: u32,
        elems: &[(Key, u64)],
        bits: &mut BitWriter,
    ) -> (Vec<u8>, GroupEntry) {
        let base = self.layout.base(self.ns, g);
        let (bytes, k, c) = match self.coding {
            GroupCoding::RiceGaps => encode_group(base, elems, bits),
            GroupCoding::LowBytes => {
                let width = self.ns.key_bits() - self.layout.bits;
                let l8 = low_bytes(self.ns, width, elems.len() as u32);
                encode_group_low_bytes(base, width, l8, elems, bits)
            }
        };
        let entry = GroupEntry {
            offset: 0,
            rice_k: k as u8,
            count_order: c as u8,
            len: elems.len() as u32,
            crc: crc32c::crc32c(&bytes),
        };
        (bytes, entry)
    }
}

/// Cost in bits of Rice-coding gaps with parameter `k`, given `high[i] = gap[i] >> base`
/// for some `base <= k`.
fn rice_cost(high: &[u64], base: u32, k: u32) -> u64 {
    let shift = k - base;
    let unary: u64 = high
        .iter()
        .map(|&h| if shift >= 64 { 0 } else { h >> shift })
        .fold(0, u64::saturating_add);
    unary.saturating_add(high.len() as u64 * (1 + k as u64))
}

/// Cost in bits of Exp-Golomb coding every `count - 1` with order `c`.
fn count_cost(counts: &[u64], c: u32) -> u64 {
    counts
        .iter()
        .map(|&n| {
            let vp = (n - 1) as u128 + (1u128 << c);
            let bl = 128 - vp.leading_zeros();
            (2 * bl - 1 - c) as u64
        })
        .sum()
}

/// Encodes one group, choosing the Rice parameter and count order that minimise its size.
fn encode_group(base: Key, elems: &[(Key, u64)], bits: &mut BitWriter) -> (Vec<u8>, u32, u32) {
    let mut gaps = Vec::with_capacity(elems.len());
    let mut prev = base;
    for &(key, _) in elems {
        gaps.push(key.wrapping_sub(prev));
        prev = key;
    }
    let span_bits = gaps.iter().map(|g| g.bit_len()).max().unwrap_or(0);
    let len_bits = 64 - (elems.len() as u64).leading_zeros();
    // The optimum is near log2(mean gap) - 0.5; search around it. `min_k` keeps every
    // unary part short (below 2^32), whatever the distribution.
    let total_bits = (prev.wrapping_sub(base)).bit_len();
    let guess = total_bits.saturating_sub(len_bits);
    let min_k = span_bits.saturating_sub(32);
    // One wide shift per gap; the candidates then cost only word shifts.
    let base = guess.saturating_sub(3).max(min_k).min(160);
    let high: Vec<u64> = gaps
        .iter()
        .map(|g| g.shift_right(base).to_u64().unwrap_or(u64::MAX / 4))
        .collect();
    let k = (guess.saturating_sub(3)..=guess + 2)
        .map(|k| k.max(min_k).min(160))
        .min_by_key(|&k| (rice_cost(&high, base, k), k))
        .unwrap_or(min_k);
    let c = count_order(elems);
    for (gap, &(_, count)) in gaps.iter().zip(elems) {
        bits.write_unary(gap.shift_right(k).to_u64().unwrap_or(0));
        bits.write_wide(|start, len| gap.bits(start, len), k);
        write_count(bits, count, c);
    }
    (bits.take_bytes(), k, c)
}

/// The Exp-Golomb order that codes a group's counts in the fewest bits.
fn count_order(elems: &[(Key, u64)]) -> u32 {
    let counts: Vec<u64> = elems.iter().map(|e| e.1).collect();
    (0..=MAX_COUNT_ORDER)
        .min_by_key(|&c| (count_cost(&counts, c), c))
        .unwrap_or(0)
}

/// Writes `count - 1` in Exp-Golomb code of order `c`.
fn write_count(bits: &mut BitWriter, count: u64, c: u32) {
    let vp = (count - 1) as u128 + (1u128 << c);
    let bl = 128 - vp.leading_zeros();
    bits.write_unary((bl - 1 - c) as u64);
    let low = vp & !(1u128 << (bl - 1));
    bits.write_wide(|start, len| ((low >> start) as u64) & mask(len), bl - 1);
}

/// Encodes one version-3 group, `n` keys whose offsets from `base` are below `2^width`:
///
/// 1. the byte length of part 4, LEB128;
/// 2. each key's low `l8` bytes, verbatim and big-endian, a record a key;
/// 3. the low `k` bits of each key's *high part* (the offset above those bytes), packed
///    least significant first;
/// 4. the rest of each high part in Elias–Fano's unary code: for key `i`, a 1 bit at
///    position `(high >> k) + i`;
/// 5. the counts, Exp-Golomb of order `c`.
///
/// Parts 3 and 4 together cost what Rice-coded gaps with parameter `k` cost (`k` bits and
/// a unary step a key), but each key's high part is found without decoding the ones before
/// it, so decoding a key is not a chain of dependent reads.
fn encode_group_low_bytes(
    base: Key,
    width: u32,
    l8: u32,
    elems: &[(Key, u64)],
    bits: &mut BitWriter,
) -> (Vec<u8>, u32, u32) {
    let n = elems.len() as u64;
    let l8 = l8 as usize;
    let high_bits = width - 8 * l8 as u32;
    let mut lows = Vec::with_capacity(elems.len() * l8);
    let mut highs = Vec::with_capacity(elems.len());
    for &(key, _) in elems {
        let offset = key.wrapping_sub(base);
        lows.extend_from_slice(&offset.be_bytes()[20 - l8..]);
        // Below 2^40 (see `low_bytes`), and ascending because the keys are.
        highs.push(
            offset
                .shift_right(8 * l8 as u32)
                .to_u64()
                .unwrap_or(u64::MAX),
        );
    }
    let last = highs.last().copied().unwrap_or(0);
    // Elias–Fano's cost is exact: k bits a key, one 1 a key, and a 0 per step of 2^k.
    let k = (0..=high_bits.min(CHUNK))
        .min_by_key(|&k| (n * k as u64 + (last >> k), k))
        .unwrap_or(0);
    for &high in &highs {
        bits.write(high & mask(k), k);
    }
    let low_k = bits.take_bytes();
    let mut unary = vec![0u8; ((last >> k) + n).div_ceil(8) as usize];
    for (i, &high) in highs.iter().enumerate() {
        let at = (high >> k) as usize + i;
        unary[at / 8] |= 1 << (at % 8);
    }
    let c = count_order(elems);
    for &(_, count) in elems {
        write_count(bits, count, c);
    }
    let counts = bits.take_bytes();
    let mut out = Vec::with_capacity(5 + lows.len() + low_k.len() + unary.len() + counts.len());
    let mut len = unary.len() as u64;
    while len >= 0x80 {
        out.push(len as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    for part in [lows, low_k, unary, counts] {
        out.extend_from_slice(&part);
    }
    (out, k, c)
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

/// Whether big-endian `low` follows `prev` (the same length): one 128-bit comparison for the
/// widths the real corpus's segments store.
#[inline(always)]
fn low_bytes_ascend(prev: &[u8], low: &[u8]) -> bool {
    let tail = |b: &[u8]| {
        b.get(b.len().wrapping_sub(16)..)
            .and_then(|t| t.try_into().ok())
            .map(u128::from_be_bytes)
    };
    match (prev.len(), tail(prev), tail(low)) {
        (16, Some(p), Some(l)) => p < l,
        (17, Some(p), Some(l)) => (prev[0], p) < (low[0], l),
        _ => prev < low,
    }
}

/// Reads a count: Exp-Golomb of order `c` of `count - 1`.
#[inline(always)]
fn read_count(r: &mut WindowReader<'_>, c: u32) -> std::result::Result<u64, &'static str> {
    // Most codes (every one of up to 56 bits) come from one load: a decoder is as fast as
    // the chain of its dependent loads.
    let w = r.peek();
    let u = w.trailing_zeros();
    if u + 1 + u + c <= CHUNK {
        let nbits = u + c;
        r.skip(u + 1 + nbits);
        if r.overrun() {
            return Err("truncated count");
        }
        return Ok(((1u64 << nbits) | ((w >> (u + 1)) & mask(nbits))) - (1u64 << c) + 1);
    }
    let u = r.read_unary().ok_or("truncated count")?;
    let nbits = u as u32 + c;
    if nbits > 64 {
        return Err("count too large");
    }
    // One read for every count below 2^56 (a loop here mispredicted on most keys).
    let low = if nbits <= CHUNK {
        r.read(nbits) as u128
    } else {
        let first = r.read(CHUNK) as u128;
        first | (r.read(nbits - CHUNK) as u128) << CHUNK
    };
    if r.overrun() {
        return Err("truncated count");
    }
    // Exp-Golomb: 2^nbits + low - 2^c + 1, in 64 bits but for the widest codes.
    if nbits < 64 {
        Ok(((1u64 << nbits) | low as u64) - (1u64 << c) + 1)
    } else {
        let wide = ((1u128 << nbits) | low) - (1u128 << c) + 1;
        u64::try_from(wide).map_err(|_| "count too large")
    }
}

/// A segment opened for reading. Cheap to clone; reads go straight to the mapped bytes.
#[derive(Debug, Clone)]
pub struct Segment {
    name: String,
    file: FileSlice,
    ns: Namespace,
    layout: GroupLayout,
    hashes: u64,
    total_count: u64,
    table_offset: usize,
    version: u32,
}

impl Segment {
    /// Validates the footer and group table checksums and opens the segment.
    /// Group data is checked when each group is read.
    pub fn open(name: &str, file: FileSlice) -> Result<Segment> {
        let b = file.bytes();
        let len = b.len();
        let min = SEGMENT_MAGIC.len() + FOOTER_LEN;
        if len < min {
            return Err(StoreError::corrupt(
                name,
                0,
                format!("{len} bytes is too short for a segment"),
            ));
        }
        if &b[..8] != SEGMENT_MAGIC {
            return Err(StoreError::corrupt(
                name,
                0,
                "bad magic: not a leakwatch segment",
            ));
        }
        let foot_at = (len - FOOTER_LEN) as u64;
        let f = match footer::open_sealed(b, FOOTER_LEN, SEGMENT_END_MAGIC) {
            Ok(f) => f,
            Err(Fault::Checksum) => {
                return Err(StoreError::corrupt(
                    name,
                    foot_at,
                    "footer checksum mismatch",
                ));
            }
            Err(Fault::Magic | Fault::TooShort) => {
                return Err(StoreError::corrupt(
                    name,
                    foot_at + 56,
                    "bad end magic: truncated segment?",
                ));
            }
        };
        let version = f.u32(0);
        if !(1..=SEGMENT_VERSION).contains(&version) {
            return Err(StoreError::UnsupportedVersion {
                file: name.into(),
                found: version,
                supported: SEGMENT_VERSION,
            });
        }
        let ns = Namespace::from_code(f.u8(4))
            .filter(|ns| ns.key_bits() == f.u8(5) as u32)
            .ok_or_else(|| StoreError::corrupt(name, foot_at + 4, "unknown namespace"))?;
        // Version 1 had no split; its byte 7 was always 0. Version 2 was written only for
        // split segments; version 3 for all.
        let split = if version == 1 { 0 } else { f.u8(7) as u32 };
        let layout = GroupLayout::from_footer(f.u8(6) as u32, split)
            .filter(|_| version != 2 || split > 0)
            .ok_or_else(|| StoreError::corrupt(name, foot_at + 6, "group layout out of range"))?;
        let table_offset = f.u64(32);
        let table_len = (GROUP_ENTRY_LEN as u64) << layout.bits;
        if f.u64(24) != SEGMENT_MAGIC.len() as u64
            || table_offset.checked_add(table_len) != Some(foot_at)
        {
            return Err(StoreError::corrupt(
                name,
                foot_at + 24,
                "section offsets do not add up",
            ));
        }
        let table = &b[table_offset as usize..foot_at as usize];
        if crc32c::crc32c(table) != f.u32(40) {
            return Err(StoreError::corrupt(
                name,
                table_offset,
                "group table checksum mismatch",
            ));
        }
        let seg = Segment {
            name: name.to_owned(),
            ns,
            layout,
            hashes: f.u64(8),
            total_count: f.u64(16),
            table_offset: table_offset as usize,
            version,
            file,
        };
        // Cheap structural check of the table so later reads can index without surprises.
        let mut prev = SEGMENT_MAGIC.len() as u64;
        let mut sum = 0u64;
        for g in 0..seg.group_count() {
            let e = seg.entry(g);
            if e.offset != prev {
                return Err(StoreError::corrupt(
                    name,
                    seg.entry_pos(g) as u64,
                    "group offsets not contiguous",
                ));
            }
            prev = seg.group_end(g);
            if prev < e.offset || prev > table_offset {
                return Err(StoreError::corrupt(
                    name,
                    seg.entry_pos(g) as u64,
                    "group extends past data",
                ));
            }
            sum += e.len as u64;
        }
        if sum != seg.hashes {
            return Err(StoreError::corrupt(
                name,
                foot_at + 8,
                "hash count disagrees with group table",
            ));
        }
        Ok(seg)
    }

    /// The file name in the directory.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The namespace of every key in this segment.
    pub fn namespace(&self) -> Namespace {
        self.ns
    }
    /// Distinct keys.
    pub fn hashes(&self) -> u64 {
        self.hashes
    }
    /// Sum of all counts.
    pub fn total_count(&self) -> u64 {
        self.total_count
    }
    /// File size in bytes.
    pub fn bytes(&self) -> u64 {
        self.file.bytes().len() as u64
    }
    /// How keys are split into groups.
    pub fn group_layout(&self) -> GroupLayout {
        self.layout
    }
    /// Number of groups.
    pub fn group_count(&self) -> u32 {
        self.layout.groups()
    }

    fn entry_pos(&self, g: u32) -> usize {
        self.table_offset + g as usize * GROUP_ENTRY_LEN
    }
    fn entry(&self, g: u32) -> GroupEntry {
        let at = self.entry_pos(g);
        GroupEntry::read(&self.file.bytes()[at..at + GROUP_ENTRY_LEN])
    }
    fn group_end(&self, g: u32) -> u64 {
        if g + 1 < self.group_count() {
            self.entry(g + 1).offset
        } else {
            self.table_offset as u64
        }
    }

    /// The bytes of group `g` (entry `e`) once their checksum matches; `None` when empty.
    fn checked_group(&self, g: u32, e: GroupEntry) -> Result<Option<&[u8]>> {
        if e.len == 0 {
            return Ok(None);
        }
        let end = self.group_end(g);
        let bytes = &self.file.bytes()[e.offset as usize..end as usize];
        if crc32c::crc32c(bytes) != e.crc {
            return Err(StoreError::corrupt(
                &self.name,
                e.offset,
                format!("group {g} checksum mismatch"),
            ));
        }
        Ok(Some(bytes))
    }

    /// Decodes group `g`, calling `f(key, count)` in key order until it returns `false`.
    /// The group's checksum is verified first, so damaged bytes never produce an answer.
    pub fn scan_group(&self, g: u32, mut f: impl FnMut(Key, u64) -> bool) -> Result<()> {
        let e = self.entry(g);
        let Some(bytes) = self.checked_group(g, e)? else {
            return Ok(());
        };
        let file = self.file.bytes();
        let bad =
            |why: &str| StoreError::corrupt(&self.name, e.offset, format!("group {g}: {why}"));
        let base = self.layout.base(self.ns, g);
        let k = e.rice_k as u32;
        let c = e.count_order as u32;
        if self.version >= 3 {
            return self.scan_low_bytes(g, e, bytes, base, f);
        }
        if k > 160 || c > 63 {
            return Err(bad("codec parameters out of range"));
        }
        // Every key of the group is below the next group's first key (or 2^key_bits): one
        // comparison a key instead of recomputing its group.
        let limit = if g + 1 < self.group_count() {
            self.layout.base(self.ns, g + 1)
        } else {
            Key::ZERO
        };
        // The group's bytes and what follows them in the file (at least the group table and
        // the footer), so reads need no check each: a key's reads are checked once, after.
        let mut r = WindowReader::new(&file[e.offset as usize..], bytes.len())
            .ok_or_else(|| bad("group shorter than a read"))?;
        let mut prev = base;
        for i in 0..e.len {
            let q = r.read_unary().ok_or_else(|| bad("truncated key"))?;
            let gap = read_gap(&mut r, q, k);
            // Past the end first: a gap read from the bytes after the group is no overflow.
            if r.overrun() {
                return Err(bad("truncated key"));
            }
            let gap = gap.ok_or_else(|| bad("key overflow"))?;
            if i > 0 && gap == Key::ZERO {
                return Err(bad("duplicate key"));
            }
            let key = prev.checked_add(gap).ok_or_else(|| bad("key overflow"))?;
            let outside = if limit == Key::ZERO {
                key.bit_len() > self.ns.key_bits()
            } else {
                key >= limit
            };
            if outside {
                return Err(bad("key outside its group"));
            }
            let count = read_count(&mut r, c).map_err(bad)?;
            prev = key;
            if !f(key, count) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// [`Segment::scan_group`] for a version-3 group: keys rebuilt from their parts.
    #[inline(always)]
    fn scan_low_bytes(
        &self,
        g: u32,
        e: GroupEntry,
        bytes: &[u8],
        base: Key,
        mut f: impl FnMut(Key, u64) -> bool,
    ) -> Result<()> {
        let low_bits = 8 * self.low_bytes_of(e);
        self.decode_low_bytes(g, e, bytes, |high, low, count| {
            let key = base
                .or(Key::from_u128(high as u128).shift_left(low_bits))
                .or(Key::from_be_tail(low));
            f(key, count)
        })
    }

    /// Verbatim bytes a key in a version-3 group with entry `e`.
    fn low_bytes_of(&self, e: GroupEntry) -> u32 {
        low_bytes(self.ns, self.ns.key_bits() - self.layout.bits, e.len)
    }

    /// Decodes a version-3 group (`bytes`, checksum verified; laid out as
    /// `encode_group_low_bytes` says), calling `f(high, low, count)` for each key in order
    /// (`low`: its verbatim bytes; `high`: its offset from the group's base above them) until
    /// it returns `false`. Keys are checked to ascend and to stay inside the group. Reads are
    /// bounded by the group's own bytes, or by the file's for the fixed 8-byte loads that may
    /// run past them (a group is always followed by the group table and the footer).
    #[inline(always)]
    fn decode_low_bytes(
        &self,
        g: u32,
        e: GroupEntry,
        bytes: &[u8],
        mut f: impl FnMut(u64, &[u8], u64) -> bool,
    ) -> Result<()> {
        let bad =
            |why: &str| StoreError::corrupt(&self.name, e.offset, format!("group {g}: {why}"));
        let n = e.len as usize;
        let width = self.ns.key_bits() - self.layout.bits;
        let l8 = self.low_bytes_of(e) as usize;
        // Below 64 by `low_bytes`' choice; a high part must stay below 2^high_bits.
        let high_bits = width - 8 * l8 as u32;
        let (k, c) = (e.rice_k as u32, e.count_order as u32);
        if k > CHUNK || k > high_bits || c > 63 || l8 == 0 {
            return Err(bad("codec parameters out of range"));
        }
        let mut unary_len = 0usize;
        let mut at = 0usize;
        loop {
            let b = *bytes.get(at).ok_or_else(|| bad("truncated header"))?;
            if at == 4 && b > 0x0F {
                return Err(bad("truncated header"));
            }
            unary_len |= ((b & 0x7F) as usize) << (7 * at);
            at += 1;
            if b < 0x80 {
                break;
            }
        }
        let lows_at = at;
        let low_k_at = lows_at + n * l8;
        let unary_at = low_k_at + (n * k as usize).div_ceil(8);
        let counts_at = unary_at + unary_len;
        if counts_at > bytes.len() {
            return Err(bad("group shorter than its keys"));
        }
        let lows = &bytes[lows_at..low_k_at];
        let file = self.file.bytes();
        let group_at = e.offset as usize;
        // Eight bytes of the file at `from`, little-endian (`from` is inside the group, so
        // the table and footer after it keep the load inside the file).
        let load = |from: usize| -> u64 {
            let b: [u8; 8] = file[from..from + 8].try_into().unwrap_or([0; 8]);
            u64::from_le_bytes(b)
        };
        let unary_words = unary_len.div_ceil(8);
        // Word `w` of the unary part, its bytes past the part's end cleared.
        let unary_word = |w: usize| -> u64 {
            let v = load(group_at + unary_at + 8 * w);
            let left = unary_len - 8 * w;
            if left >= 8 {
                v
            } else {
                v & mask(8 * left as u32)
            }
        };
        let mut r = WindowReader::new(&file[group_at + counts_at..], bytes.len() - counts_at)
            .ok_or_else(|| bad("group shorter than a read"))?;
        let mut word = 0usize;
        let mut ones = if unary_words > 0 { unary_word(0) } else { 0 };
        let mut prev: Option<(u64, &[u8])> = None;
        for (i, low) in lows.chunks_exact(l8).enumerate() {
            while ones == 0 {
                word += 1;
                if word >= unary_words {
                    return Err(bad("truncated key"));
                }
                ones = unary_word(word);
            }
            let upper = (64 * word + ones.trailing_zeros() as usize - i) as u64;
            ones &= ones - 1;
            if upper >> (high_bits - k) != 0 {
                return Err(bad("key outside its group"));
            }
            let bit = i * k as usize;
            let low_k = (load(group_at + low_k_at + bit / 8) >> (bit % 8)) & mask(k);
            let high = upper << k | low_k;
            // High parts never descend (Elias–Fano); equal ones need ascending low bytes.
            if let Some((prev_high, prev_low)) = prev
                && high == prev_high
                && !low_bytes_ascend(prev_low, low)
            {
                return Err(bad("duplicate key"));
            }
            prev = Some((high, low));
            let count = read_count(&mut r, c).map_err(bad)?;
            if !f(high, low, count) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Renders range `prefix` of a SHA-1 segment of version 3 as range text through
    /// `lines`, straight from each key's stored parts (its verbatim bytes are the last 32 hex
    /// digits): the server's path on a cache miss. `None`, having written nothing, when this
    /// segment's layout is not one this path knows (an older version, or keys stored with
    /// other than 16 or 17 verbatim bytes); the caller then renders from decoded keys.
    pub(crate) fn render_sha1_range(
        &self,
        prefix: u32,
        lines: &mut crate::render::LineWriter,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        let groups = self.layout.groups_of_range(prefix);
        let suffix_bits = self.ns.key_bits() - PREFIX_BITS;
        if self.version < 3
            || self.ns != Namespace::Sha1
            || groups
                .clone()
                .any(|g| !(16..=17).contains(&self.low_bytes_of(self.entry(g))))
        {
            return Ok(None);
        }
        lines.make_room(self.range_len_bound(prefix), out);
        let mut n = 0;
        for g in groups {
            let e = self.entry(g);
            let Some(bytes) = self.checked_group(g, e)? else {
                continue;
            };
            let l8 = self.low_bytes_of(e);
            let above = suffix_bits - 8 * l8;
            // The suffix's bits above the verbatim bytes: the group's base (split bits, or
            // the range's own bits of a group spanning ranges) with the key's high part.
            let base = self.layout.base(self.ns, g).shift_right(8 * l8).low_u64();
            // When a group spans ranges, its keys of this range have these top bits.
            let spans = self.layout.shift() > 0;
            let wanted = (prefix & ((1 << self.layout.shift()) - 1)) as u64;
            let mut past = false;
            self.decode_low_bytes(g, e, bytes, |high, low, count| {
                if spans {
                    let range = (base | high) >> above & ((1 << self.layout.shift()) - 1);
                    if range != wanted {
                        past = range > wanted;
                        return !past;
                    }
                }
                let above_bits = (base | high) & mask(above);
                lines.push_sha1_parts(above_bits, low, count, out);
                n += 1;
                true
            })?;
        }
        Ok(Some(n))
    }

    /// At least as many keys as range `prefix` holds (its groups' lengths), without decoding.
    pub fn range_len_bound(&self, prefix: u32) -> usize {
        self.layout
            .groups_of_range(prefix)
            .map(|g| self.entry(g).len as usize)
            .sum()
    }

    /// Calls `f` for every key whose 20-bit prefix is `prefix`, in order.
    pub fn for_each_in_range(&self, prefix: u32, mut f: impl FnMut(Key, u64)) -> Result<()> {
        if self.layout.shift() == 0 {
            // Groups hold one range or part of one: every key they hold is in it.
            for g in self.layout.groups_of_range(prefix) {
                self.scan_group(g, |key, count| {
                    f(key, count);
                    true
                })?;
            }
            return Ok(());
        }
        // One group spans this range and its neighbours: keys below the range are skipped,
        // the first above it ends the scan (compared with the range's bounds, not by
        // computing each key's prefix).
        let first = Key::first_with_prefix(self.ns, prefix as u64, PREFIX_BITS);
        let next = Key::first_with_prefix(self.ns, prefix as u64 + 1, PREFIX_BITS);
        let last_range = prefix + 1 == 1 << PREFIX_BITS; // `next` wrapped to zero
        for g in self.layout.groups_of_range(prefix) {
            self.scan_group(g, |key, count| {
                if key < first {
                    return true;
                }
                if !last_range && key >= next {
                    return false;
                }
                f(key, count);
                true
            })?;
        }
        Ok(())
    }

    /// The count stored for `key`, if present.
    pub fn get(&self, key: Key) -> Result<Option<u64>> {
        let mut found = None;
        self.scan_group(self.layout.group_of(self.ns, key), |k, c| {
            if k == key {
                found = Some(c);
            }
            k < key
        })?;
        Ok(found)
    }

    /// Calls `f` for every key in order; stops early if it returns `false`.
    pub fn for_each(&self, mut f: impl FnMut(Key, u64) -> bool) -> Result<()> {
        for item in self.iter() {
            let (k, c) = item?;
            if !f(k, c) {
                break;
            }
        }
        Ok(())
    }

    /// Every (key, count) in order, decoding one group at a time.
    pub fn iter(&self) -> SegmentIter<'_> {
        SegmentIter {
            seg: self,
            next_group: 0,
            buf: Vec::new(),
            pos: 0,
            failed: false,
        }
    }

    /// Checks every checksum and decodes every key; reports the first damage found.
    pub fn verify(&self) -> Result<()> {
        let mut n = 0u64;
        let mut total = 0u64;
        self.for_each(|_, c| {
            n += 1;
            total = total.saturating_add(c);
            true
        })?;
        if n != self.hashes || total != self.total_count {
            return Err(StoreError::corrupt(
                &self.name,
                self.bytes() - FOOTER_LEN as u64,
                "totals disagree with data",
            ));
        }
        Ok(())
    }
}

/// Iterator over a segment's keys in order; see [`Segment::iter`].
#[derive(Debug)]
pub struct SegmentIter<'a> {
    seg: &'a Segment,
    next_group: u32,
    buf: Vec<(Key, u64)>,
    pos: usize,
    failed: bool,
}

impl Iterator for SegmentIter<'_> {
    type Item = Result<(Key, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos == self.buf.len() {
            if self.failed || self.next_group >= self.seg.group_count() {
                return None;
            }
            self.buf.clear();
            self.pos = 0;
            let buf = &mut self.buf;
            let g = self.next_group;
            self.next_group += 1;
            if let Err(e) = self.seg.scan_group(g, |k, c| {
                buf.push((k, c));
                true
            }) {
                self.failed = true;
                return Some(Err(e));
            }
        }
        self.pos += 1;
        Some(Ok(self.buf[self.pos - 1]))
    }
}
