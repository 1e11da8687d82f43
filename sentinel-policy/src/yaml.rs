//! The fast way in for YAML documents.
//!
//! [`crate::tree::read_tree`] turns the YAML parser's events into a JSON
//! value and a tree of positions, which [`crate::parse`] then deserializes
//! section by section. Most documents are valid and never need the
//! positions, so this reader first deserializes the same events straight
//! into a [`PolicyDocument`]: no value, no tree. It types every scalar as
//! the slow reader does (saphyr's core schema) and goes through
//! [`Tight`], so it reads a document exactly as the slow reader and
//! [`crate::strict`] would, and takes only documents the slow reader
//! would take whole: one document, no tags, anchors or aliases, mapping
//! keys that are text, no key twice. For anything else, and whenever the
//! document turns out to have a problem, the caller reads the text again
//! the slow way, so problems and their positions are exactly those of the
//! slow reader.

use std::borrow::Cow;
use std::fmt;

use saphyr::Scalar;
use saphyr_parser::{Event, Parser, ScalarStyle, StrInput};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::document::PolicyDocument;
use crate::tight::Tight;
use crate::tree::{MAX_DEPTH, MAX_DOCUMENT_BYTES};

/// The document, or `None` when it must be read the slow way (see the
/// module documentation).
pub(crate) fn read(text: &str) -> Option<PolicyDocument> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return None;
    }
    let mut events = Events {
        parser: Parser::new_from_str(text),
        peeked: None,
        depth: 0,
    };
    events.expect(|e| matches!(e, Event::StreamStart)).ok()?;
    events
        .expect(|e| matches!(e, Event::DocumentStart(_)))
        .ok()?;
    let doc = PolicyDocument::deserialize(Tight(&mut events)).ok()?;
    // Whatever follows the document may only end it: a second document,
    // or a scan error anywhere, is the slow reader's to report.
    events.expect(|e| matches!(e, Event::DocumentEnd)).ok()?;
    events.expect(|e| matches!(e, Event::StreamEnd)).ok()?;
    events.parser.next_event().is_none().then_some(doc)
}

/// Why the fast reader gave up; never shown, the slow reader says why.
#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to the slow reader")
    }
}

impl std::error::Error for Refused {}

impl de::Error for Refused {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Refused
    }
}

/// The parser's events as a self-describing serde format.
struct Events<'de> {
    parser: Parser<'de, StrInput<'de>>,
    peeked: Option<Event<'de>>,
    /// Collections open around the current event.
    depth: usize,
}

impl<'de> Events<'de> {
    fn next(&mut self) -> Result<Event<'de>, Refused> {
        if let Some(event) = self.peeked.take() {
            return Ok(event);
        }
        match self.parser.next_event() {
            Some(Ok((event, _))) => Ok(event),
            _ => Err(Refused),
        }
    }

    fn peek(&mut self) -> Result<&Event<'de>, Refused> {
        if self.peeked.is_none() {
            self.peeked = Some(self.next()?);
        }
        self.peeked.as_ref().ok_or(Refused)
    }

    fn expect(&mut self, want: impl FnOnce(&Event<'de>) -> bool) -> Result<(), Refused> {
        if want(&self.next()?) {
            Ok(())
        } else {
            Err(Refused)
        }
    }

    /// Opens a collection, as [`crate::tree`] would let it open.
    fn open(&mut self, anchor: usize, tagged: bool) -> Result<(), Refused> {
        if anchor != 0 || tagged || self.depth >= MAX_DEPTH {
            return Err(Refused);
        }
        self.depth += 1;
        Ok(())
    }
}

/// A scalar typed as [`crate::tree`] types it (saphyr's core schema), or
/// `Err` for what the fast reader does not take: tags, anchors, and
/// floats the slow reader turns into an empty value.
fn typed<'de>(
    text: Cow<'de, str>,
    style: ScalarStyle,
    anchor: usize,
    tagged: bool,
) -> Result<Scalar<'de>, Refused> {
    if anchor != 0 || tagged {
        return Err(Refused);
    }
    if style == ScalarStyle::Plain && plainly_text(&text) {
        return Ok(Scalar::String(text));
    }
    match Scalar::parse_from_cow_and_metadata(text, style, None) {
        Some(Scalar::FloatingPoint(f)) if !f.into_inner().is_finite() => Err(Refused),
        Some(s) => Ok(s),
        None => Ok(Scalar::Null),
    }
}

/// Whether the core schema reads a plain scalar as text without trying
/// it as a null, a boolean or a number: one that starts with a letter
/// other than the first letters of `null`, `true` and `false` (numbers
/// start with a digit, a sign or a dot; `inf` and `nan` need one).
fn plainly_text(text: &str) -> bool {
    text.as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() && !b"nNtTfF".contains(b))
}

impl<'de> Deserializer<'de> for &mut Events<'de> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Refused> {
        match self.next()? {
            Event::Scalar(text, style, anchor, tag) => {
                match typed(text, style, anchor, tag.is_some())? {
                    Scalar::Null => v.visit_unit(),
                    Scalar::Boolean(b) => v.visit_bool(b),
                    // As `Strict` reads the number the slow reader keeps.
                    Scalar::Integer(i) => match u64::try_from(i) {
                        Ok(u) => v.visit_u64(u),
                        Err(_) => v.visit_i64(i),
                    },
                    Scalar::FloatingPoint(f) => v.visit_f64(f.into_inner()),
                    Scalar::String(Cow::Borrowed(s)) => v.visit_borrowed_str(s),
                    Scalar::String(Cow::Owned(s)) => v.visit_string(s),
                }
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(anchor, tag.is_some())?;
                let mut seq = Seq {
                    events: &mut *self,
                    done: false,
                };
                let value = v.visit_seq(&mut seq)?;
                if !seq.done {
                    return Err(Refused);
                }
                self.depth -= 1;
                Ok(value)
            }
            Event::MappingStart(anchor, tag) => {
                self.open(anchor, tag.is_some())?;
                let mut map = Map {
                    events: &mut *self,
                    done: false,
                };
                let value = v.visit_map(&mut map)?;
                if !map.done {
                    return Err(Refused);
                }
                self.depth -= 1;
                Ok(value)
            }
            _ => Err(Refused),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Refused> {
        let empty = match self.peek()? {
            Event::Scalar(text, ScalarStyle::Plain, 0, None) => {
                matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        };
        if empty {
            self.next()?;
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Refused> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The items of a sequence; `done` once its end was read.
struct Seq<'a, 'de> {
    events: &'a mut Events<'de>,
    done: bool,
}

impl<'de> SeqAccess<'de> for &mut Seq<'_, 'de> {
    type Error = Refused;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Refused> {
        if self.done {
            return Ok(None);
        }
        if matches!(self.events.peek()?, Event::SequenceEnd) {
            self.events.next()?;
            self.done = true;
            return Ok(None);
        }
        seed.deserialize(&mut *self.events).map(Some)
    }
}

/// The entries of a mapping; `done` once its end was read.
struct Map<'a, 'de> {
    events: &'a mut Events<'de>,
    done: bool,
}

impl<'de> MapAccess<'de> for &mut Map<'_, 'de> {
    type Error = Refused;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Refused> {
        if self.done {
            return Ok(None);
        }
        match self.events.next()? {
            Event::MappingEnd => {
                self.done = true;
                Ok(None)
            }
            // Only keys the slow reader keeps as the same text: it writes
            // other scalars out (`1:` is "1"), and refuses the rest.
            Event::Scalar(text, style, anchor, tag) => {
                match typed(text, style, anchor, tag.is_some())? {
                    Scalar::String(Cow::Borrowed(s)) => seed
                        .deserialize(de::value::BorrowedStrDeserializer::new(s))
                        .map(Some),
                    Scalar::String(Cow::Owned(s)) => seed
                        .deserialize(de::value::StringDeserializer::new(s))
                        .map(Some),
                    _ => Err(Refused),
                }
            }
            _ => Err(Refused),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Refused> {
        seed.deserialize(&mut *self.events)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::collect::Collector;
    use crate::error::Problem;
    use crate::parse::{parse_document, parse_slowly};
    use crate::validate::validate_document;

    fn valid(doc: &PolicyDocument) -> bool {
        let mut c = Collector::new(None);
        validate_document(doc, &mut c);
        c.problems.is_empty()
    }

    /// The fast readers never take a document the slow reader reads
    /// otherwise, and the whole way in gives what the slow way gives.
    /// Returns whether the YAML reader took the document.
    fn agree(text: &str) -> bool {
        let slow: Result<PolicyDocument, Vec<Problem>> = parse_slowly(text);
        let fast = read(text);
        if let Some(doc) = &fast
            && valid(doc)
        {
            assert_eq!(slow.as_ref().ok(), Some(doc), "YAML reader:\n{text}");
        }
        if let Some(doc) = crate::json::read(text)
            && valid(&doc)
        {
            assert_eq!(slow.as_ref().ok(), Some(&doc), "JSON reader:\n{text}");
        }
        assert_eq!(parse_document(text), slow, "{text}");
        fast.is_some()
    }

    #[test]
    fn reads_what_the_slow_reader_reads_alike() {
        let text = "version: \"1\"
rules:
  - name: a
    effect: allow
    conditions:
      profiles: [dev]
      users: [alice]
      mode: [cli]
      time:
        days: [monday]
        hours: { start: \"08:00\", end: \"18:00\" }
        timezone: Europe/Berlin
    max_server_duration: 1h
    reason: 'because'
profiles:
  dev: { role_arn: \"arn:aws:iam::123456789012:role/dev\" }
";
        let fast = read(text);
        assert!(fast.is_some());
        assert_eq!(fast.as_ref(), parse_slowly(text).ok().as_ref());
        assert!(agree(text));
    }

    #[test]
    fn leaves_the_rest_to_the_slow_reader() {
        let rule = "rules:\n  - name: a\n    effect: allow\n";
        for head in [
            "version: '1'",
            "version: 1",
            "version: 1.0",
            "? version\n: '1'",
            "\"version\": !!str 1",
        ] {
            let text = format!("{head}\n{rule}");
            assert!(read(&text).is_some() || head.contains("!!"), "{text}");
            assert!(agree(&text) || head.contains("!!"));
        }
        for head in [
            "version: !!str '1'",
            "version: &v '1'",
            "version: .nan",
            "version:",
            "version: ~",
            "version: '1'\nversion: '1'",
            "'version': '1'\n1: x",
            "version: '1'\n~: x",
            "version: '1'\nprofiles: {a: {role_arn: x}, a: {role_arn: y}}",
            "version: '1'\napprovals:",
            "version: '1'\nadmins: !!seq []",
            "version: '1'\nidentity: &i {}",
            "version: '1'\n[a]: b",
        ] {
            let text = format!("{head}\n{rule}");
            assert!(read(&text).is_none(), "{text}");
            agree(&text);
        }
        for text in [
            format!("version: '1'\n{rule}---\nversion: '1'\n{rule}"),
            format!("version: '1'\n{rule}...\n---\n"),
            format!("version: '1'\n{rule}  - name: b\n    effect: *x\n"),
            format!("version: '1'\n{rule}  - [b, allow]\n"),
            format!("version: '1'\n{rule}\t- name: b\n"),
            format!("version: '1'\n{rule}    reason:\n"),
            format!("version: '1'\n{rule}    effect: {{allow: ~}}\n"),
            String::new(),
            "# nothing".to_owned(),
            "[]".to_owned(),
        ] {
            assert!(read(&text).is_none(), "{text}");
            agree(&text);
        }
    }

    #[test]
    fn agrees_on_every_corpus_document() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut taken = 0;
        for sub in ["corpus", "schema-broken"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "expect") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                taken += usize::from(agree(&text));
            }
        }
        // Documents whose problems only validation finds are read fast.
        assert!(taken > 10, "{taken}");
    }

    #[test]
    fn plain_text_is_typed_as_the_core_schema_types_it() {
        let mut words: Vec<String> = [
            "inf",
            "Inf",
            "infinity",
            "nan",
            "NaN",
            "e5",
            "E5",
            "i1",
            "x1",
            "e",
            "E1.5",
            "a.5",
            "null",
            "Null",
            "true",
            "TRUE",
            "false",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "Y",
            "b0x1",
            "o0o7",
            "alice",
            "Europe/Berlin",
            "rule-1",
            "u1e3",
            "Infinity1",
        ]
        .map(str::to_owned)
        .to_vec();
        for a in b'A'..=b'z' {
            for tail in [
                "", "1", "1e3", ".5", "0x1", "inf", "nan", "ull", "rue", "alse", "_",
            ] {
                words.push(format!("{}{tail}", char::from(a)));
            }
        }
        for w in words {
            if plainly_text(&w) {
                assert_eq!(
                    Scalar::parse_from_cow(Cow::Borrowed(&w)),
                    Scalar::String(Cow::Borrowed(&w)),
                    "{w}"
                );
            }
        }
    }

    /// A value as a policy author might write it, now and then oddly.
    fn scalar(usual: &'static [&'static str]) -> impl Strategy<Value = String> {
        const ODD: &[&str] = &[
            "",
            "~",
            "null",
            "1",
            "-1",
            "1.0",
            "1e3",
            ".inf",
            "0x1f",
            "true",
            "yes",
            "!!str x",
            "&a x",
            "*a",
            "''",
            "\"\"",
            "'it''s'",
            "\"caf\\u00e9\"",
            "\"a\\tb\"",
            "[]",
            "{}",
            "a b",
            " x",
            "Alice",
            "x # c",
            "|\n  x",
            ">-\n  x y",
        ];
        prop_oneof![
            8 => proptest::sample::select(usual).prop_map(str::to_owned),
            2 => proptest::sample::select(usual).prop_map(|s| format!("'{s}'")),
            2 => proptest::sample::select(usual).prop_map(|s| format!("\"{s}\"")),
            1 => proptest::sample::select(ODD).prop_map(str::to_owned),
        ]
    }

    fn list(usual: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            6 => proptest::collection::vec(scalar(usual), 0..3)
                .prop_map(|v| format!("[{}]", v.join(", "))),
            1 => scalar(usual),
        ]
    }

    /// `key: value` lines of one mapping, at `indent`, in block or flow
    /// style, with a key now and then repeated, misspelt or missing.
    fn mapping(
        fields: Vec<BoxedStrategy<(String, String)>>,
        indent: usize,
    ) -> impl Strategy<Value = String> {
        let entries = fields
            .into_iter()
            .map(|f| proptest::option::weighted(0.7, f))
            .collect::<Vec<_>>();
        (
            entries,
            any::<bool>(),
            proptest::option::weighted(0.05, (".{0,3}", "[a-z]{0,6}")),
        )
            .prop_map(move |(entries, flow, odd)| {
                let mut entries: Vec<(String, String)> = entries.into_iter().flatten().collect();
                if let Some((k, v)) = odd {
                    entries.push((k, v));
                }
                if flow || entries.is_empty() {
                    let inner: Vec<String> =
                        entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{{ {} }}", inner.join(", "))
                } else {
                    let pad = " ".repeat(indent);
                    entries
                        .iter()
                        .map(|(k, v)| {
                            // Indent a block scalar's lines under its key;
                            // a nested block mapping is indented already.
                            let v = if v.starts_with('\n') {
                                v.clone()
                            } else {
                                v.replace('\n', &format!("\n{pad}  "))
                            };
                            format!("\n{pad}{k}: {v}")
                        })
                        .collect()
                }
            })
    }

    fn field(
        key: &'static str,
        value: impl Strategy<Value = String> + 'static,
    ) -> BoxedStrategy<(String, String)> {
        value.prop_map(move |v| (key.to_owned(), v)).boxed()
    }

    fn time(indent: usize) -> impl Strategy<Value = String> {
        const DAYS: &[&str] = &["monday", "friday", "sunday", "Monday"];
        const CLOCK: &[&str] = &["08:00", "18:30", "00:00", "24:00", "8:00"];
        const ZONES: &[&str] = &["UTC", "Europe/Berlin", "Asia/Tokyo", "Mars/Olympus"];
        let hours = mapping(
            vec![field("start", scalar(CLOCK)), field("end", scalar(CLOCK))],
            indent + 2,
        );
        mapping(
            vec![
                field("days", list(DAYS)),
                field("hours", hours),
                field("timezone", scalar(ZONES)),
            ],
            indent,
        )
    }

    fn rule(i: usize) -> impl Strategy<Value = String> {
        const EFFECTS: &[&str] = &["allow", "deny", "require_approval", "require_server"];
        const PROFILES: &[&str] = &["dev", "prod", "p1"];
        const USERS: &[&str] = &["alice", "bob", "u1", "carol@example.com"];
        const MODES: &[&str] = &["cli", "server", "credential_process"];
        const DURATIONS: &[&str] = &["1h", "15m", "1h30m", "PT1H", "2d"];
        const TABLES: &[&str] = &["sessions", "x"];
        const NAMES: [&[&str]; 3] = [
            &["rule-0", "same"],
            &["rule-1", "same"],
            &["rule-2", "same"],
        ];
        let names = NAMES[i % NAMES.len()];
        let conditions = mapping(
            vec![
                field("profiles", list(PROFILES)),
                field("users", list(USERS)),
                field("mode", list(MODES)),
                field("time", time(8)),
            ],
            6,
        );
        mapping(
            vec![
                field("name", scalar(names)),
                field("effect", scalar(EFFECTS)),
                field("conditions", conditions),
                field("reason", scalar(&["on call", "because"])),
                field("max_server_duration", scalar(DURATIONS)),
                field("session_table", scalar(TABLES)),
            ],
            4,
        )
        .prop_map(|m| match m.strip_prefix("\n    ") {
            Some(block) => format!("  - {block}\n"),
            None => format!("  - {m}\n"),
        })
    }

    fn document() -> impl Strategy<Value = String> {
        let rules = (1..4usize)
            .prop_flat_map(|n| (0..n).map(rule).collect::<Vec<_>>())
            .prop_map(|r| r.concat());
        let profile = mapping(
            vec![
                field(
                    "role_arn",
                    scalar(&[
                        "arn:aws:iam::123456789012:role/dev",
                        "arn:aws:iam::1:role/x",
                    ]),
                ),
                field("region", scalar(&["eu-central-1", "mars"])),
                field("duration", scalar(&["1h", "1m"])),
            ],
            4,
        );
        let tail = proptest::sample::select(
            &[
                "",
                "admins: [alice]\n",
                "admins: [Alice]\n",
                "identity:\n  accounts: [\"123456789012\"]\n  principals:\n    \"arn:aws:iam::123456789012:role/ci\": ci-bot\n",
                "approvals:\n  rules:\n    - name: a\n      approvers: [bob]\n      max_duration: 1h\n",
                "breakglass:\n  rules:\n    - name: b\n      users: [alice]\n      reason_codes: [incident]\n",
                "rate_limits:\n  rules:\n    - name: r\n      max_per_user: 3\n      quota_window: 1d\n",
                "rate_limits:\n  rules:\n    - name: r\n      max_per_user: -3\n      quota_window: 1d\n",
                "---\n",
                "...\n",
                "# done\n",
            ][..],
        );
        (
            scalar(&["1"]),
            rules,
            proptest::option::weighted(0.5, profile),
            tail,
        )
            .prop_map(|(version, rules, profile, tail)| {
                let profiles = profile
                    .map(|p| format!("profiles:\n  dev: {p}\n"))
                    .unwrap_or_default();
                format!("version: {version}\nrules:\n{rules}{profiles}{tail}")
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn fast_and_slow_readers_agree(text in document()) {
            agree(&text);
        }

        #[test]
        fn plain_text_shortcut_agrees(w in "[a-zA-Z][ -~]{0,8}") {
            if plainly_text(&w) {
                prop_assert_eq!(
                    Scalar::parse_from_cow(Cow::Borrowed(&w)),
                    Scalar::String(Cow::Borrowed(&w))
                );
            }
        }
    }
}
