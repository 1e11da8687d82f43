//! The embedded SQLite backend.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sentinel_store::Record;
use sentinel_store::sqlite::{
    ClockedDatabase, Filters, db_err, insert_new, load_by_id, micros, status, timestamp,
};

use crate::error::{Error, Result};
use crate::model::{
    AccessRequest, RequestPage, RequestQuery, RequestStatus, check_name, clean_comment,
};
use crate::store::{Action, RequestStore};

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many have run.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE requests (
    id               TEXT PRIMARY KEY NOT NULL,
    requester        TEXT NOT NULL,
    profile          TEXT NOT NULL,
    justification    TEXT NOT NULL,
    duration_secs    INTEGER NOT NULL CHECK (duration_secs > 0),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled')),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    approver         TEXT,
    approver_comment TEXT,
    approved_at      INTEGER
) STRICT;
CREATE INDEX requests_by_requester ON requests (requester, created_at DESC, id DESC);
CREATE INDEX requests_by_profile ON requests (profile, created_at DESC, id DESC);
CREATE INDEX requests_by_status ON requests (status, created_at DESC, id DESC);
CREATE INDEX requests_by_created ON requests (created_at DESC, id DESC);
CREATE INDEX requests_approved ON requests (requester, profile, status, approved_at);
",
    r"
ALTER TABLE requests ADD COLUMN expiry_announced INTEGER NOT NULL DEFAULT 0
    CHECK (expiry_announced IN (0, 1));
CREATE INDEX requests_unannounced ON requests (expires_at, id)
    WHERE status = 'pending' AND expiry_announced = 0;
",
];

const TABLE: &str = "requests";

const COLUMNS: &str = "id, requester, profile, justification, duration_secs, status, created_at, \
     updated_at, expires_at, approver, approver_comment, approved_at";

/// Access requests in a SQLite file: the embedded default for one machine.
///
/// WAL mode, full sync, versioned migrations, the file created with mode
/// 0600. Blocking calls run on tokio's blocking pool. Several processes may
/// share the file; every change is a single conditional statement.
#[derive(Debug, Clone)]
pub struct SqliteRequestStore {
    db: ClockedDatabase,
}

fn row_to_request(row: &Row<'_>) -> rusqlite::Result<AccessRequest> {
    let status = status(row, 5, RequestStatus::parse)?;
    let secs: i64 = row.get(4)?;
    let approved_at: Option<i64> = row.get(11)?;
    Ok(AccessRequest {
        id: row.get(0)?,
        requester: row.get(1)?,
        profile: row.get(2)?,
        justification: row.get(3)?,
        duration: Duration::from_secs(u64::try_from(secs).unwrap_or(0)),
        status,
        created_at: timestamp(row.get(6)?)?,
        updated_at: timestamp(row.get(7)?)?,
        expires_at: timestamp(row.get(8)?)?,
        approver: row.get(9)?,
        approver_comment: row.get(10)?,
        approved_at: approved_at.map(timestamp).transpose()?,
    })
}

impl SqliteRequestStore {
    sentinel_store::sqlite_store_constructors!(MIGRATIONS, Error);

    async fn change(
        &self,
        id: &str,
        action: Action,
        by: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest> {
        action.check_input(by, comment)?;
        let (id, by, comment) = (id.to_owned(), by.to_owned(), clean_comment(comment));
        self.db.call_now(move |conn, now| {
            let current = load(conn, &id)?.ok_or_else(|| Error::NotFound { id: id.clone() })?;
            action.check_actor(&current, &by)?;
            let changed = match action {
                Action::Cancel => conn.execute(
                    "UPDATE requests SET status = 'cancelled', updated_at = ?2 \
                     WHERE id = ?1 AND status = 'pending' AND expires_at > ?2",
                    params![id, micros(now)],
                ),
                Action::Approve => conn.execute(
                    "UPDATE requests SET status = 'approved', approver = ?3, approver_comment = ?4, \
                     approved_at = ?2, updated_at = ?2 \
                     WHERE id = ?1 AND status = 'pending' AND expires_at > ?2",
                    params![id, micros(now), by, comment],
                ),
                Action::Deny => conn.execute(
                    "UPDATE requests SET status = 'denied', approver = ?3, approver_comment = ?4, \
                     updated_at = ?2 \
                     WHERE id = ?1 AND status = 'pending' AND expires_at > ?2",
                    params![id, micros(now), by, comment],
                ),
            }
            .map_err(db_err)?;
            let after = load(conn, &id)?.ok_or(Error::NotFound { id })?;
            if changed == 0 {
                return Err(action.transition_error(&after.read_at(now)));
            }
            Ok(after)
        })
        .await
    }
}

fn load(conn: &Connection, id: &str) -> Result<Option<AccessRequest>> {
    Ok(load_by_id(conn, TABLE, COLUMNS, id, row_to_request)?)
}

#[async_trait]
impl RequestStore for SqliteRequestStore {
    async fn create(&self, request: &AccessRequest) -> Result<()> {
        check_name("id", &request.id)?;
        let r = request.clone();
        self.db
            .call_now(move |conn, _| {
                Ok(insert_new(
                    conn,
                    TABLE,
                    COLUMNS,
                    &r.id,
                    params![
                        r.id,
                        r.requester,
                        r.profile,
                        r.justification,
                        i64::try_from(r.duration.as_secs()).unwrap_or(i64::MAX),
                        r.status.stored(),
                        micros(r.created_at),
                        micros(r.updated_at),
                        micros(r.expires_at),
                        r.approver,
                        r.approver_comment,
                        r.approved_at.map(micros),
                    ],
                )?)
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<AccessRequest> {
        Ok(self.db.get(TABLE, COLUMNS, id, row_to_request).await?)
    }

    async fn approve(
        &self,
        id: &str,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest> {
        self.change(id, Action::Approve, approver, comment).await
    }

    async fn deny(&self, id: &str, approver: &str, comment: Option<&str>) -> Result<AccessRequest> {
        self.change(id, Action::Deny, approver, comment).await
    }

    async fn cancel(&self, id: &str, by: &str) -> Result<AccessRequest> {
        self.change(id, Action::Cancel, by, None).await
    }

    async fn list(&self, query: &RequestQuery) -> Result<RequestPage> {
        let q = query.clone();
        let filters = move |f: &mut Filters, now| {
            f.eq("requester", q.requester.as_deref())
                .eq("profile", q.profile.as_deref());
            match q.status {
                Some(RequestStatus::Pending) => f.unexpired("pending", now),
                Some(RequestStatus::Expired) => f.expired("pending", now),
                Some(s) => f.eq("status", Some(s.stored())),
                None => f,
            };
        };
        let page = self
            .db
            .list(TABLE, COLUMNS, &query.page, filters, row_to_request)
            .await?;
        Ok(RequestPage::from_parts(page))
    }

    async fn find_approved(
        &self,
        user: &str,
        profile: &str,
        now: Timestamp,
    ) -> Result<Option<AccessRequest>> {
        let (user, profile) = (user.to_owned(), profile.to_owned());
        let at = micros(now);
        self.db
            .read_now(move |conn, _| {
                Ok(conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM requests \
                     WHERE requester = ?1 AND profile = ?2 AND status = 'approved' \
                     AND approved_at <= ?3 AND approved_at + duration_secs * 1000000 > ?3 \
                     ORDER BY approved_at + duration_secs * 1000000 DESC, id DESC LIMIT 1"
                    ))
                    .map_err(db_err)?
                    .query_row(params![user, profile, at], row_to_request)
                    .optional()
                    .map_err(db_err)?)
            })
            .await
    }

    async fn claim_expired(&self, limit: usize) -> Result<Vec<AccessRequest>> {
        Ok(self
            .db
            .claim_expired(TABLE, "pending", COLUMNS, limit, row_to_request)
            .await?)
    }
}
