//! The in-memory reference backend.

use async_trait::async_trait;
use jiff::Timestamp;
use sentinel_store::Record;
use sentinel_store::memory::{MemoryState, Records};

use crate::error::Result;
use crate::model::{
    AccessRequest, RequestPage, RequestQuery, RequestStatus, check_name, clean_comment, micro,
};
use crate::store::{Action, RequestStore};

/// Access requests in memory: the reference implementation every other
/// backend must match. Clones share the same state.
#[derive(Debug, Clone)]
pub struct MemoryRequestStore {
    state: MemoryState<Records<AccessRequest>>,
}

impl Default for MemoryRequestStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRequestStore {
    sentinel_store::memory_store_constructors!();

    fn change(
        &self,
        id: &str,
        action: Action,
        by: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest> {
        action.check_input(by, comment)?;
        let now = micro(self.state.now());
        let mut state = self.state.write();
        let r = state.get_mut(id)?;
        action.check_actor(r, by)?;
        let current = r.clone().read_at(now);
        if current.status != RequestStatus::Pending {
            return Err(action.transition_error(&current));
        }
        r.status = action.target();
        r.updated_at = now;
        if action != Action::Cancel {
            r.approver = Some(by.to_owned());
            r.approver_comment = clean_comment(comment);
        }
        if action == Action::Approve {
            r.approved_at = Some(now);
        }
        Ok(r.clone())
    }
}

#[async_trait]
impl RequestStore for MemoryRequestStore {
    async fn create(&self, request: &AccessRequest) -> Result<()> {
        check_name("id", &request.id)?;
        Ok(self.state.write().insert_new(request)?)
    }

    async fn get(&self, id: &str) -> Result<AccessRequest> {
        Ok(self.state.read().get(id, self.state.now())?)
    }

    async fn approve(
        &self,
        id: &str,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest> {
        self.change(id, Action::Approve, approver, comment)
    }

    async fn deny(&self, id: &str, approver: &str, comment: Option<&str>) -> Result<AccessRequest> {
        self.change(id, Action::Deny, approver, comment)
    }

    async fn cancel(&self, id: &str, by: &str) -> Result<AccessRequest> {
        self.change(id, Action::Cancel, by, None)
    }

    async fn list(&self, query: &RequestQuery) -> Result<RequestPage> {
        let page = self.state.read().list(query, self.state.now())?;
        Ok(RequestPage::from_parts(page))
    }

    async fn find_approved(
        &self,
        user: &str,
        profile: &str,
        now: Timestamp,
    ) -> Result<Option<AccessRequest>> {
        Ok(crate::model::best_approval(
            self.state
                .read()
                .values()
                .filter(|r| r.requester == user && r.profile == profile)
                .cloned(),
            now,
        ))
    }

    async fn claim_expired(&self, limit: usize) -> Result<Vec<AccessRequest>> {
        let now = self.state.now();
        Ok(self
            .state
            .write()
            .claim_expired(now, limit, |r| r.status == RequestStatus::Expired))
    }
}
