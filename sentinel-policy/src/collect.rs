//! The problems of one document, collected while its parts are read and
//! checked, each with its path and (when the source tree is known) its
//! line and column.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Problem;
use crate::path::{At, Path, Seg, path_string};
use crate::strict::Strict;
use crate::tree::Node;

/// Most problems reported for one document.
const MAX_PROBLEMS: usize = 200;

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

    /// [`push`](Self::push) at a path built on the stack.
    pub(crate) fn push_at(&mut self, at: &At<'_>, key: bool, problem: Problem) {
        self.push(&at.path(), key, problem);
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
