//! The policy's `breakglass` and `rate_limits` sections: who may invoke
//! break-glass for which profiles and reasons, and how often.

use std::time::Duration;

use jiff::Timestamp;
use sentinel_policy::{BreakGlassRule, PolicyDocument, RateLimitRule, RateLimitSection};

use crate::error::{Error, Result};
use crate::model::{BreakGlassEvent, NewBreakGlass, add, sub};

/// The window escalation counts in when a rule sets a threshold but no
/// `quota_window`.
pub const DEFAULT_ESCALATION_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Whether `policy` lets `new.invoker` invoke break-glass for
/// `new.profile` with this reason code and duration, and under which rule.
///
/// The first `breakglass` rule that lists the user (exactly, as in the
/// policy's other `users` lists) and the profile (or lists no profiles)
/// decides. No rules at all means nobody may: break-glass is never open to
/// everyone. A reason code the rule does not list, or a duration over its
/// `max_duration`, is refused rather than silently adjusted.
pub fn authorize<'a>(
    policy: &'a PolicyDocument,
    new: &NewBreakGlass,
) -> Result<&'a BreakGlassRule> {
    let rules = policy
        .breakglass
        .as_ref()
        .map(|s| s.rules.as_slice())
        .unwrap_or_default();
    if rules.is_empty() {
        return Err(Error::Forbidden {
            reason: "the policy has no `breakglass` rules, so nobody may invoke break-glass; add a rule listing who may, for which profiles".into(),
        });
    }
    let rule = rules
        .iter()
        .find(|r| {
            r.users.iter().any(|u| *u == *new.invoker)
                && (r.profiles.is_empty() || r.profiles.contains(&new.profile))
        })
        .ok_or_else(|| Error::Forbidden {
            reason: format!(
                "no `breakglass` rule lets \"{}\" invoke break-glass for profile \"{}\"; ask a policy owner to add you to a rule",
                new.invoker, new.profile
            ),
        })?;
    if !rule.reason_codes.is_empty() && !rule.reason_codes.contains(&new.reason_code) {
        return Err(Error::Forbidden {
            reason: format!(
                "break-glass rule \"{}\" does not accept reason code \"{}\"; it accepts {}",
                rule.name,
                new.reason_code,
                rule.reason_codes
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if let Some(max) = rule.max_duration
        && new.duration > max.get()
    {
        return Err(Error::invalid(
            "duration",
            format!(
                "is {}s; break-glass rule \"{}\" allows at most {max} ({}s)",
                new.duration.as_secs(),
                rule.name,
                max.get().as_secs()
            ),
        ));
    }
    Ok(rule)
}

/// The rate limits that apply to one profile, resolved from the policy's
/// `rate_limits` section. [`RateLimits::none`] limits nothing (the
/// one-active-event rule still holds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimits {
    /// The rule they come from.
    pub rule: Option<String>,
    /// Minimum time between two events of one user on the profile.
    pub cooldown: Option<Duration>,
    /// Most events of one user on the profile within `window`.
    pub max_per_user: Option<u32>,
    /// Most events on the profile (all users) within `window`.
    pub max_per_profile: Option<u32>,
    /// The window quotas count in.
    pub window: Option<Duration>,
    /// From this many events of one user within the window (this one
    /// included) the event is escalated.
    pub escalation_threshold: Option<u32>,
}

impl RateLimits {
    /// No limits.
    pub fn none() -> Self {
        Self::default()
    }

    /// The limits of the first `rate_limits` rule that lists `profile` or
    /// lists no profiles; none when no rule applies.
    pub fn for_profile(section: Option<&RateLimitSection>, profile: &str) -> Self {
        section
            .and_then(|s| {
                s.rules
                    .iter()
                    .find(|r| r.profiles.is_empty() || r.profiles.iter().any(|p| p == profile))
            })
            .map(Self::from_rule)
            .unwrap_or_default()
    }

    /// The limits one rule sets.
    pub fn from_rule(rule: &RateLimitRule) -> Self {
        Self {
            rule: Some(rule.name.clone()),
            cooldown: rule.cooldown.map(|d| d.get()),
            max_per_user: rule.max_per_user,
            max_per_profile: rule.max_per_profile,
            window: rule.quota_window.map(|d| d.get()),
            escalation_threshold: rule.escalation_threshold,
        }
    }

    /// Sets the cooldown.
    #[must_use]
    pub fn with_cooldown(mut self, d: Duration) -> Self {
        self.cooldown = Some(d);
        self
    }

    /// Sets the quotas and their window.
    #[must_use]
    pub fn with_quotas(
        mut self,
        per_user: Option<u32>,
        per_profile: Option<u32>,
        window: Duration,
    ) -> Self {
        self.max_per_user = per_user;
        self.max_per_profile = per_profile;
        self.window = Some(window);
        self
    }

    /// Sets the escalation threshold.
    #[must_use]
    pub fn with_escalation(mut self, threshold: u32) -> Self {
        self.escalation_threshold = Some(threshold);
        self
    }

    fn name(&self) -> String {
        self.rule.clone().unwrap_or_else(|| "(unnamed)".into())
    }

    fn escalation_window(&self) -> Duration {
        self.window.unwrap_or(DEFAULT_ESCALATION_WINDOW)
    }

    /// How far back events matter to these limits. Backends load at least
    /// the events created since `now - lookback()` plus every active one.
    pub fn lookback(&self) -> Duration {
        let mut d = Duration::ZERO;
        for x in [self.cooldown, self.window] {
            d = d.max(x.unwrap_or_default());
        }
        if self.escalation_threshold.is_some() {
            d = d.max(self.escalation_window());
        }
        d
    }

    /// Checks a new event of `invoker` on a profile against `recent`, the
    /// profile's events (at least those within [`lookback`](Self::lookback)
    /// and every active one). Returns whether the event is escalated.
    ///
    /// In order: an active event of the same user on the profile is a
    /// [`Error::Conflict`]; then cooldown, per-user and per-profile quotas
    /// are [`Error::RateLimited`] with the time the limit lifts.
    pub fn check(&self, invoker: &str, recent: &[Recent], now: Timestamp) -> Result<bool> {
        let mine: Vec<&Recent> = recent.iter().filter(|r| r.invoker == invoker).collect();
        if let Some(active) = mine.iter().find(|r| r.ends_at > now) {
            return Err(Error::Conflict {
                id: active.id.clone(),
                what: format!(
                    "is already active for \"{invoker}\" on this profile until {}; use it, or close it before invoking again",
                    active.ends_at
                ),
            });
        }
        if let Some(cooldown) = self.cooldown
            && let Some(last) = mine.iter().map(|r| r.created_at).max()
            && add(last, cooldown) > now
        {
            return Err(Error::RateLimited {
                rule: self.name(),
                reason: format!(
                    "cooldown of {}s since the last event of \"{invoker}\" on this profile",
                    cooldown.as_secs()
                ),
                retry_at: Some(add(last, cooldown)),
            });
        }
        let in_window =
            |window: Duration, events: &mut dyn Iterator<Item = &Recent>| -> Vec<Timestamp> {
                let since = sub(now, window);
                let mut v: Vec<Timestamp> = events
                    .map(|r| r.created_at)
                    .filter(|t| *t > since)
                    .collect();
                v.sort();
                v
            };
        if let Some(window) = self.window {
            for (max, events, whose) in [
                (
                    self.max_per_user,
                    in_window(window, &mut mine.iter().copied()),
                    format!("\"{invoker}\""),
                ),
                (
                    self.max_per_profile,
                    in_window(window, &mut recent.iter()),
                    "all users".to_owned(),
                ),
            ] {
                let Some(max) = max else { continue };
                let count = events.len();
                if count >= max as usize {
                    // The limit lifts when enough of the counted events age out.
                    let retry_at = events.get(count - max as usize).map(|t| add(*t, window));
                    return Err(Error::RateLimited {
                        rule: self.name(),
                        reason: format!(
                            "{count} events by {whose} on this profile within {}s; at most {max}",
                            window.as_secs()
                        ),
                        retry_at,
                    });
                }
            }
        }
        let escalated = self.escalation_threshold.is_some_and(|t| {
            let count = in_window(self.escalation_window(), &mut mine.iter().copied()).len() + 1;
            count >= t as usize
        });
        Ok(escalated)
    }
}

/// What the limits need to know of one earlier event on the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recent {
    /// Its id.
    pub id: String,
    /// Who invoked it.
    pub invoker: String,
    /// When.
    pub created_at: Timestamp,
    /// When its access ended or ends (close time or expiry).
    pub ends_at: Timestamp,
}

impl From<&BreakGlassEvent> for Recent {
    fn from(e: &BreakGlassEvent) -> Self {
        Self {
            id: e.id.clone(),
            invoker: e.invoker.clone(),
            created_at: e.created_at,
            ends_at: e.ends_at(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use sentinel_policy::ReasonCode;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn recent(id: &str, who: &str, created: &str, ends: &str) -> Recent {
        Recent {
            id: id.into(),
            invoker: who.into(),
            created_at: at(created),
            ends_at: at(ends),
        }
    }

    fn policy(yaml: &str) -> PolicyDocument {
        sentinel_policy::CompiledPolicy::parse(yaml, "test.yaml")
            .unwrap()
            .document()
            .clone()
    }

    fn new(user: &str, profile: &str, code: ReasonCode, secs: u64) -> NewBreakGlass {
        NewBreakGlass {
            invoker: crate::model::Username::parse(user).unwrap(),
            profile: profile.into(),
            reason_code: code,
            justification: "database primary is down, failing over".into(),
            duration: Duration::from_secs(secs),
        }
    }

    const POLICY: &str = r"
version: '1'
rules:
  - name: nobody
    effect: deny
    conditions: {}
breakglass:
  rules:
    - name: oncall-prod
      profiles: [prod]
      users: [alice]
      reason_codes: [incident, security]
      max_duration: 1h
    - name: sre-anywhere
      users: [bob]
";

    #[test]
    fn authorizes_by_user_profile_code_and_duration() {
        let p = policy(POLICY);
        assert_eq!(
            authorize(&p, &new("alice", "prod", ReasonCode::Incident, 3600))
                .unwrap()
                .name,
            "oncall-prod"
        );
        assert_eq!(
            authorize(&p, &new("bob", "dev", ReasonCode::Other, 14_400))
                .unwrap()
                .name,
            "sre-anywhere"
        );
        let e = authorize(&p, &new("alice", "prod", ReasonCode::Maintenance, 600))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not accept reason code \"maintenance\"")
                && e.contains("incident, security"),
            "{e}"
        );
        assert!(matches!(
            authorize(&p, &new("alice", "prod", ReasonCode::Incident, 3601)),
            Err(Error::Invalid {
                field: "duration",
                ..
            })
        ));
        assert!(matches!(
            authorize(&p, &new("alice", "dev", ReasonCode::Incident, 60)),
            Err(Error::Forbidden { .. })
        ));
        assert!(matches!(
            authorize(&p, &new("mallory", "prod", ReasonCode::Incident, 60)),
            Err(Error::Forbidden { .. })
        ));
        let none =
            policy("version: '1'\nrules:\n  - name: all\n    effect: allow\n    conditions: {}\n");
        let e = authorize(&none, &new("alice", "prod", ReasonCode::Incident, 60))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `breakglass` rules"), "{e}");
    }

    #[test]
    fn resolves_the_first_rule_for_a_profile() {
        let p = policy(
            r"
version: '1'
rules:
  - name: all
    effect: allow
    conditions: {}
rate_limits:
  rules:
    - name: prod
      profiles: [prod]
      cooldown: 30m
      max_per_user: 2
      quota_window: 24h
    - name: default
      max_per_profile: 10
      quota_window: 1h
",
        );
        let prod = RateLimits::for_profile(p.rate_limits.as_ref(), "prod");
        assert_eq!(prod.rule.as_deref(), Some("prod"));
        assert_eq!(prod.cooldown, Some(Duration::from_secs(1800)));
        assert_eq!(prod.lookback(), Duration::from_secs(86_400));
        let dev = RateLimits::for_profile(p.rate_limits.as_ref(), "dev");
        assert_eq!(dev.max_per_profile, Some(10));
        assert_eq!(RateLimits::for_profile(None, "dev"), RateLimits::none());
    }

    #[test]
    fn one_active_event_per_user_and_profile() {
        let r = [recent(
            "e1",
            "alice",
            "2026-03-02T08:30:00Z",
            "2026-03-02T09:30:00Z",
        )];
        let now = at("2026-03-02T09:00:00Z");
        let e = RateLimits::none().check("alice", &r, now).unwrap_err();
        assert!(
            matches!(e, Error::Conflict { ref id, .. } if id == "e1"),
            "{e}"
        );
        assert!(!RateLimits::none().check("bob", &r, now).unwrap());
        assert!(
            !RateLimits::none()
                .check("alice", &r, at("2026-03-02T09:30:00Z"))
                .unwrap()
        );
    }

    #[test]
    fn cooldown_and_quotas() {
        let now = at("2026-03-02T12:00:00Z");
        let r = [
            recent(
                "e1",
                "alice",
                "2026-03-02T11:00:00Z",
                "2026-03-02T11:10:00Z",
            ),
            recent(
                "e2",
                "alice",
                "2026-03-02T08:00:00Z",
                "2026-03-02T08:10:00Z",
            ),
            recent("e3", "bob", "2026-03-02T10:00:00Z", "2026-03-02T10:10:00Z"),
        ];
        let cool = RateLimits::none().with_cooldown(Duration::from_secs(7200));
        match cool.check("alice", &r, now) {
            Err(Error::RateLimited { retry_at, .. }) => {
                assert_eq!(retry_at, Some(at("2026-03-02T13:00:00Z")))
            }
            other => panic!("{other:?}"),
        }
        assert!(cool.check("bob", &r, now).is_ok());

        let per_user = RateLimits::none().with_quotas(Some(2), None, Duration::from_secs(86_400));
        match per_user.check("alice", &r, now) {
            Err(Error::RateLimited {
                retry_at, reason, ..
            }) => {
                assert_eq!(retry_at, Some(at("2026-03-03T08:00:00Z")));
                assert!(reason.contains("2 events by \"alice\""), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(per_user.check("bob", &r, now).is_ok());
        let short = RateLimits::none().with_quotas(Some(2), None, Duration::from_secs(3 * 3600));
        assert!(
            short.check("alice", &r, now).is_ok(),
            "e2 is outside a 3h window"
        );

        let per_profile =
            RateLimits::none().with_quotas(None, Some(3), Duration::from_secs(86_400));
        assert!(matches!(
            per_profile.check("carol", &r, now),
            Err(Error::RateLimited { .. })
        ));
    }

    #[test]
    fn escalation_counts_this_event() {
        let now = at("2026-03-02T12:00:00Z");
        let r = [recent(
            "e1",
            "alice",
            "2026-03-02T11:00:00Z",
            "2026-03-02T11:10:00Z",
        )];
        let esc = RateLimits::none().with_escalation(2);
        assert!(esc.check("alice", &r, now).unwrap());
        assert!(!esc.check("bob", &r, now).unwrap());
        assert!(
            !RateLimits::none()
                .with_escalation(3)
                .check("alice", &r, now)
                .unwrap()
        );
    }
}
