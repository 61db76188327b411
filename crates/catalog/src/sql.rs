//! The catalogue's two database engines behind one small interface: embedded SQLite (one
//! machine, `<data>/catalog.db`) and PostgreSQL (shared by N replicas, [`crate::pg`]).
//!
//! Every statement is written once, in the SQL both engines accept, with `?1`-style
//! parameters (rewritten to PostgreSQL's `$1` here). Values cross the boundary as [`Value`]s:
//! integers, reals, text, blobs and null, the types SQLite has. In PostgreSQL booleans and
//! integers are `BIGINT` columns (so `is_retired = 0` means the same in both) and blobs are
//! `BYTEA`. Where the engines must differ (row locks for the outbox's claims), a statement
//! asks [`Exec::dialect`].
//!
//! Deliberately absent: an ORM or query builder. The catalogue's statements are few and
//! short; reading them as SQL is the point.

use std::{collections::HashMap, fmt, sync::mpsc};

use crate::{CatalogError, Result};

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

/// What can be bound as a parameter (as rusqlite's `ToSql`, for the types the catalogue uses).
pub(crate) trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_values!(i64, i32, u32, u8);
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

/// The parameters of a statement, by reference as rusqlite's `params!` takes them.
macro_rules! args {
    () => { &[] as &[$crate::sql::Value] };
    ($($e:expr),+ $(,)?) => { &[$($crate::sql::ToValue::to_value(&$e)),+] as &[$crate::sql::Value] };
}
pub(crate) use args;

/// What a column can be read as.
pub(crate) trait FromValue: Sized {
    const TYPE: &'static str;
    fn from_value(v: &Value) -> Option<Self>;
}

impl<T: FromValue> FromValue for Option<T> {
    const TYPE: &'static str = T::TYPE;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}
impl FromValue for i64 {
    const TYPE: &'static str = "an integer";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromValue for u32 {
    const TYPE: &'static str = "a 32-bit unsigned integer";
    fn from_value(v: &Value) -> Option<Self> {
        i64::from_value(v).and_then(|i| u32::try_from(i).ok())
    }
}
impl FromValue for u8 {
    const TYPE: &'static str = "a byte";
    fn from_value(v: &Value) -> Option<Self> {
        i64::from_value(v).and_then(|i| u8::try_from(i).ok())
    }
}
impl FromValue for bool {
    const TYPE: &'static str = "a boolean";
    fn from_value(v: &Value) -> Option<Self> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl FromValue for f64 {
    const TYPE: &'static str = "a real";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    const TYPE: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    const TYPE: &'static str = "a blob";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            // SQLite keeps what it was given: an empty payload written as '' reads as text.
            Value::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}

/// A row of a result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    /// Column `index` as a `T`; a value of another type is a [`CatalogError::Corrupt`] row
    /// (which names the column and the kinds, never the value).
    pub(crate) fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let value = self.0.get(index).unwrap_or(&Value::Null);
        T::from_value(value).ok_or_else(|| CatalogError::Corrupt {
            name: format!("column {index}"),
            reason: format!("holds {}, not {}", value.kind(), T::TYPE),
        })
    }
}

/// Runs statements: a connection, or a transaction on one.
pub(crate) trait Exec {
    /// The engine.
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns the number of rows it changed.
    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize>;
    /// Runs a query; returns its rows.
    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>>;

    /// The first row of a query, if it has one.
    fn query_opt(&self, sql: &str, args: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, args)?.into_iter().next())
    }
    /// The first row of a query that always answers one (an aggregate).
    fn query_one(&self, sql: &str, args: &[Value]) -> Result<Row> {
        self.query_opt(sql, args)?
            .ok_or_else(|| CatalogError::Invalid(format!("no row from {sql:?}")))
    }
    /// Every row's first column as a `T`.
    fn column<T: FromValue>(&self, sql: &str, args: &[Value]) -> Result<Vec<T>> {
        self.query(sql, args)?.iter().map(|r| r.get(0)).collect()
    }
}

/// A connection to either engine.
pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Pg),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conn::Sqlite(_) => "Conn::Sqlite",
            Conn::Postgres(_) => "Conn::Postgres",
        })
    }
}

/// A PostgreSQL connection, owned by a thread of its own.
///
/// The `postgres` client blocks on a runtime of its own, which tokio forbids on a thread
/// that runs async tasks, and the server calls the catalogue from such threads (briefly, as
/// it did SQLite). So the client lives on the thread `leakwatch-pg`, and each statement is a
/// job sent to it and waited for on a plain channel, which any thread may do. The thread
/// ends when this handle is dropped. A connection the server closed (a restart, a network
/// cut) is opened again before the next statement.
pub(crate) struct Pg {
    jobs: mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce(&mut PgConn) + Send>;

/// What the connection thread owns: the client and the statements it has prepared (by the
/// SQL as written here).
struct PgConn {
    client: postgres::Client,
    prepared: HashMap<String, postgres::Statement>,
}

impl Pg {
    /// Connects to `url` (creating the schema the first time) on a new connection thread.
    pub(crate) fn connect(url: &str) -> Result<Pg> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("leakwatch-pg".into())
            .spawn(move || {
                let client = match crate::pg::connect(&url) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                let mut conn = PgConn {
                    client,
                    prepared: HashMap::new(),
                };
                while let Ok(job) = queue.recv() {
                    if conn.client.is_closed() {
                        // Reconnect. If the server is still down, the job finds the
                        // client closed and fails saying so, and the next job tries again.
                        if let Ok(c) = crate::pg::connect(&url) {
                            conn.client = c;
                            conn.prepared.clear();
                        }
                    }
                    job(&mut conn);
                }
            })
            .map_err(|e| CatalogError::Postgres(format!("no connection thread: {e}")))?;
        connected
            .recv()
            .map_err(|_| CatalogError::Postgres("the connection thread ended".into()))??;
        Ok(Pg { jobs })
    }

    /// Runs `job` on the connection thread and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut PgConn) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (answer, answered) = mpsc::sync_channel(1);
        let gone = || CatalogError::Postgres("the catalogue's connection thread ended".into());
        self.jobs
            .send(Box::new(move |conn| {
                let _ = answer.send(job(conn));
            }))
            .map_err(|_| gone())?;
        answered.recv().map_err(|_| gone())?
    }

    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize> {
        let (sql, args) = (sql.to_owned(), args.to_vec());
        self.run(move |c| pg_execute(&mut c.client, &mut c.prepared, &sql, &args))
    }

    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        let (sql, args) = (sql.to_owned(), args.to_vec());
        self.run(move |c| pg_query(&mut c.client, &mut c.prepared, &sql, &args))
    }

    fn batch(&self, sql: &'static str) -> Result<()> {
        self.run(move |c| c.client.batch_execute(sql).map_err(pg_error))
    }
}

impl Conn {
    /// The SQLite connection, for what only SQLite has (pragmas, backup, the checksum VFS).
    pub(crate) fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Conn::Sqlite(c) => Some(c),
            Conn::Postgres(_) => None,
        }
    }

    /// Runs `body` in one transaction: committed if it returns `Ok`, rolled back otherwise
    /// (also if it panics).
    pub(crate) fn transaction<T>(&self, body: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        match self {
            Conn::Sqlite(c) => {
                // IMMEDIATE: the write lock is taken (or waited for, through the busy
                // handler) at BEGIN, so a transaction that reads before it writes never
                // finds another writer between the two (SQLite would fail it at once).
                let tx = Tx::Sqlite(rusqlite::Transaction::new_unchecked(
                    c,
                    rusqlite::TransactionBehavior::Immediate,
                )?);
                let out = body(&tx)?;
                let Tx::Sqlite(tx) = tx else { unreachable!() };
                tx.commit()?;
                Ok(out)
            }
            Conn::Postgres(pg) => {
                pg.batch("BEGIN")?;
                let tx = Tx::Postgres(PgTx {
                    pg,
                    open: true.into(),
                });
                let out = body(&tx)?;
                let Tx::Postgres(tx) = &tx else {
                    unreachable!()
                };
                tx.open.set(false);
                pg.batch("COMMIT")?;
                Ok(out)
            }
        }
    }
}

impl Exec for Conn {
    fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }
    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize> {
        match self {
            Conn::Sqlite(c) => sqlite_execute(c, sql, args),
            Conn::Postgres(pg) => pg.execute(sql, args),
        }
    }
    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        match self {
            Conn::Sqlite(c) => sqlite_query(c, sql, args),
            Conn::Postgres(pg) => pg.query(sql, args),
        }
    }
}

/// An open PostgreSQL transaction: rolled back when dropped before its commit.
pub(crate) struct PgTx<'a> {
    pg: &'a Pg,
    open: std::cell::Cell<bool>,
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open.get() {
            let _ = self.pg.batch("ROLLBACK");
        }
    }
}

/// A transaction in progress ([`Conn::transaction`]).
pub(crate) enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(PgTx<'a>),
}

impl Exec for Tx<'_> {
    fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }
    fn execute(&self, sql: &str, args: &[Value]) -> Result<usize> {
        match self {
            Tx::Sqlite(c) => sqlite_execute(c, sql, args),
            Tx::Postgres(tx) => tx.pg.execute(sql, args),
        }
    }
    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        match self {
            Tx::Sqlite(c) => sqlite_query(c, sql, args),
            Tx::Postgres(tx) => tx.pg.query(sql, args),
        }
    }
}

// ---- SQLite ----

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn sqlite_execute(c: &rusqlite::Connection, sql: &str, args: &[Value]) -> Result<usize> {
    let mut stmt = c.prepare_cached(sql)?;
    Ok(stmt.execute(rusqlite::params_from_iter(args))?)
}

fn sqlite_query(c: &rusqlite::Connection, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
    use rusqlite::types::ValueRef;
    let mut stmt = c.prepare_cached(sql)?;
    let width = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Int(i),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}

// ---- PostgreSQL ----

/// A PostgreSQL error as the catalogue's: the server's message (never a parameter's value:
/// the server does not echo them) and, for a lost connection, that it was lost.
pub(crate) fn pg_error(e: postgres::Error) -> CatalogError {
    CatalogError::Postgres(pg_message(e))
}

/// What a PostgreSQL error says: the server's SQLSTATE and message, or the client's error
/// with its causes.
pub(crate) fn pg_message(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            // The causes too: "error performing TLS handshake" alone does not say that the
            // server's certificate was not trusted.
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                text.push_str(&format!(": {c}"));
                cause = c.source();
            }
            text
        }
    }
}

/// `?1` → `$1`, outside string literals.
pub(crate) fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

fn statement(
    client: &mut postgres::Client,
    prepared: &mut HashMap<String, postgres::Statement>,
    sql: &str,
) -> Result<postgres::Statement> {
    if let Some(s) = prepared.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(&to_postgres(sql)).map_err(pg_error)?;
    prepared.insert(sql.to_owned(), s.clone());
    Ok(s)
}

fn pg_args(args: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    args.iter()
        .map(|a| a as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn pg_execute(
    client: &mut postgres::Client,
    prepared: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    args: &[Value],
) -> Result<usize> {
    let stmt = statement(client, prepared, sql)?;
    let n = client.execute(&stmt, &pg_args(args)).map_err(pg_error)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

fn pg_query(
    client: &mut postgres::Client,
    prepared: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    args: &[Value],
) -> Result<Vec<Row>> {
    let stmt = statement(client, prepared, sql)?;
    let rows = client.query(&stmt, &pg_args(args)).map_err(pg_error)?;
    rows.iter().map(pg_row).collect()
}

fn pg_row(r: &postgres::Row) -> Result<Row> {
    use postgres::types::Type;
    let mut values = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let value = match *ty {
            Type::INT8 => r.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|x| Value::Int(x.into()))),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|x| Value::Int(x.into()))),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|x| Value::Int(x.into()))),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real)),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(i)
                .map(|v| v.map(|x| Value::Real(x.into()))),
            Type::BYTEA => r
                .try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map(Value::Blob)),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => r
                .try_get::<_, Option<String>>(i)
                .map(|v| v.map(Value::Text)),
            _ => {
                return Err(CatalogError::Postgres(format!(
                    "column {} has type {ty}, which the catalogue does not read",
                    col.name()
                )));
            }
        };
        values.push(value.map_err(pg_error)?.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => Err(format!("an integer parameter where {ty} is wanted").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(format!("a real parameter where {ty} is wanted").into()),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        // Checked per value in `to_sql`, which knows the value's kind.
        true
    }

    postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_dollar_numbers_outside_string_literals_only() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d IN (?2, ?10)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d IN ($2, $10)"
        );
        assert_eq!(to_postgres("SELECT '?' || ?3"), "SELECT '?' || $3");
    }

    #[test]
    fn a_column_of_another_type_is_a_corrupt_row_that_never_shows_the_value() {
        let row = Row(vec![Value::Text("secret".into()), Value::Int(3)]);
        let err = row.get::<i64>(0).unwrap_err().to_string();
        assert!(err.contains("column 0") && err.contains("text"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(row.get::<Option<bool>>(1).unwrap(), Some(true));
        assert_eq!(row.get::<Option<String>>(5).unwrap(), None);
    }
}
