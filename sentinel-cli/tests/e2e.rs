//! End to end against the AWS emulator (moto): distinct IAM users created
//! with the real `aws` CLI, `sentinel` identifying them through STS
//! GetCallerIdentity, state in SQLite under a per-test XDG data dir.
//! Skips locally without SENTINEL_TEST_AWS_ENDPOINT; fails under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Home, User, iam_user, json, stderr};
use predicates::prelude::*;

struct World {
    home: Home,
    alice: User,
    bob: User,
    carol: User,
}

fn world() -> Option<World> {
    let endpoint = sentinel_testkit::aws_endpoint()?;
    let alice = iam_user(&endpoint, "alice");
    let bob = iam_user(&endpoint, "bob");
    let carol = iam_user(&endpoint, "carol");
    let home = Home::with_endpoint(endpoint);
    home.write_policy(&format!(
        r#"version: "1"
admins: [{bob}]
rules:
  - name: prod-needs-approval
    effect: require_approval
    conditions: {{ profiles: [prod, staging] }}
approvals:
  rules:
    - name: prod-approvers
      profiles: [prod]
      approvers: [{bob}]
      max_duration: 2h
    - name: staging-auto
      profiles: [staging]
      approvers: [{bob}]
      auto_approve:
        users: [{alice}]
        max_duration: 1h
breakglass:
  rules:
    - name: responders
      profiles: [prod]
      users: [{alice}]
      reason_codes: [incident, security]
      max_duration: 2h
rate_limits:
  rules:
    - name: prod-limits
      profiles: [prod]
      cooldown: 30m
"#,
        alice = alice.name,
        bob = bob.name
    ));
    Some(World {
        home,
        alice,
        bob,
        carol,
    })
}

/// `sentinel request --profile PROFILE --justification WHY EXTRA... --json`
/// as `user`, which must succeed; the request it prints.
fn request(h: &Home, user: &User, profile: &str, why: &str, extra: &[&str]) -> serde_json::Value {
    let out = h
        .as_user(user)
        .args(["request", "--profile", profile, "--justification", why])
        .args(extra)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)
}

#[test]
fn approval_flow() {
    let Some(w) = world() else { return };
    let h = &w.home;

    let req = request(
        h,
        &w.alice,
        "prod",
        "INC-4711: restart the stuck payment workers",
        &["--duration", "1h"],
    );
    let id = req["id"].as_str().unwrap().to_owned();
    assert_eq!(req["status"], "pending");
    assert_eq!(req["requester"], w.alice.name.as_str());

    // Alice cannot approve (or deny) her own request.
    h.as_user(&w.alice)
        .args(["approve", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot approve or deny it"));
    h.as_user(&w.alice).args(["deny", &id]).assert().code(2);
    // Carol is not an approver for prod.
    h.as_user(&w.carol)
        .args(["approve", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("may not decide"));
    // Bob cannot cancel Alice's request.
    h.as_user(&w.bob)
        .args(["cancel", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("only the requester"));

    h.as_user(&w.bob)
        .args(["approve", &id, "--comment", "go ahead"])
        .assert()
        .success()
        .stdout(predicate::str::contains("approved"));

    let out = h
        .as_user(&w.alice)
        .args(["check", &id, "--json"])
        .output()
        .unwrap();
    let checked = json(&out);
    assert_eq!(checked["status"], "approved");
    assert_eq!(checked["approver"], w.bob.name.as_str());
    assert_eq!(checked["approver_comment"], "go ahead");
    h.as_user(&w.alice)
        .args(["check", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("status:"))
        .stdout(predicate::str::contains("access window:"));

    // Only pending requests change.
    h.as_user(&w.bob)
        .args(["deny", &id])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("only pending requests can change"));

    // Longer than the approval rule allows: an error before anything is stored.
    h.as_user(&w.alice)
        .args([
            "request",
            "--profile",
            "prod",
            "--justification",
            "a long maintenance window for prod",
            "--duration",
            "3h",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("grants at most 7200s"));
    // Too short a justification.
    h.as_user(&w.alice)
        .args(["request", "--profile", "prod", "--justification", "pls"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("hint: fix --justification"));

    // A second request that Alice cancels, and one Bob denies.
    let second = request(h, &w.alice, "prod", "second request, cancelled later", &[]);
    let second = second["id"].as_str().unwrap().to_owned();
    h.as_user(&w.alice)
        .args(["cancel", &second])
        .assert()
        .success()
        .stdout(predicate::str::contains("cancelled"));
    let third = request(h, &w.alice, "prod", "third request, denied later", &[]);
    let third = third["id"].as_str().unwrap().to_owned();
    h.as_user(&w.bob)
        .args(["deny", &third, "--comment", "not today"])
        .assert()
        .success();

    // Listing with filters, as JSON and as a table.
    let all = json(
        &h.as_user(&w.bob)
            .args(["list", "--requester", &w.alice.name, "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(all.as_array().unwrap().len(), 3);
    let approved = json(
        &h.as_user(&w.bob)
            .args([
                "list",
                "--status",
                "approved",
                "--profile",
                "prod",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(approved.as_array().unwrap().len(), 1);
    assert_eq!(approved[0]["id"], id.as_str());
    let limited = json(
        &h.as_user(&w.bob)
            .args(["list", "--limit", "2", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(limited.as_array().unwrap().len(), 2);
    h.as_user(&w.bob)
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ID "))
        .stdout(predicate::str::contains("denied"))
        .stdout(predicate::str::contains("cancelled"));
}

#[test]
fn auto_approval() {
    let Some(w) = world() else { return };
    let h = &w.home;
    let r = request(
        h,
        &w.alice,
        "staging",
        "routine staging deploy check",
        &["--duration", "30m"],
    );
    assert_eq!(r["status"], "approved");
    assert_eq!(r["approver"], "auto-approve:staging-auto");
    // Carol is not in auto_approve.users: her request waits for a human.
    let r = request(h, &w.carol, "staging", "routine staging deploy check", &[]);
    assert_eq!(r["status"], "pending");
}

#[test]
fn breakglass_flow() {
    let Some(w) = world() else { return };
    let h = &w.home;
    let invoke = |user: &User, code: &str| {
        h.as_user(user)
            .args([
                "breakglass",
                "--profile",
                "prod",
                "--reason-code",
                code,
                "--justification",
                "orders database is down, failing over to the replica",
                "--duration",
                "30m",
                "--json",
            ])
            .output()
            .unwrap()
    };

    // Bob is in no break-glass rule; Alice may not use reason `other`.
    let out = invoke(&w.bob, "incident");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("break-glass refused"),
        "{}",
        stderr(&out)
    );
    let out = invoke(&w.alice, "other");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not accept reason code"));

    let out = invoke(&w.alice, "incident");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let event = json(&out);
    let id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(event["status"], "active");
    assert_eq!(event["invoker"], w.alice.name.as_str());
    assert_eq!(event["rule"], "responders");
    assert_eq!(event["duration"], 1800);

    // A second invocation while the first is active is refused.
    let out = invoke(&w.alice, "incident");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already active"), "{}", stderr(&out));

    h.as_user(&w.bob)
        .args(["breakglass-list", "--status", "active"])
        .assert()
        .success()
        .stdout(predicate::str::contains(id.as_str()));
    let listed = json(
        &h.as_user(&w.bob)
            .args([
                "breakglass-list",
                "--invoker",
                &w.alice.name,
                "--profile",
                "prod",
                "--since",
                "1h",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let none = json(
        &h.as_user(&w.bob)
            .args(["breakglass-list", "--until", "1h", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(none.as_array().unwrap().len(), 0);

    // Closing needs a reason.
    h.as_user(&w.alice)
        .args(["breakglass-close", &id])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--reason"));
    h.as_user(&w.alice)
        .args(["breakglass-close", &id, "--reason", "   "])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid reason"));
    h.as_user(&w.alice)
        .args(["breakglass-close", &id, "--reason", "failover done"])
        .assert()
        .success()
        .stdout(predicate::str::contains("closed"));
    let closed = json(
        &h.as_user(&w.alice)
            .args(["breakglass-check", &id, "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["close_reason"], "failover done");
    assert_eq!(closed["closed_by"], w.alice.name.as_str());
    h.as_user(&w.alice)
        .args(["breakglass-close", &id, "--reason", "again"])
        .assert()
        .code(1);

    // The cooldown still applies after closing.
    let out = invoke(&w.alice, "incident");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("rate limit"), "{}", stderr(&out));
}

#[test]
fn server_revoke_kill_switch() {
    let Some(w) = world() else { return };
    let h = &w.home;

    // Sessions are created by `sentinel exec --server`; here they are put
    // straight into the SQLite store the CLI uses.
    let ids = common::seed_sessions(
        &h.data_dir(),
        &[
            (&w.alice.name, "prod"),
            (&w.alice.name, "prod"),
            (&w.alice.name, "dev"),
            (&w.carol.name, "prod"),
        ],
    );

    let active = json(
        &h.as_user(&w.bob)
            .args([
                "server-sessions",
                "--user",
                &w.alice.name,
                "--status",
                "active",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(active.as_array().unwrap().len(), 3);

    h.as_user(&w.bob)
        .args([
            "server-revoke",
            "--user",
            &w.alice.name,
            "--profile",
            "prod",
            "--reason",
            "laptop stolen",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("revoked 2 sessions"));
    let still = json(
        &h.as_user(&w.bob)
            .args([
                "server-sessions",
                "--user",
                &w.alice.name,
                "--status",
                "active",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(still.as_array().unwrap().len(), 1);
    assert_eq!(still[0]["profile"], "dev");

    let report = json(
        &h.as_user(&w.bob)
            .args([
                "server-revoke",
                "--user",
                &w.alice.name,
                "--reason",
                "laptop stolen",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(report["revoked_sessions"].as_array().unwrap().len(), 1);
    assert_eq!(report["revocation"]["revoked_by"], w.bob.name.as_str());

    let one = json(
        &h.as_user(&w.bob)
            .args(["server-session", &ids[0], "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(one["status"], "revoked");
    assert_eq!(one["revoked_by"], w.bob.name.as_str());
    assert_eq!(one["revoked_reason"], "laptop stolen");

    // Carol's session is untouched; revoke it by id.
    h.as_user(&w.bob)
        .args(["server-session", &ids[3]])
        .assert()
        .success()
        .stdout(predicate::str::contains("active"));
    h.as_user(&w.bob)
        .args(["server-revoke", &ids[3], "--reason", "done"])
        .assert()
        .success()
        .stdout(predicate::str::contains("revoked"));
    h.as_user(&w.bob)
        .args(["server-revoke", &ids[3], "--reason", "done"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot be"));
    h.as_user(&w.bob)
        .arg("server-sessions")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ID "))
        .stdout(predicate::str::contains("revoked"));
}

#[test]
fn dynamodb_state_and_notifications() {
    let Some(w) = world() else { return };
    let h = &w.home;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (requests, breakglass, sessions) = rt.block_on(async {
        let (client, requests) = sentinel_testkit::dynamodb_table("cli-req").await.unwrap();
        let breakglass = sentinel_testkit::unique_name("cli-bg");
        let sessions = sentinel_testkit::unique_name("cli-sess");
        sentinel_approval::create_request_table(&client, &requests)
            .await
            .unwrap();
        sentinel_breakglass::create_breakglass_table(&client, &breakglass)
            .await
            .unwrap();
        sentinel_session::create_session_table(&client, &sessions)
            .await
            .unwrap();
        (requests, breakglass, sessions)
    });
    // Table names from the environment, backend from sentinel.toml; a
    // webhook nobody listens on: notifications fail, commands do not.
    h.write_config("state = \"dynamodb\"\nwebhook_url = \"http://127.0.0.1:9/hook\"\n");
    let run = |user: &User| {
        let mut c = h.as_user(user);
        c.env("SENTINEL_REQUEST_TABLE", &requests)
            .env("SENTINEL_BREAKGLASS_TABLE", &breakglass)
            .env("SENTINEL_SESSION_TABLE", &sessions);
        c
    };

    let out = run(&w.alice)
        .args([
            "request",
            "--profile",
            "prod",
            "--justification",
            "stored in DynamoDB this time",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("not delivered"), "{}", stderr(&out));
    let id = json(&out)["id"].as_str().unwrap().to_owned();
    run(&w.alice).args(["approve", &id]).assert().code(2);
    run(&w.bob).args(["approve", &id]).assert().success();
    let checked = json(
        &run(&w.carol)
            .args(["check", &id, "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(checked["status"], "approved");
    // Nothing landed in SQLite.
    assert!(!h.data_dir().join("requests.db").exists());

    let out = run(&w.alice)
        .args([
            "breakglass",
            "--profile",
            "prod",
            "--reason-code",
            "security",
            "--justification",
            "credential leak, rotating keys in prod",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed = json(
        &run(&w.bob)
            .args(["breakglass-list", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    run(&w.bob)
        .args(["server-revoke", "--user", &w.alice.name, "--reason", "leak"])
        .assert()
        .success()
        .stdout(predicate::str::contains("revoked 0 sessions"));
}

#[test]
fn policy_from_ssm() {
    let Some(endpoint) = sentinel_testkit::aws_endpoint() else {
        return;
    };
    let root = format!("/{}", sentinel_testkit::unique_name("cli-policies"));
    common::aws(
        &endpoint,
        &[
            "ssm",
            "put-parameter",
            "--name",
            &format!("{root}/dev"),
            "--type",
            "String",
            "--value",
            "version: '1'\nrules:\n  - name: dev-from-ssm\n    effect: allow\n",
        ],
    );
    let h = Home::with_endpoint(endpoint);
    let policy = format!("ssm:{root}");
    let mut c = h.cmd();
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args([
            "--policy",
            &policy,
            "policy",
            "test",
            "--user",
            "bob",
            "--profile",
            "dev",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("dev-from-ssm"));
    let mut c = h.cmd();
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("SENTINEL_POLICY", &policy)
        .args(["policy", "test", "--user", "bob", "--profile", "prod"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no policy for profile \"prod\""));
}
