//! Stage 5: pick the fix onto every target branch of the public repository (master and the
//! release branches), in memory, one branch per clean pick. A target that conflicts is left for a
//! hand-made backport (`on_conflict: report`) or stops the run (`on_conflict: fail`).
//!
//! Picks are committed with the release commit's committer and time, so a rerun produces the
//! very same SHAs and finds its own branches rather than duplicates.

use git2::Oid;
use serde::{Deserialize, Serialize};

use super::{Context, Prepared};
use crate::error::Error;
use crate::git::apply::{self, ApplyError};
use crate::git::{self, remote, short};
use crate::pipeline::OnConflict;
use crate::pipeline::template::Var;
use crate::report::Event;

/// A clean pick, on its own branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pick {
    pub target: String,
    pub target_commit: String,
    pub branch: String,
    pub commit: String,
    /// The commits picked (the fix, or the target's own backport), oldest first: with the
    /// target commit and the release commit's committer they make `commit` again, which is how
    /// publish proves a pick instead of trusting the journal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<String>,
}

/// A target that needs a manual backport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manual {
    pub target: String,
    pub target_commit: String,
    pub fix_commit: String,
    pub subject: String,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Picked {
    pub picks: Vec<Pick>,
    pub manual: Vec<Manual>,
    /// Every target the `onto`/`skip` globs matched, picked or not.
    #[serde(default)]
    pub targets: Vec<String>,
}

/// The public branches the fix goes to: matching `onto`, not matching `skip`, never the patch
/// branch itself.
pub fn targets(ctx: &Context<'_>) -> Vec<(String, Oid)> {
    ctx.plan
        .targets
        .iter()
        .filter_map(|name| Some((name.clone(), *ctx.plan.public.heads.get(name)?)))
        .collect()
}

pub fn run(ctx: &Context<'_>, prepared: &Prepared) -> Result<Picked, Error> {
    let Some(spec) = &ctx.pipeline.cherry_pick else {
        ctx.reporter.emit(Event::Note(
            "no cherry_pick section in the pipeline: no targets",
        ));
        return Ok(Picked::default());
    };
    let targets = targets(ctx);
    let plan = ctx.plan;
    // The targets' tips and any per-target backport branches must be in the clone.
    let wanted: Vec<(String, Oid)> = targets
        .iter()
        .map(|(name, oid)| (format!("refs/heads/{name}"), *oid))
        .collect();
    remote::fetch_objects(ctx.git, ctx.repo, &plan.public, &wanted)?;
    let mut backports = Vec::new();
    for (target, branch) in &ctx.pipeline.fix.per_target {
        let oid = *plan.private.heads.get(branch).ok_or_else(|| {
            Error::bad_input(format!(
                "fix.per_target: the backport branch `{branch}` for {target} does not exist on {}",
                plan.private.describe()
            ))
        })?;
        backports.push((format!("refs/heads/{branch}"), oid));
    }
    remote::fetch_objects(ctx.git, ctx.repo, &plan.private, &backports)?;

    let release = Oid::from_str(&prepared.release_commit)
        .map_err(|_| Error::integrity("the journal's release commit is not a commit id"))?;
    let committer = ctx
        .repo
        .repo
        .find_commit(release)
        .map_err(git::failed("reading the release commit"))?
        .committer()
        .to_owned();

    let mut picked = Picked {
        targets: targets.iter().map(|(name, _)| name.clone()).collect(),
        ..Picked::default()
    };
    // Every pick first, with its objects in memory, written to the clone as one pack at the end;
    // then the branches, which must name objects on disk.
    let mut planned = Vec::new();
    for (target, tip) in &targets {
        let commits = match ctx.pipeline.fix.per_target.get(target) {
            Some(branch) => {
                let backport = *plan.private.heads.get(branch).unwrap_or(tip);
                git::range(ctx.repo, *tip, backport, "the backport commits")?
            }
            None => plan
                .pick_fix
                .get(target.as_str())
                .cloned()
                .unwrap_or_else(|| plan.fix_oids.clone()),
        };
        let branch = spec.branch.expand(|v| match v {
            Var::Target => target.clone(),
            other => plan.value(other, Some(&prepared.release_commit)),
        });
        if let Some(why) = git::bad_short_ref("branch", &branch) {
            return Err(Error::bad_input(format!(
                "cherry_pick.branch gives, for the target {target}, {why}"
            )));
        }
        planned.push((target, tip, commits, branch));
    }
    let outcomes = apply::in_memory(ctx.repo, |picker| {
        planned
            .iter()
            .map(|(_, tip, commits, _)| apply::apply(picker, **tip, commits, &committer))
            .collect::<Vec<_>>()
    })?;
    for ((target, tip, commits, branch), outcome) in planned.into_iter().zip(outcomes) {
        let refname = format!("refs/heads/{branch}");
        match outcome {
            Ok(commit) => {
                create_branch(ctx, &refname, commit, target)?;
                ctx.reporter.emit(Event::Note(&format!(
                    "{target}: picked onto {} as {branch} ({})",
                    short(*tip),
                    short(commit)
                )));
                picked.picks.push(Pick {
                    target: target.clone(),
                    target_commit: tip.to_string(),
                    branch,
                    commit: commit.to_string(),
                    fix: commits.iter().map(Oid::to_string).collect(),
                });
            }
            Err(ApplyError::Conflict {
                commit,
                subject,
                paths,
            }) => {
                let manual = Manual {
                    target: target.clone(),
                    target_commit: tip.to_string(),
                    fix_commit: commit.to_string(),
                    subject,
                    paths,
                };
                if spec.on_conflict == OnConflict::Fail {
                    return Err(Error::stage_failed(format!(
                        "the fix conflicts with {target}: fix commit {} `{}` in {}",
                        short(commit),
                        manual.subject,
                        manual.paths.join(", ")
                    ))
                    .with_hint(format!(
                        "backport the fix to {target} on a private branch and name it in fix.per_target, \
                         or set cherry_pick.on_conflict: report to go on without it"
                    )));
                }
                ctx.reporter.emit(Event::Note(&format!(
                    "{target}: needs a manual backport: fix commit {} conflicts in {}",
                    short(commit),
                    manual.paths.join(", ")
                )));
                picked.manual.push(manual);
            }
            Err(ApplyError::Empty { commit, subject }) => {
                ctx.reporter.emit(Event::Note(&format!(
                    "{target}: already has the fix (fix commit {} `{subject}` changes nothing there)",
                    short(commit)
                )));
            }
            Err(ApplyError::Merge { commit, subject }) => {
                return Err(Error::bad_input(format!(
                    "the backport for {target} contains the merge {} `{subject}`; picks must be plain commits",
                    short(commit)
                )));
            }
            Err(ApplyError::Git(e)) => return Err(e.into()),
        }
    }
    Ok(picked)
}

/// Creates the pick branch; a branch already there with the same commit is ours from an
/// interrupted run.
fn create_branch(ctx: &Context<'_>, refname: &str, commit: Oid, target: &str) -> Result<(), Error> {
    match ctx.repo.ref_target(refname) {
        Some(existing) if existing == commit => Ok(()),
        Some(existing) => Err(Error::bad_input(format!(
            "{refname} (the pick branch for {target}) exists in the clone at {existing}, not at the pick {commit}"
        ))
        .with_hint("delete that branch or change cherry_pick.branch")),
        None => {
            let log = format!("embargo: cherry-pick of the fix onto {target}");
            git::create_own_ref(ctx.repo, refname, || {
                ctx.repo.repo.reference(refname, commit, false, &log)
            })?;
            Ok(())
        }
    }
}

/// On a rerun: every pick branch is still where it was made.
pub fn recheck(ctx: &Context<'_>, picked: &Picked) -> Result<(), Error> {
    for pick in &picked.picks {
        let refname = format!("refs/heads/{}", pick.branch);
        match ctx.repo.ref_target(&refname) {
            Some(oid) if oid.to_string() == pick.commit => {}
            other => {
                return Err(Error::integrity(format!(
                    "the pick branch {refname} moved: it was {}, it is now {}",
                    pick.commit,
                    other
                        .map(|o| o.to_string())
                        .unwrap_or_else(|| "deleted".into())
                )));
            }
        }
    }
    Ok(())
}

/// Stage 5: the fix picked onto every target branch, or the target named for a manual backport.
pub struct CherryPick<'a> {
    pub prepared: &'a Prepared,
}

impl super::Step for CherryPick<'_> {
    const STAGE: crate::journal::Stage = crate::journal::Stage::CherryPick;
    const RESUMED: &'static str = "pick branches unchanged";
    type Output = Picked;

    fn run(&self, ctx: &Context<'_>) -> Result<Picked, Error> {
        run(ctx, self.prepared)
    }

    fn recheck(&self, ctx: &Context<'_>, done: &Picked) -> Result<(), Error> {
        recheck(ctx, done)
    }

    fn summary(&self, _ctx: &Context<'_>, p: &Picked) -> String {
        format!(
            "{} target(s) picked, {} need a manual backport",
            p.picks.len(),
            p.manual.len()
        )
    }
}
