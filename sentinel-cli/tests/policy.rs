//! `sentinel policy validate|schema|test`, fully offline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Home;
use predicates::prelude::*;

const POLICY: &str = r#"version: "1"
rules:
  - name: weekend-freeze
    effect: deny
    conditions:
      profiles: [prod]
      time:
        days: [saturday, sunday]
        timezone: Europe/Berlin
    reason: no changes on weekends
  - name: oncall-tracked
    effect: require_server_session
    conditions:
      profiles: [prod]
      users: [alice]
    max_server_duration: 15m
  - name: prod-approval
    effect: require_approval
    conditions:
      profiles: [prod]
  - name: dev-open
    effect: allow
    conditions:
      profiles: [dev]
"#;

// Monday 2026-03-02 10:00 in Berlin; Saturday 2026-03-07.
const MONDAY: &str = "2026-03-02T09:00:00Z";
const SATURDAY: &str = "2026-03-07T09:00:00Z";

#[test]
fn validate_reports_every_problem_with_location() {
    let home = Home::new();
    let good = home.write_policy(POLICY);
    let bad = home.path("bad.yaml");
    std::fs::write(
        &bad,
        "version: \"1\"\nrules:\n  - name: x\n    effect: alow\n    conditons: {}\n",
    )
    .unwrap();
    let bad_s = bad.to_str().unwrap();

    home.cmd()
        .args(["policy", "validate", good.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok (4 rules, 1 warning)"))
        .stderr(predicate::str::contains("warning: "))
        .stderr(predicate::str::contains(
            "rule \"prod-approval\" requires approval, but nobody may approve requests for prod",
        ));

    let out = home
        .cmd()
        .args(["policy", "validate", good.to_str().unwrap(), bad_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(
        err.contains(&format!(
            "{bad_s}:4:13: rules[0].effect: unknown value `alow`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{bad_s}:5:5: rules[0].conditons: unknown field")),
        "{err}"
    );
    assert!(err.contains("(remove it or check its spelling"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (4 rules, 1 warning)"));

    home.cmd()
        .args([
            "policy",
            "validate",
            home.path("missing.yaml").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.yaml: cannot read"));
}

#[test]
fn schema_is_json_schema() {
    let home = Home::new();
    let out = home.cmd().args(["policy", "schema"]).output().unwrap();
    assert!(out.status.success());
    let schema = common::json(&out);
    assert_eq!(schema, sentinel_policy::json_schema());
    assert!(schema["properties"]["rules"].is_object());
}

fn test_cmd(home: &Home, args: &[&str]) -> std::process::Output {
    home.cmd()
        .args(["policy", "test"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn test_shows_decision_and_exit_code() {
    let home = Home::new();
    home.write_policy(POLICY);

    let out = test_cmd(
        &home,
        &["--user", "bob", "--profile", "dev", "--at", MONDAY],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("effect:"), "{text}");
    assert!(text.contains("allow"), "{text}");
    assert!(text.contains("dev-open (rules[3])"), "{text}");

    let out = test_cmd(
        &home,
        &["--user", "bob", "--profile", "prod", "--at", SATURDAY],
    );
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("weekend-freeze"), "{text}");
    assert!(text.contains("no changes on weekends"), "{text}");

    let out = test_cmd(
        &home,
        &["--user", "bob", "--profile", "prod", "--at", MONDAY],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("require_approval"));

    // require_server_session: denied in cli mode, allowed tracked in server mode.
    let out = test_cmd(
        &home,
        &["--user", "alice", "--profile", "prod", "--at", MONDAY],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = test_cmd(
        &home,
        &[
            "--user",
            "alice",
            "--profile",
            "prod",
            "--at",
            MONDAY,
            "--mode",
            "server",
            "--session-tracking",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let d = common::json(&out);
    assert_eq!(d["effect"], "allow");
    assert_eq!(d["rule"], "oncall-tracked");
    assert_eq!(d["rule_index"], 1);
    assert_eq!(d["max_server_duration_secs"], 900);
    assert_eq!(d["mode"], "server");

    // No rule matches: default deny.
    let out = test_cmd(&home, &["--user", "bob", "--profile", "staging", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let d = common::json(&out);
    assert_eq!(d["effect"], "deny");
    assert!(d["rule"].is_null());
}

#[test]
fn test_uses_the_configured_policy_source() {
    let home = Home::new();
    // No policy at the default path: an error (exit 1), with a hint.
    home.cmd()
        .args(["policy", "test", "--user", "bob", "--profile", "dev"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("policy.yaml"))
        .stderr(predicate::str::contains("hint: "));

    // A directory of per-profile files through SENTINEL_POLICY.
    let dir = home.path("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("dev.yaml"),
        "version: '1'\nrules:\n  - name: all\n    effect: allow\n",
    )
    .unwrap();
    home.cmd()
        .args(["policy", "test", "--user", "bob", "--profile", "dev"])
        .env("SENTINEL_POLICY", &dir)
        .assert()
        .success();
    home.cmd()
        .args(["policy", "test", "--user", "bob", "--profile", "prod"])
        .env("SENTINEL_POLICY", &dir)
        .assert()
        .code(1);

    // An invalid policy is an error that points at `policy validate`.
    let bad = home.write_policy("version: '1'\nrules:\n  - name: x\n    effect: nope\n");
    home.cmd()
        .args(["policy", "test", "--user", "bob", "--profile", "dev"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(bad.to_str().unwrap()))
        .stderr(predicate::str::contains("sentinel policy validate"));

    // Bad profile names never reach the store.
    home.cmd()
        .args(["policy", "test", "--user", "bob", "--profile", "../etc"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid profile name"));
}

#[test]
fn test_takes_canonical_usernames_only() {
    let home = Home::new();
    home.write_policy(POLICY);
    // `Alice` is not another spelling of alice: it is refused, with the fix.
    let out = test_cmd(&home, &["--user", "Alice", "--profile", "prod"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(err.contains("write \"alice\""), "{err}");
    let out = test_cmd(&home, &["--user", "alice smith", "--profile", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).contains("contains ' '"));
}
