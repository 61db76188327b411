//! The 24-byte footer that the manifest and ETag tables end with (docs/FORMAT.md): format
//! version, CRC32C of the body, body length, and an 8-byte magic naming the file kind.
//!
//! This module only frames bytes; what the body means is its caller's business.

use std::ops::RangeInclusive;

use crate::error::{Result, StoreError};

/// Bytes of the footer.
pub(crate) const LEN: usize = 24;

/// Appends the footer of `out` (its whole content is the body).
pub(crate) fn append(out: &mut Vec<u8>, version: u32, magic: &[u8; 8]) {
    let crc = crc32c::crc32c(out);
    let len = out.len() as u64;
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(magic);
}

/// Checks the footer of `bytes`, the file `file` (a `what` by kind, for messages): magic,
/// version among `versions`, length and checksum. Returns the version and the body.
pub(crate) fn check<'a>(
    file: &str,
    what: &str,
    bytes: &'a [u8],
    magic: &[u8; 8],
    versions: RangeInclusive<u32>,
) -> Result<(u32, &'a [u8])> {
    let n = bytes.len();
    if n < LEN || &bytes[n - 8..] != magic {
        return Err(StoreError::corrupt(
            file,
            n.saturating_sub(8) as u64,
            format!("bad or missing {what} footer"),
        ));
    }
    let f = &bytes[n - LEN..];
    let version = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
    let crc = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
    let mut len = [0u8; 8];
    len.copy_from_slice(&f[8..16]);
    if !versions.contains(&version) {
        return Err(StoreError::UnsupportedVersion {
            file: file.into(),
            found: version,
            supported: *versions.end(),
        });
    }
    let body_len = (n - LEN) as u64;
    if u64::from_le_bytes(len) != body_len {
        return Err(StoreError::corrupt(
            file,
            body_len + 8,
            format!("{what} length mismatch"),
        ));
    }
    let body = &bytes[..n - LEN];
    if crc32c::crc32c(body) != crc {
        return Err(StoreError::corrupt(
            file,
            0,
            format!("{what} checksum mismatch"),
        ));
    }
    Ok((version, body))
}
