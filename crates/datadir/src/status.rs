//! The status files a running import or sync keeps in the data directory for a server's
//! metrics: written about once a second by the process doing the work ([`StatusWriter`]),
//! removed when it ends; a file whose process is gone (a killed import) counts as none
//! ([`read_running`]). One type each, for the writer and the reader. They hold counts and
//! phases, never input content.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::{Durability, replace_file, temporary_of};

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

/// A status file's contents.
pub trait Running {
    /// The process that writes the file.
    fn pid(&self) -> u32;
    /// Stamps the time it is written (Unix seconds).
    fn set_updated(&mut self, unix: u64);
}

impl Running for ImportStatus {
    fn pid(&self) -> u32 {
        self.pid
    }
    fn set_updated(&mut self, unix: u64) {
        self.updated_unix = unix;
    }
}

impl Running for SyncStatus {
    fn pid(&self) -> u32 {
        self.pid
    }
    fn set_updated(&mut self, unix: u64) {
        self.updated_unix = unix;
    }
}

/// A status file kept by the process doing the work: the state in memory, and a thread
/// that replaces the file with it once a second (so the last state before a stall, such as
/// a pipe that stops, is written too). Dropping it removes the file, however the work ended.
/// Writing is best effort: a status that cannot be written only leaves the metrics stale.
#[derive(Debug)]
pub struct StatusWriter<T> {
    path: PathBuf,
    state: Arc<Mutex<T>>,
    stop: Option<mpsc::Sender<()>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl<T: Running + Serialize + Clone + Send + 'static> StatusWriter<T> {
    /// Writes `initial` to `path` now, then once a second until dropped.
    pub fn start(path: PathBuf, initial: T) -> StatusWriter<T> {
        let state = Arc::new(Mutex::new(initial));
        write_status(&path, &state);
        let (stop, stopped) = mpsc::channel::<()>();
        let writer = {
            let (path, state) = (path.clone(), state.clone());
            std::thread::Builder::new()
                .name("status-file".into())
                .spawn(move || {
                    while let Err(mpsc::RecvTimeoutError::Timeout) =
                        stopped.recv_timeout(Duration::from_secs(1))
                    {
                        write_status(&path, &state);
                    }
                })
                .ok()
        };
        StatusWriter {
            path,
            state,
            stop: Some(stop),
            writer,
        }
    }

    /// Changes the state the next write writes.
    pub fn update(&self, change: impl FnOnce(&mut T)) {
        change(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Replaces the status file with `state`, stamped now.
fn write_status<T: Running + Serialize + Clone>(path: &Path, state: &Mutex<T>) {
    let mut status = state.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    status.set_updated(now);
    if let Ok(bytes) = serde_json::to_vec(&status) {
        let _ = replace_file(path, &bytes, Durability::BestEffort);
    }
}

impl<T> Drop for StatusWriter<T> {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(temporary_of(&self.path));
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

    #[test]
    fn a_status_writer_writes_at_once_then_each_second_and_removes_the_file_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("status.json");
        let writer = StatusWriter::start(path.clone(), status(std::process::id()));
        let written: SyncStatus = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(written.ranges_done, 3, "written at start");
        assert!(written.updated_unix > 2, "stamped when written");
        writer.update(|s| s.ranges_done = 99);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now: SyncStatus = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if now.ranges_done == 99 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the update was never written"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(writer);
        assert!(!path.exists(), "removed when the work ends");
    }
}
