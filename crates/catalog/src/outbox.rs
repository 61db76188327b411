//! The outbox: notifications waiting to be delivered, persisted so that none is lost or
//! sent twice across restarts.
//!
//! A row holds an opaque payload (the caller seals it: it names a recipient), an optional
//! deduplication key, and its delivery state. [`Catalog::enqueue`] with a dedupe key that
//! is already present adds nothing, which is how "one notification per subscriber and
//! breach" holds however often a breach is published. A worker [claims](Catalog::claim_due)
//! due rows for a lease; a worker that dies mid-delivery leaves its rows to be claimed
//! again when the lease runs out, or at once when the next worker starts
//! ([`Catalog::release_claims`]: one worker per catalogue, which the server ensures with a
//! lock file). On PostgreSQL every replica runs a worker: claims take the rows they lease
//! with `FOR UPDATE SKIP LOCKED`, so two workers never claim the same row, and a dead
//! worker's rows wait for their lease to run out (nothing is released at start). Delivered and abandoned rows keep their dedupe key but lose their payload.
//! This module neither seals, composes nor sends anything.

use crate::sql::{Dialect, Exec, args};
use crate::{Catalog, Result};

/// A notification claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Row id: stable, used in message ids so a receiver can recognise a repeat.
    pub id: i64,
    /// The payload as enqueued.
    pub payload: Vec<u8>,
    /// Delivery attempts so far, this one included.
    pub attempts: u32,
    /// When it was enqueued (Unix seconds).
    pub created: u64,
}

/// How many notifications are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting or being delivered.
    pub pending: u64,
    /// Delivered.
    pub delivered: u64,
    /// Abandoned after too many failures.
    pub failed: u64,
}

impl Catalog {
    /// Queues `payload`, due at once. With a `dedupe` key already in the outbox (pending,
    /// delivered or failed), adds nothing and returns `None`.
    pub fn enqueue(
        &mut self,
        dedupe: Option<&[u8]>,
        payload: &[u8],
        now: u64,
    ) -> Result<Option<i64>> {
        let added = self.conn.query_opt(
            "INSERT INTO outbox (dedupe, payload, next_attempt, created) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT DO NOTHING RETURNING id",
            args![dedupe, payload, now as i64],
        )?;
        added.map(|r| r.get(0)).transpose()
    }

    /// Claims up to `limit` due notifications for `lease` seconds: they are not due again
    /// until then, unless [`Catalog::reschedule`]d. Oldest first.
    pub fn claim_due(&mut self, now: u64, lease: u64, limit: usize) -> Result<Vec<Pending>> {
        const DUE: &str = "SELECT id, payload, attempts, created FROM outbox
             WHERE delivered IS NULL AND failed IS NULL AND next_attempt <= ?1
             ORDER BY next_attempt, id LIMIT ?2";
        // SQLite's writers take turns (one worker per catalogue, too); PostgreSQL's workers
        // claim at once, and a row one of them is claiming is skipped, never claimed twice.
        let due = match self.conn.dialect() {
            Dialect::Sqlite => DUE.to_owned(),
            Dialect::Postgres => format!("{DUE} FOR UPDATE SKIP LOCKED"),
        };
        self.conn.transaction(|tx| {
            let rows = tx.query(&due, args![now as i64, limit as i64])?;
            let mut claimed = Vec::with_capacity(rows.len());
            for r in &rows {
                let p = Pending {
                    id: r.get(0)?,
                    payload: r.get(1)?,
                    attempts: r.get::<u32>(2)? + 1,
                    created: r.get::<i64>(3)? as u64,
                };
                tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, claimed = 1 WHERE id = ?1",
                    args![p.id, (now + lease) as i64],
                )?;
                claimed.push(p);
            }
            Ok(claimed)
        })
    }

    /// Records a delivery; the payload is erased, the dedupe key kept.
    pub fn mark_delivered(&mut self, id: i64, now: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET delivered = ?2, payload = ?3, last_error = NULL, claimed = 0 WHERE id = ?1",
            args![id, now as i64, Vec::<u8>::new()],
        )?;
        Ok(())
    }

    /// Records a failed attempt; the notification is due again at `at`.
    pub fn reschedule(&mut self, id: i64, at: u64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET next_attempt = ?2, last_error = ?3, claimed = 0 WHERE id = ?1",
            args![id, at as i64, error],
        )?;
        Ok(())
    }

    /// Gives a notification up; the payload is erased, the dedupe key and error kept.
    pub fn mark_failed(&mut self, id: i64, now: u64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET failed = ?2, payload = ?4, last_error = ?3, claimed = 0 WHERE id = ?1",
            args![id, now as i64, error, Vec::<u8>::new()],
        )?;
        Ok(())
    }

    /// Makes every notification a dead worker had claimed due at `now`; returns how many.
    /// Only for the worker that owns the outbox, when it starts.
    pub fn release_claims(&mut self, now: u64) -> Result<usize> {
        self.conn.execute(
            "UPDATE outbox SET claimed = 0, next_attempt = CASE WHEN next_attempt < ?1 THEN next_attempt ELSE ?1 END
             WHERE claimed = 1 AND delivered IS NULL AND failed IS NULL",
            args![now as i64],
        )
    }

    /// How many notifications are pending, delivered and failed.
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        let r = self.conn.query_one(
            "SELECT
                count(*) FILTER (WHERE delivered IS NULL AND failed IS NULL),
                count(*) FILTER (WHERE delivered IS NOT NULL),
                count(*) FILTER (WHERE failed IS NOT NULL)
             FROM outbox",
            args![],
        )?;
        Ok(OutboxCounts {
            pending: r.get::<i64>(0)? as u64,
            delivered: r.get::<i64>(1)? as u64,
            failed: r.get::<i64>(2)? as u64,
        })
    }

    /// The earliest time a pending notification is due, if any is pending.
    pub fn next_due(&self) -> Result<Option<u64>> {
        let at: Option<i64> = self
            .conn
            .query_one(
                "SELECT min(next_attempt) FROM outbox WHERE delivered IS NULL AND failed IS NULL",
                args![],
            )?
            .get(0)?;
        Ok(at.map(|t| t.max(0) as u64))
    }
}
