#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Decision log: records, hash chain, sinks and verification.

use std::io::Write as _;

use proptest::prelude::*;
use sentinel_policy::{Mode, Timestamp};
use sentinel_vend::log::{
    DecisionLog, DecisionRecord, Durability, GENESIS_HASH, LineProblem, LogError, VerifyError,
    line_hash, verify, verify_file,
};

fn record(i: usize) -> DecisionRecord {
    let mut r = DecisionRecord::new(
        format!("user{i}"),
        "prod",
        Mode::Cli,
        "allow",
        format!("rule {i} allows on-call engineers"),
        "file:/etc/sentinel/policy.yaml",
    )
    .at(Timestamp::from_second(1_700_000_000 + i as i64).unwrap());
    r.rule = Some("oncall".into());
    r.rule_index = Some(i % 3);
    if i.is_multiple_of(2) {
        r.request_id = Some(format!("{i:08x}"));
        r.source_identity = Some(format!("sentinel.user{i}.direct.{i:08x}"));
        r.role_arn = Some("arn:aws:iam::123456789012:role/prod".into());
        r.duration_secs = Some(3600);
    }
    r
}

fn memory_log(n: usize) -> (DecisionLog, String) {
    let log = DecisionLog::memory();
    for i in 0..n {
        log.write_blocking(&record(i)).unwrap();
    }
    let contents = log.memory_contents().unwrap();
    (log, contents)
}

fn lines(contents: &str) -> Vec<&str> {
    contents.lines().collect()
}

fn join(lines: &[&str]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn broken_at(contents: &str) -> (u64, LineProblem) {
    match verify(contents.as_bytes()) {
        Err(VerifyError::Broken { line, problem }) => (line, problem),
        other => panic!("expected a broken log, got {other:?}"),
    }
}

#[test]
fn record_serialises_with_stable_keys_and_skips_none() {
    let mut r = DecisionRecord::new(
        "alice",
        "prod",
        Mode::CredentialProcess,
        "deny",
        "no rule",
        "ssm:/sentinel/policies/prod",
    )
    .at(Timestamp::from_second(1_700_000_000).unwrap());
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(
        json,
        r#"{"time":"2023-11-14T22:13:20Z","user":"alice","profile":"prod","mode":"credential_process","effect":"deny","reason":"no rule","policy_source":"ssm:/sentinel/policies/prod"}"#
    );
    r.approval_id = Some("req-1".into());
    r.session_id = Some("sess-1".into());
    r.breakglass_id = Some("bg-1".into());
    let value: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(value["approval_id"], "req-1");
    assert_eq!(value["session_id"], "sess-1");
    assert_eq!(value["breakglass_id"], "bg-1");
    for key in value.as_object().unwrap().keys() {
        let k = key.to_lowercase();
        assert!(
            !k.contains("secret") && !k.contains("token") && !k.contains("key"),
            "{key}"
        );
    }
}

#[test]
fn round_trip_through_the_log() {
    let (_, contents) = memory_log(5);
    for (i, line) in contents.lines().enumerate() {
        let back: DecisionRecord = serde_json::from_str(line).unwrap();
        assert_eq!(back, record(i));
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["seq"], (i + 1) as u64);
    }
}

#[test]
fn first_line_links_to_zeros_and_each_line_to_the_previous() {
    let (log, contents) = memory_log(3);
    let ls = lines(&contents);
    let prev = |l: &str| -> String {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["prev"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(prev(ls[0]), GENESIS_HASH);
    assert_eq!(prev(ls[1]), line_hash(ls[0].as_bytes()));
    assert_eq!(prev(ls[2]), line_hash(ls[1].as_bytes()));
    assert_eq!(log.head(), line_hash(ls[2].as_bytes()));
}

#[test]
fn a_chain_of_n_lines_verifies() {
    for n in [0, 1, 2, 50] {
        let (log, contents) = memory_log(n);
        let report = verify(contents.as_bytes()).unwrap();
        assert_eq!(report.lines, n as u64);
        assert_eq!(report.last_hash, log.head());
    }
}

#[test]
fn editing_one_byte_names_that_line() {
    let (_, contents) = memory_log(10);
    for k in 1..=9 {
        let mut ls: Vec<String> = lines(&contents).iter().map(|s| s.to_string()).collect();
        // Change a character inside the user name ("userN" -> "vserN").
        ls[k - 1] = ls[k - 1].replacen("\"user", "\"vser", 1);
        let edited = join(&ls.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            broken_at(&edited),
            (k as u64, LineProblem::Edited),
            "line {k}"
        );
    }
}

#[test]
fn editing_the_prev_of_a_line_names_that_line() {
    let (_, contents) = memory_log(6);
    let mut ls: Vec<String> = lines(&contents).iter().map(|s| s.to_string()).collect();
    let prev_at = ls[2].find("\"prev\":\"").unwrap() + 8;
    let flipped = if &ls[2][prev_at..=prev_at] == "a" {
        "b"
    } else {
        "a"
    };
    ls[2].replace_range(prev_at..=prev_at, flipped);
    let edited = join(&ls.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(broken_at(&edited), (3, LineProblem::PrevMismatch));
}

#[test]
fn deleting_a_line_names_its_position() {
    let (_, contents) = memory_log(8);
    for k in 1..=7 {
        let mut ls = lines(&contents);
        ls.remove(k - 1);
        let (line, problem) = broken_at(&join(&ls));
        assert_eq!(line, k as u64, "deleted line {k}");
        assert!(
            matches!(problem, LineProblem::OutOfSequence { .. }),
            "{problem:?}"
        );
    }
}

#[test]
fn swapping_two_lines_names_the_first_of_them() {
    let (_, contents) = memory_log(8);
    for (a, b) in [(1, 2), (3, 4), (2, 6), (7, 8)] {
        let mut ls = lines(&contents);
        ls.swap(a - 1, b - 1);
        let (line, problem) = broken_at(&join(&ls));
        assert_eq!(line, a as u64, "swapped {a} and {b}");
        assert_eq!(
            problem,
            LineProblem::OutOfSequence {
                expected: a as u64,
                found: b as u64
            }
        );
    }
}

#[test]
fn duplicating_a_line_is_detected() {
    let (_, contents) = memory_log(5);
    let mut ls = lines(&contents);
    ls.insert(3, ls[2]);
    assert_eq!(broken_at(&join(&ls)).0, 4);
}

#[test]
fn appended_garbage_names_the_garbage_line() {
    let (_, contents) = memory_log(4);
    let garbage = format!("{contents}this is not json\n");
    let (line, problem) = broken_at(&garbage);
    assert_eq!(line, 5);
    assert!(matches!(problem, LineProblem::NotJson { .. }));

    let no_prev = format!("{contents}{{\"seq\":5,\"user\":\"mallory\"}}\n");
    assert_eq!(
        broken_at(&no_prev),
        (5, LineProblem::MissingField { field: "prev" })
    );

    let array = format!("{contents}[1,2]\n");
    assert!(matches!(
        broken_at(&array),
        (5, LineProblem::NotJson { .. })
    ));

    let empty_line = format!("{contents}\n");
    assert!(matches!(
        broken_at(&empty_line),
        (5, LineProblem::NotJson { .. })
    ));
}

#[test]
fn malformed_prev_and_missing_seq_are_named() {
    let (_, contents) = memory_log(3);
    let upper = contents.replacen("\"prev\":\"0000", "\"prev\":\"000A", 1);
    assert_eq!(
        broken_at(&upper),
        (1, LineProblem::MalformedField { field: "prev" })
    );
    let no_seq = contents.replacen("\"seq\":2,", "", 1);
    assert_eq!(
        broken_at(&no_seq),
        (2, LineProblem::MissingField { field: "seq" })
    );
}

#[test]
fn verify_error_messages_say_what_happened_and_what_to_do() {
    let (_, contents) = memory_log(3);
    let mut ls = lines(&contents);
    ls.remove(1);
    let err = verify(join(&ls).as_bytes()).unwrap_err();
    assert_eq!(err.line(), Some(2));
    let msg = err.to_string();
    assert!(msg.contains("line 2"), "{msg}");
    assert!(msg.contains("removed"), "{msg}");
    assert!(msg.contains("keep a copy"), "{msg}");

    let missing = verify_file("/nonexistent/sentinel/decisions.jsonl").unwrap_err();
    assert!(matches!(missing, VerifyError::Open { .. }));
    assert!(
        missing
            .to_string()
            .contains("/nonexistent/sentinel/decisions.jsonl")
    );
}

#[test]
fn file_log_creates_dirs_with_private_permissions_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/sentinel/decisions.jsonl");
    let log = DecisionLog::open_file(&path).unwrap();
    assert_eq!(log.path(), Some(path.as_path()));
    for i in 0..5 {
        log.write_blocking(&record(i)).unwrap();
    }
    let report = verify_file(&path).unwrap();
    assert_eq!(report.lines, 5);
    assert_eq!(report.last_hash, log.head());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        for d in [path.parent().unwrap(), &dir.path().join("state")] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", d.display());
        }
    }
}

#[cfg(unix)]
#[test]
fn file_log_tightens_an_open_directory() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o755)).unwrap();
    DecisionLog::open_file(logs.join("decisions.jsonl")).unwrap();
    let mode = std::fs::metadata(&logs).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[tokio::test]
async fn reopening_a_file_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    {
        let log = DecisionLog::open_file(&path).unwrap();
        for i in 0..3 {
            log.write(&record(i)).await.unwrap();
        }
    }
    let log = DecisionLog::open_file(&path).unwrap();
    let head_before = verify_file(&path).unwrap().last_hash;
    assert_eq!(log.head(), head_before);
    for i in 3..6 {
        log.write(&record(i)).await.unwrap();
    }
    let report = verify_file(&path).unwrap();
    assert_eq!(report.lines, 6);
    assert_eq!(report.last_hash, log.head());
}

#[test]
fn two_handles_on_one_file_keep_one_chain() {
    // As two processes would: each handle has its own file description.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let a = DecisionLog::open_file(&path).unwrap();
    let b = DecisionLog::open_file(&path).unwrap();
    for i in 0..6_usize {
        let log = if i.is_multiple_of(2) { &a } else { &b };
        log.write_blocking(&record(i)).unwrap();
    }
    assert_eq!(verify_file(&path).unwrap().lines, 6);
}

#[test]
fn opening_a_file_with_a_damaged_last_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    {
        let log = DecisionLog::open_file(&path).unwrap();
        log.write_blocking(&record(0)).unwrap();
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"partial\":").unwrap();
    drop(f);
    let err = DecisionLog::open_file(&path).unwrap_err();
    assert!(matches!(err, LogError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("move it aside"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_from_20_tasks_form_one_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::open_file(&path).unwrap();
    let mut tasks = Vec::new();
    for t in 0..20 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                log.write(&record(t * 100 + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let report = verify_file(&path).unwrap();
    assert_eq!(report.lines, 200);
    assert_eq!(report.last_hash, log.head());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn written_lines_are_in_the_file_at_once_and_chain_with_synced_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::open_file(&path).unwrap();
    let mut tasks = Vec::new();
    for t in 0..10 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let durability = if i % 3 == 0 {
                    Durability::Synced
                } else {
                    Durability::Written
                };
                log.write_with(&record(t * 100 + i), durability)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Visible to a reader (another process) before any sync.
    let report = verify_file(&path).unwrap();
    assert_eq!(report.lines, 100);
    assert_eq!(report.last_hash, log.head());
    log.sync().unwrap();
    // A second handle (another process) continues the same chain.
    let other = DecisionLog::open_file(&path).unwrap();
    other
        .write_with(&record(1000), Durability::Written)
        .await
        .unwrap();
    log.write_with(&record(1001), Durability::Written)
        .await
        .unwrap();
    let report = verify_file(&path).unwrap();
    assert_eq!(report.lines, 102);
    assert_eq!(report.last_hash, log.head());
    // The background sync runs and leaves nothing to do.
    tokio::time::sleep(sentinel_vend::log::SYNC_DELAY * 3).await;
    log.sync().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_to_memory_form_one_valid_chain() {
    let log = DecisionLog::memory();
    let tasks: Vec<_> = (0..20)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move { log.write(&record(t)).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let contents = log.memory_contents().unwrap();
    assert_eq!(verify(contents.as_bytes()).unwrap().lines, 20);
}

#[test]
fn opening_a_directory_fails_with_the_path_and_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let err = DecisionLog::open_file(dir.path()).unwrap_err();
    assert!(matches!(err, LogError::Open { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("writable"), "{msg}");
}

#[test]
fn a_parent_that_is_a_file_fails_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let path = file.join("decisions.jsonl");
    let err = DecisionLog::open_file(&path).unwrap_err();
    assert!(matches!(err, LogError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_failed_write_is_an_error_naming_the_file() {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let log = DecisionLog::open_file("/dev/full").unwrap();
    let head = log.head();
    let err = log.write(&record(0)).await.unwrap_err();
    assert!(matches!(err, LogError::Write { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("\"/dev/full\""), "{msg}");
    assert!(msg.contains("no credentials were issued"), "{msg}");
    // The chain did not advance.
    assert_eq!(log.head(), head);
}

#[test]
fn stream_sinks_have_no_contents_or_path() {
    let log = DecisionLog::stderr();
    assert_eq!(log.memory_contents(), None);
    assert_eq!(log.path(), None);
    log.write_blocking(&record(0)).unwrap();
    assert_ne!(log.head(), GENESIS_HASH);
    assert!(format!("{log:?}").contains("Stderr"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any single-byte change anywhere in a log is detected, and when the
    /// changed line is not the last one, verify names exactly that line.
    #[test]
    fn any_byte_edit_is_detected(n in 2usize..8, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (log, contents) = memory_log(n);
        let mut bytes = contents.into_bytes();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        // Line the edited byte belongs to (its newline belongs to it too).
        let edited_line = bytes[..i].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        match verify(&bytes[..]) {
            Err(VerifyError::Broken { line, .. }) => {
                if edited_line < n as u64 {
                    prop_assert_eq!(line, edited_line);
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            Ok(report) => {
                // Only a change to the last line can pass the chain; the head catches it.
                prop_assert_eq!(edited_line, n as u64);
                prop_assert_ne!(report.last_hash, log.head());
            }
        }
    }

    /// Removing any one line is detected.
    #[test]
    fn any_removed_line_is_detected(n in 2usize..10, k in any::<prop::sample::Index>()) {
        let (log, contents) = memory_log(n);
        let mut ls = lines(&contents);
        let k = k.index(n);
        ls.remove(k);
        match verify(join(&ls).as_bytes()) {
            Err(e) => prop_assert_eq!(e.line(), Some(k as u64 + 1)),
            Ok(report) => {
                prop_assert_eq!(k, n - 1);
                prop_assert_ne!(report.last_hash, log.head());
            }
        }
    }
}
