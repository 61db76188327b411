//! What a sync reports as it goes: the sample of rejected lines (range, line number and
//! reason, never the line), and progress — a bar on a terminal, a log line every ten seconds
//! otherwise, and the status file the server turns into metrics.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use leakwatch_store::{Namespace, unix_now};

use leakwatch_datadir::status::{StatusWriter, SyncStatus};
use leakwatch_store::RANGES;

use crate::{MirrorError, REJECTS_SAMPLE, Result, parse};

/// The rejects sample: range and line number and reason of lines that were not entries.
pub(crate) struct Rejects {
    path: PathBuf,
    file: Option<std::fs::File>,
    written: usize,
}

impl Rejects {
    pub(crate) fn open(path: &Path, resuming: bool) -> Result<Rejects> {
        if !resuming {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(MirrorError::Io {
                        path: path.to_owned(),
                        source: e,
                    });
                }
                _ => {}
            }
        }
        Ok(Rejects {
            path: path.to_owned(),
            file: None,
            written: 0,
        })
    }

    pub(crate) fn sample(
        &mut self,
        ns: Namespace,
        prefix: u32,
        bad: &[parse::Rejected],
    ) -> Result<()> {
        for r in bad {
            if self.written >= REJECTS_SAMPLE {
                return Ok(());
            }
            let io = |e| MirrorError::Io {
                path: self.path.clone(),
                source: e,
            };
            if self.file.is_none() {
                self.file = Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&self.path)
                        .map_err(io)?,
                );
            }
            let line = format!(
                "{} range {prefix:05X} line {}: {}\n",
                ns.name(),
                r.line,
                r.reason
            );
            self.file
                .as_mut()
                .expect("opened above")
                .write_all(line.as_bytes())
                .map_err(io)?;
            self.written += 1;
        }
        Ok(())
    }
}

/// A bar with rate and ETA on a terminal; a line every ten seconds otherwise; and the
/// status file (`SyncOptions::status_file`) whatever the terminal.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    log: bool,
    ns: Namespace,
    started: Instant,
    started_unix: u64,
    start_pos: u64,
    pos: std::cell::Cell<u64>,
    last_log: std::cell::Cell<Instant>,
    status: Option<StatusWriter<SyncStatus>>,
}

impl Progress {
    pub(crate) fn new(enabled: bool, ns: Namespace, done: u64) -> Progress {
        let terminal = enabled && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(u64::from(RANGES));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} ranges  {per_sec}  ETA {eta}  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("sync {}", ns.name()));
            bar.set_position(done);
            bar
        });
        Progress {
            bar,
            log: enabled && !terminal,
            ns,
            started: Instant::now(),
            started_unix: unix_now(),
            start_pos: done,
            pos: std::cell::Cell::new(done),
            last_log: std::cell::Cell::new(Instant::now()),
            status: None,
        }
    }

    /// Keeps the status file at `path` while the sync runs (written once a second, removed
    /// when it ends; best effort: progress reporting never stops a sync).
    pub(crate) fn with_status_file(mut self, path: PathBuf) -> Progress {
        let status = SyncStatus {
            pid: std::process::id(),
            namespace: self.ns.name().to_owned(),
            started_unix: self.started_unix,
            updated_unix: self.started_unix,
            ranges_done: self.pos.get(),
            ranges_total: u64::from(RANGES),
            bytes_received: 0,
        };
        self.status = Some(StatusWriter::start(path, status));
        self
    }

    pub(crate) fn advance(&self, bytes: u64) {
        let pos = self.pos.get() + 1;
        self.pos.set(pos);
        if let Some(status) = &self.status {
            status.update(|s| {
                s.ranges_done = pos;
                s.bytes_received = bytes;
            });
        }
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
            if pos.is_multiple_of(256) {
                bar.set_message(format!("{:.1} MB", bytes as f64 / 1e6));
            }
        } else if self.log && self.last_log.get().elapsed() >= Duration::from_secs(10) {
            self.last_log.set(Instant::now());
            self.log_line(bytes);
        }
    }

    pub(crate) fn log_line(&self, bytes: u64) {
        let pos = self.pos.get();
        let rate = (pos - self.start_pos) as f64 / self.started.elapsed().as_secs_f64();
        let left = u64::from(RANGES) - pos;
        eprintln!(
            "sync {}: {pos}/{RANGES} ranges, {rate:.0} ranges/s, ETA {:.0} s, {:.1} MB received",
            self.ns.name(),
            left as f64 / rate.max(1e-9),
            bytes as f64 / 1e6
        );
    }

    /// Clears the bar; in log mode, says where the fetching ended.
    pub(crate) fn finish(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        } else if self.log {
            self.log_line(bytes);
        }
    }
}
