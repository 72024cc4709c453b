//! Git: git2 for everything local (objects, refs, tags, in-memory cherry-picks), the git CLI for
//! talking to remotes, so that the user's credential setup, hooks and `http.extraheader` apply.

pub mod apply;
pub mod cli;
pub mod exact_push;
pub mod export;
pub mod hook;
pub mod narrow;
pub mod privacy;
pub mod remote;
pub mod workspace;

use std::fmt;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, RepositoryState, Signature};

use crate::error::Error;

/// A git problem, naming the exact ref, remote or command.
#[derive(Debug)]
pub struct GitError {
    pub kind: GitErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitErrorKind {
    /// The repository, a remote or a ref is not what the pipeline says: the user must fix it.
    BadInput,
    /// A git operation failed.
    Failed,
    /// Git did something other than what was proven and asked for.
    Integrity,
}

impl GitError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        GitError {
            kind: GitErrorKind::BadInput,
            message: message.into(),
            hint: None,
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        GitError {
            kind: GitErrorKind::Failed,
            message: message.into(),
            hint: None,
        }
    }

    pub fn integrity(message: impl Into<String>) -> Self {
        GitError {
            kind: GitErrorKind::Integrity,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<GitError> for Error {
    fn from(e: GitError) -> Error {
        let error = match e.kind {
            GitErrorKind::BadInput => Error::bad_input(e.message),
            GitErrorKind::Failed => Error::stage_failed(e.message),
            GitErrorKind::Integrity => Error::integrity(e.message),
        };
        match e.hint {
            Some(h) => error.with_hint(h),
            None => error,
        }
    }
}

/// Wraps a libgit2 error with what we were doing.
pub fn failed(what: impl fmt::Display) -> impl FnOnce(git2::Error) -> GitError {
    move |e| GitError::failed(format!("{what}: {}", e.message()))
}

/// Commits reachable from `tip` but not from `base`, oldest first; `what` names them in an error
/// (`the fix commits`).
pub fn range(repo: &LocalRepo, base: Oid, tip: Oid, what: &str) -> Result<Vec<Oid>, GitError> {
    range_excluding(repo, tip, &[base], what)
}

/// Commits reachable from `tip` but from none of `excluded`, oldest first.
pub fn range_excluding(
    repo: &LocalRepo,
    tip: Oid,
    excluded: &[Oid],
    what: &str,
) -> Result<Vec<Oid>, GitError> {
    let listing = format!("listing {what}");
    let mut walk = repo.repo.revwalk().map_err(failed(&listing))?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
        .map_err(failed(&listing))?;
    walk.push(tip).map_err(failed(&listing))?;
    for oid in excluded {
        walk.hide(*oid).map_err(failed(&listing))?;
    }
    walk.collect::<Result<Vec<_>, _>>()
        .map_err(failed(&listing))
}

/// Creates the ref `refname` of this release with `create`. A runner killed while creating a
/// ref leaves the ref's `.lock` file behind, empty, and every later attempt would fail on it:
/// such a lock, on a ref of the release whose state lock the caller holds, is removed and the ref
/// created again. A lock with content is another git command's at work, and is left alone.
pub fn create_own_ref<T>(
    repo: &LocalRepo,
    refname: &str,
    create: impl Fn() -> Result<T, git2::Error>,
) -> Result<T, GitError> {
    let what = format!("creating {refname}");
    match create() {
        Err(e) if e.code() == git2::ErrorCode::Locked => {
            let lock = repo.common_dir().join(format!("{refname}.lock"));
            let empty = std::fs::metadata(&lock).is_ok_and(|m| m.len() == 0);
            if !empty || std::fs::remove_file(&lock).is_err() {
                return Err(GitError::bad_input(format!(
                    "{what}: {} holds it locked",
                    lock.display()
                ))
                .with_hint(format!(
                    "a git command is writing it, or one was killed; when none is running in the clone, remove {} and run again",
                    lock.display()
                )));
            }
            create().map_err(failed(&what))
        }
        other => other.map_err(failed(&what)),
    }
}

/// The user's clone, opened once.
pub struct LocalRepo {
    pub repo: Repository,
    /// The folder given in the pipeline (work tree or bare repository).
    pub path: PathBuf,
}

impl LocalRepo {
    /// Opens the clone and refuses states in which a release must not be cut.
    pub fn open(path: &Path) -> Result<LocalRepo, GitError> {
        let repo = Repository::open(path).map_err(|e| {
            GitError::bad_input(format!(
                "repository.path: {} is not a git repository ({})",
                path.display(),
                e.message()
            ))
            .with_hint(
                "set repository.path to your clone of the project, or run embargo from inside it",
            )
        })?;
        if repo.is_shallow() {
            return Err(GitError::bad_input(format!(
                "{} is a shallow clone: its tags and history are incomplete, so the latest patch release cannot be trusted",
                path.display()
            ))
            .with_hint("run `git fetch --unshallow` (in CI: actions/checkout with fetch-depth: 0)"));
        }
        let state = repo.state();
        if state != RepositoryState::Clean {
            return Err(GitError::bad_input(format!(
                "{}: a {} is in progress in the clone",
                path.display(),
                describe_state(state)
            ))
            .with_hint(format!(
                "finish it or abort it (`{}`) before cutting a release",
                abort_command(state)
            )));
        }
        Ok(LocalRepo {
            repo,
            path: path.to_path_buf(),
        })
    }

    /// The git directory shared by all worktrees: where state and hooks live.
    pub fn common_dir(&self) -> PathBuf {
        self.repo.commondir().to_path_buf()
    }

    /// Whether the clone has this object.
    pub fn has(&self, oid: Oid) -> bool {
        self.repo.odb().map(|odb| odb.exists(oid)).unwrap_or(false)
    }

    /// The commit a local ref points at (peeling tags), if the ref exists.
    pub fn resolve_local(&self, refname: &str) -> Option<Oid> {
        self.repo
            .find_reference(refname)
            .ok()
            .and_then(|r| r.peel_to_commit().ok())
            .map(|c| c.id())
    }

    /// The object a local ref points at directly (an annotated tag's own id for a tag).
    pub fn ref_target(&self, refname: &str) -> Option<Oid> {
        self.repo
            .find_reference(refname)
            .ok()
            .and_then(|r| r.target())
    }

    /// Who commits and tags: the same rules git follows (GIT_COMMITTER_* variables, then the
    /// clone's `user.name` and `user.email`), with a fallback so a CI machine without a git
    /// identity can still cut a release.
    pub fn committer(&self) -> Result<Signature<'static>, GitError> {
        self.committer_at(None)
    }

    /// [`LocalRepo::committer`], dated `when` (instead of now) unless GIT_COMMITTER_DATE is set.
    pub fn committer_at(&self, when: Option<git2::Time>) -> Result<Signature<'static>, GitError> {
        let config = self.repo.config().ok();
        let from_config = |key: &str| config.as_ref().and_then(|c| c.get_string(key).ok());
        let name = std::env::var("GIT_COMMITTER_NAME")
            .ok()
            .or_else(|| from_config("user.name"))
            .unwrap_or_else(|| "embargo".to_string());
        let email = std::env::var("GIT_COMMITTER_EMAIL")
            .ok()
            .or_else(|| from_config("user.email"))
            .unwrap_or_else(|| "embargo@localhost".to_string());
        let signature = match std::env::var("GIT_COMMITTER_DATE")
            .ok()
            .and_then(|d| parse_git_date(&d))
        {
            Some((seconds, offset)) => {
                Signature::new(&name, &email, &git2::Time::new(seconds, offset))
            }
            None => match when {
                Some(time) => Signature::new(&name, &email, &time),
                None => Signature::now(&name, &email),
            },
        };
        signature.map_err(|e| {
            GitError::bad_input(format!(
                "the committer identity `{name} <{email}>` is not valid: {}",
                e.message()
            ))
        })
    }
}

/// Reads git's internal date format `@<seconds> <+hhmm>` or `<seconds> <+hhmm>`.
fn parse_git_date(text: &str) -> Option<(i64, i32)> {
    let text = text.trim().trim_start_matches('@');
    let (seconds, zone) = text.split_once(' ').unwrap_or((text, "+0000"));
    let seconds: i64 = seconds.parse().ok()?;
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = zone.get(1..)?;
    if digits.len() != 4 {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    Some((seconds, sign * (hours * 60 + minutes)))
}

fn describe_state(state: RepositoryState) -> &'static str {
    match state {
        RepositoryState::Merge => "merge",
        RepositoryState::Revert | RepositoryState::RevertSequence => "revert",
        RepositoryState::CherryPick | RepositoryState::CherryPickSequence => "cherry-pick",
        RepositoryState::Bisect => "bisect",
        RepositoryState::Rebase
        | RepositoryState::RebaseInteractive
        | RepositoryState::RebaseMerge => "rebase",
        RepositoryState::ApplyMailbox | RepositoryState::ApplyMailboxOrRebase => "`git am`",
        RepositoryState::Clean => "nothing",
    }
}

/// How the user gets out of an operation in progress.
fn abort_command(state: RepositoryState) -> &'static str {
    match state {
        RepositoryState::Merge => "git merge --abort",
        RepositoryState::Revert | RepositoryState::RevertSequence => "git revert --abort",
        RepositoryState::CherryPick | RepositoryState::CherryPickSequence => {
            "git cherry-pick --abort"
        }
        RepositoryState::Bisect => "git bisect reset",
        RepositoryState::Rebase
        | RepositoryState::RebaseInteractive
        | RepositoryState::RebaseMerge
        | RepositoryState::ApplyMailboxOrRebase => "git rebase --abort",
        RepositoryState::ApplyMailbox => "git am --abort",
        RepositoryState::Clean => "nothing to abort",
    }
}

/// Why a branch or tag name made from a template would be a bad ref, if it would: git's rules,
/// and also names git allows that would surprise (`-x` reads as an option, `refs/...` would
/// nest a ref inside `refs/heads/`, spaces and control characters).
pub fn bad_short_ref(kind: &str, name: &str) -> Option<String> {
    let prefix = if kind == "tag" {
        "refs/tags/"
    } else {
        "refs/heads/"
    };
    let why = if name.is_empty() {
        "it is empty"
    } else if name.starts_with('-') {
        "it starts with `-`, which commands read as an option"
    } else if name.starts_with("refs/") || name == "HEAD" {
        "it is a full ref name (`refs/...` or `HEAD`); give the short name, like `v1.0.2` or `security/CVE-2026-0001`"
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it contains white space or a control character"
    } else if name.contains("..") || name.contains("@{") {
        "it contains `..` or `@{`"
    } else if !valid_ref_name(&format!("{prefix}{name}")) {
        "git does not accept it as a ref name"
    } else {
        return None;
    };
    Some(format!("the {kind} name `{name}` is refused: {why}"))
}

/// Whether `refname` (like `refs/heads/v1.0.1`) is a name git accepts.
pub fn valid_ref_name(refname: &str) -> bool {
    git2::Reference::is_valid_name(refname)
}

/// The first 12 characters of a recorded SHA, for display. Recorded values come from files a
/// user can edit, so this never slices blindly.
pub fn abbrev(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

pub fn short(oid: Oid) -> String {
    let s = oid.to_string();
    s[..12.min(s.len())].to_string()
}

/// The first line of a commit message.
pub fn subject(commit: &git2::Commit<'_>) -> String {
    commit
        .summary_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_git_dates() {
        assert_eq!(parse_git_date("@1700000000 +0000"), Some((1700000000, 0)));
        assert_eq!(parse_git_date("1700000000 -0130"), Some((1700000000, -90)));
        assert_eq!(parse_git_date("yesterday"), None);
    }
}
