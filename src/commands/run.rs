//! `embargo run`: cut, build, verify, freeze, pick and stage a release, resuming after the last
//! completed stage, and held to what was already recorded.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{open_workspace, overrides, print_json, state_dirs};
use crate::cli::RunArgs;
use crate::contract::{self, Current, Drift};
use crate::error::{Error, Exit};
use crate::git::workspace::Workspace;
use crate::journal::{self, Journal, Manifest, Progress, Stage};
use crate::pipeline::{self, Pipeline};
use crate::plan::{self, Plan};
use crate::report::{self, Event, Reporter, summary};
use crate::stages::{self, Context, Prepared, RunSummary};

/// How a run is asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub state_dir: Option<PathBuf>,
    /// Go on with what was recorded although the pipeline changed since (journaled).
    pub keep_staged: bool,
    /// GitHub calls are described instead of made (the demo has no GitHub to talk to).
    pub github_offline: bool,
    /// The line's part in a release of several lines.
    pub set: stages::SetStep,
    /// Lines of a release of several lines through stages 1 to 5 at once (`--jobs`).
    pub jobs: usize,
    /// The shards built elsewhere, taken by the build stage instead of building (`--shards`).
    pub shards: Option<PathBuf>,
    /// Stop after this stage (`--until prepare`: the first job of a build split across runners).
    pub until: Option<Stage>,
}

/// What a run came to.
pub enum RunOutcome {
    Ran(Box<Plan>, Box<RunSummary>),
    /// `--until prepare`: the release commit is made and on the private remote.
    Prepared(Box<stages::PrepareSummary>),
    /// The fix is out already: nothing was written.
    Released(Released),
}

/// A published release that already carries the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Released {
    pub tag: String,
    pub published_at: String,
    pub release_url: Option<String>,
    pub state_dir: PathBuf,
}

pub fn execute(args: RunArgs, cwd: &Path) -> Result<Exit, Error> {
    let actions = crate::ci::actions::Actions::from_env();
    // First of all: in a public repository's job, even the build log would leak the fix, a dry
    // run's as much as a real one's (the fix's subjects, the conflicting files, the build).
    if let Some(actions) = &actions {
        actions.refuse_public_repository(args.allow_public_ci)?;
    }
    let reporter = report::choose(args.common.verbose, args.common.json);
    let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
    // A dry run's folder holds the patched source and binaries: private to this user, and
    // removed at the end unless --keep asks to look at it.
    let scratch = if args.dry_run {
        Some(
            tempfile::Builder::new()
                .prefix("embargo-dry-run-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .map_err(|e| {
                    Error::stage_failed(format!("cannot create a temporary folder: {e}"))
                })?,
        )
    } else {
        None
    };
    if args.dry_run && args.shards.is_some() {
        return Err(Error::bad_input(
            "--dry-run with --shards: a dry run starts afresh in a scratch folder, without the prepare job's state the shards were built from",
        )
        .with_hint("dry-run the split's first job with `embargo run PIPELINE --until prepare --dry-run`, or the whole release with `embargo run PIPELINE --dry-run`"));
    }
    if (args.until.is_some() || args.shards.is_some()) && pipeline.build.matrix.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: {} is for a build split across runners, and the pipeline's build has no build.matrix",
            pipeline.file.display(),
            if args.until.is_some() { "--until prepare" } else { "--shards" }
        ))
        .with_hint("name the shards in build.matrix, or leave the flag out: `embargo run` builds on this machine"));
    }
    let workspace = open_workspace(&pipeline, cwd, scratch.as_ref().map(|d| d.path()))?;
    let options = RunOptions {
        state_dir: args.common.state_dir.clone(),
        keep_staged: args.keep_staged,
        github_offline: false,
        set: stages::SetStep::Alone,
        jobs: usize::from(args.jobs),
        shards: args.shards.clone(),
        until: args.until.as_deref().map(|_| Stage::Prepare),
    };
    if pipeline.several_lines() {
        let set = super::run_set::run(&pipeline, &workspace, &options, reporter.as_ref())?;
        let kept = match scratch {
            Some(dir) if args.keep => Some(dir.keep()),
            _ => None,
        };
        return super::run_set::report(
            &pipeline,
            &set,
            args.common.json,
            kept.as_deref(),
            &split_flags(&args.common),
        );
    }
    let outcome = run(&pipeline, &workspace, &options, reporter.as_ref())?;
    let kept = match scratch {
        Some(dir) if args.keep => Some(dir.keep()),
        _ => None,
    };
    match outcome {
        RunOutcome::Prepared(prepared) => {
            if let Some(actions) = &actions {
                actions.append_summary(&crate::ci::actions::prepared_summary(
                    std::slice::from_ref(&*prepared),
                    &prepared.handoff,
                ))?;
                actions.set_outputs(&[
                    ("tag", &prepared.tag),
                    ("version", &prepared.version),
                    ("commit", &prepared.release_commit),
                ])?;
            }
            if args.common.json {
                print_json(&prepared)?;
            } else {
                print!(
                    "{}",
                    summary::prepared_text(&pipeline, &prepared, &split_flags(&args.common))
                );
            }
        }
        RunOutcome::Released(done) => {
            if let Some(actions) = &actions {
                actions.set_outputs(&[
                    ("tag", &done.tag),
                    ("release_url", done.release_url.as_deref().unwrap_or("")),
                ])?;
            }
            let text = format!(
                "the fix is already released in {} (published at {}{}); nothing was done",
                done.tag,
                done.published_at,
                done.release_url
                    .as_deref()
                    .map(|u| format!(", {u}"))
                    .unwrap_or_default()
            );
            super::say(
                args.common.json,
                "released",
                &text,
                serde_json::to_value(&done).unwrap_or_default(),
            )?;
        }
        RunOutcome::Ran(plan, result) => {
            if let Some(actions) = &actions {
                let instant = result
                    .staged
                    .contract
                    .as_ref()
                    .and_then(|c| c.embargo)
                    .or(plan.embargo);
                actions.append_summary(&crate::ci::actions::run_summary(&result, instant))?;
                actions.set_outputs(&[
                    ("tag", &result.tag),
                    ("version", &result.version),
                    (
                        "release_url",
                        result
                            .staged
                            .draft
                            .as_ref()
                            .map(|d| d.html_url.as_str())
                            .unwrap_or(""),
                    ),
                ])?;
            }
            if args.common.json {
                print_json(&result)?;
            } else {
                print!("{}", summary::run_text(&result));
                if args.dry_run {
                    match &kept {
                        Some(dir) => println!(
                            "\ndry run: nothing was written outside {} (kept: --keep)",
                            dir.display()
                        ),
                        None => println!(
                            "\ndry run: nothing was written outside a temporary folder, now removed (--keep keeps it)"
                        ),
                    }
                }
            }
        }
    }
    Ok(Exit::Done)
}

/// The flags that chose the release, as every later job of a split build must repeat them.
fn split_flags(common: &crate::cli::Common) -> String {
    let quoted = |v: &str| {
        if v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        {
            v.to_string()
        } else {
            format!("'{}'", v.replace('\'', "'\\''"))
        }
    };
    let mut flags = String::new();
    if let Some(line) = &common.line {
        flags.push_str(&format!(" --line {}", quoted(line)));
    }
    if let Some(fix) = &common.fix {
        flags.push_str(&format!(" --fix {}", quoted(fix)));
    }
    flags
}

/// Resolves the plan, holds it to what the release's journal recorded, and runs the stages.
pub fn run(
    pipeline: &Pipeline,
    workspace: &Workspace,
    options: &RunOptions,
    reporter: &dyn Reporter,
) -> Result<RunOutcome, Error> {
    // Read before the remotes are listed: a mistake in it is found at once.
    let advisory = pipeline
        .advisory
        .as_deref()
        .map(crate::advisory::load)
        .transpose()?;
    // `--line` narrows the pipeline's lines to one, but not beside a release of all of them
    // that is under way: that line would go out alone, its picks carrying the fix to the others.
    if pipeline.narrowed
        && let Some(set) = super::sets_under_way(&workspace.clone, pipeline).first()
    {
        return Err(Error::bad_input(format!(
            "a release of several lines of this pipeline is under way ({}): no line is released alone beside it",
            set.display()
        ))
        .with_hint("finish it with `embargo run` and `embargo publish` without --line, or take it back with `embargo abort`"));
    }
    let plan = plan::resolve(pipeline, workspace, options.state_dir.as_deref())?;
    run_plan(
        pipeline,
        workspace,
        options,
        reporter,
        plan,
        advisory.as_ref(),
    )
}

/// Runs the stages of a resolved plan, held to what the release's journal recorded.
pub(super) fn run_plan(
    pipeline: &Pipeline,
    workspace: &Workspace,
    options: &RunOptions,
    reporter: &dyn Reporter,
    mut plan: Plan,
    advisory: Option<&crate::advisory::Advisory>,
) -> Result<RunOutcome, Error> {
    let entries = journal::read(&plan.state_dir.join("journal.jsonl"))?;
    let started_here = entries
        .iter()
        .any(|e| e.stage == Stage::Prepare && e.event == Progress::Completed);
    if !started_here && let Some(done) = already_released(workspace, pipeline, &plan)? {
        return Ok(RunOutcome::Released(done));
    }
    if options.shards.is_some() && !started_here {
        return Err(Error::bad_input(format!(
            "{} is not prepared in {}: --shards goes on from the state folder of the prepare job that made the release commit the shards were built from",
            plan.tag,
            plan.state_dir.display()
        ))
        .with_hint(format!(
            "bring that job's state folder here (the workflow's `embargo-state-prepared` artifact), or run `embargo run {} --until prepare` first",
            pipeline.file.display()
        )));
    }
    if !plan.already_exists.is_empty() && !started_here && workspace.is_dry_run() {
        // The clone's own state may show the release as ours, staged by an earlier `run`: a dry
        // run of it has nothing left to try, and `run` would only resume it.
        if let Ok(dir) = super::staged_release(&workspace.clone, pipeline, None, false)
            && dir.ends_with(&plan.tag)
        {
            return Err(Error::bad_input(format!(
                "{} is staged already (its state is in {}): a dry run has nothing left to try, and `embargo run` would resume it",
                plan.tag,
                dir.display()
            ))
            .with_hint(format!(
                "`embargo status {p}` shows where it stands; `embargo publish {p} --dry-run` shows what publishing will do",
                p = pipeline.file.display()
            )));
        }
        // Prepared, not staged (the prepare job of a split build, or a run cut short): the same.
        for dir in state_dirs(&workspace.clone, pipeline, None)? {
            let entries = journal::read(&dir.join("journal.jsonl"))?;
            let prepared = journal::last_of(&entries, Stage::Prepare)
                .is_some_and(|e| e.event == Progress::Completed);
            let aborted = journal::last_of(&entries, Stage::Abort).is_some();
            if dir.ends_with(&plan.tag) && prepared && !aborted {
                return Err(Error::bad_input(format!(
                    "{} is under way (its state is in {}): a dry run has nothing left to try, and `embargo run` would go on with it",
                    plan.tag,
                    dir.display()
                ))
                .with_hint(format!(
                    "`embargo status {p}` shows where it stands; `embargo abort {p} --dry-run` shows what taking it back would do",
                    p = pipeline.file.display()
                )));
            }
        }
    }
    if !plan.already_exists.is_empty()
        && !started_here
        && stages::prepare::pending_branch(&plan, &workspace.repo).is_none()
    {
        // Someone else's release (or a half-deleted one of ours): refuse before writing any state.
        return Err(stages::prepare::taken(&plan, pipeline));
    }
    // Refused before any work when GitHub says the private repository is not private (proven
    // again right before the push). A dry run pushes nothing and calls no API.
    if let Some(spec) = &pipeline.github
        && !options.github_offline
        && !workspace.is_dry_run()
    {
        crate::github::repository::prove_private(spec)?;
    }
    let _lock = crate::lock::lock(&plan.state_dir, "run")?;
    let mut journal = Journal::open(&plan.state_dir)?;
    super::refuse_aborted(journal.entries(), &plan.state_dir)?;
    let staged = journal.completed(Stage::Stage).is_some();
    if staged {
        contract::record_agrees(journal.entries(), &Manifest::read(&plan.state_dir)?)?;
        contract::staged_instant(pipeline, journal.entries(), &plan.tag)?;
    } else {
        contract::refuse_past_embargo(pipeline)?;
    }
    hold_to_record(
        pipeline,
        &mut plan,
        &mut journal,
        options.keep_staged,
        "run",
        reporter,
    )?;
    if staged {
        // A later job may run in a fresh clone with a copy of the state folder: bring back what
        // was staged from the private remote, proven against the manifest.
        let restored = stages::stage::restore(
            &workspace.repo,
            &workspace.git,
            &pipeline.repository.private,
            &journal,
            &Manifest::read(&plan.state_dir)?,
        )?;
        if restored > 0 {
            reporter.emit(Event::Note(&format!(
                "brought back {restored} staged ref(s) from the private remote into this clone"
            )));
        }
    } else if let Some(prepared) = prepared_in(&journal)?
        && stages::prepare::bring_back(
            &workspace.repo,
            &workspace.git,
            &pipeline.repository.private,
            &prepared,
        )?
    {
        reporter.emit(Event::Note(&format!(
            "brought back the patch branch {} from the private remote into this clone",
            prepared.patch_branch
        )));
    }
    if let Some(folder) = &options.shards
        && journal.completed(Stage::Build).is_some()
    {
        if journal.completed(Stage::Verify).is_none() && journal.completed(Stage::Freeze).is_none()
        {
            // Taken in an earlier run but never verified (a check failed on it): the shards given
            // now are taken instead, and verified.
            reporter.emit(Event::Note(&format!(
                "the build taken in an earlier run was never verified: taking the shards in {} instead",
                folder.display()
            )));
            journal.record(
                Stage::Build,
                Progress::Started,
                serde_json::Value::Null,
                None,
            )?;
        } else {
            reporter.emit(Event::Note(&format!(
                "the build was verified in an earlier run and is re-checked, not taken again: {} is not used",
                folder.display()
            )));
        }
    }
    let ctx = Context {
        pipeline,
        plan: &plan,
        repo: &workspace.repo,
        git: &workspace.git,
        reporter,
        dry_run: workspace.is_dry_run(),
        clone_dir: &workspace.clone.path,
        github_offline: options.github_offline,
        advisory,
        set: options.set.clone(),
        osv: None,
        shards: options.shards.as_deref(),
    };
    if options.until == Some(Stage::Prepare) {
        let prepared = stages::prepare_only(&ctx, &mut journal)?;
        return Ok(RunOutcome::Prepared(Box::new(prepared)));
    }
    let summary = stages::run(&ctx, &mut journal)?;
    Ok(RunOutcome::Ran(Box::new(plan), Box::new(summary)))
}

/// Compares what the pipeline and the remotes give now with what the journal recorded; refuses
/// on any difference unless the lead keeps the record (`--keep-staged`, journaled once per set
/// of differences), in which case the plan is put back to the recorded fix.
pub(super) fn hold_to_record(
    pipeline: &Pipeline,
    plan: &mut Plan,
    journal: &mut Journal,
    keep_staged: bool,
    command: &str,
    reporter: &dyn Reporter,
) -> Result<(), Error> {
    let current = Current {
        fix_commits: plan.fix_commits.iter().map(|c| c.sha.clone()).collect(),
        targets: Some(plan.targets.clone()),
        build: contract::build_fingerprint(pipeline),
        checks: contract::checks_fingerprint(pipeline),
        github_repository: pipeline.github.as_ref().map(|g| g.repository.clone()),
        private_remote: crate::redact::redact_url(&pipeline.repository.private),
        public_remote: crate::redact::redact_url(&pipeline.repository.public),
        public_urls: plan.public_urls.clone(),
        advisory: pipeline
            .advisory
            .as_deref()
            .map(crate::advisory::load)
            .transpose()?
            .as_ref()
            .map(crate::advisory::Content::of),
    };
    let drift = unaccepted(journal, contract::drift(journal.entries(), &current));
    if drift.is_empty() {
        return keep_recorded_fix(plan, journal);
    }
    if !keep_staged {
        return Err(contract::refuse_drift(&drift, &plan.tag, pipeline, command));
    }
    journal.record(
        Stage::KeepStaged,
        Progress::Completed,
        serde_json::json!({ "drift": drift }),
        None,
    )?;
    reporter.emit(Event::Note(&format!(
        "--keep-staged: going on with what was recorded; the pipeline's changes are ignored: {}",
        drift.iter().map(Drift::line).collect::<Vec<_>>().join("; ")
    )));
    keep_recorded_fix(plan, journal)
}

/// Differences a `--keep-staged` already accepted are not asked about again.
fn unaccepted(journal: &Journal, drift: Vec<Drift>) -> Vec<Drift> {
    let accepted: Vec<serde_json::Value> = journal
        .entries()
        .iter()
        .filter(|e| e.stage == Stage::KeepStaged)
        .filter_map(|e| e.detail.get("drift").and_then(|d| d.as_array()).cloned())
        .flatten()
        .collect();
    drift
        .into_iter()
        .filter(|d| {
            let value = serde_json::to_value(d).unwrap_or_default();
            !accepted.contains(&value)
        })
        .collect()
}

/// What the prepare stage recorded, once it completed.
pub(super) fn prepared_in(journal: &Journal) -> Result<Option<Prepared>, Error> {
    journal
        .completed(Stage::Prepare)
        .map(|entry| {
            serde_json::from_value(entry.detail.clone()).map_err(|e| {
                Error::integrity(format!(
                    "the journal's record of the prepare stage is damaged: {e}"
                ))
            })
        })
        .transpose()
}

/// Once prepared, the release is made of the fix it was cut from, whatever the fix branch says.
fn keep_recorded_fix(plan: &mut Plan, journal: &Journal) -> Result<(), Error> {
    let Some(prepared) = prepared_in(journal)? else {
        return Ok(());
    };
    plan.fix_oids = prepared
        .fix_commits
        .iter()
        .map(|c| {
            git2::Oid::from_str(&c.sha).map_err(|_| {
                Error::integrity(format!(
                    "the journal's fix commit `{}` is not a commit id",
                    c.sha
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    plan.fix_commits = prepared.fix_commits;
    Ok(())
}

/// A release of this pipeline, already published, that was cut from the very fix the plan
/// would cut now: running again would only fail to apply the fix a second time.
pub(super) fn already_released(
    workspace: &Workspace,
    pipeline: &Pipeline,
    plan: &Plan,
) -> Result<Option<Released>, Error> {
    let fix: Vec<&str> = plan.fix_commits.iter().map(|c| c.sha.as_str()).collect();
    for dir in state_dirs(&workspace.clone, pipeline, None)? {
        let entries = journal::read(&dir.join("journal.jsonl"))?;
        let Some(published) =
            journal::last_of(&entries, Stage::Publish).filter(|e| e.event == Progress::Completed)
        else {
            continue;
        };
        let Some(prepared) = journal::last_of(&entries, Stage::Prepare)
            .and_then(|e| serde_json::from_value::<Prepared>(e.detail.clone()).ok())
        else {
            continue;
        };
        let then: Vec<&str> = prepared
            .fix_commits
            .iter()
            .map(|c| c.sha.as_str())
            .collect();
        if then == fix
            && pipeline
                .tag
                .parse(&prepared.tag)
                .map(|v| v.line().to_string())
                == Some(plan.line.clone())
        {
            return Ok(Some(Released {
                tag: prepared.tag,
                published_at: published.at.clone(),
                release_url: published
                    .detail
                    .get("release_url")
                    .and_then(|u| u.as_str())
                    .map(str::to_string),
                state_dir: dir,
            }));
        }
    }
    Ok(None)
}
