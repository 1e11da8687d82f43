//! Who runs the command: the caller of STS `GetCallerIdentity` with the base
//! credentials. Never taken from a flag; the policy of the profile an action
//! concerns says which username, if any, the caller has.

use aws_config::SdkConfig;
use sentinel_vend::Caller;

use crate::output::CliError;

/// What to check when STS cannot say who the caller is.
pub const HINT: &str = "sentinel identifies you with STS GetCallerIdentity; check AWS_PROFILE, AWS_REGION and your base credentials (`aws sts get-caller-identity`)";

/// The caller behind the base credentials.
pub async fn current_caller(aws: &SdkConfig) -> Result<Caller, CliError> {
    sentinel_vend::base::caller(&aws_sdk_sts::Client::new(aws))
        .await
        .map_err(|e| CliError::with_lines(e).hint(HINT))
}
