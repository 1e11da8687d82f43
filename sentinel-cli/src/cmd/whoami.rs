//! `sentinel whoami`: who sentinel thinks you are.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::context::Context;
use crate::output::{self, CliError, CliResult, Record};

/// `sentinel whoami`
#[derive(Debug, Args)]
pub struct WhoamiArgs {
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
    username: &'a str,
}

/// `sentinel whoami`: the caller of STS `GetCallerIdentity` with the
/// standard credential chain, and the policy username derived from it.
pub async fn whoami(ctx: &Context, args: &WhoamiArgs) -> CliResult {
    let sts = aws_sdk_sts::Client::new(ctx.aws().await);
    let hint = "sentinel identifies you with STS GetCallerIdentity; check AWS_PROFILE, AWS_REGION and your base credentials (`aws sts get-caller-identity`)";
    let identity = sentinel_vend::identity::caller_identity(&sts)
        .await
        .map_err(|e| CliError::with_lines(e).hint(hint))?;
    let (kind, _) = identity
        .principal()
        .map_err(|e| CliError::error(e).hint(hint))?;
    let username = identity
        .policy_username()
        .map_err(|e| CliError::error(e).hint(hint))?;
    if args.json {
        output::print_json(&Whoami {
            arn: &identity.arn,
            account: &identity.account,
            user_id: &identity.user_id,
            principal_kind: kind.as_str(),
            username: &username,
        })?;
    } else {
        let record = Record::new()
            .field("arn", &identity.arn)
            .field("account", &identity.account)
            .field("principal", kind)
            .field("policy user", &username);
        output::print(&record.render())?;
    }
    Ok(ExitCode::SUCCESS)
}
