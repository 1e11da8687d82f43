//! Evaluation semantics: first match, default deny, modes, the
//! require_server conversions, time windows with DST, and v1 compatibility.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sentinel_policy::{
    CompiledPolicy, DecisionEffect, Effect, Mode, PolicyDocument, Request, Timestamp,
};

fn u(s: &str) -> sentinel_policy::Username {
    sentinel_policy::Username::parse(s).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn policy(yaml: &str) -> CompiledPolicy {
    CompiledPolicy::parse(yaml, "test.yaml").unwrap_or_else(|e| {
        panic!(
            "{}",
            e.problems().map(|p| p.to_string()).unwrap_or(e.to_string())
        )
    })
}

fn window(tz: &str, start: &str, end: &str) -> CompiledPolicy {
    policy(&format!(
        r#"version: "1"
rules:
  - name: window
    effect: allow
    conditions:
      time:
        hours: {{ start: "{start}", end: "{end}" }}
        timezone: {tz}
"#
    ))
}

fn allowed(p: &CompiledPolicy, at: &str) -> bool {
    p.evaluate(&Request::new(&u("alice"), "prod", Mode::Cli, ts(at)))
        .is_allowed()
}

#[test]
fn first_matching_rule_decides_and_no_match_denies() {
    let p = policy(
        r#"version: "1"
rules:
  - name: deny-mallory
    effect: deny
    conditions: { users: [mallory] }
  - name: prod-approval
    effect: require_approval
    conditions: { profiles: [prod] }
  - name: dev-all
    effect: allow
    conditions: { profiles: [dev] }
"#,
    );
    let now = ts("2026-01-05T12:00:00Z");
    let d = p.evaluate(&Request::new(&u("mallory"), "dev", Mode::Cli, now));
    assert_eq!(
        (d.effect, d.rule.as_deref(), d.rule_index),
        (DecisionEffect::Deny, Some("deny-mallory"), Some(0))
    );
    let d = p.evaluate(&Request::new(&u("alice"), "prod", Mode::Cli, now));
    assert_eq!(d.effect, DecisionEffect::RequireApproval);
    assert_eq!(d.rule_index, Some(1));
    assert!(d.approval_can_override() && d.breakglass_can_override());
    let d = p.evaluate(&Request::new(&u("alice"), "dev", Mode::Cli, now));
    assert_eq!((d.effect, d.rule_index), (DecisionEffect::Allow, Some(2)));
    let d = p.evaluate(&Request::new(&u("alice"), "staging", Mode::Cli, now));
    assert_eq!(d.effect, DecisionEffect::Deny);
    assert_eq!(d.rule, None);
    assert_eq!(d.rule_index, None);
    assert!(d.reason.contains("no policy rule matched"));
}

#[test]
fn empty_conditions_are_a_catch_all() {
    let p = policy(
        "version: '1'\nrules:\n  - name: all\n    effect: deny\n    conditions: {}\n    reason: closed for the holidays\n",
    );
    let d = p.evaluate(&Request::new(
        &u("anyone"),
        "anything",
        Mode::Server,
        ts("2026-12-25T00:00:00Z"),
    ));
    assert_eq!(d.effect, DecisionEffect::Deny);
    assert_eq!(d.rule.as_deref(), Some("all"));
    assert_eq!(&*d.reason, "closed for the holidays");
}

#[test]
fn modes_restrict_rules() {
    let p = policy(
        r#"version: "1"
rules:
  - name: only-cp
    effect: allow
    conditions: { mode: [credential_process] }
"#,
    );
    let now = ts("2026-01-05T12:00:00Z");
    assert!(
        p.evaluate(&Request::new(&u("a"), "b", Mode::CredentialProcess, now))
            .is_allowed()
    );
    assert!(
        !p.evaluate(&Request::new(&u("a"), "b", Mode::Cli, now))
            .is_allowed()
    );
    assert!(
        !p.evaluate(&Request::new(&u("a"), "b", Mode::Server, now))
            .is_allowed()
    );
}

#[test]
fn require_server_and_require_server_session() {
    let p = policy(
        r#"version: "1"
rules:
  - name: staging-server
    effect: require_server
    conditions: { profiles: [staging] }
    max_server_duration: 30m
  - name: prod-tracked
    effect: require_server_session
    conditions: { profiles: [prod] }
    max_server_duration: 15m
    session_table: sentinel-sessions
"#,
    );
    let now = ts("2026-01-05T12:00:00Z");
    let d = p.evaluate(&Request::new(&u("alice"), "staging", Mode::Cli, now));
    assert_eq!(d.effect, DecisionEffect::Deny);
    assert!(d.requires_server && !d.requires_server_session);
    assert!(!d.breakglass_can_override() && !d.approval_can_override());
    assert!(d.reason.contains("server mode"), "{}", d.reason);
    let d = p.evaluate(&Request::new(&u("alice"), "staging", Mode::Server, now));
    assert_eq!(d.effect, DecisionEffect::Allow);
    assert_eq!(
        d.max_server_duration,
        Some(std::time::Duration::from_secs(1800))
    );

    let d = p.evaluate(&Request::new(&u("alice"), "prod", Mode::Server, now));
    assert_eq!(d.effect, DecisionEffect::Deny, "no session tracking");
    assert!(d.requires_server && d.requires_server_session);
    assert!(!d.breakglass_can_override());
    let d = p.evaluate(
        &Request::new(&u("alice"), "prod", Mode::Server, now).with_session_tracking(true),
    );
    assert_eq!(d.effect, DecisionEffect::Allow);
    assert_eq!(d.rule_effect, Some(Effect::RequireServerSession));
    assert_eq!(d.session_table.as_deref(), Some("sentinel-sessions"));
    assert_eq!(
        d.max_server_duration,
        Some(std::time::Duration::from_secs(900))
    );
    // Tracking without server mode does not count.
    let d =
        p.evaluate(&Request::new(&u("alice"), "prod", Mode::Cli, now).with_session_tracking(true));
    assert_eq!(d.effect, DecisionEffect::Deny);
}

#[test]
fn window_on_new_york_spring_forward_day() {
    // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT.
    let p = window("America/New_York", "09:00", "17:00");
    assert!(!allowed(&p, "2026-03-08T12:59:00Z"), "08:59 EDT");
    assert!(allowed(&p, "2026-03-08T13:00:00Z"), "09:00 EDT");
    assert!(allowed(&p, "2026-03-08T20:59:00Z"), "16:59 EDT");
    assert!(!allowed(&p, "2026-03-08T21:00:00Z"), "17:00 EDT");
    // The day before, the same UTC instants are an hour earlier locally.
    assert!(!allowed(&p, "2026-03-07T13:00:00Z"), "08:00 EST");
    assert!(allowed(&p, "2026-03-07T14:00:00Z"), "09:00 EST");
    assert!(allowed(&p, "2026-03-07T21:59:00Z"), "16:59 EST");
    assert!(!allowed(&p, "2026-03-07T22:00:00Z"), "17:00 EST");
}

#[test]
fn window_on_new_york_fall_back_day() {
    // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST.
    let p = window("America/New_York", "09:00", "17:00");
    assert!(!allowed(&p, "2026-11-01T13:59:00Z"), "08:59 EST");
    assert!(allowed(&p, "2026-11-01T14:00:00Z"), "09:00 EST");
    assert!(allowed(&p, "2026-11-01T21:59:00Z"), "16:59 EST");
    assert!(!allowed(&p, "2026-11-01T22:00:00Z"), "17:00 EST");
    // The repeated hour: 01:30 happens twice, both inside 01:00-02:00.
    let p = window("America/New_York", "01:00", "02:00");
    assert!(allowed(&p, "2026-11-01T05:30:00Z"), "01:30 EDT");
    assert!(allowed(&p, "2026-11-01T06:30:00Z"), "01:30 EST");
    assert!(!allowed(&p, "2026-11-01T07:00:00Z"), "02:00 EST");
}

#[test]
fn window_in_the_skipped_hour_never_matches_that_day() {
    // 02:00-03:00 does not exist on 2026-03-08 in New York.
    let p = window("America/New_York", "02:00", "03:00");
    assert!(!allowed(&p, "2026-03-08T06:59:59Z"), "01:59:59 EST");
    assert!(!allowed(&p, "2026-03-08T07:00:00Z"), "03:00 EDT");
    assert!(allowed(&p, "2026-03-09T06:30:00Z"), "02:30 EDT next day");
}

#[test]
fn window_on_berlin_dst_days() {
    let p = window("Europe/Berlin", "09:00", "17:00");
    // 2026-03-29: 02:00 CET -> 03:00 CEST (UTC+2).
    assert!(!allowed(&p, "2026-03-29T06:59:00Z"), "08:59 CEST");
    assert!(allowed(&p, "2026-03-29T07:00:00Z"), "09:00 CEST");
    assert!(allowed(&p, "2026-03-29T14:59:00Z"), "16:59 CEST");
    assert!(!allowed(&p, "2026-03-29T15:00:00Z"), "17:00 CEST");
    // 2026-10-25: 03:00 CEST -> 02:00 CET (UTC+1).
    assert!(!allowed(&p, "2026-10-25T07:59:00Z"), "08:59 CET");
    assert!(allowed(&p, "2026-10-25T08:00:00Z"), "09:00 CET");
    assert!(allowed(&p, "2026-10-25T15:59:00Z"), "16:59 CET");
    assert!(!allowed(&p, "2026-10-25T16:00:00Z"), "17:00 CET");
}

#[test]
fn windows_wrap_past_midnight() {
    let p = window("UTC", "22:00", "06:00");
    assert!(!allowed(&p, "2026-01-05T21:59:00Z"));
    assert!(allowed(&p, "2026-01-05T22:00:00Z"));
    assert!(allowed(&p, "2026-01-05T23:59:00Z"));
    assert!(allowed(&p, "2026-01-06T00:00:00Z"));
    assert!(allowed(&p, "2026-01-06T05:59:00Z"));
    assert!(!allowed(&p, "2026-01-06T06:00:00Z"));
}

/// A window on `days` from `start` to `end` in `tz`.
fn days_window(tz: &str, days: &str, start: &str, end: &str) -> CompiledPolicy {
    policy(&format!(
        r#"version: "1"
rules:
  - name: window
    effect: allow
    conditions:
      time:
        days: [{days}]
        hours: {{ start: "{start}", end: "{end}" }}
        timezone: {tz}
"#
    ))
}

/// Minutes allowed in `[from, to)`, stepping one minute.
fn minutes_allowed(p: &CompiledPolicy, from: &str, to: &str) -> i64 {
    let (mut t, end) = (ts(from), ts(to));
    let mut n = 0;
    while t < end {
        n += i64::from(allowed_at(p, t));
        t = t.checked_add(jiff::SignedDuration::from_mins(1)).unwrap();
    }
    n
}

fn allowed_at(p: &CompiledPolicy, t: Timestamp) -> bool {
    p.evaluate(&Request::new(&u("alice"), "prod", Mode::Cli, t))
        .is_allowed()
}

#[test]
fn overnight_window_belongs_to_the_day_it_opens() {
    // 2026-01-09 is a Friday: Friday night into Saturday morning.
    let p = days_window("UTC", "friday", "22:00", "06:00");
    assert!(!allowed(&p, "2026-01-08T23:00:00Z"), "Thursday night");
    assert!(
        !allowed(&p, "2026-01-09T05:00:00Z"),
        "Friday early morning is Thursday's night"
    );
    assert!(!allowed(&p, "2026-01-09T21:59:00Z"), "Friday 21:59");
    assert!(allowed(&p, "2026-01-09T22:00:00Z"), "Friday 22:00");
    assert!(allowed(&p, "2026-01-09T23:59:59Z"), "Friday 23:59:59");
    assert!(allowed(&p, "2026-01-10T00:00:00Z"), "Saturday 00:00");
    assert!(allowed(&p, "2026-01-10T05:59:59Z"), "Saturday 05:59:59");
    assert!(!allowed(&p, "2026-01-10T06:00:00Z"), "Saturday 06:00");
    assert!(!allowed(&p, "2026-01-10T22:00:00Z"), "Saturday night");
    assert_eq!(
        minutes_allowed(&p, "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"),
        8 * 60,
        "one eight-hour night a week"
    );
    // The morning after a Sunday night is Monday's, across the week boundary.
    let p = days_window("UTC", "sunday", "23:00", "01:00");
    assert!(allowed(&p, "2026-01-12T00:30:00Z"), "Monday 00:30");
    assert!(!allowed(&p, "2026-01-11T00:30:00Z"), "Sunday 00:30");
}

#[test]
fn overnight_window_in_the_window_zone() {
    // Friday 22:00 in New York (EST) is Saturday 03:00 UTC.
    let p = days_window("America/New_York", "friday", "22:00", "06:00");
    assert!(allowed(&p, "2026-01-10T03:00:00Z"), "Friday 22:00 EST");
    assert!(allowed(&p, "2026-01-10T10:59:00Z"), "Saturday 05:59 EST");
    assert!(!allowed(&p, "2026-01-10T11:00:00Z"), "Saturday 06:00 EST");
    assert!(!allowed(&p, "2026-01-09T10:00:00Z"), "Friday 05:00 EST");
}

#[test]
fn overnight_window_on_a_spring_forward_night() {
    // Saturday 2026-03-28 into Sunday: Berlin skips 02:00-03:00 (CET -> CEST).
    let p = days_window("Europe/Berlin", "saturday", "22:00", "06:00");
    assert!(!allowed(&p, "2026-03-28T20:59:00Z"), "Saturday 21:59 CET");
    assert!(allowed(&p, "2026-03-28T21:00:00Z"), "Saturday 22:00 CET");
    assert!(allowed(&p, "2026-03-29T00:59:59Z"), "Sunday 01:59:59 CET");
    assert!(allowed(&p, "2026-03-29T01:00:00Z"), "Sunday 03:00 CEST");
    assert!(allowed(&p, "2026-03-29T03:59:00Z"), "Sunday 05:59 CEST");
    assert!(!allowed(&p, "2026-03-29T04:00:00Z"), "Sunday 06:00 CEST");
    assert_eq!(
        minutes_allowed(&p, "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z"),
        7 * 60,
        "the night is an hour shorter"
    );
}

#[test]
fn overnight_window_on_a_fall_back_night() {
    // Saturday 2026-10-24 into Sunday: Berlin repeats 02:00-03:00 (CEST -> CET).
    let p = days_window("Europe/Berlin", "saturday", "22:00", "06:00");
    assert!(!allowed(&p, "2026-10-24T19:59:00Z"), "Saturday 21:59 CEST");
    assert!(allowed(&p, "2026-10-24T20:00:00Z"), "Saturday 22:00 CEST");
    assert!(allowed(&p, "2026-10-25T00:30:00Z"), "Sunday 02:30 CEST");
    assert!(allowed(&p, "2026-10-25T01:30:00Z"), "Sunday 02:30 CET");
    assert!(allowed(&p, "2026-10-25T04:59:00Z"), "Sunday 05:59 CET");
    assert!(!allowed(&p, "2026-10-25T05:00:00Z"), "Sunday 06:00 CET");
    assert_eq!(
        minutes_allowed(&p, "2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z"),
        9 * 60,
        "the night is an hour longer"
    );
}

#[test]
fn window_opening_in_the_skipped_hour_opens_at_the_jump() {
    // New York, Sunday 2026-03-08: 01:59 EST is followed by 03:00 EDT. A
    // start of 02:30 does not exist that night; the window opens when the
    // clock jumps past it.
    let p = days_window("America/New_York", "sunday", "02:30", "06:00");
    assert!(!allowed(&p, "2026-03-08T06:59:59Z"), "01:59:59 EST");
    assert!(allowed(&p, "2026-03-08T07:00:00Z"), "03:00 EDT");
    assert!(allowed(&p, "2026-03-08T09:59:00Z"), "05:59 EDT");
    assert!(!allowed(&p, "2026-03-08T10:00:00Z"), "06:00 EDT");
    // A week later it opens at 02:30 as usual.
    assert!(!allowed(&p, "2026-03-15T06:29:00Z"), "02:29 EDT");
    assert!(allowed(&p, "2026-03-15T06:30:00Z"), "02:30 EDT");
    // An overnight window from Saturday whose end is skipped closes at the
    // jump.
    let p = days_window("America/New_York", "saturday", "23:00", "02:30");
    assert!(allowed(&p, "2026-03-08T04:00:00Z"), "Saturday 23:00 EST");
    assert!(allowed(&p, "2026-03-08T06:59:59Z"), "Sunday 01:59:59 EST");
    assert!(!allowed(&p, "2026-03-08T07:00:00Z"), "Sunday 03:00 EDT");
    // A window wholly inside the skipped hour does not happen that night,
    // like 02:00-03:00 (above): the clock never reads those times.
    let p = days_window("America/New_York", "sunday", "02:00", "02:30");
    assert_eq!(
        minutes_allowed(&p, "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z"),
        0
    );
    assert_eq!(
        minutes_allowed(&p, "2026-03-15T00:00:00Z", "2026-03-16T00:00:00Z"),
        30
    );
}

#[test]
fn window_opening_in_the_repeated_hour_opens_once_and_stays_open() {
    // New York, Sunday 2026-11-01: 01:00-02:00 happens twice (EDT, then EST).
    // The window opens at the first 01:30 and has no hole while the clock
    // reads 01:00-01:29 a second time.
    let p = days_window("America/New_York", "sunday", "01:30", "03:00");
    assert!(!allowed(&p, "2026-11-01T05:29:00Z"), "01:29 EDT");
    assert!(allowed(&p, "2026-11-01T05:30:00Z"), "01:30 EDT");
    assert!(allowed(&p, "2026-11-01T06:00:00Z"), "01:00 EST");
    assert!(allowed(&p, "2026-11-01T06:29:00Z"), "01:29 EST");
    assert!(allowed(&p, "2026-11-01T07:59:00Z"), "02:59 EST");
    assert!(!allowed(&p, "2026-11-01T08:00:00Z"), "03:00 EST");
    // An overnight window ending at 01:30 closes at the first 01:30.
    let p = days_window("America/New_York", "saturday", "22:00", "01:30");
    assert!(allowed(&p, "2026-11-01T05:29:00Z"), "Sunday 01:29 EDT");
    assert!(!allowed(&p, "2026-11-01T05:30:00Z"), "Sunday 01:30 EDT");
    assert!(!allowed(&p, "2026-11-01T06:00:00Z"), "Sunday 01:00 EST");
}

#[test]
fn days_use_the_local_date() {
    let p = policy(
        r#"version: "1"
rules:
  - name: weekdays-tokyo
    effect: allow
    conditions:
      time:
        days: [monday]
        timezone: Asia/Tokyo
"#,
    );
    // Sunday 20:00 UTC is Monday 05:00 in Tokyo.
    assert!(allowed(&p, "2026-01-04T20:00:00Z"));
    // Monday 20:00 UTC is Tuesday in Tokyo.
    assert!(!allowed(&p, "2026-01-05T20:00:00Z"));
}

#[test]
fn rules_with_huge_lists_still_match_exactly() {
    // Enough profile x user pairs to take the residual-check path.
    let profiles: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
    let users: Vec<String> = (0..100).map(|i| format!("u{i}")).collect();
    let p = policy(&format!(
        "version: '1'\nrules:\n  - name: big\n    effect: allow\n    conditions:\n      profiles: [{}]\n      users: [{}]\n",
        profiles.join(", "),
        users.join(", ")
    ));
    let now = ts("2026-01-05T12:00:00Z");
    assert!(
        p.evaluate(&Request::new(&u("u42"), "p99", Mode::Cli, now))
            .is_allowed()
    );
    assert!(
        !p.evaluate(&Request::new(&u("u100"), "p1", Mode::Cli, now))
            .is_allowed()
    );
    assert!(
        !p.evaluate(&Request::new(&u("u1"), "p100", Mode::Cli, now))
            .is_allowed()
    );
}

/// A version 1 document as the earlier Go Sentinel wrote them loads unchanged.
#[test]
fn go_sentinel_v1_document_loads_unchanged() {
    let p = policy(
        r#"version: "1"
rules:
  - name: deny-after-hours
    effect: deny
    conditions:
      profiles:
        - production
      time:
        days:
          - saturday
          - sunday
    reason: "No production access on weekends"
  - name: prod-server-only
    effect: require_server_session
    conditions:
      profiles: [production]
      mode: [server]
    max_server_duration: 1h0m0s
    session_table: sentinel-sessions
    reason: "Production requires tracked server sessions"
  - name: allow-business-hours
    effect: allow
    conditions:
      users:
        - alice
        - bob
      time:
        days: [monday, tuesday, wednesday, thursday, friday]
        hours:
          start: "09:00"
          end: "17:00"
        timezone: America/New_York
  - name: approval-fallback
    effect: require_approval
    conditions:
      profiles: [production]
"#,
    );
    assert_eq!(p.rule_count(), 4);
    let d = p.evaluate(
        &Request::new(
            &u("alice"),
            "production",
            Mode::Server,
            ts("2026-01-05T15:00:00Z"),
        )
        .with_session_tracking(true),
    );
    assert_eq!(d.rule.as_deref(), Some("prod-server-only"));
    assert_eq!(d.effect, DecisionEffect::Allow);
    assert_eq!(
        d.max_server_duration,
        Some(std::time::Duration::from_secs(3600))
    );
    // Unquoted version 1 is accepted as Go's YAML decoder accepts it.
    assert!(CompiledPolicy::parse("version: 1\nrules: [{name: a, effect: allow}]", "x").is_ok());
}

#[test]
fn documents_round_trip_through_json() {
    let text = include_str!("../examples/policies/prod.yaml");
    let doc = PolicyDocument::parse(text, "prod.yaml").unwrap();
    let json = serde_json::to_string(&doc).unwrap();
    let again = PolicyDocument::parse(&json, "prod.json").unwrap();
    assert_eq!(doc, again);
}
