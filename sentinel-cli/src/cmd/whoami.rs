//! `sentinel whoami`: who sentinel thinks you are.

use std::process::ExitCode;

use clap::Args;
use sentinel_policy::IdentifiedBy;
use serde::Serialize;

use crate::context::Context;
use crate::output::{self, CliError, CliResult, Record};

/// `sentinel whoami`
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Show who the policy of this profile takes you for (default: the
    /// policy of profile `default`).
    #[arg(long)]
    profile: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Whoami<'a> {
    arn: &'a str,
    account: &'a str,
    user_id: &'a str,
    principal_kind: &'a str,
    profile: &'a str,
    /// The username under the profile's policy; absent when refused.
    username: Option<&'a str>,
    /// How the username was found, or why there is none.
    identified_by: String,
    admin: bool,
}

/// `sentinel whoami`: the caller of STS `GetCallerIdentity` with the
/// standard credential chain, and who the profile's policy takes them for.
pub async fn whoami(ctx: &Context, args: &WhoamiArgs) -> CliResult {
    let sts = aws_sdk_sts::Client::new(ctx.aws().await);
    let hint = crate::identity::HINT;
    let identity = sentinel_vend::identity::caller_identity(&sts)
        .await
        .map_err(|e| CliError::with_lines(e).hint(hint))?;
    let principal = identity
        .principal()
        .map_err(|e| CliError::error(e).hint(hint))?;
    let profile = args.profile.as_deref().unwrap_or("default");
    sentinel_policy::check_profile_name(profile).map_err(CliError::error)?;
    let policy = ctx.policy(profile).await?;
    let found = policy.identify(&principal);
    let (username, by, admin) = match &found {
        Ok(id) => (
            Some(id.username.as_str()),
            match &id.by {
                IdentifiedBy::IamUser => "the IAM user name".to_owned(),
                IdentifiedBy::TrustedRole(p) => {
                    format!("the session name of a trusted role ({p})")
                }
                IdentifiedBy::Mapping(k) => format!("identity.principals[\"{k}\"]"),
                _ => "the policy".to_owned(),
            },
            policy.is_admin(&id.username),
        ),
        Err(e) => (None, format!("nobody: {e}"), false),
    };
    if args.json {
        output::print_json(&Whoami {
            arn: &identity.arn,
            account: &identity.account,
            user_id: &identity.user_id,
            principal_kind: principal.kind().as_str(),
            profile,
            username,
            identified_by: by,
            admin,
        })?;
    } else {
        let record = Record::new()
            .field("arn", &identity.arn)
            .field("account", &identity.account)
            .field("principal", principal.kind())
            .field("profile", profile)
            .field("user", username.unwrap_or("-"))
            .field("identified by", &by)
            .field("admin", if admin { "yes" } else { "no" });
        output::print(&record.render())?;
    }
    Ok(ExitCode::SUCCESS)
}
