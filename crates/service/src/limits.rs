//! What an API key may still do now: its requests per minute (a token bucket) and its daily
//! quota in each scope it has one for. The state lives in memory; every second (the server's
//! reload loop) and when it stops, the server adds its use since the last time to the
//! catalogue and takes in the totals there, which hold every server's use: a restart neither
//! refills a bucket nor forgets a day's use, and a key spread over N servers sharing a
//! catalogue is limited by their sum, not N times over (each server may overshoot by what
//! it admits within one such interval). Times are wall clock (Unix milliseconds), which a
//! restart keeps; days are UTC.

use std::{collections::HashMap, sync::Mutex};

use leakwatch_catalog::{
    Catalog, CatalogError,
    keys::{ApiKey, BucketUse, Scope},
};

/// Why a request is not admitted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limited {
    /// The key's requests per minute are used up; a token is free in this many seconds.
    Rate {
        /// Whole seconds until the next request may go.
        retry_after: u64,
    },
    /// The key's daily quota in `scope` is used up until 00:00 UTC.
    Quota {
        /// The scope.
        scope: Scope,
        /// Its quota.
        limit: u64,
        /// Whole seconds until midnight UTC.
        retry_after: u64,
    },
}

/// Every API key's bucket and today's counts per scope.
#[derive(Debug, Default)]
pub struct KeyLimits {
    buckets: Mutex<HashMap<i64, Bucket>>,
    usage: Mutex<HashMap<(i64, Scope), Count>>,
}

/// A key's token bucket as this server knows it.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens at `at` (below zero: a debt every server's takes ran up).
    tokens: f64,
    /// Unix milliseconds.
    at: u64,
    /// The key's requests per minute when a token was last taken here (0: none yet).
    rpm: u32,
    /// Tokens taken here and not yet added to the catalogue.
    unsynced: f64,
}

/// A (key, scope)'s requests on `day`.
#[derive(Debug, Clone, Copy)]
struct Count {
    day: i64,
    /// Every server's count as the catalogue last said (this server's added ones included).
    shared: u64,
    /// Requests admitted here and not yet added to the catalogue.
    unsynced: u64,
}

const DAY_MS: u64 = 86_400_000;

impl KeyLimits {
    /// The state saved in `catalog` (for today, at `now_ms`).
    pub fn load(catalog: &Catalog, now_ms: u64) -> Result<KeyLimits, CatalogError> {
        let limits = KeyLimits::default();
        limits.take_in(catalog, now_ms)?;
        Ok(limits)
    }

    /// Takes in the catalogue's totals, which hold every server's use: this server's own
    /// use not yet added stays on top of them.
    fn take_in(&self, catalog: &Catalog, now_ms: u64) -> Result<(), CatalogError> {
        let day = (now_ms / DAY_MS) as i64;
        let saved_buckets = catalog.saved_buckets()?;
        let saved_usage = catalog.saved_usage(day)?;
        {
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            for b in saved_buckets {
                let mine = buckets.entry(b.key_id).or_insert(Bucket {
                    tokens: 0.0,
                    at: 0,
                    rpm: 0,
                    unsynced: 0.0,
                });
                mine.tokens = b.tokens - mine.unsynced;
                mine.at = b.at_ms;
            }
        }
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        for (key, scope, count) in saved_usage {
            let mine = usage.entry((key, scope)).or_insert(Count {
                day,
                shared: 0,
                unsynced: 0,
            });
            if mine.day != day {
                *mine = Count {
                    day,
                    shared: 0,
                    unsynced: 0,
                };
            }
            mine.shared = count;
        }
        Ok(())
    }

    /// Admits one request of `key` in `scope` (none: a route of no scope, which no quota
    /// covers) at `now_ms`, or says why not. The quota is checked before a token is taken,
    /// and counted only once the request is admitted.
    pub fn admit(&self, key: &ApiKey, scope: Option<Scope>, now_ms: u64) -> Result<(), Limited> {
        let day = (now_ms / DAY_MS) as i64;
        let Some((scope, limit)) = scope.and_then(|s| Some((s, key.quotas.of(s)?))) else {
            // No quota here: the bucket alone (the day's counts are not touched).
            return self.take_token(key, now_ms);
        };
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let used = match usage.get(&(key.id, scope)) {
            Some(c) if c.day == day => c.shared + c.unsynced,
            _ => 0,
        };
        if used >= limit {
            let midnight = (day as u64 + 1) * DAY_MS;
            return Err(Limited::Quota {
                scope,
                limit,
                retry_after: (midnight - now_ms).div_ceil(1000),
            });
        }
        self.take_token(key, now_ms)?;
        let count = usage.entry((key.id, scope)).or_insert(Count {
            day,
            shared: 0,
            unsynced: 0,
        });
        if count.day != day {
            *count = Count {
                day,
                shared: 0,
                unsynced: 0,
            };
        }
        count.unsynced += 1;
        Ok(())
    }

    /// Takes a token from `key`'s bucket (up to its rpm, refilled continuously; new keys
    /// start full).
    fn take_token(&self, key: &ApiKey, now_ms: u64) -> Result<(), Limited> {
        let capacity = f64::from(key.rpm.max(1));
        let per_ms = capacity / 60_000.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key.id).or_insert(Bucket {
            tokens: capacity,
            at: now_ms,
            rpm: key.rpm,
            unsynced: 0.0,
        });
        bucket.rpm = key.rpm;
        // A clock that went back refills nothing (and takes nothing away).
        let elapsed = now_ms.saturating_sub(bucket.at) as f64;
        bucket.tokens = (bucket.tokens + elapsed * per_ms).min(capacity);
        bucket.at = now_ms.max(bucket.at);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.unsynced += 1.0;
            Ok(())
        } else {
            Err(Limited::Rate {
                retry_after: (((1.0 - bucket.tokens) / per_ms) / 1000.0).ceil().max(1.0) as u64,
            })
        }
    }

    /// Adds this server's use since the last save to `catalog` and takes in the totals
    /// there (as of `now_ms`). Use that could not be added stays to be added next time.
    pub fn save(&self, catalog: &mut Catalog, now_ms: u64) -> Result<(), CatalogError> {
        let day = (now_ms / DAY_MS) as i64;
        let taken: Vec<BucketUse> = self
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, b)| b.unsynced > 0.0 && b.rpm > 0)
            .map(|(&key_id, b)| BucketUse {
                key_id,
                rpm: b.rpm,
                taken: b.unsynced,
                at_ms: now_ms,
            })
            .collect();
        let usage: Vec<(i64, Scope, u64)> = self
            .usage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, c)| c.day == day && c.unsynced > 0)
            .map(|(&(key, scope), c)| (key, scope, c.unsynced))
            .collect();
        if !taken.is_empty() || !usage.is_empty() {
            catalog.add_limits(&taken, &usage, day)?;
            // Added: what was taken meanwhile stays to be added next time.
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            for t in &taken {
                if let Some(b) = buckets.get_mut(&t.key_id) {
                    b.unsynced -= t.taken;
                }
            }
            drop(buckets);
            let mut counts = self.usage.lock().unwrap_or_else(|e| e.into_inner());
            for (key, scope, n) in &usage {
                if let Some(c) = counts.get_mut(&(*key, *scope))
                    && c.day == day
                {
                    c.unsynced -= n;
                    c.shared += n;
                }
            }
        }
        self.take_in(catalog, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakwatch_catalog::keys::{Quotas, Scopes};

    fn key(catalog: &mut Catalog, rpm: u32, quotas: &str) -> ApiKey {
        catalog
            .create_key(
                "k",
                rpm,
                None,
                &Scopes::All,
                None,
                &Quotas::parse(quotas).unwrap(),
            )
            .unwrap()
            .0
    }

    #[test]
    fn a_quota_counts_its_scope_per_utc_day_and_survives_a_reload() {
        let mut c = Catalog::open_in_memory().unwrap();
        let k = key(&mut c, 1000, "account=2");
        let noon = 20_000 * DAY_MS + DAY_MS / 2;
        let limits = KeyLimits::load(&c, noon).unwrap();
        for _ in 0..2 {
            limits.admit(&k, Some(Scope::Account), noon).unwrap();
        }
        let refused = limits.admit(&k, Some(Scope::Account), noon);
        assert_eq!(
            refused,
            Err(Limited::Quota {
                scope: Scope::Account,
                limit: 2,
                retry_after: 43_200
            })
        );
        // Other scopes and routes of no scope are not counted against it.
        limits.admit(&k, Some(Scope::Domain), noon).unwrap();
        limits.admit(&k, None, noon).unwrap();
        limits.save(&mut c, noon).unwrap();
        let again = KeyLimits::load(&c, noon + 1000).unwrap();
        assert!(matches!(
            again.admit(&k, Some(Scope::Account), noon + 1000),
            Err(Limited::Quota { .. })
        ));
        // The next UTC day starts from nothing.
        again
            .admit(&k, Some(Scope::Account), noon + DAY_MS / 2)
            .unwrap();
    }

    #[test]
    fn a_bucket_is_not_refilled_by_a_restart() {
        let mut c = Catalog::open_in_memory().unwrap();
        let k = key(&mut c, 2, "");
        let t = 1_700_000_000_000;
        let limits = KeyLimits::load(&c, t).unwrap();
        limits.admit(&k, None, t).unwrap();
        limits.admit(&k, None, t).unwrap();
        assert_eq!(
            limits.admit(&k, None, t),
            Err(Limited::Rate { retry_after: 30 })
        );
        limits.save(&mut c, t).unwrap();
        let restarted = KeyLimits::load(&c, t + 5_000).unwrap();
        assert_eq!(
            restarted.admit(&k, None, t + 5_000),
            Err(Limited::Rate { retry_after: 25 })
        );
        // Refilled at 2 per minute: one token after 30 s.
        restarted.admit(&k, None, t + 30_000).unwrap();
    }

    #[test]
    fn two_servers_sharing_a_catalogue_are_limited_by_their_sum_not_each_by_the_whole() {
        // Two servers on one catalogue (a shared data directory here; PostgreSQL takes the
        // same statements, crates/catalog/tests/postgres.rs).
        let mut c = Catalog::open_in_memory().unwrap();
        let k = key(&mut c, 6, "account=10");
        let t = 20_000 * DAY_MS + DAY_MS / 2;
        let (a, b) = (
            KeyLimits::load(&c, t).unwrap(),
            KeyLimits::load(&c, t).unwrap(),
        );
        for _ in 0..4 {
            a.admit(&k, Some(Scope::Account), t).unwrap();
        }
        a.save(&mut c, t).unwrap();
        b.save(&mut c, t).unwrap();
        // B has seen A's 4 tokens of 6 and 4 requests of 10: two more, then the bucket.
        b.admit(&k, Some(Scope::Account), t).unwrap();
        b.admit(&k, Some(Scope::Account), t).unwrap();
        assert_eq!(
            b.admit(&k, Some(Scope::Account), t),
            Err(Limited::Rate { retry_after: 10 })
        );
        // A minute later both buckets are full again; the day's count is 6 of 10 for both.
        let later = t + 60_000;
        b.save(&mut c, later).unwrap();
        a.save(&mut c, later).unwrap();
        for _ in 0..4 {
            a.admit(&k, Some(Scope::Account), later).unwrap();
        }
        a.save(&mut c, later).unwrap();
        b.save(&mut c, later).unwrap();
        assert!(matches!(
            b.admit(&k, Some(Scope::Account), later),
            Err(Limited::Quota { limit: 10, .. })
        ));
        // Both admitting before either saves overshoots by at most what one interval
        // admits; the debt then holds both back until the refill repays it.
        let k2 = key(&mut c, 6, "");
        for server in [&a, &b] {
            for _ in 0..6 {
                server.admit(&k2, None, later).unwrap();
            }
        }
        a.save(&mut c, later).unwrap();
        b.save(&mut c, later).unwrap();
        a.save(&mut c, later).unwrap();
        for server in [&a, &b] {
            assert_eq!(
                server.admit(&k2, None, later + 30_000),
                Err(Limited::Rate { retry_after: 40 }),
                "a debt of 6, 3 of it repaid in 30 s: a token is free in 40 s"
            );
        }
    }
}
