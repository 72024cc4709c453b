//! `embargo run` of a release of several lines (`versioning.lines`): every line's fix is tried
//! before anything is written; stages 1 to 5 run line by line, each line in its own folder of
//! the set's state folder; then stage 6 makes one atomic push of every line's refs to the private
//! remote, and a draft release per line.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::run::{RunOptions, RunOutcome, run_plan};
use crate::actions::{Action, Actions};
use crate::error::{Error, Exit};
use crate::git::workspace::Workspace;
use crate::journal::{self, Progress, Stage};
use crate::pipeline::Pipeline;
use crate::plan::{self, Plan};
use crate::report::Reporter;
use crate::stages::{RunSummary, SetStep};

/// What a run of several lines came to.
#[derive(Debug, Clone, Serialize)]
pub struct SetSummary {
    /// The set's state folder; each line's is inside it.
    pub state_dir: PathBuf,
    pub dry_run: bool,
    /// One summary per line, the newest line first.
    pub lines: Vec<RunSummary>,
    /// Stages 6 and 7 of every line together: one push to each remote, then each line's GitHub
    /// calls, the newest line's release published last.
    pub actions: Actions,
}

pub fn run(
    pipeline: &Pipeline,
    workspace: &Workspace,
    options: &RunOptions,
    reporter: &dyn Reporter,
) -> Result<SetOutcome, Error> {
    // Read before the remotes are listed: a mistake in it is found at once.
    let advisory = pipeline
        .advisory
        .as_deref()
        .map(crate::advisory::load)
        .transpose()?;
    let set = plan::resolve_set(pipeline, workspace, options.state_dir.as_deref())?;
    let released = set
        .lines
        .iter()
        .map(|plan| super::run::already_released(workspace, pipeline, plan))
        .collect::<Result<Vec<_>, Error>>()?;
    if !released.is_empty() && released.iter().all(Option::is_some) {
        return Ok(SetOutcome::Released(
            released.into_iter().flatten().collect(),
        ));
    }
    refuse_what_does_not_apply(pipeline, workspace, &set.lines)?;
    let pipeline = &one_instant(pipeline, &set.lines)?;
    // One advisory for the release, carried by the newest line: drafted with it, published
    // with it, last. The other lines are released without one of their own.
    let without_advisory = &without_advisory(pipeline);
    let of_line = |i: usize| -> (&Pipeline, Option<&crate::advisory::Advisory>) {
        if i == 0 {
            (pipeline, advisory.as_ref())
        } else {
            (without_advisory, None)
        }
    };
    let mut plans = set.lines.clone();
    // A release under way with a line's folder gone (moved, lost between CI jobs): that line is
    // not started afresh beside the others; its folder is brought back first.
    let started = |p: &Plan| p.state_dir.join("journal.jsonl").is_file();
    if plans.iter().any(started)
        && let Some(missing) = plans.iter().find(|p| !p.state_dir.exists())
    {
        return Err(Error::bad_input(format!(
            "{} is a line of the release under way in {}, but its folder is not there",
            missing.tag,
            set.state_dir.display()
        ))
        .with_hint("bring back that line's folder first (as it was: a folder of the same name)"));
    }
    // Each line's folder names the release it is part of, before anything is written in it.
    let tags: String = plans.iter().map(|p| format!("{}\n", p.tag)).collect();
    for plan in &plans {
        mark_line(&plan.state_dir, &tags)?;
    }

    if options.until == Some(Stage::Prepare) {
        return prepare(workspace, options, reporter, &plans, &of_line).map(SetOutcome::Prepared);
    }

    // Stages 1 to 5, line by line: every line frozen and picked before anything is pushed.
    let up_to_staging = RunOptions {
        set: SetStep::UpToStaging,
        ..options.clone()
    };
    let one = |workspace: &Workspace, i: usize| -> Result<RunSummary, Error> {
        say_line(reporter, &plans[i]);
        let (pipeline, advisory) = of_line(i);
        ran(run_plan(
            pipeline,
            workspace,
            &up_to_staging,
            reporter,
            plans[i].clone(),
            advisory,
        )?)
    };
    let mut lines = Vec::new();
    if options.jobs > 1 && plans.len() > 1 {
        for done in at_once(workspace, plans.len(), options.jobs, &one) {
            lines.push(done?);
        }
    } else {
        for i in 0..plans.len() {
            lines.push(one(workspace, i)?);
        }
    }
    // Every line is frozen: the advisory's record names each line's release commit.
    for with in &mut plans[0].released_with {
        with.release_commit = lines
            .iter()
            .find(|l| l.version == with.version)
            .map(|l| l.release_commit.clone());
    }
    if !workspace.is_dry_run() {
        // Stage 6: the first line's push carries every line's refs, in one atomic push.
        let every_ref: Vec<_> = lines
            .iter()
            .flat_map(|l| l.actions.stage.iter().flat_map(Action::pushed_refs))
            .cloned()
            .collect();
        let mut staged = Vec::new();
        // Stages 1 to 5 of every line were just run or re-checked above: said once is enough.
        let reporter = &StagingOnly(reporter);
        for (i, plan) in plans.iter().enumerate() {
            say_line(reporter, plan);
            let (pipeline, advisory) = of_line(i);
            let step = RunOptions {
                set: if i == 0 {
                    SetStep::PushingFor(every_ref.clone())
                } else {
                    SetStep::Pushed
                },
                // Taken above, with stages 1 to 5.
                shards: None,
                ..options.clone()
            };
            staged.push(ran(run_plan(
                pipeline,
                workspace,
                &step,
                reporter,
                plan.clone(),
                advisory,
            )?)?);
        }
        lines = staged;
        staged_for_one_instant(&set.lines)?;
    }
    let actions = together(&lines);
    Ok(SetOutcome::Ran(SetSummary {
        state_dir: set.state_dir,
        dry_run: workspace.is_dry_run(),
        lines,
        actions,
    }))
}

/// `--until prepare` for every line: each line's release commit made, then one push to the private
/// remote carrying every line's, made by the first line (as its staging push would).
fn prepare<'p>(
    workspace: &Workspace,
    options: &RunOptions,
    reporter: &dyn Reporter,
    plans: &[Plan],
    of_line: &dyn Fn(usize) -> (&'p Pipeline, Option<&'p crate::advisory::Advisory>),
) -> Result<SetPrepared, Error> {
    let prepared_of = |outcome: RunOutcome| match outcome {
        RunOutcome::Prepared(p) => Ok(*p),
        _ => Err(Error::stage_failed("a line ran past its prepare stage")),
    };
    let quiet = RunOptions {
        set: SetStep::UpToStaging,
        ..options.clone()
    };
    let mut lines = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        say_line(reporter, plan);
        let (pipeline, advisory) = of_line(i);
        lines.push(prepared_of(run_plan(
            pipeline,
            workspace,
            &quiet,
            reporter,
            plan.clone(),
            advisory,
        )?)?);
    }
    let every_line: Vec<_> = lines
        .iter()
        .flat_map(|l| l.handoff.pushed_refs())
        .cloned()
        .collect();
    let first = RunOptions {
        set: SetStep::PushingFor(every_line),
        ..options.clone()
    };
    let (pipeline, advisory) = of_line(0);
    lines[0] = prepared_of(run_plan(
        pipeline,
        workspace,
        &first,
        &StagingOnly(reporter),
        plans[0].clone(),
        advisory,
    )?)?;
    Ok(SetPrepared {
        handoff: lines[0].handoff.clone(),
        lines,
    })
}

/// What `--until prepare` did for a release of several lines.
#[derive(Debug, Clone, Serialize)]
pub struct SetPrepared {
    /// One summary per line, the newest line first.
    pub lines: Vec<crate::stages::PrepareSummary>,
    /// The one push of every line's release commit to the private remote.
    pub handoff: Action,
}

/// Writes (or proves) the mark that makes `dir` a line of the release `tags` names.
fn mark_line(dir: &Path, tags: &str) -> Result<(), Error> {
    let path = dir.join(super::SET_MARK);
    let fail =
        |e: std::io::Error| Error::stage_failed(format!("cannot write {}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(text) if text == tags => Ok(()),
        Ok(text) => Err(Error::integrity(format!(
            "{} says the line belongs to the release {}, not to this one ({})",
            path.display(),
            text.lines().collect::<Vec<_>>().join(", "),
            tags.lines().collect::<Vec<_>>().join(", ")
        ))),
        Err(_) => {
            std::fs::create_dir_all(dir).map_err(fail)?;
            std::fs::write(&path, tags).map_err(fail)
        }
    }
}

/// The pipeline as the lines that do not carry the advisory are held to it.
pub fn without_advisory(pipeline: &Pipeline) -> Pipeline {
    Pipeline {
        advisory: None,
        ..pipeline.clone()
    }
}

/// What a run of several lines came to.
pub enum SetOutcome {
    Ran(SetSummary),
    /// `--until prepare`: every line's release commit made and on the private remote.
    Prepared(SetPrepared),
    /// Every line is out already, cut from this fix: nothing was written.
    Released(Vec<super::run::Released>),
}

/// Runs `one` for every line, `jobs` lines at a time, each worker on handles of its own; the
/// outcomes in the lines' order, once every started line has stopped.
fn at_once(
    workspace: &Workspace,
    count: usize,
    jobs: usize,
    one: &(dyn Fn(&Workspace, usize) -> Result<RunSummary, Error> + Sync),
) -> Vec<Result<RunSummary, Error>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let done: Vec<Mutex<Option<Result<RunSummary, Error>>>> =
        (0..count).map(|_| Mutex::new(None)).collect();
    // Opened here, then each moved to its thread: a handle is not shared between threads.
    let handles: Vec<Result<Workspace, Error>> = (0..jobs.min(count))
        .map(|_| workspace.reopen().map_err(Error::from))
        .collect();
    let (next, slots) = (&next, &done);
    std::thread::scope(|scope| {
        for own in handles {
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count {
                        break;
                    }
                    let outcome = match &own {
                        Ok(own) => one(own, i),
                        Err(e) => Err(Error::stage_failed(e.message.clone())),
                    };
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(outcome);
                    }
                }
            });
        }
    });
    done.into_iter()
        .map(|slot| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(Error::stage_failed(
                    "a line's run stopped without an outcome",
                ))
            })
        })
        .collect()
}

/// The reporter of stage 6, after every line went through stages 1 to 5: their re-check, passed
/// moments ago, is not said again.
struct StagingOnly<'r>(&'r dyn Reporter);

impl Reporter for StagingOnly<'_> {
    fn emit(&self, event: crate::report::Event<'_>) {
        if !matches!(event, crate::report::Event::StageResumed(stage, _) if stage != Stage::Stage) {
            self.0.emit(event);
        }
    }
}

/// A line's fix that does not apply stops the run before any ref is written. Lines already
/// under way were cut from their fix and are not tried again.
fn refuse_what_does_not_apply(
    pipeline: &Pipeline,
    workspace: &Workspace,
    plans: &[Plan],
) -> Result<(), Error> {
    let mut tried = Vec::new();
    for plan in plans {
        let entries = journal::read(&plan.state_dir.join("journal.jsonl"))?;
        let started = entries
            .iter()
            .any(|e| e.stage == Stage::Prepare && e.event == Progress::Completed);
        let mut plan = plan.clone();
        if !started && plan.already_exists.is_empty() {
            plan.trial = Some(plan::try_fix(&plan, &workspace.repo)?);
        }
        tried.push(plan);
    }
    super::plan::refuse_failed_trials(pipeline, &tried).map(|_| ())
}

/// Every line is staged for the same instant: once a line is staged, its recorded instant is the
/// set's, and a run that stopped after staging some lines stages the others for that one too
/// (not for a new `now`, nor for what the pipeline says by now).
fn one_instant(pipeline: &Pipeline, plans: &[Plan]) -> Result<Pipeline, Error> {
    let mut pipeline = pipeline.clone();
    for plan in plans {
        let entries = journal::read(&plan.state_dir.join("journal.jsonl"))?;
        if let Some((Some(_), source)) = crate::contract::recorded_instant(&entries) {
            // Held to the record as a one-line release is: another instant given now is
            // refused, naming both.
            let at = crate::contract::staged_instant(&pipeline, &entries, &plan.tag)?;
            pipeline.embargo = Some(at);
            pipeline.embargo_source = source;
            break;
        }
    }
    Ok(pipeline)
}

/// After staging: every line's recorded instant is the same one.
fn staged_for_one_instant(plans: &[Plan]) -> Result<(), Error> {
    let instants = plans
        .iter()
        .map(|plan| {
            let entries = journal::read(&plan.state_dir.join("journal.jsonl"))?;
            let at = crate::contract::recorded_instant(&entries).and_then(|(at, _)| at);
            Ok((plan.tag.clone(), at))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    crate::contract::one_instant(&instants).map(|_| ())
}

fn say_line(reporter: &dyn Reporter, plan: &Plan) {
    reporter.emit(crate::report::Event::Note(&format!(
        "line {}: {} -> {}",
        plan.line, plan.previous.tag, plan.tag
    )));
}

fn ran(outcome: RunOutcome) -> Result<RunSummary, Error> {
    match outcome {
        RunOutcome::Ran(_, summary) => Ok(*summary),
        RunOutcome::Released(done) => Err(Error::bad_input(format!(
            "the fix is already released in {} (published at {}): that line has nothing left to release",
            done.tag, done.published_at
        ))
        .with_hint("leave the line out of versioning.lines")),
        RunOutcome::Prepared(_) => Err(Error::bad_input(
            "--until prepare is for a release of one line",
        )),
    }
}

/// Every line's stages 6 and 7 as one: a single push to each remote with every line's refs,
/// each line's drafts and uploads, then, at the instant, each line's release published with the
/// newest line last (so that GitHub's "latest" ends on the highest version), its pull requests
/// and read-back.
pub fn together(lines: &[RunSummary]) -> Actions {
    together_actions(&lines.iter().map(|l| &l.actions).collect::<Vec<_>>())
}

/// [`together`], of each line's actions, the newest line first.
pub fn together_actions(lines: &[&Actions]) -> Actions {
    // Each line's push to a remote becomes part of one push, where the first line's was.
    let merge = |actions: &mut dyn Iterator<Item = &Action>| {
        let mut merged: Vec<Action> = Vec::new();
        for action in actions {
            let into = merged
                .iter_mut()
                .find(|a| matches!((a, action), (Action::Push { to: x, .. }, Action::Push { to: y, .. }) if x == y));
            match (into, action) {
                (Some(Action::Push { refs: all, .. }), Action::Push { refs, .. }) => {
                    all.extend(refs.iter().cloned());
                }
                _ => merged.push(action.clone()),
            }
        }
        merged
    };
    Actions {
        stage: merge(&mut lines.iter().flat_map(|l| l.stage.iter())),
        // The oldest line first: the newest is published last.
        publish: merge(&mut lines.iter().rev().flat_map(|l| l.publish.iter())),
        embargo: lines.first().and_then(|l| l.embargo.clone()),
        manual_backports: lines
            .iter()
            .flat_map(|l| l.manual_backports.iter().cloned())
            .collect(),
    }
}

/// Prints what the run of several lines did.
pub fn report(
    pipeline: &Pipeline,
    outcome: &SetOutcome,
    json: bool,
    kept: Option<&Path>,
    flags: &str,
) -> Result<Exit, Error> {
    let set = match outcome {
        SetOutcome::Ran(set) => set,
        SetOutcome::Prepared(prepared) => {
            if let Some(actions) = crate::ci::actions::Actions::from_env() {
                actions.append_summary(&crate::ci::actions::prepared_summary(
                    &prepared.lines,
                    &prepared.handoff,
                ))?;
            }
            if json {
                super::print_json(prepared)?;
            } else {
                print!(
                    "{}",
                    crate::report::summary::set_prepared_text(pipeline, prepared, flags)
                );
            }
            return Ok(Exit::Done);
        }
        SetOutcome::Released(done) => {
            let tags: Vec<&str> = done.iter().map(|d| d.tag.as_str()).collect();
            super::say(
                json,
                "released",
                &format!(
                    "the fix is already released in {}; nothing was done",
                    tags.join(", ")
                ),
                serde_json::json!({ "lines": done }),
            )?;
            return Ok(Exit::Done);
        }
    };
    if json {
        super::print_json(set)?;
        return Ok(Exit::Done);
    }
    print!("{}", crate::report::summary::set_run_text(set));
    if set.dry_run {
        match kept {
            Some(dir) => println!(
                "\ndry run: nothing was written outside {} (kept: --keep)",
                dir.display()
            ),
            None => println!(
                "\ndry run: nothing was written outside a temporary folder, now removed (--keep keeps it)"
            ),
        }
    }
    Ok(Exit::Done)
}
