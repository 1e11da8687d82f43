//! Documents built in code validate the same way as parsed ones.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sentinel_policy::{
    CompiledPolicy, Conditions, Effect, Error, PolicyDocument, PolicyDuration, Rule, Version,
};

fn rule(name: &str) -> Rule {
    Rule {
        name: name.to_owned(),
        effect: Effect::Allow,
        conditions: Conditions::default(),
        reason: None,
        max_server_duration: None,
        session_table: None,
    }
}

#[test]
fn code_built_documents_are_validated_before_compiling() {
    let mut short = rule("a");
    short.max_server_duration = Some(PolicyDuration::new(Duration::from_secs(60)));
    let doc = PolicyDocument {
        version: Version::V1,
        rules: vec![short, rule("a"), rule("")],
        approvals: None,
        breakglass: None,
        rate_limits: None,
        profiles: Default::default(),
        identity: None,
        admins: Vec::new(),
    };
    let problems = doc.validate().unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "rules[0].max_server_duration",
            "rules[1].name",
            "rules[2].name"
        ]
    );
    assert!(problems.iter().all(|p| p.location.is_none()));
    assert!(problems[1].message.contains("duplicate rule name"));
    match CompiledPolicy::new(doc, "built-in") {
        Err(Error::Invalid { origin, problems }) => {
            assert_eq!(origin, "built-in");
            assert_eq!(problems.len(), 3);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn no_rules_is_an_error_not_a_silent_deny_all() {
    let err = CompiledPolicy::parse("version: '1'\nrules: []\n", "empty.yaml").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("empty.yaml"), "{text}");
    assert!(text.contains("no rules"), "{text}");
}

#[test]
fn serialized_documents_use_policy_spelling() {
    let doc = PolicyDocument::parse(
        "version: '1'\nrules:\n  - name: a\n    effect: require_server\n    max_server_duration: 1h30m\n    conditions: { mode: [credential_process], time: { hours: { start: '22:00', end: '06:00' } } }\n",
        "x",
    )
    .unwrap();
    let json = serde_json::to_value(&doc).unwrap();
    assert_eq!(json["version"], "1");
    assert_eq!(json["rules"][0]["effect"], "require_server");
    assert_eq!(json["rules"][0]["max_server_duration"], "1h30m");
    assert_eq!(
        json["rules"][0]["conditions"]["mode"][0],
        "credential_process"
    );
    assert_eq!(
        json["rules"][0]["conditions"]["time"]["hours"]["start"],
        "22:00"
    );
}
