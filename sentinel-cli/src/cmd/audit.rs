//! `sentinel audit verify-log`: checks the decision log's hash chain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::context::Context;
use crate::output::{self, CliError, CliResult};

/// `sentinel audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the decision log: every line parses and carries the hash of
    /// the line before it, so a removed, reordered or edited line is found.
    VerifyLog(VerifyLogArgs),
}

/// `sentinel audit verify-log`
#[derive(Debug, Args)]
pub struct VerifyLogArgs {
    /// The log file (default: the configured decision log).
    file: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Verified<'a> {
    file: &'a std::path::Path,
    lines: u64,
    last_hash: &'a str,
}

/// Runs an audit subcommand.
pub fn run(ctx: &Context, cmd: &AuditCommand) -> CliResult {
    match cmd {
        AuditCommand::VerifyLog(args) => verify_log(ctx, args),
    }
}

fn verify_log(ctx: &Context, args: &VerifyLogArgs) -> CliResult {
    let file = args.file.clone().unwrap_or_else(|| ctx.config.log.clone());
    let report = sentinel_vend::log::verify_file(&file).map_err(|e| {
        CliError::error(e).hint(
            "the log was changed after it was written: compare with your backups or the copy shipped off this machine",
        )
    })?;
    if args.json {
        output::print_json(&Verified {
            file: &file,
            lines: report.lines,
            last_hash: &report.last_hash,
        })?;
    } else {
        println!(
            "{}: ok, {} decisions, chain intact (last line hash {})",
            file.display(),
            report.lines,
            report.last_hash
        );
    }
    Ok(ExitCode::SUCCESS)
}
