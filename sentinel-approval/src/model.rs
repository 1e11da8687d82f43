//! Access requests, their state machine and listing queries.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use sentinel_store::MAX_NAME_LEN;
pub(crate) use sentinel_store::check_name;
use sentinel_store::{Page, passes};

/// Shortest justification (characters, after trimming).
pub const MIN_JUSTIFICATION_LEN: usize = 10;
/// Longest justification (characters, after trimming).
pub const MAX_JUSTIFICATION_LEN: usize = 500;
/// Longest approver comment (characters).
pub const MAX_COMMENT_LEN: usize = 1000;
/// Longest access a request may ask for.
pub const MAX_REQUEST_DURATION: Duration = Duration::from_secs(8 * 3600);
/// A pending request expires this long after it was created.
pub const PENDING_TTL: Duration = Duration::from_secs(24 * 3600);
/// How an automatic approval names its approver: this prefix and the
/// approval rule's name, e.g. `auto-approve:oncall`. It holds a `:`, which
/// no [`Username`] does, so no person can be mistaken for it.
pub const AUTO_APPROVER_PREFIX: &str = "auto-approve:";

/// The approver recorded for an automatic approval by `rule`.
pub fn auto_approver(rule: &str) -> String {
    format!("{AUTO_APPROVER_PREFIX}{rule}")
}

pub use sentinel_policy::Username;

/// Where a request is in its life. `Pending` → `Approved` | `Denied` |
/// `Cancelled` by a decision; `Pending` → `Expired` by time alone
/// ([`PENDING_TTL`] after creation, decided on every read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RequestStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved; access is usable from `approved_at` for `duration`.
    Approved,
    /// Denied by an approver.
    Denied,
    /// Withdrawn by the requester.
    Cancelled,
    /// Nobody decided within [`PENDING_TTL`].
    Expired,
}

impl RequestStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Cancelled => "cancelled",
            RequestStatus::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(RequestStatus::Pending),
            "approved" => Some(RequestStatus::Approved),
            "denied" => Some(RequestStatus::Denied),
            "cancelled" => Some(RequestStatus::Cancelled),
            "expired" => Some(RequestStatus::Expired),
            _ => None,
        }
    }

    /// The status as stored: `expired` is never stored, it is a pending
    /// request read after its `expires_at`.
    #[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
    pub(crate) const fn stored(self) -> &'static str {
        match self {
            RequestStatus::Expired => "pending",
            s => s.as_str(),
        }
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for temporary access to a profile, decided by an approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessRequest {
    /// Random id, 32 hex characters.
    pub id: String,
    /// Username of the person asking (canonical, see [`Username`]).
    pub requester: String,
    /// AWS profile asked for.
    pub profile: String,
    /// Why (trimmed, 10–500 characters).
    pub justification: String,
    /// How long access lasts once approved (whole seconds, at most 8 h;
    /// serialized as seconds).
    #[serde(with = "sentinel_store::secs")]
    pub duration: Duration,
    /// State as of the read (a pending request past `expires_at` reads as expired).
    pub status: RequestStatus,
    /// Record creation.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When the request expires if nobody decides (creation + 24 h). It
    /// does not bound an approved request: see [`AccessRequest::access_window`].
    pub expires_at: Timestamp,
    /// Who approved or denied it: a username, or an
    /// [`auto_approver`] for an automatic approval.
    pub approver: Option<String>,
    /// What they said.
    pub approver_comment: Option<String>,
    /// When it was approved: the access window starts here.
    pub approved_at: Option<Timestamp>,
}

/// What is needed to file a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// The person asking, as the policy identified them.
    pub requester: Username,
    /// AWS profile.
    pub profile: String,
    /// Why (10–500 characters after trimming).
    pub justification: String,
    /// How long access should last once approved (> 0, at most 8 h;
    /// fractions of a second are dropped).
    pub duration: Duration,
}

/// `t` cut to whole microseconds, the precision every backend stores.
pub(crate) fn micro(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

pub(crate) fn add(t: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

impl AccessRequest {
    /// A new pending request with a fresh random id, filed `now`.
    pub fn new(new: NewRequest, now: Timestamp) -> Result<Self> {
        check_name("requester", &new.requester)?;
        check_name("profile", &new.profile)?;
        let justification = new.justification.trim();
        let chars = justification.chars().count();
        if chars < MIN_JUSTIFICATION_LEN {
            return Err(Error::invalid(
                "justification",
                format!(
                    "is {chars} characters; say in at least {MIN_JUSTIFICATION_LEN} why you need access"
                ),
            ));
        }
        if chars > MAX_JUSTIFICATION_LEN {
            return Err(Error::invalid(
                "justification",
                format!("is {chars} characters; at most {MAX_JUSTIFICATION_LEN}"),
            ));
        }
        if justification.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::invalid(
                "justification",
                "contains control characters",
            ));
        }
        let duration = Duration::from_secs(new.duration.as_secs());
        if duration.is_zero() {
            return Err(Error::invalid("duration", "must be at least 1s"));
        }
        if duration > MAX_REQUEST_DURATION {
            return Err(Error::invalid(
                "duration",
                format!(
                    "is {}s; a request may ask for at most 8h ({}s)",
                    duration.as_secs(),
                    MAX_REQUEST_DURATION.as_secs()
                ),
            ));
        }
        let now = micro(now);
        Ok(Self {
            id: new_id()?,
            requester: new.requester.to_string(),
            profile: new.profile,
            justification: justification.to_owned(),
            duration,
            status: RequestStatus::Pending,
            created_at: now,
            updated_at: now,
            expires_at: add(now, PENDING_TTL),
            approver: None,
            approver_comment: None,
            approved_at: None,
        })
    }

    /// The state at `now`: a stored `pending` at or past `expires_at` is `expired`.
    pub fn status_at(&self, now: Timestamp) -> RequestStatus {
        match self.status {
            RequestStatus::Pending if now >= self.expires_at => RequestStatus::Expired,
            s => s,
        }
    }

    /// The access window `[approved_at, approved_at + duration)` of an
    /// approved request; `None` otherwise.
    pub fn access_window(&self) -> Option<(Timestamp, Timestamp)> {
        match (self.status, self.approved_at) {
            (RequestStatus::Approved, Some(at)) => Some((at, add(at, self.duration))),
            _ => None,
        }
    }

    /// Whether the request grants access at `now`: approved, and `now` is
    /// inside its access window.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.access_window()
            .is_some_and(|(start, end)| start <= now && now < end)
    }
}

sentinel_store::record!(AccessRequest);

/// Which requests to list. Filters combine with AND; results are newest
/// first (by `created_at`, then id), `limit` per page (default 100, at most 1000).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestQuery {
    /// Only this requester's requests.
    pub requester: Option<String>,
    /// Only requests in this state (as of the read).
    pub status: Option<RequestStatus>,
    /// Only this profile.
    pub profile: Option<String>,
    /// Page size and where the page starts.
    pub page: Page,
}

impl RequestQuery {
    /// Every request, newest first.
    pub fn all() -> Self {
        Self::default()
    }

    /// Requests of one requester.
    #[must_use]
    pub fn requester(mut self, requester: &str) -> Self {
        self.requester = Some(requester.to_owned());
        self
    }

    /// Requests in one state.
    #[must_use]
    pub fn status(mut self, status: RequestStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Requests for one profile.
    #[must_use]
    pub fn profile(mut self, profile: &str) -> Self {
        self.profile = Some(profile.to_owned());
        self
    }

    sentinel_store::page_builders!();

    /// Whether `r` (as of the read) passes the filters.
    pub fn matches(&self, r: &AccessRequest) -> bool {
        passes(self.requester.as_deref(), &r.requester)
            && passes(self.status.as_ref(), &r.status)
            && passes(self.profile.as_deref(), &r.profile)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestPage {
    /// Requests on this page.
    pub requests: Vec<AccessRequest>,
    /// Pass to [`RequestQuery::after`] for the next page; `None` at the end.
    pub next_page_token: Option<String>,
}

sentinel_store::listing!(RequestQuery, AccessRequest, RequestPage { requests });

/// Of several usable approvals, the one whose window ends last (then the
/// highest id): every backend picks the same.
pub(crate) fn best_approval(
    candidates: impl IntoIterator<Item = AccessRequest>,
    now: Timestamp,
) -> Option<AccessRequest> {
    candidates
        .into_iter()
        .filter(|r| r.is_usable(now))
        .max_by_key(|r| (r.access_window().map(|w| w.1), r.id.clone()))
}

/// A username in canonical form, or (for an approver) an
/// [`auto_approver`].
pub(crate) fn check_user(field: &'static str, v: &str) -> Result<()> {
    check_name(field, v)?;
    if field == "approver"
        && let Some(rule) = v.strip_prefix(AUTO_APPROVER_PREFIX)
        && !rule.is_empty()
    {
        return Ok(());
    }
    Username::parse(v).map_err(|e| Error::invalid(field, e.to_string()))?;
    Ok(())
}

pub(crate) fn check_comment(comment: Option<&str>) -> Result<()> {
    if let Some(c) = comment {
        let chars = c.chars().count();
        if chars > MAX_COMMENT_LEN {
            return Err(Error::invalid(
                "comment",
                format!("is {chars} characters; at most {MAX_COMMENT_LEN}"),
            ));
        }
    }
    Ok(())
}

/// A comment as stored: blank means none.
pub(crate) fn clean_comment(comment: Option<&str>) -> Option<String> {
    comment
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// A fresh random request id: 128 bits as 32 lowercase hex characters.
pub fn new_id() -> Result<String> {
    Ok(sentinel_store::new_id()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn new(justification: &str, secs: u64) -> Result<AccessRequest> {
        AccessRequest::new(
            NewRequest {
                requester: Username::parse("alice").unwrap(),
                profile: "prod".into(),
                justification: justification.into(),
                duration: Duration::from_secs(secs),
            },
            "2026-03-02T09:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn approvers_are_usernames_or_automatic() {
        assert!(check_user("approver", "bob").is_ok());
        assert!(check_user("approver", "a.lice@example.com").is_ok());
        assert!(check_user("approver", &auto_approver("oncall")).is_ok());
        assert!(check_user("approver", "auto-approve:").is_err());
        assert!(check_user("approver", "Bob").is_err());
        assert!(check_user("cancelled_by", &auto_approver("oncall")).is_err());
    }

    #[test]
    fn validates_requests() {
        let ok = new("  deploy hotfix 123  ", 3600).unwrap();
        assert_eq!(ok.justification, "deploy hotfix 123");
        assert_eq!(ok.id.len(), 32);
        assert_eq!(ok.status, RequestStatus::Pending);
        assert_eq!(
            ok.expires_at.duration_since(ok.created_at),
            jiff::SignedDuration::from_hours(24)
        );
        for (j, d, field) in [
            ("short     ", 60, "justification"),
            (&"x".repeat(501), 60, "justification"),
            ("long enough reason", 0, "duration"),
            ("long enough reason", 8 * 3600 + 1, "duration"),
        ] {
            match new(j, d) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected invalid {field}, got {other:?}"),
            }
        }
        assert!(new(&"x".repeat(500), 8 * 3600).is_ok());
    }

    #[test]
    fn status_round_trips() {
        for s in [
            RequestStatus::Pending,
            RequestStatus::Approved,
            RequestStatus::Denied,
            RequestStatus::Cancelled,
            RequestStatus::Expired,
        ] {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
        }
    }
}
