//! `sentinel completions bash|zsh|fish`.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use clap_complete::Shell;

use crate::output::{self, CliError, CliResult};

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShellName {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// `sentinel completions`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    shell: ShellName,
}

/// Writes the completion script for `cmd` to stdout.
pub fn completions(args: &CompletionsArgs, mut cmd: clap::Command) -> CliResult {
    let shell = match args.shell {
        ShellName::Bash => Shell::Bash,
        ShellName::Zsh => Shell::Zsh,
        ShellName::Fish => Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sentinel", &mut buf);
    let text = String::from_utf8(buf)
        .map_err(|e| CliError::error(format!("completion script is not UTF-8: {e}")))?;
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
