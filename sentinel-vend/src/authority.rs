//! Who may act on whom: the checks behind approvals and administrative
//! actions, shared by every frontend.
//!
//! The actor is always a [`Caller`] (a principal from a source the caller
//! cannot choose), identified by the policy of the profile the action
//! concerns ([`CompiledPolicy::identify`]). Then:
//!
//! | action                                   | who may                                            |
//! |------------------------------------------|----------------------------------------------------|
//! | approve or deny an access request        | an approver of the profile's `approvals` rule, never the requester ([`may_decide`]) |
//! | revoke a server session                  | its owner, or an admin of its profile ([`may_revoke_session`]) |
//! | close a break-glass event                | its invoker, or an admin of its profile ([`may_close_breakglass`]) |
//! | revoke a user (kill switch) or lift it   | an admin of the profile, or of every profile when it covers all ([`may_revoke_user`]) |
//!
//! Admins are the policy's `admins` list ([`CompiledPolicy::is_admin`]).
//! Every refusal is [`Error::Forbidden`] with the reason; a policy that
//! cannot be loaded is its own error. Nothing here fails open.

use std::sync::Arc;

use sentinel_approval::AccessRequest;
use sentinel_breakglass::BreakGlassEvent;
use sentinel_policy::{CompiledPolicy, PolicyStore, Username};
use sentinel_session::ServerSession;

use crate::error::{Error, Result};
use crate::pipeline::Caller;

/// A caller identified under one profile's policy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Actor {
    /// Who the policy says the caller is.
    pub user: Username,
    /// The policy that said so.
    pub policy: Arc<CompiledPolicy>,
}

/// Identifies `caller` under the policy of `profile`: [`Error::Forbidden`]
/// when the policy names nobody for the caller's principal.
pub async fn identify(policies: &dyn PolicyStore, caller: &Caller, profile: &str) -> Result<Actor> {
    let policy = policies.get(profile).await?;
    let identity = policy
        .identify(&caller.principal)
        .map_err(|e| Error::Forbidden(e.to_string()))?;
    Ok(Actor {
        user: identity.username,
        policy,
    })
}

/// The profiles a profile-less action covers: every profile the policy
/// store knows. A single policy file that names no profile governs them
/// all, so it is asked for as `default`.
pub async fn all_profiles(policies: &dyn PolicyStore) -> Result<Vec<String>> {
    let mut profiles = policies.list().await?;
    if profiles.is_empty() {
        profiles.push("default".to_owned());
    }
    Ok(profiles)
}

/// `caller` as an admin of every profile in `profiles`: identified as the
/// same user under each policy and listed in each one's `admins`.
pub async fn admin_of(
    policies: &dyn PolicyStore,
    caller: &Caller,
    profiles: &[String],
    what: &str,
) -> Result<Username> {
    let mut user: Option<Username> = None;
    for profile in profiles {
        let actor = identify(policies, caller, profile).await?;
        if let Some(u) = &user
            && *u != actor.user
        {
            return Err(Error::Forbidden(format!(
                "{} is \"{u}\" under one policy and \"{}\" under the policy of profile \"{profile}\"; {what} needs one identity across the profiles it covers",
                caller.arn(),
                actor.user
            )));
        }
        if !actor.policy.is_admin(&actor.user) {
            return Err(Error::Forbidden(format!(
                "\"{}\" may not {what}: only the security admins listed in `admins` of the policy for profile \"{profile}\" may",
                actor.user
            )));
        }
        user = Some(actor.user);
    }
    user.ok_or_else(|| Error::Forbidden(format!("{what} covers no profile")))
}

/// Who is deciding `request`: an approver under the current policy of its
/// profile, never its requester.
pub async fn may_decide(
    policies: &dyn PolicyStore,
    caller: &Caller,
    request: &AccessRequest,
) -> Result<Username> {
    let actor = identify(policies, caller, &request.profile).await?;
    let none = sentinel_policy::ApprovalSection::default();
    let approvals = actor.policy.document().approvals.as_ref().unwrap_or(&none);
    sentinel_approval::check_approver(
        approvals,
        &request.profile,
        &actor.user,
        &request.requester,
    )?;
    Ok(actor.user)
}

/// Who is revoking `session`: its owner, or an admin of its profile.
pub async fn may_revoke_session(
    policies: &dyn PolicyStore,
    caller: &Caller,
    session: &ServerSession,
) -> Result<Username> {
    owner_or_admin(
        policies,
        caller,
        &session.profile,
        &session.user,
        &format!(
            "revoke server session {} of \"{}\"",
            session.id, session.user
        ),
    )
    .await
}

/// Who is closing `event`: its invoker, or an admin of its profile.
pub async fn may_close_breakglass(
    policies: &dyn PolicyStore,
    caller: &Caller,
    event: &BreakGlassEvent,
) -> Result<Username> {
    owner_or_admin(
        policies,
        caller,
        &event.profile,
        &event.invoker,
        &format!(
            "close break-glass event {} of \"{}\"",
            event.id, event.invoker
        ),
    )
    .await
}

/// Who is revoking `user` (or lifting their revocation) on `profile`, or on
/// every profile when `None`: an admin of each profile covered.
pub async fn may_revoke_user(
    policies: &dyn PolicyStore,
    caller: &Caller,
    user: &Username,
    profile: Option<&str>,
) -> Result<Username> {
    let (profiles, scope) = match profile {
        Some(p) => (vec![p.to_owned()], format!("on profile \"{p}\"")),
        None => (all_profiles(policies).await?, "on every profile".to_owned()),
    };
    admin_of(
        policies,
        caller,
        &profiles,
        &format!("revoke or restore the access of \"{user}\" {scope}"),
    )
    .await
}

async fn owner_or_admin(
    policies: &dyn PolicyStore,
    caller: &Caller,
    profile: &str,
    owner: &str,
    what: &str,
) -> Result<Username> {
    let actor = identify(policies, caller, profile).await?;
    if actor.user.as_str() == owner || actor.policy.is_admin(&actor.user) {
        return Ok(actor.user);
    }
    Err(Error::Forbidden(format!(
        "\"{}\" may not {what}: only the owner or a security admin listed in `admins` of the policy for profile \"{profile}\" may",
        actor.user
    )))
}
