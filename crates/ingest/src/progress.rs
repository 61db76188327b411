//! Progress reporting: a bar with rate and ETA on a terminal, a log line every few seconds
//! otherwise (CI logs, pipes), nothing when disabled; and, whatever the terminal, a small
//! JSON status file in the data directory (`DataDir::import_status`) that a running server reads
//! for its import metrics. A thread replaces it atomically once a second; it is removed when
//! the import ends, however it ends (a killed import's file names a process that is gone).
//! It holds counts and phases, never input content.

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use leakwatch_datadir::{Durability, replace_file, status::ImportStatus, temporary_of};

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    started: Instant,
    last_log: std::sync::Mutex<Instant>,
    raw_bytes: Arc<AtomicU64>,
    lines: AtomicU64,
    status: Option<StatusFile>,
}

/// The status file: the state in memory, and a thread that writes it once a second (so the
/// last state before a stall, such as a pipe that stops, is written too).
struct StatusFile {
    path: std::path::PathBuf,
    state: Arc<std::sync::Mutex<ImportStatus>>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl StatusFile {
    fn start(path: std::path::PathBuf, initial: ImportStatus) -> StatusFile {
        let state = Arc::new(std::sync::Mutex::new(initial));
        write_status(&path, &state);
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let writer = {
            let (path, state) = (path.clone(), state.clone());
            std::thread::Builder::new()
                .name("import-status".into())
                .spawn(move || {
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                        stopped.recv_timeout(Duration::from_secs(1))
                    {
                        write_status(&path, &state);
                    }
                })
                .ok()
        };
        StatusFile {
            path,
            state,
            stop: Some(stop),
            writer,
        }
    }

    fn update(&self, change: impl FnOnce(&mut ImportStatus)) {
        change(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Replaces the status file with `state` (best effort: a status that cannot be written only
/// leaves the metrics stale).
fn write_status(path: &std::path::Path, state: &std::sync::Mutex<ImportStatus>) {
    let mut status = state.lock().unwrap_or_else(|e| e.into_inner()).clone();
    status.updated_unix = leakwatch_store::unix_now();
    if let Ok(bytes) = serde_json::to_vec(&status) {
        let _ = replace_file(path, &bytes, Durability::BestEffort);
    }
}

impl Drop for StatusFile {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(temporary_of(&self.path));
    }
}

const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub(crate) fn start(
        enabled: bool,
        total: Option<u64>,
        raw_bytes: Arc<AtomicU64>,
        status_path: Option<std::path::PathBuf>,
    ) -> Progress {
        let tty = enabled && std::io::stderr().is_terminal();
        let bar = tty.then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let template = if total.is_some() {
                "{spinner} reading [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}"
            } else {
                "{spinner} reading {bytes} {bytes_per_sec} {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            log: enabled && !tty,
            started: Instant::now(),
            last_log: std::sync::Mutex::new(Instant::now()),
            raw_bytes,
            lines: AtomicU64::new(0),
            status: status_path.map(|path| {
                let now = leakwatch_store::unix_now();
                StatusFile::start(
                    path,
                    ImportStatus {
                        pid: std::process::id(),
                        started_unix: now,
                        updated_unix: now,
                        phase: "reading".into(),
                        lines: 0,
                        bytes_read: 0,
                        bytes_total: total,
                    },
                )
            }),
        }
    }

    pub(crate) fn set_lines(&self, lines: u64) {
        self.lines.store(lines, Ordering::Relaxed);
        let bytes = self.raw_bytes.load(Ordering::Relaxed);
        if let Some(status) = &self.status {
            status.update(|s| {
                s.lines = lines;
                s.bytes_read = bytes;
            });
        }
        let rate = lines as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!("{lines} lines, {rate:.0} lines/s"));
        } else if self.log {
            let mut last = self.last_log.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= LOG_EVERY {
                *last = Instant::now();
                eprintln!(
                    "ingest: read {} MB, {lines} lines, {rate:.0} lines/s",
                    bytes / 1_000_000
                );
            }
        }
    }

    pub(crate) fn phase(&self, what: &str, steps: u64) {
        if let Some(status) = &self.status {
            status.update(|s| s.phase = what.to_owned());
        }
        if let Some(bar) = &self.bar {
            bar.set_length(steps);
            bar.set_position(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(what.to_owned());
        } else if self.log {
            eprintln!(
                "ingest: {what} ({steps} partitions) at {:.1}s",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    pub(crate) fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    pub(crate) fn finish(&self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.log {
            eprintln!(
                "ingest: {msg} after {:.1}s",
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}
