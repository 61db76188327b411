//! The footers every store file ends with, in one place (docs/FORMAT.md). Two shapes exist,
//! and this module reads and writes both byte for byte as their formats define them:
//!
//! - a **sealed footer** (segments, 64 bytes; alias files, 48 bytes): the file's own fields,
//!   then the CRC32C of those fields, then an 8-byte end magic. What the fields mean, and the
//!   checksums of the sections they point at, are the caller's business.
//! - a **body trailer** (manifest and ETag table, 24 bytes; postings, 32 bytes): format
//!   version, CRC32C of everything before the trailer (the body), optional extra fields (the
//!   postings' set count), the body's length, and an 8-byte magic naming the file kind.
//!
//! A new kind of file, or the next format version of one that needs a new footer, takes one
//! of these two shapes; a third is not added beside them.

use std::ops::RangeInclusive;

use crate::error::{Result, StoreError};

/// Little-endian footer fields, written in order.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<u8>);

impl Fields {
    /// No fields yet, room for `len` bytes.
    pub(crate) fn with_capacity(len: usize) -> Fields {
        Fields(Vec::with_capacity(len))
    }

    /// Appends a `u32`.
    pub(crate) fn u32(mut self, v: u32) -> Fields {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a `u64`.
    pub(crate) fn u64(mut self, v: u64) -> Fields {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends raw bytes (flags, reserved zeros).
    pub(crate) fn bytes(mut self, v: &[u8]) -> Fields {
        self.0.extend_from_slice(v);
        self
    }

    /// The sealed footer of these fields: the fields, their CRC32C, and `magic`.
    pub(crate) fn seal(self, magic: &[u8; 8]) -> Vec<u8> {
        let mut out = self.0;
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(magic);
        out
    }

    /// The encoded fields.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Little-endian fields read from a footer, by byte offset within it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Read<'a>(&'a [u8]);

impl Read<'_> {
    /// The byte at `at`.
    pub(crate) fn u8(&self, at: usize) -> u8 {
        self.0[at]
    }

    /// The `u32` at `at`.
    pub(crate) fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }

    /// The `u64` at `at`.
    pub(crate) fn u64(&self, at: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.0[at..at + 8]);
        u64::from_le_bytes(a)
    }
}

/// Why a sealed footer did not open; each file kind words it (and says where) for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The file is shorter than its footer.
    TooShort,
    /// The end magic is not the kind's.
    Magic,
    /// The footer's CRC32C does not match its fields.
    Checksum,
}

/// Opens the sealed footer of `len` bytes at the end of `file`: checks the end magic, then
/// the CRC32C of the fields. Returns the footer (fields, CRC, magic) to read fields from.
pub(crate) fn open_sealed<'a>(
    file: &'a [u8],
    len: usize,
    magic: &[u8; 8],
) -> std::result::Result<Read<'a>, Fault> {
    let n = file.len();
    if n < len {
        return Err(Fault::TooShort);
    }
    let f = &file[n - len..];
    if &f[len - 8..] != magic {
        return Err(Fault::Magic);
    }
    let read = Read(f);
    if crc32c::crc32c(&f[..len - 12]) != read.u32(len - 12) {
        return Err(Fault::Checksum);
    }
    Ok(read)
}

/// Bytes of a body trailer without extra fields.
pub(crate) const TRAILER_LEN: usize = 24;

/// Appends the body trailer of `out` (its whole content is the body), with `extra` fields
/// between the CRC and the length.
pub(crate) fn append_trailer(out: &mut Vec<u8>, version: u32, extra: Fields, magic: &[u8; 8]) {
    let crc = crc32c::crc32c(out);
    let len = out.len() as u64;
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&extra.into_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(magic);
}

/// A checked body trailer: its version, its extra fields and the body before it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trailer<'a> {
    /// The format version.
    pub(crate) version: u32,
    /// The extra fields (offset 0 = the first byte after the CRC).
    pub(crate) extra: Read<'a>,
    /// Everything before the trailer.
    pub(crate) body: &'a [u8],
}

/// Checks the body trailer of `bytes`, the file `file` (a `what` by kind, for messages),
/// with `extra_len` bytes of extra fields: magic, version among `versions`, length and
/// checksum, in that order.
pub(crate) fn check_trailer<'a>(
    file: &str,
    what: &str,
    bytes: &'a [u8],
    magic: &[u8; 8],
    versions: RangeInclusive<u32>,
    extra_len: usize,
) -> Result<Trailer<'a>> {
    let n = bytes.len();
    let len = TRAILER_LEN + extra_len;
    if n < len || &bytes[n - 8..] != magic {
        return Err(StoreError::corrupt(
            file,
            n.saturating_sub(8) as u64,
            format!("bad or missing {what} footer"),
        ));
    }
    let f = Read(&bytes[n - len..]);
    let version = f.u32(0);
    if !versions.contains(&version) {
        return Err(StoreError::UnsupportedVersion {
            file: file.into(),
            found: version,
            supported: *versions.end(),
        });
    }
    let body_len = (n - len) as u64;
    if f.u64(8 + extra_len) != body_len {
        return Err(StoreError::corrupt(
            file,
            body_len + 8 + extra_len as u64,
            format!("{what} length mismatch"),
        ));
    }
    let body = &bytes[..n - len];
    if crc32c::crc32c(body) != f.u32(4) {
        return Err(StoreError::corrupt(
            file,
            0,
            format!("{what} checksum mismatch"),
        ));
    }
    Ok(Trailer {
        version,
        extra: Read(&bytes[n - len + 8..n - 8 - 8]),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_footer_is_its_fields_their_crc_and_the_magic() {
        let f = Fields::default()
            .u32(7)
            .u64(9)
            .bytes(&[0; 4])
            .seal(b"TESTEND!");
        assert_eq!(f.len(), 4 + 8 + 4 + 4 + 8);
        assert_eq!(&f[..4], &7u32.to_le_bytes());
        assert_eq!(&f[16..20], &crc32c::crc32c(&f[..16]).to_le_bytes());
        let file = [b"body".as_slice(), &f].concat();
        let read = open_sealed(&file, f.len(), b"TESTEND!").unwrap();
        assert_eq!((read.u32(0), read.u64(4)), (7, 9));
        let mut bad = file.clone();
        bad[5] ^= 1;
        assert_eq!(
            open_sealed(&bad, f.len(), b"TESTEND!").unwrap_err(),
            Fault::Checksum
        );
        assert_eq!(
            open_sealed(&file, f.len(), b"OTHEREND").unwrap_err(),
            Fault::Magic
        );
        assert_eq!(
            open_sealed(&file[..10], f.len(), b"TESTEND!").unwrap_err(),
            Fault::TooShort
        );
    }

    #[test]
    fn a_trailer_frames_its_body_with_extra_fields() {
        let mut out = b"some body".to_vec();
        append_trailer(&mut out, 3, Fields::default().u64(42), b"LWTEST\x00\x01");
        assert_eq!(out.len(), 9 + TRAILER_LEN + 8);
        let t = check_trailer("f", "test", &out, b"LWTEST\x00\x01", 1..=3, 8).unwrap();
        assert_eq!(
            (t.version, t.extra.u64(0), t.body),
            (3, 42, &b"some body"[..])
        );
        let mut bad = out.clone();
        bad[0] ^= 1;
        let e = check_trailer("f", "test", &bad, b"LWTEST\x00\x01", 1..=3, 8).unwrap_err();
        assert!(e.to_string().contains("test checksum mismatch"), "{e}");
        let e = check_trailer("f", "test", &out, b"LWTEST\x00\x01", 1..=2, 8).unwrap_err();
        assert!(matches!(e, StoreError::UnsupportedVersion { found: 3, .. }));
    }
}
