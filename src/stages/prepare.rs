//! Stage 1: the patch branch = the latest patch release tag + the fix commits, and nothing else.
//! The fix is applied in memory; the only thing written to the clone is the new branch.

use git2::Oid;

use super::{Context, Prepared};
use crate::error::Error;
use crate::git::apply::{self, ApplyError};
use crate::git::{self, LocalRepo, short};
use crate::plan::Plan;

/// Names the patch branch (ref and commit) before it is created, so that a run killed between
/// creating it and journaling it can tell its own branch from someone else's.
const PENDING: &str = "prepare.pending";

/// The patch branch this release created just before a crash, if that is what is in the way.
pub fn pending_branch(plan: &Plan, repo: &LocalRepo) -> Option<Oid> {
    let text = std::fs::read_to_string(plan.state_dir.join(PENDING)).ok()?;
    let (refname, sha) = text.trim().split_once(' ')?;
    let oid = Oid::from_str(sha).ok()?;
    let only_our_branch =
        plan.already_exists.len() == 1 && plan.already_exists[0].starts_with("branch ");
    (refname == plan.branch_ref() && repo.ref_target(refname) == Some(oid) && only_our_branch)
        .then_some(oid)
}

pub fn run(ctx: &Context<'_>) -> Result<Prepared, Error> {
    let plan = ctx.plan;
    let adopted = if plan.already_exists.is_empty() {
        None
    } else {
        Some(pending_branch(plan, ctx.repo).ok_or_else(|| taken(plan, ctx.pipeline))?)
    };
    let release_commit = match adopted {
        Some(oid) => oid,
        None => {
            // Dated like the fix's last commit (unless GIT_COMMITTER_DATE says otherwise), so that
            // the same fix on the same tag gives the same release commit in a dry run and in the
            // real run, today or tomorrow.
            let last_fix = plan
                .fix_oids
                .last()
                .and_then(|oid| ctx.repo.repo.find_commit(*oid).ok())
                .map(|c| c.committer().when());
            let committer = ctx.repo.committer_at(last_fix)?;
            let oid = apply::apply(ctx.repo, plan.previous_commit, &plan.fix_oids, &committer)
                .map_err(|e| explain(e, &plan.previous.tag))?;
            write_pending(&plan.state_dir, &plan.branch_ref(), oid)?;
            let log = format!(
                "embargo: patch branch {} = {} + fix",
                plan.patch_branch, plan.previous.tag
            );
            git::create_own_ref(ctx.repo, &plan.branch_ref(), || {
                ctx.repo
                    .repo
                    .reference(&plan.branch_ref(), oid, false, &log)
            })?;
            oid
        }
    };
    let commit = ctx
        .repo
        .repo
        .find_commit(release_commit)
        .map_err(git::failed("reading the release commit"))?;
    Ok(Prepared {
        release_commit: release_commit.to_string(),
        tree: commit.tree_id().to_string(),
        previous_tag: plan.previous.tag.clone(),
        tag: plan.tag.clone(),
        patch_branch: plan.patch_branch.clone(),
        fix_commits: plan.fix_commits.clone(),
    })
}

fn write_pending(state_dir: &std::path::Path, refname: &str, oid: Oid) -> Result<(), Error> {
    let path = state_dir.join(PENDING);
    let fail =
        |e: std::io::Error| Error::stage_failed(format!("cannot write {}: {e}", path.display()));
    let mut file = std::fs::File::create(&path).map_err(fail)?;
    std::io::Write::write_all(&mut file, format!("{refname} {oid}\n").as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// The patch version's tag or branch exists already: the release must not start over it.
pub fn taken(plan: &Plan, pipeline: &crate::pipeline::Pipeline) -> Error {
    let error = Error::bad_input(format!(
        "the patch version {} is taken: {}",
        plan.tag,
        plan.already_exists.join("; ")
    ));
    // Only the patch branch, only on the private remote: what the prepare job of a build split
    // across runners pushes before the shards are built.
    let handed_off = !pipeline.build.matrix.is_empty()
        && plan.already_exists.len() == 1
        && plan.already_exists[0].starts_with(&format!("branch {} on ", plan.patch_branch))
        && plan.already_exists[0].contains("private remote");
    if handed_off {
        return error.with_hint(format!(
            "a split build's prepare job (`embargo run --until prepare`) pushes the patch branch there before the shards are built: \
             if such a run failed later, re-run its failed jobs (they go on from its prepare job's state folder), \
             or take the release back with `embargo abort` in a clone holding that state folder ({})",
            plan.state_dir.display()
        ));
    }
    error.with_hint(format!(
        "if a release of {} is under way, `embargo status` shows it; if the line moved on, the next patch \
         needs the release tag on the public remote; to start over, delete the branch and tag and {}",
        plan.tag,
        plan.state_dir.display()
    ))
}

fn explain(e: ApplyError, onto: &str) -> Error {
    match e {
        ApplyError::Conflict {
            commit,
            subject,
            paths,
        } => Error::stage_failed(format!(
            "fix commit {} `{subject}` conflicts with {onto} in: {}",
            short(commit),
            paths.join(", ")
        ))
        .with_hint(format!(
            "backport the fix to {onto} by hand on a private branch and point fix.branch (or --fix) at it"
        )),
        ApplyError::Empty { commit, subject } => Error::stage_failed(format!(
            "fix commit {} `{subject}` changes nothing on {onto}: is the fix already in that release?",
            short(commit)
        )),
        ApplyError::Merge { commit, subject } => Error::bad_input(format!(
            "fix commit {} `{subject}` is a merge; a security fix must be a series of plain commits",
            short(commit)
        )),
        ApplyError::Git(g) => g.into(),
    }
}

/// On a rerun: the patch branch must still be the release commit. (A fix that moved since is
/// drift, refused or kept before any stage runs: see `contract`.)
pub fn recheck(ctx: &Context<'_>, prepared: &Prepared) -> Result<(), Error> {
    let expected = Oid::from_str(&prepared.release_commit)
        .map_err(|_| Error::integrity("the journal's release commit is not a commit id"))?;
    let branch = format!("refs/heads/{}", prepared.patch_branch);
    match ctx.repo.ref_target(&branch) {
        Some(actual) if actual == expected => {}
        Some(actual) => {
            return Err(Error::integrity(format!(
                "the patch branch {branch} moved: it was the release commit {expected}, it is now {actual}"
            ))
            .with_hint("a built commit must keep its SHA; move the branch back or start a new patch release"));
        }
        None => {
            return Err(Error::integrity(format!(
                "the patch branch {branch} (release commit {expected}) is gone from the clone"
            ))
            .with_hint(format!(
                "recreate it with `git branch {} {expected}`",
                prepared.patch_branch
            )));
        }
    }
    Ok(())
}

/// A later job of a build split across runners starts from a fresh clone and a copy of the state
/// folder: the patch branch that `run --until prepare` pushed to the private remote is brought
/// back into the clone, proven to be the journal's release commit. Returns whether it was.
pub fn bring_back(
    repo: &crate::git::LocalRepo,
    git: &crate::git::cli::GitCli,
    private_remote: &str,
    prepared: &Prepared,
) -> Result<bool, Error> {
    let branch = format!("refs/heads/{}", prepared.patch_branch);
    if repo.ref_target(&branch).is_some() {
        return Ok(false);
    }
    let expected = Oid::from_str(&prepared.release_commit)
        .map_err(|_| Error::integrity("the journal's release commit is not a commit id"))?;
    let private = crate::git::remote::list(git, "private", private_remote)?;
    match private.target(&branch) {
        Some(oid) if oid == expected => {}
        Some(other) => {
            return Err(Error::integrity(format!(
                "the patch branch {branch} is not in this clone, and {} has {other} for it, but the release commit is {expected}",
                private.describe(),
            ))
            .with_hint(
                "someone moved it there: find out who, then take the release back with `embargo abort` and prepare again",
            ));
        }
        None => {
            return Err(Error::integrity(format!(
                "the patch branch {branch} is neither in this clone nor on {}: the release commit {expected} is nowhere to build from",
                private.describe(),
            ))
            .with_hint(
                "`embargo run --until prepare` pushes it there: run it again with this state folder (it pushes the same commit), or find out who deleted it",
            ));
        }
    }
    crate::git::remote::bring_in(
        git,
        repo,
        &private,
        &[(branch, expected)],
        "embargo: patch branch brought back from the private remote",
    )?;
    Ok(true)
}

/// Stage 1: the patch branch from the latest patch tag plus the fix.
pub struct Prepare;

impl super::Step for Prepare {
    const STAGE: crate::journal::Stage = crate::journal::Stage::Prepare;
    const RESUMED: &'static str = "patch branch unchanged";
    type Output = Prepared;

    fn run(&self, ctx: &Context<'_>) -> Result<Prepared, Error> {
        run(ctx)
    }

    fn recheck(&self, ctx: &Context<'_>, done: &Prepared) -> Result<(), Error> {
        recheck(ctx, done)
    }

    fn summary(&self, _ctx: &Context<'_>, p: &Prepared) -> String {
        format!(
            "{} = {} + {} fix commit(s) -> {}",
            p.patch_branch,
            p.previous_tag,
            p.fix_commits.len(),
            crate::git::abbrev(&p.release_commit)
        )
    }
}
