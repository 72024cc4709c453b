//! The test harness: a sample project (temporary repositories, bare remotes, hermetic git config,
//! fixed author and time) and the real `embargo` binary run against it.

#![allow(dead_code)]

pub mod pin;

use std::path::{Path, PathBuf};
use std::process::Command;

use embargo::sample::{PIPELINE, SampleProject};

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub sample: SampleProject,
}

/// What a run of the binary printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary folder");
        let sample = SampleProject::create(dir.path()).expect("sample project");
        Fixture { _dir: dir, sample }
    }

    pub fn work(&self) -> &Path {
        &self.sample.work
    }

    /// Writes a pipeline into the clone's `pipelines/` and returns its path.
    pub fn pipeline_named(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.sample.work.join("pipelines");
        std::fs::create_dir_all(&dir).expect("pipelines folder");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("pipeline file");
        path
    }

    pub fn pipeline(&self, text: &str) -> PathBuf {
        self.pipeline_named("security-release.yaml", text)
    }

    /// The sample's own pipeline without its `publish` section (no GitHub), with `replace`
    /// pairs applied to its text.
    pub fn default_pipeline_with(&self, replace: &[(&str, &str)]) -> PathBuf {
        let mut text = without_publish(PIPELINE);
        for (from, to) in replace {
            assert!(text.contains(from), "the sample pipeline has no `{from}`");
            text = text.replace(from, to);
        }
        self.pipeline(&text)
    }

    pub fn default_pipeline(&self) -> PathBuf {
        self.pipeline(&without_publish(PIPELINE))
    }

    /// The sample's pipeline exactly as the demo runs it, `publish.github` included.
    pub fn sample_pipeline(&self) -> PathBuf {
        self.pipeline(PIPELINE)
    }

    /// Runs `embargo ARGS` in the clone with only the sample's environment.
    pub fn embargo(&self, args: &[&str]) -> Run {
        self.embargo_env(args, &[])
    }

    pub fn embargo_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_embargo"))
            .args(args)
            .current_dir(&self.sample.work)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.sample.env.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().copied())
            .output()
            .expect("running embargo");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// git in the clone (or `dir`), with the sample's environment; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        self.sample.git(&self.sample.work, args).expect("git")
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        self.sample.git(dir, args).expect("git")
    }

    /// git that is expected to fail: returns its error text.
    pub fn git_fails(&self, args: &[&str]) -> String {
        match self.sample.git(&self.sample.work, args) {
            Ok(out) => panic!("git {} succeeded: {out}", args.join(" ")),
            Err(e) => e.message,
        }
    }

    pub fn state_dir(&self, tag: &str) -> PathBuf {
        self.sample
            .work
            .join(".git/embargo/security-release")
            .join(tag)
    }
}

/// Copies a folder and everything in it (as a CI job restores a downloaded artifact).
/// A `git` first on PATH, made in `dir`: the shell script `body`, which finds the real git in
/// `$real`. Returns the PATH to run a command with.
pub fn wrap_git(dir: &Path, body: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let wrapper = dir.join("git");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nreal={}\n{body}\n", real.trim()),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` (contents, mode, symlink targets), for proving a folder unchanged.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let rel = path.strip_prefix(dir).expect("prefix").to_path_buf();
            if meta.file_type().is_symlink() {
                out.insert(rel, format!("link {:?}", std::fs::read_link(&path).ok()));
            } else if meta.is_dir() {
                out.insert(rel, format!("dir {:o}", meta.permissions().mode()));
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                out.insert(
                    rel,
                    format!(
                        "file {:o} {} {}",
                        meta.permissions().mode(),
                        bytes.len(),
                        embargo::checksum::sha256_file(&path).expect("hash").sha256
                    ),
                );
            }
        }
    }
    out
}

/// The pipeline text up to its `publish:` section.
pub fn without_publish(text: &str) -> String {
    match text.find("\npublish:") {
        Some(i) => text[..i + 1].to_string(),
        None => text.to_string(),
    }
}

/// `text` with each `from` (which must occur exactly once) replaced by its `to`.
pub fn replace_once(text: &str, replace: &[(&str, &str)]) -> String {
    let mut text = text.to_string();
    for (from, to) in replace {
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` must occur exactly once in the pipeline"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

/// The 1-based (line, column) where `needle` starts in `text`, the column in characters as the
/// pipeline reader counts them; `needle` must occur exactly once.
pub fn position(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "`{needle}` must occur exactly once in\n{text}"
    );
    let before = &text[..text.find(needle).unwrap_or(0)];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map(|i| i + 1).unwrap_or(0)..]
        .chars()
        .count()
        + 1;
    (line, column)
}

/// A security advisory for the sample project, with its CVE already assigned.
pub const ADVISORY: &str = r#"version: 1
summary: "Anonymous access with an expired token"
description: |
  The proxy accepts an expired token as anonymous access.
severity:
  cvss_v3: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
cwe: [CWE-287]
package: {ecosystem: Go, name: example.org/app}
ghsa_id: null
cve_id: CVE-2026-0001
received: "2026-11-02"
credits: [{name: Jane Doe, type: finder}]
mitigations: |
  Deny anonymous access at the proxy until you upgrade.
references: ["https://example.org/security"]
people:
  fix_lead: alice
  release_lead: bob
  disclosure_lead: carol
  security_team: [alice, bob, carol]
"#;
