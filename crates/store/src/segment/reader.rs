//! Reading a segment: [`Segment`] checks the footer and table at open and each group's
//! checksum before decoding it, and answers lookups, ranges, scans and range text.

use super::{
    FOOTER_LEN, GROUP_ENTRY_LEN, GroupEntry, GroupLayout, SEGMENT_END_MAGIC, SEGMENT_MAGIC,
    SEGMENT_VERSION,
    codec::{low_bytes_ascend, read_count, read_gap},
    low_bytes,
    text::{LowBytesGroup, Spanning, render_low_bytes_sha1, room_for},
};
use crate::{
    bits::{CHUNK, WindowReader},
    directory::FileSlice,
    error::{Result, StoreError},
    footer::{self, Fault},
    key::{Key, Namespace, PREFIX_BITS},
};

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
    /// A digest of the segment's name and footer, whose checksum covers the group table and
    /// so every group's checksum: another segment (another store's, under the same name)
    /// has another fingerprint.
    pub fn fingerprint(&self) -> u64 {
        let b = self.file.bytes();
        let mut named = self.name.as_bytes().to_vec();
        named.push(0);
        named.extend_from_slice(&b[b.len() - FOOTER_LEN..]);
        twox_hash::XxHash3_64::oneshot(&named)
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
        let group = self.low_bytes_group(e, bytes, 0).map_err(bad)?;
        let mut highs = group.high_parts();
        let mut r = group.counts().map_err(bad)?;
        let mut prev: Option<(u64, &[u8])> = None;
        for (i, low) in group.lows().chunks_exact(group.l8).enumerate() {
            let high = highs.next(i).map_err(bad)?;
            if high >> group.high_bits != 0 {
                return Err(bad("key outside its group"));
            }
            // Elias–Fano keeps the upper bits from descending, not the packed `k` bits below
            // them: a damaged group can descend there, or repeat a high part with low bytes
            // that do not ascend.
            if let Some((prev_high, prev_low)) = prev
                && (high < prev_high || high == prev_high && !low_bytes_ascend(prev_low, low))
            {
                return Err(bad("keys out of order"));
            }
            prev = Some((high, low));
            let count = read_count(&mut r, group.c).map_err(bad)?;
            if !f(high, low, count) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Renders range `prefix` of a SHA-1 segment of version 3 as range text, straight
    /// from each key's stored parts (its verbatim bytes are the last 32 hex digits), one
    /// tight loop a group (`text.rs`): the server's path on a cache miss. `None`, having
    /// written nothing, when this segment's layout is not one this path knows (an older
    /// version, or keys stored with other than 16 or 17 verbatim bytes); the caller then
    /// renders from decoded keys. On an error `out` is left as it was.
    pub(crate) fn render_sha1_range(
        &self,
        prefix: u32,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        let groups = self.layout.groups_of_range(prefix);
        if self.version < 3
            || self.ns != Namespace::Sha1
            || groups
                .clone()
                .any(|g| !(16..=17).contains(&self.low_bytes_of(self.entry(g))))
        {
            return Ok(None);
        }
        let suffix_bits = self.ns.key_bits() - PREFIX_BITS;
        // When a group spans ranges, its keys of this range have these top bits.
        let shift = self.layout.shift();
        let spanning = (shift > 0).then(|| Spanning {
            shift,
            wanted: (prefix & ((1 << shift) - 1)) as u64,
        });
        let start_len = out.len();
        out.reserve(room_for(self.range_len_bound(prefix)));
        let mut n = 0;
        for g in groups {
            let e = self.entry(g);
            let Some(bytes) = self.checked_group(g, e)? else {
                continue;
            };
            let l8 = self.low_bytes_of(e);
            // The suffix's bits above the verbatim bytes: the group's base (split bits, or
            // the range's own bits of a group spanning ranges) with each key's high part.
            let base_above = self.layout.base(self.ns, g).shift_right(8 * l8).low_u64();
            let above = suffix_bits - 8 * l8;
            let rendered = self
                .low_bytes_group(e, bytes, base_above)
                .and_then(|group| render_low_bytes_sha1(&group, above, spanning, out));
            match rendered {
                Ok(lines) => n += lines,
                Err(why) => {
                    out.truncate(start_len);
                    return Err(StoreError::corrupt(
                        &self.name,
                        e.offset,
                        format!("group {g}: {why}"),
                    ));
                }
            }
        }
        if n > 0 {
            // Every line ends in CRLF; the answer does not.
            out.truncate(out.len() - 2);
        }
        Ok(Some(n))
    }

    /// Where the parts of a version-3 group (entry `e`, its `bytes`) are: its header read.
    fn low_bytes_group<'a>(
        &'a self,
        e: GroupEntry,
        bytes: &'a [u8],
        base_above: u64,
    ) -> std::result::Result<LowBytesGroup<'a>, &'static str> {
        let n = e.len as usize;
        let width = self.ns.key_bits() - self.layout.bits;
        let l8 = self.low_bytes_of(e) as usize;
        let (k, c) = (e.rice_k as u32, e.count_order as u32);
        // Below 64 by `low_bytes`' choice; a high part must stay below 2^high_bits.
        let high_bits = width - 8 * l8 as u32;
        if k > CHUNK || k > high_bits || c > 63 || l8 == 0 {
            return Err("codec parameters out of range");
        }
        let mut unary_len = 0usize;
        let mut at = 0usize;
        loop {
            let b = *bytes.get(at).ok_or("truncated header")?;
            if at == 4 && b > 0x0F {
                return Err("truncated header");
            }
            unary_len |= ((b & 0x7F) as usize) << (7 * at);
            at += 1;
            if b < 0x80 {
                break;
            }
        }
        let low_k_at = at + n * l8;
        let unary_at = low_k_at + (n * k as usize).div_ceil(8);
        let counts_at = unary_at + unary_len;
        if counts_at > bytes.len() {
            return Err("group shorter than its keys");
        }
        Ok(LowBytesGroup {
            file: &self.file.bytes()[e.offset as usize..],
            len: bytes.len(),
            n,
            l8,
            lows_at: at,
            low_k_at,
            unary_at,
            unary_len,
            counts_at,
            k,
            c,
            high_bits,
            base_above,
        })
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

    /// Calls `f` for every key whose first `bits` bits (1 to 64) are `prefix`, in order: the
    /// groups from the one that would hold the first such key to the one that would hold the
    /// last, keys outside skipped (a credential bucket split into more than 20 bits).
    pub fn for_each_with_prefix(
        &self,
        prefix: u64,
        bits: u32,
        mut f: impl FnMut(Key, u64),
    ) -> Result<()> {
        debug_assert!((1..=64).contains(&bits) && (bits == 64 || prefix >> bits == 0));
        let first = Key::first_with_prefix(self.ns, prefix, bits);
        let end = (bits == 64 || prefix + 1 < 1 << bits)
            .then(|| Key::first_with_prefix(self.ns, prefix.wrapping_add(1), bits))
            .filter(|e| *e > first);
        let last_group = match end {
            Some(e) => self
                .layout
                .group_of(self.ns, e.wrapping_sub(Key::ZERO.or_low(1))),
            None => self.layout.groups() - 1,
        };
        for g in self.layout.group_of(self.ns, first)..=last_group {
            self.scan_group(g, |key, count| {
                if key < first {
                    return true;
                }
                if end.is_some_and(|e| key >= e) {
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
