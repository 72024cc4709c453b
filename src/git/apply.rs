//! Applying fix commits onto a base commit in memory, as `git cherry-pick -x` would, without a
//! checkout: no working tree, no index, no ref is touched until the caller decides.

use git2::{Commit, Oid, Signature};

use super::{GitError, LocalRepo, short};

/// Why a fix could not be applied.
#[derive(Debug)]
pub enum ApplyError {
    /// The fix commit conflicts with the base; these paths are in conflict.
    Conflict {
        commit: Oid,
        subject: String,
        paths: Vec<String>,
    },
    /// The fix commit changes nothing on this base (it is already there).
    Empty {
        commit: Oid,
        subject: String,
    },
    /// The fix commit is a merge, which cannot be picked without choosing a parent.
    Merge {
        commit: Oid,
        subject: String,
    },
    Git(GitError),
}

impl From<GitError> for ApplyError {
    fn from(e: GitError) -> Self {
        ApplyError::Git(e)
    }
}

/// Applies `commits` (oldest first) on top of `base`, keeping each commit's author and message and
/// adding the `(cherry picked from commit ...)` line. Returns the new tip.
pub fn apply(
    repo: &LocalRepo,
    base: Oid,
    commits: &[Oid],
    committer: &Signature<'_>,
) -> Result<Oid, ApplyError> {
    let git = &repo.repo;
    let _unchecked = UncheckedObjectCreation::start();
    let mut tip = git
        .find_commit(base)
        .map_err(super::failed(format_args!("reading commit {base}")))?;
    for &oid in commits {
        let pick = git
            .find_commit(oid)
            .map_err(super::failed(format_args!("reading fix commit {oid}")))?;
        let subject = super::subject(&pick);
        if pick.parent_count() > 1 {
            return Err(ApplyError::Merge {
                commit: oid,
                subject,
            });
        }
        // Whatever the narrow pick cannot settle, even because it could not read something, the
        // full merge settles, and reports.
        let tree_id = match super::narrow::picked_tree(git, &pick, &tip).unwrap_or(None) {
            Some(tree) => tree,
            None => full_merge(git, &pick, &tip, oid, &subject)?,
        };
        if tree_id == tip.tree_id() {
            return Err(ApplyError::Empty {
                commit: oid,
                subject,
            });
        }
        let tree = git
            .find_tree(tree_id)
            .map_err(super::failed("reading the picked tree"))?;
        let message = cherry_picked_message(&pick, oid);
        let new = git
            .commit(None, &pick.author(), committer, &message, &tree, &[&tip])
            .map_err(super::failed(format_args!(
                "committing the pick of {}",
                short(oid)
            )))?;
        tip = git
            .find_commit(new)
            .map_err(super::failed(format_args!("reading commit {new}")))?;
    }
    Ok(tip.id())
}

/// The whole three-way merge, as `git cherry-pick` does it: where the narrow pick declines, and
/// the only one that names the paths in conflict.
fn full_merge(
    git: &git2::Repository,
    pick: &Commit<'_>,
    tip: &Commit<'_>,
    oid: Oid,
    subject: &str,
) -> Result<Oid, ApplyError> {
    let mut index = git
        .cherrypick_commit(pick, tip, 0, None)
        .map_err(super::failed(format_args!("cherry-picking {}", short(oid))))?;
    if index.has_conflicts() {
        let mut paths: Vec<String> = index
            .conflicts()
            .map_err(super::failed("listing conflicts"))?
            .flatten()
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|entry| String::from_utf8_lossy(&entry.path).into_owned())
            .collect();
        paths.sort();
        paths.dedup();
        return Err(ApplyError::Conflict {
            commit: oid,
            subject: subject.to_string(),
            paths,
        });
    }
    Ok(index
        .write_tree_to(git)
        .map_err(super::failed("writing the picked tree"))?)
}

/// Runs `picks` against a second handle on the clone whose new objects stay in memory, then
/// writes them all to the clone as one pack. Hundreds of picks make thousands of small objects
/// (each pick's commits and the trees on the way to the changed paths); written loose, each is a
/// file of its own, and creating those files, not computing them, was most of a pick's time.
/// The caller creates refs to the picks only after this returns, when the objects are on disk.
pub fn in_memory<R>(repo: &LocalRepo, picks: impl FnOnce(&LocalRepo) -> R) -> Result<R, GitError> {
    with_objects_in_memory(repo, |picker, mempack| {
        let out = picks(picker);
        let mut pack = git2::Buf::new();
        mempack
            .dump(&picker.repo, &mut pack)
            .map_err(super::failed("packing the picks' objects"))?;
        // A pack of no object is its 12-byte header and 20-byte checksum: nothing to write.
        if pack.len() > 32 {
            write_pack(&repo.repo, &pack)
                .map_err(super::failed("writing the picks' objects to the clone"))?;
        }
        Ok(out)
    })
}

/// Applies `commits` onto `base` the way [`apply`] does, in a second handle on the clone whose
/// new objects stay in memory and are dropped: `plan` learns whether a fix applies, and where it
/// conflicts, without writing a single object.
pub fn trial(
    repo: &LocalRepo,
    base: Oid,
    commits: &[Oid],
) -> Result<Result<Oid, ApplyError>, GitError> {
    // Any signature will do: nothing made here outlives the trial.
    let committer = Signature::new(
        "embargo plan",
        "plan@embargo.invalid",
        &git2::Time::new(0, 0),
    )
    .map_err(super::failed("making a signature"))?;
    with_objects_in_memory(repo, |trier, _| Ok(apply(trier, base, commits, &committer)))
}

/// Runs `work` on a second handle on the clone whose new objects are written to, and read back
/// from, memory: above every backend of the clone.
fn with_objects_in_memory<R>(
    repo: &LocalRepo,
    work: impl FnOnce(&LocalRepo, &git2::Mempack<'_>) -> Result<R, GitError>,
) -> Result<R, GitError> {
    let opened = repo.repo.workdir().unwrap_or(repo.repo.path());
    let handle = LocalRepo {
        repo: git2::Repository::open(opened).map_err(super::failed(format_args!(
            "opening {} again",
            opened.display()
        )))?,
        path: repo.path.clone(),
    };
    let odb = handle
        .repo
        .odb()
        .map_err(super::failed("opening the object database"))?;
    let mempack = odb
        .add_new_mempack_backend(1000)
        .map_err(super::failed("keeping new objects in memory"))?;
    work(&handle, &mempack)
}

fn write_pack(repo: &git2::Repository, pack: &[u8]) -> Result<(), git2::Error> {
    let odb = repo.odb()?;
    let mut writer = odb.packwriter()?;
    std::io::Write::write_all(&mut writer, pack)
        .map_err(|e| git2::Error::from_str(&e.to_string()))?;
    writer.commit()?;
    Ok(())
}

/// While picking, libgit2 does not check that every object a new tree or commit names exists.
/// The check is needless there: each entry of a picked tree comes from a tree just read from this
/// object database or is a blob or tree just written to it, and each commit names the tree just
/// written and the tip just read. It was a third of a full pick's time, since writing a tree from
/// the merged index checks every entry of every tree again. What is read stays checked
/// (`strict_hash_verification` is left on): the picked trees are what the release publishes, so an
/// object that does not hash to its name must stop the pick, not be copied into it.
struct UncheckedObjectCreation;

impl UncheckedObjectCreation {
    fn start() -> UncheckedObjectCreation {
        git2::opts::strict_object_creation(false);
        UncheckedObjectCreation
    }
}

impl Drop for UncheckedObjectCreation {
    fn drop(&mut self) {
        // libgit2's default, which every other object this process writes keeps.
        git2::opts::strict_object_creation(true);
    }
}

/// The message `git cherry-pick -x` writes: the original, then the provenance line, in the
/// trailer block when the message ends with one.
fn cherry_picked_message(pick: &Commit<'_>, oid: Oid) -> String {
    let original = String::from_utf8_lossy(pick.message_bytes());
    let body = original.trim_end();
    let last_paragraph = body.rsplit("\n\n").next().unwrap_or("");
    let has_subject_only = !body.contains("\n\n");
    let ends_in_trailers = !has_subject_only
        && !last_paragraph.is_empty()
        && last_paragraph.lines().all(|l| {
            l.starts_with("(cherry picked from commit ")
                || l.split_once(": ")
                    .is_some_and(|(k, _)| !k.is_empty() && !k.contains(' '))
        });
    let separator = if ends_in_trailers { "\n" } else { "\n\n" };
    format!("{body}{separator}(cherry picked from commit {oid})\n")
}
