//! A store wrapper that tells people about break-glass events.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use sentinel_approval::{BreakGlassSubject, EventType, Notification, Notifier};

use crate::error::Result;
use crate::model::{BreakGlassEvent, BreakGlassPage, BreakGlassQuery};
use crate::store::{BreakGlassStore, Invocation};

impl From<&BreakGlassEvent> for BreakGlassSubject {
    fn from(e: &BreakGlassEvent) -> Self {
        BreakGlassSubject {
            id: e.id.clone(),
            invoker: e.invoker.clone(),
            profile: e.profile.clone(),
            reason_code: e.reason_code.as_str().to_owned(),
            justification: e.justification.clone(),
            status: e.status.as_str().to_owned(),
            expires_at: e.expires_at,
            closed_by: e.closed_by.clone(),
            close_reason: e.close_reason.clone(),
            escalated: e.escalated,
        }
    }
}

/// Wraps a [`BreakGlassStore`] and sends `breakglass.invoked` (plus
/// `breakglass.escalated` when a rate limit's escalation threshold was
/// reached), `breakglass.closed` and, from
/// [`sweep_expired`](crate::BreakGlassStoreExt::sweep_expired), `breakglass.expired` after the
/// change succeeded. A failed notification is logged (a `tracing`
/// warning) and never undoes the change.
#[derive(Debug, Clone)]
pub struct NotifyingBreakGlassStore<S> {
    inner: S,
    notifier: Arc<dyn Notifier>,
}

impl<S: BreakGlassStore> NotifyingBreakGlassStore<S> {
    /// Wraps `inner`, notifying `notifier`.
    pub fn new(inner: S, notifier: Arc<dyn Notifier>) -> Self {
        Self { inner, notifier }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn send(&self, event_type: EventType, e: &BreakGlassEvent, at: Timestamp) {
        let n = Notification::break_glass(event_type, e.into(), at);
        if let Err(err) = self.notifier.notify(&n).await {
            tracing::warn!(
                event = %event_type,
                breakglass = %e.id,
                error = %err,
                "{event_type} notification for break-glass event {} not delivered: {err}",
                e.id
            );
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: BreakGlassStore> BreakGlassStore for NotifyingBreakGlassStore<S> {
    async fn invoke(&self, invocation: &Invocation) -> Result<BreakGlassEvent> {
        let e = self.inner.invoke(invocation).await?;
        self.send(EventType::BreakGlassInvoked, &e, e.updated_at)
            .await;
        if e.escalated {
            self.send(EventType::BreakGlassEscalated, &e, e.updated_at)
                .await;
        }
        Ok(e)
    }

    async fn get(&self, id: &str) -> Result<BreakGlassEvent> {
        self.inner.get(id).await
    }

    async fn close(&self, id: &str, by: &str, reason: &str) -> Result<BreakGlassEvent> {
        let e = self.inner.close(id, by, reason).await?;
        self.send(EventType::BreakGlassClosed, &e, e.updated_at)
            .await;
        Ok(e)
    }

    async fn list(&self, query: &BreakGlassQuery) -> Result<BreakGlassPage> {
        self.inner.list(query).await
    }

    async fn find_active(&self, invoker: &str, profile: &str) -> Result<Option<BreakGlassEvent>> {
        self.inner.find_active(invoker, profile).await
    }

    /// Claims like the inner store and sends `breakglass.expired` for
    /// each claimed event.
    async fn claim_expired(&self, limit: usize) -> Result<Vec<BreakGlassEvent>> {
        let due = self.inner.claim_expired(limit).await?;
        for e in &due {
            self.send(EventType::BreakGlassExpired, e, e.expires_at)
                .await;
        }
        Ok(due)
    }
}
