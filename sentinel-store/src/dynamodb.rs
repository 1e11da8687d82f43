//! DynamoDB helpers for the tables of the earlier Go Sentinel: partition key
//! `id` (S), GSIs with sort key `created_at`, TTL attribute `ttl`.

use std::collections::HashMap;

pub use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use jiff::Timestamp;

use crate::aws::{EndpointRecorder, no_answer};
use crate::error::{Error, Result};
pub use crate::layout::{Gsi, TableLayout};
use crate::page::{Cursor, Listed, paginate};
use crate::record::{Query, Record};

/// A stored item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// `created_at` as the GSI sort key: zero-padded microseconds, so string
/// order is time order.
pub fn sort_key(t: Timestamp) -> String {
    format!("{:020}", t.as_microsecond().max(0))
}

/// Whether a write lost its condition (the loser of a race).
pub fn is_condition_failed<E, R>(e: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    e.code() == Some("ConditionalCheckFailedException")
}

/// Typed reads of one item's attributes; a missing or malformed attribute is
/// a backend error that names the field.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    item: &'a Item,
    record: &'static str,
}

impl<'a> Fields<'a> {
    /// Reads `item`, a stored `record` (`session`, `request`, ...).
    pub fn new(item: &'a Item, record: &'static str) -> Self {
        Self { item, record }
    }

    /// The error for a missing or malformed `field`.
    pub fn corrupt(&self, field: &str) -> Error {
        corrupt(self.record, field)
    }

    /// A required string.
    pub fn s(&self, k: &str) -> Result<String> {
        self.opt_s(k).ok_or_else(|| self.corrupt(k))
    }

    /// An optional string.
    pub fn opt_s(&self, k: &str) -> Option<String> {
        match self.item.get(k) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        }
    }

    /// A required number.
    pub fn n(&self, k: &str) -> Result<i64> {
        match self.item.get(k) {
            Some(AttributeValue::N(v)) => v.parse().map_err(|_| self.corrupt(k)),
            _ => Err(self.corrupt(k)),
        }
    }

    /// An optional number (present but malformed is an error).
    pub fn opt_n(&self, k: &str) -> Result<Option<i64>> {
        match self.item.get(k) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.n(k).map(Some),
        }
    }

    /// A required timestamp stored as microseconds.
    pub fn ts(&self, k: &str) -> Result<Timestamp> {
        Timestamp::from_microsecond(self.n(k)?).map_err(|_| self.corrupt(k))
    }

    /// An optional timestamp stored as microseconds.
    pub fn opt_ts(&self, k: &str) -> Result<Option<Timestamp>> {
        self.opt_n(k)?
            .map(|v| Timestamp::from_microsecond(v).map_err(|_| self.corrupt(k)))
            .transpose()
    }

    /// A timestamp stored as a [`sort_key`] string (`created_at`).
    pub fn sort_ts(&self, k: &str) -> Result<Timestamp> {
        let v: i64 = self.s(k)?.parse().map_err(|_| self.corrupt(k))?;
        Timestamp::from_microsecond(v).map_err(|_| self.corrupt(k))
    }
}

/// The error for a stored `record` with a missing or malformed `field`.
pub fn corrupt(record: &str, field: &str) -> Error {
    Error::backend(
        "dynamodb",
        format!(
            "a stored {record} has a missing or malformed `{field}`; the table may not be a Sentinel {record} table"
        ),
    )
}

/// One store's table: the client, its name, and its layout (what
/// [`Error::MissingTable`] carries when it does not exist).
#[derive(Debug, Clone)]
pub struct Table {
    client: Client,
    name: String,
    layout: &'static TableLayout,
    endpoint: EndpointRecorder,
}

impl Table {
    /// `name` on `client`, a table laid out as `layout`.
    ///
    /// The client keeps its configuration (timeouts included) and gains an
    /// [`EndpointRecorder`], so a timeout names the endpoint.
    pub fn new(client: Client, name: impl Into<String>, layout: &'static TableLayout) -> Self {
        let endpoint = EndpointRecorder::new();
        let client = Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(endpoint.clone())
                .build(),
        );
        Self {
            client,
            name: name.into(),
            layout,
            endpoint,
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An SDK error as a store error: a missing table is
    /// [`Error::MissingTable`]; access denied and throttling say what
    /// happened; a timeout names the endpoint that did not answer.
    pub fn err<E, R>(&self, action: &str, e: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let table = &self.name;
        if let Some(no_answer) = no_answer("DynamoDB", &self.endpoint, &e) {
            return Error::backend(
                "dynamodb",
                format!("{no_answer} for {action} on table \"{table}\""),
            );
        }
        let message = match e.code() {
            Some("ResourceNotFoundException") => {
                return Error::MissingTable {
                    table: table.clone(),
                    layout: self.layout,
                };
            }
            Some("AccessDeniedException") => format!(
                "access denied for {action} on table \"{table}\": {}",
                e.message().unwrap_or_default()
            ),
            Some("ProvisionedThroughputExceededException" | "ThrottlingException") => {
                format!("DynamoDB is throttling {action} on \"{table}\"; retry shortly")
            }
            _ => format!("{action} on \"{table}\": {}", DisplayErrorContext(&e)),
        };
        Error::backend("dynamodb", message)
    }

    /// The item with key `id`, read consistently.
    pub async fn get(&self, id: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        Ok(out.item().cloned())
    }

    /// The record with key `id`, read consistently and turned into a
    /// record by `decode`; `None` when there is no such item.
    pub async fn load<T, E>(
        &self,
        id: &str,
        decode: impl FnOnce(&Item) -> std::result::Result<T, E>,
    ) -> std::result::Result<Option<T>, E>
    where
        E: From<Error>,
    {
        self.get(id).await?.as_ref().map(decode).transpose()
    }

    /// One page from the GSI `index` (partition `key_attr` = `key_value`,
    /// sort key `created_at`), newest first. `decode` turns an item into a
    /// record, or `None` when it does not pass the other filters; DynamoDB
    /// pages are followed until the page is full, so filtering never drops
    /// a match.
    pub async fn query_page<T, E>(
        &self,
        index: &str,
        key_attr: &str,
        key_value: &str,
        after: Option<&Cursor>,
        size: usize,
        mut decode: impl FnMut(&Item) -> Result<Option<T>, E> + Send,
    ) -> Result<(Vec<T>, Option<String>), E>
    where
        T: Listed + Send,
        E: From<Error>,
    {
        let size = size.max(1);
        let mut start: Option<Item> = after.map(|c| {
            Item::from([
                ("id".to_owned(), s(&c.id)),
                ("created_at".to_owned(), s(sort_key(c.at))),
                (key_attr.to_owned(), s(key_value)),
            ])
        });
        let mut found = Vec::new();
        loop {
            let (items, next) = self
                .query_once(index, key_attr, key_value, start.take())
                .await
                .map_err(E::from)?;
            for item in &items {
                if let Some(v) = decode(item)? {
                    found.push(v);
                    if found.len() > size {
                        let next = Cursor::after(&found[size - 1]).token();
                        found.truncate(size);
                        return Ok((found, Some(next)));
                    }
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok((found, None))
    }

    /// One DynamoDB page of the GSI `index` where `key_attr` = `key_value`,
    /// newest first, and the key to continue from.
    async fn query_once(
        &self,
        index: &str,
        key_attr: &str,
        key_value: &str,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>)> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(index)
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", key_attr)
            .expression_attribute_values(":v", s(key_value))
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| self.err("Query", e))?;
        let next = out.last_evaluated_key().filter(|k| !k.is_empty()).cloned();
        Ok((out.items().to_vec(), next))
    }

    /// Stores `item`, the new record `id`; [`Error::Conflict`] when the id
    /// is taken (nothing is written then).
    pub async fn put_new(&self, id: &str, item: Item) -> Result<()> {
        match self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(Error::conflict(id)),
            Err(e) => Err(self.err("PutItem", e)),
        }
    }

    /// The record `id` as of `now`, read consistently and turned into a
    /// record by `decode`; [`Error::NotFound`] when there is none (an empty
    /// id, which DynamoDB cannot look up, included).
    pub async fn get_record<T, E>(
        &self,
        id: &str,
        now: Timestamp,
        decode: impl FnOnce(&Item) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        T: Record,
        E: From<Error>,
    {
        if id.is_empty() {
            return Err(Error::not_found(id).into());
        }
        self.load(id, decode)
            .await?
            .map(|r| r.read_at(now))
            .ok_or_else(|| Error::not_found(id).into())
    }

    /// Changes the record `id` with one conditional UpdateItem, only while
    /// its stored `status` is `live` and it has not expired at `now`: `set`
    /// is the update expression (`#status` names the status attribute),
    /// `names` and `values` the rest of its names and values. Returns the
    /// record as changed, as of `now`, or `None` when the condition failed
    /// (the caller reads the record to say why).
    #[allow(clippy::too_many_arguments)]
    pub async fn update_live<T, E>(
        &self,
        id: &str,
        live: &str,
        now: Timestamp,
        set: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        decode: impl FnOnce(&Item) -> std::result::Result<T, E>,
    ) -> std::result::Result<Option<T>, E>
    where
        T: Record,
        E: From<Error>,
    {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("id", s(id))
            .update_expression(set)
            .condition_expression(
                "attribute_exists(id) AND #status = :live AND expires_at > :now_us",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":live", s(live))
            .expression_attribute_values(":now_us", n(now.as_microsecond()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        for (k, v) in names {
            req = req.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        match req.send().await {
            Ok(out) => match out.attributes() {
                Some(item) => Ok(Some(decode(item)?.read_at(now))),
                None => Err(corrupt(self.layout.record, "attributes").into()),
            },
            Err(e) if is_condition_failed(&e) => Ok(None),
            Err(e) => Err(self.err("UpdateItem", e).into()),
        }
    }

    /// One page of `query` as of `now`: from the GSI `(index, key
    /// attribute, key value)` newest first (see [`query_page`](Self::query_page)),
    /// or without one from a scan ordered here (see
    /// [`scan_page`](Self::scan_page)). `decode` turns an item into a
    /// record, or `None` for an item of another kind that shares the
    /// table; records are read as of `now` and filtered by the query.
    pub async fn list<T, E, Q>(
        &self,
        index: Option<(&str, &str, &str)>,
        query: &Q,
        now: Timestamp,
        mut decode: impl FnMut(&Item) -> std::result::Result<Option<T>, E> + Send,
    ) -> std::result::Result<(Vec<T>, Option<String>), E>
    where
        T: Record + Send,
        E: From<Error>,
        Q: Query<T> + Sync,
    {
        let after = query.page().cursor()?;
        let size = query.page().size();
        let decode = move |item: &Item| {
            Ok(decode(item)?
                .map(|r| r.read_at(now))
                .filter(|r| query.matches(r)))
        };
        match index {
            Some((index, attr, value)) => {
                self.query_page(index, attr, value, after.as_ref(), size, decode)
                    .await
            }
            None => self.scan_page(after.as_ref(), size, decode).await,
        }
    }

    /// Claims up to `limit` records whose stored `status` is `status`, whose
    /// `expires_at` (microseconds) is at or before `now`, and that carry no
    /// `expiry_announced` mark yet, oldest expiry first. Each is marked with
    /// a conditional update, so of racing claimers exactly one gets it; the
    /// claimed items are returned as updated. Candidates come from the
    /// `gsi-status` index (eventually consistent, which a sweep can live
    /// with: a record missed now is claimed by the next sweep). `decode`
    /// turns a claimed item into a record, returned as of `now`.
    pub async fn claim_expired<T, E>(
        &self,
        status: &str,
        now: Timestamp,
        limit: usize,
        decode: impl Fn(&Item) -> Result<T, E>,
    ) -> Result<Vec<T>, E>
    where
        T: Record,
        E: From<Error>,
    {
        let now_us = now.as_microsecond();
        let mut due: Vec<(i64, String)> = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = self
                .query_once("gsi-status", "status", status, start)
                .await
                .map_err(E::from)?;
            for item in &items {
                let f = Fields::new(item, "record");
                if item.contains_key("expiry_announced") {
                    continue;
                }
                let expires = f.n("expires_at").map_err(E::from)?;
                if expires <= now_us {
                    due.push((expires, f.s("id").map_err(E::from)?));
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        due.sort();
        let mut claimed = Vec::new();
        for (_, id) in due {
            if claimed.len() >= limit {
                break;
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.name)
                .key("id", s(&id))
                .update_expression("SET expiry_announced = :t")
                .condition_expression(
                    "attribute_exists(id) AND #status = :s AND attribute_not_exists(expiry_announced)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":s", s(status))
                .expression_attribute_values(":t", n(now_us))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                .send()
                .await;
            match result {
                Ok(out) => {
                    if let Some(item) = out.attributes() {
                        claimed.push(decode(item)?.read_at(now));
                    }
                }
                Err(e) if is_condition_failed(&e) => {}
                Err(e) => return Err(self.err("UpdateItem", e).into()),
            }
        }
        Ok(claimed)
    }

    /// Every item of the table, read consistently page by page.
    pub async fn scan(&self) -> Result<Vec<Item>> {
        let mut all = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.name)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Scan", e))?;
            all.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(all)
    }

    /// One page of the whole table without a key filter: a consistent scan,
    /// then order and page here (see [`paginate`]).
    pub async fn scan_page<T, E>(
        &self,
        after: Option<&Cursor>,
        size: usize,
        mut decode: impl FnMut(&Item) -> Result<Option<T>, E>,
    ) -> Result<(Vec<T>, Option<String>), E>
    where
        T: Listed,
        E: From<Error>,
    {
        let mut all = Vec::new();
        for item in self.scan().await? {
            if let Some(v) = decode(&item)? {
                all.push(v);
            }
        }
        Ok(paginate(all, after, size))
    }
}

/// The constructors of a DynamoDB store, written inside its `impl` block:
/// `new`, on the system clock, `with_clock` and `table`. The store has the
/// fields `table`, a [`Table`] laid out as `$layout`, and `clock`;
/// `$default` names the default table name in the documentation.
#[macro_export]
macro_rules! dynamo_store_constructors {
    ($layout:expr, $default:ident) => {
        #[doc = concat!("A store on `table` (see [`", stringify!($default), "`]).")]
        pub fn new(client: $crate::dynamodb::Client, table: impl Into<String>) -> Self {
            Self::with_clock(client, table, ::std::sync::Arc::new($crate::SystemClock))
        }

        /// Like [`new`](Self::new), reading time from `clock`.
        pub fn with_clock(
            client: $crate::dynamodb::Client,
            table: impl Into<String>,
            clock: ::std::sync::Arc<dyn $crate::Clock>,
        ) -> Self {
            Self {
                table: $crate::dynamodb::Table::new(client, table, $layout),
                clock,
            }
        }

        /// The table name.
        pub fn table(&self) -> &str {
            self.table.name()
        }
    };
}

/// Creates a store table as `layout` describes it. An existing table is an
/// error.
pub async fn create_table(client: &Client, table: &str, layout: &TableLayout) -> Result<()> {
    let build = |e: aws_sdk_dynamodb::error::BuildError| Error::backend("dynamodb", e);
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(build)
    };
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(TableLayout::PARTITION_KEY, KeyType::Hash)?);
    for g in layout.indexes {
        let mut index = GlobalSecondaryIndex::builder()
            .index_name(g.name)
            .key_schema(key(g.partition, KeyType::Hash)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            );
        if let Some(sort) = g.sort {
            index = index.key_schema(key(sort, KeyType::Range)?);
        }
        req = req.global_secondary_indexes(index.build().map_err(build)?);
    }
    for a in layout.key_attributes() {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)?,
        );
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
                .attribute_name(TableLayout::TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(build)?,
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
