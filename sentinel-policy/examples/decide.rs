//! Decides one request against a policy file, the way a service embedding
//! sentinel-policy would.
//!
//! ```text
//! cargo run -p sentinel-policy --example decide -- POLICY USER PROFILE [MODE] [RFC3339-TIME]
//! cargo run -p sentinel-policy --example decide -- \
//!     sentinel-policy/examples/policies/prod.yaml alice prod server 2026-03-02T15:00:00Z
//! ```
//! MODE is `cli` (default), `credential_process` or `server` (server mode is
//! evaluated with session tracking on). Exit code: 0 allowed, 2 denied or
//! approval required, 1 error.

use std::process::ExitCode;

use sentinel_policy::{CompiledPolicy, DecisionEffect, Mode, Request, Timestamp, Username};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, user, profile, rest @ ..] = args.as_slice() else {
        eprintln!("usage: decide POLICY USER PROFILE [MODE] [RFC3339-TIME]");
        return ExitCode::from(1);
    };
    let user = match Username::parse(user) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let mode: Mode = match rest.first().map_or(Ok(Mode::Cli), |m| m.parse()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let at: Timestamp = match rest.get(1).map_or(Ok(Timestamp::now()), |t| t.parse()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("invalid time: {e}; use RFC 3339, e.g. 2026-03-02T15:00:00Z");
            return ExitCode::from(1);
        }
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::from(1);
        }
    };
    let policy = match CompiledPolicy::parse(&text, path) {
        Ok(p) => p,
        Err(e) => {
            match e.problems() {
                Some(list) => eprintln!("{list}"),
                None => eprintln!("{e}"),
            }
            return ExitCode::from(1);
        }
    };
    let request =
        Request::new(&user, profile, mode, at).with_session_tracking(mode == Mode::Server);
    let d = policy.evaluate(&request);
    println!("request:  user={user} profile={profile} mode={mode} at={at}");
    println!("effect:   {}", d.effect);
    match (&d.rule, d.rule_index) {
        (Some(rule), Some(i)) => println!("rule:     {rule} (rules[{i}])"),
        _ => println!("rule:     none matched (default deny)"),
    }
    println!("reason:   {}", d.reason);
    if let Some(max) = d.max_server_duration {
        println!("max server duration: {}s", max.as_secs());
    }
    if d.effect == DecisionEffect::Allow {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
