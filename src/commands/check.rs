//! `embargo check PIPELINE`: the pipeline file alone, read and checked exactly as every other
//! command reads it, but with no repository, no network and no git. An editor hook or a
//! pre-commit check runs it anywhere: in a folder that is not a clone, on a machine without git,
//! before the private remote exists.

use jiff::Timestamp;
use serde_json::json;

use crate::cli::CheckArgs;
use crate::error::{Error, Exit};
use crate::pipeline::{self, Overrides, Pipeline};

pub fn execute(args: CheckArgs) -> Result<Exit, Error> {
    // The same overrides `run` takes, so that a pipeline which leaves the fix or the line to the
    // command line can be checked as it will run.
    let overrides = Overrides {
        line: args.line,
        fix: args.fix,
        embargo: args.embargo,
        advisory: None,
    };
    // `load` is the reader every command uses: a pipeline `check` accepts is one `plan` and
    // `run` accept, and every error carries the same file:line:column.
    let pipeline = pipeline::load(&args.pipeline, &overrides)?;
    // And the advisory it names, read the same way (offline too).
    if let Some(file) = &pipeline.advisory {
        crate::advisory::load(file)?;
    }
    // And the private CA the SMTP server's certificate must chain to, read as sending reads it.
    if let Some(file) = pipeline
        .announce
        .as_ref()
        .and_then(|a| a.smtp.as_ref())
        .and_then(|s| s.ca_file.as_ref())
    {
        crate::disclosure::mail::ca_certificates(file)?;
    }
    let now = Timestamp::now();
    super::say(
        args.json,
        "ok",
        &summary_text(&pipeline, now),
        summary_json(&pipeline, now),
    )?;
    Ok(Exit::Done)
}

/// The cherry-pick targets as written: globs over the public branches, resolved only by `plan`.
fn targets(pipeline: &Pipeline) -> (Vec<String>, Vec<String>) {
    match &pipeline.cherry_pick {
        Some(c) => (
            c.onto.iter().map(|g| g.as_str().to_string()).collect(),
            c.skip.iter().map(|g| g.as_str().to_string()).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    }
}

/// One line a release lead reads at a glance: which pipeline, which line, where the fix goes,
/// how many checks prove the binaries, and when it goes public.
fn summary_text(pipeline: &Pipeline, now: Timestamp) -> String {
    let (onto, skip) = targets(pipeline);
    let targets = if onto.is_empty() {
        "no cherry-pick targets".to_string()
    } else if skip.is_empty() {
        format!("targets {}", onto.join(", "))
    } else {
        format!("targets {} (skip {})", onto.join(", "), skip.join(", "))
    };
    let checks = match pipeline.verify.len() {
        1 => "1 check".to_string(),
        n => format!("{n} checks"),
    };
    let embargo = match pipeline.embargo {
        // Still valid: a pipeline kept after its release, or one staged already (the staged
        // instant is the one publish uses); but `run` would refuse to cut with it.
        Some(at) if at <= now => format!(
            "embargo {} (passed: `run` refuses it; set the next instant or pass --embargo)",
            crate::clock::display(at)
        ),
        Some(at) => format!("embargo {}", crate::clock::display(at)),
        None => "no embargo (needed to publish)".to_string(),
    };
    format!(
        "ok: {}: {}, {}, {targets}, {checks}, {embargo}",
        pipeline.file.display(),
        pipeline.name,
        lines_text(pipeline),
    )
}

/// The lines the pipeline releases, in words.
fn lines_text(pipeline: &Pipeline) -> String {
    match &pipeline.lines {
        Some(lines) if pipeline.several_lines() => {
            let backports = pipeline.fix.per_line.len();
            format!(
                "lines {lines}{}",
                match backports {
                    0 => String::new(),
                    1 => " (1 with its own backport)".to_string(),
                    n => format!(" ({n} with their own backport)"),
                }
            )
        }
        _ => format!("line {}", pipeline.line),
    }
}

fn summary_json(pipeline: &Pipeline, now: Timestamp) -> serde_json::Value {
    let (onto, skip) = targets(pipeline);
    let mut value = json!({
        "pipeline": pipeline.file.display().to_string(),
        "name": pipeline.name,
        "line": pipeline.line.to_string(),
        "targets": onto,
        "skip": skip,
        "checks": pipeline.verify.len(),
        "embargo": pipeline.embargo.map(|at| at.to_string()),
        "embargo_passed": pipeline.embargo.is_some_and(|at| at <= now),
    });
    if pipeline.several_lines()
        && let (Some(lines), Some(map)) = (&pipeline.lines, value.as_object_mut())
    {
        map.insert("lines".into(), json!(lines.to_string()));
    }
    value
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const MINIMAL: &str = "version: 1\nname: app-security\nrepository: {private: security, public: origin}\n\
fix: {branch: security/fix}\nbuild:\n  steps: [{name: b, run: make}]\n  artifacts: [\"dist/*\"]\n";

    fn parse(text: &str) -> Pipeline {
        pipeline::parse(Path::new("p.yaml"), text, &Overrides::default()).expect("valid pipeline")
    }

    fn at(text: &str) -> Timestamp {
        crate::clock::parse_embargo(text).expect("instant")
    }

    #[test]
    fn the_summary_names_line_targets_checks_and_embargo() {
        let text = format!(
            "{MINIMAL}verify:\n  - {{name: v, run: ./app --version}}\n  - {{name: w, run: ./app check}}\n\
cherry_pick: {{onto: [master, \"release-*\"], skip: [\"release-0.*\"]}}\n\
versioning: {{line: \"1.4\"}}\nembargo: \"2036-12-01 16:00 UTC\"\n"
        );
        let pipeline = parse(&text);
        assert_eq!(
            summary_text(&pipeline, at("2030-01-01 00:00 UTC")),
            "ok: p.yaml: app-security, line 1.4, targets master, release-* (skip release-0.*), \
             2 checks, embargo 2036-12-01 16:00:00 UTC"
        );
        let value = summary_json(&pipeline, at("2030-01-01 00:00 UTC"));
        assert_eq!(value["targets"], json!(["master", "release-*"]));
        assert_eq!(value["checks"], 2);
        assert_eq!(value["embargo"], "2036-12-01T16:00:00Z");
        assert_eq!(value["embargo_passed"], false);
    }

    #[test]
    fn a_passed_or_missing_embargo_and_no_targets_are_said_plainly() {
        let passed = parse(&format!("{MINIMAL}embargo: \"2026-01-01 00:00 UTC\"\n"));
        let text = summary_text(&passed, at("2026-06-01 00:00 UTC"));
        assert!(
            text.contains("line latest, no cherry-pick targets, 0 checks"),
            "{text}"
        );
        assert!(text.contains("(passed: `run` refuses it"), "{text}");
        assert_eq!(
            summary_json(&passed, at("2026-06-01 00:00 UTC"))["embargo_passed"],
            true
        );

        let none = summary_text(&parse(MINIMAL), at("2026-06-01 00:00 UTC"));
        assert!(none.ends_with("no embargo (needed to publish)"), "{none}");
    }
}
