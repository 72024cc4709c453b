//! Where a release is cut. For a real run that is the user's clone. For a dry run it is a scratch
//! repository in a temporary folder that borrows the clone's objects (git alternates): stages
//! 1 to 5 run for real there, in seconds even on a large repository, and the clone is left
//! byte-for-byte as it was.

use std::fs;
use std::path::{Path, PathBuf};

use super::cli::GitCli;
use super::{GitError, LocalRepo};

pub struct Workspace {
    /// The user's clone: its remotes, its local refs (for "does the tag exist already"), and its
    /// git directory (where the state lives by default).
    pub clone: LocalRepo,
    /// Where objects and refs are written: the clone itself, or the scratch repository.
    pub repo: LocalRepo,
    /// git, run in `repo`.
    pub git: GitCli,
    /// For a dry run, the temporary folder holding the scratch repository.
    pub scratch: Option<PathBuf>,
}

impl Workspace {
    /// The same workspace on handles of its own, for another thread (libgit2's handles are not
    /// shared between threads).
    pub fn reopen(&self) -> Result<Workspace, GitError> {
        Ok(Workspace {
            clone: LocalRepo::open(&self.clone.path)?,
            repo: LocalRepo::open(&self.repo.path)?,
            git: self.git.clone(),
            scratch: self.scratch.clone(),
        })
    }

    /// The clone itself.
    pub fn real(clone: LocalRepo, git: GitCli) -> Result<Workspace, GitError> {
        let repo = LocalRepo::open(&clone.path)?;
        Ok(Workspace {
            clone,
            repo,
            git,
            scratch: None,
        })
    }

    /// A scratch repository in `folder` that borrows the clone's objects. `git` is the clone's
    /// git CLI (its environment is kept); git commands in the scratch read the clone's config
    /// too, so remote names, URL rewrites and credential settings work as they do in the clone.
    pub fn scratch(clone: LocalRepo, git: &GitCli, folder: &Path) -> Result<Workspace, GitError> {
        let path = folder.join("scratch.git");
        git2::Repository::init_bare(&path).map_err(super::failed(format_args!(
            "creating the dry run's scratch repository {}",
            path.display()
        )))?;
        let objects = clone.common_dir().join("objects");
        let objects = objects.canonicalize().unwrap_or(objects);
        let alternates = path.join("objects").join("info").join("alternates");
        fs::write(&alternates, format!("{}\n", objects.display()))
            .map_err(|e| GitError::failed(format!("writing {}: {e}", alternates.display())))?;
        let config = clone.common_dir().join("config");
        let mut scratch_git = git
            .in_dir(&path)
            .with_config("include.path", &config.display().to_string());
        // git resolves a remote given as a relative path (`../app-security.git`) from the folder
        // it runs in: from the scratch repository it would name another one. Each is rewritten
        // to the path it names from the clone, where a real run resolves it.
        for (relative, absolute) in relative_remotes(&clone, git.dir()) {
            scratch_git = scratch_git.with_config(&format!("url.{absolute}.insteadOf"), &relative);
        }
        // Commits and tags are made by libgit2, which does not follow the include above: give the
        // scratch repository the clone's identity, so the dry run makes the very same SHAs.
        if let (Ok(from), Ok(scratch)) = (clone.repo.config(), git2::Repository::open_bare(&path))
            && let Ok(mut to) = scratch.config()
        {
            for key in ["user.name", "user.email"] {
                if let Ok(value) = from.get_string(key) {
                    let _ = to.set_str(key, &value);
                }
            }
        }
        let repo = LocalRepo::open(&path)?;
        Ok(Workspace {
            clone,
            repo,
            git: scratch_git,
            scratch: Some(folder.to_path_buf()),
        })
    }

    pub fn is_dry_run(&self) -> bool {
        self.scratch.is_some()
    }
}

/// The remote URLs of the clone that are relative paths, each with the absolute path it names
/// from `base` (the folder git runs in for the clone).
fn relative_remotes(clone: &LocalRepo, base: &Path) -> Vec<(String, String)> {
    let Ok(mut config) = clone.repo.config() else {
        return Vec::new();
    };
    let Ok(config) = config.snapshot() else {
        return Vec::new();
    };
    let mut found: Vec<(String, String)> = Vec::new();
    let Ok(mut entries) = config.entries(Some(r"^remote\..*\.(url|pushurl)$")) else {
        return Vec::new();
    };
    while let Some(Ok(entry)) = entries.next() {
        let Ok(url) = entry.value() else { continue };
        // A path, not a URL (`scheme://`) nor scp's `host:path`, and not absolute already.
        let relative = (url.starts_with("./") || url.starts_with("../") || !url.contains(':'))
            && !url.starts_with('/')
            && !url.is_empty();
        if relative && !found.iter().any(|(r, _)| r == url) {
            let absolute = base.join(url);
            let absolute = absolute.canonicalize().unwrap_or(absolute);
            found.push((url.to_string(), absolute.display().to_string()));
        }
    }
    found
}
