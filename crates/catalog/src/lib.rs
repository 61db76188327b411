//! The metadata database (`<data>/catalog.db`, embedded SQLite): the breach catalogue in
//! HIBP's Breach model, API keys ([`keys`]), the notification outbox ([`outbox`]), alert
//! subscribers ([`subscribers`]) and the vendor inventory ([`vendors`]).
//!
//! [`Breach`] serialises to exactly the JSON HIBP's API returns (field names, order, date
//! formats), plus `Vendor` (the supplier through which the data left, where known) when set.
//! [`Catalog`] stores breaches, validates them, and imports a catalogue in the shape of HIBP's
//! `/breaches` answer. It knows nothing about hashes or accounts (see the store) or HTTP.

mod breaches;
pub mod checksums;
mod date;
pub mod keys;
mod limits;
pub mod outbox;
pub mod passkeys;
pub mod pastes;
pub mod pg;
mod scopes;
pub mod sessions;
mod sql;
pub mod subscribers;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trail_table;
pub mod vendors;
pub mod watch;

use std::path::Path;

use rusqlite::Connection;

pub use breaches::Breach;
pub use sql::Dialect;
use sql::{Conn, Exec, args};

pub use date::{format_date_time, now_unix, parse_date, parse_date_time};

/// Version of the SQLite schema this build reads and writes (`PRAGMA user_version`).
/// Version 3 adds no table: it marks a file whose every page carries a checksum (see
/// [`checksums`]). Version 4 gives every API key its scopes (`keys::Scopes`); keys of an
/// older file become `all`, marked as migrated. Version 5 gives keys, vendors and domain
/// registrations their tenant ([`tenants`]); an older file's go into the tenant `default`.
/// Version 6 adds the bulk-extraction watch and key suspension ([`watch`]).
/// An older file is refused until [`Catalog::migrate`] converts it.
pub const SCHEMA_VERSION: i64 = 9;

/// Errors from the catalogue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// SQLite failed (I/O, locking).
    #[error("catalogue database: {0}")]
    Sqlite(rusqlite::Error),
    /// A catalogue location that cannot be used (not a PostgreSQL URL, a password in it, a
    /// password file others may read).
    #[error("{0}")]
    Location(String),
    /// The PostgreSQL catalogue failed (connection, constraint, server error): its SQLSTATE
    /// and message.
    #[error("catalogue database (PostgreSQL): {0}")]
    Postgres(String),
    /// The catalogue file is damaged where it was read: a page failed its checksum or its
    /// structure. Nothing read from it was used.
    #[error(
        "the catalogue file is damaged ({0}); nothing read from it was used. `leakwatch verify` \
         says where; restore the data directory from a backup"
    )]
    Damaged(String),
    /// The catalogue file is damaged at a known place (found by [`checksums::verify_file`] or
    /// the header check at open).
    #[error("corrupt data in {file} at byte {offset}: {reason}")]
    CorruptFile {
        /// The file, by name.
        file: String,
        /// Byte offset of the damaged page (or header field).
        offset: u64,
        /// What did not check out.
        reason: String,
    },
    /// A breach (or manifest) that does not satisfy the model.
    #[error("invalid breach: {0}")]
    Invalid(String),
    /// No breach of that name.
    #[error("no breach named {0:?}")]
    NotFound(String),
    /// A breach of that name exists already.
    #[error("a breach named {0:?} already exists")]
    Exists(String),
    /// The database was written by an older leakwatch: `leakwatch migrate` brings it up to
    /// date. It is never converted silently.
    #[error(
        "catalogue schema version {found}; this build uses version {supported}: back up the \
         data directory and run `leakwatch migrate`"
    )]
    NeedsMigration {
        /// Version in the file.
        found: i64,
        /// Version this build uses.
        supported: i64,
    },
    /// The database was written by a newer leakwatch.
    #[error("catalogue schema version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// Version in the file.
        found: i64,
        /// Version this build reads.
        supported: i64,
    },
    /// Stored data that cannot be what this code wrote.
    #[error("corrupt catalogue row {name:?}: {reason}")]
    Corrupt {
        /// The breach.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl From<rusqlite::Error> for CatalogError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        if let rusqlite::Error::SqliteFailure(failure, _) = &e {
            let damaged = failure.extended_code == rusqlite::ffi::SQLITE_IOERR_DATA
                || matches!(
                    failure.code,
                    ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase
                );
            if damaged {
                return CatalogError::Damaged(e.to_string());
            }
        }
        CatalogError::Sqlite(e)
    }
}

/// Shorthand.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// Schema version 2: notifications waiting to be delivered (see [`outbox`]), alert
/// subscribers and the breaches already alerted (see [`subscribers`]), and the vendor
/// inventory (see [`vendors`]).
const OUTBOX_TABLE: &str = "CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        dedupe BLOB UNIQUE,
        payload BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        claimed INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL,
        delivered INTEGER,
        failed INTEGER,
        last_error TEXT
     );
     CREATE INDEX outbox_due ON outbox(next_attempt) WHERE delivered IS NULL AND failed IS NULL;
     CREATE TABLE subscriber (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        digest BLOB NOT NULL UNIQUE,
        sealed BLOB NOT NULL,
        key_id INTEGER,
        created INTEGER NOT NULL,
        verified INTEGER,
        unsubscribed INTEGER
     );
     CREATE TABLE alerted_breach (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        at INTEGER NOT NULL
     );
     CREATE TABLE impact_alerted (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        at INTEGER NOT NULL
     );
     CREATE TABLE vendor (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        domains TEXT NOT NULL,
        data_classes TEXT NOT NULL,
        criticality INTEGER NOT NULL,
        owner TEXT NOT NULL,
        notes TEXT NOT NULL
     );";

/// The catalogue database.
#[derive(Debug)]
pub struct Catalog {
    conn: Conn,
}

fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Waits for another connection's lock in 1 ms steps, for up to 5 s. SQLite's own busy
/// timeout sleeps in growing steps (up to 100 ms), which kept a writer waiting tens of
/// milliseconds behind a reader that held its lock for one: with a rollback journal, readers
/// and the writer take turns.
fn wait_for_locks(conn: &Connection) -> Result<()> {
    fn wait(attempt: i32) -> bool {
        std::thread::sleep(std::time::Duration::from_millis(1));
        attempt < 5000
    }
    conn.busy_handler(Some(wait))?;
    Ok(())
}

impl Catalog {
    /// Opens (creating if needed) the catalogue at `path`.
    pub fn open(path: &Path) -> Result<Catalog> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Self::connect(path)?;
        match user_version(&conn)? {
            // New (checksums from its first page), or current (checksums verified).
            0 | SCHEMA_VERSION => checksums::enable(&conn)?,
            found @ 1..SCHEMA_VERSION => {
                return Err(CatalogError::NeedsMigration {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            _ => {} // refused by `init`
        }
        Self::init(conn)
    }

    /// Brings the catalogue at `path` to [`SCHEMA_VERSION`]: version 1 gains the tables of
    /// version 2, and a file without page checksums is rewritten with them (`VACUUM`, which
    /// needs the file to itself). Returns the version it found, or `None` if there was nothing
    /// to do (current, or no catalogue yet). Nothing else changes an existing catalogue's
    /// version: [`Catalog::open`] refuses an older one.
    pub fn migrate(path: &Path) -> Result<Option<i64>> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = Self::connect(path)?;
        let found = user_version(&conn)?;
        match found {
            0 | SCHEMA_VERSION => return Ok(None),
            1..SCHEMA_VERSION => {}
            found => {
                return Err(CatalogError::UnsupportedVersion {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        if found == 1 {
            // Version 2 only added tables.
            conn.execute_batch(&format!("BEGIN; {OUTBOX_TABLE} COMMIT;"))?;
        }
        // Version 3 only added page checksums.
        checksums::enable(&conn)?;
        // Version 4 gave keys their scopes (every existing key may do everything it could),
        // version 5 their tenants (everything existing shares the tenant `default`, as it
        // shared everything before): one transaction, so a crash leaves the old version.
        conn.execute_batch("BEGIN IMMEDIATE;")?;
        keys::add_scope_columns(&conn)?;
        tenants::add_tenant_columns(&conn)?;
        // Version 6 added the bulk-extraction watch and key suspension (nothing suspended).
        watch::add_watch_tables(&conn)?;
        // Version 7 added the paste catalogue (empty).
        pastes::add_paste_tables(&conn)?;
        // Version 8 added the dashboard's sessions (none), version 9 its passkeys (none).
        sessions::add_session_tables(&conn)?;
        passkeys::add_passkey_tables(&conn)?;
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))?;
        Ok(Some(found))
    }

    /// A connection through the checksum VFS to a file whose header is sound.
    fn connect(path: &Path) -> Result<Connection> {
        checksums::register()?;
        checksums::check_header(path)?;
        let conn = Connection::open(path)?;
        wait_for_locks(&conn)?;
        Ok(conn)
    }

    /// An in-memory catalogue, for tests.
    pub fn open_in_memory() -> Result<Catalog> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Catalog> {
        wait_for_locks(&conn)?;
        // A rollback journal, not WAL: with SQLite's checksum shim (see [`checksums`]) in WAL
        // mode, an update committed by the server stayed invisible to other processes (the
        // CLI, the delivery worker's restart) in our tests. Readers wait for a writer's commit
        // instead (milliseconds: the catalogue's writes are single rows), under the busy timeout.
        let mode: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        if mode != "delete" && mode != "memory" {
            return Err(CatalogError::Invalid(format!(
                "the catalogue stays in {mode} mode while another process (an older leakwatch?) \
                 has it open; stop that process and try again"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        match user_version(&conn)? {
            0 => {
                conn.execute_batch(&format!(
                    "BEGIN;
                     CREATE TABLE breach (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                        title TEXT NOT NULL,
                        domain TEXT NOT NULL,
                        breach_date TEXT NOT NULL,
                        added_date TEXT NOT NULL,
                        modified_date TEXT NOT NULL,
                        pwn_count INTEGER NOT NULL,
                        description TEXT NOT NULL,
                        logo_path TEXT NOT NULL,
                        data_classes TEXT NOT NULL,
                        is_verified INTEGER NOT NULL,
                        is_fabricated INTEGER NOT NULL,
                        is_sensitive INTEGER NOT NULL,
                        is_retired INTEGER NOT NULL,
                        is_spam_list INTEGER NOT NULL,
                        is_malware INTEGER NOT NULL,
                        is_subscription_free INTEGER NOT NULL,
                        is_stealer_log INTEGER NOT NULL,
                        vendor TEXT
                     );
                     CREATE INDEX breach_domain ON breach(domain);
                     CREATE TABLE api_key (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        key_sha256 BLOB NOT NULL UNIQUE,
                        rpm INTEGER NOT NULL,
                        created TEXT NOT NULL,
                        expires TEXT,
                        revoked TEXT,
                        scopes TEXT NOT NULL,
                        scopes_migrated INTEGER NOT NULL DEFAULT 0
                     );
                     {OUTBOX_TABLE}"
                ))?;
                // The tables of version 2 as they are since version 5: one way to the
                // current shape, for new and migrated files alike.
                tenants::add_tenant_columns(&conn)?;
                watch::add_watch_tables(&conn)?;
                pastes::add_paste_tables(&conn)?;
                sessions::add_session_tables(&conn)?;
                passkeys::add_passkey_tables(&conn)?;
                conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))?;
            }
            SCHEMA_VERSION => {}
            found @ 1..SCHEMA_VERSION => {
                return Err(CatalogError::NeedsMigration {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            found => {
                return Err(CatalogError::UnsupportedVersion {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        Ok(Catalog {
            conn: Conn::Sqlite(conn),
        })
    }

    /// Connects to the catalogue on the PostgreSQL server at `url` (`postgres://USER@HOST:
    /// PORT/DB`; the password from `PGPASSWORD` or the password file, see [`pg`]), creating
    /// its tables the first time.
    pub fn open_postgres(url: &str) -> Result<Catalog> {
        Ok(Catalog {
            conn: Conn::Postgres(sql::Pg::connect(url)?),
        })
    }

    /// Which engine holds this catalogue.
    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// The SQLite connection underneath, for tests that reach past the interface.
    #[cfg(test)]
    fn raw(&self) -> &Connection {
        self.conn.sqlite().expect("a SQLite catalogue")
    }

    /// The SQLite connection, or why there is none.
    fn sqlite(&self, what: &str) -> Result<&Connection> {
        self.conn.sqlite().ok_or_else(|| {
            CatalogError::Invalid(format!(
                "the catalogue is on PostgreSQL: {what} is the database server's job there"
            ))
        })
    }

    /// Copies this catalogue into a new file at `dest` with SQLite's online backup API: a
    /// consistent copy taken while other connections read and write, page for page (so with
    /// the page checksums). Fails if `dest` exists.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(CatalogError::Invalid(format!(
                "{} exists already: a backup goes into a new file",
                dest.display()
            )));
        }
        let conn = self.sqlite("a backup")?;
        checksums::register()?;
        let mut out = Connection::open(dest)?;
        rusqlite::backup::Backup::new(conn, &mut out)?.run_to_completion(
            256,
            std::time::Duration::from_millis(1),
            None,
        )?;
        let verifying: String = out.query_row("PRAGMA checksum_verification", [], |r| r.get(0))?;
        drop(out);
        if verifying != "1" {
            return Err(CatalogError::Invalid(
                "the backup's pages carry no checksums".into(),
            ));
        }
        checksums::verify_file(dest)?;
        Ok(())
    }

    /// Checks the whole catalogue: every page checksum of the file at `path` (this
    /// catalogue's file) recomputed, to name a damaged page by its offset, then SQLite's
    /// integrity check (every table and index consistent).
    pub fn verify(&self, path: &Path) -> Result<checksums::FileCheck> {
        let conn = self.sqlite("verifying")?;
        let file = checksums::verify_file(path)?;
        let problems: Vec<String> = conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if problems != ["ok"] {
            return Err(CatalogError::Damaged(problems.join("; ")));
        }
        Ok(file)
    }

    /// Tells the machines sharing this catalogue that generation `generation` of their store
    /// was published, so replicas that listen ([`pg::listen`]) take it at once instead of
    /// at their next poll. Nothing on SQLite (one machine).
    pub fn announce_publication(&self, generation: u64) -> Result<()> {
        if self.conn.dialect() == Dialect::Postgres {
            let payload = generation.to_string();
            self.conn.execute(
                &format!("SELECT pg_notify('{}', ?1)", pg::STORE_CHANNEL),
                args![payload],
            )?;
        }
        Ok(())
    }

    /// Changes whenever another connection commits to the database (on PostgreSQL: commits
    /// a change to breaches or keys, by anyone): poll it to reload.
    pub fn data_version(&self) -> Result<i64> {
        match &self.conn {
            Conn::Sqlite(c) => Ok(c.query_row("PRAGMA data_version", [], |r| r.get(0))?),
            Conn::Postgres(_) => self
                .conn
                .query_one("SELECT n FROM catalog_change WHERE id = 1", args![])?
                .get(0),
        }
    }
}

#[cfg(test)]
mod tests;
