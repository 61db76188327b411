//! Importing stealer logs: every captured credential of a source ([`read_source`]) into the
//! store, as a dump's lines are — the login as an account of the stealer-log set, the
//! password into the password namespaces with its count — and, for a login that is an
//! e-mail address captured on a website, the pair sealed three ways (by address, by
//! website, by the address's domain) for the stealer-log endpoints.
//!
//! One thread reads the source (parsing is cheap) and hands batches of captures to worker
//! threads, which normalise, hash, seal and spill them; publication is the dump import's
//! ([`crate::publish`]). The fingerprint is of the units read (each file's name, and each
//! unit's line and fields, summed so that order does not matter), so re-importing the same
//! logs changes nothing whether they come as a tree or an archive of it.

use std::{
    io,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    time::Instant,
};

use leakwatch_identity::{Identifier, Kind, MAX_VALUE_LEN, OperatorKey};
use leakwatch_store::{Key, StoreWriter};
use twox_hash::XxHash3_128;

use super::{TableMap, Website, read_source};
use crate::{
    FieldsSeen, Gathered, Gathering, IngestError, IngestOptions, Source, Summary,
    aliases::SealingBuffer,
    fresh_spill_dir, io_err,
    parse::{Format, MAX_PASSWORD_LEN, Reject},
    progress::Progress,
    publish,
    spill::{Combiner, Hll},
    workers::PRIMARY,
};

/// Captures handed to a worker at a time.
pub(crate) const BATCH: usize = 2048;

/// One capture, owned, on its way to a worker.
pub(crate) struct Owned {
    pub(crate) website: Option<String>,
    pub(crate) login: String,
    pub(crate) password: Vec<u8>,
}

/// Imports the stealer logs of `source` (a file, a directory tree or an archive; `-` for
/// standard input) into the stealer-log set `opts.breach`.
pub(crate) fn ingest(
    writer: &mut StoreWriter,
    source: &Source,
    opts: &IngestOptions,
    started: Instant,
) -> Result<Summary, IngestError> {
    let path: PathBuf = match source {
        Source::Stdin => PathBuf::from("-"),
        Source::File(p) | Source::Dir(p) => p.clone(),
    };
    let spill_dir = fresh_spill_dir(&opts.tmp_dir, "ingest-")?;
    let gathering = Gathering::new(opts, spill_dir.path(), Format::Stealer);
    let key = opts.operator_key.as_ref();
    let progress = Progress::start(
        opts.progress,
        None,
        std::sync::Arc::new(AtomicU64::new(0)),
        opts.status_file.clone(),
    );
    let units = AtomicU64::new(0);
    let fields_seen = Mutex::new(FieldsSeen::default());
    let abort = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Vec<Owned>>(gathering.threads * 2);
    let rx = Mutex::new(rx);
    let (read, hll) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..gathering.threads)
            .map(|_| scope.spawn(|| worker(&gathering, key, &rx, &abort, &fields_seen)))
            .collect();
        let read = read_all(
            &path,
            &opts.stealer_map,
            &gathering,
            &progress,
            &units,
            &abort,
            tx,
        );
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
        match first_error {
            Some(e) => (Err(e), total),
            None => (read, total),
        }
    });
    let (fingerprint, files) = read?;
    let gathered = Gathered {
        format: Format::Stealer,
        label: source.label(),
        fingerprint,
        lines: units.load(Ordering::Relaxed),
        fields_seen: fields_seen.into_inner().unwrap_or_else(|e| e.into_inner()),
        hll,
    };
    let mut summary = publish(writer, opts, &gathering, gathered, key, &progress, started)?;
    summary.stealer_files = Some(files);
    Ok(summary)
}

/// Reads every unit of `path`: malformed ones counted and sampled, captures sent to the
/// workers in batches. Returns the fingerprint of what was read and the files' counts.
pub(crate) fn read_all(
    path: &Path,
    map: &TableMap,
    gathering: &Gathering,
    progress: &Progress,
    units: &AtomicU64,
    abort: &AtomicBool,
    tx: mpsc::SyncSender<Vec<Owned>>,
) -> Result<(String, super::TreeStats), IngestError> {
    // The fingerprint is the sum of every unit's digest (of its file's name, its line and
    // what it held), so a tree and an archive of it (read in another order) agree.
    let mut sum = 0u128;
    // A unit's bytes, digested at once (the same digest as streaming them into a hasher).
    let mut unit: Vec<u8> = Vec::new();
    let mut file_no = 0u64;
    let mut last_file = PathBuf::new();
    let mut file_name: Vec<u8> = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut n = 0u64;
    let stats = read_source(path, map, &mut |(file, line, read)| {
        if abort.load(Ordering::Relaxed) {
            return;
        }
        if file_no == 0 || file != last_file {
            file_no += 1;
            last_file = file.to_owned();
            let name = file.as_os_str().as_encoded_bytes();
            file_name = name.strip_prefix(b"./").unwrap_or(name).to_vec();
        }
        n += 1;
        if n.is_multiple_of(4096) {
            units.store(n, Ordering::Relaxed);
            progress.set_lines(n);
        }
        unit.clear();
        unit.extend_from_slice(&(file_name.len() as u64).to_le_bytes());
        unit.extend_from_slice(&file_name);
        unit.extend_from_slice(&line.to_le_bytes());
        let capture = match read {
            Ok(c) if c.password.len() > MAX_PASSWORD_LEN => {
                gathering
                    .rejects
                    .reject_unit(file_no, line, Reject::TooLong);
                unit.extend_from_slice(b"\0long");
                sum = sum.wrapping_add(XxHash3_128::oneshot(&unit));
                return;
            }
            Ok(c) => c,
            Err(m) => {
                gathering
                    .rejects
                    .reject_unit(file_no, line, Reject::Stealer(m));
                unit.extend_from_slice(b"\0bad");
                sum = sum.wrapping_add(XxHash3_128::oneshot(&unit));
                return;
            }
        };
        let website = match capture.website {
            Website::Domain(d) => Some(d),
            Website::None => None,
        };
        for field in [
            website.as_deref().unwrap_or("").as_bytes(),
            capture.login.as_bytes(),
            &capture.password,
        ] {
            unit.extend_from_slice(&(field.len() as u64).to_le_bytes());
            unit.extend_from_slice(field);
        }
        sum = sum.wrapping_add(XxHash3_128::oneshot(&unit));
        batch.push(Owned {
            website,
            login: capture.login.into_owned(),
            password: capture.password.into_owned(),
        });
        if batch.len() >= BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
            abort.store(true, Ordering::Relaxed);
        }
    });
    if !batch.is_empty() && !abort.load(Ordering::Relaxed) {
        let _ = tx.send(batch);
    }
    drop(tx);
    units.store(n, Ordering::Relaxed);
    progress.set_lines(n);
    let stats = stats.map_err(io_err(format!("reading {}", path.display())))?;
    Ok((format!("stealer-xxh3-128-sum:{sum:032x}-{n}"), stats))
}

/// The identifier a login is: an e-mail address when it reads as one, else a username
/// (a phone-like login without a country code is one too); `None` when neither normalises.
fn identify(login: &str) -> Option<Identifier> {
    Identifier::detect(login, None)
        .ok()
        .or_else(|| Identifier::parse(Kind::Username, login, None).ok())
}

/// One worker: hashes and seals batches until the channel closes.
fn worker(
    gathering: &Gathering,
    key: Option<&OperatorKey>,
    rx: &Mutex<mpsc::Receiver<Vec<Owned>>>,
    abort: &AtomicBool,
    fields_seen: &Mutex<FieldsSeen>,
) -> Result<[Hll; 3], IngestError> {
    let spills = &gathering.spills;
    let mut combiners = [
        Combiner::new(&spills[0], true),
        Combiner::new(&spills[1], true),
        Combiner::new(&spills[2], false),
    ];
    // By address, by website, by the address's domain.
    let mut sealed: Option<[SealingBuffer<'_>; 3]> =
        key.map(|k| [1, 2, 3].map(|i| SealingBuffer::new(k, &gathering.runs[i])));
    let mut seen = FieldsSeen::default();
    let mut failed = None;
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(batch) = next else { break };
        if failed.is_some() {
            continue; // keep draining so the reader never blocks
        }
        let mut one = |c: &Owned| -> io::Result<()> {
            seen.passwords += 1;
            combiners[0].add(Key::sha1_of(&c.password), 1)?;
            if let Ok(text) = std::str::from_utf8(&c.password) {
                combiners[1].add(Key::ntlm_of(text), 1)?;
            }
            let Some(id) = identify(&c.login) else {
                return Ok(());
            };
            match id.kind() {
                Kind::Email => seen.emails += 1,
                Kind::Phone => seen.phones += 1,
                Kind::Username => seen.usernames += 1,
            }
            combiners[2].add(Key::account(id.as_str()), PRIMARY)?;
            if let (Some(bufs), Some(site), Some((alias, domain))) =
                (&mut sealed, &c.website, id.email_parts())
            {
                let pair = format!("{alias}\0{site}");
                // The blocks' bounds: a key of at most 255 bytes, a value of MAX_VALUE_LEN.
                if id.as_str().len() <= 255 && pair.len() <= MAX_VALUE_LEN {
                    bufs[0].push(id.as_str(), site)?;
                    bufs[1].push(site, id.as_str())?;
                    bufs[2].push(domain, &pair)?;
                }
            }
            Ok(())
        };
        for c in &batch {
            if let Err(e) = one(c) {
                abort.store(true, Ordering::Relaxed);
                failed = Some(IngestError::Io {
                    context: "writing spill files".into(),
                    source: e,
                });
                break;
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    fields_seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .add(&seen);
    if let Some(bufs) = sealed {
        for b in bufs {
            b.finish().map_err(io_err("writing stealer-log runs"))?;
        }
    }
    let [a, b, c] = combiners;
    let finished = a.finish().and_then(|a| Ok([a, b.finish()?, c.finish()?]));
    finished.map_err(io_err("writing spill files"))
}
