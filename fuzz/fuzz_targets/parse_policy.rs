//! Arbitrary text through the YAML/JSON policy parser.
//!
//! Invariants checked:
//! - parsing, validation, compilation and evaluation never panic;
//! - a rejected document always explains itself (at least one problem), and
//!   rendering the error and its problem list never panics;
//! - `PolicyDocument::parse` and `CompiledPolicy::parse` agree, and a parsed
//!   document passes `PolicyDocument::validate` (the code-built path);
//! - JSON is policy input: `policy.document()` serialized with
//!   `serde_json::to_string` (and `to_json_pretty`) parses again, to the same
//!   document, with the same decisions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentinel_policy::{
    CompiledPolicy, Decision, Mode, PolicyDocument, Request, Timestamp, Username,
};

/// Fixed request times (seconds since the Unix epoch): around DST changes in
/// Europe and the US, a leap day and midnight.
const TIMES: [i64; 4] = [
    946_684_800,   // 2000-01-01T00:00:00Z (Saturday)
    1_711_846_799, // 2024-03-31T00:59:59Z (Sunday), a second before EU summer time
    1_730_613_600, // 2024-11-03T06:00:00Z (Sunday), US fall back
    1_709_211_600, // 2024-02-29T13:00:00Z (Thursday), leap day, business hours
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    let compiled = CompiledPolicy::parse(text, "fuzz");
    let document = PolicyDocument::parse(text, "fuzz");
    assert_eq!(
        compiled.is_ok(),
        document.is_ok(),
        "CompiledPolicy::parse and PolicyDocument::parse disagree"
    );

    let policy = match compiled {
        Ok(policy) => policy,
        Err(e) => {
            render_error(&e);
            if let Err(e2) = document {
                render_error(&e2);
            }
            return;
        }
    };

    if let Err(problems) = policy.document().validate() {
        panic!("a parsed document fails PolicyDocument::validate: {problems:?}");
    }
    if let Err(e) = CompiledPolicy::new(policy.document().clone(), "fuzz-new") {
        panic!("a parsed document fails CompiledPolicy::new: {e}");
    }

    let decisions = evaluate_fixed(&policy);

    // Round trip through JSON, compact and pretty.
    let compact = serde_json::to_string(policy.document()).expect("serialize policy document");
    let pretty = policy.document().to_json_pretty();
    assert!(!pretty.is_empty(), "to_json_pretty returned nothing");
    for json in [compact, pretty] {
        let again = match CompiledPolicy::parse(&json, "fuzz-json") {
            Ok(again) => again,
            Err(e) => {
                let list = e.problems().map(|p| p.to_string()).unwrap_or_default();
                panic!("re-parsing the serialized document failed: {e}\n{list}\njson: {json}");
            }
        };
        assert_eq!(
            again.document(),
            policy.document(),
            "JSON round trip changed the document\njson: {json}"
        );
        assert_eq!(
            evaluate_fixed(&again),
            decisions,
            "JSON round trip changed decisions\njson: {json}"
        );
    }
});

fn render_error(e: &sentinel_policy::Error) {
    let message = e.to_string();
    assert!(!message.is_empty());
    let _ = format!("{e:?}");
    match e {
        sentinel_policy::Error::Invalid { problems, .. } => {
            assert!(!problems.is_empty(), "rejected without any problem: {e}");
            let list = e.problems().expect("Invalid has problems").to_string();
            assert!(!list.is_empty());
            for p in problems {
                let _ = p.to_string();
                assert!(!p.message.is_empty(), "problem without a message: {p:?}");
            }
        }
        _ => {
            let _ = e.problems().map(|p| p.to_string());
        }
    }
}

/// Decides a fixed set of requests built from names the policy mentions.
fn evaluate_fixed(policy: &CompiledPolicy) -> Vec<Decision> {
    let doc = policy.document();
    let mut profiles: Vec<&str> = vec!["nobody-profile"];
    let mut users: Vec<&str> = vec!["nobody"];
    for rule in doc.rules.iter().take(2) {
        profiles.extend(rule.conditions.profiles.first().map(String::as_str));
        users.extend(rule.conditions.users.first().map(String::as_str));
    }
    profiles.dedup();
    users.dedup();

    let mut out = Vec::new();
    for &profile in profiles.iter().take(3) {
        for &user in users.iter().take(3) {
            for mode in Mode::ALL {
                for secs in TIMES {
                    let time = Timestamp::from_second(secs).expect("fixed time in range");
                    for tracking in [false, true] {
                        let user = Username::parse(user).expect("validated usernames");
                        let req = Request::new(&user, profile, mode, time)
                            .with_session_tracking(tracking);
                        let d = policy.evaluate(&req);
                        let _ = d.reason.len();
                        let _ = d.breakglass_can_override();
                        out.push(d);
                    }
                }
            }
        }
    }
    out
}
