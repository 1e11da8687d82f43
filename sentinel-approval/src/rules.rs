//! The policy's `approvals` rules: who may decide, how long a request may
//! be, and when a request is approved without a human.

use std::time::Duration;

use jiff::Timestamp;
use sentinel_policy::{ApprovalRule, ApprovalSection};

use crate::error::{Error, Result};
use crate::model::{AUTO_APPROVER_PREFIX, AccessRequest, Username};

/// The rule that governs requests for `profile`: the first rule that lists
/// the profile or lists no profiles. `None` when no rule covers it.
pub fn applicable_rule<'a>(policy: &'a ApprovalSection, profile: &str) -> Option<&'a ApprovalRule> {
    policy
        .rules
        .iter()
        .find(|r| r.profiles.is_empty() || r.profiles.iter().any(|p| p == profile))
}

/// Whether `approver` may approve or deny `requester`'s request for
/// `profile` under `policy`.
///
/// - The requester never decides their own request:
///   [`Error::SelfApproval`]. Both are canonical [`Username`]s, so no other
///   spelling of the same name gets around this.
/// - When a rule applies (see [`applicable_rule`]), `approver` must be in
///   its `approvers` list: otherwise [`Error::Forbidden`].
/// - When the policy has **no approval rules**, nobody may decide: who may
///   approve is something a policy says, never a default
///   ([`Error::Forbidden`]).
/// - When it has rules but **none covers the profile**, nobody may either:
///   a profile the approval rules forgot is closed, not open to everyone.
pub fn check_approver(
    policy: &ApprovalSection,
    profile: &str,
    approver: &Username,
    requester: &str,
) -> Result<()> {
    if approver.as_str() == requester {
        return Err(Error::SelfApproval {
            user: approver.to_string(),
        });
    }
    match applicable_rule(policy, profile) {
        None if policy.rules.is_empty() => Err(Error::Forbidden {
            reason: format!(
                "the policy for profile \"{profile}\" has no approval rules, so nobody may decide its requests; add an `approvals` rule that lists approvers"
            ),
        }),
        None => Err(Error::Forbidden {
            reason: format!(
                "no approval rule covers profile \"{profile}\", so nobody may decide its requests; add the profile to an `approvals` rule"
            ),
        }),
        Some(rule) if rule.approvers.iter().any(|a| a == approver.as_str()) => Ok(()),
        Some(rule) => Err(Error::Forbidden {
            reason: format!(
                "\"{approver}\" may not decide requests for profile \"{profile}\"; approval rule \"{}\" allows {}",
                rule.name,
                if rule.approvers.is_empty() {
                    "no human approvers".to_owned()
                } else {
                    rule.approvers
                        .iter()
                        .map(|a| format!("\"{a}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        }),
    }
}

/// Whether the approval of `request` still stands under `policy` (the
/// policy may have changed since it was approved): a human approver must
/// still be allowed to decide it ([`check_approver`], so never the
/// requester), and an automatic approval must still be given by the rule
/// that gave it, as of the time it was approved. A request that is not
/// approved, or whose approver is no username, does not stand.
pub fn approval_stands(policy: &ApprovalSection, request: &AccessRequest) -> bool {
    let (Some(approver), Some(at)) = (&request.approver, request.approved_at) else {
        return false;
    };
    if let Some(rule) = approver.strip_prefix(AUTO_APPROVER_PREFIX) {
        return auto_approve(
            policy,
            &request.profile,
            &request.requester,
            request.duration,
            at,
        )
        .is_some_and(|r| r.name == rule);
    }
    Username::parse(approver)
        .is_ok_and(|a| check_approver(policy, &request.profile, &a, &request.requester).is_ok())
}

/// Whether a request for `profile` lasting `duration` may be filed under
/// `policy`: the applicable rule's `max_duration` refuses longer ones with
/// [`Error::Invalid`] on `duration`. No rule, or no `max_duration`: allowed
/// (the model's own 8 h limit still applies).
pub fn check_request(policy: &ApprovalSection, profile: &str, duration: Duration) -> Result<()> {
    if let Some(rule) = applicable_rule(policy, profile)
        && let Some(max) = rule.max_duration
        && duration > max.get()
    {
        return Err(Error::invalid(
            "duration",
            format!(
                "asks for {}s but approval rule \"{}\" grants at most {}s for profile \"{profile}\"",
                duration.as_secs(),
                rule.name,
                max.get().as_secs()
            ),
        ));
    }
    Ok(())
}

/// The rule that approves `requester`'s request for `profile` lasting
/// `duration`, filed at `now`, without a human; `None` when a human must
/// decide.
///
/// Only the applicable rule (see [`applicable_rule`]) counts. It
/// auto-approves when it has `auto_approve`, the request is within the
/// rule's `max_duration`, and every condition present in `auto_approve`
/// holds: `users` lists the requester (exactly; empty means anyone),
/// `now` falls in `time` ([`TimeWindow::contains`], the same rules as a
/// policy rule's `time` condition) and
/// `duration` is at most its `max_duration`.
///
/// [`TimeWindow::contains`]: sentinel_policy::TimeWindow::contains
pub fn auto_approve<'a>(
    policy: &'a ApprovalSection,
    profile: &str,
    requester: &str,
    duration: Duration,
    now: Timestamp,
) -> Option<&'a ApprovalRule> {
    let rule = applicable_rule(policy, profile)?;
    let auto = rule.auto_approve.as_ref()?;
    if rule.max_duration.is_some_and(|m| duration > m.get()) {
        return None;
    }
    if !auto.users.is_empty() && !auto.users.iter().any(|u| u == requester) {
        return None;
    }
    if auto.max_duration.is_some_and(|m| duration > m.get()) {
        return None;
    }
    if let Some(window) = &auto.time
        && !window.contains(now)
    {
        return None;
    }
    Some(rule)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn policy(yaml_json: &str) -> ApprovalSection {
        serde_json::from_str(yaml_json).unwrap()
    }

    fn sample() -> ApprovalSection {
        policy(
            r#"{"rules": [
                {"name": "prod", "profiles": ["prod"], "approvers": ["bob", "carol"],
                 "max_duration": "2h",
                 "auto_approve": {"users": ["dave"], "max_duration": "30m",
                   "time": {"days": ["monday", "tuesday"], "hours": {"start": "09:00", "end": "17:00"},
                            "timezone": "Europe/Berlin"}}},
                {"name": "rest", "approvers": ["erin"]}
            ]}"#,
        )
    }

    fn u(s: &str) -> Username {
        Username::parse(s).unwrap()
    }

    #[test]
    fn approver_rules() {
        let p = sample();
        check_approver(&p, "prod", &u("bob"), "alice").unwrap();
        assert!(matches!(
            check_approver(&p, "prod", &u("erin"), "alice"),
            Err(Error::Forbidden { .. })
        ));
        check_approver(&p, "dev", &u("erin"), "alice").unwrap();
        assert!(matches!(
            check_approver(&p, "dev", &u("bob"), "alice"),
            Err(Error::Forbidden { .. })
        ));
        // A listed approver still never decides their own request.
        assert!(matches!(
            check_approver(&p, "prod", &u("bob"), "bob"),
            Err(Error::SelfApproval { .. })
        ));
        // Rules exist but none covers the profile: closed.
        let only_prod =
            policy(r#"{"rules": [{"name": "prod", "profiles": ["prod"], "approvers": ["bob"]}]}"#);
        assert!(matches!(
            check_approver(&only_prod, "dev", &u("bob"), "alice"),
            Err(Error::Forbidden { .. })
        ));
    }

    #[test]
    fn without_approval_rules_nobody_approves() {
        let none = ApprovalSection::default();
        let err = check_approver(&none, "prod", &u("zed"), "alice").unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{err}");
        assert!(err.to_string().contains("no approval rules"), "{err}");
    }

    fn approved(requester: &str, approver: &str, profile: &str) -> AccessRequest {
        let mut r = AccessRequest::new(
            crate::NewRequest {
                requester: u(requester),
                profile: profile.into(),
                justification: "fix the prod incident".into(),
                duration: Duration::from_secs(1200),
            },
            "2026-03-02T09:00:00Z".parse().unwrap(),
        )
        .unwrap();
        r.status = crate::RequestStatus::Approved;
        r.approver = Some(approver.into());
        r.approved_at = Some("2026-03-02T09:30:00Z".parse().unwrap());
        r
    }

    #[test]
    fn approvals_stand_only_while_the_policy_allows_them() {
        let p = sample();
        assert!(approval_stands(&p, &approved("alice", "bob", "prod")));
        // erin approves only profiles other than prod.
        assert!(!approval_stands(&p, &approved("alice", "erin", "prod")));
        // bob was removed from the approvers since.
        let later = policy(
            r#"{"rules": [{"name": "prod", "profiles": ["prod"], "approvers": ["carol"]}]}"#,
        );
        assert!(!approval_stands(&later, &approved("alice", "bob", "prod")));
        // No approvals section any more: nothing stands.
        assert!(!approval_stands(
            &ApprovalSection::default(),
            &approved("alice", "bob", "prod")
        ));
        // A record that says the requester approved it never stands.
        assert!(!approval_stands(&p, &approved("bob", "bob", "prod")));
        // Not a username at all.
        assert!(!approval_stands(&p, &approved("alice", "Bob", "prod")));
        // Automatic approvals stand while their rule still gives them:
        // dave, 20 minutes, on a Monday 10:30 Berlin time.
        assert!(approval_stands(
            &p,
            &approved("dave", "auto-approve:prod", "prod")
        ));
        assert!(!approval_stands(
            &p,
            &approved("alice", "auto-approve:prod", "prod")
        ));
        assert!(!approval_stands(
            &p,
            &approved("dave", "auto-approve:rest", "prod")
        ));
    }

    #[test]
    fn duration_rules() {
        let p = sample();
        check_request(&p, "prod", Duration::from_secs(7200)).unwrap();
        assert!(matches!(
            check_request(&p, "prod", Duration::from_secs(7201)),
            Err(Error::Invalid {
                field: "duration",
                ..
            })
        ));
        check_request(&p, "dev", Duration::from_secs(8 * 3600)).unwrap();
    }

    #[test]
    fn auto_approval() {
        let p = sample();
        // Monday 2026-03-02 10:00 in Berlin is 09:00 UTC.
        let monday_10_berlin: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let thirty = Duration::from_secs(1800);
        assert_eq!(
            auto_approve(&p, "prod", "dave", thirty, monday_10_berlin).map(|r| r.name.as_str()),
            Some("prod")
        );
        assert!(auto_approve(&p, "prod", "alice", thirty, monday_10_berlin).is_none());
        assert!(
            auto_approve(
                &p,
                "prod",
                "dave",
                Duration::from_secs(1801),
                monday_10_berlin
            )
            .is_none()
        );
        // 16:30 UTC is 17:30 in Berlin: outside the hours.
        let late: Timestamp = "2026-03-02T16:30:00Z".parse().unwrap();
        assert!(auto_approve(&p, "prod", "dave", thirty, late).is_none());
        // 07:30 UTC is 08:30 Berlin: outside; 08:30 UTC is 09:30 Berlin: inside.
        let early: Timestamp = "2026-03-02T07:30:00Z".parse().unwrap();
        assert!(auto_approve(&p, "prod", "dave", thirty, early).is_none());
        let ok: Timestamp = "2026-03-02T08:30:00Z".parse().unwrap();
        assert!(auto_approve(&p, "prod", "dave", thirty, ok).is_some());
        // Wednesday: not a listed day.
        let wednesday: Timestamp = "2026-03-04T09:00:00Z".parse().unwrap();
        assert!(auto_approve(&p, "prod", "dave", thirty, wednesday).is_none());
        // The "rest" rule has no auto_approve.
        assert!(auto_approve(&p, "dev", "dave", thirty, monday_10_berlin).is_none());
    }

    #[test]
    fn overnight_auto_approval_window_belongs_to_the_day_it_opens() {
        // The same window as rule conditions: Friday night into Saturday
        // morning, in Berlin, on the night the clocks go back.
        let p = policy(
            r#"{"rules": [
                {"name": "night", "approvers": ["bob"],
                 "auto_approve": {"time": {"days": ["saturday"],
                   "hours": {"start": "22:00", "end": "06:00"},
                   "timezone": "Europe/Berlin"}}}
            ]}"#,
        );
        let thirty = Duration::from_secs(1800);
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        // Saturday 2026-10-24 23:00 CEST.
        assert!(auto_approve(&p, "prod", "dave", thirty, at("2026-10-24T21:00:00Z")).is_some());
        // Sunday 05:30 CET, after the repeated hour: still Saturday's night.
        assert!(auto_approve(&p, "prod", "dave", thirty, at("2026-10-25T04:30:00Z")).is_some());
        // Sunday 06:00 CET: closed.
        assert!(auto_approve(&p, "prod", "dave", thirty, at("2026-10-25T05:00:00Z")).is_none());
        // Saturday 05:30 CEST is Friday's night: not listed.
        assert!(auto_approve(&p, "prod", "dave", thirty, at("2026-10-24T03:30:00Z")).is_none());
    }
}
