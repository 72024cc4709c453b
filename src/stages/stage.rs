//! Stage 6 (its git half): push the patch branch, the tag and every pick branch to the **private**
//! remote in one `git push --atomic`: every ref lands or none does. Nothing goes to the public
//! remote before the embargo.

use serde::{Deserialize, Serialize};

use super::cherry_pick::Picked;
use super::{Context, Frozen, Prepared};
use crate::actions::Action;
use crate::error::Error;
use crate::git::remote;
use crate::report::Event;

pub use crate::actions::PushedRef;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Staged {
    pub remote: String,
    pub refs: Vec<PushedRef>,
    /// The draft GitHub release, when `publish.github` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<super::draft::Draft>,
    /// What the release was staged with: the instant, the fix, the targets, the checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<crate::contract::Contract>,
    /// The draft security advisory on GitHub, when the release has an advisory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<StagedAdvisory>,
    /// The actions staging executed, each recorded once done (see [`crate::actions`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// The draft advisory as staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedAdvisory {
    pub ghsa_id: String,
    pub html_url: String,
    /// The CVE, when the advisory names one or GitHub has assigned it by now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve_id: Option<String>,
    /// Whether a CVE was requested through GitHub.
    #[serde(default)]
    pub cve_requested: bool,
}

/// The refs staging pushes, in order.
pub fn refs(prepared: &Prepared, frozen: &Frozen, picked: &Picked) -> Vec<PushedRef> {
    let mut refs = vec![
        PushedRef {
            refname: format!("refs/heads/{}", prepared.patch_branch),
            target: prepared.release_commit.clone(),
        },
        PushedRef {
            refname: format!("refs/tags/{}", prepared.tag),
            target: frozen.tag_object.clone(),
        },
    ];
    refs.extend(picked.picks.iter().map(|p| PushedRef {
        refname: format!("refs/heads/{}", p.branch),
        target: p.commit.clone(),
    }));
    refs
}

/// Right before a private push: the private remote still pushes where the plan proved it does,
/// and GitHub (when the pipeline names the private repository) still says it is private.
pub fn prove_still_private(ctx: &Context<'_>) -> Result<(), Error> {
    let private = &ctx.pipeline.repository.private;
    // Proven at plan time, and again now: a build step or anyone else may have rewritten the
    // clone's configuration since.
    let pushes_to = crate::git::privacy::prove_private(
        &ctx.git.in_dir(ctx.clone_dir),
        private,
        &ctx.pipeline.repository.public,
    )?;
    if pushes_to != ctx.plan.private_push {
        return Err(Error::integrity(format!(
            "where the private remote `{private}` pushes changed during the run: it was {}, it is now {}",
            ctx.plan.private_push.join(", "),
            pushes_to.join(", ")
        ))
        .with_hint("nothing was pushed; find out what changed the clone's git configuration"));
    }
    if let Some(spec) = &ctx.pipeline.github
        && !ctx.github_offline
        && let Some(said) = crate::github::repository::prove_private(spec)?
    {
        ctx.reporter.emit(Event::Note(&format!(
            "GitHub says {} is {said}",
            spec.private_repository.as_deref().unwrap_or_default()
        )));
    }
    Ok(())
}

/// The first job of a build split across runners (`embargo run --until prepare`): the release
/// commit goes to the private remote on its patch branch, so that every shard's job can check
/// it out; the same ref with the same commit is pushed again, frozen, at staging. In a release
/// of several lines, the first line's push carries every line's (as at staging).
pub fn handoff(ctx: &Context<'_>, prepared: &Prepared) -> Result<Action, Error> {
    let refs = match &ctx.set {
        super::SetStep::PushingFor(every_line) => every_line.clone(),
        _ => vec![PushedRef {
            refname: format!("refs/heads/{}", prepared.patch_branch),
            target: prepared.release_commit.clone(),
        }],
    };
    let action = crate::actions::push(ctx.pipeline, crate::actions::Side::Private, refs);
    let pushes = matches!(
        ctx.set,
        super::SetStep::Alone | super::SetStep::PushingFor(_)
    );
    if pushes && !ctx.dry_run {
        prove_still_private(ctx)?;
        // A patch branch already there must be the very release commit (a rerun, or another
        // line's job): anything else is someone else's, or the release moved.
        let listed = remote::list(ctx.git, "private", &ctx.pipeline.repository.private)?;
        for r in action.pushed_refs() {
            if let Some(there) = listed.target(&r.refname)
                && there.to_string() != r.target
            {
                return Err(Error::integrity(format!(
                    "{} on {} is {there}, but the release commit is {}",
                    r.refname,
                    listed.describe(),
                    r.target
                ))
                .with_hint("nothing was pushed; find out who moved the patch branch, then take the release back with `embargo abort` or start a new patch release"));
            }
        }
        crate::actions::execute_push(ctx.git, ctx.pipeline, &action, ctx.reporter)?;
    }
    Ok(action)
}

pub fn run(
    ctx: &Context<'_>,
    prepared: &Prepared,
    built: &super::Built,
    frozen: &Frozen,
    picked: &Picked,
) -> Result<Staged, Error> {
    prove_still_private(ctx)?;
    let actions = actions(ctx, prepared, built, frozen, picked);
    let mut staged = Staged::default();
    let mut draft_actions = Vec::new();
    let mut advisory_actions = Vec::new();
    for action in &actions {
        match action {
            Action::DraftAdvisory { .. } | Action::RequestCve { .. } => {
                advisory_actions.push(action)
            }
            Action::Push { to, remote, refs } => {
                let push = match &ctx.set {
                    super::SetStep::PushingFor(every_line) => Some(Action::Push {
                        to: *to,
                        remote: remote.clone(),
                        refs: every_line.clone(),
                    }),
                    super::SetStep::Pushed => None,
                    super::SetStep::Alone | super::SetStep::UpToStaging => Some(action.clone()),
                };
                if let Some(push) = &push {
                    crate::actions::execute_push(ctx.git, ctx.pipeline, push, ctx.reporter)?;
                    crate::failpoint::hit("stage:after-private-push");
                }
                // As written for people (the journal travels between CI jobs): without
                // credentials. Every git command uses the pipeline's remote, which the contract
                // holds unchanged.
                staged.remote = remote.clone();
                staged.refs = refs.clone();
                // Whoever pushed, this line's refs must be on the private remote now.
                recheck(ctx, &staged)?;
                staged.actions.extend(push);
            }
            _ => draft_actions.push(action),
        }
    }
    if let Some(spec) = &ctx.pipeline.github {
        if ctx.github_offline {
            ctx.reporter.emit(Event::Note(&format!(
                "the draft release on {} is described below, not created (no GitHub here)",
                spec.repository
            )));
        } else {
            staged.draft = Some(super::draft::run(ctx, spec, prepared, &draft_actions)?);
            staged.actions.extend(draft_actions.into_iter().cloned());
            for action in advisory_actions {
                staged.advisory = Some(advise(ctx, spec, action, staged.advisory.take())?);
                staged.actions.push(action.clone());
            }
        }
    }
    Ok(staged)
}

/// Executes an advisory action of staging: the draft advisory made (found again after a crash,
/// by its mark) or updated, or its CVE requested.
fn advise(
    ctx: &Context<'_>,
    spec: &crate::pipeline::GitHubSpec,
    action: &Action,
    staged: Option<StagedAdvisory>,
) -> Result<StagedAdvisory, Error> {
    use crate::github::advisories;
    let client = crate::github::client::Client::new(spec)?;
    match (action, staged) {
        (
            Action::DraftAdvisory {
                ghsa_id, advisory, ..
            },
            _,
        ) => {
            let mark = super::draft::ownership_mark(ctx.state_dir())?;
            let existing = match ghsa_id {
                Some(id) => Some(advisories::get(&client, id)?),
                None => advisories::find_marked(&client, &mark)?,
            };
            // Read before it is written: the embargoed details must never go into an advisory
            // that is already public.
            if let Some(current) = &existing
                && current.state != "draft"
            {
                return Err(Error::integrity(format!(
                    "the security advisory {} is {}, not a draft: nothing was written to it",
                    current.ghsa_id, current.state
                ))
                .with_hint("name a draft advisory in ghsa_id, or null to have one created; find out who published it"));
            }
            let existing = existing.map(|a| a.ghsa_id);
            let made = advisories::create_or_update(&client, existing.as_deref(), advisory, &mark)?;
            if made.state != "draft" {
                return Err(Error::integrity(format!(
                    "the security advisory {} is {}, not a draft: the fix is public before the embargo",
                    made.ghsa_id, made.state
                ))
                .with_hint("this needs a person: find out who published it"));
            }
            crate::failpoint::hit("stage:after-advisory-created");
            ctx.reporter.emit(Event::Note(&format!(
                "draft security advisory {} ({})",
                made.ghsa_id, made.html_url
            )));
            Ok(StagedAdvisory {
                ghsa_id: made.ghsa_id,
                html_url: made.html_url,
                cve_id: made.cve_id,
                cve_requested: false,
            })
        }
        (Action::RequestCve { .. }, Some(mut staged)) => {
            // Requested once: a file in the state folder says so across a crash. Should the
            // crash fall between GitHub's answer and that file, GitHub refuses the second request
            // (422); that refusal is reported, not fatal: a CVE can always be requested by hand on
            // the advisory's page, and the release must not wait for it.
            let marker = ctx.state_dir().join("advisory.cve-requested");
            if staged.cve_id.is_none() && !marker.exists() {
                match advisories::request_cve(&client, &staged.ghsa_id) {
                    Ok(advisories::CveRequest::Accepted) => {
                        std::fs::write(&marker, &staged.ghsa_id).map_err(|e| {
                            Error::stage_failed(format!("cannot write {}: {e}", marker.display()))
                        })?;
                        ctx.reporter.emit(Event::Note(&format!(
                            "a CVE is requested for {} through GitHub",
                            staged.ghsa_id
                        )));
                    }
                    Ok(advisories::CveRequest::Refused(why)) => {
                        ctx.reporter.emit(Event::Note(&format!(
                            "GitHub refused to request a CVE for {} ({why}): it was requested already, or see the advisory's page",
                            staged.ghsa_id
                        )));
                    }
                    Err(e) => return Err(e),
                }
            }
            staged.cve_requested = true;
            Ok(staged)
        }
        (other, _) => Err(Error::stage_failed(format!(
            "not an advisory action in order: {}",
            other.lines().join(" ")
        ))),
    }
}

/// Stage 6's actions for this release: the private push, the draft and its uploads.
pub fn actions(
    ctx: &Context<'_>,
    prepared: &Prepared,
    built: &super::Built,
    frozen: &Frozen,
    picked: &Picked,
) -> Vec<Action> {
    let release_name = ctx
        .pipeline
        .github
        .as_ref()
        .map(|g| {
            g.name
                .expand(|v| ctx.plan.value(v, Some(&prepared.release_commit)))
        })
        .unwrap_or_default();
    crate::actions::staging(&crate::actions::Staging {
        pipeline: ctx.pipeline,
        refs: refs(prepared, frozen, picked),
        release_name,
        tag: &prepared.tag,
        make_latest: ctx.make_latest(),
        files: super::draft::release_files(ctx.state_dir(), built, ctx.osv)
            .into_iter()
            .map(|u| (u.name, u.size, u.sha256))
            .collect(),
        advisory: ctx.advisory.map(|a| {
            (
                a.ghsa_id.clone(),
                crate::github::advisories::AdvisoryBody::from_advisory(
                    a,
                    &crate::advisory::ranges::affected_lines(ctx.pipeline, ctx.plan),
                ),
            )
        }),
    })
}

/// The private remote has exactly the staged refs.
pub fn recheck(ctx: &Context<'_>, staged: &Staged) -> Result<(), Error> {
    prove_on_private(ctx.git, &ctx.pipeline.repository.private, &staged.refs)
}

/// Every ref in `refs` is on the private remote with exactly the staged value.
pub fn prove_on_private(
    git: &crate::git::cli::GitCli,
    private_remote: &str,
    refs: &[PushedRef],
) -> Result<(), Error> {
    prove_listed(&remote::list(git, "private", private_remote)?, refs)
}

/// The refs of `refs` a remote, as listed, holds at exactly their staged objects.
pub fn held_by<'r>(listing: &remote::RemoteRefs, refs: &'r [PushedRef]) -> Vec<&'r PushedRef> {
    refs.iter()
        .filter(|r| {
            listing
                .target(&r.refname)
                .is_some_and(|oid| oid.to_string() == r.target)
        })
        .collect()
}

/// [`prove_on_private`] against the private remote as already listed.
pub fn prove_listed(private: &remote::RemoteRefs, refs: &[PushedRef]) -> Result<(), Error> {
    for r in refs {
        let actual = private.target(&r.refname);
        if actual.map(|o| o.to_string()).as_deref() != Some(r.target.as_str()) {
            return Err(Error::integrity(format!(
                "{} on {} is {}, but {} was staged",
                r.refname,
                private.describe(),
                actual
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "missing".into()),
                r.target
            ))
            .with_hint(
                "the private remote no longer holds what was staged; find out who changed it",
            ));
        }
    }
    Ok(())
}

/// A later job may work in a fresh clone with a copy of the state folder (what CI does between
/// jobs). The staged refs that clone lacks are fetched from the private remote, after proving
/// that the remote holds exactly what was staged, and created locally, and the freeze hook is
/// installed again; from there every check runs as in the clone that staged the release.
/// Returns how many refs were brought back.
pub fn restore(
    repo: &crate::git::LocalRepo,
    git: &crate::git::cli::GitCli,
    private_remote: &str,
    journal: &crate::journal::Journal,
    manifest: &crate::journal::Manifest,
) -> Result<usize, Error> {
    let Some(entry) = journal.completed(crate::journal::Stage::Stage) else {
        return Ok(0);
    };
    let staged: Staged = serde_json::from_value(entry.detail.clone()).map_err(|e| {
        Error::integrity(format!(
            "the journal's record of the stage stage is damaged: {e}"
        ))
    })?;
    let missing: Vec<&PushedRef> = staged
        .refs
        .iter()
        .filter(|r| repo.ref_target(&r.refname).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let private = remote::list(git, "private", private_remote)?;
    let mut wanted = Vec::new();
    for r in &missing {
        let staged_oid = git2::Oid::from_str(&r.target).map_err(|_| {
            Error::integrity(format!(
                "the journal's staged {} is not an object id",
                r.refname
            ))
        })?;
        match private.target(&r.refname) {
            Some(oid) if oid == staged_oid => wanted.push((r.refname.clone(), oid)),
            other => {
                return Err(Error::integrity(format!(
                    "{} is not in this clone, and {} has {} for it, but {} was staged",
                    r.refname,
                    private.describe(),
                    other
                        .map(|o| o.to_string())
                        .unwrap_or_else(|| "nothing".into()),
                    r.target
                ))
                .with_hint(
                    "the private remote no longer holds the staged release; find out who changed it",
                ));
            }
        }
    }
    remote::bring_in(
        git,
        repo,
        &private,
        &wanted,
        "embargo: staged ref brought back from the private remote",
    )?;
    let frozen = |refname: String, target: &str| -> Result<crate::git::hook::FrozenRef, Error> {
        Ok(crate::git::hook::FrozenRef {
            refname,
            target: git2::Oid::from_str(target)
                .map_err(|_| Error::integrity("the manifest holds a SHA that is not one"))?,
            since: manifest.frozen_at.clone(),
            release: manifest.tag.clone(),
        })
    };
    crate::git::hook::freeze(
        repo,
        &[
            frozen(
                format!("refs/heads/{}", manifest.patch_branch),
                &manifest.release_commit,
            )?,
            frozen(format!("refs/tags/{}", manifest.tag), &manifest.tag_object)?,
        ],
    )?;
    Ok(wanted.len())
}

/// Stage 6: everything pushed to the private remote at once, and the draft release.
pub struct Stage<'a> {
    pub prepared: &'a Prepared,
    pub built: &'a super::Built,
    pub verified: &'a super::Verified,
    pub frozen: &'a Frozen,
    pub picked: &'a Picked,
}

impl super::Step for Stage<'_> {
    const STAGE: crate::journal::Stage = crate::journal::Stage::Stage;
    const RESUMED: &'static str = "the private remote holds exactly the staged refs";
    type Output = Staged;

    fn run(&self, ctx: &Context<'_>) -> Result<Staged, Error> {
        // The push is the first thing that leaves the machine: prove the freeze right before.
        let mut manifest = crate::journal::Manifest::read(ctx.state_dir())?;
        super::freeze::prove(ctx, &manifest)?;
        let mut staged = run(ctx, self.prepared, self.built, self.frozen, self.picked)?;
        let contract = super::contract(ctx, self.prepared, self.verified, self.picked);
        manifest.contract = Some(contract.clone());
        manifest.write(ctx.state_dir())?;
        staged.contract = Some(contract);
        Ok(staged)
    }

    fn recheck(&self, ctx: &Context<'_>, done: &Staged) -> Result<(), Error> {
        recheck(ctx, done)
    }

    fn summary(&self, _ctx: &Context<'_>, s: &Staged) -> String {
        format!(
            "{} ref(s) on the private remote `{}`",
            s.refs.len(),
            s.remote
        )
    }
}
