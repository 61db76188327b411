//! Writing a segment: [`SegmentWriter`] streams sorted keys into groups, the group table and
//! the footer; [`GroupEncoder`] encodes whole groups on other threads for it to append.

use std::io::Write;

use super::{
    FOOTER_LEN, GroupCoding, GroupEntry, GroupLayout, SEGMENT_END_MAGIC, SEGMENT_MAGIC,
    SEGMENT_VERSION, SegmentStats,
    codec::{encode_group, encode_group_low_bytes},
    low_bytes,
};
use crate::{
    bits::BitWriter,
    directory::WriteFile,
    error::{Result, StoreError},
    footer::Fields,
    key::{Key, Namespace},
};

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
        let first_group = encoded.groups.first().map_or(0, |&(g, _, _)| g);
        if !self.pending.is_empty() && self.pending_group >= first_group {
            return Err(StoreError::InvalidArgument(format!(
                "encoded groups from {first_group} overlap group {} being filled",
                self.pending_group
            )));
        }
        let mut at = 0usize;
        for (g, mut entry, len) in encoded.groups {
            self.flush_through(g)?;
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

/// Groups a [`GroupEncoder`] made: their bytes, and for each its number, table entry (placed
/// when appended) and byte length.
#[derive(Debug, Default)]
pub struct EncodedGroups {
    groups: Vec<(u32, GroupEntry, usize)>,
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
            let (bytes, entry) = self.encode_group(g, &rest[..n], &mut bits);
            out.bytes.extend_from_slice(&bytes);
            out.groups.push((g, entry, bytes.len()));
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
