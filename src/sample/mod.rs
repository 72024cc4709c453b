//! The sample project of `embargo demo`, also used by the tests: a tiny application whose built
//! "binary" is a shell script that prints its version, with release tags, release branches, a
//! public and a private bare remote, and a security fix on the private one.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;
use crate::git::cli::GitCli;

/// The pipeline the demo runs.
pub const PIPELINE: &str = include_str!("pipeline.yaml");
/// The security advisory the demo stages its release with.
pub const ADVISORY: &str = r#"version: 1
summary: "Anonymous access is allowed by default"
description: |
  The default configuration sets `allow_anonymous = true`: anyone who can reach the service can
  use it without a token.
severity:
  cvss_v3: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
cwe: [CWE-1188]
package: {ecosystem: Go, name: example.org/app}
ghsa_id: null
cve_id: CVE-2026-0001
received: "2026-11-02"
credits: [{name: Jane Doe, type: finder}]
mitigations: |
  Put a proxy in front of the service that refuses requests without a token.
references: ["https://example.org/security"]
people:
  fix_lead: alice
  release_lead: bob
  disclosure_lead: carol
  security_team: [alice, bob, carol]
"#;
/// The fix branch on the private remote.
pub const FIX_BRANCH: &str = "security/CVE-2026-0001";
/// Line 1.0's own backport of the fix (see [`SampleProject::add_backport`]).
pub const BACKPORT_BRANCH: &str = "security/CVE-2026-0001-1.0";
/// 2026-01-01 00:00:00 UTC: every sample commit has this author and committer time, so the
/// sample's SHAs are the same on every machine.
pub const EPOCH: i64 = 1_767_225_600;

const APP: &str = r#"#!/bin/sh
# The sample application: reports its version and whether anonymous access is allowed.
here=$(dirname "$0")
case "${1:-}" in
  --version) echo "app @VERSION@" ;;
  check-auth)
    if grep -q '^allow_anonymous = true' "$here/auth.conf"; then
      echo "anonymous access: allowed"
    else
      echo "anonymous access: denied"
    fi ;;
  *) echo "usage: app --version | check-auth" >&2; exit 2 ;;
esac
"#;

const BUILD: &str = r#"#!/bin/sh
# Builds the release archive into dist/, with the version from $EMBARGO_VERSION.
set -eu
rm -rf dist
mkdir -p dist/pkg
sed "s/@VERSION@/${EMBARGO_VERSION:-dev}/" app.sh > dist/pkg/app
cp auth.conf dist/pkg/auth.conf
# Reproducible: fixed modes and times, files in a fixed order, no name or time in the gzip header.
chmod 755 dist/pkg/app
chmod 644 dist/pkg/auth.conf
touch -t 202601010000 dist/pkg/app dist/pkg/auth.conf
tar -cf - -C dist/pkg app auth.conf | gzip -n > dist/app-linux-amd64.tar.gz
echo "built dist/app-linux-amd64.tar.gz for ${EMBARGO_TAG:-dev}"
"#;

fn auth(anonymous: &str, timeout: u32) -> String {
    format!(
        "# authentication\nallow_anonymous = {anonymous}\n\n# sessions (minutes)\nsession_timeout = {timeout}\n"
    )
}

/// A sample project on disk.
#[derive(Debug, Clone)]
pub struct SampleProject {
    pub root: PathBuf,
    /// The release lead's clone (remotes `origin` = public, `security` = private).
    pub work: PathBuf,
    pub public: PathBuf,
    pub private: PathBuf,
    /// The environment every git command of the sample runs with: no user or system config,
    /// fixed identities and times.
    pub env: Vec<(String, String)>,
}

pub(crate) fn sample_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::stage_failed(format!("building the sample project: {what}: {e}"))
}

impl SampleProject {
    /// Creates the sample in `root` (which must exist and be empty).
    pub fn create(root: &Path) -> Result<SampleProject, Error> {
        let root = root.canonicalize().map_err(|e| sample_error("root", e))?;
        let gitconfig = root.join("gitconfig");
        fs::write(&gitconfig, "").map_err(|e| sample_error("gitconfig", e))?;
        let date = format!("@{EPOCH} +0000");
        let env = vec![
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ("GIT_CONFIG_GLOBAL".into(), gitconfig.display().to_string()),
            ("HOME".into(), root.display().to_string()),
            ("GIT_AUTHOR_NAME".into(), "Fix Lead".into()),
            ("GIT_AUTHOR_EMAIL".into(), "fix-lead@example.org".into()),
            ("GIT_AUTHOR_DATE".into(), date.clone()),
            ("GIT_COMMITTER_NAME".into(), "Release Lead".into()),
            (
                "GIT_COMMITTER_EMAIL".into(),
                "release-lead@example.org".into(),
            ),
            ("GIT_COMMITTER_DATE".into(), date),
            ("GIT_TERMINAL_PROMPT".into(), "0".into()),
        ];
        let sample = SampleProject {
            work: root.join("work"),
            public: root.join("public.git"),
            private: root.join("security.git"),
            root,
            env,
        };
        sample.build_history()?;
        Ok(sample)
    }

    /// Runs git in `dir` with the sample's environment; returns its stdout.
    pub fn git(&self, dir: &Path, args: &[&str]) -> Result<String, Error> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .map_err(|e| sample_error("running git", e))?;
        if !out.status.success() {
            return Err(sample_error(
                &format!("git {}", args.join(" ")),
                String::from_utf8_lossy(&out.stderr).trim(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The git CLI wrapper for the release, with the sample's environment.
    pub fn git_cli(&self) -> GitCli {
        self.env
            .iter()
            .fold(GitCli::new(&self.work), |g, (k, v)| g.with_env(k, v))
    }

    pub fn write(&self, path: &str, text: &str) -> Result<(), Error> {
        let full = self.work.join(path);
        if let Some(dir) = full.parent() {
            fs::create_dir_all(dir).map_err(|e| sample_error(path, e))?;
        }
        fs::write(&full, text).map_err(|e| sample_error(path, e))
    }

    /// Writes files and commits them on the current branch of the work clone.
    pub fn commit(&self, message: &str, files: &[(&str, &str)]) -> Result<String, Error> {
        for (path, text) in files {
            self.write(path, text)?;
        }
        self.git(&self.work, &["add", "-A"])?;
        self.git(&self.work, &["commit", "-q", "-m", message])?;
        self.git(&self.work, &["rev-parse", "HEAD"])
    }

    fn build_history(&self) -> Result<(), Error> {
        let w = &self.work;
        let w_str = w.display().to_string();
        self.git(&self.root, &["init", "-q", "-b", "master", &w_str])?;
        self.commit(
            "Initial release of app",
            &[
                ("app.sh", APP),
                ("build.sh", BUILD),
                ("auth.conf", &auth("true", 30)),
                (
                    "README.md",
                    "# app\n\nThe sample project of `embargo demo`.\n",
                ),
            ],
        )?;
        fs::set_permissions(w.join("build.sh"), fs::Permissions::from_mode(0o755))
            .map_err(|e| sample_error("build.sh", e))?;
        self.git(w, &["update-index", "--chmod=+x", "build.sh"])?;
        self.git(w, &["commit", "-q", "--amend", "--no-edit"])?;
        self.git(w, &["tag", "-a", "v1.0.0", "-m", "v1.0.0"])?;
        self.git(w, &["branch", "release-1.0"])?;

        self.git(w, &["checkout", "-q", "release-1.0"])?;
        self.commit(
            "Shorten the session timeout",
            &[("auth.conf", &auth("true", 15))],
        )?;
        self.git(w, &["tag", "-a", "v1.0.1", "-m", "v1.0.1"])?;

        self.git(w, &["checkout", "-q", "master"])?;
        self.commit("Add a greeting", &[("greeting.txt", "hello\n")])?;
        self.git(w, &["tag", "-a", "v1.1.0", "-m", "v1.1.0"])?;
        self.git(w, &["branch", "release-1.1"])?;
        self.git(w, &["checkout", "-q", "release-1.1"])?;
        self.commit("Prepare 1.1.1-rc.0", &[("CHANGELOG.md", "# 1.1.1-rc.0\n")])?;
        self.git(w, &["tag", "-a", "v1.1.1-rc.0", "-m", "v1.1.1-rc.0"])?;

        // The fix is developed privately, from master as it was.
        self.git(w, &["checkout", "-q", "-b", FIX_BRANCH, "master"])?;
        self.commit(
            "Deny anonymous access by default (CVE-2026-0001)",
            &[("auth.conf", &auth("false", 30))],
        )?;

        // Meanwhile master reworks the same setting: the fix needs a manual backport there.
        self.git(w, &["checkout", "-q", "master"])?;
        self.commit(
            "Rework authentication settings",
            &[(
                "auth.conf",
                "# authentication\nanonymous = on\n\n# sessions (minutes)\nsession_timeout = 30\n",
            )],
        )?;

        for bare in [&self.public, &self.private] {
            let b = bare.display().to_string();
            self.git(&self.root, &["init", "-q", "--bare", "-b", "master", &b])?;
        }
        let public = self.public.display().to_string();
        let private = self.private.display().to_string();
        self.git(w, &["remote", "add", "origin", &public])?;
        self.git(w, &["remote", "add", "security", &private])?;
        let public_refs = [
            "refs/heads/master",
            "refs/heads/release-1.0",
            "refs/heads/release-1.1",
            "refs/tags/*",
        ];
        let mut args = vec!["push", "-q", "origin"];
        args.extend(public_refs);
        self.git(w, &args)?;
        let mut args = vec!["push", "-q", "security"];
        args.extend(public_refs);
        let fix_ref = format!("refs/heads/{FIX_BRANCH}");
        args.push(&fix_ref);
        self.git(w, &args)?;
        // The release lead's clone knows the fix only through the private remote.
        self.git(w, &["branch", "-q", "-D", FIX_BRANCH])?;
        self.git(w, &["fetch", "-q", "origin"])?;
        self.git(
            w,
            &["branch", "-q", "--set-upstream-to=origin/master", "master"],
        )?;
        Ok(())
    }

    /// Adds line 1.0's own backport of the fix to the private repository,
    /// [`BACKPORT_BRANCH`]: started from v1.0.1, whose session timeout differs from master's.
    pub fn add_backport(&self) -> Result<(), Error> {
        let w = &self.work;
        self.git(w, &["checkout", "-q", "-b", BACKPORT_BRANCH, "v1.0.1"])?;
        self.commit(
            "Deny anonymous access by default (CVE-2026-0001, backport to 1.0)",
            &[("auth.conf", &auth("false", 15))],
        )?;
        self.git(w, &["checkout", "-q", "master"])?;
        let refspec = format!("refs/heads/{BACKPORT_BRANCH}");
        self.git(w, &["push", "-q", "security", &refspec])?;
        self.git(w, &["branch", "-q", "-D", BACKPORT_BRANCH])?;
        Ok(())
    }

    /// Adds a third release line: `release-1.2` from v1.1.0 with a commit of its own, tagged
    /// v1.2.0, on both remotes.
    pub fn add_line_1_2(&self) -> Result<(), Error> {
        let w = &self.work;
        self.git(w, &["checkout", "-q", "-b", "release-1.2", "v1.1.0"])?;
        self.commit("Add metrics", &[("metrics.txt", "requests\n")])?;
        self.git(w, &["tag", "-a", "v1.2.0", "-m", "v1.2.0"])?;
        self.git(w, &["checkout", "-q", "master"])?;
        for remote in ["origin", "security"] {
            self.git(
                w,
                &[
                    "push",
                    "-q",
                    remote,
                    "refs/heads/release-1.2",
                    "refs/tags/v1.2.0",
                ],
            )?;
        }
        self.git(w, &["branch", "-q", "-D", "release-1.2"])?;
        self.git(w, &["fetch", "-q", "origin"])?;
        Ok(())
    }

    /// Writes the demo pipeline into the clone (untracked) and returns its path.
    pub fn write_pipeline(&self, text: &str) -> Result<PathBuf, Error> {
        let path = self.work.join("pipelines").join("security-release.yaml");
        fs::create_dir_all(self.work.join("pipelines"))
            .map_err(|e| sample_error("pipelines", e))?;
        fs::write(&path, text).map_err(|e| sample_error("pipeline", e))?;
        Ok(path)
    }
}
