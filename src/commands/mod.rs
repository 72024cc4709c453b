//! One function per command: load the pipeline, open the clone, run, print the outcome.

mod abort;
mod announce;
mod build;
mod check;
mod ci;
mod demo;
mod init;
mod plan;
mod publish;
mod publish_set;
mod reschedule;
mod retrospective;
mod run;
mod run_set;
mod team;

use std::path::{Path, PathBuf};

pub use announce::render as announcement;
pub use run::{RunOptions, RunOutcome, run};
pub use run_set::{SetPrepared, SetSummary};

use crate::cli::{Cli, Command, Common, SchemaFormat};
use crate::error::{Error, Exit};
use crate::git::LocalRepo;
use crate::git::cli::GitCli;
use crate::git::workspace::Workspace;
use crate::journal::{self, Entry, Progress, Stage};
use crate::pipeline::{self, Overrides, Pipeline};

use crate::report::summary;

pub fn execute(cli: Cli) -> Result<Exit, Error> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::bad_input(format!("cannot read the current directory: {e}")))?;
    match cli.command {
        Command::Check(args) => check::execute(args),
        Command::Init(args) => init::execute(args, &cwd),
        Command::Plan(args) => plan::execute(args, &cwd),
        Command::Run(args) => run::execute(args, &cwd),
        Command::Build(args) => build::execute(args, &cwd),
        Command::Publish(args) => publish::execute(args, &cwd),
        Command::Reschedule(args) => reschedule::execute(args, &cwd),
        Command::Abort(args) => abort::execute(args, &cwd),
        Command::Team(args) => team::execute(args, &cwd),
        Command::Retrospective(args) => retrospective::execute(args, &cwd),
        Command::Announce(args) => announce::execute(args, &cwd),
        Command::Status(args) => {
            let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
            let repo = LocalRepo::open(&clone_path(&pipeline, &cwd)?)?;
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
        Command::Demo(args) => demo::execute(args.keep, args.verbose),
        Command::Ci(crate::cli::CiCommand::Generate(args)) => ci::generate(args, &cwd),
        Command::Schema(args) => {
            print!(
                "{}",
                match args.format {
                    SchemaFormat::Pipeline => crate::pipeline::schema::render(),
                    SchemaFormat::Advisory => crate::advisory::schema::render(),
                }
            );
            Ok(Exit::Done)
        }
    }
}

pub(crate) fn overrides(common: &Common) -> Overrides {
    Overrides {
        line: common.line.clone(),
        fix: common.fix.clone(),
        embargo: common.embargo.clone(),
        advisory: common.advisory.clone(),
    }
}

pub(crate) fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The clone a pipeline works in, found as git finds a repository: from `repository.path`
/// (relative to the pipeline file's folder), or without it from the pipeline file's own folder.
/// The current directory plays no part, so the same pipeline means the same clone wherever
/// it is run from.
pub fn clone_path(pipeline: &Pipeline, cwd: &Path) -> Result<PathBuf, Error> {
    let file = resolve_path(cwd, &pipeline.file);
    let folder = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf());
    let start = match &pipeline.repository.path {
        Some(path) => resolve_path(&folder, path),
        None => folder,
    };
    match git2::Repository::discover(&start) {
        // Without the trailing `/` git2 gives, so that paths in messages read as written.
        Ok(repo) => Ok(repo
            .workdir()
            .unwrap_or_else(|| repo.path())
            .components()
            .collect()),
        Err(e) => Err(Error::bad_input(match &pipeline.repository.path {
            Some(_) => format!(
                "repository.path: {} is not a git repository, nor inside one ({})",
                start.display(),
                e.message()
            ),
            None => format!(
                "{}: the pipeline is not inside a git repository, and repository.path is not set",
                pipeline.file.display()
            ),
        })
        .with_hint(
            "keep the pipeline inside your clone of the project, or set repository.path \
             (relative to the pipeline file's folder) to the clone",
        )),
    }
}

/// Opens the clone the pipeline names, and for a dry run the scratch repository in `scratch`.
pub fn open_workspace(
    pipeline: &Pipeline,
    cwd: &Path,
    scratch: Option<&Path>,
) -> Result<Workspace, Error> {
    let path = clone_path(pipeline, cwd)?;
    let clone = LocalRepo::open(&path)?;
    let git = GitCli::new(&path);
    Ok(match scratch {
        Some(dir) => Workspace::scratch(clone, &git, dir)?,
        None => Workspace::real(clone, git)?,
    })
}

/// The state folders of this pipeline's releases (`--state-dir`, or every release under the
/// clone's `embargo/<name>/`).
fn state_dirs(
    repo: &LocalRepo,
    pipeline: &Pipeline,
    given: Option<&Path>,
) -> Result<Vec<PathBuf>, Error> {
    if let Some(dir) = given {
        release_state(dir)?;
        return Ok(vec![dir.to_path_buf()]);
    }
    let root = repo.common_dir().join("embargo").join(&pipeline.name);
    let mut dirs = Vec::new();
    for dir in releases_in(&root) {
        if dir.join("journal.jsonl").is_file() {
            dirs.push(dir);
        } else if is_release_set(&dir) {
            // A release of several lines: a folder per line inside the set's.
            dirs.extend(
                releases_in(&dir)
                    .into_iter()
                    .filter(|p| p.join("journal.jsonl").is_file()),
            );
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// For a command that works on one line's folder (`abort`, `reschedule`): with a pipeline of
/// several lines and no line's folder given, `Some` of what doing it to every line of the set
/// (the one under way, or the one `given` names) came to; `None` to go on with one folder.
fn each_line(
    clone: &LocalRepo,
    pipeline: &Pipeline,
    given: Option<&Path>,
    json: bool,
    whole: bool,
    mut check: impl FnMut(PathBuf) -> Result<Exit, Error>,
    mut each: impl FnMut(PathBuf) -> Result<Exit, Error>,
) -> Option<Result<Exit, Error>> {
    if !pipeline.several_lines() || given.is_some_and(|g| !is_release_set(g)) {
        return None;
    }
    Some((|| {
        let sets: Vec<PathBuf> = match given {
            Some(dir) => vec![dir.to_path_buf()],
            None => sets_under_way(clone, pipeline),
        };
        let set = match sets.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(Error::bad_input(format!(
                    "{}: no release of its lines is under way",
                    pipeline.name
                ))
                .with_hint("`embargo status` shows every release of the pipeline"));
            }
            _ => {
                return Err(Error::bad_input(format!(
                    "{}: several releases of its lines are under way: {}",
                    pipeline.name,
                    sets.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_hint("name one with --state-dir"));
            }
        };
        let mut lines: Vec<PathBuf> = releases_in(&set)
            .into_iter()
            .filter(|d| d.join("journal.jsonl").is_file())
            .collect();
        lines.sort();
        // Every line, or none: a line whose folder is missing would be left behind. A line an
        // earlier abort took back is in the release's `aborted/` folder: the next abort goes on
        // without it; nothing else does.
        let members = lines
            .iter()
            .find_map(|l| set_of_line(l))
            .unwrap_or_default();
        // A line's folder without a journal is a line not started: there, but with nothing to do.
        let present = releases_in(&set);
        for tag in &members {
            if present.iter().any(|l| l.ends_with(tag.as_str())) {
                continue;
            }
            // Archived by an abort of this release, not of an earlier cut of the same versions:
            // taken back after the current lines were started.
            let started = lines
                .iter()
                .filter_map(|l| journal::read(&l.join("journal.jsonl")).ok())
                .filter_map(|entries| entries.first().map(|e| e.at.clone()))
                .filter_map(|at| at.parse::<jiff::Timestamp>().ok())
                .min();
            let taken_back = releases_in(&set.join("aborted")).iter().any(|a| {
                let name = a
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let Some(stamp) = name.strip_prefix(&format!("{tag}-")) else {
                    return false;
                };
                let at = stamp
                    .get(..16)
                    .and_then(|s| jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", s).ok())
                    .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| z.timestamp());
                match (at, started) {
                    (Some(at), Some(started)) => at.as_second() >= started.as_second(),
                    _ => false,
                }
            });
            if taken_back && !whole {
                continue;
            }
            return Err(if taken_back {
                Error::bad_input(format!(
                    "{tag}, a line of the release in {}, was taken back by an abort cut short: the release cannot be changed, only taken back",
                    set.display()
                ))
                .with_hint(format!(
                    "finish taking it back with `embargo abort {}`",
                    pipeline.file.display()
                ))
            } else {
                Error::bad_input(format!(
                    "{tag} is a line of the release in {}, but its folder is not there: every line moves together",
                    set.display()
                ))
                .with_hint("bring back that line's folder first (as it was: a folder of the same name)")
            });
        }
        // Every line or none: each line's checks pass before any line is changed.
        for line in &lines {
            check(line.clone())?;
        }
        // With --json, each line's outcome is gathered into one document: `{"outcome", "lines"}`.
        let gathered = json.then(Gathered::start);
        let mut done: Vec<String> = Vec::new();
        for line in lines {
            let tag = line
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            each(line).map_err(|e| {
                if done.is_empty() {
                    return e;
                }
                // Said in the message, not only in the hint, which may say nothing was done.
                Error {
                    message: format!(
                        "{} (this command had already done {} of this release: run it again to finish)",
                        e.message,
                        done.join(", ")
                    ),
                    hint: Some(format!(
                        "what failed was for this line only ({}); run the same command again: it goes on with the lines not done",
                        e.hint.as_deref().unwrap_or("see above")
                    )),
                    ..e
                }
            })?;
            done.push(tag);
        }
        if let Some(gathered) = gathered {
            let lines = gathered.finish();
            let outcome = match lines.first().and_then(|l| l.get("outcome")) {
                Some(first) if lines.iter().all(|l| l.get("outcome") == Some(first)) => {
                    first.clone()
                }
                _ => serde_json::Value::from("several"),
            };
            print_json(&serde_json::json!({ "outcome": outcome, "lines": lines }))?;
        }
        Ok(Exit::Done)
    })())
}

thread_local! {
    /// The outcomes [`say`] gathers instead of printing, while a command works on every line of
    /// a release of several lines with `--json`.
    static GATHERED: std::cell::RefCell<Option<Vec<serde_json::Value>>> =
        const { std::cell::RefCell::new(None) };
}

/// Gathering of [`say`]'s outcomes, for as long as it lives.
struct Gathered;

impl Gathered {
    fn start() -> Gathered {
        GATHERED.with(|g| *g.borrow_mut() = Some(Vec::new()));
        Gathered
    }

    fn finish(self) -> Vec<serde_json::Value> {
        GATHERED.with(|g| g.borrow_mut().take()).unwrap_or_default()
    }
}

impl Drop for Gathered {
    fn drop(&mut self) {
        GATHERED.with(|g| *g.borrow_mut() = None);
    }
}

/// The folders of this pipeline's releases of several lines that have a line neither published
/// nor taken back.
pub(super) fn sets_under_way(clone: &LocalRepo, pipeline: &Pipeline) -> Vec<PathBuf> {
    releases_in(&clone.common_dir().join("embargo").join(&pipeline.name))
        .into_iter()
        .filter(|d| is_release_set(d))
        .filter(|d| {
            releases_in(d).iter().any(|l| {
                let entries = journal::read(&l.join("journal.jsonl")).unwrap_or_default();
                !entries.is_empty()
                    && standing(&entries) != Standing::Published
                    && !journal::last_of(&entries, Stage::Abort)
                        .is_some_and(|e| e.event == Progress::Completed)
            })
        })
        .collect()
}

/// A release of several lines' folder: its lines' tags, newest first, joined by `+`.
pub(super) fn is_release_set(dir: &Path) -> bool {
    dir.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains('+'))
}

/// A line's folder inside a release of several lines is never published, rescheduled or taken
/// back alone: that would make the fix public on one line while the others are embargoed, or
/// give the lines different instants.
/// A line's folder says which release of several lines it belongs to (see [`SET_MARK`]), so
/// that no path to it (`..`, a link, a copy) passes for a release of its own.
pub(super) fn refuse_one_line_of_a_set(dir: &Path, command: &str) -> Result<(), Error> {
    let Some(set) = set_of_line(dir) else {
        return Ok(());
    };
    Err(Error::bad_input(format!(
        "{} is one line of the release of several lines {}: `embargo {command}` works on the whole release, never on one line alone",
        dir.display(),
        set.join(", ")
    ))
    .with_hint(format!(
        "run `embargo {command}`{} without --state-dir, or with --state-dir naming the release's folder ({})",
        if command == "publish" { " without --line and" } else { "" },
        set.join("+")
    )))
}

/// The file in a line's folder that names the release of several lines it is part of: every
/// line's tag, one a line, newest first.
pub(super) const SET_MARK: &str = "release-set";

/// The tags of the release of several lines a line's folder belongs to, if it is one: from the
/// mark written before the line's first stage, or, once staged, from the contract in the
/// journal or in the manifest (so that no one file deleted makes a line a release of its own).
pub(super) fn set_of_line(dir: &Path) -> Option<Vec<String>> {
    if let Ok(text) = std::fs::read_to_string(dir.join(SET_MARK)) {
        return Some(
            text.lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect(),
        );
    }
    let recorded = |contract: Option<crate::contract::Contract>| {
        contract
            .map(|c| c.release_set)
            .filter(|tags| !tags.is_empty())
    };
    let entries = journal::read(&dir.join("journal.jsonl")).unwrap_or_default();
    let staged = journal::last_of(&entries, Stage::Stage)
        .and_then(|e| e.detail.get("contract").cloned())
        .and_then(|c| serde_json::from_value(c).ok());
    recorded(staged).or_else(|| {
        recorded(
            crate::journal::Manifest::read(dir)
                .ok()
                .and_then(|m| m.contract),
        )
    })
}

pub(super) fn releases_in(folder: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
}

/// `--state-dir` must name the state folder of a release: commands that take it write a lock
/// and journal entries into it, and `abort` moves it, so any other folder is refused before
/// anything is written.
fn release_state(dir: &Path) -> Result<(), Error> {
    let journal = dir.join("journal.jsonl");
    let entries = if journal.is_file() {
        journal::read(&journal)?
    } else {
        Vec::new()
    };
    if entries.iter().any(|e| e.stage == Stage::Prepare) {
        return Ok(());
    }
    Err(Error::bad_input(format!(
        "--state-dir: {} is not the state folder of a release (it has no journal of one)",
        dir.display()
    ))
    .with_hint(
        "name the folder `embargo status` lists for the release, like .git/embargo/<name>/<tag>",
    ))
}

/// Refuses to go on with a release that is being, or was, taken back.
fn refuse_aborted(entries: &[Entry], dir: &Path) -> Result<(), Error> {
    match journal::last_of(entries, Stage::Abort) {
        Some(e) if e.event == Progress::Completed => Err(Error::bad_input(format!(
            "the release in {} was aborted at {}",
            dir.display(),
            e.at
        ))
        .with_hint("cut it again with `embargo run`; an aborted release is never published")),
        Some(e) => Err(Error::bad_input(format!(
            "the release in {} is being taken back: `embargo abort` started at {} and did not finish",
            dir.display(),
            e.at
        ))
        .with_hint("finish it with `embargo abort` (it picks up where it stopped)")),
        None => Ok(()),
    }
}

/// Whether no release of this pipeline is staged or published (started ones do not count).
fn nothing_staged(clone: &LocalRepo, pipeline: &Pipeline) -> Result<bool, Error> {
    for dir in state_dirs(clone, pipeline, None)? {
        if standing(&journal::read(&dir.join("journal.jsonl"))?) != Standing::Started {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Where a release stands, from its journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    Started,
    Staged,
    Published,
}

pub(super) fn standing(entries: &[Entry]) -> Standing {
    let done = |s| journal::last_of(entries, s).is_some_and(|e| e.event == Progress::Completed);
    if done(Stage::Publish) {
        Standing::Published
    } else if done(Stage::Stage) {
        Standing::Staged
    } else {
        Standing::Started
    }
}

/// The release of this pipeline that is staged and not yet published (`--state-dir` names one),
/// or, with `published_too`, the last published one when none is staged.
fn staged_release(
    clone: &LocalRepo,
    pipeline: &Pipeline,
    given: Option<&Path>,
    published_too: bool,
) -> Result<PathBuf, Error> {
    let mut staged = Vec::new();
    let mut published = Vec::new();
    for dir in state_dirs(clone, pipeline, given)? {
        match standing(&journal::read(&dir.join("journal.jsonl"))?) {
            Standing::Published => published.push(dir),
            Standing::Staged => staged.push(dir),
            Standing::Started if given.is_some() => staged.push(dir),
            Standing::Started => {}
        }
    }
    match staged.len() {
        1 => Ok(staged.remove(0)),
        0 => published.pop().filter(|_| published_too).ok_or_else(|| {
            Error::bad_input(format!("{}: no release is staged", pipeline.name)).with_hint(format!(
                "run `embargo run {}` first (`embargo status` shows every release)",
                pipeline.file.display()
            ))
        }),
        _ => Err(Error::bad_input(format!(
            "{}: several releases are staged: {}",
            pipeline.name,
            staged
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("name one with --state-dir")),
    }
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::stage_failed(format!("cannot encode the output as JSON: {e}")))?;
    println!("{}", crate::redact::redact_url(&text));
    Ok(())
}

/// Prints a one-line outcome: as `{"outcome": KIND, "message": TEXT, ...}` with `--json`, as the
/// text otherwise. Every path of every command prints JSON when asked.
pub(crate) fn say(
    json: bool,
    outcome: &str,
    text: &str,
    extra: serde_json::Value,
) -> Result<(), Error> {
    if json {
        let mut value = serde_json::json!({"outcome": outcome, "message": text});
        if let (Some(map), Some(more)) = (value.as_object_mut(), extra.as_object()) {
            map.extend(more.clone());
        }
        let value = GATHERED.with(|g| match g.borrow_mut().as_mut() {
            Some(lines) => {
                lines.push(value);
                None
            }
            None => Some(value),
        });
        match value {
            Some(value) => print_json(&value),
            None => Ok(()),
        }
    } else {
        println!("{}", crate::redact::redact_url(text));
        Ok(())
    }
}
