//! Where policies live: the [`PolicyStore`] trait and its backends.
//!
//! | backend | type | feature |
//! | --- | --- | --- |
//! | in memory | [`MemoryPolicyStore`] | always |
//! | YAML/JSON file or directory | [`FilePolicyStore`] | `file` (default) |
//! | AWS SSM Parameter Store | `SsmPolicyStore` | `ssm` |
//! | TTL cache around any store | [`Cached`] | always |
//!
//! Every backend parses and validates on read and returns
//! [`crate::Error::Invalid`] for a broken document, so a
//! caller that cannot get a policy denies.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::policy::CompiledPolicy;

mod cached;
#[cfg(feature = "file")]
mod file;
mod memory;
#[cfg(feature = "ssm")]
mod ssm;

pub use cached::{Cached, DEFAULT_CACHE_CAPACITY};
#[cfg(feature = "file")]
pub use file::{DEFAULT_FILE_SETTLE_TIME, FilePolicyStore};
pub use memory::MemoryPolicyStore;
#[cfg(feature = "ssm")]
pub use ssm::{DEFAULT_SSM_ROOT, SsmPolicyStore};

/// A source of policies, one per AWS profile.
///
/// Implementations are cheap to share as `Arc<dyn PolicyStore>`.
#[async_trait]
pub trait PolicyStore: Send + Sync + fmt::Debug + 'static {
    /// The compiled policy that governs `profile`.
    ///
    /// Errors: [`Error::NotFound`] when there is none,
    /// [`Error::Invalid`] when it does not parse or validate,
    /// [`Error::AccessDenied`] when the backend refuses,
    /// [`Error::InvalidProfile`] for a name that cannot be a profile,
    /// [`Error::Backend`] for anything else.
    async fn get(&self, profile: &str) -> Result<Arc<CompiledPolicy>>;

    /// The profiles that have a policy, sorted and without duplicates.
    async fn list(&self) -> Result<Vec<String>>;

    /// Where the policies come from, for messages and the decision log.
    fn describe(&self) -> String;
}

/// A shared, type-erased policy store.
pub type DynPolicyStore = Arc<dyn PolicyStore>;

#[async_trait]
impl<S: PolicyStore + ?Sized> PolicyStore for Arc<S> {
    async fn get(&self, profile: &str) -> Result<Arc<CompiledPolicy>> {
        (**self).get(profile).await
    }

    async fn list(&self) -> Result<Vec<String>> {
        (**self).list().await
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Longest profile name accepted.
pub const MAX_PROFILE_LEN: usize = 128;

/// Checks that `profile` can name a policy in every backend: 1 to 128
/// ASCII letters, digits, `_`, `-` or `.`, not starting with `.`.
/// Anything else (a path separator, `..`, spaces) is refused before any
/// backend is asked.
pub fn check_profile_name(profile: &str) -> Result<()> {
    let reason = if profile.is_empty() {
        Some("it is empty")
    } else if profile.len() > MAX_PROFILE_LEN {
        Some("it is longer than 128 characters")
    } else if profile.starts_with('.') {
        Some("it starts with `.`")
    } else if !profile
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        Some("only letters, digits, `_`, `-` and `.` are allowed")
    } else {
        None
    };
    match reason {
        Some(r) => Err(Error::InvalidProfile {
            profile: profile.chars().take(MAX_PROFILE_LEN).collect(),
            reason: r.to_owned(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names() {
        for ok in ["prod", "dev-eu.1", "a_b", "X"] {
            assert!(check_profile_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "a/b",
            ".hidden",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(check_profile_name(bad), Err(Error::InvalidProfile { .. })),
                "{bad}"
            );
        }
    }
}
