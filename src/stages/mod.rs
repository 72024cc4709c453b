//! The stages of a release, run in order through the journal: a stage that completed in an
//! earlier run is not run again; its outputs are re-checked instead.

pub mod build;
pub mod cherry_pick;
pub mod draft;
pub mod freeze;
pub mod prepare;
pub mod publish;
pub mod shards;
pub mod stage;
pub mod verify;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::contract::Contract;
use crate::error::Error;
use crate::git::LocalRepo;
use crate::git::cli::GitCli;
use crate::journal::{Artifact, FixCommit, Journal, Manifest, Progress, Stage};
use crate::pipeline::Pipeline;
use crate::plan::Plan;
use crate::report::{Event, Reporter};

/// Everything a stage may use. Stages report through `reporter` and never print.
pub struct Context<'a> {
    pub pipeline: &'a Pipeline,
    pub plan: &'a Plan,
    pub repo: &'a LocalRepo,
    pub git: &'a GitCli,
    pub reporter: &'a dyn Reporter,
    /// A dry run: stages 1 to 5 for real (in the scratch repository), then 6 and 7 only described.
    pub dry_run: bool,
    /// The user's clone (where `notes_file` is read from), even in a dry run.
    pub clone_dir: &'a Path,
    /// GitHub calls are described instead of made (the demo has no GitHub to talk to).
    pub github_offline: bool,
    /// The release's security advisory, when one is given: its OSV record is written once the
    /// release commit is frozen.
    pub advisory: Option<&'a crate::advisory::Advisory>,
    /// The advisory's OSV record as attached to the draft (see [`osv_record`]): set by [`run`]
    /// once it is written after the freeze; `None` before, and without an advisory.
    pub osv: Option<&'a Artifact>,
    /// The line's part in a release of several lines, whose private push is one for all.
    pub set: SetStep,
    /// The folder holding the shards built by `embargo build --shard` on other machines: the
    /// build stage proves and takes them instead of building (`embargo run --shards`).
    pub shards: Option<&'a Path>,
}

/// How a line of a release of several lines goes through stage 6: every line's refs reach the
/// private remote in one atomic push, made by the first line's stage 6.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SetStep {
    /// A release of one line: stage 6 pushes its own refs.
    #[default]
    Alone,
    /// Stages 1 to 5 only: every line is frozen and picked before anything is pushed.
    UpToStaging,
    /// Stage 6, pushing these refs (every line's) in its one push.
    PushingFor(Vec<stage::PushedRef>),
    /// Stage 6 without a push of its own: the first line's push carried this line's refs.
    Pushed,
}

impl Context<'_> {
    pub fn state_dir(&self) -> &Path {
        &self.plan.state_dir
    }

    pub fn dist_dir(&self) -> PathBuf {
        self.plan.state_dir.join("dist")
    }

    /// Whether the release becomes GitHub's "latest": with `auto`, only when the patch version is
    /// above every final release, so a patch on an older line never takes "latest" from a newer
    /// one.
    pub fn make_latest(&self) -> bool {
        use crate::pipeline::MakeLatest;
        match self.pipeline.github.as_ref().map(|g| g.make_latest) {
            Some(MakeLatest::True) => true,
            Some(MakeLatest::False) => false,
            Some(MakeLatest::Auto) | None => self.plan.highest_release,
        }
    }

    /// Environment variables a build or check must not inherit: the publishing token.
    pub fn secret_env(&self) -> Vec<String> {
        self.pipeline
            .github
            .iter()
            .map(|g| g.token_env.clone())
            .collect()
    }
}

/// What prepare produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prepared {
    pub release_commit: String,
    pub tree: String,
    pub previous_tag: String,
    pub tag: String,
    pub patch_branch: String,
    pub fix_commits: Vec<FixCommit>,
}

/// What build produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Built {
    pub artifacts: Vec<Artifact>,
    pub checksums_file: String,
    pub checksums_sha256: String,
    /// The build section's fingerprint when it ran (see `contract::build_fingerprint`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub spec: String,
}

/// What verify proved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verified {
    pub checks: Vec<String>,
    /// The checks' fingerprint when they ran (see `contract::checks_fingerprint`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub spec: String,
}

/// What freeze recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frozen {
    pub tag_object: String,
    pub hook: String,
}

/// The outcome of `embargo run`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub state_dir: PathBuf,
    pub previous_tag: String,
    pub tag: String,
    pub version: String,
    pub patch_branch: String,
    pub release_commit: String,
    pub tag_object: String,
    pub fix_commits: Vec<FixCommit>,
    pub artifacts: Vec<Artifact>,
    pub checksums_file: String,
    pub checks_passed: Vec<String>,
    pub hook: String,
    /// The fix on each target branch, and the targets that need a manual backport.
    pub picks: Vec<cherry_pick::Pick>,
    pub manual_backports: Vec<cherry_pick::Manual>,
    /// What is on the private remote now (nothing, in a dry run).
    pub staged: stage::Staged,
    pub dry_run: bool,
    /// The pushes and API calls of stages 6 and 7: the ones a dry run would make, or the ones
    /// this run made (stage 6) and publishing will make (stage 7).
    pub actions: crate::actions::Actions,
    /// Stages that were already done and only re-checked.
    pub resumed: Vec<Stage>,
    /// The advisory's OSV record in the state folder, when an advisory is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osv: Option<PathBuf>,
}

fn detail<T: DeserializeOwned>(journal: &Journal, stage: Stage) -> Result<Option<T>, Error> {
    journal
        .completed(stage)
        .map(|e| {
            serde_json::from_value(e.detail.clone()).map_err(|err| {
                Error::integrity(format!(
                    "the journal's record of the {} stage is damaged: {err}",
                    stage.name()
                ))
            })
        })
        .transpose()
}

/// One stage of a release, run through the journal by [`Runner`]: the work, how a run that
/// completed earlier is re-checked instead of repeated, and what the stage says. Each stage is
/// one type in its own file holding what it works from; [`run`] lists them in order.
pub trait Step {
    const STAGE: Stage;
    /// Said when an earlier run completed the stage and its outputs were re-checked.
    const RESUMED: &'static str;
    type Output: Serialize + DeserializeOwned;

    fn run(&self, ctx: &Context<'_>) -> Result<Self::Output, Error>;

    /// Proves that what an earlier run produced still holds (nothing to prove by default).
    fn recheck(&self, _ctx: &Context<'_>, _done: &Self::Output) -> Result<(), Error> {
        Ok(())
    }

    /// One line for the stage's `ok` line.
    fn summary(&self, ctx: &Context<'_>, out: &Self::Output) -> String;
}

/// Runs stages through the journal: a stage that completed in an earlier run is re-checked and
/// skipped; otherwise it runs, journaled as started, then completed or failed.
pub struct Runner<'r, 'c> {
    ctx: &'r Context<'c>,
    journal: &'r mut Journal,
    /// Stages that were already done and only re-checked.
    resumed: Vec<Stage>,
}

impl<'r, 'c> Runner<'r, 'c> {
    pub fn new(ctx: &'r Context<'c>, journal: &'r mut Journal) -> Self {
        Runner {
            ctx,
            journal,
            resumed: Vec::new(),
        }
    }

    pub fn stage<S: Step>(&mut self, step: &S) -> Result<S::Output, Error> {
        if let Some(done) = detail::<S::Output>(self.journal, S::STAGE)? {
            step.recheck(self.ctx, &done)?;
            self.ctx
                .reporter
                .emit(Event::StageResumed(S::STAGE, S::RESUMED));
            self.resumed.push(S::STAGE);
            return Ok(done);
        }
        let ctx = self.ctx;
        journaled(
            ctx.reporter,
            self.journal,
            S::STAGE,
            |out| step.summary(ctx, out),
            || step.run(ctx),
        )
    }
}

/// Runs `work` as `stage` in the journal: started, then completed with what it produced, or
/// failed with why; reported as it goes. Every stage goes through here, publishing included.
pub fn journaled<T: Serialize>(
    reporter: &dyn Reporter,
    journal: &mut Journal,
    stage: Stage,
    summary: impl Fn(&T) -> String,
    work: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    reporter.emit(Event::StageStarted(stage));
    journal.record(stage, Progress::Started, serde_json::Value::Null, None)?;
    crate::failpoint::hit(&format!("{}:started", stage.name()));
    let started = Instant::now();
    match work() {
        Ok(out) => {
            crate::failpoint::hit(&format!("{}:before-journal", stage.name()));
            let value = serde_json::to_value(&out).map_err(|e| {
                Error::stage_failed(format!("cannot record the {} stage: {e}", stage.name()))
            })?;
            journal.record(stage, Progress::Completed, value, None)?;
            crate::failpoint::hit(&format!("{}:completed", stage.name()));
            reporter.emit(Event::StageFinished {
                stage,
                elapsed: started.elapsed(),
                summary: &summary(&out),
            });
            Ok(out)
        }
        Err(e) => {
            reporter.emit(Event::StageFailed(stage));
            journal.record(
                stage,
                Progress::Failed,
                serde_json::Value::Null,
                Some(e.message.clone()),
            )?;
            Err(e)
        }
    }
}

/// What `embargo run --until prepare` did: the release commit, made (or re-checked) and handed
/// to the shards' jobs through the private remote.
#[derive(Debug, Clone, Serialize)]
pub struct PrepareSummary {
    pub state_dir: PathBuf,
    pub previous_tag: String,
    pub tag: String,
    pub version: String,
    pub patch_branch: String,
    pub release_commit: String,
    pub tree: String,
    pub fix_commits: Vec<FixCommit>,
    /// The shards of build.matrix, each built by `embargo build --shard` on its own runner.
    pub shards: Vec<String>,
    /// The push of the release commit to the private remote (described only, in a dry run).
    pub handoff: crate::actions::Action,
    pub dry_run: bool,
    pub resumed: Vec<Stage>,
}

/// Stage 1 alone, then the release commit pushed privately for the shards' jobs.
pub fn prepare_only(ctx: &Context<'_>, journal: &mut Journal) -> Result<PrepareSummary, Error> {
    let mut runner = Runner::new(ctx, journal);
    let prepared = runner.stage(&prepare::Prepare)?;
    let handoff = stage::handoff(ctx, &prepared)?;
    Ok(PrepareSummary {
        state_dir: ctx.plan.state_dir.clone(),
        previous_tag: prepared.previous_tag,
        tag: prepared.tag,
        version: ctx.plan.version.clone(),
        patch_branch: prepared.patch_branch,
        release_commit: prepared.release_commit,
        tree: prepared.tree,
        fix_commits: prepared.fix_commits,
        shards: ctx
            .pipeline
            .build
            .matrix
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        handoff,
        dry_run: ctx.dry_run,
        resumed: runner.resumed,
    })
}

/// Runs the stages in order, resuming after the last completed one.
pub fn run(ctx: &Context<'_>, journal: &mut Journal) -> Result<RunSummary, Error> {
    let frozen_already = journal.completed(Stage::Freeze).is_some();
    let mut runner = Runner::new(ctx, journal);

    let prepared = runner.stage(&prepare::Prepare)?;
    if frozen_already {
        // Everything after the freeze starts by proving that nothing frozen has moved.
        freeze::prove(ctx, &Manifest::read(ctx.state_dir())?)?;
    }
    let built = runner.stage(&build::Build {
        prepared: &prepared,
    })?;
    let verified = runner.stage(&verify::Verify {
        prepared: &prepared,
    })?;
    let times = StageTimes::from(&*runner.journal);
    let frozen = runner.stage(&freeze::Freeze {
        prepared: &prepared,
        built: &built,
        times: &times,
    })?;
    // The GIT range ends at the release commit, which the freeze has just made final. Staging
    // attaches the record to the draft: from here on, every stage sees it in its context.
    let staged_already = runner.journal.completed(Stage::Stage).is_some();
    let osv = ctx
        .advisory
        .map(|advisory| osv_record(ctx, advisory, &prepared, &built, staged_already))
        .transpose()?
        .flatten();
    let ctx = &Context {
        osv: osv.as_ref(),
        set: ctx.set.clone(),
        ..*ctx
    };
    let mut runner = Runner {
        ctx,
        journal: runner.journal,
        resumed: runner.resumed,
    };
    let picked = runner.stage(&cherry_pick::CherryPick {
        prepared: &prepared,
    })?;
    let actions = publish::actions(ctx, &prepared, &built, &frozen, &picked);
    // A dry run stops here: stage 6 is what `actions.stage` describes.
    let staged = if ctx.dry_run || ctx.set == SetStep::UpToStaging {
        stage::Staged::default()
    } else {
        runner.stage(&stage::Stage {
            prepared: &prepared,
            built: &built,
            verified: &verified,
            frozen: &frozen,
            picked: &picked,
        })?
    };

    Ok(RunSummary {
        state_dir: ctx.plan.state_dir.clone(),
        previous_tag: prepared.previous_tag.clone(),
        tag: prepared.tag.clone(),
        version: ctx.plan.version.clone(),
        patch_branch: prepared.patch_branch.clone(),
        release_commit: prepared.release_commit.clone(),
        tag_object: frozen.tag_object,
        fix_commits: prepared.fix_commits,
        artifacts: built.artifacts,
        checksums_file: built.checksums_file,
        checks_passed: verified.checks,
        hook: frozen.hook,
        picks: picked.picks,
        manual_backports: picked.manual,
        staged,
        dry_run: ctx.dry_run,
        actions,
        resumed: runner.resumed,
        osv: osv
            .as_ref()
            .map(|_| ctx.state_dir().join(crate::advisory::osv::FILE_NAME)),
    })
}

/// The advisory's OSV record, attached to the draft release at staging. Until the release is
/// staged it follows the advisory file (written again when its bytes would differ, and recorded
/// in the manifest); once staged, the file is what was uploaded: it is never written again, only
/// proven to be the staged bytes. `None` for a release staged without one.
fn osv_record(
    ctx: &Context<'_>,
    advisory: &crate::advisory::Advisory,
    prepared: &Prepared,
    built: &Built,
    staged: bool,
) -> Result<Option<Artifact>, Error> {
    use crate::advisory::{osv, ranges};
    let mut manifest = Manifest::read(ctx.state_dir())?;
    if staged {
        let Some(recorded) = manifest.osv else {
            return Ok(None);
        };
        osv::prove(ctx.state_dir(), &recorded)?;
        return Ok(Some(recorded));
    }
    if let Some(clash) = built
        .artifacts
        .iter()
        .map(|a| a.name.as_str())
        .chain([built.checksums_file.as_str()])
        .find(|name| *name == osv::FILE_NAME)
    {
        return Err(Error::bad_input(format!(
            "the built file {clash} has the name of the advisory's OSV record, which is attached to the release under that name"
        ))
        .with_hint("rename that artifact in the pipeline's build section"));
    }
    let release_commit = git2::Oid::from_str(&prepared.release_commit)
        .ok()
        .and_then(|oid| ctx.repo.repo.find_commit(oid).ok())
        .ok_or_else(|| {
            Error::integrity(format!(
                "the release commit {} is not in the clone",
                prepared.release_commit
            ))
        })?;
    let lines = ranges::affected_lines(ctx.pipeline, ctx.plan);
    let repository = osv::repository_url(ctx.pipeline, &ctx.plan.public_urls);
    let record = osv::record(
        advisory,
        &osv::ReleaseFacts {
            pipeline: &ctx.pipeline.name,
            tag: &prepared.tag,
            lines: &lines,
            repository: repository.as_deref(),
            release_commit: &prepared.release_commit,
            modified: osv::modified_at(&release_commit),
        },
    );
    let written = osv::write(ctx.state_dir(), &record)?;
    if manifest.osv.as_ref() != Some(&written) {
        manifest.osv = Some(written.clone());
        manifest.write(ctx.state_dir())?;
    }
    Ok(Some(written))
}

/// What the release is staged with: the record every later run and publish is held to.
pub(crate) fn contract(
    ctx: &Context<'_>,
    prepared: &Prepared,
    verified: &Verified,
    picked: &cherry_pick::Picked,
) -> Contract {
    Contract {
        embargo: ctx.pipeline.embargo,
        embargo_source: ctx.pipeline.embargo_source,
        fix_commits: prepared.fix_commits.iter().map(|c| c.sha.clone()).collect(),
        targets: picked.targets.clone(),
        checks: verified.checks.clone(),
        github_repository: ctx.pipeline.github.as_ref().map(|g| g.repository.clone()),
        private_remote: crate::redact::redact_url(&ctx.pipeline.repository.private),
        public_remote: crate::redact::redact_url(&ctx.pipeline.repository.public),
        private_push: ctx.plan.private_push.clone(),
        public_urls: ctx.plan.public_urls.clone(),
        advisory: ctx.advisory.map(crate::advisory::Content::of),
        release_set: ctx.plan.release_set.clone(),
    }
}

/// When each stage completed, for the manifest.
#[derive(Debug, Default, Clone)]
pub struct StageTimes {
    pub prepared: String,
    pub built: String,
    pub verified: String,
}

impl From<&Journal> for StageTimes {
    fn from(journal: &Journal) -> Self {
        let at = |s| {
            journal
                .completed(s)
                .map(|e| e.at.clone())
                .unwrap_or_default()
        };
        StageTimes {
            prepared: at(Stage::Prepare),
            built: at(Stage::Build),
            verified: at(Stage::Verify),
        }
    }
}
