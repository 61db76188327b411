//! The audit trail's files in the shared PostgreSQL catalogue (issue #21): with `--catalog
//! postgres://…` every replica and every machine's CLI writes one trail, not one per cache
//! directory. This module only keeps bytes; the trail's format, chain and seal are
//! `leakwatch-trail`'s, and the service layer joins the two.
//!
//! A file is the chunks its writers appended, one row each, in table
//! `leakwatch_audit_chunk (seq, off, bytes)`: chunk `off` of file `seq` holds the file's bytes
//! from offset `off`. Rows are only ever inserted: triggers refuse `UPDATE`, `DELETE` and
//! `TRUNCATE` on the table (an operator who wants it so grants the role nothing more than
//! `SELECT, INSERT` on it; the table's owner or a superuser can still drop the triggers, and
//! then the trail's chain and signed checkpoints name the edit). Writers take a transaction
//! with advisory lock [`TRAIL_LOCK`], so appends from N machines follow one another and
//! each commits whole (no torn record, unlike a file).
//!
//! The table is the trail's, made by its first writer (under the schema lock), outside the
//! catalogue's schema version: the trail's own format version is in every file's header.

use crate::{Result, pg, sql::pg_error};

/// The advisory lock every writer of the trail holds for its transaction.
pub const TRAIL_LOCK: i64 = 727_275;

/// The table, its append-only triggers; made once, under the schema lock.
const TABLE: &str = "
CREATE TABLE leakwatch_audit_chunk (
    seq INTEGER NOT NULL CHECK (seq > 0),
    off BIGINT NOT NULL CHECK (off >= 0),
    bytes BYTEA NOT NULL,
    PRIMARY KEY (seq, off)
);
CREATE FUNCTION leakwatch_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER leakwatch_audit_no_change BEFORE UPDATE OR DELETE ON leakwatch_audit_chunk
    FOR EACH ROW EXECUTE FUNCTION leakwatch_audit_append_only();
CREATE TRIGGER leakwatch_audit_no_truncate BEFORE TRUNCATE ON leakwatch_audit_chunk
    FOR EACH STATEMENT EXECUTE FUNCTION leakwatch_audit_append_only();
";

/// The trail's table on the catalogue at a URL, over a connection of its own (made again
/// when it was lost).
pub struct TrailTable {
    url: String,
    client: Option<postgres::Client>,
}

impl std::fmt::Debug for TrailTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrailTable").finish_non_exhaustive()
    }
}

impl TrailTable {
    /// The trail's table on the catalogue at `url`, made if it is not there yet.
    pub fn connect(url: &str) -> Result<TrailTable> {
        let mut table = TrailTable {
            url: url.to_owned(),
            client: None,
        };
        table.client()?;
        Ok(table)
    }

    /// The connection, made (and the table with it) if there is none or it was lost.
    fn client(&mut self) -> Result<&mut postgres::Client> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            self.client = None;
            let mut client = pg::connect(&self.url)?;
            let mut tx = client.transaction().map_err(pg_error)?;
            let exists: bool = tx
                .query_one(
                    "SELECT to_regclass('leakwatch_audit_chunk') IS NOT NULL",
                    &[],
                )
                .map_err(pg_error)?
                .get(0);
            if !exists {
                tx.execute("SELECT pg_advisory_xact_lock(727274)", &[])
                    .map_err(pg_error)?;
                let made: bool = tx
                    .query_one(
                        "SELECT to_regclass('leakwatch_audit_chunk') IS NOT NULL",
                        &[],
                    )
                    .map_err(pg_error)?
                    .get(0);
                if !made {
                    tx.batch_execute(TABLE).map_err(pg_error)?;
                }
            }
            tx.commit().map_err(pg_error)?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// A transaction holding the writers' lock (waiting for it).
    pub fn begin(&mut self) -> Result<TrailTx<'_>> {
        let mut tx = self.client()?.transaction().map_err(pg_error)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&TRAIL_LOCK])
            .map_err(pg_error)?;
        Ok(TrailTx { tx })
    }

    /// The numbers of the files, ascending.
    pub fn seqs(&mut self) -> Result<Vec<u32>> {
        seqs(self.client()?)
    }

    /// The chunks of file `seq` from the one that holds byte `from` on, by offset:
    /// (offset, bytes).
    pub fn chunks(&mut self, seq: u32, from: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        chunks(self.client()?, seq, from)
    }
}

/// A writer's transaction: what it inserts is seen by others, and the lock let go, at
/// [`TrailTx::commit`]; dropped uncommitted, nothing of it happened.
pub struct TrailTx<'a> {
    tx: postgres::Transaction<'a>,
}

impl std::fmt::Debug for TrailTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrailTx").finish_non_exhaustive()
    }
}

impl TrailTx<'_> {
    /// The numbers of the files, ascending.
    pub fn seqs(&mut self) -> Result<Vec<u32>> {
        seqs(&mut self.tx)
    }

    /// The chunks of file `seq` from the one that holds byte `from` on, by offset:
    /// (offset, bytes).
    pub fn chunks(&mut self, seq: u32, from: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        chunks(&mut self.tx, seq, from)
    }

    /// The newest file's number, if there is a file.
    pub fn newest(&mut self) -> Result<Option<u32>> {
        let newest: Option<i32> = self
            .tx
            .query_one("SELECT MAX(seq) FROM leakwatch_audit_chunk", &[])
            .map_err(pg_error)?
            .get(0);
        Ok(newest.map(|n| n as u32))
    }

    /// The length of file `seq` (0 when it has no chunk).
    pub fn len(&mut self, seq: u32) -> Result<u64> {
        let len: Option<i64> = self
            .tx
            .query_opt(
                "SELECT off + length(bytes) FROM leakwatch_audit_chunk WHERE seq = $1 \
                 ORDER BY off DESC LIMIT 1",
                &[&(seq as i32)],
            )
            .map_err(pg_error)?
            .map(|r| r.get(0));
        Ok(len.unwrap_or(0) as u64)
    }

    /// Inserts chunk `off` of file `seq` (refused if one starts there already).
    pub fn insert(&mut self, seq: u32, off: u64, bytes: &[u8]) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO leakwatch_audit_chunk (seq, off, bytes) VALUES ($1, $2, $3)",
                &[&(seq as i32), &(off as i64), &bytes],
            )
            .map_err(pg_error)?;
        Ok(())
    }

    /// Commits, letting the lock go.
    pub fn commit(self) -> Result<()> {
        self.tx.commit().map_err(pg_error)
    }
}

fn seqs(client: &mut impl postgres::GenericClient) -> Result<Vec<u32>> {
    Ok(client
        .query(
            "SELECT DISTINCT seq FROM leakwatch_audit_chunk ORDER BY seq",
            &[],
        )
        .map_err(pg_error)?
        .iter()
        .map(|r| r.get::<_, i32>(0) as u32)
        .collect())
}

fn chunks(
    client: &mut impl postgres::GenericClient,
    seq: u32,
    from: u64,
) -> Result<Vec<(u64, Vec<u8>)>> {
    Ok(client
        .query(
            // Found by the primary key alone: a writer catching up reads its last chunk
            // and what followed it, not the whole file.
            "SELECT off, bytes FROM leakwatch_audit_chunk WHERE seq = $1 AND off >= \
             COALESCE((SELECT MAX(off) FROM leakwatch_audit_chunk WHERE seq = $1 AND off <= $2), 0) \
             ORDER BY off",
            &[&(seq as i32), &(from as i64)],
        )
        .map_err(pg_error)?
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, Vec<u8>>(1)))
        .collect())
}
