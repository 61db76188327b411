//! Building the private credential check's buckets (issue #24): every (login, password)
//! pair of breach dumps and stealer logs, and each of its password's variants, evaluated
//! under the OPRF key into a bucket entry of the store's `credential` namespace.
//!
//! The store never keeps a pair, so buckets are built from the source files themselves, as
//! a job of their own rather than a step of `ingest`: each pair costs one OPRF evaluation
//! plus one per variant (up to eleven), which is what the job's time goes to. One thread
//! reads the sources (the dump reader's layouts, the stealer-log reader's trees) and hands
//! batches of pairs to one worker per core, which normalise the login, evaluate, tag and
//! spill the entries; the spills become one new segment through the import's machinery and
//! are published in one manifest swap, naming the key's fingerprint (never the key).
//!
//! Building is idempotent per source and key: a source whose entries are in the store under
//! this key is recognised by its fingerprint before any evaluation and skipped. Rotating the
//! key builds every given source under the new key and retires every older credential
//! segment in the same swap, so the old buckets answer until the new ones are published.

use std::{
    io::{self, BufRead, BufReader},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    time::Instant,
};

use leakwatch_credentials::{
    Match, OprfKey, entry_key, login_prefix, normalize_login, oprf_input, tag, variants::variants,
};
use leakwatch_identity::Kind;
use leakwatch_store::{Commit, Key, Namespace, SourceRecord, StoreWriter, unix_now};

use crate::{
    Gathering, IngestError, IngestOptions, NamespaceSummary, Source, Summary,
    dump::{self, Layout},
    fresh_spill_dir, io_err,
    parse::{self, Format, MAX_PASSWORD_LEN, Reject},
    progress::Progress,
    source::Input,
    spill::{Combiner, Hll},
    stealer::import::{Owned, read_all},
};

/// Pairs handed to a worker at a time: a few milliseconds of evaluations.
const BATCH: usize = 256;

/// One source of a credential build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSource {
    /// Where it is.
    pub source: Source,
    /// Stealer logs (a file, tree or archive of them) rather than a breach dump.
    pub stealer: bool,
}

/// What a credential build did with one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltSource {
    /// What the operator called it.
    pub label: String,
    /// Its fingerprint (a dump's: of its decompressed bytes; stealer logs': of their units).
    pub fingerprint: String,
    /// Its entries were already in the store under this key: skipped.
    pub already_built: bool,
}

/// What a credential build did.
#[derive(Debug, Clone)]
pub struct CredentialBuild {
    /// The fingerprint of the OPRF key the entries were built under.
    pub key_fingerprint: String,
    /// Each source, in the order given.
    pub sources: Vec<BuiltSource>,
    /// Lines (dump lines, stealer-log units) read.
    pub lines: u64,
    /// (login, password) pairs evaluated.
    pub pairs: u64,
    /// OPRF evaluations: one per pair and one per variant.
    pub evaluations: u64,
    /// Lines and pairs that yielded nothing (no login, no password, not UTF-8, too long).
    pub rejected: u64,
    /// Where rejected lines were sampled (by number, never quoted), if any were.
    pub rejects_file: Option<PathBuf>,
    /// The new credential segment: distinct entries, those new to the store, its bytes.
    pub entries: NamespaceSummary,
    /// Older credential segments retired (a rotation's).
    pub retired: usize,
    /// Generation published (unchanged if nothing was).
    pub generation: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl CredentialBuild {
    /// Pairs evaluated a second.
    pub fn pairs_per_second(&self) -> f64 {
        self.pairs as f64 / self.seconds.max(1e-9)
    }
}

/// The store's credential entries and the given key disagree: building under another key
/// would mix entries nobody can use together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the store's credential entries were built under OPRF key {live}, not {given}: rotate the key to rebuild them under the new one"
)]
pub struct OtherOprfKey {
    /// The fingerprint the live credential segments name.
    pub live: String,
    /// The given key's fingerprint.
    pub given: String,
}

/// Builds the credential-check entries of `sources` under `key` into the store held by
/// `writer`, and publishes them in one manifest swap. With `rotate`, every source is built
/// (whatever was built before) and every live credential segment is retired in that swap;
/// without it, the live entries must have been built under `key` ([`OtherOprfKey`]) and
/// sources built before under it are skipped.
pub fn build_credentials(
    writer: &mut StoreWriter,
    sources: &[CredentialSource],
    key: &OprfKey,
    opts: &IngestOptions,
    rotate: bool,
) -> Result<CredentialBuild, IngestError> {
    let started = Instant::now();
    let fingerprint = key.fingerprint().to_owned();
    if let Some(other) = writer
        .manifest()
        .credential_key()
        .filter(|&f| f != fingerprint && !rotate)
    {
        return Err(IngestError::OtherOprfKey(OtherOprfKey {
            live: other.to_owned(),
            given: fingerprint,
        }));
    }
    let spill_dir = fresh_spill_dir(&opts.tmp_dir, "credentials-")?;
    let gathering = Gathering::new(opts, spill_dir.path(), Format::Stealer);
    // The bar follows the bytes the reader has taken (it runs at the workers' pace: the
    // channel between them is short), against the sources' sizes when all are known.
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let total = sources
        .iter()
        .map(|s| s.source.raw_len())
        .sum::<Option<u64>>();
    let progress = Progress::start(
        opts.progress,
        total,
        raw_bytes.clone(),
        opts.status_file.clone(),
    )
    .labelled("credentials");
    if sources.iter().filter(|s| is_stdin(&s.source)).count() > 1 {
        return Err(IngestError::Invalid(
            "standard input can be one source only".into(),
        ));
    }
    let mut built = Vec::new();
    for s in sources {
        // Standard input cannot be read twice: its fingerprint comes from the one pass.
        let fingerprint_of_source = if is_stdin(&s.source) {
            String::new()
        } else {
            fingerprint_only(s, opts, &gathering, &progress)?
        };
        built.push(BuiltSource {
            label: s.source.label(),
            already_built: !rotate
                && !fingerprint_of_source.is_empty()
                && writer.has_credential_source(&fingerprint_of_source, &fingerprint),
            fingerprint: fingerprint_of_source,
        });
    }
    // The pre-pass's rejects are counted again by the real pass: start from none.
    let gathering = Gathering::new(opts, spill_dir.path(), Format::Stealer);
    let mut build = CredentialBuild {
        key_fingerprint: fingerprint.clone(),
        sources: built,
        lines: 0,
        pairs: 0,
        evaluations: 0,
        rejected: 0,
        rejects_file: None,
        entries: NamespaceSummary::default(),
        retired: 0,
        generation: writer.manifest().generation,
        seconds: 0.0,
    };
    let todo: Vec<(usize, &CredentialSource)> = sources
        .iter()
        .enumerate()
        .filter(|(i, _)| !build.sources[*i].already_built)
        .collect();
    if todo.is_empty() {
        progress.finish("already built: nothing to do");
        build.seconds = started.elapsed().as_secs_f64();
        return Ok(build);
    }
    let reading = Reading {
        opts,
        gathering: &gathering,
        progress: &progress,
        raw_bytes: &raw_bytes,
    };
    let (lines, counts, hll, read) = evaluate_all(&todo, key, &reading)?;
    for (&(i, _), fingerprint) in todo.iter().zip(read) {
        build.sources[i].fingerprint = fingerprint;
    }
    build.lines = lines;
    build.pairs = counts.pairs;
    build.evaluations = counts.evaluations;
    build.rejected = gathering.rejects.count() + counts.unusable;
    build.rejects_file = gathering
        .rejects
        .finish()
        .map_err(io_err("writing the rejects file"))?;
    let mut summary = Summary::empty(Format::Stealer);
    let hll = [Hll::new(), Hll::new(), Hll::new(), hll];
    let (mut added, _) = crate::write_segments(
        writer,
        &gathering.spills,
        &hll,
        None,
        (gathering.threads, opts.memory),
        &progress,
        &mut summary,
    )?;
    for meta in &mut added {
        meta.oprf_key = Some(fingerprint.clone());
    }
    build.entries = summary.credentials;
    let removed: Vec<String> = if rotate {
        writer
            .manifest()
            .segments_of(Namespace::Credential)
            .map(|s| s.file.clone())
            .collect()
    } else {
        Vec::new()
    };
    build.retired = removed.len();
    let now = unix_now();
    let records = todo
        .iter()
        .map(|&(i, s)| SourceRecord {
            fingerprint: build.sources[i].fingerprint.clone(),
            label: s.source.label(),
            imported_unix: now,
            lines: 0,
            accepted: 0,
            rejected: 0,
            breach: None,
            credential_key: Some(fingerprint.clone()),
        })
        .collect();
    let manifest = writer.commit(Commit {
        added,
        removed,
        sources: records,
        ..Commit::default()
    })?;
    build.generation = manifest.generation;
    build.seconds = started.elapsed().as_secs_f64();
    progress.finish(&format!("published generation {}", build.generation));
    Ok(build)
}

/// What the reading half of a build works with.
#[derive(Clone, Copy)]
struct Reading<'a> {
    opts: &'a IngestOptions,
    gathering: &'a Gathering,
    progress: &'a Progress,
    /// Raw bytes of the sources taken so far (the bar's position).
    raw_bytes: &'a Arc<AtomicU64>,
}

/// What the workers counted.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    pairs: u64,
    evaluations: u64,
    /// Pairs that yield no entry (a login that does not normalise, a password that is not
    /// UTF-8, an input too long for the OPRF).
    unusable: u64,
}

/// Reads every source of `todo` and evaluates its pairs on one worker a core into the
/// credential spill. Returns the lines read, the workers' counts, the entries' sketch and each
/// source's fingerprint as this pass read it.
fn evaluate_all(
    todo: &[(usize, &CredentialSource)],
    key: &OprfKey,
    reading: &Reading<'_>,
) -> Result<(u64, Counts, Hll, Vec<String>), IngestError> {
    let Reading {
        opts,
        gathering,
        progress,
        raw_bytes,
    } = *reading;
    let abort = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Vec<Owned>>(gathering.threads * 4);
    let rx = Mutex::new(rx);
    let total = Mutex::new((Counts::default(), Hll::new()));
    let done = AtomicU64::new(0);
    let lines = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..gathering.threads)
            .map(|_| scope.spawn(|| worker(key, gathering, &rx, &abort, progress, &total, &done)))
            .collect();
        let mut lines = 0u64;
        let mut read = Ok(());
        let mut fingerprints = Vec::new();
        for &(i, s) in todo {
            let sent = match s.stealer {
                true => read_stealer(s, opts, gathering, progress, &abort, tx.clone()),
                false => read_dump(i, s, opts, gathering, raw_bytes, &abort, &tx),
            };
            match sent {
                Ok((n, fingerprint)) => {
                    lines += n;
                    fingerprints.push(fingerprint);
                }
                Err(e) => {
                    abort.store(true, Ordering::Relaxed);
                    read = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let mut first_error = read.err();
        for w in workers {
            let joined = w
                .join()
                .map_err(|_| IngestError::Invalid("a worker thread panicked".into()))
                .and_then(|r| r);
            if let Err(e) = joined {
                first_error = first_error.or(Some(e));
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok((lines, fingerprints)),
        }
    })?;
    let (counts, hll) = total.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok((lines.0, counts, hll, lines.1))
}

/// A source's fingerprint, read without evaluating anything (a fraction of a percent of the
/// evaluations' time), so that a source built before costs no evaluation.
fn fingerprint_only(
    s: &CredentialSource,
    opts: &IngestOptions,
    gathering: &Gathering,
    progress: &Progress,
) -> Result<String, IngestError> {
    if s.stealer {
        let (tx, rx) = mpsc::sync_channel::<Vec<Owned>>(4);
        let abort = AtomicBool::new(false);
        return std::thread::scope(|scope| {
            scope.spawn(move || for _ in rx {});
            let path = stealer_path(&s.source);
            let units = AtomicU64::new(0);
            read_all(
                &path,
                &opts.stealer_map,
                gathering,
                progress,
                &units,
                &abort,
                tx,
            )
            .map(|(fingerprint, _)| fingerprint)
        });
    }
    let mut input = Input::open(&s.source, Arc::new(AtomicU64::new(0)))
        .map_err(io_err(format!("opening {}", s.source.label())))?;
    io::copy(&mut input, &mut io::sink())
        .map_err(io_err(format!("reading {}", s.source.label())))?;
    Ok(input.fingerprint())
}

fn is_stdin(source: &Source) -> bool {
    *source == Source::Stdin
}

fn stealer_path(source: &Source) -> PathBuf {
    match source {
        Source::Stdin => PathBuf::from("-"),
        Source::File(p) | Source::Dir(p) => p.clone(),
    }
}

/// Sends the captures of a stealer-log source to the workers; returns the units read and
/// the source's fingerprint.
fn read_stealer(
    s: &CredentialSource,
    opts: &IngestOptions,
    gathering: &Gathering,
    progress: &Progress,
    abort: &AtomicBool,
    tx: mpsc::SyncSender<Vec<Owned>>,
) -> Result<(u64, String), IngestError> {
    let units = AtomicU64::new(0);
    let (fingerprint, _) = read_all(
        &stealer_path(&s.source),
        &opts.stealer_map,
        gathering,
        progress,
        &units,
        abort,
        tx,
    )?;
    Ok((units.load(Ordering::Relaxed), fingerprint))
}

/// Sends the (login, password) pairs of a dump's lines to the workers — one pair for each
/// e-mail address and username of a line with a password — and returns the lines read.
/// Lines without either are counted as rejected and sampled by number (file `index + 1`).
/// Also returns the dump's fingerprint.
fn read_dump(
    index: usize,
    s: &CredentialSource,
    opts: &IngestOptions,
    gathering: &Gathering,
    raw_bytes: &Arc<AtomicU64>,
    abort: &AtomicBool,
    tx: &mpsc::SyncSender<Vec<Owned>>,
) -> Result<(u64, String), IngestError> {
    let label = s.source.label();
    let mut input =
        Input::open(&s.source, raw_bytes.clone()).map_err(io_err(format!("opening {label}")))?;
    let format = match opts.format {
        Some(f) if f.is_dump() && f != Format::Stealer => f,
        _ => dump::detect(input.head(), s.source.file_name()),
    };
    let layout = Layout::new(format, input.head(), &opts.dump)?;
    let file_no = index as u64 + 1;
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    let rejects = &gathering.rejects;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(io_err(format!("reading {label}")))?;
        if n == 0 || abort.load(Ordering::Relaxed) {
            break;
        }
        number += 1;
        let mut text = parse::trim_cr(line.strip_suffix(b"\n").unwrap_or(&line));
        if number == 1 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        if number <= layout.header_lines || text.trim_ascii().is_empty() {
            continue;
        }
        let record = match layout.parse(text) {
            Ok(r) => r,
            Err(reason) => {
                rejects.reject_unit(file_no, number, reason);
                continue;
            }
        };
        let Some(password) = record.password.filter(|p| !p.is_empty()) else {
            rejects.reject_unit(
                file_no,
                number,
                Reject::Stealer(crate::stealer::Malformed::NoPassword),
            );
            continue;
        };
        if password.len() > MAX_PASSWORD_LEN {
            rejects.reject_unit(file_no, number, Reject::TooLong);
            continue;
        }
        let mut logins = record
            .identifiers
            .iter()
            .filter(|id| matches!(id.kind(), Kind::Email | Kind::Username))
            .peekable();
        if logins.peek().is_none() {
            rejects.reject_unit(file_no, number, Reject::NoIdentifier);
            continue;
        }
        for id in logins {
            batch.push(Owned {
                website: None,
                login: id.as_str().to_owned(),
                password: password.as_bytes().to_vec(),
            });
        }
        if batch.len() >= BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
            break;
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    Ok((number, reader.into_inner().fingerprint()))
}

/// One worker: evaluates batches of pairs until the channel closes.
fn worker(
    key: &OprfKey,
    gathering: &Gathering,
    rx: &Mutex<mpsc::Receiver<Vec<Owned>>>,
    abort: &AtomicBool,
    progress: &Progress,
    total: &Mutex<(Counts, Hll)>,
    done: &AtomicU64,
) -> Result<(), IngestError> {
    let mut combiner = Combiner::new(&gathering.spills[3], true);
    let mut counts = Counts::default();
    let mut failed = None;
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(batch) = next else { break };
        if failed.is_some() {
            continue; // keep draining so the reader never blocks
        }
        for pair in &batch {
            if let Err(e) = evaluate_pair(key, pair, &mut combiner, &mut counts) {
                abort.store(true, Ordering::Relaxed);
                failed = Some(e);
                break;
            }
        }
        progress
            .set_lines(done.fetch_add(batch.len() as u64, Ordering::Relaxed) + batch.len() as u64);
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let hll = combiner.finish().map_err(io_err("writing spill files"))?;
    let mut total = total.lock().unwrap_or_else(|e| e.into_inner());
    total.0.pairs += counts.pairs;
    total.0.evaluations += counts.evaluations;
    total.0.unusable += counts.unusable;
    total.1.merge(&hll);
    Ok(())
}

/// The entries of one pair: its exact entry and a similar entry for each of its password's
/// variants, under its login's prefix. A pair whose login does not normalise, whose password
/// is not UTF-8 (no client could type it) or whose input is too long yields none.
fn evaluate_pair(
    key: &OprfKey,
    pair: &Owned,
    combiner: &mut Combiner<'_>,
    counts: &mut Counts,
) -> Result<(), IngestError> {
    let (Ok(login), Ok(password)) = (
        normalize_login(&pair.login),
        std::str::from_utf8(&pair.password),
    ) else {
        counts.unusable += 1;
        return Ok(());
    };
    let prefix = login_prefix(&login);
    let mut add = |password: &str, kind: Match| -> Result<bool, IngestError> {
        let Some(input) = oprf_input(&login, password) else {
            return Ok(false);
        };
        let output = key
            .evaluate(&input)
            .map_err(|e| IngestError::Invalid(format!("OPRF evaluation: {e}")))?;
        counts.evaluations += 1;
        let entry = entry_key(prefix, tag(&output, kind));
        let key = Key::from_digest(&entry.to_be_bytes())
            .ok_or_else(|| IngestError::Invalid("credential entry key".into()))?;
        combiner
            .add(key, 1)
            .map_err(io_err("writing spill files"))?;
        Ok(true)
    };
    if !add(password, Match::Exact)? {
        counts.unusable += 1;
        return Ok(());
    }
    counts.pairs += 1;
    for variant in variants(password) {
        add(&variant, Match::Similar)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
