//! `sentinel request|list|check|approve|deny|cancel`: access requests.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use jiff::Timestamp;
use sentinel_approval::{
    AccessRequest, Error, NewRequest, RequestQuery, RequestStatus, auto_approve, auto_approver,
    check_request,
};
use sentinel_policy::Username;

use crate::context::{Context, Requests};
use crate::output::{self, CliError, CliResult, Record};

/// `sentinel request`
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// AWS profile to request access to.
    #[arg(long)]
    profile: String,
    /// Why you need access (10–500 characters).
    #[arg(long)]
    justification: String,
    /// Length of the access window once approved, e.g. `1h`, `30m` (at most 8h).
    #[arg(long, value_parser = super::parse_duration, default_value = "1h")]
    duration: Duration,
    /// Print the request as JSON.
    #[arg(long)]
    json: bool,
}

const STATUSES: &str = "pending, approved, denied, cancelled, expired";

/// `sentinel list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only requests with this status.
    #[arg(long, value_parser = super::one_of(RequestStatus::parse, STATUSES))]
    status: Option<RequestStatus>,
    /// Only requests by this user.
    #[arg(long)]
    requester: Option<Username>,
    /// Only requests for this profile.
    #[arg(long)]
    profile: Option<String>,
    /// At most this many requests (newest first).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `sentinel check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Request id.
    id: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `sentinel approve` / `sentinel deny`
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// Request id.
    id: String,
    /// A comment for the requester.
    #[arg(long)]
    comment: Option<String>,
    /// Print the request as JSON.
    #[arg(long)]
    json: bool,
}

/// `sentinel cancel`
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Request id.
    id: String,
    /// Print the request as JSON.
    #[arg(long)]
    json: bool,
}

/// How errors speak of access requests.
const REQUESTS: output::RecordCommands = output::RecordCommands {
    record: "access request",
    list_hint: "list requests with `sentinel list`",
    show_hint: "see the request with `sentinel check ID`",
    flags: &[
        ("justification", "--justification"),
        ("duration", "--duration"),
        ("comment", "--comment"),
        ("profile", "--profile"),
    ],
};

/// Maps a request-store or rule error to an exit code and a hint.
fn fail(e: Error) -> CliError {
    match e {
        Error::SelfApproval { .. } | Error::Forbidden { .. } => CliError::denied(e),
        e => output::store_failed(&e, e.kind(), &REQUESTS),
    }
}

fn show(r: &AccessRequest, json: bool) -> CliResult<()> {
    if json {
        return output::print_json(r);
    }
    let now = Timestamp::now();
    let window = r.access_window().map(|(start, end)| {
        format!(
            "{} .. {}",
            output::short_time(start),
            output::time(end, now)
        )
    });
    let record = Record::new()
        .field("id", &r.id)
        .field("status", r.status_at(now))
        .field("requester", &r.requester)
        .field("profile", &r.profile)
        .field("duration", output::duration(r.duration))
        .field("justification", &r.justification)
        .field("created", output::time(r.created_at, now))
        .opt(
            "pending until",
            (r.status_at(now) == RequestStatus::Pending).then(|| output::time(r.expires_at, now)),
        )
        .opt("decided by", r.approver.as_deref())
        .opt("comment", r.approver_comment.as_deref())
        .opt("approved", r.approved_at.map(|t| output::time(t, now)))
        .opt("access window", window);
    output::print(&record.render())
}

/// `sentinel request`
pub async fn request(ctx: &Context, args: &RequestArgs) -> CliResult {
    sentinel_policy::check_profile_name(&args.profile).map_err(CliError::error)?;
    let actor = ctx.actor(&args.profile).await?;
    let user = actor.user;
    let approvals = actor
        .policy
        .document()
        .approvals
        .clone()
        .unwrap_or_default();
    check_request(&approvals, &args.profile, args.duration).map_err(fail)?;
    let now = Timestamp::now();
    let new = AccessRequest::new(
        NewRequest {
            requester: user.clone(),
            profile: args.profile.clone(),
            justification: args.justification.clone(),
            duration: args.duration,
        },
        now,
    )
    .map_err(fail)?;
    let requests = ctx.requests().await?;
    requests.store.create(&new).await.map_err(fail)?;
    let mut result = new;
    if let Some(rule) = auto_approve(&approvals, &args.profile, &user, args.duration, now) {
        result = requests
            .store
            .approve(
                &result.id,
                &auto_approver(&rule.name),
                Some(&format!(
                    "approved automatically by approval rule \"{}\"",
                    rule.name
                )),
            )
            .await
            .map_err(fail)?;
    }
    requests.sweep().await;
    show(&result, args.json)?;
    if !args.json && result.status == RequestStatus::Pending {
        let who = sentinel_approval::applicable_rule(&approvals, &args.profile)
            .filter(|r| !r.approvers.is_empty())
            .map(|r| format!(" ({})", r.approvers.join(", ")))
            .unwrap_or_default();
        eprintln!(
            "sentinel: ask an approver{who} to run `sentinel approve {}`",
            result.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `sentinel list`
pub async fn list(ctx: &Context, args: &ListArgs) -> CliResult {
    let requests = ctx.requests().await?;
    let mut query = RequestQuery::all();
    query.requester = args.requester.as_ref().map(ToString::to_string);
    query.status = args.status;
    query.profile.clone_from(&args.profile);
    let headers = [
        "ID",
        "STATUS",
        "REQUESTER",
        "PROFILE",
        "DURATION",
        "CREATED",
        "DECIDED BY",
    ];
    let page = async |size, after| {
        let query = query.clone().limit(size).after(after);
        let page = requests.store.list(&query).await.map_err(fail)?;
        Ok((page.requests, page.next_page_token))
    };
    output::list(
        args.limit,
        args.json,
        "access requests",
        &headers,
        page,
        |r, now| {
            vec![
                r.id.clone(),
                r.status_at(now).to_string(),
                r.requester.clone(),
                r.profile.clone(),
                output::duration(r.duration),
                output::short_time(r.created_at),
                r.approver.clone().unwrap_or_else(|| "-".into()),
            ]
        },
    )
    .await
}

/// `sentinel check`
pub async fn check(ctx: &Context, args: &CheckArgs) -> CliResult {
    let requests = ctx.requests().await?;
    let r = requests.store.get(&args.id).await.map_err(fail)?;
    show(&r, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Loads the request and checks that the caller may decide it under the
/// policy of its profile.
async fn decidable(ctx: &Context, requests: &Requests, id: &str) -> CliResult<Username> {
    let caller = ctx.caller().await?;
    let r = requests.store.get(id).await.map_err(fail)?;
    let policies = ctx.policy_store().await;
    sentinel_vend::authority::may_decide(&*policies, &caller, &r)
        .await
        .map_err(|e| match e {
            sentinel_vend::Error::Approval(e) => fail(e),
            e => crate::vending::failed(e),
        })
}

/// `sentinel approve`
pub async fn approve(ctx: &Context, args: &DecideArgs) -> CliResult {
    decide(ctx, args, true).await
}

/// `sentinel deny`
pub async fn deny(ctx: &Context, args: &DecideArgs) -> CliResult {
    decide(ctx, args, false).await
}

/// Approves (or denies) the request, as the caller, if they may decide it.
async fn decide(ctx: &Context, args: &DecideArgs, approve: bool) -> CliResult {
    let requests = ctx.requests().await?;
    let user = decidable(ctx, &requests, &args.id).await?;
    let comment = args.comment.as_deref();
    let r = if approve {
        requests.store.approve(&args.id, &user, comment).await
    } else {
        requests.store.deny(&args.id, &user, comment).await
    }
    .map_err(fail)?;
    requests.sweep().await;
    show(&r, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// `sentinel cancel`
pub async fn cancel(ctx: &Context, args: &CancelArgs) -> CliResult {
    let requests = ctx.requests().await?;
    let r = requests.store.get(&args.id).await.map_err(fail)?;
    let user = ctx.actor(&r.profile).await?.user;
    let r = requests.store.cancel(&args.id, &user).await.map_err(fail)?;
    requests.sweep().await;
    show(&r, args.json)?;
    Ok(ExitCode::SUCCESS)
}
