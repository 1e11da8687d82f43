//! The in-memory reference backend.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::error::{Error, Result};
use sentinel_store::{newest_first, paginate};

use crate::model::{
    ServerSession, SessionPage, SessionQuery, SessionStatus, UserRevocation, check_name,
    check_reason,
};
use crate::store::{Clock, SessionStore, SystemClock};

#[derive(Debug, Default)]
struct State {
    sessions: BTreeMap<String, ServerSession>,
    /// Keyed by (user, profile or "").
    revocations: BTreeMap<(String, String), UserRevocation>,
}

/// Sessions in memory: the reference implementation every other backend
/// must match. Clones share the same state.
#[derive(Debug, Clone)]
pub struct MemorySessionStore {
    state: Arc<RwLock<State>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySessionStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn transition_error(s: &ServerSession, action: &'static str) -> Error {
    Error::InvalidTransition {
        id: s.id.clone(),
        from: s.status,
        action,
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &ServerSession) -> Result<()> {
        check_name("id", &session.id)?;
        let mut state = self.write();
        if state.sessions.contains_key(&session.id) {
            return Err(Error::Conflict {
                id: session.id.clone(),
                what: "already exists".into(),
            });
        }
        state.sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<ServerSession> {
        let now = self.clock.now();
        self.read()
            .sessions
            .get(id)
            .cloned()
            .map(|s| s.read_at(now))
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })
    }

    async fn touch(&self, id: &str) -> Result<ServerSession> {
        let now = self.clock.now();
        let mut state = self.write();
        let s = state
            .sessions
            .get_mut(id)
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })?;
        let current = s.clone().read_at(now);
        if current.status != SessionStatus::Active {
            return Err(transition_error(&current, "touched"));
        }
        s.request_count = s.request_count.saturating_add(1);
        s.last_access_at = now;
        s.updated_at = now;
        Ok(s.clone().read_at(now))
    }

    async fn revoke(&self, id: &str, revoked_by: &str, reason: &str) -> Result<ServerSession> {
        check_name("revoked_by", revoked_by)?;
        check_reason(reason)?;
        let now = self.clock.now();
        let mut state = self.write();
        let s = state
            .sessions
            .get_mut(id)
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })?;
        let current = s.clone().read_at(now);
        if current.status != SessionStatus::Active {
            return Err(transition_error(&current, "revoked"));
        }
        s.status = SessionStatus::Revoked;
        s.revoked_by = Some(revoked_by.to_owned());
        s.revoked_reason = Some(reason.to_owned());
        s.updated_at = now;
        Ok(s.clone())
    }

    async fn list(&self, query: &SessionQuery) -> Result<SessionPage> {
        let now = self.clock.now();
        let after = query.page.cursor()?;
        let matching: Vec<ServerSession> = self
            .read()
            .sessions
            .values()
            .map(|s| s.clone().read_at(now))
            .filter(|s| query.matches(s))
            .collect();
        let (sessions, next_page_token) = paginate(matching, after.as_ref(), query.page.size());
        Ok(SessionPage {
            sessions,
            next_page_token,
        })
    }

    async fn find_by_source_identity(
        &self,
        source_identity: &str,
    ) -> Result<Option<ServerSession>> {
        let now = self.clock.now();
        Ok(self
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
        self.write().revocations.insert(key, revocation.clone());
        Ok(())
    }

    async fn user_revocations(&self, user: &str) -> Result<Vec<UserRevocation>> {
        let now = self.clock.now();
        Ok(self
            .read()
            .revocations
            .values()
            .filter(|r| r.user == user && r.in_force(now))
            .cloned()
            .collect())
    }

    async fn lift_user_revocation(&self, user: &str, profile: Option<&str>) -> Result<()> {
        let key = (user.to_owned(), profile.unwrap_or_default().to_owned());
        match self.write().revocations.remove(&key) {
            Some(_) => Ok(()),
            None => Err(Error::RevocationNotFound {
                user: user.to_owned(),
                profile: profile.map(str::to_owned),
            }),
        }
    }
}
