//! From text to a [`PolicyDocument`]: YAML (or JSON, which is YAML) is read
//! into a tree that remembers where every node came from, then deserialized
//! piece by piece so that one broken rule does not hide the problems of the
//! next. Every problem gets the line and column of the field it names.

use std::fmt::Write as _;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::document::PolicyDocument;
use crate::error::{Location, Problem};
use crate::validate::{Parts, validate};

/// Largest policy document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
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

fn location(m: &saphyr::Marker) -> Location {
    Location {
        line: m.line(),
        column: m.col() + 1,
    }
}

/// Reads YAML or JSON text into a JSON value and the position tree.
pub(crate) fn read_tree(text: &str) -> Result<(Value, Node), Problem> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(Problem::new(
            "",
            format!(
                "the document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}",
                text.len()
            ),
        )
        .help("split the policy into one document per profile"));
    }
    check_flow_depth(text)?;
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| {
        let mut p = Problem::new("", format!("not valid YAML or JSON: {}", e.info()))
            .help("check indentation, quoting and brackets near this position");
        p.location = Some(location(e.marker()));
        p
    })?;
    let mut docs = docs.into_iter();
    let Some(doc) = docs.next() else {
        return Err(Problem::new("", "the document is empty")
            .help("a policy needs at least `version: \"1\"` and a `rules:` list"));
    };
    if let Some(extra) = docs.next() {
        let mut p = Problem::new("", "more than one YAML document in one policy")
            .help("remove the `---` separator; put one policy per file or parameter");
        p.location = Some(location(&extra.span.start));
        return Err(p);
    }
    convert(doc, 0)
}

/// Refuses pathological flow nesting (`[[[[…`) before the parser sees it.
fn check_flow_depth(text: &str) -> Result<(), Problem> {
    let mut depth = 0usize;
    let mut line = 1;
    for ch in text.chars() {
        match ch {
            '[' | '{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let mut p = Problem::new(
                        "",
                        format!("brackets nested deeper than {MAX_DEPTH} levels"),
                    )
                    .help("a policy document never needs this much nesting");
                    p.location = Some(Location { line, column: 1 });
                    return Err(p);
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            '\n' => line += 1,
            _ => {}
        }
    }
    Ok(())
}

fn convert(node: MarkedYamlOwned, depth: usize) -> Result<(Value, Node), Problem> {
    let loc = location(&node.span.start);
    let fail = |msg: String, help: &str| {
        let mut p = Problem::new("", msg).help(help);
        p.location = Some(loc);
        Err(p)
    };
    if depth > MAX_DEPTH {
        return fail(
            format!("nested deeper than {MAX_DEPTH} levels"),
            "a policy document never needs this much nesting",
        );
    }
    match node.data {
        YamlDataOwned::Value(s) => Ok((
            scalar(s),
            Node {
                loc,
                kind: Kind::Scalar,
            },
        )),
        YamlDataOwned::Representation(s, _, _) => Ok((
            Value::String(s),
            Node {
                loc,
                kind: Kind::Scalar,
            },
        )),
        YamlDataOwned::Sequence(items) => {
            let mut values = Vec::with_capacity(items.len());
            let mut nodes = Vec::with_capacity(items.len());
            for item in items {
                let (v, n) = convert(item, depth + 1)?;
                values.push(v);
                nodes.push(n);
            }
            Ok((
                Value::Array(values),
                Node {
                    loc,
                    kind: Kind::Seq(nodes),
                },
            ))
        }
        YamlDataOwned::Mapping(map) => {
            let mut values = Map::new();
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key_loc = location(&k.span.start);
                let key = match k.data {
                    YamlDataOwned::Value(ScalarOwned::String(s)) => s,
                    YamlDataOwned::Value(ScalarOwned::Integer(i)) => i.to_string(),
                    YamlDataOwned::Value(ScalarOwned::Boolean(b)) => b.to_string(),
                    YamlDataOwned::Value(ScalarOwned::FloatingPoint(f)) => f.to_string(),
                    YamlDataOwned::Representation(s, _, _) => s,
                    _ => {
                        let mut p = Problem::new("", "mapping keys must be plain names")
                            .help("use a string key such as `rules:`");
                        p.location = Some(key_loc);
                        return Err(p);
                    }
                };
                let (value, vnode) = convert(v, depth + 1)?;
                values.insert(key.clone(), value);
                entries.push((key, key_loc, vnode));
            }
            Ok((
                Value::Object(values),
                Node {
                    loc,
                    kind: Kind::Map(entries),
                },
            ))
        }
        YamlDataOwned::Tagged(tag, inner) => {
            let is_str = tag.suffix == "str";
            let (v, n) = convert(*inner, depth)?;
            let v = match v {
                Value::Number(num) if is_str => Value::String(num.to_string()),
                Value::Bool(b) if is_str => Value::String(b.to_string()),
                other => other,
            };
            Ok((v, n))
        }
        YamlDataOwned::Alias(_) => fail(
            "YAML aliases (`*name`) are not supported in policies".into(),
            "write the value out in full",
        ),
        YamlDataOwned::BadValue => fail(
            "a value here could not be read".into(),
            "check the quoting of this value",
        ),
    }
}

fn scalar(s: ScalarOwned) -> Value {
    match s {
        ScalarOwned::Null => Value::Null,
        ScalarOwned::Boolean(b) => Value::Bool(b),
        ScalarOwned::Integer(i) => Value::from(i),
        ScalarOwned::FloatingPoint(f) => {
            serde_json::Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number)
        }
        ScalarOwned::String(s) => Value::String(s),
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
        if self.problems.len() >= MAX_PROBLEMS {
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
        let mut removed: Vec<Path> = Vec::new();
        for _ in 0..32 {
            let err = match serde_path_to_error::deserialize::<_, T>(&value) {
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
    rest.find('`').map(|end| rest[..end].to_owned())
}

/// Makes serde's messages read like ours.
fn tidy(message: &str) -> String {
    message
        .replace("unknown variant", "unknown value")
        .replace("invalid type: map, expected", "expected")
        .replace("invalid type: sequence, expected", "expected")
        .replace("invalid type: null, expected", "empty value, expected")
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
    let mut rules_ok = true;
    match top.remove("rules") {
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
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
    let approvals = section(&mut c, &mut top, "approvals");
    let breakglass = section(&mut c, &mut top, "breakglass");
    let rate_limits = section(&mut c, &mut top, "rate_limits");
    let profiles = section(&mut c, &mut top, "profiles");
    // Check the meaning of every part that did parse, so that one broken
    // rule does not hide the problems of the others.
    let parts = Parts {
        rules: &rules,
        rules_broken: !rules_ok,
        approvals: approvals.as_ref().ok().and_then(Option::as_ref),
        breakglass: breakglass.as_ref().ok().and_then(Option::as_ref),
        rate_limits: rate_limits.as_ref().ok().and_then(Option::as_ref),
        profiles: profiles.as_ref().ok().and_then(Option::as_ref),
    };
    validate(&parts, &mut c);
    match (
        version,
        rules_ok,
        approvals,
        breakglass,
        rate_limits,
        profiles,
    ) {
        (Some(version), true, Ok(approvals), Ok(breakglass), Ok(rate_limits), Ok(profiles))
            if c.problems.is_empty() =>
        {
            Ok(PolicyDocument {
                version,
                rules: rules.into_iter().map(|(_, r)| r).collect(),
                approvals,
                breakglass,
                rate_limits,
                profiles: profiles.unwrap_or_default(),
            })
        }
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
