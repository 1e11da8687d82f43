//! The [`BreakGlassStore`] trait, [`Invocation`] (the checked request to
//! open break-glass access), and the operations built on the trait.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use sentinel_policy::PolicyDocument;

use crate::error::{Error, Result};
use crate::model::{BreakGlassEvent, BreakGlassPage, BreakGlassQuery, NewBreakGlass};
use crate::rules::{RateLimits, Recent, authorize};

pub use sentinel_store::{Clock, ManualClock, SystemClock};

/// A break-glass invocation the policy allows, with the rate limits that
/// apply to it. Build it with [`Invocation::authorize`]; a store records it
/// with [`BreakGlassStore::invoke`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invocation {
    /// What is asked for.
    pub new: NewBreakGlass,
    /// The `breakglass` rule that allows it.
    pub rule: Option<String>,
    /// The `rate_limits` that apply to its profile.
    pub limits: RateLimits,
}

impl Invocation {
    /// Checks `new` against the policy's `breakglass` rules (see
    /// [`authorize`]) and resolves its profile's `rate_limits`.
    pub fn authorize(policy: &PolicyDocument, new: NewBreakGlass) -> Result<Self> {
        let rule = authorize(policy, &new)?.name.clone();
        let limits = RateLimits::for_profile(policy.rate_limits.as_ref(), &new.profile);
        Ok(Self {
            new,
            rule: Some(rule),
            limits,
        })
    }

    /// An invocation that skips the policy: for tests and for callers that
    /// have checked the policy themselves.
    pub fn unchecked(new: NewBreakGlass, limits: RateLimits) -> Self {
        Self {
            new,
            rule: None,
            limits,
        }
    }

    /// The event this invocation opens at `now`, after the limits allowed it
    /// given `recent` (the profile's earlier events).
    pub(crate) fn event_at(&self, now: Timestamp, recent: &[Recent]) -> Result<BreakGlassEvent> {
        let mut event = BreakGlassEvent::new(self.new.clone(), now)?;
        event.escalated = self
            .limits
            .check(&self.new.invoker, recent, event.created_at)?;
        event.rule.clone_from(&self.rule);
        Ok(event)
    }
}

/// Storage for break-glass events.
///
/// Opening an event checks the rate limits and the one-active-event rule
/// and inserts the event in one atomic step: of racing invocations for one
/// (invoker, profile) exactly one gets an active event, and parallel
/// invocations never exceed a quota. Expiry is decided on read.
#[async_trait]
pub trait BreakGlassStore: Send + Sync + fmt::Debug + 'static {
    /// Opens an event at the store's current time if the invoker holds no
    /// active event on the profile ([`Error::Conflict`]) and the limits
    /// allow it ([`Error::RateLimited`]). Returns the stored event, with
    /// `escalated` set when the escalation threshold was reached.
    async fn invoke(&self, invocation: &Invocation) -> Result<BreakGlassEvent>;

    /// The event as of now; [`Error::NotFound`] if there is none.
    async fn get(&self, id: &str) -> Result<BreakGlassEvent>;

    /// Closes an active event, recording who and why (a reason is
    /// required). A closed or expired event gives
    /// [`Error::InvalidTransition`].
    async fn close(&self, id: &str, by: &str, reason: &str) -> Result<BreakGlassEvent>;

    /// One page of events, newest first.
    async fn list(&self, query: &BreakGlassQuery) -> Result<BreakGlassPage>;

    /// The invoker's active event on `profile`, if any (read consistently:
    /// what the issuing pipeline asks).
    async fn find_active(&self, invoker: &str, profile: &str) -> Result<Option<BreakGlassEvent>>;

    /// Claims up to `limit` events that ran out and were not announced yet,
    /// oldest expiry first, and marks them announced. Each expired event is
    /// claimed by exactly one call, across processes (a conditional write),
    /// so its `breakglass.expired` notification goes out once. Call it
    /// from time to time; [`crate::NotifyingBreakGlassStore`] sends the
    /// notifications.
    async fn claim_expired(&self, limit: usize) -> Result<Vec<BreakGlassEvent>>;
}

/// A shared, type-erased break-glass store.
pub type DynBreakGlassStore = Arc<dyn BreakGlassStore>;

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: BreakGlassStore + ?Sized> BreakGlassStore for Arc<S> {
    async fn invoke(&self, invocation: &Invocation) -> Result<BreakGlassEvent> {
        (**self).invoke(invocation).await
    }
    async fn get(&self, id: &str) -> Result<BreakGlassEvent> {
        (**self).get(id).await
    }
    async fn close(&self, id: &str, by: &str, reason: &str) -> Result<BreakGlassEvent> {
        (**self).close(id, by, reason).await
    }
    async fn list(&self, query: &BreakGlassQuery) -> Result<BreakGlassPage> {
        (**self).list(query).await
    }
    async fn find_active(&self, invoker: &str, profile: &str) -> Result<Option<BreakGlassEvent>> {
        (**self).find_active(invoker, profile).await
    }
    async fn claim_expired(&self, limit: usize) -> Result<Vec<BreakGlassEvent>> {
        (**self).claim_expired(limit).await
    }
}

/// Operations built from the required methods, for every store.
#[async_trait]
pub trait BreakGlassStoreExt: BreakGlassStore {
    /// Claims every event that ran out and was not announced yet, in
    /// batches of [`claim_expired`](BreakGlassStore::claim_expired) until
    /// none is left, and returns how many. On a
    /// [`NotifyingBreakGlassStore`](crate::NotifyingBreakGlassStore) each
    /// claimed event is announced (`breakglass.expired`). Safe to run from
    /// several processes at once.
    async fn sweep_expired(&self) -> Result<usize> {
        sentinel_store::sweep(|limit| self.claim_expired(limit)).await
    }
}

impl<S: BreakGlassStore + ?Sized> BreakGlassStoreExt for S {}

/// The error for closing `e`, which is not active at `now`.
pub(crate) fn not_closable(e: &BreakGlassEvent, now: Timestamp) -> Error {
    Error::InvalidTransition {
        id: e.id.clone(),
        from: e.status_at(now),
        action: "closed",
    }
}
