//! `embargo build --shard NAME --output DIR`: one shard of a build split across runners, built on
//! this machine from the release commit that `embargo run --until prepare` made, its files and
//! manifest left in DIR/<tag>/ for `embargo run --shards`. Writes nothing in the state folder and
//! pushes nothing: the journal records the build once every shard is taken.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{open_workspace, overrides, print_json};
use crate::cli::BuildArgs;
use crate::error::{Error, Exit};
use crate::journal::Journal;
use crate::pipeline;
use crate::plan;
use crate::report::{self, Event};
use crate::stages::{self, Context, shards::Manifest};

pub fn execute(args: BuildArgs, cwd: &Path) -> Result<Exit, Error> {
    // A shard's log shows the build of the fix as much as the whole build's would.
    let actions = crate::ci::actions::Actions::from_env();
    if let Some(actions) = &actions {
        actions.refuse_public_repository(false)?;
    }
    let reporter = report::choose(args.common.verbose, args.common.json);
    let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
    let Some(shard) = pipeline.build.matrix.iter().find(|s| s.name == args.shard) else {
        return Err(if pipeline.build.matrix.is_empty() {
            Error::bad_input(format!(
                "{}: the pipeline's build has no build.matrix, so it has no shard `{}`",
                pipeline.file.display(),
                args.shard
            ))
            .with_hint("`embargo run` builds the whole release on one machine")
        } else {
            Error::bad_input(format!(
                "{}: build.matrix has no shard `{}`; its shards are {}",
                pipeline.file.display(),
                args.shard,
                pipeline.build.shard_names()
            ))
        });
    };
    let workspace = open_workspace(&pipeline, cwd, None)?;
    let state_dir = args.common.state_dir.as_deref();
    // A release of several lines: the shard is built for every line, each into its own folder.
    let plans = if pipeline.several_lines() {
        plan::resolve_set(&pipeline, &workspace, state_dir)?.lines
    } else {
        vec![plan::resolve(&pipeline, &workspace, state_dir)?]
    };
    let states: Vec<&Path> = plans.iter().map(|p| p.state_dir.as_path()).collect();
    let root = output_folder(&args.output, &workspace.clone.path, &states)?;
    let mut built = Built {
        output: root.clone(),
        manifests: Vec::new(),
    };
    for (i, plan) in plans.into_iter().enumerate() {
        // As `run` holds each line: the advisory is carried by the newest line alone.
        let pipeline = if i == 0 {
            pipeline.clone()
        } else {
            super::run_set::without_advisory(&pipeline)
        };
        built.manifests.push(build_line(
            &pipeline,
            &workspace,
            plan,
            shard,
            &root,
            reporter.as_ref(),
        )?);
    }
    if let Some(actions) = &actions {
        actions.append_summary(&crate::ci::actions::shard_summary(&built.manifests))?;
    }
    if args.common.json {
        print_json(&built)?;
    } else {
        for manifest in &built.manifests {
            print!(
                "{}",
                report::summary::shard_text(&pipeline, manifest, &root.join(&manifest.tag))
            );
        }
    }
    Ok(Exit::Done)
}

/// What `embargo build --shard` wrote: one manifest per line of the release, each in the
/// folder named after its tag under `output`.
#[derive(Debug, Serialize)]
struct Built {
    output: PathBuf,
    manifests: Vec<Manifest>,
}

/// The shard of one line, built from the release commit its prepare job recorded.
fn build_line(
    pipeline: &pipeline::Pipeline,
    workspace: &crate::git::workspace::Workspace,
    mut plan: plan::Plan,
    shard: &crate::pipeline::ShardSpec,
    root: &Path,
    reporter: &dyn report::Reporter,
) -> Result<Manifest, Error> {
    let state = plan.state_dir.clone();
    let not_prepared = || {
        Error::bad_input(format!(
            "{} is not prepared in {}: a shard builds the release commit the prepare job made",
            plan.tag,
            state.display()
        ))
        .with_hint(format!(
            "run `embargo run {} --until prepare` first, and bring its state folder here",
            pipeline.file.display()
        ))
    };
    if !state.join("journal.jsonl").is_file() {
        return Err(not_prepared());
    }
    let _lock = crate::lock::lock(&state, "build")?;
    let mut journal = Journal::open(&state)?;
    super::refuse_aborted(journal.entries(), &state)?;
    let Some(prepared) = super::run::prepared_in(&journal)? else {
        return Err(not_prepared());
    };
    super::run::hold_to_record(pipeline, &mut plan, &mut journal, false, "build", reporter)?;
    let out = root.join(&prepared.tag);
    if stages::prepare::bring_back(
        &workspace.repo,
        &workspace.git,
        &pipeline.repository.private,
        &prepared,
    )? {
        reporter.emit(Event::Note(&format!(
            "brought back the patch branch {} from the private remote into this clone",
            prepared.patch_branch
        )));
    }
    let ctx = Context {
        pipeline,
        plan: &plan,
        repo: &workspace.repo,
        git: &workspace.git,
        reporter,
        dry_run: false,
        clone_dir: &workspace.clone.path,
        github_offline: true,
        advisory: None,
        set: stages::SetStep::Alone,
        osv: None,
        shards: None,
    };
    stages::prepare::recheck(&ctx, &prepared)?;
    stages::build::fresh_dir(&out)?;
    let log = root.join(format!("build-{}-{}.log", prepared.tag, shard.name));
    let artifacts = stages::build::build_shard(&ctx, &prepared, Some(shard), &out, &log, &[])?;
    let manifest = Manifest::new(&ctx, &prepared, &shard.name, artifacts);
    manifest.write(&out)?;
    Ok(manifest)
}

/// The folder the shard's files go under: made when missing; refused when it holds anything but
/// earlier shards' output (its release's folder is emptied before the build), or when it is the
/// clone or the state folder or inside them.
fn output_folder(output: &Path, clone: &Path, states: &[&Path]) -> Result<PathBuf, Error> {
    fs::create_dir_all(output).map_err(|e| {
        Error::bad_input(format!(
            "--output {}: cannot create it: {e}",
            output.display()
        ))
    })?;
    let real = output
        .canonicalize()
        .map_err(|e| Error::bad_input(format!("--output {}: {e}", output.display())))?;
    let places = std::iter::once(("the clone", clone))
        .chain(states.iter().map(|s| ("the state folder", *s)));
    for (what, dir) in places {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if real.starts_with(&dir) || dir.starts_with(&real) {
            return Err(Error::bad_input(format!(
                "--output {}: it is {what} ({}), or inside it, or holds it; a shard's files go in a folder of their own",
                output.display(),
                dir.display()
            ))
            .with_hint("give a folder outside the clone, like $RUNNER_TEMP/shard"));
        }
    }
    let entries = fs::read_dir(&real)
        .map_err(|e| Error::bad_input(format!("--output {}: {e}", output.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_shard_output = path.is_dir() && path.join(stages::shards::MANIFEST).is_file();
        let is_log = entry.file_name().to_string_lossy().starts_with("build-") && path.is_file();
        if !is_shard_output && !is_log {
            return Err(Error::bad_input(format!(
                "--output {}: it holds {}, which no shard wrote; the release's folder in it is emptied before the build",
                output.display(),
                path.display()
            ))
            .with_hint("give an empty folder, or one an earlier `embargo build --shard` wrote"));
        }
    }
    Ok(real)
}
