//! Stage 7: at the embargo, and never before, the public push, the release published, the pull
//! requests, and every asset read back. Also what staging and publishing will do, in words (the
//! pushes and the API calls), which a dry run prints instead of acting and the demo ends with.

use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::cherry_pick::Picked;
use super::stage::{self, Staged};
use super::{Built, Context, Frozen, Prepared, freeze};
use crate::actions::{Action, Actions};
use crate::clock;
use crate::error::Error;
use crate::git::cli::GitCli;
use crate::git::{LocalRepo, remote};
use crate::github::client::Client;
use crate::github::{pulls, releases};
use crate::journal::{self, Manifest};
use crate::pipeline::{MakeLatest, Pipeline};
use crate::report::{Event, Reporter};

/// What a run shows of stages 6 and 7: staging's actions (the ones it would take, in a dry run)
/// and publishing's, from the same functions that the run executes.
pub fn actions(
    ctx: &Context<'_>,
    prepared: &Prepared,
    built: &Built,
    frozen: &Frozen,
    picked: &Picked,
) -> Actions {
    Actions {
        stage: stage::actions(ctx, prepared, built, frozen, picked),
        publish: crate::actions::publishing(&publishing(
            ctx.pipeline,
            &ctx.plan.version,
            &prepared.tag,
            stage::refs(prepared, frozen, picked),
            ctx.make_latest(),
            picked,
            built,
            ctx.advisory.is_some(),
            ctx.osv,
        )),
        embargo: ctx.plan.embargo.map(|e| e.to_string()),
        manual_backports: picked.manual.iter().map(|m| m.target.clone()).collect(),
    }
}

/// What stage 7 is made of, from the record.
#[allow(clippy::too_many_arguments)]
fn publishing<'a>(
    pipeline: &'a Pipeline,
    version: &'a str,
    tag: &'a str,
    refs: Vec<stage::PushedRef>,
    make_latest: bool,
    picked: &Picked,
    built: &Built,
    advisory: bool,
    osv: Option<&crate::journal::Artifact>,
) -> crate::actions::Publishing<'a> {
    crate::actions::Publishing {
        advisory,
        pipeline,
        version,
        tag,
        refs,
        make_latest,
        picks: picked
            .picks
            .iter()
            .map(|p| (p.branch.clone(), p.target.clone()))
            .collect(),
        assets: built
            .artifacts
            .iter()
            .map(|a| a.name.clone())
            .chain(osv.map(|o| o.name.clone()))
            .chain([built.checksums_file.clone()])
            .collect(),
    }
}

/// What publishing did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    pub tag: String,
    pub public_remote: String,
    pub published_at: String,
    #[serde(default)]
    pub release_url: Option<String>,
    #[serde(default)]
    pub pulls: Vec<OpenedPull>,
    /// Assets downloaded back and found equal to the built bytes.
    #[serde(default)]
    pub assets_verified: Vec<String>,
    /// The release was public already when this run came to publish it, and this state folder
    /// holds no earlier attempt: the state is older than the release (a copy taken before it was
    /// published, as a CI job restores it), so what only the publishing run may do once (the
    /// announcement) is left to a person.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub found_public: bool,
    /// The published security advisory, when the release has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory_url: Option<String>,
    /// The actions publishing executed, each recorded once done (see [`crate::actions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenedPull {
    pub target: String,
    pub head: String,
    pub number: u64,
    pub url: String,
}

/// Everything stage 7 needs, read from the state folder (never recomputed from the remotes:
/// once published, the public remote's latest release is this one).
pub struct Publication<'a> {
    pub pipeline: &'a Pipeline,
    pub repo: &'a LocalRepo,
    pub git: &'a GitCli,
    pub state_dir: &'a Path,
    pub manifest: &'a Manifest,
    pub picked: &'a Picked,
    pub staged: &'a Staged,
    pub embargo: Timestamp,
    pub reporter: &'a dyn Reporter,
    /// In a release of several lines, when the one public push of every line's refs was made:
    /// this line's own push is then left out.
    pub pushed_at: Option<String>,
    /// In a release of several lines, this line's release as made public right after that push
    /// (the draft read back alongside it): not read or published again here.
    pub made_public: Option<&'a releases::Release>,
}

impl Publication<'_> {
    fn built(&self) -> Built {
        Built {
            artifacts: self.manifest.artifacts.clone(),
            checksums_file: self.manifest.checksums_file.clone(),
            checksums_sha256: self.manifest.checksums_sha256.clone(),
            spec: String::new(),
        }
    }

    fn note(&self, text: &str) {
        self.reporter.emit(Event::Note(text));
    }

    /// Stage 7's actions, from the record: what `publish --dry-run` prints and `run` executes.
    pub fn actions(&self, make_latest: bool) -> Vec<Action> {
        crate::actions::publishing(&publishing(
            self.pipeline,
            &self.manifest.version,
            &self.manifest.tag,
            self.staged.refs.clone(),
            make_latest,
            self.picked,
            &self.built(),
            self.staged.advisory.is_some(),
            self.manifest.osv.as_ref(),
        ))
    }

    /// Puts the draft back exactly as staged (`publish --restore-draft`), when it differs.
    pub fn restore_draft(&self, client: &Client, draft: &super::draft::Draft) -> Result<(), Error> {
        if read_back(client, draft).is_ok() {
            return Ok(());
        }
        // Published by hand before the instant: that is the news, not the restoring.
        if !due(self.embargo, client.skew())
            && let Some(release) = releases::find(client, draft.release_id)?
        {
            out_early(self, client.skew(), Some(&release))?;
        }
        super::draft::restore(
            client,
            self.state_dir,
            &self.manifest.tag,
            draft,
            &super::draft::release_files(self.state_dir, &self.built(), self.manifest.osv.as_ref()),
            self.reporter,
        )?;
        read_back(client, draft).map(drop)
    }

    /// What `publish --dry-run` shows, with `make_latest` as staged.
    pub fn preview(&self) -> Actions {
        Actions {
            stage: Vec::new(),
            publish: self.actions(
                self.staged
                    .draft
                    .as_ref()
                    .map(|d| d.make_latest)
                    .unwrap_or(false),
            ),
            embargo: Some(self.embargo.to_string()),
            manual_backports: self
                .picked
                .manual
                .iter()
                .map(|m| m.target.clone())
                .collect(),
        }
    }
}

/// Whether the embargo has passed, by our clock and (when known) by GitHub's.
pub fn due(embargo: Timestamp, github_skew: Option<i64>) -> bool {
    let now = Timestamp::now();
    let github_now = now
        .checked_add(jiff::SignedDuration::from_secs(github_skew.unwrap_or(0)))
        .unwrap_or(now);
    now >= embargo && github_now >= embargo
}

/// The checks made ahead of the instant, so that the instant itself only pushes and publishes:
/// the freeze (refs and the bytes in `dist/`), and the draft's assets as staged.
pub fn preflight(job: &Publication<'_>, client: Option<&Client>) -> Result<(), Error> {
    let dist = job.state_dir.join("dist");
    freeze::prove_in(
        job.repo,
        job.git,
        &job.pipeline.repository.private,
        Some(&dist),
        job.manifest,
    )?;
    prove_staged(job)?;
    if let Some(osv) = &job.manifest.osv {
        crate::advisory::osv::prove(job.state_dir, osv)?;
    }
    if let (Some(client), Some(staged)) = (client, &job.staged.advisory) {
        let advisory = crate::github::advisories::get(client, &staged.ghsa_id)?;
        // Published already is fine once the instant has passed: a run that crashed after
        // publishing it is being finished.
        let after = advisory.state == "published" && due(job.embargo, client.skew());
        if advisory.state != "draft" && !after {
            return Err(Error::integrity(format!(
                "the security advisory {} is {} before the embargo, not a draft",
                staged.ghsa_id, advisory.state
            ))
            .with_hint("nothing was made public by this run; find out who changed the advisory"));
        }
    }
    let skew = client.and_then(Client::skew);
    let early = !due(job.embargo, skew);
    if early {
        out_early(job, skew, None)?;
    }
    if let (Some(client), Some(draft)) = (client, &job.staged.draft) {
        let release = releases::find(client, draft.release_id)?.ok_or_else(|| gone(draft))?;
        if early {
            out_early(job, skew, Some(&release))?;
        }
        let files =
            super::draft::release_files(job.state_dir, &job.built(), job.manifest.osv.as_ref());
        let assets = releases::list_assets(client, release.id)?;
        // A few at a time: without GitHub's digest each asset is a download.
        let at_once = crate::github::at_once::TRANSFERS_AT_ONCE;
        crate::github::at_once::each(&files, at_once, |file| {
            let asset = assets.iter().find(|a| a.name == file.name).ok_or_else(|| {
                Error::integrity(format!(
                    "the asset {} is missing from the release {} on GitHub",
                    file.name, release.tag_name
                ))
            })?;
            if !super::draft::asset_matches(client, asset, file)? {
                if release.draft {
                    return Err(Error::integrity(format!(
                        "the draft's asset {} is not the built file (sha256 {}): it was replaced behind embargo's back",
                        file.name, file.sha256
                    ))
                    .with_hint("run `embargo run` again to upload the built file, and find out who replaced it"));
                }
                return Err(Error::integrity(format!(
                    "the published asset {} is not the built file (sha256 {})",
                    file.name, file.sha256
                )));
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// What publishing will push, proven from the frozen record and the repositories rather than
/// taken from the journal: exactly the patch branch, the tag and one branch per pick; every pick
/// made again from its target commit and its fix with the release commit's committer gives the
/// very commit staged; and the private remote holds every staged ref as staged.
pub fn prove_staged(job: &Publication<'_>) -> Result<(), Error> {
    let manifest = job.manifest;
    let mut expected = vec![
        stage::PushedRef {
            refname: format!("refs/heads/{}", manifest.patch_branch),
            target: manifest.release_commit.clone(),
        },
        stage::PushedRef {
            refname: format!("refs/tags/{}", manifest.tag),
            target: manifest.tag_object.clone(),
        },
    ];
    expected.extend(job.picked.picks.iter().map(|p| stage::PushedRef {
        refname: format!("refs/heads/{}", p.branch),
        target: p.commit.clone(),
    }));
    if job.staged.refs != expected {
        return Err(Error::integrity(format!(
            "the journal's staged refs are not the frozen release and its picks: {}",
            job.staged
                .refs
                .iter()
                .filter(|r| !expected.contains(r))
                .map(|r| format!("{} {}", r.refname, r.target))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("the state folder was edited; restore it from a copy you trust"));
    }
    let targets: Option<&Vec<String>> = job.staged.contract.as_ref().map(|c| &c.targets);
    let oid = |sha: &str| {
        git2::Oid::from_str(sha)
            .map_err(|_| Error::integrity(format!("`{sha}` in the journal is not an object id")))
    };
    let release = job
        .repo
        .repo
        .find_commit(oid(&manifest.release_commit)?)
        .map_err(crate::git::failed("reading the release commit"))?;
    let committer = release.committer().to_owned();
    for pick in &job.picked.picks {
        if let Some(targets) = targets
            && !targets.contains(&pick.target)
        {
            return Err(Error::integrity(format!(
                "the pick onto {} is not one of the targets staged: {}",
                pick.target,
                targets.join(", ")
            )));
        }
        let fix: Vec<git2::Oid> = if pick.fix.is_empty() {
            manifest
                .fix_commits
                .iter()
                .map(|c| oid(&c.sha))
                .collect::<Result<_, _>>()?
        } else {
            pick.fix.iter().map(|c| oid(c)).collect::<Result<_, _>>()?
        };
        let again = crate::git::apply::apply(job.repo, oid(&pick.target_commit)?, &fix, &committer)
            .map_err(|e| {
                Error::integrity(format!(
                    "the pick onto {} cannot be made again from its target commit {}: {e:?}",
                    pick.target, pick.target_commit
                ))
            })?;
        if again.to_string() != pick.commit {
            return Err(Error::integrity(format!(
                "the pick branch {} holds {}, but picking the fix onto {} ({}) gives {again}",
                pick.branch, pick.commit, pick.target, pick.target_commit
            ))
            .with_hint(
                "the journal or the pick branch was changed after staging; find out who changed it",
            ));
        }
    }
    stage::prove_on_private(job.git, &job.pipeline.repository.private, &job.staged.refs)
}

/// The public push made ready ahead of the instant (its refs written in the clone, where it goes
/// resolved), so that at the instant nothing is left to do but push; `None` when this line's
/// refs are pushed by a release of several lines.
pub fn ready_push(
    job: &Publication<'_>,
    make_latest: bool,
) -> Result<Option<crate::actions::ReadyPush>, Error> {
    if job.pushed_at.is_some() {
        return Ok(None);
    }
    job.actions(make_latest)
        .iter()
        .find(|a| matches!(a, Action::Push { .. }))
        .map(|push| crate::actions::prepare_push(job.git, job.pipeline, push))
        .transpose()
}

/// Whether the instant is more than a few seconds away by this machine's clock and by GitHub's:
/// only then is a staged ref found public a leak, rather than another run's publication on time
/// (another job, whose clock may be a little ahead of ours).
pub fn well_before(embargo: Timestamp, github_skew: Option<i64>) -> bool {
    let now = Timestamp::now();
    let github = now
        .checked_add(jiff::SignedDuration::from_secs(github_skew.unwrap_or(0)))
        .unwrap_or(now);
    [now, github]
        .iter()
        .all(|t| t.checked_add(ON_TIME).is_ok_and(|soon| soon < embargo))
}

/// How close to the instant a publication still counts as on time.
const ON_TIME: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);

/// Whether an earlier publish from this state folder was attempted: what is public may then be
/// its own work (a run that crashed after its push), whatever the clocks say.
fn attempted_here(job: &Publication<'_>) -> bool {
    crate::journal::read(&job.state_dir.join("journal.jsonl")).is_ok_and(|entries| {
        entries
            .iter()
            .any(|e| e.stage == crate::journal::Stage::Publish)
    })
}

/// While the release waits for its instant (asked when GitHub's clock is read: as publish
/// starts, and 15 s before the instant): nothing of it is public yet, neither the draft as just
/// read nor a staged ref on the public remote.
pub fn still_private(
    job: &Publication<'_>,
    github_skew: Option<i64>,
    release: Option<&releases::Release>,
) -> Result<(), Error> {
    if due(job.embargo, github_skew) {
        return Ok(());
    }
    if let Some(release) = release {
        out_early(job, github_skew, Some(release))?;
    }
    out_early(job, github_skew, None)
}

/// Before the instant nothing of the release may be public: a staged ref on the public remote
/// with its staged object (a `git push --mirror` by a person), or the draft published by hand,
/// means the fix is out early. Said, with the way on, rather than published "on time" over it.
/// With `release`, the draft as just read; without, the public remote is listed.
pub fn out_early(
    job: &Publication<'_>,
    github_skew: Option<i64>,
    release: Option<&releases::Release>,
) -> Result<(), Error> {
    if attempted_here(job) {
        return Ok(());
    }
    let what = match release {
        Some(release) if !release.draft => {
            // GitHub says when it was published: early is before the instant, whenever seen.
            let early = match release
                .published_at
                .as_deref()
                .and_then(|at| at.parse::<Timestamp>().ok())
            {
                Some(at) => at.checked_add(ON_TIME).is_ok_and(|at| at < job.embargo),
                None => well_before(job.embargo, github_skew),
            };
            if !early {
                return Ok(());
            }
            vec![format!(
                "its GitHub release {} is published",
                release.html_url
            )]
        }
        Some(_) => return Ok(()),
        None if !well_before(job.embargo, github_skew) => return Ok(()),
        None => {
            let public = remote::list(job.git, "public", &job.pipeline.repository.public)?;
            // A ref of the same name with other content would refuse the push at the instant:
            // said now, while there is time to find out whose it is.
            if let Some(taken) = job.staged.refs.iter().find(|r| {
                public
                    .target(&r.refname)
                    .is_some_and(|oid| oid.to_string() != r.target)
            }) {
                return Err(Error::stage_failed(format!(
                    "{} is on {} with other content: the push at the instant would be refused",
                    taken.refname,
                    public.describe()
                ))
                .with_hint("nothing was pushed; find out whose it is and have it moved or deleted before the instant, then run again"));
            }
            stage::held_by(&public, &job.staged.refs)
                .into_iter()
                .map(|r| format!("{} is on {}", r.refname, public.describe()))
                .collect()
        }
    };
    if what.is_empty() {
        return Ok(());
    }
    Err(Error::integrity(format!(
        "{} is public before its embargo ({}): {}; the fix is out early",
        job.manifest.tag,
        clock::display(job.embargo),
        what.join(", ")
    ))
    .with_hint(format!(
        "nothing was pushed or published by this run; to publish the rest now, `embargo reschedule {p} --embargo now --earlier`, then `embargo publish {p} --if-due`",
        p = job.pipeline.file.display()
    )))
}

/// Right before the public push: the frozen refs, locally and on the private remote, and every
/// staged ref on the private remote (the pick branches too) are as staged, against one listing
/// (the refs only: the artifacts were hashed in the preflight).
pub fn prove_before_push(job: &Publication<'_>) -> Result<(), Error> {
    let private = remote::list(job.git, "private", &job.pipeline.repository.private)?;
    freeze::prove_against(job.repo, &private, None, job.manifest)?;
    stage::prove_listed(&private, &job.staged.refs)
}

/// The last look, made a moment before the instant (and again alongside the push): the frozen
/// refs as staged, and the draft exactly as staged (the release as read, if there is one).
/// A change it finds before the instant stops everything: nothing was made public.
pub fn last_look(
    job: &Publication<'_>,
    client: Option<&Client>,
) -> Result<Option<releases::Release>, Error> {
    // In a release of several lines, the caller proved every line before its one push.
    if job.pushed_at.is_none() {
        prove_before_push(job)?;
    }
    match (client, &job.staged.draft) {
        (Some(client), Some(draft)) => {
            let release = read_back(client, draft)?;
            if job.pushed_at.is_none() && !due(job.embargo, client.skew()) {
                out_early(job, client.skew(), Some(&release))?;
            }
            Ok(Some(release))
        }
        _ => Ok(None),
    }
}

/// Stage 7, at or after the embargo: public push, release published, pull requests, every
/// asset read back. Each step looks at what is already done, so a rerun after a crash finishes
/// the work without doing anything twice.
/// `make_latest` is decided before the instant (see [`make_latest_now`]): reading the public tags
/// after it would only make the release later.
/// `ready` is the public push made ready before the instant (see [`ready_push`]), if it was;
/// `looked` says whether the last look was taken a moment before the instant (see
/// [`last_look`]): then it is taken again alongside the push, otherwise before it.
pub fn run(
    job: &Publication<'_>,
    client: Option<&Client>,
    make_latest: bool,
    mut ready: Option<crate::actions::ReadyPush>,
    looked: bool,
) -> Result<Published, Error> {
    // In a release of several lines the caller decided once, before its one push, for every
    // line: asked again here, with a clock estimate refined since, it could refuse a line whose
    // refs are public already and leave the release half published.
    if job.pushed_at.is_none() && !due(job.embargo, client.and_then(Client::skew)) {
        // The caller waited; this is the last guard against publishing early.
        return Err(Error::integrity(format!(
            "refusing to publish before the embargo ({})",
            clock::display(job.embargo)
        )));
    }
    // Nothing between the instant and the public push but the push: the last look was taken a
    // moment before the instant (see `commands::publish`); it is taken again alongside the push,
    // so that the draft is read back milliseconds before the PATCH makes it public. A change
    // found then stops before the PATCH, and says the push was made. A run that starts after
    // the instant (a late cron job) looks before it pushes: it is late already.
    let looked_before = if looked {
        None
    } else if let Some(release) = job.made_public {
        Some(Some(release.clone()))
    } else {
        Some(last_look(job, client)?)
    };
    let mut actions = job.actions(make_latest).into_iter().peekable();
    let mut pushed = None;
    // Held until publishing is over: removing the refs the push was made from can wait.
    let mut made: Option<crate::actions::Pushed> = None;
    let read_back = match actions.next_if(|a| matches!(a, Action::Push { .. })) {
        Some(push) if job.pushed_at.is_none() && looked_before.is_some() => {
            // The look made, the push alone.
            let ready = match ready.take().filter(|r| r.action() == &push) {
                Some(ready) => ready,
                None => crate::actions::prepare_push(job.git, job.pipeline, &push)?,
            };
            ready.destination().unchanged(job.git)?;
            ready.announce(job.reporter);
            made = Some(ready.push()?);
            let at = journal::now();
            crate::failpoint::hit("publish:after-public-push");
            pushed = Some((push, at));
            looked_before.flatten()
        }
        Some(push) if job.pushed_at.is_none() => {
            let ready = match ready.take().filter(|r| r.action() == &push) {
                Some(ready) => ready,
                None => crate::actions::prepare_push(job.git, job.pipeline, &push)?,
            };
            ready.announce(job.reporter);
            let destination = ready.destination().clone();
            let (pushing, looked) = std::thread::scope(|scope| {
                // When the push was over, not when the look was.
                let pushing = scope.spawn(move || ready.push().map(|p| (p, journal::now())));
                let looked = destination
                    .unchanged(job.git)
                    .and_then(|()| last_look(job, client));
                (pushing.join(), looked)
            });
            let (push_made, at) =
                pushing.unwrap_or_else(|_| Err(Error::stage_failed("the public push panicked")))?;
            made = Some(push_made);
            crate::failpoint::hit("publish:after-public-push");
            let read_back = looked.map_err(|e| e.with_hint(after_push(job, &at)))?;
            pushed = Some((push, at));
            read_back
        }
        Some(push) => {
            // The set's one push carried this line's refs; `prove_public` below checks.
            pushed = job.pushed_at.clone().map(|at| (push, at));
            match looked_before {
                Some(read) => read,
                None => last_look(job, client)?,
            }
        }
        None => match looked_before {
            Some(read) => read,
            None => last_look(job, client)?,
        },
    };
    let public = &job.pipeline.repository.public;
    let mut published = Published {
        tag: job.manifest.tag.clone(),
        public_remote: public.clone(),
        published_at: String::new(),
        release_url: None,
        pulls: Vec::new(),
        assets_verified: Vec::new(),
        advisory_url: None,
        found_public: false,
        actions: Vec::new(),
    };
    // The release as published, once the PATCH (or a rerun's read) has it.
    let mut release: Option<releases::Release> = read_back;
    if let Some((push, at)) = pushed {
        published.published_at = at;
        if job.pushed_at.is_none() {
            published.actions.push(push);
        }
    }
    for action in actions {
        match &action {
            Action::Push { .. } => {
                return Err(Error::stage_failed(
                    "publishing has one public push, and it comes first",
                ));
            }
            Action::PublishRelease { make_latest, .. } => {
                let (client, draft) = github_of(client, job)?;
                let current = match release.take() {
                    Some(release) => release,
                    None => releases::get(client, draft.release_id)?,
                };
                let current = if current.draft {
                    make_public(job, client, current.id, *make_latest)?
                } else {
                    // Made public by the release of several lines this line is in, or found so.
                    published.found_public = job.made_public.is_none();
                    current
                };
                crate::failpoint::hit("publish:after-release-published");
                job.note(&format!("published {}", current.html_url));
                published.release_url = Some(current.html_url.clone());
                release = Some(current);
            }
            Action::PublishAdvisory { .. } => {
                let (client, _) = github_of(client, job)?;
                let staged = job.staged.advisory.as_ref().ok_or_else(|| {
                    Error::integrity("publishing has an advisory to publish, but none was staged")
                })?;
                let current = crate::github::advisories::get(client, &staged.ghsa_id)?;
                let current = if current.state == "published" {
                    current
                } else {
                    crate::github::advisories::publish(client, &staged.ghsa_id)?
                };
                crate::failpoint::hit("publish:after-advisory-published");
                job.note(&format!(
                    "published the security advisory {}",
                    current.html_url
                ));
                published.advisory_url = Some(current.html_url);
            }
            Action::OpenPull {
                head, base, title, ..
            } => {
                let (client, _) = github_of(client, job)?;
                let body = format!(
                    "The security fix of {tag}, cherry-picked onto `{base}`.\n\nFix commits:\n{fixes}",
                    tag = job.manifest.tag,
                    fixes = job
                        .manifest
                        .fix_commits
                        .iter()
                        .map(|c| format!("- {} {}\n", crate::git::abbrev(&c.sha), c.subject))
                        .collect::<String>()
                );
                let pr = pulls::find_or_open(client, head, base, title, &body)?;
                crate::failpoint::hit(&format!("publish:after-pull:{base}"));
                job.note(&format!("pull request #{} {head} -> {base}", pr.number));
                published.pulls.push(OpenedPull {
                    target: base.clone(),
                    head: head.clone(),
                    number: pr.number,
                    url: pr.html_url,
                });
            }
            Action::ReadBack { assets } => {
                let (client, draft) = github_of(client, job)?;
                let id = release.as_ref().map_or(draft.release_id, |r| r.id);
                let (verified, downloaded) = read_back_assets(client, job, id, assets)?;
                published.assets_verified = verified;
                job.note(&format!(
                    "{} asset(s) read back and equal to the built files ({} by GitHub's digest, {downloaded} downloaded)",
                    published.assets_verified.len(),
                    published.assets_verified.len() - downloaded,
                ));
            }
            Action::CreateDraft { .. }
            | Action::Upload { .. }
            | Action::DraftAdvisory { .. }
            | Action::RequestCve { .. } => {
                return Err(Error::stage_failed(format!(
                    "publishing does not stage: {}",
                    action.lines().join(" ")
                )));
            }
            Action::DeleteRefs { .. }
            | Action::DeleteDraft { .. }
            | Action::CloseAdvisory { .. } => {
                return Err(Error::stage_failed(format!(
                    "publishing takes nothing back: {}",
                    action.lines().join(" ")
                )));
            }
        }
        published.actions.push(action);
    }

    prove_public(job.git, public, job.manifest)?;
    drop(made);
    Ok(published)
}

/// Publishes the draft with its staged tag, name, notes and prerelease flag sent again in the
/// same request (the notes as kept in the state folder, when they are), and proves GitHub's
/// answer: public, and as staged.
pub fn make_public(
    job: &Publication<'_>,
    client: &Client,
    release_id: u64,
    make_latest: bool,
) -> Result<releases::Release, Error> {
    let draft =
        job.staged.draft.as_ref().ok_or_else(|| {
            Error::integrity("publishing a release that was staged without a draft")
        })?;
    let notes = std::fs::read_to_string(job.state_dir.join(super::draft::NOTES_FILE))
        .ok()
        .filter(|n| super::draft::sha256_text(n) == draft.body_sha256);
    let staged = notes
        .as_deref()
        .filter(|_| !draft.tag.is_empty() && !draft.name.is_empty())
        .map(|body| releases::DraftSpec {
            tag: &draft.tag,
            name: &draft.name,
            body,
            prerelease: draft.prerelease.unwrap_or(false),
            make_latest,
        });
    let published = releases::publish(client, release_id, make_latest, staged.as_ref())?;
    if published.draft {
        return Err(Error::stage_failed(format!(
            "GitHub answered the request that publishes {}, but the release is still a draft",
            draft.html_url
        ))
        .with_hint(format!(
            "run `embargo publish {} --if-due` again",
            job.pipeline.file.display()
        )));
    }
    if let Some(what) = not_as_staged(draft, &published) {
        return Err(Error::integrity(format!(
            "the release {} was published, but not as staged: {what}",
            published.html_url
        ))
        .with_hint("someone changed it at the moment it was published; correct it on GitHub, and find out who changed it"));
    }
    Ok(published)
}

/// The way on when the look alongside the public push found something changed: the push is
/// made, the release is not published.
pub fn after_push(job: &Publication<'_>, at: &str) -> String {
    format!(
        "the public push was made at {at}, but the release is still a draft; find out what changed. Once it is as staged again, `embargo publish {p} --if-due` publishes it (with --restore-draft it puts a changed draft back as staged first)",
        p = job.pipeline.file.display()
    )
}

/// The GitHub client and the staged draft, which every GitHub action of publishing needs.
fn github_of<'c>(
    client: Option<&'c Client>,
    job: &'c Publication<'_>,
) -> Result<(&'c Client, &'c super::draft::Draft), Error> {
    match (client, &job.staged.draft) {
        (Some(client), Some(draft)) => Ok((client, draft)),
        _ => Err(Error::bad_input(format!(
            "{} has GitHub actions to publish, but no draft release was staged or no GitHub client is configured",
            job.manifest.tag
        ))),
    }
}

/// Reads every asset of the release back: what the public downloads must be what was built and
/// tested. Returns the names checked and how many of them had to be downloaded.
fn read_back_assets(
    client: &Client,
    job: &Publication<'_>,
    release_id: u64,
    names: &[String],
) -> Result<(Vec<String>, usize), Error> {
    let files = super::draft::release_files(job.state_dir, &job.built(), job.manifest.osv.as_ref());
    let assets = releases::list_assets(client, release_id)?;
    let mut wanted = Vec::new();
    let mut checks = Vec::new();
    for name in names {
        let file = files.iter().find(|f| f.name == *name).ok_or_else(|| {
            Error::integrity(format!("{name} is to be read back, but it was not built"))
        })?;
        let asset = assets.iter().find(|a| a.name == *name).ok_or_else(|| {
            Error::integrity(format!("the published release has no asset {name}"))
        })?;
        // GitHub's own digest of the bytes it serves, where it gives one; a download (at most
        // one per asset in this process) where it does not.
        match asset.sha256() {
            Some(sha) => checks.push((file, Some((asset.size, sha.to_string())))),
            None => {
                checks.push((file, None));
                wanted.push((file, asset.id));
            }
        }
    }
    // A few downloads at a time, each streamed and hashed as it flows: many small assets
    // cost their transfer, not a round trip each in turn.
    let mut read = download_all(client, &wanted, DOWNLOADS_AT_ONCE).into_iter();
    let mut verified = Vec::new();
    for (file, digest) in checks {
        let (size, sha) = match digest {
            Some(known) => known,
            None => read
                .next()
                .unwrap_or_else(|| Err(Error::stage_failed("an asset was not read back")))?,
        };
        if size != file.size || sha != file.sha256 {
            return Err(Error::integrity(format!(
                "checksum mismatch: the published asset {} has sha256 {sha} ({size} bytes); {} ({} bytes) was built",
                file.name, file.sha256, file.size
            ))
            .with_hint("pull the release back to draft on GitHub now, then investigate"));
        }
        verified.push(file.name.clone());
    }
    Ok((verified, wanted.len()))
}

/// The staged draft is not on GitHub any more.
fn gone(draft: &super::draft::Draft) -> Error {
    Error::integrity(format!(
        "the draft release {} is gone from GitHub",
        draft.html_url
    ))
    .with_hint("find out who deleted it. Before the embargo, `embargo abort` and `embargo run` stage the release again. Once its refs are public, no command of embargo makes the release again: create it on GitHub by hand for its tag (its notes are `draft.notes.md` in the release's state folder, its assets the files in `dist/`) and open the pull requests")
}

/// What of the release as read is not as the draft was staged (its tag, prerelease flag, name
/// and notes), if anything: the first difference found. Fields an older journal did not record
/// are not compared.
fn not_as_staged(draft: &super::draft::Draft, release: &releases::Release) -> Option<String> {
    if !draft.tag.is_empty() && release.tag_name != draft.tag {
        return Some(format!(
            "its tag is {}, not {}",
            release.tag_name, draft.tag
        ));
    }
    if draft.prerelease.is_some_and(|p| p != release.prerelease) {
        return Some(format!(
            "it is {}a prerelease now",
            if release.prerelease { "" } else { "not " }
        ));
    }
    if !draft.name.is_empty() && release.name.as_deref() != Some(draft.name.as_str()) {
        return Some(format!(
            "its name is {:?}, not {:?}",
            release.name.clone().unwrap_or_default(),
            draft.name
        ));
    }
    if !draft.body_sha256.is_empty()
        && super::draft::sha256_text(release.body.as_deref().unwrap_or("")) != draft.body_sha256
    {
        return Some("its notes were changed".to_string());
    }
    None
}

/// The release on GitHub is the draft as staged: the same id, tag, name and notes, and exactly
/// the staged assets (names, sizes and, where GitHub gives them, digests). Anything else is an
/// integrity violation before the public push.
pub fn read_back(client: &Client, draft: &super::draft::Draft) -> Result<releases::Release, Error> {
    let release = releases::find(client, draft.release_id)?.ok_or_else(|| gone(draft))?;
    let published = !release.draft;
    let differs = |what: String| {
        if published {
            return Error::integrity(format!(
                "the release {} was published by someone, not as staged: {what}",
                release.html_url
            ))
            .with_hint("embargo never changes a published release: correct it on GitHub (its notes as staged are `draft.notes.md` in the release's state folder), then `embargo publish --if-due` finishes the rest");
        }
        Error::integrity(format!(
            "the draft release {} is not what was staged: {what}",
            draft.html_url
        ))
        .with_hint("find out who changed the draft; `embargo publish` with --restore-draft puts it back as staged, or `embargo abort` takes the release back before the embargo")
    };
    if release.id != draft.release_id {
        return Err(differs(format!(
            "its id is {}, not {}",
            release.id, draft.release_id
        )));
    }
    if let Some(what) = not_as_staged(draft, &release) {
        return Err(differs(what));
    }
    let assets = releases::list_assets(client, release.id)?;
    for asset in &assets {
        match draft.assets.iter().find(|s| s.name == asset.name) {
            None => {
                return Err(differs(format!(
                    "it has an asset that was not staged: {}",
                    asset.name
                )));
            }
            Some(staged) => {
                if asset.size != staged.size
                    || asset.sha256().is_some_and(|sha| sha != staged.sha256)
                    || asset.state != "uploaded"
                {
                    return Err(differs(format!(
                        "its asset {} is not the built file ({} bytes, {}; {} bytes, sha256 {} was built)",
                        asset.name,
                        asset.size,
                        asset.digest.as_deref().unwrap_or("no digest"),
                        staged.size,
                        staged.sha256
                    )));
                }
            }
        }
    }
    if let Some(missing) = draft
        .assets
        .iter()
        .find(|s| !assets.iter().any(|a| a.name == s.name))
    {
        return Err(differs(format!("its asset {} is gone", missing.name)));
    }
    Ok(release)
}

/// How many assets are read back at once after publishing.
const DOWNLOADS_AT_ONCE: usize = 4;

/// An asset read back: its size and SHA-256.
type ReadBack = Result<(u64, String), Error>;

/// Downloads and hashes every asset, `at_once` at a time; the results in `wanted`'s order.
fn download_all(
    client: &Client,
    wanted: &[(&super::draft::Upload, u64)],
    at_once: usize,
) -> Vec<ReadBack> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<ReadBack>>> =
        wanted.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..at_once.min(wanted.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((_, id)) = wanted.get(i) else {
                        break;
                    };
                    let result = releases::download_sha256(client, *id);
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(Error::stage_failed("an asset was not read back")))
        })
        .collect()
}

/// The public remote holds exactly the frozen tag.
pub fn prove_public(git: &GitCli, public: &str, manifest: &Manifest) -> Result<(), Error> {
    let public_refs = remote::list(git, "public", public)?;
    match public_refs.tags.get(&manifest.tag) {
        Some(t) if t.object.to_string() == manifest.tag_object => Ok(()),
        other => Err(Error::integrity(format!(
            "refs/tags/{} on the public remote `{public}` is {}, but {} was frozen and published",
            manifest.tag,
            other
                .map(|t| t.object.to_string())
                .unwrap_or_else(|| "missing".into()),
            manifest.tag_object
        ))
        .with_hint("someone moved or deleted the published tag: restore it and tell the users")),
    }
}

/// `make_latest` as decided at staging, checked again against the public tags right before the
/// instant: a newer release may have appeared on a later line meanwhile.
pub fn make_latest_now(job: &Publication<'_>, staged_choice: bool) -> Result<bool, Error> {
    let Some(spec) = &job.pipeline.github else {
        return Ok(false);
    };
    if spec.make_latest != MakeLatest::Auto {
        return Ok(staged_choice);
    }
    let public = remote::list(job.git, "public", &job.pipeline.repository.public)?;
    let ours = job.pipeline.tag.parse(&job.manifest.tag);
    Ok(match ours {
        Some(ours) => public
            .tags
            .keys()
            .filter(|t| **t != job.manifest.tag)
            .filter_map(|t| job.pipeline.tag.parse(t))
            .all(|v| v < ours),
        None => false,
    })
}
