//! The private and public remotes as seen at one moment (`git ls-remote`), and fetching just the
//! objects a release needs, without creating or moving a single ref in the clone.

use std::collections::BTreeMap;
use std::path::Path;

use git2::Oid;

use super::cli::GitCli;
use super::{GitError, LocalRepo};

/// A remote's refs at the time it was listed.
#[derive(Debug, Clone)]
pub struct RemoteRefs {
    /// The remote as the pipeline names it (a remote name or a URL).
    pub remote: String,
    /// Which of the pipeline's remotes this is, for messages: "private" or "public".
    pub role: &'static str,
    /// Branch name -> commit.
    pub heads: BTreeMap<String, Oid>,
    /// Tag name -> (the tag ref's object, the commit it peels to).
    pub tags: BTreeMap<String, TagRef>,
    /// The branch `HEAD` points at, when the remote says.
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagRef {
    pub object: Oid,
    pub commit: Oid,
}

impl RemoteRefs {
    /// What a full ref name points at here: a branch's commit, a tag's own object.
    pub fn target(&self, refname: &str) -> Option<Oid> {
        if let Some(tag) = refname.strip_prefix("refs/tags/") {
            self.tags.get(tag).map(|t| t.object)
        } else {
            self.heads
                .get(refname.strip_prefix("refs/heads/")?)
                .copied()
        }
    }

    /// The remote for messages, with any credentials in its URL redacted.
    pub fn describe(&self) -> String {
        format!(
            "the {} remote `{}`",
            self.role,
            crate::redact::redact_url(&self.remote)
        )
    }
}

/// Checks that `remote` is a remote of the clone or looks like a URL or path git can reach.
/// A remote starting with `-` is refused: git would read it as an option (`--upload-pack=...`
/// runs a command).
pub fn check_remote(repo: &LocalRepo, key: &str, remote: &str) -> Result<(), GitError> {
    if remote.starts_with('-') {
        return Err(GitError::bad_input(format!(
            "{key}: `{}` starts with `-`, so git would read it as an option",
            crate::redact::redact_url(remote)
        ))
        .with_hint("give a remote name of the clone or the repository's URL"));
    }
    let configured: Vec<String> = repo
        .repo
        .remotes()
        .map(|names| {
            names
                .iter_bytes()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect()
        })
        .unwrap_or_default();
    if configured.iter().any(|r| r == remote) {
        return Ok(());
    }
    let looks_like_url = remote.contains("://")
        || (remote.contains('@') && remote.contains(':'))
        || Path::new(remote).is_absolute()
        || remote.starts_with("./")
        || remote.starts_with("../");
    if looks_like_url {
        return Ok(());
    }
    let remote = &crate::redact::redact_url(remote);
    Err(GitError::bad_input(format!(
        "{key}: `{remote}` is not a remote of {} (its remotes: {}) and does not look like a URL",
        repo.path.display(),
        if configured.is_empty() {
            "none".to_string()
        } else {
            configured.join(", ")
        }
    ))
    .with_hint(format!(
        "add it with `git remote add {remote} URL`, or give the repository's URL in the pipeline"
    )))
}

/// Lists a remote's branches and tags.
pub fn list(git: &GitCli, role: &'static str, remote: &str) -> Result<RemoteRefs, GitError> {
    let shown = crate::redact::redact_url(remote);
    let out = git
        .run(
            &format!("listing the refs of the {role} remote `{shown}`"),
            // Only branches, tags and HEAD: a GitHub remote also has a ref per pull request,
            // often tens of thousands, and the patterns let the server leave them out.
            &[
                "ls-remote",
                "--symref",
                "--end-of-options",
                remote,
                "HEAD",
                "refs/heads/*",
                "refs/tags/*",
            ],
        )
        .map_err(|e| {
            GitError {
                kind: super::GitErrorKind::BadInput,
                ..e
            }
            .with_hint(format!(
                "check that the {role} remote `{shown}` exists and that this machine can read it"
            ))
        })?;
    parse_ls_remote(&out.stdout, role, remote)
}

fn parse_ls_remote(text: &str, role: &'static str, remote: &str) -> Result<RemoteRefs, GitError> {
    let mut refs = RemoteRefs {
        remote: remote.to_string(),
        role,
        heads: BTreeMap::new(),
        tags: BTreeMap::new(),
        default_branch: None,
    };
    let mut peeled: BTreeMap<String, Oid> = BTreeMap::new();
    for line in text.lines() {
        let Some((left, name)) = line.split_once('\t') else {
            continue;
        };
        if let Some(target) = left.strip_prefix("ref: ") {
            if name == "HEAD" {
                refs.default_branch = target.strip_prefix("refs/heads/").map(str::to_string);
            }
            continue;
        }
        let Ok(oid) = Oid::from_str(left) else {
            return Err(GitError::failed(format!(
                "unexpected line from `git ls-remote {}`: {line}",
                crate::redact::redact_url(remote)
            )));
        };
        if let Some(branch) = name.strip_prefix("refs/heads/") {
            refs.heads.insert(branch.to_string(), oid);
        } else if let Some(tag) = name.strip_prefix("refs/tags/") {
            if let Some(tag) = tag.strip_suffix("^{}") {
                peeled.insert(tag.to_string(), oid);
            } else {
                refs.tags.insert(
                    tag.to_string(),
                    TagRef {
                        object: oid,
                        commit: oid,
                    },
                );
            }
        }
    }
    for (tag, commit) in peeled {
        if let Some(t) = refs.tags.get_mut(&tag) {
            t.commit = commit;
        }
    }
    Ok(refs)
}

/// Brings refs of `remote` into the clone at the values given (each already proven to be what
/// the remote holds): their objects fetched when missing, then each ref created, never moved.
pub fn bring_in(
    git: &GitCli,
    repo: &LocalRepo,
    remote: &RemoteRefs,
    wanted: &[(String, Oid)],
    why: &str,
) -> Result<(), crate::error::Error> {
    fetch_objects(git, repo, remote, wanted)?;
    for (refname, oid) in wanted {
        repo.repo
            .reference(refname, *oid, false, why)
            .map_err(super::failed(format_args!("creating {refname}")))?;
    }
    Ok(())
}

/// Makes sure the clone has the objects behind `refnames` of `remote`. Only objects are written:
/// no ref, no remote-tracking branch, no FETCH_HEAD (so `plan` changes nothing a user can see).
pub fn fetch_objects(
    git: &GitCli,
    repo: &LocalRepo,
    remote: &RemoteRefs,
    wanted: &[(String, Oid)],
) -> Result<(), GitError> {
    let missing: Vec<&(String, Oid)> = wanted.iter().filter(|(_, oid)| !repo.has(*oid)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut args = vec![
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--refmap=",
        "--no-recurse-submodules",
        "--end-of-options",
        remote.remote.as_str(),
    ];
    for (refname, _) in &missing {
        args.push(refname.as_str());
    }
    git.run(&format!("fetching from {}", remote.describe()), &args)?;
    for (refname, oid) in missing {
        if !repo.has(*oid) {
            return Err(GitError::failed(format!(
                "{refname} on {} moved while it was being fetched (it was {oid})",
                remote.describe()
            ))
            .with_hint("someone is pushing to it right now; run the command again"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ls_remote_with_symref_and_peeled_tags() {
        let a = "1".repeat(40);
        let b = "2".repeat(40);
        let c = "3".repeat(40);
        let text = format!(
            "ref: refs/heads/main\tHEAD\n{a}\tHEAD\n{a}\trefs/heads/main\n{b}\trefs/tags/v1.0.0\n{c}\trefs/tags/v1.0.0^{{}}\n{a}\trefs/tags/light\n{a}\trefs/pull/1/head\n"
        );
        let refs = parse_ls_remote(&text, "public", "origin").unwrap();
        assert_eq!(refs.default_branch.as_deref(), Some("main"));
        assert_eq!(refs.heads.len(), 1);
        let tag = refs.tags["v1.0.0"];
        assert_eq!(tag.object.to_string(), b);
        assert_eq!(tag.commit.to_string(), c);
        assert_eq!(refs.tags["light"].commit.to_string(), a);
    }
}
