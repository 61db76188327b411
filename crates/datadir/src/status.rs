//! The status files a running import or sync keeps in the data directory for a server's
//! metrics: written about once a second by the process doing the work, removed when it
//! ends; a file whose process is gone (a killed import) counts as none. One type each, for
//! the writer and the reader. They hold counts and phases, never input content.

use std::path::Path;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// What [`DataDir::import_status`](crate::DataDir::import_status) holds while an import
/// runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportStatus {
    /// The importing process.
    pub pid: u32,
    /// When it started (Unix seconds).
    pub started_unix: u64,
    /// When this status was written (Unix seconds).
    pub updated_unix: u64,
    /// `reading`, or the phase after it (`sorting sha1`…).
    pub phase: String,
    /// Lines read so far.
    pub lines: u64,
    /// Input bytes read so far (compressed bytes for a compressed file).
    pub bytes_read: u64,
    /// The input's size, when known.
    pub bytes_total: Option<u64>,
}

/// What [`DataDir::sync_status`](crate::DataDir::sync_status) holds while a sync runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncStatus {
    /// The syncing process.
    pub pid: u32,
    /// The namespace being fetched (`sha1` or `ntlm`).
    pub namespace: String,
    /// When it started (Unix seconds).
    pub started_unix: u64,
    /// When this status was written (Unix seconds).
    pub updated_unix: u64,
    /// Ranges with an answer so far.
    pub ranges_done: u64,
    /// Ranges a sync asks for.
    pub ranges_total: u64,
    /// Body bytes received so far.
    pub bytes_received: u64,
}

/// A status file's owner.
pub trait Running {
    /// The process that writes the file.
    fn pid(&self) -> u32;
}

impl Running for ImportStatus {
    fn pid(&self) -> u32 {
        self.pid
    }
}

impl Running for SyncStatus {
    fn pid(&self) -> u32 {
        self.pid
    }
}

/// The status at `path` if its process still runs (a leakwatch process, by its command
/// line); `None` when there is no file, it does not parse, or its process is gone.
pub fn read_running<T: DeserializeOwned + Running>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    let status: T = serde_json::from_slice(&bytes).ok()?;
    process_is_leakwatch(status.pid()).then_some(status)
}

/// Whether `pid` is a running leakwatch process (Linux: its /proc entry).
fn process_is_leakwatch(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.windows(9).any(|w| w == b"leakwatch"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Durability, replace_file};

    fn status(pid: u32) -> SyncStatus {
        SyncStatus {
            pid,
            namespace: "sha1".into(),
            started_unix: 1,
            updated_unix: 2,
            ranges_done: 3,
            ranges_total: 1 << 20,
            bytes_received: 4,
        }
    }

    #[test]
    fn a_status_counts_only_while_a_leakwatch_process_writes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("status.json");
        assert_eq!(read_running::<SyncStatus>(&path), None, "no file");
        // This test binary's name holds "leakwatch": a running leakwatch process.
        let mine = status(std::process::id());
        replace_file(
            &path,
            &serde_json::to_vec(&mine).unwrap(),
            Durability::BestEffort,
        )
        .unwrap();
        assert_eq!(read_running::<SyncStatus>(&path), Some(mine));
        // A process that has ended (a child reaped here), as after a kill.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let dead = status(gone);
        replace_file(
            &path,
            &serde_json::to_vec(&dead).unwrap(),
            Durability::BestEffort,
        )
        .unwrap();
        assert_eq!(
            read_running::<SyncStatus>(&path),
            None,
            "its process is gone"
        );
        std::fs::write(&path, b"{\"pid\": ").unwrap();
        assert_eq!(read_running::<SyncStatus>(&path), None, "a torn file");
    }
}
