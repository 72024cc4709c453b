//! The freeze: a `reference-transaction` hook in the clone that refuses any move or deletion of
//! a frozen patch branch or tag, so that `git commit --amend` or `git tag -f` cannot change the
//! SHA of a commit that was built and tested. The hook reads the list of frozen refs from
//! `<git dir>/embargo/frozen-refs`; several releases can be frozen at once.
//!
//! The hook is a guard rail for people, not the guarantee: someone can still bypass hooks, so
//! every later stage also proves the refs unchanged (see `stages::freeze::prove`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git2::Oid;

use super::{GitError, LocalRepo};

const MARKER: &str = "# embargo: frozen release refs";
const HOOK: &str = "reference-transaction";
/// A hook of the user's that was there before ours; ours runs it after its own check.
const PREVIOUS: &str = "reference-transaction.before-embargo";

/// One frozen ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenRef {
    pub refname: String,
    pub target: Oid,
    /// When it was frozen, RFC 3339.
    pub since: String,
    /// The release it belongs to (its tag).
    pub release: String,
}

pub fn frozen_list(repo: &LocalRepo) -> PathBuf {
    repo.common_dir().join("embargo").join("frozen-refs")
}

/// Where git looks for hooks in this clone (honouring `core.hooksPath`).
pub fn hooks_dir(repo: &LocalRepo) -> PathBuf {
    let configured = repo
        .repo
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok());
    match configured {
        Some(p) if p.is_absolute() => p,
        Some(p) => repo
            .repo
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| repo.common_dir())
            .join(p),
        None => repo.common_dir().join("hooks"),
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> GitError {
    GitError::failed(format!("{what} {}: {e}", path.display()))
}

/// Reads the frozen refs (an absent list is empty).
pub fn read_frozen(repo: &LocalRepo) -> Vec<FrozenRef> {
    let text = fs::read_to_string(frozen_list(repo)).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let refname = parts.next()?.to_string();
            let target = Oid::from_str(parts.next()?).ok()?;
            let since = parts.next()?.to_string();
            let release = parts.next()?.to_string();
            Some(FrozenRef {
                refname,
                target,
                since,
                release,
            })
        })
        .collect()
}

/// The frozen list is read, changed and written whole: lines of a release frozen at once
/// (`run --jobs`) take turns.
static LIST: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Adds `refs` to the frozen list and makes sure the hook is installed.
pub fn freeze(repo: &LocalRepo, refs: &[FrozenRef]) -> Result<PathBuf, GitError> {
    let _turn = LIST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let list = frozen_list(repo);
    let mut frozen = read_frozen(repo);
    for r in refs {
        frozen.retain(|f| f.refname != r.refname);
        frozen.push(r.clone());
    }
    let text: String = frozen
        .iter()
        .map(|f| format!("{} {} {} {}\n", f.refname, f.target, f.since, f.release))
        .collect();
    write_atomically(&list, text.as_bytes(), 0o644)?;
    install(repo, &list)
}

/// Takes the refs of `release` (its tag name) off the frozen list: the release was aborted.
/// The hook stays; with nothing listed it lets everything through.
pub fn unfreeze(repo: &LocalRepo, release: &str) -> Result<(), GitError> {
    let _turn = LIST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let list = frozen_list(repo);
    if !list.exists() {
        return Ok(());
    }
    let text: String = read_frozen(repo)
        .iter()
        .filter(|f| f.release != release)
        .map(|f| format!("{} {} {} {}\n", f.refname, f.target, f.since, f.release))
        .collect();
    write_atomically(&list, text.as_bytes(), 0o644)
}

fn install(repo: &LocalRepo, list: &Path) -> Result<PathBuf, GitError> {
    let dir = hooks_dir(repo);
    fs::create_dir_all(&dir).map_err(|e| io_error("creating the hooks folder", &dir, e))?;
    let hook = dir.join(HOOK);
    if let Ok(existing) = fs::read_to_string(&hook)
        && !existing.contains(MARKER)
    {
        let previous = dir.join(PREVIOUS);
        if previous.exists() {
            return Err(GitError::failed(format!(
                "cannot install the freeze hook: both {} and {} exist",
                hook.display(),
                previous.display()
            ))
            .with_hint("merge or remove one of them, then run again"));
        }
        fs::rename(&hook, &previous)
            .map_err(|e| io_error("keeping the existing hook as", &previous, e))?;
    }
    let packed = repo.common_dir().join("packed-refs");
    write_atomically(&hook, script(list, &packed).as_bytes(), 0o755)?;
    Ok(hook)
}

fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), GitError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io_error("writing", path, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| io_error("writing", path, e))?;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
        .map_err(|e| io_error("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| io_error("writing", path, e.error))?;
    Ok(())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn script(list: &Path, packed: &Path) -> String {
    format!(
        r#"#!/bin/sh
{MARKER}
# Installed by `embargo run` at the freeze stage. A security release's built and tested commit
# must keep its SHA: this refuses any change to a frozen patch branch or release tag.
# The frozen refs are listed in the file below (ref, target, since, release).
frozen={list}
packed={packed}
input=$(cat)
if [ "$1" = prepared ] && [ -f "$frozen" ]; then
    refused=0
    while read -r old new ref; do
        [ -n "$ref" ] || continue
        while read -r fref ftarget since release; do
            if [ "$ref" = "$fref" ] && [ "$new" != "$ftarget" ]; then
                # `git pack-refs` and `git gc` move a loose ref into packed-refs: they delete the
                # loose copy (old = the frozen value) once packed-refs holds the same value.
                case "$new" in *[!0]*) ;; *)
                    if [ "$old" = "$ftarget" ] && grep -qx "$ftarget $ref" "$packed" 2>/dev/null; then
                        continue
                    fi ;;
                esac
                echo "embargo: $ref is frozen since $since: it is part of the security release $release." >&2
                echo "embargo: its commit was built, verified and checksummed; changing it (even for a typo) would" >&2
                echo "embargo: change the SHA of what was tested. Make the change in a new patch release instead." >&2
                refused=1
            fi
        done < "$frozen"
    done <<EMBARGO_INPUT
$input
EMBARGO_INPUT
    [ "$refused" = 0 ] || exit 1
fi
previous="$(dirname "$0")/{PREVIOUS}"
if [ -x "$previous" ]; then
    printf '%s\n' "$input" | "$previous" "$@"
    exit $?
fi
exit 0
"#,
        list = shell_quote(&list.display().to_string()),
        packed = shell_quote(&packed.display().to_string()),
    )
}
