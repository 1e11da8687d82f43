//! `sentinel credentials --profile P`: the `credential_process` mode.
//!
//! ```ini
//! [profile prod]
//! credential_process = sentinel credentials --profile prod-role
//!
//! [profile prod-role]
//! role_arn = arn:aws:iam::123456789012:role/prod-admin
//! source_profile = base
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use jiff::Timestamp;
use sentinel_policy::Mode;
use sentinel_vend::{Outcome, VendRequest};

use crate::context::Context;
use crate::output::{self, CliError, CliResult};
use crate::vending;

/// `sentinel credentials` (`Debug` leaves out the MFA code)
#[derive(Args)]
pub struct CredentialsArgs {
    /// AWS profile with the role to assume (`role_arn`, and `source_profile`
    /// for the base credentials).
    #[arg(long)]
    profile: String,
    /// Credential lifetime, e.g. `1h`, `30m` (default: the profile's
    /// duration_seconds, else 1h; capped by policy and STS).
    #[arg(long, value_parser = super::parse_duration)]
    duration: Option<Duration>,
    /// MFA code when the profile has `mfa_serial` (else asked on a
    /// terminal, or read from standard input).
    #[arg(long, value_name = "CODE")]
    mfa_token: Option<String>,
}

impl std::fmt::Debug for CredentialsArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsArgs")
            .field("profile", &self.profile)
            .field("duration", &self.duration)
            .field("mfa_token", &self.mfa_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `sentinel credentials`: prints `credential_process` JSON on stdout.
pub async fn credentials(ctx: &mut Context, args: &CredentialsArgs) -> CliResult {
    let prepared = vending::prepare(ctx, &args.profile, args.mfa_token.as_deref()).await?;
    let sessions = ctx.sessions().await?;
    let pipeline = vending::pipeline(ctx, &prepared, sessions).await?;
    let req = VendRequest {
        caller: prepared.caller.clone(),
        profile: args.profile.clone(),
        mode: Mode::CredentialProcess,
        duration: args.duration,
        target: prepared.target.clone(),
        session_id: None,
    };
    match pipeline.vend(&req).await.map_err(vending::failed)? {
        Outcome::Issued(issued) => {
            let mut json = issued
                .credentials
                .to_credential_process_json(Timestamp::now())
                .map_err(|e| CliError::error(e).hint("run the command again"))?;
            json.push('\n');
            output::print(&json)?;
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Denied(d) => Err(vending::denied(&d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mfa_code_stays_out_of_debug() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            credentials: CredentialsArgs,
        }
        let cli = Cli::try_parse_from(["sentinel", "--profile", "prod", "--mfa-token", "428133"])
            .unwrap_or_else(|e| panic!("{e}"));
        let d = format!("{cli:?}");
        assert!(!d.contains("428133") && d.contains("<redacted>"), "{d}");
    }
}
