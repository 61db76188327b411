//! The answer tier (`serve --answer-dir`): every populated range of the served generation,
//! rendered and encoded once (plain, gzip, brotli) into an answer file on local disk, then
//! sent from the file's mapped pages without rendering or copying in user space.
//!
//! The range cache (`range_cache`) keeps the popular prefixes in memory; under load spread
//! over all prefixes it misses, and each miss renders its ~76 KB answer at the real corpus's
//! shape. nginx on static files does not render, and neither does HIBP, which serves
//! per-prefix objects. With the tier, leakwatch does not either: it takes the disk those
//! files take (at the public corpus's shape about four times the store, all three codings)
//! and answers every range as a cache hit.
//!
//! Invariants: an answer comes from the file of the request's own generation and namespace
//! or not at all (a request then renders, exactly as without the tier); a file is built by
//! one background thread at a time, for the newest generation the server has seen (at the
//! start, at each swap, or at a request of a generation without a file), written
//! under a `.partial` name and published by rename (`leakwatch_store::AnswerFileWriter`);
//! every body's checksum is checked as it is sent, and a file that fails one is dropped
//! from serving and deleted (counted in `/metrics`), to be written anew, not trusted again.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
};

use axum::body::Bytes;
use leakwatch_store::{
    AnswerFile, AnswerFileWriter, Namespace, RANGES, RangeAnswers, Snapshot, StoreError,
    answer_file_name, remove_partial_answer_files,
};

use crate::{
    compress::{Coding, encode_range_text},
    range_cache::Answer,
};

/// How long after a failed build the next is tried: doubled after each further failure up
/// to [`RETRY_AT_MOST_SECS`], so that a full disk is neither hammered by a rendering of
/// every range each poll nor left alone for long once space is freed.
const RETRY_FIRST_SECS: u64 = 2;
const RETRY_AT_MOST_SECS: u64 = 300;

/// The wait after `failures` builds failed in a row.
fn retry_after(failures: u32) -> u64 {
    RETRY_FIRST_SECS
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(RETRY_AT_MOST_SECS)
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The namespaces answered as ranges.
const RANGE_NAMESPACES: [Namespace; 2] = [Namespace::Sha1, Namespace::Ntlm];

/// The codings an answer tier writes beside the plain text (`serve --answer-codings`): each
/// costs about half the plain text's size on disk. A request in a coding left out is
/// answered as without the tier (range cache, or rendered and compressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerCodings {
    pub gzip: bool,
    pub brotli: bool,
}

impl Default for AnswerCodings {
    fn default() -> Self {
        AnswerCodings {
            gzip: true,
            brotli: true,
        }
    }
}

impl AnswerCodings {
    /// The answer file's omitted-slots mask for these codings.
    fn omitted_slots(self) -> u8 {
        let left_out = |coding, kept: bool| if kept { 0 } else { bit(coding) };
        left_out(Coding::Gzip, self.gzip) | left_out(Coding::Brotli, self.brotli)
    }
}

/// The answer files a server serves from, and their counters.
#[derive(Debug)]
pub struct AnswerTier {
    dir: PathBuf,
    /// The slots (codings) this server does not write ([`AnswerCodings`]).
    omitted: u8,
    /// The files served: at most one a namespace, each of the newest generation built.
    files: RwLock<Vec<Arc<AnswerFile>>>,
    /// The newest generation a request has seen: older ones are never built.
    newest: AtomicU64,
    building: AtomicBool,
    /// When a build may be tried again after one failed (seconds since the epoch): a full
    /// disk is not hammered by every request.
    retry_at: AtomicU64,
    /// Builds failed in a row (0 after one succeeds).
    failures_in_a_row: AtomicU32,
    sent: AtomicU64,
    failed: AtomicU64,
    built: AtomicU64,
    build_failures: AtomicU64,
}

/// A body inside an answer file, owned by the response that sends it (keeps the map alive).
struct FileSlice {
    file: Arc<AnswerFile>,
    range: std::ops::Range<usize>,
}

impl AsRef<[u8]> for FileSlice {
    fn as_ref(&self) -> &[u8] {
        &self.file.bytes()[self.range.clone()]
    }
}

fn slot(coding: Coding) -> usize {
    match coding {
        Coding::Identity => 0,
        Coding::Gzip => 1,
        Coding::Brotli => 2,
    }
}

/// The bit of `coding`'s slot in an answer file's omitted-slots mask.
fn bit(coding: Coding) -> u8 {
    1 << slot(coding)
}

impl AnswerTier {
    /// The tier in `dir` (created, owner-only, when missing); what an interrupted build left
    /// there is removed. Files already there are served when their generation comes up.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(|e| StoreError::io(&dir, e))?;
        remove_partial_answer_files(&dir)?;
        Ok(AnswerTier {
            dir,
            omitted: 0,
            files: RwLock::new(Vec::new()),
            newest: AtomicU64::new(0),
            building: AtomicBool::new(false),
            retry_at: AtomicU64::new(0),
            failures_in_a_row: AtomicU32::new(0),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            built: AtomicU64::new(0),
            build_failures: AtomicU64::new(0),
        })
    }

    /// The tier writing only `codings` beside the plain text (all by default). A file
    /// written with other codings is written anew, not adopted.
    #[must_use]
    pub fn with_codings(mut self, codings: AnswerCodings) -> Self {
        self.omitted = codings.omitted_slots();
        self
    }

    /// The answer directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Answers sent from the tier, bodies that failed their check, files built.
    pub fn counters(&self) -> (u64, u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.built.load(Ordering::Relaxed),
        )
    }

    /// Builds that failed (each is retried later, see [`retry_after`]).
    pub fn build_failures(&self) -> u64 {
        self.build_failures.load(Ordering::Relaxed)
    }

    /// Starts building the files of `snap`'s generation unless they are served already:
    /// called when the server starts and on each look at the store, so that a generation's
    /// answers are written when it is published, not when a request first asks for them.
    pub fn keep_up(self: &Arc<Self>, snap: &Arc<Snapshot>) {
        let generation = snap.generation();
        let serving = self.serving();
        let done = RANGE_NAMESPACES
            .iter()
            .all(|&ns| snap.segments(ns).is_empty() || serving.contains(&(ns, generation)));
        if !done {
            self.build_in_background(snap);
        }
    }

    /// The generation each namespace is served from (by its file).
    pub fn serving(&self) -> Vec<(Namespace, u64)> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        files
            .iter()
            .map(|f| (f.namespace(), f.generation()))
            .collect()
    }

    /// The answer of range `prefix` of `snap` in `coding` (or identity, when that coding's
    /// slot is empty: too small to compress), or `None`: no file of this generation yet
    /// (one is started), the range is empty, or the file failed a check.
    pub(crate) fn answer(
        self: &Arc<Self>,
        snap: &Arc<Snapshot>,
        ns: Namespace,
        prefix: u32,
        coding: Coding,
    ) -> Option<Answer> {
        if self.omitted & bit(coding) != 0 {
            return None;
        }
        let generation = snap.generation();
        let file = {
            let files = self.files.read().unwrap_or_else(|e| e.into_inner());
            files
                .iter()
                .find(|f| f.namespace() == ns && f.generation() == generation)
                .cloned()
        };
        let Some(file) = file else {
            self.build_in_background(snap);
            return None;
        };
        let entry = file.entry(prefix)?;
        let found = match file.body(&entry, slot(coding)) {
            Ok(Some(range)) => Ok(Some((range, coding))),
            Ok(None) => file
                .body(&entry, 0)
                .map(|r| r.map(|range| (range, Coding::Identity))),
            Err(e) => Err(e),
        };
        match found {
            Ok(Some((range, coding))) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                Some(Answer {
                    etag: crate::range::etag_header(ns, entry.etag),
                    body: Bytes::from_owner(FileSlice { file, range }),
                    coding,
                    lines: entry.lines,
                })
            }
            Ok(None) => None,
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "answer tier: a file failed its check; ranges of it are rendered from the store");
                self.files
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|f| !Arc::ptr_eq(f, &file));
                // Deleted, so that the next request's build writes it anew rather than
                // adopting it again (its footer and index still check); answers being sent
                // from its pages keep the inode alive.
                let _ =
                    std::fs::remove_file(self.dir.join(answer_file_name(ns, file.generation())));
                None
            }
        }
    }

    /// Starts building the files of `snap`'s generation on a thread of its own, unless one
    /// is building or a newer generation has been seen.
    fn build_in_background(self: &Arc<Self>, snap: &Arc<Snapshot>) {
        let generation = snap.generation();
        if self.newest.fetch_max(generation, Ordering::AcqRel) > generation
            || now_unix() < self.retry_at.load(Ordering::Acquire)
            || self.building.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let (tier, snap) = (Arc::clone(self), Arc::clone(snap));
        let spawned = std::thread::Builder::new()
            .name("answer-tier".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                match tier.build(&snap) {
                    Ok(()) => {
                        tier.failures_in_a_row.store(0, Ordering::Release);
                        tracing::info!(
                            generation,
                            seconds = started.elapsed().as_secs_f64(),
                            "answer tier: generation ready"
                        )
                    }
                    Err(e) => {
                        tier.build_failures.fetch_add(1, Ordering::Relaxed);
                        let failures = tier.failures_in_a_row.fetch_add(1, Ordering::AcqRel) + 1;
                        let wait = retry_after(failures);
                        tier.retry_at.store(now_unix() + wait, Ordering::Release);
                        tracing::error!(error = %e, generation, retry_in_seconds = wait, "answer tier: build failed; ranges are rendered from the store")
                    }
                }
                tier.building.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.building.store(false, Ordering::Release);
        }
    }

    /// Writes (or finds already written) the answer file of each range namespace of `snap`
    /// and serves from it; files of older generations are then deleted.
    pub fn build(&self, snap: &Snapshot) -> Result<(), StoreError> {
        let generation = snap.generation();
        for ns in RANGE_NAMESPACES {
            if snap.segments(ns).is_empty() || self.serving().contains(&(ns, generation)) {
                continue;
            }
            let path = self.dir.join(answer_file_name(ns, generation));
            let segments = snap.segments_fingerprint(ns);
            let file = match AnswerFile::open(&path) {
                // Written before (this server's last run): taken when it was rendered from
                // these very segments (another store's file may carry the same generation).
                Ok(f)
                    if f.namespace() == ns
                        && f.generation() == generation
                        && f.segments_fingerprint() == segments
                        && f.omitted_slots() == self.omitted =>
                {
                    f
                }
                _ => {
                    write_file(&self.dir, snap, ns, self.omitted)?;
                    self.built.fetch_add(1, Ordering::Relaxed);
                    AnswerFile::open(&path)?
                }
            };
            let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
            files.retain(|f| f.namespace() != ns);
            files.push(Arc::new(file));
        }
        self.remove_older_than(generation);
        Ok(())
    }

    /// Deletes answer files of generations before `generation` (a mapped one stays readable
    /// until its last answer is sent: deleting keeps the inode alive).
    fn remove_older_than(&self, generation: u64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let older = RANGE_NAMESPACES.iter().any(|&ns| {
                name.strip_prefix(ns.name())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .and_then(|rest| rest.strip_suffix(".answers"))
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                    .is_some_and(|g| g < generation)
            });
            if older {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Renders every range of `ns` in `snap` in each coding not `omitted` into its answer file.
fn write_file(dir: &Path, snap: &Snapshot, ns: Namespace, omitted: u8) -> Result<(), StoreError> {
    let mut writer =
        AnswerFileWriter::create(dir, ns, snap.generation(), snap.segments_fingerprint(ns))?
            .omitting(omitted);
    let mut text = Vec::new();
    for prefix in 0..RANGES {
        text.clear();
        let lines = snap.render_range(ns, prefix, &mut text)? as u32;
        if lines == 0 {
            continue;
        }
        let packed = |coding| {
            (omitted & bit(coding) == 0)
                .then(|| encode_range_text(coding, &text))
                .flatten()
        };
        let (gzip, brotli) = (packed(Coding::Gzip), packed(Coding::Brotli));
        writer.push(
            prefix,
            RangeAnswers {
                lines,
                etag: crate::range::etag_digest(&text),
                bodies: [
                    &text,
                    gzip.as_deref().unwrap_or_default(),
                    brotli.as_deref().unwrap_or_default(),
                ],
            },
        )?;
    }
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_build_is_retried_sooner_first_then_at_most_every_five_minutes() {
        let waits: Vec<u64> = (1..=10).map(retry_after).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_after(u32::MAX), RETRY_AT_MOST_SECS);
    }
}
