//! The JSON Schema of the advisory file, generated from the wire types. The committed copy in
//! `schema/advisory.schema.json` is checked against this in the tests, so it cannot drift.

/// The schema as pretty JSON with a trailing newline, exactly as committed.
pub fn render() -> String {
    crate::pipeline::schema::render_for::<super::wire::AdvisoryFile>()
}

#[cfg(test)]
mod tests {
    /// The committed schema is what the types generate; if this fails, regenerate it with
    /// `cargo run -- schema advisory > schema/advisory.schema.json` and commit it with the change.
    #[test]
    fn committed_schema_is_current() {
        let committed = include_str!("../../schema/advisory.schema.json");
        assert!(
            committed == super::render(),
            "schema/advisory.schema.json is stale: run `cargo run -- schema advisory > schema/advisory.schema.json`"
        );
    }

    #[test]
    fn the_schema_names_every_key_of_the_format_and_requires_the_essentials() {
        let schema: serde_json::Value = serde_json::from_str(&super::render()).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for key in [
            "version",
            "summary",
            "description",
            "severity",
            "cwe",
            "package",
            "ghsa_id",
            "cve_id",
            "received",
            "credits",
            "mitigations",
            "references",
            "people",
        ] {
            assert!(properties.contains_key(key), "{key}");
        }
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(
            required,
            [
                "version",
                "summary",
                "description",
                "severity",
                "package",
                "received"
            ]
        );
        assert_eq!(schema["additionalProperties"], false);
    }
}
