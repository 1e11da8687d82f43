//! The DynamoDB backend, in the table layout of the earlier Go Sentinel:
//! partition key `id` (S), TTL attribute `ttl`, on-demand billing, GSIs
//! `gsi-user`, `gsi-status`, `gsi-profile`, `gsi-server-instance` (sort key
//! `created_at`) and `gsi-source-identity`.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use sentinel_store::dynamodb::{
    Fields, Gsi, Item, Table, TableLayout, create_table, is_condition_failed, n, s, sort_key,
};
use sentinel_store::{Record, newest_first};

use crate::error::{Error, Result};
use crate::model::{
    ServerSession, SessionPage, SessionQuery, SessionStatus, UserRevocation, check_name,
    check_reason,
};
use crate::store::{Clock, SessionStore, not_active};

/// The default name of the session table (the earlier Go Sentinel's).
pub const DEFAULT_SESSION_TABLE: &str = "sentinel-sessions";

/// Records stay this long past their end before DynamoDB TTL may remove
/// them (expiry itself is always decided on read).
const TTL_GRACE_SECS: i64 = 30 * 86_400;

const REVOCATIONS_PREFIX: &str = "userrev#";

/// The layout of the session table: key `id`, TTL `ttl`, and its GSIs.
pub const SESSION_TABLE_LAYOUT: TableLayout = TableLayout {
    record: "session",
    indexes: &[
        Gsi::by_created("gsi-user", "user"),
        Gsi::by_created("gsi-status", "status"),
        Gsi::by_created("gsi-profile", "profile"),
        Gsi::by_created("gsi-server-instance", "server_instance_id"),
        Gsi {
            name: "gsi-source-identity",
            partition: "source_identity",
            sort: None,
        },
    ],
};

/// Sessions in a DynamoDB table. Takes a built client; never loads AWS
/// configuration itself.
#[derive(Debug, Clone)]
pub struct DynamoSessionStore {
    table: Table,
    clock: Arc<dyn Clock>,
}

fn fields(item: &Item) -> Fields<'_> {
    Fields::new(item, "session")
}

fn to_item(v: &ServerSession) -> Item {
    let mut item = Item::new();
    item.insert("id".into(), s(&v.id));
    item.insert("user".into(), s(&v.user));
    item.insert("profile".into(), s(&v.profile));
    item.insert("server_instance_id".into(), s(&v.server_instance_id));
    item.insert(
        "status".into(),
        s(match v.status {
            SessionStatus::Revoked => "revoked",
            _ => "active",
        }),
    );
    item.insert("started_at".into(), n(v.started_at.as_microsecond()));
    item.insert(
        "last_access_at".into(),
        n(v.last_access_at.as_microsecond()),
    );
    item.insert("expires_at".into(), n(v.expires_at.as_microsecond()));
    item.insert(
        "request_count".into(),
        n(i64::try_from(v.request_count).unwrap_or(i64::MAX)),
    );
    if let Some(si) = &v.source_identity {
        item.insert("source_identity".into(), s(si));
    }
    item.insert("created_at".into(), s(sort_key(v.created_at)));
    item.insert("updated_at".into(), n(v.updated_at.as_microsecond()));
    if let Some(by) = &v.revoked_by {
        item.insert("revoked_by".into(), s(by));
    }
    if let Some(r) = &v.revoked_reason {
        item.insert("revoked_reason".into(), s(r));
    }
    item.insert(
        "ttl".into(),
        n(v.expires_at.as_second().saturating_add(TTL_GRACE_SECS)),
    );
    item
}

fn from_item(item: &Item) -> Result<ServerSession> {
    let f = fields(item);
    Ok(ServerSession {
        id: f.s("id")?,
        user: f.s("user")?,
        profile: f.s("profile")?,
        server_instance_id: f.s("server_instance_id")?,
        status: SessionStatus::parse(&f.s("status")?).ok_or_else(|| f.corrupt("status"))?,
        started_at: f.ts("started_at")?,
        last_access_at: f.ts("last_access_at")?,
        expires_at: f.ts("expires_at")?,
        request_count: u64::try_from(f.n("request_count")?).unwrap_or(0),
        source_identity: f.opt_s("source_identity"),
        created_at: f.sort_ts("created_at")?,
        updated_at: f.ts("updated_at")?,
        revoked_by: f.opt_s("revoked_by"),
        revoked_reason: f.opt_s("revoked_reason"),
    })
}

/// A listed item: `None` for the revocation items that share the table.
fn session_item(item: &Item) -> Result<Option<ServerSession>> {
    match item.get("id") {
        Some(AttributeValue::S(id)) if id.starts_with(REVOCATIONS_PREFIX) => Ok(None),
        _ => from_item(item).map(Some),
    }
}

fn revocation_to_av(r: &UserRevocation) -> AttributeValue {
    let mut m = Item::new();
    m.insert("revoked_by".into(), s(&r.revoked_by));
    m.insert("reason".into(), s(&r.reason));
    m.insert("created_at".into(), n(r.created_at.as_microsecond()));
    if let Some(e) = r.expires_at {
        m.insert("expires_at".into(), n(e.as_microsecond()));
    }
    AttributeValue::M(m)
}

fn revocations_from_item(user: &str, item: &Item) -> Result<Vec<UserRevocation>> {
    let Some(AttributeValue::M(map)) = item.get("revocations") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (key, v) in map {
        let AttributeValue::M(m) = v else {
            return Err(fields(item).corrupt("revocations").into());
        };
        let f = fields(m);
        out.push(UserRevocation {
            user: user.to_owned(),
            profile: (key != "*").then(|| key.clone()),
            revoked_by: f.s("revoked_by")?,
            reason: f.s("reason")?,
            created_at: f.ts("created_at")?,
            expires_at: f.opt_ts("expires_at")?,
        });
    }
    out.sort_by(|a, b| a.profile.cmp(&b.profile));
    Ok(out)
}

impl DynamoSessionStore {
    sentinel_store::dynamo_store_constructors!(&SESSION_TABLE_LAYOUT, DEFAULT_SESSION_TABLE);

    async fn load(&self, id: &str) -> Result<Option<ServerSession>> {
        self.table.load(id, from_item).await
    }

    /// Conditional update of an active, unexpired session (see
    /// [`Table::update_live`]).
    async fn update_active(
        &self,
        id: &str,
        action: &'static str,
        set: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<ServerSession> {
        if id.is_empty() {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        let now = self.clock.now();
        let mut values = values;
        values.push((":t", n(now.as_microsecond())));
        match self
            .table
            .update_live(id, "active", now, set, &[], values, from_item)
            .await?
        {
            Some(v) => Ok(v),
            None => Err(not_active(id, self.load(id).await?, now, action)),
        }
    }

    async fn revocations_item(&self, user: &str) -> Result<Option<Item>> {
        Ok(self
            .table
            .get(&format!("{REVOCATIONS_PREFIX}{user}"))
            .await?)
    }

    /// Read-modify-write of a user's revocation map with a version check.
    async fn change_revocations(
        &self,
        user: &str,
        change: impl Fn(&mut Item) -> Result<bool> + Send + Sync,
    ) -> Result<()> {
        for _ in 0..8 {
            let current = self.revocations_item(user).await?;
            let version = current
                .as_ref()
                .map(|i| fields(i).n("version"))
                .transpose()?;
            let mut map = match current.as_ref().and_then(|i| i.get("revocations")) {
                Some(AttributeValue::M(m)) => m.clone(),
                _ => Item::new(),
            };
            if !change(&mut map)? {
                return Ok(());
            }
            let mut item = Item::new();
            item.insert("id".into(), s(format!("{REVOCATIONS_PREFIX}{user}")));
            item.insert("kind".into(), s("user_revocations"));
            item.insert("revocations".into(), AttributeValue::M(map));
            item.insert("version".into(), n(version.unwrap_or(0) + 1));
            let mut req = self
                .table
                .client()
                .put_item()
                .table_name(self.table.name())
                .set_item(Some(item));
            req = match version {
                Some(v) => req
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(v)),
                None => req.condition_expression("attribute_not_exists(id)"),
            };
            match req.send().await {
                Ok(_) => return Ok(()),
                Err(e) if is_condition_failed(&e) => continue,
                Err(e) => return Err(self.table.err("PutItem", e).into()),
            }
        }
        Err(Error::Conflict {
            id: format!("{REVOCATIONS_PREFIX}{user}"),
            what: "changed too often concurrently; try again".into(),
        })
    }
}

#[async_trait]
impl SessionStore for DynamoSessionStore {
    fn table_name(&self) -> Option<&str> {
        Some(self.table.name())
    }

    async fn create(&self, session: &ServerSession) -> Result<()> {
        check_name("id", &session.id)?;
        if session.id.starts_with(REVOCATIONS_PREFIX) {
            return Err(Error::invalid("id", "uses a reserved prefix"));
        }
        Ok(self.table.put_new(&session.id, to_item(session)).await?)
    }

    async fn get(&self, id: &str) -> Result<ServerSession> {
        if id.starts_with(REVOCATIONS_PREFIX) {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        self.table.get_record(id, self.clock.now(), from_item).await
    }

    async fn touch(&self, id: &str) -> Result<ServerSession> {
        self.update_active(
            id,
            "touched",
            "SET request_count = request_count + :one, last_access_at = :t, updated_at = :t",
            vec![(":one", n(1))],
        )
        .await
    }

    async fn revoke(&self, id: &str, revoked_by: &str, reason: &str) -> Result<ServerSession> {
        check_name("revoked_by", revoked_by)?;
        check_reason(reason)?;
        self.update_active(
            id,
            "revoked",
            "SET #status = :revoked, revoked_by = :by, revoked_reason = :why, updated_at = :t",
            vec![
                (":revoked", s("revoked")),
                (":by", s(revoked_by)),
                (":why", s(reason)),
            ],
        )
        .await
    }

    async fn list(&self, query: &SessionQuery) -> Result<SessionPage> {
        let stored_status = |st| match st {
            SessionStatus::Revoked => "revoked",
            _ => "active",
        };
        let index = if let Some(u) = &query.user {
            Some(("gsi-user", "user", u.as_str()))
        } else if let Some(i) = &query.server_instance_id {
            Some(("gsi-server-instance", "server_instance_id", i.as_str()))
        } else if let Some(p) = &query.profile {
            Some(("gsi-profile", "profile", p.as_str()))
        } else {
            query
                .status
                .map(|st| ("gsi-status", "status", stored_status(st)))
        };
        let page = self
            .table
            .list(index, query, self.clock.now(), session_item)
            .await?;
        Ok(SessionPage::from_parts(page))
    }

    async fn find_by_source_identity(
        &self,
        source_identity: &str,
    ) -> Result<Option<ServerSession>> {
        if source_identity.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now();
        let (found, _) = self
            .table
            .query_page(
                "gsi-source-identity",
                "source_identity",
                source_identity,
                None,
                usize::MAX,
                |item| from_item(item).map(Some),
            )
            .await?;
        // The GSI is eventually consistent: confirm with a consistent read.
        match found.iter().min_by_key(|v| newest_first(*v)) {
            Some(v) => Ok(self.load(&v.id).await?.map(|v| v.read_at(now))),
            None => Ok(None),
        }
    }

    async fn put_user_revocation(&self, revocation: &UserRevocation) -> Result<()> {
        let key = revocation.profile.clone().unwrap_or_else(|| "*".into());
        let value = revocation_to_av(revocation);
        self.change_revocations(&revocation.user, move |map| {
            map.insert(key.clone(), value.clone());
            Ok(true)
        })
        .await
    }

    async fn user_revocations(&self, user: &str) -> Result<Vec<UserRevocation>> {
        let now = self.clock.now();
        match self.revocations_item(user).await? {
            Some(item) => Ok(revocations_from_item(user, &item)?
                .into_iter()
                .filter(|r| r.in_force(now))
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    async fn lift_user_revocation(&self, user: &str, profile: Option<&str>) -> Result<()> {
        let key = profile.unwrap_or("*").to_owned();
        let found = std::sync::atomic::AtomicBool::new(false);
        self.change_revocations(user, |map| {
            let removed = map.remove(&key).is_some();
            found.store(removed, std::sync::atomic::Ordering::SeqCst);
            Ok(removed)
        })
        .await?;
        if found.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Error::RevocationNotFound {
                user: user.to_owned(),
                profile: profile.map(str::to_owned),
            })
        }
    }
}

/// Creates the session table with its GSIs, on-demand billing and TTL on
/// `ttl`. An existing table is an error.
pub async fn create_session_table(client: &Client, table: &str) -> Result<()> {
    Ok(create_table(client, table, &SESSION_TABLE_LAYOUT).await?)
}
