//! The fast way in for JSON documents.
//!
//! JSON is YAML, and [`crate::tree::read_tree`] reads it like any YAML
//! while recording where every node came from. Most documents are valid
//! and never need those positions, so JSON text is first deserialized
//! straight into a [`PolicyDocument`] by `serde_json`, with no tree and no
//! intermediate value. This reader only takes documents it reads exactly
//! as the YAML reader and [`crate::strict`] would: plain ASCII, no escapes,
//! no tabs, no duplicate keys, a struct only from a mapping, an enum only
//! from text, no empty value where an optional field is expected (the
//! wrapper [`crate::tight::Tight`] is shared with [`crate::yaml`]). Anything
//! else is left to the fast YAML reader, then the slow way; whenever the
//! document turns out to have a problem, the caller reads the text again
//! the slow way, so problems and their positions are exactly those of the
//! YAML reader.

use serde::Deserialize;

use crate::document::PolicyDocument;
use crate::tight::Tight;
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
