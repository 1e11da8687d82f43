//! What a refused caller can do next, as data.
//!
//! A [`Denial`](crate::Denial) carries a [`Remedy`] rather than advice
//! text: each frontend says it in its own words (the CLI names its
//! commands, the credential server sends [`Remedy`]'s neutral
//! [`Display`](std::fmt::Display) text and the remedy itself in its JSON).

use std::fmt;

use sentinel_policy::{Decision, DecisionEffect};
use serde::{Deserialize, Serialize};

/// The way forward after a refusal.
///
/// Serialised (in the credential server's error body) as an object with a
/// `kind` in `snake_case` and the variant's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Remedy {
    /// An approved access request would allow it: ask for one.
    RequestAccess {
        /// The profile to ask access to.
        profile: String,
    },
    /// The rule allows this profile only through a credential server
    /// (checked on every request), not as one-off credentials.
    UseServer {
        /// The profile to serve.
        profile: String,
        /// The DynamoDB table the rule wants server sessions tracked in,
        /// when it names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_table: Option<String>,
    },
    /// The server session this request belongs to is over or not the
    /// caller's: start a new one.
    NewServerSession,
    /// A revocation refuses the user; a security admin can lift it.
    LiftRevocation,
    /// The caller's configuration names another role than the policy
    /// governs the profile with.
    ConfigureRole {
        /// The profile.
        profile: String,
        /// The role the policy governs it with.
        role_arn: String,
    },
    /// The deciding rule requires server sessions tracked in this table.
    TrackSessionsIn {
        /// The DynamoDB table.
        table: String,
    },
    /// The grant (approval window, break-glass event) ends too soon: a new
    /// one is needed.
    NewGrant,
}

impl Remedy {
    /// What could turn the refusal `decision` of `profile` into a grant,
    /// by the decision alone: an approved request where one can override
    /// it, the credential server where the rule allows only that. `None`
    /// for an allow and for a denial nothing overrides.
    pub fn for_decision(decision: &Decision, profile: &str) -> Option<Remedy> {
        if decision.is_allowed() {
            None
        } else if decision.approval_can_override() {
            Some(Remedy::RequestAccess {
                profile: profile.to_owned(),
            })
        } else if decision.effect == DecisionEffect::Deny && decision.requires_server {
            Some(Remedy::UseServer {
                profile: profile.to_owned(),
                session_table: decision
                    .requires_server_session
                    .then(|| decision.session_table.as_deref().map(str::to_owned))
                    .flatten(),
            })
        } else {
            None
        }
    }
}

/// Neutral advice, naming no frontend's commands.
impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remedy::RequestAccess { profile } => {
                write!(
                    f,
                    "request access to profile \"{profile}\" and have it approved"
                )
            }
            Remedy::UseServer {
                profile,
                session_table,
            } => {
                write!(
                    f,
                    "profile \"{profile}\" is served only by a credential server that checks every request"
                )?;
                match session_table {
                    Some(table) => write!(f, ", with its sessions tracked in table \"{table}\""),
                    None => Ok(()),
                }
            }
            Remedy::NewServerSession => f.write_str("start a new server session"),
            Remedy::LiftRevocation => f.write_str("ask a security admin to lift the revocation"),
            Remedy::ConfigureRole { profile, role_arn } => write!(
                f,
                "set role_arn = {role_arn} for profile \"{profile}\" in the AWS config"
            ),
            Remedy::TrackSessionsIn { table } => {
                write!(f, "track server sessions in table \"{table}\"")
            }
            Remedy::NewGrant => f.write_str("ask for a new approval or break-glass event"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn remedies_round_trip_as_tagged_json() {
        let r = Remedy::RequestAccess {
            profile: "prod".into(),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"kind":"request_access","profile":"prod"}"#);
        assert_eq!(serde_json::from_str::<Remedy>(&json).unwrap(), r);
        let json = serde_json::to_string(&Remedy::NewServerSession).unwrap();
        assert_eq!(json, r#"{"kind":"new_server_session"}"#);
    }

    #[test]
    fn neutral_text_names_no_command() {
        for r in [
            Remedy::RequestAccess {
                profile: "prod".into(),
            },
            Remedy::UseServer {
                profile: "prod".into(),
                session_table: Some("sessions".into()),
            },
            Remedy::NewServerSession,
            Remedy::LiftRevocation,
            Remedy::ConfigureRole {
                profile: "prod".into(),
                role_arn: "arn:aws:iam::123456789012:role/Prod".into(),
            },
            Remedy::TrackSessionsIn { table: "t".into() },
            Remedy::NewGrant,
        ] {
            let text = r.to_string();
            assert!(!text.contains("sentinel") && !text.contains("--"), "{text}");
        }
    }
}
