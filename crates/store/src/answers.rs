//! Answer files: every populated range of one namespace and generation, rendered and encoded
//! ahead of time, so that a server serves bytes that already exist instead of rendering them.
//!
//! This is HIBP's own arrangement (per-prefix objects behind a CDN) kept beside the store: a
//! server given an answer directory (`serve --answer-dir`) writes one file a namespace for each
//! generation it serves and then answers ranges from it. Disk is traded for CPU: at the public
//! corpus's shape the three codings take about four times the store's size (what nginx's
//! static files and their precompressed twins take too). The store itself never needs them.
//!
//! The file is write-once like every store file: written under a `.partial` name, synced,
//! renamed, never changed. It is a cache: a file that fails a check is not served from, and
//! the range is rendered from the store as if there were no file. Layout (docs/FORMAT.md,
//! "Answer files"):
//!
//! ```text
//! bodies   each populated range's answers, slot by slot, ranges in prefix order
//! index    one 48-byte record a populated range, in prefix order:
//!          prefix u32 | lines u32 | etag u64 | start u64 | len u32 ×3 | crc32c u32 ×3
//! footer   version u32 | namespace u8 | omitted slots u8 + 2 zero | generation u64 |
//!          segments u64 | index offset u64 | records u64 | index CRC32C u32 | slots u32 |
//!          footer CRC32C u32 | "LWANSWR\x01"
//! ```
//!
//! A record's bodies follow each other from `start` (slot 0, then 1, then 2); a slot of
//! length 0 holds nothing; a slot whose bit is set in "omitted slots" was not written for any
//! range (the server was told to leave that coding out). What a slot means (identity, gzip,
//! brotli) and what the ETag digest is are the server's business: this module stores bytes
//! and checks them. Every body's CRC32C is checked each time it is handed out, as segment
//! groups are.

use std::{
    fs::{self, File, OpenOptions},
    io::{BufWriter, Write},
    ops::Range,
    path::{Path, PathBuf},
};

use crate::{
    Namespace,
    error::{Result, StoreError},
    footer::{self, Fields},
};

/// Version of the answer file layout this build writes and reads.
pub const ANSWERS_VERSION: u32 = 1;
/// Answers a range holds at most (the server's codings).
pub const ANSWER_SLOTS: usize = 3;

const MAGIC: &[u8; 8] = b"LWANSWR\x01";
const RECORD: usize = 48;
const FOOTER_LEN: usize = 48 + 4 + 8;
const PARTIAL: &str = ".partial";

/// The name of the answer file of `ns` at `generation`.
pub fn answer_file_name(ns: Namespace, generation: u64) -> String {
    format!("{}-{generation:016x}.answers", ns.name())
}

/// One range's answers, handed to [`AnswerFileWriter::push`].
#[derive(Debug, Clone, Copy)]
pub struct RangeAnswers<'a> {
    /// Real lines in the range.
    pub lines: u32,
    /// The digest the server's ETag is made of.
    pub etag: u64,
    /// The answer in each slot; an empty slice holds nothing.
    pub bodies: [&'a [u8]; ANSWER_SLOTS],
}

/// Writes an answer file: ranges pushed in ascending prefix order, then [`finish`].
///
/// [`finish`]: AnswerFileWriter::finish
#[derive(Debug)]
pub struct AnswerFileWriter {
    out: BufWriter<File>,
    partial: PartialFile,
    path: PathBuf,
    ns: Namespace,
    generation: u64,
    segments: u64,
    omitted: u8,
    index: Vec<u8>,
    written: u64,
    last: Option<u32>,
}

impl AnswerFileWriter {
    /// Starts the file of `ns` at `generation` in `dir` (under a `.partial` name, readable by
    /// its owner only: it holds every hash of the namespace), rendered from the segments
    /// whose [`Snapshot::segments_fingerprint`](crate::Snapshot::segments_fingerprint) is
    /// `segments`.
    pub fn create(dir: &Path, ns: Namespace, generation: u64, segments: u64) -> Result<Self> {
        let path = dir.join(answer_file_name(ns, generation));
        let partial = dir.join(format!("{}{PARTIAL}", answer_file_name(ns, generation)));
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&partial)
            .map_err(|e| StoreError::io(&partial, e))?;
        Ok(AnswerFileWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            partial: PartialFile {
                path: partial,
                published: false,
            },
            path,
            ns,
            generation,
            segments,
            omitted: 0,
            index: Vec::new(),
            written: 0,
            last: None,
        })
    }

    /// Leaves the slots whose bits are set in `slots` out of every range (a reader sees them
    /// as [`AnswerFile::omitted_slots`]); their bodies must be pushed empty.
    pub fn omitting(mut self, slots: u8) -> Self {
        assert!(
            u32::from(slots) < 1 << ANSWER_SLOTS,
            "an omitted slot is one of the file's slots"
        );
        self.omitted = slots;
        self
    }

    /// Adds the answers of range `prefix`, which must be above every prefix pushed before.
    pub fn push(&mut self, prefix: u32, answers: RangeAnswers<'_>) -> Result<()> {
        assert!(
            self.last.is_none_or(|p| p < prefix) && prefix < crate::RANGES,
            "answer ranges are pushed once each, in ascending order"
        );
        self.last = Some(prefix);
        assert!(
            (0..ANSWER_SLOTS)
                .all(|slot| self.omitted & (1 << slot) == 0 || answers.bodies[slot].is_empty()),
            "an omitted slot holds nothing"
        );
        let mut record = Fields::with_capacity(RECORD)
            .u32(prefix)
            .u32(answers.lines)
            .u64(answers.etag)
            .u64(self.written);
        for body in answers.bodies {
            let len = u32::try_from(body.len()).expect("a range answer is far below 4 GiB");
            record = record.u32(len);
        }
        for body in answers.bodies {
            record = record.u32(crc32c::crc32c(body));
        }
        self.index.extend_from_slice(&record.into_bytes());
        for body in answers.bodies {
            self.out
                .write_all(body)
                .map_err(|e| StoreError::io(&self.partial.path, e))?;
            self.written += body.len() as u64;
        }
        Ok(())
    }

    /// Writes the index and footer, syncs the file, and publishes it under its name.
    pub fn finish(mut self) -> Result<PathBuf> {
        let records = (self.index.len() / RECORD) as u64;
        let footer = Fields::with_capacity(FOOTER_LEN)
            .u32(ANSWERS_VERSION)
            .bytes(&[self.ns.code(), self.omitted, 0, 0])
            .u64(self.generation)
            .u64(self.segments)
            .u64(self.written)
            .u64(records)
            .u32(crc32c::crc32c(&self.index))
            .u32(ANSWER_SLOTS as u32)
            .seal(MAGIC);
        let io = |e| StoreError::io(&self.partial.path, e);
        self.out.write_all(&self.index).map_err(io)?;
        self.out.write_all(&footer).map_err(io)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| StoreError::io(&self.partial.path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| StoreError::io(&self.partial.path, e))?;
        fs::rename(&self.partial.path, &self.path).map_err(|e| StoreError::io(&self.path, e))?;
        self.partial.published = true;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| StoreError::io(dir, e))?;
        }
        Ok(self.path)
    }
}

/// The `.partial` file a writer writes: removed when the writer is dropped before it is
/// published (a failed build must not leave hundreds of megabytes on a disk that may be
/// full); a killed process leaves it to [`remove_partial_answer_files`].
#[derive(Debug)]
struct PartialFile {
    path: PathBuf,
    published: bool,
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Removes what a writer interrupted at any instant left in `dir` (its `.partial` files).
pub fn remove_partial_answer_files(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".answers.partial") {
            fs::remove_file(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// An answer file, mapped and checked (footer, index).
#[derive(Debug)]
pub struct AnswerFile {
    name: String,
    map: memmap2::Mmap,
    ns: Namespace,
    generation: u64,
    segments: u64,
    omitted: u8,
    index: Range<usize>,
}

/// One range's record in an [`AnswerFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerEntry {
    /// Real lines in the range.
    pub lines: u32,
    /// The ETag digest it was written with.
    pub etag: u64,
    start: u64,
    lens: [u32; ANSWER_SLOTS],
    crcs: [u32; ANSWER_SLOTS],
}

impl AnswerFile {
    /// Opens the answer file at `path`: its footer and index must check.
    pub fn open(path: &Path) -> Result<AnswerFile> {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        // SAFETY: answer files are written under a `.partial` name, renamed once synced, and
        // afterwards only deleted (which keeps a mapped inode alive), never opened for
        // writing: nothing changes or truncates the file while the map lives.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| StoreError::io(path, e))?;
        let corrupt = |at: usize, why: &str| StoreError::corrupt(&name, at as u64, why);
        let f = footer::open_sealed(&map, FOOTER_LEN, MAGIC).map_err(|_| {
            corrupt(
                map.len().saturating_sub(FOOTER_LEN),
                "bad answer file footer",
            )
        })?;
        let version = f.u32(0);
        if version != ANSWERS_VERSION {
            return Err(StoreError::UnsupportedVersion {
                file: name,
                found: version,
                supported: ANSWERS_VERSION,
            });
        }
        let ns = Namespace::from_code(f.u8(4)).ok_or_else(|| corrupt(0, "unknown namespace"))?;
        let omitted = f.u8(5);
        if u32::from(omitted) >= 1 << ANSWER_SLOTS {
            return Err(corrupt(0, "omitted slots not this build's"));
        }
        let generation = f.u64(8);
        let segments = f.u64(16);
        let index_at = f.u64(24);
        let records = f.u64(32);
        let index_end = index_at
            .checked_add(records.saturating_mul(RECORD as u64))
            .filter(|&end| end == (map.len() - FOOTER_LEN) as u64)
            .ok_or_else(|| corrupt(0, "answer index outside the file"))?;
        let index = index_at as usize..index_end as usize;
        if f.u32(40) != crc32c::crc32c(&map[index.clone()]) {
            return Err(corrupt(index.start, "answer index checksum mismatch"));
        }
        if f.u32(44) != ANSWER_SLOTS as u32 {
            return Err(corrupt(0, "answer slots not this build's"));
        }
        Ok(AnswerFile {
            name,
            map,
            ns,
            generation,
            segments,
            omitted,
            index,
        })
    }

    /// The namespace the answers are of.
    pub fn namespace(&self) -> Namespace {
        self.ns
    }

    /// The store generation the answers were rendered from.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The slots (bit `1 << slot`) the writer left out of every range.
    pub fn omitted_slots(&self) -> u8 {
        self.omitted
    }

    /// The fingerprint of the segments the answers were rendered from.
    pub fn segments_fingerprint(&self) -> u64 {
        self.segments
    }

    /// The whole file (bodies are ranges of it: see [`AnswerFile::body`]).
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The record of range `prefix`; `None` when the file holds no answers for it.
    pub fn entry(&self, prefix: u32) -> Option<AnswerEntry> {
        let index = &self.map[self.index.clone()];
        let field = |r: usize, at: usize| {
            let b = &index[r * RECORD + at..r * RECORD + at + 4];
            u32::from_le_bytes(b.try_into().expect("four bytes"))
        };
        let wide =
            |r: usize, at: usize| u64::from(field(r, at)) | u64::from(field(r, at + 4)) << 32;
        let record = |r: usize| AnswerEntry {
            lines: field(r, 4),
            etag: wide(r, 8),
            start: wide(r, 16),
            lens: [field(r, 24), field(r, 28), field(r, 32)],
            crcs: [field(r, 36), field(r, 40), field(r, 44)],
        };
        let records = index.len() / RECORD;
        if records == 0 {
            return None;
        }
        // Populated prefixes spread evenly over the 2^20 (every one of them at the public
        // corpus's size): the record where an even spread puts `prefix` is first looked at,
        // one read where a binary search over a million records takes twenty.
        let guess = (u64::from(prefix) * records as u64 / u64::from(crate::RANGES))
            .min(records as u64 - 1) as usize;
        let (mut lo, mut hi) = match field(guess, 0).cmp(&prefix) {
            std::cmp::Ordering::Equal => return Some(record(guess)),
            std::cmp::Ordering::Less => (guess + 1, records),
            std::cmp::Ordering::Greater => (0, guess),
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match field(mid, 0).cmp(&prefix) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(record(mid)),
            }
        }
        None
    }

    /// Where the answer in `slot` of `entry` is in [`AnswerFile::bytes`], its checksum
    /// checked now; `Ok(None)` when the slot holds nothing.
    pub fn body(&self, entry: &AnswerEntry, slot: usize) -> Result<Option<Range<usize>>> {
        if entry.lens[slot] == 0 {
            return Ok(None);
        }
        let before: u64 = entry.lens[..slot].iter().map(|&l| u64::from(l)).sum();
        let start = entry.start.saturating_add(before);
        let end = start.saturating_add(u64::from(entry.lens[slot]));
        if end > self.index.start as u64 {
            return Err(StoreError::corrupt(
                &self.name,
                start,
                "answer outside the file",
            ));
        }
        let range = start as usize..end as usize;
        if crc32c::crc32c(&self.map[range.clone()]) != entry.crcs[slot] {
            return Err(StoreError::corrupt(
                &self.name,
                start,
                "answer checksum mismatch",
            ));
        }
        Ok(Some(range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, ranges: &[(u32, RangeAnswers<'_>)]) -> PathBuf {
        let mut w = AnswerFileWriter::create(dir, Namespace::Sha1, 7, 99).unwrap();
        for &(p, a) in ranges {
            w.push(p, a).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn answers_come_back_as_written_and_absent_ranges_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![b'x'; 70_000];
        let ranges = [
            (
                0,
                RangeAnswers {
                    lines: 1,
                    etag: 11,
                    bodies: [b"A", b"", b"BB"],
                },
            ),
            (
                0x5BAA6,
                RangeAnswers {
                    lines: 9,
                    etag: u64::MAX,
                    bodies: [&big, b"gz", b"br!"],
                },
            ),
            (
                0xFFFFF,
                RangeAnswers {
                    lines: 2,
                    etag: 3,
                    bodies: [b"", b"", b"only"],
                },
            ),
        ];
        let path = write(dir.path(), &ranges);
        assert_eq!(path.file_name().unwrap(), "sha1-0000000000000007.answers");
        let file = AnswerFile::open(&path).unwrap();
        assert_eq!(
            (
                file.namespace(),
                file.generation(),
                file.segments_fingerprint()
            ),
            (Namespace::Sha1, 7, 99)
        );
        for (prefix, want) in ranges {
            let e = file.entry(prefix).unwrap();
            assert_eq!((e.lines, e.etag), (want.lines, want.etag));
            for slot in 0..ANSWER_SLOTS {
                let got = file.body(&e, slot).unwrap().map(|r| &file.bytes()[r]);
                let want = Some(want.bodies[slot]).filter(|b| !b.is_empty());
                assert_eq!(got, want, "{prefix:05X} slot {slot}");
            }
        }
        for absent in [1, 0x5BAA5, 0x5BAA7, 0xFFFFE] {
            assert_eq!(file.entry(absent), None);
        }
    }

    #[test]
    fn every_prefix_is_found_or_absent_whatever_the_spread() {
        let dir = tempfile::tempdir().unwrap();
        // Dense runs, lone prefixes at both ends, and gaps: where an even spread guesses
        // wrong the search must still find each prefix and no other.
        let mut prefixes: Vec<u32> = (0..600).chain(5_000..5_010).collect();
        prefixes.extend((0..300).map(|i| 0x80000 + i * 7));
        prefixes.extend([0xFFFF0, 0xFFFFF]);
        let mut w = AnswerFileWriter::create(dir.path(), Namespace::Sha1, 1, 0).unwrap();
        for &p in &prefixes {
            let etag = u64::from(p) * 3;
            let body = p.to_le_bytes();
            let answers = RangeAnswers {
                lines: p,
                etag,
                bodies: [&body, b"", b""],
            };
            w.push(p, answers).unwrap();
        }
        let file = AnswerFile::open(&w.finish().unwrap()).unwrap();
        let present: std::collections::BTreeSet<u32> = prefixes.iter().copied().collect();
        let probes = (0..crate::RANGES)
            .step_by(97)
            .chain(prefixes.iter().copied());
        // Past the 2^20 prefixes too: absent, as before the guess (no index out of bounds).
        for p in probes.chain([1 << 19, 0xFFFFE, 600, 4_999, 5_010, crate::RANGES, u32::MAX]) {
            match file.entry(p) {
                Some(e) => {
                    assert!(present.contains(&p), "{p:05X} found but never written");
                    assert_eq!((e.lines, e.etag), (p, u64::from(p) * 3));
                }
                None => assert!(!present.contains(&p), "{p:05X} written but not found"),
            }
        }
    }

    #[test]
    fn omitted_slots_are_recorded_and_must_stay_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = AnswerFileWriter::create(dir.path(), Namespace::Sha1, 2, 5)
            .unwrap()
            .omitting(0b100);
        let answers = RangeAnswers {
            lines: 1,
            etag: 1,
            bodies: [b"plain", b"gz", b""],
        };
        w.push(9, answers).unwrap();
        let file = AnswerFile::open(&w.finish().unwrap()).unwrap();
        assert_eq!(file.omitted_slots(), 0b100);
        let e = file.entry(9).unwrap();
        assert_eq!(file.body(&e, 2).unwrap(), None);
        let all = write(dir.path(), &[(1, answers)]);
        assert_eq!(AnswerFile::open(&all).unwrap().omitted_slots(), 0);
        let refused = std::panic::catch_unwind(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut w = AnswerFileWriter::create(dir.path(), Namespace::Sha1, 2, 5)
                .unwrap()
                .omitting(0b010);
            let _ = w.push(9, answers);
        });
        assert!(refused.is_err(), "a body in an omitted slot");
    }

    #[test]
    fn a_changed_byte_anywhere_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let ranges = [
            (
                3,
                RangeAnswers {
                    lines: 1,
                    etag: 1,
                    bodies: [b"abc", b"de", b"f"],
                },
            ),
            (
                4,
                RangeAnswers {
                    lines: 2,
                    etag: 2,
                    bodies: [b"ghij", b"", b"k"],
                },
            ),
        ];
        let path = write(dir.path(), &ranges);
        let clean = fs::read(&path).unwrap();
        for at in 0..clean.len() {
            let mut bytes = clean.clone();
            bytes[at] ^= 0x20;
            fs::write(&path, &bytes).unwrap();
            let Ok(file) = AnswerFile::open(&path) else {
                continue; // footer or index caught it
            };
            // Only a body byte can get past the footer and index checks: its own check
            // must refuse it.
            let refused = [3, 4].iter().any(|&p| {
                let e = file.entry(p).unwrap();
                (0..ANSWER_SLOTS).any(|s| file.body(&e, s).is_err())
            });
            assert!(refused, "byte {at} changed and nothing noticed");
        }
    }

    fn pushed_one_range(dir: &Path) -> AnswerFileWriter {
        let mut w = AnswerFileWriter::create(dir, Namespace::Ntlm, 1, 0).unwrap();
        w.push(
            1,
            RangeAnswers {
                lines: 1,
                etag: 0,
                bodies: [b"a", b"", b""],
            },
        )
        .unwrap();
        w
    }

    #[test]
    fn an_interrupted_writer_leaves_only_a_partial_file_that_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        // A process killed mid-write runs no destructor.
        std::mem::forget(pushed_one_range(dir.path()));
        assert!(
            !dir.path()
                .join(answer_file_name(Namespace::Ntlm, 1))
                .exists()
        );
        assert_eq!(remove_partial_answer_files(dir.path()).unwrap(), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_writer_dropped_unfinished_removes_its_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        drop(pushed_one_range(dir.path()));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        // A finished one stays.
        pushed_one_range(dir.path()).finish().unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
