//! The API rate limiter's state as the catalogue keeps it across restarts: each key's token
//! bucket and each (key, scope)'s count of the current UTC day (tables `key_bucket` and
//! `key_usage`, schema version 5). The limiter itself is the service layer's.

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

impl Catalog {
    /// Saves the limiter's state, so a restart neither refills a bucket nor forgets a day's
    /// use: every bucket, and each (key, scope)'s count on `day` (days since 1970, UTC).
    /// Counts of days before yesterday are dropped. One transaction.
    pub fn save_limits(
        &mut self,
        buckets: &[SavedBucket],
        usage: &[(i64, Scope, u64)],
        day: i64,
    ) -> Result<()> {
        self.conn.transaction(|tx| {
            for b in buckets {
                tx.execute(
                    "INSERT INTO key_bucket (key_id, tokens, at_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key_id) DO UPDATE SET tokens = excluded.tokens, at_ms = excluded.at_ms",
                    args![b.key_id, b.tokens, b.at_ms as i64],
                )?;
            }
            for (key_id, scope, count) in usage {
                tx.execute(
                    "INSERT INTO key_usage (key_id, scope, day, count) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(key_id, scope, day) DO UPDATE SET count = CASE
                        WHEN key_usage.count > excluded.count THEN key_usage.count
                        ELSE excluded.count END",
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
        let bucket = SavedBucket {
            key_id: k.id,
            tokens: 1.5,
            at_ms: 1_700_000_000_123,
        };
        c.save_limits(&[bucket], &[(k.id, Scope::Account, 7)], 100)
            .unwrap();
        // A count never goes down (two servers saving), and old days are dropped.
        c.save_limits(&[], &[(k.id, Scope::Account, 3)], 100)
            .unwrap();
        assert_eq!(c.saved_buckets().unwrap(), [bucket]);
        assert_eq!(c.saved_usage(100).unwrap(), [(k.id, Scope::Account, 7)]);
        c.save_limits(&[], &[], 102).unwrap();
        assert!(c.saved_usage(100).unwrap().is_empty());
    }
}
