//! ETag tables: for a mirrored namespace, the validator its source gave for each of the
//! 1,048,576 five-hex ranges, so the next sync can ask "changed since?" (`If-None-Match`)
//! instead of downloading the range again.
//!
//! A table is a store file like a segment: written once, named by the manifest's mirror entry,
//! published in the same manifest swap as the segment whose content it describes (an ETag
//! must never claim content the store does not hold), and checked by its footer checksum
//! before any tag is used. Layout in docs/FORMAT.md: a length byte and the tag per range,
//! zstd-compressed, and a checksummed footer.
//!
//! This module does not speak HTTP or decide what a tag means: tags are opaque bytes
//! (at most [`MAX_ETAG_LEN`]); an empty one means "unknown, fetch the range whole".

use crate::{
    PREFIX_BITS,
    error::{Result, StoreError},
    footer::{self, Fields},
};

/// Ranges in a table: one per 5-hex prefix.
pub const RANGES: u32 = 1 << PREFIX_BITS;
/// The longest ETag kept; a longer one is stored as unknown (its range is fetched whole).
pub const MAX_ETAG_LEN: usize = 255;
/// Version of the ETag table layout this build writes and reads.
pub const ETAGS_VERSION: u32 = 1;

const ETAGS_MAGIC: &[u8; 8] = b"LWETAGS\x01";

/// One ETag per range, by prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct EtagTable {
    /// The tags' bytes, concatenated in prefix order.
    bytes: Vec<u8>,
    /// Where each range's tag ends in `bytes` (its start is the previous end).
    ends: Vec<u32>,
}

impl std::fmt::Debug for EtagTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtagTable")
            .field("ranges", &self.ends.len())
            .field(
                "known",
                &(0..self.ends.len() as u32)
                    .filter(|&p| !self.get(p).is_empty())
                    .count(),
            )
            .finish()
    }
}

impl Default for EtagTable {
    /// Every tag unknown, as before a first sync.
    fn default() -> Self {
        EtagTable {
            bytes: Vec::new(),
            ends: vec![0; RANGES as usize],
        }
    }
}

impl EtagTable {
    /// Builds a table from tags given in prefix order; ones longer than
    /// [`MAX_ETAG_LEN`] are kept as unknown. Fails unless exactly [`RANGES`] are given.
    pub fn from_ordered<'a>(tags: impl IntoIterator<Item = &'a [u8]>) -> Result<EtagTable> {
        let mut table = EtagTable {
            bytes: Vec::new(),
            ends: Vec::with_capacity(RANGES as usize),
        };
        for tag in tags {
            if tag.len() <= MAX_ETAG_LEN {
                table.bytes.extend_from_slice(tag);
            }
            table.ends.push(table.bytes.len() as u32);
        }
        if table.ends.len() != RANGES as usize {
            return Err(StoreError::InvalidArgument(format!(
                "an ETag table has {RANGES} ranges, not {}",
                table.ends.len()
            )));
        }
        Ok(table)
    }

    /// The tag of a range (empty: unknown).
    pub fn get(&self, prefix: u32) -> &[u8] {
        let i = prefix as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// Serialises the table: per range a length byte and the tag, zstd-compressed (tags
    /// repeat their shape, and a source without ETags leaves a million empty ones), then the
    /// footer.
    pub fn encode(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.bytes.len() + self.ends.len());
        for prefix in 0..RANGES {
            let tag = self.get(prefix);
            raw.push(tag.len() as u8);
            raw.extend_from_slice(tag);
        }
        let mut out = zstd::bulk::compress(&raw, 3).unwrap_or_default();
        footer::append_trailer(&mut out, ETAGS_VERSION, Fields::default(), ETAGS_MAGIC);
        out
    }

    /// Checks the footer and checksum of `bytes` (the file `name`) and reads the table.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<EtagTable> {
        let compressed = footer::check_trailer(
            name,
            "ETag table",
            bytes,
            ETAGS_MAGIC,
            ETAGS_VERSION..=ETAGS_VERSION,
            0,
        )?
        .body;
        let max = RANGES as usize * (1 + MAX_ETAG_LEN);
        let body = zstd::bulk::decompress(compressed, max).map_err(|e| {
            StoreError::corrupt(name, 0, format!("ETag table does not decompress: {e}"))
        })?;
        let mut table = EtagTable {
            bytes: Vec::with_capacity(body.len()),
            ends: Vec::with_capacity(RANGES as usize),
        };
        let mut at = 0usize;
        while at < body.len() {
            let len = body[at] as usize;
            let tag = body.get(at + 1..at + 1 + len).ok_or_else(|| {
                StoreError::corrupt(name, at as u64, "an ETag runs past the table's end")
            })?;
            table.bytes.extend_from_slice(tag);
            table.ends.push(table.bytes.len() as u32);
            at += 1 + len;
        }
        if table.ends.len() != RANGES as usize {
            return Err(StoreError::corrupt(
                name,
                0,
                format!("{} ranges in an ETag table, not {RANGES}", table.ends.len()),
            ));
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EtagTable {
        let tags: Vec<Vec<u8>> = (0..RANGES)
            .map(|p| match p % 3 {
                0 => Vec::new(),
                1 => format!("W/\"0x{p:X}\"").into_bytes(),
                _ => vec![b'x'; if p == 2 { 300 } else { 7 }],
            })
            .collect();
        EtagTable::from_ordered(tags.iter().map(Vec::as_slice)).unwrap()
    }

    #[test]
    fn round_trips_and_drops_overlong_tags() {
        let table = sample();
        assert_eq!(table.get(0), b"");
        assert_eq!(table.get(1), b"W/\"0x1\"");
        assert_eq!(table.get(2), b"", "a 300-byte tag is kept as unknown");
        assert_eq!(table.get(5), b"xxxxxxx");
        assert_eq!(table.get(RANGES - 1), b"", "the last range too");
        assert_eq!(
            table.get(RANGES - 3),
            format!("W/\"0x{:X}\"", RANGES - 3).as_bytes()
        );
        let bytes = table.encode();
        assert_eq!(EtagTable::decode("t", &bytes).unwrap(), table);
        assert_eq!(
            EtagTable::decode("t", &EtagTable::default().encode()).unwrap(),
            EtagTable::default()
        );
    }

    #[test]
    fn a_flipped_byte_anywhere_is_refused() {
        let bytes = sample().encode();
        for at in [
            0,
            1,
            bytes.len() / 2,
            bytes.len() - 30,
            bytes.len() - 20,
            bytes.len() - 1,
        ] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x20;
            let err = EtagTable::decode("t", &bad).unwrap_err();
            assert!(err.is_corruption(), "byte {at}: {err}");
        }
        assert!(EtagTable::decode("t", &bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn a_table_needs_every_range() {
        assert!(EtagTable::from_ordered([b"a".as_slice()]).is_err());
    }
}
