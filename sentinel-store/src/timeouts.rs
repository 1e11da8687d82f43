//! How long Sentinel waits for a remote service: [`Timeouts`].

use std::time::Duration;

/// Limits on one remote call (AWS or a webhook), so a silent endpoint
/// fails the call instead of hanging it.
///
/// - `connect`: establishing the TCP (and TLS) connection;
/// - `attempt`: one attempt, from sending the request to the end of the
///   answer;
/// - `operation`: the whole call, all retries included.
///
/// The defaults (3 s, 5 s, 12 s) let a credential request answer or fail
/// within about 15 seconds: one silent endpoint costs at most the
/// operation limit. A zero duration is not a valid limit; callers that read
/// limits from a user check them with [`Timeouts::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a connection.
    pub connect: Duration,
    /// Longest wait for one attempt (request sent to answer read).
    pub attempt: Duration,
    /// Longest wait for the whole call, retries included.
    pub operation: Duration,
}

impl Timeouts {
    /// Default [`connect`](Self::connect) limit: 3 s.
    pub const DEFAULT_CONNECT: Duration = Duration::from_secs(3);
    /// Default [`attempt`](Self::attempt) limit: 5 s.
    pub const DEFAULT_ATTEMPT: Duration = Duration::from_secs(5);
    /// Default [`operation`](Self::operation) limit: 12 s.
    pub const DEFAULT_OPERATION: Duration = Duration::from_secs(12);

    /// The defaults: connect 3 s, attempt 5 s, operation 12 s.
    pub const DEFAULT: Self = Self {
        connect: Self::DEFAULT_CONNECT,
        attempt: Self::DEFAULT_ATTEMPT,
        operation: Self::DEFAULT_OPERATION,
    };

    /// The same limit for all three (handy in tests).
    pub const fn all(limit: Duration) -> Self {
        Self {
            connect: limit,
            attempt: limit,
            operation: limit,
        }
    }

    /// Checks that every limit is above zero; the error names the first
    /// one that is not (`connect`, `attempt` or `operation`).
    pub fn validate(&self) -> Result<(), &'static str> {
        for (name, d) in [
            ("connect", self.connect),
            ("attempt", self.attempt),
            ("operation", self.operation),
        ] {
            if d.is_zero() {
                return Err(name);
            }
        }
        Ok(())
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_fit_in_fifteen_seconds() {
        let t = Timeouts::default();
        assert!(t.connect <= t.attempt && t.attempt <= t.operation);
        assert!(t.operation < Duration::from_secs(15));
        assert!(t.validate().is_ok());
        let zero = Timeouts {
            attempt: Duration::ZERO,
            ..t
        };
        assert_eq!(zero.validate(), Err("attempt"));
    }
}
