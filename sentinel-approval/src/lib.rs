#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "dynamodb")]
mod dynamodb;
mod error;
mod memory;
mod model;
mod notify;
mod rules;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

#[cfg(feature = "test-util")]
pub mod conformance;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{
    DEFAULT_REQUEST_TABLE, DynamoRequestStore, REQUEST_TABLE_LAYOUT, create_request_table,
};
pub use error::{Error, Result};
pub use memory::MemoryRequestStore;
pub use model::{
    AUTO_APPROVER_PREFIX, AccessRequest, MAX_COMMENT_LEN, MAX_JUSTIFICATION_LEN, MAX_NAME_LEN,
    MAX_REQUEST_DURATION, MIN_JUSTIFICATION_LEN, NewRequest, PENDING_TTL, RequestPage,
    RequestQuery, RequestStatus, Username, auto_approver, new_id,
};
#[cfg(feature = "sns")]
pub use notify::SnsNotifier;
pub use notify::{
    BreakGlassSubject, EventType, FanOut, LogNotifier, Notification, Notifier, NotifyError,
    NotifyingRequestStore, RequestSubject, SCHEMA_VERSION, Subject,
};
#[cfg(feature = "webhook")]
pub use notify::{RetryPolicy, WebhookNotifier, redact_url};
pub use rules::{applicable_rule, approval_stands, auto_approve, check_approver, check_request};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteRequestStore;
pub use store::{Clock, DynRequestStore, ManualClock, RequestStore, RequestStoreExt, SystemClock};
