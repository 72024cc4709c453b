//! Stage 4: tag the release commit, record every SHA in the manifest, install the hook that
//! refuses any move of the patch branch or tag, and (for every later stage and rerun) prove that
//! nothing frozen has moved, locally or on the private remote.

use git2::{ObjectType, Oid};

use super::{Built, Context, Frozen, Prepared, StageTimes};
use crate::error::Error;
use crate::git::{self, hook, remote};
use crate::journal::{self, Manifest};

pub fn run(
    ctx: &Context<'_>,
    prepared: &Prepared,
    built: &Built,
    times: &StageTimes,
) -> Result<Frozen, Error> {
    super::prepare::recheck(ctx, prepared)?;
    super::build::recheck(ctx, built)?;
    let plan = ctx.plan;
    let release = Oid::from_str(&prepared.release_commit)
        .map_err(|_| Error::integrity("the journal's release commit is not a commit id"))?;
    let tag_ref = format!("refs/tags/{}", prepared.tag);
    let tag_object = match ctx.repo.ref_target(&tag_ref) {
        // A run that stopped right after tagging: the tag is ours if it names the release commit.
        Some(existing) if ctx.repo.resolve_local(&tag_ref) == Some(release) => existing,
        Some(existing) => {
            return Err(Error::integrity(format!(
                "{tag_ref} exists and points at {existing}, not at the release commit {release}"
            )));
        }
        None => {
            let object = ctx
                .repo
                .repo
                .find_object(release, Some(ObjectType::Commit))
                .map_err(git::failed("reading the release commit"))?;
            // The release commit's committer and time: the tag, like the commit, comes out the
            // same in a dry run and in the real run.
            let tagger = object
                .as_commit()
                .map(|c| c.committer().to_owned())
                .ok_or_else(|| Error::integrity("the release commit is not a commit"))?;
            let fixes: String = prepared
                .fix_commits
                .iter()
                .map(|c| format!("  {} {}\n", crate::git::abbrev(&c.sha), c.subject))
                .collect();
            let message = format!(
                "{tag}\n\nSecurity patch release {version} of line {line}: {previous} + the fix.\n\n{fixes}",
                tag = prepared.tag,
                version = plan.version,
                line = plan.line,
                previous = prepared.previous_tag,
            );
            git::create_own_ref(ctx.repo, &tag_ref, || {
                ctx.repo
                    .repo
                    .tag(&prepared.tag, &object, &tagger, &message, false)
            })?
        }
    };
    let frozen_at = journal::now();
    let manifest = Manifest {
        format: 1,
        pipeline: plan.pipeline.clone(),
        line: plan.line.clone(),
        previous_tag: prepared.previous_tag.clone(),
        tag: prepared.tag.clone(),
        version: plan.version.clone(),
        patch_branch: prepared.patch_branch.clone(),
        release_commit: prepared.release_commit.clone(),
        tree: prepared.tree.clone(),
        tag_object: tag_object.to_string(),
        fix_commits: prepared.fix_commits.clone(),
        artifacts: built.artifacts.clone(),
        checksums_file: built.checksums_file.clone(),
        checksums_sha256: built.checksums_sha256.clone(),
        prepared_at: times.prepared.clone(),
        built_at: times.built.clone(),
        verified_at: times.verified.clone(),
        frozen_at: frozen_at.clone(),
        contract: None,
        osv: None,
    };
    manifest.write(ctx.state_dir())?;
    let hook = hook::freeze(
        ctx.repo,
        &[
            hook::FrozenRef {
                refname: format!("refs/heads/{}", prepared.patch_branch),
                target: release,
                since: frozen_at.clone(),
                release: prepared.tag.clone(),
            },
            hook::FrozenRef {
                refname: tag_ref,
                target: tag_object,
                since: frozen_at,
                release: prepared.tag.clone(),
            },
        ],
    )?;
    Ok(Frozen {
        tag_object: tag_object.to_string(),
        hook: hook.display().to_string(),
    })
}

fn moved(what: &str, expected: &str, actual: impl std::fmt::Display) -> Error {
    Error::integrity(format!(
        "{what} moved after the freeze: it was {expected}, it is now {actual}"
    ))
    .with_hint("a frozen release must not change; find out who moved it, put it back, or cut a new patch release")
}

/// Proves the release commit, the tag and the artifacts are exactly what was frozen: in the clone,
/// on the private remote (where they may not be yet, but must not differ), and on disk.
pub fn prove(ctx: &Context<'_>, manifest: &Manifest) -> Result<(), Error> {
    prove_in(
        ctx.repo,
        ctx.git,
        &ctx.pipeline.repository.private,
        Some(&ctx.dist_dir()),
        manifest,
    )
}

/// [`prove`] with everything named: `dist` is the folder of the built artifacts (`None`: the
/// refs only, for the instant of publishing, when hashing gigabytes would make it late).
pub fn prove_in(
    repo: &crate::git::LocalRepo,
    git: &crate::git::cli::GitCli,
    private_remote: &str,
    dist: Option<&std::path::Path>,
    manifest: &Manifest,
) -> Result<(), Error> {
    prove_against(
        repo,
        &remote::list(git, "private", private_remote)?,
        dist,
        manifest,
    )
}

/// [`prove_in`] against the private remote as already listed: the lines of a release of several
/// lines are proven against one listing, right before their one push.
pub fn prove_against(
    repo: &crate::git::LocalRepo,
    private: &remote::RemoteRefs,
    dist: Option<&std::path::Path>,
    manifest: &Manifest,
) -> Result<(), Error> {
    let branch = format!("refs/heads/{}", manifest.patch_branch);
    let tag = format!("refs/tags/{}", manifest.tag);
    match repo.ref_target(&branch) {
        Some(oid) if oid.to_string() == manifest.release_commit => {}
        Some(oid) => {
            return Err(moved(
                &format!("{branch} in the clone"),
                &manifest.release_commit,
                oid,
            ));
        }
        None => {
            return Err(moved(
                &format!("{branch} in the clone"),
                &manifest.release_commit,
                "deleted",
            ));
        }
    }
    match repo.ref_target(&tag) {
        Some(oid) if oid.to_string() == manifest.tag_object => {}
        Some(oid) => {
            return Err(moved(
                &format!("{tag} in the clone"),
                &manifest.tag_object,
                oid,
            ));
        }
        None => {
            return Err(moved(
                &format!("{tag} in the clone"),
                &manifest.tag_object,
                "deleted",
            ));
        }
    }
    let release = Oid::from_str(&manifest.release_commit)
        .map_err(|_| Error::integrity("the manifest's release commit is not a commit id"))?;
    let tree = repo
        .repo
        .find_commit(release)
        .map_err(git::failed("reading the release commit"))?
        .tree_id();
    if tree.to_string() != manifest.tree {
        return Err(moved("the release commit's tree", &manifest.tree, tree));
    }
    if let Some(oid) = private.heads.get(&manifest.patch_branch)
        && oid.to_string() != manifest.release_commit
    {
        return Err(moved(
            &format!("{branch} on {}", private.describe()),
            &manifest.release_commit,
            oid,
        ));
    }
    if let Some(t) = private.tags.get(&manifest.tag)
        && t.object.to_string() != manifest.tag_object
    {
        return Err(moved(
            &format!("{tag} on {}", private.describe()),
            &manifest.tag_object,
            t.object,
        ));
    }
    let Some(dist) = dist else {
        return Ok(());
    };
    super::build::recheck_dist(
        dist,
        &Built {
            artifacts: manifest.artifacts.clone(),
            checksums_file: manifest.checksums_file.clone(),
            checksums_sha256: manifest.checksums_sha256.clone(),
            spec: String::new(),
        },
    )
}

/// Stage 4: the release commit, its tag and the checksums made final.
pub struct Freeze<'a> {
    pub prepared: &'a Prepared,
    pub built: &'a Built,
    pub times: &'a super::StageTimes,
}

impl super::Step for Freeze<'_> {
    const STAGE: crate::journal::Stage = crate::journal::Stage::Freeze;
    // Proven in full before the stages after the freeze run (see `stages::run`).
    const RESUMED: &'static str = "release commit, tag and checksums proven unchanged";
    type Output = Frozen;

    fn run(&self, ctx: &Context<'_>) -> Result<Frozen, Error> {
        run(ctx, self.prepared, self.built, self.times)
    }

    fn summary(&self, ctx: &Context<'_>, f: &Frozen) -> String {
        format!(
            "tag {} ({})",
            ctx.plan.tag,
            crate::git::abbrev(&f.tag_object)
        )
    }
}
