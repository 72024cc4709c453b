//! What a new user meets first: `embargo check` on a pipeline file alone, and the example
//! pipelines under `pipelines/`, checked and planned against repositories of their shape.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, position, replace_once};
use embargo::sample::PIPELINE;

/// Runs `embargo ARGS` in `cwd` with nothing of this machine's environment but `PATH`.
fn embargo_in(cwd: &Path, path: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_embargo"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", path)
        .output()
        .expect("running embargo");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A folder that is not inside any git repository, with a `bin/` holding a `git` that only
/// leaves a mark that it ran: with `PATH` set to that `bin/` alone, no real git can run, and
/// any attempt shows.
struct NoGit {
    dir: tempfile::TempDir,
}

impl NoGit {
    fn new() -> NoGit {
        let dir = tempfile::tempdir().expect("temporary folder");
        assert!(
            git2::Repository::discover(dir.path()).is_err(),
            "the temporary folder must not be inside a git repository"
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let git = bin.join("git");
        let mark = dir.path().join("git-ran");
        std::fs::write(
            &git,
            format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 1\n", mark.display()),
        )
        .expect("fake git");
        std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        NoGit { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("pipeline");
        path
    }

    fn check(&self, args: &[&str]) -> Run {
        let bin = self.dir.path().join("bin");
        let run = embargo_in(self.dir.path(), &bin.display().to_string(), args);
        let mark = self.dir.path().join("git-ran");
        assert!(
            !mark.exists(),
            "embargo check ran git: {}",
            std::fs::read_to_string(&mark).unwrap_or_default()
        );
        run
    }
}

#[test]
fn check_accepts_a_valid_pipeline_outside_any_repository_without_git() {
    let place = NoGit::new();
    place.write("security-release.yaml", PIPELINE);

    // A relative path, from a folder that is not a clone, with no git on PATH.
    let run = place.check(&["check", "security-release.yaml"]);
    run.expect(0);
    assert_eq!(
        run.stdout.trim(),
        "ok: security-release.yaml: security-release, line 1.0, targets master, release-* \
         (skip release-0.*), 2 checks, embargo 2036-12-01 16:00:00 UTC"
    );
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);

    // The same from elsewhere, by absolute path, as JSON.
    let file = place.path().join("security-release.yaml");
    let run = embargo_in(
        Path::new("/"),
        &place.path().join("bin").display().to_string(),
        &["check", file.to_str().unwrap(), "--json"],
    );
    run.expect(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(value["outcome"], "ok");
    assert_eq!(value["name"], "security-release");
    assert_eq!(value["line"], "1.0");
    assert_eq!(value["targets"], serde_json::json!(["master", "release-*"]));
    assert_eq!(value["skip"], serde_json::json!(["release-0.*"]));
    assert_eq!(value["checks"], 2);
    assert_eq!(value["embargo"], "2036-12-01T16:00:00Z");
    assert!(!place.path().join("git-ran").exists());
}

#[test]
fn check_refuses_a_broken_pipeline_with_its_file_line_and_column() {
    let place = NoGit::new();
    // A misspelt key: the reader names the key and where it stands.
    let text = replace_once(PIPELINE, &[("  artifacts: [", "  artifact: [")]);
    place.write("broken.yaml", &text);
    let (line, column) = position(&text, "artifact: [");

    let run = place.check(&["check", "broken.yaml"]);
    run.expect(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let place_of = format!("broken.yaml:{line}:{column}:");
    assert!(run.stderr.contains(&place_of), "{}", run.stderr);
    assert!(run.stderr.contains("artifact"), "{}", run.stderr);

    let run = place.check(&["check", "broken.yaml", "--json"]);
    run.expect(2);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(value["error"]["exit_code"], 2);
    let message = value["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&place_of), "{message}");

    // A value that is wrong, not only a key: the place of the value.
    let text = replace_once(PIPELINE, &[("line: \"1.0\"", "line: \"1.x\"")]);
    place.write("bad-line.yaml", &text);
    let (line, column) = position(&text, "\"1.x\"");
    let run = place.check(&["check", "bad-line.yaml"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains(&format!("bad-line.yaml:{line}:{column}: versioning.line")),
        "{}",
        run.stderr
    );

    // A file that is not there is bad input too, named.
    let run = place.check(&["check", "missing.yaml"]);
    run.expect(2);
    assert!(run.stderr.contains("missing.yaml"), "{}", run.stderr);
}

#[test]
fn check_takes_the_overrides_run_takes() {
    let place = NoGit::new();
    // A pipeline that leaves the fix to the command line is refused alone, accepted with --fix.
    let text = replace_once(
        PIPELINE,
        &[(
            "fix:\n  branch: security/CVE-2026-0001\n  base: master\n",
            "",
        )],
    );
    place.write("no-fix.yaml", &text);
    let run = place.check(&["check", "no-fix.yaml"]);
    run.expect(2);
    assert!(run.stderr.contains("--fix BRANCH"), "{}", run.stderr);
    let run = place.check(&[
        "check",
        "no-fix.yaml",
        "--fix",
        "security/CVE-2026-0002",
        "--line",
        "latest",
    ]);
    run.expect(0);
    assert!(run.stdout.contains(", line latest,"), "{}", run.stdout);
    let run = place.check(&[
        "check",
        "no-fix.yaml",
        "--fix",
        "security/CVE-2026-0002",
        "--embargo",
        "tomorrow",
    ]);
    run.expect(2);
    assert!(run.stderr.contains("--embargo"), "{}", run.stderr);
}
