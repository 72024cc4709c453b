//! The command line (clap definitions only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run a project's security patch release as a declarative pipeline.
///
/// embargo cuts the patch branch from the latest patch release tag plus the security fix, builds
/// and checksums the binaries, verifies that they run, and freezes the built commit so nobody can
/// amend it. Every stage is journaled: run the same command again after a failure and it resumes
/// where it stopped.
#[derive(Debug, Parser)]
#[command(name = "embargo", version, propagate_version = true)]
#[command(
    after_help = "Try `embargo demo` to see the whole flow on a sample project.\n\
Exit codes: 0 done; 1 a stage failed; 2 bad input (pipeline, flags, repository state);\n\
3 integrity violation (frozen commit or tag moved, checksum mismatch): nothing further is done."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a pipeline file alone, offline: no repository, no network, no git.
    ///
    /// Reads the file exactly as every other command does and reports each problem with its
    /// file, line and column (exit 2), or prints a one-line summary (exit 0). For an editor
    /// hook or a pre-commit check; `embargo plan` is the one that looks at the repository.
    Check(CheckArgs),
    /// Write a commented starter pipeline for the repository you stand in.
    ///
    /// Spelled as the repository already spells things: release tags with or without a `v`,
    /// release branches release-X.Y and patch branches release-X.Y.Z when there are any, the
    /// remotes `origin` (public) and `security` or `private` (the private security repository),
    /// and the GitHub repository behind `origin`. The result passes `embargo check`. An existing
    /// file is never replaced without --force.
    Init(InitArgs),
    /// Show what a run would do, changing nothing: latest patch release, patch version, fix
    /// commits, embargo, and each stage.
    ///
    /// Lists both remotes and fetches the objects it needs; it writes no ref in the clone.
    Plan(PipelineArgs),
    /// Cut the release and stage it privately. Resumes after the last completed stage.
    ///
    /// prepare: the patch branch = latest patch tag + the fix commits, applied in memory.
    /// build: the build steps in a clean checkout of the release commit; artifacts and SHA256SUMS.
    /// verify: the checks, each in a fresh scratch folder, against the built artifacts.
    /// freeze: annotated tag, manifest.json, and a hook that refuses any move of the branch or tag.
    /// cherry-pick: the fix onto every target branch, one branch per clean pick.
    /// stage: one atomic push of the branch, tag and picks to the private remote.
    ///
    /// With --dry-run, stages 1 to 5 run for real in a scratch repository in a temporary folder
    /// (it borrows the clone's objects), and stages 6 and 7 are printed as the pushes and API
    /// calls they would make; the clone and the remotes are left exactly as they were.
    Run(RunArgs),
    /// Build one shard of a build split across runners (build.matrix), on this machine.
    ///
    /// The job of each shard, between `embargo run --until prepare` (which made the release
    /// commit and pushed it to the private remote) and `embargo run --shards DIR` (which takes
    /// every shard's files). Needs the state folder of the prepare job and a clone holding the
    /// release commit (fetched from the private remote when missing). Runs the build steps in a
    /// clean checkout of the release commit, in the sandbox, with EMBARGO_SHARD and the shard's
    /// env; writes the files and a manifest binding them to the release commit and the build
    /// section into DIR/<tag>/<shard>/ (for a release of several lines, one such folder per line).
    /// Writes nothing in the state folder; pushes nothing.
    Build(BuildArgs),
    /// Publish a staged release at the embargo, and never before.
    ///
    /// Proves the freeze and the draft's assets ahead of time, then at the instant: one atomic
    /// push of the tag, patch branch and pick branches to the public remote, the draft release
    /// published, a pull request per pick, and every asset downloaded back and checked against
    /// the checksums. Safe to run again after a failure or from several cron jobs: it finishes
    /// what is left and never duplicates a release, an asset or a pull request.
    Publish(PublishArgs),
    /// Move the embargo instant of a staged release (the only way to move it).
    ///
    /// The instant recorded when the release was staged is the contract: `publish` never goes
    /// earlier, whatever the pipeline or --embargo say later. Later is allowed; earlier needs
    /// --earlier, because everyone who was told the date plans around it. `--embargo now
    /// --earlier` publishes at the next `publish` run (a fix that leaked). Journaled, and shown
    /// by `status`.
    Reschedule(RescheduleArgs),
    /// Take back a staged release that is not public: its private refs, its draft release, its
    /// local branch, tag and pick branches, and its state (archived), so the same version can be
    /// cut again.
    ///
    /// Refused once anything of the release is public. Safe to run again after a failure.
    Abort(AbortArgs),
    /// Show where the release stands, from the journal (no network).
    Status(PipelineArgs),
    /// List the fix team: who owns the paths the fix changes.
    ///
    /// Owners come from CODEOWNERS (.github/, the root or docs/; the last matching rule wins)
    /// and from OWNERS files (approvers and reviewers, inherited from parent folders unless
    /// `options: {no_parent_owners: true}`), read from the latest patch release's tree, never
    /// the working tree. With --advisory, the permanent security team is marked.
    ///
    /// --invite adds them to publish.github.private_repository; --revoke, once the release is
    /// public, removes the ones it added. Both are journaled and done once.
    Team(TeamArgs),
    /// Write the release's retrospective in Markdown, from its journal and manifest.
    ///
    /// The timeline (report received, each stage with its duration, staged, rescheduled,
    /// published, team invited and revoked, pre-announced, announced), the time from report to publication, the people from the advisory, the
    /// release and pull requests, the targets that needed a manual backport, and empty sections
    /// for what went well, what went wrong and critiques.
    ///
    /// With publish.github and its token set, GitHub is asked whether each pull request publishing
    /// opened is merged, open or closed without being merged (the unmerged ones are named at
    /// the top). Without a token, or with --offline, it says the merge state was not checked. If
    /// GitHub fails, the retrospective is still written, saying so, and the command exits 1 (2
    /// when GitHub refuses the token or cannot see the repository).
    Retrospective(RetrospectiveArgs),
    /// Write the pre-announcement or the release announcement, and send it once.
    ///
    /// --pre: a fix is coming at the recorded instant, the affected versions, the severity band
    /// and the advisory's mitigations, and nothing else: never the fix's commits, files or
    /// subjects, nor the advisory's summary, description or CVSS vector. Needs a staged release.
    ///
    /// --release: the CVE, the scores, affected and patched versions, the release's address,
    /// the checksum of every file, the steps to upgrade. Refused until the release is published;
    /// --preview renders it before (marked as a preview, never sent).
    ///
    /// Markdown by default; --format email gives the text/plain RFC 5322 message that --send
    /// hands to disclosure.announce.smtp. Each message is sent once: its Message-ID is journaled,
    /// and a rerun says when it was sent instead of sending again.
    Announce(AnnounceArgs),
    /// Build a sample project with private and public remotes in a temporary folder and run the
    /// whole flow on it.
    Demo(DemoArgs),
    /// Print the JSON Schema of the pipeline format (or of the advisory file).
    Schema(SchemaArgs),
    /// GitHub Actions: the workflow that runs the pipeline's release in the private repository.
    #[command(subcommand)]
    Ci(CiCommand),
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write (or, with --check, compare) the GitHub Actions workflow for the pipeline.
    ///
    /// The workflow belongs in the private security repository, where logs and artifacts are
    /// private: a stage job (run on demand), a publish job that waits for the instant, and a cron
    /// fallback that publishes once it has passed. It is derived from the pipeline alone (its
    /// path, name, remotes, public repository, token variable, timeouts and embargo), so the same
    /// pipeline always gives the same file. Its jobs run only in a private repository.
    ///
    /// With --check, nothing is written: exit 0 when the file matches, 1 when it is missing or
    /// differs (the first differing line is shown).
    Generate(CiGenerateArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the pipeline (default: pipelines/security-release.yaml in the clone).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CiGenerateArgs {
    /// The pipeline file, inside the clone the workflow checks out (like pipelines/security-release.yaml).
    pub pipeline: PathBuf,
    /// The folder to write into (default: the clone's .github/workflows).
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The workflow's file name inside DIR (default: <pipeline name>.yml).
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
    /// Write nothing: exit 1 when the file on disk differs from what the pipeline generates.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file's schema.
    #[arg(value_enum, default_value = "pipeline")]
    pub format: SchemaFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaFormat {
    Pipeline,
    Advisory,
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// The release line MAJOR.MINOR (or `latest`), checked as `run` would take it.
    #[arg(long, value_name = "MAJOR.MINOR")]
    pub line: Option<String>,
    /// The private branch holding the fix, for a pipeline that leaves it to the command line.
    #[arg(long, value_name = "BRANCH")]
    pub fix: Option<String>,
    /// The embargo instant, checked as `run` would take it.
    #[arg(long, value_name = "TIME")]
    pub embargo: Option<String>,
    /// Machine-readable output on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// Run stages 1 to 5 in a scratch repository and print what 6 and 7 would do; write nothing
    /// outside a temporary folder.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: keep the temporary folder (the scratch repository, state and logs)
    /// instead of removing it.
    #[arg(long, requires = "dry_run")]
    pub keep: bool,
    /// Go on with what was recorded although the pipeline changed since (the fix, the targets,
    /// the build, the checks, the GitHub repository, the advisory file); the choice is journaled.
    #[arg(long)]
    pub keep_staged: bool,
    /// Run in a GitHub Actions job although its repository is public (or its event payload
    /// does not say it is private). Refused without it: a public repository's logs and
    /// artifacts are public, and would show the fix before the embargo.
    #[arg(long)]
    pub allow_public_ci: bool,
    /// In a release of several lines: how many lines go through stages 1 to 5 at once, each
    /// with its own build (default 1: one after the other). Staging is one push whatever N.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Stop after this stage. `--until prepare` is the first job of a build split across
    /// runners (build.matrix): the release commit is made and pushed to the private remote
    /// (only there), so that each shard's job can build it with `embargo build --shard`.
    #[arg(long, value_name = "STAGE", value_parser = ["prepare"], conflicts_with = "shards")]
    pub until: Option<String>,
    /// Take the build from the shards built elsewhere by `embargo build --shard` (each shard's
    /// folder anywhere under DIR) instead of building here: every shard of build.matrix must be
    /// there once, built from this release's commit with this build section, each file as its
    /// shard recorded it (exit 3 otherwise). The stages after build run here as usual.
    #[arg(long, value_name = "DIR")]
    pub shards: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// The shard of build.matrix to build.
    #[arg(long, value_name = "NAME")]
    pub shard: String,
    /// Where the shard's files and its manifest (shard.json) go: DIR/<tag>/<shard>/. Created if
    /// missing; refused unless empty or holding only shards' output (shards may share it).
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Args)]
pub struct RescheduleArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// The new instant, `YYYY-MM-DD HH:MM UTC` or RFC 3339; `now` (with --earlier) for a fix
    /// that must go out at once.
    #[arg(long, value_name = "TIME")]
    pub embargo: String,
    /// Allow an instant earlier than the recorded one.
    #[arg(long)]
    pub earlier: bool,
    /// The staged release's state folder (default: the one staged release of the pipeline).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Machine-readable output on stdout.
    #[arg(long)]
    pub json: bool,
    /// Set by the command itself when it works on every line of a release of several lines, one
    /// line's folder at a time (a line is never moved or taken back alone).
    #[arg(skip)]
    pub whole_set: bool,
    /// Set by the command itself on every line of a release of several lines before it changes
    /// any: the checks alone, so that a line that cannot be moved or taken back stops them all.
    #[arg(skip)]
    pub check_only: bool,
}

#[derive(Debug, Args)]
pub struct TeamArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// Add the owners as collaborators (push) on publish.github.private_repository; each
    /// invitation is journaled, so a rerun invites only the ones not yet invited.
    #[arg(long, conflicts_with = "revoke")]
    pub invite: bool,
    /// After publishing: remove the people `--invite` added (never the advisory's
    /// people.security_team, never anyone who had access before); refused before the release
    /// is public.
    #[arg(long)]
    pub revoke: bool,
    /// With --invite or --revoke: print the API calls, and make none.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct RetrospectiveArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// The release's state folder (default: the staged release, or the last published one).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The security advisory file (overrides `advisory:` in the pipeline): when the report was
    /// received, and who did what.
    #[arg(long, value_name = "FILE")]
    pub advisory: Option<PathBuf>,
    /// Also write the retrospective to FILE.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Ask GitHub nothing: the pull requests' merge state is marked as not checked.
    #[arg(long)]
    pub offline: bool,
    /// Machine-readable output on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AnnounceArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// The pre-announcement: a fix will be available at the instant; mitigations until then.
    #[arg(long, conflicts_with = "release", required_unless_present = "release")]
    pub pre: bool,
    /// The release announcement: the fix is out; CVE, checksums, how to upgrade.
    #[arg(long)]
    pub release: bool,
    /// With --release: render it before the release is public, to review it (never sent).
    #[arg(long, requires = "release", conflicts_with = "send")]
    pub preview: bool,
    /// markdown (default), or email: the RFC 5322 text/plain message as it would be sent.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: AnnounceFormat,
    /// Send it through disclosure.announce.smtp, once: a rerun does not send it again.
    #[arg(long)]
    pub send: bool,
    /// With --send: print the message and where it would go, and send nothing.
    #[arg(long, requires = "send")]
    pub dry_run: bool,
    /// With --send: send again a message whose sending was interrupted (check the list's
    /// archive first: it may have gone out).
    #[arg(long, requires = "send")]
    pub resend: bool,
    /// The release's state folder (default: the staged release, or the last published one).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The security advisory file (overrides `advisory:` in the pipeline).
    #[arg(long, value_name = "FILE")]
    pub advisory: Option<PathBuf>,
    /// Also write the rendered message to FILE.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Machine-readable output on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnnounceFormat {
    /// Markdown, for a web page, a chat or a mailing list that takes Markdown.
    Markdown,
    /// The e-mail: headers (From, To, Subject, Date, Message-ID) and the text/plain body.
    Email,
}

#[derive(Debug, Clone, Args)]
pub struct AbortArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// The release's state folder (default: the one staged release of the pipeline).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Machine-readable output on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Show each step as it happens.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print what taking the release back would do (the private push deleting its refs, the
    /// GitHub calls, what goes in the clone) after the same checks, and do none of it.
    #[arg(long)]
    pub dry_run: bool,
    /// Set by the command itself when it works on every line of a release of several lines, one
    /// line's folder at a time (a line is never moved or taken back alone).
    #[arg(skip)]
    pub whole_set: bool,
    /// Set by the command itself on every line of a release of several lines before it changes
    /// any: the checks alone, so that a line that cannot be moved or taken back stops them all.
    #[arg(skip)]
    pub check_only: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The pipeline file, like pipelines/security-release.yaml.
    pub pipeline: PathBuf,
    /// Wait for the embargo with a countdown, then publish.
    #[arg(long, conflicts_with = "if_due")]
    pub wait: bool,
    /// For a cron job: publish if the embargo has passed and the release is not yet published,
    /// or prove everything and wait for it if it is less than --within away; otherwise say when
    /// it is due and exit 0.
    #[arg(long)]
    pub if_due: bool,
    /// With --if-due: how close the instant must be for this run to wait for it (longer than the
    /// cron's period, so that one run is always waiting at the instant).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10m",
        requires = "if_due"
    )]
    pub within: String,
    /// Print the pushes and API calls publishing would make, and do nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Publish what was staged although the pipeline or the advisory file changed since (the
    /// draft on GitHub, as staged, is what becomes public); the choice is journaled.
    #[arg(long)]
    pub keep_staged: bool,
    /// Put the draft release back exactly as staged first (tag, name, notes, prerelease flag,
    /// assets), when someone changed it; without this, such a draft stops publishing (exit 3).
    /// Never changes a published release.
    #[arg(long, conflicts_with = "dry_run")]
    pub restore_draft: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args, Default)]
pub struct Common {
    /// The release line MAJOR.MINOR (or `latest`); overrides versioning.line.
    #[arg(long, value_name = "MAJOR.MINOR")]
    pub line: Option<String>,
    /// The private branch holding the fix; overrides fix.branch and fix.commits.
    #[arg(long, value_name = "BRANCH")]
    pub fix: Option<String>,
    /// The embargo instant, `YYYY-MM-DD HH:MM UTC` or RFC 3339, or `now` (the vulnerability is
    /// already public); overrides `embargo`. Once staged, the recorded instant rules (see
    /// `embargo reschedule`).
    #[arg(long, value_name = "TIME")]
    pub embargo: Option<String>,
    /// Where the release's state lives (default: <git dir>/embargo/<name>/<tag>/).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The security advisory file (overrides `advisory:` in the pipeline): `plan` shows its
    /// score and affected versions, `run` writes its OSV record into the state folder.
    #[arg(long, value_name = "FILE")]
    pub advisory: Option<PathBuf>,
    /// Machine-readable output on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Show the output of build steps and checks as it comes.
    #[arg(short, long)]
    pub verbose: bool,
}

impl Cli {
    /// Whether the command was asked for machine-readable output (errors are then printed as
    /// JSON on stdout too).
    pub fn json(&self) -> bool {
        match &self.command {
            Command::Check(a) => a.json,
            Command::Plan(a) | Command::Status(a) => a.common.json,
            Command::Run(a) => a.common.json,
            Command::Build(a) => a.common.json,
            Command::Publish(a) => a.common.json,
            Command::Reschedule(a) => a.json,
            Command::Abort(a) => a.json,
            Command::Team(a) => a.common.json,
            Command::Retrospective(a) => a.json,
            Command::Announce(a) => a.json,
            Command::Demo(_) | Command::Schema(_) | Command::Ci(_) | Command::Init(_) => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the sample project instead of deleting it, and print where it is.
    #[arg(long)]
    pub keep: bool,
    /// Show the output of build steps and checks as it comes.
    #[arg(short, long)]
    pub verbose: bool,
}
