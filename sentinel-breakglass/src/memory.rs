//! The in-memory reference backend.

use async_trait::async_trait;
use sentinel_store::Record;
use sentinel_store::memory::{MemoryState, Records};

use crate::error::Result;
use crate::model::{
    BreakGlassEvent, BreakGlassPage, BreakGlassQuery, BreakGlassStatus, check_close, micro,
};
use crate::rules::Recent;
use crate::store::{BreakGlassStore, Invocation, not_closable};

/// Break-glass events in memory: the reference implementation every other
/// backend must match. Clones share the same state.
#[derive(Debug, Clone)]
pub struct MemoryBreakGlassStore {
    state: MemoryState<Records<BreakGlassEvent>>,
}

impl Default for MemoryBreakGlassStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBreakGlassStore {
    sentinel_store::memory_store_constructors!();
}

#[async_trait]
impl BreakGlassStore for MemoryBreakGlassStore {
    async fn invoke(&self, invocation: &Invocation) -> Result<BreakGlassEvent> {
        let mut events = self.state.write();
        let now = self.state.now();
        let recent: Vec<Recent> = events
            .values()
            .filter(|e| e.profile == invocation.new.profile)
            .map(Recent::from)
            .collect();
        let event = invocation.event_at(now, &recent)?;
        events.insert(event.clone());
        Ok(event)
    }

    async fn get(&self, id: &str) -> Result<BreakGlassEvent> {
        Ok(self.state.read().get(id, self.state.now())?)
    }

    async fn close(&self, id: &str, by: &str, reason: &str) -> Result<BreakGlassEvent> {
        check_close(id, by, reason)?;
        let mut events = self.state.write();
        let now = micro(self.state.now());
        let e = events.get_mut(id)?;
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
        let page = self.state.read().list(query, self.state.now())?;
        Ok(BreakGlassPage::from_parts(page))
    }

    async fn find_active(&self, invoker: &str, profile: &str) -> Result<Option<BreakGlassEvent>> {
        let now = self.state.now();
        Ok(self
            .state
            .read()
            .values()
            .find(|e| e.profile == profile && e.invoker == invoker && e.is_active(now))
            .map(|e| e.clone().read_at(now)))
    }

    async fn claim_expired(&self, limit: usize) -> Result<Vec<BreakGlassEvent>> {
        let now = self.state.now();
        Ok(self
            .state
            .write()
            .claim_expired(now, limit, |e| e.status == BreakGlassStatus::Expired))
    }
}
