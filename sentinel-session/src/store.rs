//! The [`SessionStore`] trait, the clock stores read time from, and the
//! operations built on the trait (the user kill switch).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use sentinel_store::Record;

pub use sentinel_store::{Clock, ManualClock, SystemClock};

use crate::error::{Error, Result};
use crate::model::{
    Access, ServerSession, SessionPage, SessionQuery, SessionStatus, UserRevocation,
};

/// Storage for server sessions and user revocations.
///
/// Every state change is a conditional write: of two racing changes exactly
/// one wins and the other gets [`Error::Conflict`] or
/// [`Error::InvalidTransition`]. Expiry is decided on read.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new session; [`Error::Conflict`] if the id exists.
    async fn create(&self, session: &ServerSession) -> Result<()>;

    /// The session as of now; [`Error::NotFound`] if there is none.
    async fn get(&self, id: &str) -> Result<ServerSession>;

    /// Counts one credential request and records its time. Only for an
    /// existing, active, unexpired session: otherwise [`Error::NotFound`] or
    /// [`Error::InvalidTransition`] (revoked, expired).
    async fn touch(&self, id: &str) -> Result<ServerSession>;

    /// Revokes an active session. Already revoked or expired sessions give
    /// [`Error::InvalidTransition`]; a missing one [`Error::NotFound`].
    async fn revoke(&self, id: &str, revoked_by: &str, reason: &str) -> Result<ServerSession>;

    /// Sessions matching the query, newest first, one page at a time.
    async fn list(&self, query: &SessionQuery) -> Result<SessionPage>;

    /// The session whose credentials carry `source_identity`, without a
    /// table scan.
    async fn find_by_source_identity(&self, source_identity: &str)
    -> Result<Option<ServerSession>>;

    /// Records (or replaces) a user revocation for its (user, profile).
    async fn put_user_revocation(&self, revocation: &UserRevocation) -> Result<()>;

    /// The user's revocations that are in force now.
    async fn user_revocations(&self, user: &str) -> Result<Vec<UserRevocation>>;

    /// Lifts the revocation of (user, profile); [`Error::RevocationNotFound`] if none.
    async fn lift_user_revocation(&self, user: &str, profile: Option<&str>) -> Result<()>;

    /// The DynamoDB table the sessions are kept in, for stores that keep
    /// them in one (a policy rule's `session_table` names it).
    fn table_name(&self) -> Option<&str> {
        None
    }

    /// What a credential request in server mode must pass, read together:
    /// the revocation in force for (`user`, `profile`), and the server
    /// session `session_id` as of now. The credential server calls this on
    /// every request; stores that can answer in one round trip override it
    /// (the default reads [`user_revocations`](Self::user_revocations) and
    /// [`get`](Self::get)). Callers deny on an error.
    async fn access(&self, user: &str, profile: &str, session_id: Option<&str>) -> Result<Access> {
        let revocation = self
            .user_revocations(user)
            .await?
            .into_iter()
            .find(|r| r.covers(profile));
        let session = match session_id {
            None => None,
            Some(id) => match self.get(id).await {
                Ok(s) => Some(s),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
        };
        Ok(Access {
            revocation,
            session,
        })
    }
}

/// A shared, type-erased session store.
pub type DynSessionStore = Arc<dyn SessionStore>;

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    async fn create(&self, session: &ServerSession) -> Result<()> {
        (**self).create(session).await
    }
    async fn get(&self, id: &str) -> Result<ServerSession> {
        (**self).get(id).await
    }
    async fn touch(&self, id: &str) -> Result<ServerSession> {
        (**self).touch(id).await
    }
    async fn revoke(&self, id: &str, revoked_by: &str, reason: &str) -> Result<ServerSession> {
        (**self).revoke(id, revoked_by, reason).await
    }
    async fn list(&self, query: &SessionQuery) -> Result<SessionPage> {
        (**self).list(query).await
    }
    async fn find_by_source_identity(
        &self,
        source_identity: &str,
    ) -> Result<Option<ServerSession>> {
        (**self).find_by_source_identity(source_identity).await
    }
    async fn put_user_revocation(&self, revocation: &UserRevocation) -> Result<()> {
        (**self).put_user_revocation(revocation).await
    }
    async fn user_revocations(&self, user: &str) -> Result<Vec<UserRevocation>> {
        (**self).user_revocations(user).await
    }
    async fn lift_user_revocation(&self, user: &str, profile: Option<&str>) -> Result<()> {
        (**self).lift_user_revocation(user, profile).await
    }
    async fn access(&self, user: &str, profile: &str, session_id: Option<&str>) -> Result<Access> {
        (**self).access(user, profile, session_id).await
    }
    fn table_name(&self) -> Option<&str> {
        (**self).table_name()
    }
}

/// What [`SessionStoreExt::revoke_user`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KillSwitchReport {
    /// The revocation now in force.
    pub revocation: UserRevocation,
    /// Sessions this call revoked.
    pub revoked: Vec<String>,
}

/// Operations built from the required methods, for every store.
#[async_trait]
pub trait SessionStoreExt: SessionStore {
    /// The user kill switch: records a revocation for `user` (one profile
    /// or all) so no new session starts, then revokes every active session
    /// it covers. Sessions that end meanwhile are skipped; any other error
    /// stops it (the revocation itself is already in force).
    async fn revoke_user(&self, revocation: &UserRevocation) -> Result<KillSwitchReport> {
        self.put_user_revocation(revocation).await?;
        let mut revoked = Vec::new();
        let mut query = SessionQuery::all()
            .user(&revocation.user)
            .status(SessionStatus::Active)
            .limit(500);
        if let Some(p) = &revocation.profile {
            query = query.profile(p);
        }
        loop {
            let page = self.list(&query).await?;
            for s in page.sessions {
                match self
                    .revoke(&s.id, &revocation.revoked_by, &revocation.reason)
                    .await
                {
                    Ok(_) => revoked.push(s.id),
                    Err(Error::InvalidTransition { .. } | Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            match page.next_page_token {
                Some(t) => query = query.after(Some(t)),
                None => break,
            }
        }
        Ok(KillSwitchReport {
            revocation: revocation.clone(),
            revoked,
        })
    }

    /// The revocation in force for (user, profile), if any. Callers deny
    /// when this returns one, and also when it returns an error.
    async fn user_revoked(&self, user: &str, profile: &str) -> Result<Option<UserRevocation>> {
        Ok(self
            .user_revocations(user)
            .await?
            .into_iter()
            .find(|r| r.covers(profile)))
    }
}

impl<S: SessionStore + ?Sized> SessionStoreExt for S {}

/// Why a change of the session `id`, which needs it active, did not happen:
/// `found` is the session as read afterwards, if there is one.
/// [`Error::NotFound`], or [`Error::InvalidTransition`] naming `action`
/// from its state as of `now`.
pub(crate) fn not_active(
    id: &str,
    found: Option<ServerSession>,
    now: Timestamp,
    action: &'static str,
) -> Error {
    match found {
        None => Error::NotFound { id: id.to_owned() },
        Some(s) => {
            let s = s.read_at(now);
            Error::InvalidTransition {
                id: s.id,
                from: s.status,
                action,
            }
        }
    }
}
