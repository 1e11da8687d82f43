//! Profiles from the AWS shared config files (issue 4, "Profiles").
//!
//! A Sentinel profile is an ordinary AWS profile whose `role_arn` is the role
//! Sentinel assumes on the caller's behalf:
//!
//! ```ini
//! [profile prod]
//! role_arn = arn:aws:iam::123456789012:role/Prod
//! source_profile = base
//! region = eu-west-1
//! duration_seconds = 3600
//! ```
//!
//! The files are the ones the AWS CLI reads: the config file
//! (`AWS_CONFIG_FILE`, default `~/.aws/config`) and the credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`). They are
//! parsed with aws-config's own profile parser, so the syntax rules are
//! exactly the SDK's. [`ProfileLoader`] takes explicit paths (tests, other
//! frontends); [`ProfileLoader::from_env`] resolves them like the CLI.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use aws_config::profile::{Profile, ProfileSet};
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_types::os_shim_internal::{Env, Fs};

/// Shortest `duration_seconds` AWS accepts for a role session.
pub const MIN_DURATION_SECONDS: u32 = 900;
/// Longest `duration_seconds` AWS accepts for a role session.
pub const MAX_DURATION_SECONDS: u32 = 43_200;

/// Longest value quoted back in an error message.
const MAX_QUOTED: usize = 200;
/// Longest accepted profile name.
const MAX_PROFILE_NAME_LEN: usize = 256;
/// Largest config or credentials file read.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What went wrong while loading a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Neither the override variable nor a home directory is available.
    #[error(
        "cannot locate the AWS {file} file: {var} is not set and there is no home directory (HOME); set {var} to the file's path"
    )]
    NoHomeDir {
        /// `config` or `credentials`.
        file: &'static str,
        /// The variable that would name it.
        var: &'static str,
    },
    /// Neither the config file nor the credentials file exists.
    #[error(
        "AWS config file {} does not exist (nor does {}); create it with `aws configure` or point AWS_CONFIG_FILE at it",
        path.display(), credentials.display()
    )]
    ConfigFileMissing {
        /// The config file path.
        path: PathBuf,
        /// The credentials file path.
        credentials: PathBuf,
    },
    /// A file exists but could not be read.
    #[error("could not read AWS {file} file {}: {source}; check that it is a readable file", path.display())]
    Read {
        /// `config` or `credentials`.
        file: &'static str,
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file is not valid UTF-8 or is too large.
    #[error("AWS {file} file {} {reason}; fix or replace the file", path.display())]
    BadFile {
        /// `config` or `credentials`.
        file: &'static str,
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// A file does not parse as an AWS profile file.
    #[error("AWS {file} file {} is malformed: {message}; fix the line it points to", path.display())]
    Parse {
        /// `config` or `credentials`.
        file: &'static str,
        /// Its path.
        path: PathBuf,
        /// The parser's message (with the line number).
        message: String,
    },
    /// The requested profile name is empty or unusable.
    #[error(
        "{name:?} is not a usable profile name; pass the name of a profile in the AWS config file"
    )]
    InvalidName {
        /// The name (cut to a printable length).
        name: String,
    },
    /// The requested profile is not in either file.
    #[error(
        "profile {profile:?} not found in {files}; available profiles: {available}; pass one of them or add [profile {profile}] to the config file"
    )]
    ProfileNotFound {
        /// The requested profile.
        profile: String,
        /// The files searched, e.g. `/home/a/.aws/config and /home/a/.aws/credentials`.
        files: String,
        /// The profiles that exist, comma separated, or `none`.
        available: String,
    },
    /// The profile has no `role_arn`, so Sentinel cannot vend for it.
    #[error(
        "profile {profile:?} has no role_arn, so Sentinel cannot stamp SourceIdentity on its sessions; point role_arn at the role and source_profile at your base credentials"
    )]
    NoRoleArn {
        /// The profile.
        profile: String,
    },
    /// `role_arn` is not an IAM role ARN.
    #[error(
        "profile {profile:?} has role_arn {value:?}, which is not an IAM role ARN ({reason}); use the form arn:aws:iam::123456789012:role/NAME"
    )]
    InvalidRoleArn {
        /// The profile.
        profile: String,
        /// The value (cut to a printable length).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `duration_seconds` is not a number in range.
    #[error(
        "profile {profile:?} has duration_seconds {value:?}; use a whole number of seconds from 900 (15 minutes) to 43200 (12 hours)"
    )]
    InvalidDuration {
        /// The profile.
        profile: String,
        /// The value (cut to a printable length).
        value: String,
    },
    /// Another setting has a value AWS would refuse. The value itself is
    /// not repeated (it may be secret, e.g. `external_id`).
    #[error("profile {profile:?} has an invalid {key}: {reason}; fix it in the config file")]
    InvalidValue {
        /// The profile.
        profile: String,
        /// The setting.
        key: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Result of this module's operations.
pub type Result<T, E = ProfileError> = std::result::Result<T, E>;

fn quoted(s: &str) -> String {
    s.chars().take(MAX_QUOTED).collect()
}

/// An AWS profile as Sentinel uses it.
///
/// Every present value has been validated; `external_id` is redacted in
/// `Debug` output.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsProfile {
    /// The profile name (`prod` for `[profile prod]`).
    pub name: String,
    /// The role Sentinel assumes (`role_arn`).
    pub role_arn: Option<String>,
    /// The profile holding the base credentials (`source_profile`).
    pub source_profile: Option<String>,
    /// The region (`region`).
    pub region: Option<String>,
    /// The external id passed to AssumeRole (`external_id`). Secret-ish:
    /// never logged, redacted in `Debug`.
    pub external_id: Option<String>,
    /// The requested session length (`duration_seconds`, 900–43200).
    pub duration_seconds: Option<u32>,
    /// The MFA device (`mfa_serial`).
    pub mfa_serial: Option<String>,
    /// Whether the profile gets its credentials from IAM Identity Center
    /// (`sso_session` or `sso_start_url` present).
    pub sso: bool,
    /// The external credential command (`credential_process`).
    pub credential_process: Option<String>,
}

impl fmt::Debug for AwsProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsProfile")
            .field("name", &self.name)
            .field("role_arn", &self.role_arn)
            .field("source_profile", &self.source_profile)
            .field("region", &self.region)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .field("duration_seconds", &self.duration_seconds)
            .field("mfa_serial", &self.mfa_serial)
            .field("sso", &self.sso)
            .field("credential_process", &self.credential_process)
            .finish()
    }
}

impl AwsProfile {
    /// An empty profile called `name` (everything unset), for building
    /// profiles in code and tests.
    pub fn new(name: impl Into<String>) -> Self {
        AwsProfile {
            name: name.into(),
            role_arn: None,
            source_profile: None,
            region: None,
            external_id: None,
            duration_seconds: None,
            mfa_serial: None,
            sso: false,
            credential_process: None,
        }
    }

    /// The role ARN Sentinel assumes, or an explanation of why a profile
    /// without one cannot be used.
    pub fn require_role(&self) -> Result<&str> {
        self.role_arn
            .as_deref()
            .ok_or_else(|| ProfileError::NoRoleArn {
                profile: quoted(&self.name),
            })
    }

    /// Builds an [`AwsProfile`] from a parsed profile, validating values.
    fn from_parsed(p: &Profile) -> Result<Self> {
        let name = p.name().to_owned();
        let get = |k: &str| p.get(k).map(str::trim).filter(|v| !v.is_empty());
        let owned = |k: &str| get(k).map(str::to_owned);

        let role_arn = owned("role_arn");
        if let Some(arn) = &role_arn {
            check_role_arn(arn).map_err(|reason| ProfileError::InvalidRoleArn {
                profile: quoted(&name),
                value: quoted(arn),
                reason,
            })?;
        }
        let duration_seconds = match get("duration_seconds") {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(d) if (MIN_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&d) => Some(d),
                _ => {
                    return Err(ProfileError::InvalidDuration {
                        profile: quoted(&name),
                        value: quoted(v),
                    });
                }
            },
        };
        let external_id = owned("external_id");
        check_value(
            &name,
            "external_id",
            external_id.as_deref(),
            |e| {
                (2..=1224).contains(&e.len())
                    && e.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b))
            },
            "AWS accepts 2-1224 characters of letters, digits and +=,.@:/-_",
        )?;
        let region = owned("region");
        check_value(
            &name,
            "region",
            region.as_deref(),
            |r| {
                (1..=64).contains(&r.len())
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            },
            "a region is lowercase letters, digits and dashes, e.g. eu-west-1",
        )?;
        let mfa_serial = owned("mfa_serial");
        check_value(
            &name,
            "mfa_serial",
            mfa_serial.as_deref(),
            |m| {
                (9..=256).contains(&m.len())
                    && m.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+=/:,.@-_".contains(&b))
            },
            "use the MFA device's ARN or serial number (9-256 characters)",
        )?;
        Ok(AwsProfile {
            role_arn,
            source_profile: owned("source_profile"),
            region,
            external_id,
            duration_seconds,
            mfa_serial,
            sso: get("sso_session").is_some() || get("sso_start_url").is_some(),
            credential_process: owned("credential_process"),
            name,
        })
    }
}

/// Fails with [`ProfileError::InvalidValue`] when `value` is present and
/// not `ok`.
fn check_value(
    profile: &str,
    key: &'static str,
    value: Option<&str>,
    ok: impl Fn(&str) -> bool,
    reason: &'static str,
) -> Result<()> {
    match value {
        Some(v) if !ok(v) => Err(ProfileError::InvalidValue {
            profile: quoted(profile),
            key,
            reason,
        }),
        _ => Ok(()),
    }
}

/// Checks the shape of an IAM role ARN:
/// `arn:{aws|aws-cn|aws-us-gov}:iam::<12 digits>:role/[path/]NAME` with a
/// role name of 1–64 characters of letters, digits and `_+=,.@-`.
pub fn check_role_arn(arn: &str) -> std::result::Result<(), &'static str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err("it does not have the six parts arn:PARTITION:iam::ACCOUNT:role/NAME");
    };
    if prefix != "arn" {
        return Err("it does not start with arn:");
    }
    if !["aws", "aws-cn", "aws-us-gov"].contains(&partition) {
        return Err("the partition is not aws, aws-cn or aws-us-gov");
    }
    if service != "iam" {
        return Err("it is not an iam ARN");
    }
    if !region.is_empty() {
        return Err("IAM ARNs have no region");
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the account id is not 12 digits");
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err("it does not name a role (role/NAME)");
    };
    let mut segs: Vec<&str> = path_and_name.split('/').collect();
    let name = segs.pop().unwrap_or_default();
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
    {
        return Err("the role name is not 1-64 characters of letters, digits and _+=,.@-");
    }
    if segs
        .iter()
        .any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err("the role's path is malformed");
    }
    Ok(())
}

/// Where the AWS config and credentials files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileLoader {
    config_file: PathBuf,
    credentials_file: PathBuf,
}

impl ProfileLoader {
    /// A loader reading exactly these two files. Either may be missing, but
    /// not both.
    pub fn new(config_file: impl Into<PathBuf>, credentials_file: impl Into<PathBuf>) -> Self {
        ProfileLoader {
            config_file: config_file.into(),
            credentials_file: credentials_file.into(),
        }
    }

    /// Resolves the files like the AWS CLI from the process environment:
    /// `AWS_CONFIG_FILE` (default `~/.aws/config`) and
    /// `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`), with a
    /// leading `~/` expanded to `HOME` (or `USERPROFILE`).
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Like [`ProfileLoader::from_env`], reading variables through `var`
    /// (so callers and tests need not touch the process environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let home = var("HOME")
            .filter(|h| !h.is_empty())
            .or_else(|| var("USERPROFILE").filter(|h| !h.is_empty()));
        let resolve = |file: &'static str, env_var: &'static str, default: &str| {
            let raw = var(env_var)
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| default.to_owned());
            match raw.strip_prefix("~/").or_else(|| raw.strip_prefix("~\\")) {
                None if raw != "~" => Ok(PathBuf::from(raw)),
                rest => match &home {
                    Some(h) => Ok(Path::new(h).join(rest.unwrap_or_default())),
                    None => Err(ProfileError::NoHomeDir { file, var: env_var }),
                },
            }
        };
        Ok(ProfileLoader {
            config_file: resolve("config", "AWS_CONFIG_FILE", "~/.aws/config")?,
            credentials_file: resolve(
                "credentials",
                "AWS_SHARED_CREDENTIALS_FILE",
                "~/.aws/credentials",
            )?,
        })
    }

    /// The config file path.
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    /// The credentials file path.
    pub fn credentials_file(&self) -> &Path {
        &self.credentials_file
    }

    /// Loads and validates profile `name`.
    ///
    /// Errors name the files read; a missing profile lists the available
    /// ones. A profile without `role_arn` loads fine (it may be a base
    /// profile); use [`AwsProfile::require_role`] where a role is needed.
    pub async fn load(&self, name: &str) -> Result<AwsProfile> {
        if name.is_empty()
            || name.len() > MAX_PROFILE_NAME_LEN
            || name.trim() != name
            || name.chars().any(char::is_control)
        {
            return Err(ProfileError::InvalidName { name: quoted(name) });
        }
        let set = self.parse().await?;
        match set.get_profile(name) {
            Some(p) => AwsProfile::from_parsed(p),
            None => Err(ProfileError::ProfileNotFound {
                profile: quoted(name),
                files: format!(
                    "{} and {}",
                    self.config_file.display(),
                    self.credentials_file.display()
                ),
                available: list_or_none(&names(&set)),
            }),
        }
    }

    /// The names of all profiles in both files, sorted.
    pub async fn profile_names(&self) -> Result<Vec<String>> {
        Ok(names(&self.parse().await?))
    }

    /// An AWS config file for a program that must take its credentials
    /// from elsewhere (a container credentials endpoint, environment
    /// variables): one `[default]` profile with only the non-credential
    /// settings ([`CLIENT_SETTINGS`]: region, output, retries, endpoints,
    /// ...) of the profiles `names`, a later profile's value replacing an
    /// earlier one's, and the `[services NAME]` section its `services`
    /// setting names. Keys, `credential_process`, `role_arn`,
    /// `source_profile`, SSO and web identity settings are left out, so no
    /// SDK finds credentials in it. A name without a profile adds nothing.
    pub async fn client_config(&self, names: &[&str]) -> Result<String> {
        let set = self.parse().await?;
        let mut settings: Vec<(&str, &str)> = Vec::new();
        for profile in names.iter().filter_map(|n| set.get_profile(n)) {
            for key in CLIENT_SETTINGS {
                if let Some(value) = profile.get(key) {
                    settings.retain(|(k, _)| k != key);
                    settings.push((key, value));
                }
            }
        }
        let mut out = String::from(
            "# Written by Sentinel for a child process: non-credential settings only.\n[default]\n",
        );
        for (key, value) in &settings {
            let mut lines = value.trim_start_matches('\n').lines();
            if value.starts_with('\n') {
                // A nested setting (`s3 =` and indented sub-settings).
                out.push_str(&format!("{key} =\n"));
            } else {
                out.push_str(&format!("{key} = {}\n", lines.next().unwrap_or_default()));
            }
            for line in lines {
                out.push_str(&format!("  {}\n", line.trim()));
            }
        }
        let services = settings
            .iter()
            .find(|(k, _)| *k == "services")
            .map(|(_, v)| v.trim());
        if let Some(name) = services
            && let Some(text) = read_optional("config", &self.config_file).await?
        {
            out.push_str(&services_section(&text, name));
        }
        Ok(out)
    }

    async fn parse(&self) -> Result<ProfileSet> {
        let config = read_optional("config", &self.config_file).await?;
        let credentials = read_optional("credentials", &self.credentials_file).await?;
        if config.is_none() && credentials.is_none() {
            return Err(ProfileError::ConfigFileMissing {
                path: self.config_file.clone(),
                credentials: self.credentials_file.clone(),
            });
        }
        let config = config.unwrap_or_default();
        let credentials = credentials.unwrap_or_default();
        // Parse each file alone first so a syntax error names its file.
        parse_contents(Some(&config), None)
            .await
            .map_err(|message| ProfileError::Parse {
                file: "config",
                path: self.config_file.clone(),
                message,
            })?;
        parse_contents(None, Some(&credentials))
            .await
            .map_err(|message| ProfileError::Parse {
                file: "credentials",
                path: self.credentials_file.clone(),
                message,
            })?;
        parse_contents(Some(&config), Some(&credentials))
            .await
            .map_err(|message| ProfileError::Parse {
                file: "config",
                path: self.config_file.clone(),
                message,
            })
    }
}

/// The profile settings [`ProfileLoader::client_config`] keeps: how a
/// client talks to AWS, never where its credentials come from.
pub const CLIENT_SETTINGS: &[&str] = &[
    "region",
    "output",
    "retry_mode",
    "max_attempts",
    "ca_bundle",
    "endpoint_url",
    "ignore_configured_endpoint_urls",
    "services",
    "use_fips_endpoint",
    "use_dualstack_endpoint",
    "sts_regional_endpoints",
    "s3",
    "api_versions",
    "defaults_mode",
    "parameter_validation",
    "tcp_keepalive",
    "endpoint_discovery_enabled",
    "request_checksum_calculation",
    "response_checksum_validation",
    "request_min_compression_size_bytes",
    "disable_request_compression",
    "sigv4a_signing_region_set",
    "auth_scheme_preference",
    "sdk_ua_app_id",
    "cli_pager",
    "cli_timestamp_format",
    "cli_binary_format",
    "cli_auto_prompt",
    "cli_history",
    "cli_follow_urlparam",
];

/// Variables that select credentials other than a credential endpoint's
/// (keys, profiles, web identity, another endpoint): a process served by an
/// endpoint must not inherit them.
pub const CREDENTIAL_VARS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ACCOUNT_ID",
];

/// Why [`ProfileLoader::served_files`] wrote no files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServedFilesError {
    /// The profiles could not be read.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A file or the directory could not be written.
    #[error("cannot write the AWS {what} of the served process: {source}")]
    Write {
        /// `config directory`, `config file` or `credentials file`.
        what: &'static str,
        /// What the operating system said.
        source: io::Error,
    },
}

/// The AWS config and credentials files of a process that gets its
/// credentials from a container credentials endpoint
/// ([`ProfileLoader::served_files`]).
///
/// SDKs look for credentials in the environment, the credentials file and
/// the config file (keys, `credential_process`, SSO, web identity) before
/// they ask the container endpoint, so a process left with the user's
/// files would run on those base credentials instead of the served role.
/// It gets instead a config file with only the non-credential settings
/// (region, output, retries, endpoints, ...) of the profile it would have
/// used (`AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`)
/// overlaid with those of the served profile, and an empty credentials
/// file; both 0600 in a private (0700) temporary directory, removed by
/// [`remove`](Self::remove) or when dropped.
#[derive(Debug)]
pub struct ServedFiles {
    dir: tempfile::TempDir,
}

impl ServedFiles {
    const CONFIG: &str = "config";
    const CREDENTIALS: &str = "credentials";

    /// Creates `name` in the directory, readable by the owner only.
    fn create(&self, name: &str, contents: &str) -> io::Result<()> {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(self.dir.path().join(name))?
            .write_all(contents.as_bytes())
    }

    /// The variables pointing the process at the files
    /// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`).
    pub fn vars(&self) -> [(&'static str, String); 2] {
        let path = |name| self.dir.path().join(name).to_string_lossy().into_owned();
        [
            ("AWS_CONFIG_FILE", path(Self::CONFIG)),
            ("AWS_SHARED_CREDENTIALS_FILE", path(Self::CREDENTIALS)),
        ]
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Removes the files and their directory.
    pub fn remove(self) -> io::Result<()> {
        self.dir.close()
    }
}

impl ProfileLoader {
    /// Writes the [`ServedFiles`] of a process served profile `served`.
    pub async fn served_files(&self, served: &str) -> Result<ServedFiles, ServedFilesError> {
        let selected = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|p| !p.trim().is_empty()))
            .unwrap_or_else(|| "default".to_owned());
        let config = self.client_config(&[selected.trim(), served]).await?;
        let failed = |what| move |source| ServedFilesError::Write { what, source };
        let mut builder = tempfile::Builder::new();
        builder.prefix("sentinel-served-");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let dir = builder.tempdir().map_err(failed("config directory"))?;
        let files = ServedFiles { dir };
        files
            .create(ServedFiles::CONFIG, &config)
            .map_err(failed("config file"))?;
        files
            .create(ServedFiles::CREDENTIALS, "")
            .map_err(failed("credentials file"))?;
        Ok(files)
    }
}

/// The `[services NAME]` section of the config file `text`, as written
/// (empty when there is none).
fn services_section(text: &str, name: &str) -> String {
    let header = |line: &str| {
        line.trim()
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let wanted = format!("services {name}");
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(h) = header(line) {
            inside = h == wanted;
            if inside {
                out.push_str(&format!("\n[{wanted}]\n"));
            }
        } else if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Loads profile `name` from the files named by the process environment
/// (see [`ProfileLoader::from_env`]).
pub async fn load_profile(name: &str) -> Result<AwsProfile> {
    ProfileLoader::from_env()?.load(name).await
}

fn names(set: &ProfileSet) -> Vec<String> {
    let mut v: Vec<String> = set.profiles().map(str::to_owned).collect();
    v.sort();
    v
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Reads a file; `None` if it does not exist.
async fn read_optional(file: &'static str, path: &Path) -> Result<Option<String>> {
    let read_err = |source| ProfileError::Read {
        file,
        path: path.to_owned(),
        source,
    };
    let meta = match tokio::fs::metadata(path).await {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(ProfileError::BadFile {
            file,
            path: path.to_owned(),
            reason: "is larger than 4 MiB",
        });
    }
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| ProfileError::BadFile {
            file,
            path: path.to_owned(),
            reason: "is not valid UTF-8",
        })
}

/// Parses file contents with aws-config's profile parser.
async fn parse_contents(
    config: Option<&str>,
    credentials: Option<&str>,
) -> std::result::Result<ProfileSet, String> {
    let mut b = EnvConfigFiles::builder();
    if let Some(c) = config {
        b = b.with_contents(EnvConfigFileKind::Config, c);
    }
    if let Some(c) = credentials {
        b = b.with_contents(EnvConfigFileKind::Credentials, c);
    }
    let files = b.build();
    aws_config::profile::load(
        &Fs::from_slice(&[]),
        &Env::from_slice(&[]),
        &files,
        Some(Cow::Borrowed("default")),
    )
    .await
    .map_err(|e| quoted(&e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/Prod",
            "arn:aws-cn:iam::123456789012:role/path/to/Prod",
            "arn:aws-us-gov:iam::123456789012:role/a+=,.@-_",
        ] {
            assert_eq!(check_role_arn(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Prod",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::12345678901:role/Prod",
            "arn:aws:iam:eu-west-1:123456789012:role/Prod",
            "arn:aws:sts::123456789012:role/Prod",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role//Prod",
            "arn:aws:iam::123456789012:role/Pr od",
            "arn:other:iam::123456789012:role/Prod",
        ] {
            assert!(check_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn from_vars_resolves_like_the_cli() {
        let l = ProfileLoader::from_vars(|k| (k == "HOME").then(|| "/h".to_owned())).unwrap();
        assert_eq!(l.config_file(), Path::new("/h/.aws/config"));
        assert_eq!(l.credentials_file(), Path::new("/h/.aws/credentials"));
        let l = ProfileLoader::from_vars(|k| match k {
            "HOME" => Some("/h".to_owned()),
            "AWS_CONFIG_FILE" => Some("~/cfg".to_owned()),
            "AWS_SHARED_CREDENTIALS_FILE" => Some("/abs/creds".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(l.config_file(), Path::new("/h/cfg"));
        assert_eq!(l.credentials_file(), Path::new("/abs/creds"));
        let l = ProfileLoader::from_vars(|k| match k {
            "AWS_CONFIG_FILE" => Some("/c".to_owned()),
            "AWS_SHARED_CREDENTIALS_FILE" => Some("/d".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(l.config_file(), Path::new("/c"));
        let e = ProfileLoader::from_vars(|_| None).unwrap_err();
        assert!(e.to_string().contains("AWS_CONFIG_FILE"), "{e}");
    }

    #[test]
    fn debug_redacts_external_id() {
        let mut p = AwsProfile::new("prod");
        p.external_id = Some("s3cr3t-ext".to_owned());
        let d = format!("{p:?}");
        assert!(!d.contains("s3cr3t"), "{d}");
        assert!(d.contains("<redacted>"), "{d}");
    }
}
