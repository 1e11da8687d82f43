#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
mod check;
mod clock;
mod dir;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
mod error;
mod layout;
pub mod memory;
mod page;
mod record;
pub mod secs;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod sweep;
mod timeouts;
#[cfg(feature = "tls")]
pub mod tls;

pub use check::{MAX_NAME_LEN, check_name, check_text, new_id};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dir::private_dir;
pub use error::{Error, ErrorKind, Result};
pub use layout::{Gsi, TableLayout};
pub use page::{Cursor, Listed, Page, newest_first, page_size, paginate};
pub use record::{Query, Record, by_expiry, passes};
pub use sweep::{SWEEP_BATCH, sweep};
pub use timeouts::Timeouts;
