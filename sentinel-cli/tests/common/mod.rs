//! Shared helpers for the `sentinel` binary tests: an isolated home per
//! test (XDG dirs in a temp dir) and, for the end-to-end tests, IAM users
//! in the AWS emulator created with the real `aws` CLI.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use assert_cmd::Command;
use tempfile::TempDir;

/// An isolated environment: HOME and XDG_* inside a temp dir.
pub struct Home {
    pub dir: TempDir,
    /// Emulator URL when the test talks to AWS.
    pub endpoint: Option<String>,
}

/// Credentials of an IAM user created in the emulator.
#[derive(Clone, Debug)]
pub struct User {
    /// IAM user name.
    pub iam_name: String,
    /// Policy username Sentinel derives from the ARN.
    pub name: String,
    pub access_key: String,
    pub secret_key: String,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            endpoint: None,
        }
    }

    pub fn with_endpoint(endpoint: String) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            endpoint: Some(endpoint),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config_dir(&self) -> PathBuf {
        self.path("config/sentinel")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path("data/sentinel")
    }

    /// Writes the default policy file ($XDG_CONFIG_HOME/sentinel/policy.yaml).
    pub fn write_policy(&self, yaml: &str) -> PathBuf {
        let p = self.policy_file();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, yaml).unwrap();
        p
    }

    /// $XDG_CONFIG_HOME/sentinel/policy.yaml, the default policy file.
    pub fn policy_file(&self) -> PathBuf {
        self.config_dir().join("policy.yaml")
    }

    /// Writes $XDG_CONFIG_HOME/sentinel/sentinel.toml.
    pub fn write_config(&self, toml: &str) {
        std::fs::create_dir_all(self.config_dir()).unwrap();
        std::fs::write(self.config_dir().join("sentinel.toml"), toml).unwrap();
    }

    /// `sentinel` with a clean environment pointing into this home; no AWS
    /// credentials unless [`Home::as_user`] adds them.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`Home::cmd`] as a `std::process::Command`, for tests that spawn
    /// `sentinel` and signal it while it runs.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("sentinel"));
        c.env_clear()
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("AWS_CONFIG_FILE", self.path("aws/config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.path("aws/credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1");
        // Nothing in these tests may reach a real endpoint: without an
        // emulator, AWS calls go to a closed local port.
        c.env(
            "AWS_ENDPOINT_URL",
            self.endpoint.as_deref().unwrap_or("http://127.0.0.1:9"),
        );
        c
    }

    /// `sentinel` run with `user`'s credentials.
    pub fn as_user(&self, user: &User) -> Command {
        let mut c = self.cmd();
        c.env("AWS_ACCESS_KEY_ID", &user.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &user.secret_key);
        c
    }
}

/// Runs the real `aws` CLI against the emulator with the admin test
/// credentials and returns its JSON output.
pub fn aws(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("aws")
        .args(["--endpoint-url", endpoint, "--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the `aws` CLI (pip install awscli): {e}"));
    assert!(
        out.status.success(),
        "aws {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Creates a distinct IAM user with an access key in the emulator.
pub fn iam_user(endpoint: &str, prefix: &str) -> User {
    let iam_name = sentinel_testkit::unique_name(prefix);
    aws(endpoint, &["iam", "create-user", "--user-name", &iam_name]);
    let key = aws(
        endpoint,
        &["iam", "create-access-key", "--user-name", &iam_name],
    );
    User {
        name: sentinel_policy::Username::from_aws_name(&iam_name)
            .unwrap()
            .to_string(),
        iam_name,
        access_key: key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_key: key["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// A role (name prefixed `prefix`) that trusts anyone to assume it, set
/// SourceIdentity and tag sessions; its name and ARN.
pub fn trusting_role(endpoint: &str, prefix: &str) -> (String, String) {
    let name = sentinel_testkit::unique_name(prefix);
    let arn = role_named(endpoint, &name);
    (name, arn)
}

/// A role named exactly `name` that trusts anyone to assume it, set
/// SourceIdentity and tag sessions; its ARN.
pub fn role_named(endpoint: &str, name: &str) -> String {
    let role = aws(
        endpoint,
        &[
            "iam",
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:SetSourceIdentity","sts:TagSession"]}]}"#,
        ],
    );
    role["Role"]["Arn"].as_str().unwrap().to_owned()
}

/// Active server sessions of `(user, profile)`, as `exec --server` starts
/// them, put straight into the SQLite store under `data_dir`; their ids.
pub fn seed_sessions(data_dir: &std::path::Path, sessions: &[(&str, &str)]) -> Vec<String> {
    use sentinel_session::{NewSession, ServerSession, SessionStore, SqliteSessionStore};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteSessionStore::open(data_dir.join("sessions.db"))
            .await
            .unwrap();
        let mut ids = Vec::new();
        for (user, profile) in sessions {
            let s = ServerSession::start(
                NewSession {
                    user: sentinel_policy::Username::parse(user).unwrap(),
                    profile: (*profile).into(),
                    server_instance_id: "test-instance".into(),
                    duration: std::time::Duration::from_secs(3600),
                    source_identity: None,
                },
                jiff::Timestamp::now(),
            )
            .unwrap();
            store.create(&s).await.unwrap();
            ids.push(s.id);
        }
        ids
    })
}

/// Parses a command's stdout as JSON.
pub fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// stderr as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
