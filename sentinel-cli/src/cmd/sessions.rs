//! `sentinel server-sessions|server-session|server-revoke|server-lift`.

use std::process::ExitCode;

use clap::Args;
use jiff::Timestamp;
use sentinel_session::{
    Error, ServerSession, SessionQuery, SessionStatus, SessionStoreExt, UserRevocation,
};

use sentinel_policy::Username;

use crate::context::Context;
use crate::output::{self, CliError, CliResult, Record};

const STATUSES: &str = "active, revoked, expired";

/// `sentinel server-sessions`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only sessions of this user.
    #[arg(long)]
    user: Option<Username>,
    /// Only sessions with this status.
    #[arg(long, value_parser = super::one_of(SessionStatus::parse, STATUSES))]
    status: Option<SessionStatus>,
    /// Only sessions for this profile.
    #[arg(long)]
    profile: Option<String>,
    /// At most this many sessions (newest first).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `sentinel server-session`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Session id.
    id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `sentinel server-revoke ID --reason R` or
/// `sentinel server-revoke --user U [--profile P] --reason R`
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["id", "user"]))]
pub struct RevokeArgs {
    /// Session id to revoke.
    #[arg(conflicts_with_all = ["user", "profile"])]
    id: Option<String>,
    /// Revoke every session of this user and refuse new ones (kill switch).
    #[arg(long)]
    user: Option<Username>,
    /// With --user: only this profile.
    #[arg(long, requires = "user")]
    profile: Option<String>,
    /// Why (recorded with the revocation).
    #[arg(long)]
    reason: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `sentinel server-lift --user U [--profile P]`
#[derive(Debug, Args)]
pub struct LiftArgs {
    /// The user whose revocation ends.
    #[arg(long)]
    user: Username,
    /// The profile the revocation covers; without it, the revocation of
    /// every profile.
    #[arg(long)]
    profile: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// How errors speak of server sessions.
const SESSIONS: output::RecordCommands = output::RecordCommands {
    record: "server session",
    list_hint: "list sessions with `sentinel server-sessions`",
    show_hint: "see the session with `sentinel server-session ID`",
    flags: &[],
};

fn fail(e: Error) -> CliError {
    match e {
        Error::RevocationNotFound { .. } => CliError::error(e)
            .hint("a revocation of every profile is lifted without --profile, one of a single profile with it"),
        e => output::store_failed(&e, e.kind(), &SESSIONS),
    }
}

fn show(s: &ServerSession, json: bool) -> CliResult<()> {
    if json {
        return output::print_json(s);
    }
    let now = Timestamp::now();
    let record = Record::new()
        .field("id", &s.id)
        .field("status", s.status_at(now))
        .field("user", &s.user)
        .field("profile", &s.profile)
        .field("server instance", &s.server_instance_id)
        .opt("source identity", s.source_identity.as_deref())
        .field("started", output::time(s.started_at, now))
        .field("last access", output::time(s.last_access_at, now))
        .field("expires", output::time(s.expires_at, now))
        .field("requests", s.request_count)
        .opt("revoked by", s.revoked_by.as_deref())
        .opt("revoke reason", s.revoked_reason.as_deref());
    output::print(&record.render())
}

/// `sentinel server-sessions`
pub async fn list(ctx: &Context, args: &ListArgs) -> CliResult {
    let store = ctx.sessions().await?;
    let mut query = SessionQuery::all();
    query.user = args.user.as_ref().map(ToString::to_string);
    query.status = args.status;
    query.profile.clone_from(&args.profile);
    let headers = [
        "ID",
        "STATUS",
        "USER",
        "PROFILE",
        "STARTED",
        "LAST ACCESS",
        "REQUESTS",
    ];
    let page = async |size, after| {
        let query = query.clone().limit(size).after(after);
        let page = store.list(&query).await.map_err(fail)?;
        Ok((page.sessions, page.next_page_token))
    };
    output::list(
        args.limit,
        args.json,
        "server sessions",
        &headers,
        page,
        |s, now| {
            vec![
                s.id.clone(),
                s.status_at(now).to_string(),
                s.user.clone(),
                s.profile.clone(),
                output::short_time(s.started_at),
                output::short_time(s.last_access_at),
                s.request_count.to_string(),
            ]
        },
    )
    .await
}

/// `sentinel server-session`
pub async fn show_one(ctx: &Context, args: &ShowArgs) -> CliResult {
    let store = ctx.sessions().await?;
    let s = store.get(&args.id).await.map_err(fail)?;
    show(&s, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// `sentinel server-revoke`
pub async fn revoke(ctx: &Context, args: &RevokeArgs) -> CliResult {
    let caller = ctx.caller().await?;
    let policies = ctx.policy_store().await;
    let store = ctx.sessions().await?;
    match (&args.id, &args.user) {
        (Some(id), _) => {
            let s = store.get(id).await.map_err(fail)?;
            let by = sentinel_vend::authority::may_revoke_session(&*policies, &caller, &s)
                .await
                .map_err(crate::vending::failed)?;
            let s = store.revoke(id, &by, &args.reason).await.map_err(fail)?;
            show(&s, args.json)?;
        }
        (None, Some(user)) => {
            if let Some(p) = &args.profile {
                sentinel_policy::check_profile_name(p).map_err(CliError::error)?;
            }
            let by = sentinel_vend::authority::may_revoke_user(
                &*policies,
                &caller,
                user,
                args.profile.as_deref(),
            )
            .await
            .map_err(crate::vending::failed)?;
            let revocation = UserRevocation::new(
                user,
                args.profile.as_deref(),
                &by,
                &args.reason,
                Timestamp::now(),
                None,
            )
            .map_err(fail)?;
            let report = store.revoke_user(&revocation).await.map_err(fail)?;
            if args.json {
                output::print_json(&serde_json::json!({
                    "revocation": report.revocation,
                    "revoked_sessions": report.revoked,
                }))?;
            } else {
                let scope = args
                    .profile
                    .as_deref()
                    .map(|p| format!(" on profile \"{p}\""))
                    .unwrap_or_default();
                let n = report.revoked.len();
                let lift = match &args.profile {
                    Some(p) => format!("sentinel server-lift --user {user} --profile {p}"),
                    None => format!("sentinel server-lift --user {user}"),
                };
                let mut text = format!(
                    "revoked {n} session{} of \"{user}\"{scope}; new credentials are refused until the revocation is lifted with `{lift}`\n",
                    if n == 1 { "" } else { "s" }
                );
                for id in &report.revoked {
                    text.push_str(&format!("  {id}\n"));
                }
                output::print(&text)?;
            }
        }
        (None, None) => {
            return Err(CliError::error("say what to revoke: a session ID or --user USER")
                .hint("sentinel server-revoke ID --reason R, or sentinel server-revoke --user U --reason R"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sentinel server-lift`: ends a user revocation (the kill switch), so
/// the user may get credentials again. Admins only, like the revocation.
pub async fn lift(ctx: &Context, args: &LiftArgs) -> CliResult {
    if let Some(p) = &args.profile {
        sentinel_policy::check_profile_name(p).map_err(CliError::error)?;
    }
    let caller = ctx.caller().await?;
    let policies = ctx.policy_store().await;
    let by = sentinel_vend::authority::may_revoke_user(
        &*policies,
        &caller,
        &args.user,
        args.profile.as_deref(),
    )
    .await
    .map_err(crate::vending::failed)?;
    let store = ctx.sessions().await?;
    store
        .lift_user_revocation(&args.user, args.profile.as_deref())
        .await
        .map_err(fail)?;
    let scope = args
        .profile
        .as_deref()
        .map(|p| format!("profile \"{p}\""))
        .unwrap_or_else(|| "every profile".to_owned());
    if args.json {
        output::print_json(&serde_json::json!({
            "user": args.user,
            "profile": args.profile,
            "lifted_by": by,
        }))?;
    } else {
        output::print(&format!(
            "lifted the revocation of \"{}\" on {scope}; sessions revoked earlier stay revoked\n",
            args.user
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
