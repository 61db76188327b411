//! The spilled records into segments: each namespace's partitions sorted in parallel, in
//! key order, encoded into groups on the sorter threads, and appended to one new segment
//! per namespace (an account segment with its breach's postings), counting what is new.

use std::{
    io,
    sync::{atomic::Ordering, mpsc},
};

use leakwatch_store::{Key, Namespace, Postings, Snapshot, StoreWriter, breach_ref};

use crate::{
    IngestError, Summary, io_err, progress,
    spill::{self, PART_BITS, PARTS, Spill},
    workers::PRIMARY,
};

/// Writes one new segment per namespace with spilled records, in key order, counting the
/// distinct and new keys of each (new: in no segment of `writer`'s current generation) into
/// `summary`; an account segment gets the postings of `breach_id`. Returns the segments'
/// metadata, to publish, and the number of identifiers that were primary on some line.
pub(crate) fn write_segments(
    writer: &mut StoreWriter,
    spills: &[Spill],
    hll: &[spill::Hll],
    breach_id: Option<(u32, bool)>,
    threads_and_memory: (usize, usize),
    progress: &progress::Progress,
    summary: &mut Summary,
) -> Result<(Vec<leakwatch_store::SegmentMeta>, u64), IngestError> {
    let before = Snapshot::open(writer.directory().as_ref())?;
    let (threads, memory) = threads_and_memory;
    let mut added = Vec::new();
    // Distinct primary identifiers of this import: the breach's PwnCount when the breach is
    // new to the store, without decoding the segment just written.
    let mut primaries = 0u64;
    for (i, ns) in Namespace::ALL.into_iter().enumerate() {
        let spill = &spills[i];
        if spill.records.load(Ordering::Relaxed) == 0 {
            continue;
        }
        progress.phase(&format!("sorting {ns}"), PARTS as u64);
        let expected = hll.get(i).map_or(0, spill::Hll::estimate);
        let (name, mut seg) = writer.create_segment(ns, expected)?;
        let mut existing: Vec<_> = before
            .segments(ns)
            .iter()
            .map(|s| s.iter().peekable())
            .collect();
        let ns_summary = match ns {
            Namespace::Sha1 => &mut summary.sha1,
            Namespace::Ntlm => &mut summary.ntlm,
            Namespace::Account => &mut summary.accounts,
            Namespace::Credential => &mut summary.credentials,
        };
        // An account's value is its breach set: `{breach, primary}` (1) or
        // `{breach, secondary}` (2); the spill count carries PRIMARY for primary occurrences.
        let is_account = ns == Namespace::Account;
        let value_of = move |count: u64| match (is_account, count >= PRIMARY) {
            (false, _) => count,
            (true, true) => 1,
            (true, false) => 2,
        };
        // Sorter threads encode whole groups when partitions hold whole groups (all but tiny
        // segments): the caller then only appends their bytes.
        let encoder = seg.group_encoder();
        let encode = move |sorted: &spill::Sorted| -> Result<Encoded, IngestError> {
            let mut keys = Vec::with_capacity(sorted.records());
            let mut primaries = 0u64;
            sorted.for_each(|key, count| -> Result<(), IngestError> {
                primaries += u64::from(is_account && count >= PRIMARY);
                keys.push((key, value_of(count)));
                Ok(())
            })?;
            Ok(Encoded {
                groups: encoder.encode(&keys)?,
                distinct: keys.len() as u64,
                primaries,
            })
        };
        let encode: Option<&EncodeFn<'_>> =
            encoder.whole_groups_within(PART_BITS).then_some(&encode);
        let primaries = &mut primaries;
        let walk_existing = !existing.is_empty();
        let mut note = |key: Key, count: u64| -> Result<u64, IngestError> {
            let mut seen = false;
            for it in &mut existing {
                while let Some(Ok((k, _))) = it.peek() {
                    if *k >= key {
                        seen |= *k == key;
                        break;
                    }
                    it.next();
                }
                if let Some(Err(_)) = it.peek() {
                    return Err(it
                        .next()
                        .and_then(Result::err)
                        .map(IngestError::Store)
                        .unwrap_or_else(|| IngestError::Invalid("segment read".into())));
                }
            }
            ns_summary.distinct += 1;
            ns_summary.new += u64::from(!seen);
            *primaries += u64::from(is_account && count >= PRIMARY);
            Ok(value_of(count))
        };
        // Keys of encoded partitions when no older segment asks for a walk: all new.
        let (mut bulk_distinct, mut bulk_primaries) = (0u64, 0u64);
        let mut take = |piece: Taken<'_>| -> Result<(), IngestError> {
            match piece {
                Taken::Key(key, count) => {
                    let value = note(key, count)?;
                    seg.push(key, value)?;
                }
                Taken::Encoded(sorted, encoded) => {
                    if walk_existing {
                        // Which keys are new to the store: a walk beside the older segments.
                        sorted.for_each(|key, count| note(key, count).map(|_| ()))?;
                    } else {
                        bulk_distinct += encoded.distinct;
                        bulk_primaries += encoded.primaries;
                    }
                    seg.append_encoded(encoded.groups)?;
                }
            }
            Ok(())
        };
        sort_in_order(spill, threads, memory, progress, encode, &mut take)?;
        ns_summary.distinct += bulk_distinct;
        ns_summary.new += bulk_distinct;
        *primaries += bulk_primaries;
        let stats = seg.finish()?;
        ns_summary.bytes = stats.bytes;
        let mut meta = StoreWriter::segment_meta(name, ns, stats);
        if let (true, Some((id, _))) = (is_account, breach_id) {
            meta.postings = Some(writer.create_postings(&Postings::new([
                vec![breach_ref(id, true)],
                vec![breach_ref(id, false)],
            ]))?);
        }
        added.push(meta);
    }
    Ok((added, primaries))
}

/// A partition's groups, encoded by a sorter thread, with what the import's summary needs.
struct Encoded {
    groups: leakwatch_store::EncodedGroups,
    distinct: u64,
    primaries: u64,
}

/// What encodes a sorted partition on a sorter thread.
type EncodeFn<'a> = dyn Fn(&spill::Sorted) -> Result<Encoded, IngestError> + Sync + 'a;

/// What [`sort_in_order`] hands its caller, in key order.
enum Taken<'a> {
    /// One distinct key and its summed count (partitions no sorter encoded).
    Key(Key, u64),
    /// A whole partition, sorted and encoded.
    Encoded(&'a spill::Sorted, Encoded),
}

/// Feeds every partition of `spill`, sorted, to `take` in key order. Sorter threads work up
/// to `2 × threads` partitions ahead of the caller, and with `encode` they encode each
/// partition's groups too, so the caller only appends them; a partition too big for a
/// sorter's share of `memory` is left to the caller, who sorts it in bounded pieces and takes
/// it a key at a time.
fn sort_in_order(
    spill: &Spill,
    threads: usize,
    memory: usize,
    progress: &progress::Progress,
    encode: Option<&EncodeFn<'_>>,
    take: &mut dyn FnMut(Taken<'_>) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    use std::sync::{Condvar, Mutex, atomic::AtomicBool, atomic::AtomicUsize};
    enum Piece {
        Sorted(spill::Sorted),
        Encoded(spill::Sorted, Result<Encoded, IngestError>),
        TooBig,
    }
    let per_thread = (memory / 2 / (threads + 1)) as u64;
    let lookahead = 2 * threads;
    let next = AtomicUsize::new(0);
    let encoded = Mutex::new(0usize);
    let advanced = Condvar::new();
    let abort = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, io::Result<Piece>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, encoded, advanced, abort) = (&next, &encoded, &advanced, &abort);
            scope.spawn(move || {
                loop {
                    let p = next.fetch_add(1, Ordering::Relaxed);
                    if p >= PARTS || abort.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut done = encoded.lock().unwrap_or_else(|e| e.into_inner());
                    while p >= *done + lookahead && !abort.load(Ordering::Relaxed) {
                        done = advanced.wait(done).unwrap_or_else(|e| e.into_inner());
                    }
                    drop(done);
                    let piece = if spill.part_bytes(p) * spill::SORT_EXPANSION > per_thread {
                        Ok(Piece::TooBig)
                    } else {
                        spill.take_sorted(p).map(|sorted| match encode {
                            Some(encode) => {
                                let encoded = encode(&sorted);
                                Piece::Encoded(sorted, encoded)
                            }
                            None => Piece::Sorted(sorted),
                        })
                    };
                    if tx.send((p, piece)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let result = (|| -> Result<(), IngestError> {
            for want in 0..PARTS {
                let piece = loop {
                    if let Some(piece) = pending.remove(&want) {
                        break piece;
                    }
                    let (p, piece) = rx
                        .recv()
                        .map_err(|_| IngestError::Invalid("a sort thread stopped early".into()))?;
                    pending.insert(p, piece);
                };
                let mut one_by_one = |sorted: &spill::Sorted| {
                    sorted.for_each(|key, count| take(Taken::Key(key, count)))
                };
                match piece.map_err(io_err("reading spill files"))? {
                    Piece::Sorted(sorted) => one_by_one(&sorted)?,
                    Piece::Encoded(sorted, encoded) => take(Taken::Encoded(&sorted, encoded?))?,
                    Piece::TooBig => spill
                        .take_sorted_bounded(want, per_thread, &mut |sorted| {
                            one_by_one(&sorted).map_err(|e| io::Error::other(e.to_string()))
                        })
                        .map_err(io_err("sorting spill files"))?,
                }
                *encoded.lock().unwrap_or_else(|e| e.into_inner()) = want + 1;
                advanced.notify_all();
                progress.advance(1);
            }
            Ok(())
        })();
        if result.is_err() {
            abort.store(true, Ordering::Relaxed);
            advanced.notify_all();
        }
        drop(rx);
        result
    })
}
