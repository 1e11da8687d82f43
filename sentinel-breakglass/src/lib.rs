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
    BREAKGLASS_TABLE_LAYOUT, DEFAULT_BREAKGLASS_TABLE, DynamoBreakGlassStore,
    create_breakglass_table,
};
pub use error::{Error, Result};
pub use memory::MemoryBreakGlassStore;
pub use model::{
    BreakGlassEvent, BreakGlassPage, BreakGlassQuery, BreakGlassStatus, MAX_BREAKGLASS_DURATION,
    MAX_CLOSE_REASON_CHARS, MAX_JUSTIFICATION_CHARS, MIN_JUSTIFICATION_CHARS, NewBreakGlass,
    Username, parse_reason_code,
};
pub use notify::NotifyingBreakGlassStore;
pub use rules::{DEFAULT_ESCALATION_WINDOW, RateLimits, Recent, authorize};
pub use sentinel_policy::ReasonCode;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteBreakGlassStore;
pub use store::{
    BreakGlassStore, BreakGlassStoreExt, Clock, DynBreakGlassStore, Invocation, ManualClock,
    SystemClock,
};
