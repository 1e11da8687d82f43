//! The error of the shared helpers; each store maps it onto its own error.

use std::sync::Arc;

use crate::layout::TableLayout;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the shared helpers can report.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value that cannot be stored or a token that cannot be read.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },

    /// No record with that id.
    #[error("no record \"{id}\"")]
    NotFound {
        /// The id looked up.
        id: String,
    },

    /// A conditional write lost: the record exists already or changed
    /// meanwhile. Nothing was written.
    #[error("record \"{id}\" {what}")]
    Conflict {
        /// The record id.
        id: String,
        /// What was in the way.
        what: String,
    },

    /// A DynamoDB table the store needs does not exist. The frontend says
    /// how to create it from `layout`.
    #[error("DynamoDB table \"{table}\" does not exist")]
    MissingTable {
        /// The table name.
        table: String,
        /// What the table must look like.
        layout: &'static TableLayout,
    },

    /// The backend failed.
    #[error("{backend}: {source}")]
    Backend {
        /// Which backend (`sqlite`, `dynamodb`, `random`).
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// A backend error.
    pub fn backend(
        backend: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        let source: Box<dyn std::error::Error + Send + Sync + 'static> = source.into();
        Error::Backend {
            backend,
            source: Arc::from(source),
        }
    }

    /// An invalid value.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// No record `id`.
    pub fn not_found(id: &str) -> Self {
        Error::NotFound { id: id.to_owned() }
    }

    /// A new record whose id `id` is taken.
    pub fn conflict(id: &str) -> Self {
        Error::Conflict {
            id: id.to_owned(),
            what: "already exists".into(),
        }
    }
}

/// What kind of failure a store's error is, alike for every store: what a
/// frontend needs to explain it (see each store error's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind<'a> {
    /// No record with the id.
    NotFound {
        /// The id looked up.
        id: &'a str,
    },
    /// A conditional write lost.
    Conflict,
    /// The record is not in a state that allows the change.
    InvalidTransition,
    /// A value that cannot be stored.
    Invalid {
        /// The field.
        field: &'static str,
    },
    /// The store's DynamoDB table does not exist.
    MissingTable {
        /// The table name.
        table: &'a str,
        /// What the table must look like.
        layout: &'static TableLayout,
    },
    /// The backend failed.
    Backend,
    /// An error of one store's own (a refusal, a rate limit, ...).
    Other,
}

/// The conversions every store crate's error needs, for an error type with
/// the variants `NotFound { id }`, `Conflict { id, what }`,
/// `Invalid { field, reason }`, `MissingTable { table, layout }` and
/// `Backend { backend, source }` (the shapes of this crate's [`Error`]) and
/// `InvalidTransition { .. }`: `From<sentinel_store::Error>` (any other
/// variant becomes `Backend` of backend `store`), a crate-private
/// `invalid(field, reason)` and a public `kind()` (its [`ErrorKind`]).
#[macro_export]
macro_rules! store_error_conversions {
    ($error:ident) => {
        impl $error {
            /// An invalid value.
            pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
                Self::Invalid {
                    field,
                    reason: reason.into(),
                }
            }

            /// What kind of failure this is, alike for every store.
            #[allow(unreachable_patterns)]
            pub fn kind(&self) -> $crate::ErrorKind<'_> {
                match self {
                    Self::NotFound { id } => $crate::ErrorKind::NotFound { id },
                    Self::Conflict { .. } => $crate::ErrorKind::Conflict,
                    Self::InvalidTransition { .. } => $crate::ErrorKind::InvalidTransition,
                    Self::Invalid { field, .. } => $crate::ErrorKind::Invalid { field },
                    Self::MissingTable { table, layout } => {
                        $crate::ErrorKind::MissingTable { table, layout }
                    }
                    Self::Backend { .. } => $crate::ErrorKind::Backend,
                    _ => $crate::ErrorKind::Other,
                }
            }
        }

        impl From<$crate::Error> for $error {
            fn from(e: $crate::Error) -> Self {
                match e {
                    $crate::Error::NotFound { id } => Self::NotFound { id },
                    $crate::Error::Conflict { id, what } => Self::Conflict { id, what },
                    $crate::Error::Invalid { field, reason } => Self::Invalid { field, reason },
                    $crate::Error::MissingTable { table, layout } => {
                        Self::MissingTable { table, layout }
                    }
                    $crate::Error::Backend { backend, source } => Self::Backend { backend, source },
                    other => Self::Backend {
                        backend: "store",
                        source: ::std::sync::Arc::new(other),
                    },
                }
            }
        }
    };
}
