//! YAML (or JSON, which is YAML) text into a JSON value and a tree that
//! remembers where every node came from, so problems found later can name
//! the line and column of the field they are about.

use saphyr::Scalar;
use saphyr_parser::{Event, Parser, Tag};
use serde_json::{Map, Value};

use crate::error::{Location, Problem};
use crate::path::Seg;

/// Largest policy document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting accepted (policy documents need fewer than ten levels).
pub(crate) const MAX_DEPTH: usize = 32;

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
