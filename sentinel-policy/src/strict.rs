//! A deserializer over `serde_json::Value` that is stricter than serde's
//! own and speaks the policy author's language:
//!
//! - a struct must be written as a mapping: `- [dev, allow]` is not a rule,
//!   although serde's derived visitors would fill fields by position;
//! - type errors say what to write ("a list, e.g. [alice]", "a whole number
//!   of at least 0") instead of naming Rust types.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

/// A deserialization error carrying a finished message.
#[derive(Debug)]
pub(crate) struct StrictError(String);

impl fmt::Display for StrictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StrictError {}

impl de::Error for StrictError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        StrictError(msg.to_string())
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "an empty value".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text \"{}\"", truncate(s)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        let head: String = s.chars().take(40).collect();
        format!("{head}...")
    } else {
        s.to_owned()
    }
}

fn wrong(v: &Value, want: &str) -> StrictError {
    StrictError(format!("expected {want}, found {}", describe(v)))
}

/// Wraps a value for strict deserialization.
#[derive(Clone, Copy)]
pub(crate) struct Strict<'a>(pub(crate) &'a Value);

impl<'de> Deserializer<'de> for Strict<'de> {
    type Error = StrictError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Seq(items.iter())),
            Value::Object(map) => visitor.visit_map(MapAcc::new(map)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        // A key written without a value is refused rather than read as
        // "absent": in a policy, a blank `time:` or `timezone:` left by a
        // template would otherwise silently widen a rule.
        match self.0 {
            Value::Null => Err(StrictError(
                "this key has no value; give it one or remove the key".to_owned(),
            )),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Number(_) | Value::Bool(_) => Err(StrictError(format!(
                "expected text, found {}; put it in quotes, e.g. \"{}\"",
                describe(self.0),
                self.0
            ))),
            other => Err(wrong(other, "text")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Number(n) => match n.as_u64().and_then(|u| u32::try_from(u).ok()) {
                Some(u) => visitor.visit_u32(u),
                None => Err(StrictError(format!(
                    "expected a whole number from 0 to {}, found {n}",
                    u32::MAX
                ))),
            },
            other => Err(wrong(other, "a whole number, e.g. 3")),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Seq(items.iter())),
            Value::String(s) => Err(StrictError(format!(
                "expected a list, found the text \"{}\"; write it as a list, e.g. [{}]",
                truncate(s),
                truncate(s)
            ))),
            other => Err(wrong(other, "a list, e.g. [a, b]")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(MapAcc::new(map)),
            other => Err(wrong(other, "a mapping of names to settings")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(MapAcc::new(map)),
            Value::Null => Err(StrictError(format!(
                "expected a mapping with {}, found an empty value; write `{{}}` or remove the key",
                fields_list(fields)
            ))),
            other => Err(StrictError(format!(
                "expected a mapping with {}, found {}",
                fields_list(fields),
                describe(other)
            ))),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(StrictError(format!(
                "expected one of {}, found {}",
                variants
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                describe(other)
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

fn fields_list(fields: &[&str]) -> String {
    let shown: Vec<String> = fields.iter().take(6).map(|f| format!("`{f}`")).collect();
    let more = if fields.len() > 6 { ", ..." } else { "" };
    format!("{}{more}", shown.join(", "))
}

struct Seq<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = StrictError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, StrictError> {
        match self.0.next() {
            Some(v) => seed.deserialize(Strict(v)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapAcc<'a> {
    iter: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'a> MapAcc<'a> {
    fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            iter: map.iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for MapAcc<'de> {
    type Error = StrictError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, StrictError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(k))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, StrictError> {
        match self.value.take() {
            Some(v) => seed.deserialize(Strict(v)),
            None => Err(StrictError("a value is missing".to_owned())),
        }
    }
}
