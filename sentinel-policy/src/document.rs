//! The policy document: what a security engineer writes in YAML or JSON.
//!
//! Every struct here rejects unknown fields, so a misspelt key is an error
//! rather than a silently ignored condition.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::types::{ClockTime, PolicyDuration, TimeZoneName, Version};

/// A complete policy document.
///
/// ```yaml
/// version: "1"
/// rules:
///   - name: dev-anytime
///     effect: allow
///     conditions: { profiles: [dev] }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "Sentinel policy",
    description = "Who may get which AWS role, when and through which channel. Rules are tried in order; the first rule whose conditions all hold decides; no match denies."
)]
pub struct PolicyDocument {
    /// Format version; always `"1"`.
    pub version: Version,
    /// Access rules, tried in order. At least one is required.
    pub rules: Vec<Rule>,
    /// Who may approve access requests, and when requests are approved automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<ApprovalSection>,
    /// Who may invoke break-glass emergency access, for which profiles and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakglass: Option<BreakGlassSection>,
    /// Limits on how often break-glass may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimitSection>,
    /// The AWS side of each profile: the role Sentinel assumes for it.
    /// Frontends without `~/.aws/config` (the Lambda Token Vending Machine)
    /// take the role from here; on a laptop the profile in `~/.aws/config`
    /// must name the same role.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// Which AWS principals name a user, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentitySection>,
    /// Security admins: they may revoke anyone's server sessions, switch a
    /// user off and on again (the kill switch) and close anyone's
    /// break-glass event. Everyone may revoke their own sessions and close
    /// their own break-glass events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<crate::Username>")]
    pub admins: Vec<String>,
}

/// The `identity` section: which AWS principals name a policy user.
///
/// IAM users are named by their user name. A role session names its user
/// only when the role is trusted to set the session name (by default the
/// roles of IAM Identity Center, `AWSReservedSSO_*`); any other session,
/// federated users and the account root are refused unless `principals`
/// maps them to a user. Sessions Sentinel itself issued are never a user.
///
/// ```yaml
/// identity:
///   accounts: ["123456789012"]
///   trusted_roles: ["AWSReservedSSO_*"]
///   principals:
///     "arn:aws:iam::123456789012:role/ci-deploy": ci-bot
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// AWS accounts whose principals may call; absent or empty means any account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Roles whose session names name the user: role name patterns (`*` matches any characters) or role ARNs with such a name. Absent: `[AWSReservedSSO_*]` (IAM Identity Center); `[]`: no role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_roles: Option<Vec<String>>,
    /// Principal ARN (IAM user, role session, federated user, root, or an IAM role ARN for every session of the role) to username.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, crate::Username>")]
    pub principals: BTreeMap<String, String>,
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique, non-empty name; it appears in every decision and in the decision log.
    pub name: String,
    /// What happens when the rule matches.
    pub effect: Effect,
    /// When the rule matches. Absent or `{}` matches every request.
    #[serde(default)]
    pub conditions: Conditions,
    /// Human-readable reason, shown to the user and logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Longest credential lifetime in server mode (15m to 12h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_server_duration: Option<PolicyDuration>,
    /// DynamoDB table for server-session tracking (`require_server_session`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_table: Option<String>,
}

/// What a matching rule decides.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    /// Issue credentials.
    Allow,
    /// Refuse. Only an active break-glass event the break-glass rules permit overrides it.
    Deny,
    /// Issue credentials only with an approved access request or an active break-glass event.
    RequireApproval,
    /// Issue credentials only in server mode (a local or remote credential server); never overridable.
    RequireServer,
    /// Issue credentials only in server mode with session tracking on; never overridable.
    RequireServerSession,
}

impl Effect {
    /// The name used in policy documents.
    pub const fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::RequireApproval => "require_approval",
            Effect::RequireServer => "require_server",
            Effect::RequireServerSession => "require_server_session",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How credentials are being requested.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Mode {
    /// The local or remote credential server: policy is evaluated on every request.
    Server,
    /// Credentials handed to one command in environment variables: evaluated once.
    Cli,
    /// `credential_process` in `~/.aws/config`: evaluated once per call.
    CredentialProcess,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::Server, Mode::Cli, Mode::CredentialProcess];

    /// The name used in policy documents.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Server => "server",
            Mode::Cli => "cli",
            Mode::CredentialProcess => "credential_process",
        }
    }

    pub(crate) const fn bit(self) -> u8 {
        match self {
            Mode::Server => 1,
            Mode::Cli => 2,
            Mode::CredentialProcess => 4,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("unknown mode \"{s}\": expected one of server, cli, credential_process")
            })
    }
}

/// Conditions of a rule; all that are present must hold. An absent or empty
/// list matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// AWS profile names the rule applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// Policy usernames the rule applies to: lowercase, as IAM user names and IAM Identity Center session names are lowercased.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<crate::Username>")]
    pub users: Vec<String>,
    /// Credential modes the rule applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mode: Vec<Mode>,
    /// When, in wall-clock time of a time zone, the rule applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeWindow>,
}

/// A weekly time window in a time zone.
///
/// Each listed day opens the window at `start` on that day's clock in
/// `timezone`; it closes at `end` the same day, or the next day when `end`
/// is not later than `start`: `22:00` to `06:00` on `[friday]` is Friday
/// night into Saturday morning. On a night the clocks change, the window
/// opens (closes) the first moment the clock reads `start` (`end`) or
/// later, so a skipped start opens it at the jump and a repeated hour does
/// not reopen or close it twice. See [`TimeWindow::contains`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Days the window opens on (local), so an overnight window listed for friday runs into saturday morning. Absent or empty means every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Weekday>,
    /// Daily window `[start, end)` in local wall-clock time; it ends the next day when `end` is not later than `start`. Absent means all day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<HourRange>,
    /// IANA time zone of `days` and `hours`; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<TimeZoneName>,
}

/// A daily window, half-open: `start` is inside, `end` is not. When `start`
/// is later than `end` the window runs past midnight into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HourRange {
    /// First minute inside the window (`HH:MM`).
    pub start: ClockTime,
    /// First minute after the window (`HH:MM`).
    pub end: ClockTime,
}

impl HourRange {
    /// Whether `minute_of_day` (0–1439) falls in the window on the clock,
    /// whatever day it is: which day opened an overnight window and clock
    /// changes are [`TimeWindow::contains`]'s business.
    pub fn contains(&self, minute_of_day: u16) -> bool {
        let (s, e) = (self.start.minutes(), self.end.minutes());
        if s <= e {
            s <= minute_of_day && minute_of_day < e
        } else {
            minute_of_day >= s || minute_of_day < e
        }
    }
}

/// A day of the week, lowercase in documents.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub(crate) const fn bit(self) -> u8 {
        1 << (self as u8)
    }

    pub(crate) fn from_jiff(w: jiff::civil::Weekday) -> Self {
        match w {
            jiff::civil::Weekday::Monday => Weekday::Monday,
            jiff::civil::Weekday::Tuesday => Weekday::Tuesday,
            jiff::civil::Weekday::Wednesday => Weekday::Wednesday,
            jiff::civil::Weekday::Thursday => Weekday::Thursday,
            jiff::civil::Weekday::Friday => Weekday::Friday,
            jiff::civil::Weekday::Saturday => Weekday::Saturday,
            jiff::civil::Weekday::Sunday => Weekday::Sunday,
        }
    }
}

/// The `approvals` section: who decides access requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSection {
    /// Approval rules; for a profile, the first rule that lists it (or lists no profiles) applies.
    pub rules: Vec<ApprovalRule>,
}

/// Who may approve requests for some profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// Unique, non-empty name.
    pub name: String,
    /// Profiles this rule covers; absent or empty means every profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// Usernames that may approve or deny. A requester never approves their own request.
    #[schemars(with = "Vec<crate::Username>")]
    pub approvers: Vec<String>,
    /// Longest access an approval grants (at most 8h); requests asking for more are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<PolicyDuration>,
    /// Requests that are approved without a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approve: Option<AutoApprove>,
}

/// When a request is approved automatically. All present conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoApprove {
    /// Requesters whose requests are auto-approved; absent or empty means anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<crate::Username>")]
    pub users: Vec<String>,
    /// When requests are auto-approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeWindow>,
    /// Only requests for at most this long are auto-approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<PolicyDuration>,
}

/// The `breakglass` section: emergency access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassSection {
    /// Break-glass rules; the first rule matching user and profile applies.
    pub rules: Vec<BreakGlassRule>,
}

/// Who may invoke break-glass for which profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassRule {
    /// Unique, non-empty name.
    pub name: String,
    /// Profiles; absent or empty means every profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// Users allowed to invoke break-glass. Required: break-glass is never open to everyone.
    #[schemars(with = "Vec<crate::Username>")]
    pub users: Vec<String>,
    /// Reason codes accepted; absent or empty means every code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<ReasonCode>,
    /// Longest break-glass event (at most 4h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<PolicyDuration>,
}

/// Why break-glass was invoked.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum ReasonCode {
    Incident,
    Maintenance,
    Security,
    Recovery,
    Other,
}

impl ReasonCode {
    /// The name used in documents and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Incident => "incident",
            ReasonCode::Maintenance => "maintenance",
            ReasonCode::Security => "security",
            ReasonCode::Recovery => "recovery",
            ReasonCode::Other => "other",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `rate_limits` section: how often break-glass may be used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// Rate-limit rules; the first rule listing the profile (or listing none) applies.
    pub rules: Vec<RateLimitRule>,
}

/// Limits for some profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    /// Unique, non-empty name.
    pub name: String,
    /// Profiles; absent or empty means every profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// Minimum time between two events of one user on one profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<PolicyDuration>,
    /// Most events one user may invoke per profile within `quota_window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_user: Option<u32>,
    /// Most events per profile (all users) within `quota_window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_profile: Option<u32>,
    /// The window the quotas count in; required with a quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_window: Option<PolicyDuration>,
    /// From this many events of a user within `quota_window`, the event is flagged and security is notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_threshold: Option<u32>,
}

/// The AWS side of a profile. `Debug` does not show the external ID.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// ARN of the role to assume, `arn:aws:iam::123456789012:role/name`.
    pub role_arn: String,
    /// AWS region for STS, e.g. `eu-central-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// External ID the role's trust policy requires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Credential lifetime when the caller asks for none (15m to 12h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<PolicyDuration>,
}

impl fmt::Debug for ProfileConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileConfig")
            .field("role_arn", &self.role_arn)
            .field("region", &self.region)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .field("duration", &self.duration)
            .finish()
    }
}
