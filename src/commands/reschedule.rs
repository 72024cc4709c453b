//! `embargo reschedule`: the one way to move the instant a staged release publishes at.

use std::path::Path;

use jiff::Timestamp;

use super::{Standing, clone_path, say, staged_release, standing};
use crate::cli::RescheduleArgs;
use crate::clock;
use crate::contract::{self, Rescheduled};
use crate::error::{Error, Exit};
use crate::git::LocalRepo;
use crate::journal::{Journal, Manifest, Progress, Stage};
use crate::pipeline::{self, EmbargoSource, Overrides};

pub fn execute(args: RescheduleArgs, cwd: &Path) -> Result<Exit, Error> {
    execute_at(args, cwd, Timestamp::now())
}

/// [`execute`], with `now` (what `--embargo now` means) read once: every line of a release of
/// several lines moves to the very same instant.
fn execute_at(args: RescheduleArgs, cwd: &Path, at_now: Timestamp) -> Result<Exit, Error> {
    let pipeline = pipeline::load(&args.pipeline, &Overrides::default())?;
    let clone = LocalRepo::open(&clone_path(&pipeline, cwd)?)?;
    // A release of several lines keeps one instant: every line is moved.
    if let Some(done) = super::each_line(
        &clone,
        &pipeline,
        args.state_dir.as_deref(),
        args.json,
        true,
        |line| {
            execute_at(
                RescheduleArgs {
                    state_dir: Some(line),
                    whole_set: true,
                    check_only: true,
                    ..args.clone()
                },
                cwd,
                at_now,
            )
        },
        |line| {
            execute_at(
                RescheduleArgs {
                    state_dir: Some(line),
                    whole_set: true,
                    ..args.clone()
                },
                cwd,
                at_now,
            )
        },
    ) {
        return done;
    }
    let dir = staged_release(&clone, &pipeline, args.state_dir.as_deref(), true)?;
    if !args.whole_set {
        super::refuse_one_line_of_a_set(&dir, "reschedule")?;
    }
    let _lock = crate::lock::lock(&dir, "reschedule")?;
    let mut journal = Journal::open(&dir)?;
    super::refuse_aborted(journal.entries(), &dir)?;
    let release = dir.display();
    match standing(journal.entries()) {
        Standing::Published => {
            return Err(Error::bad_input(format!(
                "the release in {release} is already public: there is no instant left to move"
            )));
        }
        Standing::Started => {
            return Err(Error::bad_input(format!(
                "the release in {release} is not staged yet: its instant is recorded when it is staged"
            ))
            .with_hint("change `embargo:` in the pipeline, or pass --embargo to `embargo run`"));
        }
        Standing::Staged => {}
    }
    let mut manifest = Manifest::read(&dir)?;
    // A publish cut short after its public push left the journal saying "staged": the tag on
    // the public remote says otherwise, and a public release has no instant left to move.
    let workspace = super::open_workspace(&pipeline, cwd, None)?;
    let public = crate::git::remote::list(&workspace.git, "public", &pipeline.repository.public)?;
    // Any ref of the release there with the object it was staged with: the tag, the patch branch
    // or a pick branch pushed by hand all put the fix out.
    let staged: Option<crate::stages::stage::Staged> = journal
        .completed(Stage::Stage)
        .and_then(|e| serde_json::from_value(e.detail.clone()).ok());
    let public_refs: Vec<String> = staged
        .as_ref()
        .map(|s| crate::stages::stage::held_by(&public, &s.refs))
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.refname.clone())
        .collect();
    let tag_public = public.tags.contains_key(&manifest.tag) || !public_refs.is_empty();
    let what_is_public = if public.tags.contains_key(&manifest.tag) || public_refs.is_empty() {
        manifest.tag.clone()
    } else {
        format!("{} (of {})", public_refs.join(", "), manifest.tag)
    };
    if !contract::interrupted_reschedule(journal.entries(), &manifest) {
        contract::record_agrees(journal.entries(), &manifest)?;
    }
    let (recorded, _) = contract::recorded_instant(journal.entries()).unwrap_or_default();
    let now = args.embargo.trim().eq_ignore_ascii_case("now");
    let to = if now {
        at_now
    } else {
        let to = clock::parse_embargo(&args.embargo)
            .map_err(|e| Error::bad_input(format!("--embargo: {e}")))?;
        if to <= Timestamp::now() {
            return Err(Error::bad_input(format!(
                "--embargo: {} has already passed ({})",
                clock::display(to),
                clock::until(to)
            ))
            .with_hint("to publish at the next `publish` run, pass `--embargo now --earlier`"));
        }
        to
    };
    let earlier = recorded.is_some_and(|r| to < r);
    if tag_public {
        // Public before its instant: the fix is out early, and the one way on is to publish now.
        // Public after it: a publish cut short after its push, which `publish --if-due` finishes.
        let early = recorded.is_some_and(|r| r > at_now);
        // `now --earlier` is the way on for a leak; for a line an earlier such move already
        // brought to a past instant (a release of several lines moved half way) it changes
        // nothing but makes every line's instant the same again.
        if !(now && args.earlier) {
            return Err(Error::bad_input(format!(
                "{} is on {} already{}",
                what_is_public,
                public.describe(),
                if early {
                    ", before its instant: the fix is out early"
                } else {
                    ": the release is public, there is no instant left to move"
                }
            ))
            .with_hint(if early {
                format!(
                    "publish it now: `embargo reschedule {p} --embargo now --earlier`, then `embargo publish {p} --if-due`",
                    p = pipeline.file.display()
                )
            } else {
                format!(
                    "finish publishing it with `embargo publish {} --if-due`",
                    pipeline.file.display()
                )
            }));
        }
    }
    if earlier && !args.earlier {
        return Err(Error::bad_input(format!(
            "{} is earlier than the instant {} was staged for, {}: everyone who was told the date plans around it",
            clock::display(to),
            manifest.tag,
            recorded.map(clock::display).unwrap_or_default()
        ))
        .with_hint("if the fix must go out sooner (it leaked, or the date was wrong), say so with --earlier"));
    }
    if args.check_only {
        return Ok(Exit::Done);
    }
    if recorded == Some(to) {
        say(
            args.json,
            "unchanged",
            &format!(
                "{} is already to be published at {}",
                manifest.tag,
                clock::display(to)
            ),
            serde_json::json!({ "tag": manifest.tag, "embargo": to.to_string() }),
        )?;
        return Ok(Exit::Done);
    }
    let record = Rescheduled {
        from: recorded,
        to,
        earlier,
    };
    let detail = serde_json::to_value(&record)
        .map_err(|e| Error::stage_failed(format!("cannot record the new instant: {e}")))?;
    // Announced, written, then journaled: a crash in between leaves a `started` entry that
    // names the new instant, and the next command says to finish the move.
    journal.record(Stage::Reschedule, Progress::Started, detail.clone(), None)?;
    if let Some(contract) = manifest.contract.as_mut() {
        contract.embargo = Some(to);
        contract.embargo_source = EmbargoSource::Reschedule;
        manifest.write(&dir)?;
    }
    crate::failpoint::hit("reschedule:before-journal");
    journal.record(Stage::Reschedule, Progress::Completed, detail, None)?;
    say(
        args.json,
        "rescheduled",
        &format!(
            "{}: the embargo moved from {} to {} ({}){}",
            manifest.tag,
            recorded
                .map(clock::display)
                .unwrap_or_else(|| "none".into()),
            clock::display(to),
            clock::until(to),
            if earlier {
                ", earlier than announced"
            } else {
                ""
            }
        ),
        serde_json::json!({
            "tag": manifest.tag,
            "from": recorded.map(|r| r.to_string()),
            "embargo": to.to_string(),
            "earlier": earlier,
        }),
    )?;
    Ok(Exit::Done)
}
