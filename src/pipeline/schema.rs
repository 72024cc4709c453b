//! The JSON Schema of the pipeline format, generated from the wire types. The committed copy in
//! `schema/pipeline.schema.json` is checked against this in the tests, so it cannot drift.

/// The schema as pretty JSON with a trailing newline, exactly as committed.
pub fn render() -> String {
    let schema = schemars::schema_for!(super::wire::PipelineFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
