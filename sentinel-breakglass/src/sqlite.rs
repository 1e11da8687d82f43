//! The embedded SQLite backend.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Row, TransactionBehavior, params, types::Value};
use sentinel_store::Record;
use sentinel_store::sqlite::{
    ClockedDatabase, Filters, db_err, insert_new, load_by_id, micros, status, timestamp,
};

use crate::error::{Error, Result};
use crate::model::{
    BreakGlassEvent, BreakGlassPage, BreakGlassQuery, BreakGlassStatus, check_close, micro,
    parse_reason_code, sub,
};
use crate::rules::Recent;
use crate::store::{BreakGlassStore, Invocation, not_closable};

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

const TABLE: &str = "breakglass_events";

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
    let status = status(row, 6, BreakGlassStatus::parse)?;
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
    Ok(load_by_id(conn, TABLE, COLUMNS, id, row_to_event)?)
}

impl SqliteBreakGlassStore {
    sentinel_store::sqlite_store_constructors!(MIGRATIONS, Error);
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
                insert_new(
                    &tx,
                    TABLE,
                    &format!("{COLUMNS}, invoker_key"),
                    &e.id,
                    params![
                        e.id,
                        e.invoker,
                        e.profile,
                        e.reason_code.as_str(),
                        e.justification,
                        i64::try_from(e.duration.as_secs()).unwrap_or(i64::MAX),
                        e.status.as_str(),
                        micros(e.created_at),
                        micros(e.updated_at),
                        micros(e.expires_at),
                        e.closed_at.map(micros),
                        e.closed_by,
                        e.close_reason,
                        i64::from(e.escalated),
                        e.rule,
                        e.invoker.clone(),
                    ],
                )?;
                tx.commit().map_err(db_err)?;
                Ok(e)
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<BreakGlassEvent> {
        Ok(self.db.get(TABLE, COLUMNS, id, row_to_event).await?)
    }

    async fn close(&self, id: &str, by: &str, reason: &str) -> Result<BreakGlassEvent> {
        check_close(id, by, reason)?;
        let (id, by, reason) = (id.to_owned(), by.to_owned(), reason.trim().to_owned());
        self.db
            .call_now(move |conn, now| {
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
        let q = query.clone();
        let filters = move |f: &mut Filters, now| {
            f.eq("invoker", q.invoker.as_deref())
                .eq("profile", q.profile.as_deref());
            match q.status {
                Some(BreakGlassStatus::Active) => f.unexpired("active", now),
                Some(BreakGlassStatus::Expired) => f.expired("active", now),
                Some(BreakGlassStatus::Closed) => f.eq("status", Some("closed")),
                None => f,
            };
            if let Some(to) = q.to {
                f.and("created_at < ?", [Value::Integer(micros(to))]);
            }
            if let Some(from) = q.from {
                f.and(
                    "COALESCE(closed_at, expires_at) > ?",
                    [Value::Integer(micros(from))],
                );
            }
        };
        let page = self
            .db
            .list(TABLE, COLUMNS, &query.page, filters, row_to_event)
            .await?;
        Ok(BreakGlassPage::from_parts(page))
    }

    async fn find_active(&self, invoker: &str, profile: &str) -> Result<Option<BreakGlassEvent>> {
        let (invoker, profile) = (invoker.to_owned(), profile.to_owned());
        self.db
            .read_now(move |conn, now| {
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
        Ok(self
            .db
            .claim_expired(TABLE, "active", COLUMNS, limit, row_to_event)
            .await?)
    }
}
