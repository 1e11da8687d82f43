//! Base credentials, MFA sessions and profile resolution (feature `sts`):
//! everything a frontend on a laptop needs before it can ask the
//! [pipeline](crate::pipeline) for a profile's role: the AWS profile, the
//! base credentials behind it, the caller and the role target.
//!
//! **Base credentials.** The profile's `source_profile` when it has one
//! (only that profile: environment keys do not override it);
//! otherwise the default chain *with `AWS_PROFILE` ignored* (the chain is
//! loaded for the `default` profile, which falls through to environment
//! keys, web identity, container and instance credentials when no
//! `[default]` profile exists). `AWS_PROFILE` is ignored because it usually
//! names the very profile whose `credential_process` runs the frontend:
//! loading it would run the frontend again, forever
//! ([`PrepareError::Recursion`] refuses the less obvious loops up front).
//! The same base configuration serves the stores (SSM policies, DynamoDB
//! state), for the same reason.
//!
//! **MFA.** For a profile with `mfa_serial`, one code is asked of the
//! frontend (a prompt, a flag, a form field: whatever it passes to
//! [`prepare`]). One-shot vending ([`MfaUse::AssumeRole`]) sends it with
//! the one AssumeRole. A credential server re-issues credentials for hours
//! and a code works only once, so it ([`MfaUse::Session`]) exchanges the
//! code once for an MFA session (STS GetSessionToken, as aws-vault does)
//! and assumes the role with that session's credentials, without a code:
//! the MFA context carries through. STS allows that only for IAM user
//! keys, so role-session base credentials are refused up front
//! ([`PrepareError::MfaNeedsIamUser`]), before a code is asked for.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use sentinel_store::Timeouts;

use crate::identity::{IdentityError, PrincipalKind};
use crate::pipeline::{Caller, Target};
use crate::profiles::{AwsProfile, ProfileError, ProfileLoader};
use crate::vendor::{Credentials, MfaSessionError};

/// Most `source_profile` hops followed when looking for a loop.
const MAX_SOURCE_HOPS: usize = 16;

/// How the MFA code of a profile with `mfa_serial` is used (see the module
/// docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaUse {
    /// Sent with the one AssumeRole (one-shot vending).
    AssumeRole,
    /// Exchanged once for an MFA session of this length (capped by STS,
    /// see [`MAX_MFA_SESSION_DURATION`](crate::vendor::MAX_MFA_SESSION_DURATION)),
    /// whose credentials assume the role every time, without a code.
    Session(Duration),
}

/// Where a profile's base credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSource {
    /// The profile's `source_profile`.
    SourceProfile(String),
    /// The default credential chain, `AWS_PROFILE` ignored.
    DefaultChain,
}

impl BaseSource {
    /// The source of `profile`'s base credentials.
    pub fn of(profile: &AwsProfile) -> Self {
        match &profile.source_profile {
            Some(p) => Self::SourceProfile(p.clone()),
            None => Self::DefaultChain,
        }
    }
}

impl fmt::Display for BaseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SourceProfile(p) => write!(f, "source_profile \"{p}\""),
            Self::DefaultChain => {
                f.write_str("the default credential chain (AWS_PROFILE is ignored)")
            }
        }
    }
}

/// How the frontend itself is run as a `credential_process`, so that a
/// base profile running it is recognised ([`PrepareError::Recursion`]):
/// the program's file name (without extension), and the argument that
/// selects credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialProcess {
    program: String,
    argument: String,
}

impl CredentialProcess {
    /// A program named `program` (file name without extension), run with
    /// `argument`.
    pub fn new(program: impl Into<String>, argument: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            argument: argument.into(),
        }
    }

    /// The running executable's own name (`fallback` when it cannot be
    /// found), run with `argument`: a renamed binary is still recognised.
    pub fn current(fallback: &str, argument: impl Into<String>) -> Self {
        let program = std::env::current_exe()
            .ok()
            .and_then(|e| e.file_stem().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| fallback.to_owned());
        Self::new(program, argument)
    }

    /// Whether the `credential_process` command line runs this program:
    /// as the program, or followed by the argument inside a wrapper
    /// (`sh -c "PROGRAM ARGUMENT ..."`).
    pub fn runs_in(&self, command: &str) -> bool {
        let is_ours = |w: &str| {
            Path::new(w)
                .file_stem()
                .is_some_and(|n| n.to_string_lossy() == self.program)
        };
        let words: Vec<&str> = command
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
            .collect();
        words.first().is_some_and(|w| is_ours(w))
            || words
                .windows(2)
                .any(|pair| is_ours(pair[0]) && pair[1] == self.argument)
    }
}

/// How [`prepare`] works.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PrepareOptions {
    /// Limits on every AWS call made with the base credentials.
    pub timeouts: Timeouts,
    /// How an MFA code is used.
    pub mfa: MfaUse,
    /// The frontend as a `credential_process`, when it can be one: base
    /// profiles that run it are refused.
    pub credential_process: Option<CredentialProcess>,
}

impl PrepareOptions {
    /// One-shot vending with these limits, no recursion check.
    pub fn new(timeouts: Timeouts) -> Self {
        Self {
            timeouts,
            mfa: MfaUse::AssumeRole,
            credential_process: None,
        }
    }

    /// Uses the MFA code as `mfa` says.
    #[must_use]
    pub fn mfa(mut self, mfa: MfaUse) -> Self {
        self.mfa = mfa;
        self
    }

    /// Refuses base profiles whose `credential_process` runs `process`.
    #[must_use]
    pub fn credential_process(mut self, process: CredentialProcess) -> Self {
        self.credential_process = Some(process);
        self
    }
}

/// Why a profile could not be prepared. `E` is the error of the frontend's
/// MFA code source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrepareError<E> {
    /// The profile could not be loaded or is not usable.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The profile's base credentials would come from the frontend itself,
    /// which would then run again to load them, without end.
    #[error(
        "profile \"{profile}\" would run this program again without end: its base credentials come from profile \"{base}\", whose credential_process runs it ({command})"
    )]
    Recursion {
        /// The profile asked for.
        profile: String,
        /// The base profile whose `credential_process` runs the frontend.
        base: String,
        /// That `credential_process`.
        command: String,
    },
    /// The caller behind the base credentials could not be established.
    #[error("{source}")]
    Identity {
        /// Where the base credentials come from.
        base: BaseSource,
        /// What failed.
        source: IdentityError,
    },
    /// An MFA session was asked for, but STS gives them to IAM users only.
    #[error(
        "profile \"{profile}\" needs MFA, but its base credentials ({base}) are {}: STS gives MFA sessions only to IAM users",
        session_kind(*.kind)
    )]
    MfaNeedsIamUser {
        /// The profile.
        profile: String,
        /// Where its base credentials come from.
        base: BaseSource,
        /// What they are.
        kind: PrincipalKind,
    },
    /// The frontend could not give an MFA code.
    #[error("{0}")]
    MfaCode(E),
    /// STS gave no MFA session for the code.
    #[error("{source}")]
    MfaSession {
        /// Where the base credentials come from.
        base: BaseSource,
        /// What STS said.
        source: MfaSessionError,
    },
}

/// What kind of session base credentials of `kind` are, in words.
pub fn session_kind(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::IamUser => "IAM user keys",
        PrincipalKind::Root => "the root user's keys",
        PrincipalKind::FederatedUser => "a federated user session",
        _ => "a role session",
    }
}

/// Everything needed to vend for one profile.
#[non_exhaustive]
pub struct Prepared {
    /// The profile.
    pub profile: AwsProfile,
    /// The base credentials' configuration (for the stores too).
    pub base: SdkConfig,
    /// Where the base credentials come from.
    pub base_source: BaseSource,
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
impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("profile", &self.profile.name)
            .field("region", &self.region())
            .field("base_source", &self.base_source)
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

/// The base AWS configuration for `profile` (see the module docs), with
/// the limits `timeouts` on every call.
pub async fn base_config(profile: &AwsProfile, timeouts: &Timeouts) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(sentinel_store::aws::https_client())
        .timeout_config(timeouts.timeout_config());
    loader = match &profile.source_profile {
        // Exactly the source profile's credentials, as the AWS CLI does:
        // not environment keys that happen to be set.
        Some(source) => loader.profile_name(source).credentials_provider(
            ProfileFileCredentialsProvider::builder()
                .configure(
                    &aws_config::provider_config::ProviderConfig::default()
                        .with_http_client(sentinel_store::aws::https_client()),
                )
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

/// The caller behind the credentials of `sts` (STS GetCallerIdentity).
pub async fn caller(sts: &aws_sdk_sts::Client) -> Result<Caller, IdentityError> {
    let identity = crate::identity::caller_identity(sts).await?;
    Ok(Caller::new(identity.principal()?))
}

/// Loads profile `name`, refuses it when it cannot work (no role, a loop
/// through the frontend itself, an MFA session on role-session base
/// credentials), loads its base credentials and identifies the caller
/// with them. For a profile with `mfa_serial`, `mfa_code` is asked for
/// the device's current code once, used as `options.mfa` says.
pub async fn prepare<E>(
    loader: &ProfileLoader,
    name: &str,
    options: &PrepareOptions,
    mfa_code: impl FnOnce(&str) -> Result<String, E>,
) -> Result<Prepared, PrepareError<E>> {
    let profile = loader.load(name).await?;
    // Refuse a profile without a role before asking anything of STS.
    profile.require_role()?;
    if let Some(process) = &options.credential_process {
        refuse_recursion(loader, &profile, process).await?;
    }

    let base = base_config(&profile, &options.timeouts).await;
    let base_source = BaseSource::of(&profile);
    let sts = aws_sdk_sts::Client::new(&base);
    let caller = caller(&sts)
        .await
        .map_err(|source| PrepareError::Identity {
            base: base_source.clone(),
            source,
        })?;
    let kind = caller.principal.kind();
    let role_chaining = kind == PrincipalKind::AssumedRole;
    let (target, sts, mfa_session_end) = match (&profile.mfa_serial, options.mfa) {
        (Some(serial), MfaUse::Session(duration)) => {
            // GetSessionToken is for IAM users (and root) only: refuse
            // before asking for a code.
            if !matches!(kind, PrincipalKind::IamUser | PrincipalKind::Root) {
                return Err(PrepareError::MfaNeedsIamUser {
                    profile: name.to_owned(),
                    base: base_source,
                    kind,
                });
            }
            let code = mfa_code(serial).map_err(PrepareError::MfaCode)?;
            let session = crate::vendor::mfa_session(&sts, serial, &code, duration)
                .await
                .map_err(|source| PrepareError::MfaSession {
                    base: base_source.clone(),
                    source,
                })?;
            let target = Target::from_profile(&profile, role_chaining, None)?;
            let end = session.expiration;
            (target, session_client(&base, &session), Some(end))
        }
        (serial, _) => {
            let code = match serial {
                Some(serial) => Some(mfa_code(serial).map_err(PrepareError::MfaCode)?),
                None => None,
            };
            let target = Target::from_profile(&profile, role_chaining, code)?;
            (target, sts, None)
        }
    };
    Ok(Prepared {
        profile,
        base,
        base_source,
        caller,
        target,
        sts,
        mfa_session_end,
    })
}

/// Refuses a profile whose base credentials come from the frontend itself:
/// a `source_profile` (or one it chains to, or `[default]` when there is no
/// source profile and no keys in the environment) whose
/// `credential_process` runs `process` would start it again to load them,
/// which would start it again, without end.
async fn refuse_recursion<E>(
    loader: &ProfileLoader,
    profile: &AwsProfile,
    process: &CredentialProcess,
) -> Result<(), PrepareError<E>> {
    let env_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty());
    let mut next = match &profile.source_profile {
        Some(source) => Some(source.clone()),
        None if !env_keys => Some("default".to_owned()),
        None => None,
    };
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
            && process.runs_in(command)
        {
            return Err(PrepareError::Recursion {
                profile: profile.name.clone(),
                base: name,
                command: command.clone(),
            });
        }
        if base.role_arn.is_some() {
            next = base.source_profile.clone();
        }
        seen.push(name);
    }
    Ok(())
}

/// STS with `base`'s configuration and the MFA session's credentials.
pub fn session_client(base: &SdkConfig, session: &Credentials) -> aws_sdk_sts::Client {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_processes_that_run_the_program() {
        let ours = CredentialProcess::new("sentinel", "credentials");
        for yes in [
            "sentinel credentials --profile prod",
            "/opt/bin/sentinel credentials --profile prod",
            "\"/Program Files/sentinel.exe\" credentials --profile prod",
            "sh -c \"exec sentinel credentials --profile prod\"",
            "/usr/local/bin/sentinel",
        ] {
            assert!(ours.runs_in(yes), "{yes}");
        }
        for no in [
            "aws-vault export --format=json base",
            "/opt/get-creds --vault sentinel",
            "sentinel-helper credentials",
            "",
        ] {
            assert!(!ours.runs_in(no), "{no}");
        }
        // Renamed binary: its own name counts.
        assert!(
            CredentialProcess::new("sntl", "credentials").runs_in("sntl credentials --profile p")
        );
    }
}
