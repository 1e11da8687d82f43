//! `sentinel audit verify-log` on an intact and on a tampered log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use predicates::prelude::*;
use sentinel_policy::Mode;
use sentinel_vend::log::{DecisionLog, DecisionRecord};

#[test]
fn verify_log_finds_the_edited_line() {
    let home = common::Home::new();
    let file = home.path("state/sentinel/decisions.jsonl");
    let log = DecisionLog::open_file(&file).unwrap();
    for user in ["alice", "bob", "carol"] {
        log.write_blocking(&DecisionRecord::new(
            user,
            "prod",
            Mode::Cli,
            "deny",
            "no rule",
            "test",
        ))
        .unwrap();
    }
    // The default log location is $XDG_STATE_HOME/sentinel/decisions.jsonl.
    home.cmd()
        .args(["audit", "verify-log"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 decisions, chain intact"));

    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"bob\"", "\"eve\"");
    std::fs::write(&file, text).unwrap();
    home.cmd()
        .args(["audit", "verify-log"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("line 2"));
}
