//! `embargo init`: a commented starter pipeline for the repository it stands in, spelled as the
//! repository already spells things (its tags, its release branches, its remotes), and read back
//! by the same reader `embargo check` uses before it is written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::error::{Error, Exit};
use crate::pipeline::{self, Overrides};

/// What the repository tells about how it releases.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// Release tags carry a `v` (`v1.4.2`) rather than none (`1.4.2`).
    pub tag_v: bool,
    /// How many final release tags were seen in that spelling.
    pub tags_seen: usize,
    /// The branch fixes are made from and picked onto: `main` or `master`.
    pub default_branch: String,
    /// Release branches `release-X.Y`.
    pub release_branches: bool,
    /// Patch branches `release-X.Y.Z` (the process names the patch branch after the version).
    pub patch_branches: bool,
    pub public_remote: Option<String>,
    pub private_remote: Option<String>,
    /// `OWNER/REPO` of the public remote on github.com.
    pub github_repository: Option<String>,
}

pub fn execute(args: InitArgs, cwd: &Path) -> Result<Exit, Error> {
    let repo = git2::Repository::discover(cwd).map_err(|e| {
        Error::bad_input(format!(
            "{} is not inside a git repository ({})",
            cwd.display(),
            e.message()
        ))
        .with_hint("run `embargo init` inside your clone of the project")
    })?;
    let root: PathBuf = repo
        .workdir()
        .ok_or_else(|| Error::bad_input("the repository has no working tree (a bare repository)"))?
        .components()
        .collect();
    let target = match &args.output {
        Some(path) => super::resolve_path(cwd, path),
        None => root.join("pipelines").join("security-release.yaml"),
    };
    if target.exists() && !args.force {
        return Err(Error::bad_input(format!(
            "{} exists already; nothing was written",
            target.display()
        ))
        .with_hint("check it with `embargo check`, or pass --force to replace it"));
    }
    let facts = facts(&repo)?;
    let text = starter(&facts);
    // The starter is read back as every command reads a pipeline: what init writes, check accepts.
    pipeline::parse(&target, &text, &Overrides::default()).map_err(|e| {
        Error::stage_failed(format!(
            "the starter pipeline does not read back: {e} (a bug in embargo init)"
        ))
    })?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&target, &text)
        .map_err(|e| Error::bad_input(format!("cannot write {}: {e}", target.display())))?;
    println!(
        "wrote {}: tags {}, {}, public remote {}, private remote {}",
        target.display(),
        if facts.tag_v { "v1.2.3" } else { "1.2.3" },
        if facts.release_branches {
            "release branches release-X.Y"
        } else {
            "no release branches found"
        },
        facts
            .public_remote
            .as_deref()
            .unwrap_or("origin (not configured yet)"),
        facts
            .private_remote
            .as_deref()
            .unwrap_or("security (not configured yet: `git remote add security URL`)")
    );
    println!(
        "next: change what its comments point at, then `embargo check {}` and `embargo plan {}`",
        target.display(),
        target.display()
    );
    Ok(Exit::Done)
}

/// `MAJOR.MINOR.PATCH` with no pre-release, as release tags are.
fn final_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `MAJOR.MINOR`.
fn line(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn facts(repo: &git2::Repository) -> Result<Facts, Error> {
    let git =
        |e: git2::Error| Error::stage_failed(format!("reading the repository: {}", e.message()));
    let mut with_v = 0;
    let mut without_v = 0;
    let tags = repo.tag_names(None).map_err(git)?;
    for name in tags.iter() {
        let Ok(Some(name)) = name else { continue };
        match name.strip_prefix('v') {
            Some(rest) if final_version(rest) => with_v += 1,
            _ if final_version(name) => without_v += 1,
            _ => {}
        }
    }
    // Branch names, local and of every remote, without the remote's name.
    let mut branches = Vec::new();
    for branch in repo.branches(None).map_err(git)?.flatten() {
        if let Ok(Some(name)) = branch.0.name() {
            let short = match branch.1 {
                git2::BranchType::Local => name,
                git2::BranchType::Remote => name.split_once('/').map_or(name, |(_, b)| b),
            };
            branches.push(short.to_string());
        }
    }
    let has = |b: &str| branches.iter().any(|x| x == b);
    let default_branch = if has("main") && !has("master") {
        "main"
    } else {
        "master"
    };
    let names = repo.remotes().map_err(git)?;
    let remotes: Vec<String> = names
        .iter()
        .filter_map(|n| n.ok().flatten().map(str::to_string))
        .collect();
    let public_remote = remotes.iter().find(|r| *r == "origin").cloned();
    let private_remote = ["security", "private"]
        .iter()
        .find(|name| remotes.iter().any(|r| r == *name))
        .map(|s| s.to_string());
    let github_repository = public_remote
        .as_deref()
        .and_then(|r| repo.find_remote(r).ok())
        .and_then(|r| r.url().ok().map(crate::git::privacy::same_repository_key))
        .and_then(|key| key.strip_prefix("github.com/").map(str::to_string))
        .filter(|path| path.split('/').count() == 2);
    Ok(Facts {
        tag_v: with_v >= without_v,
        tags_seen: with_v.max(without_v),
        default_branch: default_branch.to_string(),
        release_branches: branches
            .iter()
            .any(|b| b.strip_prefix("release-").is_some_and(line)),
        patch_branches: branches
            .iter()
            .any(|b| b.strip_prefix("release-").is_some_and(final_version)),
        public_remote,
        private_remote,
        github_repository,
    })
}

/// `code` with its comment in the column the starter's comments share.
fn commented(code: &str, comment: &str) -> String {
    format!("{code:<34} # {comment}")
}

/// The starter pipeline's text for what the repository told.
pub fn starter(facts: &Facts) -> String {
    let mut out = String::new();
    let tag = if facts.tag_v {
        "v{major}.{minor}.{patch}"
    } else {
        "{major}.{minor}.{patch}"
    };
    let example = if facts.tag_v { "v1.4.2" } else { "1.4.2" };
    let _ = write!(
        out,
        "# The security release pipeline of this repository, written by `embargo init`.\n\
         #\n\
         # Change what the comments point at, then check it offline with `embargo check FILE`;\n\
         # `embargo plan FILE` shows what a run would do, writing nothing. The format is described\n\
         # in the README; every key is in `embargo schema`.\n\
         version: 1\n\
         name: security-release             # names the state folder: .git/embargo/security-release/<tag>/\n\n\
         repository:\n  \
         # No `path`: the clone is the git repository holding this file.\n"
    );
    match &facts.private_remote {
        Some(r) => {
            let _ = writeln!(
                out,
                "  private: {r}                # the private security repository (found among the remotes)"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  private: security                # not a remote yet: `git remote add security <URL of the private repository>`"
            );
        }
    }
    let _ = writeln!(
        out,
        "  public: {}                   # the public repository everyone clones\n",
        facts.public_remote.as_deref().unwrap_or("origin")
    );
    let _ = writeln!(
        out,
        "versioning:\n{}",
        commented(
            &format!("  tag: \"{tag}\""),
            &format!(
                "as this repository's {} release tag(s) are spelled: {example}",
                facts.tags_seen
            )
        )
    );
    if facts.patch_branches {
        let _ = writeln!(
            out,
            "  branch: \"release-{{version}}\"      # the patch branch, as earlier ones here: release-1.4.2"
        );
    } else {
        let _ = writeln!(
            out,
            "  branch: \"{{tag}}\"                  # the patch branch is named like the tag: {example}"
        );
    }
    let _ = writeln!(
        out,
        "  line: latest                     # the newest line; `--line 1.3` cuts an older one\n"
    );
    let _ = writeln!(
        out,
        "fix:\n  \
         # The private branch holding the fix: one per vulnerability, so set it (or pass --fix) each\n  \
         # time. Fix commits are {base}..branch, applied in order onto the latest patch tag.\n  \
         branch: security/CVE-YYYY-NNNN\n  base: {base}\n",
        base = facts.default_branch
    );
    out.push_str(
        "build:\n  steps:\n    \
         # CHANGE: how this project builds its release binaries. Runs with `sh -c` in a clean\n    \
         # export of the release commit, with a clean environment: PATH, HOME and the EMBARGO_*\n    \
         # variables ($EMBARGO_VERSION, $EMBARGO_TAG, ...). No template is expanded inside `run`.\n    \
         - name: dist\n      run: make dist VERSION=\"$EMBARGO_VERSION\"\n      timeout: 30m\n  \
         artifacts: [\"dist/*\"]             # CHANGE: each glob must match at least one built file\n  \
         checksums: SHA256SUMS            # `sha256sum -c SHA256SUMS` verifies a download\n\n\
         # The binaries must run and be the patch version; each check gets a fresh scratch folder.\n\
         # verify:\n\
         #   - name: version\n\
         #     run: tar -xzf \"$EMBARGO_DIST/app-$EMBARGO_VERSION-linux-amd64.tar.gz\" -C \"$EMBARGO_SCRATCH\" && \"$EMBARGO_SCRATCH/app\" --version\n\
         #     expect_stdout: \"{version}\"\n\n",
    );
    let _ = writeln!(
        out,
        "cherry_pick:\n{}",
        commented(
            &format!(
                "  onto: [{}{}]",
                facts.default_branch,
                if facts.release_branches {
                    ", \"release-*\""
                } else {
                    ""
                }
            ),
            "every branch that must also get the fix"
        )
    );
    if facts.patch_branches {
        out.push_str(
            "  # Patch branches of earlier releases (release-1.4.2) match release-* too: they are\n  \
             # frozen history, not targets. Add end-of-life lines here.\n  \
             skip: [\"release-*.*.*\"]\n",
        );
    } else if facts.release_branches {
        out.push_str(
            "  skip: []                         # end-of-life lines, like \"release-0.*\"\n",
        );
    }
    out.push_str(
        "  branch: \"cherry-pick/{tag}/{target}\"\n  \
         on_conflict: report              # a conflicting target is listed for a hand-made backport\n\n\
         # The announced instant (UTC), needed to publish; `--embargo` gives it on the command line.\n\
         # embargo: \"2036-12-01 16:00 UTC\"\n\n",
    );
    match &facts.github_repository {
        Some(repository) => {
            let _ = write!(
                out,
                "publish:\n  github:\n{}\n    \
                 token_env: GITHUB_TOKEN        # the NAME of the variable holding the token, never the token\n    \
                 name: \"{{tag}}\"\n    \
                 make_latest: auto              # \"latest\" only when this is the highest final release\n    \
                 pull_requests: true            # a pull request per cherry-pick branch at the instant\n",
                commented(
                    &format!("    repository: {repository}"),
                    "the public repository on GitHub (from the public remote)"
                ),
            );
        }
        None => out.push_str(
            "# The GitHub release (the public remote is not on github.com, so this is left to you):\n\
             # publish:\n\
             #   github:\n\
             #     repository: OWNER/REPO\n\
             #     token_env: GITHUB_TOKEN\n",
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn reads_back(facts: &Facts) -> crate::pipeline::Pipeline {
        let text = starter(facts);
        pipeline::parse(Path::new("p.yaml"), &text, &Overrides::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn every_shape_of_starter_reads_back() {
        for tag_v in [true, false] {
            for release_branches in [true, false] {
                for patch_branches in [true, false] {
                    for github in [None, Some("acme/app".to_string())] {
                        let facts = Facts {
                            tag_v,
                            tags_seen: 3,
                            default_branch: "main".into(),
                            release_branches,
                            patch_branches,
                            public_remote: Some("origin".into()),
                            private_remote: None,
                            github_repository: github,
                        };
                        let p = reads_back(&facts);
                        assert_eq!(p.github.is_some(), facts.github_repository.is_some());
                    }
                }
            }
        }
    }
}
