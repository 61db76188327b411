//! Alias files: the sealed local parts of an import's e-mail addresses, found by domain.
//!
//! Domain search must list every alias (the part before the `@`) seen on a domain. The
//! store keeps them in blocks filed by a keyed 64-bit digest of the domain (its *tag*), both
//! made by the caller under the operator's key: this crate never sees a key or a plaintext.
//!
//! - **Version 2** (written): the caller hands over whole *sealed blocks*, each holding the
//!   aliases of a run of domains in tag order (compressed, then sealed as one), with the
//!   block's first tag and its number of aliases. The per-alias cost is a few compressed
//!   bytes instead of a 16-byte synthetic IV, a tag and a length each.
//! - **Version 1** (read only): opaque records `(tag, sealed)` sorted by `(tag, sealed)`, one
//!   per alias or domain name, cut into blocks of about 64 KiB.
//!
//! Either way blocks are checksummed and indexed by their first tag, so all aliases of one
//! domain are one contiguous read. Like segments, alias files are written once, named in the
//! manifest, and never modified. Layout in docs/FORMAT.md.

use crate::{
    directory::{FileSlice, WriteFile},
    error::{Result, StoreError},
    footer::{self, Fault, Fields},
};

/// Leading magic of an alias file.
pub const ALIAS_MAGIC: &[u8; 8] = b"LWALIAS\x01";
/// Trailing magic of an alias file.
pub const ALIAS_END_MAGIC: &[u8; 8] = b"LWALIEND";
/// Layout version of the alias files this build writes (it reads 1 too).
pub const ALIAS_VERSION: u32 = 2;
const FOOTER_LEN: usize = 48;
/// Index entry of version 1: first tag, offset, length, CRC.
const V1_ENTRY_LEN: usize = 24;
/// Index entry of version 2: version 1's, then the block's alias count.
const V2_ENTRY_LEN: usize = 28;
/// Longest sealed record of a version-1 file (and longest alias or domain a sealer takes).
pub const MAX_SEALED_LEN: usize = 255;
/// Largest sealed block accepted (a block holds about 64 KiB of aliases before
/// compression; this leaves room for any one long record past that).
pub const MAX_BLOCK_LEN: usize = 1 << 20;

/// Figures of a finished alias file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AliasStats {
    /// Records written.
    pub records: u64,
    /// File size.
    pub bytes: u64,
}

/// Writes a version-2 alias file from sealed blocks in increasing first-tag order.
pub struct AliasWriter {
    out: Box<dyn WriteFile>,
    index: Vec<u8>,
    offset: u64,
    records: u64,
    last_tag: Option<u64>,
}

impl std::fmt::Debug for AliasWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliasWriter")
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::io("alias file", e)
}

impl AliasWriter {
    /// Starts a file (writes the leading magic).
    pub fn new(mut out: Box<dyn WriteFile>) -> Result<AliasWriter> {
        out.write_all(ALIAS_MAGIC).map_err(io)?;
        Ok(AliasWriter {
            out,
            index: Vec::new(),
            offset: ALIAS_MAGIC.len() as u64,
            records: 0,
            last_tag: None,
        })
    }

    /// Blocks written so far: the number the next block gets.
    pub fn blocks(&self) -> u64 {
        (self.index.len() / V2_ENTRY_LEN) as u64
    }

    /// Appends a sealed block holding `records` aliases, the first of them filed under
    /// `first_tag`; blocks come in increasing (or equal) first-tag order.
    pub fn push_block(&mut self, first_tag: u64, records: u32, sealed: &[u8]) -> Result<()> {
        if sealed.is_empty() || sealed.len() > MAX_BLOCK_LEN || records == 0 {
            return Err(StoreError::InvalidArgument(format!(
                "alias block of {} bytes holding {records} aliases",
                sealed.len()
            )));
        }
        if self.last_tag.is_some_and(|t| t > first_tag) {
            return Err(StoreError::InvalidArgument(
                "alias blocks out of order".into(),
            ));
        }
        self.out.write_all(sealed).map_err(io)?;
        self.index.extend_from_slice(&first_tag.to_le_bytes());
        self.index.extend_from_slice(&self.offset.to_le_bytes());
        self.index
            .extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        self.index
            .extend_from_slice(&crc32c::crc32c(sealed).to_le_bytes());
        self.index.extend_from_slice(&records.to_le_bytes());
        self.offset += sealed.len() as u64;
        self.records += u64::from(records);
        self.last_tag = Some(first_tag);
        Ok(())
    }

    /// Writes the index and the footer, and publishes the file.
    pub fn finish(mut self) -> Result<AliasStats> {
        let index_offset = self.offset;
        let footer = Fields::with_capacity(FOOTER_LEN)
            .u32(ALIAS_VERSION)
            .u32(crc32c::crc32c(&self.index))
            .u64(self.records)
            .u64(self.blocks())
            .u64(index_offset)
            .bytes(&[0u8; 4])
            .seal(ALIAS_END_MAGIC);
        debug_assert_eq!(footer.len(), FOOTER_LEN);
        self.out.write_all(&self.index).map_err(io)?;
        self.out.write_all(&footer).map_err(io)?;
        self.out.finish()?;
        Ok(AliasStats {
            records: self.records,
            bytes: index_offset + self.index.len() as u64 + FOOTER_LEN as u64,
        })
    }
}

/// What an alias file hands out: a version-1 record, or a version-2 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AliasEntry<'a> {
    /// A version-1 record: one sealed alias or domain name, filed under `tag`.
    Record {
        /// The domain tag.
        tag: u64,
        /// The sealed record.
        sealed: &'a [u8],
    },
    /// A version-2 block, whose seal binds its number and first tag.
    Block {
        /// The block's number in its file, from 0.
        index: u64,
        /// The tag of its first alias.
        first_tag: u64,
        /// How many aliases it holds.
        records: u32,
        /// The sealed block.
        sealed: &'a [u8],
    },
}

#[derive(Debug, Clone, Copy)]
struct BlockEntry {
    first_tag: u64,
    offset: u64,
    len: u32,
    crc: u32,
    /// Aliases in the block (version 2 only).
    records: u32,
}

/// An alias file opened for reading.
#[derive(Debug, Clone)]
pub struct AliasFile {
    name: String,
    file: FileSlice,
    version: u32,
    blocks: Vec<BlockEntry>,
    records: u64,
}

impl AliasFile {
    /// Opens a file and checks its footer and index (blocks are checked when read).
    pub fn open(name: &str, file: FileSlice) -> Result<AliasFile> {
        let b = file.bytes();
        let n = b.len();
        let corrupt = |at: usize, why: &str| StoreError::corrupt(name, at as u64, why.to_owned());
        if n < ALIAS_MAGIC.len() + FOOTER_LEN || &b[..8] != ALIAS_MAGIC {
            return Err(corrupt(0, "not an alias file (bad magic)"));
        }
        let f = match footer::open_sealed(b, FOOTER_LEN, ALIAS_END_MAGIC) {
            Ok(f) => f,
            Err(Fault::Checksum) => {
                return Err(corrupt(n - FOOTER_LEN, "alias footer checksum mismatch"));
            }
            Err(Fault::Magic | Fault::TooShort) => {
                return Err(corrupt(0, "not an alias file (bad magic)"));
            }
        };
        let version = f.u32(0);
        let entry_len = match version {
            1 => V1_ENTRY_LEN,
            2 => V2_ENTRY_LEN,
            found => {
                return Err(StoreError::UnsupportedVersion {
                    file: name.into(),
                    found,
                    supported: ALIAS_VERSION,
                });
            }
        };
        let (index_crc, records, blocks, index_offset) = (f.u32(4), f.u64(8), f.u64(16), f.u64(24));
        let index_end = index_offset
            .checked_add(blocks.saturating_mul(entry_len as u64))
            .filter(|&e| e == (n - FOOTER_LEN) as u64)
            .ok_or_else(|| corrupt(n - FOOTER_LEN, "alias index out of bounds"))?;
        let index = &b[index_offset as usize..index_end as usize];
        if crc32c::crc32c(index) != index_crc {
            return Err(corrupt(
                index_offset as usize,
                "alias index checksum mismatch",
            ));
        }
        let mut entries = Vec::with_capacity(blocks as usize);
        let mut expect = ALIAS_MAGIC.len() as u64;
        let mut counted = 0u64;
        for e in index.chunks_exact(entry_len) {
            let u32_at = |at: usize| u32::from_le_bytes([e[at], e[at + 1], e[at + 2], e[at + 3]]);
            let u64_at = |at: usize| u64::from_le_bytes(e[at..at + 8].try_into().expect("8"));
            let entry = BlockEntry {
                first_tag: u64_at(0),
                offset: u64_at(8),
                len: u32_at(16),
                crc: u32_at(20),
                records: if version == 2 { u32_at(24) } else { 0 },
            };
            if entry.offset != expect
                || entries
                    .last()
                    .is_some_and(|p: &BlockEntry| p.first_tag > entry.first_tag)
                || (version == 2 && (entry.records == 0 || entry.len == 0))
            {
                return Err(corrupt(index_offset as usize, "alias index inconsistent"));
            }
            expect += u64::from(entry.len);
            counted += u64::from(entry.records);
            entries.push(entry);
        }
        if expect != index_offset {
            return Err(corrupt(
                index_offset as usize,
                "alias blocks do not fill the file",
            ));
        }
        if version == 2 && counted != records {
            return Err(corrupt(
                index_offset as usize,
                "alias index counts disagree with the footer",
            ));
        }
        Ok(AliasFile {
            name: name.to_owned(),
            file,
            version,
            blocks: entries,
            records,
        })
    }

    /// File name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Layout version (1 or 2).
    pub fn version(&self) -> u32 {
        self.version
    }
    /// Records in the file: aliases (version 2), or aliases and domain names (version 1).
    pub fn records(&self) -> u64 {
        self.records
    }
    /// File size.
    pub fn bytes(&self) -> u64 {
        self.file.bytes().len() as u64
    }

    /// Block `i`'s bytes, once its checksum holds.
    fn block(&self, i: usize) -> Result<&[u8]> {
        let e = self.blocks[i];
        let bytes = &self.file.bytes()[e.offset as usize..(e.offset + u64::from(e.len)) as usize];
        if crc32c::crc32c(bytes) != e.crc {
            return Err(StoreError::corrupt(
                &self.name,
                e.offset,
                format!("alias block {i} checksum mismatch"),
            ));
        }
        Ok(bytes)
    }

    /// Hands block `i` to `f`: whole (version 2), or record by record (version 1) until `f`
    /// returns `false`; returns whether it ran to the end.
    fn scan_block(&self, i: usize, f: &mut dyn FnMut(AliasEntry<'_>) -> bool) -> Result<bool> {
        let bytes = self.block(i)?;
        let e = self.blocks[i];
        if self.version == 2 {
            return Ok(f(AliasEntry::Block {
                index: i as u64,
                first_tag: e.first_tag,
                records: e.records,
                sealed: bytes,
            }));
        }
        let mut at = 0;
        while at < bytes.len() {
            let bad = || StoreError::corrupt(&self.name, e.offset + at as u64, "truncated alias");
            let head = bytes.get(at..at + 9).ok_or_else(bad)?;
            let tag = u64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
            let len = head[8] as usize;
            let sealed = bytes.get(at + 9..at + 9 + len).ok_or_else(bad)?;
            at += 9 + len;
            if !f(AliasEntry::Record { tag, sealed }) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Calls `f` with what may hold the aliases filed under `tag`: its version-1 records, or
    /// every version-2 block whose tag range can include it (the caller opens them and keeps
    /// the domain it wants).
    pub fn for_tag(&self, tag: u64, mut f: impl FnMut(AliasEntry<'_>)) -> Result<()> {
        let first = self.blocks.partition_point(|b| b.first_tag < tag);
        for i in first.saturating_sub(1)..self.blocks.len() {
            if self.blocks[i].first_tag > tag {
                break;
            }
            let more = self.scan_block(i, &mut |entry| match entry {
                AliasEntry::Record { tag: t, .. } => {
                    if t == tag {
                        f(entry);
                    }
                    t <= tag
                }
                AliasEntry::Block { .. } => {
                    f(entry);
                    true
                }
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// Calls `f` with every record (version 1) or block (version 2), in order.
    pub fn for_each(&self, mut f: impl FnMut(AliasEntry<'_>)) -> Result<()> {
        for i in 0..self.blocks.len() {
            self.scan_block(i, &mut |entry| {
                f(entry);
                true
            })?;
        }
        Ok(())
    }

    /// Checks every block's checksum, and in version 1 the record count (version 2's counts
    /// were checked against the footer at open; only the key holder can count inside).
    pub fn verify(&self) -> Result<()> {
        let mut n = 0u64;
        self.for_each(|entry| match entry {
            AliasEntry::Record { .. } => n += 1,
            AliasEntry::Block { records, .. } => n += u64::from(records),
        })?;
        if n != self.records {
            return Err(StoreError::corrupt(
                &self.name,
                0,
                format!("{n} alias records, footer says {}", self.records),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Directory, RamDirectory};

    /// Sealed blocks `(first tag, aliases, bytes)` written as a version-2 file.
    fn build(blocks: &[(u64, u32, Vec<u8>)]) -> (Arc<RamDirectory>, AliasStats) {
        let dir = Arc::new(RamDirectory::new());
        let mut w = AliasWriter::new(dir.create("a.alias").unwrap()).unwrap();
        for (t, n, s) in blocks {
            w.push_block(*t, *n, s).unwrap();
        }
        let stats = w.finish().unwrap();
        (dir, stats)
    }

    fn open(dir: &RamDirectory) -> AliasFile {
        AliasFile::open("a.alias", dir.open_read("a.alias").unwrap()).unwrap()
    }

    /// The blocks `for_tag(tag)` hands out, as (number, first tag).
    fn candidates(file: &AliasFile, tag: u64) -> Vec<(u64, u64)> {
        let mut got = Vec::new();
        file.for_tag(tag, |e| match e {
            AliasEntry::Block {
                index, first_tag, ..
            } => got.push((index, first_tag)),
            AliasEntry::Record { .. } => panic!("a version-2 file gave a record"),
        })
        .unwrap();
        got
    }

    #[test]
    fn a_tag_gets_every_block_that_can_hold_it_and_no_other() {
        // Blocks starting at tags 1, 7, 7, 7, 9: a domain of tag 7 may start in block 0
        // (after tag 1's aliases) and runs through block 3.
        let blocks: Vec<_> = [1u64, 7, 7, 7, 9]
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, i as u32 + 1, vec![i as u8; 10 + i]))
            .collect();
        let (dir, stats) = build(&blocks);
        assert_eq!(stats.records, 1 + 2 + 3 + 4 + 5);
        let file = open(&dir);
        assert_eq!(file.version(), 2);
        assert_eq!(candidates(&file, 0), vec![]);
        assert_eq!(candidates(&file, 1), vec![(0, 1)]);
        assert_eq!(candidates(&file, 5), vec![(0, 1)]);
        assert_eq!(candidates(&file, 7), vec![(0, 1), (1, 7), (2, 7), (3, 7)]);
        assert_eq!(candidates(&file, 8), vec![(3, 7)]);
        assert_eq!(candidates(&file, 9), vec![(3, 7), (4, 9)]);
        assert_eq!(candidates(&file, u64::MAX), vec![(4, 9)]);
        let mut all = Vec::new();
        file.for_each(|e| {
            if let AliasEntry::Block {
                records, sealed, ..
            } = e
            {
                all.push((records, sealed.to_vec()));
            }
        })
        .unwrap();
        let want: Vec<_> = blocks.iter().map(|b| (b.1, b.2.clone())).collect();
        assert_eq!(all, want);
        file.verify().unwrap();
    }

    #[test]
    fn blocks_out_of_order_or_empty_are_refused() {
        let dir = RamDirectory::new();
        let mut w = AliasWriter::new(dir.create("a").unwrap()).unwrap();
        w.push_block(5, 1, b"x").unwrap();
        w.push_block(5, 1, b"y").unwrap();
        assert!(w.push_block(4, 1, b"z").is_err());
        assert!(w.push_block(6, 0, b"z").is_err());
        assert!(w.push_block(6, 1, b"").is_err());
        assert_eq!(w.blocks(), 2);
        assert_eq!(w.finish().unwrap().records, 2);
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let blocks: Vec<_> = (0..6u64)
            .map(|i| (i / 2, 3, vec![i as u8 + 1; 20]))
            .collect();
        let (dir, _) = build(&blocks);
        let bytes = dir.read_all("a.alias").unwrap().unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x04;
            let result = AliasFile::open("a.alias", FileSlice::from_vec(bad))
                .and_then(|f| f.verify().map(|_| f));
            assert!(result.is_err(), "flip at {i} undetected");
        }
    }

    /// A version-1 file as the version-1 writer laid it out (FORMAT.md): records
    /// `tag ‖ len ‖ sealed` in blocks of about `block` bytes.
    fn version_1_file(records: &[(u64, Vec<u8>)], block: usize) -> Vec<u8> {
        let mut out = ALIAS_MAGIC.to_vec();
        let (mut index, mut current, mut first) = (Vec::new(), Vec::new(), 0u64);
        let mut flush = |current: &mut Vec<u8>, first: u64, out: &mut Vec<u8>| {
            if current.is_empty() {
                return;
            }
            index.extend_from_slice(&first.to_le_bytes());
            index.extend_from_slice(&(out.len() as u64).to_le_bytes());
            index.extend_from_slice(&(current.len() as u32).to_le_bytes());
            index.extend_from_slice(&crc32c::crc32c(current).to_le_bytes());
            out.append(current);
        };
        for (tag, sealed) in records {
            if current.is_empty() {
                first = *tag;
            }
            current.extend_from_slice(&tag.to_be_bytes());
            current.push(sealed.len() as u8);
            current.extend_from_slice(sealed);
            if current.len() >= block {
                flush(&mut current, first, &mut out);
            }
        }
        flush(&mut current, first, &mut out);
        let index_offset = out.len() as u64;
        let footer = Fields::with_capacity(FOOTER_LEN)
            .u32(1)
            .u32(crc32c::crc32c(&index))
            .u64(records.len() as u64)
            .u64((index.len() / V1_ENTRY_LEN) as u64)
            .u64(index_offset)
            .bytes(&[0u8; 4])
            .seal(ALIAS_END_MAGIC);
        out.extend_from_slice(&index);
        out.extend_from_slice(&footer);
        out
    }

    #[test]
    fn version_1_files_still_give_every_record_of_a_tag_across_block_boundaries() {
        // Tag 7 spans many blocks; tags around it must not leak in.
        let mut records = Vec::new();
        for t in [1u64, 7, 9] {
            let n = if t == 7 { 2_000 } else { 100 };
            for i in 0..n {
                records.push((t, format!("alias-{t}-{i:06}").into_bytes()));
            }
        }
        records.sort();
        let file = AliasFile::open(
            "old.alias",
            FileSlice::from_vec(version_1_file(&records, 4096)),
        )
        .unwrap();
        assert_eq!(file.version(), 1);
        assert!(file.blocks.len() > 3, "test needs several blocks");
        for t in [0u64, 1, 5, 7, 9, 10] {
            let mut got = Vec::new();
            file.for_tag(t, |e| match e {
                AliasEntry::Record { tag, sealed } => got.push((tag, sealed.to_vec())),
                AliasEntry::Block { .. } => panic!("a version-1 file gave a block"),
            })
            .unwrap();
            let want: Vec<_> = records.iter().filter(|r| r.0 == t).cloned().collect();
            assert_eq!(got, want, "tag {t}");
        }
        file.verify().unwrap();
    }
}
