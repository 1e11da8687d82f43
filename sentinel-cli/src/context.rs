//! Wiring: the resolved configuration turned into stores, notifiers and AWS
//! clients, each built on first use so a command only touches what it needs.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use sentinel_approval::{
    FanOut, Notifier, NotifyingRequestStore, RequestStore, RequestStoreExt, SnsNotifier,
    WebhookNotifier,
};
use sentinel_breakglass::{BreakGlassStore, BreakGlassStoreExt, NotifyingBreakGlassStore};
use sentinel_policy::{CompiledPolicy, DynPolicyStore, FilePolicyStore, SsmPolicyStore};
use sentinel_session::SessionStore;
use tokio::sync::OnceCell;

use crate::config::{Config, PolicySource, StateConfig};
use crate::output::{self, CliError};

/// Shared state of one command run.
#[derive(Debug)]
pub struct Context {
    /// The resolved configuration.
    pub config: Config,
    aws: OnceCell<SdkConfig>,
}

/// The request store, and the notifying wrapper when notifications are on.
#[derive(Debug)]
pub struct Requests {
    /// The store to use (notifying when configured).
    pub store: Arc<dyn RequestStore>,
    notifying: Option<Arc<NotifyingRequestStore<Arc<dyn RequestStore>>>>,
}

impl Requests {
    /// Announces requests that expired undecided; best effort.
    pub async fn sweep(&self) {
        if let Some(n) = &self.notifying
            && let Err(e) = n.sweep_expired().await
        {
            output::warn(format_args!("expired-request notifications not sent: {e}"));
        }
    }
}

/// The break-glass store, and the notifying wrapper when notifications are on.
#[derive(Debug)]
pub struct BreakGlass {
    /// The store to use (notifying when configured).
    pub store: Arc<dyn BreakGlassStore>,
    notifying: Option<Arc<NotifyingBreakGlassStore<Arc<dyn BreakGlassStore>>>>,
}

impl BreakGlass {
    /// Announces break-glass events that ran out; best effort.
    pub async fn sweep(&self) {
        if let Some(n) = &self.notifying
            && let Err(e) = n.sweep_expired().await
        {
            output::warn(format_args!(
                "expired break-glass notifications not sent: {e}"
            ));
        }
    }
}

fn store_error(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::error(format!("cannot open the {what} store: {e}"))
        .hint("check --state / SENTINEL_STATE (sqlite, sqlite:/dir or dynamodb)")
}

impl Context {
    /// A context for `config`; nothing is opened yet.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            aws: OnceCell::new(),
        }
    }

    /// The AWS configuration from the standard chain (`AWS_PROFILE`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL`, …) with the configured
    /// [timeouts](Config::timeouts), loaded once.
    pub async fn aws(&self) -> &SdkConfig {
        self.aws
            .get_or_init(|| {
                aws_config::defaults(BehaviorVersion::latest())
                    .http_client(sentinel_store::aws::https_client())
                    .timeout_config(self.config.timeouts.timeout_config())
                    .load()
            })
            .await
    }

    /// Uses `config` for every AWS call from now on (`credentials` and
    /// `exec` install the profile's base credentials, never `AWS_PROFILE`,
    /// which may run `sentinel credentials` itself).
    pub fn use_aws(&mut self, config: SdkConfig) {
        self.aws = OnceCell::from(config);
    }

    /// The caller (STS `GetCallerIdentity`).
    pub async fn caller(&self) -> Result<sentinel_vend::Caller, CliError> {
        crate::identity::current_caller(self.aws().await).await
    }

    /// The caller as the policy of `profile` names them.
    pub async fn actor(&self, profile: &str) -> Result<sentinel_vend::authority::Actor, CliError> {
        let caller = self.caller().await?;
        let store = self.policy_store().await;
        sentinel_vend::authority::identify(&*store, &caller, profile)
            .await
            .map_err(crate::vending::failed)
    }

    /// The configured policy store.
    pub async fn policy_store(&self) -> DynPolicyStore {
        match &self.config.policy {
            PolicySource::File { path } => Arc::new(FilePolicyStore::new(path.clone())),
            PolicySource::Ssm { root } => Arc::new(SsmPolicyStore::new(
                aws_sdk_ssm::Client::new(self.aws().await),
                root.clone(),
            )),
        }
    }

    /// The policy that governs `profile`.
    pub async fn policy(&self, profile: &str) -> Result<Arc<CompiledPolicy>, CliError> {
        let store = self.policy_store().await;
        store.get(profile).await.map_err(|e| {
            let hint = match &e {
                sentinel_policy::Error::Invalid { .. } => {
                    "run `sentinel policy validate FILE` to see every problem".to_owned()
                }
                _ => missing_policy_hint(&e).unwrap_or_else(|| {
                    format!(
                        "policies are read from {}; set --policy or SENTINEL_POLICY",
                        store.describe()
                    )
                }),
            };
            CliError::error(e).hint(hint)
        })
    }

    async fn notifier(&self) -> Result<Option<Arc<dyn Notifier>>, CliError> {
        let n = &self.config.notify;
        let mut all: Vec<Arc<dyn Notifier>> = Vec::new();
        if let Some(url) = &n.webhook_url {
            let mut hook = WebhookNotifier::new(url)
                .and_then(|h| h.with_timeouts(self.config.timeouts))
                .map_err(|e| {
                    CliError::error(format!("webhook notifications: {e}"))
                        .hint("set SENTINEL_WEBHOOK_URL to an http(s) URL")
                })?;
            if let Some(secret) = &n.webhook_secret {
                hook = hook.with_secret(secret.as_bytes());
            }
            all.push(Arc::new(hook));
        }
        if let Some(topic) = &n.sns_topic {
            all.push(Arc::new(SnsNotifier::new(
                aws_sdk_sns::Client::new(self.aws().await),
                topic.clone(),
            )));
        }
        Ok(match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Arc::new(FanOut::new(all))),
        })
    }

    /// The access-request store.
    pub async fn requests(&self) -> Result<Requests, CliError> {
        let base: Arc<dyn RequestStore> = match &self.config.state {
            StateConfig::Sqlite { dir } => Arc::new(
                sentinel_approval::SqliteRequestStore::open(dir.join("requests.db"))
                    .await
                    .map_err(|e| store_error("request", e))?,
            ),
            StateConfig::Dynamodb { request_table, .. } => {
                Arc::new(sentinel_approval::DynamoRequestStore::new(
                    aws_sdk_dynamodb::Client::new(self.aws().await),
                    request_table.clone(),
                ))
            }
        };
        Ok(match self.notifier().await? {
            None => Requests {
                store: base,
                notifying: None,
            },
            Some(n) => {
                let wrapped = Arc::new(NotifyingRequestStore::new(base, n));
                Requests {
                    store: wrapped.clone(),
                    notifying: Some(wrapped),
                }
            }
        })
    }

    /// The break-glass store.
    pub async fn breakglass(&self) -> Result<BreakGlass, CliError> {
        let base: Arc<dyn BreakGlassStore> = match &self.config.state {
            StateConfig::Sqlite { dir } => Arc::new(
                sentinel_breakglass::SqliteBreakGlassStore::open(dir.join("breakglass.db"))
                    .await
                    .map_err(|e| store_error("break-glass", e))?,
            ),
            StateConfig::Dynamodb {
                breakglass_table, ..
            } => Arc::new(sentinel_breakglass::DynamoBreakGlassStore::new(
                aws_sdk_dynamodb::Client::new(self.aws().await),
                breakglass_table.clone(),
            )),
        };
        Ok(match self.notifier().await? {
            None => BreakGlass {
                store: base,
                notifying: None,
            },
            Some(n) => {
                let wrapped = Arc::new(NotifyingBreakGlassStore::new(base, n));
                BreakGlass {
                    store: wrapped.clone(),
                    notifying: Some(wrapped),
                }
            }
        })
    }

    /// The server-session store in DynamoDB table `table`
    /// (`exec --session-table`), whatever the state backend.
    pub async fn sessions_in_table(&self, table: &str) -> Arc<dyn SessionStore> {
        Arc::new(sentinel_session::DynamoSessionStore::new(
            aws_sdk_dynamodb::Client::new(self.aws().await),
            table.to_owned(),
        ))
    }

    /// The server-session store.
    pub async fn sessions(&self) -> Result<Arc<dyn SessionStore>, CliError> {
        Ok(match &self.config.state {
            StateConfig::Sqlite { dir } => Arc::new(
                sentinel_session::SqliteSessionStore::open(dir.join("sessions.db"))
                    .await
                    .map_err(|e| store_error("session", e))?,
            ),
            StateConfig::Dynamodb { session_table, .. } => {
                Arc::new(sentinel_session::DynamoSessionStore::new(
                    aws_sdk_dynamodb::Client::new(self.aws().await),
                    session_table.clone(),
                ))
            }
        })
    }
}

/// How to create the policy an SSM store lacks: the store names the
/// parameter, the CLI the command.
pub fn missing_policy_hint(e: &sentinel_policy::Error) -> Option<String> {
    match e {
        sentinel_policy::Error::NotFound {
            profile,
            parameter: Some(name),
            ..
        } => Some(format!(
            "create it: aws ssm put-parameter --name {name} --type String --value file://{profile}.yaml"
        )),
        _ => None,
    }
}
