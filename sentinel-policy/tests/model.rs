//! Model-based property test: the deliberately naive evaluator written
//! straight from the spec (`conformance::reference_decision`, the crate README's rules)
//! against the compiled, indexed one. Time windows included: the reference
//! finds each window's opening and closing instants from the zone's
//! transitions, the evaluator from jiff's gap/fold resolution.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use sentinel_policy::conformance::reference_decision;
use sentinel_policy::{
    ClockTime, CompiledPolicy, Conditions, Effect, HourRange, Mode, PolicyDocument, Request, Rule,
    TimeWindow, TimeZoneName, Timestamp, Version, Weekday,
};

const PROFILES: [&str; 5] = ["dev", "staging", "prod", "audit", "sandbox"];
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
];
const DAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];
const EFFECTS: [Effect; 5] = [
    Effect::Allow,
    Effect::Deny,
    Effect::RequireApproval,
    Effect::RequireServer,
    Effect::RequireServerSession,
];

fn names(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        2 => Just(Vec::new()),
        3 => proptest::sample::subsequence(pool.to_vec(), 1..=3)
            .prop_map(|v| v.into_iter().map(String::from).collect()),
    ]
}

fn window() -> impl Strategy<Value = Option<TimeWindow>> {
    let hours =
        (0u8..24, 0u8..4, 0u8..24, 0u8..4).prop_filter_map("empty window", |(sh, sq, eh, eq)| {
            let start = ClockTime::new(sh, sq * 15)?;
            let end = ClockTime::new(eh, eq * 15)?;
            (start != end).then_some(HourRange { start, end })
        });
    prop_oneof![
        2 => Just(None),
        3 => (
            proptest::sample::subsequence(DAYS.to_vec(), 0..=7),
            proptest::option::of(hours),
            proptest::option::of(proptest::sample::select(ZONES.to_vec())),
        )
            .prop_map(|(days, hours, tz)| Some(TimeWindow {
                days,
                hours,
                timezone: tz.map(|z| z.parse::<TimeZoneName>().unwrap()),
            })),
    ]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::sample::select(EFFECTS.to_vec()),
        names(&PROFILES),
        names(&USERS),
        proptest::sample::subsequence(Mode::ALL.to_vec(), 0..=2),
        window(),
    )
        .prop_map(|(effect, profiles, users, mode, time)| Rule {
            name: String::new(),
            effect,
            conditions: Conditions {
                profiles,
                users,
                mode,
                time,
            },
            reason: None,
            max_server_duration: None,
            session_table: None,
        })
}

fn document() -> impl Strategy<Value = PolicyDocument> {
    proptest::collection::vec(rule(), 1..40).prop_map(|mut rules| {
        for (i, r) in rules.iter_mut().enumerate() {
            r.name = format!("rule-{i}");
        }
        PolicyDocument {
            version: Version::V1,
            rules,
            approvals: None,
            breakglass: None,
            rate_limits: None,
            profiles: Default::default(),
            identity: None,
            admins: Vec::new(),
        }
    })
}

fn instant() -> impl Strategy<Value = Timestamp> {
    // 2020..2035, with extra weight around DST changes.
    prop_oneof![
        3 => (1_577_836_800i64..2_051_222_400).prop_map(|s| Timestamp::from_second(s).unwrap()),
        // On a quarter hour, or a minute before one: window edges.
        3 => (0i64..5479, 0i64..96, any::<bool>()).prop_map(|(day, quarter, before)| {
            let s = 1_577_836_800 + day * 86_400 + quarter * 900 - if before { 60 } else { 0 };
            Timestamp::from_second(s).unwrap()
        }),
        1 => (0i64..6 * 3600).prop_map(|s| Timestamp::from_second(1_772_942_400 + s).unwrap()), // NY 2026-03-08
        1 => (0i64..4 * 3600).prop_map(|s| Timestamp::from_second(1_792_886_400 + s).unwrap()), // Berlin 2026-10-25
        // Whole nights around clock changes: overnight windows that open
        // on Saturday and close after the change.
        1 => (0i64..14 * 3600).prop_map(|s| Timestamp::from_second(1_774_720_800 + s).unwrap()), // Berlin 2026-03-28 18:00Z
        1 => (0i64..12 * 3600).prop_map(|s| Timestamp::from_second(1_793_498_400 + s).unwrap()), // NY 2026-11-01 02:00Z
    ]
}

fn any_name(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        5 => proptest::sample::select(pool.to_vec()).prop_map(String::from),
        1 => Just("stranger".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn compiled_matches_naive(
        doc in document(),
        requests in proptest::collection::vec(
            (any_name(&USERS), any_name(&PROFILES), proptest::sample::select(Mode::ALL.to_vec()), any::<bool>(), instant()),
            1..20,
        ),
    ) {
        let policy = CompiledPolicy::new(doc.clone(), "model").unwrap();
        for (user, profile, mode, tracking, at) in &requests {
            let user = sentinel_policy::Username::parse(user).unwrap();
            let req = Request::new(&user, profile, *mode, *at).with_session_tracking(*tracking);
            let decision = policy.evaluate(&req);
            let (effect, index) = reference_decision(&doc, &req);
            prop_assert_eq!(decision.effect, effect, "request {:?}", req);
            prop_assert_eq!(decision.rule_index, index, "request {:?}", req);
            if let Some(i) = index {
                let rule = &doc.rules[i];
                prop_assert_eq!(decision.rule.as_deref(), Some(rule.name.as_str()));
                prop_assert_eq!(decision.rule_effect, Some(rule.effect));
                prop_assert_eq!(
                    decision.requires_server,
                    matches!(rule.effect, Effect::RequireServer | Effect::RequireServerSession)
                );
            } else {
                prop_assert!(decision.rule.is_none());
            }
        }
    }
}
