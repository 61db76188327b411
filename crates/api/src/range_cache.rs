//! The range API's cache of finished answers: each (namespace, prefix, generation, coding)
//! rendered and compressed once, then sent as shared bytes until it is evicted.
//!
//! HIBP serves almost every range request from Cloudflare's cache of per-prefix objects; this
//! is the same idea inside the server. The policy is quick_cache's S3-FIFO, which keeps the
//! prefixes that are asked for again (popular passwords concentrate on some) and lets a scan
//! of one-off prefixes pass through its small queue without flushing them. Entries weigh
//! what they cost the heap (their bytes, the heap's slack around them, bookkeeping), so
//! `--range-cache` is a memory budget, not a count.
//!
//! Invariants: an answer is cached under the generation it was rendered from, and the first
//! request that sees a newer generation drops every entry, so no answer of an older
//! generation is served after a publish to a request of the newer one. Padded answers are
//! never cached (their padding is fresh every time); their real lines are.

use std::{
    cell::RefCell,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

use axum::{body::Bytes, http::HeaderValue};
use leakwatch_store::{Namespace, Snapshot, StoreError};

use crate::compress::{Coding, encode_range_text_into};

/// Bytes an entry costs beyond its body: key, ETag, bookkeeping (an estimate, so that a
/// budget of many tiny answers still bounds memory).
const ENTRY_OVERHEAD: u64 = 256;

/// What a body costs the heap, as a fraction of its length (numerator, denominator): its
/// bytes and a third more. A cache churned through by answers of changing sizes (plain,
/// then gzip, then plain) holds holes around them that no later answer fits: the process
/// held 1.19–1.45× the bodies' bytes over a 256 MiB cache and 1.28× over 1 GiB, with
/// ~950-line ranges (`bench/range_cache_memory.sh`, BENCHMARKS #20, 2026-12-08). Weighed at 4/3, answers
/// keep the process within `--range-cache` + 64 MiB, which is what the flag promises.
const HEAP_COST: (u64, u64) = (4, 3);

thread_local! {
    /// The rooms a miss renders and compresses into, kept from one miss to the next on its
    /// thread; an answer leaves them copied at its exact length. Rendering into a fresh
    /// allocation of the range's bound and cutting it in place (as before) left the cut tail
    /// and each evicted answer as holes the next bound-sized room did not fit: a full 256 MiB
    /// cache of ~37 KB answers held 1.64–1.74× its answers' bytes in anonymous memory,
    /// 1.19–1.45× since (BENCHMARKS, #20, 2026-12-08).
    static ROOMS: RefCell<Rooms> = const { RefCell::new(Rooms { text: Vec::new(), packed: Vec::new() }) };
}

/// A thread's rooms: the range text and its compressed form.
struct Rooms {
    text: Vec<u8>,
    packed: Vec<u8>,
}

impl Rooms {
    /// Drops a room an outsized range grew past [`MAX_ROOM`].
    fn trim(&mut self) {
        for room in [&mut self.text, &mut self.packed] {
            if room.capacity() > MAX_ROOM {
                *room = Vec::new();
            }
        }
    }
}

/// The largest room kept between misses (a public-corpus range takes ~120 KB).
const MAX_ROOM: usize = 1 << 20;

/// What a range answer is, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The body, in `coding`.
    pub body: Bytes,
    /// `Content-Encoding` of the body: `Identity` when the request asked for it, and also
    /// when the answer is too small to be worth compressing.
    pub coding: Coding,
    /// Digest of the real lines (see `range::etag`), whatever the coding.
    pub etag: HeaderValue,
    /// Real lines in the answer.
    pub lines: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct AnswerKey {
    ns: Namespace,
    prefix: u32,
    generation: u64,
    coding: Coding,
}

#[derive(Debug, Clone, Copy)]
struct Weight;

impl quick_cache::Weighter<AnswerKey, Answer> for Weight {
    fn weight(&self, _: &AnswerKey, answer: &Answer) -> u64 {
        answer.body.len() as u64 * HEAP_COST.0 / HEAP_COST.1 + ENTRY_OVERHEAD
    }
}

/// The cache and its counters.
#[derive(Debug)]
pub struct RangeCache {
    /// `None` when the budget is 0 (caching off).
    cache: Option<quick_cache::sync::Cache<AnswerKey, Answer, Weight>>,
    budget: u64,
    /// The newest generation a request has seen: older entries are dropped when it moves.
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Default for RangeCache {
    fn default() -> Self {
        RangeCache::new(DEFAULT_BUDGET)
    }
}

/// The default budget: 256 MiB, a quarter of what the production example gives it.
pub const DEFAULT_BUDGET: u64 = 256 << 20;

impl RangeCache {
    /// A cache holding at most `budget` bytes of answers (0: no cache).
    pub fn new(budget: u64) -> Self {
        // A public-corpus answer is ~76 KB plain, ~40 KB compressed: the item estimate only
        // sizes the cache's tables.
        let items = (budget / (40 << 10)).clamp(16, 1 << 20) as usize;
        RangeCache {
            cache: (budget > 0)
                .then(|| quick_cache::sync::Cache::with_weighter(items, budget, Weight)),
            budget,
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The memory budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Requests answered from the cache, and not.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    /// Bytes held (as weighed) and entries.
    pub fn held(&self) -> (u64, usize) {
        self.cache
            .as_ref()
            .map_or((0, 0), |c| (c.weight(), c.len()))
    }

    /// The answer for a range of `snap` in `coding`: from the cache, or rendered (and
    /// compressed) now and cached.
    pub(crate) fn answer(
        &self,
        snap: &Snapshot,
        ns: Namespace,
        prefix: u32,
        coding: Coding,
    ) -> Result<Answer, StoreError> {
        let generation = snap.generation();
        let Some(cache) = &self.cache else {
            self.misses.fetch_add(1, Relaxed);
            return fresh(snap, ns, prefix, coding);
        };
        if self.generation.fetch_max(generation, Relaxed) < generation {
            // A newer generation is published: nothing cached before is current for it.
            cache.clear();
        }
        let key = |coding| AnswerKey {
            ns,
            prefix,
            generation,
            coding,
        };
        if let Some(found) = cache.get(&key(coding)) {
            self.hits.fetch_add(1, Relaxed);
            return Ok(found);
        }
        self.misses.fetch_add(1, Relaxed);
        let plain = match coding {
            Coding::Identity => None,
            _ => cache.peek(&key(Coding::Identity)),
        };
        let answer = match plain {
            Some(plain) => compressed(plain, coding),
            None => fresh(snap, ns, prefix, coding)?,
        };
        cache.insert(key(coding), answer.clone());
        Ok(answer)
    }
}

/// A range rendered now, in `coding` if it is worth compressing (else plain).
fn fresh(
    snap: &Snapshot,
    ns: Namespace,
    prefix: u32,
    coding: Coding,
) -> Result<Answer, StoreError> {
    ROOMS.with_borrow_mut(|rooms| {
        rooms.text.clear();
        let lines = snap.render_range(ns, prefix, &mut rooms.text)? as u32;
        let (body, coding) = match pack(&rooms.text, coding, &mut rooms.packed) {
            Some(packed) => (packed, coding),
            None => (Bytes::copy_from_slice(&rooms.text), Coding::Identity),
        };
        let answer = Answer {
            etag: crate::range::etag(ns, &rooms.text),
            body,
            coding,
            lines,
        };
        rooms.trim();
        Ok(answer)
    })
}

/// `plain` in `coding` if it is worth compressing and the encoder succeeds; else plain.
fn compressed(plain: Answer, coding: Coding) -> Answer {
    ROOMS.with_borrow_mut(|rooms| {
        let packed = pack(&plain.body, coding, &mut rooms.packed);
        rooms.trim();
        match packed {
            Some(body) => Answer {
                body,
                coding,
                ..plain
            },
            None => plain,
        }
    })
}

/// `text` in `coding` through the room `packed`, copied out at its length; `None` to send
/// it plain ([`encode_range_text_into`] says when).
fn pack(text: &[u8], coding: Coding, packed: &mut Vec<u8>) -> Option<Bytes> {
    encode_range_text_into(coding, text, packed).then(|| Bytes::copy_from_slice(packed))
}
