//! Errors of access requests and their stores.

use std::sync::Arc;

use sentinel_store::TableLayout;

use crate::model::RequestStatus;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the access-request model, the approval rules and the stores.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No access request with that id.
    #[error("no access request \"{id}\"")]
    NotFound {
        /// The id looked up.
        id: String,
    },

    /// A conditional write lost: the record exists already or changed
    /// meanwhile. Nothing was written; read it again and retry if it still
    /// makes sense.
    #[error("access request \"{id}\" {what}")]
    Conflict {
        /// The request id.
        id: String,
        /// What was in the way.
        what: String,
    },

    /// The request is not in a state that allows the change (only
    /// `pending` requests can be approved, denied or cancelled).
    #[error(
        "access request \"{id}\" is {from}, so it cannot be {action}; only pending requests can change"
    )]
    InvalidTransition {
        /// The request id.
        id: String,
        /// Its current state.
        from: RequestStatus,
        /// What was attempted (`approved`, `denied`, `cancelled`).
        action: &'static str,
    },

    /// The requester tried to approve or deny their own request.
    #[error(
        "\"{user}\" made this access request and cannot approve or deny it; ask another approver"
    )]
    SelfApproval {
        /// The identity that tried.
        user: String,
    },

    /// The caller may not do this (not a listed approver, not the requester).
    #[error("not allowed: {reason}")]
    Forbidden {
        /// Why, and who may.
        reason: String,
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
    #[error("the request table \"{table}\" does not exist")]
    MissingTable {
        /// The table name.
        table: String,
        /// What the table must look like.
        layout: &'static TableLayout,
    },

    /// The backend failed.
    #[error("{backend} request store failed: {source}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
}

sentinel_store::store_error_conversions!(Error);
