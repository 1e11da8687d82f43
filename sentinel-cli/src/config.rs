//! Configuration: flags, then environment, then `sentinel.toml` in the XDG
//! config directory, then built-in defaults.
//!
//! Everything is resolved from an [`Env`] snapshot, never from the real
//! home directory directly, so tests point `XDG_*`/`HOME` at a temp dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sentinel_approval::DEFAULT_REQUEST_TABLE;
use sentinel_breakglass::DEFAULT_BREAKGLASS_TABLE;
use sentinel_session::DEFAULT_SESSION_TABLE;
use sentinel_store::Timeouts;
use serde::{Deserialize, Serialize, Serializer};

use crate::output::CliError;

/// Environment variable names.
pub mod vars {
    /// Where policies come from.
    pub const POLICY: &str = "SENTINEL_POLICY";
    /// Where state is kept.
    pub const STATE: &str = "SENTINEL_STATE";
    /// The decision log.
    pub const LOG: &str = "SENTINEL_LOG";
    /// DynamoDB table of access requests.
    pub const REQUEST_TABLE: &str = "SENTINEL_REQUEST_TABLE";
    /// DynamoDB table of break-glass events.
    pub const BREAKGLASS_TABLE: &str = "SENTINEL_BREAKGLASS_TABLE";
    /// DynamoDB table of server sessions.
    pub const SESSION_TABLE: &str = "SENTINEL_SESSION_TABLE";
    /// Webhook for notifications.
    pub const WEBHOOK_URL: &str = "SENTINEL_WEBHOOK_URL";
    /// HMAC secret for the webhook.
    pub const WEBHOOK_SECRET: &str = "SENTINEL_WEBHOOK_SECRET";
    /// SNS topic ARN for notifications.
    pub const SNS_TOPIC: &str = "SENTINEL_SNS_TOPIC";
    /// Limit on connecting to AWS or the webhook (e.g. `3s`).
    pub const CONNECT_TIMEOUT: &str = "SENTINEL_CONNECT_TIMEOUT";
    /// Limit on one attempt of an AWS or webhook call (e.g. `5s`).
    pub const ATTEMPT_TIMEOUT: &str = "SENTINEL_ATTEMPT_TIMEOUT";
    /// Limit on a whole AWS or webhook call, retries included (e.g. `12s`).
    pub const OPERATION_TIMEOUT: &str = "SENTINEL_OPERATION_TIMEOUT";
}

/// A snapshot of the process environment (empty values count as unset).
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The current process environment.
    pub fn from_process() -> Self {
        Self(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    /// A value, `None` when unset or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    #[cfg(test)]
    fn of(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// An XDG base directory: `$VAR` when absolute, else `$HOME/fallback`.
    fn xdg(&self, var: &str, fallback: &str) -> Result<PathBuf, CliError> {
        if let Some(dir) = self.get(var).map(PathBuf::from).filter(|p| p.is_absolute()) {
            return Ok(dir);
        }
        match self.get("HOME") {
            Some(home) => Ok(Path::new(home).join(fallback)),
            None => Err(CliError::error(format!(
                "cannot find the {var} directory: neither {var} nor HOME is set"
            ))
            .hint(format!("set {var} to an absolute path"))),
        }
    }
}

/// Settings given as command-line flags (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--policy`.
    pub policy: Option<String>,
    /// `--state`.
    pub state: Option<String>,
    /// `--log`.
    pub log: Option<String>,
}

/// The keys of `sentinel.toml`; any other key is an error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    policy: Option<String>,
    state: Option<String>,
    log: Option<String>,
    request_table: Option<String>,
    breakglass_table: Option<String>,
    session_table: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    sns_topic: Option<String>,
    timeouts: Option<FileTimeouts>,
}

/// `[timeouts]` of `sentinel.toml`: each a duration (`"3s"`, `"500ms"`)
/// or a number of seconds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTimeouts {
    connect: Option<toml::Value>,
    attempt: Option<toml::Value>,
    operation: Option<toml::Value>,
}

/// Where policies come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicySource {
    /// A YAML/JSON file or a directory of per-profile files.
    File {
        /// The path.
        path: PathBuf,
    },
    /// SSM Parameter Store under a root path.
    Ssm {
        /// The parameter root, e.g. `/sentinel/policies`.
        root: String,
    },
}

/// Where requests, break-glass events and server sessions are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateConfig {
    /// SQLite files `sessions.db`, `requests.db`, `breakglass.db` in a directory.
    Sqlite {
        /// The directory.
        dir: PathBuf,
    },
    /// DynamoDB tables.
    Dynamodb {
        /// Access requests.
        request_table: String,
        /// Break-glass events.
        breakglass_table: String,
        /// Server sessions.
        session_table: String,
    },
}

/// Where notifications go (none configured = no notifications).
///
/// `Debug` and serialization (`sentinel config --json`) show the webhook
/// URL redacted (scheme, host and port: paths and queries often hold a
/// token) and never the secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotifyConfig {
    /// Webhook URL (shown only redacted).
    #[serde(serialize_with = "redacted_url")]
    pub webhook_url: Option<String>,
    /// Webhook HMAC secret (never printed).
    #[serde(skip)]
    pub webhook_secret: Option<String>,
    /// SNS topic ARN.
    pub sns_topic: Option<String>,
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field(
                "webhook_url",
                &self
                    .webhook_url
                    .as_deref()
                    .map(sentinel_approval::redact_url),
            )
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("sns_topic", &self.sns_topic)
            .finish()
    }
}

fn redacted_url<S: Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&url.as_deref().map(sentinel_approval::redact_url))
}

/// A limit as shown: `3s`, `1.5s`, `500ms`.
pub fn show_duration(d: Duration) -> String {
    format!("{d:?}")
}

fn shown_timeouts<S: Serializer>(t: &Timeouts, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct as _;
    let mut st = s.serialize_struct("Timeouts", 3)?;
    st.serialize_field("connect", &show_duration(t.connect))?;
    st.serialize_field("attempt", &show_duration(t.attempt))?;
    st.serialize_field("operation", &show_duration(t.operation))?;
    st.end()
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// The `sentinel.toml` that was read, if it exists.
    pub config_file: Option<PathBuf>,
    /// Policy source.
    pub policy: PolicySource,
    /// State backend.
    pub state: StateConfig,
    /// Decision log file (used by `credentials` and `exec`).
    pub log: PathBuf,
    /// Notifications.
    pub notify: NotifyConfig,
    /// Whether a webhook secret is set (the secret itself is never shown).
    pub webhook_secret_set: bool,
    /// Limits on every AWS and webhook call (`[timeouts]`,
    /// `SENTINEL_*_TIMEOUT`; default connect 3 s, attempt 5 s, whole call
    /// 12 s, so a credential request answers or fails within about 15 s).
    #[serde(serialize_with = "shown_timeouts")]
    pub timeouts: Timeouts,
}

impl Config {
    /// Resolves the configuration: flags > environment > `sentinel.toml` >
    /// defaults.
    pub fn resolve(flags: &Flags, env: &Env) -> Result<Self, CliError> {
        let config_dir = env.xdg("XDG_CONFIG_HOME", ".config")?.join("sentinel");
        let file_path = config_dir.join("sentinel.toml");
        let (file, config_file) = match std::fs::read_to_string(&file_path) {
            Ok(text) => (parse_file(&text, &file_path)?, Some(file_path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (FileConfig::default(), None),
            Err(e) => {
                return Err(CliError::error(format!(
                    "cannot read {}: {e}",
                    file_path.display()
                )));
            }
        };
        let pick = |flag: Option<&String>, var: &str, file: &Option<String>| -> Option<String> {
            flag.filter(|v| !v.is_empty())
                .cloned()
                .or_else(|| env.get(var).map(str::to_owned))
                .or_else(|| file.clone().filter(|v| !v.is_empty()))
        };

        let policy = match pick(flags.policy.as_ref(), vars::POLICY, &file.policy) {
            None => PolicySource::File {
                path: config_dir.join("policy.yaml"),
            },
            Some(v) => parse_policy(&v)?,
        };

        let state = match pick(flags.state.as_ref(), vars::STATE, &file.state) {
            None => StateConfig::Sqlite {
                dir: env.xdg("XDG_DATA_HOME", ".local/share")?.join("sentinel"),
            },
            Some(v) => {
                let table = |var: &str, file: &Option<String>, default: &str| {
                    pick(None, var, file).unwrap_or_else(|| default.to_owned())
                };
                parse_state(&v, env, || StateConfig::Dynamodb {
                    request_table: table(
                        vars::REQUEST_TABLE,
                        &file.request_table,
                        DEFAULT_REQUEST_TABLE,
                    ),
                    breakglass_table: table(
                        vars::BREAKGLASS_TABLE,
                        &file.breakglass_table,
                        DEFAULT_BREAKGLASS_TABLE,
                    ),
                    session_table: table(
                        vars::SESSION_TABLE,
                        &file.session_table,
                        DEFAULT_SESSION_TABLE,
                    ),
                })?
            }
        };

        let log = match pick(flags.log.as_ref(), vars::LOG, &file.log) {
            Some(v) => PathBuf::from(v),
            None => env
                .xdg("XDG_STATE_HOME", ".local/state")?
                .join("sentinel")
                .join("decisions.jsonl"),
        };

        let notify = NotifyConfig {
            webhook_url: pick(None, vars::WEBHOOK_URL, &file.webhook_url),
            webhook_secret: pick(None, vars::WEBHOOK_SECRET, &file.webhook_secret),
            sns_topic: pick(None, vars::SNS_TOPIC, &file.sns_topic),
        };
        if notify.webhook_secret.is_some() && notify.webhook_url.is_none() {
            return Err(
                CliError::error("a webhook secret is configured but no webhook URL").hint(format!(
                    "set {} too, or unset {}",
                    vars::WEBHOOK_URL,
                    vars::WEBHOOK_SECRET
                )),
            );
        }
        let timeouts = resolve_timeouts(
            env,
            file.timeouts.as_ref().unwrap_or(&FileTimeouts::default()),
        )?;
        Ok(Self {
            config_file,
            policy,
            state,
            log,
            webhook_secret_set: notify.webhook_secret.is_some(),
            notify,
            timeouts,
        })
    }
}

/// The limits: environment > `[timeouts]` > [`Timeouts::DEFAULT`].
fn resolve_timeouts(env: &Env, file: &FileTimeouts) -> Result<Timeouts, CliError> {
    let one = |var: &str, key: &str, file: &Option<toml::Value>, default: Duration| {
        let bad = |shown: &str| {
            CliError::error(format!("invalid timeout {shown}")).hint(
                "write a positive duration such as 5s, 1.5s or 500ms (a bare number is seconds)",
            )
        };
        if let Some(v) = env.get(var) {
            return parse_duration(v).ok_or_else(|| bad(&format!("{var}=\"{v}\"")));
        }
        match file {
            None => Ok(default),
            Some(toml::Value::String(v)) => {
                parse_duration(v).ok_or_else(|| bad(&format!("timeouts.{key} = \"{v}\"")))
            }
            Some(toml::Value::Integer(n)) => u64::try_from(*n)
                .ok()
                .filter(|n| *n > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| bad(&format!("timeouts.{key} = {n}"))),
            Some(toml::Value::Float(x)) => {
                seconds(*x).ok_or_else(|| bad(&format!("timeouts.{key} = {x}")))
            }
            Some(other) => Err(bad(&format!("timeouts.{key} = {other}"))),
        }
    };
    Ok(Timeouts {
        connect: one(
            vars::CONNECT_TIMEOUT,
            "connect",
            &file.connect,
            Timeouts::DEFAULT_CONNECT,
        )?,
        attempt: one(
            vars::ATTEMPT_TIMEOUT,
            "attempt",
            &file.attempt,
            Timeouts::DEFAULT_ATTEMPT,
        )?,
        operation: one(
            vars::OPERATION_TIMEOUT,
            "operation",
            &file.operation,
            Timeouts::DEFAULT_OPERATION,
        )?,
    })
}

/// A positive number of seconds (at most a day) as a duration.
fn seconds(x: f64) -> Option<Duration> {
    (x > 0.0 && x <= 86_400.0).then(|| Duration::from_secs_f64(x))
}

/// `5`, `1.5` (seconds), or a duration like `5s`, `500ms`, `1m 30s`;
/// positive, at most a day.
fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(x) = v.parse::<f64>() {
        return seconds(x);
    }
    let d: jiff::SignedDuration = v.parse().ok()?;
    Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(86_400))
}

fn parse_file(text: &str, path: &Path) -> Result<FileConfig, CliError> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let before = text.get(..s.start).unwrap_or_default();
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        CliError::error(format!("{}{at}: {}", path.display(), e.message())).hint(
            "known keys: policy, state, log, request_table, breakglass_table, session_table, \
             webhook_url, webhook_secret, sns_topic, and [timeouts] with connect, attempt, operation",
        )
    })
}

fn parse_policy(v: &str) -> Result<PolicySource, CliError> {
    match v.strip_prefix("ssm:") {
        Some(root) if root.starts_with('/') => Ok(PolicySource::Ssm {
            root: root.to_owned(),
        }),
        Some(_) => Err(
            CliError::error(format!("policy source \"{v}\" is not an SSM path"))
                .hint("write it as ssm:/sentinel/policies"),
        ),
        None => Ok(PolicySource::File {
            path: PathBuf::from(v),
        }),
    }
}

fn parse_state(
    v: &str,
    env: &Env,
    dynamodb: impl FnOnce() -> StateConfig,
) -> Result<StateConfig, CliError> {
    if v == "sqlite" {
        return Ok(StateConfig::Sqlite {
            dir: env.xdg("XDG_DATA_HOME", ".local/share")?.join("sentinel"),
        });
    }
    if v == "dynamodb" {
        return Ok(dynamodb());
    }
    match v.strip_prefix("sqlite:") {
        Some(dir) if !dir.is_empty() => Ok(StateConfig::Sqlite {
            dir: PathBuf::from(dir),
        }),
        _ => Err(CliError::error(format!("unknown state backend \"{v}\"")).hint(
            "use `sqlite` (the default), `sqlite:/path/to/dir` or `dynamodb` \
             (tables from SENTINEL_REQUEST_TABLE, SENTINEL_BREAKGLASS_TABLE, SENTINEL_SESSION_TABLE)",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn env_in(dir: &Path, extra: &[(&str, &str)]) -> Env {
        let home = dir.join("home");
        let mut pairs = vec![("HOME", home.to_str().unwrap())];
        pairs.extend_from_slice(extra);
        Env::of(&pairs)
    }

    #[test]
    fn defaults_follow_home() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Config::resolve(&Flags::default(), &env_in(tmp.path(), &[])).unwrap();
        let home = tmp.path().join("home");
        assert_eq!(
            c.policy,
            PolicySource::File {
                path: home.join(".config/sentinel/policy.yaml")
            }
        );
        assert_eq!(
            c.state,
            StateConfig::Sqlite {
                dir: home.join(".local/share/sentinel")
            }
        );
        assert_eq!(c.log, home.join(".local/state/sentinel/decisions.jsonl"));
        assert_eq!(c.notify, NotifyConfig::default());
        assert_eq!(c.config_file, None);
    }

    #[test]
    fn xdg_dirs_win_over_home_and_relative_ones_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("cfg");
        let c = Config::resolve(
            &Flags::default(),
            &env_in(
                tmp.path(),
                &[
                    ("XDG_CONFIG_HOME", cfg.to_str().unwrap()),
                    ("XDG_DATA_HOME", "relative/data"),
                ],
            ),
        )
        .unwrap();
        assert_eq!(
            c.policy,
            PolicySource::File {
                path: cfg.join("sentinel/policy.yaml")
            }
        );
        assert_eq!(
            c.state,
            StateConfig::Sqlite {
                dir: tmp.path().join("home/.local/share/sentinel")
            }
        );
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("cfg");
        std::fs::create_dir_all(cfg.join("sentinel")).unwrap();
        std::fs::write(
            cfg.join("sentinel/sentinel.toml"),
            "policy = \"/file/policy.yaml\"\nstate = \"dynamodb\"\nsession_table = \"file-sessions\"\nlog = \"/file/log\"\n",
        )
        .unwrap();
        let cfg_s = cfg.to_str().unwrap();
        let base = [("XDG_CONFIG_HOME", cfg_s)];
        let c = Config::resolve(&Flags::default(), &env_in(tmp.path(), &base)).unwrap();
        assert_eq!(
            c.policy,
            PolicySource::File {
                path: "/file/policy.yaml".into()
            }
        );
        assert_eq!(
            c.state,
            StateConfig::Dynamodb {
                request_table: DEFAULT_REQUEST_TABLE.into(),
                breakglass_table: DEFAULT_BREAKGLASS_TABLE.into(),
                session_table: "file-sessions".into(),
            }
        );
        assert_eq!(c.log, PathBuf::from("/file/log"));

        let env = env_in(
            tmp.path(),
            &[
                ("XDG_CONFIG_HOME", cfg_s),
                ("SENTINEL_POLICY", "ssm:/env/policies"),
                ("SENTINEL_SESSION_TABLE", "env-sessions"),
                ("SENTINEL_STATE", "sqlite:/env/state"),
                ("SENTINEL_LOG", ""),
            ],
        );
        let c = Config::resolve(&Flags::default(), &env).unwrap();
        assert_eq!(
            c.policy,
            PolicySource::Ssm {
                root: "/env/policies".into()
            }
        );
        assert_eq!(
            c.state,
            StateConfig::Sqlite {
                dir: "/env/state".into()
            }
        );
        // An empty variable counts as unset.
        assert_eq!(c.log, PathBuf::from("/file/log"));

        let flags = Flags {
            policy: Some("/flag/policy.yaml".into()),
            state: Some("dynamodb".into()),
            log: Some("/flag/log".into()),
        };
        let c = Config::resolve(&flags, &env).unwrap();
        assert_eq!(
            c.policy,
            PolicySource::File {
                path: "/flag/policy.yaml".into()
            }
        );
        assert_eq!(
            c.state,
            StateConfig::Dynamodb {
                request_table: DEFAULT_REQUEST_TABLE.into(),
                breakglass_table: DEFAULT_BREAKGLASS_TABLE.into(),
                session_table: "env-sessions".into(),
            }
        );
        assert_eq!(c.log, PathBuf::from("/flag/log"));
    }

    #[test]
    fn unknown_keys_and_values_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("cfg");
        std::fs::create_dir_all(cfg.join("sentinel")).unwrap();
        std::fs::write(
            cfg.join("sentinel/sentinel.toml"),
            "policy = \"x\"\npolcy = \"y\"\n",
        )
        .unwrap();
        let env = env_in(tmp.path(), &[("XDG_CONFIG_HOME", cfg.to_str().unwrap())]);
        let e = Config::resolve(&Flags::default(), &env).unwrap_err();
        let msg = format!("{e:?}");
        assert!(msg.contains("polcy"), "{msg}");
        assert!(msg.contains("sentinel.toml:2:1"), "{msg}");

        let flags = |state: &str| Flags {
            state: Some(state.into()),
            ..Flags::default()
        };
        let env = env_in(tmp.path(), &[]);
        assert!(Config::resolve(&flags("postgres"), &env).is_err());
        assert!(Config::resolve(&flags("sqlite:"), &env).is_err());
        let bad_ssm = Flags {
            policy: Some("ssm:relative".into()),
            ..Flags::default()
        };
        assert!(Config::resolve(&bad_ssm, &env).is_err());
        let secret_only = env_in(tmp.path(), &[("SENTINEL_WEBHOOK_SECRET", "s")]);
        assert!(Config::resolve(&Flags::default(), &secret_only).is_err());
    }

    #[test]
    fn debug_hides_the_webhook_secret_and_url_tokens() {
        let tmp = tempfile::tempdir().unwrap();
        let env = env_in(
            tmp.path(),
            &[
                (
                    "SENTINEL_WEBHOOK_URL",
                    "https://hooks.example.com/services/T0/B0/TOKEN123?k=QKEY",
                ),
                ("SENTINEL_WEBHOOK_SECRET", "s3cret-value"),
            ],
        );
        let c = Config::resolve(&Flags::default(), &env).unwrap();
        let dbg = format!("{c:?} {:?}", c.notify);
        for secret in ["s3cret-value", "TOKEN123", "QKEY"] {
            assert!(!dbg.contains(secret), "{secret} in {dbg}");
        }
        assert!(dbg.contains("https://hooks.example.com/…"), "{dbg}");
        // The real values are still there for the notifier.
        assert_eq!(c.notify.webhook_secret.as_deref(), Some("s3cret-value"));
    }

    #[test]
    fn durations_parse_as_seconds_or_units() {
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        for bad in ["0", "-1", "0s", "soon", "", "2d", "NaN"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn no_home_is_an_error_only_when_a_directory_is_needed() {
        let tmp = tempfile::tempdir().unwrap();
        let d = |s: &str| tmp.path().join(s).to_str().unwrap().to_owned();
        let env = Env::of(&[
            ("XDG_CONFIG_HOME", &d("c")),
            ("XDG_DATA_HOME", &d("d")),
            ("XDG_STATE_HOME", &d("s")),
        ]);
        assert!(Config::resolve(&Flags::default(), &env).is_ok());
        assert!(Config::resolve(&Flags::default(), &Env::default()).is_err());
    }
}
