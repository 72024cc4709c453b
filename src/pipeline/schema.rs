//! The JSON Schema of the pipeline format, generated from the wire types. The committed copy in
//! `schema/pipeline.schema.json` is checked against this in the tests, so it cannot drift.

/// The schema as pretty JSON with a trailing newline, exactly as committed.
pub fn render() -> String {
    render_for::<super::wire::PipelineFile>()
}

/// The JSON Schema of any wire type, rendered the way every committed schema is (the advisory
/// file's too).
pub fn render_for<T: schemars::JsonSchema>() -> String {
    let schema = schemars::schema_for!(T);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    /// The committed schema is what the types generate; if this fails, regenerate it with
    /// `cargo run -- schema > schema/pipeline.schema.json` and commit it with the change.
    #[test]
    fn committed_schema_is_current() {
        let committed = include_str!("../../schema/pipeline.schema.json");
        assert!(
            committed == super::render(),
            "schema/pipeline.schema.json is stale: run `cargo run -- schema > schema/pipeline.schema.json`"
        );
    }

    #[test]
    fn the_schema_names_every_top_level_key_and_requires_the_essentials() {
        let schema: serde_json::Value = serde_json::from_str(&super::render()).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for key in [
            "version",
            "name",
            "repository",
            "versioning",
            "fix",
            "build",
            "verify",
            "cherry_pick",
            "embargo",
            "publish",
            "advisory",
            "disclosure",
        ] {
            assert!(properties.contains_key(key), "{key}");
        }
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(required, ["version", "name", "repository", "build"]);
        assert_eq!(schema["additionalProperties"], false);
    }
}
