use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{PolicyStore, check_profile_name};
use crate::error::Result;
use crate::policy::CompiledPolicy;

/// Default number of profiles kept by [`Cached::new`].
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

type Fetch = Arc<OnceCell<Result<Arc<CompiledPolicy>>>>;

#[derive(Default)]
struct Slot {
    /// The cached policy and when it stops being served (`None`: never).
    ready: Option<(Option<Instant>, Arc<CompiledPolicy>)>,
    /// A backend call in progress; every caller that misses meanwhile
    /// waits for it and shares its result, success or error.
    fetch: Option<Fetch>,
}

impl Slot {
    fn fresh(&self, now: Instant) -> Option<&Arc<CompiledPolicy>> {
        match &self.ready {
            Some((until, policy)) if until.is_none_or(|u| now < u) => Some(policy),
            _ => None,
        }
    }
}

/// A cache in front of any [`PolicyStore`].
///
/// - A compiled policy is reused for `ttl`, then read again.
/// - Errors are never cached: the next call after a failed one asks the
///   backend again.
/// - Concurrent misses for the same profile make one backend call; every
///   caller waiting on it gets its result, including its error.
/// - At most `capacity` profiles are kept; beyond that the entry closest to
///   expiry is dropped. Profile names are checked before anything is kept.
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
pub struct Cached<S> {
    inner: S,
    ttl: Duration,
    capacity: usize,
    slots: Mutex<HashMap<String, Slot>>,
}

impl<S: fmt::Debug> fmt::Debug for Cached<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner)
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("entries", &self.slots.lock().map_or(0, |m| m.len()))
            .finish()
    }
}

impl<S: PolicyStore> Cached<S> {
    /// Caches `inner` for `ttl` ([`Duration::MAX`] caches until
    /// invalidated), keeping up to [`DEFAULT_CACHE_CAPACITY`] profiles.
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self::with_capacity(inner, ttl, DEFAULT_CACHE_CAPACITY)
    }

    /// Like [`new`](Self::new) with a bound on the number of profiles kept
    /// (at least 1).
    pub fn with_capacity(inner: S, ttl: Duration, capacity: usize) -> Self {
        Self {
            inner,
            ttl,
            capacity: capacity.max(1),
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
        // Every critical section leaves the map consistent, so a poisoned
        // lock (a panic elsewhere while holding it) is safe to reuse.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns the fresh policy, or the fetch to wait on (joining one in
    /// progress or starting a new one).
    fn lookup(&self, profile: &str) -> std::result::Result<Arc<CompiledPolicy>, Fetch> {
        let now = Instant::now();
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(profile) {
            if let Some(policy) = slot.fresh(now) {
                return Ok(Arc::clone(policy));
            }
            let fetch = slot.fetch.get_or_insert_with(Fetch::default);
            return Err(Arc::clone(fetch));
        }
        if slots.len() >= self.capacity {
            evict(&mut slots, now);
        }
        let fetch = Fetch::default();
        slots.insert(
            profile.to_owned(),
            Slot {
                ready: None,
                fetch: Some(Arc::clone(&fetch)),
            },
        );
        Err(fetch)
    }

    /// Records the outcome of `fetch` (once, by whichever caller gets here first).
    fn settle(&self, profile: &str, fetch: &Fetch, result: &Result<Arc<CompiledPolicy>>) {
        let mut slots = self.lock();
        let Some(slot) = slots.get_mut(profile) else {
            return;
        };
        if !slot.fetch.as_ref().is_some_and(|f| Arc::ptr_eq(f, fetch)) {
            return; // already settled, or invalidated and refetched
        }
        slot.fetch = None;
        match result {
            Ok(policy) => {
                let until = Instant::now().checked_add(self.ttl);
                slot.ready = Some((until, Arc::clone(policy)));
            }
            Err(_) => {
                slot.ready = None;
                slots.remove(profile);
            }
        }
    }
}

/// Makes room: drops expired idle entries, else the idle entry closest to
/// expiry. Entries with a fetch in progress stay.
fn evict(slots: &mut HashMap<String, Slot>, now: Instant) {
    slots.retain(|_, s| s.fetch.is_some() || s.fresh(now).is_some());
    let victim = slots
        .iter()
        .filter(|(_, s)| s.fetch.is_none())
        .min_by_key(|(_, s)| s.ready.as_ref().and_then(|(until, _)| *until))
        .map(|(k, _)| k.clone());
    if let Some(k) = victim {
        slots.remove(&k);
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: PolicyStore> PolicyStore for Cached<S> {
    async fn get(&self, profile: &str) -> Result<Arc<CompiledPolicy>> {
        check_profile_name(profile)?;
        let fetch = match self.lookup(profile) {
            Ok(policy) => return Ok(policy),
            Err(fetch) => fetch,
        };
        // One caller runs the backend call; the others wait for it. If that
        // caller is cancelled, a waiter takes over.
        let result = fetch.get_or_init(|| self.inner.get(profile)).await.clone();
        self.settle(profile, &fetch, &result);
        result
    }

    async fn list(&self) -> Result<Vec<String>> {
        self.inner.list().await
    }

    fn describe(&self) -> String {
        if self.ttl == Duration::MAX {
            format!("{} (cached)", self.inner.describe())
        } else {
            format!("{} (cached {}s)", self.inner.describe(), self.ttl.as_secs())
        }
    }
}
