//! The checked-in JSON Schema is current, the example policies satisfy it
//! (checked by an independent validator, the `jsonschema` crate), and broken
//! examples fail it.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::Value;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_path() -> PathBuf {
    crate_dir().join("schema/sentinel-policy.schema.json")
}

#[test]
fn checked_in_schema_is_current() {
    let generated = serde_json::to_string_pretty(&sentinel_policy::json_schema()).unwrap() + "\n";
    let path = schema_path();
    if std::env::var_os("SENTINEL_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale; regenerate it with `SENTINEL_BLESS=1 cargo test -p sentinel-policy --test schema` \
         (or `sentinel policy schema > {}`) and commit it",
        path.display(),
        path.display()
    );
}

/// YAML to JSON with saphyr directly, so the schema check does not go
/// through Sentinel's own deserializer.
fn yaml_to_json(y: &Yaml<'_>) -> Value {
    match y {
        Yaml::Value(Scalar::Null) => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => Value::from(f.into_inner()),
        Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match yaml_to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        other => panic!("unexpected YAML node {other:?}"),
    }
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = Yaml::load_from_str(&text).unwrap();
    yaml_to_json(&docs[0])
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn example_policies_satisfy_the_schema_and_load() {
    let validator = validator();
    let files = yaml_files(&crate_dir().join("examples/policies"));
    assert!(files.len() >= 3, "expected the dev/staging/prod examples");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        // Editors find the schema through this line.
        let first = text.lines().next().unwrap_or_default();
        let rel = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{} lacks the $schema line", path.display()));
        let target = path.parent().unwrap().join(rel);
        assert_eq!(
            target.canonicalize().unwrap(),
            schema_path().canonicalize().unwrap(),
            "{}: $schema must point at the checked-in schema",
            path.display()
        );
        let errors: Vec<String> = validator
            .iter_errors(&load(&path))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        sentinel_policy::CompiledPolicy::parse(&text, &path.display().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn broken_examples_fail_the_schema_and_the_parser() {
    let validator = validator();
    let files = yaml_files(&crate_dir().join("tests/schema-broken"));
    assert!(files.len() >= 5);
    for path in files {
        let value = load(&path);
        assert!(
            !validator.is_valid(&value),
            "{} should violate the schema",
            path.display()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            sentinel_policy::CompiledPolicy::parse(&text, "x").is_err(),
            "{} should be rejected by the parser too",
            path.display()
        );
    }
}
