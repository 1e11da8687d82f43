//! Test support, enabled by the `test-util` feature:
//!
//! - the [`PolicyStore`] conformance suite, run unchanged against every
//!   backend (memory, file, SSM): a backend's tests give a fresh, empty store
//!   and a [`Seed`] that writes documents into the same place the store
//!   reads, then call [`run_all`];
//! - [`reference_decision`], a deliberately naive evaluator written straight
//!   from the spec, against which property tests and fuzz targets check the
//!   compiled one.

// Test-support code: a failed expectation is reported by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;

use crate::document::{Conditions, Effect, Mode, PolicyDocument, TimeWindow, Weekday};
use crate::error::Error;
use crate::policy::{DecisionEffect, Request};
use crate::store::PolicyStore;
use crate::username::Username;

fn u(s: &str) -> Username {
    Username::parse(s).expect("a canonical username")
}

/// Writes raw policy text for a profile where the store under test reads it.
#[async_trait]
pub trait Seed: Send + Sync {
    /// Stores `text` as the policy of `profile`, replacing any previous one.
    async fn put(&self, profile: &str, text: &str);
}

/// A valid document allowing `alice` in every mode.
pub const ALLOW_ALICE: &str = r#"version: "1"
rules:
  - name: alice-allowed
    effect: allow
    conditions:
      users: [alice]
"#;

/// A document denying everyone.
pub const DENY_ALL: &str = r#"version: "1"
rules:
  - name: nobody
    effect: deny
    conditions: {}
"#;

/// A broken document: unknown effect on line 4 and a bad timezone on line 8.
pub const BROKEN: &str = r#"version: "1"
rules:
  - name: broken
    effect: alow
    conditions:
      time:
        hours: { start: "08:00", end: "18:00" }
        timezone: Mars/Olympus
"#;

fn at() -> jiff::Timestamp {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

/// Runs every check in order.
pub async fn run_all(store: &dyn PolicyStore, seed: &dyn Seed) {
    missing_profile_is_not_found(store).await;
    invalid_profile_names_are_refused(store).await;
    get_returns_compiled_policy(store, seed).await;
    broken_document_is_invalid_with_locations(store, seed).await;
    put_replaces(store, seed).await;
    list_is_sorted_and_complete(store, seed).await;
}

/// A profile without a policy is `NotFound`, naming the profile.
pub async fn missing_profile_is_not_found(store: &dyn PolicyStore) {
    match store.get("conformance-missing").await {
        Err(Error::NotFound { profile, help, .. }) => {
            assert_eq!(profile, "conformance-missing");
            assert!(!help.is_empty());
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// Path tricks and empty names never reach the backend.
pub async fn invalid_profile_names_are_refused(store: &dyn PolicyStore) {
    for bad in ["", "../secrets", "a/b", "two words", ".hidden"] {
        match store.get(bad).await {
            Err(Error::InvalidProfile { .. }) => {}
            other => panic!("expected InvalidProfile for {bad:?}, got {other:?}"),
        }
    }
}

/// A stored document comes back compiled and evaluates as written.
pub async fn get_returns_compiled_policy(store: &dyn PolicyStore, seed: &dyn Seed) {
    seed.put("conf-dev", ALLOW_ALICE).await;
    let policy = store.get("conf-dev").await.expect("get conf-dev");
    assert_eq!(policy.rule_count(), 1);
    let d = policy.evaluate(&Request::new(&u("alice"), "conf-dev", Mode::Cli, at()));
    assert_eq!(d.effect, DecisionEffect::Allow);
    assert_eq!(d.rule.as_deref(), Some("alice-allowed"));
    let d = policy.evaluate(&Request::new(&u("bob"), "conf-dev", Mode::Cli, at()));
    assert_eq!(d.effect, DecisionEffect::Deny);
    assert!(d.rule.is_none());
    assert!(
        policy.origin().contains("conf-dev"),
        "origin {:?} should name the profile's document",
        policy.origin()
    );
}

/// A broken document is `Invalid`, with every problem and its line.
pub async fn broken_document_is_invalid_with_locations(store: &dyn PolicyStore, seed: &dyn Seed) {
    seed.put("conf-broken", BROKEN).await;
    match store.get("conf-broken").await {
        Err(Error::Invalid { origin, problems }) => {
            assert!(origin.contains("conf-broken"), "origin {origin:?}");
            let lines: Vec<_> = problems
                .iter()
                .map(|p| (p.path.as_str(), p.location.map(|l| l.line)))
                .collect();
            assert!(
                lines.contains(&("rules[0].effect", Some(4))),
                "problems: {problems:#?}"
            );
            assert!(
                lines.contains(&("rules[0].conditions.time.timezone", Some(8))),
                "problems: {problems:#?}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Writing again replaces the document (the store itself does not cache).
pub async fn put_replaces(store: &dyn PolicyStore, seed: &dyn Seed) {
    seed.put("conf-swap", ALLOW_ALICE).await;
    let d = store
        .get("conf-swap")
        .await
        .unwrap()
        .evaluate(&Request::new(&u("alice"), "conf-swap", Mode::Cli, at()));
    assert!(d.is_allowed());
    seed.put("conf-swap", DENY_ALL).await;
    let d = store
        .get("conf-swap")
        .await
        .unwrap()
        .evaluate(&Request::new(&u("alice"), "conf-swap", Mode::Cli, at()));
    assert_eq!(d.effect, DecisionEffect::Deny);
    assert_eq!(d.rule.as_deref(), Some("nobody"));
}

/// `list` returns every profile, sorted, across backend pages.
pub async fn list_is_sorted_and_complete(store: &dyn PolicyStore, seed: &dyn Seed) {
    // More than one page of GetParametersByPath (10 per page).
    let mut expected: Vec<String> = (0..23).map(|i| format!("conf-list-{i:02}")).collect();
    for name in expected.iter().rev() {
        seed.put(name, ALLOW_ALICE).await;
    }
    let listed = store.list().await.expect("list");
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(listed, sorted, "list must be sorted without duplicates");
    for name in ["conf-dev", "conf-broken", "conf-swap"] {
        expected.push(name.to_owned());
    }
    for name in &expected {
        assert!(listed.contains(name), "{name} missing from {listed:?}");
    }
}

/// The spec, read literally (the policy language in the crate README): rules are tried in order, the first
/// whose conditions all hold decides, no match denies. No index, no
/// precomputation. Returns the effect and the deciding rule's position.
pub fn reference_decision(
    doc: &PolicyDocument,
    req: &Request<'_>,
) -> (DecisionEffect, Option<usize>) {
    for (i, rule) in doc.rules.iter().enumerate() {
        if !reference_conditions_hold(&rule.conditions, req) {
            continue;
        }
        let server = req.mode == Mode::Server;
        let effect = match rule.effect {
            Effect::Allow => DecisionEffect::Allow,
            Effect::Deny => DecisionEffect::Deny,
            Effect::RequireApproval => DecisionEffect::RequireApproval,
            Effect::RequireServer if server => DecisionEffect::Allow,
            Effect::RequireServerSession if server && req.session_tracking => DecisionEffect::Allow,
            Effect::RequireServer | Effect::RequireServerSession => DecisionEffect::Deny,
        };
        return (effect, Some(i));
    }
    (DecisionEffect::Deny, None)
}

/// Whether every present condition holds for the request, computed without
/// the compiled index.
pub fn reference_conditions_hold(c: &Conditions, req: &Request<'_>) -> bool {
    (c.profiles.is_empty() || c.profiles.iter().any(|p| p == req.profile))
        && (c.users.is_empty() || c.users.iter().any(|u| u == req.user.as_str()))
        && (c.mode.is_empty() || c.mode.contains(&req.mode))
        && c.time
            .as_ref()
            .is_none_or(|w| reference_window_holds(w, req.time))
}

/// Whether the window holds at `t`, computed without the evaluator's
/// shortcuts: the window opened on a listed day `D` (any day when none are
/// listed) runs from `D` at `start` to `end` on `D`, or on `D + 1` when
/// `end <= start`, or over the whole of `D` without `hours`; each end is the
/// first instant at which the clock of the window's zone (UTC when absent)
/// reads that date and time or later. `start == end` is empty.
pub fn reference_window_holds(w: &TimeWindow, t: jiff::Timestamp) -> bool {
    let tz = match &w.timezone {
        Some(name) => jiff::tz::TimeZone::get(name.as_str()).expect("validated zone"),
        None => jiff::tz::TimeZone::UTC,
    };
    let (start, end) = match &w.hours {
        None => (0, 0),
        Some(h) if h.start == h.end => return false,
        Some(h) => (h.start.minutes(), h.end.minutes()),
    };
    let at = |day: jiff::civil::Date, minute: u16| {
        day.at(
            i8::try_from(minute / 60).expect("hour"),
            i8::try_from(minute % 60).expect("minute"),
            0,
            0,
        )
    };
    let local_date = t.to_zoned_datetime(tz.clone()).date();
    // Every day a window holding `t` could have opened on, and then some.
    let mut day = local_date
        .yesterday()
        .and_then(|d| d.yesterday())
        .expect("date in range");
    for _ in 0..5 {
        let listed = w.days.is_empty()
            || w.days.iter().any(|d| match d {
                Weekday::Monday => day.weekday() == jiff::civil::Weekday::Monday,
                Weekday::Tuesday => day.weekday() == jiff::civil::Weekday::Tuesday,
                Weekday::Wednesday => day.weekday() == jiff::civil::Weekday::Wednesday,
                Weekday::Thursday => day.weekday() == jiff::civil::Weekday::Thursday,
                Weekday::Friday => day.weekday() == jiff::civil::Weekday::Friday,
                Weekday::Saturday => day.weekday() == jiff::civil::Weekday::Saturday,
                Weekday::Sunday => day.weekday() == jiff::civil::Weekday::Sunday,
            });
        if listed {
            let close_day = if end <= start {
                day.tomorrow().expect("date in range")
            } else {
                day
            };
            let open = first_reading(&tz, at(day, start));
            let close = first_reading(&tz, at(close_day, end));
            if open <= t && t < close {
                return true;
            }
        }
        day = day.tomorrow().expect("date in range");
    }
    false
}

/// The earliest instant at which the clock of `tz` reads `local` or later.
///
/// The clock runs at real speed between the zone's transitions and jumps
/// at them, so that instant is either a transition or `local` read at one
/// of the offsets in force: try them all, within two days of `local`.
fn first_reading(tz: &jiff::tz::TimeZone, local: jiff::civil::DateTime) -> jiff::Timestamp {
    let two_days = jiff::SignedDuration::from_hours(48);
    let approx = jiff::tz::Offset::UTC.to_timestamp(local).expect("in range");
    let lo = approx.checked_sub(two_days).expect("in range");
    let hi = approx.checked_add(two_days).expect("in range");
    let mut offsets = vec![tz.to_offset(lo)];
    let mut candidates = Vec::new();
    for tr in tz.following(lo).take_while(|tr| tr.timestamp() < hi) {
        candidates.push(tr.timestamp());
        offsets.push(tr.offset());
    }
    candidates.extend(offsets.iter().filter_map(|o| o.to_timestamp(local).ok()));
    candidates
        .into_iter()
        .filter(|&c| tz.to_datetime(c) >= local)
        .min()
        .expect("the clock reads `local` within two days")
}
