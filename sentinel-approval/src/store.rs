//! The [`RequestStore`] trait, the clock stores read time from, and the
//! operations built on the trait.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;

pub use sentinel_store::{Clock, ManualClock, SystemClock};

use crate::error::{Error, Result};
use crate::model::{
    AccessRequest, RequestPage, RequestQuery, RequestStatus, check_comment, check_user,
};

/// Storage for access requests.
///
/// Every state change is a conditional write "only if pending and not
/// expired": of two racing decisions exactly one wins and the other gets
/// [`Error::InvalidTransition`] (or [`Error::Conflict`]). Expiry is decided
/// on read. The store enforces the request's own rules (no self-approval,
/// only the requester cancels); who may approve under the policy is
/// checked with [`check_approver`](crate::check_approver) before calling it.
#[async_trait]
pub trait RequestStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new request; [`Error::Conflict`] if the id exists.
    async fn create(&self, request: &AccessRequest) -> Result<()>;

    /// The request as of now; [`Error::NotFound`] if there is none.
    async fn get(&self, id: &str) -> Result<AccessRequest>;

    /// Approves a pending, unexpired request; its access window starts now.
    /// [`Error::SelfApproval`] when `approver` is the requester,
    /// [`Error::InvalidTransition`] when it is no longer pending,
    /// [`Error::NotFound`] when it does not exist.
    async fn approve(
        &self,
        id: &str,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest>;

    /// Denies a pending, unexpired request; errors as for [`approve`](Self::approve).
    async fn deny(&self, id: &str, approver: &str, comment: Option<&str>) -> Result<AccessRequest>;

    /// Cancels a pending, unexpired request. Only the requester may:
    /// anyone else gets [`Error::Forbidden`].
    async fn cancel(&self, id: &str, by: &str) -> Result<AccessRequest>;

    /// Requests matching the query, newest first, one page at a time.
    async fn list(&self, query: &RequestQuery) -> Result<RequestPage>;

    /// An approved request of `user` (exact requester name) for `profile`
    /// whose access window contains `now`; of several, the one whose window
    /// ends last. This is what the pipeline asks before issuing credentials
    /// under a `require_approval` rule.
    async fn find_approved(
        &self,
        user: &str,
        profile: &str,
        now: Timestamp,
    ) -> Result<Option<AccessRequest>>;

    /// Claims up to `limit` requests that expired undecided and were not
    /// announced yet, oldest expiry first, and marks them announced. Each is
    /// claimed by exactly one call, across processes (a conditional write),
    /// so its `request.expired` notification goes out once. Call it from
    /// time to time; [`crate::NotifyingRequestStore`] sends the
    /// notifications.
    async fn claim_expired(&self, limit: usize) -> Result<Vec<AccessRequest>>;
}

/// A shared, type-erased request store.
pub type DynRequestStore = Arc<dyn RequestStore>;

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: RequestStore + ?Sized> RequestStore for Arc<S> {
    async fn create(&self, request: &AccessRequest) -> Result<()> {
        (**self).create(request).await
    }
    async fn get(&self, id: &str) -> Result<AccessRequest> {
        (**self).get(id).await
    }
    async fn approve(
        &self,
        id: &str,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest> {
        (**self).approve(id, approver, comment).await
    }
    async fn deny(&self, id: &str, approver: &str, comment: Option<&str>) -> Result<AccessRequest> {
        (**self).deny(id, approver, comment).await
    }
    async fn cancel(&self, id: &str, by: &str) -> Result<AccessRequest> {
        (**self).cancel(id, by).await
    }
    async fn list(&self, query: &RequestQuery) -> Result<RequestPage> {
        (**self).list(query).await
    }
    async fn find_approved(
        &self,
        user: &str,
        profile: &str,
        now: Timestamp,
    ) -> Result<Option<AccessRequest>> {
        (**self).find_approved(user, profile, now).await
    }
    async fn claim_expired(&self, limit: usize) -> Result<Vec<AccessRequest>> {
        (**self).claim_expired(limit).await
    }
}

/// Operations built from the required methods, for every store.
#[async_trait]
pub trait RequestStoreExt: RequestStore {
    /// Claims every request that expired undecided and was not announced
    /// yet, in batches of [`claim_expired`](RequestStore::claim_expired)
    /// until none is left, and returns how many. On a
    /// [`NotifyingRequestStore`](crate::NotifyingRequestStore) each claimed
    /// request is announced (`request.expired`). Safe to run from several
    /// processes at once.
    async fn sweep_expired(&self) -> Result<usize> {
        sentinel_store::sweep(|limit| self.claim_expired(limit)).await
    }
}

impl<S: RequestStore + ?Sized> RequestStoreExt for S {}

/// A state change of a pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Approve,
    Deny,
    Cancel,
}

impl Action {
    /// The word used in [`Error::InvalidTransition`].
    pub(crate) const fn past(self) -> &'static str {
        match self {
            Action::Approve => "approved",
            Action::Deny => "denied",
            Action::Cancel => "cancelled",
        }
    }

    /// The status it leads to.
    pub(crate) const fn target(self) -> RequestStatus {
        match self {
            Action::Approve => RequestStatus::Approved,
            Action::Deny => RequestStatus::Denied,
            Action::Cancel => RequestStatus::Cancelled,
        }
    }

    /// Validates the actor's name and comment before anything is read.
    pub(crate) fn check_input(self, by: &str, comment: Option<&str>) -> Result<()> {
        check_user(
            match self {
                Action::Cancel => "cancelled_by",
                _ => "approver",
            },
            by,
        )?;
        check_comment(comment)
    }

    /// Whether `by` may do this to `r` at all (regardless of its state).
    /// The requester never changes, so checking it on a read before the
    /// conditional write is race-free.
    pub(crate) fn check_actor(self, r: &AccessRequest, by: &str) -> Result<()> {
        match self {
            Action::Approve | Action::Deny if r.requester == by => Err(Error::SelfApproval {
                user: by.to_owned(),
            }),
            Action::Cancel if r.requester != by => Err(Error::Forbidden {
                reason: format!(
                    "only the requester \"{}\" can cancel access request \"{}\"",
                    r.requester, r.id
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The error for a request (read as of `now`) that is not pending.
    pub(crate) fn transition_error(self, r: &AccessRequest) -> Error {
        Error::InvalidTransition {
            id: r.id.clone(),
            from: r.status,
            action: self.past(),
        }
    }
}
