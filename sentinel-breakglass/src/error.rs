//! Errors of break-glass events and their stores.

use std::sync::Arc;

use jiff::Timestamp;
use sentinel_store::TableLayout;

use crate::model::BreakGlassStatus;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the break-glass model, its rules and its stores.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No break-glass event with that id.
    #[error("no break-glass event \"{id}\"")]
    NotFound {
        /// The id looked up.
        id: String,
    },

    /// A conditional write lost, or the invoker already holds an active
    /// event for the profile. Nothing was written.
    #[error("break-glass event \"{id}\" {what}")]
    Conflict {
        /// The event in the way.
        id: String,
        /// What was in the way and what to do.
        what: String,
    },

    /// The event is not in a state that allows the change.
    #[error("break-glass event \"{id}\" is {from}, so it cannot be {action}")]
    InvalidTransition {
        /// The event id.
        id: String,
        /// Its current state.
        from: BreakGlassStatus,
        /// What was attempted (`closed`).
        action: &'static str,
    },

    /// The policy does not let this user invoke break-glass here.
    #[error("break-glass refused: {reason}")]
    Forbidden {
        /// Which rule refused and how to get access.
        reason: String,
    },

    /// A `rate_limits` rule refuses another event now.
    #[error("break-glass refused by rate limit \"{rule}\": {reason}{}", retry_at.map(|t| format!("; next possible at {t}")).unwrap_or_default())]
    RateLimited {
        /// The rate-limit rule.
        rule: String,
        /// Which limit (cooldown, per-user or per-profile quota).
        reason: String,
        /// When the limit lets the next event through, if known.
        retry_at: Option<Timestamp>,
    },

    /// A value that cannot be stored (short justification, too long a
    /// duration, ...).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },

    /// The store's DynamoDB table does not exist; `layout` is what it must
    /// look like (the frontend says how to create it).
    #[error("the break-glass table \"{table}\" does not exist")]
    MissingTable {
        /// The table name.
        table: String,
        /// What the table must look like.
        layout: &'static TableLayout,
    },

    /// The backend failed.
    #[error("{backend} break-glass store failed: {source}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
}

sentinel_store::store_error_conversions!(Error);
