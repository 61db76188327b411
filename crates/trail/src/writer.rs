//! Appending to a trail. Every append takes the place's writer lock ([`Files::lock`]), so
//! the servers and CLI commands write one chain in order: a writer first reads what others
//! appended since its last look (the chain and the numbering of names continue from the
//! file itself), then writes its records and, when asked or a second has passed, a signed
//! checkpoint, and makes them durable before it lets go. A torn record at the end (a crash
//! mid-write) is cut off and what came before it sealed.

use std::{collections::HashMap, path::Path};

use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};

use crate::{
    AuditKey, TrailError,
    files::{DirFiles, Files, Locked, file_name},
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

/// A writer of a trail.
#[derive(Debug)]
pub struct Trail {
    files: Box<dyn Files>,
    key: AuditKey,
    max_file_bytes: u64,
    state: State,
}

/// `chain` extended by one record's bytes.
pub(crate) fn extend(chain: &[u8; 32], framed: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(chain);
    h.update(framed);
    h.finalize().into()
}

fn broken_header(seq: u32) -> TrailError {
    TrailError::Broken(crate::VerifyError::Header {
        file: file_name(seq),
    })
}

impl Trail {
    /// Opens (creating) the trail in the directory `dir` at `now_ms`: [`Trail::open_in`]
    /// on [`DirFiles`].
    pub fn open(
        dir: &Path,
        key: AuditKey,
        max_file_bytes: u64,
        now_ms: u64,
    ) -> Result<Trail, TrailError> {
        Trail::open_in(Box::new(DirFiles::new(dir)), key, max_file_bytes, now_ms)
    }

    /// Opens (creating) the trail kept by `files` at `now_ms`, sealing what a crashed
    /// writer left unsealed. Files grow to about `max_file_bytes`, then the next one starts.
    pub fn open_in(
        files: Box<dyn Files>,
        key: AuditKey,
        max_file_bytes: u64,
        now_ms: u64,
    ) -> Result<Trail, TrailError> {
        let mut trail = Trail {
            files,
            key,
            max_file_bytes: max_file_bytes.max(4096),
            state: State::default(),
        };
        trail.append(&[], true, now_ms)?;
        Ok(trail)
    }

    /// Appends `events` in order; `seal`: a checkpoint follows them whatever the time (a
    /// command's records, a file's end). Otherwise a checkpoint follows once a second has
    /// passed since the last (`now_ms`). Durable when this returns. After a failure nothing
    /// of this call is taken as written: the next call reads the newest file again.
    pub fn append(&mut self, events: &[Event], seal: bool, now_ms: u64) -> Result<(), TrailError> {
        if events.is_empty() && (self.state.unsealed == 0 && self.state.seq != 0) && !seal {
            // Nothing to write or seal: no lock, no read.
            return Ok(());
        }
        let mut state = std::mem::take(&mut self.state);
        let written = {
            let mut files = self.files.lock()?;
            let result = write(
                &mut state,
                files.as_mut(),
                &self.key,
                self.max_file_bytes,
                events,
                seal,
                now_ms,
            );
            result.and_then(|()| files.finish())
        };
        if written.is_ok() {
            self.state = state;
        }
        written
    }
}

/// Catches up on the newest file, writes `events` (starting files as they fill or a day
/// turns) and seals as asked, all under the lock `files`.
fn write(
    state: &mut State,
    files: &mut dyn Locked,
    key: &AuditKey,
    max_file_bytes: u64,
    events: &[Event],
    seal: bool,
    now_ms: u64,
) -> Result<(), TrailError> {
    let mut w = Writing {
        state,
        key,
        out: Vec::new(),
    };
    w.catch_up(files)?;
    for event in events {
        let new_day = w.state.file_day.is_some_and(|d| d != day(event.time_ms));
        if w.state.len >= max_file_bytes || new_day {
            w.seal(now_ms)?;
            w.write_out(files)?;
            w.start_file(files, w.state.seq + 1)?;
        }
        w.write_event(event)?;
    }
    let due = now_ms.saturating_sub(w.state.last_seal_ms) >= 1000;
    if w.state.unsealed > 0 && (seal || due) {
        w.seal(now_ms)?;
    }
    w.write_out(files)
}

/// A writer's state and the bytes it has yet to write to the newest file.
struct Writing<'a> {
    state: &'a mut State,
    key: &'a AuditKey,
    /// Records made but not yet written (they follow `state.len - out.len()`).
    out: Vec<u8>,
}

impl Writing<'_> {
    /// Writes the pending records to the newest file.
    fn write_out(&mut self, files: &mut dyn Locked) -> Result<(), TrailError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let at = self.state.len - self.out.len() as u64;
        files.append(self.state.seq, at, &self.out)?;
        self.out.clear();
        Ok(())
    }

    /// Adds a record to the pending bytes and to the chain.
    fn push(&mut self, record: &Record) -> Result<(), TrailError> {
        let framed = record.encode()?;
        self.state.chain = extend(&self.state.chain, &framed);
        self.state.count += 1;
        self.state.len += framed.len() as u64;
        self.state.unsealed += 1;
        self.out.extend_from_slice(&framed);
        Ok(())
    }

    /// The number of a name in this file, writing it first if it is new here.
    fn name(&mut self, name: Name) -> Result<u16, TrailError> {
        if let Some(&id) = self.state.names.get(&name) {
            return Ok(id);
        }
        let id = self.state.names.len() as u16;
        let record = match &name {
            Name::Who(w) => Record::NameWho(id, w.clone()),
            Name::Text(t) => Record::NameText(id, t.clone()),
        };
        self.push(&record)?;
        self.state.names.insert(name, id);
        Ok(id)
    }

    fn write_event(&mut self, e: &Event) -> Result<(), TrailError> {
        self.state.file_day.get_or_insert(day(e.time_ms));
        let who = self.name(Name::Who(e.who.clone()))?;
        let action = self.name(Name::Text(e.action.clone()))?;
        let route = self.name(Name::Text(e.route.clone()))?;
        self.push(&Record::Event(RawEvent::of(e, who, action, route)))
    }

    /// Adds a signed checkpoint over everything so far.
    fn seal(&mut self, now_ms: u64) -> Result<(), TrailError> {
        let message =
            format::signed_message(self.state.seq, self.state.count, &self.state.chain, now_ms);
        let signature = self.key.signing_key().sign(&message).to_bytes();
        let checkpoint = Checkpoint {
            time_ms: now_ms,
            count: self.state.count,
            chain: self.state.chain,
            signature,
        };
        self.push(&Record::Checkpoint(checkpoint))?;
        self.state.unsealed = 0;
        self.state.last_seal_ms = now_ms;
        Ok(())
    }

    /// Starts file `seq`, its header carrying where the chain stands.
    fn start_file(&mut self, files: &mut dyn Locked, seq: u32) -> Result<(), TrailError> {
        let header = Header {
            seq,
            prev_count: self.state.count,
            prev_chain: self.state.chain,
            verifying_key: self.key.verifying_key(),
        };
        files.create(seq, &header.encode())?;
        self.state.seq = seq;
        self.state.len = HEADER_LEN as u64;
        self.state.names.clear();
        self.state.unsealed = 0;
        self.state.file_day = None;
        Ok(())
    }

    /// Reads what other writers appended since this one last looked (or the whole newest
    /// file, the first time, after a failure, or when another writer started a file): the
    /// records continue the chain and the names. Starts a new trail's first file when there
    /// is none.
    fn catch_up(&mut self, files: &mut dyn Locked) -> Result<(), TrailError> {
        let Some(newest) = files.newest()? else {
            *self.state = State::default();
            return self.start_file(files, 1);
        };
        // Only the bytes after what this writer has seen are read: a busy file is not read
        // again at every append.
        let same_file = newest == self.state.seq && self.state.len > 0;
        let (mut tail, mut file_len) = match same_file {
            true => files.read_from(newest, self.state.len)?,
            false => (Vec::new(), 0),
        };
        let mut from = self.state.len;
        if !same_file || file_len < self.state.len {
            // Another writer started this file (or this writer is new): read it whole.
            (tail, file_len) = files.read_from(newest, 0)?;
            let header = tail
                .get(..HEADER_LEN)
                .and_then(Header::decode)
                .ok_or_else(|| broken_header(newest))?;
            if header.seq != newest {
                return Err(broken_header(newest));
            }
            if header.verifying_key != self.key.verifying_key() {
                return Err(TrailError::OtherKey);
            }
            *self.state = State {
                seq: newest,
                len: HEADER_LEN as u64,
                count: header.prev_count,
                chain: header.prev_chain,
                ..State::default()
            };
            tail.drain(..HEADER_LEN);
            from = HEADER_LEN as u64;
        }
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
            files.cut(newest, end as u64)?;
            self.state.len = end as u64;
        }
        Ok(())
    }
}

/// The UTC day of a time in Unix milliseconds: a file holds one day's records.
fn day(time_ms: u64) -> u64 {
    time_ms / 86_400_000
}
