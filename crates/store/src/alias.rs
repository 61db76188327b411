//! Alias files: the sealed local parts of an import's e-mail addresses, found by domain.
//!
//! Domain search must list every alias (the part before the `@`) seen on a domain. The
//! store keeps them as opaque records `(tag, sealed)`: `tag` is a keyed 64-bit digest of the
//! domain and `sealed` the alias encrypted with an AEAD, both made by the caller under the
//! operator's key (this crate never sees a key or a plaintext). Records are sorted by
//! `(tag, sealed)` and unique, cut into checksummed blocks of about 64 KiB with an index of
//! each block's first tag, so all aliases of one domain are one contiguous read.
//!
//! Like segments, alias files are written once, named in the manifest, and never modified.
//! Layout in docs/FORMAT.md.

use crate::{
    directory::{FileSlice, WriteFile},
    error::{Result, StoreError},
    footer::{self, Fault, Fields},
};

/// Leading magic of an alias file.
pub const ALIAS_MAGIC: &[u8; 8] = b"LWALIAS\x01";
/// Trailing magic of an alias file.
pub const ALIAS_END_MAGIC: &[u8; 8] = b"LWALIEND";
/// Layout version of alias files.
pub const ALIAS_VERSION: u32 = 1;
const FOOTER_LEN: usize = 48;
const INDEX_ENTRY_LEN: usize = 24;
const BLOCK_TARGET: usize = 64 << 10;
/// Longest sealed record accepted.
pub const MAX_SEALED_LEN: usize = 255;

/// Figures of a finished alias file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AliasStats {
    /// Records written.
    pub records: u64,
    /// File size.
    pub bytes: u64,
}

/// Writes an alias file from records in increasing `(tag, sealed)` order.
pub struct AliasWriter {
    out: Box<dyn WriteFile>,
    block: Vec<u8>,
    block_first_tag: u64,
    index: Vec<u8>,
    offset: u64,
    records: u64,
    last: Option<(u64, Vec<u8>)>,
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
            block: Vec::with_capacity(BLOCK_TARGET + 512),
            block_first_tag: 0,
            index: Vec::new(),
            offset: ALIAS_MAGIC.len() as u64,
            records: 0,
            last: None,
        })
    }

    /// Adds a record; a repeat of the previous one is skipped, anything smaller refused.
    pub fn push(&mut self, tag: u64, sealed: &[u8]) -> Result<()> {
        if sealed.is_empty() || sealed.len() > MAX_SEALED_LEN {
            return Err(StoreError::InvalidArgument(format!(
                "sealed alias of {} bytes",
                sealed.len()
            )));
        }
        if let Some((t, s)) = &self.last {
            match (*t, s.as_slice()).cmp(&(tag, sealed)) {
                std::cmp::Ordering::Equal => return Ok(()),
                std::cmp::Ordering::Greater => {
                    return Err(StoreError::InvalidArgument(
                        "alias records out of order".into(),
                    ));
                }
                std::cmp::Ordering::Less => {}
            }
        }
        if self.block.is_empty() {
            self.block_first_tag = tag;
        }
        self.block.extend_from_slice(&tag.to_be_bytes());
        self.block.push(sealed.len() as u8);
        self.block.extend_from_slice(sealed);
        self.records += 1;
        match &mut self.last {
            Some((t, s)) => {
                *t = tag;
                s.clear();
                s.extend_from_slice(sealed);
            }
            None => self.last = Some((tag, sealed.to_vec())),
        }
        if self.block.len() >= BLOCK_TARGET {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.out.write_all(&self.block).map_err(io)?;
        self.index
            .extend_from_slice(&self.block_first_tag.to_le_bytes());
        self.index.extend_from_slice(&self.offset.to_le_bytes());
        self.index
            .extend_from_slice(&(self.block.len() as u32).to_le_bytes());
        self.index
            .extend_from_slice(&crc32c::crc32c(&self.block).to_le_bytes());
        self.offset += self.block.len() as u64;
        self.block.clear();
        Ok(())
    }

    /// Writes the last block, the index and the footer, and publishes the file.
    pub fn finish(mut self) -> Result<AliasStats> {
        self.flush_block()?;
        let index_offset = self.offset;
        let blocks = (self.index.len() / INDEX_ENTRY_LEN) as u64;
        let footer = Fields::with_capacity(FOOTER_LEN)
            .u32(ALIAS_VERSION)
            .u32(crc32c::crc32c(&self.index))
            .u64(self.records)
            .u64(blocks)
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

#[derive(Debug, Clone, Copy)]
struct BlockEntry {
    first_tag: u64,
    offset: u64,
    len: u32,
    crc: u32,
}

/// An alias file opened for reading.
#[derive(Debug, Clone)]
pub struct AliasFile {
    name: String,
    file: FileSlice,
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
        if f.u32(0) != ALIAS_VERSION {
            return Err(StoreError::UnsupportedVersion {
                file: name.into(),
                found: f.u32(0),
                supported: ALIAS_VERSION,
            });
        }
        let (index_crc, records, blocks, index_offset) = (f.u32(4), f.u64(8), f.u64(16), f.u64(24));
        let index_end = index_offset
            .checked_add(blocks.saturating_mul(INDEX_ENTRY_LEN as u64))
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
        for e in index.chunks_exact(INDEX_ENTRY_LEN) {
            let mut x = [0u8; 8];
            x.copy_from_slice(&e[..8]);
            let first_tag = u64::from_le_bytes(x);
            x.copy_from_slice(&e[8..16]);
            let offset = u64::from_le_bytes(x);
            let len = u32::from_le_bytes([e[16], e[17], e[18], e[19]]);
            let crc = u32::from_le_bytes([e[20], e[21], e[22], e[23]]);
            if offset != expect
                || entries
                    .last()
                    .is_some_and(|p: &BlockEntry| p.first_tag > first_tag)
            {
                return Err(corrupt(index_offset as usize, "alias index inconsistent"));
            }
            expect += u64::from(len);
            entries.push(BlockEntry {
                first_tag,
                offset,
                len,
                crc,
            });
        }
        if expect != index_offset {
            return Err(corrupt(
                index_offset as usize,
                "alias blocks do not fill the file",
            ));
        }
        Ok(AliasFile {
            name: name.to_owned(),
            file,
            blocks: entries,
            records,
        })
    }

    /// File name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Records in the file.
    pub fn records(&self) -> u64 {
        self.records
    }
    /// File size.
    pub fn bytes(&self) -> u64 {
        self.file.bytes().len() as u64
    }

    /// Decodes block `i`, calling `f(tag, sealed)` until it returns `false`; returns whether
    /// it ran to the end.
    fn scan_block(&self, i: usize, f: &mut dyn FnMut(u64, &[u8]) -> bool) -> Result<bool> {
        let e = self.blocks[i];
        let bytes = &self.file.bytes()[e.offset as usize..(e.offset + u64::from(e.len)) as usize];
        if crc32c::crc32c(bytes) != e.crc {
            return Err(StoreError::corrupt(
                &self.name,
                e.offset,
                format!("alias block {i} checksum mismatch"),
            ));
        }
        let mut at = 0;
        while at < bytes.len() {
            let bad = || StoreError::corrupt(&self.name, e.offset + at as u64, "truncated alias");
            let head = bytes.get(at..at + 9).ok_or_else(bad)?;
            let mut x = [0u8; 8];
            x.copy_from_slice(&head[..8]);
            let len = head[8] as usize;
            let sealed = bytes.get(at + 9..at + 9 + len).ok_or_else(bad)?;
            at += 9 + len;
            if !f(u64::from_be_bytes(x), sealed) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Calls `f` with every sealed alias filed under `tag`.
    pub fn for_tag(&self, tag: u64, mut f: impl FnMut(&[u8])) -> Result<()> {
        let first = self.blocks.partition_point(|b| b.first_tag < tag);
        for i in first.saturating_sub(1)..self.blocks.len() {
            if self.blocks[i].first_tag > tag {
                break;
            }
            let more = self.scan_block(i, &mut |t, sealed| {
                if t == tag {
                    f(sealed);
                }
                t <= tag
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// Calls `f(tag, sealed)` for every record in order.
    pub fn for_each(&self, mut f: impl FnMut(u64, &[u8])) -> Result<()> {
        for i in 0..self.blocks.len() {
            self.scan_block(i, &mut |t, s| {
                f(t, s);
                true
            })?;
        }
        Ok(())
    }

    /// Checks every block's checksum and the record count.
    pub fn verify(&self) -> Result<()> {
        let mut n = 0u64;
        self.for_each(|_, _| n += 1)?;
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

    fn build(records: &[(u64, Vec<u8>)]) -> (Arc<RamDirectory>, AliasStats) {
        let dir = Arc::new(RamDirectory::new());
        let mut w = AliasWriter::new(dir.create("a.alias").unwrap()).unwrap();
        for (t, s) in records {
            w.push(*t, s).unwrap();
        }
        let stats = w.finish().unwrap();
        (dir, stats)
    }

    #[test]
    fn finds_every_alias_of_a_tag_across_block_boundaries() {
        // Tag 7 spans many blocks; tags around it must not leak in.
        let mut records = Vec::new();
        for t in [1u64, 7, 9] {
            let n = if t == 7 { 20_000 } else { 100 };
            for i in 0..n {
                records.push((t, format!("alias-{t}-{i:06}").into_bytes()));
            }
        }
        records.sort();
        let (dir, stats) = build(&records);
        assert_eq!(stats.records, records.len() as u64);
        let file = AliasFile::open("a.alias", dir.open_read("a.alias").unwrap()).unwrap();
        assert!(file.blocks.len() > 3, "test needs several blocks");
        for t in [0u64, 1, 5, 7, 9, 10] {
            let mut got = Vec::new();
            file.for_tag(t, |s| got.push(s.to_vec())).unwrap();
            let want: Vec<_> = records
                .iter()
                .filter(|r| r.0 == t)
                .map(|r| r.1.clone())
                .collect();
            assert_eq!(got, want, "tag {t}");
        }
        file.verify().unwrap();
    }

    #[test]
    fn repeats_are_written_once_and_disorder_refused() {
        let dir = RamDirectory::new();
        let mut w = AliasWriter::new(dir.create("a").unwrap()).unwrap();
        w.push(1, b"x").unwrap();
        w.push(1, b"x").unwrap();
        w.push(1, b"y").unwrap();
        assert!(w.push(1, b"a").is_err());
        assert!(w.push(0, b"z").is_err());
        assert_eq!(w.finish().unwrap().records, 2);
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let records: Vec<_> = (0..50u64).map(|i| (i / 3, vec![i as u8 + 1; 20])).collect();
        let (dir, _) = build(&records);
        let bytes = dir.read_all("a.alias").unwrap().unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x04;
            let result = AliasFile::open("a.alias", FileSlice::from_vec(bad))
                .and_then(|f| f.verify().map(|_| f));
            assert!(result.is_err(), "flip at {i} undetected");
        }
    }
}
