//! `sentinel exec --server` end to end against the AWS emulator (moto):
//! an MFA profile served for longer than one code lives (one STS
//! GetSessionToken, then AssumeRole without a code), the server session
//! ending with the command, and SIGTERM/SIGHUP passed on to the command.
//!
//! moto accepts any MFA code and does not check that a role session came
//! from an MFA session, so the STS requests sentinel sends are recorded by
//! a small TCP proxy in front of moto (`AWS_ENDPOINT_URL_STS`) and checked
//! there. Skips locally without SENTINEL_TEST_AWS_ENDPOINT; fails under
//! CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Home, User, iam_user, json, stderr};

/// No test waits longer than this for one command.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The MFA device of the MFA profiles.
const MFA_SERIAL: &str = "arn:aws:iam::123456789012:mfa/alice";
/// The one code the tests type.
const MFA_CODE: &str = "428133";

/// Bytes a client sent through the proxy, one buffer per connection.
type Recorded = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP proxy to the emulator that records what clients send.
struct Recorder {
    url: String,
    connections: Recorded,
}

/// Where a [`Recorder`] stops: once a client has sent `marker`, nothing
/// more is passed on in either direction (a silent endpoint) and `ready`
/// is created.
#[derive(Clone)]
struct Stall {
    marker: &'static str,
    ready: std::path::PathBuf,
}

impl Recorder {
    /// Proxies a new loopback port to `upstream` (`http://HOST:PORT`).
    fn start(upstream: &str) -> Self {
        Self::start_with(upstream, None)
    }

    /// [`Recorder::start`], going silent as `stall` says.
    fn start_with(upstream: &str, stall: Option<Stall>) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Recorded::default();
        let all = Arc::clone(&connections);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let record = Arc::new(Mutex::new(Vec::new()));
                all.lock().unwrap().push(Arc::clone(&record));
                let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    Some(record),
                    stall.clone().map(|s| (s, Arc::clone(&stalled))),
                );
                pipe(
                    server,
                    client,
                    None,
                    stall.clone().map(|s| (s, Arc::clone(&stalled))),
                );
            }
        });
        Self { url, connections }
    }

    /// Every request so far (headers and form body), in order per
    /// connection.
    fn requests(&self) -> Vec<String> {
        let mut out = Vec::new();
        for conn in self.connections.lock().unwrap().iter() {
            let text = String::from_utf8_lossy(&conn.lock().unwrap()).into_owned();
            out.extend(
                text.split("POST /")
                    .filter(|r| !r.trim().is_empty())
                    .map(str::to_owned),
            );
        }
        out
    }

    /// The requests for the STS `action` (`Action=...` in the form body).
    fn calls(&self, action: &str) -> Vec<String> {
        let marker = format!("Action={action}&");
        self.requests()
            .into_iter()
            .filter(|r| r.contains(&marker))
            .collect()
    }

    /// Forgets everything recorded so far.
    fn clear(&self) {
        self.connections.lock().unwrap().clear();
    }
}

/// Copies `from` to `to` until either side closes, recording into `record`
/// and going silent (holding the connection) when `stall` says so.
fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    record: Option<Arc<Mutex<Vec<u8>>>>,
    stall: Option<(Stall, Arc<std::sync::atomic::AtomicBool>)>,
) {
    use std::sync::atomic::Ordering;
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some(r) = &record {
                        let mut r = r.lock().unwrap();
                        r.extend_from_slice(&buf[..n]);
                        if let Some((s, stalled)) = &stall
                            && String::from_utf8_lossy(&r).contains(s.marker)
                        {
                            stalled.store(true, Ordering::SeqCst);
                            std::fs::write(&s.ready, "").unwrap();
                        }
                    }
                    if let Some((_, stalled)) = &stall
                        && stalled.load(Ordering::SeqCst)
                    {
                        // Silent until the test ends.
                        std::thread::sleep(TIMEOUT);
                        break;
                    }
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

struct World {
    home: Home,
    alice: User,
    role_name: String,
    role_arn: String,
    sts: Recorder,
}

/// Alice as an IAM user, a role, and an AWS config:
///
/// ```ini
/// [profile prod]            role_arn, source_profile = alice-base
/// [profile prod-mfa]        the same with mfa_serial
/// [profile chained-mfa]     role_arn, mfa_serial, source_profile = role-session
/// [profile alice-base]      Alice's IAM user keys (credentials file)
/// [profile role-session]    keys of a role session (credentials file)
/// ```
///
/// The policy allows Alice on every profile.
fn world() -> Option<World> {
    let endpoint = sentinel_testkit::aws_endpoint()?;
    let alice = iam_user(&endpoint, "alice");
    let (role_name, role_arn) = common::trusting_role(&endpoint, "exec-server");
    // Base credentials that are themselves a role session.
    let session = common::aws(
        &endpoint,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "ci-runner",
        ],
    );
    let c = &session["Credentials"];
    let sts = Recorder::start(&endpoint);
    let home = Home::with_endpoint(endpoint);
    std::fs::create_dir_all(home.path("aws")).unwrap();
    std::fs::write(
        home.path("aws/config"),
        format!(
            "[profile prod]\nrole_arn = {role_arn}\nsource_profile = alice-base\nregion = us-east-1\n\n\
             [profile prod-mfa]\nrole_arn = {role_arn}\nsource_profile = alice-base\n\
             mfa_serial = {MFA_SERIAL}\nregion = us-east-1\n\n\
             [profile chained-mfa]\nrole_arn = {role_arn}\nsource_profile = role-session\n\
             mfa_serial = {MFA_SERIAL}\nregion = us-east-1\n\n\
             [profile alice-base]\nregion = us-east-1\n\n\
             [profile role-session]\nregion = us-east-1\n"
        ),
    )
    .unwrap();
    std::fs::write(
        home.path("aws/credentials"),
        format!(
            "[alice-base]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
             [role-session]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
            alice.access_key,
            alice.secret_key,
            c["AccessKeyId"].as_str().unwrap(),
            c["SecretAccessKey"].as_str().unwrap(),
            c["SessionToken"].as_str().unwrap(),
        ),
    )
    .unwrap();
    home.write_policy(&format!(
        r#"version: "1"
rules:
  - name: alice-all
    effect: allow
    conditions: {{ users: ["{}"] }}
"#,
        alice.name
    ));
    Some(World {
        home,
        alice,
        role_name,
        role_arn,
        sts,
    })
}

impl World {
    /// `sentinel` with the test home, the policy, PATH (so `exec` finds
    /// `sh` and `aws`) and STS through the recording proxy; base
    /// credentials only through the AWS config.
    fn std_cmd(&self) -> std::process::Command {
        let mut c = self.home.std_cmd();
        c.env("SENTINEL_POLICY", self.home.policy_file())
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL_STS", &self.sts.url)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        c
    }

    fn sentinel(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::from_std(self.std_cmd());
        c.timeout(TIMEOUT);
        c
    }

    /// The server session `id` as `sentinel server-session ID --json`
    /// shows it to Alice.
    fn server_session(&self, id: &str) -> serde_json::Value {
        let mut c = self.sentinel();
        c.env("AWS_ACCESS_KEY_ID", &self.alice.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.alice.secret_key)
            .args(["server-session", id, "--json"]);
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json(&out)
    }

    /// Alice's sessions that are still active.
    fn active_sessions(&self) -> serde_json::Value {
        let mut c = self.sentinel();
        c.env("AWS_ACCESS_KEY_ID", &self.alice.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.alice.secret_key)
            .args([
                "server-sessions",
                "--user",
                &self.alice.name,
                "--status",
                "active",
                "--json",
            ]);
        json(&c.output().unwrap())
    }
}

/// The server session id from `sentinel exec --server`'s stderr
/// (`... (server session ID)` or `(server session ID; MFA session ...)`).
fn session_id(err: &str) -> String {
    let rest = err
        .split("(server session ")
        .nth(1)
        .unwrap_or_else(|| panic!("no server session in: {err}"));
    rest.split([')', ';']).next().unwrap().to_owned()
}

fn assumed_role(stdout: &[u8], role: &str) {
    let v: serde_json::Value = serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(stdout)));
    let arn = v["Arn"].as_str().unwrap();
    assert!(
        arn.contains(&format!(":assumed-role/{role}/sentinel-")),
        "{arn}"
    );
}

#[test]
fn mfa_profile_is_served_from_one_mfa_session() {
    let Some(w) = world() else { return };
    // Credentials for 15 minutes are never cached (the server keeps only
    // those with more than the SDKs' 15-minute refresh margin left), so the
    // first fetch and every `aws` call below each make a new AssumeRole:
    // the one code must carry all of them.
    let out = w
        .sentinel()
        .args([
            "exec",
            "--server",
            "--profile",
            "prod-mfa",
            "--mfa-token",
            MFA_CODE,
            "--duration",
            "15m",
            "--",
            "sh",
            "-c",
            "aws --output json sts get-caller-identity >/dev/null && aws --output json sts get-caller-identity",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assumed_role(&out.stdout, &w.role_name);
    let err = stderr(&out);
    assert!(err.contains("MFA session until"), "{err}");
    assert!(!err.contains(MFA_CODE), "{err}");

    let tokens = w.sts.calls("GetSessionToken");
    assert_eq!(tokens.len(), 1, "{tokens:#?}");
    assert!(
        tokens[0].contains(&format!("TokenCode={MFA_CODE}")),
        "{}",
        tokens[0]
    );
    assert!(tokens[0].contains("SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice"));
    // 12 h, the default server session.
    assert!(tokens[0].contains("DurationSeconds=43200"), "{}", tokens[0]);
    let assumes = w.sts.calls("AssumeRole");
    assert!(assumes.len() >= 3, "{assumes:#?}");
    for a in &assumes {
        assert!(
            !a.contains("TokenCode") && !a.contains("SerialNumber"),
            "AssumeRole sent MFA parameters: {a}"
        );
        // Made with the MFA session's keys, not Alice's.
        assert!(!a.contains(&w.alice.access_key), "{a}");
    }
    // The session is ended with the command.
    let id = session_id(&err);
    let s = w.server_session(&id);
    assert_eq!(s["status"], "revoked", "{s}");
    assert!(s["request_count"].as_u64().unwrap() >= 3, "{s}");

    // One-shot vending still sends the code with its one AssumeRole.
    w.sts.clear();
    let out = w
        .sentinel()
        .args([
            "exec",
            "--profile",
            "prod-mfa",
            "--mfa-token",
            MFA_CODE,
            "--",
            "aws",
            "--output",
            "json",
            "sts",
            "get-caller-identity",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assumed_role(&out.stdout, &w.role_name);
    assert!(w.sts.calls("GetSessionToken").is_empty());
    let assumes = w.sts.calls("AssumeRole");
    assert_eq!(assumes.len(), 1, "{assumes:#?}");
    assert!(assumes[0].contains(&format!("TokenCode={MFA_CODE}")));
}

#[test]
fn mfa_server_on_role_session_credentials_is_refused_up_front() {
    let Some(w) = world() else { return };
    // No --mfa-token and no terminal: refused before a code is asked for.
    let out = w
        .sentinel()
        .args(["exec", "--server", "--profile", "chained-mfa", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("profile \"chained-mfa\" needs MFA")
            && err.contains("role session")
            && err.contains("without --server")
            && err.contains("source_profile with IAM user keys"),
        "{err}"
    );
    assert!(err.lines().count() <= 2, "{err}");
    assert!(w.sts.calls("GetSessionToken").is_empty());
    assert!(w.sts.calls("AssumeRole").is_empty());
    assert_eq!(w.active_sessions(), serde_json::json!([]));
}

#[test]
fn server_session_ends_with_the_command() {
    let Some(w) = world() else { return };
    let out = w
        .sentinel()
        .args([
            "exec",
            "--server",
            "--profile",
            "prod",
            "--",
            "sh",
            "-c",
            "aws sts get-caller-identity >/dev/null && exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let id = session_id(&stderr(&out));
    let s = w.server_session(&id);
    assert_eq!(s["status"], "revoked", "{s}");
    assert_eq!(s["revoked_by"], w.alice.name.as_str());
    assert_eq!(
        s["revoked_reason"],
        "sentinel exec ended: the command exited with status 3"
    );
    assert_eq!(w.active_sessions(), serde_json::json!([]));
    // No SessionToken: no MFA on this profile.
    assert!(w.sts.calls("GetSessionToken").is_empty());
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

/// Runs `sentinel ARGS` in the background; once `ready` exists sends it
/// `signal` (`TERM`, `HUP`) and returns its output.
fn signalled(w: &World, args: &[&str], ready: &Path, signal: &str) -> std::process::Output {
    let mut cmd = w.std_cmd();
    cmd.args(args);
    signal_when(cmd, ready, signal)
}

/// Runs `cmd` in the background; once `ready` exists sends it `signal`
/// and returns its output.
fn signal_when(mut cmd: std::process::Command, ready: &Path, signal: &str) -> std::process::Output {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    wait_for(ready);
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("sentinel did not exit after SIG{signal}"))
}

#[cfg(unix)]
#[test]
fn sigterm_reaches_the_command_and_ends_the_session() {
    let Some(w) = world() else { return };
    let ready = w.home.path("ready");
    let seen = w.home.path("seen");
    // The command cleans up on SIGTERM and exits 42.
    let script = format!(
        "trap 'echo term > \"{seen}\"; exit 42' TERM; touch \"{ready}\"; \
         n=0; while [ $n -lt 1200 ]; do n=$((n+1)); sleep 0.1; done; exit 90",
        seen = seen.display(),
        ready = ready.display()
    );
    let out = signalled(
        &w,
        &[
            "exec",
            "--server",
            "--profile",
            "prod",
            "--",
            "sh",
            "-c",
            &script,
        ],
        &ready,
        "TERM",
    );
    assert_eq!(out.status.code(), Some(42), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "term");
    let id = session_id(&stderr(&out));
    let s = w.server_session(&id);
    assert_eq!(s["status"], "revoked", "{s}");
    assert_eq!(
        s["revoked_reason"],
        "sentinel exec ended: the command exited with status 42"
    );
}

#[cfg(unix)]
#[test]
fn sighup_reaches_the_command_in_env_mode() {
    let Some(w) = world() else { return };
    let ready = w.home.path("ready");
    // No trap: the command dies of SIGHUP and sentinel exits 128+1.
    let script = format!("touch \"{}\"; exec sleep 120", ready.display());
    let out = signalled(
        &w,
        &["exec", "--profile", "prod", "--", "sh", "-c", &script],
        &ready,
        "HUP",
    );
    assert_eq!(out.status.code(), Some(129), "{}", stderr(&out));
}

/// What the command of `sentinel exec --server --profile served` sees
/// with `default_config` in the config file's `[default]`,
/// `credentials` appended to the credentials file and `env` set: for the
/// aws CLI, then boto3, the caller ARN and the region (and the CLI's
/// `max_attempts` from the config file). The served profile has region
/// eu-west-2 and `output = text`, `[default]` region us-west-1.
fn child_sees(
    w: &World,
    default_config: &str,
    credentials: &str,
    env: &[(&str, &str)],
) -> Vec<String> {
    let config = w.home.path("aws/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[default]\nregion = us-west-1\n{default_config}\n\n\
         [profile served]\nrole_arn = {}\nsource_profile = alice-base\nregion = eu-west-2\noutput = text\n",
        w.role_arn
    ));
    std::fs::write(&config, text).unwrap();
    let creds = w.home.path("aws/credentials");
    let mut text = std::fs::read_to_string(&creds).unwrap();
    text.push_str(&format!("\n{credentials}\n"));
    std::fs::write(&creds, text).unwrap();

    let boto = "import boto3; s = boto3.Session(); \
                print(s.client('sts').get_caller_identity()['Arn']); print(s.region_name)";
    let script = format!(
        "set -e; aws sts get-caller-identity --query Arn; aws configure get region; \
         aws configure get max_attempts || echo none; python3 -c \"{boto}\""
    );
    let mut c = w.sentinel();
    c.envs(env.iter().copied()).args([
        "exec",
        "--server",
        "--profile",
        "served",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The command's aws CLI and boto3 both ran as the served role, in the
/// served profile's region, with the CLI's output setting kept.
fn served_role(w: &World, seen: &[String], max_attempts: &str) {
    assert_eq!(seen.len(), 5, "{seen:#?}");
    let role = format!(":assumed-role/{}/sentinel-", w.role_name);
    // `output = text`: the ARN unquoted.
    assert!(
        seen[0].starts_with("arn:aws:sts::") && seen[0].contains(&role),
        "{seen:#?}"
    );
    assert_eq!(seen[1], "eu-west-2", "{seen:#?}");
    assert_eq!(seen[2], max_attempts, "{seen:#?}");
    assert!(seen[3].contains(&role), "{seen:#?}");
    assert_eq!(seen[4], "eu-west-2", "{seen:#?}");
}

#[test]
fn command_is_served_the_role_over_default_static_keys() {
    let Some(w) = world() else { return };
    let keys = format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}",
        w.alice.access_key, w.alice.secret_key
    );
    let seen = child_sees(&w, "max_attempts = 4", &keys, &[]);
    served_role(&w, &seen, "4");
}

#[test]
fn command_is_served_the_role_over_a_default_credential_process() {
    let Some(w) = world() else { return };
    let script = w.home.path("creds.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{}\", \"SecretAccessKey\": \"{}\"}}'\n",
            w.alice.access_key, w.alice.secret_key
        ),
    )
    .unwrap();
    let seen = child_sees(
        &w,
        &format!("credential_process = sh {}", script.display()),
        "",
        &[],
    );
    served_role(&w, &seen, "none");
}

#[test]
fn command_is_served_the_role_over_default_sso() {
    let Some(w) = world() else { return };
    let sso = "sso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
               sso_account_id = 123456789012\nsso_role_name = Dev";
    let seen = child_sees(&w, sso, "", &[]);
    served_role(&w, &seen, "none");
}

#[test]
fn command_is_served_the_role_over_web_identity() {
    let Some(w) = world() else { return };
    let endpoint = w.home.endpoint.clone().unwrap();
    let (_, web_role) = common::trusting_role(&endpoint, "web-identity");
    let token = w.home.path("token");
    std::fs::write(&token, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaSJ9.").unwrap();
    let token = token.display().to_string();
    let seen = child_sees(
        &w,
        "",
        "",
        &[
            ("AWS_ROLE_ARN", &web_role),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", &token),
            ("AWS_ROLE_SESSION_NAME", "ci"),
        ],
    );
    served_role(&w, &seen, "none");
}

#[test]
fn command_is_served_the_role_with_aws_profile_set() {
    let Some(w) = world() else { return };
    let config = w.home.path("aws/config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[profile tools]\nregion = ap-south-1\nmax_attempts = 9\n");
    std::fs::write(&config, text).unwrap();
    let keys = format!(
        "[tools]\naws_access_key_id = {}\naws_secret_access_key = {}",
        w.alice.access_key, w.alice.secret_key
    );
    // AWS_PROFILE's settings are kept (max_attempts), the served
    // profile's win (region), its keys are not.
    let seen = child_sees(&w, "", &keys, &[("AWS_PROFILE", "tools")]);
    served_role(&w, &seen, "9");
}

#[test]
fn mfa_code_is_read_from_stdin_without_taking_the_commands_input() {
    let Some(w) = world() else { return };
    // The first line is the code; the rest belongs to the command.
    let out = w
        .sentinel()
        .args([
            "exec",
            "--profile",
            "prod-mfa",
            "--",
            "sh",
            "-c",
            "read line; echo \"child read: $line\"",
        ])
        .write_stdin(format!("{MFA_CODE}\nfor the command\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "child read: for the command"
    );
    let assumes = w.sts.calls("AssumeRole");
    assert_eq!(assumes.len(), 1, "{assumes:#?}");
    assert!(assumes[0].contains(&format!("TokenCode={MFA_CODE}")));

    // `credentials` (credential_process) too.
    w.sts.clear();
    let out = w
        .sentinel()
        .args(["credentials", "--profile", "prod-mfa"])
        .write_stdin(format!("{MFA_CODE}\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["Version"], 1);
    assert!(w.sts.calls("AssumeRole")[0].contains(&format!("TokenCode={MFA_CODE}")));

    // Nothing on stdin: refused with the ways to give the code.
    w.sts.clear();
    let out = w
        .sentinel()
        .args(["credentials", "--profile", "prod-mfa"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("needs an MFA code")
            && err.contains("--mfa-token")
            && err.contains("standard input"),
        "{err}"
    );
    assert!(w.sts.calls("AssumeRole").is_empty());
}

/// Ctrl-C (SIGINT) or SIGTERM while the first credential fetch is still
/// waiting for STS stops sentinel before the command starts, and the
/// server session it had started is ended, not left active for 12 h.
#[cfg(unix)]
#[test]
fn a_signal_during_the_first_fetch_ends_the_session() {
    let Some(w) = world() else { return };
    let endpoint = w.home.endpoint.clone().unwrap();
    for signal in ["INT", "TERM"] {
        let ready = w.home.path(&format!("stalled-{signal}"));
        // STS answers GetCallerIdentity, then goes silent on AssumeRole.
        let sts = Recorder::start_with(
            &endpoint,
            Some(Stall {
                marker: "Action=AssumeRole&",
                ready: ready.clone(),
            }),
        );
        let started = w.home.path(&format!("started-{signal}"));
        let mut cmd = w.std_cmd();
        cmd.env("AWS_ENDPOINT_URL_STS", &sts.url).args([
            "exec",
            "--server",
            "--profile",
            "prod",
            "--",
            "touch",
            &started.display().to_string(),
        ]);
        let out = signal_when(cmd, &ready, signal);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "SIG{signal}: {err}");
        assert!(
            err.contains(&format!(
                "stopped by SIG{signal} before the command started"
            )),
            "{err}"
        );
        assert!(!started.exists(), "the command ran");
        let id = session_id(&err);
        let s = w.server_session(&id);
        assert_eq!(s["status"], "revoked", "SIG{signal}: {s}");
    }
    assert_eq!(w.active_sessions(), serde_json::json!([]));
}
