//! A build split across runners (`build.matrix`): each shard is built on a machine of its own by
//! `embargo build --shard`, which leaves its artifacts in a folder with a manifest
//! ([`MANIFEST`]); the build stage of `embargo run --shards` then proves every shard's folder
//! against the release and takes its files, instead of building.
//!
//! What the manifest binds: the pipeline, the release (tag, release commit and tree), the build
//! section that ran (its fingerprint) and every file's name, size and sha256. A folder from
//! another commit, another release or another build section is an integrity violation (exit 3),
//! as is a file that is not what its shard recorded; a missing shard or a shard given twice is
//! the operator's to fix (exit 2). The manifest travels with the files, so it catches mix-ups
//! and changes in transit, not a runner whose build step rewrote it: the build's own steps are
//! trusted as much on a shard's runner as on one machine.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Context, Prepared};
use crate::error::Error;
use crate::journal::Artifact;

/// The manifest's file name in a shard's folder.
pub const MANIFEST: &str = "shard.json";
/// The manifest format written by this version.
const FORMAT: u32 = 1;
/// How deep under the folder given to `--shards` a shard's folder may be: a download of CI
/// artifacts nests each in a folder named after it, and `embargo build` puts each release's
/// files in a folder named after its tag.
const MAX_DEPTH: usize = 4;
/// The largest manifest read: far more than thousands of files take.
const MAX_MANIFEST: u64 = 4 << 20;

/// What `embargo build --shard` built, written beside the files as [`MANIFEST`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The pipeline's `name`.
    pub pipeline: String,
    /// The shard's name in `build.matrix`.
    pub shard: String,
    pub tag: String,
    pub release_commit: String,
    pub tree: String,
    /// The build section's fingerprint (see `contract::build_fingerprint`).
    pub build: String,
    pub artifacts: Vec<ShardFile>,
}

/// One file a shard built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardFile {
    /// The release asset's name, and the file's name in the shard's folder.
    pub name: String,
    /// Where the build left it, relative to the checkout: what `build.artifacts` matched.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl ShardFile {
    fn artifact(&self) -> Artifact {
        Artifact {
            name: self.name.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
        }
    }
}

impl Manifest {
    pub fn new(
        ctx: &Context<'_>,
        prepared: &Prepared,
        shard: &str,
        collected: Vec<super::build::Collected>,
    ) -> Self {
        Manifest {
            format: FORMAT,
            pipeline: ctx.pipeline.name.clone(),
            shard: shard.to_string(),
            tag: prepared.tag.clone(),
            release_commit: prepared.release_commit.clone(),
            tree: prepared.tree.clone(),
            build: crate::contract::build_fingerprint(ctx.pipeline),
            artifacts: collected
                .into_iter()
                .map(|c| ShardFile {
                    name: c.artifact.name,
                    path: c.path,
                    size: c.artifact.size,
                    sha256: c.artifact.sha256,
                })
                .collect(),
        }
    }

    /// Writes the manifest into `dir`, beside the files it names, as a new file: never through
    /// a link or over a file someone put there.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, Error> {
        use std::io::Write;
        let path = dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::stage_failed(format!("cannot write the shard's manifest: {e}")))?;
        let cannot = |e: std::io::Error| {
            Error::stage_failed(format!("cannot write {}: {e}", path.display()))
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(cannot)?;
        file.write_all(format!("{text}\n").as_bytes())
            .map_err(cannot)?;
        Ok(path)
    }

    /// Reads a manifest: a plain file (not a link, a pipe or a device) of a manifest's size.
    fn read(path: &Path) -> Result<Manifest, Error> {
        use std::io::Read;
        let meta = fs::symlink_metadata(path).map_err(|e| unreadable(path, e))?;
        if !meta.is_file() {
            return Err(Error::integrity(format!(
                "{} is not a plain file (a link, a folder, a pipe or a device): a shard's manifest is the file `embargo build --shard` wrote",
                path.display()
            )));
        }
        if meta.len() > MAX_MANIFEST {
            return Err(Error::integrity(format!(
                "{} has {} bytes, more than a shard's manifest ({MAX_MANIFEST} at most)",
                path.display(),
                meta.len()
            )));
        }
        let mut bytes = Vec::new();
        fs::File::open(path)
            .and_then(|f| f.take(MAX_MANIFEST + 1).read_to_end(&mut bytes))
            .map_err(|e| unreadable(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::integrity(format!(
                "{} is not a shard manifest written by `embargo build --shard`: {e}",
                path.display()
            ))
        })
    }
}

/// A shard's folder found under the folder given to `--shards`.
struct Found {
    dir: PathBuf,
    manifest: Manifest,
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::stage_failed(format!("cannot read {}: {e}", path.display()))
}

/// Every folder under `root` (at most [`MAX_DEPTH`] deep, symlinks not followed) that holds a
/// manifest, with the manifest read.
fn find(root: &Path) -> Result<Vec<Found>, Error> {
    let meta = fs::symlink_metadata(root).map_err(|e| {
        Error::bad_input(format!("--shards {}: {e}", root.display()))
            .with_hint("give the folder the shards' folders were downloaded into")
    })?;
    if !meta.is_dir() {
        return Err(Error::bad_input(format!(
            "--shards {}: not a folder",
            root.display()
        )));
    }
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let manifest = dir.join(MANIFEST);
        if fs::symlink_metadata(&manifest).is_ok() {
            let manifest = Manifest::read(&manifest)?;
            found.push(Found { dir, manifest });
            continue;
        }
        if depth == MAX_DEPTH {
            continue;
        }
        let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|e| unreadable(&dir, e))?
            .map(|e| e.map(|e| e.path()).map_err(|e| unreadable(&dir, e)))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for path in entries.into_iter().rev() {
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                stack.push((path, depth + 1));
            }
        }
    }
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(found)
}

/// The build stage of `embargo run --shards ROOT`: every shard of `build.matrix` for this
/// release, found once under `root` and proven, has its files copied into `dist` (hashed as they
/// are copied, and held to its manifest). Returns the artifacts in the matrix's order.
pub fn assemble(
    ctx: &Context<'_>,
    prepared: &Prepared,
    root: &Path,
    dist: &Path,
) -> Result<Vec<Artifact>, Error> {
    let matrix = &ctx.pipeline.build.matrix;
    if matrix.is_empty() {
        return Err(Error::bad_input(format!(
            "--shards {}: the pipeline's build has no build.matrix, so there are no shards to take",
            root.display()
        ))
        .with_hint("leave out --shards: `embargo run` builds on this machine"));
    }
    let found = find(root)?;
    // The releases this folder may hold shards of: this one, or another line of the same release.
    let release_tags: Vec<&str> = std::iter::once(prepared.tag.as_str())
        .chain(ctx.plan.release_set.iter().map(String::as_str))
        .collect();
    let build = crate::contract::build_fingerprint(ctx.pipeline);
    let mut ours: Vec<&Found> = Vec::new();
    for shard in &found {
        let m = &shard.manifest;
        let at = shard.dir.display();
        if m.format != FORMAT {
            return Err(Error::integrity(format!(
                "{at}: the shard's manifest is format {}, this embargo reads format {FORMAT}",
                m.format
            ))
            .with_hint("build every shard with the same version of embargo as this run"));
        }
        if m.pipeline != ctx.pipeline.name {
            return Err(Error::integrity(format!(
                "{at}: the shard {} was built for the pipeline `{}`, not `{}`",
                m.shard, m.pipeline, ctx.pipeline.name
            )));
        }
        if !release_tags.contains(&m.tag.as_str()) {
            return Err(Error::integrity(format!(
                "{at}: the shard {} was built for {}, which is not part of this release ({})",
                m.shard,
                m.tag,
                release_tags.join(", ")
            ))
            .with_hint("give --shards a folder holding only this release's shards"));
        }
        if m.tag != prepared.tag {
            continue;
        }
        if m.release_commit != prepared.release_commit || m.tree != prepared.tree {
            return Err(Error::integrity(format!(
                "{at}: the shard {} of {} was built from commit {} (tree {}), but the release commit is {} (tree {})",
                m.shard, m.tag, m.release_commit, m.tree, prepared.release_commit, prepared.tree
            ))
            .with_hint(
                "a shard's files must come from the release commit this state folder prepared; build the shard again from it",
            ));
        }
        if m.build != build {
            return Err(Error::integrity(format!(
                "{at}: the shard {} of {} was built with another build section than the pipeline's now",
                m.shard, m.tag
            ))
            .with_hint("build every shard again with the pipeline as it is"));
        }
        if !matrix.iter().any(|s| s.name == m.shard) {
            return Err(Error::integrity(format!(
                "{at}: `{}` is not a shard of build.matrix ({})",
                m.shard,
                ctx.pipeline.build.shard_names()
            )));
        }
        if let Some(twin) = ours.iter().find(|o| o.manifest.shard == m.shard) {
            return Err(Error::bad_input(format!(
                "the shard {} of {} is in {} and in {}: each shard is taken once",
                m.shard,
                m.tag,
                twin.dir.display(),
                at
            ))
            .with_hint("remove the folder that should not be there, then run again"));
        }
        ours.push(shard);
    }
    let missing: Vec<&str> = matrix
        .iter()
        .map(|s| s.name.as_str())
        .filter(|name| !ours.iter().any(|o| o.manifest.shard == *name))
        .collect();
    if !missing.is_empty() {
        let seen = if found.is_empty() {
            "no shard's folder at all".to_string()
        } else {
            found
                .iter()
                .map(|f| {
                    format!(
                        "{} ({} of {})",
                        f.dir.display(),
                        f.manifest.shard,
                        f.manifest.tag
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::bad_input(format!(
            "--shards {}: no folder holds the shard(s) {} of {}; every shard of build.matrix is needed (found: {seen}; links are not followed, and folders more than {MAX_DEPTH} levels down are not searched)",
            root.display(),
            missing.join(", "),
            prepared.tag
        ))
        .with_hint(format!(
            "its job failed or its folder was not downloaded: build it with `embargo build {} --shard NAME --output DIR` and put DIR under {}",
            ctx.pipeline.file.display(),
            root.display()
        )));
    }
    // The matrix's order, whatever the folders' names.
    ours.sort_by_key(|o| matrix.iter().position(|s| s.name == o.manifest.shard));
    let mut copies: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut owners: Vec<&str> = Vec::new();
    for shard in &ours {
        let spec = matrix.iter().find(|s| s.name == shard.manifest.shard);
        prove_files(ctx, prepared, shard, spec)?;
        prove_folder(shard)?;
        for artifact in shard.manifest.artifacts.iter().map(ShardFile::artifact) {
            if let Some((earlier, owner)) = artifacts
                .iter()
                .zip(&owners)
                .find(|(a, _)| a.name.eq_ignore_ascii_case(&artifact.name))
            {
                return Err(Error::bad_input(format!(
                    "two shards made an artifact named `{}`: the shard {owner} (as `{}`) and the shard {} (in {}); release assets need distinct names, whatever their case",
                    artifact.name,
                    earlier.name,
                    shard.manifest.shard,
                    shard.dir.display()
                ))
                .with_hint("put the shard in the file's name: {shard} in build.artifacts, $EMBARGO_SHARD in the steps"));
            }
            owners.push(shard.manifest.shard.as_str());
            copies.push((shard.dir.join(&artifact.name), dist.join(&artifact.name)));
            artifacts.push(artifact);
        }
    }
    let sums = crate::checksum::copy_all(&copies, 0).map_err(|e| {
        Error::stage_failed(format!(
            "copying the shards' files into {}: {e}",
            dist.display()
        ))
    })?;
    for ((artifact, sum), (from, _)) in artifacts.iter().zip(&sums).zip(&copies) {
        if sum.sha256 != artifact.sha256 || sum.size != artifact.size {
            return Err(Error::integrity(format!(
                "{} is not the file its shard built: sha256 {} ({} bytes), but the shard recorded {} ({} bytes)",
                from.display(),
                sum.sha256,
                sum.size,
                artifact.sha256,
                artifact.size
            ))
            .with_hint("the published bytes must be the built bytes; find out who changed the file between the shard's job and this one"));
        }
    }
    ctx.reporter.emit(crate::report::Event::Note(&format!(
        "took {} artifact(s) from {} shard(s) built elsewhere from {} ({})",
        artifacts.len(),
        ours.len(),
        crate::git::abbrev(&prepared.release_commit),
        ours.iter()
            .map(|o| o.manifest.shard.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )));
    Ok(artifacts)
}

/// What a shard's manifest says of its files is what its build could have made: names fit to be
/// release assets, each once, each a sha256; each path inside the checkout, matched by one of
/// the shard's own artifact globs and ending in the file's name; and every glob matched, as a
/// build on one machine requires. A manifest that adds, drops or takes another shard's files
/// does not pass.
fn prove_files(
    ctx: &Context<'_>,
    prepared: &Prepared,
    shard: &Found,
    spec: Option<&crate::pipeline::ShardSpec>,
) -> Result<(), Error> {
    let globs: &Vec<String> = &super::build::artifact_globs(ctx, prepared, spec)
        .iter()
        .map(|g| super::build::normal_glob(g))
        .collect();
    let at = shard.dir.display();
    let name_of_shard = &shard.manifest.shard;
    let bad = |what: String| {
        Error::integrity(format!(
            "{at}: the manifest of the shard {name_of_shard} {what}"
        ))
        .with_hint("a shard's folder holds what `embargo build --shard` wrote, unchanged")
    };
    // As the build's own search matches them (`glob::glob` goes folder by folder): `*` never
    // crosses a `/`, only `**` does.
    let options = super::build::MATCH;
    let patterns: Vec<glob::Pattern> = globs
        .iter()
        .map(|g| {
            glob::Pattern::new(g).map_err(|e| {
                Error::bad_input(format!("build.artifacts: `{g}` is not a valid glob: {e}"))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut matched = vec![false; patterns.len()];
    let mut seen: Vec<&str> = Vec::new();
    for file in &shard.manifest.artifacts {
        let name = file.name.as_str();
        if let Some(why) = super::build::bad_asset_name(name) {
            return Err(bad(format!(
                "names a file `{name}` that cannot be a release asset: {why}"
            )));
        }
        if name.eq_ignore_ascii_case(MANIFEST) {
            return Err(bad(format!(
                "names its own manifest, {MANIFEST}, as a file it built"
            )));
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(bad(format!("names `{name}` twice (whatever its case)")));
        }
        seen.push(name);
        if file.sha256.len() != 64
            || !file
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad(format!(
                "gives `{}` as the sha256 of {name}, which is not 64 lowercase hexadecimal digits",
                file.sha256
            )));
        }
        let path = Path::new(&file.path);
        let inside = !path.is_absolute()
            && path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside || path.file_name().and_then(|n| n.to_str()) != Some(name) {
            return Err(bad(format!(
                "says {name} was built at `{}`, which is not a file of that name inside the checkout",
                file.path
            )));
        }
        let mut fits = false;
        for (pattern, hit) in patterns.iter().zip(matched.iter_mut()) {
            if pattern.matches_with(&file.path, options) {
                *hit = true;
                fits = true;
            }
        }
        // A path another shard's globs match too is refused by the build itself: only a manifest
        // written by hand has one.
        if let Some(own) = spec
            && let Some(other) = super::build::also_matched_by(ctx, prepared, own, &file.path)
        {
            return Err(bad(format!(
                "names {name} (built at `{}`), which the globs of the shard {} match too; a shard's build never records such a file",
                file.path, other.name
            )));
        }
        if !fits {
            return Err(bad(format!(
                "names {name} (built at `{}`), which none of the shard's artifact globs ({}) matches",
                file.path,
                globs.join(", ")
            )));
        }
    }
    if let Some((glob, _)) = globs.iter().zip(&matched).find(|(_, hit)| !**hit) {
        return Err(bad(format!(
            "names no file that `{glob}` matches; every artifact glob matches at least one file of each shard"
        )));
    }
    Ok(())
}

/// A shard's folder holds exactly the files its manifest names, each a plain file: nothing
/// added, nothing missing, no link leading elsewhere.
fn prove_folder(shard: &Found) -> Result<(), Error> {
    let dir = &shard.dir;
    let named: Vec<&str> = shard
        .manifest
        .artifacts
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    for entry in fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
        let entry = entry.map_err(|e| unreadable(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == MANIFEST {
            continue;
        }
        if !named.contains(&name.as_str()) {
            return Err(Error::integrity(format!(
                "{}: `{name}` is in the shard {}'s folder, but its manifest does not name it",
                dir.display(),
                shard.manifest.shard
            ))
            .with_hint("a shard's folder holds what `embargo build --shard` wrote, nothing else"));
        }
    }
    for name in named {
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(Error::integrity(format!(
                    "{} is not a plain file (a link, a folder, a pipe or a device), but the shard {} recorded a file there",
                    path.display(),
                    shard.manifest.shard
                )));
            }
            Err(_) => {
                return Err(Error::integrity(format!(
                    "{} is missing, but the shard {} built it",
                    path.display(),
                    shard.manifest.shard
                ))
                .with_hint("download the shard's folder whole"));
            }
        }
    }
    Ok(())
}
