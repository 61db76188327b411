//! Passkeys of the dashboard (issue #23, schema version 9): once a tenant has enrolled one,
//! a dashboard session made from any of its keys is only half a session until one of the
//! tenant's passkeys signs a challenge (a second factor the key alone cannot pass).
//!
//! Three tables, all new in version 9 (so a version 8 catalogue gains them empty):
//! - `passkey`: a tenant's enrolled credentials. The credential is stored as the WebAuthn
//!   library serialises it (its public key and signature counter: nothing that signs in),
//!   under its credential id, which is unique across tenants.
//! - `dashboard_owed`: the sessions that still owe their passkey, by session digest.
//! - `webauthn_ceremony`: the server's half of a ceremony in flight (its challenge), one per
//!   session, taken exactly once: a ceremony's state never travels to the browser, so a
//!   signed challenge cannot be replayed.
//!
//! What these rows mean is the service layer's (`leakwatch_service::passkeys`); this module
//! only keeps them, for SQLite and PostgreSQL alike.

use crate::sql::{Exec, args};
use crate::{Catalog, Result};

/// Version 9's tables in SQLite.
const SQLITE_TABLES: &str = "CREATE TABLE IF NOT EXISTS passkey (
        credential_id BLOB PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        credential TEXT NOT NULL,
        created INTEGER NOT NULL,
        created_by INTEGER NOT NULL,
        last_used INTEGER
     ) WITHOUT ROWID;
     CREATE INDEX IF NOT EXISTS passkey_tenant ON passkey(tenant);
     CREATE TABLE IF NOT EXISTS dashboard_owed (
        digest BLOB PRIMARY KEY
     ) WITHOUT ROWID;
     CREATE TABLE IF NOT EXISTS webauthn_ceremony (
        digest BLOB PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        expires INTEGER NOT NULL
     ) WITHOUT ROWID;";

/// The same tables on PostgreSQL.
pub(crate) const POSTGRES_TABLES: &str = "
CREATE TABLE IF NOT EXISTS passkey (
    credential_id BYTEA PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created BIGINT NOT NULL,
    created_by BIGINT NOT NULL,
    last_used BIGINT
);
CREATE INDEX IF NOT EXISTS passkey_tenant ON passkey(tenant);
CREATE TABLE IF NOT EXISTS dashboard_owed (digest BYTEA PRIMARY KEY);
CREATE TABLE IF NOT EXISTS webauthn_ceremony (
    digest BYTEA PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    expires BIGINT NOT NULL
);
";

/// Adds version 9's tables inside the caller's transaction; a catalogue that has them is
/// left alone.
pub(crate) fn add_passkey_tables(conn: &rusqlite::Connection) -> Result<()> {
    conn.execute_batch(SQLITE_TABLES)?;
    Ok(())
}

/// An enrolled passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// The credential id the authenticator chose (unique).
    pub credential_id: Vec<u8>,
    /// The tenant it is a second factor of.
    pub tenant: String,
    /// The name its enroller gave it ("Alice's laptop").
    pub name: String,
    /// The credential as the WebAuthn library serialises it (public key, counter).
    pub credential: String,
    /// When it was enrolled (Unix seconds).
    pub created: i64,
    /// The API key whose session enrolled it.
    pub created_by: i64,
    /// When it last signed a challenge (Unix seconds).
    pub last_used: Option<i64>,
}

/// Which ceremony a session has in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CeremonyKind {
    /// Enrolling a new passkey.
    Register,
    /// Signing in with one.
    Authenticate,
}

impl CeremonyKind {
    fn name(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::Authenticate => "authenticate",
        }
    }
}

const PASSKEY_COLUMNS: &str =
    "credential_id, tenant, name, credential, created, created_by, last_used";

fn passkey_row(r: &crate::sql::Row) -> Result<StoredPasskey> {
    Ok(StoredPasskey {
        credential_id: r.get(0)?,
        tenant: r.get(1)?,
        name: r.get(2)?,
        credential: r.get(3)?,
        created: r.get(4)?,
        created_by: r.get(5)?,
        last_used: r.get(6)?,
    })
}

impl Catalog {
    /// The passkeys of `tenant`, oldest first.
    pub fn passkeys(&self, tenant: &str) -> Result<Vec<StoredPasskey>> {
        self.conn
            .query(
                &format!(
                    "SELECT {PASSKEY_COLUMNS} FROM passkey WHERE tenant = ?1
                     ORDER BY created, credential_id"
                ),
                args![tenant],
            )?
            .iter()
            .map(passkey_row)
            .collect()
    }

    /// Enrols a passkey; `false` if its credential id is enrolled already (to any tenant).
    pub fn add_passkey(&mut self, passkey: &StoredPasskey) -> Result<bool> {
        self.conn.transaction(|tx| {
            if tx
                .query_opt(
                    "SELECT 1 FROM passkey WHERE credential_id = ?1",
                    args![passkey.credential_id],
                )?
                .is_some()
            {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "INSERT INTO passkey ({PASSKEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                args![
                    passkey.credential_id,
                    passkey.tenant,
                    passkey.name,
                    passkey.credential,
                    passkey.created,
                    passkey.created_by,
                    passkey.last_used
                ],
            )?;
            Ok(true)
        })
    }

    /// Records a passkey's use: its credential as it is after the signature (the counter
    /// moved) and when.
    pub fn passkey_used(&mut self, credential_id: &[u8], credential: &str, at: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE passkey SET credential = ?2, last_used = ?3 WHERE credential_id = ?1",
            args![credential_id, credential, at],
        )?;
        Ok(())
    }

    /// Removes `tenant`'s passkey `credential_id`; whether it had one.
    pub fn remove_passkey(&mut self, tenant: &str, credential_id: &[u8]) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM passkey WHERE tenant = ?1 AND credential_id = ?2",
            args![tenant, credential_id],
        )? > 0)
    }

    /// Whether the session of this digest still owes its passkey.
    pub fn session_owes_passkey(&self, digest: &[u8; 32]) -> Result<bool> {
        Ok(self
            .conn
            .query_opt(
                "SELECT 1 FROM dashboard_owed WHERE digest = ?1",
                args![digest],
            )?
            .is_some())
    }

    /// The session of this digest has signed with a passkey: it owes nothing more.
    pub fn passkey_paid(&mut self, digest: &[u8; 32]) -> Result<()> {
        self.conn.execute(
            "DELETE FROM dashboard_owed WHERE digest = ?1",
            args![digest],
        )?;
        Ok(())
    }

    /// Starts a ceremony for the session of this digest, replacing any in flight.
    pub fn begin_ceremony(
        &mut self,
        digest: &[u8; 32],
        kind: CeremonyKind,
        state: &str,
        expires: i64,
    ) -> Result<()> {
        self.conn.transaction(|tx| {
            tx.execute(
                "DELETE FROM webauthn_ceremony WHERE digest = ?1",
                args![digest],
            )?;
            tx.execute(
                "INSERT INTO webauthn_ceremony (digest, kind, state, expires)
                 VALUES (?1, ?2, ?3, ?4)",
                args![digest, kind.name(), state, expires],
            )?;
            Ok(())
        })
    }

    /// Takes (reads and deletes) the session's ceremony in flight if it is of `kind` and has
    /// not expired at `now`: a ceremony can be finished once.
    pub fn take_ceremony(
        &mut self,
        digest: &[u8; 32],
        kind: CeremonyKind,
        now: i64,
    ) -> Result<Option<String>> {
        self.conn.transaction(|tx| {
            let found = tx.query_opt(
                "SELECT kind, state, expires FROM webauthn_ceremony WHERE digest = ?1",
                args![digest],
            )?;
            tx.execute(
                "DELETE FROM webauthn_ceremony WHERE digest = ?1 OR expires <= ?2",
                args![digest, now],
            )?;
            let Some(row) = found else {
                return Ok(None);
            };
            let (found_kind, state, expires): (String, String, i64) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            Ok((found_kind == kind.name() && expires > now).then_some(state))
        })
    }
}
