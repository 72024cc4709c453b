//! Stage 2: run the build steps in a clean checkout of the release commit, collect the artifacts
//! into the state folder's `dist/`, and write the checksums file beside them.
//!
//! The checkout lives in a private temporary folder outside the clone and the state folder, so a
//! plain `git` in a build step finds no repository; it is removed after the build. Steps run in
//! the sandbox (`crate::sandbox`), which hides the clone and the state folder from them.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Built, Context, Prepared};
use crate::checksum;
use crate::error::Error;
use crate::git::export;
use crate::journal::Artifact;
use crate::pipeline::ShardSpec;
use crate::pipeline::template::Var;
use crate::process::{self, Job};
use crate::report::Event;
use crate::sandbox::Sandbox;

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::stage_failed(format!("{what} {}: {e}", path.display()))
}

/// Removes and recreates a folder of the state (never anything outside it).
pub fn fresh_dir(path: &Path) -> Result<(), Error> {
    if path.exists() {
        fs::remove_dir_all(path).map_err(|e| io("cannot clear", path, e))?;
    }
    fs::create_dir_all(path).map_err(|e| io("cannot create", path, e))
}

/// A private (0700) temporary folder outside the clone for a stage's steps, removed when dropped.
pub fn private_folder(stage: &str) -> Result<tempfile::TempDir, Error> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |e: std::io::Error| {
        Error::stage_failed(format!(
            "cannot create a private folder for the {stage} in {}: {e}",
            std::env::temp_dir().display()
        ))
    };
    let dir = tempfile::Builder::new()
        .prefix(&format!("embargo-{stage}-"))
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(failed)?;
    // Whatever the umask and the platform's defaults: only this user may look inside.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).map_err(failed)?;
    Ok(dir)
}

/// The sandbox for a stage's steps: the clone, its git folder, the state folder and a dry run's
/// scratch repository hidden. Before any step runs, the token is taken out of the runner's
/// environment, so that no step can read it there.
pub fn sandbox(ctx: &Context<'_>, work: &Path) -> Option<Sandbox> {
    for name in ctx.secret_env() {
        crate::secret::take_env(&name);
    }
    let (sandbox, unavailable) = Sandbox::detect();
    ctx.reporter.emit(Event::Note(&match (&sandbox, &unavailable) {
        (Some(_), None) => "steps run in their own user, mount and PID namespaces: the clone, the state folder and the runner are out of their sight".to_string(),
        (Some(_), Some(why)) => format!(
            "steps run without namespaces ({why}); the runner is still out of their reach unless they run as root, and every process they start is ended with them"
        ),
        (None, why) => format!(
            "steps run without the sandbox ({}); every process in a step's group is ended with it",
            why.as_deref().unwrap_or("no helper")
        ),
    }));
    let mut sandbox = sandbox?;
    let work = work.canonicalize().unwrap_or_else(|_| work.to_path_buf());
    let mut hide: Vec<PathBuf> = Vec::new();
    for dir in [
        ctx.clone_dir.to_path_buf(),
        ctx.repo.path.clone(),
        ctx.repo.common_dir(),
        ctx.git.dir().to_path_buf(),
        ctx.state_dir().to_path_buf(),
    ] {
        let dir = dir.canonicalize().unwrap_or(dir);
        // Never cover the steps' own folder (a TMPDIR inside the clone, say).
        if !work.starts_with(&dir) && !hide.contains(&dir) {
            hide.push(dir);
        }
    }
    // Outer folders first: a folder inside one already covered needs nothing more.
    hide.sort_by_key(|d| d.components().count());
    sandbox.hide = hide;
    // Where a step may write: its own folder, the temporary folders, its home (caches).
    sandbox.writable = [
        Some(work.clone()),
        Some(std::env::temp_dir()),
        Some(PathBuf::from("/var/tmp")),
        std::env::var_os("HOME").map(PathBuf::from),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.canonicalize().unwrap_or(d))
    // A home of `/` (some containers) must not make the whole file system writable.
    .filter(|d| d.parent().is_some())
    .collect();
    Some(sandbox)
}

/// The git configuration files that decide where the runner's pushes go (remote URLs,
/// `insteadOf` rewrites, `sshCommand`), as they were before the steps. A step that changes one
/// (possible where the sandbox cannot hide them: the user's own files, or no namespaces) stops
/// the release before anything is pushed.
pub struct ConfigWatch {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl ConfigWatch {
    pub fn new(ctx: &Context<'_>) -> ConfigWatch {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = env("HOME");
        let mut paths = vec![
            ctx.repo.common_dir().join("config"),
            ctx.repo.common_dir().join("config.worktree"),
            ctx.clone_dir.join(".git").join("config"),
        ];
        match env("GIT_CONFIG_GLOBAL") {
            Some(global) => paths.push(global),
            None => {
                paths.extend(home.as_ref().map(|h| h.join(".gitconfig")));
                paths.extend(
                    env("XDG_CONFIG_HOME")
                        .or_else(|| home.as_ref().map(|h| h.join(".config")))
                        .map(|c| c.join("git").join("config")),
                );
            }
        }
        if env("GIT_CONFIG_NOSYSTEM").is_none() {
            paths.push(env("GIT_CONFIG_SYSTEM").unwrap_or_else(|| PathBuf::from("/etc/gitconfig")));
        }
        let mut files: Vec<(PathBuf, Option<Vec<u8>>)> = Vec::new();
        for path in paths {
            if !files.iter().any(|(p, _)| *p == path) {
                let bytes = fs::read(&path).ok();
                files.push((path, bytes));
            }
        }
        ConfigWatch { files }
    }

    /// Fails (exit 3) if `step` changed, created or deleted one of the files.
    pub fn check(&self, step: &str) -> Result<(), Error> {
        for (path, before) in &self.files {
            let now = fs::read(path).ok();
            if now != *before {
                return Err(Error::integrity(format!(
                    "`{step}` changed {}, git configuration that decides where the release is pushed ({})",
                    path.display(),
                    match (before, &now) {
                        (None, _) => "it created the file".to_string(),
                        (_, None) => "it deleted the file".to_string(),
                        (Some(a), Some(b)) => format!("{} bytes before, {} now", a.len(), b.len()),
                    }
                ))
                .with_hint("nothing was pushed; restore the file, then find out why the build writes there"));
            }
        }
        Ok(())
    }
}

pub fn run(ctx: &Context<'_>, prepared: &Prepared) -> Result<Built, Error> {
    let dist = ctx.dist_dir();
    fresh_dir(&dist)?;
    let artifacts = match ctx.shards {
        // The shards were built elsewhere (`embargo build --shard`): proven, then taken.
        Some(folder) => super::shards::assemble(ctx, prepared, folder, &dist)?,
        None => {
            let log = ctx.state_dir().join("build.log");
            let mut artifacts: Vec<Artifact> = Vec::new();
            for shard in shards_of(ctx.pipeline) {
                let built = build_shard(ctx, prepared, shard, &dist, &log, &artifacts)?;
                artifacts.extend(built);
            }
            artifacts
        }
    };
    checksums(ctx, prepared, &dist, artifacts)
}

/// The build's shards in order; one unnamed shard for a build that is not split.
pub fn shards_of(pipeline: &crate::pipeline::Pipeline) -> Vec<Option<&ShardSpec>> {
    if pipeline.build.matrix.is_empty() {
        vec![None]
    } else {
        pipeline.build.matrix.iter().map(Some).collect()
    }
}

/// Builds one shard (or the whole build, when it is not split) in a clean checkout of its own,
/// and places its artifacts in `out`. `taken` are the artifacts of shards built before it: a
/// name among them is refused before anything is placed, so nothing is overwritten.
pub fn build_shard(
    ctx: &Context<'_>,
    prepared: &Prepared,
    shard: Option<&ShardSpec>,
    out: &Path,
    log: &Path,
    taken: &[Artifact],
) -> Result<Vec<Artifact>, Error> {
    let checkout = run_steps(ctx, prepared, shard, log)?;
    let built = collect(ctx, prepared, shard, &checkout, out, taken)?;
    checkout.remove()?;
    Ok(built.into_iter().map(|c| c.artifact).collect())
}

/// A clean checkout of the release commit, in a private folder removed with it.
pub struct Checkout {
    work: tempfile::TempDir,
    pub path: PathBuf,
}

impl Checkout {
    pub fn remove(self) -> Result<(), Error> {
        let path = self.path;
        self.work
            .close()
            .map_err(|e| io("cannot remove the build's folder", &path, e))
    }
}

/// The build steps of one shard (or of the whole build) in a clean checkout of the release
/// commit; the checkout, with what the steps made in it, is returned for [`collect`].
pub fn run_steps(
    ctx: &Context<'_>,
    prepared: &Prepared,
    shard: Option<&ShardSpec>,
    log: &Path,
) -> Result<Checkout, Error> {
    let work = private_folder("build")?;
    let checkout = work.path().join("checkout");
    let tree = git2::Oid::from_str(&prepared.tree)
        .map_err(|_| Error::integrity("the journal's release tree is not an object id"))?;
    let exported = export::export_tree(ctx.repo, tree, &checkout)?;
    ctx.reporter.emit(Event::Note(&format!(
        "clean checkout of {} ({} files) in {}{}",
        crate::git::abbrev(&prepared.release_commit),
        exported.files,
        checkout.display(),
        shard
            .map(|s| format!(", for the shard {}", s.name))
            .unwrap_or_default()
    )));
    if !exported.submodules.is_empty() {
        ctx.reporter.emit(Event::Note(&format!(
            "submodules are not checked out: {}",
            exported.submodules.join(", ")
        )));
    }
    // The shard's own environment, under the step's: EMBARGO_SHARD and the matrix's values.
    let extra: Vec<(String, String)> = shard
        .map(|s| {
            std::iter::once(("EMBARGO_SHARD".to_string(), s.name.clone()))
                .chain(s.env.iter().map(|(k, v)| (k.clone(), v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let sandbox = sandbox(ctx, work.path());
    let watch = ConfigWatch::new(ctx);
    for step in &ctx.pipeline.build.steps {
        let mut job = step_job(ctx, step, &checkout, log, &prepared.release_commit, &extra);
        if let Some(s) = shard {
            job.name = format!("{} ({})", step.name, s.name);
        }
        job.sandbox = sandbox.clone();
        let outcome = run_job(ctx, &job);
        watch.check(&job.name)?;
        outcome?;
        crate::failpoint::hit(&format!("build:after-step:{}", step.name));
    }
    Ok(Checkout {
        work,
        path: checkout,
    })
}

/// The artifact globs of a shard (or of the whole build), its values filled in: relative to the
/// checkout.
pub fn artifact_globs(
    ctx: &Context<'_>,
    prepared: &Prepared,
    shard: Option<&ShardSpec>,
) -> Vec<String> {
    ctx.pipeline
        .build
        .artifacts
        .iter()
        .map(|template| {
            template.expand(|v| match (v, shard) {
                (Var::Shard, Some(s)) => s.name.clone(),
                _ => ctx.plan.value(v, Some(&prepared.release_commit)),
            })
        })
        .collect()
}

/// How a shard's path is matched against its globs, as `glob::glob` finds files: `*` within one
/// folder, `**` across folders.
pub const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// A glob as a path relative to the checkout is recorded: `./` and empty parts dropped (the path
/// of a file it matched is recorded without them), so that the two compare as written.
pub fn normal_glob(glob: &str) -> String {
    glob.split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Another shard of the matrix whose artifact globs match `path` too: a file whose shard its path
/// does not tell (shards `linux` and `linux-arm64` with `app-{shard}*`).
pub fn also_matched_by<'p>(
    ctx: &Context<'p>,
    prepared: &Prepared,
    shard: &ShardSpec,
    path: &str,
) -> Option<&'p ShardSpec> {
    ctx.pipeline.build.matrix.iter().find(|other| {
        other.name != shard.name
            && artifact_globs(ctx, prepared, Some(other))
                .iter()
                .filter_map(|g| glob::Pattern::new(&normal_glob(g)).ok())
                .any(|p| p.matches_with(path, MATCH))
    })
}

/// One artifact as collected: what it is, and where the build left it in the checkout.
#[derive(Debug, Clone)]
pub struct Collected {
    pub artifact: Artifact,
    /// The glob's match, relative to the checkout.
    pub path: String,
}

/// A build step or check as a job, with the release's values in its environment.
pub fn step_job(
    ctx: &Context<'_>,
    step: &crate::pipeline::StepSpec,
    cwd: &Path,
    log: &Path,
    commit: &str,
    extra: &[(String, String)],
) -> Job {
    // A clean environment: a compromised build script must not find the publishing token or
    // anything else of the release lead's. Only what the pipeline names gets through.
    let mut env: Vec<(String, String)> = ["PATH", "HOME"]
        .iter()
        .map(|k| k.to_string())
        .chain(ctx.pipeline.build.env_passthrough.iter().cloned())
        .filter(|k| !ctx.secret_env().contains(k))
        .filter_map(|k| std::env::var(&k).ok().map(|v| (k, v)))
        .collect();
    env.extend(ctx.plan.env(commit));
    env.extend(extra.iter().cloned());
    env.extend(step.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    Job {
        name: step.name.clone(),
        command: step.run.clone(),
        cwd: cwd.to_path_buf(),
        env,
        timeout: step.timeout,
        log: log.to_path_buf(),
        sandbox: None,
    }
}

/// Runs a job with live output; a failure names the step, how it ended and its last lines.
pub fn run_job(ctx: &Context<'_>, job: &Job) -> Result<process::Outcome, Error> {
    ctx.reporter.emit(Event::StepStarted { name: &job.name });
    let name = job.name.clone();
    let outcome = process::run(job, &mut |line| {
        ctx.reporter.emit(Event::StepOutput { name: &name, line })
    })
    .map_err(|e| Error::stage_failed(format!("`{}`: cannot run `sh -c`: {e}", job.name)))?;
    ctx.reporter.emit(Event::StepFinished {
        name: &job.name,
        elapsed: outcome.elapsed,
        ok: outcome.status.success(),
    });
    if !outcome.status.success() {
        let tail = outcome
            .tail
            .iter()
            .map(|l| format!("    | {l}"))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(Error::stage_failed(format!(
            "`{}` {} after {}{}",
            job.name,
            outcome.status.describe(job.timeout),
            process::humanize(outcome.elapsed),
            if tail.is_empty() {
                " (it printed nothing)".to_string()
            } else {
                format!("; its last lines:\n{tail}")
            }
        ))
        .with_hint(format!(
            "the whole output is in {}; fix the cause and run `embargo run` again: it resumes at this stage",
            job.log.display()
        )));
    }
    Ok(outcome)
}

/// Why a file name cannot be a release asset as it is: GitHub renames names with other
/// characters, and the published name must be the checksummed name.
pub fn bad_asset_name(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.starts_with('.') {
        Some("it is empty or starts with `.`")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        Some("it has characters other than letters, digits, `.`, `-` and `_`")
    } else {
        None
    }
}

/// Moves every file the artifact globs match into `dist`, hashing each as it is placed.
pub fn collect(
    ctx: &Context<'_>,
    prepared: &Prepared,
    shard: Option<&ShardSpec>,
    checkout: &Checkout,
    dist: &Path,
    taken: &[Artifact],
) -> Result<Vec<Collected>, Error> {
    let checkout = &checkout.path;
    let root = checkout
        .canonicalize()
        .map_err(|e| io("cannot read", checkout, e))?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut links_inside: Option<BTreeMap<(u64, u64), u64>> = None;
    for pattern in artifact_globs(ctx, prepared, shard) {
        let full = format!(
            "{}/{}",
            glob::Pattern::escape(&root.display().to_string()),
            pattern
        );
        let matches = glob::glob(&full).map_err(|e| {
            Error::bad_input(format!(
                "build.artifacts: `{pattern}` is not a valid glob: {e}"
            ))
        })?;
        let mut matched = 0;
        for entry in matches {
            let path = entry
                .map_err(|e| Error::stage_failed(format!("build.artifacts: `{pattern}`: {e}")))?;
            let real = path
                .canonicalize()
                .map_err(|e| io("cannot read", &path, e))?;
            if !real.starts_with(&root) {
                return Err(Error::bad_input(format!(
                    "build.artifacts: {} leads outside the checkout (to {})",
                    path.display(),
                    real.display()
                )));
            }
            if !real.is_file() {
                continue;
            }
            // A hard link shares its bytes with a file that may be outside the checkout (a key,
            // the clone's objects): accepted only when every link to it is inside.
            let meta = fs::metadata(&real).map_err(|e| io("cannot read", &real, e))?;
            if meta.nlink() > 1 {
                let inside = links_inside.get_or_insert_with(|| count_links(&root));
                let found = inside.get(&(meta.dev(), meta.ino())).copied().unwrap_or(0);
                if found < meta.nlink() {
                    return Err(Error::bad_input(format!(
                        "build.artifacts: {} is a hard link to a file with {} links, {} of them outside the checkout",
                        path.display(),
                        meta.nlink(),
                        meta.nlink() - found
                    ))
                    .with_hint("an artifact must be a file the build wrote: copy it instead of linking it"));
                }
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(why) = bad_asset_name(&name) {
                return Err(Error::bad_input(format!(
                    "build.artifacts: {} cannot be a release asset: {why}",
                    path.display()
                ))
                .with_hint("name artifacts with letters, digits, `.`, `-` and `_` (GitHub renames anything else)"));
            }
            // GitHub takes asset names without regard to case: `App.bin` and `app.bin` collide.
            if let Some((_, other)) = files.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                if *other == real {
                    matched += 1;
                    continue;
                }
                return Err(Error::bad_input(format!(
                    "build.artifacts: two artifacts are named `{name}` ({} and {}); release assets need distinct names, whatever their case",
                    other.display(),
                    real.display()
                )));
            }
            if let Some(earlier) = taken.iter().find(|a| a.name.eq_ignore_ascii_case(&name)) {
                return Err(Error::bad_input(format!(
                    "build.artifacts: two shards made an artifact named `{name}`: the shard {} made {}, and an earlier shard made `{}`; release assets need distinct names, whatever their case",
                    shard.map(|s| s.name.as_str()).unwrap_or_default(),
                    path.display(),
                    earlier.name
                ))
                .with_hint("put the shard in the file's name: {shard} in build.artifacts, $EMBARGO_SHARD in the steps"));
            }
            if shard.is_some() && name.eq_ignore_ascii_case(super::shards::MANIFEST) {
                return Err(Error::bad_input(format!(
                    "build.artifacts: {} is named {name}, the name of a shard's manifest beside its files",
                    path.display()
                ))
                .with_hint("rename the file in the build"));
            }
            let relative = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            if let Some(own) = shard
                && let Some(other) = also_matched_by(ctx, prepared, own, &relative)
            {
                return Err(Error::bad_input(format!(
                    "build.artifacts: {relative}, made by the shard {}, is matched by the globs of the shard {} too: a file's path must tell which shard made it",
                    own.name, other.name
                ))
                .with_hint("end the part of the glob after {shard} with something no shard name continues with (\"app-{shard}.tar.gz\", \"out/{shard}/*\"), or rename the shards so that none is the start of another"));
            }
            paths.push(relative);
            files.push((name, real));
            matched += 1;
        }
        if matched == 0 {
            return Err(Error::stage_failed(format!(
                "build.artifacts: `{pattern}` matched no file in the checkout after the build"
            ))
            .with_hint(format!(
                "globs are relative to the checkout ({}); check where the build writes its output",
                checkout.display()
            )));
        }
    }
    // Each artifact is moved out of the checkout (which is removed next) rather than copied when
    // both are on one file system, and hashed as it is placed: the bytes are read once here, and
    // not again in this process unless the file changes (see `checksum::sha256_files_once`).
    // An artifact reached under two names (a symlink) is moved once and copied for the other.
    let mut moves: Vec<(PathBuf, PathBuf)> = Vec::new();
    for (name, source) in &files {
        if !moves.iter().any(|(from, _)| from == source) {
            moves.push((source.clone(), dist.join(name)));
        }
    }
    let placed = checksum::place_all(&moves, 0).map_err(|e| {
        Error::stage_failed(format!("placing the artifacts in {}: {e}", dist.display()))
    })?;
    let mut sums = Vec::new();
    for (name, source) in &files {
        let target = dist.join(name);
        let first = moves.iter().position(|(from, _)| from == source);
        sums.push(match first {
            Some(i) if moves[i].1 == target => placed[i].clone(),
            Some(i) => checksum::copy_hashing(&moves[i].1, &target)
                .map_err(|e| io("cannot copy the artifact to", &target, e))?,
            None => return Err(Error::stage_failed(format!("{name} was not placed"))),
        });
    }
    Ok(files
        .iter()
        .zip(&sums)
        .zip(paths)
        .map(|(((name, _), sum), path)| Collected {
            artifact: Artifact {
                name: name.clone(),
                size: sum.size,
                sha256: sum.sha256.clone(),
            },
            path,
        })
        .collect())
}

/// Writes the checksums file beside the artifacts in `dist`: the build's record.
pub fn checksums(
    ctx: &Context<'_>,
    prepared: &Prepared,
    dist: &Path,
    artifacts: Vec<Artifact>,
) -> Result<Built, Error> {
    let checksums_file = ctx
        .pipeline
        .build
        .checksums
        .expand(|v| ctx.plan.value(v, Some(&prepared.release_commit)));
    if let Some(why) = bad_asset_name(&checksums_file) {
        return Err(Error::bad_input(format!(
            "build.checksums: `{checksums_file}` cannot be a release asset: {why}"
        )));
    }
    if artifacts
        .iter()
        .any(|a| a.name.eq_ignore_ascii_case(&checksums_file))
    {
        return Err(Error::bad_input(format!(
            "build.checksums: `{checksums_file}` is also the name of an artifact"
        )));
    }
    let text = checksum::render_sums(
        &artifacts
            .iter()
            .map(|a| (a.name.clone(), a.sha256.clone()))
            .collect::<Vec<_>>(),
    );
    let sums_path = dist.join(&checksums_file);
    fs::write(&sums_path, &text).map_err(|e| io("cannot write", &sums_path, e))?;
    let sums_sha = checksum::sha256_file(&sums_path)
        .map_err(|e| io("cannot read", &sums_path, e))?
        .sha256;
    Ok(Built {
        artifacts,
        checksums_file,
        checksums_sha256: sums_sha,
        spec: crate::contract::build_fingerprint(ctx.pipeline),
    })
}

/// How many links to each file (by device and inode) are inside `root`, symlinks not followed.
fn count_links(root: &Path) -> BTreeMap<(u64, u64), u64> {
    let mut counts = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                *counts.entry((meta.dev(), meta.ino())).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// On a rerun: every artifact in `dist/` must still be what was built.
pub fn recheck(ctx: &Context<'_>, built: &Built) -> Result<(), Error> {
    recheck_dist(&ctx.dist_dir(), built)
}

/// Every file in `dist` is still what was built.
pub fn recheck_dist(dist: &Path, built: &Built) -> Result<(), Error> {
    let mut paths: Vec<PathBuf> = built.artifacts.iter().map(|a| dist.join(&a.name)).collect();
    paths.push(dist.join(&built.checksums_file));
    let mut expected: Vec<(&str, &str)> = built
        .artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.sha256.as_str()))
        .collect();
    expected.push((&built.checksums_file, &built.checksums_sha256));
    for path in &paths {
        if !path.is_file() {
            return Err(Error::integrity(format!(
                "the built artifact {} is missing",
                path.display()
            ))
            .with_hint(
                "the state folder must be kept whole between runs; restore it from a copy",
            ));
        }
    }
    // Read again unless this very process placed or hashed the file and it has not changed since.
    let sums = checksum::sha256_files_once(&paths, 0)
        .map_err(|e| Error::stage_failed(format!("hashing the artifacts: {e}")))?;
    for ((name, want), sum) in expected.iter().zip(&sums) {
        if sum.sha256 != *want {
            return Err(Error::integrity(format!(
                "checksum mismatch: {} has sha256 {}, but {} was built and recorded",
                dist.join(name).display(),
                sum.sha256,
                want
            ))
            .with_hint(
                "the published bytes must be the built bytes; find out who changed the file",
            ));
        }
    }
    Ok(())
}

/// Stage 2: the binaries built in a clean checkout of the release commit, and their checksums.
pub struct Build<'a> {
    pub prepared: &'a Prepared,
}

impl super::Step for Build<'_> {
    const STAGE: crate::journal::Stage = crate::journal::Stage::Build;
    const RESUMED: &'static str = "artifacts match their checksums";
    type Output = Built;

    fn run(&self, ctx: &Context<'_>) -> Result<Built, Error> {
        run(ctx, self.prepared)
    }

    fn recheck(&self, ctx: &Context<'_>, done: &Built) -> Result<(), Error> {
        recheck(ctx, done)
    }

    fn summary(&self, _ctx: &Context<'_>, b: &Built) -> String {
        format!("{} artifact(s), {}", b.artifacts.len(), b.checksums_file)
    }
}
