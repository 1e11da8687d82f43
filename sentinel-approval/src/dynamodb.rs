//! The DynamoDB backend, in the table layout of the earlier Go Sentinel:
//! partition key `id` (S), TTL attribute `ttl`, on-demand billing, GSIs
//! `gsi-requester`, `gsi-status`, `gsi-profile` (sort key `created_at`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ScalarAttributeType, TimeToLiveSpecification,
};
use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::model::{
    AccessRequest, PENDING_TTL, RequestPage, RequestQuery, RequestStatus, add, after_token,
    best_approval, check_name, clean_comment, micro, order_key, page_token, parse_page_token,
};
use crate::store::{Action, Clock, RequestStore, SystemClock};

/// Default table name.
pub const DEFAULT_REQUEST_TABLE: &str = "sentinel-requests";

/// Records stay this long past their end before DynamoDB TTL may remove
/// them (expiry itself is always decided on read).
const TTL_GRACE_SECS: i64 = 30 * 86_400;

type Item = HashMap<String, AttributeValue>;

/// Access requests in a DynamoDB table. Takes a built client; never loads
/// AWS configuration itself.
#[derive(Debug, Clone)]
pub struct DynamoRequestStore {
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
            "a stored access request has a missing or malformed `{field}`; the table may not be a Sentinel request table"
        ),
    )
}

/// TTL (epoch seconds) for a record whose last relevant moment is `end`.
fn ttl(end: Timestamp) -> AttributeValue {
    n(end.as_second().saturating_add(TTL_GRACE_SECS))
}

fn to_item(v: &AccessRequest) -> Item {
    let mut item = Item::new();
    item.insert("id".into(), s(&v.id));
    item.insert("requester".into(), s(&v.requester));
    item.insert("profile".into(), s(&v.profile));
    item.insert("justification".into(), s(&v.justification));
    item.insert(
        "duration_secs".into(),
        n(i64::try_from(v.duration.as_secs()).unwrap_or(i64::MAX)),
    );
    item.insert("status".into(), s(v.status.stored()));
    item.insert("created_at".into(), s(sort_key(v.created_at)));
    item.insert("updated_at".into(), n(v.updated_at.as_microsecond()));
    item.insert("expires_at".into(), n(v.expires_at.as_microsecond()));
    if let Some(a) = &v.approver {
        item.insert("approver".into(), s(a));
    }
    if let Some(c) = &v.approver_comment {
        item.insert("approver_comment".into(), s(c));
    }
    if let Some(at) = v.approved_at {
        item.insert("approved_at".into(), n(at.as_microsecond()));
    }
    let end = v
        .access_window()
        .map_or(v.expires_at, |w| w.1.max(v.expires_at));
    item.insert("ttl".into(), ttl(end));
    item
}

fn from_item(item: &Item) -> Result<AccessRequest> {
    let status = get_s(item, "status")?;
    let created: i64 = get_s(item, "created_at")?
        .parse()
        .map_err(|_| corrupt("created_at"))?;
    Ok(AccessRequest {
        id: get_s(item, "id")?,
        requester: get_s(item, "requester")?,
        profile: get_s(item, "profile")?,
        justification: get_s(item, "justification")?,
        duration: Duration::from_secs(
            u64::try_from(get_n(item, "duration_secs")?).map_err(|_| corrupt("duration_secs"))?,
        ),
        status: RequestStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        created_at: Timestamp::from_microsecond(created).map_err(|_| corrupt("created_at"))?,
        updated_at: get_ts(item, "updated_at")?,
        expires_at: get_ts(item, "expires_at")?,
        approver: get_opt_s(item, "approver"),
        approver_comment: get_opt_s(item, "approver_comment"),
        approved_at: item
            .contains_key("approved_at")
            .then(|| get_ts(item, "approved_at"))
            .transpose()?,
    })
}

impl DynamoRequestStore {
    /// A store on `table` (see [`DEFAULT_REQUEST_TABLE`]).
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
                    "table \"{}\" does not exist; create it with `sentinel init` (or create_request_table)",
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

    async fn load(&self, id: &str) -> Result<Option<AccessRequest>> {
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

    /// One conditional UpdateItem: only a pending, unexpired request moves.
    async fn change(
        &self,
        id: &str,
        action: Action,
        by: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest> {
        action.check_input(by, comment)?;
        if id.is_empty() {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        let current = self
            .load(id)
            .await?
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })?;
        action.check_actor(&current, by)?;
        let now = micro(self.clock.now());
        let comment = clean_comment(comment);
        let mut set = vec!["#status = :to", "updated_at = :t"];
        let mut values: Vec<(&str, AttributeValue)> = vec![
            (":to", s(action.target().stored())),
            (":t", n(now.as_microsecond())),
        ];
        if action != Action::Cancel {
            set.push("approver = :by");
            values.push((":by", s(by)));
            if let Some(c) = &comment {
                set.push("approver_comment = :c");
                values.push((":c", s(c)));
            }
        }
        if action == Action::Approve {
            set.push("approved_at = :t");
            set.push("#ttl = :ttl");
            let end = add(now, current.duration).max(add(current.created_at, PENDING_TTL));
            values.push((":ttl", ttl(end)));
        }
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression(
                "attribute_exists(id) AND #status = :pending AND expires_at > :now_us",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now_us", n(now.as_microsecond()))
            .return_values(ReturnValue::AllNew);
        if action == Action::Approve {
            req = req.expression_attribute_names("#ttl", "ttl");
        }
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
                match self.load(id).await? {
                    None => Err(Error::NotFound { id: id.to_owned() }),
                    Some(v) => Err(action.transition_error(&v.read_at(now))),
                }
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
        query: &RequestQuery,
        now: Timestamp,
    ) -> Result<RequestPage> {
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
        let mut requests = Vec::new();
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
                    requests.push(v);
                    if requests.len() > size {
                        let next = page_token(&requests[size - 1]);
                        requests.truncate(size);
                        return Ok(RequestPage {
                            requests,
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
        Ok(RequestPage {
            requests,
            next_page_token: None,
        })
    }

    /// Without a key filter: scan everything, then order and page here.
    async fn scan_all(&self, query: &RequestQuery, now: Timestamp) -> Result<RequestPage> {
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
        Ok(RequestPage {
            requests: all,
            next_page_token,
        })
    }
}

#[async_trait]
impl RequestStore for DynamoRequestStore {
    async fn create(&self, request: &AccessRequest) -> Result<()> {
        check_name("id", &request.id)?;
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(request)))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Err(Error::Conflict {
                id: request.id.clone(),
                what: "already exists".into(),
            }),
            Err(e) => Err(self.err("PutItem", e)),
        }
    }

    async fn get(&self, id: &str) -> Result<AccessRequest> {
        if id.is_empty() {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        let now = self.clock.now();
        self.load(id)
            .await?
            .map(|v| v.read_at(now))
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })
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
        let now = self.clock.now();
        if let Some(u) = &query.requester {
            self.query_index("gsi-requester", "requester", u, query, now)
                .await
        } else if let Some(p) = &query.profile {
            self.query_index("gsi-profile", "profile", p, query, now)
                .await
        } else if let Some(st) = query.status {
            self.query_index("gsi-status", "status", st.stored(), query, now)
                .await
        } else {
            self.scan_all(query, now).await
        }
    }

    async fn find_approved(
        &self,
        user: &str,
        profile: &str,
        now: Timestamp,
    ) -> Result<Option<AccessRequest>> {
        if user.is_empty() || profile.is_empty() {
            return Ok(None);
        }
        // All of the user's approved requests for the profile, via the
        // requester index, then confirmed with a consistent read (GSIs are
        // eventually consistent).
        let mut query = RequestQuery::all()
            .requester(user)
            .profile(profile)
            .status(RequestStatus::Approved)
            .limit(1000);
        let mut candidates = Vec::new();
        loop {
            let page = self
                .query_index("gsi-requester", "requester", user, &query, now)
                .await?;
            candidates.extend(page.requests.into_iter().filter(|r| r.is_usable(now)));
            match page.next_page_token {
                Some(t) => query = query.after(Some(t)),
                None => break,
            }
        }
        match best_approval(candidates, now) {
            Some(v) => Ok(self.load(&v.id).await?.filter(|r| r.is_usable(now))),
            None => Ok(None),
        }
    }
}

/// Creates the request table with its GSIs, on-demand billing and TTL on
/// `ttl` (what `sentinel init` runs). An existing table is an error.
pub async fn create_request_table(client: &Client, table: &str) -> Result<()> {
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
    let gsi = |name: &str, pk: &str, sk: &str| -> Result<GlobalSecondaryIndex> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| Error::backend("dynamodb", e))
    };
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("id", KeyType::Hash)?);
    for a in ["id", "requester", "status", "profile", "created_at"] {
        req = req.attribute_definitions(attr(a)?);
    }
    for (name, pk) in [
        ("gsi-requester", "requester"),
        ("gsi-status", "status"),
        ("gsi-profile", "profile"),
    ] {
        req = req.global_secondary_indexes(gsi(name, pk, "created_at")?);
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
