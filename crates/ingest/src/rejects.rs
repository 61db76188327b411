//! Counting rejected lines and keeping a sample of them in a rejects file.
//!
//! A sampled line is quoted only when it cannot hold a secret (see
//! [`crate::parse::quotable`]); plaintext-password lines are reported by number and reason.
//! The file is created only when the first line is rejected.

use std::{
    fs::File,
    io::{self, BufWriter, Write},
    path::PathBuf,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::parse::{Format, Reject, quotable};

pub(crate) struct Rejects {
    path: PathBuf,
    limit: usize,
    format: Format,
    count: AtomicU64,
    sample: Mutex<Sample>,
}

#[derive(Default)]
struct Sample {
    /// (file number, line number, reason, the line when quotable); the file number is 0
    /// for a single input.
    entries: Vec<(u64, u64, Reject, Option<String>)>,
}

impl Rejects {
    pub(crate) fn new(path: PathBuf, limit: usize, format: Format) -> Self {
        Rejects {
            path,
            limit,
            format,
            count: AtomicU64::new(0),
            sample: Mutex::default(),
        }
    }

    pub(crate) fn reject(&self, line_no: u64, reason: Reject, line: &[u8]) {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if (n as usize) < self.limit {
            let quoted = quotable(self.format, line)
                .then(|| String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned());
            self.sample
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entries
                .push((0, line_no, reason, quoted));
        }
    }

    /// Counts a rejected unit of file number `file_no` (1-based, in the order the source's
    /// files were read) at `line_no`, sampled by number only: a stealer log's units and
    /// their file names may hold credentials or a victim's machine name.
    pub(crate) fn reject_unit(&self, file_no: u64, line_no: u64, reason: Reject) {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if (n as usize) < self.limit {
            self.sample
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entries
                .push((file_no, line_no, reason, None));
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes the sample (sorted by line number) if anything was rejected.
    pub(crate) fn finish(&self) -> io::Result<Option<PathBuf>> {
        let mut sample = self.sample.lock().unwrap_or_else(|e| e.into_inner());
        if sample.entries.is_empty() {
            return Ok(None);
        }
        sample.entries.sort_by_key(|e| (e.0, e.1));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = BufWriter::new(File::create(&self.path)?);
        if self.format == Format::Stealer {
            writeln!(
                out,
                "# {} rejected units; the first {} follow as FILE<TAB>LINE<TAB>REASON \
                 (FILE: the file's number in the order they were read, directories in path \
                 order, archives in member order; LINE: the unit's first line)",
                self.count(),
                sample.entries.len()
            )?;
            for (file_no, line_no, reason, _) in &sample.entries {
                writeln!(out, "{file_no}\t{line_no}\t{}", reason.reason())?;
            }
            out.flush()?;
            return Ok(Some(self.path.clone()));
        }
        writeln!(
            out,
            "# {} rejected lines; the first {} follow as LINE<TAB>REASON<TAB>CONTENT",
            self.count(),
            sample.entries.len()
        )?;
        if self.format.lines_are_secret() {
            writeln!(
                out,
                "# content is withheld: lines of this format hold passwords or identifiers"
            )?;
        }
        for (_, line_no, reason, quoted) in &sample.entries {
            writeln!(
                out,
                "{line_no}\t{}\t{}",
                reason.reason(),
                quoted.as_deref().unwrap_or("<withheld>")
            )?;
        }
        out.flush()?;
        Ok(Some(self.path.clone()))
    }
}
