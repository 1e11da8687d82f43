//! `sentinel config`: the resolved configuration, for "where does my state
//! live?" questions. Secrets are never shown, nor the path or query of a
//! webhook URL (they often hold a token).

use std::process::ExitCode;

use clap::Args;

use crate::config::{PolicySource, StateConfig, show_duration};
use crate::context::Context;
use crate::output::{self, CliResult, Record};

/// `sentinel config`
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Prints the configuration.
pub fn show(ctx: &Context, args: &ConfigArgs) -> CliResult {
    let c = &ctx.config;
    if args.json {
        output::print_json(c)?;
        return Ok(ExitCode::SUCCESS);
    }
    let policy = match &c.policy {
        PolicySource::File { path } => path.display().to_string(),
        PolicySource::Ssm { root } => format!("ssm:{root}"),
    };
    let state = match &c.state {
        StateConfig::Sqlite { dir } => format!("sqlite:{}", dir.display()),
        StateConfig::Dynamodb {
            request_table,
            breakglass_table,
            session_table,
        } => format!(
            "dynamodb (requests: {request_table}, breakglass: {breakglass_table}, sessions: {session_table})"
        ),
    };
    let record = Record::new()
        .field(
            "config file",
            c.config_file
                .as_ref()
                .map_or_else(|| "(none)".to_owned(), |p| p.display().to_string()),
        )
        .field("policy", policy)
        .field("state", state)
        .field("log", c.log.display())
        .field(
            "webhook",
            match (&c.notify.webhook_url, c.webhook_secret_set) {
                (Some(u), true) => format!("{} (signed)", sentinel_approval::redact_url(u)),
                (Some(u), false) => sentinel_approval::redact_url(u),
                (None, _) => "-".to_owned(),
            },
        )
        .field("sns topic", c.notify.sns_topic.as_deref().unwrap_or("-"))
        .field(
            "timeouts",
            format!(
                "connect {}, attempt {}, whole call {}",
                show_duration(c.timeouts.connect),
                show_duration(c.timeouts.attempt),
                show_duration(c.timeouts.operation)
            ),
        );
    output::print(&record.render())?;
    Ok(ExitCode::SUCCESS)
}
