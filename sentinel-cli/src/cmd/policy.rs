//! `sentinel policy validate|schema|test`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use sentinel_policy::{CompiledPolicy, Mode, Request, Username};

use crate::context::Context;
use crate::output::{self, CliError, CliResult, EXIT_DENIED, EXIT_ERROR, Record};

/// `sentinel policy …`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check policy files and print every problem as `file:line:col: path: message (help)`.
    Validate(ValidateArgs),
    /// Print the JSON Schema of policy documents (for editors and CI).
    Schema,
    /// Show what the configured policy decides for a user and profile, without
    /// touching AWS. Exits 0 when allowed, 2 otherwise.
    Test(TestArgs),
}

/// `sentinel policy validate`
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Policy files (YAML or JSON).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// `sentinel policy test`
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy username to test, in canonical form (lowercase, as the
    /// policy writes it).
    #[arg(long)]
    user: Username,
    /// AWS profile to test.
    #[arg(long)]
    profile: String,
    /// How the credentials would be requested.
    #[arg(long, default_value = "cli", value_parser = parse_mode)]
    mode: Mode,
    /// Evaluate at this time (RFC 3339) instead of now.
    #[arg(long, value_parser = super::parse_rfc3339, value_name = "RFC3339")]
    at: Option<Timestamp>,
    /// Evaluate as a server request with session tracking on.
    #[arg(long)]
    session_tracking: bool,
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse::<Mode>()
        .map_err(|_| format!("\"{s}\" is not one of cli, server, credential_process"))
}

/// `sentinel policy validate FILE…`: exit 1 when any file is invalid.
pub fn validate(args: &ValidateArgs) -> CliResult {
    let mut failed = false;
    let mut ok = String::new();
    for path in &args.files {
        let origin = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{origin}: cannot read: {e}");
                failed = true;
                continue;
            }
        };
        match CompiledPolicy::parse(&text, &origin) {
            Ok(p) => {
                let n = p.rule_count();
                let warnings = p.warnings();
                ok.push_str(&format!(
                    "{origin}: ok ({n} rule{}{})\n",
                    if n == 1 { "" } else { "s" },
                    match warnings.len() {
                        0 => String::new(),
                        1 => ", 1 warning".to_owned(),
                        w => format!(", {w} warnings"),
                    }
                ));
                for w in warnings {
                    output::warn(format_args!("{origin}: {w}"));
                }
            }
            Err(e) => {
                failed = true;
                match e.problems() {
                    Some(list) => eprintln!("{list}"),
                    None => eprintln!("{origin}: {e}"),
                }
            }
        }
    }
    output::print(&ok)?;
    Ok(if failed {
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

/// `sentinel policy schema`
pub fn schema() -> CliResult {
    output::print_json(&sentinel_policy::json_schema())?;
    Ok(ExitCode::SUCCESS)
}

/// `sentinel policy test`: evaluates with the configured policy store.
pub async fn test(ctx: &Context, args: &TestArgs) -> CliResult {
    sentinel_policy::check_profile_name(&args.profile).map_err(|e| {
        CliError::error(e).hint("profile names are letters, digits, `_`, `-` and `.`")
    })?;
    let policy = ctx.policy(&args.profile).await?;
    let at = args.at.unwrap_or_else(Timestamp::now);
    let request = Request::new(&args.user, &args.profile, args.mode, at)
        .with_session_tracking(args.session_tracking);
    let d = policy.evaluate(&request);
    // What the user could do about a refusal, as the pipeline would say.
    let remedy = sentinel_vend::Remedy::for_decision(&d, &args.profile);
    if args.json {
        output::print_json(&serde_json::json!({
            "user": args.user,
            "profile": args.profile,
            "mode": args.mode,
            "session_tracking": args.session_tracking,
            "at": at,
            "policy": policy.origin(),
            "effect": d.effect,
            "allowed": d.is_allowed(),
            "rule": d.rule.as_deref(),
            "rule_index": d.rule_index,
            "rule_effect": d.rule_effect,
            "reason": &*d.reason,
            "requires_server": d.requires_server,
            "requires_server_session": d.requires_server_session,
            "max_server_duration_secs": d.max_server_duration.map(|m| m.as_secs()),
            "session_table": d.session_table.as_deref(),
        }))?;
    } else {
        let rule = match (&d.rule, d.rule_index) {
            (Some(name), Some(i)) => format!("{name} (rules[{i}])"),
            (Some(name), None) => name.to_string(),
            _ => "none matched (default deny)".to_owned(),
        };
        let record = Record::new()
            .field("effect", d.effect)
            .field("rule", rule)
            .field("reason", &d.reason)
            .opt(
                "max server duration",
                d.max_server_duration.map(output::duration),
            )
            .opt("session table", d.session_table.as_deref())
            .opt(
                "what to do",
                remedy.as_ref().map(crate::vending::remedy_hint),
            )
            .field("policy", policy.origin())
            .field("at", output::time(at, Timestamp::now()));
        output::print(&record.render())?;
    }
    Ok(if d.is_allowed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DENIED)
    })
}
