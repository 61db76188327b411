//! Appending to a trail. Every append takes the directory's lock (`LOCK`, an advisory
//! `flock`), so the server and CLI commands write one chain in order: a writer first reads
//! what others appended since its last look (the chain and the numbering of names continue
//! from the file itself), then writes its records and, when asked or a second has passed,
//! a signed checkpoint, and syncs before it lets go. A torn record at the end (a crash
//! mid-write) is cut off and what came before it sealed.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};

use crate::{
    AuditKey, TrailError,
    format::{self, Checkpoint, Event, HEADER_LEN, Header, RawEvent, Record, Who},
};

/// Where a writer stands in the newest file.
#[derive(Debug, Default)]
struct State {
    seq: u32,
    /// Bytes of the file read or written.
    len: u64,
    /// Records of the whole trail.
    count: u64,
    chain: [u8; 32],
    names: HashMap<Name, u16>,
    /// Records after the last checkpoint.
    unsealed: u64,
    last_seal_ms: u64,
    /// The UTC day of the newest file's first record.
    file_day: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Name {
    Who(Who),
    Text(String),
}

/// A writer of the trail in a directory.
#[derive(Debug)]
pub struct Trail {
    dir: PathBuf,
    key: AuditKey,
    max_file_bytes: u64,
    state: State,
}

/// The file of number `seq`.
pub(crate) fn file_name(seq: u32) -> String {
    format!("trail-{seq:08}.log")
}

/// The numbers of the trail files in `dir`, ascending.
pub(crate) fn file_seqs(dir: &Path) -> Result<Vec<u32>, TrailError> {
    let mut seqs: Vec<u32> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("trail-")?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

pub(crate) fn io(path: &Path, source: std::io::Error) -> TrailError {
    TrailError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// `chain` extended by one record's bytes.
pub(crate) fn extend(chain: &[u8; 32], framed: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(chain);
    h.update(framed);
    h.finalize().into()
}

impl Trail {
    /// Opens (creating) the trail in `dir` at `now_ms`, sealing what a crashed writer left
    /// unsealed. Files grow to about `max_file_bytes`, then the next one starts.
    pub fn open(
        dir: &Path,
        key: AuditKey,
        max_file_bytes: u64,
        now_ms: u64,
    ) -> Result<Trail, TrailError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut trail = Trail {
            dir: dir.to_owned(),
            key,
            max_file_bytes: max_file_bytes.max(4096),
            state: State::default(),
        };
        trail.append(&[], true, now_ms)?;
        Ok(trail)
    }

    fn path(&self, seq: u32) -> PathBuf {
        self.dir.join(file_name(seq))
    }

    /// Appends `events` in order; `seal`: a checkpoint follows them whatever the time (a
    /// command's records, a file's end). Otherwise a checkpoint follows once a second has
    /// passed since the last (`now_ms`). On disk (synced) when this returns.
    pub fn append(&mut self, events: &[Event], seal: bool, now_ms: u64) -> Result<(), TrailError> {
        let lock_path = self.dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        lock.lock().map_err(|e| io(&lock_path, e))?;
        if events.is_empty() && (self.state.unsealed == 0 && self.state.seq != 0) && !seal {
            // Nothing to write or seal: no lock, no read.
            return Ok(());
        }
        let mut file = self.catch_up()?;
        let mut out = Vec::new();
        for event in events {
            let new_day = self.state.file_day.is_some_and(|d| d != day(event.time_ms));
            if self.state.len >= self.max_file_bytes || new_day {
                self.seal(&mut out, now_ms)?;
                file.write_all(&out)
                    .map_err(|e| io(&self.path(self.state.seq), e))?;
                file.sync_data()
                    .map_err(|e| io(&self.path(self.state.seq), e))?;
                out.clear();
                file = self.start_file(self.state.seq + 1)?;
            }
            self.write_event(&mut out, event)?;
        }
        let due = now_ms.saturating_sub(self.state.last_seal_ms) >= 1000;
        if self.state.unsealed > 0 && (seal || due) {
            self.seal(&mut out, now_ms)?;
        }
        if !out.is_empty() {
            let path = self.path(self.state.seq);
            file.write_all(&out).map_err(|e| io(&path, e))?;
            file.sync_data().map_err(|e| io(&path, e))?;
        }
        drop(lock);
        Ok(())
    }

    /// Adds a record to `out` and to the chain.
    fn push(&mut self, out: &mut Vec<u8>, record: &Record) -> Result<(), TrailError> {
        let framed = record.encode()?;
        self.state.chain = extend(&self.state.chain, &framed);
        self.state.count += 1;
        self.state.len += framed.len() as u64;
        self.state.unsealed += 1;
        out.extend_from_slice(&framed);
        Ok(())
    }

    /// The number of a name in this file, writing it first if it is new here.
    fn name(&mut self, out: &mut Vec<u8>, name: Name) -> Result<u16, TrailError> {
        if let Some(&id) = self.state.names.get(&name) {
            return Ok(id);
        }
        let id = self.state.names.len() as u16;
        let record = match &name {
            Name::Who(w) => Record::NameWho(id, w.clone()),
            Name::Text(t) => Record::NameText(id, t.clone()),
        };
        self.push(out, &record)?;
        self.state.names.insert(name, id);
        Ok(id)
    }

    fn write_event(&mut self, out: &mut Vec<u8>, e: &Event) -> Result<(), TrailError> {
        self.state.file_day.get_or_insert(day(e.time_ms));
        let who = self.name(out, Name::Who(e.who.clone()))?;
        let action = self.name(out, Name::Text(e.action.clone()))?;
        let route = self.name(out, Name::Text(e.route.clone()))?;
        self.push(out, &Record::Event(RawEvent::of(e, who, action, route)))
    }

    /// Adds a signed checkpoint over everything so far.
    fn seal(&mut self, out: &mut Vec<u8>, now_ms: u64) -> Result<(), TrailError> {
        let message =
            format::signed_message(self.state.seq, self.state.count, &self.state.chain, now_ms);
        let signature = self.key.signing_key().sign(&message).to_bytes();
        let checkpoint = Checkpoint {
            time_ms: now_ms,
            count: self.state.count,
            chain: self.state.chain,
            signature,
        };
        self.push(out, &Record::Checkpoint(checkpoint))?;
        self.state.unsealed = 0;
        self.state.last_seal_ms = now_ms;
        Ok(())
    }

    /// Starts file `seq`, its header carrying where the chain stands.
    fn start_file(&mut self, seq: u32) -> Result<File, TrailError> {
        let path = self.path(seq);
        let header = Header {
            seq,
            prev_count: self.state.count,
            prev_chain: self.state.chain,
            verifying_key: self.key.verifying_key(),
        };
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        file.write_all(&header.encode()).map_err(|e| io(&path, e))?;
        file.sync_data().map_err(|e| io(&path, e))?;
        let dir = File::open(&self.dir).map_err(|e| io(&self.dir, e))?;
        dir.sync_all().map_err(|e| io(&self.dir, e))?;
        self.state.seq = seq;
        self.state.len = HEADER_LEN as u64;
        self.state.names.clear();
        self.state.unsealed = 0;
        self.state.file_day = None;
        Ok(file)
    }

    /// Reads what other writers appended since this one last looked (or the whole newest
    /// file, the first time or when another writer started a file): the records continue
    /// the chain and the names. Returns that file, open for appending (a new trail's first
    /// file when there is none).
    fn catch_up(&mut self) -> Result<File, TrailError> {
        let Some(&newest) = file_seqs(&self.dir)?.last() else {
            self.state = State::default();
            return self.start_file(1);
        };
        let path = self.path(newest);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        let file_len = file.metadata().map_err(|e| io(&path, e))?.len();
        if newest != self.state.seq || file_len < self.state.len || self.state.len == 0 {
            // Another writer started this file (or this writer is new): read it whole.
            let mut head = [0u8; HEADER_LEN];
            file.read_exact(&mut head).map_err(|_| {
                TrailError::Broken(crate::VerifyError::Header {
                    file: file_name(newest),
                })
            })?;
            let header = Header::decode(&head).ok_or_else(|| {
                TrailError::Broken(crate::VerifyError::Header {
                    file: file_name(newest),
                })
            })?;
            if header.verifying_key != self.key.verifying_key() {
                return Err(TrailError::OtherKey);
            }
            self.state = State {
                seq: newest,
                len: HEADER_LEN as u64,
                count: header.prev_count,
                chain: header.prev_chain,
                ..State::default()
            };
        }
        // Only the bytes after what this writer has seen are read: a busy file is not read
        // again at every append.
        let from = self.state.len;
        let mut tail = Vec::with_capacity(file_len.saturating_sub(from) as usize);
        file.seek(SeekFrom::Start(from))
            .and_then(|_| file.read_to_end(&mut tail))
            .map_err(|e| io(&path, e))?;
        let (records, end) = format::records_from(&tail, from as usize);
        for (offset, framed, record) in records {
            let Some(record) = record else {
                return Err(TrailError::Broken(crate::VerifyError::Damaged {
                    file: file_name(newest),
                    offset: offset as u64,
                }));
            };
            self.state.chain = extend(&self.state.chain, framed);
            self.state.count += 1;
            self.state.len = (offset + framed.len()) as u64;
            self.state.unsealed += 1;
            match record {
                Record::NameWho(id, who) => {
                    self.state.names.insert(Name::Who(who), id);
                }
                Record::NameText(id, text) => {
                    self.state.names.insert(Name::Text(text), id);
                }
                Record::Event(e) => {
                    self.state.file_day.get_or_insert(day(e.time_ms));
                }
                Record::Checkpoint(c) => {
                    self.state.unsealed = 0;
                    self.state.last_seal_ms = c.time_ms;
                    self.state.file_day.get_or_insert(day(c.time_ms));
                }
            }
        }
        if (end as u64) < file_len {
            // A torn record at the end: a writer died mid-write. Cut it off; the records
            // before it get sealed.
            file.set_len(end as u64).map_err(|e| io(&path, e))?;
            self.state.len = end as u64;
        }
        Ok(file)
    }
}

/// The UTC day of a time in Unix milliseconds: a file holds one day's records.
fn day(time_ms: u64) -> u64 {
    time_ms / 86_400_000
}
