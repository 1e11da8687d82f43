//! The fast way in for JSON documents.
//!
//! JSON is YAML, and [`crate::tree::read_tree`] reads it like any YAML
//! while recording where every node came from. Most documents are valid
//! and never need those positions, so JSON text is first deserialized
//! straight into a [`PolicyDocument`] by `serde_json`, with no tree and no
//! intermediate value. This reader only takes documents it reads exactly
//! as the YAML reader and [`crate::strict`] would: plain ASCII, no escapes,
//! no tabs, no duplicate keys, a struct only from a mapping, an enum only
//! from text, no empty value where an optional field is expected. For
//! anything else, and whenever the document turns out to have a problem,
//! the caller reads the text again the slow way, so problems and their
//! positions are exactly those of the YAML reader.

use std::fmt;

use rustc_hash::FxHashSet;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::document::PolicyDocument;
use crate::tree::MAX_DOCUMENT_BYTES;

/// The document, or `None` when it must be read by the YAML reader (see
/// the module documentation).
pub(crate) fn read(text: &str) -> Option<PolicyDocument> {
    if text.len() > MAX_DOCUMENT_BYTES
        || !text.trim_start().starts_with('{')
        || !text.is_ascii()
        || text.bytes().any(|b| b == b'\\' || b == b'\t')
    {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let doc = PolicyDocument::deserialize(Tight(&mut de)).ok()?;
    de.end().ok()?;
    Some(doc)
}

/// Wraps a deserializer to refuse what [`crate::strict::Strict`] refuses.
struct Tight<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tight<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(Wrap(v))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        // A key without a value is refused, not read as absent.
        self.0.deserialize_option(NoNull(v))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_seq(Wrap(v))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap(v))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap(v))
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Wrap(v))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        // A mapping only: serde_json would fill a struct from a list too.
        self.0.deserialize_map(Fields(v))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        // Text only: serde_json would take `{"variant": ...}` too.
        let s = <&'de str>::deserialize(self.0)?;
        v.visit_enum(de::value::BorrowedStrDeserializer::new(s))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_bool(v)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_u32(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(v)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_string(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_identifier(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_ignored_any(v)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct
    }
}

/// A visitor whose nested values are read through [`Tight`] too.
struct Wrap<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<V::Value, E> {
        self.0.visit_bool(b)
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<V::Value, E> {
        self.0.visit_i64(i)
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<V::Value, E> {
        self.0.visit_u64(u)
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<V::Value, E> {
        self.0.visit_f64(f)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        self.0.visit_str(s)
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<V::Value, E> {
        self.0.visit_borrowed_str(s)
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<V::Value, E> {
        self.0.visit_string(s)
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Tight(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(Tight(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Wrap(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Keys {
            map,
            seen: Some(FxHashSet::default()),
        })
    }
}

/// [`Wrap`] for structs: a mapping only, whose repeated keys the derived
/// visitor refuses itself.
struct Fields<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Fields<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Keys { map, seen: None })
    }
}

/// [`Wrap`] for `Option`s: an empty value is refused.
struct NoNull<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for NoNull<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        Err(E::custom("empty value"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        Err(E::custom("empty value"))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(Tight(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// A seed whose value is read through [`Tight`].
struct Seed<T>(T);

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        self.0.deserialize(Tight(d))
    }
}

/// Map access whose values are read through [`Tight`]. With `seen`, it
/// refuses a key seen before in the same mapping (maps such as `profiles`
/// would keep the last; the derived struct visitors refuse repeated
/// fields themselves).
struct Keys<'de, A> {
    map: A,
    seen: Option<FxHashSet<&'de str>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Keys<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.map.next_key::<&'de str>()? else {
            return Ok(None);
        };
        if let Some(seen) = &mut self.seen
            && !seen.insert(key)
        {
            return Err(de::Error::custom("duplicate key"));
        }
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.map.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slow reader's verdict on `text`.
    fn slow(text: &str) -> Option<PolicyDocument> {
        crate::parse::parse_slowly(text).ok()
    }

    #[test]
    fn reads_what_the_yaml_reader_reads_alike() {
        let text = r#"{"version": "1", "rules": [{"name": "a", "effect": "allow",
            "conditions": {"profiles": ["dev"], "users": ["alice"], "mode": ["cli"],
              "time": {"days": ["monday"], "hours": {"start": "08:00", "end": "18:00"},
                "timezone": "Europe/Berlin"}},
            "max_server_duration": "1h"}],
          "profiles": {"dev": {"role_arn": "arn:aws:iam::123456789012:role/dev"}}}"#;
        let fast = read(text);
        assert!(fast.is_some());
        assert_eq!(fast, slow(text));
    }

    #[test]
    fn leaves_the_rest_to_the_yaml_reader() {
        let rule = r#"{"name": "a", "effect": "allow"}"#;
        let dev = r#"{"role_arn": "arn:aws:iam::123456789012:role/dev"}"#;
        let once = format!(r#"{{"version": "1", "rules": [{rule}], "profiles": {{"a": {dev}}}}}"#);
        assert!(read(&once).is_some());
        for text in [
            "version: '1'".to_owned(),
            format!(r#"{{"version": "1", "version": "1", "rules": [{rule}]}}"#),
            format!(
                r#"{{"version": "1", "rules": [{rule}], "profiles": {{"a": {dev}, "a": {dev}}}}}"#
            ),
            r#"{"version": "1", "rules": [["a", "allow"]]}"#.to_owned(),
            r#"{"version": "1", "rules": [{"name": "a", "effect": {"allow": null}}]}"#.to_owned(),
            r#"{"version": "1", "rules": [{"name": "a", "effect": "allow", "reason": null}]}"#
                .to_owned(),
            r#"{"version": "1", "rules": [{"name": "caf\u00e9", "effect": "allow"}]}"#.to_owned(),
            "{\"version\": \"1\", \"rules\": [{\"name\": \"caf\u{e9}\", \"effect\": \"allow\"}]}"
                .to_owned(),
            format!("{{\t\"version\": \"1\", \"rules\": [{rule}]}}"),
            format!(r#"{{"version": "1", "rules": [{rule}]}} {{}}"#),
            format!(r#"{{"version": "1", "rules": [{rule},]}}"#),
        ] {
            assert_eq!(read(&text), None, "{text}");
        }
    }
}
