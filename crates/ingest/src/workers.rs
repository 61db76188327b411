//! The parse phase of an import: this thread reads the input in blocks cut at line ends;
//! worker threads parse each block's lines, hash them (sealing e-mail aliases), count bad lines
//! and add the keys to their combiners, which spill into the radix partitions.

use std::{
    io::{self, Read},
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
};

use leakwatch_identity::OperatorKey;
use leakwatch_store::{Key, Namespace};

use crate::{
    FieldsSeen, Format, IngestError,
    aliases::{AliasBuffer, AliasRuns},
    dump::Layout,
    io_err, parse,
    progress::Progress,
    rejects::Rejects,
    source::Input,
    spill::{Combiner, Hll, Spill},
};

/// Bytes read per block handed to a worker.
const BLOCK: usize = 4 << 20;

/// Added to an account's spill count for each line on which it is the primary identifier
/// (the e-mail address, else the username, else the phone number); every other occurrence
/// adds 1. Summed counts at or above this mark an identifier that was primary somewhere
/// (unless it occurs 2^31 times as a secondary one, which no dump approaches).
pub(crate) const PRIMARY: u64 = 1 << 31;

struct Block {
    bytes: Vec<u8>,
    first_line: u64,
}

/// What the parse phase needs: the resolved format, where records go, and the shared
/// counters.
pub(crate) struct ParseJob<'a> {
    pub format: Format,
    pub layout: Option<&'a Layout>,
    /// SHA-1, NTLM, account.
    pub spills: &'a [Spill],
    pub alias_runs: &'a AliasRuns,
    /// The operator key aliases are sealed under; `None` = keep no aliases.
    pub sealer: Option<&'a OperatorKey>,
    pub rejects: &'a Rejects,
    pub progress: &'a Progress,
    pub threads: usize,
}

/// What the parse phase found.
pub(crate) struct Parsed {
    /// Distinct-key sketches of SHA-1, NTLM, account, to size the segments' groups.
    pub hll: [Hll; 3],
    /// Data lines read (header lines not counted).
    pub lines: u64,
    pub fields_seen: FieldsSeen,
}

/// Reads `input` on this thread, in blocks, while `job.threads` workers parse, hash and spill
/// them; the first error stops the reader and is returned once every worker has ended.
pub(crate) fn parse_all(input: &mut Input, job: &ParseJob<'_>) -> Result<Parsed, IngestError> {
    let lines = AtomicU64::new(0);
    let fields_seen = Mutex::new(FieldsSeen::default());
    let (tx, rx) = mpsc::sync_channel::<Block>(job.threads * 2);
    let rx = Mutex::new(rx);
    // Set by a worker that failed: the reader stops at its next block, and the failed worker
    // keeps draining the channel so the reader can never block on a full one.
    let abort = AtomicBool::new(false);
    let hll = std::thread::scope(|scope| -> Result<[Hll; 3], IngestError> {
        let workers: Vec<_> = (0..job.threads)
            .map(|_| scope.spawn(|| worker(job, &rx, &lines, &abort, &fields_seen)))
            .collect();
        let read_result = read_blocks(input, tx, &abort);
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
    Ok(Parsed {
        hll,
        lines: lines.load(Ordering::Relaxed),
        fields_seen: fields_seen.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

/// One worker: parses blocks until the channel closes, then finishes its combiners (and its
/// alias buffer) and returns its sketches.
fn worker(
    job: &ParseJob<'_>,
    rx: &Mutex<mpsc::Receiver<Block>>,
    lines: &AtomicU64,
    abort: &AtomicBool,
    fields_seen: &Mutex<FieldsSeen>,
) -> Result<[Hll; 3], IngestError> {
    // Plaintext lists and dumps repeat popular passwords: sum repeats before they are
    // spilled. Accounts are mostly distinct: no cache.
    let combine = job.format != Format::Hibp && job.format != Format::HibpDir;
    let mut combiners = [
        Combiner::new(&job.spills[0], combine),
        Combiner::new(&job.spills[1], combine),
        Combiner::new(&job.spills[2], false),
    ];
    let mut sink = Sink {
        combiners: &mut combiners,
        aliases: job.sealer.map(|k| AliasSink {
            sealer: k.sealer(),
            buffer: AliasBuffer::new(job.alias_runs),
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
        match parse_block(&block, job.format, job.layout, &mut sink, job.rejects) {
            Ok(n) => {
                lines.fetch_add(n, Ordering::Relaxed);
                job.progress.set_lines(lines.load(Ordering::Relaxed));
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
}

/// Cuts the input into blocks that end at a line boundary and sends them to the workers.
fn read_blocks(
    input: &mut Input,
    tx: mpsc::SyncSender<Block>,
    abort: &AtomicBool,
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
                    combiners[2].add(Key::account(id.as_str()), weight)?;
                    if let (Some(aliases), Some((alias, domain))) =
                        (&mut sink.aliases, id.email_parts())
                    {
                        aliases.push(domain, alias)?;
                    }
                }
                if let Some(pw) = &rec.password {
                    seen.passwords += 1;
                    combiners[0].add(Key::sha1_of(pw.as_bytes()), 1)?;
                    combiners[1].add(Key::ntlm_of(pw), 1)?;
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
