//! Notifications of access-request and break-glass events.
//!
//! A [`Notification`] is a JSON document with stable snake_case keys and a
//! `schema_version`; a [`Notifier`] delivers it somewhere: [`LogNotifier`]
//! (one JSON line per event), `WebhookNotifier` (feature `webhook`),
//! `SnsNotifier` (feature `sns`) or several at once with [`FanOut`].
//! [`NotifyingRequestStore`] wraps a [`RequestStore`] and notifies after
//! every successful state change.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use crate::error::Result;
use crate::model::{AccessRequest, RequestPage, RequestQuery, RequestStatus};
use crate::store::RequestStore;

#[cfg(feature = "sns")]
mod sns;
#[cfg(feature = "webhook")]
mod webhook;

#[cfg(feature = "sns")]
pub use sns::SnsNotifier;
#[cfg(feature = "webhook")]
pub use webhook::{RetryPolicy, WebhookNotifier, redact_url};

/// Version of the JSON payload layout. Bumped only when a key is removed,
/// renamed or changes meaning; new keys may appear without a bump.
pub const SCHEMA_VERSION: u32 = 1;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum EventType {
    /// An access request was filed.
    #[serde(rename = "request.created")]
    RequestCreated,
    /// An access request was approved.
    #[serde(rename = "request.approved")]
    RequestApproved,
    /// An access request was denied.
    #[serde(rename = "request.denied")]
    RequestDenied,
    /// A pending access request expired undecided.
    #[serde(rename = "request.expired")]
    RequestExpired,
    /// The requester withdrew an access request.
    #[serde(rename = "request.cancelled")]
    RequestCancelled,
    /// Break-glass access was invoked.
    #[serde(rename = "breakglass.invoked")]
    BreakGlassInvoked,
    /// A break-glass event was closed.
    #[serde(rename = "breakglass.closed")]
    BreakGlassClosed,
    /// A break-glass event ran out.
    #[serde(rename = "breakglass.expired")]
    BreakGlassExpired,
    /// A break-glass invocation reached a rate limit's escalation
    /// threshold: security should look at it.
    #[serde(rename = "breakglass.escalated")]
    BreakGlassEscalated,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 9] = [
        EventType::RequestCreated,
        EventType::RequestApproved,
        EventType::RequestDenied,
        EventType::RequestExpired,
        EventType::RequestCancelled,
        EventType::BreakGlassInvoked,
        EventType::BreakGlassClosed,
        EventType::BreakGlassExpired,
        EventType::BreakGlassEscalated,
    ];

    /// The name used in payloads and headers, e.g. `request.approved`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::RequestCreated => "request.created",
            EventType::RequestApproved => "request.approved",
            EventType::RequestDenied => "request.denied",
            EventType::RequestExpired => "request.expired",
            EventType::RequestCancelled => "request.cancelled",
            EventType::BreakGlassInvoked => "breakglass.invoked",
            EventType::BreakGlassClosed => "breakglass.closed",
            EventType::BreakGlassExpired => "breakglass.expired",
            EventType::BreakGlassEscalated => "breakglass.escalated",
        }
    }

    /// Parses a name from [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Whether this is an access-request event (`request.*`).
    pub const fn is_request(self) -> bool {
        matches!(
            self,
            EventType::RequestCreated
                | EventType::RequestApproved
                | EventType::RequestDenied
                | EventType::RequestExpired
                | EventType::RequestCancelled
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The access request an event is about, as sent (no secrets: requests
/// carry none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RequestSubject {
    /// Request id.
    pub id: String,
    /// Who asked.
    pub requester: String,
    /// AWS profile asked for.
    pub profile: String,
    /// Why.
    pub justification: String,
    /// Access duration once approved, in seconds.
    pub duration_seconds: u64,
    /// State after the event.
    pub status: RequestStatus,
    /// Who decided.
    pub approver: Option<String>,
    /// What they said.
    pub approver_comment: Option<String>,
    /// When it was filed.
    pub created_at: Timestamp,
    /// When it was approved (the access window starts here).
    pub approved_at: Option<Timestamp>,
    /// When a pending request expires.
    pub expires_at: Timestamp,
}

impl From<&AccessRequest> for RequestSubject {
    fn from(r: &AccessRequest) -> Self {
        Self {
            id: r.id.clone(),
            requester: r.requester.clone(),
            profile: r.profile.clone(),
            justification: r.justification.clone(),
            duration_seconds: r.duration.as_secs(),
            status: r.status,
            approver: r.approver.clone(),
            approver_comment: r.approver_comment.clone(),
            created_at: r.created_at,
            approved_at: r.approved_at,
            expires_at: r.expires_at,
        }
    }
}

/// The break-glass event an event is about, filled in by the break-glass
/// crate. Plain strings keep this crate independent of its model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakGlassSubject {
    /// Event id.
    pub id: String,
    /// Who invoked it.
    pub invoker: String,
    /// AWS profile.
    pub profile: String,
    /// `incident`, `maintenance`, `security`, `recovery` or `other`.
    pub reason_code: String,
    /// Why.
    pub justification: String,
    /// `active`, `closed` or `expired`.
    pub status: String,
    /// When the access ends.
    pub expires_at: Timestamp,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// Why it was closed.
    pub close_reason: Option<String>,
    /// A rate limit's escalation threshold was reached.
    pub escalated: bool,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Subject {
    /// An access request.
    Request(RequestSubject),
    /// A break-glass event.
    BreakGlass(BreakGlassSubject),
}

/// One event, as delivered. Serialized keys: `schema_version`,
/// `event_type`, `occurred_at` (RFC 3339, UTC) and `subject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Notification {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What happened.
    pub event_type: EventType,
    /// When.
    pub occurred_at: Timestamp,
    /// To what.
    pub subject: Subject,
}

impl Notification {
    /// An access-request event.
    pub fn request(event_type: EventType, request: &AccessRequest, occurred_at: Timestamp) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            event_type,
            occurred_at,
            subject: Subject::Request(request.into()),
        }
    }

    /// A break-glass event.
    pub fn break_glass(
        event_type: EventType,
        subject: BreakGlassSubject,
        occurred_at: Timestamp,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            event_type,
            occurred_at,
            subject: Subject::BreakGlass(subject),
        }
    }

    /// The id of the request or break-glass event.
    pub fn subject_id(&self) -> &str {
        match &self.subject {
            Subject::Request(r) => &r.id,
            Subject::BreakGlass(b) => &b.id,
        }
    }

    /// The JSON body (compact, one line).
    pub fn to_json(&self) -> Result<Vec<u8>, NotifyError> {
        serde_json::to_vec(self).map_err(|e| NotifyError::Encode {
            event: self.event_type,
            reason: e.to_string(),
        })
    }
}

/// Why a notification was not delivered. Messages name the endpoint or
/// topic and what to check; they never contain a signing secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// A notifier was configured wrongly (bad URL, ...).
    #[error("invalid notifier configuration: {reason}")]
    Config {
        /// What is wrong and what is accepted.
        reason: String,
    },

    /// The notification could not be encoded.
    #[error("could not encode the {event} notification: {reason}")]
    Encode {
        /// The event.
        event: EventType,
        /// The encoder's message.
        reason: String,
    },

    /// Writing the log line failed.
    #[error("could not write the {event} notification to the log: {reason}")]
    Log {
        /// The event.
        event: EventType,
        /// The I/O error.
        reason: String,
    },

    /// The webhook answered with a client error (4xx or an unexpected
    /// status); not retried.
    #[error(
        "webhook {endpoint} rejected the {event} notification with HTTP {status}; check the URL, the signing secret and the receiver's logs (not retried)"
    )]
    Rejected {
        /// The webhook URL, redacted: scheme, host and port only.
        endpoint: String,
        /// The event.
        event: EventType,
        /// The HTTP status.
        status: u16,
    },

    /// The webhook could not be reached or kept failing (connection
    /// errors, timeouts, 5xx) through every retry.
    #[error(
        "webhook {endpoint} did not accept the {event} notification after {attempts} attempt(s): {reason}; check that the receiver is running and reachable"
    )]
    Delivery {
        /// The webhook URL, redacted: scheme, host and port only.
        endpoint: String,
        /// The event.
        event: EventType,
        /// How many requests were sent.
        attempts: u32,
        /// The last failure.
        reason: String,
    },

    /// SNS did not accept the message.
    #[error(
        "publishing the {event} notification to SNS topic {topic} failed: {reason}; check the topic ARN, the region and the sns:Publish permission"
    )]
    Sns {
        /// The topic ARN.
        topic: String,
        /// The event.
        event: EventType,
        /// The SDK's message.
        reason: String,
    },

    /// Some notifiers of a [`FanOut`] failed (the others delivered).
    #[error("{} of {total} notifiers failed: {}", failures.len(), list_failures(failures))]
    FanOut {
        /// How many notifiers there are.
        total: usize,
        /// Which failed (position in the fan-out) and why.
        failures: Vec<(usize, NotifyError)>,
    },
}

fn list_failures(failures: &[(usize, NotifyError)]) -> String {
    failures
        .iter()
        .map(|(i, e)| format!("#{i}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Delivers notifications.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug + 'static {
    /// Delivers one notification.
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError>;
}

#[async_trait]
impl<N: Notifier + ?Sized> Notifier for Arc<N> {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        (**self).notify(n).await
    }
}

/// Writes one JSON line per notification (default: to stderr).
pub struct LogNotifier {
    out: Mutex<Box<dyn Write + Send>>,
}

impl LogNotifier {
    /// Writes to `out`.
    pub fn new(out: impl Write + Send + 'static) -> Self {
        Self {
            out: Mutex::new(Box::new(out)),
        }
    }

    /// Writes to stderr.
    pub fn stderr() -> Self {
        Self::new(std::io::stderr())
    }
}

impl Default for LogNotifier {
    fn default() -> Self {
        Self::stderr()
    }
}

impl fmt::Debug for LogNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogNotifier").finish_non_exhaustive()
    }
}

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let mut line = n.to_json()?;
        line.push(b'\n');
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|e| NotifyError::Log {
                event: n.event_type,
                reason: e.to_string(),
            })
    }
}

/// Sends every notification to several notifiers, one after the other.
/// A failure does not stop the rest; the error lists which failed.
#[derive(Debug, Default, Clone)]
pub struct FanOut {
    notifiers: Vec<Arc<dyn Notifier>>,
}

impl FanOut {
    /// Fans out to `notifiers` (in this order).
    pub fn new(notifiers: Vec<Arc<dyn Notifier>>) -> Self {
        Self { notifiers }
    }

    /// Adds one more.
    #[must_use]
    pub fn with(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifiers.push(notifier);
        self
    }

    /// How many notifiers there are.
    pub fn len(&self) -> usize {
        self.notifiers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.notifiers.is_empty()
    }
}

#[async_trait]
impl Notifier for FanOut {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let mut failures = Vec::new();
        for (i, notifier) in self.notifiers.iter().enumerate() {
            if let Err(e) = notifier.notify(n).await {
                failures.push((i, e));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(NotifyError::FanOut {
                total: self.notifiers.len(),
                failures,
            })
        }
    }
}

/// A [`RequestStore`] that sends a notification after every successful
/// state change: `create` → `request.created`, `approve` →
/// `request.approved`, `deny` → `request.denied`, `cancel` →
/// `request.cancelled`. A failed change sends nothing. A failed
/// notification is logged (a `tracing` warning) and never fails or undoes
/// the change.
///
/// The notification is sent before the method returns, so a slow
/// notifier (webhook retries) delays the caller. Expiry is decided on
/// read, so `request.expired` goes out from
/// [`sweep_expired`](crate::RequestStoreExt::sweep_expired) (or
/// `claim_expired`), which claims each expired request once.
#[derive(Debug, Clone)]
pub struct NotifyingRequestStore<S> {
    inner: S,
    notifier: Arc<dyn Notifier>,
}

impl<S: RequestStore> NotifyingRequestStore<S> {
    /// Wraps `inner`, notifying `notifier`.
    pub fn new(inner: S, notifier: Arc<dyn Notifier>) -> Self {
        Self { inner, notifier }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn send(&self, event: EventType, request: &AccessRequest, at: Timestamp) {
        let n = Notification::request(event, request, at);
        if let Err(e) = self.notifier.notify(&n).await {
            tracing::warn!(
                event = %event,
                request = %request.id,
                error = %e,
                "{event} notification for access request {} not delivered: {e}",
                request.id
            );
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: RequestStore> RequestStore for NotifyingRequestStore<S> {
    async fn create(&self, request: &AccessRequest) -> Result<()> {
        self.inner.create(request).await?;
        self.send(EventType::RequestCreated, request, request.created_at)
            .await;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<AccessRequest> {
        self.inner.get(id).await
    }

    async fn approve(
        &self,
        id: &str,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest> {
        let r = self.inner.approve(id, approver, comment).await?;
        self.send(EventType::RequestApproved, &r, r.updated_at)
            .await;
        Ok(r)
    }

    async fn deny(&self, id: &str, approver: &str, comment: Option<&str>) -> Result<AccessRequest> {
        let r = self.inner.deny(id, approver, comment).await?;
        self.send(EventType::RequestDenied, &r, r.updated_at).await;
        Ok(r)
    }

    async fn cancel(&self, id: &str, by: &str) -> Result<AccessRequest> {
        let r = self.inner.cancel(id, by).await?;
        self.send(EventType::RequestCancelled, &r, r.updated_at)
            .await;
        Ok(r)
    }

    async fn list(&self, query: &RequestQuery) -> Result<RequestPage> {
        self.inner.list(query).await
    }

    async fn find_approved(
        &self,
        user: &str,
        profile: &str,
        now: Timestamp,
    ) -> Result<Option<AccessRequest>> {
        self.inner.find_approved(user, profile, now).await
    }

    /// Claims like the inner store and sends `request.expired` for each
    /// claimed request.
    async fn claim_expired(&self, limit: usize) -> Result<Vec<AccessRequest>> {
        let due = self.inner.claim_expired(limit).await?;
        for r in &due {
            self.send(EventType::RequestExpired, r, r.expires_at).await;
        }
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn event_names_round_trip() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).unwrap(),
                serde_json::Value::String(e.as_str().into())
            );
            assert_eq!(e.is_request(), e.as_str().starts_with("request."));
        }
    }
}
