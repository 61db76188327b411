//! Ingest: from a leak file to published store segments.
//!
//! Two kinds of input: password corpora (Pwned Passwords files, plaintext lists) feed the
//! SHA-1 and NTLM namespaces; breach dumps ([`dump`]: combolists, CSV/TSV, JSON Lines) name a
//! breach, and each line's identifiers are normalised and hashed into the account
//! namespace (linked to that breach), its password hashed into SHA-1 and NTLM, and each
//! e-mail's alias sealed under the operator key into an alias file ([`aliases`]).
//!
//! Pipeline: one reader thread decompresses and fingerprints the input and cuts it into
//! line-aligned blocks; worker threads (one per core) parse and hash lines, sum repeats in a
//! small cache, and radix-partition records into bounded spill buffers and files
//! ([`spill`]); then the partitions are sorted in parallel, in order, and streamed into one new
//! segment per namespace, and both are published with the source's fingerprint in one atomic
//! manifest swap. A crash at any point leaves the previous manifest, and so the previous
//! answers, untouched; the next writer removes the leftovers.
//!
//! This crate does not serve queries and does not decide where the store lives.

mod aliases;
pub mod dump;
pub mod parse;
mod progress;
mod rejects;
mod reseal;
pub mod source;
mod spill;

use std::{
    io::{self, Read},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    time::Instant,
};

use leakwatch_identity::OperatorKey;
use leakwatch_store::{
    Commit, Key, Namespace, Postings, Snapshot, SourceRecord, StoreError, StoreWriter, breach_ref,
    unix_now,
};

pub use dump::{ColumnMap, DumpOptions, Field};
pub use parse::Format;
pub use progress::{ImportStatus, STATUS_FILE};
pub use reseal::{AliasCompaction, ResealSummary, compact_aliases, reseal};
pub use source::Source;

use crate::{
    aliases::{AliasBuffer, AliasRuns},
    dump::Layout,
    rejects::Rejects,
    source::Input,
    spill::{Combiner, Hll, PARTS, Spill},
};

/// Errors that stop an import (bad lines do not: they are counted and skipped).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The store refused (locked, corrupt, disk full...).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the input or writing spill files failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The options cannot work (e.g. a directory given with `--format plain`).
    #[error("{0}")]
    Invalid(String),
}

/// A new spill directory under `tmp_dir`. Spill space lives next to the data; whatever a
/// crashed writer left in `tmp_dir` is removed first, which is safe because the caller holds
/// the store's writer lock.
pub(crate) fn fresh_spill_dir(
    tmp_dir: &std::path::Path,
    prefix: &str,
) -> Result<tempfile::TempDir, IngestError> {
    let _ = std::fs::remove_dir_all(tmp_dir);
    std::fs::create_dir_all(tmp_dir).map_err(io_err(format!("creating {}", tmp_dir.display())))?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(tmp_dir)
        .map_err(io_err("creating spill directory"))
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> IngestError {
    let context = context.into();
    move |source| IngestError::Io { context, source }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// `None` detects: a directory is `HibpDir`, hash lines are `Hibp`, anything else `Plain`.
    pub format: Option<Format>,
    /// Memory budget in bytes for buffers and sorting.
    pub memory: usize,
    /// Worker threads (parse and sort).
    pub threads: usize,
    /// Where spill files go (a fresh sub-directory is made and removed).
    pub tmp_dir: PathBuf,
    /// Where to write a sample of rejected lines (created only if a line is rejected).
    pub rejects_path: PathBuf,
    /// How many rejected lines to sample.
    pub reject_sample: usize,
    /// Show a progress bar on a terminal, log lines otherwise; `false` for silence.
    pub progress: bool,
    /// The breach a dump's accounts are linked to; required for dump formats, refused for
    /// password corpora.
    pub breach: Option<String>,
    /// How to read a dump.
    pub dump: DumpOptions,
    /// Seals e-mail aliases for domain search; `None` stores no aliases.
    pub operator_key: Option<OperatorKey>,
    /// Where to keep the import's status for a running server's metrics
    /// ([`ImportStatus`]); `None` writes none.
    pub status_file: Option<PathBuf>,
}

impl IngestOptions {
    /// Defaults: 2 GiB, every core, spill and rejects beside the given data directory.
    pub fn new(data_dir: &std::path::Path) -> Self {
        IngestOptions {
            format: None,
            memory: 2 << 30,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            tmp_dir: data_dir.join("tmp"),
            rejects_path: data_dir.join("rejects").join(format!("{}.txt", unix_now())),
            reject_sample: 1000,
            progress: true,
            breach: None,
            dump: DumpOptions::default(),
            operator_key: None,
            status_file: Some(data_dir.join(progress::STATUS_FILE)),
        }
    }
}

/// Per-namespace outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamespaceSummary {
    /// Distinct hashes in this import.
    pub distinct: u64,
    /// Of those, hashes the store did not hold before.
    pub new: u64,
    /// Bytes of the new segment.
    pub bytes: u64,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The source's fingerprint.
    pub fingerprint: String,
    /// The format used.
    pub format: Format,
    /// True if this exact content was imported before: nothing was changed.
    pub already_imported: bool,
    /// Lines read.
    pub lines: u64,
    /// Lines accepted.
    pub accepted: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Where rejected lines were sampled, if any were.
    pub rejects_file: Option<PathBuf>,
    /// SHA-1 outcome.
    pub sha1: NamespaceSummary,
    /// NTLM outcome.
    pub ntlm: NamespaceSummary,
    /// Account outcome (dumps only): `distinct` identifiers, `new` to the store.
    pub accounts: NamespaceSummary,
    /// Sealed records written to the alias file: distinct aliases plus one sealed name per
    /// domain (dumps with an operator key).
    pub aliases: u64,
    /// The breach the accounts were linked to.
    pub breach: Option<String>,
    /// Distinct accounts in the breach after this import (all its imports together).
    pub breach_accounts: u64,
    /// Accepted dump lines holding an e-mail, a phone number, a username, a password.
    pub fields_seen: FieldsSeen,
    /// Generation published (unchanged if nothing was).
    pub generation: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// How many accepted dump lines held each field (what the breach's data classes are).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldsSeen {
    /// Lines with an e-mail address.
    pub emails: u64,
    /// Lines with a phone number.
    pub phones: u64,
    /// Lines with a username.
    pub usernames: u64,
    /// Lines with a password.
    pub passwords: u64,
}

impl FieldsSeen {
    fn add(&mut self, o: &FieldsSeen) {
        self.emails += o.emails;
        self.phones += o.phones;
        self.usernames += o.usernames;
        self.passwords += o.passwords;
    }
}

const BLOCK: usize = 4 << 20;

/// Added to an account's spill count for each line on which it is the primary identifier
/// (the e-mail address, else the username, else the phone number); every other occurrence
/// adds 1. Summed counts at or above this mark an identifier that was primary somewhere
/// (unless it occurs 2^31 times as a secondary one, which no dump approaches).
const PRIMARY: u64 = 1 << 31;

struct Block {
    bytes: Vec<u8>,
    first_line: u64,
}

/// Imports one source into the store held by `writer`.
///
/// An import that fails publishes nothing and keeps nothing: its spill files, its rejects
/// sample and (when `writer` is dropped) its unpublished segments are removed, so a failure
/// on a full disk gives the space back.
pub fn ingest(
    writer: &mut StoreWriter,
    source: &Source,
    opts: &IngestOptions,
) -> Result<Summary, IngestError> {
    let result = ingest_unclean(writer, source, opts);
    if result.is_err() {
        let _ = std::fs::remove_file(&opts.rejects_path);
        if let Some(dir) = opts.rejects_path.parent() {
            let _ = std::fs::remove_dir(dir); // only if empty
        }
    }
    result
}

fn ingest_unclean(
    writer: &mut StoreWriter,
    source: &Source,
    opts: &IngestOptions,
) -> Result<Summary, IngestError> {
    let started = Instant::now();
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let mut input = Input::open(source, raw_bytes.clone())
        .map_err(io_err(format!("opening {}", source.label())))?;
    let format = match (opts.format, source) {
        (Some(Format::HibpDir), Source::Dir(_)) | (None, Source::Dir(_)) => Format::HibpDir,
        (Some(f), Source::Dir(_)) => {
            return Err(IngestError::Invalid(format!(
                "a directory is read as hibp-dir, not {f:?}"
            )));
        }
        (Some(Format::HibpDir), _) => {
            return Err(IngestError::Invalid(
                "--format hibp-dir needs a directory".into(),
            ));
        }
        (Some(f), _) => f,
        (None, _) if opts.breach.is_some() => dump::detect(input.head(), source.file_name()),
        (None, _) => parse::detect(input.head()),
    };
    match (&opts.breach, format.is_dump()) {
        (Some(_), false) => {
            return Err(IngestError::Invalid(format!(
                "--breach links a dump's accounts to a breach; {} files hold no accounts",
                format.name()
            )));
        }
        (None, true) => {
            return Err(IngestError::Invalid(format!(
                "a {} dump needs --breach NAME (the breach its accounts are linked to)",
                format.name()
            )));
        }
        _ => {}
    }
    let layout = if format.is_dump() {
        Some(Layout::new(format, input.head(), &opts.dump).map_err(IngestError::Invalid)?)
    } else {
        None
    };
    let breach_id = opts.breach.as_deref().map(|b| writer.breach_id(b));

    let spill_dir = fresh_spill_dir(&opts.tmp_dir, "ingest-")?;
    let spills: Vec<Spill> = Namespace::ALL
        .iter()
        .map(|&ns| Spill::new(ns, spill_dir.path().to_path_buf(), opts.memory / 6))
        .collect();
    let threads = opts.threads.max(1);
    let alias_runs = AliasRuns::new(spill_dir.path().to_path_buf(), opts.memory / 8 / threads);
    let sealer = if layout.is_some() {
        opts.operator_key.as_ref()
    } else {
        None
    };
    let rejects = Rejects::new(opts.rejects_path.clone(), opts.reject_sample, format);
    let lines = AtomicU64::new(0);
    let progress = progress::Progress::start(
        opts.progress,
        source.raw_len(),
        raw_bytes.clone(),
        opts.status_file.clone(),
    );

    let fields_seen = std::sync::Mutex::new(FieldsSeen::default());
    let (tx, rx) = mpsc::sync_channel::<Block>(threads * 2);
    let rx = std::sync::Mutex::new(rx);
    // Set by a worker that failed: the reader stops at its next block, and the failed worker
    // keeps draining the channel so the reader can never block on a full one.
    let abort = std::sync::atomic::AtomicBool::new(false);
    let hll = std::thread::scope(|scope| -> Result<[Hll; 3], IngestError> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<[Hll; 3], IngestError> {
                    // Plaintext lists and dumps repeat popular passwords: sum repeats before
                    // they are spilled. Accounts are mostly distinct: no cache.
                    let combine = format != Format::Hibp && format != Format::HibpDir;
                    let mut combiners = [
                        Combiner::new(&spills[0], combine),
                        Combiner::new(&spills[1], combine),
                        Combiner::new(&spills[2], false),
                    ];
                    let mut sink = Sink {
                        combiners: &mut combiners,
                        aliases: sealer.map(|k| AliasSink {
                            sealer: k.sealer(),
                            buffer: AliasBuffer::new(&alias_runs),
                            domains: std::collections::HashMap::new(),
                        }),
                        seen: FieldsSeen::default(),
                    };
                    let mut failed = None;
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok(block) = next else { break };
                        if failed.is_some() {
                            continue;
                        }
                        match parse_block(&block, format, layout.as_ref(), &mut sink, &rejects) {
                            Ok(n) => {
                                lines.fetch_add(n, Ordering::Relaxed);
                                progress.set_lines(lines.load(Ordering::Relaxed));
                            }
                            Err(e) => {
                                abort.store(true, Ordering::Relaxed);
                                failed = Some(IngestError::Io {
                                    context: "writing spill files".into(),
                                    source: e,
                                });
                            }
                        }
                    }
                    if let Some(e) = failed {
                        return Err(e);
                    }
                    fields_seen
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .add(&sink.seen);
                    if let Some(aliases) = sink.aliases {
                        aliases
                            .buffer
                            .finish()
                            .map_err(io_err("writing alias runs"))?;
                    }
                    let [a, b, c] = combiners;
                    let finished = a.finish().and_then(|a| Ok([a, b.finish()?, c.finish()?]));
                    finished.map_err(io_err("writing spill files"))
                })
            })
            .collect();
        let read_result = read_blocks(&mut input, tx, &abort);
        let mut total = [Hll::new(), Hll::new(), Hll::new()];
        let mut first_error = None;
        for w in workers {
            match w
                .join()
                .map_err(|_| IngestError::Invalid("a worker thread panicked".into()))
                .and_then(|r| r)
            {
                Ok(sketches) => {
                    for (t, s) in total.iter_mut().zip(&sketches) {
                        t.merge(s);
                    }
                }
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        read_result?;
        Ok(total)
    })?;
    let fingerprint = input.fingerprint();
    let lines = lines.load(Ordering::Relaxed);
    let rejected = rejects.count();
    let mut summary = Summary {
        fingerprint: fingerprint.clone(),
        format,
        already_imported: writer.has_source(&fingerprint, opts.breach.as_deref()),
        lines,
        accepted: lines - rejected,
        rejected,
        rejects_file: rejects
            .finish()
            .map_err(io_err("writing the rejects file"))?,
        sha1: NamespaceSummary::default(),
        ntlm: NamespaceSummary::default(),
        accounts: NamespaceSummary::default(),
        aliases: 0,
        breach: opts.breach.clone(),
        breach_accounts: 0,
        fields_seen: *fields_seen.lock().unwrap_or_else(|e| e.into_inner()),
        generation: writer.manifest().generation,
        seconds: 0.0,
    };
    if summary.already_imported {
        if let Some(breach) = &opts.breach {
            summary.breach_accounts =
                Snapshot::open(writer.directory().as_ref())?.accounts_in_breach(breach)?;
        }
        progress.finish("already imported: nothing to do");
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }

    let before = Snapshot::open(writer.directory().as_ref())?;
    let mut added = Vec::new();
    // Distinct primary identifiers of this import: the breach's PwnCount when the breach is
    // new to the store, without decoding the segment just written.
    let mut primaries = 0u64;
    for (i, ns) in Namespace::ALL.into_iter().enumerate() {
        let spill = &spills[i];
        if spill.records.load(Ordering::Relaxed) == 0 {
            continue;
        }
        progress.phase(&format!("sorting {ns}"), PARTS as u64);
        let (name, mut seg) = writer.create_segment(ns, hll[i].estimate())?;
        let mut existing: Vec<_> = before
            .segments(ns)
            .iter()
            .map(|s| s.iter().peekable())
            .collect();
        let ns_summary = match ns {
            Namespace::Sha1 => &mut summary.sha1,
            Namespace::Ntlm => &mut summary.ntlm,
            Namespace::Account => &mut summary.accounts,
        };
        // An account's value is its breach set: `{breach, primary}` (1) or
        // `{breach, secondary}` (2); the spill count carries PRIMARY for primary occurrences.
        let is_account = ns == Namespace::Account;
        let primaries = &mut primaries;
        let mut push = |key: Key, count: u64| -> Result<(), IngestError> {
            let mut seen = false;
            for it in &mut existing {
                while let Some(Ok((k, _))) = it.peek() {
                    if *k >= key {
                        seen |= *k == key;
                        break;
                    }
                    it.next();
                }
                if let Some(Err(_)) = it.peek() {
                    return Err(it
                        .next()
                        .and_then(Result::err)
                        .map(IngestError::Store)
                        .unwrap_or_else(|| IngestError::Invalid("segment read".into())));
                }
            }
            ns_summary.distinct += 1;
            ns_summary.new += u64::from(!seen);
            let value = match (is_account, count >= PRIMARY) {
                (false, _) => count,
                (true, true) => {
                    *primaries += 1;
                    1
                }
                (true, false) => 2,
            };
            seg.push(key, value)?;
            Ok(())
        };
        sort_in_order(spill, threads, opts.memory, &progress, &mut push)?;
        let stats = seg.finish()?;
        ns_summary.bytes = stats.bytes;
        let mut meta = StoreWriter::segment_meta(name, ns, stats);
        if let (true, Some((id, _))) = (is_account, breach_id) {
            meta.postings = Some(writer.create_postings(&Postings::new([
                vec![breach_ref(id, true)],
                vec![breach_ref(id, false)],
            ]))?);
        }
        added.push(meta);
    }
    let mut aliases_added = Vec::new();
    if let Some(key) = sealer
        && alias_runs.pushed.load(Ordering::Relaxed) > 0
    {
        progress.phase("merging aliases", 1);
        let meta = alias_runs.write_alias_file(writer, key.id())?;
        summary.aliases = meta.records;
        aliases_added.push(meta);
    }
    let manifest = writer.commit(Commit {
        added,
        sources: vec![SourceRecord {
            fingerprint,
            label: source.label(),
            imported_unix: unix_now(),
            lines: summary.lines,
            accepted: summary.accepted,
            rejected: summary.rejected,
            breach: opts.breach.clone(),
        }],
        breaches: match (&opts.breach, breach_id) {
            (Some(name), Some((_, true))) => vec![name.clone()],
            _ => Vec::new(),
        },
        aliases_added,
        ..Commit::default()
    })?;
    summary.generation = manifest.generation;
    summary.breach_accounts = match (&opts.breach, breach_id) {
        (Some(_), Some((_, true))) => primaries,
        // Earlier imports of this breach may share accounts with this one: count the union.
        (Some(breach), _) => {
            Snapshot::open(writer.directory().as_ref())?.accounts_in_breach(breach)?
        }
        (None, _) => 0,
    };
    summary.seconds = started.elapsed().as_secs_f64();
    progress.finish(&format!("published generation {}", summary.generation));
    Ok(summary)
}

/// Feeds every partition of `spill`, sorted, to `push` in key order. Sorter threads work up
/// to `2 × threads` partitions ahead of the caller, who encodes meanwhile; a partition too
/// big for a sorter's share of `memory` is left to the caller, who sorts it in bounded pieces.
fn sort_in_order(
    spill: &Spill,
    threads: usize,
    memory: usize,
    progress: &progress::Progress,
    push: &mut dyn FnMut(Key, u64) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    use std::sync::{Condvar, Mutex, atomic::AtomicBool, atomic::AtomicUsize};
    enum Piece {
        Sorted(spill::Sorted),
        TooBig,
    }
    let per_thread = (memory / 2 / (threads + 1)) as u64;
    let lookahead = 2 * threads;
    let next = AtomicUsize::new(0);
    let encoded = Mutex::new(0usize);
    let advanced = Condvar::new();
    let abort = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, io::Result<Piece>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, encoded, advanced, abort) = (&next, &encoded, &advanced, &abort);
            scope.spawn(move || {
                loop {
                    let p = next.fetch_add(1, Ordering::Relaxed);
                    if p >= PARTS || abort.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut done = encoded.lock().unwrap_or_else(|e| e.into_inner());
                    while p >= *done + lookahead && !abort.load(Ordering::Relaxed) {
                        done = advanced.wait(done).unwrap_or_else(|e| e.into_inner());
                    }
                    drop(done);
                    let piece = if spill.part_bytes(p) * spill::SORT_EXPANSION > per_thread {
                        Ok(Piece::TooBig)
                    } else {
                        spill.take_sorted(p).map(Piece::Sorted)
                    };
                    if tx.send((p, piece)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let result = (|| -> Result<(), IngestError> {
            for want in 0..PARTS {
                let piece = loop {
                    if let Some(piece) = pending.remove(&want) {
                        break piece;
                    }
                    let (p, piece) = rx
                        .recv()
                        .map_err(|_| IngestError::Invalid("a sort thread stopped early".into()))?;
                    pending.insert(p, piece);
                };
                match piece.map_err(io_err("reading spill files"))? {
                    Piece::Sorted(sorted) => sorted.for_each(&mut *push)?,
                    Piece::TooBig => spill
                        .take_sorted_bounded(want, per_thread, &mut |sorted| {
                            sorted
                                .for_each(&mut *push)
                                .map_err(|e| io::Error::other(e.to_string()))
                        })
                        .map_err(io_err("sorting spill files"))?,
                }
                *encoded.lock().unwrap_or_else(|e| e.into_inner()) = want + 1;
                advanced.notify_all();
                progress.advance(1);
            }
            Ok(())
        })();
        if result.is_err() {
            abort.store(true, Ordering::Relaxed);
            advanced.notify_all();
        }
        drop(rx);
        result
    })
}

/// Cuts the input into blocks that end at a line boundary and sends them to the workers.
fn read_blocks(
    input: &mut Input,
    tx: mpsc::SyncSender<Block>,
    abort: &std::sync::atomic::AtomicBool,
) -> Result<(), IngestError> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line_no = 1u64;
    loop {
        if abort.load(Ordering::Relaxed) {
            return Ok(()); // a worker failed; its error is reported by the caller
        }
        let mut buf = std::mem::take(&mut carry);
        let start = buf.len();
        buf.resize(start + BLOCK, 0);
        let mut filled = start;
        while filled < buf.len() {
            let n = input
                .read(&mut buf[filled..])
                .map_err(io_err("reading input"))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        let eof = filled < start + BLOCK;
        if !eof {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => carry = buf.split_off(i + 1),
                None => {
                    // One line longer than a block: keep reading it.
                    carry = buf;
                    continue;
                }
            }
        }
        if !buf.is_empty() {
            let lines_in =
                memchr::memchr_iter(b'\n', &buf).count() as u64 + u64::from(!buf.ends_with(b"\n"));
            if tx
                .send(Block {
                    bytes: buf,
                    first_line: line_no,
                })
                .is_err()
            {
                return Ok(()); // a worker failed; its error is reported by the caller
            }
            line_no += lines_in;
        }
        if eof {
            return Ok(());
        }
    }
}

/// Where a worker's parsed records go.
struct Sink<'a, 'b> {
    /// SHA-1, NTLM, account.
    combiners: &'a mut [Combiner<'b>; 3],
    /// This worker's sealing state and alias buffer, when aliases are kept.
    aliases: Option<AliasSink<'b>>,
    seen: FieldsSeen,
}

/// A worker's alias output.
struct AliasSink<'b> {
    sealer: leakwatch_identity::Sealer,
    buffer: AliasBuffer<'b>,
    /// Tags of domains whose sealed name this worker already pushed. Dumps repeat a few
    /// domains endlessly, so this saves most HMACs; a repeat push is harmless (the merge
    /// drops it), so the cache is simply emptied when it grows large.
    domains: std::collections::HashMap<String, u64>,
}

impl AliasSink<'_> {
    fn push(&mut self, domain: &str, alias: &str) -> io::Result<()> {
        let tag = match self.domains.get(domain) {
            Some(&tag) => tag,
            None => {
                if self.domains.len() >= 1 << 16 {
                    self.domains.clear();
                }
                let tag = self.sealer.domain_tag(domain);
                self.buffer.push(tag, &self.sealer.seal_domain(domain))?;
                self.domains.insert(domain.to_owned(), tag);
                tag
            }
        };
        let sealed = self.sealer.seal(domain, alias);
        self.buffer.push(tag, &sealed)
    }
}

/// Parses one block, returning the number of data lines in it.
fn parse_block(
    block: &Block,
    format: Format,
    layout: Option<&Layout>,
    sink: &mut Sink<'_, '_>,
    rejects: &Rejects,
) -> io::Result<u64> {
    let mut bytes = &block.bytes[..];
    if block.first_line == 1 {
        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    }
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let header = layout.map_or(0, |l| l.header_lines);
    let mut data = 0u64;
    for (n, line) in (0u64..).zip(bytes.split(|&b| b == b'\n')) {
        let line_no = block.first_line + n;
        if line_no <= header {
            continue;
        }
        data += 1;
        let line = parse::trim_cr(line);
        let combiners = &mut *sink.combiners;
        let result = match (format, layout) {
            (Format::Plain, _) => parse::hash_password(line).map(|(sha, ntlm)| {
                combiners[0]
                    .add(sha, 1)
                    .and_then(|_| combiners[1].add(ntlm, 1))
            }),
            (Format::Hibp | Format::HibpDir, _) => {
                parse::parse_hash_line(line).map(|(ns, key, count)| {
                    combiners[usize::from(ns == Namespace::Ntlm)].add(key, count)
                })
            }
            (_, Some(layout)) => layout.parse(line).map(|rec| {
                use leakwatch_identity::Kind;
                let seen = &mut sink.seen;
                let primary = [Kind::Email, Kind::Username, Kind::Phone]
                    .into_iter()
                    .find(|k| rec.identifiers.iter().any(|i| i.kind() == *k));
                for id in &rec.identifiers {
                    match id.kind() {
                        Kind::Email => seen.emails += 1,
                        Kind::Phone => seen.phones += 1,
                        Kind::Username => seen.usernames += 1,
                    }
                    let weight = if Some(id.kind()) == primary {
                        PRIMARY
                    } else {
                        1
                    };
                    combiners[2].add(parse::sha1_key(id.as_str().as_bytes()), weight)?;
                    if let (Some(aliases), Some((alias, domain))) =
                        (&mut sink.aliases, id.email_parts())
                    {
                        aliases.push(domain, alias)?;
                    }
                }
                if let Some(pw) = &rec.password {
                    seen.passwords += 1;
                    combiners[0].add(parse::sha1_key(pw.as_bytes()), 1)?;
                    combiners[1].add(parse::ntlm_key(pw), 1)?;
                }
                Ok(())
            }),
            (_, None) => Err(parse::Reject::NotAHashLine),
        };
        match result {
            Ok(r) => r?,
            Err(reason) => rejects.reject(line_no, reason, line),
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests;
