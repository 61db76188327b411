//! The range API's cache of finished answers: each (namespace, prefix, generation, coding)
//! rendered and compressed once, then sent as shared bytes until it is evicted.
//!
//! HIBP serves almost every range request from Cloudflare's cache of per-prefix objects; this
//! is the same idea inside the server. The policy is quick_cache's S3-FIFO, which keeps the
//! prefixes that are asked for again (popular passwords concentrate on some) and lets a scan
//! of one-off prefixes pass through its small queue without flushing them. Entries weigh
//! their bytes, so `--range-cache` is a memory budget, not a count.
//!
//! Invariants: an answer is cached under the generation it was rendered from, and the first
//! request that sees a newer generation drops every entry, so no answer of an older
//! generation is served after a publish to a request of the newer one. Padded answers are
//! never cached (their padding is fresh every time); their real lines are.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use axum::{body::Bytes, http::HeaderValue};
use leakwatch_store::{Namespace, Snapshot, StoreError};

use crate::compress::{Coding, MIN_COMPRESSED_LEN, encode_range_text};

/// Bytes an entry costs beyond its body: key, ETag, bookkeeping (an estimate, so that a
/// budget of many tiny answers still bounds memory).
const ENTRY_OVERHEAD: u64 = 256;

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
        answer.body.len() as u64 + ENTRY_OVERHEAD
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
            let plain = render(snap, ns, prefix)?;
            return Ok(compressed(plain, coding));
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
        let plain = match plain {
            Some(plain) => plain,
            None => render(snap, ns, prefix)?,
        };
        let answer = compressed(plain, coding);
        cache.insert(key(coding), answer.clone());
        Ok(answer)
    }
}

/// A range rendered as text, with its ETag.
pub(crate) fn render(snap: &Snapshot, ns: Namespace, prefix: u32) -> Result<Answer, StoreError> {
    // Rendered into its own allocation (sized once from the range's key count), then cut to
    // its length in place, so a cache entry weighs what it holds without the copy out of a
    // reusable buffer that this replaced (3.5% of the server's CPU under uniform load).
    let mut body = Vec::new();
    let lines = snap.render_range(ns, prefix, &mut body)?;
    body.shrink_to_fit();
    Ok(Answer {
        etag: crate::range::etag(ns, &body),
        body: Bytes::from(body),
        coding: Coding::Identity,
        lines: lines as u32,
    })
}

/// `plain` in `coding` if it is worth compressing and the encoder succeeds; else plain.
pub(crate) fn compressed(plain: Answer, coding: Coding) -> Answer {
    if plain.body.len() < MIN_COMPRESSED_LEN {
        return plain;
    }
    match encode_range_text(coding, &plain.body) {
        Some(mut body) => Answer {
            body: {
                body.shrink_to_fit(); // cached: hold no spare capacity the weight misses
                Bytes::from(body)
            },
            coding,
            ..plain
        },
        None => plain,
    }
}
