//! The DynamoDB backend, in the table layout of the earlier Go Sentinel:
//! partition key `id` (S), TTL attribute `ttl`, on-demand billing, GSIs
//! `gsi-invoker`, `gsi-status` and `gsi-profile` (sort key `created_at`).
//!
//! Rate limits need a consistent view of a profile's recent events, which
//! GSI queries (eventually consistent) cannot give. Each profile therefore
//! has one **ledger item** (`id = "ledger#<profile>"`, never listed) that
//! holds its recent and active events. An invocation reads the ledger,
//! checks the limits, and writes the event and the new ledger in one
//! `TransactWriteItems` conditioned on the ledger's version: of racing
//! invocations exactly one commits per version, the others read again and
//! are checked against the winner.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use jiff::Timestamp;
use sentinel_store::Record;
use sentinel_store::dynamodb::{
    Fields, Gsi, Item, Table, TableLayout, create_table, n, s, sort_key,
};

use crate::error::{Error, Result};
use crate::model::{
    BreakGlassEvent, BreakGlassPage, BreakGlassQuery, BreakGlassStatus, check_close, micro,
    parse_reason_code, sub,
};
use crate::rules::Recent;
use crate::store::{BreakGlassStore, Clock, Invocation, not_closable};

/// The default name of the break-glass table (the earlier Go Sentinel's).
pub const DEFAULT_BREAKGLASS_TABLE: &str = "sentinel-breakglass";

/// Records stay this long past their end before DynamoDB TTL may remove
/// them (expiry itself is always decided on read).
const TTL_GRACE_SECS: i64 = 90 * 86_400;

const LEDGER_PREFIX: &str = "ledger#";

/// Ended events stay in a ledger at least this long, so that a rate limit
/// made longer later still sees them.
const LEDGER_RETENTION: Duration = Duration::from_secs(31 * 86_400);

/// At most this many entries per ledger (well under DynamoDB's 400 KB item
/// limit); the oldest ended ones go first.
const LEDGER_MAX_ENTRIES: usize = 2000;

/// Rounds of optimistic retries before giving up with a conflict.
const MAX_ATTEMPTS: usize = 100;

/// The layout of the break-glass table: key `id`, TTL `ttl`, and its GSIs.
pub const BREAKGLASS_TABLE_LAYOUT: TableLayout = TableLayout {
    record: "break-glass event",
    indexes: &[
        Gsi::by_created("gsi-invoker", "invoker"),
        Gsi::by_created("gsi-status", "status"),
        Gsi::by_created("gsi-profile", "profile"),
    ],
};

/// Break-glass events in a DynamoDB table. Takes a built client; never
/// loads AWS configuration itself.
#[derive(Debug, Clone)]
pub struct DynamoBreakGlassStore {
    table: Table,
    clock: Arc<dyn Clock>,
}

fn to_item(e: &BreakGlassEvent) -> Item {
    let mut item = Item::new();
    item.insert("id".into(), s(&e.id));
    item.insert("invoker".into(), s(&e.invoker));
    item.insert("profile".into(), s(&e.profile));
    item.insert("reason_code".into(), s(e.reason_code.as_str()));
    item.insert("justification".into(), s(&e.justification));
    item.insert(
        "duration_secs".into(),
        n(i64::try_from(e.duration.as_secs()).unwrap_or(i64::MAX)),
    );
    item.insert(
        "status".into(),
        s(match e.status {
            BreakGlassStatus::Closed => "closed",
            _ => "active",
        }),
    );
    item.insert("created_at".into(), s(sort_key(e.created_at)));
    item.insert("updated_at".into(), n(e.updated_at.as_microsecond()));
    item.insert("expires_at".into(), n(e.expires_at.as_microsecond()));
    if let Some(t) = e.closed_at {
        item.insert("closed_at".into(), n(t.as_microsecond()));
    }
    if let Some(by) = &e.closed_by {
        item.insert("closed_by".into(), s(by));
    }
    if let Some(r) = &e.close_reason {
        item.insert("close_reason".into(), s(r));
    }
    item.insert("escalated".into(), AttributeValue::Bool(e.escalated));
    if let Some(rule) = &e.rule {
        item.insert("rule".into(), s(rule));
    }
    item.insert(
        "ttl".into(),
        n(e.expires_at.as_second().saturating_add(TTL_GRACE_SECS)),
    );
    item
}

fn from_item(item: &Item) -> Result<BreakGlassEvent> {
    let f = Fields::new(item, "break-glass event");
    let status = f.s("status")?;
    let code = f.s("reason_code")?;
    Ok(BreakGlassEvent {
        id: f.s("id")?,
        invoker: f.s("invoker")?,
        profile: f.s("profile")?,
        reason_code: parse_reason_code(&code).map_err(|_| f.corrupt("reason_code"))?,
        justification: f.s("justification")?,
        duration: Duration::from_secs(u64::try_from(f.n("duration_secs")?).unwrap_or(0)),
        status: BreakGlassStatus::parse(&status).ok_or_else(|| f.corrupt("status"))?,
        created_at: f.sort_ts("created_at")?,
        updated_at: f.ts("updated_at")?,
        expires_at: f.ts("expires_at")?,
        closed_at: f.opt_ts("closed_at")?,
        closed_by: f.opt_s("closed_by"),
        close_reason: f.opt_s("close_reason"),
        escalated: matches!(item.get("escalated"), Some(AttributeValue::Bool(true))),
        rule: f.opt_s("rule"),
    })
}

/// A profile's ledger as read: its version (`None` when it does not exist
/// yet) and entries.
#[derive(Debug, Default)]
struct Ledger {
    version: Option<i64>,
    entries: Vec<Recent>,
}

fn ledger_id(profile: &str) -> String {
    format!("{LEDGER_PREFIX}{profile}")
}

fn ledger_from_item(item: Option<&Item>) -> Result<Ledger> {
    let Some(item) = item else {
        return Ok(Ledger::default());
    };
    let f = Fields::new(item, "break-glass ledger");
    let mut entries = Vec::new();
    if let Some(AttributeValue::L(list)) = item.get("entries") {
        for v in list {
            let AttributeValue::M(m) = v else {
                return Err(f.corrupt("entries").into());
            };
            let e = Fields::new(m, "break-glass ledger entry");
            entries.push(Recent {
                id: e.s("id")?,
                invoker: e.s("invoker")?,
                created_at: e.ts("created")?,
                ends_at: e.ts("ends")?,
            });
        }
    }
    Ok(Ledger {
        version: Some(f.n("version")?),
        entries,
    })
}

fn ledger_item(profile: &str, version: i64, entries: &[Recent]) -> Item {
    let list = entries
        .iter()
        .map(|r| {
            AttributeValue::M(Item::from([
                ("id".to_owned(), s(&r.id)),
                ("invoker".to_owned(), s(&r.invoker)),
                ("created".to_owned(), n(r.created_at.as_microsecond())),
                ("ends".to_owned(), n(r.ends_at.as_microsecond())),
            ]))
        })
        .collect();
    Item::from([
        ("id".to_owned(), s(ledger_id(profile))),
        ("kind".to_owned(), s("breakglass_ledger")),
        ("version".to_owned(), n(version)),
        ("entries".to_owned(), AttributeValue::L(list)),
    ])
}

/// Drops entries no limit can need any more: ended and older than both the
/// lookback and the retention; then the oldest ended ones beyond the cap.
fn prune(entries: &mut Vec<Recent>, now: Timestamp, lookback: Duration) {
    let keep_since = sub(now, lookback.max(LEDGER_RETENTION));
    entries.retain(|r| r.ends_at > now || r.created_at > keep_since);
    if entries.len() > LEDGER_MAX_ENTRIES {
        entries.sort_by_key(|r| (r.ends_at > now, r.created_at));
        let excess = entries.len() - LEDGER_MAX_ENTRIES;
        entries.drain(..excess);
    }
}

fn is_cancelled(
    e: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    matches!(
        e.as_service_error(),
        Some(TransactWriteItemsError::TransactionCanceledException(_))
    ) || matches!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(e),
        Some("TransactionConflictException" | "TransactionCanceledException")
    )
}

/// A short pause before retrying a lost optimistic write, growing with the
/// attempt and spread by a random jitter so racers do not collide in step.
async fn backoff(attempt: usize) {
    let jitter = sentinel_store::new_id()
        .ok()
        .and_then(|id| u64::from_str_radix(&id[..4], 16).ok())
        .unwrap_or(0)
        % 20;
    let base = 2 * u64::try_from(attempt.min(20)).unwrap_or(20);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

impl DynamoBreakGlassStore {
    sentinel_store::dynamo_store_constructors!(&BREAKGLASS_TABLE_LAYOUT, DEFAULT_BREAKGLASS_TABLE);

    async fn load(&self, id: &str) -> Result<Option<BreakGlassEvent>> {
        if id.is_empty() || id.starts_with(LEDGER_PREFIX) {
            return Ok(None);
        }
        self.table.load(id, from_item).await
    }

    async fn ledger(&self, profile: &str) -> Result<Ledger> {
        ledger_from_item(self.table.get(&ledger_id(profile)).await?.as_ref())
    }

    fn ledger_put(
        &self,
        profile: &str,
        ledger: &Ledger,
        entries: &[Recent],
    ) -> Result<TransactWriteItem> {
        let next = ledger.version.unwrap_or(0) + 1;
        let put = Put::builder()
            .table_name(self.table.name())
            .set_item(Some(ledger_item(profile, next, entries)));
        let put = match ledger.version {
            Some(v) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
            None => put.condition_expression("attribute_not_exists(id)"),
        };
        Ok(TransactWriteItem::builder()
            .put(
                put.build()
                    .map_err(|e| sentinel_store::Error::backend("dynamodb", e))?,
            )
            .build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool> {
        match self
            .table
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_cancelled(&e) => Ok(false),
            Err(e) => Err(self.table.err("TransactWriteItems", e).into()),
        }
    }
}

#[async_trait]
impl BreakGlassStore for DynamoBreakGlassStore {
    async fn invoke(&self, invocation: &Invocation) -> Result<BreakGlassEvent> {
        let profile = &invocation.new.profile;
        if profile.starts_with(LEDGER_PREFIX) {
            return Err(Error::invalid("profile", "uses a reserved prefix"));
        }
        for attempt in 0..MAX_ATTEMPTS {
            let ledger = self.ledger(profile).await?;
            let now = micro(self.clock.now());
            let event = invocation.event_at(now, &ledger.entries)?;
            let mut entries = ledger.entries.clone();
            prune(&mut entries, now, invocation.limits.lookback());
            entries.push(Recent::from(&event));
            let put_event = Put::builder()
                .table_name(self.table.name())
                .set_item(Some(to_item(&event)))
                .condition_expression("attribute_not_exists(id)")
                .build()
                .map_err(|e| sentinel_store::Error::backend("dynamodb", e))?;
            let items = vec![
                TransactWriteItem::builder().put(put_event).build(),
                self.ledger_put(profile, &ledger, &entries)?,
            ];
            if self.transact(items).await? {
                return Ok(event);
            }
            backoff(attempt).await;
        }
        Err(Error::Conflict {
            id: ledger_id(profile),
            what: "changed too often concurrently; try again".into(),
        })
    }

    async fn get(&self, id: &str) -> Result<BreakGlassEvent> {
        if id.starts_with(LEDGER_PREFIX) {
            return Err(Error::NotFound { id: id.to_owned() });
        }
        self.table.get_record(id, self.clock.now(), from_item).await
    }

    async fn close(&self, id: &str, by: &str, reason: &str) -> Result<BreakGlassEvent> {
        check_close(id, by, reason)?;
        let reason = reason.trim();
        for attempt in 0..MAX_ATTEMPTS {
            let now = micro(self.clock.now());
            let current = self
                .load(id)
                .await?
                .ok_or_else(|| Error::NotFound { id: id.to_owned() })?;
            if !current.is_active(now) {
                return Err(not_closable(&current, now));
            }
            let ledger = self.ledger(&current.profile).await?;
            let mut entries = ledger.entries.clone();
            for r in entries.iter_mut().filter(|r| r.id == current.id) {
                r.ends_at = now;
            }
            let update = Update::builder()
                .table_name(self.table.name())
                .key("id", s(id))
                .update_expression(
                    "SET #status = :closed, closed_at = :now, updated_at = :now, closed_by = :by, close_reason = :reason",
                )
                .condition_expression("attribute_exists(id) AND #status = :active AND expires_at > :now")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":closed", s("closed"))
                .expression_attribute_values(":active", s("active"))
                .expression_attribute_values(":now", n(now.as_microsecond()))
                .expression_attribute_values(":by", s(by))
                .expression_attribute_values(":reason", s(reason))
                .build()
                .map_err(|e| sentinel_store::Error::backend("dynamodb", e))?;
            let items = vec![
                TransactWriteItem::builder().update(update).build(),
                self.ledger_put(&current.profile, &ledger, &entries)?,
            ];
            if self.transact(items).await? {
                let mut closed = current;
                closed.status = BreakGlassStatus::Closed;
                closed.closed_at = Some(now);
                closed.updated_at = now;
                closed.closed_by = Some(by.to_owned());
                closed.close_reason = Some(reason.to_owned());
                return Ok(closed);
            }
            backoff(attempt).await;
        }
        Err(Error::Conflict {
            id: id.to_owned(),
            what: "changed too often concurrently; try again".into(),
        })
    }

    async fn list(&self, query: &BreakGlassQuery) -> Result<BreakGlassPage> {
        let decode = |item: &Item| match item.get("id") {
            Some(AttributeValue::S(id)) if id.starts_with(LEDGER_PREFIX) => Ok(None),
            _ => from_item(item).map(Some),
        };
        let status = |st| match st {
            BreakGlassStatus::Closed => "closed",
            _ => "active",
        };
        let index = if let Some(u) = &query.invoker {
            Some(("gsi-invoker", "invoker", u.as_str()))
        } else if let Some(p) = &query.profile {
            Some(("gsi-profile", "profile", p.as_str()))
        } else {
            query.status.map(|st| ("gsi-status", "status", status(st)))
        };
        let page = self
            .table
            .list(index, query, self.clock.now(), decode)
            .await?;
        Ok(BreakGlassPage::from_parts(page))
    }

    async fn find_active(&self, invoker: &str, profile: &str) -> Result<Option<BreakGlassEvent>> {
        if profile.starts_with(LEDGER_PREFIX) {
            return Ok(None);
        }
        let now = self.clock.now();
        let ledger = self.ledger(profile).await?;
        let Some(entry) = ledger
            .entries
            .iter()
            .find(|r| r.invoker == invoker && r.ends_at > now)
        else {
            return Ok(None);
        };
        Ok(self
            .load(&entry.id)
            .await?
            .map(|e| e.read_at(now))
            .filter(|e| e.is_active(now)))
    }

    async fn claim_expired(&self, limit: usize) -> Result<Vec<BreakGlassEvent>> {
        let now = micro(self.clock.now());
        self.table
            .claim_expired("active", now, limit, from_item)
            .await
    }
}

/// Creates the break-glass table with its GSIs, on-demand billing and TTL
/// on `ttl`. An existing table is an error.
pub async fn create_breakglass_table(client: &Client, table: &str) -> Result<()> {
    Ok(create_table(client, table, &BREAKGLASS_TABLE_LAYOUT).await?)
}
