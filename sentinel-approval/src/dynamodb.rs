//! The DynamoDB backend, in the table layout of the earlier Go Sentinel:
//! partition key `id` (S), TTL attribute `ttl`, on-demand billing, GSIs
//! `gsi-requester`, `gsi-status`, `gsi-profile` (sort key `created_at`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use jiff::Timestamp;
use sentinel_store::dynamodb::{
    Fields, Gsi, Item, Table, TableLayout, create_table, is_condition_failed, n, s, sort_key,
};

use crate::error::{Error, Result};
use crate::model::{
    AccessRequest, PENDING_TTL, RequestPage, RequestQuery, RequestStatus, add, best_approval,
    check_name, clean_comment, micro,
};
use crate::store::{Action, Clock, RequestStore, SystemClock};

/// The default name of the request table (the earlier Go Sentinel's).
pub const DEFAULT_REQUEST_TABLE: &str = "sentinel-requests";

/// Records stay this long past their end before DynamoDB TTL may remove
/// them (expiry itself is always decided on read).
const TTL_GRACE_SECS: i64 = 30 * 86_400;

/// The layout of the request table: key `id`, TTL `ttl`, and its GSIs.
pub const REQUEST_TABLE_LAYOUT: TableLayout = TableLayout {
    record: RECORD,
    indexes: &[
        Gsi::by_created("gsi-requester", "requester"),
        Gsi::by_created("gsi-status", "status"),
        Gsi::by_created("gsi-profile", "profile"),
    ],
};

/// What a stored item is, in error messages.
const RECORD: &str = "access request";

/// Access requests in a DynamoDB table. Takes a built client; never loads
/// AWS configuration itself.
#[derive(Debug, Clone)]
pub struct DynamoRequestStore {
    table: Table,
    clock: Arc<dyn Clock>,
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
    let f = Fields::new(item, RECORD);
    Ok(AccessRequest {
        id: f.s("id")?,
        requester: f.s("requester")?,
        profile: f.s("profile")?,
        justification: f.s("justification")?,
        duration: Duration::from_secs(
            u64::try_from(f.n("duration_secs")?).map_err(|_| f.corrupt("duration_secs"))?,
        ),
        status: RequestStatus::parse(&f.s("status")?).ok_or_else(|| f.corrupt("status"))?,
        created_at: f.sort_ts("created_at")?,
        updated_at: f.ts("updated_at")?,
        expires_at: f.ts("expires_at")?,
        approver: f.opt_s("approver"),
        approver_comment: f.opt_s("approver_comment"),
        approved_at: f.opt_ts("approved_at")?,
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
            table: Table::new(client, table, &REQUEST_TABLE_LAYOUT),
            clock,
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        self.table.name()
    }

    async fn load(&self, id: &str) -> Result<Option<AccessRequest>> {
        self.table.load(id, from_item).await
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
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
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
            Ok(out) => match out.attributes() {
                Some(item) => Ok(from_item(item)?.read_at(now)),
                None => Err(sentinel_store::dynamodb::corrupt(RECORD, "attributes").into()),
            },
            Err(e) if is_condition_failed(&e) => match self.load(id).await? {
                None => Err(Error::NotFound { id: id.to_owned() }),
                Some(v) => Err(action.transition_error(&v.read_at(now))),
            },
            Err(e) => Err(self.table.err("UpdateItem", e).into()),
        }
    }

    /// One page of `query` as of `now`: from the GSI `(index, key
    /// attribute, key value)` newest first, or without one from a scan
    /// ordered here.
    async fn list_page(
        &self,
        index: Option<(&str, &str, &str)>,
        query: &RequestQuery,
        now: Timestamp,
    ) -> Result<RequestPage> {
        let after = query.page.cursor()?;
        let decode = |item: &Item| {
            let v = from_item(item)?.read_at(now);
            Ok::<_, Error>(query.matches(&v).then_some(v))
        };
        let (requests, next_page_token) = match index {
            Some((index, attr, value)) => {
                let (size, after) = (query.page.size(), after.as_ref());
                self.table
                    .query_page(index, attr, value, after, size, decode)
                    .await?
            }
            None => {
                self.table
                    .scan_page(after.as_ref(), query.page.size(), decode)
                    .await?
            }
        };
        Ok(RequestPage {
            requests,
            next_page_token,
        })
    }
}

#[async_trait]
impl RequestStore for DynamoRequestStore {
    async fn create(&self, request: &AccessRequest) -> Result<()> {
        check_name("id", &request.id)?;
        match self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(to_item(request)))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(Error::Conflict {
                id: request.id.clone(),
                what: "already exists".into(),
            }),
            Err(e) => Err(self.table.err("PutItem", e).into()),
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
        let index = if let Some(u) = &query.requester {
            Some(("gsi-requester", "requester", u.as_str()))
        } else if let Some(p) = &query.profile {
            Some(("gsi-profile", "profile", p.as_str()))
        } else {
            query.status.map(|st| ("gsi-status", "status", st.stored()))
        };
        self.list_page(index, query, self.clock.now()).await
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
                .list_page(Some(("gsi-requester", "requester", user)), &query, now)
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

    async fn claim_expired(&self, limit: usize) -> Result<Vec<AccessRequest>> {
        let now = self.clock.now();
        self.table
            .claim_expired("pending", now, limit)
            .await?
            .iter()
            .map(|item| from_item(item).map(|r| r.read_at(now)))
            .collect()
    }
}

/// Creates the request table with its GSIs, on-demand billing and TTL on
/// `ttl`. An existing table is an error.
pub async fn create_request_table(client: &Client, table: &str) -> Result<()> {
    Ok(create_table(client, table, &REQUEST_TABLE_LAYOUT).await?)
}
