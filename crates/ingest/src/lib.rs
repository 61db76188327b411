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
mod credentials;
pub mod dump;
pub mod parse;
mod progress;
mod rejects;
mod reseal;
mod segments;
pub mod source;
mod spill;
pub mod stealer;
mod workers;

use segments::write_segments;

use std::{
    io,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use leakwatch_identity::OperatorKey;
use leakwatch_store::{
    Commit, Namespace, Snapshot, SourceRecord, StoreError, StoreWriter, unix_now,
};

pub use aliases::AliasOpener;
pub use credentials::{
    BuiltSource, CredentialBuild, CredentialSource, OtherOprfKey, build_credentials,
};
pub use dump::{ColumnMap, DumpOptions, Field, LayoutError};
pub use parse::Format;
pub use reseal::{AliasCompaction, ResealSummary, compact_aliases, reseal};
pub use source::Source;

use crate::{
    aliases::AliasRuns,
    dump::Layout,
    rejects::Rejects,
    source::Input,
    spill::{Spill, SpillBudget},
    workers::ParseJob,
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
    /// The options do not fit the input (see [`Mismatch`]).
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
    /// A dump's layout cannot be worked out (see [`LayoutError`]).
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Alias files are sealed under different operator keys, so they cannot be merged until
    /// the older ones are re-sealed under the newer key.
    #[error("alias files are sealed under different keys ({0} and {1})")]
    MixedAliasKeys(String, String),
    /// The store's credential entries were built under another OPRF key.
    #[error(transparent)]
    OtherOprfKey(#[from] OtherOprfKey),
    /// An internal step failed (a worker thread panicked, …).
    #[error("{0}")]
    Invalid(String),
}

/// Import options that do not fit the input. Each says what is wrong in the library's terms;
/// the CLI words it with the flags that fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mismatch {
    /// A directory was given with a format other than the range directory's.
    #[error("a directory is read as a Pwned Passwords range directory, not as {}", .0.name())]
    DirectoryAs(Format),
    /// The range-directory format was asked for, but the source is not a directory.
    #[error("a Pwned Passwords range directory must be a directory")]
    RangeDirectoryIsAFile,
    /// A breach was named for a file of this (password) format, which holds no accounts.
    #[error("{} files hold no accounts to link to a breach", .0.name())]
    NoAccounts(Format),
    /// A dump of this format was given without the breach its accounts are linked to.
    #[error("the accounts of a {} dump must be linked to a breach", .0.name())]
    NoBreach(Format),
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

/// This process's own spill directory under `dir`, a directory the operator named (`ingest
/// --tmp-dir`) that other programs may share: `DIR/leakwatch-spill-<pid>`. What processes
/// that are gone left there under that name is removed first; nothing else in `dir` is
/// touched (the import empties and removes only its own).
pub fn private_spill_dir(dir: &std::path::Path) -> PathBuf {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some(pid) = name.to_string_lossy().strip_prefix("leakwatch-spill-")
                && pid.parse::<u32>().is_ok()
                && !std::path::Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    dir.join(format!("leakwatch-spill-{}", std::process::id()))
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
    /// The store-local id a shared catalogue allocated to `breach`, for a breach new to the
    /// store (`None`: the next free id of the writer's manifest, for a store with one writer).
    pub breach_store_id: Option<u32>,
    /// How to read a dump.
    pub dump: DumpOptions,
    /// How to read stealer-log tables (`--map url=…,login=…,password=…`).
    pub stealer_map: stealer::TableMap,
    /// `breach` is a stealer-log set: with no format given, stealer logs are read (a
    /// directory, an archive, or a file whose first lines are URL:login:password lines,
    /// blocks or a url/login/password table), and a plain dump as a dump.
    pub stealer_set: bool,
    /// Seals e-mail aliases for domain search; `None` stores no aliases.
    pub operator_key: Option<OperatorKey>,
    /// Where to keep the import's status for a running server's metrics
    /// (`leakwatch_datadir::status::ImportStatus`); `None` writes none.
    pub status_file: Option<PathBuf>,
}

impl IngestOptions {
    /// Defaults: 2 GiB, every core, spill and rejects beside the given data directory.
    pub fn new(data_dir: &std::path::Path) -> Self {
        let data = leakwatch_datadir::DataDir::new(data_dir);
        IngestOptions {
            format: None,
            memory: 2 << 30,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            tmp_dir: data.tmp(),
            rejects_path: data.rejects(unix_now()),
            reject_sample: 1000,
            progress: true,
            breach: None,
            breach_store_id: None,
            dump: DumpOptions::default(),
            stealer_map: stealer::TableMap::default(),
            stealer_set: false,
            operator_key: None,
            status_file: Some(data.import_status()),
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
    /// Credential-check entries (only a credential build writes them).
    pub credentials: NamespaceSummary,
    /// Sealed records written to the alias file: distinct aliases plus one sealed name per
    /// domain (dumps with an operator key).
    pub aliases: u64,
    /// Stealer logs: sealed records written to the three stealer-log files (each distinct
    /// address–website pair three times: by address, by website, by e-mail domain).
    pub stealer_records: u64,
    /// Stealer logs: the files of the source read as credentials, read past, and archive
    /// members that could not be read.
    pub stealer_files: Option<stealer::TreeStats>,
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

impl Summary {
    /// A summary of nothing yet, for a job that only writes segments.
    pub(crate) fn empty(format: Format) -> Summary {
        Summary {
            fingerprint: String::new(),
            format,
            already_imported: false,
            lines: 0,
            accepted: 0,
            rejected: 0,
            rejects_file: None,
            sha1: NamespaceSummary::default(),
            ntlm: NamespaceSummary::default(),
            accounts: NamespaceSummary::default(),
            credentials: NamespaceSummary::default(),
            aliases: 0,
            stealer_records: 0,
            stealer_files: None,
            breach: None,
            breach_accounts: 0,
            fields_seen: FieldsSeen::default(),
            generation: 0,
            seconds: 0.0,
        }
    }
}

impl FieldsSeen {
    fn add(&mut self, o: &FieldsSeen) {
        self.emails += o.emails;
        self.phones += o.phones;
        self.usernames += o.usernames;
        self.passwords += o.passwords;
    }
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

/// The format to read `source` as: the one asked for, else detected from its first bytes
/// (`head`), checked against the source's kind and against `opts.breach` (only dumps hold
/// accounts to link to a breach, and a dump needs one).
fn resolve_format(
    opts: &IngestOptions,
    source: &Source,
    head: &[u8],
) -> Result<Format, IngestError> {
    let format = match (opts.format, source) {
        (Some(Format::HibpDir), Source::Dir(_)) | (None, Source::Dir(_)) => Format::HibpDir,
        (Some(f), Source::Dir(_)) => {
            return Err(Mismatch::DirectoryAs(f).into());
        }
        (Some(Format::HibpDir), _) => {
            return Err(Mismatch::RangeDirectoryIsAFile.into());
        }
        (Some(f), _) => f,
        (None, _) if opts.breach.is_some() => dump::detect(head, source.file_name()),
        (None, _) => parse::detect(head),
    };
    match (&opts.breach, format.is_dump()) {
        (Some(_), false) => {
            return Err(Mismatch::NoAccounts(format).into());
        }
        (None, true) => {
            return Err(Mismatch::NoBreach(format).into());
        }
        _ => {}
    }
    Ok(format)
}

fn ingest_unclean(
    writer: &mut StoreWriter,
    source: &Source,
    opts: &IngestOptions,
) -> Result<Summary, IngestError> {
    let started = Instant::now();
    if opts.format == Some(Format::Stealer)
        || (opts.format.is_none() && opts.stealer_set && stealer::looks_like_logs(source)?)
    {
        if opts.breach.is_none() {
            return Err(Mismatch::NoBreach(Format::Stealer).into());
        }
        return stealer::import::ingest(writer, source, opts, started);
    }
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let mut input = Input::open(source, raw_bytes.clone())
        .map_err(io_err(format!("opening {}", source.label())))?;
    let format = resolve_format(opts, source, input.head())?;
    let layout = if format.is_dump() {
        Some(Layout::new(format, input.head(), &opts.dump)?)
    } else {
        None
    };
    let spill_dir = fresh_spill_dir(&opts.tmp_dir, "ingest-")?;
    let gathering = Gathering::new(opts, spill_dir.path(), format);
    let sealer = if layout.is_some() {
        opts.operator_key.as_ref()
    } else {
        None
    };
    let progress = progress::Progress::start(
        opts.progress,
        source.raw_len(),
        raw_bytes.clone(),
        opts.status_file.clone(),
    );
    let job = ParseJob {
        format,
        layout: layout.as_ref(),
        spills: &gathering.spills,
        alias_runs: &gathering.runs[0],
        sealer,
        rejects: &gathering.rejects,
        progress: &progress,
        threads: gathering.threads,
    };
    let parsed = workers::parse_all(&mut input, &job)?;
    let gathered = Gathered {
        format,
        label: source.label(),
        fingerprint: input.fingerprint(),
        lines: parsed.lines,
        fields_seen: parsed.fields_seen,
        hll: parsed.hll,
    };
    publish(
        writer, opts, &gathering, gathered, sealer, &progress, started,
    )
}

/// What an import gathers into before it publishes: the spills of the three namespaces,
/// the runs of each kind of sealed file, the rejects.
pub(crate) struct Gathering {
    pub(crate) spills: Vec<Spill>,
    /// Aliases, then the stealer-log kinds ([`aliases::STEALER_KINDS`]).
    pub(crate) runs: Vec<AliasRuns>,
    pub(crate) rejects: Rejects,
    pub(crate) threads: usize,
}

impl Gathering {
    pub(crate) fn new(opts: &IngestOptions, spill_dir: &std::path::Path, format: Format) -> Self {
        let budget = SpillBudget::new(opts.memory / 2);
        let threads = opts.threads.max(1);
        let run_budget = opts.memory / 8 / threads;
        let runs = std::iter::once(leakwatch_identity::BlockKind::Aliases)
            .chain(aliases::STEALER_KINDS)
            .map(|kind| AliasRuns::of_kind(spill_dir.to_path_buf(), run_budget, kind))
            .collect();
        Gathering {
            spills: Namespace::ALL
                .iter()
                .map(|&ns| Spill::with_budget(ns, spill_dir.to_path_buf(), budget.clone()))
                .collect(),
            runs,
            rejects: Rejects::new(opts.rejects_path.clone(), opts.reject_sample, format),
            threads,
        }
    }
}

/// What the reading half of an import found.
pub(crate) struct Gathered {
    pub(crate) format: Format,
    pub(crate) label: String,
    pub(crate) fingerprint: String,
    pub(crate) lines: u64,
    pub(crate) fields_seen: FieldsSeen,
    pub(crate) hll: [spill::Hll; 3],
}

/// The publishing half of an import: unless this source was imported before, one new
/// segment per namespace, one sealed file per kind with records, and the source's record,
/// in one manifest swap.
pub(crate) fn publish(
    writer: &mut StoreWriter,
    opts: &IngestOptions,
    gathering: &Gathering,
    gathered: Gathered,
    sealer: Option<&OperatorKey>,
    progress: &progress::Progress,
    started: Instant,
) -> Result<Summary, IngestError> {
    // A breach new to the store takes the id its shared catalogue allocated, if it has one.
    let breach_id =
        opts.breach
            .as_deref()
            .map(|b| match (writer.breach_id(b), opts.breach_store_id) {
                ((_, true), Some(placed)) => (placed, true),
                (found, _) => found,
            });
    let Gathered {
        format,
        label,
        fingerprint,
        lines,
        fields_seen,
        hll,
    } = gathered;
    let rejects = &gathering.rejects;
    let rejected = rejects.count();
    let mut summary = Summary {
        fingerprint: fingerprint.clone(),
        already_imported: writer.has_source(&fingerprint, opts.breach.as_deref()),
        lines,
        accepted: lines - rejected,
        rejected,
        rejects_file: rejects
            .finish()
            .map_err(io_err("writing the rejects file"))?,
        breach: opts.breach.clone(),
        fields_seen,
        generation: writer.manifest().generation,
        ..Summary::empty(format)
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

    let (added, primaries) = write_segments(
        writer,
        &gathering.spills,
        &hll,
        breach_id,
        (gathering.threads, opts.memory),
        progress,
        &mut summary,
    )?;
    let mut aliases_added = Vec::new();
    if let Some(key) = sealer {
        for runs in &gathering.runs {
            if runs.pushed.load(Ordering::Relaxed) == 0 {
                continue;
            }
            progress.phase("merging sealed records", 1);
            let meta = runs.write_alias_file(writer, key)?;
            if meta.kind == leakwatch_store::SealedKind::Aliases {
                summary.aliases += meta.records;
            } else {
                summary.stealer_records += meta.records;
            }
            aliases_added.push(meta);
        }
    }
    let manifest = writer.commit(Commit {
        added,
        sources: vec![SourceRecord {
            fingerprint,
            label,
            imported_unix: unix_now(),
            lines: summary.lines,
            accepted: summary.accepted,
            rejected: summary.rejected,
            breach: opts.breach.clone(),
            credential_key: None,
        }],
        breaches: match (&opts.breach, breach_id, opts.breach_store_id) {
            (Some(name), Some((_, true)), None) => vec![name.clone()],
            _ => Vec::new(),
        },
        placed_breaches: match (&opts.breach, breach_id, opts.breach_store_id) {
            (Some(name), Some((id, true)), Some(_)) => vec![(name.clone(), id)],
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

#[cfg(test)]
mod tests;
