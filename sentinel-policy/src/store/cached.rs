use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::PolicyStore;
use crate::error::Result;
use crate::policy::CompiledPolicy;

/// Most profiles kept before expired entries are swept.
const SWEEP_AT: usize = 4096;

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<CompiledPolicy>)>>>;

/// A cache in front of any [`PolicyStore`].
///
/// - A compiled policy is reused for `ttl`, then read again.
/// - Errors are never cached: the next call asks the backend again.
/// - Concurrent misses for the same profile make one backend call; the
///   other callers wait for its result.
/// - [`list`](PolicyStore::list) is not cached.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use sentinel_policy::{Cached, MemoryPolicyStore, PolicyStore};
/// let store = Cached::new(MemoryPolicyStore::new(), Duration::from_secs(60));
/// assert!(store.get("prod").await.is_err()); // not found, and not cached
/// # });
/// ```
#[derive(Debug)]
pub struct Cached<S> {
    inner: S,
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

impl<S: PolicyStore> Cached<S> {
    /// Caches `inner` for `ttl`.
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Forgets the cached policy of one profile.
    pub fn invalidate(&self, profile: &str) {
        self.lock().remove(profile);
    }

    /// Forgets every cached policy.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn slot(&self, profile: &str) -> Slot {
        let mut slots = self.lock();
        if let Some(slot) = slots.get(profile) {
            return Arc::clone(slot);
        }
        if slots.len() >= SWEEP_AT {
            let now = Instant::now();
            slots.retain(|_, slot| match slot.try_lock() {
                Ok(guard) => matches!(&*guard, Some((at, _)) if now < *at),
                Err(_) => true, // in use
            });
        }
        let slot = Slot::default();
        slots.insert(profile.to_owned(), Arc::clone(&slot));
        slot
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: PolicyStore> PolicyStore for Cached<S> {
    async fn get(&self, profile: &str) -> Result<Arc<CompiledPolicy>> {
        let slot = self.slot(profile);
        let mut guard = slot.lock().await;
        if let Some((until, policy)) = &*guard
            && Instant::now() < *until
        {
            return Ok(Arc::clone(policy));
        }
        *guard = None;
        match self.inner.get(profile).await {
            Ok(policy) => {
                *guard = Some((Instant::now() + self.ttl, Arc::clone(&policy)));
                Ok(policy)
            }
            Err(e) => {
                drop(guard);
                // Do not keep an empty slot for a name that failed.
                let mut slots = self.lock();
                if slots.get(profile).is_some_and(|s| Arc::ptr_eq(s, &slot))
                    && Arc::strong_count(&slot) <= 2
                {
                    slots.remove(profile);
                }
                Err(e)
            }
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        self.inner.list().await
    }

    fn describe(&self) -> String {
        format!("{} (cached {}s)", self.inner.describe(), self.ttl.as_secs())
    }
}
