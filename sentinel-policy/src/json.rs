//! The fast way in for JSON documents.
//!
//! JSON is YAML, and [`crate::tree::read_tree`] reads it like any YAML
//! while recording where every node came from. Most documents are valid
//! and never need those positions, so JSON text is first read with
//! `serde_json` alone. This reader only takes documents it reads exactly as
//! the YAML reader would (same value, nothing that reader refuses): plain
//! ASCII, no escapes, no tabs, no floats or integers beyond `i64`, no
//! duplicate keys, no deeper nesting than the YAML reader allows. For
//! anything else, and whenever the document turns out to have a problem,
//! the caller reads the text again the slow way, so problems and their
//! positions are exactly those of the YAML reader.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::tree::{MAX_DEPTH, MAX_DOCUMENT_BYTES};

/// The document as a JSON value, or `None` when it must be read by the
/// YAML reader (see the module documentation).
pub(crate) fn read(text: &str) -> Option<Value> {
    if text.len() > MAX_DOCUMENT_BYTES
        || !text.trim_start().starts_with('{')
        || !text.is_ascii()
        || text.bytes().any(|b| b == b'\\' || b == b'\t')
    {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Plain { depth: 0 }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Builds a [`Value`], refusing what the YAML reader would read
/// differently or refuse. `depth` counts the collections around the value.
#[derive(Clone, Copy)]
struct Plain {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Plain {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Plain {
    fn open<E: de::Error>(self) -> Result<Plain, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("nested too deep"));
        }
        Ok(Plain {
            depth: self.depth + 1,
        })
    }
}

impl<'de> Visitor<'de> for Plain {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::from(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        // The YAML reader reads integers as i64.
        match i64::try_from(u) {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => Err(E::custom("integer beyond i64")),
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        // No policy field is a float; leave the details to the YAML reader.
        Err(E::custom("float"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.open()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(inner)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.open()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(inner)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_yaml_reader_reads_alike() {
        let text = r#"{"version": "1", "rules": [{"name": "a", "effect": "allow", "n": -3, "m": 7, "x": null, "b": true}]}"#;
        let fast = read(text);
        let (slow, _) = crate::tree::read_tree(text).ok().unzip();
        assert!(fast.is_some());
        assert_eq!(fast, slow);
    }

    #[test]
    fn leaves_the_rest_to_the_yaml_reader() {
        for text in [
            "version: '1'",
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": 1.5}"#,
            r#"{"a": 18446744073709551615}"#,
            r#"{"a": "\u00e9"}"#,
            "{\"a\": \"caf\u{e9}\"}",
            "{\t\"a\": 1}",
            r#"{"a": 1} {"b": 2}"#,
            r#"{"a": 1,}"#,
        ] {
            assert_eq!(read(text), None, "{text}");
        }
        let deep = format!("{}{}", "[".repeat(31), "]".repeat(31));
        assert!(read(&format!("{{\"a\": {deep}}}")).is_some());
        let deeper = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(read(&format!("{{\"a\": {deeper}}}")).is_none());
    }
}
