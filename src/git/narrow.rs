//! The tree of a pick computed from what the fix changes, not from everything the target holds.
//!
//! A full in-memory cherry-pick (libgit2's `cherrypick_commit`) compares the whole of the fix's
//! parent, the fix and the target, then writes every tree of the target again from an index: on a
//! large project that is tens of milliseconds per target whatever the fix is. Here only the paths
//! the fix changes are looked at, and the target's tree is updated in place at those paths
//! (`git_tree_create_updated`), which reads and writes only the trees on the way to them.
//!
//! This is a shortcut, never a second opinion: it answers only where it can show that the full
//! three-way merge would give the very same tree, and otherwise declines, so that the caller runs
//! the full merge (which is also what reports conflicts). It declines on anything a rename could
//! be behind (a path the target deleted or added, or the fix and the target both deleted or both
//! added), on submodules, symbolic links and directory/file changes, on a content merge where a
//! `merge` attribute or `merge.default` could choose another merge driver, and on any content
//! merge that does not resolve cleanly.

use std::collections::BTreeSet;

use git2::build::TreeUpdateBuilder;
use git2::{
    Commit, DiffOptions, ErrorCode, FileMode, IndexEntry, IndexTime, Oid, Repository, Tree,
};

/// A path's object and file mode in one tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    id: Oid,
    mode: i32,
}

const BLOB: i32 = 0o100644;
const BLOB_EXECUTABLE: i32 = 0o100755;

impl Entry {
    fn is_regular_file(self) -> bool {
        self.mode == BLOB || self.mode == BLOB_EXECUTABLE
    }
}

/// The tree that picking `pick` onto `onto` makes, or `None` where only the full merge can tell.
pub fn picked_tree(
    repo: &Repository,
    pick: &Commit<'_>,
    onto: &Commit<'_>,
) -> Result<Option<Oid>, git2::Error> {
    if pick.parent_count() != 1 {
        return Ok(None);
    }
    let base = pick.parent(0)?.tree()?;
    let theirs = pick.tree()?;
    let ours = onto.tree()?;

    // A tree-to-tree diff skips every subtree whose id is the same on both sides: it costs what the
    // fix touches. No rename detection: each path is judged on its own below.
    let diff = repo.diff_tree_to_tree(Some(&base), Some(&theirs), Some(&mut DiffOptions::new()))?;
    let mut paths = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path_bytes() {
                paths.insert(path.to_vec());
            }
        }
    }
    if paths.is_empty() {
        return Ok(None);
    }

    let mut update = TreeUpdateBuilder::new();
    for path in &paths {
        let (Some(b), Some(t), Some(o)) = (
            entry_at(&base, path)?,
            entry_at(&theirs, path)?,
            entry_at(&ours, path)?,
        ) else {
            return Ok(None);
        };
        let result = match resolve(repo, path, b, t, o)? {
            Resolution::Take(entry) => entry,
            Resolution::Decline => return Ok(None),
        };
        match result {
            Some(entry) => {
                let mode = if entry.mode == BLOB_EXECUTABLE {
                    FileMode::BlobExecutable
                } else {
                    FileMode::Blob
                };
                update.upsert(path.as_slice(), entry.id, mode);
            }
            None => {
                update.remove(path.as_slice());
            }
        }
    }
    // A directory/file change the checks above could not see (a new path under what the target
    // has as a file) makes the update fail: the full merge decides those.
    match update.create_updated(repo, &ours) {
        Ok(tree) => Ok(Some(tree)),
        Err(_) => Ok(None),
    }
}

enum Resolution {
    /// The path's entry in the result (`None`: the path is gone).
    Take(Option<Entry>),
    Decline,
}

/// One path the fix changes, `b`ase (the fix's parent), `t`heirs (the fix), `o`urs (the target);
/// the outer `Option` is whether the path exists there.
fn resolve(
    repo: &Repository,
    path: &[u8],
    b: Option<Entry>,
    t: Option<Entry>,
    o: Option<Entry>,
) -> Result<Resolution, git2::Error> {
    // Only regular files: submodules, symbolic links and trees (a directory/file change) are the
    // full merge's business.
    if [b, t, o].iter().flatten().any(|e| !e.is_regular_file()) {
        return Ok(Resolution::Decline);
    }
    match (b, t, o) {
        // The target has the path exactly as the fix's parent had it (or lacks it as the parent
        // did): the fix's side wins, with its mode. A path missing from both the parent and the
        // target is only added by the fix, and one the fix deletes is still in the target, so the
        // target's side is not a rename here; a rename by the fix itself gives the same tree.
        (b, t, o) if o == b => Ok(Resolution::Take(t)),
        // Changed on both sides; the same on both: nothing to merge.
        (Some(_), Some(t), Some(o)) if t == o => Ok(Resolution::Take(Some(o))),
        // Changed on both sides, differently: a content merge, as the full merge's built-in text
        // driver would do it, when that is the driver it would choose.
        (Some(b), Some(t), Some(o)) if b.mode == t.mode && b.mode == o.mode => {
            if !text_driver(repo, path)? {
                return Ok(Resolution::Decline);
            }
            let merged = repo.merge_file_from_index(
                &index_entry(path, b),
                &index_entry(path, o),
                &index_entry(path, t),
                None,
            )?;
            if !merged.is_automergeable() {
                return Ok(Resolution::Decline);
            }
            let id = repo.blob(merged.content())?;
            Ok(Resolution::Take(Some(Entry { id, mode: b.mode })))
        }
        // Deleted or added on the target (a rename may be behind it), a mode changed on both
        // sides, deleted or added on both: the full merge.
        _ => Ok(Resolution::Decline),
    }
}

/// Whether the full merge would merge `path` with the built-in text driver: no `merge`
/// attribute for it (read as libgit2 reads it: the working tree's `.gitattributes`, then the
/// index, then `info/attributes`) and no `merge.default`.
fn text_driver(repo: &Repository, path: &[u8]) -> Result<bool, git2::Error> {
    let config = repo.config()?;
    match config.get_entry("merge.default") {
        Ok(_) => return Ok(false),
        Err(e) if e.code() == ErrorCode::NotFound => {}
        Err(e) => return Err(e),
    }
    let Ok(path) = std::str::from_utf8(path) else {
        return Ok(false);
    };
    Ok(repo
        .get_attr_bytes(std::path::Path::new(path), "merge", Default::default())?
        .is_none())
}

/// The entry at `path` in `tree`, `None` where there is none.
fn entry_at(tree: &Tree<'_>, path: &[u8]) -> Result<Option<Option<Entry>>, git2::Error> {
    let Ok(text) = std::str::from_utf8(path) else {
        // libgit2 takes paths as C strings; a path that is not UTF-8 is left to the full merge.
        return Ok(None);
    };
    match tree.get_path(std::path::Path::new(text)) {
        Ok(entry) => Ok(Some(Some(Entry {
            id: entry.id(),
            mode: entry.filemode(),
        }))),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(Some(None)),
        Err(e) => Err(e),
    }
}

fn index_entry(path: &[u8], entry: Entry) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: entry.mode as u32,
        uid: 0,
        gid: 0,
        file_size: 0,
        id: entry.id,
        flags: 0,
        flags_extended: 0,
        path: path.to_vec(),
    }
}
