//! What `credentials` and `exec` share: the profile prepared by
//! [`sentinel_vend::base`] (base credentials, MFA session, caller, role
//! target) with the MFA code from `--mfa-token`, the terminal or standard
//! input; the pipeline wired to the configured stores; and the CLI's words
//! for refusals and failures.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use sentinel_session::SessionStore;
use sentinel_vend::base::{
    self, BaseSource, CredentialProcess, PrepareError, PrepareOptions, session_kind,
};
pub use sentinel_vend::base::{MfaUse, Prepared};
use sentinel_vend::log::{DecisionLog, LogError};
use sentinel_vend::profiles::{ProfileError, ProfileLoader};
use sentinel_vend::vendor::MAX_MFA_SESSION_DURATION;
use sentinel_vend::{Denial, MfaSessionError, Pipeline, Remedy, StsVendor};

use crate::context::Context;
use crate::output::{self, CliError};

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

/// A profile that could not be prepared, with what to do next.
fn prepare_error(e: PrepareError<CliError>, loader: &ProfileLoader) -> CliError {
    let base_hint = |base: &BaseSource| {
        format!(
            "the base credentials come from {base}; check them with `aws sts get-caller-identity`"
        )
    };
    match e {
        PrepareError::Profile(e) => profile_error(e, Some(loader)),
        PrepareError::Recursion {
            profile,
            base,
            command,
        } => CliError::error(format!(
            "profile \"{profile}\" would run sentinel again without end: its base credentials come from profile \"{base}\", whose credential_process runs sentinel ({command})"
        ))
        .hint(format!(
            "give profile \"{base}\" credentials of its own (access keys, SSO, another credential_process) in {}; `sentinel credentials` belongs in the profile you use, not in a source_profile",
            loader.config_file().display()
        )),
        PrepareError::Identity { base, source } => {
            CliError::with_lines(source).hint(base_hint(&base))
        }
        PrepareError::MfaNeedsIamUser {
            profile,
            base,
            kind,
        } => CliError::error(format!(
            "profile \"{profile}\" needs MFA, but its base credentials ({base}) are {}: STS gives the MFA session that --server needs only to IAM users",
            session_kind(kind)
        ))
        .hint("run `sentinel exec` without --server, or give the profile a source_profile with IAM user keys"),
        PrepareError::MfaCode(e) => e,
        PrepareError::MfaSession { base, source } => mfa_session_error(source, &base_hint(&base)),
        e => CliError::error(e),
    }
}

/// How long the MFA code may take to arrive on standard input when it is
/// not a terminal (a pipe nobody writes to must not hang a
/// `credential_process` caller).
const MFA_STDIN_TIMEOUT: Duration = Duration::from_secs(30);

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
/// `mfa_token` or a prompt) used as `mfa` says. A profile whose base
/// credentials would run `sentinel credentials` again is refused.
pub async fn prepare_with(
    ctx: &mut Context,
    name: &str,
    mfa_token: Option<&str>,
    mfa: MfaUse,
) -> Result<Prepared, CliError> {
    let loader = ProfileLoader::from_env().map_err(|e| profile_error(e, None))?;
    let options = PrepareOptions::new(ctx.config.timeouts)
        .mfa(mfa)
        .credential_process(CredentialProcess::current("sentinel", "credentials"));
    let prepared = base::prepare(&loader, name, &options, |serial| {
        mfa_code(serial, mfa_token)
    })
    .await
    .map_err(|e| prepare_error(e, &loader))?;
    if let MfaUse::Session(duration) = mfa
        && prepared.mfa_session_end.is_some()
        && duration > MAX_MFA_SESSION_DURATION
    {
        output::warn(format_args!(
            "the MFA session lasts at most {}h; after that the server cannot issue credentials",
            MAX_MFA_SESSION_DURATION.as_secs() / 3600
        ));
    }
    ctx.use_aws(prepared.base.clone());
    Ok(prepared)
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
    let log = DecisionLog::open_file(log_path).map_err(|e| {
        let hint = log_hint(&e);
        CliError::error(e).hint(hint)
    })?;
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
/// remedy in the CLI's words, exit 2.
pub fn denied(d: &Denial) -> CliError {
    denied_parts(&d.reason, d.rule.as_deref(), d.remedy.as_ref())
}

/// [`denied`] from its parts.
fn denied_parts(reason: &str, rule: Option<&str>, remedy: Option<&Remedy>) -> CliError {
    let rule = rule.map(|r| format!(" (rule {r})")).unwrap_or_default();
    let e = CliError::denied(format!("denied: {reason}{rule}"));
    match remedy {
        Some(r) => e.hint(remedy_hint(r)),
        None => e,
    }
}

/// A remedy in the CLI's words: the command that does it, where there is
/// one.
pub fn remedy_hint(r: &Remedy) -> String {
    match r {
        Remedy::RequestAccess { profile } => {
            format!("request access: sentinel request --profile {profile} --justification \"...\"")
        }
        Remedy::UseServer {
            profile,
            session_table,
        } => {
            let table = session_table
                .as_deref()
                .map(|t| format!(" --session-table {t}"))
                .unwrap_or_default();
            format!("use server mode: sentinel exec --server{table} --profile {profile} -- COMMAND")
        }
        Remedy::NewServerSession => "start a new `sentinel exec --server` session".to_owned(),
        other => other.to_string(),
    }
}

/// What to do about a decision log that cannot be opened or written.
pub fn log_hint(e: &LogError) -> String {
    match e {
        LogError::Corrupt { path, .. } => format!(
            "run `sentinel audit verify-log {}` to find the damaged line, then move the file aside",
            path.display()
        ),
        _ => "set --log or SENTINEL_LOG to a writable file".to_owned(),
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
        Error::Log(l) => {
            let hint = log_hint(l);
            return CliError::error(e).hint(hint);
        }
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
    fn refusals_name_the_rule() {
        let e = format!(
            "{:?}",
            denied_parts("prod is frozen", Some("freeze"), Some(&Remedy::NewGrant))
        );
        assert!(e.contains("denied: prod is frozen (rule freeze)"), "{e}");
        assert!(e.contains("Denied"), "{e}");
        let e = format!("{:?}", denied_parts("revoked", None, None));
        assert!(e.contains("\"denied: revoked\""), "{e}");
    }
}
