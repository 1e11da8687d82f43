//! One module per command group.

pub mod audit;
pub mod breakglass;
pub mod completions;
pub mod config;
pub mod credentials;
pub mod exec;
pub mod policy;
pub mod requests;
pub mod sessions;
pub mod whoami;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sentinel_policy::PolicyDuration;

/// clap value parser for durations like `1h`, `30m`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d: PolicyDuration = s.parse().map_err(|e| format!("{e}"))?;
    if d.get().is_zero() {
        return Err(format!("invalid duration \"{s}\": must be more than 0s"));
    }
    Ok(d.get())
}

/// clap value parser for a point in time: RFC 3339 (`2026-03-02T09:00:00Z`)
/// or a duration back from now (`24h` = 24 hours ago).
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let ago: PolicyDuration = s.parse().map_err(|_| {
        format!("invalid time \"{s}\": use RFC 3339 (2026-03-02T09:00:00Z) or a duration ago (24h)")
    })?;
    SignedDuration::try_from(ago.get())
        .ok()
        .and_then(|d| Timestamp::now().checked_sub(d).ok())
        .ok_or_else(|| format!("invalid time \"{s}\": too far back"))
}

/// clap value parser for an RFC 3339 timestamp.
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
    s.parse::<Timestamp>().map_err(|_| {
        format!("invalid time \"{s}\": use RFC 3339 with an offset, e.g. 2026-03-02T09:00:00Z")
    })
}

/// A clap value parser from a library `parse(&str) -> Option<T>` and the
/// list of allowed values.
pub fn one_of<T: 'static>(
    parse: fn(&str) -> Option<T>,
    allowed: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |s| parse(s).ok_or_else(|| format!("\"{s}\" is not one of {allowed}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2026-03-02T09:00:00Z").unwrap(),
            "2026-03-02T09:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(parse_time("24h").unwrap() < Timestamp::now());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_rfc3339("2026-03-02").is_err());
    }
}
