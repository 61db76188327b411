//! The sync journal: what a sync has fetched so far, so that a killed or cut-off sync resumes
//! where it stopped instead of starting over.
//!
//! An append-only file outside the store: a header naming the namespace, the source and the
//! ETag table the sync started from, then one record per range as its answer arrives (in
//! completion order): the ETag the source gave and, for a range that came back whole, its
//! entries in binary. Every record is framed by its length and CRC32C, so a record torn by a
//! kill or a power cut ends the readable part: [`Journal::open`] cuts the file there and the
//! ranges after it are fetched again. A journal whose header does not match the sync being
//! started (another source, or the store synced since) is discarded, never mixed in.
//!
//! This module does not decide what a range's answer means or touch the store.

use std::{
    fs::{File, OpenOptions},
    io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

use leakwatch_store::{Key, Namespace, RANGES};

use crate::{MirrorError, Result};

const MAGIC: &[u8; 8] = b"LWSYNCJ\x01";
/// Length and CRC32C in front of every record.
const FRAME: usize = 8;
/// A record larger than this is damage, not a range (a range is a few tens of KB).
const MAX_RECORD: u32 = 256 << 20;

/// Which sync a journal belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Header {
    pub namespace: Namespace,
    pub source: String,
    /// The ETag table file of the mirror the sync started from ("" for a first sync).
    pub base: String,
}

/// What a source answered for one range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeRecord {
    pub prefix: u32,
    pub etag: Vec<u8>,
    /// `None`: as the mirror holds it (304, or a 200 with the same entries); `Some`: the
    /// range's new entries, sorted.
    pub entries: Option<Vec<(Key, u64)>>,
    /// Lines of the answer that were not `SUFFIX:COUNT`.
    pub rejected: u32,
}

/// The journal file, and an index of it in memory: per range where its record is, its
/// ETag, and whether it brought new entries (only those are read back to publish).
pub(crate) struct Journal {
    path: PathBuf,
    out: BufWriter<File>,
    end: u64,
    ns: Namespace,
    /// Offset of each range's record; `u64::MAX` while the range is not fetched.
    offsets: Vec<u64>,
    etags: Vec<Box<[u8]>>,
    changed: Vec<bool>,
    counts: Vec<u32>,
    /// Entries in the changed ranges' records.
    new_entries: u64,
    rejected: u64,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

fn io(path: &Path, source: std::io::Error) -> MirrorError {
    MirrorError::Io {
        path: path.to_owned(),
        source,
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reads the next framed record into `payload`: false at the end or at a torn or damaged one.
fn next_frame(reader: &mut impl Read, payload: &mut Vec<u8>) -> bool {
    let mut head = [0u8; FRAME];
    if reader.read_exact(&mut head).is_err() {
        return false;
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len > MAX_RECORD {
        return false;
    }
    payload.resize(len as usize, 0);
    reader.read_exact(payload).is_ok() && crc32c::crc32c(payload) == crc
}

impl RangeRecord {
    fn encode(&self, ns: Namespace) -> Vec<u8> {
        let digest_len = ns.hex_len() / 2;
        let n = self.entries.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(16 + self.etag.len() + n * (digest_len + 4));
        out.extend_from_slice(&self.prefix.to_le_bytes());
        out.extend_from_slice(&self.rejected.to_le_bytes());
        out.push(self.etag.len() as u8);
        out.extend_from_slice(&self.etag);
        if let Some(entries) = &self.entries {
            out.push(1);
            out.extend_from_slice(&(n as u32).to_le_bytes());
            for &(key, count) in entries {
                key.write_digest(ns, &mut out);
                let mut c = count;
                // LEB128: most counts fit in one or two bytes.
                loop {
                    let byte = (c & 0x7f) as u8;
                    c >>= 7;
                    if c == 0 {
                        out.push(byte);
                        break;
                    }
                    out.push(byte | 0x80);
                }
            }
        } else {
            out.push(0);
        }
        out
    }

    fn decode(ns: Namespace, b: &[u8]) -> Option<RangeRecord> {
        let digest_len = ns.hex_len() / 2;
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = b.get(at..at + n)?;
            at += n;
            Some(s)
        };
        let prefix = u32::from_le_bytes(take(4)?.try_into().ok()?);
        let rejected = u32::from_le_bytes(take(4)?.try_into().ok()?);
        let etag_len = take(1)?[0] as usize;
        let etag = take(etag_len)?.to_vec();
        let entries = match take(1)?[0] {
            0 => None,
            1 => {
                let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
                let mut entries = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let key = Key::from_digest(take(digest_len)?)?;
                    let mut count = 0u64;
                    let mut shift = 0;
                    loop {
                        let byte = take(1)?[0];
                        count |= u64::from(byte & 0x7f).checked_shl(shift)?;
                        if byte & 0x80 == 0 {
                            break;
                        }
                        shift += 7;
                    }
                    entries.push((key, count));
                }
                Some(entries)
            }
            _ => return None,
        };
        (prefix < RANGES && at == b.len()).then_some(RangeRecord {
            prefix,
            etag,
            entries,
            rejected,
        })
    }
}

impl Journal {
    /// Opens the journal at `path` for the sync `header` describes: resumes it if it belongs
    /// to the same sync (cutting a torn tail), starts it afresh otherwise. Returns it and how
    /// many ranges it already holds.
    pub(crate) fn open(path: &Path, header: &Header) -> Result<(Journal, u32)> {
        let ns = header.namespace;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        let reading = file.try_clone().map_err(|e| io(path, e))?;
        let mut journal = Journal {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
            end: 0,
            ns,
            offsets: vec![u64::MAX; RANGES as usize],
            etags: vec![Box::default(); RANGES as usize],
            changed: vec![false; RANGES as usize],
            counts: vec![0; RANGES as usize],
            new_entries: 0,
            rejected: 0,
        };
        let mut end = 0u64;
        {
            // Streamed, a record at a time: a first sync's journal holds the whole corpus.
            let mut reader = BufReader::with_capacity(1 << 20, reading);
            let mut payload = Vec::new();
            let mut magic = [0u8; MAGIC.len()];
            let same_sync = reader.read_exact(&mut magic).is_ok()
                && magic == *MAGIC
                && next_frame(&mut reader, &mut payload)
                && serde_json::from_slice::<Header>(&payload).is_ok_and(|h| h == *header);
            if same_sync {
                end = (MAGIC.len() + FRAME + payload.len()) as u64;
                while next_frame(&mut reader, &mut payload) {
                    let Some(record) = RangeRecord::decode(ns, &payload) else {
                        break;
                    };
                    journal.index(&record, end);
                    end += (FRAME + payload.len()) as u64;
                }
            }
        }
        let done = journal.offsets.iter().filter(|&&o| o != u64::MAX).count() as u32;
        let out = &mut journal.out;
        if end == 0 {
            let mut head = MAGIC.to_vec();
            head.extend_from_slice(&frame(&serde_json::to_vec(header).unwrap_or_default()));
            // The reader shared the file's position: back to the start.
            out.get_mut().set_len(0).map_err(|e| io(path, e))?;
            out.seek(SeekFrom::Start(0)).map_err(|e| io(path, e))?;
            out.write_all(&head).map_err(|e| io(path, e))?;
            end = head.len() as u64;
        } else {
            // Cut what a kill tore, so new records follow the last whole one.
            out.get_mut().set_len(end).map_err(|e| io(path, e))?;
            out.seek(SeekFrom::Start(end)).map_err(|e| io(path, e))?;
        }
        journal.end = end;
        Ok((journal, done))
    }

    fn index(&mut self, record: &RangeRecord, at: u64) {
        let p = record.prefix as usize;
        self.new_entries -= u64::from(self.counts[p]);
        self.offsets[p] = at;
        self.etags[p] = record.etag.clone().into_boxed_slice();
        self.changed[p] = record.entries.is_some();
        self.counts[p] = record.entries.as_ref().map_or(0, |e| e.len() as u32);
        self.new_entries += u64::from(self.counts[p]);
        self.rejected += u64::from(record.rejected);
    }

    /// Ranges whose records hold new entries.
    pub(crate) fn changed(&self) -> impl Iterator<Item = u32> + '_ {
        (0..RANGES).filter(|&p| self.changed[p as usize])
    }

    /// Whether a range's record holds new entries.
    pub(crate) fn is_changed(&self, prefix: u32) -> bool {
        self.changed[prefix as usize]
    }

    /// The ETag the source last gave for a range (empty if none, or not fetched).
    pub(crate) fn etag(&self, prefix: u32) -> &[u8] {
        &self.etags[prefix as usize]
    }

    /// Entries in all changed ranges' records (the size of what a publication writes anew).
    pub(crate) fn new_entries(&self) -> u64 {
        self.new_entries
    }

    /// Lines the source answered that were not entries, in every record.
    pub(crate) fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Whether a range's answer is already here.
    pub(crate) fn has(&self, prefix: u32) -> bool {
        self.offsets[prefix as usize] != u64::MAX
    }

    /// Appends a range's answer (buffered; see [`Journal::flush`]).
    pub(crate) fn append(&mut self, record: &RangeRecord) -> Result<()> {
        let bytes = frame(&record.encode(self.ns));
        self.out.write_all(&bytes).map_err(|e| io(&self.path, e))?;
        let at = self.end;
        self.index(record, at);
        self.end += bytes.len() as u64;
        Ok(())
    }

    /// Hands buffered records to the operating system (they survive a killed process);
    /// with `durable`, to the disk (they survive a power cut).
    pub(crate) fn flush(&mut self, durable: bool) -> Result<()> {
        self.out.flush().map_err(|e| io(&self.path, e))?;
        if durable {
            self.out
                .get_ref()
                .sync_data()
                .map_err(|e| io(&self.path, e))?;
        }
        Ok(())
    }

    /// Reads back a range's record (flush first).
    pub(crate) fn read(&self, prefix: u32) -> Result<Option<RangeRecord>> {
        let at = self.offsets[prefix as usize];
        if at == u64::MAX {
            return Ok(None);
        }
        let file = self.out.get_ref();
        let mut head = [0u8; FRAME];
        file.read_exact_at(&mut head, at)
            .map_err(|e| io(&self.path, e))?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let mut bytes = vec![0u8; FRAME + len];
        file.read_exact_at(&mut bytes, at)
            .map_err(|e| io(&self.path, e))?;
        let damaged = || MirrorError::JournalDamaged {
            path: self.path.clone(),
            offset: at,
        };
        let mut payload = Vec::new();
        if !next_frame(&mut &bytes[..], &mut payload) {
            return Err(damaged());
        }
        let record = RangeRecord::decode(self.ns, &payload).ok_or_else(damaged)?;
        Ok(Some(record))
    }

    /// Deletes the journal: its sync was published (or had nothing to publish).
    pub(crate) fn remove(self) -> Result<()> {
        let path = self.path.clone();
        drop(self);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path, e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(base: &str) -> Header {
        Header {
            namespace: Namespace::Sha1,
            source: "http://127.0.0.1:9/".into(),
            base: base.into(),
        }
    }

    fn record(prefix: u32, n: u128) -> RangeRecord {
        let base = Key::first_with_prefix(Namespace::Sha1, u64::from(prefix), 20);
        RangeRecord {
            prefix,
            etag: format!("\"{prefix}\"").into_bytes(),
            entries: (n > 0).then(|| {
                (1..=n)
                    .map(|i| {
                        (
                            base.checked_add(Key::from_u128(i * 977)).unwrap(),
                            (i as u64) << (i % 60),
                        )
                    })
                    .collect()
            }),
            rejected: n as u32 % 3,
        }
    }

    #[test]
    fn records_survive_a_reopen_and_a_torn_tail_is_cut() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sha1.journal");
        let (mut j, done) = Journal::open(&path, &header("")).unwrap();
        assert_eq!(done, 0);
        let records: Vec<RangeRecord> = (0..50)
            .map(|p| record(p * 7, u128::from(p % 4) * 40))
            .collect();
        for r in &records {
            j.append(r).unwrap();
        }
        j.flush(true).unwrap();
        for r in &records {
            assert_eq!(j.read(r.prefix).unwrap().as_ref(), Some(r));
        }
        drop(j);
        // A kill mid-record: the last record is half written.
        let len = std::fs::metadata(&path).unwrap().len();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 5).unwrap();
        drop(f);
        let (mut j, done) = Journal::open(&path, &header("")).unwrap();
        assert_eq!(done, 49, "the torn last record is dropped");
        assert!(!j.has(49 * 7) && j.has(48 * 7));
        j.append(&records[49]).unwrap();
        j.flush(false).unwrap();
        drop(j);
        let (j, done) = Journal::open(&path, &header("")).unwrap();
        assert_eq!(done, 50);
        for r in &records {
            assert_eq!(j.read(r.prefix).unwrap().as_ref(), Some(r));
        }
        // Another sync (the store synced since) starts afresh.
        drop(j);
        let (j, done) = Journal::open(&path, &header("0000000002-001-sha1.etags")).unwrap();
        assert_eq!(done, 0);
        assert!(!j.has(0));
        j.remove().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_flipped_byte_ends_the_readable_part_there() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("j");
        let (mut j, _) = Journal::open(&path, &header("")).unwrap();
        for p in 0..10 {
            j.append(&record(p, 5)).unwrap();
        }
        j.flush(false).unwrap();
        let middle = j.offsets[5] + 20;
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[middle as usize] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (j, done) = Journal::open(&path, &header("")).unwrap();
        assert_eq!(done, 5);
        assert!((0..5).all(|p| j.has(p)) && !(5..10).any(|p| j.has(p)));
    }
}
