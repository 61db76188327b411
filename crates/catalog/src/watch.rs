//! The bulk-extraction watch's state as the catalogue keeps it across restarts and shares it
//! between servers (issue #19, schema version 6): per API key and kind of target, the digests
//! of the distinct targets it read in the current hour, appended by every server that saw
//! them, and whether that crossed the threshold (table `key_watch`), and
//! a key's suspension (`api_key.suspended`). The watch itself is the service layer's; the
//! digests are keyed (under the audit key) before they get here, never a target.

use crate::sql::{Exec, args};
use crate::{Catalog, Result};

/// Adds version 6's suspension column and watch table, inside the caller's transaction; a
/// catalogue that has them already is left alone.
pub(crate) fn add_watch_tables(conn: &rusqlite::Connection) -> Result<()> {
    let has: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('api_key') WHERE name = 'suspended'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has {
        conn.execute_batch("ALTER TABLE api_key ADD COLUMN suspended TEXT;")?;
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS key_watch (
            key_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            hour INTEGER NOT NULL,
            seen BLOB NOT NULL,
            crossed INTEGER NOT NULL,
            PRIMARY KEY (key_id, kind)
         );",
    )?;
    Ok(())
}

/// One key's watch of one kind of target in one hour, as saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedWatch {
    /// The key's id.
    pub key_id: i64,
    /// The kind of target (`account-prefixes`, `accounts`, `domains`).
    pub kind: String,
    /// Hours since 1970 (UTC).
    pub hour: i64,
    /// The distinct targets' digests (8 bytes each of their keyed digest).
    pub seen: Vec<u64>,
    /// The threshold was crossed this hour (and told).
    pub crossed: bool,
}

impl Catalog {
    /// Adds what the watch saw of `hour` since it last added: each row's digests are
    /// appended to the key's and kind's row of that hour (a row of an earlier hour is
    /// replaced; one of a later hour is left alone), and `crossed` once set stays set. Rows
    /// of earlier hours are dropped. One transaction; servers sharing the catalogue add
    /// theirs at once without losing any, and [`Catalog::saved_watch`] gives the union (with
    /// repeats: a digest two servers saw is appended twice).
    pub fn add_watch(&mut self, rows: &[SavedWatch], hour: i64) -> Result<()> {
        self.conn.transaction(|tx| {
            // Blob concatenation: PostgreSQL's bytea `||`; SQLite's `||` makes text of the
            // bytes, which a cast turns back into the same bytes as a blob.
            let appended = match tx.dialect() {
                crate::sql::Dialect::Sqlite => "CAST(key_watch.seen || excluded.seen AS BLOB)",
                crate::sql::Dialect::Postgres => "key_watch.seen || excluded.seen",
            };
            let upsert = format!(
                "INSERT INTO key_watch (key_id, kind, hour, seen, crossed) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(key_id, kind) DO UPDATE SET
                   seen = CASE WHEN key_watch.hour = excluded.hour THEN {appended} ELSE excluded.seen END,
                   crossed = CASE WHEN key_watch.hour = excluded.hour AND key_watch.crossed <> 0
                                  THEN key_watch.crossed ELSE excluded.crossed END,
                   hour = excluded.hour
                 WHERE excluded.hour >= key_watch.hour"
            );
            for w in rows {
                let seen: Vec<u8> = w.seen.iter().flat_map(|d| d.to_le_bytes()).collect();
                tx.execute(&upsert, args![w.key_id, w.kind, w.hour, seen, w.crossed])?;
            }
            tx.execute("DELETE FROM key_watch WHERE hour < ?1", args![hour])?;
            Ok(())
        })
    }

    /// The watch's saved rows of `hour`.
    pub fn saved_watch(&self, hour: i64) -> Result<Vec<SavedWatch>> {
        self.conn
            .query(
                "SELECT key_id, kind, hour, seen, crossed FROM key_watch WHERE hour = ?1 \
                 ORDER BY key_id, kind COLLATE \"binary\"",
                args![hour],
            )?
            .iter()
            .map(|r| {
                let seen: Vec<u8> = r.get(3)?;
                Ok(SavedWatch {
                    key_id: r.get(0)?,
                    kind: r.get(1)?,
                    hour: r.get(2)?,
                    seen: seen
                        .chunks_exact(8)
                        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                    crossed: r.get(4)?,
                })
            })
            .collect()
    }

    /// Suspends key `id` with `reason` (requests with it are refused, saying why, until
    /// [`Catalog::resume_key`]). False if there is no such key.
    pub fn suspend_key(&mut self, id: i64, reason: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE api_key SET suspended = ?2 WHERE id = ?1",
            args![id, reason],
        )? > 0)
    }

    /// Lifts key `id`'s suspension. False if it was not suspended.
    pub fn resume_key(&mut self, id: i64) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE api_key SET suspended = NULL WHERE id = ?1 AND suspended IS NOT NULL",
            args![id],
        )? > 0)
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        Catalog,
        keys::{Quotas, Scopes},
    };

    use super::SavedWatch;

    #[test]
    fn the_watch_keeps_its_hour_and_a_suspension_lasts_until_resumed() {
        let mut c = Catalog::open_in_memory().unwrap();
        let (k, _) = c
            .create_key("w", 5, None, &Scopes::All, None, &Quotas::none())
            .unwrap();
        let row = SavedWatch {
            key_id: k.id,
            kind: "accounts".into(),
            hour: 500_000,
            seen: vec![1, u64::MAX, 7],
            crossed: true,
        };
        c.add_watch(std::slice::from_ref(&row), 500_000).unwrap();
        assert_eq!(c.saved_watch(500_000).unwrap(), std::slice::from_ref(&row));
        // Another server's digests are appended; crossed stays set.
        let other = SavedWatch {
            seen: vec![7, 8],
            crossed: false,
            ..row.clone()
        };
        c.add_watch(std::slice::from_ref(&other), 500_000).unwrap();
        let both = SavedWatch {
            seen: vec![1, u64::MAX, 7, 7, 8],
            ..row.clone()
        };
        assert_eq!(c.saved_watch(500_000).unwrap(), [both]);
        // A server still in the hour before changes nothing.
        let late = SavedWatch {
            hour: 499_999,
            seen: vec![5],
            ..row.clone()
        };
        c.add_watch(std::slice::from_ref(&late), 499_999).unwrap();
        assert_eq!(c.saved_watch(500_000).unwrap()[0].seen.len(), 5);
        // The next hour replaces the row, then drops what is older.
        let next = SavedWatch {
            hour: 500_001,
            seen: vec![3],
            crossed: false,
            ..row.clone()
        };
        c.add_watch(std::slice::from_ref(&next), 500_001).unwrap();
        assert!(c.saved_watch(500_000).unwrap().is_empty());
        assert_eq!(c.saved_watch(500_001).unwrap(), [next]);

        assert_eq!(c.key_by_id(k.id).unwrap().unwrap().suspended, None);
        assert!(c.suspend_key(k.id, "too many accounts").unwrap());
        assert_eq!(
            c.key_by_id(k.id).unwrap().unwrap().suspended.as_deref(),
            Some("too many accounts")
        );
        assert!(c.resume_key(k.id).unwrap());
        assert!(!c.resume_key(k.id).unwrap(), "resumed once");
        assert_eq!(c.key_by_id(k.id).unwrap().unwrap().suspended, None);
    }
}
