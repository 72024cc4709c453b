//! The GitHub Actions workflow of a pipeline, as text: derived from the pipeline alone (its path
//! in the clone, its name, its remotes, the public repository, the token's variable, the build's
//! timeouts and the embargo), never from the clock or the machine, so that generating twice gives
//! the same bytes and `embargo ci generate --check` can tell a stale file.
//!
//! A template rather than a serialized model: the file is read by people deciding whether to trust
//! it, so every choice carries its reason as a comment beside it. Every value that comes from the
//! pipeline reaches the YAML through [`yaml_str`] and reaches a shell only through an environment
//! variable, never spliced into a `run:` line.

use std::fmt::Write as _;
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::error::Error;
use crate::pipeline::{EmbargoSource, Pipeline};

/// Actions pinned by commit, with the release each commit is (for readers and for updates).
const CHECKOUT: &str = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2";
const UPLOAD: &str = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2";
const DOWNLOAD: &str =
    "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0";

/// The secret holding the public repository's token, and the variable naming the stage run.
pub const PUBLIC_TOKEN_SECRET: &str = "EMBARGO_PUBLIC_TOKEN";
pub const STAGE_RUN_VARIABLE: &str = "EMBARGO_STAGE_RUN_ID";
/// The private repository's token inside a step (the job's own GITHUB_TOKEN).
const PRIVATE_TOKEN_VAR: &str = "EMBARGO_PRIVATE_TOKEN";

/// GitHub-hosted jobs end at 6 hours; every job stays under it with room to spare.
const MAX_JOB_MINUTES: u64 = 350;
/// Installing embargo, checking out and restoring the state folder, before any stage runs.
const SETUP_MINUTES: u64 = 30;
/// How long before the instant the scheduled waiting job starts: GitHub starts scheduled runs
/// late under load, and the install takes minutes.
const WAIT_LEAD_MINUTES: i64 = 30;
/// The fallback's period; `--within` is longer, so that one run is always waiting at the instant.
const FALLBACK_CRON: &str = "*/5 * * * *";
const FALLBACK_WITHIN: &str = "10m";

/// What the workflow is generated from.
pub struct Source<'a> {
    pub pipeline: &'a Pipeline,
    /// The pipeline's path inside the clone (the checkout of the private repository), with `/`.
    pub path_in_clone: String,
    /// The command line that writes this file, for its header.
    pub command: String,
    /// The version of embargo the jobs install.
    pub version: &'a str,
}

/// How a job reaches one of the two repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Remote {
    /// A remote name the pipeline uses: the job configures it.
    Name(String),
    /// An `https://` URL written in the pipeline: git uses it as it is.
    Url(String),
}

impl Remote {
    fn read(key: &str, value: &str) -> Result<Remote, Error> {
        if value.starts_with("https://") {
            if value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "'\"\\$`".contains(c))
            {
                return Err(Error::bad_input(format!(
                    "{key}: the URL `{}` has characters a workflow cannot carry safely",
                    crate::redact::redact_url(value)
                )));
            }
            if value.contains('@') {
                return Err(Error::bad_input(format!(
                    "{key}: the URL `{}` carries credentials; a workflow is read by everyone with access to the repository",
                    crate::redact::redact_url(value)
                ))
                .with_hint("give the bare URL: the job hands git its token from a secret"));
            }
            return Ok(Remote::Url(value.to_string()));
        }
        let is_name = !value.is_empty()
            && !value.starts_with('-')
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if is_name {
            return Ok(Remote::Name(value.to_string()));
        }
        Err(Error::bad_input(format!(
            "{key}: `{}` is neither a remote name nor an https:// URL",
            crate::redact::redact_url(value)
        ))
        .with_hint(
            "on GitHub Actions git reaches both repositories over HTTPS with a token: name a \
             remote (the workflow sets it up) or give the repository's https:// URL",
        ))
    }
}

/// `OWNER/REPO` as GitHub allows it, so that it can stand in an expression and a URL as is.
fn repository_name(key: &str, value: &str) -> Result<String, Error> {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    match value.split_once('/') {
        Some((owner, repo)) if part(owner) && part(repo) => Ok(value.to_string()),
        _ => Err(Error::bad_input(format!(
            "{key}: `{value}` is not a GitHub repository OWNER/REPO"
        ))),
    }
}

/// A YAML scalar in single quotes: no escape sequences, `'` doubled, nothing else special.
fn yaml_str(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60)
}

/// The cron line (UTC) that starts the waiting job [`WAIT_LEAD_MINUTES`] before the instant the
/// pipeline names, and the instant in words; none without a fixed instant.
fn wait_schedule(pipeline: &Pipeline) -> Option<(String, String)> {
    let at = pipeline.embargo?;
    if pipeline.embargo_source == EmbargoSource::Now {
        return None;
    }
    let start = at
        .checked_sub(jiff::SignedDuration::from_mins(WAIT_LEAD_MINUTES))
        .ok()?
        .to_zoned(TimeZone::UTC);
    Some((
        format!(
            "{} {} {} {} *",
            start.minute(),
            start.hour(),
            start.day(),
            start.month()
        ),
        crate::clock::display(at),
    ))
}

/// The workflow for `source`, or why the pipeline cannot have one.
pub fn render(source: &Source) -> Result<String, Error> {
    let pipeline = source.pipeline;
    let github = pipeline.github.as_ref().ok_or_else(|| {
        Error::bad_input(format!(
            "{}: the pipeline has no publish.github: the workflow publishes to a GitHub repository",
            pipeline.file.display()
        ))
        .with_hint("add publish.github with the public repository (OWNER/REPO) and token_env")
    })?;
    let public_repository = repository_name("publish.github.repository", &github.repository)?;
    let private_repository = github
        .private_repository
        .as_deref()
        .map(|r| repository_name("publish.github.private_repository", r))
        .transpose()?;
    let token_env = &github.token_env;
    let token_env_ok = token_env
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && token_env
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !token_env_ok || token_env.starts_with("GIT_") || token_env == PRIVATE_TOKEN_VAR {
        return Err(Error::bad_input(format!(
            "publish.github.token_env: `{token_env}` cannot name the token's variable in a workflow"
        ))
        .with_hint("use an upper-case name of its own, like GITHUB_TOKEN"));
    }
    let private = Remote::read("repository.private", &pipeline.repository.private)?;
    let public = Remote::read("repository.public", &pipeline.repository.public)?;
    if private == public {
        return Err(Error::bad_input(
            "repository.private and repository.public are the same remote",
        ));
    }
    // GitHub evaluates `${{ ... }}` wherever it stands in a workflow, quoted or not: a value
    // from the pipeline holding one would run as an expression (and could read secrets).
    for (what, value) in [
        ("the pipeline's path", source.path_in_clone.as_str()),
        ("name", pipeline.name.as_str()),
    ] {
        if value.contains("${{") {
            return Err(Error::bad_input(format!(
                "{what} `{value}` holds `${{{{`, which GitHub would evaluate as an expression in the workflow"
            ))
            .with_hint("rename it without `${{`"));
        }
    }
    if source.path_in_clone.chars().any(char::is_control) {
        return Err(Error::bad_input(format!(
            "{}: the pipeline's path has characters a workflow cannot carry",
            source.path_in_clone
        )));
    }

    let name = &pipeline.name;
    let build_minutes: u64 = pipeline
        .build
        .steps
        .iter()
        .chain(pipeline.verify.iter().map(|c| &c.step))
        .map(|s| minutes(s.timeout))
        .sum();
    let stage_minutes = (SETUP_MINUTES + build_minutes).min(MAX_JOB_MINUTES);
    let schedule = wait_schedule(pipeline);
    // Runs only in a private repository, and in the one the pipeline names when it names one:
    // copied into the public repository (or committed there as an example), it does nothing.
    let guard = match &private_repository {
        Some(r) => format!(
            "github.event.repository.private == true && github.repository == {}",
            expr_str(r)
        ),
        None => "github.event.repository.private == true".to_string(),
    };

    let mut w = String::new();
    header(
        &mut w,
        source,
        &public_repository,
        &private_repository,
        &schedule,
    );

    // Triggers.
    w.push_str("on:\n  workflow_dispatch:\n    inputs:\n");
    w.push_str(
        "      job:\n        description: \"stage or publish\"\n        required: true\n        \
         type: choice\n        options: [stage, publish]\n        default: stage\n",
    );
    w.push_str(
        "      line:\n        description: \"stage: the release line MAJOR.MINOR (empty: the pipeline's)\"\n        \
         required: false\n        type: string\n",
    );
    w.push_str(
        "      fix:\n        description: \"stage: the private branch holding the fix (empty: the pipeline's)\"\n        \
         required: false\n        type: string\n",
    );
    w.push_str("  schedule:\n");
    let _ = writeln!(
        w,
        "    - cron: \"{FALLBACK_CRON}\"   # fallback: publishes once the instant has passed"
    );
    if let Some((cron, instant)) = &schedule {
        let _ = writeln!(
            w,
            "    # The waiting job, {WAIT_LEAD_MINUTES} minutes before the embargo ({instant}). Cron has no year:\n    \
             # it fires on that day every year, and does nothing once {STAGE_RUN_VARIABLE} is unset.\n    \
             - cron: \"{cron}\""
        );
    }
    w.push('\n');
    w.push_str("# Nothing by default: each job asks for what it needs.\npermissions: {}\n\n");

    // Values every job uses; none is a secret.
    w.push_str("env:\n");
    let _ = writeln!(w, "  EMBARGO_PIPELINE: {}", yaml_str(&source.path_in_clone));
    let private_url = match &private {
        Remote::Name(_) => {
            "${{ github.server_url }}/${{ github.repository }}.git   # where this workflow runs"
                .to_string()
        }
        Remote::Url(url) => yaml_str(url),
    };
    let public_url = match &public {
        Remote::Name(_) => format!("${{{{ github.server_url }}}}/{public_repository}.git"),
        Remote::Url(url) => yaml_str(url),
    };
    let _ = writeln!(w, "  EMBARGO_PRIVATE_URL: {private_url}");
    let _ = writeln!(w, "  EMBARGO_PUBLIC_URL: {public_url}");
    w.push('\n');

    w.push_str("jobs:\n");
    let ctx = JobContext {
        name,
        version: source.version,
        private: &private,
        public: &public,
        token_env,
    };

    if pipeline.build.matrix.is_empty() {
        stage_job(&mut w, &ctx, &guard, stage_minutes);
    } else {
        split_jobs(&mut w, &ctx, pipeline, &guard, build_minutes);
    }

    // publish (waits)
    let publish_if = match &schedule {
        Some((cron, _)) => format!(
            "(github.event_name == 'workflow_dispatch' && inputs.job == 'publish' ||\n       \
             github.event.schedule == '{cron}') &&"
        ),
        None => "github.event_name == 'workflow_dispatch' && inputs.job == 'publish' &&".into(),
    };
    let _ = write!(
        w,
        "  publish:\n    name: Publish at the embargo (waits)\n    if: >-\n      {publish_if}\n      \
         vars.{STAGE_RUN_VARIABLE} != '' && {guard}\n    runs-on: ubuntu-latest\n    \
         # GitHub-hosted jobs end at 6 hours: it starts at most 5 hours before the instant.\n    \
         timeout-minutes: {MAX_JOB_MINUTES}\n"
    );
    ctx.read_permissions(&mut w);
    ctx.concurrency(
        &mut w,
        "publish",
        "Never cancelled, never replaced by a cron run.",
    );
    w.push_str("    steps:\n");
    ctx.install(&mut w);
    ctx.checkout(&mut w);
    ctx.restore(&mut w);
    ctx.run_step(
        &mut w,
        "Publish at the embargo",
        &[],
        "embargo publish \"$EMBARGO_PIPELINE\" --wait",
    );
    ctx.keep_published(&mut w);
    w.push('\n');

    // fallback
    let _ = write!(
        w,
        "  fallback:\n    name: Publish if due (cron fallback)\n    if: >-\n      \
         github.event_name == 'schedule' && github.event.schedule == '{FALLBACK_CRON}' &&\n      \
         vars.{STAGE_RUN_VARIABLE} != '' && {guard}\n    runs-on: ubuntu-latest\n    \
         timeout-minutes: {}   # --within {FALLBACK_WITHIN}: at most that long waiting, then publishing\n",
        SETUP_MINUTES + 15
    );
    ctx.read_permissions(&mut w);
    ctx.concurrency(
        &mut w,
        "fallback",
        "Its own group: a cron run can never replace a pending dispatched publish job. A newer\n    \
         # cron run replaces an older pending one, which is harmless; overlapping runs leave the\n    \
         # work to the one holding the release's lock and exit 0.",
    );
    w.push_str("    steps:\n");
    ctx.install(&mut w);
    ctx.checkout(&mut w);
    ctx.restore(&mut w);
    ctx.run_step(
        &mut w,
        "Publish if due",
        &[],
        &format!("embargo publish \"$EMBARGO_PIPELINE\" --if-due --within {FALLBACK_WITHIN}"),
    );
    ctx.keep_published(&mut w);
    Ok(w)
}

/// The stage job of a build on one runner: every stage up to the private staging.
fn stage_job(w: &mut String, ctx: &JobContext<'_>, guard: &str, stage_minutes: u64) {
    let _ = write!(
        w,
        "  stage:\n    name: Stage the release privately\n    if: >-\n      \
         github.event_name == 'workflow_dispatch' && inputs.job == 'stage' &&\n      {guard}\n    \
         runs-on: ubuntu-latest\n    \
         # {SETUP_MINUTES} minutes to set up, plus the timeouts of the build steps and checks.\n    \
         timeout-minutes: {stage_minutes}\n    permissions:\n      \
         contents: write     # push the patch branch, tag and pick branches to this private repository\n"
    );
    ctx.concurrency(w, "stage", "A second dispatch waits for the first.");
    w.push_str("    steps:\n");
    ctx.install(w);
    ctx.checkout(w);
    w.push_str(
        "      # Add here what the build steps need from the runner (a toolchain, by an action pinned\n      \
         # by commit): embargo runs them with a clean environment, PATH and HOME kept.\n",
    );
    ctx.run_step(
        w,
        "Stage the release privately",
        &INPUTS,
        &format!("embargo run \"$EMBARGO_PIPELINE\" {INPUT_FLAGS}"),
    );
    ctx.pack(w, "embargo-state");
}

/// The inputs of a dispatch that choose the release, passed to every job that resolves it, and
/// the flags they become (empty: the pipeline's own).
const INPUTS: [(&str, &str); 2] = [
    ("EMBARGO_INPUT_LINE", "${{ inputs.line }}"),
    ("EMBARGO_INPUT_FIX", "${{ inputs.fix }}"),
];
const INPUT_FLAGS: &str = "${EMBARGO_INPUT_LINE:+--line \"$EMBARGO_INPUT_LINE\"} \\\n            \
                           ${EMBARGO_INPUT_FIX:+--fix \"$EMBARGO_INPUT_FIX\"}";

/// A build split across runners (build.matrix): the prepare job makes the release commit and
/// pushes it here, one job per shard builds it on its own runner with no token but a read-only
/// one for this repository, and the stage job takes every shard's files and goes on from the
/// build. Every job of the split continues from the prepare job's state folder.
fn split_jobs(
    w: &mut String,
    ctx: &JobContext<'_>,
    pipeline: &Pipeline,
    guard: &str,
    build_minutes: u64,
) {
    let shard_minutes: u64 = pipeline
        .build
        .steps
        .iter()
        .map(|s| minutes(s.timeout))
        .sum::<u64>();
    let check_minutes = build_minutes.saturating_sub(shard_minutes);
    // prepare
    let _ = write!(
        w,
        "  prepare:\n    name: Prepare the release commit privately\n    if: >-\n      \
         github.event_name == 'workflow_dispatch' && inputs.job == 'stage' &&\n      {guard}\n    \
         runs-on: ubuntu-latest\n    timeout-minutes: {SETUP_MINUTES}\n    permissions:\n      \
         contents: write     # push the release commit's patch branch to this private repository\n"
    );
    ctx.concurrency(w, "stage", "A second dispatch waits for the first.");
    w.push_str("    steps:\n");
    ctx.install(w);
    ctx.checkout(w);
    let prepare = format!("embargo run \"$EMBARGO_PIPELINE\" --until prepare {INPUT_FLAGS}");
    if pipeline
        .github
        .as_ref()
        .is_some_and(|g| g.private_repository.is_some())
    {
        // The public repository's token asks GitHub whether the private one is private.
        ctx.run_step(w, "Prepare the release commit", &INPUTS, &prepare);
    } else {
        // It pushes here only, and reads the public repository as anyone may: no other token.
        ctx.private_only_step(w, "Prepare the release commit", &INPUTS, &prepare);
    }
    ctx.pack(w, PREPARED_STATE);
    // build, one job per shard
    let _ = write!(
        w,
        "  build:\n    name: Build ${{{{ matrix.shard }}}}\n    needs: prepare\n    if: {guard}\n    \
         strategy:\n      fail-fast: true   # one failed shard fails the release: no need to finish the others\n      \
         matrix:\n        include:\n"
    );
    for shard in &pipeline.build.matrix {
        let _ = write!(
            w,
            "          - shard: {}\n            runs-on: {}\n",
            yaml_str(&shard.name),
            yaml_str(&shard.runs_on)
        );
    }
    let _ = write!(
        w,
        "    runs-on: ${{{{ matrix.runs-on }}}}\n    \
         # {SETUP_MINUTES} minutes to set up, plus the timeouts of the build steps.\n    \
         timeout-minutes: {}\n    permissions:\n      \
         contents: read      # check out the release commit from this private repository\n    \
         steps:\n",
        (SETUP_MINUTES + shard_minutes).min(MAX_JOB_MINUTES)
    );
    ctx.install(w);
    ctx.checkout(w);
    ctx.restore_from_this_run(w);
    w.push_str(
        "      # Add here what the build steps need from the runner (a toolchain, by an action pinned\n      \
         # by commit): embargo runs them with a clean environment, PATH and HOME kept.\n",
    );
    ctx.private_only_step(
        w,
        "Build the shard",
        &[("EMBARGO_INPUT_SHARD", "${{ matrix.shard }}"), INPUTS[0], INPUTS[1]],
        &format!(
            "embargo build \"$EMBARGO_PIPELINE\" --shard \"$EMBARGO_INPUT_SHARD\" --output \"$RUNNER_TEMP/shard\" \\\n            \
             {INPUT_FLAGS}"
        ),
    );
    let _ = write!(
        w,
        "      - uses: {UPLOAD}\n        with:\n          \
         name: embargo-shard-${{{{ matrix.shard }}}}\n          \
         path: ${{{{ runner.temp }}}}/shard\n          \
         if-no-files-found: error\n          retention-days: 30\n\n"
    );
    // stage: takes the shards
    let _ = write!(
        w,
        "  stage:\n    name: Stage the release privately\n    needs: [prepare, build]\n    if: {guard}\n    \
         runs-on: ubuntu-latest\n    \
         # {SETUP_MINUTES} minutes to set up, plus the timeouts of the checks.\n    \
         timeout-minutes: {}\n    permissions:\n      \
         contents: write     # push the patch branch, tag and pick branches to this private repository\n",
        (SETUP_MINUTES + check_minutes).min(MAX_JOB_MINUTES)
    );
    ctx.concurrency(
        w,
        "assemble",
        "A second release's stage job waits for the first.",
    );
    w.push_str("    steps:\n");
    ctx.install(w);
    ctx.checkout(w);
    ctx.restore_from_this_run(w);
    let _ = write!(
        w,
        "      # Every shard's folder, each under its artifact's name; embargo finds them there.\n      \
         - uses: {DOWNLOAD}\n        with:\n          \
         pattern: embargo-shard-*\n          path: ${{{{ runner.temp }}}}/shards\n"
    );
    w.push_str(
        "      # Add here what the checks need from the runner: embargo runs them with a clean\n      \
         # environment, PATH and HOME kept.\n",
    );
    ctx.run_step(
        w,
        "Stage the release privately",
        &INPUTS,
        &format!(
            "embargo run \"$EMBARGO_PIPELINE\" --shards \"$RUNNER_TEMP/shards\" {INPUT_FLAGS}"
        ),
    );
    ctx.pack(w, "embargo-state");
}

/// The artifact holding the prepare job's state folder, for the jobs of the same run.
const PREPARED_STATE: &str = "embargo-state-prepared";

/// A string literal inside a `${{ }}` expression.
fn expr_str(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn header(
    w: &mut String,
    source: &Source,
    public_repository: &str,
    private_repository: &Option<String>,
    schedule: &Option<(String, String)>,
) {
    let pipeline = source.pipeline;
    let _ = write!(
        w,
        "# The security release of {path} ({name}) on GitHub Actions.\n#\n\
         # Generated by `{command}` (embargo {version}).\n\
         # Do not edit: change the pipeline and generate again. The same command with --check fails\n\
         # when this file no longer matches the pipeline.\n#\n\
         # THIS WORKFLOW BELONGS IN THE PRIVATE SECURITY REPOSITORY, NEVER IN THE PUBLIC ONE. The logs and\n\
         # artifacts of a public repository are public: the build output, the fix commits' subjects, the\n\
         # conflicting files and the state folder (the patched source and the binaries) would leak the fix\n\
         # before the embargo. Every job runs only when the repository it runs in is private{only}:\n\
         # a copy in a public repository does nothing, and embargo itself refuses to run there.\n\
         # The public repository ({public_repository}) receives the release only at the instant.\n#\n\
         # Setup (README.md, \"Running it in CI\", has the details):\n\
         #   - this private repository holds the public history, the fix branches, the pipeline and this\n\
         #     file; git reaches it with each job's own GITHUB_TOKEN, scoped by `permissions` per job;\n\
         #   - secret {PUBLIC_TOKEN_SECRET}: a fine-grained token (or GitHub App token) for\n\
         #     {public_repository} only: Contents read and write, Pull requests read and write.\n\
         #     Jobs hand it to git for that repository alone and to embargo as {token_env}\n\
         #     (publish.github.token_env); never to a build step;\n\
         #   - after the stage job ran, set the repository variable {STAGE_RUN_VARIABLE} to its run id:\n\
         #     the publish jobs continue from its state folder. Unset it once the release is public.\n#\n\
         {staging}\
         #   publish  - on demand (`job: publish`, at most 5 hours before the instant){scheduled}: waits for\n\
         #              the embargo and publishes at the instant (`--wait`).\n\
         #   fallback - every 5 minutes while {STAGE_RUN_VARIABLE} is set: publishes once the instant has\n\
         #              passed, or waits for it when it is less than {FALLBACK_WITHIN} away; green when\n\
         #              nothing is due. A lost or late waiting job cannot delay the fix.\n\
         name: {title}\n\n",
        path = source.path_in_clone,
        name = pipeline.name,
        command = source.command,
        version = source.version,
        only = match private_repository {
            Some(r) => format!(" and is {r}"),
            None => String::new(),
        },
        token_env = pipeline
            .github
            .as_ref()
            .map(|g| g.token_env.as_str())
            .unwrap_or_default(),
        scheduled = match schedule {
            Some(_) => ", and by schedule\n#              30 minutes before the pipeline's embargo",
            None => "",
        },
        title = yaml_str(&format!("embargo {}", pipeline.name)),
        staging = if pipeline.build.matrix.is_empty() {
            "# Three jobs; the journal makes every run safe to repeat:\n\
             #   stage    - on demand (`job: stage`): prepare, build, verify, freeze, cherry-pick, and stage\n\
             #              privately (push here, a draft release with the assets on the public repository).\n"
                .to_string()
        } else {
            format!(
                "# Five jobs, the build split across runners (build.matrix); the journal makes every run safe\n\
                 # to repeat:\n\
                 #   prepare  - on demand (`job: stage`): the release commit, pushed here on its patch branch.\n\
                 #   build    - one job per shard ({}), each on its own runner, with no credential but\n\
                 #              a read-only token for this repository: builds the release commit, and\n\
                 #              hands its files and their manifest on as an artifact of this run.\n\
                 #   stage    - takes every shard's files (refused if one is missing, from another commit or\n\
                 #              changed), then verify, freeze, cherry-pick, and stage privately (push here,\n\
                 #              a draft release with the assets on the public repository).\n",
                pipeline.build.shard_names()
            )
        },
    );
}

struct JobContext<'a> {
    name: &'a str,
    version: &'a str,
    private: &'a Remote,
    public: &'a Remote,
    token_env: &'a str,
}

impl JobContext<'_> {
    fn concurrency(&self, w: &mut String, job: &str, why: &str) {
        let _ = write!(
            w,
            "    # {why}\n    concurrency:\n      group: {}\n      cancel-in-progress: false\n",
            yaml_str(&format!("embargo-{}-{job}", self.name))
        );
    }

    fn read_permissions(&self, w: &mut String) {
        w.push_str(
            "    permissions:\n      \
             contents: read      # fetch the staged refs from this private repository to prove them\n      \
             actions: read       # download the stage job's state folder from its run\n",
        );
    }

    /// Installs and proves the right program while no credential is in reach (crates.io's
    /// `embargo` is an unrelated one).
    fn install(&self, w: &mut String) {
        let v = self.version;
        let _ = write!(
            w,
            "      # First, while no credential is in reach: install embargo and prove it is the right\n      \
             # program (crates.io's `embargo` is an unrelated one).\n      \
             - name: Install embargo\n        run: |\n          \
             cargo install --locked embargo-release --version {v}\n          \
             cargo install --list | grep -A1 '^embargo-release v{v}:'\n          \
             test \"$(embargo --version)\" = \"embargo {v}\"\n"
        );
    }

    /// The checkout of this private repository, and the remotes named as the pipeline names them.
    fn checkout(&self, w: &mut String) {
        let _ = write!(
            w,
            "      - uses: {CHECKOUT}\n        with:\n          \
             fetch-depth: 0              # embargo refuses shallow clones: it needs every tag\n          \
             persist-credentials: false  # no token left in .git/config\n"
        );
        let mut lines = Vec::new();
        if let Remote::Name(p) = self.private {
            if p != "origin" {
                lines.push(format!("git remote rename origin {p}"));
            }
            lines.push(format!("git remote set-url {p} \"$EMBARGO_PRIVATE_URL\""));
        }
        if let Remote::Name(q) = self.public {
            if q == "origin" && !matches!(self.private, Remote::Name(_)) {
                lines.push("git remote set-url origin \"$EMBARGO_PUBLIC_URL\"".to_string());
            } else {
                lines.push(format!("git remote add {q} \"$EMBARGO_PUBLIC_URL\""));
            }
        }
        if lines.is_empty() {
            return;
        }
        w.push_str("      - name: Name the remotes as the pipeline does\n        run: |\n");
        for line in lines {
            let _ = writeln!(w, "          {line}");
        }
    }

    /// The state folder packed and uploaded as `name`: upload-artifact skips hidden paths such
    /// as .git/embargo/, so it travels as one archive (modes kept). Kept after a failure too.
    fn pack(&self, w: &mut String, name: &str) {
        let _ = write!(
            w,
            "      # upload-artifact skips hidden paths such as .git/embargo/: the state folder travels as\n      \
             # one archive (modes kept). Kept after a failure too, to look at the logs.\n      \
             - name: Pack the state folder\n        if: always()\n        run: |\n          \
             if [ -d .git/embargo ]; then\n            \
             tar -C .git -czf \"$RUNNER_TEMP/embargo-state.tar.gz\" embargo\n          fi\n      \
             - uses: {UPLOAD}\n        if: always()\n        with:\n          \
             name: {name}\n          path: ${{{{ runner.temp }}}}/embargo-state.tar.gz\n          \
             if-no-files-found: ignore\n          overwrite: true\n          retention-days: 30\n\n"
        );
    }

    /// After publishing: the state folder as this run left it (the journal's record of the
    /// publication, which the stage job's copy lacks) kept as `embargo-state-published`, for
    /// `embargo retrospective` and `embargo announce --release`. Only from a run that published
    /// (`embargo publish` sets the step output `tag` then; with nothing due it sets none).
    fn keep_published(&self, w: &mut String) {
        let _ = write!(
            w,
            "      # The state folder as publishing left it, for `embargo retrospective` and\n      \
             # `embargo announce --release`: only from a run that published.\n      \
             - name: Pack the published state folder\n        \
             if: steps.publish.outputs.tag != ''\n        \
             run: tar -C .git -czf \"$RUNNER_TEMP/embargo-state.tar.gz\" embargo\n      \
             - uses: {UPLOAD}\n        if: steps.publish.outputs.tag != ''\n        with:\n          \
             name: embargo-state-published\n          path: ${{{{ runner.temp }}}}/embargo-state.tar.gz\n          \
             overwrite: true\n          retention-days: 90\n"
        );
    }

    /// The prepare job's state folder, from this same run.
    fn restore_from_this_run(&self, w: &mut String) {
        let _ = write!(
            w,
            "      - uses: {DOWNLOAD}\n        with:\n          \
             name: {PREPARED_STATE}\n          path: ${{{{ runner.temp }}}}/embargo-state\n      \
             - name: Restore the prepare job's state folder\n        \
             run: tar -C .git -xzf \"$RUNNER_TEMP/embargo-state/embargo-state.tar.gz\"\n"
        );
    }

    /// A step that reaches only this private repository, with the job's own token (as its
    /// `permissions` scope it); no other credential is in the job, so a build step has none to
    /// find.
    fn private_only_step(&self, w: &mut String, title: &str, env: &[(&str, &str)], command: &str) {
        let _ = write!(
            w,
            "      - name: {title}\n        env:\n          \
             {PRIVATE_TOKEN_VAR}: ${{{{ github.token }}}}\n"
        );
        for (k, v) in env {
            let _ = writeln!(w, "          {k}: {v}");
        }
        let _ = write!(
            w,
            "        run: |\n          \
             # git's credential for this repository's URL only (scoped by `permissions` above).\n          \
             private=$(printf 'x-access-token:%s' \"${PRIVATE_TOKEN_VAR}\" | base64 -w0)\n          \
             echo \"::add-mask::$private\"\n          \
             unset {PRIVATE_TOKEN_VAR}\n          \
             export GIT_CONFIG_COUNT=1\n          \
             export GIT_CONFIG_KEY_0=\"http.$EMBARGO_PRIVATE_URL.extraheader\"\n          \
             export GIT_CONFIG_VALUE_0=\"AUTHORIZATION: basic $private\"\n          \
             {command}\n"
        );
    }

    fn restore(&self, w: &mut String) {
        let _ = write!(
            w,
            "      - uses: {DOWNLOAD}\n        with:\n          \
             name: embargo-state\n          path: ${{{{ runner.temp }}}}/embargo-state\n          \
             run-id: ${{{{ vars.{STAGE_RUN_VARIABLE} }}}}\n          \
             github-token: ${{{{ github.token }}}}\n      \
             - name: Restore the state folder\n        \
             run: tar -C .git -xzf \"$RUNNER_TEMP/embargo-state/embargo-state.tar.gz\"\n"
        );
    }

    /// The step that runs embargo with git's credentials: each token sent only to its own
    /// repository's URL, held only in this step's environment (never on disk, in a remote URL
    /// or in a build step's environment: embargo runs those with a clean one).
    fn run_step(&self, w: &mut String, title: &str, env: &[(&str, &str)], command: &str) {
        let t = self.token_env;
        // The publish steps are read by name: their output `tag` says they published.
        let id = if command.starts_with("embargo publish") {
            "        id: publish\n"
        } else {
            ""
        };
        let _ = write!(
            w,
            "      - name: {title}\n{id}        env:\n          \
             {PRIVATE_TOKEN_VAR}: ${{{{ github.token }}}}\n          \
             # The variable publish.github.token_env names (the release, the assets, the pull requests).\n          \
             {t}: ${{{{ secrets.{PUBLIC_TOKEN_SECRET} }}}}\n"
        );
        for (k, v) in env {
            let _ = writeln!(w, "          {k}: {v}");
        }
        let _ = write!(
            w,
            "        run: |\n          \
             # git's credentials, each sent only to its own repository's URL.\n          \
             private=$(printf 'x-access-token:%s' \"${PRIVATE_TOKEN_VAR}\" | base64 -w0)\n          \
             public=$(printf 'x-access-token:%s' \"${t}\" | base64 -w0)\n          \
             echo \"::add-mask::$private\"\n          \
             echo \"::add-mask::$public\"\n          \
             unset {PRIVATE_TOKEN_VAR}\n          \
             export GIT_CONFIG_COUNT=2\n          \
             export GIT_CONFIG_KEY_0=\"http.$EMBARGO_PRIVATE_URL.extraheader\"\n          \
             export GIT_CONFIG_VALUE_0=\"AUTHORIZATION: basic $private\"\n          \
             export GIT_CONFIG_KEY_1=\"http.$EMBARGO_PUBLIC_URL.extraheader\"\n          \
             export GIT_CONFIG_VALUE_1=\"AUTHORIZATION: basic $public\"\n          \
             {command}\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::pipeline::{Overrides, parse};

    fn render_with(replace: &[(&str, &str)]) -> String {
        let mut text = crate::sample::PIPELINE.to_string();
        for (from, to) in replace {
            assert!(text.contains(from), "{from}");
            text = text.replace(from, to);
        }
        let pipeline = parse(Path::new("p.yaml"), &text, &Overrides::default()).expect("pipeline");
        render(&Source {
            pipeline: &pipeline,
            path_in_clone: "pipelines/p.yaml".into(),
            command: "embargo ci generate pipelines/p.yaml".into(),
            version: "0.1.0",
        })
        .expect("workflow")
    }

    /// The lines of the step that names the remotes, in the stage job.
    fn remote_setup(text: &str) -> Vec<String> {
        let Some(start) = text.find("Name the remotes as the pipeline does") else {
            return Vec::new();
        };
        text[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with("          "))
            .map(|l| l.trim().to_string())
            .collect()
    }

    #[test]
    fn remotes_are_set_up_as_the_pipeline_names_them() {
        assert_eq!(
            remote_setup(&render_with(&[])),
            [
                "git remote rename origin security",
                "git remote set-url security \"$EMBARGO_PRIVATE_URL\"",
                "git remote add origin \"$EMBARGO_PUBLIC_URL\"",
            ]
        );
        // The private repository is the checkout's own `origin`; the public one gets its name.
        assert_eq!(
            remote_setup(&render_with(&[
                ("private: security", "private: origin"),
                ("public: origin", "public: upstream"),
            ])),
            [
                "git remote set-url origin \"$EMBARGO_PRIVATE_URL\"",
                "git remote add upstream \"$EMBARGO_PUBLIC_URL\"",
            ]
        );
        // URLs are used as written, and are where git's credentials go.
        let text = render_with(&[
            (
                "private: security",
                "private: \"https://git.example.org/app-security.git\"",
            ),
            (
                "public: origin",
                "public: \"https://github.com/example/app.git\"",
            ),
        ]);
        assert!(remote_setup(&text).is_empty(), "{text}");
        assert!(text.contains("EMBARGO_PRIVATE_URL: 'https://git.example.org/app-security.git'"));
        assert!(text.contains("EMBARGO_PUBLIC_URL: 'https://github.com/example/app.git'"));
    }

    #[test]
    fn the_token_variable_must_be_one_a_shell_and_git_leave_alone() {
        let mut reached = 0;
        for bad in ["GIT_ASKPASS", "EMBARGO_PRIVATE_TOKEN", "lower", "A-B"] {
            let mut text = crate::sample::PIPELINE.to_string();
            text = text.replace("token_env: GITHUB_TOKEN", &format!("token_env: \"{bad}\""));
            let Ok(pipeline) = parse(Path::new("p.yaml"), &text, &Overrides::default()) else {
                continue; // refused already by the pipeline's own checks
            };
            let rendered = render(&Source {
                pipeline: &pipeline,
                path_in_clone: "p.yaml".into(),
                command: String::new(),
                version: "0.1.0",
            });
            assert!(rendered.is_err(), "{bad}");
            reached += 1;
        }
        // The two that only a workflow makes dangerous get past the pipeline's checks.
        assert!(reached >= 2, "{reached}");
    }
}
