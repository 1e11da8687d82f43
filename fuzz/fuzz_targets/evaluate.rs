//! Small structured policies and requests through the compiled evaluator,
//! checked against a naive reference evaluator (first rule in document order
//! whose conditions all hold; no match denies).
//!
//! Names come from a tiny alphabet so that profiles and users of different
//! rules collide and the index of `CompiledPolicy` (any / by profile / by
//! user / by pair, merged in rule order) is exercised. A rare "wide" rule
//! lists 65 profiles x 65 users, more than the pair index takes, so its users
//! are checked at evaluation time instead.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sentinel_policy::conformance::reference_decision;
use sentinel_policy::{
    ClockTime, CompiledPolicy, Conditions, Decision, DecisionEffect, Effect, HourRange, Mode,
    PolicyDocument, PolicyDuration, Request, Rule, TimeWindow, TimeZoneName, Timestamp, Username,
    Version,
    Weekday,
};

const MAX_RULES: usize = 16;
const MAX_NAMES: usize = 4;
const MAX_REQUESTS: usize = 8;

/// Valid names, shared by profiles and users.
const NAMES: [&str; 5] = ["alice", "bob", "dev", "prod", "x"];
/// Names validation rejects; drawn rarely.
const BAD_NAMES: [&str; 3] = ["", " alice", "a\u{7}b"];
/// Extra names only requests use.
const REQUEST_ONLY: [&str; 3] = ["nobody", "w7", "w64"];
/// Names of the wide rule: 65 x 65 = 4225 pairs, above the pair-index limit.
const WIDE: usize = 65;

const ZONES: [&str; 9] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
];

const EFFECTS: [Effect; 5] = [
    Effect::Allow,
    Effect::Deny,
    Effect::RequireApproval,
    Effect::RequireServer,
    Effect::RequireServerSession,
];

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// 2000-01-01T00:00:00Z.
const Y2K: i64 = 946_684_800;
/// About 50 years in seconds.
const FIFTY_YEARS: i64 = 1_577_880_000;

#[derive(Debug, Arbitrary)]
struct Input {
    /// Also feed the document through the text parser as JSON and compare.
    /// Optional because YAML parsing costs most of an execution.
    cross_check: bool,
    rules: Vec<RuleIn>,
    requests: Vec<RequestIn>,
}

#[derive(Debug, Arbitrary)]
struct RuleIn {
    effect: u8,
    profiles: Vec<u8>,
    users: Vec<u8>,
    modes: Option<Vec<u8>>,
    time: Option<TimeIn>,
    /// 255 makes the rule wide (see the module docs).
    wide: u8,
    reason: Option<bool>,
    max_server_minutes: Option<u16>,
    session_table: bool,
}

#[derive(Debug, Arbitrary)]
struct TimeIn {
    days: Vec<u8>,
    /// Start and end, minutes of the day (taken modulo 1440).
    hours: Option<(u16, u16)>,
    /// Index into `ZONES`; absent means UTC by default.
    timezone: Option<u8>,
}

#[derive(Debug, Arbitrary)]
struct RequestIn {
    user: u8,
    profile: u8,
    mode: u8,
    session_tracking: bool,
    /// Offset from 2000-01-01, taken modulo about 50 years.
    offset_seconds: i64,
}

fn rule_name(v: u8) -> String {
    match v {
        0..=249 => NAMES[usize::from(v) % NAMES.len()].to_owned(),
        _ => BAD_NAMES[usize::from(v) % BAD_NAMES.len()].to_owned(),
    }
}

fn request_name(v: u8) -> &'static str {
    let i = usize::from(v) % (NAMES.len() + REQUEST_ONLY.len());
    if i < NAMES.len() {
        NAMES[i]
    } else {
        REQUEST_ONLY[i - NAMES.len()]
    }
}

fn clock(minutes: u16) -> ClockTime {
    let m = minutes % 1440;
    ClockTime::new((m / 60) as u8, (m % 60) as u8).expect("minute of day in range")
}

fn build_rule(i: usize, r: &RuleIn) -> Rule {
    let mut profiles: Vec<String> = r
        .profiles
        .iter()
        .take(MAX_NAMES)
        .map(|&v| rule_name(v))
        .collect();
    let mut users: Vec<String> = r
        .users
        .iter()
        .take(MAX_NAMES)
        .map(|&v| rule_name(v))
        .collect();
    if r.wide == 255 {
        profiles.extend((0..WIDE).map(|k| format!("w{k}")));
        users.extend((0..WIDE).map(|k| format!("w{k}")));
    }
    let mode = r
        .modes
        .as_ref()
        .map(|ms| {
            ms.iter()
                .take(4)
                .map(|&m| Mode::ALL[usize::from(m) % Mode::ALL.len()])
                .collect()
        })
        .unwrap_or_default();
    let time = r.time.as_ref().map(|t| {
        let mut days: Vec<Weekday> = Vec::new();
        for &d in t.days.iter().take(8) {
            let day = WEEKDAYS[usize::from(d) % 7];
            // Validation rejects a day listed twice; keep the input useful.
            if !days.contains(&day) {
                days.push(day);
            }
        }
        TimeWindow {
            days,
            hours: t.hours.map(|(s, e)| HourRange {
                start: clock(s),
                end: clock(e),
            }),
            timezone: t.timezone.map(|z| {
                ZONES[usize::from(z) % ZONES.len()]
                    .parse::<TimeZoneName>()
                    .expect("zone is in the bundled tz database")
            }),
        }
    });
    Rule {
        name: format!("r{i}"),
        effect: EFFECTS[usize::from(r.effect) % EFFECTS.len()],
        conditions: Conditions {
            profiles,
            users,
            mode,
            time,
        },
        reason: r.reason.map(|blank| {
            if blank {
                "  ".to_owned()
            } else {
                format!("reason {i}")
            }
        }),
        // 15m to 12h: always valid.
        max_server_duration: r.max_server_minutes.map(|m| {
            PolicyDuration::new(Duration::from_secs(
                60 * (15 + u64::from(m) % (12 * 60 - 15 + 1)),
            ))
        }),
        session_table: r.session_table.then(|| "sentinel-sessions".to_owned()),
    }
}

fn check(doc: &PolicyDocument, req: &Request<'_>, d: &Decision) {
    assert!(!d.reason.is_empty(), "empty reason: {d:?}");
    let (expected_effect, expected) = reference_decision(doc, req);
    assert_eq!(
        d.rule_index, expected,
        "wrong deciding rule for {req:?}: got {d:?}"
    );
    assert_eq!(d.effect, expected_effect, "wrong effect for {req:?}: {d:?}");
    let Some(i) = d.rule_index else {
        // Default deny.
        assert_eq!(d.effect, DecisionEffect::Deny);
        assert_eq!(d.rule, None);
        assert_eq!(d.rule_effect, None);
        assert!(!d.requires_server && !d.requires_server_session);
        assert_eq!(d.max_server_duration, None);
        assert_eq!(d.session_table, None);
        assert!(!d.is_allowed() && d.breakglass_can_override());
        return;
    };
    let rule = &doc.rules[i];
    let c = &rule.conditions;
    assert_eq!(d.rule.as_deref(), Some(rule.name.as_str()));
    assert_eq!(d.rule_effect, Some(rule.effect));
    assert!(c.profiles.is_empty() || c.profiles.iter().any(|p| p == req.profile));
    assert!(c.users.is_empty() || c.users.iter().any(|u| u == req.user.as_str()));
    assert!(c.mode.is_empty() || c.mode.contains(&req.mode));
    let server = matches!(
        rule.effect,
        Effect::RequireServer | Effect::RequireServerSession
    );
    assert_eq!(d.requires_server, server);
    assert_eq!(
        d.requires_server_session,
        rule.effect == Effect::RequireServerSession
    );
    if server && d.effect == DecisionEffect::Deny {
        assert!(!d.breakglass_can_override(), "break-glass overrides {d:?}");
    }
    assert_eq!(
        d.max_server_duration,
        rule.max_server_duration.map(PolicyDuration::get)
    );
    assert_eq!(d.session_table.as_deref(), rule.session_table.as_deref());
    if let Some(r) = rule.reason.as_deref().filter(|r| !r.trim().is_empty())
        && (!server || d.effect == DecisionEffect::Allow)
    {
        assert_eq!(&*d.reason, r);
    }
}

fuzz_target!(|input: Input| {
    let doc = PolicyDocument {
        version: Version::V1,
        rules: input
            .rules
            .iter()
            .take(MAX_RULES)
            .enumerate()
            .map(|(i, r)| build_rule(i, r))
            .collect(),
        approvals: None,
        breakglass: None,
        rate_limits: None,
        profiles: Default::default(),
        identity: None,
        admins: Vec::new(),
    };

    // The same document as JSON through the text parser, for a differential
    // check of the two ways in.
    let json = if input.cross_check {
        serde_json::to_string(&doc).expect("serialize policy document")
    } else {
        String::new()
    };
    let parsed = input
        .cross_check
        .then(|| CompiledPolicy::parse(&json, "fuzz-json"));

    let policy = match CompiledPolicy::new(doc.clone(), "fuzz") {
        Ok(policy) => policy,
        Err(e) => {
            // Validation may legitimately reject (no rules, bad names, an
            // empty hour range); the text path must agree.
            let _ = e.to_string();
            let _ = e.problems().map(|p| p.to_string());
            assert!(
                parsed.is_none_or(|p| p.is_err()),
                "CompiledPolicy::new rejects but parse accepts: {e}\njson: {json}"
            );
            return;
        }
    };
    let parsed = match parsed {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => panic!("CompiledPolicy::new accepts but parse rejects: {e}\njson: {json}"),
        None => None,
    };
    assert_eq!(policy.document(), &doc);
    if let Some(parsed) = &parsed {
        assert_eq!(parsed.document(), &doc);
    }
    assert_eq!(policy.rule_count(), doc.rules.len());

    for r in input.requests.iter().take(MAX_REQUESTS) {
        let secs = Y2K + r.offset_seconds % FIFTY_YEARS;
        let time = Timestamp::from_second(secs).expect("within 50 years of 2000");
        let user = Username::parse(request_name(r.user)).expect("request names are usernames");
        let req = Request::new(
            &user,
            request_name(r.profile),
            Mode::ALL[usize::from(r.mode) % Mode::ALL.len()],
            time,
        )
        .with_session_tracking(r.session_tracking);
        let d = policy.evaluate(&req);
        check(&doc, &req, &d);
        if let Some(parsed) = &parsed {
            assert_eq!(
                parsed.evaluate(&req),
                d,
                "parsed and built policies disagree"
            );
        }
    }
});
