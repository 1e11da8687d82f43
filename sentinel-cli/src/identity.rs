//! Who runs the command: the caller of STS `GetCallerIdentity` with the base
//! credentials, reduced to the policy username. Never taken from a flag.

use aws_config::SdkConfig;

use crate::output::CliError;

/// The policy username of the caller.
pub async fn current_user(aws: &SdkConfig) -> Result<String, CliError> {
    let sts = aws_sdk_sts::Client::new(aws);
    let hint = "sentinel identifies you with STS GetCallerIdentity; check AWS_PROFILE, AWS_REGION and your base credentials (`aws sts get-caller-identity`)";
    let identity = sentinel_vend::identity::caller_identity(&sts)
        .await
        .map_err(|e| CliError::with_lines(e).hint(hint))?;
    identity
        .policy_username()
        .map_err(|e| CliError::error(e).hint(hint))
}
