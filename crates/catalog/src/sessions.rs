//! Dashboard sessions (issue #23, schema version 8): an API key with the `dashboard` scope is
//! exchanged for a short-lived session whose token travels only in an `HttpOnly` cookie. The
//! catalogue keeps the token's SHA-256 digest, never the token, with the key it was made
//! from: a session is worth no more than its key, so the service layer checks the key on
//! every use (revoking the key ends its sessions at once) and the key's revocation also
//! deletes them here. Shared by every replica on PostgreSQL, as the keys are.

use crate::sql::{Exec, args};
use crate::{Catalog, Result};

/// Version 8's table in SQLite.
const SQLITE_TABLES: &str = "CREATE TABLE IF NOT EXISTS dashboard_session (
        digest BLOB PRIMARY KEY,
        key_id INTEGER NOT NULL,
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX IF NOT EXISTS dashboard_session_key ON dashboard_session(key_id);";

/// The same table on PostgreSQL.
pub(crate) const POSTGRES_TABLES: &str = "
CREATE TABLE IF NOT EXISTS dashboard_session (
    digest BYTEA PRIMARY KEY,
    key_id BIGINT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS dashboard_session_key ON dashboard_session(key_id);
";

/// Adds version 8's table inside the caller's transaction; a catalogue that has it is left
/// alone.
pub(crate) fn add_session_tables(conn: &rusqlite::Connection) -> Result<()> {
    conn.execute_batch(SQLITE_TABLES)?;
    Ok(())
}

/// Deletes the sessions `condition` (on `dashboard_session`, with parameters `args`) selects,
/// with what hangs on them (a passkey still owed, a ceremony in flight), inside the caller's
/// transaction; how many sessions there were.
pub(crate) fn end_sessions(
    tx: &impl Exec,
    condition: &str,
    args: &[crate::sql::Value],
) -> Result<usize> {
    for table in ["dashboard_owed", "webauthn_ceremony"] {
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE digest IN
                 (SELECT digest FROM dashboard_session WHERE {condition})"
            ),
            args,
        )?;
    }
    tx.execute(
        &format!("DELETE FROM dashboard_session WHERE {condition}"),
        args,
    )
}

/// A stored session: which key it stands for and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSession {
    /// The API key it was made from.
    pub key_id: i64,
    /// When it was made (Unix seconds).
    pub created: i64,
    /// When it ends (Unix seconds).
    pub expires: i64,
    /// Whether it still owes a passkey (its tenant has one; see [`crate::passkeys`]).
    pub owes_passkey: bool,
}

impl Catalog {
    /// Stores a session under its token's digest; expired sessions are removed on the way.
    pub fn create_session(&mut self, digest: &[u8; 32], session: StoredSession) -> Result<()> {
        self.conn.transaction(|tx| {
            end_sessions(tx, "expires <= ?1", args![session.created])?;
            tx.execute(
                "INSERT INTO dashboard_session (digest, key_id, created, expires)
                 VALUES (?1, ?2, ?3, ?4)",
                args![digest, session.key_id, session.created, session.expires],
            )?;
            if session.owes_passkey {
                tx.execute(
                    "INSERT INTO dashboard_owed (digest) VALUES (?1)",
                    args![digest],
                )?;
            }
            Ok(())
        })
    }

    /// The session of this token digest, if there is one (expired or not: the caller
    /// decides).
    pub fn session(&self, digest: &[u8; 32]) -> Result<Option<StoredSession>> {
        self.conn
            .query_opt(
                "SELECT s.key_id, s.created, s.expires,
                        (SELECT COUNT(*) FROM dashboard_owed o WHERE o.digest = s.digest)
                 FROM dashboard_session s WHERE s.digest = ?1",
                args![digest],
            )?
            .map(|r| {
                Ok(StoredSession {
                    key_id: r.get(0)?,
                    created: r.get(1)?,
                    expires: r.get(2)?,
                    owes_passkey: r.get::<i64>(3)? > 0,
                })
            })
            .transpose()
    }

    /// Ends the session of this token digest (signing out); whether there was one.
    pub fn delete_session(&mut self, digest: &[u8; 32]) -> Result<bool> {
        self.conn
            .transaction(|tx| Ok(end_sessions(tx, "digest = ?1", args![digest])? > 0))
    }

    /// Ends every session of key `key_id` (the key was revoked); how many there were.
    pub fn delete_sessions_of_key(&mut self, key_id: i64) -> Result<usize> {
        self.conn
            .transaction(|tx| end_sessions(tx, "key_id = ?1", args![key_id]))
    }
}
