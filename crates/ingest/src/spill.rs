//! Radix-partitioned spill files, and the per-worker combiner that feeds them.
//!
//! Records are split by the top [`PART_BITS`] bits of the hash into [`PARTS`] partitions,
//! kept in memory up to a per-partition cap and appended to one file per partition past it,
//! so memory stays bounded whatever the input size. Each partition is later sorted on its own
//! and, taken in order, the partitions form the sorted key sequence of a segment.
//! Records are fixed-size: the big-endian digest then a little-endian `u32` count.

use std::{
    fs::{File, OpenOptions},
    io::{self, Read, Seek, Write},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use leakwatch_store::{Key, Namespace};

/// Bits of the hash that pick a partition.
pub const PART_BITS: u32 = 10;
/// Number of partitions.
pub const PARTS: usize = 1 << PART_BITS;

struct Part {
    buf: Vec<u8>,
    file: Option<File>,
}

/// Buffer memory shared by an import's partitions of every namespace: a Pwned Passwords
/// file fills only SHA-1's, a dump all three, and neither should spill while the import's
/// buffers together are under budget (a fixed third each spilled every partition of a 10M-hash
/// file to disk: 1,024 files created and removed, a quarter of that import's time).
#[derive(Debug)]
pub struct SpillBudget {
    limit: usize,
    buffered: AtomicUsize,
}

impl SpillBudget {
    /// A budget of `limit` bytes of buffers.
    pub fn new(limit: usize) -> Arc<SpillBudget> {
        Arc::new(SpillBudget {
            limit,
            buffered: AtomicUsize::new(0),
        })
    }
}

/// A partition buffer past the budget spills once it holds this much (smaller writes would
/// make many small files).
const MIN_SPILL: usize = 4 << 10;

/// The partitions of one namespace.
pub struct Spill {
    ns: Namespace,
    rec_len: usize,
    dir: PathBuf,
    parts: Vec<Mutex<Part>>,
    /// The most a partition buffers while the budget allows.
    cap: usize,
    budget: Arc<SpillBudget>,
    /// Records appended (after combining).
    pub records: AtomicU64,
    /// Bytes written to spill files.
    pub spilled_bytes: AtomicU64,
}

impl Spill {
    /// Partitions for `ns` spilling into `dir`, holding at most `memory` bytes in buffers.
    #[cfg(test)]
    pub fn new(ns: Namespace, dir: PathBuf, memory: usize) -> Spill {
        Spill::with_budget(ns, dir, SpillBudget::new(memory))
    }

    /// Partitions for `ns` spilling into `dir`, whose buffers share `budget` with others'.
    pub fn with_budget(ns: Namespace, dir: PathBuf, budget: Arc<SpillBudget>) -> Spill {
        Spill {
            ns,
            rec_len: ns.hex_len() / 2 + 4,
            dir,
            parts: (0..PARTS)
                .map(|_| {
                    Mutex::new(Part {
                        buf: Vec::new(),
                        file: None,
                    })
                })
                .collect(),
            cap: (budget.limit / PARTS).max(MIN_SPILL),
            budget,
            records: AtomicU64::new(0),
            spilled_bytes: AtomicU64::new(0),
        }
    }

    /// The partition of a key.
    #[inline]
    pub fn part_of(&self, key: Key) -> usize {
        (key.prefix(self.ns) >> (leakwatch_store::PREFIX_BITS - PART_BITS)) as usize
    }

    /// Appends encoded records to a partition, spilling its buffer to disk when full.
    pub fn append(&self, part: usize, records: &[u8]) -> io::Result<()> {
        let mut p = self.parts[part].lock().unwrap_or_else(|e| e.into_inner());
        p.buf.extend_from_slice(records);
        self.records
            .fetch_add((records.len() / self.rec_len) as u64, Ordering::Relaxed);
        let buffered = self
            .budget
            .buffered
            .fetch_add(records.len(), Ordering::Relaxed)
            + records.len();
        if p.buf.len() >= self.cap || (buffered > self.budget.limit && p.buf.len() >= MIN_SPILL) {
            let p = &mut *p;
            let file = match &mut p.file {
                Some(f) => f,
                None => p.file.insert(
                    OpenOptions::new()
                        .create_new(true)
                        .read(true)
                        .append(true)
                        .open(self.dir.join(format!("{}-{part:04}.spill", self.ns)))?,
                ),
            };
            file.write_all(&p.buf)?;
            self.spilled_bytes
                .fetch_add(p.buf.len() as u64, Ordering::Relaxed);
            self.release(p.buf.len());
            p.buf = Vec::new();
        }
        Ok(())
    }

    /// Bytes a partition holds (memory and disk).
    pub fn part_bytes(&self, part: usize) -> u64 {
        let p = self.parts[part].lock().unwrap_or_else(|e| e.into_inner());
        p.buf.len() as u64
            + p.file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map_or(0, |m| m.len())
    }

    /// Buffer bytes no longer held.
    fn release(&self, bytes: usize) {
        self.budget.buffered.fetch_sub(bytes, Ordering::Relaxed);
    }

    fn part_path(&self, part: usize) -> PathBuf {
        self.dir.join(format!("{}-{part:04}.spill", self.ns))
    }

    /// Takes a partition's records (from disk and memory), sorted by key; equal keys are
    /// adjacent ([`Sorted::for_each`] sums them). The partition is emptied, its file removed.
    pub fn take_sorted(&self, part: usize) -> io::Result<Sorted> {
        let (mut bytes, file) = {
            let mut p = self.parts[part].lock().unwrap_or_else(|e| e.into_inner());
            (std::mem::take(&mut p.buf), p.file.take())
        };
        self.release(bytes.len());
        if let Some(mut f) = file {
            let mut on_disk = Vec::new();
            f.seek(io::SeekFrom::Start(0))?;
            f.read_to_end(&mut on_disk)?;
            on_disk.extend_from_slice(&bytes);
            bytes = on_disk;
            let _ = std::fs::remove_file(self.part_path(part));
        }
        Ok(Sorted::from_records(&bytes, self.rec_len))
    }

    /// Like [`Spill::take_sorted`] for a partition too big to sort in `budget` bytes: splits
    /// it by the next 8 bits of the hash into sub-files, recursively, and hands each sorted
    /// piece to `f` in key order. Memory stays under `budget` unless one piece cannot be
    /// split further (keys equal in their top 58 bits: only hostile input).
    pub fn take_sorted_bounded(
        &self,
        part: usize,
        budget: u64,
        f: &mut dyn FnMut(Sorted) -> io::Result<()>,
    ) -> io::Result<()> {
        let path = self.part_path(part);
        {
            let mut p = self.parts[part].lock().unwrap_or_else(|e| e.into_inner());
            let buf = std::mem::take(&mut p.buf);
            self.release(buf.len());
            let mut file = match p.file.take() {
                Some(file) => file,
                None => OpenOptions::new().create(true).append(true).open(&path)?,
            };
            file.write_all(&buf)?;
        }
        self.sort_file(&path, PART_BITS, budget, f)
    }

    fn sort_file(
        &self,
        path: &std::path::Path,
        sorted_bits: u32,
        budget: u64,
        f: &mut dyn FnMut(Sorted) -> io::Result<()>,
    ) -> io::Result<()> {
        let size = std::fs::metadata(path)?.len();
        if size.saturating_mul(SORT_EXPANSION) <= budget || sorted_bits + 8 > 58 {
            let bytes = std::fs::read(path)?;
            std::fs::remove_file(path)?;
            return f(Sorted::from_records(&bytes, self.rec_len));
        }
        let shift = self.ns.key_bits() - sorted_bits - 8;
        let sub_path = |i: usize| {
            let mut p = path.as_os_str().to_owned();
            p.push(format!(".{i:03}"));
            PathBuf::from(p)
        };
        {
            let mut subs = (0..256)
                .map(|i| {
                    File::create(sub_path(i)).map(|f| io::BufWriter::with_capacity(64 << 10, f))
                })
                .collect::<io::Result<Vec<_>>>()?;
            let mut reader = io::BufReader::with_capacity(1 << 20, File::open(path)?);
            let mut rec = vec![0u8; self.rec_len];
            let digest = self.rec_len - 4;
            loop {
                match reader.read_exact(&mut rec) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
                let key = Key::from_digest(&rec[..digest]).unwrap_or_default();
                let sub = (key.shift_right(shift).low_u64() & 0xFF) as usize;
                subs[sub].write_all(&rec)?;
            }
            for mut s in subs {
                s.flush()?;
            }
        }
        std::fs::remove_file(path)?;
        for i in 0..256 {
            self.sort_file(&sub_path(i), sorted_bits + 8, budget, f)?;
        }
        Ok(())
    }
}

/// Decoded records take this many times their spilled size while being sorted.
pub const SORT_EXPANSION: u64 = 2;

/// A record while sorting: the key as big-endian words (so tuple order is key order), 24
/// bytes with 8-byte alignment instead of the 48 a `(Key, u32)` would take.
#[derive(Clone, Copy)]
struct SortRec {
    hi: u64,
    mid: u64,
    lo: u32,
    count: u32,
}

/// A sorted run of records in which equal keys are adjacent.
pub struct Sorted {
    recs: Vec<SortRec>,
    digest: usize,
}

impl Sorted {
    fn from_records(bytes: &[u8], rec_len: usize) -> Sorted {
        let digest = rec_len - 4;
        let word =
            |r: &[u8], at: usize| u64::from_be_bytes(r[at..at + 8].try_into().unwrap_or([0; 8]));
        let mut recs: Vec<SortRec> = bytes
            .chunks_exact(rec_len)
            .map(|r| SortRec {
                hi: word(r, 0),
                mid: word(r, 8),
                lo: if digest == 20 {
                    u32::from_be_bytes([r[16], r[17], r[18], r[19]])
                } else {
                    0
                },
                count: u32::from_le_bytes([r[digest], r[digest + 1], r[digest + 2], r[digest + 3]]),
            })
            .collect();
        recs.sort_unstable_by_key(|r| (r.hi, r.mid, r.lo));
        Sorted { recs, digest }
    }

    /// Records, repeats of a key included: at least as many as distinct keys.
    pub(crate) fn records(&self) -> usize {
        self.recs.len()
    }

    /// Calls `f` once per distinct key, in order, with the summed count.
    pub fn for_each<E>(&self, mut f: impl FnMut(Key, u64) -> Result<(), E>) -> Result<(), E> {
        let mut i = 0;
        let mut digest = [0u8; 20];
        while i < self.recs.len() {
            let r = self.recs[i];
            let mut count = r.count as u64;
            i += 1;
            while i < self.recs.len()
                && (self.recs[i].hi, self.recs[i].mid, self.recs[i].lo) == (r.hi, r.mid, r.lo)
            {
                count = count.saturating_add(self.recs[i].count as u64);
                i += 1;
            }
            digest[..8].copy_from_slice(&r.hi.to_be_bytes());
            digest[8..16].copy_from_slice(&r.mid.to_be_bytes());
            digest[16..].copy_from_slice(&r.lo.to_be_bytes());
            f(
                Key::from_digest(&digest[..self.digest]).unwrap_or_default(),
                count,
            )?;
        }
        Ok(())
    }

    #[cfg(test)]
    fn to_vec(&self) -> Vec<(Key, u64)> {
        let mut v = Vec::new();
        let _ = self.for_each(|k, c| -> Result<(), ()> {
            v.push((k, c));
            Ok(())
        });
        v
    }
}

/// A worker's local state for one namespace: a direct-mapped cache that sums repeats of hot
/// keys (popular passwords) before they reach the spill, and per-partition output buffers.
pub struct Combiner<'a> {
    spill: &'a Spill,
    slots: Vec<Option<(Key, u64)>>,
    out: Vec<Vec<u8>>,
    /// Distinct-count sketch of every key seen.
    pub hll: Hll,
}

const SLOTS: usize = 1 << 14;
const LOCAL_FLUSH: usize = 16 << 10;

impl<'a> Combiner<'a> {
    /// A combiner feeding `spill`. Without `combine` (input already aggregated, such as a
    /// Pwned Passwords file) keys go straight to the partitions.
    pub fn new(spill: &'a Spill, combine: bool) -> Self {
        Combiner {
            spill,
            slots: if combine {
                vec![None; SLOTS]
            } else {
                Vec::new()
            },
            out: vec![Vec::new(); PARTS],
            hll: Hll::new(),
        }
    }

    /// Adds `count` occurrences of `key`.
    #[inline]
    pub fn add(&mut self, key: Key, count: u64) -> io::Result<()> {
        self.hll.add(key);
        if self.slots.is_empty() {
            return self.emit(key, count);
        }
        let slot = &mut self.slots[(key.low_u64() as usize) & (SLOTS - 1)];
        match slot {
            Some((k, c)) if *k == key => {
                *c = c.saturating_add(count);
                Ok(())
            }
            _ => match slot.replace((key, count)) {
                Some((old, c)) => self.emit(old, c),
                None => Ok(()),
            },
        }
    }

    fn emit(&mut self, key: Key, mut count: u64) -> io::Result<()> {
        let part = self.spill.part_of(key);
        let buf = &mut self.out[part];
        while count > 0 {
            let c = count.min(u32::MAX as u64);
            key.write_digest(self.spill.ns, buf);
            buf.extend_from_slice(&(c as u32).to_le_bytes());
            count -= c;
        }
        // Flush at the spill's own per-partition cap when that is smaller, so worker-local
        // buffers respect a small --memory too.
        if buf.len() >= LOCAL_FLUSH.min(self.spill.cap) {
            self.spill.append(part, buf)?;
            buf.clear();
        }
        Ok(())
    }

    /// Flushes everything held locally into the spill.
    pub fn finish(mut self) -> io::Result<Hll> {
        for i in 0..self.slots.len() {
            if let Some((k, c)) = self.slots[i].take() {
                self.emit(k, c)?;
            }
        }
        for (part, buf) in self.out.iter().enumerate() {
            if !buf.is_empty() {
                self.spill.append(part, buf)?;
            }
        }
        Ok(self.hll)
    }
}

/// HyperLogLog distinct counter (4096 registers, about 1.6% standard error), used only to
/// size segment groups before the exact count is known.
#[derive(Clone, Debug)]
pub struct Hll {
    regs: Vec<u8>,
}

impl Hll {
    const B: u32 = 12;

    /// An empty sketch.
    pub fn new() -> Self {
        Hll {
            regs: vec![0; 1 << Self::B],
        }
    }

    /// Adds a key (already a uniform hash).
    #[inline]
    pub fn add(&mut self, key: Key) {
        let h = key.low_u64();
        let idx = (h & ((1 << Self::B) - 1)) as usize;
        let rank = ((h >> Self::B) | (1 << (64 - Self::B))).trailing_zeros() as u8 + 1;
        if rank > self.regs[idx] {
            self.regs[idx] = rank;
        }
    }

    /// Folds another sketch in.
    pub fn merge(&mut self, other: &Hll) {
        for (a, b) in self.regs.iter_mut().zip(&other.regs) {
            *a = (*a).max(*b);
        }
    }

    /// The estimated number of distinct keys added.
    pub fn estimate(&self) -> u64 {
        let m = self.regs.len() as f64;
        let sum: f64 = self.regs.iter().map(|&r| 2f64.powi(-(r as i32))).sum();
        let raw = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        let zeros = self.regs.iter().filter(|&&r| r == 0).count();
        if raw <= 2.5 * m && zeros > 0 {
            (m * (m / zeros as f64).ln()).round() as u64
        } else {
            raw.round() as u64
        }
    }
}

impl Default for Hll {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hll_estimates_within_a_few_percent() {
        for n in [0u64, 10, 1_000, 100_000] {
            let mut h = Hll::new();
            for i in 0..n {
                h.add(Key::sha1_of(&i.to_le_bytes()));
                h.add(Key::sha1_of(&i.to_le_bytes())); // repeats do not count
            }
            let e = h.estimate() as f64;
            assert!(
                (e - n as f64).abs() <= (n as f64 * 0.05).max(1.0),
                "n={n} estimate={e}"
            );
        }
    }

    /// Namespaces share one budget: one namespace alone under it never spills (a Pwned
    /// Passwords file within the import's memory), and two together past it do, keeping the
    /// buffers near the budget; every record comes back either way.
    #[test]
    fn spills_share_one_budget_across_namespaces() {
        let tmp = tempfile::tempdir().unwrap();
        let budget = SpillBudget::new(64 << 20);
        let dir = tmp.path().to_path_buf();
        let sha1 = Spill::with_budget(Namespace::Sha1, dir.clone(), budget.clone());
        let ntlm = Spill::with_budget(Namespace::Ntlm, dir, budget.clone());
        let records = |spill: &Spill, n: u64, seed: u64| {
            let mut c = Combiner::new(spill, false);
            for i in 0..n {
                let digest = Key::sha1_of(&(i ^ seed << 40).to_le_bytes());
                let key = match spill.ns {
                    Namespace::Ntlm => digest.shift_right(32),
                    _ => digest,
                };
                c.add(key, 1).unwrap();
            }
            c.finish().unwrap();
        };
        // 2M SHA-1 records are 48 MB: more than a third of the budget, less than all of it.
        records(&sha1, 2_000_000, 1);
        assert_eq!(sha1.spilled_bytes.load(Ordering::Relaxed), 0);
        records(&ntlm, 2_000_000, 2);
        let spilled =
            sha1.spilled_bytes.load(Ordering::Relaxed) + ntlm.spilled_bytes.load(Ordering::Relaxed);
        assert!(spilled > 0, "past the shared budget, buffers spill");
        let buffered = budget.buffered.load(Ordering::Relaxed);
        assert!(
            buffered <= budget.limit + 2 * PARTS * MIN_SPILL,
            "{buffered}"
        );
        let mut total = 0;
        for spill in [&sha1, &ntlm] {
            for part in 0..PARTS {
                total += spill.take_sorted(part).unwrap().records();
            }
        }
        assert_eq!(total, 4_000_000);
        assert_eq!(budget.buffered.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn spill_sorts_and_sums_across_memory_and_disk() {
        let tmp = tempfile::tempdir().unwrap();
        // A tiny budget forces most records to disk.
        let spill = Spill::new(Namespace::Sha1, tmp.path().to_path_buf(), 0);
        let mut expected = std::collections::BTreeMap::new();
        let mut c = Combiner::new(&spill, true);
        for i in 0..600_000u64 {
            let key = Key::sha1_of(&(i % 300_000).to_le_bytes());
            let count = i % 7 + 1;
            *expected.entry(key).or_insert(0u64) += count;
            c.add(key, count).unwrap();
        }
        // One huge count is split into u32 records and summed back.
        let big = Key::sha1_of(b"big");
        c.add(big, 10_000_000_000).unwrap();
        *expected.entry(big).or_insert(0) += 10_000_000_000;
        c.finish().unwrap();
        assert!(spill.spilled_bytes.load(Ordering::Relaxed) > 0);
        let mut got = std::collections::BTreeMap::new();
        for part in 0..PARTS {
            let sorted = spill.take_sorted(part).unwrap().to_vec();
            assert!(sorted.windows(2).all(|w| w[0].0 < w[1].0));
            got.extend(sorted);
        }
        assert_eq!(got, expected);
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "spill files removed"
        );
    }

    /// A partition bigger than the sort budget is split (recursively) into sub-files and
    /// still comes out whole, in order, summed, and with every file removed.
    #[test]
    fn oversized_partitions_are_split_and_sorted_within_the_budget() {
        for ns in Namespace::ALL {
            let tmp = tempfile::tempdir().unwrap();
            let spill = Spill::new(ns, tmp.path().to_path_buf(), 0);
            let mut expected = std::collections::BTreeMap::new();
            let mut c = Combiner::new(&spill, true);
            for i in 0..400_000u64 {
                let key = Key::sha1_of(&(i % 300_000).to_le_bytes());
                let key = if ns.key_bits() == 128 {
                    Key::from_digest(&key.to_digest(Namespace::Sha1)[..16]).unwrap()
                } else {
                    key
                };
                *expected.entry(key).or_insert(0u64) += 1;
                c.add(key, 1).unwrap();
            }
            c.finish().unwrap();
            let mut got = Vec::new();
            let mut pieces = 0;
            for part in 0..PARTS {
                if part == 0 {
                    // A budget of 200 bytes forces splitting, twice for the rare larger pieces.
                    spill
                        .take_sorted_bounded(part, 200, &mut |s| {
                            pieces += 1;
                            got.extend(s.to_vec());
                            Ok(())
                        })
                        .unwrap();
                } else {
                    got.extend(spill.take_sorted(part).unwrap().to_vec());
                }
            }
            assert!(
                pieces > 4 * 256,
                "{pieces} pieces: split below the first level"
            );
            assert!(
                got.windows(2).all(|w| w[0].0 < w[1].0),
                "{ns}: strictly increasing"
            );
            assert_eq!(
                got.into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>(),
                expected
            );
            assert_eq!(
                std::fs::read_dir(tmp.path()).unwrap().count(),
                0,
                "split files removed"
            );
        }
    }
}
