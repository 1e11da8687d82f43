//! The JSON Schema of policy documents, generated from the Rust types.

use crate::document::PolicyDocument;

/// The JSON Schema (draft 2020-12) of [`PolicyDocument`], for editors
/// (`# yaml-language-server: $schema=...`) and other tooling. The checked-in
/// copy is `sentinel-policy/schema/sentinel-policy.schema.json`.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<PolicyDocument>();
    schema.to_value()
}
