//! The decision log (ARCHITECTURE.md, invariants): one JSON object per decision, hash-chained.
//!
//! Every line is a [`DecisionRecord`] serialised as JSON with two extra keys
//! appended by the log:
//!
//! - `seq`: the position of the line in its chain, starting at 1;
//! - `prev`: the lowercase hex SHA-256 of the previous line's exact bytes
//!   (without its trailing newline), or 64 zeros on the first line.
//!
//! `prev` alone detects that *something* changed; `seq` lets [`verify`] tell
//! a removed or reordered line apart from an edited one and name the exact
//! line. A chain cannot protect its own last line against an edit or removal:
//! compare [`VerifyReport::last_hash`] with the [`DecisionLog::head`] you kept
//! (or shipped elsewhere) to cover it.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sentinel_policy::Mode;
//! use sentinel_vend::log::{DecisionLog, DecisionRecord, verify};
//!
//! let log = DecisionLog::memory();
//! let record = DecisionRecord::new("alice", "prod", Mode::Cli, "allow", "on call", "file:policy.yaml");
//! log.write_blocking(&record)?;
//! let contents = log.memory_contents().unwrap_or_default();
//! let report = verify(contents.as_bytes())?;
//! assert_eq!(report.lines, 1);
//! assert_eq!(report.last_hash, log.head());
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use sentinel_policy::{Decision, Mode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev` of the first line of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest line the log writes or [`verify`] accepts, in bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A line written with [`Durability::Written`] reaches the disk at most
/// this long after it was written.
pub const SYNC_DELAY: Duration = Duration::from_millis(100);

/// How far a line must have got before [`DecisionLog::write_with`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// On disk (`fdatasync` on a file) before the write returns: for every
    /// decision that issues credentials, so no credential exists whose
    /// line a power cut could take back.
    Synced,
    /// In the file (the operating system's cache) before the write
    /// returns, so other processes and a crash of this one see it, and on
    /// disk within [`SYNC_DELAY`]: one background `fdatasync` covers every
    /// line written meanwhile. For answers that issue nothing new, such
    /// as credentials served again from a cache, where a sync per line
    /// would cost more than the answer. The line is written in place,
    /// without a hop to the blocking pool. If a background sync fails,
    /// every later write is synced until one succeeds, so a failing disk
    /// surfaces as a failed write.
    Written,
}

/// One decision, as logged. Never holds a secret: there is no field for keys,
/// tokens or passwords.
///
/// Keys are stable `snake_case`; optional fields are left out when `None`;
/// `time` is RFC 3339 in UTC. Unknown keys (such as the chain's `seq` and
/// `prev`) are ignored when reading a line back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DecisionRecord {
    /// When the decision was made (UTC).
    pub time: Timestamp,
    /// The caller's username as the policy identified them; `-` when the
    /// caller was refused before being identified.
    pub user: String,
    /// The caller's principal ARN (STS `GetCallerIdentity`, or the TVM's
    /// authorizer), whatever the policy made of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_arn: Option<String>,
    /// The AWS profile asked for.
    pub profile: String,
    /// How credentials were asked for.
    pub mode: Mode,
    /// The outcome: `allow`, `deny`, `require_approval`, … (the final
    /// outcome after overrides, not necessarily the policy's effect).
    pub effect: String,
    /// Name of the rule that decided; absent for the default deny.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Position of that rule in the policy (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_index: Option<usize>,
    /// Why, in words a user can act on.
    pub reason: String,
    /// Where the policy came from (a file path or an SSM parameter).
    pub policy_source: String,
    /// Random id of this request (also in SourceIdentity), when issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The SourceIdentity stamped on the credentials, when issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// The role assumed, when issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Lifetime of the issued credentials in seconds, when issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// Server session id, when tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Approved request that allowed this issue, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// Break-glass event that allowed this issue, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakglass_id: Option<String>,
}

impl DecisionRecord {
    /// A record made now, with no rule and nothing issued.
    pub fn new(
        user: impl Into<String>,
        profile: impl Into<String>,
        mode: Mode,
        effect: impl Into<String>,
        reason: impl Into<String>,
        policy_source: impl Into<String>,
    ) -> Self {
        Self {
            time: Timestamp::now(),
            user: user.into(),
            caller_arn: None,
            profile: profile.into(),
            mode,
            effect: effect.into(),
            rule: None,
            rule_index: None,
            reason: reason.into(),
            policy_source: policy_source.into(),
            request_id: None,
            source_identity: None,
            role_arn: None,
            duration_secs: None,
            session_id: None,
            approval_id: None,
            breakglass_id: None,
        }
    }

    /// A record made now from a policy decision: effect, rule, rule index and
    /// reason are taken from `decision`.
    pub fn from_decision(
        user: impl Into<String>,
        profile: impl Into<String>,
        mode: Mode,
        decision: &Decision,
        policy_source: impl Into<String>,
    ) -> Self {
        let mut record = Self::new(
            user,
            profile,
            mode,
            decision.effect.as_str(),
            &*decision.reason,
            policy_source,
        );
        record.rule = decision.rule.as_deref().map(str::to_owned);
        record.rule_index = decision.rule_index;
        record
    }

    /// Sets the time of the decision.
    #[must_use]
    pub fn at(mut self, time: Timestamp) -> Self {
        self.time = time;
        self
    }
}

/// Why the decision log could not be opened or written. When a write fails
/// no credentials may be returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The log file or its directory could not be created or opened.
    #[error(
        "cannot open the decision log \"{}\": {source}; make the file and its directory writable by this user or configure another decision log path",
        .path.display()
    )]
    Open {
        /// The log file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A line could not be written (or flushed to disk); no credentials were issued.
    #[error(
        "cannot write to the decision log {sink}: {source}; no credentials were issued. Free disk space or fix the permissions of the log, or configure another decision log path"
    )]
    Write {
        /// The sink: a quoted file path, `stderr` or `stdout`.
        sink: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// The existing log file does not end with a chained decision record, so
    /// the chain cannot be continued.
    #[error(
        "the decision log \"{}\" cannot be continued: {problem}; verify its hash chain to find the damaged line, then move it aside so a new log is started",
        .path.display()
    )]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// What is wrong with its last line.
        problem: String,
    },
    /// The record is larger than [`MAX_LINE_BYTES`] once encoded.
    #[error(
        "decision record is {bytes} bytes long, more than the {max} the log accepts; shorten the policy reason or the names in the request",
        max = MAX_LINE_BYTES
    )]
    TooLarge {
        /// Encoded size.
        bytes: usize,
    },
    /// The record could not be encoded as JSON.
    #[error("cannot encode the decision record as JSON: {0}; this is a bug, please report it")]
    Encode(#[source] serde_json::Error),
    /// The background writer task was cancelled (the runtime is shutting down).
    #[error("the decision log writer was interrupted ({0}); no credentials were issued, try again")]
    Interrupted(String),
}

/// What [`verify`] found wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineProblem {
    /// The line is not a JSON object.
    NotJson {
        /// The parser's message.
        message: String,
    },
    /// A chain field (`seq` or `prev`) is missing.
    MissingField {
        /// The missing key.
        field: &'static str,
    },
    /// A chain field has the wrong type or form.
    MalformedField {
        /// The malformed key.
        field: &'static str,
    },
    /// The sequence number is not the next one: a line before this one was
    /// removed, or lines were reordered or duplicated.
    OutOfSequence {
        /// The sequence number this line should have.
        expected: u64,
        /// The one it has.
        found: u64,
    },
    /// The line was changed after it was written: its hash no longer matches
    /// the `prev` of the line after it.
    Edited,
    /// The line's `prev` does not match the hash of the line before it,
    /// while the line before it is intact: this line's `prev` was edited.
    PrevMismatch,
    /// The line is longer than [`MAX_LINE_BYTES`].
    TooLong,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineProblem::NotJson { message } => write!(
                f,
                "not a JSON object ({message}): the line was edited, cut short or written by something else"
            ),
            LineProblem::MissingField { field } => write!(
                f,
                "no \"{field}\" key: the line was edited or is not a Sentinel decision record"
            ),
            LineProblem::MalformedField { field } => {
                write!(f, "the \"{field}\" key is malformed: the line was edited")
            }
            LineProblem::OutOfSequence { expected, found } => write!(
                f,
                "sequence number {found} where {expected} was expected: a line was removed here, or lines were reordered or duplicated"
            ),
            LineProblem::Edited => f.write_str(
                "the line was changed after it was written: its hash no longer matches the \"prev\" of the next line",
            ),
            LineProblem::PrevMismatch => f.write_str(
                "its \"prev\" does not match the hash of the line before it: the line was edited",
            ),
            LineProblem::TooLong => write!(f, "longer than {MAX_LINE_BYTES} bytes"),
        }
    }
}

/// Why a decision log did not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The log was altered or damaged; `line` is the first bad line (1-based).
    #[error(
        "the decision log is broken at line {line}: {problem}; keep a copy as evidence and compare it with your backups"
    )]
    Broken {
        /// First bad line, 1-based.
        line: u64,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// The log file could not be opened.
    #[error(
        "cannot open the decision log \"{}\": {source}; check the path and that it is readable",
        .path.display()
    )]
    Open {
        /// The log file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Reading failed part way.
    #[error("cannot read line {line} of the decision log: {source}; check the file and try again")]
    Read {
        /// The line being read, 1-based.
        line: u64,
        /// What the operating system said.
        source: io::Error,
    },
}

impl VerifyError {
    /// The first bad line (1-based), when the log itself is at fault.
    pub fn line(&self) -> Option<u64> {
        match self {
            VerifyError::Broken { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// What is wrong with that line, when the log itself is at fault.
    pub fn problem(&self) -> Option<&LineProblem> {
        match self {
            VerifyError::Broken { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// The result of a successful [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Number of lines checked.
    pub lines: u64,
    /// Hash of the last line ([`GENESIS_HASH`] for an empty log). Compare it
    /// with a head kept elsewhere to detect an edited or removed last line.
    pub last_hash: String,
}

/// Lowercase hex SHA-256 of a line's bytes (without its newline).
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The chain fields of a line.
fn parse_chain(line: &[u8]) -> Result<(u64, String), LineProblem> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| LineProblem::NotJson {
            message: e.to_string(),
        })?;
    let Some(object) = value.as_object() else {
        return Err(LineProblem::NotJson {
            message: "a JSON value that is not an object".to_owned(),
        });
    };
    let prev = match object.get("prev") {
        None => return Err(LineProblem::MissingField { field: "prev" }),
        Some(v) => match v.as_str() {
            Some(s) if is_hash(s) => s.to_owned(),
            _ => return Err(LineProblem::MalformedField { field: "prev" }),
        },
    };
    let seq = match object.get("seq") {
        None => return Err(LineProblem::MissingField { field: "seq" }),
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or(LineProblem::MalformedField { field: "seq" })?,
    };
    Ok((seq, prev))
}

/// Reads lines with a bound on their length, counting them.
struct Lines<R> {
    reader: R,
    line: u64,
}

impl<R: BufRead> Lines<R> {
    /// The next line without its newline, or `None` at the end.
    fn next_line(&mut self) -> Result<Option<Vec<u8>>, VerifyError> {
        let number = self.line + 1;
        let mut buf = Vec::new();
        let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|source| VerifyError::Read {
                line: number,
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line = number;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.len() > MAX_LINE_BYTES {
            return Err(VerifyError::Broken {
                line: number,
                problem: LineProblem::TooLong,
            });
        }
        Ok(Some(buf))
    }
}

/// Checks a whole decision log: every line is a JSON object with the next
/// `seq` and a `prev` equal to the hash of the line before it.
///
/// On failure the error names the first bad line (1-based). An edited line
/// is found through the next line's `prev`, one line of look-ahead tells an
/// edited line apart from an edited `prev`; when the broken link is the very
/// last one, the earlier of the two lines is named. An edit or removal of the
/// last line cannot be seen from inside the chain: compare
/// [`VerifyReport::last_hash`] with a head kept elsewhere.
pub fn verify(reader: impl BufRead) -> Result<VerifyReport, VerifyError> {
    let mut lines = Lines { reader, line: 0 };
    let mut last_hash = GENESIS_HASH.to_owned();
    let broken = |line, problem| VerifyError::Broken { line, problem };
    while let Some(bytes) = lines.next_line()? {
        let number = lines.line;
        let (seq, prev) = parse_chain(&bytes).map_err(|p| broken(number, p))?;
        if seq != number {
            return Err(broken(
                number,
                LineProblem::OutOfSequence {
                    expected: number,
                    found: seq,
                },
            ));
        }
        let hash = line_hash(&bytes);
        if prev != last_hash {
            if number == 1 {
                return Err(broken(1, LineProblem::PrevMismatch));
            }
            // Either the previous line was edited, or this line's `prev` was.
            // If the next line still links to this one, this line is intact.
            let next_links_here = match lines.next_line() {
                Ok(Some(next)) => match parse_chain(&next) {
                    Ok((_, next_prev)) => Some(next_prev == hash),
                    Err(_) => Some(false),
                },
                Ok(None) => None,
                Err(_) => Some(false),
            };
            return Err(match next_links_here {
                Some(false) => broken(number, LineProblem::PrevMismatch),
                Some(true) | None => broken(number - 1, LineProblem::Edited),
            });
        }
        last_hash = hash;
    }
    Ok(VerifyReport {
        lines: lines.line,
        last_hash,
    })
}

/// [`verify`] on a file.
pub fn verify_file(path: impl AsRef<Path>) -> Result<VerifyReport, VerifyError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| VerifyError::Open {
        path: path.to_owned(),
        source,
    })?;
    verify(BufReader::new(file))
}

/// A handle on a decision log. Cheap to clone; clones share the sink and the
/// chain, and may be used from many tasks at once.
///
/// Writes are serialised by a mutex, so lines never interleave and each
/// line's `prev` is the hash of the line written just before it. Stream
/// sinks (stderr, stdout, memory) start a new chain in every process.
#[derive(Clone)]
pub struct DecisionLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// Fixed description of the sink, for errors and `Debug`.
    sink: Sink,
    state: Mutex<State>,
    /// A line was written to the file but not yet synced.
    dirty: AtomicBool,
    /// A background sync is scheduled.
    sync_scheduled: AtomicBool,
    /// The last background sync failed: sync every write until one works.
    sync_failed: AtomicBool,
    /// The log file, for syncs that do not hold up writers.
    sync_file: Option<Arc<File>>,
}

#[derive(Debug, Clone)]
enum Sink {
    File(PathBuf),
    Stderr,
    Stdout,
    Memory,
}

impl Sink {
    fn describe(&self) -> String {
        match self {
            Sink::File(path) => format!("\"{}\"", path.display()),
            Sink::Stderr => "stderr".to_owned(),
            Sink::Stdout => "stdout".to_owned(),
            Sink::Memory => "in memory".to_owned(),
        }
    }
}

struct State {
    /// `seq` of the last line written (0 before the first).
    seq: u64,
    /// Hash of the last line written ([`GENESIS_HASH`] before the first).
    head: String,
    target: Target,
}

enum Target {
    File {
        file: Arc<File>,
        /// File length after our last write; `None` forces a re-read of the tail.
        known_len: Option<u64>,
    },
    Stderr,
    Stdout,
    Memory(Vec<u8>),
}

impl fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecisionLog")
            .field("sink", &self.inner.sink)
            .finish_non_exhaustive()
    }
}

impl DecisionLog {
    /// Opens (or creates) an append-only log file and continues its chain.
    ///
    /// Missing parent directories are created (mode 0700 on Unix), an
    /// existing parent others can read is tightened (see
    /// [`sentinel_store::private_dir`]) and a new file is created with mode
    /// 0600. The last line of an existing file is
    /// read to continue the chain; a file whose last line is not a chained
    /// record is refused with [`LogError::Corrupt`]. Blocking: call it at
    /// start-up or from `spawn_blocking`.
    pub fn open_file(path: impl Into<PathBuf>) -> Result<Self, LogError> {
        let path = path.into();
        let open_err = |source| LogError::Open {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            sentinel_store::private_dir(parent).map_err(open_err)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(open_err)?;
        let mut state = State {
            seq: 0,
            head: GENESIS_HASH.to_owned(),
            target: Target::File {
                file: Arc::new(file),
                known_len: None,
            },
        };
        let sink = Sink::File(path);
        // With no known length yet, the lock reads the chain from the tail.
        state.with_file_lock(&sink, |_, _, len| Ok(len))?;
        Ok(Self::from_parts(sink, state))
    }

    /// A log written to standard error, one line per decision.
    pub fn stderr() -> Self {
        Self::stream(Sink::Stderr, Target::Stderr)
    }

    /// A log written to standard output (for Lambda, where stdout goes to
    /// CloudWatch). Never use it where stdout carries credentials
    /// (`credential_process`).
    pub fn stdout() -> Self {
        Self::stream(Sink::Stdout, Target::Stdout)
    }

    /// A log kept in memory, for tests; read it with [`Self::memory_contents`].
    pub fn memory() -> Self {
        Self::stream(Sink::Memory, Target::Memory(Vec::new()))
    }

    fn stream(sink: Sink, target: Target) -> Self {
        Self::from_parts(
            sink,
            State {
                seq: 0,
                head: GENESIS_HASH.to_owned(),
                target,
            },
        )
    }

    fn from_parts(sink: Sink, state: State) -> Self {
        let sync_file = match &state.target {
            Target::File { file, .. } => Some(Arc::clone(file)),
            _ => None,
        };
        Self {
            inner: Arc::new(Inner {
                sink,
                state: Mutex::new(state),
                dirty: AtomicBool::new(false),
                sync_scheduled: AtomicBool::new(false),
                sync_failed: AtomicBool::new(false),
                sync_file,
            }),
        }
    }

    /// Appends one decision. When this returns an error the line may not be
    /// in the log, and no credentials may be issued.
    ///
    /// File and stream I/O (including `sync_data`) runs on the blocking pool
    /// through `tokio::task::spawn_blocking`, so a slow disk never stalls the
    /// runtime; the memory sink is written in place. Must be called from
    /// within a Tokio runtime.
    pub async fn write(&self, record: &DecisionRecord) -> Result<(), LogError> {
        self.write_with(record, Durability::Synced).await
    }

    /// Appends one decision with the given [`Durability`]. When this
    /// returns an error the line may not be in the log, and no credentials
    /// may be returned. Must be called from within a Tokio runtime.
    pub async fn write_with(
        &self,
        record: &DecisionRecord,
        durability: Durability,
    ) -> Result<(), LogError> {
        let body = encode(record)?;
        let sync =
            durability == Durability::Synced || self.inner.sync_failed.load(Ordering::Acquire);
        if matches!(self.inner.sink, Sink::Memory) {
            return self.inner.append(&body, true);
        }
        if !sync {
            self.inner.append(&body, false)?;
            self.schedule_sync();
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.append(&body, true))
            .await
            .map_err(|e| LogError::Interrupted(e.to_string()))?
    }

    /// [`Self::write`] for callers outside an async runtime. Blocks until the
    /// line is written (and, for a file, synced to disk).
    pub fn write_blocking(&self, record: &DecisionRecord) -> Result<(), LogError> {
        let body = encode(record)?;
        self.inner.append(&body, true)
    }

    /// Syncs to disk every line written so far with
    /// [`Durability::Written`] (a no-op when there is none). Blocking.
    pub fn sync(&self) -> Result<(), LogError> {
        self.inner.sync_pending()
    }

    /// Starts the background sync of [`Durability::Written`] lines unless
    /// one is already waiting: it runs [`SYNC_DELAY`] from now and covers
    /// every line written until then.
    fn schedule_sync(&self) {
        if !self.inner.dirty.load(Ordering::Acquire)
            || self.inner.sync_scheduled.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(SYNC_DELAY).await;
            inner.sync_scheduled.store(false, Ordering::Release);
            let synced = tokio::task::spawn_blocking(move || inner.sync_pending()).await;
            match synced {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "decision log: background sync failed"),
                Err(e) => tracing::error!(error = %e, "decision log: background sync did not run"),
            }
        });
    }

    /// Hash of the last line this handle wrote or read when opening
    /// ([`GENESIS_HASH`] for a new chain). Keep it elsewhere to check the
    /// last line later (see [`VerifyReport::last_hash`]).
    pub fn head(&self) -> String {
        self.inner.lock().head.clone()
    }

    /// The log file, for a file sink.
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.sink {
            Sink::File(path) => Some(path),
            _ => None,
        }
    }

    /// Everything written so far, for a memory sink.
    pub fn memory_contents(&self) -> Option<String> {
        match &self.inner.lock().target {
            Target::Memory(buf) => Some(String::from_utf8_lossy(buf).into_owned()),
            _ => None,
        }
    }
}

/// The record as a JSON object without its closing brace, ready for the
/// chain fields.
fn encode(record: &DecisionRecord) -> Result<String, LogError> {
    let mut body = serde_json::to_string(record).map_err(LogError::Encode)?;
    if body.pop() != Some('}') || !body.starts_with('{') {
        return Err(LogError::Encode(serde::ser::Error::custom(
            "a decision record did not encode as a JSON object",
        )));
    }
    Ok(body)
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-updated chain:
        // the state is only updated after a successful write.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes one line; `sync`: and syncs the file to disk.
    fn append(&self, body: &str, sync: bool) -> Result<(), LogError> {
        let mut state = self.lock();
        let sink = &self.sink;
        match &mut state.target {
            Target::File { .. } => state.with_file_lock(sink, |state, file, len| {
                let line = state.next_line(body)?;
                write_file_line(file, len, &line, sink, sync)?;
                state.advance(&line);
                if sync {
                    // fdatasync covered every line before this one too.
                    self.dirty.store(false, Ordering::Release);
                    self.sync_failed.store(false, Ordering::Release);
                } else {
                    self.dirty.store(true, Ordering::Release);
                }
                Ok(len + line.len() as u64 + 1)
            }),
            Target::Memory(_) | Target::Stderr | Target::Stdout => {
                let line = state.next_line(body)?;
                let mut bytes = Vec::with_capacity(line.len() + 1);
                bytes.extend_from_slice(line.as_bytes());
                bytes.push(b'\n');
                let write_err = |source| LogError::Write {
                    sink: sink.describe(),
                    source,
                };
                match &mut state.target {
                    Target::Memory(buf) => buf.extend_from_slice(&bytes),
                    Target::Stderr => {
                        let mut out = io::stderr().lock();
                        out.write_all(&bytes).map_err(write_err)?;
                        out.flush().map_err(write_err)?;
                    }
                    Target::Stdout => {
                        let mut out = io::stdout().lock();
                        out.write_all(&bytes).map_err(write_err)?;
                        out.flush().map_err(write_err)?;
                    }
                    Target::File { .. } => {}
                }
                state.advance(&line);
                Ok(())
            }
        }
    }
}

impl Inner {
    /// Syncs the file when lines were written without a sync.
    fn sync_pending(&self) -> Result<(), LogError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let synced = match &self.sync_file {
            Some(file) => file.sync_data(),
            // No second handle: sync under the lock.
            None => match &self.lock().target {
                Target::File { file, .. } => file.sync_data(),
                _ => Ok(()),
            },
        };
        match synced {
            Ok(()) => {
                self.sync_failed.store(false, Ordering::Release);
                Ok(())
            }
            Err(source) => {
                self.dirty.store(true, Ordering::Release);
                self.sync_failed.store(true, Ordering::Release);
                Err(LogError::Write {
                    sink: self.sink.describe(),
                    source,
                })
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Best effort: the lines are in the file already; this only makes
        // them safe from a power cut sooner than the next boot's journal.
        if let Err(e) = self.sync_pending() {
            tracing::error!(error = %e, "decision log: final sync failed");
        }
    }
}

impl State {
    fn next_line(&self, body: &str) -> Result<String, LogError> {
        let line = format!(
            "{body},\"seq\":{},\"prev\":\"{}\"}}",
            self.seq + 1,
            self.head
        );
        if line.len() > MAX_LINE_BYTES {
            return Err(LogError::TooLarge { bytes: line.len() });
        }
        Ok(line)
    }

    fn advance(&mut self, line: &str) {
        self.seq += 1;
        self.head = line_hash(line.as_bytes());
    }

    /// Runs `f` holding an exclusive advisory lock on the log file, so other
    /// processes appending to the same file do not interleave with us. If the
    /// file is not the length we left it at (first use, a failed write, another
    /// process), the chain is re-read from its tail
    /// first. `f` gets the current length and returns the new one.
    fn with_file_lock(
        &mut self,
        sink: &Sink,
        f: impl FnOnce(&mut State, &File, u64) -> Result<u64, LogError>,
    ) -> Result<(), LogError> {
        let Target::File { file, known_len } = &mut self.target else {
            return Ok(());
        };
        let write_err = |source| LogError::Write {
            sink: sink.describe(),
            source,
        };
        // A second reference for the duration, so `f` can update the rest
        // of the state.
        let file = Arc::clone(file);
        let known = known_len.take();
        match file.lock() {
            Ok(()) => {}
            // Some filesystems have no locks; the in-process mutex still holds.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
            Err(source) => return Err(write_err(source)),
        }
        let result = (|| {
            let len = file.metadata().map_err(write_err)?.len();
            if known != Some(len) {
                // First use, a failed write, or another process appended:
                // continue from the last line actually in the file.
                let (seq, head) = read_tail(&file, len, sink)?;
                self.seq = seq;
                self.head = head;
            }
            f(self, &file, len)
        })();
        let _ = file.unlock();
        if let Target::File { known_len, .. } = &mut self.target {
            *known_len = result.as_ref().ok().copied();
        }
        result.map(|_| ())
    }
}

/// Writes one line and, with `sync`, syncs it; on failure, cuts the file
/// back to `len` so no partial line is left behind.
fn write_file_line(
    file: &File,
    len: u64,
    line: &str,
    sink: &Sink,
    sync: bool,
) -> Result<(), LogError> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let mut writer = file;
    let result = writer
        .write_all(&bytes)
        .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
    if let Err(source) = result {
        let _ = file.set_len(len);
        return Err(LogError::Write {
            sink: sink.describe(),
            source,
        });
    }
    Ok(())
}

/// The `seq` and hash of the last line of a log file of length `len`.
fn read_tail(file: &File, len: u64, sink: &Sink) -> Result<(u64, String), LogError> {
    let corrupt = |problem: String| match sink {
        Sink::File(path) => LogError::Corrupt {
            path: path.clone(),
            problem,
        },
        _ => LogError::Write {
            sink: sink.describe(),
            source: io::Error::other(problem),
        },
    };
    let read_err = |source| LogError::Write {
        sink: sink.describe(),
        source,
    };
    if len == 0 {
        return Ok((0, GENESIS_HASH.to_owned()));
    }
    let read_range = |start: u64, end: u64| -> Result<Vec<u8>, LogError> {
        let mut reader = file;
        reader.seek(SeekFrom::Start(start)).map_err(read_err)?;
        let size = usize::try_from(end - start).map_err(|e| read_err(io::Error::other(e)))?;
        let mut buf = vec![0; size];
        reader.read_exact(&mut buf).map_err(read_err)?;
        Ok(buf)
    };
    if read_range(len - 1, len)? != b"\n" {
        return Err(corrupt(
            "its last line is incomplete (no newline at the end)".to_owned(),
        ));
    }
    let end = len - 1;
    let max = MAX_LINE_BYTES as u64 + 1;
    let mut chunk: u64 = 4096;
    let line = loop {
        let start = end.saturating_sub(chunk.min(max));
        let buf = read_range(start, end)?;
        if let Some(i) = buf.iter().rposition(|b| *b == b'\n') {
            break buf[i + 1..].to_vec();
        }
        if start == 0 {
            break buf;
        }
        if chunk >= max {
            return Err(corrupt(format!(
                "its last line is longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        chunk *= 8;
    };
    let (seq, _) =
        parse_chain(&line).map_err(|p| corrupt(format!("its last line is damaged: {p}")))?;
    Ok((seq, line_hash(&line)))
}
