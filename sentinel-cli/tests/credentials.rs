//! `sentinel credentials`, `exec` and `whoami` end to end against the AWS
//! emulator (moto), with the real `aws` CLI as the client: through
//! `credential_process` in an AWS config file and through the local
//! credential server (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).
//! Skips locally without SENTINEL_TEST_AWS_ENDPOINT; fails under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Home, User, iam_user, json, stderr};
use predicates::prelude::*;

/// No test waits longer than this for one command.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The protected profile (role_arn + source_profile) and the profile whose
/// `credential_process` runs `sentinel credentials --profile ROLE_PROFILE`.
const ROLE_PROFILE: &str = "prod";
const PROCESS_PROFILE: &str = "prod-via-sentinel";

struct World {
    home: Home,
    alice: User,
    bob: User,
    role_name: String,
}

/// Alice and Bob as IAM users, a role, and an AWS config:
///
/// ```ini
/// [profile prod-via-sentinel]
/// credential_process = /path/to/sentinel credentials --profile prod
/// [profile prod]
/// role_arn = arn:aws:iam::123456789012:role/<role>
/// source_profile = alice-base
/// [profile alice-base] / [profile bob-base]  (static keys in credentials)
/// ```
///
/// `policy` is a policy template: `{alice}` and `{bob}` become the policy
/// usernames.
fn world(policy: &str) -> Option<World> {
    let endpoint = sentinel_testkit::aws_endpoint()?;
    let alice = iam_user(&endpoint, "alice");
    let bob = iam_user(&endpoint, "bob");
    let (role_name, role_arn) = common::trusting_role(&endpoint, "prod-admin");
    let home = Home::with_endpoint(endpoint);
    let sentinel = assert_cmd::cargo::cargo_bin("sentinel");
    std::fs::create_dir_all(home.path("aws")).unwrap();
    std::fs::write(
        home.path("aws/config"),
        format!(
            "[profile {PROCESS_PROFILE}]\n\
             credential_process = {sentinel} credentials --profile {ROLE_PROFILE}\n\
             region = us-east-1\n\n\
             [profile {ROLE_PROFILE}]\n\
             role_arn = {role_arn}\n\
             source_profile = alice-base\n\
             region = us-east-1\n\n\
             [profile bob-prod]\n\
             role_arn = {role_arn}\n\
             source_profile = bob-base\n\n\
             [profile alice-base]\nregion = us-east-1\n\n\
             [profile bob-base]\nregion = us-east-1\n\n\
             [profile no-role]\nregion = us-east-1\n",
            sentinel = sentinel.display()
        ),
    )
    .unwrap();
    std::fs::write(
        home.path("aws/credentials"),
        format!(
            "[alice-base]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
             [bob-base]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            alice.access_key, alice.secret_key, bob.access_key, bob.secret_key
        ),
    )
    .unwrap();
    home.write_policy(
        &policy
            .replace("{alice}", &alice.name)
            .replace("{bob}", &bob.name),
    );
    Some(World {
        home,
        alice,
        bob,
        role_name,
    })
}

impl World {
    fn log_file(&self) -> PathBuf {
        self.home.path("state/sentinel/decisions.jsonl")
    }

    /// `sentinel` with the test home, the policy file and PATH (so `exec`
    /// finds `sh`, `aws` and `python3`); base credentials only through
    /// the AWS config.
    fn sentinel(&self) -> assert_cmd::Command {
        let mut c = self.home.cmd();
        c.env("SENTINEL_POLICY", self.home.policy_file())
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .timeout(TIMEOUT);
        c
    }

    /// `sentinel` with `user`'s keys in the environment (store commands).
    fn as_user(&self, user: &User) -> assert_cmd::Command {
        let mut c = self.sentinel();
        c.env("AWS_ACCESS_KEY_ID", &user.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &user.secret_key);
        c
    }

    /// The real `aws` CLI with the same environment as [`World::sentinel`].
    fn aws(&self, args: &[&str]) -> std::process::Output {
        let h = &self.home;
        std::process::Command::new("aws")
            .args(["--output", "json"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", h.path("home"))
            .env("XDG_CONFIG_HOME", h.path("config"))
            .env("XDG_DATA_HOME", h.path("data"))
            .env("XDG_STATE_HOME", h.path("state"))
            .env("AWS_CONFIG_FILE", h.path("aws/config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", h.path("aws/credentials"))
            .env("AWS_ENDPOINT_URL", h.endpoint.as_deref().unwrap())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("SENTINEL_POLICY", self.home.policy_file())
            .output()
            .unwrap()
    }

    /// The decision log, verified, one JSON value per line.
    fn log(&self) -> Vec<serde_json::Value> {
        let path = self.log_file();
        let report = sentinel_vend::log::verify_file(&path).unwrap();
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(report.lines, lines.len() as u64);
        lines
    }
}

const ALLOW_ALICE: &str = r#"version: "1"
admins: ["{bob}"]
rules:
  - name: alice-prod
    effect: allow
    conditions: { profiles: [prod], users: ["{alice}"] }
"#;

fn assumed_role(out: &std::process::Output, role: &str) -> String {
    assert!(
        out.status.success(),
        "aws failed ({:?}): {}",
        out.status,
        stderr(out)
    );
    let arn = json(out)["Arn"].as_str().unwrap().to_owned();
    assert!(
        arn.contains(&format!(":assumed-role/{role}/sentinel-")),
        "{arn}"
    );
    arn
}

#[test]
fn credential_process_serves_the_aws_cli() {
    let Some(w) = world(ALLOW_ALICE) else { return };

    // The aws CLI runs `sentinel credentials --profile prod` for the profile.
    let out = w.aws(&["sts", "get-caller-identity", "--profile", PROCESS_PROFILE]);
    let arn = assumed_role(&out, &w.role_name);
    assert!(
        arn.contains(&format!("sentinel-{}-", w.alice.name)),
        "{arn}"
    );

    // Also with AWS_PROFILE naming that profile: the base credentials come
    // from source_profile, so sentinel does not run itself again.
    let out = w
        .sentinel()
        .env("AWS_PROFILE", PROCESS_PROFILE)
        .args([
            "credentials",
            "--profile",
            ROLE_PROFILE,
            "--duration",
            "30m",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let creds = json(&out);
    assert_eq!(creds["Version"], 1);
    for k in ["AccessKeyId", "SecretAccessKey", "SessionToken"] {
        assert!(!creds[k].as_str().unwrap().is_empty(), "{k}");
    }
    let exp: jiff::Timestamp = creds["Expiration"].as_str().unwrap().parse().unwrap();
    assert!(exp > jiff::Timestamp::now());

    let log = w.log();
    assert_eq!(log.len(), 2);
    let last = &log[1];
    assert_eq!(last["effect"], "allow");
    assert_eq!(last["mode"], "credential_process");
    assert_eq!(last["rule"], "alice-prod");
    assert_eq!(last["duration_secs"], 1800);
    let si = last["source_identity"].as_str().unwrap();
    assert!(
        si.starts_with(&format!("sentinel.{}.direct.", w.alice.name)),
        "{si}"
    );

    // whoami names the caller of the standard chain.
    let out = w
        .sentinel()
        .env("AWS_PROFILE", "alice-base")
        .args(["whoami", "--json"])
        .output()
        .unwrap();
    let me = json(&out);
    assert_eq!(me["username"], w.alice.name.as_str());
    assert_eq!(me["principal_kind"], "iam_user");
    assert_eq!(me["account"], "123456789012");
    assert!(me["arn"].as_str().unwrap().ends_with(&w.alice.iam_name));
    w.sentinel()
        .env("AWS_PROFILE", "bob-base")
        .arg("whoami")
        .assert()
        .success()
        .stdout(predicate::str::contains("principal:"))
        .stdout(predicate::str::contains(w.bob.name.as_str()));

    // A profile without role_arn is refused with an explanation.
    w.sentinel()
        .args(["credentials", "--profile", "no-role"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("role_arn"))
        .stderr(predicate::str::contains("hint: add role_arn"));
    w.sentinel()
        .args(["credentials", "--profile", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nope"));
}

#[test]
fn exec_env_mode_runs_the_child_with_credentials() {
    let Some(w) = world(ALLOW_ALICE) else { return };
    let out = w
        .sentinel()
        .env("AWS_PROFILE", PROCESS_PROFILE)
        .env("AWS_ACCESS_KEY_ID", "AKIDSTALE")
        .args([
            "exec",
            "--profile",
            ROLE_PROFILE,
            "--",
            "sh",
            "-c",
            r#"echo "profile=${AWS_PROFILE:-unset} sentinel=$AWS_SENTINEL region=$AWS_REGION exp=$AWS_CREDENTIAL_EXPIRATION"; aws --output json sts get-caller-identity"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let (first, rest) = text.split_once('\n').unwrap();
    assert!(
        first.starts_with("profile=unset sentinel=prod region=us-east-1 exp=20"),
        "{first}"
    );
    let arn: serde_json::Value = serde_json::from_str(rest).unwrap();
    assert!(
        arn["Arn"]
            .as_str()
            .unwrap()
            .contains(&format!(":assumed-role/{}/sentinel-", w.role_name)),
        "{arn}"
    );
    assert_eq!(w.log().last().unwrap()["mode"], "cli");

    // The child's exit code (and a signal as 128+n) becomes sentinel's.
    w.sentinel()
        .args([
            "exec",
            "--profile",
            ROLE_PROFILE,
            "--",
            "sh",
            "-c",
            "exit 7",
        ])
        .assert()
        .code(7);
    w.sentinel()
        .args([
            "exec",
            "--profile",
            ROLE_PROFILE,
            "--",
            "sh",
            "-c",
            "kill -TERM $$",
        ])
        .assert()
        .code(128 + 15);
    w.sentinel()
        .args([
            "exec",
            "--profile",
            ROLE_PROFILE,
            "--",
            "no-such-command-sentinel-test",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot run"));
}

#[test]
fn exec_refuses_to_nest() {
    // Checked before anything else: no AWS, no configuration needed.
    let home = Home::new();
    home.cmd()
        .env("AWS_SENTINEL", "prod")
        .args(["exec", "--profile", "prod", "--", "true"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "already inside a sentinel exec for profile \"prod\"",
        ))
        .stderr(predicate::str::contains("hint:"));
}

#[test]
fn denial_exits_2_names_the_rule_and_is_logged() {
    let Some(w) = world(
        r#"version: "1"
rules:
  - name: no-prod-for-anyone
    effect: deny
    conditions: { profiles: [prod] }
    reason: prod is frozen
"#,
    ) else {
        return;
    };
    let out = w
        .sentinel()
        .args(["credentials", "--profile", ROLE_PROFILE])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    let first = err.lines().next().unwrap();
    assert!(first.starts_with("sentinel: denied: "), "{err}");
    assert!(first.ends_with("(rule no-prod-for-anyone)"), "{err}");

    // exec is refused before the command runs.
    let marker = w.home.path("ran");
    w.sentinel()
        .args([
            "exec",
            "--profile",
            ROLE_PROFILE,
            "--",
            "touch",
            marker.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("rule no-prod-for-anyone"));
    assert!(!marker.exists());

    // Through the aws CLI: it fails too.
    let out = w.aws(&["sts", "get-caller-identity", "--profile", PROCESS_PROFILE]);
    assert!(!out.status.success());

    let log = w.log();
    assert_eq!(log.len(), 3);
    for line in &log {
        assert_eq!(line["effect"], "deny", "{line}");
        assert_eq!(line["rule"], "no-prod-for-anyone");
        assert_eq!(line["user"], w.alice.name.as_str());
        assert!(line.get("source_identity").is_none_or(|v| v.is_null()));
    }
}

#[test]
fn approval_lets_alice_in_with_the_marker() {
    let Some(w) = world(
        r#"version: "1"
rules:
  - name: prod-needs-approval
    effect: require_approval
    conditions: { profiles: [prod] }
approvals:
  rules:
    - name: prod-approvers
      profiles: [prod]
      approvers: ["{bob}"]
      max_duration: 2h
"#,
    ) else {
        return;
    };
    // Without an approval: refused, with the way forward.
    w.sentinel()
        .args(["credentials", "--profile", ROLE_PROFILE])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("(rule prod-needs-approval)"))
        .stderr(predicate::str::contains(
            "hint: request access: sentinel request --profile prod",
        ));

    let out = w
        .as_user(&w.alice)
        .args([
            "request",
            "--profile",
            ROLE_PROFILE,
            "--justification",
            "INC-9: rotate the prod database password",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = json(&out)["id"].as_str().unwrap().to_owned();
    // Alice cannot approve her own request.
    w.as_user(&w.alice).args(["approve", &id]).assert().code(2);
    w.as_user(&w.bob)
        .args(["approve", &id, "--comment", "ok"])
        .assert()
        .success();

    let out = w.aws(&["sts", "get-caller-identity", "--profile", PROCESS_PROFILE]);
    assumed_role(&out, &w.role_name);

    let log = w.log();
    let issued = log.last().unwrap();
    assert_eq!(issued["effect"], "allow", "{issued}");
    assert_eq!(issued["approval_id"], id.as_str());
    let si = issued["source_identity"].as_str().unwrap();
    let parts: Vec<&str> = si.split('.').collect();
    assert_eq!(parts.len(), 4, "{si}");
    assert_eq!(parts[0], "sentinel");
    assert_eq!(parts[1], w.alice.name);
    let marker = parts[2];
    assert!(
        marker.len() == 9
            && marker.starts_with('a')
            && marker[1..].chars().all(|c| c.is_ascii_hexdigit()),
        "{si}"
    );
    assert_eq!(
        sentinel_vend::source_identity::SourceIdentity::parse(si)
            .unwrap()
            .user()
            .as_str(),
        w.alice.name
    );

    // Bob holds no approval: his own base credentials are still refused.
    w.sentinel()
        .args(["credentials", "--profile", "bob-prod"])
        .assert()
        .code(2);
}

#[test]
fn require_server_refuses_credentials_but_serves_exec_server() {
    let Some(w) = world(
        r#"version: "1"
rules:
  - name: prod-server-only
    effect: require_server
    conditions: { profiles: [prod] }
  - name: bob-tracked
    effect: require_server_session
    conditions: { profiles: [bob-prod] }
"#,
    ) else {
        return;
    };
    w.sentinel()
        .args(["credentials", "--profile", ROLE_PROFILE])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("(rule prod-server-only)"))
        .stderr(predicate::str::contains("sentinel exec --server"));
    // Environment mode is not server mode either.
    w.sentinel()
        .args(["exec", "--profile", ROLE_PROFILE, "--", "true"])
        .assert()
        .code(2);

    for profile in [ROLE_PROFILE, "bob-prod"] {
        let out = w
            .sentinel()
            .args([
                "exec",
                "--server",
                "--profile",
                profile,
                "--",
                "sh",
                "-c",
                r#"test -z "$AWS_ACCESS_KEY_ID$AWS_PROFILE" && aws --output json sts get-caller-identity"#,
            ])
            .output()
            .unwrap();
        assumed_role(&out, &w.role_name);
        assert!(stderr(&out).contains("server session"), "{}", stderr(&out));
    }
    let log = w.log();
    let server: Vec<_> = log.iter().filter(|l| l["mode"] == "server").collect();
    assert!(server.iter().all(|l| l["effect"] == "allow"), "{log:?}");
    assert!(
        server.iter().all(|l| l["session_id"].is_string()),
        "{log:?}"
    );
    assert!(server.iter().any(|l| l["rule"] == "bob-tracked"));

    // The credential server refuses requests without the right token or Host.
    let script = r#"
import os, urllib.request, urllib.error
u = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
t = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
def code(h):
    try:
        with urllib.request.urlopen(urllib.request.Request(u, headers=h)) as r:
            return r.status
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert "AccessKeyId" not in body, body
        return e.code
print(code({}), code({"Authorization": "wrong"}), code({"Authorization": t, "Host": "evil.example:80"}), code({"Authorization": t}))
"#;
    let out = w
        .sentinel()
        .args([
            "exec",
            "--server",
            "--lazy",
            "--profile",
            ROLE_PROFILE,
            "--",
            "python3",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "403 403 403 200"
    );
}

/// Waits until `path` exists.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < TIMEOUT,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `sentinel exec --server` running `aws sts get-caller-identity`, then
/// waiting for a go file, then calling again; returns the handle and the
/// paths of the first result and the go file.
fn two_calls(
    w: &World,
) -> (
    std::thread::JoinHandle<std::process::Output>,
    PathBuf,
    PathBuf,
) {
    let first = w.home.path("first.json");
    let go = w.home.path("go");
    let script = format!(
        "aws --output json sts get-caller-identity > '{first}.tmp' && mv '{first}.tmp' '{first}' || exit 90; \
         n=0; while [ ! -f '{go}' ]; do n=$((n+1)); [ $n -gt 1200 ] && exit 91; sleep 0.1; done; \
         aws --output json sts get-caller-identity",
        first = first.display(),
        go = go.display()
    );
    let mut cmd = w.sentinel();
    cmd.args([
        "exec",
        "--server",
        "--profile",
        ROLE_PROFILE,
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let handle = std::thread::spawn(move || cmd.output().unwrap());
    (handle, first, go)
}

#[test]
fn exec_server_revoking_the_session_stops_the_next_fetch() {
    let Some(w) = world(ALLOW_ALICE) else { return };
    let (handle, first, go) = two_calls(&w);
    wait_for(&first);
    let out: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    assert!(out["Arn"].as_str().unwrap().contains("assumed-role"));

    let out = w
        .as_user(&w.bob)
        .args([
            "server-sessions",
            "--user",
            &w.alice.name,
            "--status",
            "active",
            "--json",
        ])
        .output()
        .unwrap();
    let sessions = json(&out);
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let id = sessions[0]["id"].as_str().unwrap();
    assert_eq!(sessions[0]["profile"], ROLE_PROFILE);
    w.as_user(&w.bob)
        .args(["server-revoke", id, "--reason", "test revocation"])
        .assert()
        .success();
    std::fs::write(&go, "").unwrap();

    let out = handle.join().unwrap();
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| c != 0 && c != 90 && c != 91),
        "{code:?}: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("revoked"), "{err}");
    let log = w.log();
    let last = log.last().unwrap();
    assert_eq!(last["effect"], "deny", "{last}");
    assert_eq!(last["session_id"], id);
}

#[test]
fn exec_server_kill_switch_stops_the_user() {
    let Some(w) = world(ALLOW_ALICE) else { return };
    let (handle, first, go) = two_calls(&w);
    wait_for(&first);
    w.as_user(&w.bob)
        .args([
            "server-revoke",
            "--user",
            &w.alice.name,
            "--reason",
            "test kill switch",
        ])
        .assert()
        .success();
    std::fs::write(&go, "").unwrap();
    let out = handle.join().unwrap();
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| c != 0 && c != 90 && c != 91),
        "{code:?}: {}",
        stderr(&out)
    );

    // New sessions and credential_process are refused as well.
    w.sentinel()
        .args(["exec", "--server", "--profile", ROLE_PROFILE, "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("revoked"));
    w.sentinel()
        .args(["credentials", "--profile", ROLE_PROFILE])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("revoked"));
}

#[test]
fn exec_server_tracks_the_session_in_a_dynamodb_table() {
    let Some(w) = world(
        r#"version: "1"
rules:
  - name: prod-tracked
    effect: require_server_session
    conditions: { profiles: [prod] }
"#,
    ) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (client, table) = rt
        .block_on(sentinel_testkit::dynamodb_table("sessions"))
        .unwrap();
    rt.block_on(sentinel_session::create_session_table(&client, &table))
        .unwrap();

    let out = w
        .sentinel()
        .args([
            "exec",
            "--server",
            "--session-table",
            &table,
            "--server-duration",
            "2h",
            "--profile",
            ROLE_PROFILE,
            "--",
            "aws",
            "--output",
            "json",
            "sts",
            "get-caller-identity",
        ])
        .output()
        .unwrap();
    assumed_role(&out, &w.role_name);

    let out = w
        .as_user(&w.bob)
        .env("SENTINEL_STATE", "dynamodb")
        .env("SENTINEL_SESSION_TABLE", &table)
        .args(["server-sessions", "--json"])
        .output()
        .unwrap();
    let sessions = json(&out);
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["user"], w.alice.name.as_str());
    assert_eq!(sessions[0]["profile"], ROLE_PROFILE);
    assert!(sessions[0]["request_count"].as_u64().unwrap() >= 1);
    // Nothing went to the default SQLite session store.
    let out = w
        .as_user(&w.bob)
        .args(["server-sessions", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&out), serde_json::json!([]));
}
