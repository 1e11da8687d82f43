//! The DynamoDB backend, in the table layout of the earlier Go Sentinel:
//! partition key `id` (S), TTL attribute `ttl`, on-demand billing, GSIs
//! `gsi-user`, `gsi-status`, `gsi-profile`, `gsi-server-instance` (sort key
//! `created_at`) and `gsi-source-identity`.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::model::{
    ServerSession, SessionPage, SessionQuery, SessionStatus, UserRevocation, after_token,
    check_name, check_reason, order_key, page_token, parse_page_token,
};
use crate::store::{Clock, SessionStore, SystemClock};

/// Default table name.
pub const DEFAULT_SESSION_TABLE: &str = "sentinel-sessions";

/// Records stay this long past their end before DynamoDB TTL may remove
/// them (expiry itself is always decided on read).
const TTL_GRACE_SECS: i64 = 30 * 86_400;

const REVOCATIONS_PREFIX: &str = "userrev#";

type Item = HashMap<String, AttributeValue>;

/// Sessions in a DynamoDB table. Takes a built client; never loads AWS
/// configuration itself.
#[derive(Debug, Clone)]
pub struct DynamoSessionStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// `created_at` as a sortable string: zero-padded microseconds.
fn sort_key(t: Timestamp) -> String {
    format!("{:020}", t.as_microsecond().max(0))
}

fn get_s(item: &Item, k: &str) -> Result<String> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(corrupt(k)),
    }
}

fn get_opt_s(item: &Item, k: &str) -> Option<String> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn get_n(item: &Item, k: &str) -> Result<i64> {
    match item.get(k) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| corrupt(k)),
        _ => Err(corrupt(k)),
    }
}

fn get_ts(item: &Item, k: &str) -> Result<Timestamp> {
    Timestamp::from_microsecond(get_n(item, k)?).map_err(|_| corrupt(k))
}

fn corrupt(field: &str) -> Error {
    Error::backend(
        "dynamodb",
        format!(
            "a stored session has a missing or malformed `{field}`; the table may not be a Sentinel session table"
        ),
    )
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
    let status = get_s(item, "status")?;
    let created: i64 = get_s(item, "created_at")?
        .parse()
        .map_err(|_| corrupt("created_at"))?;
    Ok(ServerSession {
        id: get_s(item, "id")?,
        user: get_s(item, "user")?,
        profile: get_s(item, "profile")?,
        server_instance_id: get_s(item, "server_instance_id")?,
        status: SessionStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        started_at: get_ts(item, "started_at")?,
        last_access_at: get_ts(item, "last_access_at")?,
        expires_at: get_ts(item, "expires_at")?,
        request_count: u64::try_from(get_n(item, "request_count")?).unwrap_or(0),
        source_identity: get_opt_s(item, "source_identity"),
        created_at: Timestamp::from_microsecond(created).map_err(|_| corrupt("created_at"))?,
        updated_at: get_ts(item, "updated_at")?,
        revoked_by: get_opt_s(item, "revoked_by"),
        revoked_reason: get_opt_s(item, "revoked_reason"),
    })
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
            return Err(corrupt("revocations"));
        };
        out.push(UserRevocation {
            user: user.to_owned(),
            profile: (key != "*").then(|| key.clone()),
            revoked_by: get_s(m, "revoked_by")?,
            reason: get_s(m, "reason")?,
            created_at: get_ts(m, "created_at")?,
            expires_at: m
                .contains_key("expires_at")
                .then(|| get_ts(m, "expires_at"))
                .transpose()?,
        });
    }
    out.sort_by(|a, b| a.profile.cmp(&b.profile));
    Ok(out)
}

impl DynamoSessionStore {
    /// A store on `table` (see [`DEFAULT_SESSION_TABLE`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_clock(client, table, Arc::new(SystemClock))
    }

    /// Like [`new`](Self::new), reading time from `clock`.
    pub fn with_clock(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn err<E, R>(&self, action: &str, e: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match e.code() {
            Some("ResourceNotFoundException") => Error::backend(
                "dynamodb",
                format!(
                    "table \"{}\" does not exist; create it with `sentinel init` (or create_session_table)",
                    self.table
                ),
            ),
            Some("AccessDeniedException") => Error::backend(
                "dynamodb",
                format!(
                    "access denied for {action} on table \"{}\": {}",
                    self.table,
                    e.message().unwrap_or_default()
                ),
            ),
            Some("ProvisionedThroughputExceededException" | "ThrottlingException") => {
                Error::backend(
                    "dynamodb",
                    format!(
                        "DynamoDB is throttling {action} on \"{}\"; retry shortly",
                        self.table
                    ),
                )
            }
            _ => Error::backend(
                "dynamodb",
                format!(
                    "{action} on \"{}\": {}",
                    self.table,
                    DisplayErrorContext(&e)
                ),
            ),
        }
    }

    async fn load(&self, id: &str) -> Result<Option<ServerSession>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        out.item().map(from_item).transpose()
    }

    async fn classify(&self, id: &str, now: Timestamp, action: &'static str) -> Error {
        match self.load(id).await {
            Ok(None) => Error::NotFound { id: id.to_owned() },
            Ok(Some(v)) => {
                let v = v.read_at(now);
                Error::InvalidTransition {
                    id: v.id,
                    from: v.status,
                    action,
                }
            }
            Err(e) => e,
        }
    }

    /// Conditional update of an active, unexpired session.
    async fn update_active(
        &self,
        id: &str,
        action: &'static str,
        set: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<ServerSession> {
        let now = self.clock.now();
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(set)
            .condition_expression(
                "attribute_exists(id) AND #status = :active AND expires_at > :now_us",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":now_us", n(now.as_microsecond()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        match req.send().await {
            Ok(out) => out
                .attributes()
                .ok_or_else(|| corrupt("attributes"))
                .and_then(from_item)
                .map(|v| v.read_at(now)),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(self.classify(id, now, action).await)
            }
            Err(e) => Err(self.err("UpdateItem", e)),
        }
    }

    /// Queries one GSI newest first, collecting matches until a page is full.
    async fn query_index(
        &self,
        index: &str,
        key_attr: &str,
        key_value: &str,
        query: &SessionQuery,
        now: Timestamp,
    ) -> Result<SessionPage> {
        let size = query.page_size();
        let mut start: Option<Item> = match query
            .page_token
            .as_deref()
            .map(parse_page_token)
            .transpose()?
        {
            Some((at, id)) => {
                let mut k = Item::new();
                k.insert("id".into(), s(id));
                k.insert("created_at".into(), s(sort_key(at)));
                k.insert(key_attr.into(), s(key_value));
                Some(k)
            }
            None => None,
        };
        let mut sessions = Vec::new();
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#k = :v")
                .expression_attribute_names("#k", key_attr)
                .expression_attribute_values(":v", s(key_value))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Query", e))?;
            for item in out.items() {
                let v = from_item(item)?.read_at(now);
                if query.matches(&v) {
                    sessions.push(v);
                    if sessions.len() > size {
                        let next = page_token(&sessions[size - 1]);
                        sessions.truncate(size);
                        return Ok(SessionPage {
                            sessions,
                            next_page_token: Some(next),
                        });
                    }
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(SessionPage {
            sessions,
            next_page_token: None,
        })
    }

    /// Without a key filter: scan everything, then order and page here.
    async fn scan_all(&self, query: &SessionQuery, now: Timestamp) -> Result<SessionPage> {
        let after = query
            .page_token
            .as_deref()
            .map(parse_page_token)
            .transpose()?;
        let mut all = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Scan", e))?;
            for item in out.items() {
                if matches!(item.get("id"), Some(AttributeValue::S(id)) if id.starts_with(REVOCATIONS_PREFIX))
                {
                    continue;
                }
                let v = from_item(item)?.read_at(now);
                if query.matches(&v) && after.as_ref().is_none_or(|pos| after_token(&v, pos)) {
                    all.push(v);
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        all.sort_by_key(order_key);
        let size = query.page_size();
        let next_page_token = (all.len() > size).then(|| page_token(&all[size - 1]));
        all.truncate(size);
        Ok(SessionPage {
            sessions: all,
            next_page_token,
        })
    }

    async fn revocations_item(&self, user: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(format!("{REVOCATIONS_PREFIX}{user}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        Ok(out.item().cloned())
    }

    /// Read-modify-write of a user's revocation map with a version check.
    async fn change_revocations(
        &self,
        user: &str,
        change: impl Fn(&mut Item) -> Result<bool> + Send + Sync,
    ) -> Result<()> {
        for _ in 0..8 {
            let current = self.revocations_item(user).await?;
            let version = current.as_ref().map(|i| get_n(i, "version")).transpose()?;
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
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item));
            req = match version {
                Some(v) => req
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(v)),
                None => req.condition_expression("attribute_not_exists(id)"),
            };
            match req.send().await {
                Ok(_) => return Ok(()),
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => continue,
                Err(e) => return Err(self.err("PutItem", e)),
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
    async fn create(&self, session: &ServerSession) -> Result<()> {
        check_name("id", &session.id)?;
        if session.id.starts_with(REVOCATIONS_PREFIX) {
            return Err(Error::invalid("id", "uses a reserved prefix"));
        }
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(session)))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Err(Error::Conflict {
                id: session.id.clone(),
                what: "already exists".into(),
            }),
            Err(e) => Err(self.err("PutItem", e)),
        }
    }

    async fn get(&self, id: &str) -> Result<ServerSession> {
        if id.starts_with(REVOCATIONS_PREFIX) || id.is_empty() {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        let now = self.clock.now();
        self.load(id)
            .await?
            .map(|v| v.read_at(now))
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })
    }

    async fn touch(&self, id: &str) -> Result<ServerSession> {
        if id.is_empty() {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        let now = self.clock.now().as_microsecond();
        self.update_active(
            id,
            "touched",
            "SET request_count = request_count + :one, last_access_at = :t, updated_at = :t",
            vec![(":one", n(1)), (":t", n(now))],
        )
        .await
    }

    async fn revoke(&self, id: &str, revoked_by: &str, reason: &str) -> Result<ServerSession> {
        check_name("revoked_by", revoked_by)?;
        check_reason(reason)?;
        if id.is_empty() {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        let now = self.clock.now().as_microsecond();
        self.update_active(
            id,
            "revoked",
            "SET #status = :revoked, revoked_by = :by, revoked_reason = :why, updated_at = :t",
            vec![
                (":revoked", s("revoked")),
                (":by", s(revoked_by)),
                (":why", s(reason)),
                (":t", n(now)),
            ],
        )
        .await
    }

    async fn list(&self, query: &SessionQuery) -> Result<SessionPage> {
        let now = self.clock.now();
        if let Some(u) = &query.user {
            self.query_index("gsi-user", "user", u, query, now).await
        } else if let Some(i) = &query.server_instance_id {
            self.query_index("gsi-server-instance", "server_instance_id", i, query, now)
                .await
        } else if let Some(p) = &query.profile {
            self.query_index("gsi-profile", "profile", p, query, now)
                .await
        } else if let Some(st) = query.status {
            let stored = match st {
                SessionStatus::Revoked => "revoked",
                _ => "active",
            };
            self.query_index("gsi-status", "status", stored, query, now)
                .await
        } else {
            self.scan_all(query, now).await
        }
    }

    async fn find_by_source_identity(
        &self,
        source_identity: &str,
    ) -> Result<Option<ServerSession>> {
        if source_identity.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now();
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi-source-identity")
                .key_condition_expression("source_identity = :si")
                .expression_attribute_values(":si", s(source_identity))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Query", e))?;
            for item in out.items() {
                found.push(from_item(item)?);
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        // The GSI is eventually consistent: confirm with a consistent read.
        found.sort_by_key(order_key);
        match found.into_iter().next() {
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
/// `ttl` (what `sentinel init` runs). An existing table is an error.
pub async fn create_session_table(client: &Client, table: &str) -> Result<()> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| Error::backend("dynamodb", e))
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| Error::backend("dynamodb", e))
    };
    let gsi = |name: &str, pk: &str, sk: Option<&str>| -> Result<GlobalSecondaryIndex> {
        let mut b = GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            );
        if let Some(sk) = sk {
            b = b.key_schema(key(sk, KeyType::Range)?);
        }
        b.build().map_err(|e| Error::backend("dynamodb", e))
    };
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("id", KeyType::Hash)?);
    for a in [
        "id",
        "user",
        "status",
        "profile",
        "server_instance_id",
        "created_at",
        "source_identity",
    ] {
        req = req.attribute_definitions(attr(a)?);
    }
    for (name, pk, sk) in [
        ("gsi-user", "user", Some("created_at")),
        ("gsi-status", "status", Some("created_at")),
        ("gsi-profile", "profile", Some("created_at")),
        (
            "gsi-server-instance",
            "server_instance_id",
            Some("created_at"),
        ),
        ("gsi-source-identity", "source_identity", None),
    ] {
        req = req.global_secondary_indexes(gsi(name, pk, sk)?);
    }
    req.send().await.map_err(|e| {
        Error::backend(
            "dynamodb",
            format!("creating table \"{table}\": {}", DisplayErrorContext(&e)),
        )
    })?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("ttl")
                .enabled(true)
                .build()
                .map_err(|e| Error::backend("dynamodb", e))?,
        )
        .send()
        .await
        .map_err(|e| {
            Error::backend(
                "dynamodb",
                format!("enabling TTL on \"{table}\": {}", DisplayErrorContext(&e)),
            )
        })?;
    Ok(())
}
