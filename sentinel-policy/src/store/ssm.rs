use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use sentinel_store::aws::{EndpointRecorder, no_answer};

use super::{PolicyStore, check_profile_name};
use crate::error::{Error, Result};
use crate::policy::CompiledPolicy;

/// Default parameter path under which policies are stored.
pub const DEFAULT_SSM_ROOT: &str = "/sentinel/policies";

/// Policies in AWS Systems Manager Parameter Store: one parameter per
/// profile, `<root>/<profile>` (default `/sentinel/policies/<profile>`),
/// of type `String` or `SecureString` (decrypted on read).
///
/// The store takes a built SDK client and never loads AWS configuration
/// itself. The caller needs `ssm:GetParameter` on the parameters,
/// `ssm:GetParametersByPath` on the root for [`list`](PolicyStore::list),
/// and `kms:Decrypt` for SecureString parameters.
#[derive(Debug, Clone)]
pub struct SsmPolicyStore {
    client: aws_sdk_ssm::Client,
    root: String,
    endpoint: EndpointRecorder,
}

impl SsmPolicyStore {
    /// A store reading parameters under `root` (e.g. `/sentinel/policies`).
    /// A trailing `/` is ignored; a missing leading `/` is added. The
    /// client keeps its configuration (timeouts included); a timeout names
    /// the endpoint that did not answer.
    pub fn new(client: aws_sdk_ssm::Client, root: impl Into<String>) -> Self {
        let endpoint = EndpointRecorder::new();
        let client = aws_sdk_ssm::Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(endpoint.clone())
                .build(),
        );
        let root = root.into();
        // Kept without a trailing `/`; the top level `/` is the empty root.
        let trimmed = root.trim_matches('/');
        let root = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        Self {
            client,
            root,
            endpoint,
        }
    }

    /// A store under [`DEFAULT_SSM_ROOT`].
    pub fn with_default_root(client: aws_sdk_ssm::Client) -> Self {
        Self::new(client, DEFAULT_SSM_ROOT)
    }

    /// The parameter path of a profile's policy.
    pub fn parameter_name(&self, profile: &str) -> String {
        format!("{}/{profile}", self.root)
    }

    fn map_error<E, R>(&self, profile: &str, action: &str, e: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let name = if profile.is_empty() {
            format!("{}/", self.root)
        } else {
            self.parameter_name(profile)
        };
        if let Some(no_answer) = no_answer("SSM", &self.endpoint, &e) {
            return Error::backend("ssm", format!("{no_answer} for {action} on {name}"));
        }
        let code = e.code().unwrap_or_default().to_owned();
        match code.as_str() {
            "ParameterNotFound" => Error::NotFound {
                profile: profile.to_owned(),
                origin: format!("ssm:{name}"),
                help: format!("create the parameter {name} holding the policy document"),
                parameter: Some(name),
            },
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
                Error::AccessDenied {
                    profile: profile.to_owned(),
                    origin: format!("ssm:{name}"),
                    message: format!(
                        "{}; grant {action} on this parameter (and kms:Decrypt for a SecureString)",
                        e.message().unwrap_or("access denied")
                    ),
                }
            }
            "ThrottlingException" => Error::backend(
                "ssm",
                format!(
                    "SSM is throttling {action} on {name}; retry shortly or cache policies longer"
                ),
            ),
            _ => Error::backend(
                "ssm",
                format!("{action} on {name}: {}", DisplayErrorContext(&e)),
            ),
        }
    }
}

#[async_trait]
impl PolicyStore for SsmPolicyStore {
    async fn get(&self, profile: &str) -> Result<Arc<CompiledPolicy>> {
        check_profile_name(profile)?;
        let name = self.parameter_name(profile);
        let out = self
            .client
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| self.map_error(profile, "ssm:GetParameter", e))?;
        let text = out
            .parameter()
            .and_then(|p| p.value())
            .ok_or_else(|| Error::Invalid {
                origin: format!("ssm:{name}"),
                problems: vec![crate::error::Problem::new("", "the parameter has no value")],
            })?;
        CompiledPolicy::parse(text, &format!("ssm:{name}")).map(Arc::new)
    }

    async fn list(&self) -> Result<Vec<String>> {
        let prefix = format!("{}/", self.root);
        let path = if self.root.is_empty() {
            "/"
        } else {
            &self.root
        };
        let mut pages = self
            .client
            .get_parameters_by_path()
            .path(path)
            .recursive(false)
            .with_decryption(false)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.map_error("", "ssm:GetParametersByPath", e))?;
            for p in page.parameters() {
                if let Some(profile) = p.name().and_then(|n| n.strip_prefix(&prefix))
                    && check_profile_name(profile).is_ok()
                {
                    names.push(profile.to_owned());
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn describe(&self) -> String {
        format!("ssm:{}/", self.root)
    }
}
