//! Writes a commit's tree into a fresh folder: the clean checkout a build runs in. It never
//! touches the clone's working tree or index, so a dirty clone cannot leak into a release.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use git2::{ObjectType, Oid, Tree};

use super::{GitError, LocalRepo};

/// What the export left out, for the build log.
#[derive(Debug, Default)]
pub struct Exported {
    pub files: usize,
    pub submodules: Vec<String>,
}

/// Exports `tree` into `dest`, which must not exist yet.
pub fn export_tree(repo: &LocalRepo, tree: Oid, dest: &Path) -> Result<Exported, GitError> {
    let tree = repo
        .repo
        .find_tree(tree)
        .map_err(super::failed(format_args!("reading tree {tree}")))?;
    fs::create_dir_all(dest).map_err(|e| io_error(dest, e))?;
    let mut exported = Exported::default();
    write_tree(repo, &tree, dest, "", &mut exported)?;
    Ok(exported)
}

fn io_error(path: &Path, e: std::io::Error) -> GitError {
    GitError::failed(format!("writing the checkout at {}: {e}", path.display()))
}

fn write_tree(
    repo: &LocalRepo,
    tree: &Tree<'_>,
    dir: &Path,
    prefix: &str,
    exported: &mut Exported,
) -> Result<(), GitError> {
    for entry in tree.iter() {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        // git itself refuses such names; a hostile tree must not write outside the checkout.
        if name.is_empty() || name == "." || name == ".." || name.contains('/') || name == ".git" {
            return Err(GitError::failed(format!(
                "the release tree has an entry named `{prefix}{name}`, which cannot be checked out safely"
            )));
        }
        let path = dir.join(&name);
        let shown = format!("{prefix}{name}");
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let sub = repo
                    .repo
                    .find_tree(entry.id())
                    .map_err(super::failed(format_args!("reading tree {shown}")))?;
                fs::create_dir(&path).map_err(|e| io_error(&path, e))?;
                write_tree(repo, &sub, &path, &format!("{shown}/"), exported)?;
            }
            Some(ObjectType::Blob) => {
                let blob = repo
                    .repo
                    .find_blob(entry.id())
                    .map_err(super::failed(format_args!("reading {shown}")))?;
                let mode = entry.filemode();
                if mode == 0o120000 {
                    let target = String::from_utf8_lossy(blob.content()).into_owned();
                    std::os::unix::fs::symlink(&target, &path).map_err(|e| io_error(&path, e))?;
                } else {
                    let mut file = fs::File::create(&path).map_err(|e| io_error(&path, e))?;
                    file.write_all(blob.content())
                        .map_err(|e| io_error(&path, e))?;
                    let perm = if mode == 0o100755 { 0o755 } else { 0o644 };
                    fs::set_permissions(&path, fs::Permissions::from_mode(perm))
                        .map_err(|e| io_error(&path, e))?;
                }
                exported.files += 1;
            }
            Some(ObjectType::Commit) => {
                // A submodule: its commit is not in this repository. Leave an empty folder, as a
                // fresh `git clone` without --recurse-submodules does, and say so in the log.
                fs::create_dir(&path).map_err(|e| io_error(&path, e))?;
                exported.submodules.push(shown);
            }
            _ => {}
        }
    }
    Ok(())
}
