//! The in-memory reference backend.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use jiff::Timestamp;

use crate::error::{Error, Result};
use sentinel_store::paginate;

use crate::model::{
    AccessRequest, RequestPage, RequestQuery, RequestStatus, check_name, clean_comment, micro,
};
use crate::store::{Action, Clock, RequestStore, SystemClock};

/// Access requests in memory: the reference implementation every other
/// backend must match. Clones share the same state.
#[derive(Debug, Clone)]
pub struct MemoryRequestStore {
    state: Arc<RwLock<BTreeMap<String, AccessRequest>>>,
    /// Expired requests already claimed by `claim_expired`.
    announced: Arc<Mutex<BTreeSet<String>>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryRequestStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRequestStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::default(),
            announced: Arc::default(),
            clock,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, AccessRequest>> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, AccessRequest>> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn change(
        &self,
        id: &str,
        action: Action,
        by: &str,
        comment: Option<&str>,
    ) -> Result<AccessRequest> {
        action.check_input(by, comment)?;
        let now = micro(self.clock.now());
        let mut state = self.write();
        let r = state
            .get_mut(id)
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })?;
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
        let mut state = self.write();
        if state.contains_key(&request.id) {
            return Err(Error::Conflict {
                id: request.id.clone(),
                what: "already exists".into(),
            });
        }
        state.insert(request.id.clone(), request.clone());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<AccessRequest> {
        let now = self.clock.now();
        self.read()
            .get(id)
            .cloned()
            .map(|r| r.read_at(now))
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })
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
        let now = self.clock.now();
        let after = query.page.cursor()?;
        let matching: Vec<AccessRequest> = self
            .read()
            .values()
            .map(|r| r.clone().read_at(now))
            .filter(|r| query.matches(r))
            .collect();
        let (requests, next_page_token) = paginate(matching, after.as_ref(), query.page.size());
        Ok(RequestPage {
            requests,
            next_page_token,
        })
    }

    async fn find_approved(
        &self,
        user: &str,
        profile: &str,
        now: Timestamp,
    ) -> Result<Option<AccessRequest>> {
        Ok(crate::model::best_approval(
            self.read()
                .values()
                .filter(|r| r.requester == user && r.profile == profile)
                .cloned(),
            now,
        ))
    }

    async fn claim_expired(&self, limit: usize) -> Result<Vec<AccessRequest>> {
        let now = self.clock.now();
        let mut announced = self
            .announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut due: Vec<AccessRequest> = self
            .read()
            .values()
            .map(|r| r.clone().read_at(now))
            .filter(|r| r.status == RequestStatus::Expired && !announced.contains(&r.id))
            .collect();
        due.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
        due.truncate(limit);
        announced.extend(due.iter().map(|r| r.id.clone()));
        Ok(due)
    }
}
