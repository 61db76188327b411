//! Alert subscribers and the breaches already alerted.
//!
//! A subscriber is an e-mail address or a domain, stored only sealed (the caller seals; the
//! row holds opaque bytes) and found by a keyed digest of its normalised form, so the file
//! names nobody. A row exists once the address is confirmed or the domain verified, except
//! domains awaiting verification (`verified` unset). `alerted_breach` records every breach
//! whose alerts have been queued, so a breach alerts each subscriber once, and subscribers
//! hear only of breaches loaded after they subscribed. Nothing here seals or matches.

use crate::sql::{Exec, Row, args};
use crate::{Catalog, Result};

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Row id, stable: alerts are deduplicated by it.
    pub id: i64,
    /// The sealed subscription (what, and where to send alerts).
    pub sealed: Vec<u8>,
    /// The API key that registered it (domains), if any.
    pub key_id: Option<i64>,
    /// The tenant it belongs to (domains; addresses belong to nobody's tenant).
    pub tenant: Option<String>,
    /// When it was confirmed or verified (Unix seconds), if it was.
    pub verified: Option<u64>,
    /// When it unsubscribed, if it did.
    pub unsubscribed: Option<u64>,
}

impl Subscriber {
    /// Whether alerts go to it.
    pub fn is_active(&self) -> bool {
        self.verified.is_some() && self.unsubscribed.is_none()
    }
}

fn row(r: &Row) -> Result<Subscriber> {
    let time = |v: Option<i64>| v.map(|t| t.max(0) as u64);
    Ok(Subscriber {
        id: r.get(0)?,
        sealed: r.get(1)?,
        key_id: r.get(2)?,
        verified: time(r.get(3)?),
        unsubscribed: time(r.get(4)?),
        tenant: r.get(5)?,
    })
}

const SUBSCRIBER_COLUMNS: &str = "id, sealed, key_id, verified, unsubscribed, tenant";

impl Catalog {
    /// Adds the subscriber with this `digest`, or renews it (new sealed data and key,
    /// subscribed again; its tenant stays): returns its id, which stays the same for the
    /// same digest.
    pub fn put_subscriber(
        &mut self,
        digest: &[u8],
        sealed: &[u8],
        key_id: Option<i64>,
        tenant: Option<&str>,
        verified: Option<u64>,
        now: u64,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO subscriber (digest, sealed, key_id, tenant, created, verified)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(digest) DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id,
                verified = coalesce(excluded.verified, subscriber.verified), unsubscribed = NULL",
            args![
                digest,
                sealed,
                key_id,
                tenant,
                now as i64,
                verified.map(|t| t as i64)
            ],
        )?;
        self.conn
            .query_one("SELECT id FROM subscriber WHERE digest = ?1", args![digest])?
            .get(0)
    }

    /// Changes subscriber `id`'s sealed data and the key that last changed it (a domain's
    /// re-registration), subscribed again; false if there is no such row.
    pub fn update_subscriber(
        &mut self,
        id: i64,
        sealed: &[u8],
        key_id: Option<i64>,
    ) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE subscriber SET sealed = ?2, key_id = ?3, unsubscribed = NULL WHERE id = ?1",
            args![id, sealed, key_id],
        )? == 1)
    }

    /// The subscribers of `tenant` (its domain registrations), in id order.
    pub fn tenant_subscribers(&self, tenant: &str) -> Result<Vec<Subscriber>> {
        self.conn
            .query(
                &format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscriber WHERE tenant = ?1 ORDER BY id"
                ),
                args![tenant],
            )?
            .iter()
            .map(row)
            .collect()
    }

    /// The subscriber with this digest.
    pub fn subscriber_by_digest(&self, digest: &[u8]) -> Result<Option<Subscriber>> {
        self.conn
            .query_opt(
                &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscriber WHERE digest = ?1"),
                args![digest],
            )?
            .as_ref()
            .map(row)
            .transpose()
    }

    /// The subscriber with this id.
    pub fn subscriber(&self, id: i64) -> Result<Option<Subscriber>> {
        self.conn
            .query_opt(
                &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscriber WHERE id = ?1"),
                args![id],
            )?
            .as_ref()
            .map(row)
            .transpose()
    }

    /// Every subscriber, in id order.
    pub fn subscribers(&self) -> Result<Vec<Subscriber>> {
        self.conn
            .query(
                &format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscriber ORDER BY id"),
                args![],
            )?
            .iter()
            .map(row)
            .collect()
    }

    /// Marks a subscriber verified (a domain's owner proved control).
    pub fn verify_subscriber(&mut self, id: i64, now: u64) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE subscriber SET verified = ?2 WHERE id = ?1",
            args![id, now as i64],
        )? == 1)
    }

    /// Stops alerts to a subscriber; returns whether it was subscribed.
    pub fn unsubscribe(&mut self, id: i64, now: u64) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE subscriber SET unsubscribed = ?2 WHERE id = ?1 AND unsubscribed IS NULL",
            args![id, now as i64],
        )? == 1)
    }

    /// Deletes a subscriber; its sent alerts stay deduplicated by id, which is not reused.
    pub fn remove_subscriber(&mut self, id: i64) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM subscriber WHERE id = ?1", args![id])?
            == 1)
    }

    /// Names of the breaches whose alerts have been queued.
    pub fn alerted_breaches(&self) -> Result<std::collections::BTreeSet<String>> {
        Ok(self
            .conn
            .column::<String>("SELECT name FROM alerted_breach", args![])?
            .into_iter()
            .collect())
    }

    /// Records that a breach's alerts are queued.
    pub fn mark_alerted(&mut self, name: &str, now: u64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO alerted_breach (name, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            args![name, now as i64],
        )?;
        Ok(())
    }
}
