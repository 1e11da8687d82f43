//! Opening a store's SQLite file and running blocking work off the async
//! runtime.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use rusqlite::Connection;
use rusqlite::types::Value;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::page::{Cursor, Listed, Page, paginate};
use crate::record::{Record, by_expiry};

/// A SQLite file opened for a store: WAL, `synchronous=FULL`, a 10 s busy
/// timeout, migrations applied. Clones share the connections: one for
/// [`call`](Self::call), on the blocking pool, and [`READERS`] read-only
/// ones that never wait for a lock, for [`read`](Self::read).
#[derive(Debug, Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
    readers: Arc<[Mutex<Connection>]>,
    path: PathBuf,
}

/// Read-only connections per [`Database`]: as many reads can run in place
/// at once (one per runtime worker thread that reads), so a busy server's
/// reads do not spill over to the blocking pool, whose threads cost memory.
pub const READERS: usize = 4;

/// A rusqlite error as a backend error.
pub fn db_err(e: rusqlite::Error) -> Error {
    Error::backend("sqlite", e)
}

/// A timestamp as stored: microseconds since the Unix epoch.
pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// A stored timestamp read back; out-of-range values are a conversion error.
pub fn timestamp(v: i64) -> rusqlite::Result<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Integer, Box::new(e))
    })
}

/// The status in column `col` of `row`, read by `parse`; a value `parse`
/// does not know is a conversion error.
pub fn status<T>(
    row: &rusqlite::Row<'_>,
    col: usize,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let stored: String = row.get(col)?;
    parse(&stored).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Text,
            format!("unknown status {stored:?}").into(),
        )
    })
}

/// Runs the reads of `f` in one read transaction: one snapshot, one
/// lock. `BEGIN` and `COMMIT` are prepared once per connection (a point
/// read on the credential server's path does this on every request); when
/// `f` fails the transaction is rolled back, so the connection never keeps
/// a read lock that would hold back checkpoints.
pub fn snapshot<T, E: From<Error>>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E> {
    let run = |sql: &str| -> Result<()> {
        conn.prepare_cached(sql)
            .map_err(db_err)?
            .execute([])
            .map_err(db_err)?;
        Ok(())
    };
    run("BEGIN")?;
    match f(conn) {
        Ok(v) => {
            if let Err(e) = run("COMMIT") {
                let _ = run("ROLLBACK");
                return Err(e.into());
            }
            Ok(v)
        }
        Err(e) => {
            let _ = run("ROLLBACK");
            Err(e)
        }
    }
}

/// The row of `table` with primary key `id`, read through `row`; the
/// statement is prepared once per connection and cached.
pub fn load_by_id<T>(
    conn: &Connection,
    table: &str,
    columns: &str,
    id: &str,
    row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached(&format!("SELECT {columns} FROM {table} WHERE id = ?1"))
        .map_err(db_err)?
        .query_row([id], row)
        .optional()
        .map_err(db_err)
}

/// Stores a new row of `table`: `values` for `columns`, in order, the first
/// of them its `id`. [`Error::Conflict`] when the id is taken; nothing is
/// written then.
pub fn insert_new(
    conn: &Connection,
    table: &str,
    columns: &str,
    id: &str,
    values: impl rusqlite::Params,
) -> Result<()> {
    let placeholders = (1..=columns.split(',').count())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT (id) DO NOTHING"
        ))
        .map_err(db_err)?
        .execute(values)
        .map_err(db_err)?;
    if inserted == 0 {
        return Err(Error::conflict(id));
    }
    Ok(())
}

/// Claims up to `limit` rows of `table` whose `status` column is `status`,
/// whose `expires_at` is at or before `now` and whose `expiry_announced` is
/// 0, oldest expiry first: one `UPDATE ... RETURNING` statement sets the
/// mark, so of racing claimers (also in other processes) each row goes to
/// exactly one. `columns` and `row` read the claimed rows; their order is
/// not guaranteed, so callers sort them.
pub fn claim_expired<T>(
    conn: &Connection,
    table: &str,
    status: &str,
    columns: &str,
    now: Timestamp,
    limit: usize,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "UPDATE {table} SET expiry_announced = 1 WHERE id IN \
             (SELECT id FROM {table} WHERE status = ?1 AND expiry_announced = 0 \
              AND expires_at <= ?2 ORDER BY expires_at, id LIMIT ?3) RETURNING {columns}"
        ))
        .map_err(db_err)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(rusqlite::params![status, micros(now), limit], row)
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<T>>>().map_err(db_err)
}

/// The filters of one listing query: SQL clauses, all of which a row must
/// pass, and the values their `?` placeholders take, in order.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    clauses: Vec<String>,
    args: Vec<Value>,
}

impl Filters {
    /// No filter: every row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `clause`, with one `?` for each of `args`.
    pub fn and(&mut self, clause: &str, args: impl IntoIterator<Item = Value>) -> &mut Self {
        self.clauses.push(format!("({clause})"));
        self.args.extend(args);
        self
    }

    /// Adds `column = value` when there is a value.
    pub fn eq(&mut self, column: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.and(&format!("{column} = ?"), [Value::Text(v.to_owned())]);
        }
        self
    }

    /// Adds: stored as `status` and not expired at `now` (what still reads
    /// as `status`).
    pub fn unexpired(&mut self, status: &str, now: Timestamp) -> &mut Self {
        self.status_and(status, "expires_at > ?", now)
    }

    /// Adds: stored as `status` but expired at `now` (what reads as
    /// expired).
    pub fn expired(&mut self, status: &str, now: Timestamp) -> &mut Self {
        self.status_and(status, "expires_at <= ?", now)
    }

    fn status_and(&mut self, status: &str, clause: &str, now: Timestamp) -> &mut Self {
        self.and(
            &format!("status = ? AND {clause}"),
            [Value::Text(status.to_owned()), Value::Integer(micros(now))],
        )
    }
}

/// One page of a listing of `table`, newest first (see
/// [`newest_first`](crate::newest_first)): the rows that pass `filters` and
/// come after `after`, at most `size`, read through `row`, and the token of
/// the next page if more remain. The table has the listing columns
/// `created_at` (microseconds) and `id`; one query of `size + 1` rows tells
/// whether there is a next page.
pub fn list_page<T: Listed>(
    conn: &Connection,
    table: &str,
    columns: &str,
    mut filters: Filters,
    after: Option<&Cursor>,
    size: usize,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<(Vec<T>, Option<String>)> {
    let size = size.max(1);
    if let Some(c) = after {
        filters.and(
            "created_at < ? OR (created_at = ? AND id < ?)",
            [
                Value::Integer(micros(c.at)),
                Value::Integer(micros(c.at)),
                Value::Text(c.id.clone()),
            ],
        );
    }
    let Filters { clauses, mut args } = filters;
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    args.push(Value::Integer(
        i64::try_from(size.saturating_add(1)).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {columns} FROM {table} {filter} ORDER BY created_at DESC, id DESC LIMIT ?"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), row)
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<T>>>()
        .map_err(db_err)?;
    Ok(paginate(rows, None, size))
}

impl Database {
    /// Opens (creating with mode 0600, and its directory, if needed) the file
    /// at `path` and applies `migrations` in order; `PRAGMA user_version`
    /// counts those already applied. A file whose version is newer than
    /// `migrations.len()` is refused, so an old binary never writes a newer
    /// schema.
    pub async fn open(
        path: impl Into<PathBuf>,
        migrations: &'static [&'static str],
    ) -> Result<Self> {
        let path = path.into();
        let p = path.clone();
        let (conn, readers) = tokio::task::spawn_blocking(move || {
            let conn = open_blocking(&p, migrations)?;
            let readers = (0..READERS)
                .map(|_| open_reader(&p).map(Mutex::new))
                .collect::<Result<Vec<_>>>()?;
            Ok::<_, Error>((conn, readers))
        })
        .await
        .map_err(|e| Error::backend("sqlite", e))??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: readers.into(),
            path,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection on tokio's blocking pool.
    pub async fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| E::from(Error::backend("sqlite", e)))?
    }

    /// Runs the read-only `f` inline, on the calling task, when that is
    /// quick: on a read-only connection, which never waits for a lock
    /// (busy timeout 0), the first of the [`READERS`] no other task holds. A point
    /// read of a cached page takes a few microseconds, less than the hop to
    /// the blocking pool and back that [`call`](Self::call) costs. When every
    /// reader is taken, or `f` fails on one (for one, `SQLITE_BUSY` while
    /// another process recovers the WAL), `f` runs again through `call`,
    /// whose answer counts: a read never fails for being fast.
    ///
    /// `f` must only read; the connection is `query_only`, so a write fails
    /// there and then runs through `call`.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: Fn(&Connection) -> Result<T, E> + Send + 'static,
    {
        if let Some(reader) = self.readers.iter().find_map(|r| r.try_lock().ok())
            && let Ok(v) = f(&reader)
        {
            return Ok(v);
        }
        self.call(move |conn| f(conn)).await
    }
}

/// A store's [`Database`] and the [`Clock`] it reads time from: what every
/// SQLite store is built on. Work runs with the current time in whole
/// microseconds, the precision the file stores, so a time compared in SQL is
/// the one compared in Rust.
#[derive(Debug, Clone)]
pub struct ClockedDatabase {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl ClockedDatabase {
    /// Opens the file at `path` as [`Database::open`] does, reading time
    /// from `clock`.
    pub async fn open(
        path: impl Into<PathBuf>,
        migrations: &'static [&'static str],
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Ok(Self {
            db: Database::open(path, migrations).await?,
            clock,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The database, for work that reads the clock itself.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The current time, in whole microseconds.
    pub fn now(&self) -> Timestamp {
        let now = self.clock.now();
        Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
    }

    /// Runs `f` with the connection and [`now`](Self::now) on the blocking
    /// pool ([`Database::call`]).
    pub async fn call_now<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&mut Connection, Timestamp) -> Result<T, E> + Send + 'static,
    {
        let now = self.now();
        self.db.call(move |conn| f(conn, now)).await
    }

    /// Runs the read-only `f` with a connection and [`now`](Self::now),
    /// inline when that is quick ([`Database::read`]).
    pub async fn read_now<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: Fn(&Connection, Timestamp) -> Result<T, E> + Send + 'static,
    {
        let now = self.now();
        self.db.read(move |conn| f(conn, now)).await
    }

    /// The row `id` of `table` as of now (see [`load_by_id`] and
    /// [`Record::read_at`]), read in place when that is quick;
    /// [`Error::NotFound`] if there is none.
    pub async fn get<T: Record + Send + 'static>(
        &self,
        table: &'static str,
        columns: &'static str,
        id: &str,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let id = id.to_owned();
        self.read_now(move |conn, now| {
            load_by_id(conn, table, columns, &id, row)?
                .map(|r| r.read_at(now))
                .ok_or_else(|| Error::not_found(&id))
        })
        .await
    }

    /// One page of a listing of `table` as of now (see [`list_page`]):
    /// `filters` adds the query's filters, given the current time; the rows
    /// are read through `row` and as of now.
    pub async fn list<T: Record + Send + 'static>(
        &self,
        table: &'static str,
        columns: &'static str,
        page: &Page,
        filters: impl FnOnce(&mut Filters, Timestamp) + Send + 'static,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<(Vec<T>, Option<String>)> {
        let after = page.cursor()?;
        let size = page.size();
        self.call_now(move |conn, now| {
            let mut f = Filters::new();
            filters(&mut f, now);
            list_page(conn, table, columns, f, after.as_ref(), size, |r| {
                row(r).map(|v| v.read_at(now))
            })
        })
        .await
    }

    /// Claims up to `limit` rows of `table` stored as `status` that expired
    /// by now (see [`claim_expired`]), oldest expiry first, as of now.
    pub async fn claim_expired<T: Record + Send + 'static>(
        &self,
        table: &'static str,
        status: &'static str,
        columns: &'static str,
        limit: usize,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        self.call_now(move |conn, now| {
            let mut due = claim_expired(conn, table, status, columns, now, limit, row)?;
            by_expiry(&mut due);
            Ok(due.into_iter().map(|v| v.read_at(now)).collect())
        })
        .await
    }
}

/// The constructors of a SQLite store, written inside its `impl` block:
/// `open`, on the system clock, `open_with_clock` and `path`. The store
/// has the field `db`, a [`ClockedDatabase`] with the schema `$migrations`;
/// `$error` is the store's error type.
#[macro_export]
macro_rules! sqlite_store_constructors {
    ($migrations:expr, $error:ty) => {
        /// Opens (creating if needed) the database at `path` and brings its
        /// schema up to date; time comes from the system clock.
        pub async fn open(
            path: impl Into<::std::path::PathBuf>,
        ) -> ::std::result::Result<Self, $error> {
            Self::open_with_clock(path, ::std::sync::Arc::new($crate::SystemClock)).await
        }

        /// Like [`open`](Self::open), reading time from `clock`.
        pub async fn open_with_clock(
            path: impl Into<::std::path::PathBuf>,
            clock: ::std::sync::Arc<dyn $crate::Clock>,
        ) -> ::std::result::Result<Self, $error> {
            Ok(Self {
                db: $crate::sqlite::ClockedDatabase::open(path, $migrations, clock).await?,
            })
        }

        /// The database file.
        pub fn path(&self) -> &::std::path::Path {
            self.db.path()
        }
    };
}

/// Turns on the query planner stability guarantee. The bundled SQLite is
/// built with `SQLITE_ENABLE_STAT4`, which otherwise re-prepares a cached
/// statement on every bind of a parameter that could sway the plan (an
/// indexed equality with `ORDER BY`, a range): measured, that made a point
/// read of `user_revocations` 20 µs instead of 3 µs. Sentinel never runs
/// `ANALYZE`, so there are no statistics for such a re-plan to use.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(db_err)?;
    Ok(())
}

/// The connection for [`Database::read`]: no busy wait, no writes.
fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| Error::backend("sqlite", format!("opening {}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::ZERO)
        .map_err(db_err)?;
    stable_plans(&conn)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(db_err)?;
    Ok(conn)
}

fn open_blocking(path: &Path, migrations: &[&str]) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_dir(dir)
            .map_err(|e| Error::backend("sqlite", format!("creating {}: {e}", dir.display())))?;
    }
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::backend(
                    "sqlite",
                    format!("creating {}: {e}", path.display()),
                ));
            }
        }
    }
    let mut conn = Connection::open(path)
        .map_err(|e| Error::backend("sqlite", format!("opening {}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db_err)?;
    stable_plans(&conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db_err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    migrate(&mut conn, path, migrations)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path, migrations: &[&str]) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db_err)?;
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(Error::backend(
            "sqlite",
            format!(
                "{} has schema version {version}, newer than this Sentinel knows ({known}); upgrade Sentinel",
                path.display()
            ),
        ));
    }
    for (i, sql) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(sql).map_err(db_err)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )
        .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const V1: &[&str] = &["CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL) STRICT;"];
    const V2: &[&str] = &[
        "CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL) STRICT;",
        "ALTER TABLE t ADD COLUMN note TEXT;",
    ];

    #[cfg(unix)]
    #[tokio::test]
    async fn an_open_state_directory_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("sentinel");
        std::fs::create_dir(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        Database::open(&state.join("state.db"), V1).await.unwrap();
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[tokio::test]
    async fn migrates_forward_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.db");
        let db = Database::open(&path, V1).await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        db.call(|c| {
            c.execute("INSERT INTO t (id) VALUES ('a')", [])
                .map_err(db_err)
        })
        .await
        .unwrap();
        drop(db);
        let db = Database::open(&path, V2).await.unwrap();
        let note: Option<String> = db
            .call(|c| {
                c.query_row("SELECT note FROM t WHERE id = 'a'", [], |r| r.get(0))
                    .map_err(db_err)
            })
            .await
            .unwrap();
        assert_eq!(note, None);
        drop(db);
        let err = Database::open(&path, V1).await.unwrap_err().to_string();
        assert!(err.contains("newer than this Sentinel knows"), "{err}");
    }

    #[tokio::test]
    async fn reads_see_every_commit_and_fall_back_to_the_pool() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let db = Database::open(&path, V1).await.unwrap();
        async fn count(db: &Database) -> Result<i64> {
            db.read(|c| {
                c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                    .map_err(db_err)
            })
            .await
        }
        assert_eq!(count(&db).await.unwrap(), 0);
        // A commit through the writer, and one by another process's
        // connection, are both visible to the next read.
        db.call(|c| {
            c.execute("INSERT INTO t (id) VALUES ('a')", [])
                .map_err(db_err)
        })
        .await
        .unwrap();
        assert_eq!(count(&db).await.unwrap(), 1);
        Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO t (id) VALUES ('b')", [])
            .unwrap();
        assert_eq!(count(&db).await.unwrap(), 2);
        // A failure on the inline connection is retried on the pool.
        let tries = Arc::new(AtomicUsize::new(0));
        let t = Arc::clone(&tries);
        let v = db
            .read(move |_| match t.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Error::backend("sqlite", "busy")),
                n => Ok(n),
            })
            .await
            .unwrap();
        assert_eq!((v, tries.load(Ordering::SeqCst)), (1, 2));
        // The inline connection cannot write.
        let tries = Arc::new(AtomicUsize::new(0));
        let t = Arc::clone(&tries);
        db.read(move |c| {
            t.fetch_add(1, Ordering::SeqCst);
            c.execute("INSERT INTO t (id) VALUES ('c')", [])
                .map_err(db_err)
        })
        .await
        .unwrap();
        assert_eq!(
            tries.load(Ordering::SeqCst),
            2,
            "refused inline, then written"
        );
    }
}
