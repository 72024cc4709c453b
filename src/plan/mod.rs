//! Pipeline + the state of the repositories -> a [`Plan`]: the line, the latest patch release,
//! the patch version, the fix commits, and where the release's state lives. Resolving a plan
//! writes no ref: it only lists the remotes and fetches the objects it needs.

use std::path::{Path, PathBuf};

use git2::Oid;
use jiff::Timestamp;
use serde::Serialize;

use crate::error::Error;
use crate::git::cli::GitCli;
use crate::git::remote::{self, RemoteRefs};
use crate::git::workspace::Workspace;
use crate::git::{self, LocalRepo};
use crate::journal::FixCommit;
use crate::pipeline::template::Var;
use crate::pipeline::{CherryPickSpec, FixSource, LinesSpec, Pipeline};
use crate::version::{Line, LineSpec, Version};

mod set;
mod trial;
pub use set::{ReleaseSet, line_of_branch, resolve_set};
pub use trial::{Trial, try_fix};

/// The latest patch release of the line.
#[derive(Debug, Clone, Serialize)]
pub struct LatestRelease {
    pub tag: String,
    pub version: String,
    pub commit: String,
}

/// Another line of the same release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedWith {
    pub line: Line,
    pub version: String,
    /// Its release commit, once it is frozen.
    pub release_commit: Option<String>,
}

/// What a run would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub pipeline: String,
    pub line: String,
    pub previous: LatestRelease,
    pub version: String,
    pub tag: String,
    pub patch_branch: String,
    /// Where the fix comes from, in words (`security/CVE-1 (master..security/CVE-1)`).
    pub fix_source: String,
    pub fix_commits: Vec<FixCommit>,
    /// The public branches the fix is picked onto: what `cherry_pick.onto` matches, less
    /// `skip` and the patch branch.
    pub targets: Vec<String>,
    /// Where a push to the private remote lands, after every rewrite in the clone's git
    /// configuration (proven not to be the public repository).
    pub private_push: Vec<String>,
    /// Every URL of the public repository (fetch and push, after rewrites, no credentials).
    pub public_urls: Vec<String>,
    /// Whether the fix applies onto the latest release, tried in memory (`plan` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<Trial>,
    /// Whether GitHub's immutable releases are on for the repository, in words (`plan` asks
    /// GitHub when a token is there; nothing else does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub immutable_releases: Option<String>,
    /// What GitHub says of `publish.github.private_repository`, in words (`plan` asks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_repository: Option<String>,
    /// The advisory as this release carries it (`plan` and `run` fill it in when one is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<crate::advisory::Review>,
    pub embargo: Option<Timestamp>,
    pub state_dir: PathBuf,
    /// Where the patch version's tag or branch already exists (a run refuses to start over it).
    pub already_exists: Vec<String>,
    /// Whether the patch version is above every final release (`make_latest: auto` uses this:
    /// a patch on an older line must never become "latest").
    pub highest_release: bool,
    #[serde(skip)]
    pub previous_commit: Oid,
    #[serde(skip)]
    pub fix_oids: Vec<Oid>,
    /// Targets whose pick is not the line's fix: where the line has its own backport
    /// (`fix.per_line`), every target but its release branch gets the fix itself.
    #[serde(skip)]
    pub pick_fix: std::collections::BTreeMap<String, Vec<Oid>>,
    /// The other lines of a release of several lines, fixed with this one: the advisory
    /// (carried by the newest line) lists each as patched.
    #[serde(skip)]
    pub released_with: Vec<ReleasedWith>,
    /// Every line's tag, in a release of several lines (recorded in the contract).
    #[serde(skip)]
    pub release_set: Vec<String>,
    #[serde(skip)]
    pub next_version: Version,
    #[serde(skip)]
    pub private: RemoteRefs,
    #[serde(skip)]
    pub public: RemoteRefs,
}

impl Plan {
    /// A template value; `commit` is the release commit once it exists.
    pub fn value(&self, var: Var, commit: Option<&str>) -> String {
        crate::pipeline::template::Values {
            next: self.next_version,
            tag: &self.tag,
            previous_tag: &self.previous.tag,
            commit,
            target: None,
        }
        .get(var)
    }

    /// The EMBARGO_* variables commands receive.
    pub fn env(&self, commit: &str) -> Vec<(String, String)> {
        [
            Var::Version,
            Var::Tag,
            Var::PreviousTag,
            Var::Line,
            Var::Commit,
        ]
        .into_iter()
        .filter_map(|v| Some((v.env_name()?.to_string(), self.value(v, Some(commit)))))
        .collect()
    }

    pub fn tag_ref(&self) -> String {
        format!("refs/tags/{}", self.tag)
    }

    pub fn branch_ref(&self) -> String {
        format!("refs/heads/{}", self.patch_branch)
    }
}

/// The remotes as a plan reads them, listed once whatever the number of lines.
struct Remotes {
    private_push: Vec<String>,
    public_urls: Vec<String>,
    private: RemoteRefs,
    public: RemoteRefs,
}

fn remotes(pipeline: &Pipeline, workspace: &Workspace) -> Result<Remotes, Error> {
    let (git, clone) = (&workspace.git, &workspace.clone);
    remote::check_remote(clone, "repository.private", &pipeline.repository.private)?;
    remote::check_remote(clone, "repository.public", &pipeline.repository.public)?;
    // Read in the clone itself (a dry run's scratch repository only includes its configuration).
    let private_push = crate::git::privacy::prove_private(
        &git.in_dir(&clone.path),
        &pipeline.repository.private,
        &pipeline.repository.public,
    )?;
    let public_urls =
        crate::git::privacy::all_urls(&git.in_dir(&clone.path), &pipeline.repository.public)?;
    Ok(Remotes {
        private_push,
        public_urls,
        private: remote::list(git, "private", &pipeline.repository.private)?,
        public: remote::list(git, "public", &pipeline.repository.public)?,
    })
}

/// Resolves the plan of a one-line release. `state_dir` overrides where the release's state
/// lives.
pub fn resolve(
    pipeline: &Pipeline,
    workspace: &Workspace,
    state_dir: Option<&Path>,
) -> Result<Plan, Error> {
    if pipeline.several_lines() {
        return Err(Error::bad_input(format!(
            "{}: versioning.lines releases {} together, and this command works on one line",
            pipeline.file.display(),
            pipeline
                .lines
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        ))
        .with_hint("pass --line with the line to work on"));
    }
    let remotes = remotes(pipeline, workspace)?;
    let releases = final_releases(pipeline, &remotes.public)?;
    let line = match pipeline.line {
        LineSpec::Exact(line) => line,
        LineSpec::Latest => releases
            .iter()
            .map(|(v, _)| v.line())
            .max()
            .unwrap_or(Line { major: 0, minor: 0 }),
    };
    if let Some(LinesSpec::Supported(n)) = &pipeline.lines {
        // `--line` narrows the supported lines to one of them, never to another line.
        let supported = newest_lines(&releases, *n, &remotes.public, pipeline)?;
        if !supported.contains(&line) {
            return Err(Error::bad_input(format!(
                "--line {line}: not one of the {n} supported lines the pipeline releases ({})",
                join_lines(&supported)
            ))
            .with_hint("pass one of those lines, or change versioning.lines"));
        }
    }
    let state_dir = |tag: &str| release_state_dir(pipeline, workspace, state_dir, tag);
    let mut plan = resolve_line(pipeline, workspace, &remotes, &releases, line, &state_dir)?;
    pick_the_fix_elsewhere(pipeline, workspace, &remotes, &mut plan)?;
    Ok(plan)
}

/// A line released with its own backport (`fix.per_line`) picks that backport onto its release
/// branch only: master and the other targets get the fix itself.
fn pick_the_fix_elsewhere(
    pipeline: &Pipeline,
    workspace: &Workspace,
    remotes: &Remotes,
    plan: &mut Plan,
) -> Result<(), Error> {
    let line = plan.next_version.line();
    if !pipeline.fix.per_line.contains_key(&line) {
        return Ok(());
    }
    let elsewhere: Vec<String> = plan
        .targets
        .iter()
        .filter(|t| set::line_of_branch(t, &[line]).is_none())
        .cloned()
        .collect();
    if elsewhere.is_empty() {
        return Ok(());
    }
    let (_, fix) = fix_commits(
        &pipeline.fix.source,
        "fix.commits",
        &workspace.repo,
        &workspace.git,
        &remotes.private,
        &remotes.public,
    )?;
    for target in elsewhere {
        plan.pick_fix.insert(target, fix.clone());
    }
    Ok(())
}

/// Where a release's state lives: `--state-dir`, a dry run's scratch folder, or
/// `<git dir>/embargo/<name>/<folder>`.
fn release_state_dir(
    pipeline: &Pipeline,
    workspace: &Workspace,
    state_dir: Option<&Path>,
    folder: &str,
) -> PathBuf {
    match (state_dir, &workspace.scratch) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(scratch)) => scratch.join("state"),
        (None, None) => workspace
            .clone
            .common_dir()
            .join("embargo")
            .join(&pipeline.name)
            .join(folder),
    }
}

/// The plan of one line of a release, from remotes already listed; `state_dir` gives the
/// line's state folder from its tag.
fn resolve_line(
    pipeline: &Pipeline,
    workspace: &Workspace,
    remotes: &Remotes,
    releases: &[(Version, &String)],
    line: Line,
    state_dir: &dyn Fn(&str) -> PathBuf,
) -> Result<Plan, Error> {
    let (repo, git, clone) = (&workspace.repo, &workspace.git, &workspace.clone);
    let (private, public) = (&remotes.private, &remotes.public);
    let (previous_tag, previous_version) = latest_release(releases, line, public)?;
    let tag_ref = public.tags[&previous_tag];
    let next = previous_version.next_patch().ok_or_else(|| {
        Error::bad_input(format!("{previous_tag}: the patch number cannot go higher"))
    })?;
    let tag = pipeline.tag.format(next);
    let template_values = crate::pipeline::template::Values {
        next,
        tag: &tag,
        previous_tag: &previous_tag,
        commit: None,
        target: None,
    };
    let values = |var: Var| template_values.get(var);
    let patch_branch = pipeline.branch.expand(values);
    for (what, kind, name) in [
        ("versioning.tag", "tag", &tag),
        ("versioning.branch", "branch", &patch_branch),
    ] {
        if let Some(why) = git::bad_short_ref(kind, name) {
            return Err(Error::bad_input(format!(
                "{}: {what} gives {why}",
                pipeline.file.display()
            ))
            .with_hint(format!("change {what} in the pipeline")));
        }
    }

    // The objects behind the previous release and the fix must be in the clone.
    remote::fetch_objects(
        git,
        repo,
        public,
        &[(format!("refs/tags/{previous_tag}"), tag_ref.object)],
    )?;
    let (fix_source, fix_oids) = fix_commits(
        pipeline.fix.for_line(line),
        &fix_key(pipeline, line),
        repo,
        git,
        private,
        public,
    )?;
    let fix_commits = fix_oids
        .iter()
        .map(|oid| {
            let commit = repo
                .repo
                .find_commit(*oid)
                .map_err(git::failed(format_args!("reading fix commit {oid}")))?;
            if commit.parent_count() > 1 {
                return Err(Error::bad_input(format!(
                    "fix commit {} `{}` is a merge; a security fix must be a series of plain commits",
                    git::short(*oid),
                    git::subject(&commit)
                ))
                .with_hint("rebase the fix branch onto its base so that it has no merge commits"));
            }
            Ok(FixCommit {
                sha: oid.to_string(),
                subject: git::subject(&commit),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;

    let mut already_exists = Vec::new();
    let tag_refname = format!("refs/tags/{tag}");
    let branch_refname = format!("refs/heads/{patch_branch}");
    // The user's clone, even in a dry run: a release that would be refused must not look fine.
    if clone.ref_target(&tag_refname).is_some() {
        already_exists.push(format!("tag {tag} in the clone"));
    }
    if clone.ref_target(&branch_refname).is_some() {
        already_exists.push(format!("branch {patch_branch} in the clone"));
    }
    for remote in [private, public] {
        if remote.tags.contains_key(&tag) {
            already_exists.push(format!("tag {tag} on {}", remote.describe()));
        }
        if remote.heads.contains_key(&patch_branch) {
            already_exists.push(format!("branch {patch_branch} on {}", remote.describe()));
        }
    }

    let state_dir = state_dir(&tag);
    let targets = match &pipeline.cherry_pick {
        Some(spec) => targets(pipeline, spec, public, &patch_branch)?,
        None => Vec::new(),
    };
    // A pick branch must be a branch of its own: one named like a target (or the patch branch)
    // would move that branch on the private remote now and on the public one at the instant.
    if let Some(spec) = &pipeline.cherry_pick {
        for target in &targets {
            let branch = spec.branch.expand(|v| {
                crate::pipeline::template::Values {
                    target: Some(target),
                    ..template_values.clone()
                }
                .get(v)
            });
            if targets.contains(&branch) || branch == patch_branch {
                return Err(Error::bad_input(format!(
                    "{}: cherry_pick.branch gives `{branch}` for the target {target}: the pick would be pushed onto that branch itself",
                    pipeline.file.display()
                ))
                .with_hint("give the picks branches of their own, like \"cherry-pick/{tag}/{target}\""));
            }
        }
    }
    let highest_release = public
        .tags
        .keys()
        .filter_map(|t| pipeline.tag.parse(t))
        .all(|v| v < next);
    Ok(Plan {
        highest_release,
        pipeline: pipeline.name.clone(),
        line: line.to_string(),
        previous: LatestRelease {
            tag: previous_tag.clone(),
            version: previous_version.to_string(),
            commit: tag_ref.commit.to_string(),
        },
        version: next.to_string(),
        tag,
        patch_branch,
        fix_source,
        fix_commits,
        targets,
        private_push: remotes.private_push.clone(),
        public_urls: remotes.public_urls.clone(),
        trial: None,
        immutable_releases: None,
        private_repository: None,
        advisory: None,
        embargo: pipeline.embargo,
        state_dir,
        already_exists,
        previous_commit: tag_ref.commit,
        fix_oids,
        pick_fix: Default::default(),
        released_with: Vec::new(),
        release_set: Vec::new(),
        next_version: next,
        private: private.clone(),
        public: public.clone(),
    })
}

/// The targets of the cherry-picks. A glob of `onto` that matches no public branch is almost
/// always a typo, and a typo must not quietly mean that a branch gets no backport.
fn targets(
    pipeline: &Pipeline,
    spec: &CherryPickSpec,
    public: &RemoteRefs,
    patch_branch: &str,
) -> Result<Vec<String>, Error> {
    for glob in &spec.onto {
        if !public.heads.keys().any(|b| glob.matches(b)) {
            let close = close_names(glob.as_str(), public.heads.keys());
            return Err(Error::bad_input(format!(
                "{}: cherry_pick.onto: `{}` matches no branch of {}{}",
                pipeline.file.display(),
                glob.as_str(),
                public.describe(),
                if close.is_empty() {
                    String::new()
                } else {
                    format!(" (branches that look close: {})", close.join(", "))
                }
            ))
            .with_hint("correct the glob, or remove it if that branch is gone"));
        }
    }
    // The patch branches of earlier releases (`release-1.24.3` beside `release-1.24` with
    // Istio's names) are releases, not branches to pick onto: `release-*` must not take them, nor
    // this release's own once it is public.
    let released: std::collections::HashSet<String> = public
        .tags
        .keys()
        .filter_map(|tag| Some((pipeline.tag.parse(tag)?, tag)))
        .map(|(version, tag)| {
            pipeline.branch.expand(|v| {
                crate::pipeline::template::Values {
                    next: version,
                    tag,
                    previous_tag: "",
                    commit: None,
                    target: None,
                }
                .get(v)
            })
        })
        .collect();
    Ok(public
        .heads
        .keys()
        .filter(|name| spec.onto.iter().any(|p| p.matches(name)))
        .filter(|name| !spec.skip.iter().any(|p| p.matches(name)))
        .filter(|name| name.as_str() != patch_branch && !released.contains(name.as_str()))
        .cloned()
        .collect())
}

/// Up to five of `names` that look like what `glob` meant: its literal part (up to the first
/// wildcard) within a small edit distance of the start of the name.
fn close_names<'a>(glob: &str, names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let literal: String = glob.chars().take_while(|c| !"*?[".contains(*c)).collect();
    let n = literal.chars().count();
    let limit = (n / 4).max(2);
    let mut scored: Vec<(usize, &String)> = names
        .map(|name| {
            let best = [n.saturating_sub(1), n, n + 1]
                .iter()
                .map(|&k| edit_distance(&literal, &name.chars().take(k).collect::<String>()))
                .min()
                .unwrap_or(usize::MAX);
            (best, name)
        })
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = here;
        }
    }
    row[b.len()]
}

/// Every final release on the public remote, by the pipeline's tag pattern.
fn final_releases<'r>(
    pipeline: &Pipeline,
    public: &'r RemoteRefs,
) -> Result<Vec<(Version, &'r String)>, Error> {
    let releases: Vec<(Version, &String)> = public
        .tags
        .keys()
        .filter_map(|t| Some((pipeline.tag.parse(t)?, t)))
        .collect();
    if releases.is_empty() {
        return Err(Error::bad_input(format!(
            "{} has no release tag spelled like `{}`",
            public.describe(),
            pipeline.tag.source()
        ))
        .with_hint(
            "check versioning.tag (Istio spells tags `{major}.{minor}.{patch}`, without the v)",
        ));
    }
    Ok(releases)
}

/// The lines that have a final release, newest first.
fn release_lines(releases: &[(Version, &String)]) -> Vec<Line> {
    let mut lines: Vec<Line> = releases.iter().map(|(v, _)| v.line()).collect();
    lines.sort_by(|a, b| b.cmp(a));
    lines.dedup();
    lines
}

/// The `n` newest lines that have a final release (`versioning.lines: {supported: N}`).
fn newest_lines(
    releases: &[(Version, &String)],
    n: usize,
    public: &RemoteRefs,
    pipeline: &Pipeline,
) -> Result<Vec<Line>, Error> {
    let lines = release_lines(releases);
    if lines.len() < n {
        return Err(Error::bad_input(format!(
            "{}: versioning.lines asks for the {n} newest supported lines, but {} has final releases on {} line(s) only ({})",
            pipeline.file.display(),
            public.describe(),
            lines.len(),
            join_lines(&lines)
        ))
        .with_hint(format!("write {{supported: {}}}, or name the lines", lines.len())));
    }
    Ok(lines.into_iter().take(n).collect())
}

fn join_lines(lines: &[Line]) -> String {
    lines
        .iter()
        .map(Line::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The latest final release of `line`.
fn latest_release(
    releases: &[(Version, &String)],
    line: Line,
    public: &RemoteRefs,
) -> Result<(String, Version), Error> {
    let (version, tag) = releases
        .iter()
        .filter(|(v, _)| v.line() == line)
        .max_by_key(|(v, _)| *v)
        .ok_or_else(|| {
            let mut lines = release_lines(releases);
            lines.reverse();
            Error::bad_input(format!(
                "line {line}: {} has no final release tag on this line (lines with releases: {})",
                public.describe(),
                join_lines(&lines)
            ))
            .with_hint("pass --line with one of those lines, or tag the line's first release")
        })?;
    Ok(((*tag).clone(), *version))
}

/// The fix commits, oldest first, and a description of where they come from.
/// Where a line's fix is named in the pipeline, for messages.
fn fix_key(pipeline: &Pipeline, line: Line) -> String {
    if pipeline.fix.per_line.contains_key(&line) {
        format!("fix.per_line.\"{line}\"")
    } else {
        "fix.commits".to_string()
    }
}

fn fix_commits(
    source: &FixSource,
    key: &str,
    repo: &LocalRepo,
    git: &GitCli,
    private: &RemoteRefs,
    public: &RemoteRefs,
) -> Result<(String, Vec<Oid>), Error> {
    match source {
        FixSource::Backport { branch } => backport_commits(branch, repo, git, private, public),
        FixSource::Branch { branch, base } => {
            let tip = *private.heads.get(branch).ok_or_else(|| {
                Error::bad_input(format!(
                    "the fix branch `{branch}` does not exist on {}",
                    private.describe()
                ))
                .with_hint(suggest_branches(private, branch))
            })?;
            let base = match base {
                Some(b) => b.clone(),
                None => public.default_branch.clone().ok_or_else(|| {
                    Error::bad_input(format!(
                        "{} does not say which branch is its default, so the fix's base is unknown",
                        public.describe()
                    ))
                    .with_hint("set fix.base (like master) in the pipeline")
                })?,
            };
            let (base_remote, base_commit) = match private.heads.get(&base) {
                Some(oid) => (private, *oid),
                None => match public.heads.get(&base) {
                    Some(oid) => (public, *oid),
                    None => {
                        return Err(Error::bad_input(format!(
                            "fix.base: the branch `{base}` exists neither on {} nor on {}",
                            private.describe(),
                            public.describe()
                        )));
                    }
                },
            };
            remote::fetch_objects(git, repo, private, &[(format!("refs/heads/{branch}"), tip)])?;
            remote::fetch_objects(
                git,
                repo,
                base_remote,
                &[(format!("refs/heads/{base}"), base_commit)],
            )?;
            let oids =
                git::range(repo, base_commit, tip, "the fix commits").map_err(Error::from)?;
            if oids.is_empty() {
                return Err(Error::bad_input(format!(
                    "the fix branch `{branch}` has no commits that are not on `{base}` ({base}..{branch} is empty)"
                ))
                .with_hint("push the fix commits to the fix branch, or set fix.base to the branch the fix was started from"));
            }
            Ok((format!("{base}..{branch} on {}", private.describe()), oids))
        }
        FixSource::Commits(commits) => {
            let missing: Vec<&String> = commits
                .iter()
                .filter(|c| resolve_commit(repo, c).is_none())
                .collect();
            if !missing.is_empty() {
                let wanted: Vec<(String, Oid)> = private
                    .heads
                    .iter()
                    .map(|(name, oid)| (format!("refs/heads/{name}"), *oid))
                    .collect();
                remote::fetch_objects(git, repo, private, &wanted)?;
            }
            let oids = commits
                .iter()
                .map(|c| {
                    resolve_commit(repo, c).ok_or_else(|| {
                        Error::bad_input(format!(
                            "{key}: commit {c} is neither in the clone nor on any branch of {}",
                            private.describe()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((key.to_string(), oids))
        }
    }
}

/// A line's backport branch: its commits that no public branch or tag contains, oldest first,
/// whether the branch starts from the line's latest tag or from its release branch.
fn backport_commits(
    branch: &str,
    repo: &LocalRepo,
    git: &GitCli,
    private: &RemoteRefs,
    public: &RemoteRefs,
) -> Result<(String, Vec<Oid>), Error> {
    let tip = *private.heads.get(branch).ok_or_else(|| {
        Error::bad_input(format!(
            "fix.per_line: the backport branch `{branch}` does not exist on {}",
            private.describe()
        ))
        .with_hint(suggest_branches(private, branch))
    })?;
    remote::fetch_objects(git, repo, private, &[(format!("refs/heads/{branch}"), tip)])?;
    // Every public commit must be known to leave it out: whatever of the public history the
    // clone lacks is fetched first (usually nothing).
    let public_refs: Vec<(String, Oid)> = public
        .heads
        .iter()
        .map(|(name, oid)| (format!("refs/heads/{name}"), *oid))
        .chain(
            public
                .tags
                .iter()
                .map(|(name, t)| (format!("refs/tags/{name}"), t.object)),
        )
        .collect();
    remote::fetch_objects(git, repo, public, &public_refs)?;
    let mut excluded: Vec<Oid> = public.heads.values().copied().collect();
    excluded.extend(public.tags.values().map(|t| t.commit));
    excluded.sort();
    excluded.dedup();
    // git's walk, which reads the clone's commit-graph: with thousands of tags to leave out it
    // is ten times libgit2's.
    let not: String = excluded.iter().map(|oid| format!("^{oid}\n")).collect();
    let listing = git.run_with_input(
        &format!("listing the commits of the backport branch `{branch}`"),
        &[
            "rev-list",
            "--topo-order",
            "--reverse",
            "--stdin",
            &tip.to_string(),
        ],
        not,
    )?;
    let oids = listing
        .stdout
        .lines()
        .map(|l| {
            Oid::from_str(l.trim()).map_err(|_| {
                Error::stage_failed(format!("git rev-list printed `{l}`, not a commit id"))
            })
        })
        .collect::<Result<Vec<Oid>, Error>>()?;
    if oids.is_empty() {
        return Err(Error::bad_input(format!(
            "the backport branch `{branch}` has no commit that is not already public (every commit on it is on a public branch or tag)"
        ))
        .with_hint("push the backport's commits to that branch of the private repository"));
    }
    Ok((
        format!(
            "{branch} on {} (its {} commit(s) that no public branch or tag contains)",
            private.describe(),
            oids.len()
        ),
        oids,
    ))
}

/// Where a fix comes from, in words, before it is resolved against the remotes.
fn describe_source(source: &FixSource) -> String {
    match source {
        FixSource::Branch { branch, base } => match base {
            Some(base) => format!("{base}..{branch}"),
            None => format!("{branch} (from the public default branch)"),
        },
        FixSource::Commits(commits) => format!("fix.commits ({} commit(s))", commits.len()),
        FixSource::Backport { branch } => format!("{branch} (a backport)"),
    }
}

fn resolve_commit(repo: &LocalRepo, sha: &str) -> Option<Oid> {
    repo.repo
        .revparse_single(&format!("{sha}^{{commit}}"))
        .ok()
        .map(|o| o.id())
}

fn suggest_branches(remote: &RemoteRefs, wanted: &str) -> String {
    let close: Vec<&String> = remote
        .heads
        .keys()
        .filter(|b| b.starts_with("security/") || b.contains("CVE") || b.contains(wanted))
        .take(8)
        .collect();
    if close.is_empty() {
        "pass --fix with the private branch that holds the fix".to_string()
    } else {
        format!(
            "branches there that look like fixes: {}",
            close
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
