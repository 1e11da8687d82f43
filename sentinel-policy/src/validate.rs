//! Semantic checks of a structurally sound document: names, ranges, limits
//! and cross-field rules that serde cannot express.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::document::{
    ApprovalRule, BreakGlassRule, PolicyDocument, ProfileConfig, RateLimitRule, Rule, TimeWindow,
};
use crate::error::Problem;
use crate::parse::{Collector, Path, Seg, path_string};
use crate::types::{PolicyDuration, STS_MAX_DURATION, STS_MIN_DURATION};

/// Longest access an approval may grant.
pub const MAX_APPROVAL_DURATION: Duration = Duration::from_secs(8 * 3600);
/// Longest break-glass event.
pub const MAX_BREAKGLASS_DURATION: Duration = Duration::from_secs(4 * 3600);
/// Longest name (rule, user, profile) accepted.
pub const MAX_NAME_LEN: usize = 256;

fn key(path: &[Seg], k: &str) -> Path {
    let mut p = path.to_vec();
    p.push(Seg::Key(k.to_owned()));
    p
}

fn idx(path: &[Seg], i: usize) -> Path {
    let mut p = path.to_vec();
    p.push(Seg::Index(i));
    p
}

struct Names {
    seen: HashMap<String, String>,
}

impl Names {
    fn new() -> Self {
        Self {
            seen: HashMap::new(),
        }
    }

    fn check(&mut self, c: &mut Collector<'_>, what: &str, path: Path, name: &str) {
        if name.trim().is_empty() {
            c.push(
                &path,
                false,
                Problem::new("", format!("{what} name is empty"))
                    .help("give every rule a short unique name, e.g. `prod-business-hours`"),
            );
            return;
        }
        check_name(c, &path, what, name);
        if let Some(first) = self.seen.get(name) {
            c.push(
                &path,
                false,
                Problem::new("", format!("duplicate {what} name \"{name}\""))
                    .help(format!("{first} already uses it; names must be unique")),
            );
        } else {
            self.seen
                .insert(name.to_owned(), path_string(&path[..path.len() - 1]));
        }
    }
}

fn check_name(c: &mut Collector<'_>, path: &[Seg], what: &str, name: &str) {
    if name.len() > MAX_NAME_LEN {
        c.push(
            path,
            false,
            Problem::new("", format!("{what} name is {} bytes long", name.len()))
                .help(format!("use at most {MAX_NAME_LEN} bytes")),
        );
    } else if name.chars().any(char::is_control) {
        c.push(
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

fn check_list(c: &mut Collector<'_>, path: &[Seg], what: &str, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        let p = idx(path, i);
        if item.trim().is_empty() {
            c.push(
                &p,
                false,
                Problem::new("", format!("empty {what} name")).help(format!(
                    "remove it, or leave the list out to match any {what}"
                )),
            );
        } else if item.trim() != item {
            c.push(
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

fn check_range(
    c: &mut Collector<'_>,
    path: Path,
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
        c.push(
            &path,
            false,
            Problem::new("", format!("duration {d} is out of range")).help(format!(
                "{why}: use {min_s} and at most {}",
                PolicyDuration::new(max)
            )),
        );
    } else if min.is_zero() && d.get().is_zero() {
        c.push(
            &path,
            false,
            Problem::new("", "duration is zero").help(format!("{why}: use more than 0s")),
        );
    }
}

fn check_window(c: &mut Collector<'_>, path: Path, w: &TimeWindow) {
    if let Some(h) = &w.hours
        && h.start == h.end
    {
        c.push(
            &key(&path, "hours"),
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
            c.push(
                &idx(&key(&path, "days"), i),
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
        },
        c,
    );
}

/// Checks everything serde cannot; problems go to the collector.
pub(crate) fn validate(doc: &Parts<'_>, c: &mut Collector<'_>) {
    if doc.rules.is_empty() && !doc.rules_broken {
        c.push(
            &[Seg::Key("rules".into())],
            false,
            Problem::new(
                "",
                "the policy has no rules, so it would deny every request",
            )
            .help("add at least one rule under `rules:`"),
        );
    }
    let mut names = Names::new();
    let mut by_index: BTreeMap<usize, (Option<&str>, Option<&Rule>)> = BTreeMap::new();
    for (i, name) in doc.rule_names {
        by_index.entry(*i).or_default().0 = Some(*name);
    }
    for (i, rule) in doc.rules {
        by_index.entry(*i).or_default().1 = Some(*rule);
    }
    for (i, (name, rule)) in by_index {
        let base = vec![Seg::Key("rules".into()), Seg::Index(i)];
        if let Some(name) = name {
            names.check(c, "rule", key(&base, "name"), name);
        }
        let Some(rule) = rule else { continue };
        let cond = key(&base, "conditions");
        check_list(
            c,
            &key(&cond, "profiles"),
            "profile",
            &rule.conditions.profiles,
        );
        check_list(c, &key(&cond, "users"), "user", &rule.conditions.users);
        if let Some(w) = &rule.conditions.time {
            check_window(c, key(&cond, "time"), w);
        }
        check_range(
            c,
            key(&base, "max_server_duration"),
            rule.max_server_duration,
            STS_MIN_DURATION,
            STS_MAX_DURATION,
            "STS issues credentials for 15m to 12h",
        );
        if let Some(t) = &rule.session_table
            && !is_table_name(t)
        {
            c.push(
                &key(&base, "session_table"),
                false,
                Problem::new("", format!("\"{t}\" is not a DynamoDB table name"))
                    .help("use 3-255 letters, digits, `_`, `-` or `.`"),
            );
        }
        if let Some(r) = &rule.reason
            && r.len() > 1024
        {
            c.push(
                &key(&base, "reason"),
                false,
                Problem::new("", format!("reason is {} bytes long", r.len()))
                    .help("keep it under 1024 bytes"),
            );
        }
    }

    {
        let base = vec![Seg::Key("approvals".into()), Seg::Key("rules".into())];
        let mut names = Names::new();
        for (i, rule) in doc.approvals {
            let p = idx(&base, *i);
            names.check(c, "approval rule", key(&p, "name"), &rule.name);
            check_list(c, &key(&p, "profiles"), "profile", &rule.profiles);
            check_list(c, &key(&p, "approvers"), "approver", &rule.approvers);
            if rule.approvers.is_empty() && rule.auto_approve.is_none() {
                c.push(
                    &key(&p, "approvers"),
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
                key(&p, "max_duration"),
                rule.max_duration,
                Duration::ZERO,
                MAX_APPROVAL_DURATION,
                "an approval grants up to 8h",
            );
            if let Some(auto) = &rule.auto_approve {
                let ap = key(&p, "auto_approve");
                check_list(c, &key(&ap, "users"), "user", &auto.users);
                if let Some(w) = &auto.time {
                    check_window(c, key(&ap, "time"), w);
                }
                let cap = rule
                    .max_duration
                    .map_or(MAX_APPROVAL_DURATION, PolicyDuration::get);
                check_range(
                    c,
                    key(&ap, "max_duration"),
                    auto.max_duration,
                    Duration::ZERO,
                    cap,
                    "auto-approval cannot grant more than the rule's max_duration",
                );
            }
        }
    }

    {
        let base = vec![Seg::Key("breakglass".into()), Seg::Key("rules".into())];
        let mut names = Names::new();
        for (i, rule) in doc.breakglass {
            let p = idx(&base, *i);
            names.check(c, "break-glass rule", key(&p, "name"), &rule.name);
            check_list(c, &key(&p, "profiles"), "profile", &rule.profiles);
            check_list(c, &key(&p, "users"), "user", &rule.users);
            if rule.users.is_empty() {
                c.push(
                    &key(&p, "users"),
                    false,
                    Problem::new("", "no users may invoke this break-glass rule")
                        .help("list the on-call users; break-glass is never open to everyone"),
                );
            }
            check_range(
                c,
                key(&p, "max_duration"),
                rule.max_duration,
                Duration::ZERO,
                MAX_BREAKGLASS_DURATION,
                "break-glass lasts at most 4h",
            );
        }
    }

    {
        let base = vec![Seg::Key("rate_limits".into()), Seg::Key("rules".into())];
        let mut names = Names::new();
        for (i, rule) in doc.rate_limits {
            let p = idx(&base, *i);
            names.check(c, "rate-limit rule", key(&p, "name"), &rule.name);
            check_list(c, &key(&p, "profiles"), "profile", &rule.profiles);
            let quotas = [
                ("max_per_user", rule.max_per_user),
                ("max_per_profile", rule.max_per_profile),
                ("escalation_threshold", rule.escalation_threshold),
            ];
            for (field, v) in quotas {
                if v == Some(0) {
                    c.push(
                        &key(&p, field),
                        false,
                        Problem::new("", format!("{field} is 0"))
                            .help("use 1 or more, or leave it out for no limit"),
                    );
                }
            }
            let has_quota = quotas.iter().any(|(_, v)| v.is_some());
            if has_quota && rule.quota_window.is_none() {
                c.push(
                    &p,
                    false,
                    Problem::new("", "quotas need a `quota_window`")
                        .help("add e.g. `quota_window: 24h`"),
                );
            }
            if !has_quota && rule.cooldown.is_none() {
                c.push(
                    &p,
                    false,
                    Problem::new("", "the rule limits nothing").help(
                        "set `cooldown`, `max_per_user`, `max_per_profile` or `escalation_threshold`",
                    ),
                );
            }
            let year = Duration::from_secs(366 * 86400);
            check_range(
                c,
                key(&p, "cooldown"),
                rule.cooldown,
                Duration::ZERO,
                year,
                "cooldown",
            );
            check_range(
                c,
                key(&p, "quota_window"),
                rule.quota_window,
                Duration::ZERO,
                year,
                "quota window",
            );
        }
    }

    for (name, profile) in doc.profiles.into_iter().flatten() {
        let p = vec![Seg::Key("profiles".into()), Seg::Key(name.clone())];
        if name.trim().is_empty() {
            c.push(&p, true, Problem::new("", "empty profile name"));
        }
        check_name(c, &p, "profile", name);
        if !is_role_arn(&profile.role_arn) {
            c.push(
                &key(&p, "role_arn"),
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
            c.push(
                &key(&p, "region"),
                false,
                Problem::new("", format!("\"{region}\" is not an AWS region name"))
                    .help("e.g. us-east-1 or eu-central-1"),
            );
        }
        if let Some(ext) = &profile.external_id
            && !is_external_id(ext)
        {
            c.push(
                &key(&p, "external_id"),
                false,
                Problem::new("", "external_id is not valid for STS")
                    .help("use 2-1224 letters, digits or `+=,.@:/-_`"),
            );
        }
        check_range(
            c,
            key(&p, "duration"),
            profile.duration,
            STS_MIN_DURATION,
            STS_MAX_DURATION,
            "STS issues credentials for 15m to 12h",
        );
    }
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
