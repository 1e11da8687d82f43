//! Where stores get the time from.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;

/// Where stores get the time from; tests substitute a [`ManualClock`].
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to. Clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    /// Moves the clock forward (a step too large for a timestamp is ignored).
    pub fn advance(&self, by: std::time::Duration) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Ok(span) = jiff::SignedDuration::try_from(by)
            && let Ok(next) = t.checked_add(span)
        {
            *t = next;
        }
    }

    /// Sets the clock to `at` (also backwards).
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new("2026-03-02T09:00:00Z".parse().unwrap());
        let shared = c.clone();
        c.advance(std::time::Duration::from_secs(90));
        assert_eq!(shared.now().to_string(), "2026-03-02T09:01:30Z");
        c.advance(std::time::Duration::MAX);
        assert_eq!(shared.now().to_string(), "2026-03-02T09:01:30Z");
        c.set("2026-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(shared.now().to_string(), "2026-01-01T00:00:00Z");
    }
}
