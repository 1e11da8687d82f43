//! Break-glass events: emergency access that bypasses a denying policy, on
//! the record, for a bounded time.

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sentinel_policy::ReasonCode;
pub use sentinel_policy::Username;
use sentinel_store::{Page, check_name, check_text, passes};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use sentinel_policy::MAX_BREAKGLASS_DURATION;

/// Shortest justification, in characters.
pub const MIN_JUSTIFICATION_CHARS: usize = 20;
/// Longest justification, in characters.
pub const MAX_JUSTIFICATION_CHARS: usize = 1000;
/// Longest close reason, in characters.
pub const MAX_CLOSE_REASON_CHARS: usize = 1000;

/// Where a break-glass event is. `active` moves to `closed` by hand or to
/// `expired` by time (decided on every read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BreakGlassStatus {
    /// Access is open.
    Active,
    /// Someone closed it before its end.
    Closed,
    /// Its time ran out.
    Expired,
}

impl BreakGlassStatus {
    /// The name used in storage, output and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            BreakGlassStatus::Active => "active",
            BreakGlassStatus::Closed => "closed",
            BreakGlassStatus::Expired => "expired",
        }
    }

    /// Reads a status name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(BreakGlassStatus::Active),
            "closed" => Some(BreakGlassStatus::Closed),
            "expired" => Some(BreakGlassStatus::Expired),
            _ => None,
        }
    }
}

impl fmt::Display for BreakGlassStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a reason code name (`incident`, `maintenance`, `security`,
/// `recovery`, `other`).
pub fn parse_reason_code(s: &str) -> Result<ReasonCode> {
    match s {
        "incident" => Ok(ReasonCode::Incident),
        "maintenance" => Ok(ReasonCode::Maintenance),
        "security" => Ok(ReasonCode::Security),
        "recovery" => Ok(ReasonCode::Recovery),
        "other" => Ok(ReasonCode::Other),
        _ => Err(Error::invalid(
            "reason_code",
            format!("\"{s}\" is not one of incident, maintenance, security, recovery, other"),
        )),
    }
}

/// What an invoker asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBreakGlass {
    /// Who invokes it, as the policy identified them.
    pub invoker: Username,
    /// The AWS profile.
    pub profile: String,
    /// Why, as a code.
    pub reason_code: ReasonCode,
    /// Why, in words: 20 to 1000 characters.
    pub justification: String,
    /// How long access stays open: more than zero, at most 4 h and at most
    /// the break-glass rule's `max_duration`.
    pub duration: Duration,
}

/// One break-glass event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BreakGlassEvent {
    /// Random id (32 hex characters).
    pub id: String,
    /// Who invoked it.
    pub invoker: String,
    /// The AWS profile.
    pub profile: String,
    /// Why, as a code.
    pub reason_code: ReasonCode,
    /// Why, in words.
    pub justification: String,
    /// How long access was granted for.
    #[serde(with = "sentinel_store::secs")]
    pub duration: Duration,
    /// Where it is (as of the read).
    pub status: BreakGlassStatus,
    /// When it was invoked; access starts here.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When access ends unless closed earlier.
    pub expires_at: Timestamp,
    /// When it was closed.
    pub closed_at: Option<Timestamp>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// Why it was closed.
    pub close_reason: Option<String>,
    /// The escalation threshold of a rate limit was reached: security has
    /// been told.
    pub escalated: bool,
    /// The break-glass rule that allowed it.
    pub rule: Option<String>,
}

/// Timestamps are kept to the microsecond, as every backend stores them.
pub(crate) fn micro(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

pub(crate) fn add(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

pub(crate) fn sub(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_sub(d).ok())
        .unwrap_or(Timestamp::MIN)
}

impl BreakGlassEvent {
    /// A new active event invoked at `now`, after checking every field.
    /// The id is fresh and random.
    pub fn new(new: NewBreakGlass, now: Timestamp) -> Result<Self> {
        check_name("invoker", &new.invoker)?;
        check_name("profile", &new.profile)?;
        check_text(
            "justification",
            &new.justification,
            MIN_JUSTIFICATION_CHARS,
            MAX_JUSTIFICATION_CHARS,
            "say what is broken and why normal access is not enough",
        )?;
        if new.duration.is_zero() {
            return Err(Error::invalid("duration", "is zero; ask for e.g. 1h"));
        }
        if new.duration > MAX_BREAKGLASS_DURATION {
            return Err(Error::invalid(
                "duration",
                format!(
                    "is {}s; break-glass lasts at most 4h ({}s)",
                    new.duration.as_secs(),
                    MAX_BREAKGLASS_DURATION.as_secs()
                ),
            ));
        }
        let now = micro(now);
        Ok(Self {
            id: sentinel_store::new_id()?,
            invoker: new.invoker.to_string(),
            profile: new.profile,
            reason_code: new.reason_code,
            justification: new.justification.trim().to_owned(),
            duration: Duration::from_secs(new.duration.as_secs()),
            status: BreakGlassStatus::Active,
            created_at: now,
            updated_at: now,
            expires_at: add(now, Duration::from_secs(new.duration.as_secs())),
            closed_at: None,
            closed_by: None,
            close_reason: None,
            escalated: false,
            rule: None,
        })
    }

    /// The status at `now`: a stored `active` past its end is `expired`.
    pub fn status_at(&self, now: Timestamp) -> BreakGlassStatus {
        match self.status {
            BreakGlassStatus::Active if now >= self.expires_at => BreakGlassStatus::Expired,
            s => s,
        }
    }

    /// Whether access is open at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.status_at(now) == BreakGlassStatus::Active
    }

    /// When access ended or will end: the close time, else the expiry.
    pub fn ends_at(&self) -> Timestamp {
        self.closed_at.unwrap_or(self.expires_at)
    }

    /// How much access time is left at `now` (zero unless active).
    pub fn remaining(&self, now: Timestamp) -> Duration {
        if !self.is_active(now) {
            return Duration::ZERO;
        }
        self.expires_at
            .duration_since(now)
            .try_into()
            .unwrap_or(Duration::ZERO)
    }
}

sentinel_store::record!(BreakGlassEvent);

pub(crate) fn check_close(id: &str, by: &str, reason: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::NotFound { id: id.to_owned() });
    }
    check_name("closed_by", by)?;
    check_text(
        "reason",
        reason,
        1,
        MAX_CLOSE_REASON_CHARS,
        "say why access is no longer needed",
    )?;
    Ok(())
}

/// Which events to list. Filters combine with AND; results are newest first
/// (by `created_at`, then id), `limit` per page (default 100, at most 1000).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakGlassQuery {
    /// Only this invoker's events.
    pub invoker: Option<String>,
    /// Only events in this state (as of the read).
    pub status: Option<BreakGlassStatus>,
    /// Only this profile.
    pub profile: Option<String>,
    /// Only events whose access overlapped `[from, to)`; see
    /// [`BreakGlassQuery::between`].
    pub from: Option<Timestamp>,
    /// End of the review range (exclusive).
    pub to: Option<Timestamp>,
    /// Page size and where the page starts.
    pub page: Page,
}

impl BreakGlassQuery {
    /// Every event, newest first.
    pub fn all() -> Self {
        Self::default()
    }

    /// Events of one invoker.
    #[must_use]
    pub fn invoker(mut self, invoker: &str) -> Self {
        self.invoker = Some(invoker.to_owned());
        self
    }

    /// Events in one state.
    #[must_use]
    pub fn status(mut self, status: BreakGlassStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Events of one profile.
    #[must_use]
    pub fn profile(mut self, profile: &str) -> Self {
        self.profile = Some(profile.to_owned());
        self
    }

    /// The post-incident review: events whose access window (invocation to
    /// close or expiry) overlapped `[from, to)`, i.e. everyone who held
    /// break-glass access at some point in the range.
    #[must_use]
    pub fn between(mut self, from: Timestamp, to: Timestamp) -> Self {
        self.from = Some(from);
        self.to = Some(to);
        self
    }

    sentinel_store::page_builders!();

    /// Whether `e` (as of the read) passes the filters.
    pub fn matches(&self, e: &BreakGlassEvent) -> bool {
        passes(self.invoker.as_deref(), &e.invoker)
            && passes(self.status.as_ref(), &e.status)
            && passes(self.profile.as_deref(), &e.profile)
            && self.to.is_none_or(|to| e.created_at < to)
            && self.from.is_none_or(|from| e.ends_at() > from)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakGlassPage {
    /// Events on this page.
    pub events: Vec<BreakGlassEvent>,
    /// Pass to [`BreakGlassQuery::after`] for the next page; `None` at the end.
    pub next_page_token: Option<String>,
}

sentinel_store::listing!(BreakGlassQuery, BreakGlassEvent, BreakGlassPage { events });

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn new(justification: &str, secs: u64) -> Result<BreakGlassEvent> {
        BreakGlassEvent::new(
            NewBreakGlass {
                invoker: Username::parse("alice").unwrap(),
                profile: "prod".into(),
                reason_code: ReasonCode::Incident,
                justification: justification.into(),
                duration: Duration::from_secs(secs),
            },
            "2026-03-02T09:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn validates_events() {
        let ok = "database primary is down, failing over";
        let e = new(ok, 3600).unwrap();
        assert_eq!(e.status, BreakGlassStatus::Active);
        assert_eq!(e.expires_at.to_string(), "2026-03-02T10:00:00Z");
        assert!(matches!(
            new("too short", 3600),
            Err(Error::Invalid {
                field: "justification",
                ..
            })
        ));
        assert!(matches!(
            new(&"x".repeat(1001), 3600),
            Err(Error::Invalid {
                field: "justification",
                ..
            })
        ));
        assert!(new(&"x".repeat(1000), 3600).is_ok());
        assert!(matches!(
            new(ok, 0),
            Err(Error::Invalid {
                field: "duration",
                ..
            })
        ));
        assert!(matches!(
            new(ok, 4 * 3600 + 1),
            Err(Error::Invalid {
                field: "duration",
                ..
            })
        ));
        assert!(new(ok, 4 * 3600).is_ok());
    }

    #[test]
    fn expiry_is_decided_on_read() {
        let e = new("database primary is down, failing over", 60).unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(e.is_active(at("2026-03-02T09:00:59Z")));
        assert_eq!(
            e.status_at(at("2026-03-02T09:01:00Z")),
            BreakGlassStatus::Expired
        );
        assert_eq!(
            e.remaining(at("2026-03-02T09:00:30Z")),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn names_round_trip() {
        for s in [
            BreakGlassStatus::Active,
            BreakGlassStatus::Closed,
            BreakGlassStatus::Expired,
        ] {
            assert_eq!(BreakGlassStatus::parse(s.as_str()), Some(s));
        }
        for c in ["incident", "maintenance", "security", "recovery", "other"] {
            assert_eq!(parse_reason_code(c).unwrap().as_str(), c);
        }
        assert!(parse_reason_code("panic").is_err());
    }
}
