//! The embedded SQLite backend.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Row, TransactionBehavior, params, types::Value};
use sentinel_store::sqlite::{
    ClockedDatabase, Filters, claim_expired, db_err, list_page, load_by_id, micros, timestamp,
};

use crate::error::{Error, Result};
use crate::model::{
    BreakGlassEvent, BreakGlassPage, BreakGlassQuery, BreakGlassStatus, check_close, micro,
    parse_reason_code, sub,
};
use crate::rules::Recent;
use crate::store::{BreakGlassStore, Clock, Invocation, SystemClock, not_closable};

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many have run.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE breakglass_events (
    id            TEXT PRIMARY KEY NOT NULL,
    invoker       TEXT NOT NULL,
    invoker_key   TEXT NOT NULL,
    profile       TEXT NOT NULL,
    reason_code   TEXT NOT NULL,
    justification TEXT NOT NULL,
    duration_secs INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'closed')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    closed_at     INTEGER,
    closed_by     TEXT,
    close_reason  TEXT,
    escalated     INTEGER NOT NULL CHECK (escalated IN (0, 1)),
    rule          TEXT,
    expiry_announced INTEGER NOT NULL DEFAULT 0 CHECK (expiry_announced IN (0, 1))
) STRICT;
CREATE INDEX breakglass_by_profile ON breakglass_events (profile, created_at DESC, id DESC);
CREATE INDEX breakglass_by_invoker ON breakglass_events (invoker, created_at DESC, id DESC);
CREATE INDEX breakglass_by_status ON breakglass_events (status, created_at DESC, id DESC);
CREATE INDEX breakglass_by_created ON breakglass_events (created_at DESC, id DESC);
CREATE INDEX breakglass_active_by_invoker ON breakglass_events (invoker_key, profile, expires_at)
    WHERE status = 'active';
CREATE INDEX breakglass_unannounced ON breakglass_events (expires_at, id)
    WHERE status = 'active' AND expiry_announced = 0;
"];

const COLUMNS: &str = "id, invoker, profile, reason_code, justification, duration_secs, status, \
     created_at, updated_at, expires_at, closed_at, closed_by, close_reason, escalated, rule";

/// Break-glass events in a SQLite file: the embedded default for one
/// machine.
///
/// WAL mode, full sync, versioned migrations, the file created with mode
/// 0600, blocking calls on tokio's blocking pool. An invocation checks the
/// limits and inserts inside one `BEGIN IMMEDIATE` transaction, so several
/// processes sharing the file cannot race past a limit.
#[derive(Debug, Clone)]
pub struct SqliteBreakGlassStore {
    db: ClockedDatabase,
}

fn conversion(col: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, msg.into())
}

fn row_to_event(row: &Row<'_>) -> rusqlite::Result<BreakGlassEvent> {
    let code: String = row.get(3)?;
    let reason_code = parse_reason_code(&code).map_err(|e| conversion(3, e.to_string()))?;
    let status: String = row.get(6)?;
    let status = BreakGlassStatus::parse(&status)
        .ok_or_else(|| conversion(6, format!("unknown status {status:?}")))?;
    let secs: i64 = row.get(5)?;
    let closed_at: Option<i64> = row.get(10)?;
    let escalated: i64 = row.get(13)?;
    Ok(BreakGlassEvent {
        id: row.get(0)?,
        invoker: row.get(1)?,
        profile: row.get(2)?,
        reason_code,
        justification: row.get(4)?,
        duration: Duration::from_secs(u64::try_from(secs).unwrap_or(0)),
        status,
        created_at: timestamp(row.get(7)?)?,
        updated_at: timestamp(row.get(8)?)?,
        expires_at: timestamp(row.get(9)?)?,
        closed_at: closed_at.map(timestamp).transpose()?,
        closed_by: row.get(11)?,
        close_reason: row.get(12)?,
        escalated: escalated != 0,
        rule: row.get(14)?,
    })
}

fn load(conn: &rusqlite::Connection, id: &str) -> Result<Option<BreakGlassEvent>> {
    Ok(load_by_id(
        conn,
        "breakglass_events",
        COLUMNS,
        id,
        row_to_event,
    )?)
}

impl SqliteBreakGlassStore {
    /// Opens (creating if needed) the database at `path`, on the system
    /// clock.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self> {
        Self::open_with_clock(path, Arc::new(SystemClock)).await
    }

    /// Like [`open`](Self::open), reading time from `clock`.
    pub async fn open_with_clock(path: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Result<Self> {
        Ok(Self {
            db: ClockedDatabase::open(path, MIGRATIONS, clock).await?,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }
}

#[async_trait]
impl BreakGlassStore for SqliteBreakGlassStore {
    async fn invoke(&self, invocation: &Invocation) -> Result<BreakGlassEvent> {
        let invocation = invocation.clone();
        let clock = Arc::clone(self.db.clock());
        self.db
            .database()
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(db_err)?;
                // The clock is read inside the write lock, so events of
                // racing processes are checked in the order they commit.
                let now = micro(clock.now());
                let since = sub(now, invocation.limits.lookback());
                let recent: Vec<Recent> = {
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT id, invoker, created_at, COALESCE(closed_at, expires_at) \
                             FROM breakglass_events WHERE profile = ?1 \
                             AND (created_at > ?2 OR (status = 'active' AND expires_at > ?3))",
                        )
                        .map_err(db_err)?;
                    stmt.query_map(
                        params![invocation.new.profile, micros(since), micros(now)],
                        |row| {
                            Ok(Recent {
                                id: row.get(0)?,
                                invoker: row.get(1)?,
                                created_at: timestamp(row.get(2)?)?,
                                ends_at: timestamp(row.get(3)?)?,
                            })
                        },
                    )
                    .map_err(db_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(db_err)?
                };
                let e = invocation.event_at(now, &recent)?;
                tx.execute(
                    &format!(
                        "INSERT INTO breakglass_events ({COLUMNS}, invoker_key) VALUES \
                         (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8, ?9, NULL, NULL, NULL, ?10, ?11, ?12)"
                    ),
                    params![
                        e.id,
                        e.invoker,
                        e.profile,
                        e.reason_code.as_str(),
                        e.justification,
                        i64::try_from(e.duration.as_secs()).unwrap_or(i64::MAX),
                        micros(e.created_at),
                        micros(e.updated_at),
                        micros(e.expires_at),
                        i64::from(e.escalated),
                        e.rule,
                        e.invoker.clone(),
                    ],
                )
                .map_err(|err| match err.sqlite_error_code() {
                    Some(rusqlite::ErrorCode::ConstraintViolation) => Error::Conflict {
                        id: e.id.clone(),
                        what: "already exists".into(),
                    },
                    _ => db_err(err).into(),
                })?;
                tx.commit().map_err(db_err)?;
                Ok(e)
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<BreakGlassEvent> {
        let id = id.to_owned();
        let now = self.db.clock().now();
        self.db
            .database()
            .read(move |conn| {
                load(conn, &id)?
                    .map(|e| e.read_at(now))
                    .ok_or_else(|| Error::NotFound { id: id.clone() })
            })
            .await
    }

    async fn close(&self, id: &str, by: &str, reason: &str) -> Result<BreakGlassEvent> {
        check_close(id, by, reason)?;
        let (id, by, reason) = (id.to_owned(), by.to_owned(), reason.trim().to_owned());
        let now = micro(self.db.clock().now());
        self.db
            .database()
            .call(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE breakglass_events SET status = 'closed', closed_at = ?2, \
                         updated_at = ?2, closed_by = ?3, close_reason = ?4 \
                         WHERE id = ?1 AND status = 'active' AND expires_at > ?2",
                        params![id, micros(now), by, reason],
                    )
                    .map_err(db_err)?;
                match load(conn, &id)? {
                    None => Err(Error::NotFound { id }),
                    Some(e) if changed == 1 => Ok(e.read_at(now)),
                    Some(e) => Err(not_closable(&e, now)),
                }
            })
            .await
    }

    async fn list(&self, query: &BreakGlassQuery) -> Result<BreakGlassPage> {
        let after = query.page.cursor()?;
        let size = query.page.size();
        let query = query.clone();
        let now = self.db.clock().now();
        self.db
            .database()
            .call(move |conn| {
                let mut filters = Filters::new();
                filters
                    .eq("invoker", query.invoker.as_deref())
                    .eq("profile", query.profile.as_deref());
                let now_us = || [Value::Integer(micros(now))];
                match query.status {
                    Some(BreakGlassStatus::Active) => {
                        filters.and("status = 'active' AND expires_at > ?", now_us());
                    }
                    Some(BreakGlassStatus::Expired) => {
                        filters.and("status = 'active' AND expires_at <= ?", now_us());
                    }
                    Some(BreakGlassStatus::Closed) => {
                        filters.and("status = 'closed'", []);
                    }
                    None => {}
                }
                if let Some(to) = query.to {
                    filters.and("created_at < ?", [Value::Integer(micros(to))]);
                }
                if let Some(from) = query.from {
                    filters.and(
                        "COALESCE(closed_at, expires_at) > ?",
                        [Value::Integer(micros(from))],
                    );
                }
                Ok(BreakGlassPage::from_parts(list_page(
                    conn,
                    "breakglass_events",
                    COLUMNS,
                    filters,
                    after.as_ref(),
                    size,
                    |r| row_to_event(r).map(|e| e.read_at(now)),
                )?))
            })
            .await
    }

    async fn find_active(&self, invoker: &str, profile: &str) -> Result<Option<BreakGlassEvent>> {
        let (invoker, profile) = (invoker.to_owned(), profile.to_owned());
        let now = self.db.clock().now();
        self.db
            .database()
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM breakglass_events WHERE invoker_key = ?1 \
                         AND profile = ?2 AND status = 'active' AND expires_at > ?3"
                    ))
                    .map_err(db_err)?;
                let found = stmt
                    .query_map(params![invoker, profile, micros(now)], row_to_event)
                    .map_err(db_err)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db_err)?;
                Ok(found
                    .into_iter()
                    .find(|e| e.invoker == invoker)
                    .map(|e| e.read_at(now)))
            })
            .await
    }

    async fn claim_expired(&self, limit: usize) -> Result<Vec<BreakGlassEvent>> {
        let now = self.db.clock().now();
        self.db
            .database()
            .call(move |conn| {
                let mut due = claim_expired(
                    conn,
                    "breakglass_events",
                    "active",
                    COLUMNS,
                    now,
                    limit,
                    row_to_event,
                )?;
                due.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
                Ok(due.into_iter().map(|v| v.read_at(now)).collect())
            })
            .await
    }
}
