//! The in-memory reference backend.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use sentinel_store::memory::{MemoryState, Records};
use sentinel_store::{Record, newest_first};

use crate::error::{Error, Result};
use crate::model::{
    ServerSession, SessionPage, SessionQuery, SessionStatus, UserRevocation, check_name,
    check_reason,
};
use crate::store::{SessionStore, not_active};

#[derive(Debug, Default)]
struct State {
    sessions: Records<ServerSession>,
    /// Keyed by (user, profile or "").
    revocations: BTreeMap<(String, String), UserRevocation>,
}

/// Sessions in memory: the reference implementation every other backend
/// must match. Clones share the same state.
#[derive(Debug, Clone)]
pub struct MemorySessionStore {
    state: MemoryState<State>,
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySessionStore {
    sentinel_store::memory_store_constructors!();

    /// Applies `change` at the current time to the session `id` if it is
    /// active; else [`Error::InvalidTransition`] naming `action`, or
    /// [`Error::NotFound`].
    fn change_active(
        &self,
        id: &str,
        action: &'static str,
        change: impl FnOnce(&mut ServerSession, Timestamp),
    ) -> Result<ServerSession> {
        let now = self.state.now();
        let mut state = self.state.write();
        let s = state.sessions.get_mut(id)?;
        if !s.is_active(now) {
            return Err(not_active(id, Some(s.clone()), now, action));
        }
        change(s, now);
        s.updated_at = now;
        Ok(s.clone().read_at(now))
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &ServerSession) -> Result<()> {
        check_name("id", &session.id)?;
        Ok(self.state.write().sessions.insert_new(session)?)
    }

    async fn get(&self, id: &str) -> Result<ServerSession> {
        Ok(self.state.read().sessions.get(id, self.state.now())?)
    }

    async fn touch(&self, id: &str) -> Result<ServerSession> {
        self.change_active(id, "touched", |s, now| {
            s.request_count = s.request_count.saturating_add(1);
            s.last_access_at = now;
        })
    }

    async fn revoke(&self, id: &str, revoked_by: &str, reason: &str) -> Result<ServerSession> {
        check_name("revoked_by", revoked_by)?;
        check_reason(reason)?;
        self.change_active(id, "revoked", |s, _| {
            s.status = SessionStatus::Revoked;
            s.revoked_by = Some(revoked_by.to_owned());
            s.revoked_reason = Some(reason.to_owned());
        })
    }

    async fn list(&self, query: &SessionQuery) -> Result<SessionPage> {
        let page = self.state.read().sessions.list(query, self.state.now())?;
        Ok(SessionPage::from_parts(page))
    }

    async fn find_by_source_identity(
        &self,
        source_identity: &str,
    ) -> Result<Option<ServerSession>> {
        let now = self.state.now();
        Ok(self
            .state
            .read()
            .sessions
            .values()
            .filter(|s| s.source_identity.as_deref() == Some(source_identity))
            .min_by_key(|s| newest_first(*s))
            .cloned()
            .map(|s| s.read_at(now)))
    }

    async fn put_user_revocation(&self, revocation: &UserRevocation) -> Result<()> {
        let key = (
            revocation.user.clone(),
            revocation.profile.clone().unwrap_or_default(),
        );
        self.state
            .write()
            .revocations
            .insert(key, revocation.clone());
        Ok(())
    }

    async fn user_revocations(&self, user: &str) -> Result<Vec<UserRevocation>> {
        let now = self.state.now();
        Ok(self
            .state
            .read()
            .revocations
            .values()
            .filter(|r| r.user == user && r.in_force(now))
            .cloned()
            .collect())
    }

    async fn lift_user_revocation(&self, user: &str, profile: Option<&str>) -> Result<()> {
        let key = (user.to_owned(), profile.unwrap_or_default().to_owned());
        match self.state.write().revocations.remove(&key) {
            Some(_) => Ok(()),
            None => Err(Error::RevocationNotFound {
                user: user.to_owned(),
                profile: profile.map(str::to_owned),
            }),
        }
    }
}
