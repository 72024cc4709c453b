//! `embargo build --shard NAME --output DIR`: one shard of a build split across runners, built on
//! this machine from the release commit that `embargo run --until prepare` made, its files and
//! manifest left in DIR/<tag>/<shard>/ for `embargo run --shards`. Writes nothing in the state folder and
//! pushes nothing: the journal records the build once every shard is taken.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{open_workspace, overrides, print_json};
use crate::cli::BuildArgs;
use crate::error::{Error, Exit};
use crate::journal::Journal;
use crate::pipeline;
use crate::plan;
use crate::report::{self, Event};
use crate::stages::{self, Context, shards::Manifest};

pub fn execute(args: BuildArgs, cwd: &Path) -> Result<Exit, Error> {
    // A shard's log shows the build of the fix as much as the whole build's would.
    let actions = crate::ci::actions::Actions::from_env();
    if let Some(actions) = &actions {
        actions.refuse_public_repository(false)?;
    }
    let reporter = report::choose(args.common.verbose, args.common.json);
    let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
    let Some(shard) = pipeline.build.matrix.iter().find(|s| s.name == args.shard) else {
        return Err(if pipeline.build.matrix.is_empty() {
            Error::bad_input(format!(
                "{}: the pipeline's build has no build.matrix, so it has no shard `{}`",
                pipeline.file.display(),
                args.shard
            ))
            .with_hint("`embargo run` builds the whole release on one machine")
        } else {
            Error::bad_input(format!(
                "{}: build.matrix has no shard `{}`; its shards are {}",
                pipeline.file.display(),
                args.shard,
                pipeline.build.shard_names()
            ))
        });
    };
    let workspace = open_workspace(&pipeline, cwd, None)?;
    if pipeline.narrowed
        && let Some(set) = super::sets_under_way(&workspace.clone, &pipeline).first()
    {
        return Err(Error::bad_input(format!(
            "a release of several lines of this pipeline is under way ({}): its shards are built for every line at once",
            set.display()
        ))
        .with_hint("leave out --line, as its prepare job did"));
    }
    let state_dir = args.common.state_dir.as_deref();
    // A release of several lines: the shard is built for every line, each into its own folder.
    let plans = if pipeline.several_lines() {
        plan::resolve_set(&pipeline, &workspace, state_dir)?.lines
    } else {
        vec![plan::resolve(&pipeline, &workspace, state_dir)?]
    };
    let states: Vec<&Path> = plans.iter().map(|p| p.state_dir.as_path()).collect();
    let root = output_folder(&args.output, &workspace.clone.path, &states)?;
    let mut built = Built {
        output: root.clone(),
        manifests: Vec::new(),
    };
    for (i, plan) in plans.into_iter().enumerate() {
        // As `run` holds each line: the advisory is carried by the newest line alone.
        let pipeline = if i == 0 {
            pipeline.clone()
        } else {
            super::run_set::without_advisory(&pipeline)
        };
        built.manifests.push(build_line(
            &pipeline,
            &workspace,
            plan,
            shard,
            &root,
            reporter.as_ref(),
        )?);
    }
    if let Some(actions) = &actions {
        actions.append_summary(&crate::ci::actions::shard_summary(&built.manifests))?;
    }
    if args.common.json {
        print_json(&built)?;
    } else {
        for manifest in &built.manifests {
            print!(
                "{}",
                report::summary::shard_text(
                    &pipeline,
                    manifest,
                    &root.join(&manifest.tag).join(&manifest.shard)
                )
            );
        }
    }
    Ok(Exit::Done)
}

/// What `embargo build --shard` wrote: one manifest per line of the release, each in the
/// folder named after its tag under `output`.
#[derive(Debug, Serialize)]
struct Built {
    output: PathBuf,
    manifests: Vec<Manifest>,
}

/// The shard of one line, built from the release commit its prepare job recorded.
fn build_line(
    pipeline: &pipeline::Pipeline,
    workspace: &crate::git::workspace::Workspace,
    mut plan: plan::Plan,
    shard: &crate::pipeline::ShardSpec,
    root: &Path,
    reporter: &dyn report::Reporter,
) -> Result<Manifest, Error> {
    let state = plan.state_dir.clone();
    let not_prepared = || {
        Error::bad_input(format!(
            "{} is not prepared in {}: a shard builds the release commit the prepare job made",
            plan.tag,
            state.display()
        ))
        .with_hint(format!(
            "run `embargo run {} --until prepare` first, and bring its state folder here",
            pipeline.file.display()
        ))
    };
    if !state.join("journal.jsonl").is_file() {
        return Err(not_prepared());
    }
    let _lock = crate::lock::lock(&state, "build")?;
    let mut journal = Journal::open(&state)?;
    super::refuse_aborted(journal.entries(), &state)?;
    let Some(prepared) = super::run::prepared_in(&journal)? else {
        return Err(not_prepared());
    };
    super::run::hold_to_record(pipeline, &mut plan, &mut journal, false, "build", reporter)?;
    if stages::prepare::bring_back(
        &workspace.repo,
        &workspace.git,
        &pipeline.repository.private,
        &prepared,
    )? {
        reporter.emit(Event::Note(&format!(
            "brought back the patch branch {} from the private remote into this clone",
            prepared.patch_branch
        )));
    }
    let ctx = Context {
        pipeline,
        plan: &plan,
        repo: &workspace.repo,
        git: &workspace.git,
        reporter,
        dry_run: false,
        clone_dir: &workspace.clone.path,
        github_offline: true,
        advisory: None,
        set: stages::SetStep::Alone,
        osv: None,
        shards: None,
    };
    stages::prepare::recheck(&ctx, &prepared)?;
    // In the state folder, out of the steps' sight: not in DIR, where a step could plant a link
    // for the log to be written through.
    let log = state.join(format!("build-{}.log", shard.name));
    let before = identity(root)?;
    // Other shards built into the same folder: a step of this shard must not change them.
    let ours = root.join(&prepared.tag).join(&shard.name);
    let others = Others::read(root, &ours);
    let checkout = stages::build::run_steps(&ctx, &prepared, Some(shard), &log)?;
    others.unchanged(root, &ours, &shard.name)?;
    // Made only now that the steps are over (and every process they started ended): nothing they
    // left under DIR, a link above all, is written through.
    let out = fresh_output(root, before, &prepared.tag, &shard.name)?;
    let collected = stages::build::collect(&ctx, &prepared, Some(shard), &checkout, &out, &[])?;
    checkout.remove()?;
    let manifest = Manifest::new(&ctx, &prepared, &shard.name, collected);
    manifest.write(&out)?;
    Ok(manifest)
}

/// Everything under the output folder but this shard's own folder: each file with what changes
/// when it is written, renamed or replaced (its inode, size and change time, which no process
/// can set), each folder and link by its inode.
struct Others(std::collections::BTreeMap<PathBuf, (u64, u64, u64, i64, i64)>);

impl Others {
    fn read(root: &Path, ours: &Path) -> Others {
        use std::os::unix::fs::MetadataExt;
        let mut seen = std::collections::BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.starts_with(ours) {
                    continue;
                }
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.is_dir() {
                    seen.insert(path.clone(), (meta.dev(), meta.ino(), 0, 0, 0));
                    stack.push(path);
                } else {
                    seen.insert(
                        path,
                        (
                            meta.dev(),
                            meta.ino(),
                            meta.size(),
                            meta.ctime(),
                            meta.ctime_nsec(),
                        ),
                    );
                }
            }
        }
        Others(seen)
    }

    /// After the steps: nothing outside this shard's folder was changed, added or removed (this
    /// shard's release folder may have been made, as the shard's own folder is made in it).
    /// What was is removed (a shard's whole folder, never through a link): a shard whose files a
    /// step could rewrite is built again, not taken.
    fn unchanged(&self, root: &Path, ours: &Path, shard: &str) -> Result<(), Error> {
        let now = Others::read(root, ours);
        let release = ours.parent();
        let mut changed: Vec<&PathBuf> = self
            .0
            .iter()
            .filter(|(path, meta)| now.0.get(*path) != Some(meta))
            .map(|(path, _)| path)
            .collect();
        changed.extend(
            now.0
                .keys()
                .filter(|path| !self.0.contains_key(*path) && Some(path.as_path()) != release),
        );
        let Some(first) = changed.first() else {
            return Ok(());
        };
        // `<tag>/<shard>` under the folder, or the entry itself when it is higher up.
        let mut removed: Vec<PathBuf> = Vec::new();
        for path in &changed {
            let relative = path.strip_prefix(root).unwrap_or(path);
            let folder: PathBuf = root.join(relative.components().take(2).collect::<PathBuf>());
            if !removed.contains(&folder) {
                let gone = match fs::symlink_metadata(&folder) {
                    Ok(m) if m.is_dir() => fs::remove_dir_all(&folder),
                    Ok(_) => fs::remove_file(&folder),
                    Err(_) => Ok(()),
                };
                if gone.is_ok() {
                    removed.push(folder);
                }
            }
        }
        Err(Error::integrity(format!(
            "a build step of the shard {shard} changed {} in --output {}, which holds other shards' files; removed, to be built again: {}",
            first.display(),
            root.display(),
            removed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("nothing of this shard was written; build each shard into a folder of its own (as the workflow does, one runner each), build the removed shards again, and find out why the build writes there"))
    }
}

/// A folder's device and inode, to tell it was not replaced.
fn identity(dir: &Path) -> Result<(u64, u64), Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| Error::stage_failed(format!("cannot read {}: {e}", dir.display())))?;
    Ok((meta.dev(), meta.ino()))
}

/// `root/<tag>/<shard>/`, made afresh after the build: `root` must still be the folder it was
/// before the steps ran; whatever stands at `<tag>` that is not a folder, and whatever stands at
/// `<shard>`, is removed (a link itself, never what it points to).
fn fresh_output(root: &Path, before: (u64, u64), tag: &str, shard: &str) -> Result<PathBuf, Error> {
    let meta = fs::symlink_metadata(root).ok();
    if !meta.as_ref().is_some_and(|m| m.is_dir()) || identity(root)? != before {
        return Err(Error::integrity(format!(
            "--output {} was replaced while the shard was built",
            root.display()
        ))
        .with_hint(
            "a build step changed the output folder; nothing was written there; find out why",
        ));
    }
    let failed = |what: &str, path: &Path, e: std::io::Error| {
        Error::stage_failed(format!("cannot {what} {}: {e}", path.display()))
    };
    let remove = |path: &Path| -> Result<(), Error> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(|e| failed("remove", path, e)),
            Ok(_) => fs::remove_file(path).map_err(|e| failed("remove", path, e)),
            Err(_) => Ok(()),
        }
    };
    let release = root.join(tag);
    if !fs::symlink_metadata(&release).is_ok_and(|m| m.is_dir()) {
        remove(&release)?;
        fs::create_dir(&release).map_err(|e| failed("create", &release, e))?;
    }
    let out = release.join(shard);
    remove(&out)?;
    fs::create_dir(&out).map_err(|e| failed("create", &out, e))?;
    Ok(out)
}

/// The folder the shard's files go under, as an absolute path: refused when it is the clone or
/// a state folder or inside them, when it is a file, or when it holds anything but earlier
/// shards' output (a shard's own folder is emptied before its build); made when missing, once
/// all of that is known.
fn output_folder(output: &Path, clone: &Path, states: &[&Path]) -> Result<PathBuf, Error> {
    let refused = |why: String| Error::bad_input(format!("--output {}: {why}", output.display()));
    let real = resolved(output).map_err(|e| refused(e.to_string()))?;
    let places = std::iter::once(("the clone", clone))
        .chain(states.iter().map(|s| ("the state folder", *s)));
    for (what, dir) in places {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if real.starts_with(&dir) || dir.starts_with(&real) {
            return Err(refused(format!(
                "it is {what} ({}), or inside it, or holds it; a shard's files go in a folder of their own",
                dir.display()
            ))
            .with_hint("give a folder outside the clone, like $RUNNER_TEMP/shard"));
        }
    }
    match fs::symlink_metadata(&real) {
        Ok(meta) if !meta.is_dir() => {
            return Err(refused("it is a file, not a folder".to_string()));
        }
        Ok(_) => {
            let entries = fs::read_dir(&real).map_err(|e| refused(e.to_string()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if !written_by_a_shard(&path) {
                    return Err(refused(format!(
                        "it holds {}, which no shard wrote; a shard's folder in it is emptied before its build",
                        path.display()
                    ))
                    .with_hint("give an empty folder, or one an earlier `embargo build --shard` wrote"));
                }
            }
        }
        Err(_) => fs::create_dir_all(&real).map_err(|e| refused(e.to_string()))?,
    }
    Ok(real)
}

/// `path` made absolute with every link it passes through resolved, whether it exists yet or
/// not: its nearest existing folder resolved, the rest appended.
fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            out.extend(rest.iter().rev());
            return Ok(out);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return Ok(absolute),
        }
    }
}

/// What `embargo build --shard` leaves in its output folder: a release's folder holding shards'
/// folders (each with its manifest, or empty after a build cut short), and the build logs.
fn written_by_a_shard(path: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if meta.is_file() {
        return name.starts_with("build-") && name.ends_with(".log");
    }
    if !meta.is_dir() {
        return false;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return false;
    };
    entries.flatten().all(|shard| {
        let dir = shard.path();
        fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir())
            && fs::read_dir(&dir).is_ok_and(|mut inside| {
                inside.next().is_none() || dir.join(stages::shards::MANIFEST).is_file()
            })
    })
}
