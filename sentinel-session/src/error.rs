//! Errors of session stores.

use std::sync::Arc;

use sentinel_store::TableLayout;

use crate::model::SessionStatus;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the session model and its stores.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No session (or revocation) with that id.
    #[error("no server session \"{id}\"")]
    NotFound {
        /// The id looked up.
        id: String,
    },

    /// No user revocation for that user and profile.
    #[error("no revocation for user \"{user}\"{}", profile.as_ref().map(|p| format!(" on profile \"{p}\"")).unwrap_or_default())]
    RevocationNotFound {
        /// The user.
        user: String,
        /// The profile, or `None` for the all-profiles revocation.
        profile: Option<String>,
    },

    /// A conditional write lost: the record exists already or changed
    /// meanwhile. Nothing was written; read it again and retry if it still
    /// makes sense.
    #[error("server session \"{id}\" {what}")]
    Conflict {
        /// The session id.
        id: String,
        /// What was in the way.
        what: String,
    },

    /// The session is not in a state that allows the change.
    #[error("server session \"{id}\" is {from}, so it cannot be {action}")]
    InvalidTransition {
        /// The session id.
        id: String,
        /// Its current state.
        from: SessionStatus,
        /// What was attempted (`touched`, `revoked`).
        action: &'static str,
    },

    /// A value that cannot be stored (empty user, overlong reason, ...).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },

    /// The store's DynamoDB table does not exist; `layout` is what it must
    /// look like (the frontend says how to create it).
    #[error("the session table \"{table}\" does not exist")]
    MissingTable {
        /// The table name.
        table: String,
        /// What the table must look like.
        layout: &'static TableLayout,
    },

    /// The backend failed.
    #[error("{backend} session store failed: {source}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
}

sentinel_store::store_error_conversions!(Error);
