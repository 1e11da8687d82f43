//! Value types used inside policy documents: durations, clock times, time
//! zones and the document version. Each validates itself when it is
//! deserialized, so a bad value is reported with its path and location.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The smallest duration STS issues credentials for (15 minutes).
pub const STS_MIN_DURATION: Duration = Duration::from_secs(900);
/// The largest duration STS issues credentials for (12 hours, when the role allows it).
pub const STS_MAX_DURATION: Duration = Duration::from_secs(12 * 3600);

/// A span of time written like `15m`, `1h30m`, `90s`, `2h` or `7d`.
///
/// Days and weeks are 24 and 168 hours. Months and years are refused: their
/// length depends on the calendar.
///
/// Go-style duration strings of the earlier Sentinel (`1h30m0s`) and ISO 8601
/// (`PT15M`) are accepted too. A bare number is rejected because its unit
/// would be a guess.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyDuration(Duration);

impl PolicyDuration {
    /// Wraps a standard duration.
    pub const fn new(d: Duration) -> Self {
        Self(d)
    }

    /// The duration as a standard duration.
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for PolicyDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl From<PolicyDuration> for Duration {
    fn from(d: PolicyDuration) -> Self {
        d.0
    }
}

impl fmt::Debug for PolicyDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyDuration({self})")
    }
}

impl fmt::Display for PolicyDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.as_secs();
        let nanos = self.0.subsec_nanos();
        if secs == 0 && nanos == 0 {
            return f.write_str("0s");
        }
        let h = secs / 3600;
        secs %= 3600;
        let m = secs / 60;
        secs %= 60;
        if h > 0 && h.is_multiple_of(24) && m == 0 && secs == 0 && nanos == 0 {
            return write!(f, "{}d", h / 24);
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if secs > 0 || nanos > 0 {
            if nanos > 0 {
                let frac = format!("{nanos:09}");
                write!(f, "{secs}.{}s", frac.trim_end_matches('0'))?;
            } else {
                write!(f, "{secs}s")?;
            }
        }
        Ok(())
    }
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration \"{input}\": {reason}")]
pub struct DurationError {
    input: String,
    reason: String,
}

impl FromStr for PolicyDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| DurationError {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(err("write a number with a unit, e.g. \"15m\" or \"1h30m\""));
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                "a bare number has no unit; write e.g. \"900s\", \"15m\" or \"1h\"",
            ));
        }
        // Days and weeks count as 24 h and 7 d: a quota window is a span of
        // elapsed time, not a calendar period.
        let signed: jiff::SignedDuration = t
            .parse::<jiff::SignedDuration>()
            .ok()
            .or_else(|| {
                t.parse::<jiff::Span>()
                    .ok()
                    .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok())
            })
            .ok_or_else(|| {
                err("expected a number with a unit (w, d, h, m, s), e.g. \"15m\", \"1h30m\" or \"7d\"")
            })?;
        if signed.is_negative() {
            return Err(err("durations cannot be negative"));
        }
        Duration::try_from(signed)
            .map(Self)
            .map_err(|_| err("out of range"))
    }
}

impl Serialize for PolicyDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PolicyDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = PolicyDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"15m\" or \"1h30m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "invalid duration {v}: a bare number has no unit; write e.g. \"900s\", \"15m\" or \"1h\""
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.visit_u64(v.unsigned_abs())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "invalid duration {v}: a bare number has no unit; write e.g. \"90s\" or \"1.5h\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for PolicyDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration with units, e.g. \"15m\", \"1h30m\", \"90s\", \"7d\".",
            "pattern": "^(P[0-9WDTHMS.,]+|\\s*([0-9]+(\\.[0-9]+)?\\s*[a-z]+\\s*,?\\s*)+)$",
            "examples": ["15m", "1h", "1h30m"]
        })
    }
}

/// A wall-clock time of day written `HH:MM` (24-hour), e.g. `08:00` or `17:30`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime {
    minutes: u16,
}

impl ClockTime {
    /// A time from hour (0–23) and minute (0–59); `None` when out of range.
    pub const fn new(hour: u8, minute: u8) -> Option<Self> {
        if hour < 24 && minute < 60 {
            Some(Self {
                minutes: hour as u16 * 60 + minute as u16,
            })
        } else {
            None
        }
    }

    /// Minutes since midnight (0–1439).
    pub const fn minutes(self) -> u16 {
        self.minutes
    }
}

impl fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClockTime({self})")
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

/// Why a clock time was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time \"{0}\": expected HH:MM in 24-hour form, from 00:00 to 23:59, e.g. \"08:00\""
)]
pub struct ClockTimeError(String);

impl FromStr for ClockTime {
    type Err = ClockTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ClockTimeError(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' {
            return Err(err());
        }
        let two = |x: u8, y: u8| -> Option<u8> {
            (x.is_ascii_digit() && y.is_ascii_digit()).then(|| (x - b'0') * 10 + (y - b'0'))
        };
        let h = two(b[0], b[1]).ok_or_else(err)?;
        let m = two(b[3], b[4]).ok_or_else(err)?;
        ClockTime::new(h, m).ok_or_else(err)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for ClockTime {
    fn schema_name() -> Cow<'static, str> {
        "ClockTime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Time of day, HH:MM in 24-hour form.",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "examples": ["08:00", "18:30"]
        })
    }
}

/// An IANA time zone name such as `Europe/Berlin`, checked against the tz
/// database bundled into Sentinel (the host's zoneinfo is never consulted,
/// so a policy means the same on every machine).
#[derive(Clone)]
pub struct TimeZoneName {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl TimeZoneName {
    /// The name as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The resolved time zone.
    pub fn time_zone(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }
}

impl PartialEq for TimeZoneName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for TimeZoneName {}

impl fmt::Debug for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZoneName({:?})", self.name)
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Why a time zone name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown time zone \"{0}\": use an IANA name such as \"UTC\", \"Europe/Berlin\" or \"America/New_York\""
)]
pub struct TimeZoneError(String);

impl FromStr for TimeZoneName {
    type Err = TimeZoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only real IANA names: reject POSIX TZ strings and paths.
        if s.is_empty() || s.len() > 64 || s.starts_with('/') || s.contains("..") {
            return Err(TimeZoneError(s.to_owned()));
        }
        let tz = jiff::tz::db()
            .get(s)
            .map_err(|_| TimeZoneError(s.to_owned()))?;
        Ok(Self {
            name: s.to_owned(),
            tz,
        })
    }
}

impl Serialize for TimeZoneName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for TimeZoneName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for TimeZoneName {
    fn schema_name() -> Cow<'static, str> {
        "TimeZone".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "IANA time zone name; UTC when absent.",
            "minLength": 1,
            "examples": ["UTC", "Europe/Berlin", "America/New_York"]
        })
    }
}

/// Version of the policy document format. Only `"1"` exists; version 1
/// documents of the earlier Go Sentinel load unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Version {
    /// Format version 1.
    #[default]
    V1,
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("1")
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the version \"1\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Version, E> {
                match v {
                    "1" => Ok(Version::V1),
                    _ => Err(E::custom(format!(
                        "unsupported version \"{v}\": this Sentinel reads version \"1\""
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Version, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Version {
    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Policy format version. Only \"1\" exists.",
            "enum": ["1", 1]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        for (s, secs) in [
            ("15m", 900),
            ("1h30m", 5400),
            ("1h30m0s", 5400),
            ("90s", 90),
            ("2h", 7200),
            ("1.5h", 5400),
            ("PT15M", 900),
            ("1d", 86400),
            ("7d", 604_800),
            ("1w", 604_800),
            ("1d12h", 129_600),
        ] {
            let d: PolicyDuration = s.parse().unwrap();
            assert_eq!(d.get(), Duration::from_secs(secs), "{s}");
        }
        assert_eq!(
            PolicyDuration::new(Duration::from_secs(5400)).to_string(),
            "1h30m"
        );
        for bad in ["", "15", "abc", "-5m", "15 parsecs", "1y", "2mo"] {
            assert!(bad.parse::<PolicyDuration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn clock_times() {
        assert_eq!("08:00".parse::<ClockTime>().unwrap().minutes(), 480);
        assert_eq!("23:59".parse::<ClockTime>().unwrap().to_string(), "23:59");
        for bad in ["24:00", "8:00", "08:60", "0800", "08:0a", "", "08:00:00"] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones_come_from_bundled_db() {
        assert!("Europe/Berlin".parse::<TimeZoneName>().is_ok());
        assert!("UTC".parse::<TimeZoneName>().is_ok());
        assert!("Mars/Olympus".parse::<TimeZoneName>().is_err());
        assert!("/etc/localtime".parse::<TimeZoneName>().is_err());
    }
}
