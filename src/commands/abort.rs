//! `embargo abort`: take back a release that is not public, so that the same version can be cut
//! again. Each step looks at what is still there, so a run stopped halfway finishes on a rerun.

use std::path::{Path, PathBuf};

use super::{Standing, open_workspace, say, standing, state_dirs};
use crate::actions::{Action, Side};
use crate::cli::AbortArgs;
use crate::error::{Error, Exit};
use crate::git::{hook, remote};
use crate::github::{client::Client, releases};
use crate::journal::{self, Journal, Progress, Stage};
use crate::pipeline::{self, Overrides, Pipeline};
use crate::report::{self, Event};
use crate::stages::cherry_pick::Picked;
use crate::stages::stage::{self, PushedRef, Staged};
use crate::stages::{Frozen, Prepared};

pub fn execute(args: AbortArgs, cwd: &Path) -> Result<Exit, Error> {
    let reporter = report::choose(args.verbose, args.json);
    let pipeline = pipeline::load(&args.pipeline, &Overrides::default())?;
    let workspace = open_workspace(&pipeline, cwd, None)?;
    // A release of several lines is taken back line by line.
    if let Some(done) = super::each_line(
        &workspace.clone,
        &pipeline,
        args.state_dir.as_deref(),
        args.json,
        false,
        |line| {
            execute(
                AbortArgs {
                    state_dir: Some(line),
                    whole_set: true,
                    check_only: true,
                    ..args.clone()
                },
                cwd,
            )
        },
        |line| {
            execute(
                AbortArgs {
                    state_dir: Some(line),
                    whole_set: true,
                    ..args.clone()
                },
                cwd,
            )
        },
    ) {
        return done;
    }
    let dir = unpublished(&workspace.clone, &pipeline, args.state_dir.as_deref())?;
    if !args.whole_set {
        super::refuse_one_line_of_a_set(&dir, "abort")?;
    }
    let _lock = crate::lock::lock(&dir, "abort")?;
    let mut journal = Journal::open(&dir)?;
    if let Some(done) = journal.completed(Stage::Abort) {
        return Err(Error::bad_input(format!(
            "the release in {} was aborted already, at {}",
            dir.display(),
            done.at
        )));
    }
    let record = |stage| journal.completed(stage).map(|e| e.detail.clone());
    let prepared: Option<Prepared> = parse(record(Stage::Prepare));
    let frozen: Option<Frozen> = parse(record(Stage::Freeze));
    let picked: Option<Picked> = parse(record(Stage::CherryPick));
    let staged: Option<Staged> = parse(record(Stage::Stage));
    let tag = prepared
        .as_ref()
        .map(|p| p.tag.clone())
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();

    // Every ref this release made or may have pushed (a crash can come between a push and its
    // journal entry), with the value it was given.
    let mut ours: Vec<PushedRef> = match (&prepared, &frozen, &picked) {
        (Some(p), Some(f), Some(k)) => stage::refs(p, f, k),
        _ => Vec::new(),
    };
    if ours.is_empty()
        && let Some(p) = &prepared
    {
        ours.push(PushedRef {
            refname: format!("refs/heads/{}", p.patch_branch),
            target: p.release_commit.clone(),
        });
        if let Some(f) = &frozen {
            ours.push(PushedRef {
                refname: format!("refs/tags/{}", p.tag),
                target: f.tag_object.clone(),
            });
        }
        for pick in picked.iter().flat_map(|k| &k.picks) {
            ours.push(PushedRef {
                refname: format!("refs/heads/{}", pick.branch),
                target: pick.commit.clone(),
            });
        }
    }

    // Refused once anything is public: the public remote, or a release no longer a draft.
    let public = remote::list(&workspace.git, "public", &pipeline.repository.public)?;
    let public_now: Vec<&str> = stage::held_by(&public, &ours)
        .into_iter()
        .map(|r| r.refname.as_str())
        .collect();
    if !public_now.is_empty() {
        return Err(Error::bad_input(format!(
            "{tag} is public already ({} on {}): it cannot be taken back",
            public_now.join(", "),
            public.describe()
        ))
        .with_hint(format!(
            "finish it with `embargo publish {p} --if-due`, and fix anything wrong in a new patch release; \
             if its instant has not come yet, the fix is out early: `embargo reschedule {p} --embargo now --earlier` first",
            p = pipeline.file.display()
        )));
    }
    // Prepared here but frozen and staged by another run (a split build's stage job, with its
    // own copy of the state): its tag and picks are on the private remote, unknown to this
    // journal. Taking back only the patch branch would leave them there, and the release broken.
    if staged.is_none()
        && let Some(p) = &prepared
    {
        let private = remote::list(&workspace.git, "private", &pipeline.repository.private)?;
        let tag = format!("refs/tags/{}", p.tag);
        if private.target(&tag).is_some() && frozen.is_none() {
            return Err(Error::bad_input(format!(
                "{} was staged by another run: {tag} is on {}, and this state folder ({}) only prepared it",
                p.tag,
                private.describe(),
                dir.display()
            ))
            .with_hint("take it back with `embargo abort` in a clone holding the state folder of the run that staged it (a split build's stage job: its `embargo-state` artifact)"));
        }
    }
    let draft = staged.as_ref().and_then(|s| s.draft.clone());
    let client = match (&draft, &pipeline.github) {
        (Some(_), Some(spec)) => Some(Client::new(spec)?),
        (Some(_), None) => {
            return Err(Error::bad_input(format!(
                "{tag} has a draft release on GitHub, but the pipeline has no publish.github to reach it"
            ))
            .with_hint("put back the publish.github section it was staged with"));
        }
        _ => None,
    };
    let advisory = staged.as_ref().and_then(|s| s.advisory.clone());
    if let (Some(client), Some(advisory)) = (&client, &advisory) {
        let current = crate::github::advisories::get(client, &advisory.ghsa_id)?;
        if current.state == "published" {
            return Err(Error::bad_input(format!(
                "the security advisory of {tag} is published already ({}): it cannot be taken back",
                current.html_url
            )));
        }
    }
    // The draft is deleted only while it is still this release's: a draft, for its tag, with the
    // ownership mark its notes were staged with. Gone, or someone else's by now: left alone.
    let mut left_alone: Vec<String> = Vec::new();
    let draft = match (&client, draft) {
        (Some(client), Some(draft)) => match releases::find(client, draft.release_id)? {
            Some(r) if !r.draft => {
                return Err(Error::bad_input(format!(
                    "the GitHub release of {tag} is published already ({}): it cannot be taken back",
                    r.html_url
                )));
            }
            Some(r) => {
                let mark = crate::stages::draft::ownership_mark(&dir)?;
                let marked = r
                    .body
                    .as_deref()
                    .is_some_and(|b| b.contains(&format!("<!-- embargo: {mark} -->")));
                if r.tag_name == tag && marked {
                    Some(draft)
                } else {
                    left_alone.push(format!(
                        "the release {} on GitHub is no longer this release's draft (its tag is {}{}): it is left alone",
                        draft.html_url,
                        r.tag_name,
                        if marked { "" } else { ", and its notes lack the mark this release staged it with" }
                    ));
                    None
                }
            }
            None => {
                left_alone.push(format!(
                    "the draft release {} is gone from GitHub already",
                    draft.html_url
                ));
                None
            }
        },
        (_, draft) => draft,
    };

    // What taking it back does to the world, as values: printed by --dry-run, executed here.
    let listed = remote::list(&workspace.git, "private", &pipeline.repository.private)?;
    let doomed: Vec<PushedRef> = ours
        .iter()
        .filter(|r| {
            listed
                .target(&r.refname)
                .is_some_and(|oid| oid.to_string() == r.target)
        })
        .cloned()
        .collect();
    // Refs that moved since this release put them there are someone else's now.
    for r in &ours {
        if let Some(now) = workspace.repo.ref_target(&r.refname)
            && now.to_string() != r.target
        {
            left_alone.push(format!(
                "{} in the clone moved since (it is {now}, this release made it {}): it is left alone",
                r.refname, r.target
            ));
        }
    }
    for r in &ours {
        if let Some(now) = listed.target(&r.refname)
            && now.to_string() != r.target
        {
            left_alone.push(format!(
                "{} on the private remote moved since (it is {now}, this release made it {}): it is left alone",
                r.refname, r.target
            ));
        }
    }
    let mut actions = Vec::new();
    if !doomed.is_empty() {
        actions.push(Action::DeleteRefs {
            from: Side::Private,
            remote: crate::redact::redact_url(&pipeline.repository.private),
            refs: doomed.clone(),
        });
    }
    if let (Some(spec), Some(draft)) = (&pipeline.github, &draft) {
        actions.push(Action::DeleteDraft {
            api: crate::github::client::api_url(spec),
            repository: spec.repository.clone(),
            release_id: draft.release_id,
            tag: tag.clone(),
        });
    }
    if let (Some(spec), Some(advisory)) = (&pipeline.github, &advisory) {
        actions.push(Action::CloseAdvisory {
            api: crate::github::client::api_url(spec),
            repository: spec.repository.clone(),
            ghsa_id: advisory.ghsa_id.clone(),
        });
    }
    if args.check_only {
        return Ok(Exit::Done);
    }
    for note in &left_alone {
        reporter.emit(Event::Note(note));
    }
    if args.dry_run {
        return dry_run(
            &args,
            &tag,
            &dir,
            &actions,
            &ours,
            &workspace.repo,
            &left_alone,
        );
    }

    journal.record(
        Stage::Abort,
        Progress::Started,
        serde_json::Value::Null,
        None,
    )?;
    let mut deleted_private = Vec::new();
    let mut advisory_closed = None;
    for action in &actions {
        match action {
            Action::DeleteRefs { refs, .. } => {
                crate::actions::execute_delete(
                    &workspace.git,
                    &pipeline,
                    action,
                    reporter.as_ref(),
                )?;
                deleted_private = refs.iter().map(|r| r.refname.clone()).collect();
                crate::failpoint::hit("abort:after-private-delete");
            }
            Action::DeleteDraft { release_id, .. } => {
                if let Some(client) = &client {
                    releases::delete(client, *release_id)?;
                    reporter.emit(Event::Note(&format!(
                        "deleted the draft release {} and its assets",
                        draft
                            .as_ref()
                            .map(|d| d.html_url.as_str())
                            .unwrap_or_default()
                    )));
                }
            }
            // GitHub cannot delete an advisory: the draft is closed, so that cutting the release
            // again makes one fresh draft rather than a second open one.
            Action::CloseAdvisory { ghsa_id, .. } => {
                if let Some(client) = &client {
                    let current = crate::github::advisories::get(client, ghsa_id)?;
                    if current.state == "draft" {
                        crate::github::advisories::close(client, ghsa_id)?;
                    }
                    reporter.emit(Event::Note(&format!(
                        "closed the draft security advisory {ghsa_id} ({})",
                        current.html_url
                    )));
                    advisory_closed = Some(ghsa_id.clone());
                }
            }
            other => {
                return Err(Error::stage_failed(format!(
                    "an abort takes back, it does not: {}",
                    other.lines().join(" ")
                )));
            }
        }
    }
    hook::unfreeze(&workspace.repo, &tag)?;
    let mut deleted_local = Vec::new();
    for r in &ours {
        if workspace
            .repo
            .ref_target(&r.refname)
            .is_some_and(|oid| oid.to_string() == r.target)
        {
            workspace
                .repo
                .repo
                .find_reference(&r.refname)
                .and_then(|mut reference| reference.delete())
                .map_err(crate::git::failed(format_args!("deleting {}", r.refname)))?;
            deleted_local.push(r.refname.clone());
        }
    }
    // Refs of a publish killed while it waited for the instant name the fix's objects too.
    crate::git::exact_push::remove_abandoned_pushes(&workspace.repo.repo);
    // Moved first, then journaled (the open journal moves with its folder): a release whose
    // folder could not be moved is not recorded as aborted.
    let archive = archive(&dir, &tag)?;
    journal.record(
        Stage::Abort,
        Progress::Completed,
        serde_json::json!({
            "private_refs_deleted": deleted_private,
            "local_refs_deleted": deleted_local,
            "draft_deleted": draft.as_ref().map(|d| d.release_id),
            "advisory_closed": advisory_closed,
            "archive": archive,
        }),
        None,
    )?;
    drop(journal);
    let mut text = format!(
        "aborted {tag}: {} private ref(s) and {} local ref(s) deleted{}; its state is archived in {}\n\
         the same version can be cut again with `embargo run {}`",
        deleted_private.len(),
        deleted_local.len(),
        if draft.is_some() {
            ", the draft release deleted"
        } else {
            ""
        },
        archive.display(),
        pipeline.file.display()
    );
    for note in &left_alone {
        text.push_str(&format!("\nleft alone: {note}"));
    }
    say(
        args.json,
        "aborted",
        &text,
        serde_json::json!({
            "tag": tag,
            "private_refs_deleted": deleted_private,
            "local_refs_deleted": deleted_local,
            "archive": archive,
            "left_alone": left_alone,
        }),
    )?;
    Ok(Exit::Done)
}

/// The release of this pipeline that is under way and not published.
fn unpublished(
    clone: &crate::git::LocalRepo,
    pipeline: &Pipeline,
    given: Option<&Path>,
) -> Result<PathBuf, Error> {
    let mut found = Vec::new();
    let mut published = Vec::new();
    for dir in state_dirs(clone, pipeline, given)? {
        let entries = journal::read(&dir.join("journal.jsonl"))?;
        if standing(&entries) == Standing::Published {
            published.push(dir);
            continue;
        }
        found.push(dir);
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 if !published.is_empty() => Err(Error::bad_input(format!(
            "the release in {} is published: it cannot be taken back",
            published[published.len() - 1].display()
        ))
        .with_hint("fix anything wrong in a new patch release")),
        0 => Err(Error::bad_input(format!(
            "{}: no release is under way (nothing staged or started)",
            pipeline.name
        ))
        .with_hint("`embargo status` shows every release of the pipeline")),
        _ => Err(Error::bad_input(format!(
            "{}: several releases are under way: {}",
            pipeline.name,
            found
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("name one with --state-dir")),
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: Option<serde_json::Value>) -> Option<T> {
    value.and_then(|v| serde_json::from_value(v).ok())
}

/// `abort --dry-run`: what taking the release back would do, and nothing done.
fn dry_run(
    args: &AbortArgs,
    tag: &str,
    dir: &Path,
    actions: &[Action],
    ours: &[PushedRef],
    repo: &crate::git::LocalRepo,
    left_alone: &[String],
) -> Result<Exit, Error> {
    let local: Vec<String> = ours
        .iter()
        .filter(|r| {
            repo.ref_target(&r.refname)
                .is_some_and(|oid| oid.to_string() == r.target)
        })
        .map(|r| r.refname.clone())
        .collect();
    let mut text = format!("dry run: taking back {tag} would\n");
    if actions.is_empty() {
        text.push_str(
            "  delete nothing on the private remote or GitHub (nothing of it is there)\n",
        );
    }
    for action in actions {
        for line in action.lines() {
            text.push_str(&format!("  {line}\n"));
        }
    }
    for note in left_alone {
        text.push_str(&format!("  and leave alone: {note}\n"));
    }
    text.push_str(&format!(
        "  delete in the clone: {}\n  unfreeze {tag} and archive its state folder {}\nnothing was done",
        if local.is_empty() {
            "nothing".to_string()
        } else {
            local.join(", ")
        },
        dir.display()
    ));
    say(
        args.json,
        "dry-run",
        &text,
        serde_json::json!({ "tag": tag, "actions": actions, "local_refs": local }),
    )?;
    Ok(Exit::Done)
}

/// Moves the state folder out of the way, so that the same version starts afresh, and keeps it
/// (the journal and logs say what happened): `<name>/aborted/<tag>-<time>/`.
fn archive(dir: &Path, tag: &str) -> Result<PathBuf, Error> {
    let root = dir
        .parent()
        .map(|p| p.join("aborted"))
        .unwrap_or_else(|| PathBuf::from("aborted"));
    std::fs::create_dir_all(&root)
        .map_err(|e| Error::stage_failed(format!("cannot create {}: {e}", root.display())))?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut target = root.join(format!("{tag}-{stamp}"));
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = root.join(format!("{tag}-{stamp}-{n}"));
    }
    std::fs::rename(dir, &target).map_err(|e| {
        Error::stage_failed(format!(
            "cannot move {} to {}: {e}",
            dir.display(),
            target.display()
        ))
        .with_hint("everything else was taken back; move the folder by hand")
    })?;
    Ok(target)
}
