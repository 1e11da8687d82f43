//! What the in-memory reference stores share: their state behind a lock
//! with the clock, and records by id.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use jiff::Timestamp;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::page::paginate;
use crate::record::{Query, Record, by_expiry};

/// A memory store's state `S`, shared by the store's clones, and the clock
/// it reads time from. A poisoned lock is taken over: every change is made
/// whole before anything that could panic.
pub struct MemoryState<S> {
    state: Arc<RwLock<S>>,
    clock: Arc<dyn Clock>,
}

impl<S> Clone for MemoryState<S> {
    fn clone(&self) -> Self {
        Self {
            state: Arc::clone(&self.state),
            clock: Arc::clone(&self.clock),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for MemoryState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryState")
            .field("state", &self.state)
            .field("clock", &self.clock)
            .finish()
    }
}

impl<S: Default> MemoryState<S> {
    /// An empty state, reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }
}

impl<S> MemoryState<S> {
    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The state, for reading.
    pub fn read(&self) -> RwLockReadGuard<'_, S> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, for changing.
    pub fn write(&self) -> RwLockWriteGuard<'_, S> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The constructors of a memory store, written inside its `impl` block:
/// `new`, on the system clock, and `with_clock`. The store has one field,
/// `state`, a [`MemoryState`].
#[macro_export]
macro_rules! memory_store_constructors {
    () => {
        /// An empty store on the system clock.
        pub fn new() -> Self {
            Self::with_clock(::std::sync::Arc::new($crate::SystemClock))
        }

        /// An empty store reading time from `clock`.
        pub fn with_clock(clock: ::std::sync::Arc<dyn $crate::Clock>) -> Self {
            Self {
                state: $crate::memory::MemoryState::new(clock),
            }
        }
    };
}

/// The records of a memory store by id, and which expired ones
/// `claim_expired` has claimed.
#[derive(Debug, Clone)]
pub struct Records<T> {
    by_id: BTreeMap<String, T>,
    announced: BTreeSet<String>,
}

impl<T> Default for Records<T> {
    fn default() -> Self {
        Self {
            by_id: BTreeMap::new(),
            announced: BTreeSet::new(),
        }
    }
}

impl<T: Record + Clone> Records<T> {
    /// Every record, as stored.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.by_id.values()
    }

    /// Stores `record`; [`Error::Conflict`] if its id exists.
    pub fn insert_new(&mut self, record: &T) -> Result<()> {
        if self.by_id.contains_key(record.id()) {
            return Err(Error::conflict(record.id()));
        }
        self.insert(record.clone());
        Ok(())
    }

    /// Stores `record` under its id.
    pub fn insert(&mut self, record: T) {
        self.by_id.insert(record.id().to_owned(), record);
    }

    /// The record `id` as of `now`; [`Error::NotFound`] if there is none.
    pub fn get(&self, id: &str, now: Timestamp) -> Result<T> {
        self.by_id
            .get(id)
            .map(|r| r.clone().read_at(now))
            .ok_or_else(|| Error::not_found(id))
    }

    /// The stored record `id`, to change; [`Error::NotFound`] if there is
    /// none.
    pub fn get_mut(&mut self, id: &str) -> Result<&mut T> {
        self.by_id.get_mut(id).ok_or_else(|| Error::not_found(id))
    }

    /// One page of the records that, as of `now`, pass `query`.
    pub fn list(&self, query: &impl Query<T>, now: Timestamp) -> Result<(Vec<T>, Option<String>)> {
        let after = query.page().cursor()?;
        let matching: Vec<T> = self
            .by_id
            .values()
            .map(|r| r.clone().read_at(now))
            .filter(|r| query.matches(r))
            .collect();
        Ok(paginate(matching, after.as_ref(), query.page().size()))
    }

    /// Claims up to `limit` records that, as of `now`, are `expired` and were
    /// not claimed before, oldest expiry first.
    pub fn claim_expired(
        &mut self,
        now: Timestamp,
        limit: usize,
        expired: impl Fn(&T) -> bool,
    ) -> Vec<T> {
        let Self { by_id, announced } = self;
        let mut due: Vec<T> = by_id
            .values()
            .filter(|r| !announced.contains(r.id()))
            .map(|r| r.clone().read_at(now))
            .filter(|r| expired(r))
            .collect();
        by_expiry(&mut due);
        due.truncate(limit);
        announced.extend(due.iter().map(|r| r.id().to_owned()));
        due
    }
}
