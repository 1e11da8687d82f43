//! The in-memory reference backend.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::{
    BreakGlassEvent, BreakGlassPage, BreakGlassQuery, BreakGlassStatus, check_close, micro,
};
use crate::rules::Recent;
use crate::store::{BreakGlassStore, Clock, Invocation, SystemClock, not_closable};

/// Break-glass events in memory: the reference implementation every other
/// backend must match. Clones share the same state.
#[derive(Debug, Clone)]
pub struct MemoryBreakGlassStore {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct State {
    events: BTreeMap<String, BreakGlassEvent>,
    /// Expired events already claimed by `claim_expired`.
    announced: BTreeSet<String>,
}

impl Default for MemoryBreakGlassStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBreakGlassStore {
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

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl BreakGlassStore for MemoryBreakGlassStore {
    async fn invoke(&self, invocation: &Invocation) -> Result<BreakGlassEvent> {
        let mut state = self.lock();
        let now = self.clock.now();
        let recent: Vec<Recent> = state
            .events
            .values()
            .filter(|e| e.profile == invocation.new.profile)
            .map(Recent::from)
            .collect();
        let event = invocation.event_at(now, &recent)?;
        state.events.insert(event.id.clone(), event.clone());
        Ok(event)
    }

    async fn get(&self, id: &str) -> Result<BreakGlassEvent> {
        let now = self.clock.now();
        self.lock()
            .events
            .get(id)
            .map(|e| e.clone().read_at(now))
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })
    }

    async fn close(&self, id: &str, by: &str, reason: &str) -> Result<BreakGlassEvent> {
        check_close(id, by, reason)?;
        let mut state = self.lock();
        let now = micro(self.clock.now());
        let e = state
            .events
            .get_mut(id)
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })?;
        if !e.is_active(now) {
            return Err(not_closable(e, now));
        }
        e.status = BreakGlassStatus::Closed;
        e.closed_at = Some(now);
        e.updated_at = now;
        e.closed_by = Some(by.to_owned());
        e.close_reason = Some(reason.trim().to_owned());
        Ok(e.clone())
    }

    async fn list(&self, query: &BreakGlassQuery) -> Result<BreakGlassPage> {
        let after = query.page.cursor()?;
        let now = self.clock.now();
        let matching: Vec<BreakGlassEvent> = self
            .lock()
            .events
            .values()
            .map(|e| e.clone().read_at(now))
            .filter(|e| query.matches(e))
            .collect();
        Ok(BreakGlassPage::from_parts(sentinel_store::paginate(
            matching,
            after.as_ref(),
            query.page.size(),
        )))
    }

    async fn find_active(&self, invoker: &str, profile: &str) -> Result<Option<BreakGlassEvent>> {
        let now = self.clock.now();
        Ok(self
            .lock()
            .events
            .values()
            .find(|e| e.profile == profile && e.invoker == invoker && e.is_active(now))
            .map(|e| e.clone().read_at(now)))
    }

    async fn claim_expired(&self, limit: usize) -> Result<Vec<BreakGlassEvent>> {
        let now = self.clock.now();
        let mut state = self.lock();
        let State { events, announced } = &mut *state;
        let mut due: Vec<BreakGlassEvent> = events
            .values()
            .filter(|e| e.status_at(now) == BreakGlassStatus::Expired && !announced.contains(&e.id))
            .map(|e| e.clone().read_at(now))
            .collect();
        due.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
        due.truncate(limit);
        announced.extend(due.iter().map(|e| e.id.clone()));
        Ok(due)
    }
}
