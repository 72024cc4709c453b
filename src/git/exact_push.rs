//! One atomic push of exact objects to exact refs, made ready before it is made, so that the
//! moment it is made (the embargo instant, for the public push) costs the push and nothing else.
//!
//! Why not `git push --atomic URL <sha>:<ref>...`: git matches every explicit refspec against
//! every ref of the clone and every ref the remote advertises, formatting six candidate names per
//! pair (`count_refspec_match`): on a project with 2,000 tags that is 150 ms at 31 refs and 1.5 s
//! at 300, all of it between the instant and the push landing. Instead the objects to push get
//! refs of their own in the clone, under a namespace no one else uses
//! (`refs/embargo/push/<nonce>/heads/...`, `.../tags/...`), and one pattern refspec
//! `refs/embargo/push/<nonce>/*:refs/*` pushes exactly them: git looks each destination up in a
//! sorted index of the remote's refs instead. The push is still from the clone, so its
//! configuration (remotes, `url.*.insteadOf`, `http.extraheader`, credential helpers) applies.
//!
//! The refs are written before the instant with libgit2 (no hook runs); right before the push
//! they are read back and must be exactly the ones to push, each naming exactly its object, so
//! that the push sends the recorded objects whatever happened meanwhile. They are removed once
//! the push is over (a process killed in between leaves them: they are never pushed again, the
//! next push has another nonce).

use std::collections::BTreeMap;

use git2::{Oid, Repository};

use super::GitError;
use super::cli::{GitCli, Output};

/// Where the refs of pushes in the making live in the clone.
const NAMESPACE: &str = "refs/embargo/push/";

/// A push ready to be made: its refs written in the clone, its command line built.
pub struct ExactPush {
    repo: Repository,
    git: GitCli,
    /// `refs/embargo/push/<nonce>/`.
    prefix: String,
    /// Each ref to push (its name on the remote) and its object.
    refs: BTreeMap<String, Oid>,
    args: Vec<String>,
    /// Whether the refs are still in the clone.
    written: bool,
}

impl ExactPush {
    /// Writes the refs to push under a namespace of their own and builds the command: `git push
    /// --atomic --porcelain [RECEIVE_PACK] DESTINATION refs/embargo/push/<nonce>/*:refs/*`.
    /// `refs` are (ref on the remote, object id).
    pub fn prepare(
        git: &GitCli,
        destination: &str,
        receive_pack: Option<&str>,
        refs: &[(String, String)],
    ) -> Result<ExactPush, GitError> {
        let repo = Repository::open(git.dir()).map_err(super::failed(format!(
            "opening {} to push from it",
            git.dir().display()
        )))?;
        let nonce = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        remove_abandoned_pushes(&repo);
        let prefix = format!("{NAMESPACE}{nonce}/");
        let mut wanted = BTreeMap::new();
        for (refname, object) in refs {
            let Some(rest) = refname.strip_prefix("refs/") else {
                return Err(GitError::bad_input(format!(
                    "cannot push to `{refname}`: not a full ref name (refs/...)"
                )));
            };
            let oid = Oid::from_str(object).map_err(|_| {
                GitError::bad_input(format!(
                    "cannot push `{object}` to {refname}: not an object id"
                ))
            })?;
            if wanted.insert(rest.to_string(), oid).is_some() {
                return Err(GitError::bad_input(format!(
                    "{refname} is to be pushed twice"
                )));
            }
        }
        let mut push = ExactPush {
            repo,
            git: git.clone(),
            prefix,
            refs: BTreeMap::new(),
            args: Vec::new(),
            written: true,
        };
        for (rest, oid) in &wanted {
            let name = format!("{}{rest}", push.prefix);
            // Fails if the object is missing: better now than at the instant.
            push.repo
                .reference(&name, *oid, false, "embargo: an exact push")
                .map_err(super::failed(format!(
                    "writing {name} ({oid}) in the clone to push refs/{rest}"
                )))?;
            push.refs.insert(rest.clone(), *oid);
        }
        push.args = [
            "push",
            "--atomic",
            "--porcelain",
            // Exactly the refs given, whatever the configuration says: no annotated tag that
            // points into them (`push.followTags`), no submodule (`push.recurseSubmodules`), no
            // signed push that would wait for a passphrase (`push.gpgSign`).
            "--no-follow-tags",
            "--recurse-submodules=no",
            "--no-signed",
        ]
        .map(str::to_string)
        .into_iter()
        .chain(receive_pack.map(str::to_string))
        .chain([destination.to_string(), format!("{}*:refs/*", push.prefix)])
        .collect();
        Ok(push)
    }

    /// The git the push is made with.
    pub fn git(&self) -> &GitCli {
        &self.git
    }

    /// The command line, for messages.
    pub fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    /// Proves the refs are still exactly the ones to push, then pushes them: whether git
    /// succeeded, and what it printed. The refs are removed when this is dropped (removing 300
    /// refs takes libgit2 about 100 ms: a caller on the clock drops it once it has the time).
    pub fn push(&mut self, summary: &str) -> Result<(bool, Output), GitError> {
        self.prove()?;
        let (ok, output) = self.git.output(summary, &self.args())?;
        if ok {
            self.prove_sent(&output)?;
        }
        Ok((ok, output))
    }

    /// What git says it sent (`--porcelain`: `<flag>\t<from>:<to>\t<summary>` a ref) is exactly
    /// the refs to push. A ref written into the namespace between the read-back and git listing
    /// it (a few milliseconds) would be pushed too: it cannot be taken back, but it is said, and
    /// nothing more is published.
    fn prove_sent(&self, output: &Output) -> Result<(), GitError> {
        let sent: Vec<&str> = output
            .stdout
            .lines()
            .filter_map(|l| l.split('\t').nth(1))
            .filter_map(|spec| spec.split_once(':'))
            .map(|(_, to)| to)
            .collect();
        let extra: Vec<&str> = sent
            .iter()
            .copied()
            .filter(|to| {
                to.strip_prefix("refs/")
                    .is_none_or(|rest| !self.refs.contains_key(rest))
            })
            .collect();
        if extra.is_empty() {
            return Ok(());
        }
        Err(GitError::integrity(format!(
            "the push sent refs that were not to be pushed: {} (something wrote them under {} while the push ran)",
            extra.join(", "),
            self.prefix
        ))
        .with_hint(format!(
            "nothing more is published; delete them from the remote at once (`git push <remote> --delete {}`), find out what writes refs in the clone, then run again",
            extra.join(" ")
        )))
    }

    /// The namespace holds exactly the refs to push, each naming its object.
    fn prove(&self) -> Result<(), GitError> {
        let changed = |what: String| {
            GitError::integrity(format!(
                "the refs prepared for the push under {} changed before it: {what}",
                self.prefix
            ))
            .with_hint("nothing was pushed; find out what writes refs in the clone, then run again")
        };
        let mut found = BTreeMap::new();
        let refs = self
            .repo
            .references_glob(&format!("{}*", self.prefix))
            .map_err(super::failed("reading the refs prepared for the push"))?;
        for reference in refs {
            let reference =
                reference.map_err(super::failed("reading the refs prepared for the push"))?;
            let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
            let Some(target) = reference.target() else {
                return Err(changed(format!("{name} is a symbolic ref")));
            };
            found.insert(
                name.strip_prefix(&self.prefix).unwrap_or(&name).to_string(),
                target,
            );
        }
        if found != self.refs {
            let differs: Vec<String> = found
                .iter()
                .filter(|(name, oid)| self.refs.get(*name) != Some(*oid))
                .map(|(name, oid)| format!("refs/{name} would be {oid}"))
                .chain(
                    self.refs
                        .keys()
                        .filter(|name| !found.contains_key(*name))
                        .map(|name| format!("refs/{name} is gone")),
                )
                .collect();
            return Err(changed(differs.join(", ")));
        }
        Ok(())
    }

    /// Removes the refs prepared for the push (best effort: what is left is never pushed).
    fn remove(&mut self) {
        if !self.written {
            return;
        }
        self.written = false;
        if let Ok(refs) = self.repo.references_glob(&format!("{}*", self.prefix)) {
            let mut refs: Vec<git2::Reference<'_>> = refs.flatten().collect();
            for reference in &mut refs {
                let _ = reference.delete();
            }
        }
        // libgit2 leaves the folders of loose refs behind: remove those that are empty now.
        let refs = self.repo.commondir().join("refs");
        prune_empty(&refs.join(self.prefix.trim_start_matches("refs/")));
        for parent in ["embargo/push", "embargo"] {
            let _ = std::fs::remove_dir(refs.join(parent));
        }
    }
}

/// Removes the refs of pushes in the making whose process is gone: a push killed between being
/// prepared and being over (a publish waiting for the instant, say) leaves them. They are never
/// pushed by embargo (each push has a nonce of its own), but they name the fix's objects, and a
/// `git push --mirror` by hand would send them. A push whose process still runs (another release
/// published from this clone at the same time) keeps its refs.
pub fn remove_abandoned_pushes(repo: &Repository) {
    let Ok(refs) = repo.references_glob(&format!("{NAMESPACE}*")) else {
        return;
    };
    let mut abandoned: Vec<git2::Reference<'_>> = refs
        .flatten()
        .filter(|r| {
            let name = String::from_utf8_lossy(r.name_bytes()).into_owned();
            name.strip_prefix(NAMESPACE)
                .and_then(|rest| rest.split_once('/'))
                .is_none_or(|(nonce, _)| !process_alive(nonce))
        })
        .collect();
    let mut nonces = std::collections::BTreeSet::new();
    for reference in &mut abandoned {
        let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
        if let Some((nonce, _)) = name
            .strip_prefix(NAMESPACE)
            .and_then(|rest| rest.split_once('/'))
        {
            nonces.insert(nonce.to_string());
        }
        let _ = reference.delete();
    }
    let refs = repo.commondir().join(NAMESPACE);
    for nonce in nonces {
        prune_empty(&refs.join(nonce));
    }
}

/// Whether the process that made the push of this nonce (`<pid>-<nanoseconds>`) still runs.
fn process_alive(nonce: &str) -> bool {
    let Some(pid) = nonce
        .split_once('-')
        .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
        .filter(|pid| *pid > 0)
    else {
        // Not a nonce embargo makes: nobody's push.
        return false;
    };
    // Signal 0 delivers nothing: it asks whether the process exists (EPERM: it does, another
    // user's).
    // SAFETY: kill(2) with signal 0 has no effect on the process; pid is positive.
    let answer = unsafe { libc::kill(pid, 0) };
    answer == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes `dir` and the folders in it, if they hold no file.
fn prune_empty(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                prune_empty(&entry.path());
            }
        }
    }
    // Fails, as it should, on a folder that still holds something.
    let _ = std::fs::remove_dir(dir);
}

impl Drop for ExactPush {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Fix Lead")
            .env("GIT_AUTHOR_EMAIL", "fix-lead@example.org")
            .env("GIT_COMMITTER_NAME", "Release Lead")
            .env("GIT_COMMITTER_EMAIL", "release-lead@example.org")
            .env("GIT_AUTHOR_DATE", "@1767225600 +0000")
            .env("GIT_COMMITTER_DATE", "@1767225600 +0000")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A clone with two commits on master and an annotated tag on the first, and an empty bare
    /// remote: (folder, clone, remote, first commit, tag object).
    fn clone_and_remote() -> (tempfile::TempDir, PathBuf, PathBuf, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let clone = dir.path().join("work");
        let remote = dir.path().join("public.git");
        std::fs::create_dir_all(&clone).unwrap();
        git(&clone, &["init", "-q", "-b", "master"]);
        git(&clone, &["commit", "-q", "--allow-empty", "-m", "first"]);
        let first = git(&clone, &["rev-parse", "HEAD"]);
        git(&clone, &["tag", "-a", "-m", "v1.0.1", "v1.0.1"]);
        let tag = git(&clone, &["rev-parse", "v1.0.1"]);
        git(&clone, &["commit", "-q", "--allow-empty", "-m", "second"]);
        git(dir.path(), &["init", "-q", "--bare", "public.git"]);
        (dir, clone, remote, first, tag)
    }

    fn refs(dir: &Path) -> String {
        git(dir, &["for-each-ref", "--format=%(objectname) %(refname)"])
    }

    use std::path::PathBuf;

    #[test]
    fn pushes_exactly_the_recorded_objects_and_leaves_no_ref_behind() {
        let (_dir, clone, remote, first, tag) = clone_and_remote();
        let cli = GitCli::new(&clone);
        let wanted = [
            ("refs/heads/v1.0.1".to_string(), first.clone()),
            ("refs/tags/v1.0.1".to_string(), tag.clone()),
        ];
        let mut push = ExactPush::prepare(&cli, remote.to_str().unwrap(), None, &wanted).unwrap();
        // The clone's own branch moves meanwhile: the push still sends the recorded commit.
        git(&clone, &["branch", "-f", "v1.0.1", "master"]);
        let (ok, output) = push.push("pushing").unwrap();
        assert!(ok, "{output:?}");
        drop(push);
        assert_eq!(
            refs(&remote),
            format!("{first} refs/heads/v1.0.1\n{tag} refs/tags/v1.0.1")
        );
        assert!(!refs(&clone).contains("refs/embargo"), "{}", refs(&clone));
        assert!(!clone.join(".git/refs/embargo").exists());
    }

    #[test]
    fn a_ref_slipped_into_the_push_or_a_prepared_ref_moved_pushes_nothing() {
        for attack in ["slipped in", "moved", "deleted"] {
            let (_dir, clone, remote, first, _) = clone_and_remote();
            let cli = GitCli::new(&clone);
            let wanted = [("refs/heads/v1.0.1".to_string(), first.clone())];
            let mut push =
                ExactPush::prepare(&cli, remote.to_str().unwrap(), None, &wanted).unwrap();
            let prepared = format!("{}heads/v1.0.1", push.prefix);
            match attack {
                "slipped in" => {
                    let evil = format!("{}heads/evil", push.prefix);
                    git(&clone, &["update-ref", &evil, "master"]);
                }
                "moved" => {
                    git(&clone, &["update-ref", &prepared, "master"]);
                }
                _ => {
                    git(&clone, &["update-ref", "-d", &prepared]);
                }
            }
            let error = push.push("pushing").unwrap_err();
            drop(push);
            assert!(
                error.message.contains("changed before it"),
                "{attack}: {}",
                error.message
            );
            assert_eq!(refs(&remote), "", "{attack}");
            assert!(!refs(&clone).contains("refs/embargo"), "{attack}");
        }
    }

    #[test]
    fn refs_left_by_a_killed_push_are_removed_by_the_next_and_a_running_push_keeps_its_own() {
        let (_dir, clone, remote, first, _) = clone_and_remote();
        // A publish killed while it waited left its refs; an odd name nobody's push makes, too.
        let gone = Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        let mut gone = gone;
        gone.wait().unwrap();
        let left = format!("refs/embargo/push/{gone_pid}-1/heads/v1.0.1");
        let odd = "refs/embargo/push/not-a-nonce/tags/v9".to_string();
        // Another release's publish from this clone, still running (this test process).
        let running = format!("refs/embargo/push/{}-2/heads/v2.0.1", std::process::id());
        for r in [&left, &odd, &running] {
            git(&clone, &["update-ref", r, &first]);
        }
        let cli = GitCli::new(&clone);
        let wanted = [("refs/heads/v1.0.1".to_string(), first.clone())];
        let push = ExactPush::prepare(&cli, remote.to_str().unwrap(), None, &wanted).unwrap();
        let now = refs(&clone);
        assert!(!now.contains(&left), "{now}");
        assert!(!now.contains(&odd), "{now}");
        assert!(now.contains(&running), "{now}");
        assert!(now.contains(&push.prefix), "{now}");
        assert!(!clone.join(".git").join(&left).parent().unwrap().exists());
    }

    #[test]
    fn a_missing_object_is_refused_when_preparing() {
        let (_dir, clone, remote, _, _) = clone_and_remote();
        let cli = GitCli::new(&clone);
        let wanted = [(
            "refs/heads/v1.0.1".to_string(),
            "0123456789abcdef0123456789abcdef01234567".to_string(),
        )];
        let error = ExactPush::prepare(&cli, remote.to_str().unwrap(), None, &wanted)
            .err()
            .unwrap();
        assert!(
            error.message.contains("refs/heads/v1.0.1"),
            "{}",
            error.message
        );
    }
}
