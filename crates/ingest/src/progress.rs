//! Progress reporting: a bar with rate and ETA on a terminal, a log line every few seconds
//! otherwise (CI logs, pipes), nothing when disabled; and, whatever the terminal, a small
//! JSON status file in the data directory (`DataDir::import_status`, kept by the data
//! directory's `StatusWriter`) that a running server reads for its import metrics.

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use leakwatch_datadir::status::{ImportStatus, StatusWriter};

pub(crate) struct Progress {
    /// What the log lines start with (`ingest`, `credentials`).
    label: &'static str,
    bar: Option<ProgressBar>,
    log: bool,
    started: Instant,
    last_log: std::sync::Mutex<Instant>,
    raw_bytes: Arc<AtomicU64>,
    lines: AtomicU64,
    status: Option<StatusWriter<ImportStatus>>,
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
            label: "ingest",
            bar,
            log: enabled && !tty,
            started: Instant::now(),
            last_log: std::sync::Mutex::new(Instant::now()),
            raw_bytes,
            lines: AtomicU64::new(0),
            status: status_path.map(|path| {
                let now = leakwatch_store::unix_now();
                StatusWriter::start(
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

    /// The same, its log lines starting with `label` instead of `ingest`.
    pub(crate) fn labelled(mut self, label: &'static str) -> Progress {
        self.label = label;
        self
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
                    "{}: read {} MB, {lines} lines, {rate:.0} lines/s",
                    self.label,
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
                "{}: {what} ({steps} partitions) at {:.1}s",
                self.label,
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
                "{}: {msg} after {:.1}s",
                self.label,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}
