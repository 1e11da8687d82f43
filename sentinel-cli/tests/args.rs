//! Argument errors, help and exit codes: no AWS needed. Usage errors exit 1
//! (never clap's 2, which means "denied" here) and print clap's message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Home;
use predicates::prelude::*;

/// Runs `sentinel ARGS` and expects a usage error: exit 1, a message on
/// stderr containing `needle`, nothing on stdout.
fn usage_error(args: &[&str], needle: &str) {
    let home = Home::new();
    home.cmd()
        .args(args)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(needle));
}

#[test]
fn help_documents_exit_codes() {
    let home = Home::new();
    for args in [
        &["--help"][..],
        &["approve", "--help"],
        &["policy", "test", "--help"],
    ] {
        home.cmd()
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Exit codes:"))
            .stdout(predicate::str::contains("2  denied"));
    }
    home.cmd()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains("sentinel"));
}

#[test]
fn no_or_unknown_subcommand() {
    usage_error(&[], "Usage:");
    usage_error(&["frobnicate"], "unrecognized subcommand");
    usage_error(&["policy"], "Usage:");
    usage_error(&["policy", "lint"], "unrecognized subcommand");
}

#[test]
fn request_commands_need_their_arguments() {
    usage_error(
        &["request", "--justification", "x".repeat(20).as_str()],
        "--profile",
    );
    usage_error(&["request", "--profile", "prod"], "--justification");
    for cmd in ["check", "approve", "deny", "cancel"] {
        usage_error(&[cmd], "<ID>");
    }
    usage_error(
        &["approve", "abc", "--user", "bob"],
        "unexpected argument '--user'",
    );
    usage_error(&["approve", "abc", "--comment"], "--comment");
}

#[test]
fn bad_durations_are_usage_errors() {
    for d in ["10", "soon", "0s", "-1h", "1mo"] {
        let flag = format!("--duration={d}");
        usage_error(
            &[
                "request",
                "--profile",
                "prod",
                "--justification",
                "long enough justification",
                &flag,
            ],
            "invalid value",
        );
        usage_error(
            &[
                "breakglass",
                "--profile",
                "prod",
                "--reason-code",
                "incident",
                "--justification",
                "long enough justification text",
                &flag,
            ],
            "--duration",
        );
    }
}

#[test]
fn bad_status_values_are_usage_errors() {
    usage_error(&["list", "--status", "bogus"], "is not one of pending");
    usage_error(
        &["breakglass-list", "--status", "pending"],
        "is not one of active",
    );
    usage_error(
        &["server-sessions", "--status", "open"],
        "is not one of active",
    );
    usage_error(&["list", "--limit", "0"], "--limit");
    usage_error(&["list", "--limit", "many"], "--limit");
}

#[test]
fn breakglass_arguments() {
    let ok_just = "the primary database is down, failing over";
    usage_error(
        &[
            "breakglass",
            "--profile",
            "prod",
            "--justification",
            ok_just,
        ],
        "--reason-code",
    );
    usage_error(
        &[
            "breakglass",
            "--profile",
            "prod",
            "--reason-code",
            "panic",
            "--justification",
            ok_just,
        ],
        "is not one of incident",
    );
    usage_error(
        &[
            "breakglass",
            "--reason-code",
            "incident",
            "--justification",
            ok_just,
        ],
        "--profile",
    );
    usage_error(
        &[
            "breakglass",
            "--profile",
            "prod",
            "--reason-code",
            "incident",
        ],
        "--justification",
    );
    usage_error(&["breakglass-check"], "<ID>");
    usage_error(&["breakglass-close", "abc"], "--reason");
    usage_error(&["breakglass-close", "--reason", "done"], "<ID>");
    usage_error(&["breakglass-list", "--since", "yesterday"], "invalid time");
    usage_error(
        &["breakglass-list", "--until", "2026-13-01"],
        "invalid time",
    );
}

#[test]
fn session_arguments() {
    usage_error(&["server-session"], "<ID>");
    usage_error(&["server-revoke", "abc"], "--reason");
    usage_error(&["server-revoke", "--reason", "lost laptop"], "required");
    usage_error(
        &["server-revoke", "abc", "--user", "alice", "--reason", "x"],
        "cannot be used with",
    );
    usage_error(
        &["server-revoke", "abc", "--profile", "prod", "--reason", "x"],
        "cannot be used with",
    );
    usage_error(
        &["server-revoke", "--profile", "prod", "--reason", "x"],
        "required",
    );
}

#[test]
fn policy_and_completion_arguments() {
    usage_error(&["policy", "validate"], "<FILE>");
    usage_error(&["policy", "test", "--profile", "prod"], "--user");
    usage_error(&["policy", "test", "--user", "alice"], "--profile");
    usage_error(
        &[
            "policy",
            "test",
            "--user",
            "a",
            "--profile",
            "p",
            "--mode",
            "web",
        ],
        "is not one of cli, server, credential_process",
    );
    usage_error(
        &[
            "policy",
            "test",
            "--user",
            "a",
            "--profile",
            "p",
            "--at",
            "tomorrow",
        ],
        "RFC 3339",
    );
    usage_error(&["completions"], "<SHELL>");
    usage_error(&["completions", "powershell"], "invalid value");
}

#[test]
fn completions_for_each_shell() {
    let home = Home::new();
    for shell in ["bash", "zsh", "fish"] {
        home.cmd()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("breakglass-close"));
    }
}

#[test]
fn config_errors_name_the_problem() {
    let home = Home::new();
    home.write_config("policy = \"/etc/p.yaml\"\nstaet = \"sqlite\"\n");
    home.cmd()
        .arg("config")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("sentinel.toml:2:1"))
        .stderr(predicate::str::contains("staet"))
        .stderr(predicate::str::contains("hint: known keys"));

    let home = Home::new();
    home.cmd()
        .args(["--state", "postgres", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "sentinel: unknown state backend \"postgres\"",
        ));
    home.cmd()
        .args(["--policy", "ssm:policies", "config"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ssm:/sentinel/policies"));
}

#[test]
fn bad_notification_settings_are_errors() {
    let home = Home::new();
    home.cmd()
        .arg("list")
        .env("SENTINEL_WEBHOOK_URL", "ftp://hooks.example.com/x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("webhook"))
        .stderr(predicate::str::contains("hint: "));
    home.cmd()
        .arg("list")
        .env("SENTINEL_WEBHOOK_SECRET", "s3cret")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no webhook URL"))
        .stderr(predicate::str::contains("s3cret").not());
}

#[test]
fn config_never_shows_webhook_tokens() {
    let home = Home::new();
    home.write_config(
        "webhook_url = \"https://user:pw@hooks.example.com/services/T0/B0/TOKEN123?key=QKEY\"\nwebhook_secret = \"s3cret\"\n",
    );
    for args in [&["config"][..], &["config", "--json"][..]] {
        let out = home.cmd().args(args).output().unwrap();
        assert!(out.status.success(), "{}", common::stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("https://hooks.example.com/…"), "{text}");
        for secret in ["TOKEN123", "QKEY", "services", "pw@", "s3cret"] {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
    }
}

#[test]
fn timeouts_are_configurable_and_checked() {
    let home = Home::new();
    let c = common::json(&home.cmd().args(["config", "--json"]).output().unwrap());
    assert_eq!(c["timeouts"]["connect"], "3s");
    assert_eq!(c["timeouts"]["attempt"], "5s");
    assert_eq!(c["timeouts"]["operation"], "12s");

    home.write_config("[timeouts]\nconnect = 1\nattempt = \"1.5s\"\noperation = \"4s\"\n");
    let out = home
        .cmd()
        .args(["config", "--json"])
        .env("SENTINEL_CONNECT_TIMEOUT", "500ms")
        .output()
        .unwrap();
    let c = common::json(&out);
    assert_eq!(c["timeouts"]["connect"], "500ms");
    assert_eq!(c["timeouts"]["attempt"], "1.5s");
    assert_eq!(c["timeouts"]["operation"], "4s");
    home.cmd()
        .arg("config")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "connect 1s, attempt 1.5s, whole call 4s",
        ));

    home.cmd()
        .arg("config")
        .env("SENTINEL_OPERATION_TIMEOUT", "0")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("SENTINEL_OPERATION_TIMEOUT=\"0\""))
        .stderr(predicate::str::contains("hint: "));
    home.write_config("[timeouts]\nconect = 1\n");
    home.cmd()
        .arg("config")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("conect"));
}

#[test]
fn config_precedence_flags_env_file() {
    let home = Home::new();
    home.write_config(
        "policy = \"/from/file.yaml\"\nstate = \"dynamodb\"\nrequest_table = \"file-requests\"\nwebhook_url = \"https://hooks.example.com/x\"\nwebhook_secret = \"s3cret\"\n",
    );
    let out = home.cmd().args(["config", "--json"]).output().unwrap();
    assert!(out.status.success());
    let c = common::json(&out);
    assert_eq!(c["policy"]["path"], "/from/file.yaml");
    assert_eq!(c["state"]["kind"], "dynamodb");
    assert_eq!(c["state"]["request_table"], "file-requests");
    assert_eq!(c["state"]["session_table"], "sentinel-sessions");
    assert_eq!(c["notify"]["webhook_url"], "https://hooks.example.com/…");
    assert_eq!(c["webhook_secret_set"], true);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"));

    let out = home
        .cmd()
        .args(["config", "--json"])
        .env("SENTINEL_POLICY", "ssm:/team/policies")
        .env("SENTINEL_REQUEST_TABLE", "env-requests")
        .env("SENTINEL_STATE", "sqlite:/from/env")
        .output()
        .unwrap();
    let c = common::json(&out);
    assert_eq!(c["policy"]["kind"], "ssm");
    assert_eq!(c["policy"]["root"], "/team/policies");
    assert_eq!(c["state"]["dir"], "/from/env");

    let out = home
        .cmd()
        .args([
            "--policy",
            "/from/flag.yaml",
            "--state",
            "dynamodb",
            "config",
            "--json",
        ])
        .env("SENTINEL_POLICY", "ssm:/team/policies")
        .env("SENTINEL_REQUEST_TABLE", "env-requests")
        .output()
        .unwrap();
    let c = common::json(&out);
    assert_eq!(c["policy"]["path"], "/from/flag.yaml");
    assert_eq!(c["state"]["request_table"], "env-requests");

    // Defaults come from the XDG variables, never the real home.
    let fresh = Home::new();
    let c = common::json(&fresh.cmd().args(["config", "--json"]).output().unwrap());
    assert_eq!(
        c["policy"]["path"],
        fresh.path("config/sentinel/policy.yaml").to_str().unwrap()
    );
    assert_eq!(c["state"]["dir"], fresh.data_dir().to_str().unwrap());
    assert_eq!(
        c["log"],
        fresh
            .path("state/sentinel/decisions.jsonl")
            .to_str()
            .unwrap()
    );
}

#[test]
fn listings_work_offline_on_empty_sqlite_state() {
    let home = Home::new();
    for cmd in ["list", "breakglass-list", "server-sessions"] {
        home.cmd()
            .args([cmd, "--json"])
            .assert()
            .success()
            .stdout("[]\n");
        home.cmd()
            .arg(cmd)
            .assert()
            .success()
            .stdout("")
            .stderr(predicate::str::contains("no "));
    }
    assert!(home.data_dir().join("requests.db").exists());
    assert!(home.data_dir().join("breakglass.db").exists());
    assert!(home.data_dir().join("sessions.db").exists());
    home.cmd()
        .args(["check", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no access request \"nope\""))
        .stderr(predicate::str::contains(
            "hint: list requests with `sentinel list`",
        ));
    home.cmd()
        .args(["breakglass-check", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no break-glass event \"nope\""));
    home.cmd()
        .args(["server-session", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no server session \"nope\""));
}

#[test]
fn identity_failure_is_a_short_error() {
    // Credentials present but the endpoint is a closed port: STS fails.
    let home = Home::new();
    home.write_policy("version: '1'\nrules: []\n");
    let out = home
        .cmd()
        .args(["approve", "abc"])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(err.starts_with("sentinel: "), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert!(err.lines().count() <= 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn credential_commands_need_their_arguments() {
    usage_error(&["credentials"], "--profile");
    usage_error(
        &["credentials", "--profile", "prod", "--duration", "soon"],
        "invalid value 'soon'",
    );
    usage_error(
        &["credentials", "--profile", "prod", "--server"],
        "--server",
    );
    usage_error(&["exec", "--profile", "prod"], "COMMAND");
    usage_error(&["exec", "--", "true"], "--profile");
    // The command comes after `--`.
    usage_error(
        &["exec", "--profile", "prod", "true"],
        "unexpected argument",
    );
    for flag in [
        &["--server-port", "8080"][..],
        &["--server-duration", "1h"],
        &["--session-table", "t"],
        &["--lazy"],
    ] {
        let mut args = vec!["exec", "--profile", "prod"];
        args.extend_from_slice(flag);
        args.extend_from_slice(&["--", "true"]);
        usage_error(&args, "--server");
    }
    usage_error(
        &[
            "exec",
            "--server",
            "--server-port",
            "http",
            "--profile",
            "p",
            "--",
            "true",
        ],
        "invalid value 'http'",
    );
    usage_error(
        &["exec", "--profile", "p", "--duration", "0s", "--", "true"],
        "must be more than 0s",
    );
    usage_error(&["whoami", "extra"], "unexpected argument");
    usage_error(&["whoami", "--user", "x"], "unexpected argument");
}

/// A source_profile whose credential_process runs sentinel itself is
/// refused before anything runs it (else each sentinel would start
/// another, without end). The `sentinel` here is a stand-in script that
/// only records that it ran.
#[cfg(unix)]
#[test]
fn a_source_profile_that_runs_sentinel_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = Home::new();
    let bin = home.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let ran = home.path("ran");
    let stand_in = bin.join("sentinel");
    std::fs::write(
        &stand_in,
        format!("#!/bin/sh\ntouch \"{}\"\nexit 1\n", ran.display()),
    )
    .unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(home.path("aws")).unwrap();
    std::fs::write(
        home.path("aws/config"),
        format!(
            "[profile prod]\nrole_arn = arn:aws:iam::123456789012:role/Prod\nsource_profile = hop\n\n\
             [profile hop]\nrole_arn = arn:aws:iam::123456789012:role/Hop\nsource_profile = base\n\n\
             [profile base]\ncredential_process = {} credentials --profile prod\n\n\
             [profile solo]\nrole_arn = arn:aws:iam::123456789012:role/Solo\n\n\
             [default]\ncredential_process = sh -c \"sentinel credentials --profile solo\"\n",
            stand_in.display()
        ),
    )
    .unwrap();
    for (profile, base) in [("prod", "base"), ("solo", "default")] {
        for args in [
            &["credentials", "--profile", profile][..],
            &["exec", "--profile", profile, "--", "true"],
            &["exec", "--server", "--profile", profile, "--", "true"],
        ] {
            let out = home
                .cmd()
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .args(args)
                .timeout(std::time::Duration::from_secs(60))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains(&format!(
                    "profile \"{profile}\" would run sentinel again without end"
                )) && err.contains(&format!(
                    "profile \"{base}\", whose credential_process runs sentinel"
                )) && err.contains(&format!("give profile \"{base}\" credentials of its own")),
                "{args:?}: {err}"
            );
            assert!(!ran.exists(), "{args:?}: the credential_process ran");
        }
    }
}

#[test]
fn whoami_without_credentials_lists_every_provider_whole() {
    // An empty home: no credentials file, no keys, IMDS off.
    let home = Home::new();
    let out = home.cmd().arg("whoami").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = common::stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("sentinel: no AWS base credentials found;")
            && lines[0].ends_with("tried:"),
        "{err}"
    );
    let tried: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| l.split_once(": ").map_or(l, |(name, _)| name))
        .collect();
    assert_eq!(
        tried,
        [
            "Environment",
            "Profile",
            "WebIdentityToken",
            "EcsContainer",
            "Ec2InstanceMetadata"
        ],
        "{err}"
    );
    // Whole causes: nothing cut mid-word (the old message ended in
    // "the credential provid)").
    assert!(
        err.contains("  Environment: environment variable not set\n"),
        "{err}"
    );
    assert!(!err.contains("provid)"), "{err}");
    assert!(lines.last().unwrap().starts_with("hint: "), "{err}");
}
