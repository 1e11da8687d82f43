//! The embedded SQLite backend.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params, types::Value};
use sentinel_store::Record;
use sentinel_store::sqlite::{
    ClockedDatabase, Filters, db_err, insert_new, load_by_id, micros, status, timestamp,
};

use crate::error::{Error, Result};
use crate::model::{
    Access, ServerSession, SessionPage, SessionQuery, SessionStatus, UserRevocation, check_name,
    check_reason,
};
use crate::store::{SessionStore, not_active};

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many have run.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY NOT NULL,
    user               TEXT NOT NULL,
    profile            TEXT NOT NULL,
    server_instance_id TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    started_at         INTEGER NOT NULL,
    last_access_at     INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    request_count      INTEGER NOT NULL,
    source_identity    TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    revoked_by         TEXT,
    revoked_reason     TEXT
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user, created_at DESC, id DESC);
CREATE INDEX sessions_by_profile ON sessions (profile, created_at DESC, id DESC);
CREATE INDEX sessions_by_instance ON sessions (server_instance_id, created_at DESC, id DESC);
CREATE INDEX sessions_by_status ON sessions (status, created_at DESC, id DESC);
CREATE INDEX sessions_by_created ON sessions (created_at DESC, id DESC);
CREATE INDEX sessions_by_source_identity ON sessions (source_identity);
CREATE TABLE user_revocations (
    user       TEXT NOT NULL,
    profile    TEXT NOT NULL,
    revoked_by TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (user, profile)
) STRICT;
"];

const TABLE: &str = "sessions";

const COLUMNS: &str = "id, user, profile, server_instance_id, status, started_at, last_access_at, \
     expires_at, request_count, source_identity, created_at, updated_at, revoked_by, revoked_reason";

/// Sessions in a SQLite file: the embedded default for one machine.
///
/// WAL mode, full sync, versioned migrations, the file created with mode
/// 0600. Blocking calls run on tokio's blocking pool. Several processes may
/// share the file; every change is a single conditional statement.
#[derive(Debug, Clone)]
pub struct SqliteSessionStore {
    db: ClockedDatabase,
}

fn row_to_session(row: &Row<'_>) -> rusqlite::Result<ServerSession> {
    let status = status(row, 4, SessionStatus::parse)?;
    let count: i64 = row.get(8)?;
    Ok(ServerSession {
        id: row.get(0)?,
        user: row.get(1)?,
        profile: row.get(2)?,
        server_instance_id: row.get(3)?,
        status,
        started_at: timestamp(row.get(5)?)?,
        last_access_at: timestamp(row.get(6)?)?,
        expires_at: timestamp(row.get(7)?)?,
        request_count: u64::try_from(count).unwrap_or(0),
        source_identity: row.get(9)?,
        created_at: timestamp(row.get(10)?)?,
        updated_at: timestamp(row.get(11)?)?,
        revoked_by: row.get(12)?,
        revoked_reason: row.get(13)?,
    })
}

fn row_to_revocation(row: &Row<'_>) -> rusqlite::Result<UserRevocation> {
    let profile: String = row.get(1)?;
    let expires: Option<i64> = row.get(5)?;
    Ok(UserRevocation {
        user: row.get(0)?,
        profile: (!profile.is_empty()).then_some(profile),
        revoked_by: row.get(2)?,
        reason: row.get(3)?,
        created_at: timestamp(row.get(4)?)?,
        expires_at: expires.map(timestamp).transpose()?,
    })
}

impl SqliteSessionStore {
    sentinel_store::sqlite_store_constructors!(MIGRATIONS, Error);

    /// Runs `sql`, an UPDATE of the session `?1` at the time `?2` whose
    /// further parameters are `args`, that changes it only while it is
    /// active; the session as changed, or why not ([`not_active`]).
    async fn update_active(
        &self,
        id: &str,
        action: &'static str,
        sql: &'static str,
        args: Vec<Value>,
    ) -> Result<ServerSession> {
        let id = id.to_owned();
        self.db
            .call_now(move |conn, now| {
                let params = [Value::Text(id.clone()), Value::Integer(micros(now))]
                    .into_iter()
                    .chain(args);
                let changed = conn
                    .prepare_cached(sql)
                    .map_err(db_err)?
                    .execute(rusqlite::params_from_iter(params))
                    .map_err(db_err)?;
                let found = load(conn, &id)?;
                match found {
                    Some(s) if changed == 1 => Ok(s.read_at(now)),
                    found => Err(not_active(&id, found, now, action)),
                }
            })
            .await
    }
}

/// The revocations of `user` in force at `now`, all-profile ones first.
fn revocations(
    conn: &Connection,
    user: &str,
    profile: Option<&str>,
    now: Timestamp,
) -> Result<Vec<UserRevocation>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT user, profile, revoked_by, reason, created_at, expires_at FROM user_revocations \
             WHERE user = ?1 AND (expires_at IS NULL OR expires_at > ?2) \
             AND (?3 IS NULL OR profile = '' OR profile = ?3) ORDER BY profile",
        )
        .map_err(db_err)?;
    let found = stmt
        .query_map(params![user, micros(now), profile], row_to_revocation)
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    Ok(found)
}

fn load(conn: &Connection, id: &str) -> Result<Option<ServerSession>> {
    Ok(load_by_id(conn, TABLE, COLUMNS, id, row_to_session)?)
}

#[async_trait]
impl SessionStore for SqliteSessionStore {
    async fn create(&self, session: &ServerSession) -> Result<()> {
        check_name("id", &session.id)?;
        let s = session.clone();
        self.db
            .call_now(move |conn, _| {
                Ok(insert_new(
                    conn,
                    TABLE,
                    COLUMNS,
                    &s.id,
                    params![
                        s.id,
                        s.user,
                        s.profile,
                        s.server_instance_id,
                        match s.status {
                            SessionStatus::Revoked => "revoked",
                            _ => "active",
                        },
                        micros(s.started_at),
                        micros(s.last_access_at),
                        micros(s.expires_at),
                        i64::try_from(s.request_count).unwrap_or(i64::MAX),
                        s.source_identity,
                        micros(s.created_at),
                        micros(s.updated_at),
                        s.revoked_by,
                        s.revoked_reason,
                    ],
                )?)
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<ServerSession> {
        Ok(self.db.get(TABLE, COLUMNS, id, row_to_session).await?)
    }

    async fn touch(&self, id: &str) -> Result<ServerSession> {
        self.update_active(
            id,
            "touched",
            "UPDATE sessions SET request_count = request_count + 1, last_access_at = ?2, \
             updated_at = ?2 WHERE id = ?1 AND status = 'active' AND expires_at > ?2",
            Vec::new(),
        )
        .await
    }

    async fn revoke(&self, id: &str, revoked_by: &str, reason: &str) -> Result<ServerSession> {
        check_name("revoked_by", revoked_by)?;
        check_reason(reason)?;
        self.update_active(
            id,
            "revoked",
            "UPDATE sessions SET status = 'revoked', revoked_by = ?3, revoked_reason = ?4, \
             updated_at = ?2 WHERE id = ?1 AND status = 'active' AND expires_at > ?2",
            vec![
                Value::Text(revoked_by.to_owned()),
                Value::Text(reason.to_owned()),
            ],
        )
        .await
    }

    async fn list(&self, query: &SessionQuery) -> Result<SessionPage> {
        let q = query.clone();
        let filters = move |f: &mut Filters, now| {
            f.eq("user", q.user.as_deref())
                .eq("profile", q.profile.as_deref())
                .eq("server_instance_id", q.server_instance_id.as_deref());
            match q.status {
                Some(SessionStatus::Active) => f.unexpired("active", now),
                Some(SessionStatus::Expired) => f.expired("active", now),
                Some(SessionStatus::Revoked) => f.eq("status", Some("revoked")),
                None => f,
            };
        };
        let page = self
            .db
            .list(TABLE, COLUMNS, &query.page, filters, row_to_session)
            .await?;
        Ok(SessionPage::from_parts(page))
    }

    async fn find_by_source_identity(
        &self,
        source_identity: &str,
    ) -> Result<Option<ServerSession>> {
        let si = source_identity.to_owned();
        self.db.read_now(move |conn, now| {
            let found = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM sessions WHERE source_identity = ?1 ORDER BY created_at DESC, id DESC LIMIT 1"
                ))
                .map_err(db_err)?
                .query_row([&si], row_to_session)
                .optional()
                .map_err(db_err)?;
            Ok(found.map(|s| s.read_at(now)))
        })
        .await
    }

    async fn put_user_revocation(&self, revocation: &UserRevocation) -> Result<()> {
        let r = revocation.clone();
        self.db.call_now(move |conn, _| {
            conn.execute(
                "INSERT INTO user_revocations (user, profile, revoked_by, reason, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (user, profile) DO UPDATE SET revoked_by = ?3, reason = ?4, created_at = ?5, expires_at = ?6",
                params![
                    r.user,
                    r.profile.unwrap_or_default(),
                    r.revoked_by,
                    r.reason,
                    micros(r.created_at),
                    r.expires_at.map(micros),
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn user_revocations(&self, user: &str) -> Result<Vec<UserRevocation>> {
        let user = user.to_owned();
        self.db
            .read_now(move |conn, now| revocations(conn, &user, None, now))
            .await
    }

    async fn lift_user_revocation(&self, user: &str, profile: Option<&str>) -> Result<()> {
        let (user, profile) = (user.to_owned(), profile.map(str::to_owned));
        self.db
            .call_now(move |conn, _| {
                let n = conn
                    .execute(
                        "DELETE FROM user_revocations WHERE user = ?1 AND profile = ?2",
                        params![user, profile.clone().unwrap_or_default()],
                    )
                    .map_err(db_err)?;
                if n == 0 {
                    return Err(Error::RevocationNotFound { user, profile });
                }
                Ok(())
            })
            .await
    }

    async fn access(&self, user: &str, profile: &str, session_id: Option<&str>) -> Result<Access> {
        let (user, profile) = (user.to_owned(), profile.to_owned());
        let id = session_id.map(str::to_owned);
        self.db
            .read_now(move |conn, now| {
                // One read transaction for both reads: one snapshot, one lock.
                sentinel_store::sqlite::snapshot(conn, |conn| {
                    let revocation = revocations(conn, &user, Some(&profile), now)?
                        .into_iter()
                        .next();
                    let session = match &id {
                        Some(id) => load(conn, id)?.map(|s| s.read_at(now)),
                        None => None,
                    };
                    Ok(Access {
                        revocation,
                        session,
                    })
                })
            })
            .await
    }
}
