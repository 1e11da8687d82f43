//! Semantic checks of a structurally sound document: names, ranges, limits
//! and cross-field rules that serde cannot express.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::time::Duration;

use crate::collect::Collector;
use crate::document::{
    ApprovalRule, BreakGlassRule, IdentitySection, PolicyDocument, ProfileConfig, RateLimitRule,
    Rule, TimeWindow,
};
use crate::error::Problem;
use crate::identity::{PrincipalKey, RolePattern};
use crate::path::At;
use crate::types::{PolicyDuration, STS_MAX_DURATION, STS_MIN_DURATION};
use crate::username::{MAX_USERNAME_LEN, Username, UsernameError, is_canonical};

/// Longest access an approval may grant.
pub const MAX_APPROVAL_DURATION: Duration = Duration::from_secs(8 * 3600);
/// Longest break-glass event.
pub const MAX_BREAKGLASS_DURATION: Duration = Duration::from_secs(4 * 3600);
/// Longest name (rule, user, profile) accepted.
pub const MAX_NAME_LEN: usize = 256;

/// Finds duplicate names within one list of rules.
struct Names<'a> {
    prefix: &'static str,
    seen: FxHashMap<&'a str, usize>,
}

impl<'a> Names<'a> {
    fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            seen: FxHashMap::default(),
        }
    }

    fn check(
        &mut self,
        c: &mut Collector<'_>,
        what: &str,
        at: At<'_>,
        index: usize,
        name: &'a str,
    ) {
        if name.trim().is_empty() {
            c.push_at(
                &at,
                false,
                Problem::new("", format!("{what} name is empty"))
                    .help("give every rule a short unique name, e.g. `prod-business-hours`"),
            );
            return;
        }
        check_name(c, &at, what, name);
        if let Some(first) = self.seen.get(name) {
            c.push_at(
                &at,
                false,
                Problem::new("", format!("duplicate {what} name \"{name}\"")).help(format!(
                    "{}[{first}] already uses it; names must be unique",
                    self.prefix
                )),
            );
        } else {
            self.seen.insert(name, index);
        }
    }
}

fn check_name(c: &mut Collector<'_>, path: &At<'_>, what: &str, name: &str) {
    if name.len() > MAX_NAME_LEN {
        c.push_at(
            path,
            false,
            Problem::new("", format!("{what} name is {} bytes long", name.len()))
                .help(format!("use at most {MAX_NAME_LEN} bytes")),
        );
    } else if name.chars().any(char::is_control) {
        c.push_at(
            path,
            false,
            Problem::new(
                "",
                format!("{what} name {name:?} contains control characters"),
            )
            .help("use printable characters only"),
        );
    }
}

fn check_list(c: &mut Collector<'_>, path: &At<'_>, what: &str, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        let p = path.idx(i);
        if item.trim().is_empty() {
            c.push_at(
                &p,
                false,
                Problem::new("", format!("empty {what} name")).help(format!(
                    "remove it, or leave the list out to match any {what}"
                )),
            );
        } else if item.trim() != item {
            c.push_at(
                &p,
                false,
                Problem::new("", format!("{what} name {item:?} has spaces around it"))
                    .help("names are compared exactly; remove the spaces"),
            );
        } else {
            check_name(c, &p, what, item);
        }
    }
}

/// Each item must be a username in canonical form; a near miss gets the
/// canonical spelling as its fix.
fn check_users(c: &mut Collector<'_>, path: &At<'_>, what: &str, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        check_user(c, &path.idx(i), what, item);
    }
}

fn check_user(c: &mut Collector<'_>, at: &At<'_>, what: &str, item: &str) {
    if is_canonical(item) {
        return;
    }
    let Err(e) = Username::parse(item) else {
        return;
    };
    let trimmed = item.trim();
    let canonical = Username::from_aws_name(trimmed).ok();
    let problem = match (&e, &canonical) {
        (UsernameError::Empty, _) | (_, None) if trimmed.is_empty() => {
            Problem::new("", format!("empty {what} name")).help(format!(
                "remove it, or leave the list out to match any {what}"
            ))
        }
        (_, Some(u)) if trimmed != item => {
            Problem::new("", format!("{what} name {item:?} has spaces around it"))
                .help(format!("write \"{u}\"; names are compared exactly"))
        }
        (_, Some(u)) => Problem::new("", format!("{what} name {item:?} has upper-case letters"))
            .help(format!(
                "write \"{u}\": usernames are lowercase, like the IAM user and IAM Identity Center names they come from"
            )),
        (_, None) => {
            let why = match &e {
                UsernameError::TooLong { len, .. } => {
                    format!("it is {len} characters long, at most {MAX_USERNAME_LEN} are allowed")
                }
                UsernameError::BadCharacter { found, .. } => format!("it contains {found:?}"),
                other => other.to_string(),
            };
            Problem::new("", format!("{what} name {item:?} is not a username: {why}")).help(
                "usernames are IAM user or role session names, lowercased: letters, digits and _+=,.@-",
            )
        }
    };
    c.push_at(at, false, problem);
}

fn check_range(
    c: &mut Collector<'_>,
    path: At<'_>,
    d: Option<PolicyDuration>,
    min: Duration,
    max: Duration,
    why: &str,
) {
    let Some(d) = d else { return };
    if d.get() < min || d.get() > max {
        let min_s = if min.is_zero() {
            "more than 0s".to_owned()
        } else {
            format!("at least {}", PolicyDuration::new(min))
        };
        c.push_at(
            &path,
            false,
            Problem::new("", format!("duration {d} is out of range")).help(format!(
                "{why}: use {min_s} and at most {}",
                PolicyDuration::new(max)
            )),
        );
    } else if min.is_zero() && d.get().is_zero() {
        c.push_at(
            &path,
            false,
            Problem::new("", "duration is zero").help(format!("{why}: use more than 0s")),
        );
    }
}

fn check_window(c: &mut Collector<'_>, path: At<'_>, w: &TimeWindow) {
    if let Some(h) = &w.hours
        && h.start == h.end
    {
        c.push_at(
            &path.key("hours"),
            false,
            Problem::new(
                "",
                format!("start and end are both {}, so the window is empty", h.start),
            )
            .help("remove `hours` to match the whole day, or give a different end"),
        );
    }
    let mut seen = 0u8;
    for (i, d) in w.days.iter().enumerate() {
        if seen & d.bit() != 0 {
            c.push_at(
                &path.key("days").idx(i),
                false,
                Problem::new("", format!("{d:?} is listed twice").to_lowercase())
                    .help("list each day once"),
            );
        }
        seen |= d.bit();
    }
}

fn is_table_name(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn is_role_arn(s: &str) -> bool {
    // arn:PARTITION:iam::ACCOUNT:role/PATH/NAME
    let mut parts = s.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let name = resource.strip_prefix("role/").unwrap_or("");
    partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && !name.ends_with('/')
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

fn is_external_id(s: &str) -> bool {
    (2..=1224).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b))
}

/// The parts of a document that parsed, with their original positions.
pub(crate) struct Parts<'a> {
    pub(crate) rules: &'a [(usize, &'a Rule)],
    /// Names of every rule written as text, including rules that did not
    /// parse, so a duplicate is reported even next to a broken rule.
    pub(crate) rule_names: &'a [(usize, &'a str)],
    pub(crate) rules_broken: bool,
    pub(crate) approvals: &'a [(usize, &'a ApprovalRule)],
    pub(crate) breakglass: &'a [(usize, &'a BreakGlassRule)],
    pub(crate) rate_limits: &'a [(usize, &'a RateLimitRule)],
    pub(crate) profiles: Option<&'a BTreeMap<String, ProfileConfig>>,
    pub(crate) identity: Option<&'a IdentitySection>,
    pub(crate) admins: Option<&'a [String]>,
}

fn indexed<T>(items: &[T]) -> Vec<(usize, &T)> {
    items.iter().enumerate().collect()
}

/// Checks a whole document built in code.
pub(crate) fn validate_document(doc: &PolicyDocument, c: &mut Collector<'_>) {
    let rules = indexed(&doc.rules);
    let names: Vec<(usize, &str)> = doc
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .enumerate()
        .collect();
    let approvals = doc
        .approvals
        .as_ref()
        .map_or_else(Vec::new, |a| indexed(&a.rules));
    let breakglass = doc
        .breakglass
        .as_ref()
        .map_or_else(Vec::new, |b| indexed(&b.rules));
    let rate_limits = doc
        .rate_limits
        .as_ref()
        .map_or_else(Vec::new, |r| indexed(&r.rules));
    validate(
        &Parts {
            rules: &rules,
            rule_names: &names,
            rules_broken: false,
            approvals: &approvals,
            breakglass: &breakglass,
            rate_limits: &rate_limits,
            profiles: Some(&doc.profiles),
            identity: doc.identity.as_ref(),
            admins: Some(&doc.admins),
        },
        c,
    );
}

/// Checks everything serde cannot; problems go to the collector.
pub(crate) fn validate(doc: &Parts<'_>, c: &mut Collector<'_>) {
    check_rules(c, doc.rules, doc.rule_names, doc.rules_broken);
    check_approvals(c, doc.approvals);
    check_breakglass(c, doc.breakglass);
    check_rate_limits(c, doc.rate_limits);
    if let Some(profiles) = doc.profiles {
        check_profiles(c, profiles);
    }
    if let Some(admins) = doc.admins {
        check_users(c, &At::root("admins"), "admin", admins);
    }
    if let Some(identity) = doc.identity {
        check_identity(c, identity);
    }
}

/// The `rules` list: names (also of rules that did not parse), conditions,
/// durations, table names and reasons.
fn check_rules(
    c: &mut Collector<'_>,
    rules: &[(usize, &Rule)],
    rule_names: &[(usize, &str)],
    rules_broken: bool,
) {
    let root = At::root("rules");
    if rules.is_empty() && !rules_broken {
        c.push_at(
            &root,
            false,
            Problem::new(
                "",
                "the policy has no rules, so it would deny every request",
            )
            .help("add at least one rule under `rules:`"),
        );
    }
    let mut names = Names::new("rules");
    names.seen.reserve(rule_names.len());
    // Names and rules by index: both lists come in index order, so this
    // sort only merges two runs.
    let mut by_index: Vec<(usize, Option<&str>, Option<&Rule>)> =
        Vec::with_capacity(rule_names.len() + rules.len());
    by_index.extend(rule_names.iter().map(|(i, n)| (*i, Some(*n), None)));
    by_index.extend(rules.iter().map(|(i, r)| (*i, None, Some(*r))));
    by_index.sort_by_key(|(i, _, _)| *i);
    by_index.dedup_by(|later, first| {
        if later.0 != first.0 {
            return false;
        }
        first.1 = later.1.or(first.1);
        first.2 = later.2.or(first.2);
        true
    });
    for (i, name, rule) in by_index {
        let at = root.idx(i);
        if let Some(name) = name {
            names.check(c, "rule", at.key("name"), i, name);
        }
        if let Some(rule) = rule {
            check_rule(c, &at, rule);
        }
    }
}

/// One rule of `rules`, apart from its name.
fn check_rule(c: &mut Collector<'_>, at: &At<'_>, rule: &Rule) {
    let cond = at.key("conditions");
    check_list(
        c,
        &cond.key("profiles"),
        "profile",
        &rule.conditions.profiles,
    );
    check_users(c, &cond.key("users"), "user", &rule.conditions.users);
    if let Some(w) = &rule.conditions.time {
        check_window(c, cond.key("time"), w);
    }
    check_range(
        c,
        at.key("max_server_duration"),
        rule.max_server_duration,
        STS_MIN_DURATION,
        STS_MAX_DURATION,
        "STS issues credentials for 15m to 12h",
    );
    if let Some(t) = &rule.session_table
        && !is_table_name(t)
    {
        c.push_at(
            &at.key("session_table"),
            false,
            Problem::new("", format!("\"{t}\" is not a DynamoDB table name"))
                .help("use 3-255 letters, digits, `_`, `-` or `.`"),
        );
    }
    if let Some(r) = &rule.reason
        && r.len() > 1024
    {
        c.push_at(
            &at.key("reason"),
            false,
            Problem::new("", format!("reason is {} bytes long", r.len()))
                .help("keep it under 1024 bytes"),
        );
    }
}

/// `approvals.rules`: names, approvers, durations and auto-approval.
fn check_approvals(c: &mut Collector<'_>, rules: &[(usize, &ApprovalRule)]) {
    check_section_rules(
        c,
        "approvals",
        "approvals.rules",
        "approval rule",
        rules,
        |r| (r.name.as_str(), r.profiles.as_slice()),
        |c, p, rule| {
            check_users(c, &p.key("approvers"), "approver", &rule.approvers);
            if rule.approvers.is_empty() && rule.auto_approve.is_none() {
                c.push_at(
                    &p.key("approvers"),
                    false,
                    Problem::new(
                        "",
                        "no approvers and no auto_approve, so no request could ever be approved",
                    )
                    .help("list at least one approver"),
                );
            }
            check_range(
                c,
                p.key("max_duration"),
                rule.max_duration,
                Duration::ZERO,
                MAX_APPROVAL_DURATION,
                "an approval grants up to 8h",
            );
            if let Some(auto) = &rule.auto_approve {
                let ap = p.key("auto_approve");
                check_users(c, &ap.key("users"), "user", &auto.users);
                if let Some(w) = &auto.time {
                    check_window(c, ap.key("time"), w);
                }
                let cap = rule
                    .max_duration
                    .map_or(MAX_APPROVAL_DURATION, PolicyDuration::get);
                check_range(
                    c,
                    ap.key("max_duration"),
                    auto.max_duration,
                    Duration::ZERO,
                    cap,
                    "auto-approval cannot grant more than the rule's max_duration",
                );
            }
        },
    );
}

/// `breakglass.rules`: names, users and durations.
fn check_breakglass(c: &mut Collector<'_>, rules: &[(usize, &BreakGlassRule)]) {
    check_section_rules(
        c,
        "breakglass",
        "breakglass.rules",
        "break-glass rule",
        rules,
        |r| (r.name.as_str(), r.profiles.as_slice()),
        |c, p, rule| {
            check_users(c, &p.key("users"), "user", &rule.users);
            if rule.users.is_empty() {
                c.push_at(
                    &p.key("users"),
                    false,
                    Problem::new("", "no users may invoke this break-glass rule")
                        .help("list the on-call users; break-glass is never open to everyone"),
                );
            }
            check_range(
                c,
                p.key("max_duration"),
                rule.max_duration,
                Duration::ZERO,
                MAX_BREAKGLASS_DURATION,
                "break-glass lasts at most 4h",
            );
        },
    );
}

/// `rate_limits.rules`: names, quotas, windows and cooldowns.
fn check_rate_limits(c: &mut Collector<'_>, rules: &[(usize, &RateLimitRule)]) {
    check_section_rules(
        c,
        "rate_limits",
        "rate_limits.rules",
        "rate-limit rule",
        rules,
        |r| (r.name.as_str(), r.profiles.as_slice()),
        |c, p, rule| {
            let quotas = [
                ("max_per_user", rule.max_per_user),
                ("max_per_profile", rule.max_per_profile),
                ("escalation_threshold", rule.escalation_threshold),
            ];
            for (field, v) in quotas {
                if v == Some(0) {
                    c.push_at(
                        &p.key(field),
                        false,
                        Problem::new("", format!("{field} is 0"))
                            .help("use 1 or more, or leave it out for no limit"),
                    );
                }
            }
            let has_quota = quotas.iter().any(|(_, v)| v.is_some());
            if has_quota && rule.quota_window.is_none() {
                c.push_at(
                    p,
                    false,
                    Problem::new("", "quotas need a `quota_window`")
                        .help("add e.g. `quota_window: 24h`"),
                );
            }
            if !has_quota && rule.cooldown.is_none() {
                c.push_at(
                p,
                false,
                Problem::new("", "the rule limits nothing").help(
                    "set `cooldown`, `max_per_user`, `max_per_profile` or `escalation_threshold`",
                ),
            );
            }
            let year = Duration::from_secs(366 * 86400);
            check_range(
                c,
                p.key("cooldown"),
                rule.cooldown,
                Duration::ZERO,
                year,
                "cooldown",
            );
            check_range(
                c,
                p.key("quota_window"),
                rule.quota_window,
                Duration::ZERO,
                year,
                "quota window",
            );
        },
    );
}

/// Walks `SECTION.rules`: checks what every such rule has (a unique name
/// and a profile list), then calls `each` for the rest.
fn check_section_rules<'r, R>(
    c: &mut Collector<'_>,
    section: &'static str,
    prefix: &'static str,
    what: &str,
    rules: &[(usize, &'r R)],
    parts: impl Fn(&'r R) -> (&'r str, &'r [String]),
    mut each: impl FnMut(&mut Collector<'_>, &At<'_>, &'r R),
) {
    let root = At::root(section);
    let base = root.key("rules");
    let mut names = Names::new(prefix);
    for &(i, rule) in rules {
        let p = base.idx(i);
        let (name, profiles) = parts(rule);
        names.check(c, what, p.key("name"), i, name);
        check_list(c, &p.key("profiles"), "profile", profiles);
        each(c, &p, rule);
    }
}

/// `profiles`: names, role ARNs, regions, external ids and durations.
fn check_profiles(c: &mut Collector<'_>, profiles: &BTreeMap<String, ProfileConfig>) {
    let root = At::root("profiles");
    for (name, profile) in profiles {
        let p = root.key(name);
        if name.trim().is_empty() {
            c.push_at(&p, true, Problem::new("", "empty profile name"));
        }
        check_name(c, &p, "profile", name);
        if !is_role_arn(&profile.role_arn) {
            c.push_at(
                &p.key("role_arn"),
                false,
                Problem::new(
                    "",
                    format!("\"{}\" is not an IAM role ARN", profile.role_arn),
                )
                .help("write it as arn:aws:iam::123456789012:role/role-name"),
            );
        }
        if let Some(region) = &profile.region
            && !is_region(region)
        {
            c.push_at(
                &p.key("region"),
                false,
                Problem::new("", format!("\"{region}\" is not an AWS region name"))
                    .help("e.g. us-east-1 or eu-central-1"),
            );
        }
        if let Some(ext) = &profile.external_id
            && !is_external_id(ext)
        {
            c.push_at(
                &p.key("external_id"),
                false,
                Problem::new("", "external_id is not valid for STS")
                    .help("use 2-1224 letters, digits or `+=,.@:/-_`"),
            );
        }
        check_range(
            c,
            p.key("duration"),
            profile.duration,
            STS_MIN_DURATION,
            STS_MAX_DURATION,
            "STS issues credentials for 15m to 12h",
        );
    }
}

/// The `identity` section: account ids, role patterns, principal ARNs and
/// the usernames they map to.
fn check_identity(c: &mut Collector<'_>, identity: &IdentitySection) {
    let root = At::root("identity");
    let accounts = root.key("accounts");
    for (i, a) in identity.accounts.iter().enumerate() {
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            c.push_at(
                &accounts.idx(i),
                false,
                Problem::new("", format!("\"{a}\" is not an AWS account id"))
                    .help("write the 12 digits, quoted: \"123456789012\""),
            );
        }
    }
    let trusted = root.key("trusted_roles");
    for (i, t) in identity.trusted_roles.iter().flatten().enumerate() {
        if let Err(why) = RolePattern::parse(t) {
            c.push_at(&trusted.idx(i),
                false,
                Problem::new("", format!("\"{t}\" is not a role pattern: {why}")).help(
                    "write a role name such as AWSReservedSSO_* or a role ARN such as arn:aws:iam::123456789012:role/AWSReservedSSO_*",
                ),
            );
        }
    }
    let principals = root.key("principals");
    for (key, user) in &identity.principals {
        let at = principals.key(key);
        if let Err(e) = PrincipalKey::parse(key) {
            c.push_at(&at,
                true,
                Problem::new("", format!("{e}")).help(
                    "use the ARN of an IAM user, an IAM role (for every session of it), an assumed-role session, a federated user or the account root",
                ),
            );
        }
        check_user(c, &at, "user", user);
    }
}

/// Valid but probably not meant: `require_approval` rules for profiles no
/// approval rule lets anyone approve.
pub(crate) fn warnings(doc: &PolicyDocument) -> Vec<Problem> {
    let approval_rules = doc.approvals.as_ref().map_or(&[][..], |a| &a.rules[..]);
    // The approval rule for a profile: the first listing it or listing none.
    let applicable = |profile: Option<&str>| {
        approval_rules.iter().find(|r| {
            r.profiles.is_empty() || profile.is_some_and(|p| r.profiles.iter().any(|x| x == p))
        })
    };
    let approvable = |r: &ApprovalRule| !r.approvers.is_empty() || r.auto_approve.is_some();
    let mut out = Vec::new();
    for (i, rule) in doc.rules.iter().enumerate() {
        if rule.effect != crate::document::Effect::RequireApproval {
            continue;
        }
        let path = format!("rules[{i}]");
        let stuck: Vec<&str> = if rule.conditions.profiles.is_empty() {
            match applicable(None) {
                Some(r) if approvable(r) => Vec::new(),
                _ => vec!["profiles without their own approval rule"],
            }
        } else {
            rule.conditions
                .profiles
                .iter()
                .filter(|p| !applicable(Some(p)).is_some_and(approvable))
                .map(String::as_str)
                .collect()
        };
        if stuck.is_empty() {
            continue;
        }
        let help = if approval_rules.is_empty() {
            "add an `approvals` section naming who may approve; without one nobody can".to_owned()
        } else {
            "add the profiles to an `approvals` rule with approvers (or a rule without `profiles`)"
                .to_owned()
        };
        out.push(
            Problem::new(
                path,
                format!(
                    "rule \"{}\" requires approval, but nobody may approve requests for {}",
                    rule.name,
                    stuck.join(", ")
                ),
            )
            .help(help),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_regions() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/prod-admin"));
        assert!(is_role_arn("arn:aws-us-gov:iam::123456789012:role/path/x"));
        assert!(!is_role_arn("arn:aws:iam::12345678901:role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(!is_role_arn("arn:aws:s3:::bucket"));
        assert!(is_region("eu-central-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("europe"));
        assert!(!is_region("EU-central-1"));
    }
}
