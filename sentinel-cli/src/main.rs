//! `sentinel`: policy-gated AWS credentials, approvals, break-glass and
//! revocation from a laptop. This binary parses arguments, resolves the
//! configuration, wires the library stores together and prints; the logic
//! lives in the sentinel-* libraries.

mod cmd;
mod config;
mod context;
mod identity;
mod output;
mod vending;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, Env, Flags};
use crate::context::Context;
use crate::output::{CliError, CliResult, EXIT_CODES_HELP};

/// Policy-gated AWS credentials: requests, approvals, break-glass and
/// server-session revocation.
#[derive(Debug, Parser)]
#[command(name = "sentinel", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    /// Policy source: a YAML/JSON file, a directory of per-profile files, or
    /// `ssm:/sentinel/policies` [env: SENTINEL_POLICY; default:
    /// $XDG_CONFIG_HOME/sentinel/policy.yaml]
    #[arg(long, global = true, value_name = "PATH|ssm:/ROOT")]
    policy: Option<String>,

    /// State backend: `sqlite` (files under $XDG_DATA_HOME/sentinel),
    /// `sqlite:/dir` or `dynamodb` [env: SENTINEL_STATE]
    #[arg(long, global = true, value_name = "BACKEND")]
    state: Option<String>,

    /// Decision log file [env: SENTINEL_LOG; default:
    /// $XDG_STATE_HOME/sentinel/decisions.jsonl]
    #[arg(long, global = true, value_name = "FILE")]
    log: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print credentials for a profile as `credential_process` JSON.
    Credentials(cmd::credentials::CredentialsArgs),
    /// Run a command with credentials for a profile (environment variables,
    /// or a local credential server with --server).
    Exec(cmd::exec::ExecArgs),
    /// Show who sentinel thinks you are (STS GetCallerIdentity).
    Whoami(cmd::whoami::WhoamiArgs),

    /// Validate policy files, print the JSON Schema, or test a decision.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),

    /// File an access request for a profile that requires approval.
    Request(cmd::requests::RequestArgs),
    /// List access requests.
    List(cmd::requests::ListArgs),
    /// Show one access request.
    Check(cmd::requests::CheckArgs),
    /// Approve someone else's access request (you must be a listed approver).
    Approve(cmd::requests::DecideArgs),
    /// Deny someone else's access request (you must be a listed approver).
    Deny(cmd::requests::DecideArgs),
    /// Cancel your own pending access request.
    Cancel(cmd::requests::CancelArgs),

    /// Invoke break-glass: audited emergency access to a profile.
    Breakglass(cmd::breakglass::InvokeArgs),
    /// List break-glass events.
    BreakglassList(cmd::breakglass::ListArgs),
    /// Show one break-glass event.
    BreakglassCheck(cmd::breakglass::CheckArgs),
    /// Close an active break-glass event.
    BreakglassClose(cmd::breakglass::CloseArgs),

    /// List server sessions (`sentinel exec --server`).
    ServerSessions(cmd::sessions::ListArgs),
    /// Show one server session.
    ServerSession(cmd::sessions::ShowArgs),
    /// Revoke a server session, or every session of a user (kill switch).
    ServerRevoke(cmd::sessions::RevokeArgs),
    /// Lift a user revocation (the kill switch) so the user gets credentials again.
    ServerLift(cmd::sessions::LiftArgs),

    /// Audit: verify the decision log's hash chain.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Show the resolved configuration (flags, environment, sentinel.toml).
    Config(cmd::config::ConfigArgs),
    /// Print a shell completion script.
    Completions(cmd::completions::CompletionsArgs),
}

/// The clap command with the exit codes under every subcommand's help.
fn command() -> clap::Command {
    fn with_exit_codes(c: clap::Command) -> clap::Command {
        c.after_help(EXIT_CODES_HELP)
            .mut_subcommands(with_exit_codes)
    }
    with_exit_codes(Cli::command())
}

fn parse() -> Result<Cli, clap::Error> {
    let matches = command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with exit 0. Usage errors exit 1,
            // not clap's 2, which means "denied" here.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(output::EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    output::report_library_warnings();
    // Blocking work (fsyncs, SQLite writes, files) queues for a few
    // threads instead of growing a thread, with its stack and malloc
    // arena, per waiting request of a busy credential server.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return CliError::error(format!("cannot start the async runtime: {e}")).report(),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => e.report(),
    }
}

async fn run(cli: Cli) -> CliResult {
    // Commands that need no configuration.
    match &cli.command {
        Command::Completions(args) => return cmd::completions::completions(args, command()),
        Command::Policy(cmd::policy::PolicyCommand::Validate(args)) => {
            return cmd::policy::validate(args);
        }
        Command::Policy(cmd::policy::PolicyCommand::Schema) => return cmd::policy::schema(),
        Command::Exec(_) => cmd::exec::refuse_nested()?,
        _ => {}
    }
    let flags = Flags {
        policy: cli.policy,
        state: cli.state,
        log: cli.log,
    };
    let mut ctx = Context::new(Config::resolve(&flags, &Env::from_process())?);
    match cli.command {
        Command::Policy(cmd::policy::PolicyCommand::Test(args)) => {
            cmd::policy::test(&ctx, &args).await
        }
        Command::Policy(_) | Command::Completions(_) => Ok(ExitCode::SUCCESS),
        Command::Credentials(args) => cmd::credentials::credentials(&mut ctx, &args).await,
        Command::Exec(args) => cmd::exec::exec(&mut ctx, &args).await,
        Command::Whoami(args) => cmd::whoami::whoami(&ctx, &args).await,
        Command::Config(args) => cmd::config::show(&ctx, &args),
        Command::Audit(c) => cmd::audit::run(&ctx, &c),
        Command::Request(args) => cmd::requests::request(&ctx, &args).await,
        Command::List(args) => cmd::requests::list(&ctx, &args).await,
        Command::Check(args) => cmd::requests::check(&ctx, &args).await,
        Command::Approve(args) => cmd::requests::approve(&ctx, &args).await,
        Command::Deny(args) => cmd::requests::deny(&ctx, &args).await,
        Command::Cancel(args) => cmd::requests::cancel(&ctx, &args).await,
        Command::Breakglass(args) => cmd::breakglass::invoke(&ctx, &args).await,
        Command::BreakglassList(args) => cmd::breakglass::list(&ctx, &args).await,
        Command::BreakglassCheck(args) => cmd::breakglass::check(&ctx, &args).await,
        Command::BreakglassClose(args) => cmd::breakglass::close(&ctx, &args).await,
        Command::ServerSessions(args) => cmd::sessions::list(&ctx, &args).await,
        Command::ServerSession(args) => cmd::sessions::show_one(&ctx, &args).await,
        Command::ServerRevoke(args) => cmd::sessions::revoke(&ctx, &args).await,
        Command::ServerLift(args) => cmd::sessions::lift(&ctx, &args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }
}
