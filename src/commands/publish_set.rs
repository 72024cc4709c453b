//! `embargo publish` of a release of several lines: every line proven, then at the instant one
//! atomic push of every line's refs to the public remote, then each line's release published,
//! the newest line last so that GitHub's "latest" ends on the highest version.

use std::path::{Path, PathBuf};

use super::publish::{Record, load_record, not_yet, text};
use super::{Standing, is_release_set, print_json, releases_in, standing};
use crate::actions::{Action, Side};
use crate::cli::PublishArgs;
use crate::error::{Error, Exit};
use crate::git::workspace::Workspace;
use crate::github::client::Client;
use crate::github::releases;
use crate::journal::{self, Journal, Stage};
use crate::pipeline::Pipeline;
use crate::plan;
use crate::report::{Event, Reporter};
use crate::stages::publish::{self, Publication, Published};

/// One line of the set, as staged.
struct Line {
    dir: PathBuf,
    journal: Journal,
    record: Option<Record>,
    /// Published by an earlier run.
    done: Option<Published>,
    _lock: crate::lock::ReleaseLock,
}

pub fn execute(
    args: &PublishArgs,
    pipeline: &Pipeline,
    workspace: &Workspace,
    reporter: &dyn Reporter,
) -> Result<Exit, Error> {
    let json = args.common.json;
    if let Some(given) = args.common.state_dir.as_deref() {
        super::refuse_one_line_of_a_set(given, "publish")?;
    }
    let set_dir = staged_set(workspace, pipeline, args.common.state_dir.as_deref())?;
    let Some(_lock) = super::publish::publishing_lock(&set_dir, args.if_due, json)? else {
        return Ok(Exit::Done);
    };
    // What the pipeline gives now, line by line, to hold each line's record to.
    let plans = plan::resolve_set(pipeline, workspace, Some(&set_dir)).map_err(|e| {
        e.context(format!(
            "checking the pipeline against what {} was staged from",
            set_dir.display()
        ))
    })?;
    // The newest line carries the release's advisory; the others are held to the pipeline
    // without it (see `run_set`).
    let newest = plans.lines.first().map(|p| p.line.clone());
    let without_advisory = super::run_set::without_advisory(pipeline);
    let mut lines = Vec::new();
    for dir in line_dirs(&set_dir) {
        let _lock = crate::lock::lock(&dir, "publish")?;
        crate::git::exact_push::remove_abandoned_pushes(&workspace.repo.repo);
        let mut journal = Journal::open(&dir)?;
        super::refuse_aborted(journal.entries(), &dir)?;
        let done = journal
            .completed(Stage::Publish)
            .map(|_| super::publish::detail::<Published>(&journal, Stage::Publish))
            .transpose()?;
        let manifest_line = crate::journal::Manifest::read(&dir).ok().map(|m| m.line);
        let held_to = if manifest_line.is_some() && manifest_line == newest {
            pipeline
        } else {
            &without_advisory
        };
        let record = load_record(
            held_to,
            workspace,
            &dir,
            &mut journal,
            args.keep_staged,
            reporter,
            |manifest| {
                plans
                    .lines
                    .iter()
                    .find(|p| p.line == manifest.line)
                    .cloned()
                    .ok_or_else(|| {
                        Error::bad_input(format!(
                            "{} (line {}) was staged, but the pipeline no longer releases line {}",
                            manifest.tag, manifest.line, manifest.line
                        ))
                        .with_hint(
                            "put the line back in versioning.lines to publish what was staged",
                        )
                    })
            },
        )?;
        lines.push(Line {
            dir,
            journal,
            record: Some(record),
            done,
            _lock,
        });
    }
    // Every line its folders say the release has must be here: a folder copied away with some
    // of its lines is not a release of its own.
    let mut members: Option<Vec<String>> = None;
    for line in &lines {
        let mark = super::set_of_line(&line.dir).ok_or_else(|| {
            Error::integrity(format!(
                "{} has no {} file: it is not a line of a release of several lines",
                line.dir.display(),
                super::SET_MARK
            ))
        })?;
        match &members {
            Some(first) if *first != mark => {
                return Err(Error::integrity(format!(
                    "the lines in {} belong to different releases: {} and {}",
                    set_dir.display(),
                    first.join(", "),
                    mark.join(", ")
                )));
            }
            _ => members = Some(mark),
        }
    }
    for tag in members.iter().flatten() {
        let there = lines
            .iter()
            .any(|l| l.record.as_ref().is_some_and(|r| r.manifest.tag == *tag));
        if !there {
            return Err(Error::bad_input(format!(
                "{tag} is a line of the release in {}, but it has no staged state there: the lines are published together or not at all",
                set_dir.display()
            ))
            .with_hint("bring back that line's folder, or `embargo abort` the release and run it again"));
        }
    }
    // Every line the pipeline releases must be there, staged: the lines go public together or
    // not at all (a state folder lost between CI jobs must not leave one line out).
    for plan in &plans.lines {
        let there = lines.iter().any(|l| {
            l.record
                .as_ref()
                .is_some_and(|r| r.manifest.line == plan.line)
        });
        if !there {
            return Err(Error::bad_input(format!(
                "line {} of the release has no staged state in {}: the lines are published together or not at all",
                plan.line,
                set_dir.display()
            ))
            .with_hint("bring back that line's folder (a CI job restores the whole release's folder), or `embargo abort` the release and run it again"));
        }
    }
    // The newest line last: its release is the one GitHub calls latest.
    lines.sort_by_key(|l| {
        l.record
            .as_ref()
            .and_then(|r| pipeline.tag.parse(&r.manifest.tag))
    });
    let embargo = one_instant(&lines)?;
    let records: Vec<Record> = lines.iter_mut().filter_map(|l| l.record.take()).collect();
    let dirs: Vec<PathBuf> = lines.iter().map(|l| l.dir.clone()).collect();
    let jobs: Vec<Publication<'_>> = records
        .iter()
        .zip(&dirs)
        .map(|(r, dir)| Publication {
            pipeline,
            repo: &workspace.repo,
            git: &workspace.git,
            state_dir: dir,
            manifest: &r.manifest,
            picked: &r.picked,
            staged: &r.staged,
            embargo,
            reporter,
            pushed_at: None,
            made_public: None,
        })
        .collect();
    let name = format!(
        "{} lines ({})",
        jobs.len(),
        jobs.iter()
            .map(|j| j.manifest.tag.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if lines.iter().all(|l| l.done.is_some()) {
        let published: Vec<&Published> = lines.iter().filter_map(|l| l.done.as_ref()).collect();
        for job in &jobs {
            publish::prove_public(job.git, &pipeline.repository.public, job.manifest)?;
        }
        return report(
            &published,
            embargo,
            json,
            &format!("{name} were already published; nothing to do"),
        );
    }
    if args.dry_run {
        let previews: Vec<crate::actions::Actions> = jobs.iter().map(|j| j.preview()).collect();
        let actions = super::run_set::together_actions(&previews.iter().rev().collect::<Vec<_>>());
        return super::publish::print_preview(&actions, embargo, json);
    }
    if pipeline.github.is_some() && jobs.iter().any(|j| j.staged.draft.is_none()) {
        return Err(Error::bad_input(format!(
            "{name}: a line was staged without a draft GitHub release, but the pipeline now has publish.github"
        ))
        .with_hint("run `embargo run` again to stage the draft releases first"));
    }
    let client = pipeline.github.as_ref().map(Client::new).transpose()?;
    if args.restore_draft
        && let Some(client) = &client
    {
        for (job, line) in jobs.iter().zip(&lines) {
            if let (None, Some(draft)) = (&line.done, &job.staged.draft) {
                job.restore_draft(client, draft)?;
            }
        }
    }
    // Found public while it waits: said after the wait (see `commands::publish`).
    let public_early: std::cell::RefCell<Option<Error>> = std::cell::RefCell::new(None);
    let ask_github = || -> Option<i64> {
        let client = client.as_ref()?;
        for (job, line) in jobs.iter().zip(&lines) {
            let (None, Some(draft)) = (&line.done, &job.staged.draft) else {
                continue;
            };
            let release = releases::get(client, draft.release_id).ok()?;
            if public_early.borrow().is_none()
                && let Err(e) = publish::still_private(job, client.skew(), Some(&release))
            {
                *public_early.borrow_mut() = Some(e);
            }
        }
        client.skew()
    };
    if let Some(exit) = not_yet(args, &name, embargo, ask_github())? {
        return Ok(exit);
    }
    reporter.emit(Event::Note(&format!(
        "checking the freeze and the drafts' assets of every line before the embargo ({})",
        crate::clock::display(embargo)
    )));
    let mut make_latest = Vec::new();
    for (job, line) in jobs.iter().zip(&lines) {
        if line.done.is_some() {
            make_latest.push(false);
            continue;
        }
        publish::preflight(job, client.as_ref())?;
        make_latest.push(match &job.staged.draft {
            Some(draft) => publish::make_latest_now(job, draft.make_latest)?,
            None => false,
        });
    }
    // One atomic push of every line's refs: the whole release is public at once, or none of it.
    // Made ready before the wait, so that at the instant there is nothing to do but push.
    let every_ref: Vec<_> = jobs
        .iter()
        .flat_map(|j| j.staged.refs.iter().cloned())
        .collect();
    let push = Action::Push {
        to: Side::Public,
        remote: crate::redact::redact_url(&pipeline.repository.public),
        refs: every_ref,
    };
    let ready = crate::actions::prepare_push(&workspace.git, pipeline, &push)?;
    crate::failpoint::hit("publish:prepared");
    let waiting: Vec<&Publication<'_>> = jobs
        .iter()
        .zip(&lines)
        .filter(|(_, line)| line.done.is_none())
        .map(|(job, _)| job)
        .collect();
    let destination = ready.destination().clone();
    let look = || {
        if let Some(e) = public_early.borrow_mut().take() {
            return Err(e);
        }
        destination.unchanged(&workspace.git)?;
        last_look(workspace, pipeline, client.as_ref(), &waiting)
    };
    let looked =
        super::publish::wait_and_look(embargo, client.as_ref(), reporter, ask_github, || {
            look().map(drop)
        })?;
    if !publish::due(embargo, client.as_ref().and_then(Client::skew)) {
        return Err(Error::integrity(format!(
            "refusing to publish before the embargo ({})",
            crate::clock::display(embargo)
        )));
    }
    ready.announce(reporter);
    let (made, pushed_at, read) = if looked {
        // The look taken again alongside the push: the drafts are read back milliseconds before
        // the first PATCH makes one public.
        let (pushing, looked) = std::thread::scope(|scope| {
            let pushing = scope.spawn(move || ready.push().map(|p| (p, journal::now())));
            let looked = look();
            (pushing.join(), looked)
        });
        let (made, at) =
            pushing.unwrap_or_else(|_| Err(Error::stage_failed("the public push panicked")))?;
        crate::failpoint::hit("publish:after-public-push");
        let read = looked.map_err(|e| match waiting.first() {
            Some(job) => e.with_hint(publish::after_push(job, &at)),
            None => e,
        })?;
        (made, at, read)
    } else {
        let read = look()?;
        let made = ready.push()?;
        let at = journal::now();
        crate::failpoint::hit("publish:after-public-push");
        (made, at, read)
    };

    // Every line's release made public right after the push, before any line's pull requests
    // and read-back, which would otherwise put a line's release seconds after the push on
    // GitHub; the newest line last, so that GitHub's "latest" ends on it.
    let mut made_public: Vec<Option<releases::Release>> = vec![None; jobs.len()];
    if let Some(client) = client.as_ref() {
        for (i, ((job, line), latest)) in jobs.iter().zip(&lines).zip(&make_latest).enumerate() {
            let (None, Some(draft)) = (&line.done, &job.staged.draft) else {
                continue;
            };
            // Public already (an earlier run published it, then stopped): the line's own
            // publishing finds it so.
            if read.iter().any(|r| r.id == draft.release_id && !r.draft) {
                continue;
            }
            made_public[i] = Some(publish::make_public(
                job,
                client,
                draft.release_id,
                *latest,
            )?);
            crate::failpoint::hit("publish:after-release-published");
        }
    }

    let mut published = Vec::new();
    for (((job, line), latest), release) in jobs
        .iter()
        .zip(lines.iter_mut())
        .zip(make_latest)
        .zip(&made_public)
    {
        if let Some(done) = &line.done {
            published.push(done.clone());
            continue;
        }
        let job = Publication {
            pushed_at: Some(pushed_at.clone()),
            made_public: release.as_ref(),
            ..*job
        };
        let out = crate::stages::journaled(
            reporter,
            &mut line.journal,
            Stage::Publish,
            |p: &Published| format!("{} is public", p.tag),
            || publish::run(&job, client.as_ref(), latest, None, false),
        )?;
        published.push(out);
    }
    // The refs the push was made from, removed once every line is published.
    drop(made);
    let shown: Vec<&Published> = published.iter().collect();
    report(&shown, embargo, json, "")
}

/// The last look at every line still to publish, a moment before the instant and again
/// alongside the push: the frozen refs (against one listing of the private remote), and each
/// draft exactly as staged. The drafts are read while the private remote is listed, a few at a
/// time.
fn last_look(
    workspace: &Workspace,
    pipeline: &Pipeline,
    client: Option<&Client>,
    jobs: &[&Publication<'_>],
) -> Result<Vec<releases::Release>, Error> {
    let drafts: Vec<&crate::stages::draft::Draft> = jobs
        .iter()
        .filter_map(|job| job.staged.draft.as_ref())
        .collect();
    let (private, read) = std::thread::scope(|scope| {
        let read = scope.spawn(|| match client {
            Some(client) => crate::github::at_once::each(
                &drafts,
                crate::github::at_once::TRANSFERS_AT_ONCE,
                |draft| publish::read_back(client, draft),
            ),
            None => Ok(Vec::new()),
        });
        let private =
            crate::git::remote::list(&workspace.git, "private", &pipeline.repository.private);
        let read = read
            .join()
            .unwrap_or_else(|_| Err(Error::stage_failed("reading the drafts back stopped")));
        (private, read)
    });
    let private = private?;
    let read = read?;
    for job in jobs {
        crate::stages::freeze::prove_against(job.repo, &private, None, job.manifest)?;
        crate::stages::stage::prove_listed(&private, &job.staged.refs)?;
        // Before the instant (not alongside the push): no draft published by hand.
        let skew = client.and_then(Client::skew);
        if let Some(draft) = &job.staged.draft
            && !publish::due(job.embargo, skew)
            && let Some(release) = read.iter().find(|r| r.id == draft.release_id)
        {
            publish::out_early(job, skew, Some(release))?;
        }
    }
    Ok(read)
}

/// Every line was staged for the same instant (they are published together).
fn one_instant(lines: &[Line]) -> Result<jiff::Timestamp, Error> {
    let instants: Vec<(String, Option<jiff::Timestamp>)> = lines
        .iter()
        .filter_map(|l| l.record.as_ref())
        .map(|r| (r.manifest.tag.clone(), Some(r.embargo)))
        .collect();
    crate::contract::one_instant(&instants)?.ok_or_else(|| {
        Error::bad_input("the release's state folder holds no line")
            .with_hint("run `embargo run` first")
    })
}

/// The lines' folders inside a set's folder.
fn line_dirs(set_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = releases_in(set_dir)
        .into_iter()
        .filter(|d| d.join("journal.jsonl").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The release of several lines that is staged (`--state-dir` names its folder).
fn staged_set(
    workspace: &Workspace,
    pipeline: &Pipeline,
    given: Option<&Path>,
) -> Result<PathBuf, Error> {
    let candidates: Vec<PathBuf> = match given {
        Some(dir) => vec![dir.to_path_buf()],
        None => releases_in(
            &workspace
                .clone
                .common_dir()
                .join("embargo")
                .join(&pipeline.name),
        )
        .into_iter()
        .filter(|d| is_release_set(d))
        .collect(),
    };
    let mut staged = Vec::new();
    let mut published = Vec::new();
    for dir in candidates {
        let lines = line_dirs(&dir);
        let standings = lines
            .iter()
            .map(|l| Ok(standing(&journal::read(&l.join("journal.jsonl"))?)))
            .collect::<Result<Vec<_>, Error>>()?;
        if !standings.is_empty()
            && standings.iter().all(|s| *s != Standing::Started)
            && (given.is_some() || standings.contains(&Standing::Staged))
        {
            staged.push(dir);
        } else if !standings.is_empty() && standings.iter().all(|s| *s == Standing::Published) {
            published.push(dir);
        }
    }
    match staged.len() {
        1 => Ok(staged.remove(0)),
        // Published already: said so, and proven still public.
        0 if !published.is_empty() => Ok(published.remove(published.len() - 1)),
        0 => Err(Error::bad_input(format!(
            "{}: no release of its lines is staged",
            pipeline.name
        ))
        .with_hint(format!(
            "run `embargo run {}` first (`embargo status` shows every line)",
            pipeline.file.display()
        ))),
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

fn report(
    published: &[&Published],
    embargo: jiff::Timestamp,
    json: bool,
    said: &str,
) -> Result<Exit, Error> {
    if json {
        print_json(&serde_json::json!({ "outcome": "published", "lines": published }))?;
    } else {
        if !said.is_empty() {
            println!("{said}");
        }
        for p in published.iter().rev() {
            print!("{}", text(p, embargo));
        }
    }
    Ok(Exit::Done)
}
