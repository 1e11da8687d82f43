//! Bad-input corpus: every file in `tests/corpus/` is a malformed policy
//! document that must be rejected with specific problems.
//!
//! # Case files
//!
//! - `tests/corpus/NNN-short-name.yaml` (or `.yml`, or `.json`). Files are
//!   run in sorted order; any other file in the directory is an error.
//! - A YAML case declares what it expects in the comment block at the very
//!   top of the file (the leading lines that start with `#`). The comment
//!   lines count: line numbers in expectations are lines of the real file.
//! - A JSON case cannot hold comments, so its expectations live in a sidecar
//!   file named after it plus `.expect` (`NNN-name.json.expect`) in the same
//!   line format. A sidecar without its case file is an error.
//!
//! # Directives (one per line)
//!
//! ```text
//! # expect: LINE:COL PATH MESSAGE
//! # expect-help: PATH HELP
//! # expect-count: N
//! # known-bug: TEXT
//! ```
//!
//! - `expect`: some problem has location `LINE:COL` (1-based; `*` accepts
//!   any location, for problems whose exact position is not the point),
//!   exactly the path `PATH` (`-` stands for the empty path, i.e. the
//!   document itself),
//!   and a message containing `MESSAGE` (the rest of the line, trimmed,
//!   matched literally and case-sensitively). Several `expect` lines may
//!   match the same problem. Every case needs at least one `expect`.
//! - `expect-help`: some problem at exactly `PATH` has a help text
//!   containing `HELP`.
//! - `expect-count`: the document has exactly `N` problems.
//! - `known-bug`: the engine does not yet behave as the expectations (and
//!   the checks below) say, for the reason `TEXT`. The case still runs; its
//!   failures are printed but do not fail the test. Once the case passes,
//!   the test fails until the `known-bug` line is removed, so a fix is
//!   noticed and the case becomes a regular one. The expectations of a
//!   known-bug case describe the *correct* behaviour, never the bug.
//!
//! Any other line of the header that starts with `# expect` is a malformed
//! directive and fails the case; other comment lines are free text.
//!
//! # What is checked for every case
//!
//! - `CompiledPolicy::parse(text, path)` does not panic and returns
//!   `Error::Invalid` whose origin is the path given;
//! - every expectation is met;
//! - every problem has a non-empty, single-line message (and single-line
//!   help), and a location inside the file (JSON goes through the same
//!   position-tracking reader as YAML, so JSON problems need one too);
//! - no message or help names a Rust type (`struct Rule`, `u32`, ...):
//!   policy authors write YAML, not Rust;
//! - `Error::to_string()` and `Error::problems()` render and name the
//!   origin; the listing has one line per problem, each
//!   `ORIGIN:LINE:COL: ...` (or `ORIGIN: ...` when there is no location).
//!
//! All failures are collected and reported together, by file name.
//! Set `CORPUS_DUMP=1` to print every problem of every case (handy when
//! writing a new case): `CORPUS_DUMP=1 cargo test -p sentinel-policy --test
//! corpus -- --nocapture`.

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use sentinel_policy::{CompiledPolicy, Error, Location, Problem};

/// Fewest cases the corpus must hold.
const MIN_CASES: usize = 35;

#[derive(Debug)]
enum Directive {
    Expect {
        /// `None` accepts any location.
        location: Option<Location>,
        path: String,
        message: String,
    },
    ExpectHelp {
        path: String,
        help: String,
    },
    ExpectCount(usize),
    KnownBug(String),
}

impl std::fmt::Display for Directive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Directive::Expect {
                location,
                path,
                message,
            } => match location {
                Some(l) => write!(f, "expect: {l} {} {message}", show_path(path)),
                None => write!(f, "expect: * {} {message}", show_path(path)),
            },
            Directive::ExpectHelp { path, help } => {
                write!(f, "expect-help: {} {help}", show_path(path))
            }
            Directive::ExpectCount(n) => write!(f, "expect-count: {n}"),
            Directive::KnownBug(t) => write!(f, "known-bug: {t}"),
        }
    }
}

fn show_path(path: &str) -> &str {
    if path.is_empty() { "-" } else { path }
}

fn parse_path(word: &str) -> String {
    if word == "-" {
        String::new()
    } else {
        word.to_owned()
    }
}

fn parse_location(word: &str) -> Result<Location, String> {
    let (line, column) = word
        .split_once(':')
        .ok_or_else(|| format!("location `{word}` is not LINE:COL"))?;
    let line = line
        .parse()
        .map_err(|_| format!("line in `{word}` is not a number"))?;
    let column = column
        .parse()
        .map_err(|_| format!("column in `{word}` is not a number"))?;
    Ok(Location { line, column })
}

/// Splits off the first whitespace-separated word.
fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    Some(match s.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim()),
        None => (s, ""),
    })
}

/// Parses one directive line (`# expect...`); `Ok(None)` for other lines.
fn parse_directive(line: &str) -> Result<Option<Directive>, String> {
    let Some(rest) = line.trim().strip_prefix('#') else {
        return Ok(None);
    };
    let rest = rest.trim();
    if let Some(text) = rest.strip_prefix("known-bug:") {
        let text = text.trim();
        if text.is_empty() {
            return Err(format!(
                "malformed directive `{}`: missing TEXT",
                line.trim()
            ));
        }
        return Ok(Some(Directive::KnownBug(text.to_owned())));
    }
    if !rest.starts_with("expect") && !rest.starts_with("known-bug") {
        return Ok(None);
    }
    let bad = |why: &str| Err(format!("malformed directive `{}`: {why}", line.trim()));
    if let Some(args) = rest.strip_prefix("expect:") {
        let Some((loc, args)) = word(args) else {
            return bad("missing LINE:COL");
        };
        let location = if loc == "*" {
            None
        } else {
            match parse_location(loc) {
                Ok(l) => Some(l),
                Err(e) => return bad(&e),
            }
        };
        let Some((path, message)) = word(args) else {
            return bad("missing PATH");
        };
        if message.is_empty() {
            return bad("missing MESSAGE");
        }
        Ok(Some(Directive::Expect {
            location,
            path: parse_path(path),
            message: message.to_owned(),
        }))
    } else if let Some(args) = rest.strip_prefix("expect-help:") {
        let Some((path, help)) = word(args) else {
            return bad("missing PATH");
        };
        if help.is_empty() {
            return bad("missing HELP");
        }
        Ok(Some(Directive::ExpectHelp {
            path: parse_path(path),
            help: help.to_owned(),
        }))
    } else if let Some(args) = rest.strip_prefix("expect-count:") {
        match args.trim().parse() {
            Ok(n) => Ok(Some(Directive::ExpectCount(n))),
            Err(_) => bad("N is not a number"),
        }
    } else {
        bad("unknown directive; use `expect:`, `expect-help:`, `expect-count:` or `known-bug:`")
    }
}

/// Directives of a YAML case: its leading comment block.
fn header_directives(text: &str) -> Result<Vec<Directive>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if !line.trim_start().starts_with('#') {
            break;
        }
        if let Some(d) = parse_directive(line)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// Directives of a sidecar `.expect` file: every line is a directive,
/// a comment, or blank.
fn sidecar_directives(text: &str) -> Result<Vec<Directive>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if !t.starts_with('#') {
            return Err(format!(
                "sidecar line `{t}` is not a `#` directive or comment"
            ));
        }
        if let Some(d) = parse_directive(t)? {
            out.push(d);
        }
    }
    Ok(out)
}

fn describe(problems: &[Problem]) -> String {
    let mut s = String::new();
    for p in problems {
        let loc = p.location.map_or_else(|| "-".to_owned(), |l| l.to_string());
        let _ = write!(s, "\n      {loc} {} | {}", show_path(&p.path), p.message);
        if let Some(h) = &p.help {
            let _ = write!(s, " | help: {h}");
        }
    }
    s
}

/// Runs one case; returns its failures (empty when it passes).
fn run_case(path: &Path, text: &str, directives: &[Directive], dump: bool) -> Vec<String> {
    let mut failures = Vec::new();
    let origin = path.display().to_string();
    if !directives
        .iter()
        .any(|d| matches!(d, Directive::Expect { .. }))
    {
        failures.push("declares no `# expect:` line".to_owned());
    }

    let result = catch_unwind(AssertUnwindSafe(|| CompiledPolicy::parse(text, &origin)));
    let err = match result {
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            failures.push(format!("PANICKED while parsing: {msg}"));
            return failures;
        }
        Ok(Ok(_)) => {
            failures.push("was ACCEPTED, but it must be rejected".to_owned());
            return failures;
        }
        Ok(Err(e)) => e,
    };

    let problems: &[Problem] = match &err {
        Error::Invalid {
            origin: got,
            problems,
        } => {
            if *got != origin {
                failures.push(format!("error origin is `{got}`, expected `{origin}`"));
            }
            problems
        }
        other => {
            failures.push(format!("expected Error::Invalid, got {other:?}"));
            return failures;
        }
    };
    if dump {
        println!("{origin}:{}", describe(problems));
    }

    if problems.is_empty() {
        failures.push("Error::Invalid carries no problems".to_owned());
    }

    // Every problem is usable by a human.
    let line_count = text.lines().count().max(1);
    for p in problems {
        let at = format!("problem `{}` at `{}`", p.message, show_path(&p.path));
        if p.message.trim().is_empty() {
            failures.push(format!(
                "a problem at `{}` has an empty message",
                show_path(&p.path)
            ));
        }
        if p.message.contains('\n') || p.help.as_deref().is_some_and(|h| h.contains('\n')) {
            failures.push(format!("{at}: message or help spans several lines"));
        }
        for text in std::iter::once(p.message.as_str()).chain(p.help.as_deref()) {
            if let Some(t) = rust_type_name(text) {
                failures.push(format!("{at}: names the Rust type `{t}`"));
            }
        }
        if p.help.as_deref().is_some_and(|h| h.trim().is_empty()) {
            failures.push(format!("{at}: help is present but empty"));
        }
        match p.location {
            None => failures.push(format!("{at}: has no location")),
            Some(l) => {
                // A problem may point just past the last line (end of input).
                if l.line == 0 || l.column == 0 || l.line > line_count + 1 {
                    failures.push(format!(
                        "{at}: location {l} is outside the file ({line_count} lines)"
                    ));
                }
            }
        }
    }

    // Rendering.
    let rendered = catch_unwind(AssertUnwindSafe(|| {
        (err.to_string(), err.problems().map(|p| p.to_string()))
    }));
    match rendered {
        Err(_) => failures.push("PANICKED while rendering the error".to_owned()),
        Ok((summary, listing)) => {
            if !summary.contains(&origin) {
                failures.push(format!(
                    "Error::to_string() does not name the origin: {summary}"
                ));
            }
            match listing {
                None => failures.push("Error::problems() returned None".to_owned()),
                Some(listing) => {
                    let lines: Vec<&str> = listing.lines().collect();
                    if lines.len() != problems.len() {
                        failures.push(format!(
                            "Error::problems() has {} lines for {} problems",
                            lines.len(),
                            problems.len()
                        ));
                    }
                    if let Some(l) = lines.iter().find(|l| !listing_line_ok(l, &origin)) {
                        failures.push(format!(
                            "Error::problems() line is not `ORIGIN:LINE:COL: ...` or `ORIGIN: ...`: {l}"
                        ));
                    }
                }
            }
        }
    }

    // Expectations.
    let mut unmet = Vec::new();
    for d in directives {
        let met = match d {
            Directive::Expect {
                location,
                path,
                message,
            } => problems.iter().any(|p| {
                let here = match location {
                    Some(l) => p.location == Some(*l),
                    None => p.location.is_some(),
                };
                here && p.path == *path && p.message.contains(message)
            }),
            Directive::ExpectHelp { path, help } => problems
                .iter()
                .any(|p| p.path == *path && p.help.as_deref().is_some_and(|h| h.contains(help))),
            Directive::ExpectCount(n) => problems.len() == *n,
            Directive::KnownBug(_) => true,
        };
        if !met {
            unmet.push(d.to_string());
        }
    }
    if !unmet.is_empty() {
        failures.push(format!(
            "unmet expectations:\n      {}\n    problems reported ({}):{}",
            unmet.join("\n      "),
            problems.len(),
            describe(problems)
        ));
    }
    failures
}

/// Whether a line of `Error::problems()` is `ORIGIN:LINE:COL: ...` or
/// `ORIGIN: ...`.
fn listing_line_ok(line: &str, origin: &str) -> bool {
    let Some(rest) = line.strip_prefix(origin).and_then(|r| r.strip_prefix(':')) else {
        return false;
    };
    if rest.starts_with(' ') {
        return true;
    }
    let mut parts = rest.splitn(3, ':');
    let num =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    num(parts.next()) && num(parts.next()) && parts.next().is_some_and(|r| r.starts_with(' '))
}

/// A Rust type name in a user-facing text, if any: `struct Foo`,
/// `enum Foo`, or a primitive such as `u32`.
fn rust_type_name(text: &str) -> Option<String> {
    const PRIMITIVES: &[&str] = &[
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64",
    ];
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        if PRIMITIVES.contains(w) {
            return Some((*w).to_owned());
        }
        if matches!(*w, "struct" | "enum")
            && let Some(next) = words.get(i + 1)
            && next.starts_with(|c: char| c.is_ascii_uppercase())
        {
            return Some(format!("{w} {next}"));
        }
    }
    for generic in ["Option<", "Vec<", "BTreeMap<", "HashMap<"] {
        if text.contains(generic) {
            return Some(generic.trim_end_matches('<').to_owned());
        }
    }
    None
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

#[test]
fn every_corpus_case_is_rejected_with_the_expected_problems() {
    let dir = corpus_dir();
    let dump = std::env::var_os("CORPUS_DUMP").is_some();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    entries.sort();

    let mut report: Vec<String> = Vec::new();
    let mut known: Vec<String> = Vec::new();
    let mut cases = 0usize;
    for path in &entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fail = |report: &mut Vec<String>, msgs: Vec<String>| {
            if !msgs.is_empty() {
                report.push(format!("{name}:\n    {}", msgs.join("\n    ")));
            }
        };
        if name.ends_with(".expect") {
            let case = path.with_extension("");
            if !case.is_file() {
                fail(
                    &mut report,
                    vec![format!("sidecar without a case file {}", case.display())],
                );
            }
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "yaml" | "yml" | "json") {
            fail(
                &mut report,
                vec!["not a .yaml, .yml, .json or .expect file".to_owned()],
            );
            continue;
        }
        cases += 1;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                fail(&mut report, vec![format!("cannot read: {e}")]);
                continue;
            }
        };
        let directives = if ext == "json" {
            let sidecar = PathBuf::from(format!("{}.expect", path.display()));
            match std::fs::read_to_string(&sidecar) {
                Ok(s) => sidecar_directives(&s),
                Err(e) => Err(format!("cannot read sidecar {}: {e}", sidecar.display())),
            }
        } else {
            header_directives(&text)
        };
        let directives = match directives {
            Ok(d) => d,
            Err(e) => {
                fail(&mut report, vec![e]);
                continue;
            }
        };
        let known_bug = directives.iter().find_map(|d| match d {
            Directive::KnownBug(t) => Some(t.clone()),
            _ => None,
        });
        let failures = run_case(path, &text, &directives, dump);
        match known_bug {
            None => fail(&mut report, failures),
            Some(why) if failures.is_empty() => fail(
                &mut report,
                vec![format!(
                    "is marked `known-bug: {why}` but now passes: remove the `known-bug` line"
                )],
            ),
            Some(why) => known.push(format!(
                "{name} (known bug: {why}):\n    {}",
                failures.join("\n    ")
            )),
        }
    }
    if !known.is_empty() {
        println!(
            "{} corpus cases fail as known bugs (not counted as test failures):\n\n{}\n",
            known.len(),
            known.join("\n\n")
        );
    }

    if cases < MIN_CASES {
        report.push(format!(
            "the corpus holds {cases} cases in {}; at least {MIN_CASES} are required",
            dir.display()
        ));
    }
    assert!(
        report.is_empty(),
        "{} of {cases} corpus cases failed:\n\n{}\n",
        report.len(),
        report.join("\n\n")
    );
}

/// Positive control: a document using every section is accepted, so the
/// corpus failures above are about the inputs and not a broken parser.
#[test]
fn a_valid_document_with_every_section_parses() {
    let text = r#"# yaml-language-server: $schema=../schema/sentinel-policy.schema.json
version: "1"
rules:
  - name: prod-needs-tracked-server
    effect: require_server_session
    conditions:
      profiles: [prod]
      users: [alice, bob]
      mode: [server]
      time:
        days: [monday, tuesday, wednesday, thursday, friday]
        hours: { start: "08:00", end: "18:00" }
        timezone: Europe/Berlin
    max_server_duration: 15m
    session_table: sentinel-sessions
    reason: production access is tracked
  - name: prod-otherwise-approval
    effect: require_approval
    conditions: { profiles: [prod] }
  - name: dev-anytime
    effect: allow
    conditions: { profiles: [dev], mode: [cli, credential_process] }
  - name: nothing-else
    effect: deny
    conditions: {}
approvals:
  rules:
    - name: prod-leads
      profiles: [prod]
      approvers: [carol, dave]
      max_duration: 4h
      auto_approve:
        users: [alice]
        time:
          days: [saturday, sunday]
          hours: { start: "22:00", end: "06:00" }
          timezone: America/New_York
        max_duration: 1h
breakglass:
  rules:
    - name: on-call
      profiles: [prod]
      users: [alice, bob]
      reason_codes: [incident, security]
      max_duration: 2h
rate_limits:
  rules:
    - name: prod-breakglass
      profiles: [prod]
      cooldown: 10m
      max_per_user: 3
      max_per_profile: 10
      quota_window: 24h
      escalation_threshold: 2
profiles:
  prod:
    role_arn: arn:aws:iam::123456789012:role/prod-admin
    region: eu-central-1
    external_id: sentinel-prod
    duration: 1h
  dev:
    role_arn: arn:aws:iam::123456789012:role/dev
"#;
    let policy = CompiledPolicy::parse(text, "control.yaml").unwrap_or_else(|e| {
        panic!(
            "the control document was rejected: {e}\n{:?}",
            e.problems().map(|p| p.to_string())
        )
    });
    assert_eq!(policy.rule_count(), 4);
    assert_eq!(policy.origin(), "control.yaml");

    // The same document as JSON is accepted too.
    let json =
        r#"{"version": "1", "rules": [{"name": "all", "effect": "allow", "conditions": {}}]}"#;
    CompiledPolicy::parse(json, "control.json")
        .unwrap_or_else(|e| panic!("the JSON control document was rejected: {e}"));
}

#[test]
fn directive_parser_reads_the_documented_format() {
    let d = header_directives(
        "# free text\n# expect: 4:13 rules[0].effect unknown value `alow`\n# expect: 1:1 - the document\n# expect-help: rules[0].effect expected one of\n# expect-count: 2\nversion: \"1\"\n# expect: 9:9 not-a-directive after the header\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.len(), 4, "{d:?}");
    match &d[0] {
        Directive::Expect {
            location,
            path,
            message,
        } => {
            assert_eq!(
                *location,
                Some(Location {
                    line: 4,
                    column: 13
                })
            );
            assert_eq!(path, "rules[0].effect");
            assert_eq!(message, "unknown value `alow`");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&d[1], Directive::Expect { path, .. } if path.is_empty()));
    assert!(matches!(&d[3], Directive::ExpectCount(2)));
    assert!(header_directives("# expect: 4 rules oops\n").is_err());
    assert!(matches!(
        header_directives("# expect: * rules x\n# known-bug: y\n").as_deref(),
        Ok([
            Directive::Expect { location: None, .. },
            Directive::KnownBug(_)
        ])
    ));
    assert!(header_directives("# known-bug:\n").is_err());
    assert_eq!(
        rust_type_name("invalid type: string \"x\", expected struct Rule").as_deref(),
        Some("struct Rule")
    );
    assert_eq!(
        rust_type_name("invalid value: integer `-1`, expected u32").as_deref(),
        Some("u32")
    );
    assert_eq!(
        rust_type_name("unknown value `alow`, expected one of `allow`"),
        None
    );
    assert!(listing_line_ok("p.yaml:4:13: rules[0].effect: x", "p.yaml"));
    assert!(listing_line_ok("p.yaml: the document is empty", "p.yaml"));
    assert!(!listing_line_ok("p.yaml:the document is empty", "p.yaml"));
    assert!(header_directives("# expect-counts: 3\n").is_err());
    assert!(sidecar_directives("expect: 1:1 - x\n").is_err());
}
