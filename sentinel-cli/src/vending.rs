//! What `credentials` and `exec` share: the AWS profile they run for, the
//! base credentials behind it, the caller, the role target and the
//! pipeline wired to the configured stores.
//!
//! **Base credentials.** The profile's `source_profile` when it has one
//! (only that profile: environment keys do not override it);
//! otherwise the default chain *with `AWS_PROFILE` ignored* (the chain is
//! loaded for the `default` profile, which falls through to environment
//! keys, web identity, container and instance credentials when no
//! `[default]` profile exists). `AWS_PROFILE` is ignored because it usually
//! names the very profile whose `credential_process` runs
//! `sentinel credentials`: loading it would run sentinel again, forever.
//! The same base configuration serves the stores (SSM policies, DynamoDB
//! state), for the same reason.
//!
//! **MFA.** For a profile with `mfa_serial`, one code is taken from
//! `--mfa-token`, else asked for on the terminal, else read from the first
//! line of standard input. One-shot vending ([`MfaUse::AssumeRole`]:
//! `credentials`, `exec` without `--server`) sends it with the one
//! AssumeRole. A credential server re-issues credentials for hours and a
//! code works only once, so it ([`MfaUse::Session`]) exchanges the code
//! once for an MFA session (STS GetSessionToken, as aws-vault does) and
//! assumes the role with that session's credentials, without a code: the
//! MFA context carries through. STS allows that only for IAM user keys, so
//! role-session base credentials are refused up front.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use sentinel_session::SessionStore;
use sentinel_store::Timeouts;
use sentinel_vend::identity::PrincipalKind;
use sentinel_vend::log::DecisionLog;
use sentinel_vend::profiles::{AwsProfile, ProfileError, ProfileLoader};
use sentinel_vend::vendor::MAX_MFA_SESSION_DURATION;
use sentinel_vend::{Caller, Denial, MfaSessionError, Pipeline, StsVendor, Target};

use crate::context::Context;
use crate::output::{self, CliError};

/// How the MFA code of a profile with `mfa_serial` is used (see the module
/// docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaUse {
    /// Sent with the one AssumeRole (one-shot vending).
    AssumeRole,
    /// Exchanged once for an MFA session of this length (capped by STS),
    /// whose credentials assume the role every time, without a code.
    Session(Duration),
}

/// Everything needed to vend for one profile.
pub struct Prepared {
    /// The base credentials' configuration (also installed in the context).
    pub base: SdkConfig,
    /// The caller as the policy sees it.
    pub caller: Caller,
    /// The role behind the profile.
    pub target: Target,
    /// STS as the vendor calls it: the base credentials, or the MFA
    /// session's under [`MfaUse::Session`].
    pub sts: aws_sdk_sts::Client,
    /// When the MFA session behind [`sts`](Self::sts) ends, if there is one.
    pub mfa_session_end: Option<jiff::Timestamp>,
}

// By hand: the STS client may hold MFA session credentials.
impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("region", &self.region())
            .field("caller", &self.caller)
            .field("target", &self.target)
            .field("mfa_session_end", &self.mfa_session_end)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// The region credentials are used in, if known.
    pub fn region(&self) -> Option<String> {
        self.base.region().map(|r| r.as_ref().to_owned())
    }
}

fn profile_error(e: ProfileError, loader: Option<&ProfileLoader>) -> CliError {
    let hint = match (&e, loader) {
        (ProfileError::NoRoleArn { .. }, Some(l)) => format!(
            "add role_arn (and source_profile for the base credentials) to the profile in {}",
            l.config_file().display()
        ),
        (_, Some(l)) => format!(
            "profiles are read from {} and {} (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)",
            l.config_file().display(),
            l.credentials_file().display()
        ),
        (_, None) => "set AWS_CONFIG_FILE or HOME".to_owned(),
    };
    CliError::error(e).hint(hint)
}

/// The base AWS configuration for `profile` (see the module docs), with
/// the limits `timeouts` on every call.
pub async fn base_config(profile: &AwsProfile, timeouts: &Timeouts) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts.timeout_config());
    loader = match &profile.source_profile {
        // Exactly the source profile's credentials, as the AWS CLI does:
        // not environment keys that happen to be set.
        Some(source) => loader.profile_name(source).credentials_provider(
            ProfileFileCredentialsProvider::builder()
                .profile_name(source)
                .build(),
        ),
        None => loader.profile_name("default"),
    };
    if let Some(region) = &profile.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// How long the MFA code may take to arrive on standard input when it is
/// not a terminal (a pipe nobody writes to must not hang a
/// `credential_process` caller).
const MFA_STDIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Most `source_profile` hops followed when looking for sentinel itself.
const MAX_SOURCE_HOPS: usize = 16;

/// Refuses a profile whose base credentials come from sentinel itself: a
/// `source_profile` (or one it chains to, or `[default]` when there is no
/// source profile and no keys in the environment) whose
/// `credential_process` runs sentinel would start sentinel again to load
/// them, which would start it again, without end.
async fn refuse_recursion(loader: &ProfileLoader, profile: &AwsProfile) -> Result<(), CliError> {
    let env_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty());
    let mut next = match &profile.source_profile {
        Some(source) => Some(source.clone()),
        None if !env_keys => Some("default".to_owned()),
        None => None,
    };
    let exe = std::env::current_exe().ok();
    let mut seen = Vec::new();
    while let Some(name) = next.take() {
        if seen.contains(&name) || seen.len() >= MAX_SOURCE_HOPS {
            break;
        }
        // A missing or broken base profile is the SDK's to report.
        let Ok(base) = loader.load(&name).await else {
            break;
        };
        if let Some(command) = &base.credential_process
            && runs_sentinel(command, exe.as_deref())
        {
            return Err(CliError::error(format!(
                "profile \"{}\" would run sentinel again without end: its base credentials come from profile \"{name}\", whose credential_process runs sentinel ({command})",
                profile.name
            ))
            .hint(format!(
                "give profile \"{name}\" credentials of its own (access keys, SSO, another credential_process) in {}; `sentinel credentials` belongs in the profile you use, not in a source_profile",
                loader.config_file().display()
            )));
        }
        if base.role_arn.is_some() {
            next = base.source_profile.clone();
        }
        seen.push(name);
    }
    Ok(())
}

/// Whether the `credential_process` command line runs the sentinel binary
/// `exe` (by file name, `sentinel` when unknown): as the program, or as
/// `sentinel credentials` inside a wrapper (`sh -c "sentinel credentials
/// ..."`).
fn runs_sentinel(command: &str, exe: Option<&std::path::Path>) -> bool {
    let name_of = |p: &str| {
        std::path::Path::new(p)
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
    };
    let ours = exe
        .and_then(|e| e.file_stem())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sentinel".to_owned());
    let words: Vec<&str> = command
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        .collect();
    let is_ours = |w: &str| name_of(w).is_some_and(|n| n == ours);
    words.first().is_some_and(|w| is_ours(w))
        || words
            .windows(2)
            .any(|pair| is_ours(pair[0]) && pair[1] == "credentials")
}

/// The MFA code: `--mfa-token`, else asked for on the terminal, else the
/// first line of standard input.
fn mfa_code(serial: &str, given: Option<&str>) -> Result<String, CliError> {
    if let Some(code) = given {
        return Ok(code.trim().to_owned());
    }
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "MFA code for {serial}: ");
        let _ = err.flush();
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::error(format!("cannot read the MFA code: {e}")))?;
        line
    } else {
        read_stdin_line(MFA_STDIN_TIMEOUT).map_err(|e| {
            CliError::error(format!("the profile needs an MFA code for {serial}: {e}"))
                .hint("pass --mfa-token CODE, or the code on a line of standard input")
        })?
    };
    let code = line.trim().to_owned();
    if code.is_empty() {
        return Err(CliError::error(format!("no MFA code entered for {serial}"))
            .hint("pass --mfa-token CODE, or the code on a line of standard input"));
    }
    Ok(code)
}

/// Longest line read as an MFA code.
const MAX_MFA_LINE: usize = 64;

/// The first line of standard input, read a byte at a time so nothing
/// after it is taken from a command that inherits the rest (`exec`).
#[cfg(unix)]
fn read_line_unbuffered() -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < MAX_MFA_LINE {
        match rustix::io::read(rustix::stdio::stdin(), &mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(not(unix))]
fn read_line_unbuffered() -> std::io::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line)
}

/// The first line of standard input (not a terminal), within `timeout`.
fn read_stdin_line(timeout: Duration) -> Result<String, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    // A blocked read cannot be cancelled: the thread is left behind on a
    // timeout, and the process exits with the error soon after.
    std::thread::spawn(move || {
        let _ = tx.send(read_line_unbuffered());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(line)) if line.trim().is_empty() => {
            Err("there is no terminal to ask on and standard input has no code".to_owned())
        }
        Ok(Ok(line)) => Ok(line),
        Ok(Err(e)) => Err(format!("cannot read standard input: {e}")),
        Err(_) => Err(format!(
            "there is no terminal to ask on and no code arrived on standard input within {}s",
            timeout.as_secs()
        )),
    }
}

/// Loads `--profile`, the base credentials and the caller; installs the
/// base configuration in `ctx` so the stores use it too. An MFA code is
/// sent with the AssumeRole ([`MfaUse::AssumeRole`], one-shot vending).
pub async fn prepare(
    ctx: &mut Context,
    name: &str,
    mfa_token: Option<&str>,
) -> Result<Prepared, CliError> {
    prepare_with(ctx, name, mfa_token, MfaUse::AssumeRole).await
}

/// [`prepare`], with the MFA code of a profile with `mfa_serial` (from
/// `mfa_token` or a prompt) used as `mfa` says.
pub async fn prepare_with(
    ctx: &mut Context,
    name: &str,
    mfa_token: Option<&str>,
    mfa: MfaUse,
) -> Result<Prepared, CliError> {
    let loader = ProfileLoader::from_env().map_err(|e| profile_error(e, None))?;
    let profile = loader
        .load(name)
        .await
        .map_err(|e| profile_error(e, Some(&loader)))?;
    // Refuse a profile without a role before asking anything of STS.
    profile
        .require_role()
        .map_err(|e| profile_error(e, Some(&loader)))?;

    refuse_recursion(&loader, &profile).await?;

    let base = base_config(&profile, &ctx.config.timeouts).await;
    ctx.use_aws(base.clone());
    let sts = aws_sdk_sts::Client::new(&base);
    let base_name = profile
        .source_profile
        .as_deref()
        .map(|p| format!("source_profile \"{p}\""))
        .unwrap_or_else(|| "the default credential chain (AWS_PROFILE is ignored)".to_owned());
    let hint = format!(
        "the base credentials come from {base_name}; check them with `aws sts get-caller-identity`"
    );
    let identity = sentinel_vend::identity::caller_identity(&sts)
        .await
        .map_err(|e| CliError::with_lines(e).hint(&hint))?;
    let principal = identity
        .principal()
        .map_err(|e| CliError::error(e).hint(&hint))?;
    let kind = principal.kind();

    let role_chaining = kind == PrincipalKind::AssumedRole;
    let (target, sts, mfa_session_end) = match (&profile.mfa_serial, mfa) {
        (Some(serial), MfaUse::Session(duration)) => {
            // GetSessionToken is for IAM users (and root) only: refuse
            // before asking for a code.
            if !matches!(kind, PrincipalKind::IamUser | PrincipalKind::Root) {
                let what = match kind {
                    PrincipalKind::FederatedUser => "a federated user session",
                    _ => "a role session",
                };
                return Err(CliError::error(format!(
                    "profile \"{name}\" needs MFA, but its base credentials ({base_name}) are {what}: STS gives the MFA session that --server needs only to IAM users"
                ))
                .hint("run `sentinel exec` without --server, or give the profile a source_profile with IAM user keys"));
            }
            let code = mfa_code(serial, mfa_token)?;
            let session = sentinel_vend::mfa_session(&sts, serial, &code, duration)
                .await
                .map_err(|e| mfa_session_error(e, &hint))?;
            if duration > MAX_MFA_SESSION_DURATION {
                output::warn(format_args!(
                    "the MFA session lasts at most {}h; after that the server cannot issue credentials",
                    MAX_MFA_SESSION_DURATION.as_secs() / 3600
                ));
            }
            let end = session.expiration;
            let target = Target::from_profile(&profile, role_chaining, None)
                .map_err(|e| profile_error(e, Some(&loader)))?;
            (target, session_client(&base, &session), Some(end))
        }
        (serial, _) => {
            let code = match serial {
                Some(serial) => Some(mfa_code(serial, mfa_token)?),
                None => None,
            };
            let target = Target::from_profile(&profile, role_chaining, code)
                .map_err(|e| profile_error(e, Some(&loader)))?;
            (target, sts, None)
        }
    };
    Ok(Prepared {
        caller: Caller::new(principal),
        base,
        target,
        sts,
        mfa_session_end,
    })
}

/// STS with `base`'s configuration and the MFA session's credentials.
fn session_client(base: &SdkConfig, session: &sentinel_vend::Credentials) -> aws_sdk_sts::Client {
    let credentials = aws_sdk_sts::config::Credentials::new(
        session.access_key_id.clone(),
        session.secret_access_key.clone(),
        Some(session.session_token.clone()),
        u64::try_from(session.expiration.as_second())
            .ok()
            .and_then(|s| std::time::UNIX_EPOCH.checked_add(Duration::from_secs(s))),
        "sentinel-mfa-session",
    );
    let config = aws_sdk_sts::config::Builder::from(base)
        .credentials_provider(credentials)
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

/// A failed GetSessionToken, with what to do next.
fn mfa_session_error(e: MfaSessionError, base_hint: &str) -> CliError {
    let hint = match &e {
        MfaSessionError::WrongCode { .. } => {
            "wait for the next code and pass it with --mfa-token (a code works only once); check mfa_serial in the profile".to_owned()
        }
        MfaSessionError::Throttled => "retry in a few seconds".to_owned(),
        MfaSessionError::AccessDenied { .. } => {
            "the base IAM user needs sts:GetSessionToken; or run `sentinel exec` without --server".to_owned()
        }
        _ => base_hint.to_owned(),
    };
    CliError::error(e).hint(hint)
}

/// The pipeline: configured policy, request, break-glass and session
/// stores, the decision log file and STS with the base credentials.
pub async fn pipeline(
    ctx: &Context,
    prepared: &Prepared,
    sessions: Arc<dyn SessionStore>,
) -> Result<Pipeline, CliError> {
    let log_path = &ctx.config.log;
    if let Some(dir) = log_path.parent()
        && !dir.as_os_str().is_empty()
    {
        sentinel_store::private_dir(dir).map_err(|e| {
            CliError::error(format!(
                "cannot create the decision log directory {}: {e}",
                dir.display()
            ))
            .hint("set --log or SENTINEL_LOG to a writable file")
        })?;
    }
    let log = DecisionLog::open_file(log_path)
        .map_err(|e| CliError::error(e).hint("set --log or SENTINEL_LOG to a writable file"))?;
    let requests = ctx.requests().await?;
    requests.sweep().await;
    let breakglass = ctx.breakglass().await?;
    breakglass.sweep().await;
    let vendor = StsVendor::new(prepared.sts.clone());
    Ok(
        Pipeline::new(ctx.policy_store().await, Arc::new(vendor), log)
            .with_requests(requests.store)
            .with_breakglass(breakglass.store)
            .with_sessions(sessions),
    )
}

/// A refusal as the CLI reports it: `denied: REASON (rule NAME)` and the
/// hint, exit 2.
pub fn denied(d: &Denial) -> CliError {
    denied_parts(&d.reason, d.rule.as_deref(), d.hint.as_deref())
}

/// [`denied`] from its parts (the credential server's JSON error).
pub fn denied_parts(reason: &str, rule: Option<&str>, hint: Option<&str>) -> CliError {
    let rule = rule.map(|r| format!(" (rule {r})")).unwrap_or_default();
    let e = CliError::denied(format!("denied: {reason}{rule}"));
    match hint {
        Some(h) => e.hint(h),
        None => e,
    }
}

/// A pipeline failure (not a refusal), with what to do next.
pub fn failed(e: sentinel_vend::Error) -> CliError {
    use sentinel_vend::Error;
    if let Error::Policy(p) = &e
        && let Some(h) = crate::context::missing_policy_hint(p)
    {
        return CliError::error(e).hint(h);
    }
    let hint = match &e {
        Error::Policy(sentinel_policy::Error::Invalid { .. }) => {
            Some("run `sentinel policy validate FILE` to see every problem")
        }
        Error::Policy(_) => Some("check --policy / SENTINEL_POLICY"),
        Error::Forbidden(_) => return CliError::denied(e),
        Error::Approval(
            sentinel_approval::Error::SelfApproval { .. }
            | sentinel_approval::Error::Forbidden { .. },
        ) => return CliError::denied(e),
        Error::Session(_) | Error::Approval(_) | Error::BreakGlass(_) | Error::Store(_) => {
            Some(output::STATE_HINT)
        }
        Error::Log(_) => Some("set --log or SENTINEL_LOG to a writable file"),
        _ => None,
    };
    let err = CliError::error(e);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_processes_that_run_sentinel() {
        let exe = std::path::Path::new("/usr/local/bin/sentinel");
        for yes in [
            "sentinel credentials --profile prod",
            "/opt/bin/sentinel credentials --profile prod",
            "\"/Program Files/sentinel.exe\" credentials --profile prod",
            "sh -c \"exec sentinel credentials --profile prod\"",
            "/usr/local/bin/sentinel",
        ] {
            assert!(runs_sentinel(yes, Some(exe)), "{yes}");
        }
        for no in [
            "aws-vault export --format=json base",
            "/opt/get-creds --vault sentinel",
            "sentinel-helper credentials",
            "",
        ] {
            assert!(!runs_sentinel(no, Some(exe)), "{no}");
        }
        // Renamed binary: its own name counts.
        assert!(runs_sentinel(
            "sntl credentials --profile p",
            Some(std::path::Path::new("/x/sntl"))
        ));
    }

    #[test]
    fn refusals_name_the_rule() {
        let e = format!(
            "{:?}",
            denied_parts("prod is frozen", Some("freeze"), Some("wait"))
        );
        assert!(e.contains("denied: prod is frozen (rule freeze)"), "{e}");
        assert!(e.contains("Denied"), "{e}");
        let e = format!("{:?}", denied_parts("revoked", None, None));
        assert!(e.contains("\"denied: revoked\""), "{e}");
    }
}
