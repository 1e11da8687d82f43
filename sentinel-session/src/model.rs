//! Server sessions and user revocations.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use sentinel_policy::Username;

pub use sentinel_store::MAX_NAME_LEN;
pub(crate) use sentinel_store::check_name;
use sentinel_store::{Page, passes};

/// Longest revocation reason accepted.
pub const MAX_REASON_LEN: usize = 1024;

/// Where a session is in its life. `Active` → `Revoked` by a revoke;
/// `Active` → `Expired` by time alone (decided on every read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionStatus {
    /// In use; credentials may be served.
    Active,
    /// Revoked by someone; never served again.
    Revoked,
    /// Past its end; never served again.
    Expired,
}

impl SessionStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Revoked => "revoked",
            SessionStatus::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(SessionStatus::Active),
            "revoked" => Some(SessionStatus::Revoked),
            "expired" => Some(SessionStatus::Expired),
            _ => None,
        }
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tracked credential-server session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServerSession {
    /// Random id, 32 hex characters; also the `SentinelSessionID` tag.
    pub id: String,
    /// The person's username (canonical, see [`Username`]).
    pub user: String,
    /// AWS profile served.
    pub profile: String,
    /// The credential server process serving it.
    pub server_instance_id: String,
    /// State as of the read (an active session past `expires_at` reads as expired).
    pub status: SessionStatus,
    /// When serving began.
    pub started_at: Timestamp,
    /// Last credential request.
    pub last_access_at: Timestamp,
    /// When the session ends by itself.
    pub expires_at: Timestamp,
    /// Credential requests served.
    pub request_count: u64,
    /// The STS SourceIdentity stamped on its credentials.
    pub source_identity: Option<String>,
    /// Record creation.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why.
    pub revoked_reason: Option<String>,
}

/// What is needed to start a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The person, as the policy identified them.
    pub user: Username,
    /// AWS profile.
    pub profile: String,
    /// Credential server instance.
    pub server_instance_id: String,
    /// How long the session may live.
    pub duration: Duration,
    /// SourceIdentity, when already known.
    pub source_identity: Option<String>,
}

impl ServerSession {
    /// A new active session with a fresh random id, starting `now`.
    pub fn start(new: NewSession, now: Timestamp) -> Result<Self> {
        check_name("user", &new.user)?;
        check_name("profile", &new.profile)?;
        check_name("server_instance_id", &new.server_instance_id)?;
        if let Some(si) = &new.source_identity {
            check_name("source_identity", si)?;
        }
        if new.duration.is_zero() {
            return Err(Error::invalid("duration", "must be more than 0s"));
        }
        let span = jiff::SignedDuration::try_from(new.duration)
            .map_err(|_| Error::invalid("duration", "too long"))?;
        let expires_at = now
            .checked_add(span)
            .map_err(|_| Error::invalid("duration", "too long"))?;
        Ok(Self {
            id: new_id()?,
            user: new.user.to_string(),
            profile: new.profile,
            server_instance_id: new.server_instance_id,
            status: SessionStatus::Active,
            started_at: now,
            last_access_at: now,
            expires_at,
            request_count: 0,
            source_identity: new.source_identity,
            created_at: now,
            updated_at: now,
            revoked_by: None,
            revoked_reason: None,
        })
    }

    /// The state at `now`: a stored `active` past `expires_at` is `expired`.
    pub fn status_at(&self, now: Timestamp) -> SessionStatus {
        match self.status {
            SessionStatus::Active if now >= self.expires_at => SessionStatus::Expired,
            s => s,
        }
    }

    /// Whether credentials may be served for it at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.status_at(now) == SessionStatus::Active
    }
}

sentinel_store::record!(ServerSession);

/// A user kill switch: while it is in force, no new session and no
/// credential is issued to `user` (for `profile`, or for every profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserRevocation {
    /// The user cut off (canonical, see [`Username`]).
    pub user: String,
    /// The one profile, or `None` for all.
    pub profile: Option<String>,
    /// Who did it.
    pub revoked_by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: Timestamp,
    /// When it lapses by itself; `None` until lifted.
    pub expires_at: Option<Timestamp>,
}

impl UserRevocation {
    /// A revocation in force from `now`. `user` is a [`Username`], so a
    /// name typed in another case or spelling cannot revoke nobody.
    pub fn new(
        user: &Username,
        profile: Option<&str>,
        revoked_by: &str,
        reason: &str,
        now: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Result<Self> {
        check_name("user", user)?;
        if let Some(p) = profile {
            check_name("profile", p)?;
        }
        check_name("revoked_by", revoked_by)?;
        check_reason(reason)?;
        Ok(Self {
            user: user.to_string(),
            profile: profile.map(str::to_owned),
            revoked_by: revoked_by.to_owned(),
            reason: reason.to_owned(),
            created_at: now,
            expires_at,
        })
    }

    /// Whether it is in force at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }

    /// Whether it covers `profile`.
    pub fn covers(&self, profile: &str) -> bool {
        self.profile.as_deref().is_none_or(|p| p == profile)
    }
}

/// What [`SessionStore::access`](crate::SessionStore::access) found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Access {
    /// The user revocation in force for the profile, if any.
    pub revocation: Option<UserRevocation>,
    /// The server session as of now; `None` when none was asked for or
    /// there is no session with that id.
    pub session: Option<ServerSession>,
}

/// Which sessions to list. Filters combine with AND; results are newest
/// first (by `created_at`, then id), `limit` per page (default 100, at most 1000).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionQuery {
    /// Only this user's sessions.
    pub user: Option<String>,
    /// Only sessions in this state (as of the read).
    pub status: Option<SessionStatus>,
    /// Only this profile.
    pub profile: Option<String>,
    /// Only this credential server instance.
    pub server_instance_id: Option<String>,
    /// Page size and where the page starts.
    pub page: Page,
}

impl SessionQuery {
    /// Every session, newest first.
    pub fn all() -> Self {
        Self::default()
    }

    /// Sessions of one user.
    #[must_use]
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_owned());
        self
    }

    /// Sessions in one state.
    #[must_use]
    pub fn status(mut self, status: SessionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Sessions of one profile.
    #[must_use]
    pub fn profile(mut self, profile: &str) -> Self {
        self.profile = Some(profile.to_owned());
        self
    }

    /// Sessions of one server instance.
    #[must_use]
    pub fn server_instance(mut self, id: &str) -> Self {
        self.server_instance_id = Some(id.to_owned());
        self
    }

    sentinel_store::page_builders!();

    /// Whether `s` (as of the read) passes the filters.
    pub fn matches(&self, s: &ServerSession) -> bool {
        passes(self.user.as_deref(), &s.user)
            && passes(self.status.as_ref(), &s.status)
            && passes(self.profile.as_deref(), &s.profile)
            && passes(self.server_instance_id.as_deref(), &s.server_instance_id)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionPage {
    /// Sessions on this page.
    pub sessions: Vec<ServerSession>,
    /// Pass to [`SessionQuery::after`] for the next page; `None` at the end.
    pub next_page_token: Option<String>,
}

sentinel_store::listing!(SessionQuery, ServerSession, SessionPage { sessions });

pub(crate) fn check_reason(v: &str) -> Result<()> {
    if v.trim().is_empty() {
        return Err(Error::invalid("reason", "is empty; say why"));
    }
    if v.len() > MAX_REASON_LEN {
        return Err(Error::invalid(
            "reason",
            format!("is {} bytes; at most {MAX_REASON_LEN}", v.len()),
        ));
    }
    Ok(())
}

/// A fresh random session id: 128 bits as 32 lowercase hex characters.
pub fn new_id() -> Result<String> {
    Ok(sentinel_store::new_id()?)
}
