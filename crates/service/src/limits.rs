//! What an API key may still do now: its requests per minute (a token bucket) and its daily
//! quota in each scope it has one for. The state lives in memory, is saved to the catalogue
//! (at most every second, by the server's reload loop, and when it stops) and is read back
//! at start, so a restart neither refills a bucket nor forgets a day's use. Times are wall
//! clock (Unix milliseconds), which a restart keeps; days are UTC.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use leakwatch_catalog::{
    Catalog, CatalogError,
    keys::{ApiKey, SavedBucket, Scope},
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
    buckets: Mutex<HashMap<i64, (f64, u64)>>,
    usage: Mutex<HashMap<(i64, Scope), (i64, u64)>>,
    changed: AtomicBool,
}

const DAY_MS: u64 = 86_400_000;

impl KeyLimits {
    /// The state saved in `catalog` (for today, at `now_ms`).
    pub fn load(catalog: &Catalog, now_ms: u64) -> Result<KeyLimits, CatalogError> {
        let day = (now_ms / DAY_MS) as i64;
        let limits = KeyLimits::default();
        {
            let mut buckets = limits.buckets.lock().unwrap_or_else(|e| e.into_inner());
            for b in catalog.saved_buckets()? {
                buckets.insert(b.key_id, (b.tokens, b.at_ms));
            }
            let mut usage = limits.usage.lock().unwrap_or_else(|e| e.into_inner());
            for (key, scope, count) in catalog.saved_usage(day)? {
                usage.insert((key, scope), (day, count));
            }
        }
        Ok(limits)
    }

    /// Admits one request of `key` in `scope` (none: a route of no scope, which no quota
    /// covers) at `now_ms`, or says why not. The quota is checked before a token is taken,
    /// and counted only once the request is admitted.
    pub fn admit(&self, key: &ApiKey, scope: Option<Scope>, now_ms: u64) -> Result<(), Limited> {
        let day = (now_ms / DAY_MS) as i64;
        let Some((scope, limit)) = scope.and_then(|s| Some((s, key.quotas.of(s)?))) else {
            // No quota here: the bucket alone (the day's counts are not touched).
            self.take_token(key, now_ms)?;
            self.changed.store(true, Ordering::Relaxed);
            return Ok(());
        };
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let used = match usage.get(&(key.id, scope)) {
            Some(&(d, n)) if d == day => n,
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
        let entry = usage.entry((key.id, scope)).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        entry.1 += 1;
        self.changed.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Takes a token from `key`'s bucket (up to its rpm, refilled continuously; new keys
    /// start full).
    fn take_token(&self, key: &ApiKey, now_ms: u64) -> Result<(), Limited> {
        let capacity = f64::from(key.rpm.max(1));
        let per_ms = capacity / 60_000.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = buckets.entry(key.id).or_insert((capacity, now_ms));
        // A clock that went back refills nothing (and takes nothing away).
        let elapsed = now_ms.saturating_sub(*at) as f64;
        *tokens = (*tokens + elapsed * per_ms).min(capacity);
        *at = now_ms.max(*at);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Limited::Rate {
                retry_after: (((1.0 - *tokens) / per_ms) / 1000.0).ceil().max(1.0) as u64,
            })
        }
    }

    /// Saves the state to `catalog` if it changed since the last save (as of `now_ms`).
    pub fn save(&self, catalog: &mut Catalog, now_ms: u64) -> Result<(), CatalogError> {
        if !self.changed.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let day = (now_ms / DAY_MS) as i64;
        let buckets: Vec<SavedBucket> = self
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(&key_id, &(tokens, at_ms))| SavedBucket {
                key_id,
                tokens,
                at_ms,
            })
            .collect();
        let usage: Vec<(i64, Scope, u64)> = self
            .usage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, (d, _))| *d == day)
            .map(|(&(key, scope), &(_, n))| (key, scope, n))
            .collect();
        let saved = catalog.save_limits(&buckets, &usage, day);
        if saved.is_err() {
            self.changed.store(true, Ordering::Relaxed);
        }
        saved
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
}
