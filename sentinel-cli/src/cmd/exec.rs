//! `sentinel exec --profile P [--server ...] -- COMMAND ARGS...`: run a
//! command with credentials for a profile.
//!
//! Without `--server` the credentials are vended once (mode `cli`) and
//! handed to the child in `AWS_ACCESS_KEY_ID` and friends. With `--server`
//! a tracked server session is started and a credential endpoint on
//! `127.0.0.1` serves the child through `AWS_CONTAINER_CREDENTIALS_FULL_URI`
//! (mode `server`): policy and revocation are checked on every fetch, so
//! `sentinel server-revoke` takes effect at the child's next refresh.
//!
//! The child's exit code becomes sentinel's (a signal `n` becomes `128+n`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use jiff::Timestamp;
use sentinel_policy::Mode;
use sentinel_vend::server::{
    CredentialService, FixedTargets, LocalAuthenticator, ServiceConfig, new_token,
};
use sentinel_vend::{Outcome, VendRequest};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::context::Context;
use crate::output::{self, CliError, CliResult};
use crate::vending::{self, Prepared};

/// Set in the child's environment to the profile name; a sentinel that
/// finds it refuses to run (no nesting).
pub const AWS_SENTINEL: &str = "AWS_SENTINEL";

/// Default lifetime of the server session (`--server-duration`).
const DEFAULT_SERVER_DURATION: Duration = Duration::from_secs(12 * 3600);

/// How long the first fetch through the local server may take.
const PREFETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Variables that select other credentials; never passed to the child.
const CREDENTIAL_VARS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// `sentinel exec`
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// AWS profile with the role to assume (`role_arn`, and `source_profile`
    /// for the base credentials).
    #[arg(long)]
    profile: String,
    /// Credential lifetime, e.g. `1h` (default: the profile's
    /// duration_seconds, else 1h; capped by policy and STS).
    #[arg(long, value_parser = super::parse_duration)]
    duration: Option<Duration>,
    /// MFA code when the profile has `mfa_serial` (else asked on a terminal).
    #[arg(long, value_name = "CODE")]
    mfa_token: Option<String>,
    /// Serve credentials to the child from a local endpoint that checks
    /// policy and revocation on every fetch, instead of environment
    /// variables.
    #[arg(long)]
    server: bool,
    /// With --server: the port on 127.0.0.1 (default: a free one).
    #[arg(long, requires = "server", value_name = "PORT")]
    server_port: Option<u16>,
    /// With --server: how long the server session lasts [default: 12h].
    #[arg(long, requires = "server", value_parser = super::parse_duration)]
    server_duration: Option<Duration>,
    /// With --server: track the server session in this DynamoDB table
    /// instead of the configured state backend.
    #[arg(long, requires = "server", value_name = "TABLE")]
    session_table: Option<String>,
    /// With --server: start the command without fetching credentials first
    /// (a refusal then shows up in the command, not before it).
    #[arg(long, requires = "server")]
    lazy: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Refuses to run inside another `sentinel exec` (its `AWS_SENTINEL`).
pub fn refuse_nested() -> Result<(), CliError> {
    match std::env::var_os(AWS_SENTINEL) {
        Some(p) if !p.is_empty() => Err(CliError::error(format!(
            "already inside a sentinel exec for profile \"{}\" ({AWS_SENTINEL} is set)",
            p.to_string_lossy()
        ))
        .hint("exit that shell first, or run the command there directly")),
        _ => Ok(()),
    }
}

/// `sentinel exec`
pub async fn exec(ctx: &mut Context, args: &ExecArgs) -> CliResult {
    refuse_nested()?;
    let prepared = vending::prepare(ctx, &args.profile, args.mfa_token.as_deref()).await?;
    if args.server {
        serve(ctx, args, &prepared).await
    } else {
        env_mode(ctx, args, &prepared).await
    }
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn region_vars(prepared: &Prepared) -> Vec<(&'static str, String)> {
    match prepared.region() {
        Some(r) => vec![("AWS_REGION", r.clone()), ("AWS_DEFAULT_REGION", r)],
        None => Vec::new(),
    }
}

async fn env_mode(ctx: &Context, args: &ExecArgs, prepared: &Prepared) -> CliResult {
    let sessions = ctx.sessions().await?;
    let pipeline = vending::pipeline(ctx, prepared, sessions).await?;
    let req = VendRequest {
        caller: prepared.caller.clone(),
        profile: args.profile.clone(),
        mode: Mode::Cli,
        duration: args.duration,
        target: prepared.target.clone(),
        session_id: None,
    };
    let issued = match pipeline.vend(&req).await.map_err(vending::failed)? {
        Outcome::Issued(issued) => issued,
        Outcome::Denied(d) => return Err(vending::denied(&d)),
    };
    let c = &issued.credentials;
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone()),
        ("AWS_SESSION_TOKEN", c.session_token.clone()),
        ("AWS_CREDENTIAL_EXPIRATION", utc(c.expiration)),
        (AWS_SENTINEL, args.profile.clone()),
    ];
    env.extend(region_vars(prepared));
    run_child(&args.command, &env).await
}

async fn serve(ctx: &Context, args: &ExecArgs, prepared: &Prepared) -> CliResult {
    let sessions = match &args.session_table {
        Some(table) => ctx.sessions_in_table(table).await,
        None => ctx.sessions().await?,
    };
    let pipeline = vending::pipeline(ctx, prepared, sessions).await?;
    let instance = sentinel_store::new_id()
        .map_err(|e| CliError::error(format!("cannot make a server instance id: {e}")))?;
    let session = pipeline
        .start_session(
            &prepared.caller,
            &args.profile,
            &instance,
            args.server_duration.unwrap_or(DEFAULT_SERVER_DURATION),
        )
        .await
        .map_err(vending::failed)?;

    let port = args.server_port.unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            CliError::error(format!("cannot listen on 127.0.0.1:{port}: {e}"))
                .hint("pick another --server-port, or leave it out for a free one")
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::error(format!("cannot read the server address: {e}")))?
        .port();
    let token =
        new_token().map_err(|e| CliError::error(format!("cannot make a server token: {e}")))?;
    let auth = LocalAuthenticator::new(token.clone(), port, prepared.caller.clone());
    let targets = FixedTargets::default().with(args.profile.clone(), prepared.target.clone());
    let mut config = ServiceConfig::default();
    config.profile = Some(args.profile.clone());
    config.session_id = Some(session.id.clone());
    config.duration = args.duration;
    let service = Arc::new(CredentialService::new(
        pipeline,
        Arc::new(auth),
        Arc::new(targets),
        config,
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, service.router())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let url = format!("http://127.0.0.1:{port}/");
    output::info(format_args!(
        "serving profile \"{}\" on {url} (server session {})",
        args.profile, session.id
    ));

    let result = async {
        if !args.lazy {
            prefetch(port, &token).await?;
        }
        let mut env = vec![
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.clone()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.clone()),
            (AWS_SENTINEL, args.profile.clone()),
        ];
        env.extend(region_vars(prepared));
        run_child(&args.command, &env).await
    }
    .await;

    let _ = stop.send(());
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Err(e))) => output::warn(format_args!("the credential server failed: {e}")),
        Ok(Err(e)) => output::warn(format_args!("the credential server failed: {e}")),
        Ok(Ok(Ok(()))) | Err(_) => {}
    }
    result
}

/// Fetches credentials once through the local server, exactly as the child
/// will, so a refusal stops before the command starts (and the first
/// credentials are cached for the child).
async fn prefetch(port: u16, token: &str) -> Result<(), CliError> {
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(PREFETCH_TIMEOUT, fetch)
        .await
        .map_err(|_| {
            CliError::error("the first credential fetch timed out")
                .hint("check the base credentials and the AWS endpoint, or pass --lazy")
        })?
        .map_err(|e| CliError::error(format!("cannot reach the local credential server: {e}")))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    if status == 200 {
        return Ok(());
    }
    let err: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let field = |k: &str| err.get(k).and_then(serde_json::Value::as_str);
    let message = field("message").unwrap_or("no details");
    if field("code") == Some("denied") {
        return Err(vending::denied_parts(message, field("rule"), field("hint")));
    }
    Err(CliError::error(format!(
        "the local credential server answered {status}: {message}"
    )))
}

/// Runs the command with `env` set and every other credential variable
/// removed; its exit code becomes ours.
async fn run_child(command: &[String], env: &[(&str, String)]) -> CliResult {
    let Some((program, rest)) = command.split_first() else {
        return Err(CliError::error("no command to run")
            .hint("sentinel exec --profile P -- COMMAND ARGS..."));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest);
    for var in CREDENTIAL_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| {
        CliError::error(format!("cannot run \"{program}\": {e}"))
            .hint("check the command name and PATH")
    })?;
    // Ctrl-C reaches the child through the terminal; sentinel waits for it
    // to finish rather than dying first and leaving it orphaned.
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    .map_err(|e| CliError::error(format!("cannot wait for \"{program}\": {e}")))?;
    Ok(ExitCode::from(exit_code(status)))
}

fn exit_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return (code & 0xff) as u8;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return (128 + (signal & 0x7f)) as u8;
        }
    }
    output::EXIT_ERROR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn exit_codes_follow_the_child() {
        use std::os::unix::process::ExitStatusExt as _;
        let status = std::process::ExitStatus::from_raw;
        assert_eq!(exit_code(status(0)), 0);
        assert_eq!(exit_code(status(7 << 8)), 7);
        assert_eq!(exit_code(status(255 << 8)), 255);
        // Killed by SIGTERM (15) and SIGKILL (9).
        assert_eq!(exit_code(status(15)), 143);
        assert_eq!(exit_code(status(9)), 137);
    }
}
