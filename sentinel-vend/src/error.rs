//! The crate's error: everything that can stop credentials from being
//! issued other than a policy refusal.

use crate::identity::IdentityError;
use crate::log::LogError;
#[cfg(feature = "sts")]
use crate::profiles::ProfileError;
use crate::source_identity::SourceIdentityError;
use crate::vendor::VendError;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the pipeline stopped. Every variant fails closed: no credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy for the profile could not be loaded.
    #[error(transparent)]
    Policy(#[from] sentinel_policy::Error),
    /// The session store failed.
    #[error(transparent)]
    Session(#[from] sentinel_session::Error),
    /// The access-request store failed.
    #[error(transparent)]
    Approval(#[from] sentinel_approval::Error),
    /// The break-glass store failed.
    #[error(transparent)]
    BreakGlass(#[from] sentinel_breakglass::Error),
    /// STS did not vend.
    #[error(transparent)]
    Vend(#[from] VendError),
    /// The decision could not be logged.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The caller could not be identified.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The AWS profile could not be used.
    #[cfg(feature = "sts")]
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A SourceIdentity or session name could not be made.
    #[error(transparent)]
    SourceIdentity(#[from] SourceIdentityError),
    /// Shared store plumbing failed (randomness, ...).
    #[error(transparent)]
    Store(#[from] sentinel_store::Error),
    /// The caller may not do this (not identified by the policy, not an
    /// admin, under a revocation); the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// Sentinel is set up in a way that cannot work; the message says how
    /// to fix it.
    #[error("{0}")]
    Config(String),
}
