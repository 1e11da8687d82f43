//! From text to a [`PolicyDocument`].
//!
//! A valid document needs no positions, so the text is first read by a
//! fast reader straight into the document types ([`crate::json`] for
//! JSON, [`crate::yaml`] for YAML and the JSON the first leaves) and
//! validated. The fast readers take only what they read exactly as the
//! slow way below would, and give up on anything else.
//!
//! The slow way, for every document a fast reader leaves or that turns
//! out to have a problem: the text is read into a tree that remembers
//! where every node came from ([`crate::tree`]), then deserialized piece by
//! piece so that one broken rule does not hide the problems of the next.
//! Every problem gets the line and column of the field it names.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::collect::Collector;
use crate::document::{ApprovalSection, BreakGlassSection, PolicyDocument, RateLimitSection, Rule};
use crate::error::Problem;
use crate::path::Seg;
use crate::tree::{Node, read_tree};
use crate::validate::{Parts, validate, validate_document};

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
    // A document that a fast reader takes and that turns out valid needs
    // no positions; anything else is read (again) with them. JSON is
    // YAML: what the JSON reader leaves, the YAML one may take.
    if let Some(doc) = crate::json::read(text).or_else(|| crate::yaml::read(text)) {
        let mut c = Collector::new(None);
        validate_document(&doc, &mut c);
        if c.problems.is_empty() {
            return Ok(doc);
        }
    }
    parse_slowly(text)
}

/// [`parse_document`] without the fast readers.
pub(crate) fn parse_slowly(text: &str) -> Result<PolicyDocument, Vec<Problem>> {
    let (value, tree) = read_tree(text).map_err(|p| vec![p])?;
    document(value, Some(&tree))
}

/// Deserializes and validates a document read from text; `tree` gives
/// problems their positions.
fn document(value: Value, tree: Option<&Node>) -> Result<PolicyDocument, Vec<Problem>> {
    let mut c = Collector::new(tree);
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
