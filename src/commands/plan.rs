//! `embargo plan`: what a run would do, resolved against the remotes, with every line's fix
//! tried in memory. Writes nothing.

use std::path::Path;

use super::{open_workspace, overrides, print_json};
use crate::cli::PipelineArgs;
use crate::error::{Error, Exit};
use crate::journal;
use crate::pipeline::{self, Pipeline};
use crate::plan::{self, Plan};
use crate::report::summary;

pub fn execute(args: PipelineArgs, cwd: &Path) -> Result<Exit, Error> {
    let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
    // Read before the remotes are listed: a mistake in it is found at once.
    let advisory = pipeline
        .advisory
        .as_deref()
        .map(crate::advisory::load)
        .transpose()?;
    let workspace = open_workspace(&pipeline, cwd, None)?;
    if pipeline.several_lines() {
        let mut set = plan::resolve_set(&pipeline, &workspace, args.common.state_dir.as_deref())?;
        for line in &mut set.lines {
            line.trial = Some(plan::try_fix(line, &workspace.repo)?);
        }
        // One advisory for the release, carried by the newest line, listing every line.
        if let (Some(advisory), Some(newest)) = (&advisory, set.lines.first_mut()) {
            newest.advisory = Some(crate::advisory::review(advisory, &pipeline, newest));
        }
        if args.common.json {
            print_json(&summary::release_set_json(&pipeline, &set))?;
        } else {
            print!("{}", summary::release_set_text(&pipeline, &set));
        }
        return refuse_failed_trials(&pipeline, &set.lines);
    }
    let mut plan = plan::resolve(&pipeline, &workspace, args.common.state_dir.as_deref())?;
    // Once staged, the recorded instant is the one that counts.
    let entries = journal::read(&plan.state_dir.join("journal.jsonl"))?;
    if let Some((Some(at), _)) = crate::contract::recorded_instant(&entries)
        && Some(at) != plan.embargo
    {
        eprintln!(
            "note: {} is staged for {}; that instant, not the pipeline's, is the one publish uses",
            plan.tag,
            crate::clock::display(at)
        );
        plan.embargo = Some(at);
    }
    // A release staged already was cut from this fix: trying it again on the tag says nothing.
    if plan.already_exists.is_empty() {
        plan.trial = Some(plan::try_fix(&plan, &workspace.repo)?);
    }
    plan.immutable_releases = pipeline.github.as_ref().map(immutable_releases);
    if let Some(spec) = &pipeline.github
        && let Some(name) = &spec.private_repository
    {
        // Refused here already when GitHub says it is public; without a token, said so.
        plan.private_repository = Some(
            if crate::secret::take_env(&spec.token_env).is_some_and(|t| !t.trim().is_empty()) {
                let said = crate::github::repository::prove_private(spec)?;
                format!("{name}: {} on GitHub", said.unwrap_or_default())
            } else {
                format!("{name}: not checked (no token in {})", spec.token_env)
            },
        );
    }
    if let Some(advisory) = &advisory {
        plan.advisory = Some(crate::advisory::review(advisory, &pipeline, &plan));
    }
    if args.common.json {
        print_json(&summary::plan_json(&pipeline, &plan))?;
    } else {
        print!("{}", summary::plan_text(&pipeline, &plan));
    }
    refuse_failed_trials(&pipeline, std::slice::from_ref(&plan))
}

/// A fix that does not apply to a line stops `run` before any ref is written: `plan` says so
/// with the same exit code, once everything is printed.
pub(super) fn refuse_failed_trials(pipeline: &Pipeline, plans: &[Plan]) -> Result<Exit, Error> {
    let failed: Vec<&Plan> = plans
        .iter()
        .filter(|p| p.trial.as_ref().is_some_and(|t| !t.applies()))
        .collect();
    if failed.is_empty() {
        return Ok(Exit::Done);
    }
    let lines: Vec<String> = failed
        .iter()
        .map(|p| format!("{} (onto {})", p.line, p.previous.tag))
        .collect();
    let hint = if pipeline.lines.is_some() {
        format!(
            "give each of those lines its own backport in fix.per_line (like \"{}\": security/<fix>-{}), or leave the line out of versioning.lines",
            failed[0].line, failed[0].line
        )
    } else {
        "backport the fix to that line by hand on a private branch and point fix.branch (or --fix) at it".to_string()
    };
    Err(Error::stage_failed(format!(
        "the fix does not apply to line {}; `embargo run` would stop before writing anything",
        lines.join(", line ")
    ))
    .with_hint(hint))
}
/// Whether the release will be immutable once published, in words for `plan`.
fn immutable_releases(spec: &crate::pipeline::GitHubSpec) -> String {
    let answer = crate::github::client::Client::new(spec)
        .and_then(|client| crate::github::repository::immutable_releases(&client));
    match answer {
        Ok(true) => "on: once published, the release's assets and tag cannot change".to_string(),
        Ok(false) => format!(
            "off: a published asset could still be replaced on GitHub; turn on immutable releases in {}'s settings",
            spec.repository
        ),
        Err(e) => format!("unknown ({})", e.message),
    }
}
