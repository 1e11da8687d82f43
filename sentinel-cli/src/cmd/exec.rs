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
//! A profile with `mfa_serial` under `--server` exchanges its one MFA code
//! for an MFA session first (see [`sentinel_vend::base`]), so refreshes never
//! reuse the code. When the child exits, its server session is revoked
//! (`revoked_by` the caller), so it no longer shows as active and its id
//! cannot be used again.
//!
//! Under `--server` the child also gets an AWS config file of its own,
//! with only the non-credential settings (region, output, retries,
//! endpoints) of its profiles, and an empty credentials file: otherwise the
//! SDKs would find the user's base credentials (`[default]` keys,
//! `credential_process`, SSO, web identity) before the endpoint. Other
//! profiles are therefore not available inside the command.
//!
//! Signals: Ctrl-C reaches the child through the terminal; SIGTERM and
//! SIGHUP sent to sentinel itself are passed on to the child (unix).
//! Either way sentinel keeps waiting for the child, so it can clean up.
//! Any of them before the child starts (during the first fetch) stops
//! sentinel, which ends the server session first.
//! The child's exit code becomes sentinel's (a signal `n` becomes `128+n`).

use std::process::{ExitCode, ExitStatus};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use jiff::Timestamp;
use sentinel_policy::Mode;
use sentinel_session::SessionStore;
use sentinel_vend::client::{ClientError, CredentialClient, CredentialsRequest};
use sentinel_vend::profiles::{CREDENTIAL_VARS, ProfileLoader, ServedFiles, ServedFilesError};
use sentinel_vend::server::{
    CredentialService, FixedTargets, LocalAuthenticator, ServiceConfig, new_token,
};
use sentinel_vend::{Outcome, VendRequest};

use crate::context::Context;
use crate::output::{self, CliError, CliResult};
use crate::vending::{self, MfaUse, Prepared};

/// Set in the child's environment to the profile name; a sentinel that
/// finds it refuses to run (no nesting).
pub const AWS_SENTINEL: &str = "AWS_SENTINEL";

/// Default lifetime of the server session (`--server-duration`).
const DEFAULT_SERVER_DURATION: Duration = Duration::from_secs(12 * 3600);

/// How long the first fetch through the local server may take.
const PREFETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// `sentinel exec` (`Debug` leaves out the MFA code)
#[derive(Args)]
pub struct ExecArgs {
    /// AWS profile with the role to assume (`role_arn`, and `source_profile`
    /// for the base credentials).
    #[arg(long)]
    profile: String,
    /// Credential lifetime, e.g. `1h` (default: the profile's
    /// duration_seconds, else 1h; capped by policy and STS).
    #[arg(long, value_parser = super::parse_duration)]
    duration: Option<Duration>,
    /// MFA code when the profile has `mfa_serial` (else asked on a
    /// terminal, or read from standard input).
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

impl std::fmt::Debug for ExecArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecArgs")
            .field("profile", &self.profile)
            .field("duration", &self.duration)
            .field("mfa_token", &self.mfa_token.as_ref().map(|_| "<redacted>"))
            .field("server", &self.server)
            .field("server_port", &self.server_port)
            .field("server_duration", &self.server_duration)
            .field("session_table", &self.session_table)
            .field("lazy", &self.lazy)
            .field("command", &self.command)
            .finish()
    }
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
    // A server re-issues credentials for its whole life: an MFA code can
    // only be used once, so it becomes an MFA session of that length.
    let mfa = if args.server {
        MfaUse::Session(server_duration(args))
    } else {
        MfaUse::AssumeRole
    };
    let prepared =
        vending::prepare_with(ctx, &args.profile, args.mfa_token.as_deref(), mfa).await?;
    if args.server {
        serve(ctx, args, &prepared).await
    } else {
        env_mode(ctx, args, &prepared).await
    }
}

fn server_duration(args: &ExecArgs) -> Duration {
    args.server_duration.unwrap_or(DEFAULT_SERVER_DURATION)
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
    let mut signals = Forwarded::listen()?;
    let status = run_child(&args.command, &env, &mut signals).await?;
    Ok(ExitCode::from(exit_code(status)))
}

async fn serve(ctx: &Context, args: &ExecArgs, prepared: &Prepared) -> CliResult {
    let sessions = match &args.session_table {
        Some(table) => ctx.sessions_in_table(table).await,
        None => ctx.sessions().await?,
    };
    let pipeline = vending::pipeline(ctx, prepared, Arc::clone(&sessions)).await?;
    // Listen before the session exists: Ctrl-C or a SIGTERM from here on
    // ends it instead of killing sentinel on the spot and leaving it
    // active until it expires.
    let mut signals = Forwarded::listen()?;
    let instance = sentinel_store::new_id()
        .map_err(|e| CliError::error(format!("cannot make a server instance id: {e}")))?;
    let session = pipeline
        .start_session(
            &prepared.caller,
            &args.profile,
            &instance,
            server_duration(args),
        )
        .await
        .map_err(vending::failed)?;
    let ended = serve_session(args, prepared, pipeline, &session.id, &mut signals).await;
    end_session(&*sessions, &session.id, &session.user, &ended).await;
    ended.map(|status| ExitCode::from(exit_code(status)))
}

/// Runs the credential server for the server session `id` and the child
/// against it; the child's exit status.
async fn serve_session(
    args: &ExecArgs,
    prepared: &Prepared,
    pipeline: sentinel_vend::Pipeline,
    id: &str,
    signals: &mut Forwarded,
) -> Result<ExitStatus, CliError> {
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
    config.session_id = Some(id.to_owned());
    config.duration = args.duration;
    let service = Arc::new(CredentialService::new(
        pipeline,
        Arc::new(auth),
        Arc::new(targets),
        config,
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Small request/response exchanges: no Nagle delay.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(async move {
        axum::serve(listener, service.router())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let url = format!("http://127.0.0.1:{port}/");
    let mfa = prepared
        .mfa_session_end
        .map(|end| format!("; MFA session until {}", utc(end)))
        .unwrap_or_default();
    output::info(format_args!(
        "serving profile \"{}\" on {url} (server session {id}{mfa})",
        args.profile
    ));

    let result = async {
        if !args.lazy {
            tokio::select! {
                fetched = prefetch(&url, &token) => fetched?,
                signal = signals.recv() => {
                    return Err(CliError::error(format!(
                        "stopped by {} before the command started",
                        signal_name(signal)
                    )));
                }
            }
        }
        let files = child_files(&args.profile).await?;
        let mut env = vec![
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.clone()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.clone()),
            (AWS_SENTINEL, args.profile.clone()),
        ];
        env.extend(files.vars());
        env.extend(region_vars(prepared));
        let status = run_child(&args.command, &env, signals).await;
        remove_child_files(files);
        status
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

/// Writes the AWS config and credentials files of a `--server` child
/// (only the non-credential settings of its profiles; see
/// [`ServedFiles`]).
async fn child_files(profile: &str) -> Result<ServedFiles, CliError> {
    let loader = ProfileLoader::from_env()
        .map_err(|e| CliError::error(e).hint("set AWS_CONFIG_FILE or HOME"))?;
    loader.served_files(profile).await.map_err(|e| match e {
        ServedFilesError::Write { what, source } => {
            CliError::error(format!("cannot write the command's AWS {what}: {source}"))
                .hint("set TMPDIR to a writable directory")
        }
        e => CliError::error(e).hint(format!(
            "fix {} (the command gets its non-credential settings)",
            loader.config_file().display()
        )),
    })
}

/// Removes the child's files (a failure is a warning: they hold no
/// secret).
fn remove_child_files(files: ServedFiles) {
    let path = files.dir().to_owned();
    if let Err(e) = files.remove() {
        output::warn(format_args!("cannot remove {}: {e}", path.display()));
    }
}

/// Ends the server session `id` now that `sentinel exec` is done: revokes
/// it as `caller` with the way the command ended as the reason, so
/// `sentinel server-sessions` no longer lists it as active and its id
/// cannot be used again. One already revoked or expired is left alone; a
/// failure is a warning and never changes the exit code.
async fn end_session(
    sessions: &dyn SessionStore,
    id: &str,
    caller: &str,
    ended: &Result<ExitStatus, CliError>,
) {
    let reason = match ended {
        Ok(status) => format!("sentinel exec ended: the command {}", describe(*status)),
        Err(_) => "sentinel exec ended with an error before the command finished".to_owned(),
    };
    match sessions.revoke(id, caller, &reason).await {
        Ok(_) | Err(sentinel_session::Error::InvalidTransition { .. }) => {}
        Err(e) => output::warn(format_args!(
            "cannot end server session {id} ({e}); it stays active until it expires unless you run `sentinel server-revoke {id} --reason done`"
        )),
    }
}

/// How the child ended, for the revocation reason.
fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    "ended".to_owned()
}

/// Fetches credentials once through the local server, exactly as the child
/// will, so a refusal stops before the command starts (and the first
/// credentials are cached for the child).
async fn prefetch(url: &str, token: &str) -> Result<(), CliError> {
    let client = CredentialClient::new(url, token, PREFETCH_TIMEOUT)
        .map_err(|e| CliError::error(format!("cannot reach the local credential server: {e}")))?;
    match client.credentials(&CredentialsRequest::default()).await {
        Ok(_) => Ok(()),
        Err(ClientError::Denied(d)) => Err(vending::denied(&d)),
        Err(ClientError::Timeout { .. }) => {
            Err(CliError::error("the first credential fetch timed out")
                .hint("check the base credentials and the AWS endpoint, or pass --lazy"))
        }
        Err(ClientError::Failed { status, body }) => Err(CliError::error(format!(
            "the local credential server answered {status}: {}",
            body.message
        ))),
        Err(e) => Err(CliError::error(format!(
            "cannot reach the local credential server: {e}"
        ))),
    }
}

/// Runs the command with `env` set and every other credential variable
/// removed and waits for it, passing on the signals in `signals`; its exit
/// status.
async fn run_child(
    command: &[String],
    env: &[(&str, String)],
    signals: &mut Forwarded,
) -> CliResult<ExitStatus> {
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
    // Valid until the child is reaped, which only `wait` below does.
    let pid = child.id();
    // Ctrl-C reaches the child through the terminal; SIGTERM and SIGHUP
    // sent to sentinel alone are passed on. Either way sentinel waits for
    // the child to finish rather than dying first and leaving it orphaned.
    loop {
        tokio::select! {
            status = child.wait() => {
                return status.map_err(|e| {
                    CliError::error(format!("cannot wait for \"{program}\": {e}"))
                });
            }
            signal = signals.recv() => {
                if signal == INTERRUPT {
                    // Ctrl-C reached the child through the terminal.
                    continue;
                }
                if let Some(pid) = pid
                    && let Err(e) = forward(pid, signal)
                {
                    output::warn(format_args!(
                        "cannot pass {} on to \"{program}\": {e}",
                        signal_name(signal)
                    ));
                }
            }
        }
    }
}

/// The signals that stop sentinel: SIGTERM and SIGHUP (a `kill`, a
/// supervisor stopping it, a closed terminal), passed on to the child, and
/// SIGINT (Ctrl-C), which the terminal already gives the child. Listening
/// replaces their default action (ending sentinel at once) for the rest of
/// the process, so sentinel can wait for the child and end its session;
/// before the child starts, any of them stops sentinel cleanly.
#[cfg(unix)]
#[derive(Debug)]
struct Forwarded {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
type ForwardedSignal = rustix::process::Signal;

/// Ctrl-C: not passed on (the terminal sends it to the child too).
#[cfg(unix)]
const INTERRUPT: ForwardedSignal = rustix::process::Signal::INT;

#[cfg(unix)]
impl Forwarded {
    fn listen() -> Result<Self, CliError> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| {
            signal(kind).map_err(|e| CliError::error(format!("cannot listen for signals: {e}")))
        };
        Ok(Self {
            term: listen(SignalKind::terminate())?,
            hup: listen(SignalKind::hangup())?,
            int: listen(SignalKind::interrupt())?,
        })
    }

    /// The next signal received (never returns once both streams closed).
    async fn recv(&mut self) -> ForwardedSignal {
        use rustix::process::Signal;
        tokio::select! {
            Some(()) = self.term.recv() => Signal::TERM,
            Some(()) = self.hup.recv() => Signal::HUP,
            Some(()) = self.int.recv() => Signal::INT,
            else => std::future::pending().await,
        }
    }
}

#[cfg(unix)]
fn signal_name(signal: ForwardedSignal) -> &'static str {
    use rustix::process::Signal;
    match signal {
        Signal::TERM => "SIGTERM",
        Signal::HUP => "SIGHUP",
        Signal::INT => "SIGINT",
        _ => "a signal",
    }
}

/// Sends `signal` to the child `pid`.
#[cfg(unix)]
fn forward(pid: u32, signal: ForwardedSignal) -> std::io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("bad process id {pid}")))?;
    rustix::process::kill_process(pid, signal)?;
    Ok(())
}

/// Elsewhere only Ctrl-C is handled (the console gives it to the child).
#[cfg(not(unix))]
#[derive(Debug)]
struct Forwarded;

#[cfg(not(unix))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ForwardedSignal {
    Interrupt,
}

#[cfg(not(unix))]
const INTERRUPT: ForwardedSignal = ForwardedSignal::Interrupt;

#[cfg(not(unix))]
impl Forwarded {
    fn listen() -> Result<Self, CliError> {
        Ok(Self)
    }

    async fn recv(&mut self) -> ForwardedSignal {
        match tokio::signal::ctrl_c().await {
            Ok(()) => ForwardedSignal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(not(unix))]
fn signal_name(_signal: ForwardedSignal) -> &'static str {
    "Ctrl-C"
}

#[cfg(not(unix))]
fn forward(_pid: u32, _signal: ForwardedSignal) -> std::io::Result<()> {
    Ok(())
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

    #[test]
    fn the_mfa_code_stays_out_of_debug() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            exec: ExecArgs,
        }
        let cli = Cli::try_parse_from([
            "sentinel",
            "--profile",
            "prod",
            "--mfa-token",
            "428133",
            "--server",
            "--",
            "true",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let d = format!("{:?}", cli.exec);
        assert!(!d.contains("428133") && d.contains("<redacted>"), "{d}");
    }

    #[cfg(unix)]
    #[test]
    fn ended_sessions_say_how_the_command_ended() {
        use std::os::unix::process::ExitStatusExt as _;
        let status = std::process::ExitStatus::from_raw;
        assert_eq!(describe(status(3 << 8)), "exited with status 3");
        assert_eq!(describe(status(15)), "was killed by signal 15");
    }

    #[cfg(unix)]
    #[test]
    fn forwarded_signals_have_names() {
        use rustix::process::Signal;
        assert_eq!(signal_name(Signal::TERM), "SIGTERM");
        assert_eq!(signal_name(Signal::HUP), "SIGHUP");
        assert_eq!(signal_name(Signal::INT), "SIGINT");
    }
}
