//! External sort of sealed aliases, for the alias file of a dump import.
//!
//! Workers buffer `(domain tag, sealed alias)` records in a flat arena; when a worker's share
//! of the memory budget is full the buffer is sorted, deduplicated and written as a run
//! file. At publication the runs are merged (a heap over buffered readers) straight into the
//! store's [`AliasWriter`], which drops repeats across runs. Memory stays bounded whatever
//! the number of aliases, and no run holds anything but sealed bytes.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    fs::File,
    io::{self, BufReader, BufWriter, Read, Write},
    path::PathBuf,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use leakwatch_store::{AliasMeta, AliasWriter, StoreError, StoreWriter, unix_now};

/// The run files of one import.
pub(crate) struct AliasRuns {
    dir: PathBuf,
    budget: usize,
    runs: Mutex<Vec<PathBuf>>,
    next: AtomicU64,
    /// Records pushed (before deduplication).
    pub(crate) pushed: AtomicU64,
}

impl AliasRuns {
    /// Runs in `dir`, each worker holding at most `budget` bytes before it writes one.
    pub(crate) fn new(dir: PathBuf, budget: usize) -> AliasRuns {
        AliasRuns {
            dir,
            budget: budget.max(64 << 10),
            runs: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
        }
    }

    /// Merges every run into a new alias file of `writer`, sealed under key `key_id`, and
    /// describes it for the commit that publishes it.
    pub(crate) fn write_alias_file(
        &self,
        writer: &mut StoreWriter,
        key_id: &str,
    ) -> Result<AliasMeta, crate::IngestError> {
        let (name, mut out) = writer.create_alias_file()?;
        self.merge_into(&mut out)?;
        let stats = out.finish()?;
        Ok(AliasMeta {
            file: name,
            records: stats.records,
            bytes: stats.bytes,
            created_unix: unix_now(),
            key_id: key_id.to_owned(),
        })
    }

    /// Merges every run into `out`.
    pub(crate) fn merge_into(&self, out: &mut AliasWriter) -> Result<(), MergeError> {
        let runs = std::mem::take(&mut *self.runs.lock().unwrap_or_else(|e| e.into_inner()));
        let mut readers = Vec::with_capacity(runs.len());
        for path in &runs {
            readers.push(BufReader::with_capacity(
                64 << 10,
                File::open(path).map_err(MergeError::Io)?,
            ));
        }
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some((tag, sealed)) = read_record(r).map_err(MergeError::Io)? {
                heap.push(Reverse((tag, sealed, i)));
            }
        }
        while let Some(Reverse((tag, sealed, i))) = heap.pop() {
            out.push(tag, &sealed).map_err(MergeError::Store)?;
            if let Some((t, s)) = read_record(&mut readers[i]).map_err(MergeError::Io)? {
                heap.push(Reverse((t, s, i)));
            }
        }
        for path in runs {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}

/// Why merging runs failed.
#[derive(Debug)]
pub(crate) enum MergeError {
    Io(io::Error),
    Store(StoreError),
}

impl From<MergeError> for crate::IngestError {
    fn from(e: MergeError) -> Self {
        match e {
            MergeError::Io(source) => crate::IngestError::Io {
                context: "merging alias runs".into(),
                source,
            },
            MergeError::Store(e) => crate::IngestError::Store(e),
        }
    }
}

fn read_record(r: &mut impl Read) -> io::Result<Option<(u64, Vec<u8>)>> {
    let mut head = [0u8; 9];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut sealed = vec![0u8; head[8] as usize];
    r.read_exact(&mut sealed)?;
    let tag = u64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
    Ok(Some((tag, sealed)))
}

/// One worker's buffer: records `[tag BE 8][len 1][sealed]` back to back.
pub(crate) struct AliasBuffer<'a> {
    runs: &'a AliasRuns,
    arena: Vec<u8>,
    starts: Vec<u32>,
}

impl<'a> AliasBuffer<'a> {
    pub(crate) fn new(runs: &'a AliasRuns) -> Self {
        AliasBuffer {
            runs,
            arena: Vec::new(),
            starts: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, tag: u64, sealed: &[u8]) -> io::Result<()> {
        debug_assert!(!sealed.is_empty() && sealed.len() <= leakwatch_store::MAX_SEALED_LEN);
        self.starts.push(self.arena.len() as u32);
        self.arena.extend_from_slice(&tag.to_be_bytes());
        self.arena.push(sealed.len() as u8);
        self.arena.extend_from_slice(sealed);
        self.runs.pushed.fetch_add(1, Ordering::Relaxed);
        if self.arena.len() + self.starts.len() * 4 >= self.runs.budget {
            self.write_run()?;
        }
        Ok(())
    }

    fn record(&self, start: u32) -> &[u8] {
        let s = start as usize;
        &self.arena[s..s + 9 + self.arena[s + 8] as usize]
    }

    fn write_run(&mut self) -> io::Result<()> {
        if self.starts.is_empty() {
            return Ok(());
        }
        let mut starts = std::mem::take(&mut self.starts);
        // (tag, sealed) order: the tag bytes are big-endian, so compare them, then the
        // sealed bytes after the length byte.
        starts.sort_unstable_by(|&a, &b| {
            let (ra, rb) = (self.record(a), self.record(b));
            (&ra[..8], &ra[9..]).cmp(&(&rb[..8], &rb[9..]))
        });
        starts.dedup_by(|a, b| self.record(*a) == self.record(*b));
        let n = self.runs.next.fetch_add(1, Ordering::Relaxed);
        let path = self.runs.dir.join(format!("aliases-{n:06}.run"));
        let mut out = BufWriter::with_capacity(256 << 10, File::create(&path)?);
        for &s in &starts {
            out.write_all(self.record(s))?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        self.runs
            .runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path);
        self.arena.clear();
        starts.clear();
        self.starts = starts;
        Ok(())
    }

    /// Writes what is left as a last run.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.write_run()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use leakwatch_store::{AliasFile, Directory, RamDirectory};

    use super::*;

    #[test]
    fn runs_from_several_workers_merge_into_one_sorted_deduplicated_file() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = AliasRuns::new(tmp.path().to_path_buf(), 0); // smallest budget: many runs
        let mut want = std::collections::BTreeSet::new();
        std::thread::scope(|s| {
            for w in 0..3u64 {
                let runs = &runs;
                s.spawn(move || {
                    let mut b = AliasBuffer::new(runs);
                    for i in 0..20_000u64 {
                        let tag = (i * 7 + w) % 500; // repeats within and across workers
                        b.push(tag, format!("sealed-{}", i % 3000).as_bytes())
                            .unwrap();
                    }
                    b.finish().unwrap();
                });
            }
        });
        for w in 0..3u64 {
            for i in 0..20_000u64 {
                want.insert((
                    (i * 7 + w) % 500,
                    format!("sealed-{}", i % 3000).into_bytes(),
                ));
            }
        }
        assert!(runs.runs.lock().unwrap().len() > 3, "expected several runs");
        let dir = Arc::new(RamDirectory::new());
        let mut w = AliasWriter::new(dir.create("a").unwrap()).unwrap();
        runs.merge_into(&mut w).unwrap();
        assert_eq!(w.finish().unwrap().records, want.len() as u64);
        let file = AliasFile::open("a", dir.open_read("a").unwrap()).unwrap();
        let mut got = Vec::new();
        file.for_each(|t, s| got.push((t, s.to_vec()))).unwrap();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "runs removed"
        );
    }
}
