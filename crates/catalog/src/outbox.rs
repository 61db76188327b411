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
//! lock file). Delivered and abandoned rows keep their dedupe key but lose their payload.
//! This module neither seals, composes nor sends anything.

use rusqlite::params;

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
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO outbox (dedupe, payload, next_attempt, created) VALUES (?1, ?2, ?3, ?3)",
            params![dedupe, payload, now as i64],
        )?;
        Ok((added == 1).then(|| self.conn.last_insert_rowid()))
    }

    /// Claims up to `limit` due notifications for `lease` seconds: they are not due again
    /// until then, unless [`Catalog::reschedule`]d. Oldest first.
    pub fn claim_due(&mut self, now: u64, lease: u64, limit: usize) -> Result<Vec<Pending>> {
        let tx = self.conn.transaction()?;
        let claimed = {
            let mut select = tx.prepare(
                "SELECT id, payload, attempts, created FROM outbox
                 WHERE delivered IS NULL AND failed IS NULL AND next_attempt <= ?1
                 ORDER BY next_attempt, id LIMIT ?2",
            )?;
            let rows = select
                .query_map(params![now as i64, limit as i64], |r| {
                    Ok(Pending {
                        id: r.get(0)?,
                        payload: r.get(1)?,
                        attempts: r.get::<_, u32>(2)? + 1,
                        created: r.get::<_, i64>(3)? as u64,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut update = tx.prepare(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, claimed = 1 WHERE id = ?1",
            )?;
            for p in &rows {
                update.execute(params![p.id, (now + lease) as i64])?;
            }
            rows
        };
        tx.commit()?;
        Ok(claimed)
    }

    /// Records a delivery; the payload is erased, the dedupe key kept.
    pub fn mark_delivered(&mut self, id: i64, now: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET delivered = ?2, payload = x'', last_error = NULL, claimed = 0 WHERE id = ?1",
            params![id, now as i64],
        )?;
        Ok(())
    }

    /// Records a failed attempt; the notification is due again at `at`.
    pub fn reschedule(&mut self, id: i64, at: u64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET next_attempt = ?2, last_error = ?3, claimed = 0 WHERE id = ?1",
            params![id, at as i64, error],
        )?;
        Ok(())
    }

    /// Gives a notification up; the payload is erased, the dedupe key and error kept.
    pub fn mark_failed(&mut self, id: i64, now: u64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET failed = ?2, payload = x'', last_error = ?3, claimed = 0 WHERE id = ?1",
            params![id, now as i64, error],
        )?;
        Ok(())
    }

    /// Makes every notification a dead worker had claimed due at `now`; returns how many.
    /// Only for the worker that owns the outbox, when it starts.
    pub fn release_claims(&mut self, now: u64) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE outbox SET claimed = 0, next_attempt = min(next_attempt, ?1)
             WHERE claimed = 1 AND delivered IS NULL AND failed IS NULL",
            params![now as i64],
        )?)
    }

    /// How many notifications are pending, delivered and failed.
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        Ok(self.conn.query_row(
            "SELECT
                coalesce(sum(delivered IS NULL AND failed IS NULL), 0),
                coalesce(sum(delivered IS NOT NULL), 0),
                coalesce(sum(failed IS NOT NULL), 0)
             FROM outbox",
            [],
            |r| {
                Ok(OutboxCounts {
                    pending: r.get::<_, i64>(0)? as u64,
                    delivered: r.get::<_, i64>(1)? as u64,
                    failed: r.get::<_, i64>(2)? as u64,
                })
            },
        )?)
    }

    /// The earliest time a pending notification is due, if any is pending.
    pub fn next_due(&self) -> Result<Option<u64>> {
        let at: Option<i64> = self.conn.query_row(
            "SELECT min(next_attempt) FROM outbox WHERE delivered IS NULL AND failed IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(at.map(|t| t.max(0) as u64))
    }
}
