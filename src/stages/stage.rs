//! Stage 6 (its git half): push the patch branch, the tag and every pick branch to the **private**
//! remote in one `git push --atomic`: every ref lands or none does. Nothing goes to the public
//! remote before the embargo.

use serde::{Deserialize, Serialize};

use super::cherry_pick::Picked;
use super::{Context, Frozen, Prepared};
use crate::error::Error;
use crate::git::cli::{self, Output};
use crate::git::remote;
use crate::report::Event;

/// A ref as pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRef {
    pub refname: String,
    pub target: String,
}

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

pub fn run(
    ctx: &Context<'_>,
    prepared: &Prepared,
    built: &super::Built,
    frozen: &Frozen,
    picked: &Picked,
) -> Result<Staged, Error> {
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
    let refs = refs(prepared, frozen, picked);
    // `<sha>:<ref>` pushes exactly the recorded object, whatever the local ref says by now.
    let specs: Vec<String> = refs
        .iter()
        .map(|r| format!("{}:{}", r.target, r.refname))
        .collect();
    let mut args = vec!["push", "--atomic", "--porcelain", private.as_str()];
    args.extend(specs.iter().map(String::as_str));
    let summary = format!(
        "pushing {} ref(s) to the private remote `{private}` in one atomic push",
        refs.len()
    );
    ctx.reporter.emit(Event::Note(&summary));
    let (ok, output) = ctx.git.output(&summary, &args)?;
    if !ok {
        return Err(explain_push(&summary, &args, &output, private));
    }
    crate::failpoint::hit("stage:after-private-push");
    let mut staged = Staged {
        // As written for people (the journal travels between CI jobs): without credentials.
        // Every git command uses the pipeline's remote, which the contract holds unchanged.
        remote: crate::redact::redact_url(private),
        refs,
        draft: None,
        contract: None,
    };
    recheck(ctx, &staged)?;
    if let Some(spec) = &ctx.pipeline.github {
        if ctx.github_offline {
            ctx.reporter.emit(Event::Note(&format!(
                "the draft release on {} is described below, not created (no GitHub here)",
                spec.repository
            )));
        } else {
            staged.draft = Some(super::draft::run(ctx, spec, prepared, built)?);
        }
    }
    Ok(staged)
}

/// Names the refs the remote rejected (from `--porcelain` on stdout:
/// `!\t<src>:<dst>\t[rejected] (why)`).
fn explain_push(summary: &str, args: &[&str], output: &Output, remote: &str) -> Error {
    let rejected: Vec<String> = output
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("!\t"))
        .map(|l| {
            let mut parts = l.split('\t');
            let dst = parts
                .next()
                .and_then(|spec| spec.split_once(':'))
                .map(|(_, dst)| dst)
                .unwrap_or(l);
            format!("{dst} {}", parts.collect::<Vec<_>>().join(" "))
        })
        .collect();
    if rejected.is_empty() {
        let error: Error = cli::failure(summary, args, output).into();
        return error.with_hint(format!(
            "nothing was pushed (the push is atomic); check access to the private remote `{remote}` and run again"
        ));
    }
    Error::stage_failed(format!(
        "the private remote `{remote}` rejected the push, so no ref was updated: {}",
        rejected.join("; ")
    ))
    .with_hint("a ref of the same name already exists there with other content; find out whose it is, then run again")
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
    let private = remote::list(git, "private", private_remote)?;
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
    remote::fetch_objects(git, repo, &private, &wanted)?;
    for (refname, oid) in &wanted {
        repo.repo
            .reference(
                refname,
                *oid,
                false,
                "embargo: staged ref brought back from the private remote",
            )
            .map_err(crate::git::failed(format_args!("creating {refname}")))?;
    }
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
