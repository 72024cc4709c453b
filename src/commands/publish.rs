//! `embargo publish`: find the staged release, prove it, wait for the embargo, publish.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::{open_workspace, overrides, print_json, say, staged_release};
use crate::cli::PublishArgs;
use crate::clock;
use crate::contract;
use crate::error::{Error, Exit};
use crate::github::client::Client;
use crate::github::releases;
use crate::journal::{Journal, Manifest, Stage};
use crate::pipeline;
use crate::plan;
use crate::process::humanize;
use crate::report::{self, Event, Reporter};
use crate::stages::cherry_pick::Picked;
use crate::stages::publish::{self, Publication, Published};
use crate::stages::stage::Staged;

pub fn execute(args: PublishArgs, cwd: &Path) -> Result<Exit, Error> {
    let reporter = report::choose(args.common.verbose, args.common.json);
    let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
    let workspace = open_workspace(&pipeline, cwd, None)?;
    let json = args.common.json;
    // A cron job runs between releases too: nothing staged is nothing to do, not an error.
    if args.if_due
        && args.common.state_dir.is_none()
        && super::nothing_staged(&workspace.clone, &pipeline)?
    {
        say(
            json,
            "nothing-staged",
            &format!("{}: no release is staged; nothing to do", pipeline.name),
            serde_json::json!({}),
        )?;
        return Ok(Exit::Done);
    }
    // A pipeline of several lines publishes the release of all of them; a line it released alone
    // (`run --line`, a CI stage job given a line) is published as it was staged.
    // One line of a release of several lines under way is published with the others.
    if pipeline.narrowed
        && let Some(set) = super::sets_under_way(&workspace.clone, &pipeline).first()
    {
        return Err(Error::bad_input(format!(
            "line {} is part of the release of several lines under way in {}: it is published with the others",
            pipeline.line,
            set.display()
        ))
        .with_hint(format!(
            "run `embargo publish {}` without --line",
            pipeline.file.display()
        )));
    }
    let pipeline = if pipeline.several_lines() {
        match staged_alone(&workspace.clone, &pipeline)? {
            Some(line) if super::sets_under_way(&workspace.clone, &pipeline).is_empty() => {
                crate::pipeline::Pipeline {
                    line: crate::version::LineSpec::Exact(line),
                    narrowed: true,
                    ..pipeline
                }
            }
            _ => {
                return super::publish_set::execute(
                    &args,
                    &pipeline,
                    &workspace,
                    reporter.as_ref(),
                );
            }
        }
    } else {
        pipeline
    };
    let dir = staged_release(
        &workspace.clone,
        &pipeline,
        args.common.state_dir.as_deref(),
        true,
    )?;
    super::refuse_one_line_of_a_set(&dir, "publish")?;
    let Some(_lock) = publishing_lock(&dir, args.if_due, json)? else {
        return Ok(Exit::Done);
    };
    // A publish killed while it waited (Ctrl-C, a cancelled job) left its prepared push's refs:
    // removed by the next run, whether or not that one pushes.
    crate::git::exact_push::remove_abandoned_pushes(&workspace.repo.repo);
    // Read after taking the lock: a runner that held it may just have finished.
    let mut journal = Journal::open(&dir)?;
    super::refuse_aborted(journal.entries(), &dir)?;
    if let Some(done) = journal.completed(Stage::Publish) {
        let at = done.at.clone();
        return already_published(&pipeline, &workspace.git, &dir, &journal, &at, json);
    }
    let Record {
        manifest,
        picked,
        staged,
        embargo,
    } = load_record(
        &pipeline,
        &workspace,
        &dir,
        &mut journal,
        args.keep_staged,
        reporter.as_ref(),
        |manifest| {
            plan::resolve(&pipeline, &workspace, Some(&dir)).map_err(|e| {
                e.context(format!(
                    "checking the pipeline against what {} was staged from",
                    manifest.tag
                ))
            })
        },
    )?;
    let job = Publication {
        pipeline: &pipeline,
        repo: &workspace.repo,
        git: &workspace.git,
        state_dir: &dir,
        manifest: &manifest,
        picked: &picked,
        staged: &staged,
        embargo,
        reporter: reporter.as_ref(),
        pushed_at: None,
        made_public: None,
    };
    if args.dry_run {
        return print_preview(&job.preview(), embargo, json);
    }
    if pipeline.github.is_some() && staged.draft.is_none() {
        return Err(Error::bad_input(format!(
            "{} was staged without a draft GitHub release, but the pipeline now has publish.github",
            manifest.tag
        ))
        .with_hint("run `embargo run` again to stage the draft release first"));
    }
    let client = pipeline.github.as_ref().map(Client::new).transpose()?;
    if args.restore_draft
        && let (Some(client), Some(draft)) = (&client, &staged.draft)
    {
        job.restore_draft(client, draft)?;
    }
    // Found public while it waits (a draft published by hand, refs pushed by a person): said
    // after the wait, before the last look, rather than published "on time" over the leak.
    let public_early: std::cell::RefCell<Option<Error>> = std::cell::RefCell::new(None);
    let ask_github = || -> Option<i64> {
        let (client, draft) = (client.as_ref()?, staged.draft.as_ref()?);
        // Any answer carries GitHub's Date; this one also proves the draft is still there, and
        // still a draft.
        let release = releases::get(client, draft.release_id).ok()?;
        if public_early.borrow().is_none()
            && let Err(e) = publish::still_private(&job, client.skew(), Some(&release))
        {
            *public_early.borrow_mut() = Some(e);
        }
        client.skew()
    };
    if let Some(exit) = not_yet(&args, &manifest.tag, embargo, ask_github())? {
        return Ok(exit);
    }
    reporter.emit(Event::Note(&format!(
        "checking the freeze and the draft's assets before the embargo ({})",
        clock::display(embargo)
    )));
    publish::preflight(&job, client.as_ref())?;
    let make_latest = match &staged.draft {
        Some(draft) => publish::make_latest_now(&job, draft.make_latest)?,
        None => false,
    };
    let ready = publish::ready_push(&job, make_latest)?;
    crate::failpoint::hit("publish:prepared");
    let looked = wait_and_look(
        embargo,
        client.as_ref(),
        reporter.as_ref(),
        ask_github,
        || {
            if let Some(e) = public_early.borrow_mut().take() {
                return Err(e);
            }
            if let Some(ready) = &ready {
                ready.destination().unchanged(&workspace.git)?;
            }
            publish::last_look(&job, client.as_ref()).map(drop)
        },
    )?;

    // An earlier attempt from this state folder (a crash, say) explains a release found public.
    let attempted_before = journal.entries().iter().any(|e| e.stage == Stage::Publish);
    let published = crate::stages::journaled(
        reporter.as_ref(),
        &mut journal,
        Stage::Publish,
        |p: &Published| format!("{} is public", p.tag),
        || publish::run(&job, client.as_ref(), make_latest, ready, looked),
    )?;
    report_published(&published, &manifest, embargo, json)?;
    announce(
        &pipeline,
        &dir,
        &published,
        attempted_before,
        reporter.as_ref(),
    )
}

/// What `publish --dry-run` prints: stage 7, as it will be done at the instant.
pub(super) fn print_preview(
    preview: &crate::actions::Actions,
    embargo: jiff::Timestamp,
    json: bool,
) -> Result<Exit, Error> {
    if json {
        print_json(&serde_json::json!({
            "outcome": "dry-run",
            "embargo": embargo.to_string(),
            "actions": preview,
        }))?;
    } else {
        println!("dry run: nothing is pushed or published");
        for line in preview.publish_lines() {
            println!("  {line}");
        }
    }
    Ok(Exit::Done)
}

/// The line of the one release of this pipeline staged on its own (not a line of a release of
/// several lines), when there is one.
fn staged_alone(
    clone: &crate::git::LocalRepo,
    pipeline: &crate::pipeline::Pipeline,
) -> Result<Option<crate::version::Line>, Error> {
    let mut lines = Vec::new();
    for dir in super::state_dirs(clone, pipeline, None)? {
        if super::set_of_line(&dir).is_some() {
            continue;
        }
        if super::standing(&crate::journal::read(&dir.join("journal.jsonl"))?)
            == super::Standing::Staged
            && let Ok(manifest) = Manifest::read(&dir)
            && let Ok(crate::version::LineSpec::Exact(line)) =
                crate::version::LineSpec::parse(&manifest.line)
        {
            lines.push(line);
        }
    }
    Ok(match lines.as_slice() {
        [line] => Some(*line),
        _ => None,
    })
}

/// What a staged release was recorded with, read back from its state folder.
pub(super) struct Record {
    pub manifest: Manifest,
    pub picked: Picked,
    pub staged: Staged,
    pub embargo: jiff::Timestamp,
}

/// Reads a staged release's record, holds the pipeline to it (`plan` resolves what the pipeline
/// gives now), and brings the staged refs back into the clone when it is a fresh one.
pub(super) fn load_record(
    pipeline: &crate::pipeline::Pipeline,
    workspace: &crate::git::workspace::Workspace,
    dir: &Path,
    journal: &mut Journal,
    keep_staged: bool,
    reporter: &dyn Reporter,
    plan: impl FnOnce(&Manifest) -> Result<plan::Plan, Error>,
) -> Result<Record, Error> {
    let manifest = Manifest::read(dir)?;
    let picked: Picked = detail(journal, Stage::CherryPick)?;
    let staged: Staged = detail(journal, Stage::Stage)?;
    // The instant and everything else publishing depends on come from the record, never from
    // what the pipeline says now.
    contract::record_agrees(journal.entries(), &manifest)?;
    let embargo = contract::staged_instant(pipeline, journal.entries(), &manifest.tag)?;
    // A published line is held to nothing more: it is proven public instead.
    if journal.completed(Stage::Publish).is_none() {
        let mut plan = plan(&manifest)?;
        super::run::hold_to_record(
            pipeline,
            &mut plan,
            journal,
            keep_staged,
            "publish",
            reporter,
        )?;
    }
    let restored = crate::stages::stage::restore(
        &workspace.repo,
        &workspace.git,
        &pipeline.repository.private,
        journal,
        &manifest,
    )?;
    if restored > 0 {
        reporter.emit(Event::Note(&format!(
            "brought back {restored} staged ref(s) from the private remote into this clone"
        )));
    }
    Ok(Record {
        manifest,
        picked,
        staged,
        embargo,
    })
}

/// The release was published by an earlier run from this state folder: proven still as
/// frozen on the public remote, said, and the announcement finished if it was left undone.
fn already_published(
    pipeline: &crate::pipeline::Pipeline,
    git: &crate::git::cli::GitCli,
    dir: &Path,
    journal: &Journal,
    at: &str,
    json: bool,
) -> Result<Exit, Error> {
    let published: Published = detail(journal, Stage::Publish)?;
    // Done, but still exactly what was frozen? A tag moved on the public remote afterwards is
    // an integrity violation even now.
    let manifest = Manifest::read(dir)?;
    publish::prove_public(git, &pipeline.repository.public, &manifest)?;
    if json {
        print_json(&published)?;
    } else {
        println!(
            "{} was already published at {at}{}; nothing to do",
            published.tag,
            published
                .release_url
                .as_deref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default()
        );
    }
    // A run that published but could not announce finishes the announcement.
    super::announce::after_publish(pipeline, dir)?;
    Ok(Exit::Done)
}

/// Before the instant: `Some(exit)` when this run is to stop here (`--if-due` and not close
/// enough), an error without `--wait` or `--if-due`; `None` to go on (due, or close enough to
/// prove everything now and wait). `skew` is GitHub's clock against ours, when known.
pub(super) fn not_yet(
    args: &PublishArgs,
    tag: &str,
    embargo: jiff::Timestamp,
    skew: Option<i64>,
) -> Result<Option<Exit>, Error> {
    if publish::due(embargo, skew) {
        return Ok(None);
    }
    // A cron run that starts shortly before the instant proves everything now and waits, so
    // the release is on time even though the next cron run would be minutes late.
    let within = crate::pipeline::parse_duration(&args.within)
        .map_err(|e| Error::bad_input(format!("--within: {e}")))?;
    // By the later of the two clocks: with GitHub's behind, the instant is that much further.
    let close = clock::within(
        embargo
            .checked_sub(jiff::SignedDuration::from_secs(skew.unwrap_or(0).min(0)))
            .unwrap_or(embargo),
        within,
    );
    if args.if_due && !close {
        say(
            args.common.json,
            "not-due",
            &format!(
                "{tag} is not due: the embargo is at {} ({}); nothing was done",
                clock::display(embargo),
                clock::until(embargo)
            ),
            serde_json::json!({ "tag": tag, "embargo": embargo.to_string() }),
        )?;
        return Ok(Some(Exit::Done));
    }
    if !args.wait && !args.if_due {
        return Err(Error::bad_input(format!(
            "the embargo of {tag} is at {} ({}): it is not time to publish",
            clock::display(embargo),
            clock::until(embargo)
        ))
        .with_hint("use --wait to wait for it with a countdown, or --if-due in a scheduled job"));
    }
    Ok(None)
}

/// What publishing did, on stdout, and for a GitHub Actions job in its summary and outputs.
fn report_published(
    published: &Published,
    manifest: &Manifest,
    embargo: jiff::Timestamp,
    json: bool,
) -> Result<(), Error> {
    if let Some(actions) = crate::ci::actions::Actions::from_env() {
        actions.append_summary(&format!(
            "## embargo: {} is public\n\n{}\n",
            published.tag,
            published.release_url.as_deref().unwrap_or("")
        ))?;
        actions.set_outputs(&[
            ("tag", &published.tag),
            ("version", &manifest.version),
            (
                "release_url",
                published.release_url.as_deref().unwrap_or(""),
            ),
        ])?;
    }
    if json {
        print_json(published)
    } else {
        print!("{}", text(published, embargo));
        Ok(())
    }
}

/// The release announcement after publishing, when the pipeline asks for it, unless the state
/// folder is older than the release.
fn announce(
    pipeline: &crate::pipeline::Pipeline,
    dir: &Path,
    published: &Published,
    attempted_before: bool,
    reporter: &dyn Reporter,
) -> Result<Exit, Error> {
    if published.found_public && !attempted_before {
        // The state folder is older than the release (a CI job restored the state as staged):
        // another run published it and may have announced it. Sending again from here could
        // repeat the announcement every time the job runs.
        if pipeline
            .announce
            .as_ref()
            .is_some_and(|a| a.send_release_after_publish)
        {
            reporter.emit(Event::Note(&format!(
                "{} was public before this run and this state folder never published it: the release announcement is not sent from here; if nobody sent it, `embargo announce {} --release --send` with the state folder that published the release",
                published.tag,
                pipeline.file.display()
            )));
        }
        return Ok(Exit::Done);
    }
    super::announce::after_publish(pipeline, dir)?;
    Ok(Exit::Done)
}

/// Waits for the instant, the last look (`look`: the frozen refs, the drafts) taken a moment
/// before it, as late as it can start and still be over by then, so that the instant is the
/// push's alone. Whether the look was taken before the instant: then the caller takes it again
/// alongside the push; a run that starts after the instant (a late cron job) looks before it
/// pushes, since it is late already.
pub(super) fn wait_and_look(
    embargo: jiff::Timestamp,
    client: Option<&Client>,
    reporter: &dyn Reporter,
    ask_github: impl FnMut() -> Option<i64>,
    mut look: impl FnMut() -> Result<(), Error>,
) -> Result<bool, Error> {
    if publish::due(embargo, client.and_then(Client::skew)) {
        return Ok(false);
    }
    let started = Instant::now();
    look()?;
    let early = (started.elapsed() * 3).clamp(LAST_LOOK_AT_LEAST, LAST_LOOK_AT_MOST);
    wait(embargo, early, reporter, ask_github);
    look()?;
    let skew = client.and_then(Client::skew);
    clock::wait_until(embargo, || skew, |_, _| {});
    Ok(true)
}

/// How long before the instant the last look starts: three times what it took in the preflight,
/// within these bounds.
const LAST_LOOK_AT_LEAST: Duration = Duration::from_millis(100);
const LAST_LOOK_AT_MOST: Duration = Duration::from_secs(5);

/// Waits for the embargo (less `early`) with a countdown: every minute while far, every 10 s in
/// the last two minutes, every second in the last ten.
pub(super) fn wait(
    embargo: jiff::Timestamp,
    early: Duration,
    reporter: &dyn Reporter,
    ask_github: impl FnMut() -> Option<i64>,
) {
    let name = format!("waiting for the embargo at {}", clock::display(embargo));
    reporter.emit(Event::StepStarted { name: &name });
    let started = Instant::now();
    let mut last: Option<Instant> = None;
    let mut said_skew = false;
    let until = jiff::SignedDuration::try_from(early)
        .ok()
        .and_then(|early| embargo.checked_sub(early).ok())
        .unwrap_or(embargo);
    clock::wait_until(until, ask_github, |left, skew| {
        if let Some(s) = skew
            && s.abs() > 2
            && !said_skew
        {
            said_skew = true;
            reporter.emit(Event::Note(&format!(
                "GitHub's clock is {}s {} ours: waiting for the later of the two",
                s.abs(),
                if s < 0 { "behind" } else { "ahead of" }
            )));
        }
        let every = if left > Duration::from_secs(120) {
            Duration::from_secs(60)
        } else if left > Duration::from_secs(10) {
            Duration::from_secs(10)
        } else {
            Duration::from_millis(900)
        };
        if last.is_none_or(|t| t.elapsed() >= every) {
            last = Some(Instant::now());
            reporter.emit(Event::StepOutput {
                name: &name,
                line: &format!("{} left", humanize(left)),
            });
        }
    });
    reporter.emit(Event::StepFinished {
        name: &name,
        elapsed: started.elapsed(),
        ok: true,
    });
}

pub(super) fn text(p: &Published, embargo: jiff::Timestamp) -> String {
    let mut out = format!("\nrelease {} is public\n", p.tag);
    let late = p
        .published_at
        .parse::<jiff::Timestamp>()
        .map(|at| at.as_millisecond() - embargo.as_millisecond())
        .unwrap_or(0);
    out.push_str(&format!(
        "  pushed           to the public remote `{}` at {} ({:.3}s after the embargo)\n",
        p.public_remote,
        p.published_at,
        late as f64 / 1000.0
    ));
    if let Some(url) = &p.release_url {
        out.push_str(&format!("  release          {url}\n"));
    }
    for pr in &p.pulls {
        out.push_str(&format!(
            "  pull request     #{} {} -> {} ({})\n",
            pr.number, pr.head, pr.target, pr.url
        ));
    }
    if !p.assets_verified.is_empty() {
        out.push_str(&format!(
            "  assets checked   {} (downloaded back, equal to the built files)\n",
            p.assets_verified.join(", ")
        ));
    }
    out
}

pub(super) fn detail<T: DeserializeOwned>(journal: &Journal, stage: Stage) -> Result<T, Error> {
    let entry = journal.completed(stage).ok_or_else(|| {
        Error::bad_input(format!(
            "the release is not staged yet: the {} stage has not completed",
            stage.name()
        ))
        .with_hint("run `embargo run PIPELINE` first")
    })?;
    serde_json::from_value(entry.detail.clone()).map_err(|e| {
        Error::integrity(format!(
            "the journal's record of the {} stage is damaged: {e}",
            stage.name()
        ))
    })
}

/// The release's lock for publishing. Cron runs (`--if-due`) overlap: the one that holds the lock
/// does the work, the others say so and end (`None`); any other publish is refused while it is
/// held.
pub(super) fn publishing_lock(
    dir: &Path,
    if_due: bool,
    json: bool,
) -> Result<Option<crate::lock::ReleaseLock>, Error> {
    match crate::lock::try_lock(dir, "publish")? {
        Ok(lock) => Ok(Some(lock)),
        Err(holder) if if_due => {
            say(
                json,
                "busy",
                &format!("another runner is publishing this release ({holder}); nothing to do"),
                serde_json::json!({ "holder": holder }),
            )?;
            Ok(None)
        }
        Err(_) => crate::lock::lock(dir, "publish").map(Some),
    }
}
