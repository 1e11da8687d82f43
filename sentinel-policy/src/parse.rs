//! From text to a [`PolicyDocument`]: YAML (or JSON, which is YAML) is read
//! into a tree that remembers where every node came from, then deserialized
//! piece by piece so that one broken rule does not hide the problems of the
//! next. Every problem gets the line and column of the field it names.

use std::fmt::Write as _;

use saphyr::Scalar;
use saphyr_parser::{Event, Parser, Tag};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::document::{ApprovalSection, BreakGlassSection, PolicyDocument, RateLimitSection, Rule};
use crate::error::{Location, Problem};
use crate::strict::Strict;
use crate::validate::{Parts, validate};

/// Largest policy document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting accepted (policy documents need fewer than ten levels).
const MAX_DEPTH: usize = 32;
/// Most problems reported for one document.
const MAX_PROBLEMS: usize = 200;

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

pub(crate) type Path = Vec<Seg>;

pub(crate) fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(s, "[{i}]");
            }
        }
    }
    s
}

/// A node of the source tree with its position.
#[derive(Debug)]
pub(crate) struct Node {
    loc: Location,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Map(Vec<(String, Location, Node)>),
    Seq(Vec<Node>),
    Scalar,
}

impl Node {
    /// The position of the deepest node `path` reaches. `key` asks for the
    /// position of a mapping key rather than its value.
    pub(crate) fn locate(&self, path: &[Seg], key: bool) -> Location {
        let mut node = self;
        let mut loc = self.loc;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            match (seg, &node.kind) {
                (Seg::Key(k), Kind::Map(entries)) => {
                    match entries.iter().find(|(name, _, _)| name == k) {
                        Some((_, key_loc, value)) => {
                            if last && key {
                                return *key_loc;
                            }
                            node = value;
                            loc = value.loc;
                        }
                        None => return loc,
                    }
                }
                (Seg::Index(idx), Kind::Seq(items)) => match items.get(*idx) {
                    Some(item) => {
                        node = item;
                        loc = item.loc;
                    }
                    None => return loc,
                },
                _ => return loc,
            }
        }
        loc
    }
}

fn location(m: &saphyr_parser::Marker) -> Location {
    Location {
        line: m.line(),
        column: m.col() + 1,
    }
}

/// Reads YAML or JSON text into a JSON value and the position tree.
///
/// The tree is built from parser events with an explicit stack, so nesting
/// depth is checked before it can exhaust the call stack, and aliases and
/// tags are refused before anything expands them.
pub(crate) fn read_tree(text: &str) -> Result<(Value, Node), Problem> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(Problem::new(
            "",
            format!(
                "the document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}",
                text.len()
            ),
        )
        .at(Location { line: 1, column: 1 })
        .help("split the policy into one document per profile"));
    }
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| scan_problem(text, &e))?;
        builder.event(event, location(&span.start))?;
    }
    match builder.root {
        Some((Value::Null, _)) | None => Err(Problem::new("", "the document is empty")
            .at(Location { line: 1, column: 1 })
            .help("a policy needs at least `version: \"1\"` and a `rules:` list")),
        Some(root) => Ok(root),
    }
}

fn scan_problem(text: &str, e: &saphyr_parser::ScanError) -> Problem {
    let info = e.info();
    if info.contains("tab") {
        // Point at the first tab used for indentation, which is what the
        // scanner is complaining about even when it reports a later spot.
        for (i, line) in text.lines().enumerate() {
            let indent: &str = &line[..line.len() - line.trim_start().len()];
            if let Some(col) = indent.find('\t') {
                return Problem::new("", "a tab is used for indentation")
                    .at(Location {
                        line: i + 1,
                        column: col + 1,
                    })
                    .help("YAML indents with spaces only; replace the tab with spaces");
            }
        }
    }
    Problem::new("", format!("not valid YAML or JSON: {info}"))
        .at(location(e.marker()))
        .help("check indentation, quoting and brackets near this position")
}

enum Frame {
    Seq {
        loc: Location,
        values: Vec<Value>,
        nodes: Vec<Node>,
    },
    Map {
        loc: Location,
        values: Map<String, Value>,
        entries: Vec<(String, Location, Node)>,
        key: Option<(String, Location)>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<(Value, Node)>,
    documents: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, loc: Location) -> Result<(), Problem> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(
                        Problem::new("", "more than one YAML document in one policy")
                            .at(loc)
                            .help(
                                "remove the `---` separator; put one policy per file or parameter",
                            ),
                    );
                }
                Ok(())
            }
            Event::Alias(_) => Err(Problem::new(
                "",
                "YAML aliases (`*name`) are not supported in policies",
            )
            .at(loc)
            .help("write the value out in full, so every rule reads on its own")),
            Event::Scalar(text, style, _, tag) => {
                let is_str = match tag.as_deref() {
                    None => false,
                    Some(t) if t.is_yaml_core_schema() && t.suffix == "str" => true,
                    Some(t) => return Err(tag_problem(t, loc)),
                };
                let value = if is_str {
                    Value::String(text.into_owned())
                } else {
                    match Scalar::parse_from_cow_and_metadata(text, style, None) {
                        Some(s) => scalar(s),
                        None => Value::Null,
                    }
                };
                self.push(
                    value,
                    Node {
                        loc,
                        kind: Kind::Scalar,
                    },
                )
            }
            Event::SequenceStart(_, tag) | Event::MappingStart(_, tag) if tag.is_some() => {
                Err(tag_problem(tag.as_deref().map_or(&DEFAULT_TAG, |t| t), loc))
            }
            Event::SequenceStart(..) => {
                self.open(loc)?;
                self.stack.push(Frame::Seq {
                    loc,
                    values: Vec::new(),
                    nodes: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(..) => {
                self.open(loc)?;
                self.stack.push(Frame::Map {
                    loc,
                    values: Map::new(),
                    entries: Vec::new(),
                    key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { loc, values, nodes }) => self.push(
                    Value::Array(values),
                    Node {
                        loc,
                        kind: Kind::Seq(nodes),
                    },
                ),
                Some(Frame::Map {
                    loc,
                    values,
                    entries,
                    ..
                }) => self.push(
                    Value::Object(values),
                    Node {
                        loc,
                        kind: Kind::Map(entries),
                    },
                ),
                None => Ok(()),
            },
        }
    }

    /// Checks that a collection may start here.
    fn open(&self, loc: Location) -> Result<(), Problem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(
                Problem::new("", format!("nested deeper than {MAX_DEPTH} levels"))
                    .at(loc)
                    .help("a policy document never needs this much nesting"),
            );
        }
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(Problem::new("", "mapping keys must be plain names")
                .at(loc)
                .help("use a name such as `rules:` as the key"));
        }
        Ok(())
    }

    fn push(&mut self, value: Value, node: Node) -> Result<(), Problem> {
        match self.stack.last_mut() {
            None => {
                self.root = Some((value, node));
                Ok(())
            }
            Some(Frame::Seq { values, nodes, .. }) => {
                values.push(value);
                nodes.push(node);
                Ok(())
            }
            Some(Frame::Map {
                values,
                entries,
                key,
                ..
            }) => match key.take() {
                None => {
                    let name = match value {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    if values.contains_key(&name) {
                        let first = entries
                            .iter()
                            .find(|(k, _, _)| *k == name)
                            .map_or(0, |(_, at, _)| at.line);
                        return Err(Problem::new("", format!("duplicate key `{name}`"))
                            .at(node.loc)
                            .help(format!(
                                "it is already set on line {first}; keep one of them"
                            )));
                    }
                    *key = Some((name, node.loc));
                    Ok(())
                }
                Some((name, key_loc)) => {
                    values.insert(name.clone(), value);
                    entries.push((name, key_loc, node));
                    Ok(())
                }
            },
        }
    }
}

static DEFAULT_TAG: Tag = Tag {
    handle: String::new(),
    suffix: String::new(),
};

fn tag_problem(tag: &Tag, loc: Location) -> Problem {
    Problem::new(
        "",
        format!(
            "YAML tags (`{}{}`) are not supported in policies",
            if tag.is_yaml_core_schema() {
                "!!"
            } else {
                tag.handle.as_str()
            },
            tag.suffix
        ),
    )
    .at(loc)
    .help("remove the tag; write plain values")
}

fn scalar(s: Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(b),
        Scalar::Integer(i) => Value::from(i),
        Scalar::FloatingPoint(f) => {
            serde_json::Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number)
        }
        Scalar::String(s) => Value::String(s.into_owned()),
    }
}

/// Collects problems while deserializing parts of a document.
pub(crate) struct Collector<'a> {
    tree: Option<&'a Node>,
    pub(crate) problems: Vec<Problem>,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(tree: Option<&'a Node>) -> Self {
        Self {
            tree,
            problems: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, path: &[Seg], key: bool, mut problem: Problem) {
        if self.problems.len() > MAX_PROBLEMS {
            return;
        }
        if self.problems.len() == MAX_PROBLEMS {
            let mut last = Problem::new(
                "",
                format!("more than {MAX_PROBLEMS} problems; the rest are not listed"),
            )
            .help("fix these and validate again");
            last.location = self.problems.last().and_then(|p| p.location);
            self.problems.push(last);
            return;
        }
        problem.path = path_string(path);
        problem.location = self.tree.map(|t| t.locate(path, key));
        self.problems.push(problem);
    }

    /// Deserializes `value` (found at `base`) as `T`, recording every
    /// problem it can find: after each error the offending field is removed
    /// and deserialization is tried again.
    pub(crate) fn deserialize<T: DeserializeOwned>(
        &mut self,
        base: &[Seg],
        mut value: Value,
    ) -> Option<T> {
        // Fast path: most parts are fine, and path tracking costs an
        // allocation per field.
        if let Ok(v) = T::deserialize(Strict(&value)) {
            return Some(v);
        }
        let mut removed: Vec<Path> = Vec::new();
        for _ in 0..32 {
            let err = match serde_path_to_error::deserialize::<_, T>(Strict(&value)) {
                Ok(v) => return if removed.is_empty() { Some(v) } else { None },
                Err(e) => e,
            };
            let mut rel: Path = err
                .path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                    _ => None,
                })
                .collect();
            let message = err.inner().to_string();
            let mut key = false;
            let mut help = None;
            if let Some(name) = backticked(&message, "unknown field `") {
                if rel.last() != Some(&Seg::Key(name.clone())) {
                    rel.push(Seg::Key(name));
                }
                key = true;
                help = Some("remove it or check its spelling and indentation".to_owned());
            } else if let Some(name) = backticked(&message, "missing field `") {
                let mut full = rel.clone();
                full.push(Seg::Key(name.clone()));
                if removed.contains(&full) {
                    // We removed it ourselves after reporting it: drop the
                    // whole enclosing value and look further.
                    while matches!(rel.last(), Some(Seg::Index(_))) {
                        rel.pop();
                    }
                    if rel.is_empty() || !remove(&mut value, &rel) {
                        return None;
                    }
                    removed.push(rel);
                    continue;
                }
                help = Some(format!("add `{name}:` here"));
            } else if rel.last() == Some(&Seg::Key("end".to_owned())) && hour_past_the_day(&message)
            {
                help = Some(
                    "an end not later than the start is on the next day: \"22:00\" to \"06:00\" \
                     runs overnight, and \"00:00\" is midnight"
                        .to_owned(),
                );
            }
            let message = tidy(&message);
            let mut full = base.to_vec();
            full.extend(rel.iter().cloned());
            let mut problem = Problem::new("", message);
            problem.help = help;
            self.push(&full, key, problem);
            // Remove the field (a whole list for a bad element) and retry.
            while matches!(rel.last(), Some(Seg::Index(_))) {
                rel.pop();
            }
            if rel.is_empty() || !remove(&mut value, &rel) {
                return None;
            }
            removed.push(rel);
        }
        None
    }
}

fn backticked(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest
        .find("`, expected")
        .or_else(|| rest.strip_suffix('`').map(str::len))?;
    Some(rest[..end].to_owned())
}

/// Whether `message` refuses a clock time whose hour is 24 or more
/// (`24:00`, `30:00`): someone writing a window past midnight.
fn hour_past_the_day(message: &str) -> bool {
    message
        .strip_prefix("invalid time \"")
        .and_then(|rest| rest.get(..3))
        .and_then(|hh| hh.strip_suffix(':'))
        .and_then(|hh| hh.parse::<u8>().ok())
        .is_some_and(|h| h >= 24)
}

/// Makes serde's messages read like ours.
fn tidy(message: &str) -> String {
    message
        .replace("unknown variant", "unknown value")
        .replace("invalid type: map, expected", "expected")
        .replace("invalid type: sequence, expected", "expected")
        .replace("invalid type: null, expected", "empty value, expected")
        .replace(
            "invalid type: unit value, expected",
            "empty value, expected",
        )
}

fn remove(value: &mut Value, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(v) => v,
                None => return false,
            },
            (Seg::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cur) {
        (Seg::Key(k), Value::Object(m)) => m.remove(k).is_some(),
        _ => false,
    }
}

const TOP_LEVEL: &[&str] = &[
    "version",
    "rules",
    "approvals",
    "breakglass",
    "rate_limits",
    "profiles",
    "identity",
    "admins",
];

/// Parses and validates a document. Returns every problem found, sorted
/// by position.
pub(crate) fn parse_document(text: &str) -> Result<PolicyDocument, Vec<Problem>> {
    let (value, tree) = read_tree(text).map_err(|p| vec![p])?;
    let mut c = Collector::new(Some(&tree));
    let Value::Object(mut top) = value else {
        c.push(
            &[],
            false,
            Problem::new("", "a policy must be a mapping with `version` and `rules`")
                .help("start the document with `version: \"1\"`"),
        );
        return Err(c.problems);
    };
    for key in top.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            c.push(
                &[Seg::Key(key.clone())],
                true,
                Problem::new("", format!("unknown field `{key}`")).help(format!(
                    "allowed top-level fields: {}",
                    TOP_LEVEL.join(", ")
                )),
            );
        }
    }
    let version = match top.remove("version") {
        Some(v) => c.deserialize(&[Seg::Key("version".into())], v),
        None => {
            c.push(
                &[],
                false,
                Problem::new("", "missing field `version`").help("add `version: \"1\"`"),
            );
            None
        }
    };
    let mut rules = Vec::new();
    let mut rule_names = Vec::new();
    let mut rules_ok = true;
    match top.remove("rules") {
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                if let Some(Value::String(name)) = item.get("name") {
                    rule_names.push((i, name.clone()));
                }
                let path = [Seg::Key("rules".into()), Seg::Index(i)];
                match c.deserialize(&path, item) {
                    Some(rule) => rules.push((i, rule)),
                    None => rules_ok = false,
                }
            }
        }
        Some(Value::Null) | None => {} // reported by validation: "no rules"
        Some(_) => {
            rules_ok = false;
            c.push(
                &[Seg::Key("rules".into())],
                false,
                Problem::new("", "`rules` must be a list of rules")
                    .help("write each rule as a `- name: ...` item"),
            );
        }
    }
    let approvals = rules_section(&mut c, &mut top, "approvals");
    let breakglass = rules_section(&mut c, &mut top, "breakglass");
    let rate_limits = rules_section(&mut c, &mut top, "rate_limits");
    let profiles = section(&mut c, &mut top, "profiles");
    let identity = section(&mut c, &mut top, "identity");
    let admins = section::<Vec<String>>(&mut c, &mut top, "admins");
    // Check the meaning of every part that did parse, so that one broken
    // rule does not hide the problems of the others.
    {
        let rule_refs: Vec<(usize, &Rule)> = rules.iter().map(|(i, r)| (*i, r)).collect();
        let name_refs: Vec<(usize, &str)> =
            rule_names.iter().map(|(i, n)| (*i, n.as_str())).collect();
        let (approval_refs, breakglass_refs, rate_refs) =
            (approvals.refs(), breakglass.refs(), rate_limits.refs());
        let parts = Parts {
            rules: &rule_refs,
            rule_names: &name_refs,
            rules_broken: !rules_ok,
            approvals: &approval_refs,
            breakglass: &breakglass_refs,
            rate_limits: &rate_refs,
            profiles: profiles.as_ref().ok().and_then(Option::as_ref),
            identity: identity.as_ref().ok().and_then(Option::as_ref),
            admins: admins.as_ref().ok().and_then(Option::as_deref),
        };
        validate(&parts, &mut c);
    }
    let approvals = approvals.finish(|rules| ApprovalSection { rules });
    let breakglass = breakglass.finish(|rules| BreakGlassSection { rules });
    let rate_limits = rate_limits.finish(|rules| RateLimitSection { rules });
    match (
        version,
        rules_ok,
        approvals,
        breakglass,
        rate_limits,
        (profiles, identity, admins),
    ) {
        (
            Some(version),
            true,
            Ok(approvals),
            Ok(breakglass),
            Ok(rate_limits),
            (Ok(profiles), Ok(identity), Ok(admins)),
        ) if c.problems.is_empty() => Ok(PolicyDocument {
            version,
            rules: rules.into_iter().map(|(_, r)| r).collect(),
            approvals,
            breakglass,
            rate_limits,
            profiles: profiles.unwrap_or_default(),
            identity,
            admins: admins.unwrap_or_default(),
        }),
        _ => {
            let mut problems = c.problems;
            problems.sort_by_key(|p| p.location);
            Err(problems)
        }
    }
}

/// An optional section: `Ok(None)` when absent, `Err(())` when broken.
fn section<T: DeserializeOwned>(
    c: &mut Collector<'_>,
    top: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<T>, ()> {
    match top.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => c
            .deserialize(&[Seg::Key(name.into())], v)
            .map(Some)
            .ok_or(()),
    }
}

/// An optional section holding only `rules:`, read rule by rule so one
/// broken rule does not hide the problems of the others. Returns the rules
/// that parsed, with their positions, and whether the section is whole.
fn rules_section<R: DeserializeOwned>(
    c: &mut Collector<'_>,
    top: &mut Map<String, Value>,
    name: &str,
) -> Section<R> {
    let base = [Seg::Key(name.into())];
    let mut section = Section {
        present: true,
        ok: true,
        rules: Vec::new(),
    };
    let mut map = match top.remove(name) {
        None | Some(Value::Null) => {
            section.present = false;
            return section;
        }
        Some(Value::Object(map)) => map,
        Some(other) => {
            c.push(
                &base,
                false,
                Problem::new(
                    "",
                    format!("expected a mapping with `rules`, found {}", kind(&other)),
                )
                .help(format!(
                    "write `{name}:` followed by an indented `rules:` list"
                )),
            );
            section.ok = false;
            return section;
        }
    };
    for key in map.keys().filter(|k| k.as_str() != "rules") {
        let mut path = base.to_vec();
        path.push(Seg::Key(key.clone()));
        c.push(
            &path,
            true,
            Problem::new("", format!("unknown field `{key}`"))
                .help(format!("`{name}` holds only a `rules:` list")),
        );
        section.ok = false;
    }
    let rules_path = [Seg::Key(name.into()), Seg::Key("rules".into())];
    match map.remove("rules") {
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                let mut path = rules_path.to_vec();
                path.push(Seg::Index(i));
                match c.deserialize(&path, item) {
                    Some(rule) => section.rules.push((i, rule)),
                    None => section.ok = false,
                }
            }
        }
        None => {
            c.push(
                &base,
                false,
                Problem::new("", "missing field `rules`")
                    .help(format!("add `rules:` under `{name}:`")),
            );
            section.ok = false;
        }
        Some(other) => {
            c.push(
                &rules_path,
                false,
                Problem::new(
                    "",
                    format!("expected a list of rules, found {}", kind(&other)),
                )
                .help("write each rule as a `- name: ...` item"),
            );
            section.ok = false;
        }
    }
    section
}

struct Section<R> {
    present: bool,
    ok: bool,
    rules: Vec<(usize, R)>,
}

impl<R> Section<R> {
    fn refs(&self) -> Vec<(usize, &R)> {
        self.rules.iter().map(|(i, r)| (*i, r)).collect()
    }

    fn finish<S>(self, wrap: impl FnOnce(Vec<R>) -> S) -> Result<Option<S>, ()> {
        match (self.present, self.ok) {
            (false, _) => Ok(None),
            (true, true) => Ok(Some(wrap(self.rules.into_iter().map(|(_, r)| r).collect()))),
            (true, false) => Err(()),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "an empty value",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
