//! The DynamoDB backend, in the table layout of the earlier Go Sentinel:
//! partition key `id` (S), TTL attribute `ttl`, on-demand billing, GSIs
//! `gsi-requester`, `gsi-status`, `gsi-profile` (sort key `created_at`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use sentinel_store::Record;
use sentinel_store::dynamodb::{
    Fields, Gsi, Item, Table, TableLayout, create_table, n, s, sort_key,
};

use crate::error::{Error, Result};
use crate::model::{
    AccessRequest, PENDING_TTL, RequestPage, RequestQuery, RequestStatus, add, best_approval,
    check_name, clean_comment, micro,
};
use crate::store::{Action, Clock, RequestStore};

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
    sentinel_store::dynamo_store_constructors!(&REQUEST_TABLE_LAYOUT, DEFAULT_REQUEST_TABLE);

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
        let names: &[(&str, &str)] = if action == Action::Approve {
            &[("#ttl", "ttl")]
        } else {
            &[]
        };
        let set = format!("SET {}", set.join(", "));
        match self
            .table
            .update_live(id, "pending", now, &set, names, values, from_item)
            .await?
        {
            Some(v) => Ok(v),
            None => match self.load(id).await? {
                None => Err(Error::NotFound { id: id.to_owned() }),
                Some(v) => Err(action.transition_error(&v.read_at(now))),
            },
        }
    }

    /// One page of `query` as of `now` (see [`Table::list`]).
    async fn list_page(
        &self,
        index: Option<(&str, &str, &str)>,
        query: &RequestQuery,
        now: Timestamp,
    ) -> Result<RequestPage> {
        let decode = |item: &Item| from_item(item).map(Some);
        let page = self.table.list(index, query, now, decode).await?;
        Ok(RequestPage::from_parts(page))
    }
}

#[async_trait]
impl RequestStore for DynamoRequestStore {
    async fn create(&self, request: &AccessRequest) -> Result<()> {
        check_name("id", &request.id)?;
        Ok(self.table.put_new(&request.id, to_item(request)).await?)
    }

    async fn get(&self, id: &str) -> Result<AccessRequest> {
        self.table.get_record(id, self.clock.now(), from_item).await
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
        self.table
            .claim_expired("pending", self.clock.now(), limit, from_item)
            .await
    }
}

/// Creates the request table with its GSIs, on-demand billing and TTL on
/// `ttl`. An existing table is an error.
pub async fn create_request_table(client: &Client, table: &str) -> Result<()> {
    Ok(create_table(client, table, &REQUEST_TABLE_LAYOUT).await?)
}
