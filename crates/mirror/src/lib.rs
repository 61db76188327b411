//! `leakwatch sync`: keeps a password namespace a mirror of an HIBP-compatible range API
//! (the public Pwned Passwords API, another leakwatch, or static per-prefix files behind any
//! web server), fetching only what changed.
//!
//! A sync asks the source for all 1,048,576 ranges, each with the ETag it gave last time
//! (`If-None-Match`): an unchanged range costs a 304. Every answer goes to a journal
//! ([`journal`]) as it arrives, so a killed or cut-off sync resumes where it stopped. When
//! every range is in, the changed ones replace theirs: a new mirror segment is written from
//! the old one's unchanged ranges and the journal's changed ones, and published with the new
//! ETag table in one manifest swap. Until then the store, and a server reading it, answer
//! from the previous generation. A sync that changed nothing publishes nothing.
//!
//! The mirror's segment holds exactly the source's ranges (counts replaced, not added);
//! imports into the same store add their own segments beside it, and compaction leaves it
//! alone.
//!
//! This crate does not serve ranges (crates/api does) or import files (crates/ingest).

mod client;
mod journal;
pub mod parse;
mod progress;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

pub use client::Source;
use client::{Answer, Fetcher};
use journal::{Header, Journal, RangeRecord};
use leakwatch_store::{
    Commit, Directory, EtagTable, Key, MirrorMeta, Namespace, RANGES, Segment, Snapshot,
    StoreError, StoreWriter, unix_now,
};
use progress::{Progress, Rejects};

/// Errors of a sync.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// The store could not be read or written (damage included).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A local file (journal, rejects sample, lock) could not be used.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The source URL, its TLS settings or its answers make no sense.
    #[error("source: {0}")]
    BadSource(String),
    /// The source refused a range with a status that retrying will not change.
    #[error(
        "{url} answered {status}: is this an HIBP-compatible range API (`/range/{{prefix}}`), or a URL template with {{prefix}} in it?"
    )]
    Refused {
        /// The range's URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// A range got no usable answer within the retries.
    #[error(
        "{url}: no answer after {attempts} attempts (last: {last}); run the sync again to resume where it stopped"
    )]
    Unreachable {
        /// The range's URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A record the journal indexed no longer reads back intact.
    #[error(
        "the sync journal {path} is damaged at byte {offset}; delete it to start the sync over"
    )]
    JournalDamaged {
        /// The journal.
        path: PathBuf,
        /// Where.
        offset: u64,
    },
    /// Another sync holds the data directory's sync lock.
    #[error("another sync of this data directory is running")]
    Busy,
    /// The store's mirror is no longer the one the sync started from (only a restore does
    /// that: syncs hold the sync lock).
    #[error(
        "the store's mirror changed during the sync (restored from a backup?); run the sync again"
    )]
    StoreChanged,
    /// The store's writer lock stayed taken (an import or compaction is running).
    #[error(
        "the store is busy with another writer; run the sync again to publish (nothing is downloaded again)"
    )]
    StoreBusy,
}

/// Result alias of this crate.
pub type Result<T, E = MirrorError> = std::result::Result<T, E>;

/// What a sync is asked to do.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Where to fetch ranges from.
    pub source: Source,
    /// Password namespaces to mirror, one after the other.
    pub namespaces: Vec<Namespace>,
    /// Requests in flight at once.
    pub parallel: usize,
    /// Per request, from sending to the last body byte.
    pub timeout: Duration,
    /// Attempts after the first for one range before the sync stops (resumably).
    pub retries: u32,
    /// A PEM file of extra root certificates (a private CA, a proxy's).
    pub ca_cert: Option<PathBuf>,
    /// A bar on a terminal, a line every few seconds otherwise; nothing when false.
    pub progress: bool,
}

/// Where a sync keeps its files, outside the store.
#[derive(Debug, Clone)]
pub struct WorkFiles {
    /// Journals, the rejects sample and the sync lock.
    pub dir: PathBuf,
    /// The running sync's progress (`leakwatch_datadir::status::SyncStatus`), rewritten about
    /// once a second and removed when a namespace's sync ends; the server turns it into
    /// `leakwatch_sync_*` metrics. Counts only.
    pub status_file: PathBuf,
}

/// What one namespace's sync did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NamespaceReport {
    /// `sha1` or `ntlm`.
    pub namespace: String,
    /// Ranges already in the journal of an interrupted sync (not fetched again).
    pub resumed: u32,
    /// Ranges fetched by this run.
    pub fetched: u32,
    /// Of those, answered 304 Not Modified.
    pub not_modified: u32,
    /// Of those, answered over HTTP/2.
    pub http2: u32,
    /// Of those, answered with a gzip-encoded body.
    pub gzip: u32,
    /// Ranges whose entries changed (all of the source's ranges, the first time).
    pub changed: u32,
    /// Ranges whose ETag changed but entries did not.
    pub etags_only: u32,
    /// Body bytes received (compressed, as on the wire).
    pub bytes: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Why the last retried attempt failed.
    pub last_retry_reason: Option<String>,
    /// Source lines that were not `SUFFIX:COUNT` (sampled to the rejects file).
    pub rejected_lines: u64,
    /// Hashes in the mirror after the sync.
    pub hashes: u64,
    /// The generation published, if anything changed.
    pub published_generation: Option<u64>,
    /// Wall time.
    pub seconds: f64,
}

/// Rejected lines sampled per namespace.
const REJECTS_SAMPLE: usize = 1000;
/// The journal is handed to the OS at least this often, and to the disk this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
const SYNC_EVERY: Duration = Duration::from_secs(30);

/// Syncs each namespace of `options` in turn into the store in `store`.
pub fn sync(
    store: Arc<dyn Directory>,
    options: &SyncOptions,
    work: &WorkFiles,
) -> Result<Vec<NamespaceReport>> {
    std::fs::create_dir_all(&work.dir).map_err(|e| MirrorError::Io {
        path: work.dir.clone(),
        source: e,
    })?;
    let _lock = sync_lock(&work.dir)?;
    // One thread: the work per answer is small (a gzip inflate, a parse, a compare), and on
    // a multi-thread runtime every answer woke the loop across threads; measured on 2 cores,
    // one thread did a first sync in 23 s instead of 28 and used 30 % less CPU
    // (docs/BENCHMARKS.md). A real upstream is further away than one core can keep busy.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MirrorError::Io {
            path: "tokio runtime".into(),
            source: e,
        })?;
    let fetcher = {
        let _enter = runtime.enter();
        Fetcher::new(
            options.source.clone(),
            options.parallel,
            options.timeout,
            options.retries,
            options.ca_cert.as_deref(),
        )?
    };
    let mut reports = Vec::new();
    for &ns in &options.namespaces {
        if ns == Namespace::Account {
            return Err(MirrorError::BadSource(
                "only password namespaces (sha1, ntlm) can be mirrored".into(),
            ));
        }
        reports.push(sync_namespace(
            &store,
            (options, work),
            ns,
            &fetcher,
            &runtime,
        )?);
    }
    Ok(reports)
}

/// One sync of a data directory at a time: a `flock` on `LOCK` in the work directory.
fn sync_lock(work_dir: &Path) -> Result<std::fs::File> {
    let path = work_dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| MirrorError::Io {
            path: path.clone(),
            source: e,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(MirrorError::Busy),
        Err(std::fs::TryLockError::Error(e)) => Err(MirrorError::Io { path, source: e }),
    }
}

/// The mirror as last published: its segment and ETags, if the source is the same.
struct Base {
    etags_file: String,
    segment: Option<Segment>,
    etags: EtagTable,
}

fn base_of(snap: &Snapshot, ns: Namespace, source: &Source) -> Result<Base> {
    Ok(match snap.mirror(ns)? {
        Some((meta, seg, table)) => Base {
            etags_file: meta.etags.clone(),
            segment: Some(seg.clone()),
            // Another source's tags mean nothing to this one: every range is fetched whole
            // (and compared, so unchanged ranges still publish nothing).
            etags: if meta.source == source.as_str() {
                table
            } else {
                EtagTable::default()
            },
        },
        None => Base {
            etags_file: String::new(),
            segment: None,
            etags: EtagTable::default(),
        },
    })
}

fn range_entries(segment: Option<&Segment>, prefix: u32) -> Result<Vec<(Key, u64)>> {
    let mut out = Vec::new();
    if let Some(seg) = segment {
        seg.for_each_in_range(prefix, |k, c| out.push((k, c)))?;
    }
    Ok(out)
}

fn sync_namespace(
    store: &Arc<dyn Directory>,
    (options, work): (&SyncOptions, &WorkFiles),
    ns: Namespace,
    fetcher: &Fetcher,
    runtime: &tokio::runtime::Runtime,
) -> Result<NamespaceReport> {
    let started = Instant::now();
    let snap = Snapshot::open(store.as_ref())?;
    let base = Arc::new(base_of(&snap, ns, &options.source)?);
    drop(snap);
    let header = Header {
        namespace: ns,
        source: options.source.as_str().to_owned(),
        base: base.etags_file.clone(),
    };
    let journal_path = work.dir.join(format!("{}.journal", ns.name()));
    let (mut journal, resumed) = Journal::open(&journal_path, &header)?;
    let rejects_path = work.dir.join(format!("{}.rejects", ns.name()));
    let mut rejects = Rejects::open(&rejects_path, resumed > 0)?;
    let mut report = NamespaceReport {
        namespace: ns.name().to_owned(),
        resumed,
        ..NamespaceReport::default()
    };
    let progress = Progress::new(options.progress, ns, u64::from(resumed))
        .with_status_file(work.status_file.clone());

    let fetched = runtime.block_on(fetch_all(
        fetcher,
        ns,
        &base,
        &mut journal,
        &mut report,
        &mut rejects,
        &progress,
        options.parallel.max(1),
    ));
    // What arrived is kept for the next run, whatever happened.
    let flushed = journal.flush(true);
    progress.finish(report.bytes);
    fetched?;
    flushed?;

    report.rejected_lines = journal.rejected();
    report.changed = journal.changed().count() as u32;
    report.etags_only = (0..RANGES)
        .filter(|&p| !journal.is_changed(p) && journal.etag(p) != base.etags.get(p))
        .count() as u32;
    let old_hashes = base.segment.as_ref().map_or(0, Segment::hashes);
    if report.changed == 0 && report.etags_only == 0 {
        report.hashes = old_hashes;
        journal.remove()?;
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    let (generation, hashes) = publish(store, options, ns, &base, &journal)?;
    journal.remove()?;
    report.published_generation = Some(generation);
    report.hashes = hashes;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Fetches every range the journal does not hold yet, `parallel` at a time, journaling each
/// answer as it arrives.
#[allow(clippy::too_many_arguments)]
async fn fetch_all(
    fetcher: &Fetcher,
    ns: Namespace,
    base: &Arc<Base>,
    journal: &mut Journal,
    report: &mut NamespaceReport,
    rejects: &mut Rejects,
    progress: &Progress,
    parallel: usize,
) -> Result<()> {
    let mut todo = (0..RANGES)
        .filter(|&p| !journal.has(p))
        .collect::<Vec<_>>()
        .into_iter();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut last_flush = Instant::now();
    let mut last_sync = Instant::now();
    loop {
        while in_flight.len() < parallel
            && let Some(prefix) = todo.next()
        {
            let (fetcher, base) = (fetcher.clone(), base.clone());
            in_flight.spawn(async move {
                let fetched = fetcher.fetch(ns, prefix, base.etags.get(prefix)).await?;
                let not_modified = matches!(fetched.answer, Answer::NotModified { .. });
                // Parsed and compared in the task, as soon as its answer is in.
                let (record, bad) = to_record(ns, prefix, &base, fetched.answer)?;
                Ok::<_, MirrorError>(Done {
                    record,
                    bad,
                    not_modified,
                    http2: fetched.version == hyper::Version::HTTP_2,
                    gzip: fetched.gzip,
                    wire_bytes: fetched.wire_bytes,
                    retries: fetched.retries,
                    last_failure: fetched.last_failure,
                })
            });
        }
        let Some(joined) = in_flight.join_next().await else {
            return Ok(());
        };
        let done = joined.map_err(|e| MirrorError::Io {
            path: "fetch task".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        report.fetched += 1;
        report.not_modified += u32::from(done.not_modified);
        report.http2 += u32::from(done.http2);
        report.gzip += u32::from(done.gzip);
        report.bytes += done.wire_bytes;
        report.retries += u64::from(done.retries);
        if done.last_failure.is_some() {
            report.last_retry_reason = done.last_failure;
        }
        rejects.sample(ns, done.record.prefix, &done.bad)?;
        journal.append(&done.record)?;
        progress.advance(report.bytes);
        if last_flush.elapsed() >= FLUSH_EVERY {
            journal.flush(false)?;
            last_flush = Instant::now();
        }
        if last_sync.elapsed() >= SYNC_EVERY {
            journal.flush(true)?;
            last_sync = Instant::now();
        }
    }
}

/// One range fetched, parsed and compared.
struct Done {
    record: RangeRecord,
    bad: Vec<parse::Rejected>,
    not_modified: bool,
    http2: bool,
    gzip: bool,
    wire_bytes: u64,
    retries: u32,
    last_failure: Option<String>,
}

/// A range's answer as a journal record: new entries only if they differ from the mirror's.
fn to_record(
    ns: Namespace,
    prefix: u32,
    base: &Base,
    answer: Answer,
) -> Result<(RangeRecord, Vec<parse::Rejected>)> {
    Ok(match answer {
        Answer::NotModified { etag } => (
            RangeRecord {
                prefix,
                etag,
                entries: None,
                rejected: 0,
            },
            Vec::new(),
        ),
        Answer::Body { etag, body } => {
            let (entries, bad) = parse::parse_range(ns, prefix, &body);
            let same = entries == range_entries(base.segment.as_ref(), prefix)?;
            (
                RangeRecord {
                    prefix,
                    etag,
                    entries: (!same).then_some(entries),
                    rejected: bad.len() as u32,
                },
                bad,
            )
        }
    })
}

/// Writes the new mirror segment (unchanged ranges from the old one, changed ones from the
/// journal) and ETag table, and publishes them in one manifest swap.
fn publish(
    store: &Arc<dyn Directory>,
    options: &SyncOptions,
    ns: Namespace,
    base: &Base,
    journal: &Journal,
) -> Result<(u64, u64)> {
    let mut writer = open_writer(store)?;
    let published_base = writer.manifest().mirror(ns).map(|m| m.etags.clone());
    if published_base.unwrap_or_default() != base.etags_file {
        // Only a sync changes a mirror, and syncs hold the sync lock: this is a store
        // restored from a backup under our feet. Start over rather than mix generations.
        return Err(MirrorError::StoreChanged);
    }
    let old = base.segment.as_ref();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let (segment_name, hashes) = match old {
        // Only ETags changed: the mirror segment stays as it is.
        Some(seg) if journal.changed().next().is_none() => (seg.name().to_owned(), seg.hashes()),
        // A first sync writes a segment even when every range is empty: the mirror entry
        // must name one.
        _ => {
            let estimate = old.map_or(0, Segment::hashes) + journal.new_entries();
            let (name, mut out) = writer.create_segment(ns, estimate)?;
            // The old segment is read once, in order, alongside the ranges: its keys in a
            // changed range are skipped, the journal's entries written instead.
            let mut old_keys = old.map(Segment::iter).into_iter().flatten().peekable();
            for prefix in 0..RANGES {
                let changed = journal.is_changed(prefix);
                while let Some(item) = old_keys
                    .next_if(|item| item.as_ref().map_or(true, |(k, _)| k.prefix(ns) == prefix))
                {
                    let (key, count) = item?;
                    if !changed {
                        out.push(key, count)?;
                    }
                }
                if changed {
                    let record = journal.read(prefix)?.and_then(|r| r.entries);
                    for (key, count) in record.unwrap_or_default() {
                        out.push(key, count)?;
                    }
                }
            }
            let meta = StoreWriter::segment_meta(name.clone(), ns, out.finish()?);
            let hashes = meta.hashes;
            added.push(meta);
            removed.extend(old.map(|s| s.name().to_owned()));
            (name, hashes)
        }
    };
    let table = EtagTable::from_ordered((0..RANGES).map(|p| journal.etag(p)))?;
    let etags = writer.create_etags(ns, &table)?;
    let manifest = writer.commit(Commit {
        added,
        removed,
        mirror: Some(MirrorMeta {
            namespace: ns,
            source: options.source.as_str().to_owned(),
            segment: segment_name,
            etags,
            synced_unix: unix_now(),
        }),
        ..Commit::default()
    })?;
    Ok((manifest.generation, hashes))
}

/// The store's writer lock, waited for a while: an import may be publishing.
fn open_writer(store: &Arc<dyn Directory>) -> Result<StoreWriter> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match StoreWriter::open(store.clone()) {
            Err(StoreError::Locked(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(StoreError::Locked(_)) => return Err(MirrorError::StoreBusy),
            other => return Ok(other?),
        }
    }
}

#[cfg(test)]
mod tests {
    use leakwatch_store::RamDirectory;

    use super::*;

    fn options() -> SyncOptions {
        SyncOptions {
            source: Source::parse("http://127.0.0.1:9").unwrap(),
            namespaces: vec![Namespace::Sha1],
            parallel: 1,
            timeout: Duration::from_secs(1),
            retries: 0,
            ca_cert: None,
            progress: false,
        }
    }

    /// A journal in which every range answered: `entries(prefix)` for the changed ones.
    fn journal(
        work: &Path,
        base: &str,
        mut entries: impl FnMut(u32) -> Option<Vec<(Key, u64)>>,
    ) -> Journal {
        let header = Header {
            namespace: Namespace::Sha1,
            source: "http://127.0.0.1:9".into(),
            base: base.into(),
        };
        let (mut j, _) = Journal::open(&work.join("sha1.journal"), &header).unwrap();
        for prefix in 0..RANGES {
            j.append(&RangeRecord {
                prefix,
                etag: format!("\"{prefix}\"").into_bytes(),
                entries: entries(prefix),
                rejected: 0,
            })
            .unwrap();
        }
        j.flush(false).unwrap();
        j
    }

    fn key(prefix: u32, low: u128) -> Key {
        Key::first_with_prefix(Namespace::Sha1, u64::from(prefix), 20)
            .checked_add(Key::from_u128(low))
            .unwrap()
    }

    #[test]
    fn a_source_with_no_hashes_at_all_is_mirrored_as_an_empty_segment() {
        let work = tempfile::tempdir().unwrap();
        let store: Arc<dyn Directory> = Arc::new(RamDirectory::new());
        let j = journal(work.path(), "", |_| None);
        let snap = Snapshot::open(store.as_ref()).unwrap();
        let base = base_of(&snap, Namespace::Sha1, &options().source).unwrap();
        let (generation, hashes) = publish(&store, &options(), Namespace::Sha1, &base, &j).unwrap();
        assert_eq!((generation, hashes), (1, 0));
        let snap = Snapshot::open(store.as_ref()).unwrap();
        let (_, seg, etags) = snap.mirror(Namespace::Sha1).unwrap().unwrap();
        assert_eq!(seg.hashes(), 0);
        assert_eq!(etags.get(0xABCDE), b"\"703710\"");
    }

    #[test]
    fn changed_ranges_replace_theirs_and_the_others_are_copied() {
        let work = tempfile::tempdir().unwrap();
        let store: Arc<dyn Directory> = Arc::new(RamDirectory::new());
        let opts = options();
        // First: ranges 0..8 hold two keys each.
        let j = journal(work.path(), "", |p| {
            (p < 8).then(|| vec![(key(p, 1), 10), (key(p, 2), 20)])
        });
        let snap = Snapshot::open(store.as_ref()).unwrap();
        let base = base_of(&snap, Namespace::Sha1, &opts.source).unwrap();
        publish(&store, &opts, Namespace::Sha1, &base, &j).unwrap();
        j.remove().unwrap();
        // Then range 3 changes (one key gone, one count changed) and range 9 appears.
        let snap = Snapshot::open(store.as_ref()).unwrap();
        let base = base_of(&snap, Namespace::Sha1, &opts.source).unwrap();
        let j = journal(work.path(), &base.etags_file, |p| match p {
            3 => Some(vec![(key(3, 2), 99)]),
            9 => Some(vec![(key(9, 5), 1)]),
            _ => None,
        });
        let (generation, hashes) = publish(&store, &opts, Namespace::Sha1, &base, &j).unwrap();
        assert_eq!((generation, hashes), (2, 16));
        let snap = Snapshot::open(store.as_ref()).unwrap();
        assert_eq!(
            snap.range(Namespace::Sha1, 3).unwrap(),
            vec![(key(3, 2), 99)]
        );
        assert_eq!(
            snap.range(Namespace::Sha1, 9).unwrap(),
            vec![(key(9, 5), 1)]
        );
        assert_eq!(
            snap.range(Namespace::Sha1, 7).unwrap(),
            vec![(key(7, 1), 10), (key(7, 2), 20)],
            "unchanged ranges are copied"
        );
        assert_eq!(
            snap.segments(Namespace::Sha1).len(),
            1,
            "the old mirror segment is retired"
        );
        // A journal from before another publication is refused, not mixed in.
        let stale = Base {
            etags_file: "0000000001-001-sha1.etags".into(),
            ..base
        };
        assert!(matches!(
            publish(&store, &opts, Namespace::Sha1, &stale, &j),
            Err(MirrorError::StoreChanged)
        ));
    }
}
