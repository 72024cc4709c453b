//! One function per command: load the pipeline, open the clone, run, print the outcome.

mod publish;

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, Common};
use crate::error::{Error, Exit};
use crate::git::LocalRepo;
use crate::git::cli::GitCli;
use crate::git::workspace::Workspace;
use crate::journal::{self, Journal};
use crate::pipeline::{self, Overrides, Pipeline};
use crate::plan::{self, Plan};
use crate::report::{self, Reporter, summary};
use crate::stages::{self, Context, RunSummary};

pub fn execute(cli: Cli) -> Result<Exit, Error> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::bad_input(format!("cannot read the current directory: {e}")))?;
    match cli.command {
        Command::Plan(args) => {
            let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
            let workspace = open_workspace(&pipeline, &cwd, None)?;
            let plan = plan::resolve(&pipeline, &workspace, args.common.state_dir.as_deref())?;
            if args.common.json {
                print_json(&summary::plan_json(&pipeline, &plan))?;
            } else {
                print!("{}", summary::plan_text(&pipeline, &plan));
            }
            Ok(Exit::Done)
        }
        Command::Run(args) => {
            let reporter = report::choose(args.common.verbose, args.common.json);
            let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
            let scratch = if args.dry_run {
                let dir = tempfile::Builder::new()
                    .prefix("embargo-dry-run-")
                    .tempdir()
                    .map_err(|e| {
                        Error::stage_failed(format!("cannot create a temporary folder: {e}"))
                    })?;
                // Kept: the dry run's state, logs and scratch repository are there to look at.
                Some(dir.keep())
            } else {
                None
            };
            let workspace = open_workspace(&pipeline, &cwd, scratch.as_deref())?;
            let (_, result) = run(
                &pipeline,
                &workspace,
                &args.common,
                reporter.as_ref(),
                false,
            )?;
            if args.common.json {
                print_json(&result)?;
            } else {
                print!("{}", summary::run_text(&result));
                if let Some(dir) = &scratch {
                    println!(
                        "  dry run          nothing was written outside {}",
                        dir.display()
                    );
                }
            }
            Ok(Exit::Done)
        }
        Command::Publish(args) => publish::execute(args, &cwd),
        Command::Status(args) => {
            let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
            let repo = LocalRepo::open(&resolve_path(&cwd, &pipeline.repository.path))?;
            let dirs = state_dirs(&repo, &pipeline, args.common.state_dir.as_deref())?;
            let releases = dirs
                .iter()
                .map(|dir| Ok((dir.clone(), journal::read(&dir.join("journal.jsonl"))?)))
                .collect::<Result<Vec<_>, Error>>()?;
            if args.common.json {
                print_json(&summary::status_json(&releases))?;
            } else {
                print!("{}", summary::status_text(&pipeline, &releases));
            }
            Ok(Exit::Done)
        }
        Command::Demo(args) => crate::sample::demo(args.keep, args.verbose),
        Command::Schema => {
            print!("{}", crate::pipeline::schema::render());
            Ok(Exit::Done)
        }
    }
}

pub(crate) fn overrides(common: &Common) -> Overrides {
    Overrides {
        line: common.line.clone(),
        fix: common.fix.clone(),
        embargo: common.embargo.clone(),
    }
}

fn resolve_path(cwd: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

/// Opens the clone the pipeline names (`cwd` resolves a relative `repository.path`), and for a
/// dry run the scratch repository in `scratch`.
pub fn open_workspace(
    pipeline: &Pipeline,
    cwd: &Path,
    scratch: Option<&Path>,
) -> Result<Workspace, Error> {
    let path = resolve_path(cwd, &pipeline.repository.path);
    let clone = LocalRepo::open(&path)?;
    let git = GitCli::new(&path);
    Ok(match scratch {
        Some(dir) => Workspace::scratch(clone, &git, dir)?,
        None => Workspace::real(clone, git)?,
    })
}

/// Resolves the plan and runs the stages through the release's journal.
pub fn run(
    pipeline: &Pipeline,
    workspace: &Workspace,
    common: &Common,
    reporter: &dyn Reporter,
    github_offline: bool,
) -> Result<(Plan, RunSummary), Error> {
    let plan = plan::resolve(pipeline, workspace, common.state_dir.as_deref())?;
    let started_here = journal::read(&plan.state_dir.join("journal.jsonl"))?
        .iter()
        .any(|e| e.stage == journal::Stage::Prepare && e.event == journal::Event::Completed);
    if !plan.already_exists.is_empty()
        && !started_here
        && stages::prepare::pending_branch(&plan, &workspace.repo).is_none()
    {
        // Someone else's release (or a half-deleted one of ours): refuse before writing any state.
        return Err(stages::prepare::taken(&plan));
    }
    let _lock = crate::lock::lock(&plan.state_dir, "run")?;
    let mut journal = Journal::open(&plan.state_dir)?;
    let ctx = Context {
        pipeline,
        plan: &plan,
        repo: &workspace.repo,
        git: &workspace.git,
        reporter,
        dry_run: workspace.is_dry_run(),
        clone_dir: &workspace.clone.path,
        github_offline,
    };
    let summary = stages::run(&ctx, &mut journal)?;
    Ok((plan, summary))
}

/// The state folders of this pipeline's releases (`--state-dir`, or every release under the
/// clone's `embargo/<name>/`).
fn state_dirs(
    repo: &LocalRepo,
    pipeline: &Pipeline,
    given: Option<&Path>,
) -> Result<Vec<PathBuf>, Error> {
    if let Some(dir) = given {
        return Ok(vec![dir.to_path_buf()]);
    }
    let root = repo.common_dir().join("embargo").join(&pipeline.name);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("journal.jsonl").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    Ok(dirs)
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::stage_failed(format!("cannot encode the output as JSON: {e}")))?;
    println!("{}", crate::redact::redact_url(&text));
    Ok(())
}
