//! Who the caller is, in policy terms: an AWS principal ARN from a trusted
//! source (STS `GetCallerIdentity`, an API Gateway IAM authorizer) turned
//! into a [`Username`] by the policy's `identity` section.
//!
//! A name the caller picked is never an identity. So:
//!
//! | principal                                   | username                                          |
//! |---------------------------------------------|---------------------------------------------------|
//! | IAM user `…:user/[path/]Alice`              | its user name, lowercased: `alice`                 |
//! | session of a **trusted** role               | its session name, lowercased (IAM Identity Center sets it) |
//! | session of any other role                   | refused: whoever assumes a role picks the session name |
//! | federated user, account root                | refused                                           |
//! | any of these listed in `identity.principals`| the username mapped to it                         |
//! | a session Sentinel itself vended            | always refused                                    |
//!
//! Trusted roles default to `AWSReservedSSO_*`, the roles IAM Identity
//! Center creates; `identity.trusted_roles` replaces the list. An
//! `identity.accounts` list refuses principals of every other account.

use std::fmt;

use crate::document::IdentitySection;
use crate::username::{Username, UsernameError};

/// The role session names Sentinel gives the sessions it vends start with
/// this; such a session is never an identity.
pub const VENDED_SESSION_PREFIX: &str = "sentinel-";

/// Role name patterns trusted to name their sessions when a policy has no
/// `identity.trusted_roles`: the roles of IAM Identity Center.
pub const DEFAULT_TRUSTED_ROLES: &[&str] = &["AWSReservedSSO_*"];

/// Partitions Sentinel accepts.
const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// Longest value quoted back in an error message.
const MAX_QUOTED: usize = 200;

/// Longest name in an ARN (IAM user, role and session names are at most 64
/// characters).
const MAX_ARN_NAME_LEN: usize = 64;

fn quoted(s: &str) -> String {
    s.chars().take(MAX_QUOTED).collect()
}

/// The kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// An IAM user (`arn:aws:iam::ACCOUNT:user/[path/]NAME`).
    IamUser,
    /// A role session (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
    AssumedRole,
    /// A federated user (`arn:aws:sts::ACCOUNT:federated-user/NAME`).
    FederatedUser,
    /// The account root user (`arn:aws:iam::ACCOUNT:root`).
    Root,
}

impl PrincipalKind {
    /// A short lowercase name, as logged (`iam_user`, `assumed_role`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::IamUser => "iam_user",
            PrincipalKind::AssumedRole => "assumed_role",
            PrincipalKind::FederatedUser => "federated_user",
            PrincipalKind::Root => "root",
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a principal ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrincipalError {
    /// The ARN is not a well-formed IAM/STS principal ARN.
    #[error(
        "caller ARN {arn:?} is malformed: {reason}; expected e.g. arn:aws:iam::123456789012:user/alice"
    )]
    Invalid {
        /// The offending ARN (cut to a printable length).
        arn: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The ARN is well formed but names something that cannot call (a
    /// role, a group, another service's resource …).
    #[error(
        "caller ARN {arn:?} names {what}, which cannot call Sentinel; call it with the credentials of an IAM user or a role session"
    )]
    Unsupported {
        /// The offending ARN (cut to a printable length).
        arn: String,
        /// What the ARN names, e.g. `an IAM role`.
        what: String,
    },
}

/// A caller: an IAM user, a role session, a federated user or an account
/// root, parsed from its ARN.
///
/// ```
/// use sentinel_policy::{Principal, PrincipalKind};
/// let p = Principal::parse("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_0123/Alice@example.com")?;
/// assert_eq!(p.kind(), PrincipalKind::AssumedRole);
/// assert_eq!(p.account(), "123456789012");
/// assert_eq!(p.role(), Some("AWSReservedSSO_Dev_0123"));
/// assert_eq!(p.name(), "Alice@example.com");
/// # Ok::<(), sentinel_policy::PrincipalError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    arn: String,
    partition: String,
    account: String,
    kind: PrincipalKind,
    role: Option<String>,
    name: String,
}

/// Characters AWS allows in IAM user, role and role session names.
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn check_name(arn: &str, what: &str, name: &str) -> Result<(), PrincipalError> {
    let reason = if name.is_empty() {
        format!("the {what} is empty")
    } else if name.chars().count() > MAX_ARN_NAME_LEN {
        format!("the {what} is longer than {MAX_ARN_NAME_LEN} characters")
    } else if !name.chars().all(is_iam_name_char) {
        format!("the {what} may only contain ASCII letters, digits and _+=,.@-")
    } else {
        return Ok(());
    };
    Err(invalid(arn, reason))
}

fn invalid(arn: &str, reason: impl Into<String>) -> PrincipalError {
    PrincipalError::Invalid {
        arn: quoted(arn),
        reason: reason.into(),
    }
}

fn unsupported(arn: &str, what: impl Into<String>) -> PrincipalError {
    PrincipalError::Unsupported {
        arn: quoted(arn),
        what: what.into(),
    }
}

/// The parts of an IAM or STS ARN: partition, service, account and the
/// resource split at `/`.
fn split_arn(arn: &str) -> Result<(&str, &str, &str, Vec<&str>), PrincipalError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(invalid(
            arn,
            "it does not have the six parts arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
        ));
    };
    if prefix != "arn" {
        return Err(invalid(arn, "it does not start with \"arn:\""));
    }
    if !PARTITIONS.contains(&partition) {
        return Err(invalid(
            arn,
            format!(
                "partition {:?} is not one of aws, aws-cn, aws-us-gov",
                quoted(partition)
            ),
        ));
    }
    if service != "iam" && service != "sts" {
        return Err(unsupported(
            arn,
            format!("a resource of service {:?}", quoted(service)),
        ));
    }
    if !region.is_empty() {
        return Err(invalid(arn, "IAM and STS principal ARNs have no region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(arn, "the account id is not 12 digits"));
    }
    Ok((partition, service, account, resource.split('/').collect()))
}

fn check_path(arn: &str, path: &[&str]) -> Result<(), PrincipalError> {
    if path
        .iter()
        .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_graphic()))
    {
        return Err(invalid(arn, "the path is malformed"));
    }
    Ok(())
}

impl Principal {
    /// Parses a caller ARN. Accepted, in the partitions `aws`, `aws-cn`
    /// and `aws-us-gov`:
    ///
    /// | ARN resource                             | [`PrincipalKind`]  | [`name`](Self::name) |
    /// |------------------------------------------|--------------------|----------------------|
    /// | `iam::ACCOUNT:user/[path/]NAME`          | `IamUser`          | `NAME`               |
    /// | `sts::ACCOUNT:assumed-role/ROLE/SESSION` | `AssumedRole`      | `SESSION`            |
    /// | `sts::ACCOUNT:federated-user/NAME`       | `FederatedUser`    | `NAME`               |
    /// | `iam::ACCOUNT:root`                      | `Root`             | `root`               |
    ///
    /// Anything else (a role or group ARN, another service, a region where
    /// IAM/STS ARNs have none, an account id that is not 12 digits, names
    /// with characters AWS does not allow) is an error.
    pub fn parse(arn: &str) -> Result<Self, PrincipalError> {
        let (partition, service, account, segments) = split_arn(arn)?;
        let (kind, role, name) = match (service, segments.as_slice()) {
            ("iam", ["root"]) => (PrincipalKind::Root, None, "root"),
            ("iam", ["user", path @ .., name]) => {
                check_name(arn, "user name", name)?;
                check_path(arn, path)?;
                (PrincipalKind::IamUser, None, *name)
            }
            ("sts", ["assumed-role", role, session]) => {
                check_name(arn, "role name", role)?;
                check_name(arn, "role session name", session)?;
                (PrincipalKind::AssumedRole, Some(*role), *session)
            }
            ("sts", ["federated-user", name]) => {
                check_name(arn, "federated user name", name)?;
                (PrincipalKind::FederatedUser, None, *name)
            }
            ("iam", ["role", ..]) => {
                return Err(unsupported(
                    arn,
                    "an IAM role (a role is assumed, it does not call; use the assumed-role session's ARN)",
                ));
            }
            ("iam", ["group", ..]) => return Err(unsupported(arn, "an IAM group")),
            (_, [kind, ..]) if !kind.is_empty() => {
                return Err(unsupported(
                    arn,
                    format!("an {service} resource of type {:?}", quoted(kind)),
                ));
            }
            _ => return Err(invalid(arn, "the resource is empty or malformed")),
        };
        Ok(Principal {
            arn: arn.to_owned(),
            partition: partition.to_owned(),
            account: account.to_owned(),
            kind,
            role: role.map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// The ARN as given.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The 12-digit account id.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// What kind of principal this is.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// For a role session, the role's name.
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// The IAM user name, role session name, federated user name, or
    /// `root`, as AWS reports it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is a role session Sentinel vended (its session name
    /// starts with [`VENDED_SESSION_PREFIX`]).
    pub fn is_vended_session(&self) -> bool {
        self.kind == PrincipalKind::AssumedRole
            && self
                .name
                .get(..VENDED_SESSION_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(VENDED_SESSION_PREFIX))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// What a principal key of `identity.principals` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalKey {
    /// One principal exactly (user, session, federated user, root).
    Exact {
        partition: String,
        account: String,
        kind: PrincipalKind,
        role: Option<String>,
        name: String,
    },
    /// Every session of a role.
    Role {
        partition: String,
        account: String,
        role: String,
    },
}

impl PrincipalKey {
    /// Parses a key of `identity.principals`: a caller ARN, or an IAM role
    /// ARN (`arn:aws:iam::ACCOUNT:role/[path/]NAME`) for every session of
    /// the role.
    pub(crate) fn parse(key: &str) -> Result<Self, PrincipalError> {
        if let Ok((partition, "iam", account, segments)) = split_arn(key)
            && let ["role", path @ .., role] = segments.as_slice()
        {
            check_name(key, "role name", role)?;
            check_path(key, path)?;
            return Ok(PrincipalKey::Role {
                partition: partition.to_owned(),
                account: account.to_owned(),
                role: (*role).to_owned(),
            });
        }
        let p = Principal::parse(key)?;
        Ok(PrincipalKey::Exact {
            partition: p.partition,
            account: p.account,
            kind: p.kind,
            role: p.role,
            name: p.name,
        })
    }

    fn matches(&self, p: &Principal) -> bool {
        match self {
            PrincipalKey::Exact {
                partition,
                account,
                kind,
                role,
                name,
            } => {
                *partition == p.partition
                    && *account == p.account
                    && *kind == p.kind
                    && match (role, &p.role) {
                        (None, None) => true,
                        // Role names are unique without regard to case.
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        _ => false,
                    }
                    && match kind {
                        // IAM user names are unique without regard to case;
                        // session names are compared exactly.
                        PrincipalKind::IamUser => name.eq_ignore_ascii_case(&p.name),
                        _ => *name == p.name,
                    }
            }
            PrincipalKey::Role {
                partition,
                account,
                role,
            } => {
                p.kind == PrincipalKind::AssumedRole
                    && *partition == p.partition
                    && *account == p.account
                    && p.role
                        .as_deref()
                        .is_some_and(|r| r.eq_ignore_ascii_case(role))
            }
        }
    }
}

/// A pattern of `identity.trusted_roles`: a role name with `*` wildcards,
/// or a role ARN (with `*` in the name) that also fixes partition and
/// account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RolePattern {
    partition: Option<String>,
    account: Option<String>,
    name: String,
}

impl RolePattern {
    /// Parses a pattern; `Err` says what is wrong.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let check = |name: &str| -> Result<(), String> {
            if name.is_empty() || name.len() > MAX_ARN_NAME_LEN {
                return Err("a role name has 1 to 64 characters".into());
            }
            if !name.chars().all(|c| c == '*' || is_iam_name_char(c)) {
                return Err(
                    "a role name holds letters, digits and _+=,.@- (and * as a wildcard)".into(),
                );
            }
            if name.chars().all(|c| c == '*') {
                return Err(
                    "a pattern of only `*` would trust every role, so any caller could pick their name"
                        .into(),
                );
            }
            Ok(())
        };
        if s.starts_with("arn:") {
            let (partition, service, account, segments) =
                split_arn(s).map_err(|e| e.to_string())?;
            match (service, segments.as_slice()) {
                ("iam", ["role", .., name]) => {
                    check(name)?;
                    Ok(RolePattern {
                        partition: Some(partition.to_owned()),
                        account: Some(account.to_owned()),
                        name: (*name).to_owned(),
                    })
                }
                _ => Err("an ARN here must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/AWSReservedSSO_*".into()),
            }
        } else {
            check(s)?;
            Ok(RolePattern {
                partition: None,
                account: None,
                name: s.to_owned(),
            })
        }
    }

    fn matches(&self, p: &Principal) -> bool {
        let Some(role) = p.role.as_deref() else {
            return false;
        };
        self.partition.as_deref().is_none_or(|x| x == p.partition)
            && self.account.as_deref().is_none_or(|x| x == p.account)
            && glob(&self.name, role)
    }
}

/// `*` matches any run of characters; everything else matches itself
/// without regard to ASCII case (IAM role names are unique that way).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if c.eq_ignore_ascii_case(&t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// How a principal got its username.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentifiedBy {
    /// An IAM user, by its user name.
    IamUser,
    /// A session of a trusted role, by its session name; the pattern of
    /// `identity.trusted_roles` (or the default) that trusts the role.
    TrustedRole(String),
    /// An entry of `identity.principals` (its key).
    Mapping(String),
}

/// A caller the policy knows by name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The username.
    pub username: Username,
    /// How it was found.
    pub by: IdentifiedBy,
}

/// Why a principal has no username under a policy. Each message says what
/// the caller or the policy's author can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A session Sentinel vended: its holder is already identified by the
    /// session's SourceIdentity, and may not act as someone else.
    #[error(
        "{arn} is a session Sentinel issued; credentials from Sentinel cannot call Sentinel, use your own base credentials"
    )]
    VendedSession {
        /// The caller's ARN.
        arn: String,
    },
    /// The principal's account is not in `identity.accounts`.
    #[error(
        "{arn} belongs to account {account}, which the policy's identity.accounts does not list"
    )]
    ForeignAccount {
        /// The caller's ARN.
        arn: String,
        /// Its account.
        account: String,
    },
    /// A session of a role that is not trusted to name its sessions.
    #[error(
        "{arn} is a session of role \"{role}\", whose session name is chosen by whoever assumes the role, so it names nobody; roles in identity.trusted_roles (now: {trusted}) name their sessions' users, and identity.principals can map this role or session to a user"
    )]
    UntrustedRole {
        /// The caller's ARN.
        arn: String,
        /// The role.
        role: String,
        /// The trusted role patterns in force.
        trusted: String,
    },
    /// A federated user (`GetFederationToken`): its name is chosen by the
    /// caller of `GetFederationToken`.
    #[error(
        "{arn} is a federated user, whose name is chosen by whoever federated it, so it names nobody; map it to a user in the policy's identity.principals"
    )]
    FederatedUser {
        /// The caller's ARN.
        arn: String,
    },
    /// The account root user.
    #[error(
        "{arn} is the account root user, which is nobody in particular; use an IAM user or IAM Identity Center, or map the root ARN to a user in the policy's identity.principals"
    )]
    Root {
        /// The caller's ARN.
        arn: String,
    },
    /// The name the principal would go by cannot be a username.
    #[error(
        "{arn} has no username: {source}; map it to a user in the policy's identity.principals"
    )]
    BadName {
        /// The caller's ARN.
        arn: String,
        /// Why the name cannot be a username.
        source: UsernameError,
    },
}

/// The compiled `identity` section of a policy.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompiledIdentity {
    accounts: Vec<String>,
    trusted: Vec<(String, RolePattern)>,
    principals: Vec<(String, PrincipalKey, Username)>,
}

impl CompiledIdentity {
    /// Compiles a validated section (entries that do not parse are left
    /// out; validation has refused such a document already).
    pub(crate) fn new(section: Option<&IdentitySection>) -> Self {
        let default_trusted = || {
            DEFAULT_TRUSTED_ROLES
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>()
        };
        let (accounts, trusted, principals) = match section {
            None => (Vec::new(), default_trusted(), Vec::new()),
            Some(s) => (
                s.accounts.clone(),
                s.trusted_roles.clone().unwrap_or_else(default_trusted),
                s.principals
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            k.clone(),
                            PrincipalKey::parse(k).ok()?,
                            Username::parse(v).ok()?,
                        ))
                    })
                    .collect(),
            ),
        };
        Self {
            accounts,
            trusted: trusted
                .into_iter()
                .filter_map(|t| RolePattern::parse(&t).ok().map(|p| (t, p)))
                .collect(),
            principals,
        }
    }

    pub(crate) fn identify(&self, p: &Principal) -> Result<Identity, IdentityError> {
        let arn = || quoted(&p.arn);
        if p.is_vended_session() {
            return Err(IdentityError::VendedSession { arn: arn() });
        }
        if !self.accounts.is_empty() && !self.accounts.contains(&p.account) {
            return Err(IdentityError::ForeignAccount {
                arn: arn(),
                account: p.account.clone(),
            });
        }
        // An exact entry wins over a role-wide one.
        let mapped = self
            .principals
            .iter()
            .filter(|(_, k, _)| k.matches(p))
            .min_by_key(|(_, k, _)| matches!(k, PrincipalKey::Role { .. }));
        if let Some((key, _, user)) = mapped {
            return Ok(Identity {
                username: user.clone(),
                by: IdentifiedBy::Mapping(key.clone()),
            });
        }
        let from_name = |by| {
            Username::from_aws_name(&p.name)
                .map(|username| Identity { username, by })
                .map_err(|source| IdentityError::BadName { arn: arn(), source })
        };
        match p.kind {
            PrincipalKind::IamUser => from_name(IdentifiedBy::IamUser),
            PrincipalKind::AssumedRole => {
                match self.trusted.iter().find(|(_, pat)| pat.matches(p)) {
                    Some((text, _)) => from_name(IdentifiedBy::TrustedRole(text.clone())),
                    None => Err(IdentityError::UntrustedRole {
                        arn: arn(),
                        role: p.role.clone().unwrap_or_default(),
                        trusted: if self.trusted.is_empty() {
                            "none".to_owned()
                        } else {
                            self.trusted
                                .iter()
                                .map(|(t, _)| t.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                    }),
                }
            }
            PrincipalKind::FederatedUser => Err(IdentityError::FederatedUser { arn: arn() }),
            PrincipalKind::Root => Err(IdentityError::Root { arn: arn() }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("AWSReservedSSO_*", "AWSReservedSSO_Admin_0123abcd"));
        assert!(glob("AWSReservedSSO_*", "awsreservedsso_x"));
        assert!(!glob("AWSReservedSSO_*", "AWSReservedSSO"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(glob("dev", "DEV"));
        assert!(!glob("dev", "devx"));
        assert!(glob("*-ci", "deploy-ci"));
    }

    #[test]
    fn role_patterns() {
        assert!(RolePattern::parse("AWSReservedSSO_*").is_ok());
        assert!(RolePattern::parse("arn:aws:iam::123456789012:role/AWSReservedSSO_*").is_ok());
        assert!(RolePattern::parse("*").is_err());
        assert!(RolePattern::parse("").is_err());
        assert!(RolePattern::parse("a b").is_err());
        assert!(RolePattern::parse("arn:aws:iam::123456789012:user/x").is_err());
    }

    #[test]
    fn principal_keys() {
        let k = PrincipalKey::parse("arn:aws:iam::123456789012:role/ci/deploy").unwrap();
        let s = Principal::parse("arn:aws:sts::123456789012:assumed-role/Deploy/anything").unwrap();
        assert!(k.matches(&s));
        let other = Principal::parse("arn:aws:sts::210987654321:assumed-role/deploy/x").unwrap();
        assert!(!k.matches(&other));
        let u = PrincipalKey::parse("arn:aws:iam::123456789012:user/Legacy").unwrap();
        assert!(u.matches(&Principal::parse("arn:aws:iam::123456789012:user/ops/legacy").unwrap()));
        assert!(PrincipalKey::parse("arn:aws:iam::123456789012:group/x").is_err());
    }
}
