#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "dynamodb")]
mod dynamodb;
mod error;
mod memory;
mod model;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

#[cfg(feature = "test-util")]
pub mod conformance;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{
    DEFAULT_SESSION_TABLE, DynamoSessionStore, SESSION_TABLE_LAYOUT, create_session_table,
};
pub use error::{Error, Result};
pub use memory::MemorySessionStore;
pub use model::{
    Access, MAX_NAME_LEN, MAX_REASON_LEN, NewSession, ServerSession, SessionPage, SessionQuery,
    SessionStatus, UserRevocation, Username, new_id,
};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSessionStore;
pub use store::{
    Clock, DynSessionStore, KillSwitchReport, ManualClock, SessionStore, SessionStoreExt,
    SystemClock,
};
