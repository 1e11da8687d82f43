//! Everything the user sees: exit codes, error reports, tables, records,
//! times and JSON.

use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use sentinel_policy::PolicyDuration;
use serde::Serialize;

/// Exit code: something went wrong (bad arguments, configuration, a store or AWS error).
pub const EXIT_ERROR: u8 = 1;
/// Exit code: the request was understood and refused (policy denies, not an
/// approver, self-approval, rate limited, break-glass already active).
pub const EXIT_DENIED: u8 = 2;

/// The exit codes as shown at the end of `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (for `policy test`: the policy allows)
  1  error: bad arguments, configuration, store or AWS failure
  2  denied: the policy, an approval rule, a break-glass rule or a rate
     limit refused (e.g. approving your own request)";

/// Whether a failure is a refusal or an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exit 1.
    Error,
    /// Exit 2.
    Denied,
}

/// A failure to report: one line of message, indented detail lines (see
/// [`CliError::with_lines`]) and an optional hint line.
#[derive(Debug, Clone)]
pub struct CliError {
    kind: Kind,
    message: String,
    details: Vec<String>,
    hint: Option<String>,
}

/// Result of a command.
pub type CliResult<T = ExitCode> = Result<T, CliError>;

impl CliError {
    /// An error (exit 1).
    pub fn error(message: impl fmt::Display) -> Self {
        Self {
            kind: Kind::Error,
            message: message.to_string(),
            details: Vec::new(),
            hint: None,
        }
    }

    /// An error (exit 1) whose message is structured in lines (e.g. one
    /// per credential provider tried): the first line is the message, each
    /// further line is reported on its own, indented. Every line is still
    /// made a single line of text.
    pub fn with_lines(message: impl fmt::Display) -> Self {
        let text = message.to_string();
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let mut e = Self::error(lines.next().unwrap_or_default());
        e.details = lines.map(str::to_owned).collect();
        e
    }

    /// A refusal (exit 2).
    pub fn denied(message: impl fmt::Display) -> Self {
        Self {
            kind: Kind::Denied,
            message: message.to_string(),
            details: Vec::new(),
            hint: None,
        }
    }

    /// Adds (or replaces) the hint line.
    #[must_use]
    pub fn hint(mut self, hint: impl fmt::Display) -> Self {
        self.hint = Some(hint.to_string());
        self
    }

    /// Writes the report to stderr and returns the exit code.
    pub fn report(&self) -> ExitCode {
        let mut err = io::stderr().lock();
        // Keep it to one line each: messages from stores may carry newlines.
        let _ = writeln!(err, "sentinel: {}", one_line(&self.message));
        for d in &self.details {
            let _ = writeln!(err, "  {}", one_line(d));
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(err, "hint: {}", one_line(h));
        }
        ExitCode::from(match self.kind {
            Kind::Error => EXIT_ERROR,
            Kind::Denied => EXIT_DENIED,
        })
    }
}

/// The message alone (the hint and details are for [`CliError::report`]).
impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A warning on stderr that never changes the exit code.
pub fn warn(message: impl fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "sentinel: warning: {message}");
}

/// Reports the libraries' `tracing` warnings and errors (targets
/// `sentinel_*`) as [`warn`] lines; every other event is off, so the AWS
/// SDK's own events stay silent as before.
pub fn report_library_warnings() {
    let _ = tracing::subscriber::set_global_default(LibraryWarnings);
}

/// The subscriber of [`report_library_warnings`].
struct LibraryWarnings;

impl tracing::Subscriber for LibraryWarnings {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.enabled(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.is_event()
            && *metadata.level() <= tracing::Level::WARN
            && metadata.target().starts_with("sentinel_")
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::WARN)
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        warn(clean(&message.0));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// A progress note on stderr (`sentinel: ...`), never on stdout.
pub fn info(message: impl fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "sentinel: {message}");
}

/// Writes `text` to stdout. A closed pipe (`sentinel list | head`) ends the
/// process quietly with exit 0, as the reader got what it wanted.
pub fn print(text: &str) -> CliResult<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(CliError::error(format!("cannot write to stdout: {e}"))),
    }
}

/// Prints a value as pretty JSON followed by a newline.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> CliResult<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::error(format!("cannot encode JSON output: {e}")))?;
    text.push('\n');
    print(&text)
}

/// A time as RFC 3339 UTC with a relative hint, e.g.
/// `2026-03-02T09:00:00Z (in 59m)`.
pub fn time(t: Timestamp, now: Timestamp) -> String {
    let exact = t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let delta = t.duration_since(now);
    let secs = delta.as_secs();
    if secs.abs() < 5 {
        return format!("{exact} (now)");
    }
    let span = coarse(SignedDuration::from_secs(secs.abs()));
    if secs > 0 {
        format!("{exact} (in {span})")
    } else {
        format!("{exact} ({span} ago)")
    }
}

/// A short time for table cells: RFC 3339 UTC to the minute.
pub fn short_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%MZ").to_string()
}

/// At most two units, e.g. `3h12m`, `2d4h`, `45s`.
fn coarse(d: SignedDuration) -> String {
    let s = d.as_secs().unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

/// A duration the way policies write it (`1h30m`).
pub fn duration(d: Duration) -> String {
    PolicyDuration::new(d).to_string()
}

/// An aligned table: a header row and data rows, columns separated by two
/// spaces, the last column not padded.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (cells beyond the header count are ignored).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the table with a trailing newline.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                let cell = clean(cell);
                if i + 1 == n {
                    line.push_str(&cell);
                } else {
                    let pad = w.saturating_sub(cell.chars().count());
                    let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A `key: value` block for one record, keys aligned.
#[derive(Debug, Default)]
pub struct Record {
    fields: Vec<(&'static str, String)>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field.
    #[must_use]
    pub fn field(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        self.fields.push((key, value.to_string()));
        self
    }

    /// Adds a field when `value` is present.
    #[must_use]
    pub fn opt(self, key: &'static str, value: Option<impl fmt::Display>) -> Self {
        match value {
            Some(v) => self.field(key, v),
            None => self,
        }
    }

    /// Renders the block with a trailing newline.
    pub fn render(&self) -> String {
        let width = self
            .fields
            .iter()
            .map(|(k, _)| k.len() + 1)
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (k, v) in &self.fields {
            let key = format!("{k}:");
            let _ = writeln!(out, "{key:<width$} {}", clean(v));
        }
        out
    }
}

/// Stored text shown in a terminal: control characters (including escape
/// sequences and newlines) become spaces so a record cannot repaint the
/// screen or forge lines.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A store's `Invalid { field }` error with a hint naming the flag to fix,
/// when the field comes from one: `flags` maps field names to flags.
/// The hint for a state store that failed (not a refusal).
pub const STATE_HINT: &str = "check --state / SENTINEL_STATE and your AWS credentials for DynamoDB";

/// The report for a store whose DynamoDB table does not exist: `e` (the
/// store's error) with the AWS CLI commands that create `table` as
/// `layout` describes it.
pub fn missing_table(
    e: impl fmt::Display,
    table: &str,
    layout: &sentinel_store::TableLayout,
) -> CliError {
    use sentinel_store::TableLayout;
    let attributes: Vec<String> = layout
        .key_attributes()
        .iter()
        .map(|a| format!("AttributeName={a},AttributeType=S"))
        .collect();
    let indexes: Vec<serde_json::Value> = layout
        .indexes
        .iter()
        .map(|g| {
            let mut keys =
                vec![serde_json::json!({"AttributeName": g.partition, "KeyType": "HASH"})];
            keys.extend(
                g.sort
                    .map(|s| serde_json::json!({"AttributeName": s, "KeyType": "RANGE"})),
            );
            serde_json::json!({
                "IndexName": g.name,
                "KeySchema": keys,
                "Projection": {"ProjectionType": "ALL"},
            })
        })
        .collect();
    let mut create = format!(
        "aws dynamodb create-table --table-name {table} --billing-mode PAY_PER_REQUEST \
         --attribute-definitions {} --key-schema AttributeName={},KeyType=HASH",
        attributes.join(" "),
        TableLayout::PARTITION_KEY,
    );
    if !indexes.is_empty() {
        let _ = write!(
            create,
            " --global-secondary-indexes '{}'",
            serde_json::Value::Array(indexes)
        );
    }
    CliError::error(e).hint(format!(
        "create it with `{create}`, then turn on TTL with `aws dynamodb update-time-to-live \
         --table-name {table} --time-to-live-specification Enabled=true,AttributeName={}`",
        TableLayout::TTL_ATTRIBUTE,
    ))
}

/// Up to `limit` items, newest first, from a store's pages: `page(after)`
/// returns one page's items and the token of the next.
pub async fn collect<T, E>(
    limit: usize,
    mut page: impl AsyncFnMut(Option<String>) -> Result<(Vec<T>, Option<String>), E>,
) -> Result<Vec<T>, E> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let (items, next) = page(after).await?;
        all.extend(items);
        match next {
            Some(t) if all.len() < limit => after = Some(t),
            _ => break,
        }
    }
    all.truncate(limit);
    Ok(all)
}

/// A listing command: up to `limit` records, newest first, read by
/// `page(size, after)` in pages of at most 100 (see [`collect`]), then
/// printed as [`listing`] prints them, each row by `row(record, now)`.
pub async fn list<T: Serialize>(
    limit: u32,
    json: bool,
    what: &str,
    headers: &[&'static str],
    mut page: impl AsyncFnMut(usize, Option<String>) -> CliResult<(Vec<T>, Option<String>)>,
    row: impl Fn(&T, Timestamp) -> Vec<String>,
) -> CliResult {
    let limit = limit as usize;
    let size = limit.min(100);
    let all = collect(limit, async |after| page(size, after).await).await?;
    let now = Timestamp::now();
    listing(&all, json, what, headers, |r| row(r, now))
}

/// How the CLI speaks of one kind of stored record when its store fails.
#[derive(Debug)]
pub struct RecordCommands {
    /// What a record is called (`access request`).
    pub record: &'static str,
    /// The hint for an id that names no record.
    pub list_hint: &'static str,
    /// The hint for a record not in a state that allows the change.
    pub show_hint: &'static str,
    /// The flag that sets each field, for the hint on an invalid value.
    pub flags: &'static [(&'static str, &'static str)],
}

/// Maps a store error `e`, of kind `kind`, to an exit code and a hint, the
/// same way for every store.
pub fn store_failed(
    e: impl fmt::Display,
    kind: sentinel_store::ErrorKind<'_>,
    about: &RecordCommands,
) -> CliError {
    use sentinel_store::ErrorKind;
    match kind {
        ErrorKind::NotFound { id } => {
            CliError::error(format!("no {} \"{id}\"", about.record)).hint(about.list_hint)
        }
        ErrorKind::InvalidTransition => CliError::error(e).hint(about.show_hint),
        ErrorKind::Invalid { field } => invalid_field(e, field, about.flags),
        ErrorKind::MissingTable { table, layout } => missing_table(e, table, layout),
        _ => CliError::error(e).hint(STATE_HINT),
    }
}

pub fn invalid_field(
    e: impl fmt::Display,
    field: &str,
    flags: &[(&str, &'static str)],
) -> CliError {
    let err = CliError::error(e);
    match flags.iter().find(|(f, _)| *f == field) {
        Some((_, flag)) => err.hint(format!("fix {flag} and try again")),
        None => err,
    }
}

/// Prints a listing: JSON with `--json`, else a table with `headers` and a
/// row per item, or `sentinel: no <what> match` on stderr when empty.
pub fn listing<T: Serialize>(
    items: &[T],
    json: bool,
    what: &str,
    headers: &[&'static str],
    row: impl Fn(&T) -> Vec<String>,
) -> CliResult {
    if json {
        print_json(items)?;
        return Ok(ExitCode::SUCCESS);
    }
    if items.is_empty() {
        eprintln!("sentinel: no {what} match");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(headers);
    for item in items {
        table.row(row(item));
    }
    print(&table.render())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_missing_table_is_reported_with_the_commands_that_create_it() {
        let e = missing_table(
            "the request table \"reqs\" does not exist",
            "reqs",
            &sentinel_approval::REQUEST_TABLE_LAYOUT,
        );
        assert_eq!(e.message, "the request table \"reqs\" does not exist");
        assert_eq!(
            one_line(e.hint.as_deref().unwrap()),
            "create it with `aws dynamodb create-table --table-name reqs \
             --billing-mode PAY_PER_REQUEST --attribute-definitions \
             AttributeName=id,AttributeType=S AttributeName=requester,AttributeType=S \
             AttributeName=created_at,AttributeType=S AttributeName=status,AttributeType=S \
             AttributeName=profile,AttributeType=S --key-schema AttributeName=id,KeyType=HASH \
             --global-secondary-indexes '[\
             {\"IndexName\":\"gsi-requester\",\"KeySchema\":[{\"AttributeName\":\"requester\",\"KeyType\":\"HASH\"},\
             {\"AttributeName\":\"created_at\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"ALL\"}},\
             {\"IndexName\":\"gsi-status\",\"KeySchema\":[{\"AttributeName\":\"status\",\"KeyType\":\"HASH\"},\
             {\"AttributeName\":\"created_at\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"ALL\"}},\
             {\"IndexName\":\"gsi-profile\",\"KeySchema\":[{\"AttributeName\":\"profile\",\"KeyType\":\"HASH\"},\
             {\"AttributeName\":\"created_at\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"ALL\"}}]'`, \
             then turn on TTL with `aws dynamodb update-time-to-live --table-name reqs \
             --time-to-live-specification Enabled=true,AttributeName=ttl`"
        );
    }

    #[tokio::test]
    async fn collect_pages_until_the_limit_or_the_end() {
        // Pages of two items out of five: [0,1] [2,3] [4].
        let pages = |asked: std::rc::Rc<std::cell::RefCell<Vec<Option<String>>>>| {
            move |after: Option<String>| {
                asked.borrow_mut().push(after.clone());
                let start: usize = after.map_or(0, |t| t.parse().unwrap());
                let items: Vec<usize> = (start..(start + 2).min(5)).collect();
                let next = (start + 2 < 5).then(|| (start + 2).to_string());
                async move { Ok::<_, ()>((items, next)) }
            }
        };
        let asked = std::rc::Rc::default();
        let got = collect(3, pages(std::rc::Rc::clone(&asked))).await.unwrap();
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(
            *asked.borrow(),
            vec![None, Some("2".to_owned())],
            "stops once it has 3"
        );
        let asked = std::rc::Rc::default();
        let got = collect(100, pages(std::rc::Rc::clone(&asked)))
            .await
            .unwrap();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert_eq!(asked.borrow().len(), 3, "stops at the last page");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["ID", "STATUS", "NOTE"]);
        t.row(vec!["abc".into(), "pending".into(), "x".into()]);
        t.row(vec!["a".into(), "ok".into(), "long note".into()]);
        assert_eq!(
            t.render(),
            "ID   STATUS   NOTE\nabc  pending  x\na    ok       long note\n"
        );
    }

    #[test]
    fn records_align_and_clean() {
        let r = Record::new()
            .field("id", "x")
            .field("status", "a\u{1b}[2Jb");
        assert_eq!(r.render(), "id:     x\nstatus: a [2Jb\n");
    }

    #[test]
    fn relative_times() {
        let now: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-03-02T10:30:00Z".parse().unwrap();
        assert_eq!(time(later, now), "2026-03-02T10:30:00Z (in 1h30m)");
        assert_eq!(time(now, later), "2026-03-02T09:00:00Z (1h30m ago)");
        assert_eq!(time(now, now), "2026-03-02T09:00:00Z (now)");
        let days: Timestamp = "2026-03-05T12:00:00Z".parse().unwrap();
        assert_eq!(time(days, now), "2026-03-05T12:00:00Z (in 3d3h)");
    }
}
