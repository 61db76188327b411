//! The API rate limiter's state as the catalogue keeps it across restarts and for every
//! server sharing it: each key's token bucket and each (key, scope)'s count of the current
//! UTC day (tables `key_bucket` and `key_usage`, schema version 5), to which each server adds
//! its own use. The limiter itself is the service layer's.

use crate::sql::{Exec, args};
use crate::{Catalog, Result, keys::Scope};

/// A key's rate-limit bucket as saved: its tokens at `at_ms` (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SavedBucket {
    /// The key's id.
    pub key_id: i64,
    /// Tokens left.
    pub tokens: f64,
    /// When (Unix milliseconds).
    pub at_ms: u64,
}

/// What one server took from a key's bucket since it last added its use to the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketUse {
    /// The key's id.
    pub key_id: i64,
    /// The key's requests per minute: the bucket's capacity and refill rate.
    pub rpm: u32,
    /// Tokens taken.
    pub taken: f64,
    /// When (Unix milliseconds): the shared bucket is refilled up to then first.
    pub at_ms: u64,
}

impl Catalog {
    /// Adds one server's use of the limiter since it last did so: tokens taken from each
    /// key's bucket (refilled first, to `at_ms`, at the key's rate; new buckets start
    /// full) and each (key, scope)'s requests on `day` (days since 1970, UTC). Every server
    /// of a catalogue adds its own, so a key spread over several servers is limited by the
    /// sum. A bucket may go below zero (servers took tokens at once): that debt is repaid
    /// by the refill before the next token, so over time no key exceeds its rate. Counts of
    /// days before yesterday are dropped. One transaction; each statement is atomic on
    /// its own, so concurrent servers never lose each other's use.
    pub fn add_limits(
        &mut self,
        taken: &[BucketUse],
        usage: &[(i64, Scope, u64)],
        day: i64,
    ) -> Result<()> {
        self.conn.transaction(|tx| {
            for b in taken {
                let capacity = f64::from(b.rpm.max(1));
                let refilled = "key_bucket.tokens + CASE WHEN excluded.at_ms > key_bucket.at_ms
                    THEN (excluded.at_ms - key_bucket.at_ms) * CAST(?5 AS DOUBLE PRECISION) ELSE 0 END";
                tx.execute(
                    &format!(
                        "INSERT INTO key_bucket (key_id, tokens, at_ms)
                         VALUES (?1, CAST(?2 AS DOUBLE PRECISION) - CAST(?3 AS DOUBLE PRECISION), ?4)
                         ON CONFLICT(key_id) DO UPDATE SET
                           tokens = CASE WHEN {refilled} > CAST(?2 AS DOUBLE PRECISION)
                             THEN CAST(?2 AS DOUBLE PRECISION) ELSE {refilled} END
                             - CAST(?3 AS DOUBLE PRECISION),
                           at_ms = CASE WHEN excluded.at_ms > key_bucket.at_ms
                             THEN excluded.at_ms ELSE key_bucket.at_ms END"
                    ),
                    args![b.key_id, capacity, b.taken, b.at_ms as i64, capacity / 60_000.0],
                )?;
            }
            for (key_id, scope, count) in usage {
                tx.execute(
                    "INSERT INTO key_usage (key_id, scope, day, count) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(key_id, scope, day) DO UPDATE SET count = key_usage.count + excluded.count",
                    args![key_id, scope.name(), day, *count as i64],
                )?;
            }
            tx.execute("DELETE FROM key_usage WHERE day < ?1", args![day - 1])?;
            Ok(())
        })
    }

    /// Every saved rate-limit bucket.
    pub fn saved_buckets(&self) -> Result<Vec<SavedBucket>> {
        self.conn
            .query(
                "SELECT key_id, tokens, at_ms FROM key_bucket ORDER BY key_id",
                args![],
            )?
            .iter()
            .map(|r| {
                Ok(SavedBucket {
                    key_id: r.get(0)?,
                    tokens: r.get(1)?,
                    at_ms: r.get::<i64>(2)?.max(0) as u64,
                })
            })
            .collect()
    }

    /// Each (key, scope)'s saved count on `day`.
    pub fn saved_usage(&self, day: i64) -> Result<Vec<(i64, Scope, u64)>> {
        let rows = self
            .conn
            .query(
                "SELECT key_id, scope, count FROM key_usage WHERE day = ?1 ORDER BY key_id, scope COLLATE \"binary\"",
                args![day],
            )?
            .iter()
            .map(|r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, s, n)| Some((k, Scope::from_name(&s)?, n.max(0) as u64)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Quotas, Scopes};

    #[test]
    fn quotas_parse_round_trip_and_the_limiter_state_is_saved() {
        let q = Quotas::parse("domain=50, account=1000").unwrap();
        assert_eq!(
            (q.of(Scope::Account), q.of(Scope::Domain)),
            (Some(1000), Some(50))
        );
        assert_eq!(q.of(Scope::Vendors), None);
        assert_eq!(q.to_string(), "account=1000,domain=50");
        for bad in [
            "account",
            "account=0",
            "account=x",
            "acount=5",
            "account=1,account=2",
        ] {
            assert!(Quotas::parse(bad).is_err(), "{bad:?} accepted");
        }
        let mut c = Catalog::open_in_memory().unwrap();
        let (k, _) = c.create_key("q", 5, None, &Scopes::All, None, &q).unwrap();
        assert_eq!(c.key_by_id(k.id).unwrap().unwrap().quotas, q);
        let (_, successor, _) = c.rotate_key(k.id, "2030-01-01").unwrap();
        assert_eq!(successor.quotas, q, "a successor keeps the quotas");
        // Two servers' use adds up: a bucket is refilled at the key's rate (5 a minute: one
        // every 12 s) before each server's tokens are taken, and counts are summed.
        let t = 1_700_000_000_000;
        let took = |taken: f64, at_ms: u64| BucketUse {
            key_id: k.id,
            rpm: 5,
            taken,
            at_ms,
        };
        c.add_limits(&[took(2.0, t)], &[(k.id, Scope::Account, 7)], 100)
            .unwrap();
        c.add_limits(&[took(4.0, t + 12_000)], &[(k.id, Scope::Account, 3)], 100)
            .unwrap();
        let [bucket] = c.saved_buckets().unwrap()[..] else {
            panic!("one bucket")
        };
        assert_eq!(
            (bucket.at_ms, bucket.tokens),
            (t + 12_000, 0.0),
            "5 - 2 + 1 - 4"
        );
        // Never refilled past its capacity, and a debt stays owed.
        c.add_limits(&[took(7.0, t + 3_600_000)], &[], 100).unwrap();
        assert_eq!(c.saved_buckets().unwrap()[0].tokens, -2.0);
        assert_eq!(c.saved_usage(100).unwrap(), [(k.id, Scope::Account, 10)]);
        c.add_limits(&[], &[], 102).unwrap();
        assert!(c.saved_usage(100).unwrap().is_empty());
    }
}
