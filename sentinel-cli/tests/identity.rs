//! Identity you can trust, and administrative actions under policy, end to
//! end: the `sentinel` binary against the AWS emulator with several IAM
//! users and roles, sessions made with the real `aws` CLI.
//!
//! Each test builds its own world: a `prod` profile on a role anyone may
//! assume, IAM users and a policy template in which `{alice}`, `{bob}`,
//! … become the users' names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Home, User, aws, iam_user, json, stderr, trusting_role};
use predicates::prelude::*;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Base credentials: an IAM user's keys, or a role session's.
#[derive(Clone, Debug)]
struct Creds {
    access_key: String,
    secret_key: String,
    token: Option<String>,
}

impl From<&User> for Creds {
    fn from(u: &User) -> Self {
        Self {
            access_key: u.access_key.clone(),
            secret_key: u.secret_key.clone(),
            token: None,
        }
    }
}

struct World {
    home: Home,
    endpoint: String,
    role_arn: String,
}

impl World {
    fn new() -> Option<Self> {
        let endpoint = sentinel_testkit::aws_endpoint()?;
        let (_, role_arn) = trusting_role(&endpoint, "prod-admin");
        let home = Home::with_endpoint(endpoint.clone());
        std::fs::create_dir_all(home.path("aws")).unwrap();
        std::fs::write(
            home.path("aws/config"),
            format!("[profile prod]\nrole_arn = {role_arn}\nregion = us-east-1\n"),
        )
        .unwrap();
        Some(Self {
            home,
            endpoint,
            role_arn,
        })
    }

    fn policy(&self, yaml: &str) {
        self.home.write_policy(yaml);
    }

    /// `sentinel ARGS` with `creds` as the base credentials.
    fn run(&self, creds: &Creds, args: &[&str]) -> std::process::Output {
        let mut c = self.home.cmd();
        c.env("SENTINEL_POLICY", self.home.policy_file())
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", &creds.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &creds.secret_key)
            .timeout(TIMEOUT)
            .args(args);
        if let Some(t) = &creds.token {
            c.env("AWS_SESSION_TOKEN", t);
        }
        c.output().unwrap()
    }

    /// A session of role `role_arn` named `session_name`, made by `who`
    /// with the real `aws` CLI: the caller picks the name.
    fn assume(&self, who: &Creds, role_arn: &str, session_name: &str) -> Creds {
        let out = std::process::Command::new("aws")
            .args(["--endpoint-url", &self.endpoint, "--output", "json"])
            .args(["sts", "assume-role", "--role-arn", role_arn])
            .args(["--role-session-name", session_name])
            .env("AWS_ACCESS_KEY_ID", &who.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &who.secret_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .unwrap();
        assert!(out.status.success(), "assume-role: {}", stderr(&out));
        let c = &json(&out)["Credentials"];
        Creds {
            access_key: c["AccessKeyId"].as_str().unwrap().to_owned(),
            secret_key: c["SecretAccessKey"].as_str().unwrap().to_owned(),
            token: Some(c["SessionToken"].as_str().unwrap().to_owned()),
        }
    }

    /// The decision log, verified, one JSON value per line.
    fn log(&self) -> Vec<serde_json::Value> {
        let path = self.home.path("state/sentinel/decisions.jsonl");
        sentinel_vend::log::verify_file(&path).unwrap();
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// An IAM user named exactly `name` with an access key.
fn iam_user_named(endpoint: &str, name: &str) -> User {
    aws(endpoint, &["iam", "create-user", "--user-name", name]);
    let key = aws(endpoint, &["iam", "create-access-key", "--user-name", name]);
    User {
        iam_name: name.to_owned(),
        name: name.to_ascii_lowercase(),
        access_key: key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_key: key["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

fn assert_refused(out: &std::process::Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "no credentials on a refusal");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

fn assert_issued(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr(out));
    assert!(json(out)["AccessKeyId"].is_string());
}

#[test]
fn a_session_name_the_caller_picked_is_nobody() {
    let Some(w) = World::new() else { return };
    let mallory = iam_user(&w.endpoint, "mallory");
    let carol = iam_user(&w.endpoint, "carol");
    w.policy(&format!(
        "version: '1'\nrules:\n  - name: carol-prod\n    effect: allow\n    conditions: {{ profiles: [prod], users: [{}] }}\n",
        carol.name
    ));
    // Mallory may assume some role and names her session "carol".
    let (_, other_role) = trusting_role(&w.endpoint, "shared-tools");
    let as_carol = w.assume(&(&mallory).into(), &other_role, &carol.name);
    let out = w.run(&as_carol, &["credentials", "--profile", "prod"]);
    assert_refused(&out, "names nobody");
    assert!(stderr(&out).contains("trusted_roles"), "{}", stderr(&out));
    // The refusal is on record, with the principal, not the picked name.
    let last = w.log().pop().unwrap();
    assert_eq!(last["effect"], "deny");
    assert_eq!(last["user"], "-");
    assert!(
        last["caller_arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/"),
        "{last}"
    );
    // Carol herself gets in.
    assert_issued(&w.run(&(&carol).into(), &["credentials", "--profile", "prod"]));
}

#[test]
fn sso_session_names_are_people_and_mappings_name_the_rest() {
    let Some(w) = World::new() else { return };
    let admin = iam_user(&w.endpoint, "sso-admin");
    let u = sentinel_testkit::unique_name("sso");
    // IAM Identity Center's role names: AWSReservedSSO_<permission set>_<id>.
    let sso_name = format!("AWSReservedSSO_Dev_{}", &u[u.len() - 8..]);
    let sso_role = common::role_named(&w.endpoint, &sso_name);
    let (_, ci_role) = trusting_role(&w.endpoint, "ci-deployer");
    let person = "alice.smith@example.com";
    w.policy(&format!(
        "version: '1'\nidentity:\n  principals:\n    \"{ci_role}\": deploy-bot\nrules:\n  - name: people\n    effect: allow\n    conditions: {{ profiles: [prod], users: [\"{person}\", deploy-bot] }}\n"
    ));
    // IAM Identity Center names the session after the person.
    let sso = w.assume(&(&admin).into(), &sso_role, person);
    assert_issued(&w.run(&sso, &["credentials", "--profile", "prod"]));
    let last = w.log().pop().unwrap();
    assert_eq!(last["user"], person);
    let si = last["source_identity"].as_str().unwrap();
    assert!(
        si.starts_with(&format!("sentinel.{person}.direct.")),
        "{si}"
    );
    let parsed = sentinel_vend::source_identity::SourceIdentity::parse(si).unwrap();
    assert_eq!(parsed.user().as_str(), person);
    // A role the policy maps is one user, whatever its sessions are named.
    let ci = w.assume(&(&admin).into(), &ci_role, &u);
    assert_issued(&w.run(&ci, &["credentials", "--profile", "prod"]));
    assert_eq!(w.log().pop().unwrap()["user"], "deploy-bot");
    // whoami explains it.
    let out = w.run(&sso, &["whoami", "--profile", "prod", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let me = json(&out);
    assert_eq!(me["username"], person);
    assert!(
        me["identified_by"]
            .as_str()
            .unwrap()
            .contains("trusted role")
    );
}

#[test]
fn a_dotted_name_and_a_plain_one_are_two_people() {
    let Some(w) = World::new() else { return };
    let base = sentinel_testkit::unique_name("alice");
    let alice = iam_user_named(&w.endpoint, &base);
    let dotted = iam_user_named(&w.endpoint, &format!("a.{}", &base[1..]));
    w.policy(&format!(
        "version: '1'\nrules:\n  - name: alice-prod\n    effect: allow\n    conditions: {{ profiles: [prod], users: [{}] }}\n",
        alice.name
    ));
    assert_issued(&w.run(&(&alice).into(), &["credentials", "--profile", "prod"]));
    let out = w.run(&(&dotted).into(), &["credentials", "--profile", "prod"]);
    assert_refused(&out, "denied");
    assert_eq!(w.log().pop().unwrap()["user"], dotted.name);
}

#[test]
fn long_names_are_never_cut_into_one() {
    let Some(w) = World::new() else { return };
    // Two names that share their first 20+ characters, and one too long
    // for a SourceIdentity.
    let u = sentinel_testkit::unique_name("l");
    let h = &u[u.len() - 8..];
    let first = iam_user_named(&w.endpoint, &format!("firstname.last-{h}-1"));
    let second = iam_user_named(&w.endpoint, &format!("firstname.last-{h}-2"));
    let long = iam_user_named(&w.endpoint, &format!("firstname.last-{h}-much-too-long"));
    assert!(first.name.len() <= 28 && first.name[..24] == second.name[..24]);
    w.policy(&format!(
        "version: '1'\nrules:\n  - name: some\n    effect: allow\n    conditions: {{ profiles: [prod], users: [\"{}\", \"{}\"] }}\n",
        first.name, long.name
    ));
    assert_issued(&w.run(&(&first).into(), &["credentials", "--profile", "prod"]));
    let si = w.log().pop().unwrap()["source_identity"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(si.contains(&first.name), "{si}");
    assert_refused(
        &w.run(&(&second).into(), &["credentials", "--profile", "prod"]),
        "denied",
    );
    // Allowed by the policy, but the name does not fit: refused whole, with
    // the fix, and nothing issued.
    let out = w.run(&(&long).into(), &["credentials", "--profile", "prod"]);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(out.stdout.is_empty());
    assert!(err.contains("at most 28"), "{err}");
    assert!(err.contains("identity.principals"), "{err}");
    assert_eq!(w.log().pop().unwrap()["effect"], "error");
}

#[test]
fn a_session_sentinel_issued_cannot_act_for_anyone() {
    let Some(w) = World::new() else { return };
    let alice = iam_user(&w.endpoint, "alice");
    let bob = iam_user(&w.endpoint, "bob");
    w.policy(&format!(
        "version: '1'\nrules:\n  - name: alice-prod\n    effect: allow\n    conditions: {{ profiles: [prod], users: [{alice}] }}\n  - name: bob-asks\n    effect: require_approval\n    conditions: {{ profiles: [prod], users: [{bob}] }}\napprovals:\n  rules:\n    - name: prod\n      profiles: [prod]\n      approvers: [{alice}]\n",
        alice = alice.name,
        bob = bob.name
    ));
    let out = w.run(
        &(&bob).into(),
        &[
            "request",
            "--profile",
            "prod",
            "--justification",
            "rotate the prod database password",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = json(&out)["id"].as_str().unwrap().to_owned();
    // Alice's credentials from Sentinel...
    let out = w.run(&(&alice).into(), &["credentials", "--profile", "prod"]);
    assert_issued(&out);
    let c = json(&out);
    let vended = Creds {
        access_key: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_key: c["SecretAccessKey"].as_str().unwrap().to_owned(),
        token: Some(c["SessionToken"].as_str().unwrap().to_owned()),
    };
    // ...cannot approve (nor get more credentials): the session is nobody.
    assert_refused(
        &w.run(&vended, &["approve", &id]),
        "credentials from Sentinel cannot call Sentinel",
    );
    assert_refused(
        &w.run(&vended, &["credentials", "--profile", "prod"]),
        "credentials from Sentinel cannot call Sentinel",
    );
    // Alice with her own credentials may.
    let out = w.run(&(&alice).into(), &["approve", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn foreign_accounts_are_refused() {
    let Some(w) = World::new() else { return };
    let alice = iam_user(&w.endpoint, "alice");
    w.policy(&format!(
        "version: '1'\nidentity:\n  accounts: [\"000000000000\"]\nrules:\n  - name: alice-prod\n    effect: allow\n    conditions: {{ profiles: [prod], users: [{}] }}\n",
        alice.name
    ));
    assert_refused(
        &w.run(&(&alice).into(), &["credentials", "--profile", "prod"]),
        "identity.accounts does not list",
    );
}

#[test]
fn the_role_is_the_policys_not_the_callers() {
    let Some(w) = World::new() else { return };
    let alice = iam_user(&w.endpoint, "alice");
    let (_, other) = trusting_role(&w.endpoint, "other");
    w.policy(&format!(
        "version: '1'\nprofiles:\n  prod:\n    role_arn: {other}\nrules:\n  - name: alice-prod\n    effect: allow\n    conditions: {{ profiles: [prod], users: [{}] }}\n",
        alice.name
    ));
    let out = w.run(&(&alice).into(), &["credentials", "--profile", "prod"]);
    assert_refused(&out, "governs it with role");
    assert!(stderr(&out).contains(&w.role_arn));
}

/// Admins revoke anyone and work the kill switch; users revoke only their
/// own sessions; names are canonical; the lift command restores access.
#[test]
fn only_admins_revoke_others_and_lift() {
    let Some(w) = World::new() else { return };
    let alice = iam_user(&w.endpoint, "alice");
    let bob = iam_user(&w.endpoint, "bob");
    let sec = iam_user(&w.endpoint, "secops");
    w.policy(&format!(
        "version: '1'\nadmins: [{sec}]\nrules:\n  - name: team\n    effect: allow\n    conditions: {{ profiles: [prod] }}\n",
        sec = sec.name
    ));
    let alice_c: Creds = (&alice).into();
    let bob_c: Creds = (&bob).into();
    let sec_c: Creds = (&sec).into();
    // Sessions as `exec --server` starts them, straight into the store.
    let ids = common::seed_sessions(
        &w.home.data_dir(),
        &[(&alice.name, "prod"), (&alice.name, "prod")],
    );
    // Bob may not revoke alice's session; alice may.
    assert_refused(
        &w.run(&bob_c, &["server-revoke", &ids[0], "--reason", "mine now"]),
        "only the owner or a security admin",
    );
    let out = w.run(&alice_c, &["server-revoke", &ids[0], "--reason", "done"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Bob may not pull the kill switch.
    assert_refused(
        &w.run(
            &bob_c,
            &["server-revoke", "--user", &alice.name, "--reason", "x"],
        ),
        "security admins",
    );
    // A name in another case is refused with the canonical spelling.
    let upper = alice.name.to_ascii_uppercase();
    w.home
        .cmd()
        .args(["server-revoke", "--user", &upper, "--reason", "x"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "write \"{}\"",
            alice.name
        )));
    // The admin may, and alice is out.
    let out = w.run(
        &sec_c,
        &[
            "server-revoke",
            "--user",
            &alice.name,
            "--reason",
            "laptop stolen",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked 1 session"));
    assert_refused(
        &w.run(&alice_c, &["credentials", "--profile", "prod"]),
        "revoked",
    );
    // Lifting: not by bob, nor by alice; by the admin.
    assert_refused(
        &w.run(&alice_c, &["server-lift", "--user", &alice.name]),
        "security admins",
    );
    let out = w.run(&sec_c, &["server-lift", "--user", &alice.name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_issued(&w.run(&alice_c, &["credentials", "--profile", "prod"]));
    // Lifting what is not there says so.
    let out = w.run(&sec_c, &["server-lift", "--user", &alice.name]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn approvals_need_an_approver_the_current_policy_allows() {
    let Some(w) = World::new() else { return };
    let alice = iam_user(&w.endpoint, "alice");
    let bob = iam_user(&w.endpoint, "bob");
    let carol = iam_user(&w.endpoint, "carol");
    let policy = |approvals: &str| {
        format!(
            "version: '1'\nrules:\n  - name: prod-asks\n    effect: require_approval\n    conditions: {{ profiles: [prod], users: [{}] }}\n{approvals}",
            alice.name
        )
    };
    // No approvals section: nobody may approve, and validate says so.
    w.policy(&policy(""));
    let out = w
        .home
        .cmd()
        .args(["policy", "validate"])
        .arg(w.home.policy_file())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nobody may approve requests for prod"),
        "{}",
        stderr(&out)
    );
    let request = || {
        let out = w.run(
            &(&alice).into(),
            &[
                "request",
                "--profile",
                "prod",
                "--justification",
                "hotfix for the checkout outage",
                "--json",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out)["id"].as_str().unwrap().to_owned()
    };
    let id = request();
    assert_refused(
        &w.run(&(&bob).into(), &["approve", &id]),
        "no approval rules",
    );
    // Bob approves under a policy that lists him...
    w.policy(&policy(&format!(
        "approvals:\n  rules:\n    - name: prod\n      profiles: [prod]\n      approvers: [{}]\n",
        bob.name
    )));
    let out = w.run(&(&bob).into(), &["approve", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_issued(&w.run(&(&alice).into(), &["credentials", "--profile", "prod"]));
    // ...and once the policy no longer does, his approval no longer counts.
    w.policy(&policy(&format!(
        "approvals:\n  rules:\n    - name: prod\n      profiles: [prod]\n      approvers: [{}]\n",
        carol.name
    )));
    assert_refused(
        &w.run(&(&alice).into(), &["credentials", "--profile", "prod"]),
        "requires an approved access request",
    );
}

/// boto3 through `credential_process`: the person gets the role, a session
/// named after them by someone else gets nothing.
#[test]
fn boto3_through_credential_process_gets_only_real_people_in() {
    let Some(w) = World::new() else { return };
    let carol = iam_user(&w.endpoint, "carol");
    let mallory = iam_user(&w.endpoint, "mallory");
    let sentinel = assert_cmd::cargo::cargo_bin("sentinel");
    std::fs::write(
        w.home.path("aws/config"),
        format!(
            "[profile prod]\nrole_arn = {}\nregion = us-east-1\n\n[profile prod-via-sentinel]\ncredential_process = {} credentials --profile prod\nregion = us-east-1\n",
            w.role_arn,
            sentinel.display()
        ),
    )
    .unwrap();
    w.policy(&format!(
        "version: '1'\nrules:\n  - name: carol-prod\n    effect: allow\n    conditions: {{ profiles: [prod], users: [{}] }}\n",
        carol.name
    ));
    let (_, other_role) = trusting_role(&w.endpoint, "shared-tools");
    let impostor = w.assume(&(&mallory).into(), &other_role, &carol.name);
    let boto3 = |creds: &Creds| {
        let mut c = std::process::Command::new("python3");
        c.args([
            "-c",
            "import boto3; print(boto3.Session(profile_name='prod-via-sentinel').client('sts').get_caller_identity()['Arn'])",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.home.path("home"))
        .env("XDG_CONFIG_HOME", w.home.path("config"))
        .env("XDG_DATA_HOME", w.home.path("data"))
        .env("XDG_STATE_HOME", w.home.path("state"))
        .env("AWS_CONFIG_FILE", w.home.path("aws/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", w.home.path("aws/credentials"))
        .env("AWS_ENDPOINT_URL", &w.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("SENTINEL_POLICY", w.home.policy_file())
        .env("AWS_ACCESS_KEY_ID", &creds.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_key);
        if let Some(t) = &creds.token {
            c.env("AWS_SESSION_TOKEN", t);
        }
        c.output().unwrap()
    };
    let out = boto3(&(&carol).into());
    assert!(out.status.success(), "{}", stderr(&out));
    let arn = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        arn.contains(&format!(
            "assumed-role/{}",
            w.role_arn.rsplit('/').next().unwrap()
        )) && arn.contains(&format!("/sentinel-{}-", carol.name)),
        "{arn}"
    );
    let out = boto3(&impostor);
    assert!(!out.status.success(), "the impostor got in");
    assert!(stderr(&out).contains("names nobody"), "{}", stderr(&out));
}

#[test]
fn only_the_invoker_or_an_admin_closes_break_glass() {
    let Some(w) = World::new() else { return };
    let alice = iam_user(&w.endpoint, "alice");
    let bob = iam_user(&w.endpoint, "bob");
    let sec = iam_user(&w.endpoint, "secops");
    w.policy(&format!(
        "version: '1'\nadmins: [{sec}]\nrules:\n  - name: closed\n    effect: deny\n    conditions: {{ profiles: [prod] }}\nbreakglass:\n  rules:\n    - name: oncall\n      profiles: [prod]\n      users: [{alice}, {bob}]\n",
        sec = sec.name,
        alice = alice.name,
        bob = bob.name
    ));
    let invoke = |who: &User| {
        let out = w.run(
            &who.into(),
            &[
                "breakglass",
                "--profile",
                "prod",
                "--reason-code",
                "incident",
                "--justification",
                "the payments database is down, failing over",
                "--json",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out)["id"].as_str().unwrap().to_owned()
    };
    let close = |who: &User, id: &str| {
        w.run(
            &who.into(),
            &["breakglass-close", id, "--reason", "incident over"],
        )
    };
    let alices = invoke(&alice);
    let bobs = invoke(&bob);
    assert_refused(&close(&bob, &alices), "only the owner or a security admin");
    let out = close(&alice, &alices);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = close(&sec, &bobs);
    assert!(out.status.success(), "{}", stderr(&out));
}
