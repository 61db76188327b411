//! Page checksums for the catalogue file: SQLite's checksum VFS shim (`csrc/cksumvfs.c`,
//! compiled by `build.rs`) stores an 8-byte checksum in the reserved bytes at the end of every
//! page when it is written and checks it whenever the page is read, so a flipped byte anywhere
//! in `catalog.db` fails the read (`SQLITE_IOERR_DATA`) instead of yielding a wrong row.
//! [`verify_file`] recomputes every page's checksum in Rust to say *where* a file is damaged.
//!
//! Not here: repairing a damaged page (restore a backup), or the write-ahead log, whose frames
//! SQLite checksums itself.

use std::{
    ffi::{c_char, c_int},
    path::Path,
    sync::OnceLock,
};

use rusqlite::Connection;

use crate::{CatalogError, Result};

/// Reserved bytes per page that hold the checksum.
const RESERVE: u8 = 8;
/// The 16 bytes every SQLite database file starts with.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

unsafe extern "C" {
    /// From `csrc/cksumvfs.c`: registers the shim as the default VFS, over the one before.
    fn sqlite3_register_cksumvfs(unused: *const c_char) -> c_int;
}

/// Makes the checksum VFS this process's default, once; every file connection opened after
/// goes through it.
pub(crate) fn register() -> Result<()> {
    static REGISTERED: OnceLock<c_int> = OnceLock::new();
    // SAFETY: the function takes no pointer it reads (its argument is unused and may be null)
    // and is called once; SQLite serialises VFS registration itself.
    let rc = *REGISTERED.get_or_init(|| unsafe { sqlite3_register_cksumvfs(std::ptr::null()) });
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(CatalogError::Invalid(format!(
            "cannot register SQLite's checksum VFS (code {rc})"
        )))
    }
}

/// Refuses a file whose header says it should carry checksums but no longer does: a flipped
/// byte 20 (the reserved-bytes count) would otherwise switch verification off for the whole
/// file. Files of schema version 3 and later carry checksums; older ones are converted by
/// [`enable`]. A missing or empty file (a new catalogue) passes.
pub(crate) fn check_header(path: &Path) -> Result<()> {
    let Ok(bytes) = std::fs::read(path).map(|mut b| {
        b.truncate(100);
        b
    }) else {
        return Ok(());
    };
    if bytes.is_empty() {
        return Ok(());
    }
    let corrupt = |offset: u64, reason: &str| CatalogError::CorruptFile {
        file: file_name(path),
        offset,
        reason: reason.to_owned(),
    };
    if bytes.len() < 100 || bytes[..16] != MAGIC[..] {
        return Err(corrupt(0, "not an SQLite database header"));
    }
    let user_version = u32::from_be_bytes(bytes[60..64].try_into().expect("4 bytes"));
    if user_version >= 3 && bytes[20] != RESERVE {
        return Err(corrupt(
            20,
            "the page-checksum reservation is gone from the header",
        ));
    }
    Ok(())
}

/// Turns checksums on for `conn`'s main database: sets 8 reserved bytes per page and, if the
/// file had none (new, or written before schema version 3), rewrites it with `VACUUM` so that
/// every page gets its checksum. Then checks that the VFS is verifying. The rewrite needs the
/// file to itself: converting an old catalogue fails with "database is locked" while another
/// process (an old server) has it open.
pub(crate) fn enable(conn: &Connection) -> Result<()> {
    let mut reserve: c_int = RESERVE.into();
    // SAFETY: `conn.handle()` is a live connection for the duration of the call; the schema
    // name is a NUL-terminated literal; SQLITE_FCNTL_RESERVE_BYTES reads and writes exactly
    // one `int` through the pointer, which points at `reserve` on this stack frame.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_RESERVE_BYTES,
            (&raw mut reserve).cast(),
        )
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        return Err(CatalogError::Invalid(format!(
            "cannot reserve page bytes for checksums (code {rc})"
        )));
    }
    // `reserve` now holds the file's previous value. The rewrite runs in rollback-journal
    // mode: the shim switches verification on when it sees page 1 written at offset 0 of the
    // main file, which in WAL mode would wait for a checkpoint.
    if reserve != c_int::from(RESERVE) {
        conn.execute_batch("PRAGMA journal_mode = DELETE; VACUUM;")?;
    }
    let verifying: String = conn.query_row("PRAGMA checksum_verification", [], |r| r.get(0))?;
    if verifying != "1" {
        return Err(CatalogError::Invalid(
            "SQLite's checksum VFS is not verifying the catalogue".into(),
        ));
    }
    Ok(())
}

/// What [`verify_file`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileCheck {
    /// Pages whose checksums matched.
    pub pages: u64,
    /// Bytes per page.
    pub page_size: u32,
}

/// Checks every page checksum of the catalogue file at `path` without SQLite, and names the
/// first damaged page by its byte offset. Run it on a closed catalogue, or one whose
/// write-ahead log is checkpointed (what `leakwatch verify` does after opening it).
pub fn verify_file(path: &Path) -> Result<FileCheck> {
    let bytes = std::fs::read(path)
        .map_err(|e| CatalogError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let corrupt = |offset: u64, reason: String| CatalogError::CorruptFile {
        file: file_name(path),
        offset,
        reason,
    };
    if bytes.len() < 100 || bytes[..16] != MAGIC[..] {
        return Err(corrupt(0, "not an SQLite database header".into()));
    }
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65536,
        n if n >= 512 && n.is_power_of_two() => u32::from(n),
        _ => {
            return Err(corrupt(
                16,
                "the page size field is not a valid size".into(),
            ));
        }
    };
    if bytes[20] != RESERVE {
        return Err(corrupt(
            20,
            format!(
                "{} reserved bytes per page, not {RESERVE}: no checksums",
                bytes[20]
            ),
        ));
    }
    let page = page_size as usize;
    if bytes.len() % page != 0 {
        return Err(corrupt(
            (bytes.len() - bytes.len() % page) as u64,
            format!(
                "{} bytes is not a whole number of {page}-byte pages",
                bytes.len()
            ),
        ));
    }
    for (i, data) in bytes.chunks_exact(page).enumerate() {
        let (content, stored) = data.split_at(page - usize::from(RESERVE));
        if page_checksum(content) != stored {
            return Err(corrupt(
                (i * page) as u64,
                format!("page {} fails its checksum", i + 1),
            ));
        }
    }
    Ok(FileCheck {
        pages: (bytes.len() / page) as u64,
        page_size,
    })
}

/// cksumvfs's checksum: two running 32-bit sums over the content read as little-endian
/// 32-bit words in pairs, stored little-endian (the shim byte-swaps on big-endian machines
/// so that files move between them).
fn page_checksum(content: &[u8]) -> [u8; 8] {
    let (mut s1, mut s2) = (0u32, 0u32);
    for pair in content.chunks_exact(8) {
        let a = u32::from_le_bytes(pair[..4].try_into().expect("4 bytes"));
        let b = u32::from_le_bytes(pair[4..].try_into().expect("4 bytes"));
        s1 = s1.wrapping_add(a).wrapping_add(s2);
        s2 = s2.wrapping_add(b).wrapping_add(s1);
    }
    let mut out = [0; 8];
    out[..4].copy_from_slice(&s1.to_le_bytes());
    out[4..].copy_from_slice(&s2.to_le_bytes());
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
