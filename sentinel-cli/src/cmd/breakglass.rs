//! `sentinel breakglass|breakglass-list|breakglass-check|breakglass-close`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use jiff::Timestamp;
use sentinel_breakglass::{
    BreakGlassEvent, BreakGlassQuery, BreakGlassStatus, Error, Invocation, NewBreakGlass,
    ReasonCode,
};

use crate::context::Context;
use crate::output::{self, CliError, CliResult, Record};

/// `sentinel breakglass`
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// AWS profile to open emergency access to.
    #[arg(long)]
    profile: String,
    /// Why: incident, maintenance, security, recovery or other.
    #[arg(long, value_parser = parse_reason_code)]
    reason_code: ReasonCode,
    /// What is broken and why normal access is not enough (20–1000 characters).
    #[arg(long)]
    justification: String,
    /// How long access stays open, e.g. `1h`, `30m` (at most 4h and the rule's maximum).
    #[arg(long, value_parser = super::parse_duration, default_value = "1h")]
    duration: Duration,
    /// Print the event as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_reason_code(s: &str) -> Result<ReasonCode, String> {
    sentinel_breakglass::parse_reason_code(s).map_err(|_| {
        format!("\"{s}\" is not one of incident, maintenance, security, recovery, other")
    })
}

const STATUSES: &str = "active, closed, expired";

/// `sentinel breakglass-list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only events with this status.
    #[arg(long, value_parser = super::one_of(BreakGlassStatus::parse, STATUSES))]
    status: Option<BreakGlassStatus>,
    /// Only events invoked by this user.
    #[arg(long)]
    invoker: Option<sentinel_policy::Username>,
    /// Only events for this profile.
    #[arg(long)]
    profile: Option<String>,
    /// Only events still open at or after this time (RFC 3339, or a duration
    /// ago such as `24h`).
    #[arg(long, value_parser = super::parse_time, value_name = "TIME")]
    since: Option<Timestamp>,
    /// Only events that started before this time (RFC 3339, or a duration ago).
    #[arg(long, value_parser = super::parse_time, value_name = "TIME")]
    until: Option<Timestamp>,
    /// At most this many events (newest first).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `sentinel breakglass-check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Event id.
    id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `sentinel breakglass-close`
#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Event id.
    id: String,
    /// Why access is no longer needed.
    #[arg(long)]
    reason: String,
    /// Print the event as JSON.
    #[arg(long)]
    json: bool,
}

/// How errors speak of break-glass events.
const EVENTS: output::RecordCommands = output::RecordCommands {
    record: "break-glass event",
    list_hint: "list events with `sentinel breakglass-list`",
    show_hint: "see the event with `sentinel breakglass-check ID`",
    flags: &[
        ("justification", "--justification"),
        ("duration", "--duration"),
        ("reason", "--reason"),
        ("profile", "--profile"),
        ("reason_code", "--reason-code"),
    ],
};

/// Maps a break-glass error to an exit code and a hint.
fn fail(e: Error) -> CliError {
    match e {
        Error::Forbidden { .. } | Error::RateLimited { .. } => CliError::denied(e),
        e => output::store_failed(&e, e.kind(), &EVENTS),
    }
}

fn show(e: &BreakGlassEvent, json: bool) -> CliResult<()> {
    if json {
        return output::print_json(e);
    }
    let now = Timestamp::now();
    let active = e.is_active(now);
    let record = Record::new()
        .field("id", &e.id)
        .field("status", e.status_at(now))
        .field("invoker", &e.invoker)
        .field("profile", &e.profile)
        .field("reason code", e.reason_code)
        .field("justification", &e.justification)
        .field("duration", output::duration(e.duration))
        .field("started", output::time(e.created_at, now))
        .field(
            if active { "ends" } else { "ended" },
            output::time(e.ends_at(), now),
        )
        .opt("closed by", e.closed_by.as_deref())
        .opt("close reason", e.close_reason.as_deref())
        .opt("rule", e.rule.as_deref())
        .field("escalated", if e.escalated { "yes" } else { "no" });
    output::print(&record.render())
}

/// `sentinel breakglass`
pub async fn invoke(ctx: &Context, args: &InvokeArgs) -> CliResult {
    sentinel_policy::check_profile_name(&args.profile).map_err(CliError::error)?;
    let actor = ctx.actor(&args.profile).await?;
    let invocation = Invocation::authorize(
        actor.policy.document(),
        NewBreakGlass {
            invoker: actor.user,
            profile: args.profile.clone(),
            reason_code: args.reason_code,
            justification: args.justification.clone(),
            duration: args.duration,
        },
    )
    .map_err(fail)?;
    let store = ctx.breakglass().await?;
    let event = store.store.invoke(&invocation).await.map_err(|e| match e {
        // An event of yours is already active on this profile: refused.
        Error::Conflict { .. } => CliError::denied(e)
            .hint("see it with `sentinel breakglass-list --status active`; close it first to invoke again"),
        e => fail(e),
    })?;
    store.sweep().await;
    show(&event, args.json)?;
    if !args.json {
        eprintln!(
            "sentinel: break-glass is active; close it when done: sentinel breakglass-close {} --reason \"...\"",
            event.id
        );
        if event.escalated {
            eprintln!(
                "sentinel: this invocation crossed the escalation threshold and was escalated"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sentinel breakglass-list`
pub async fn list(ctx: &Context, args: &ListArgs) -> CliResult {
    let store = ctx.breakglass().await?;
    let mut query = BreakGlassQuery::all();
    query.invoker = args.invoker.as_ref().map(ToString::to_string);
    query.status = args.status;
    query.profile.clone_from(&args.profile);
    query.from = args.since;
    query.to = args.until;
    let headers = [
        "ID",
        "STATUS",
        "INVOKER",
        "PROFILE",
        "REASON",
        "STARTED",
        "ENDS",
        "ESCALATED",
    ];
    let page = async |size, after| {
        let query = query.clone().limit(size).after(after);
        let page = store.store.list(&query).await.map_err(fail)?;
        Ok((page.events, page.next_page_token))
    };
    output::list(
        args.limit,
        args.json,
        "break-glass events",
        &headers,
        page,
        |e, now| {
            vec![
                e.id.clone(),
                e.status_at(now).to_string(),
                e.invoker.clone(),
                e.profile.clone(),
                e.reason_code.to_string(),
                output::short_time(e.created_at),
                output::short_time(e.ends_at()),
                if e.escalated { "yes" } else { "no" }.to_owned(),
            ]
        },
    )
    .await
}

/// `sentinel breakglass-check`
pub async fn check(ctx: &Context, args: &CheckArgs) -> CliResult {
    let store = ctx.breakglass().await?;
    let e = store.store.get(&args.id).await.map_err(fail)?;
    show(&e, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// `sentinel breakglass-close`
pub async fn close(ctx: &Context, args: &CloseArgs) -> CliResult {
    let caller = ctx.caller().await?;
    let store = ctx.breakglass().await?;
    let event = store.store.get(&args.id).await.map_err(fail)?;
    let policies = ctx.policy_store().await;
    let user = sentinel_vend::authority::may_close_breakglass(&*policies, &caller, &event)
        .await
        .map_err(crate::vending::failed)?;
    let e = store
        .store
        .close(&args.id, &user, &args.reason)
        .await
        .map_err(fail)?;
    store.sweep().await;
    show(&e, args.json)?;
    Ok(ExitCode::SUCCESS)
}
