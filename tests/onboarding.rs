//! What a new user meets first: `embargo check` on a pipeline file alone, and the example
//! pipelines under `pipelines/`, checked and planned against repositories of their shape.

use crate::common;

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

/// An example pipeline of this project, as a release lead would copy it.
fn example(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pipelines")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("example pipeline");
    (path, text)
}

/// A project of the shape an example pipeline expects, with hermetic git (no user or system
/// configuration, fixed identities and times): master, a `release-X.Y` branch per line holding
/// its patch tags, public and private bare remotes holding them, and the fix on the private
/// remote only.
struct Project {
    _dir: tempfile::TempDir,
    work: PathBuf,
    env: Vec<(String, String)>,
}

/// The file the fix changes; no release commit touches it, so the fix applies on every line.
const AUTH: &str = "package auth\n\nfunc AllowAnonymous() bool { return true }\n";
const FIXED: &str = "package auth\n\nfunc AllowAnonymous() bool { return false }\n";

impl Project {
    /// `lines`: each line `MAJOR.MINOR` with its last patch number, oldest first; `tag` spells a
    /// version as the pipeline's `versioning.tag` does.
    fn new(tag: fn(&str) -> String, lines: &[(&str, u32)]) -> Project {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().canonicalize().expect("root");
        std::fs::write(root.join("gitconfig"), "").expect("gitconfig");
        let date = format!("@{} +0000", embargo::sample::EPOCH);
        let env: Vec<(String, String)> = [
            ("GIT_CONFIG_NOSYSTEM", "1"),
            (
                "GIT_CONFIG_GLOBAL",
                &root.join("gitconfig").display().to_string(),
            ),
            ("HOME", &root.display().to_string()),
            ("GIT_AUTHOR_NAME", "Fix Lead"),
            ("GIT_AUTHOR_EMAIL", "fix-lead@example.org"),
            ("GIT_AUTHOR_DATE", &date),
            ("GIT_COMMITTER_NAME", "Release Lead"),
            ("GIT_COMMITTER_EMAIL", "release-lead@example.org"),
            ("GIT_COMMITTER_DATE", &date),
            ("GIT_TERMINAL_PROMPT", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let project = Project {
            work: root.join("work"),
            env,
            _dir: dir,
        };
        let work = project.work.clone();
        project.git(
            &root,
            &["init", "-q", "-b", "master", work.to_str().unwrap()],
        );
        project.commit(
            "Initial commit",
            &[("auth/auth.go", AUTH), ("VERSION", "dev\n")],
        );
        for (line, last) in lines {
            let branch = format!("release-{line}");
            project.git(&work, &["checkout", "-q", "-b", &branch, "master"]);
            for patch in 0..=*last {
                let version = format!("{line}.{patch}");
                project.commit(&format!("Release {version}"), &[("VERSION", &version)]);
                let name = tag(&version);
                project.git(&work, &["tag", "-a", &name, "-m", &name]);
            }
            project.git(&work, &["checkout", "-q", "master"]);
            project.commit(
                &format!("Open development after {line}"),
                &[("CHANGELOG.md", &format!("after {line}\n"))],
            );
        }
        project.git(
            &work,
            &["checkout", "-q", "-b", "security/CVE-2026-0001", "master"],
        );
        project.commit(
            "Deny anonymous access by default (CVE-2026-0001)",
            &[("auth/auth.go", FIXED)],
        );
        project.git(&work, &["checkout", "-q", "master"]);

        for bare in ["public.git", "security.git"] {
            let path = root.join(bare);
            project.git(
                &root,
                &[
                    "init",
                    "-q",
                    "--bare",
                    "-b",
                    "master",
                    path.to_str().unwrap(),
                ],
            );
        }
        let public = root.join("public.git");
        let private = root.join("security.git");
        project.git(
            &work,
            &["remote", "add", "origin", public.to_str().unwrap()],
        );
        project.git(
            &work,
            &["remote", "add", "security", private.to_str().unwrap()],
        );
        let shared = ["refs/heads/master", "refs/heads/release-*", "refs/tags/*"];
        project.git(&work, &[&["push", "-q", "origin"][..], &shared].concat());
        project.git(
            &work,
            &[
                &["push", "-q", "security"][..],
                &shared,
                &["refs/heads/security/CVE-2026-0001"],
            ]
            .concat(),
        );
        // The release lead's clone knows the fix only through the private remote.
        project.git(&work, &["branch", "-q", "-D", "security/CVE-2026-0001"]);
        project.git(&work, &["fetch", "-q", "origin"]);
        project
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("running git");
        assert!(
            out.status.success(),
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn commit(&self, message: &str, files: &[(&str, &str)]) {
        for (path, text) in files {
            let full = self.work.join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("folder");
            std::fs::write(&full, text).expect("file");
        }
        self.git(&self.work, &["add", "-A"]);
        self.git(&self.work, &["commit", "-q", "-m", message]);
    }

    /// A branch at a tag's commit, on both remotes, as an earlier security release leaves its
    /// patch branch.
    fn branch_at_tag(&self, branch: &str, tag: &str) {
        let target = format!("{tag}^{{commit}}");
        self.git(&self.work, &["branch", branch, &target]);
        let refspec = format!("refs/heads/{branch}");
        for remote in ["origin", "security"] {
            self.git(&self.work, &["push", "-q", remote, &refspec]);
        }
    }

    /// The example copied into the clone's `pipelines/`, where the pipeline finds its clone.
    fn copy_example(&self, name: &str) -> PathBuf {
        let (_, text) = example(name);
        let dir = self.work.join("pipelines");
        std::fs::create_dir_all(&dir).expect("pipelines");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("pipeline");
        path
    }

    /// `embargo ARGS` from the project's parent folder (the current directory plays no part),
    /// with only the project's environment.
    fn embargo(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_embargo"))
            .args(args)
            .current_dir(self.work.parent().expect("root"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("running embargo");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn plan(&self, pipeline: &Path, extra: &[&str]) -> serde_json::Value {
        let args = [&["plan", pipeline.to_str().unwrap(), "--json"][..], extra].concat();
        let run = self.embargo(&args);
        run.expect(0);
        serde_json::from_str(&run.stdout).expect("plan JSON")
    }
}

/// Every example under `pipelines/` passes `embargo check` where it lies (no clone needed).
#[test]
fn every_example_pipeline_passes_check() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .expect("pipelines/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names, ["generic.yaml", "istio.yaml"]);
    let place = NoGit::new();
    for name in &names {
        let path = folder.join(name);
        let run = place.check(&["check", path.to_str().unwrap()]);
        run.expect(0);
        assert!(run.stdout.starts_with("ok: "), "{}", run.stdout);
    }
}

#[test]
fn the_generic_example_plans_the_next_patch_of_the_latest_line() {
    let (file, _) = example("generic.yaml");
    let pipeline = embargo::pipeline::load(&file, &Default::default()).expect("loads");
    assert_eq!(pipeline.tag.source(), "v{major}.{minor}.{patch}");

    let project = Project::new(|v| format!("v{v}"), &[("1.3", 1), ("1.4", 2)]);
    // A pre-release on master is never the latest patch release.
    project.git(
        &project.work,
        &["tag", "-a", "v1.5.0-rc.0", "-m", "v1.5.0-rc.0"],
    );
    project.git(
        &project.work,
        &["push", "-q", "origin", "refs/tags/v1.5.0-rc.0"],
    );
    let copy = project.copy_example("generic.yaml");

    let plan = project.plan(&copy, &[]);
    assert_eq!(plan["line"], "1.4");
    assert_eq!(plan["previous"]["tag"], "v1.4.2");
    assert_eq!(plan["version"], "1.4.3");
    assert_eq!(plan["tag"], "v1.4.3");
    assert_eq!(plan["patch_branch"], "v1.4.3");
    assert_eq!(
        plan["fix_commits"][0]["subject"],
        "Deny anonymous access by default (CVE-2026-0001)"
    );
    assert_eq!(plan["fix_commits"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        plan["targets"],
        serde_json::json!(["master", "release-1.3", "release-1.4"])
    );
    assert_eq!(plan["highest_release"], true);

    // An older line: the same pipeline, one flag.
    let plan = project.plan(&copy, &["--line", "1.3"]);
    assert_eq!(plan["tag"], "v1.3.2");
    assert_eq!(plan["highest_release"], false);
}

#[test]
fn the_istio_example_plans_release_branches_without_a_v() {
    let (file, _) = example("istio.yaml");
    let pipeline = embargo::pipeline::load(&file, &Default::default()).expect("loads");
    assert_eq!(pipeline.tag.source(), "{major}.{minor}.{patch}");
    assert_eq!(pipeline.branch.source(), "release-{version}");
    assert_eq!(
        pipeline.build.steps[0]
            .env
            .get("GOFLAGS")
            .map(String::as_str),
        Some("-trimpath")
    );
    // One shard per platform, each named in its archive.
    let shards: Vec<&str> = pipeline
        .build
        .matrix
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(shards, ["linux-amd64", "linux-arm64", "darwin-arm64"]);
    assert_eq!(
        pipeline.build.artifacts[0].source(),
        "dist/istioctl-{version}-{shard}.tar.gz"
    );
    let onto: Vec<&str> = pipeline
        .cherry_pick
        .as_ref()
        .map(|c| c.onto.iter().map(|g| g.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(onto, ["master", "release-*"]);

    let project = Project::new(|v| v.to_string(), &[("1.22", 4), ("1.23", 3), ("1.24", 2)]);
    // An earlier security release left its patch branch: it matches release-* but is no target.
    project.branch_at_tag("release-1.24.2", "1.24.2");
    let copy = project.copy_example("istio.yaml");

    let plan = project.plan(&copy, &[]);
    assert_eq!(plan["line"], "1.24");
    assert_eq!(plan["previous"]["tag"], "1.24.2");
    assert_eq!(plan["tag"], "1.24.3");
    assert_eq!(plan["patch_branch"], "release-1.24.3");
    assert_eq!(
        plan["targets"],
        serde_json::json!(["master", "release-1.23", "release-1.24"])
    );
    assert_eq!(plan["fix_commits"].as_array().map(Vec::len), Some(1));

    // The next supported line, as the pipeline's comment says.
    let plan = project.plan(&copy, &["--line", "1.23"]);
    assert_eq!(plan["previous"]["tag"], "1.23.3");
    assert_eq!(plan["patch_branch"], "release-1.23.4");
    assert_eq!(plan["highest_release"], false);

    // And the text a release lead reads names the same.
    let run = project.embargo(&["plan", copy.to_str().unwrap()]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("patch version    1.24.3 (tag 1.24.3, patch branch release-1.24.3)"),
        "{}",
        run.stdout
    );
}

/// The files that tell a user how to install embargo.
const INSTALL_DOCS: &[&str] = &[
    "README.md",
    ".github/workflows/security-release.example.yml",
];

/// crates.io's `embargo` is another program: every documented install names this package and
/// pins what it installs, and says how to check it.
#[test]
fn every_documented_install_names_this_package_and_pins_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let package = manifest
        .split("[package]")
        .nth(1)
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("name = ")))
        .map(|n| n.trim_matches('"').to_string())
        .expect("package name");
    assert_eq!(package, "embargo-release");
    assert_eq!(env!("CARGO_PKG_NAME"), package);
    let version = env!("CARGO_PKG_VERSION");

    for doc in INSTALL_DOCS {
        let text = std::fs::read_to_string(root.join(doc)).expect("doc");
        let installs: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("cargo install --locked"))
            .collect();
        assert!(!installs.is_empty(), "{doc} says nothing of installing");
        for line in installs {
            assert!(
                line.contains(&package),
                "{doc}: `{line}` names another package"
            );
            let pinned = line.contains(&format!("--version {version}"))
                || line.contains("--rev")
                || line.contains("--path");
            assert!(pinned, "{doc}: `{line}` does not pin what it installs");
        }
        // An unpinned install of the other program, however it is spelt.
        for bad in ["cargo install embargo", "cargo install --locked embargo\n"] {
            assert!(!text.contains(bad), "{doc} still says `{bad}`");
        }
        assert!(
            text.contains(&format!(
                "cargo install --list | grep -A1 '^{package} v{version}:'"
            )),
            "{doc} does not say how to check the installed package"
        );
        assert!(text.contains("embargo --version"), "{doc}");
    }

    // What the check reads: the program's name and this version.
    let out = Command::new(env!("CARGO_BIN_EXE_embargo"))
        .arg("--version")
        .output()
        .expect("embargo --version");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("embargo {version}")
    );
}

/// The example workflow is what users copy first: it must be meant for the private repository,
/// carry the state folder in a way upload-artifact keeps, fit GitHub-hosted runners' 6 hours,
/// never let a cron run cancel a pending release job, and hold least privilege with pinned
/// actions.
#[test]
fn the_example_workflow_is_private_pinned_and_least_privileged() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".github/workflows/security-release.example.yml");
    let text = std::fs::read_to_string(&path).expect("workflow");
    let workflow: serde_json::Value = serde_saphyr::from_str(&text).expect("workflow YAML");

    let opening: String = text.lines().take(8).collect::<Vec<_>>().join("\n");
    assert!(
        opening.contains("PRIVATE SECURITY REPOSITORY"),
        "the top must say where the workflow belongs:\n{opening}"
    );
    assert_eq!(workflow["permissions"], serde_json::json!({}));

    let jobs = workflow["jobs"].as_object().expect("jobs");
    assert_eq!(
        jobs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["fallback", "publish", "stage"]
    );
    let mut groups = std::collections::BTreeSet::new();
    for (name, job) in jobs {
        let minutes = job["timeout-minutes"].as_u64().unwrap_or(360);
        assert!(minutes < 360, "{name}: timeout-minutes {minutes}");
        assert!(
            job["permissions"].is_object(),
            "{name}: no permissions of its own"
        );
        assert_eq!(job["concurrency"]["cancel-in-progress"], false, "{name}");
        let group = job["concurrency"]["group"].as_str().expect("group");
        assert!(groups.insert(group.to_string()), "{name} shares {group}");

        for step in job["steps"].as_array().expect("steps") {
            if let Some(uses) = step["uses"].as_str() {
                let sha = uses.split_once('@').map(|(_, r)| r).unwrap_or("");
                assert!(
                    sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{name}: `{uses}` is not pinned by commit"
                );
                assert_ne!(
                    step["with"]["persist-credentials"].as_bool(),
                    Some(true),
                    "{name}"
                );
                if uses.starts_with("actions/checkout@") {
                    assert_eq!(step["with"]["persist-credentials"], false, "{name}");
                }
                if uses.starts_with("actions/upload-artifact@") {
                    let path = step["with"]["path"].as_str().unwrap_or("");
                    assert!(
                        !path.split('/').any(|p| p.starts_with('.')),
                        "{name}: upload-artifact skips hidden paths like `{path}`"
                    );
                }
            }
            let run = step["run"].as_str().unwrap_or("");
            // No secret in a remote URL: credentials reach git only through extraheader.
            assert!(!run.contains("@github.com"), "{name}: {run}");
            if run.contains("embargo run") || run.contains("embargo publish") {
                assert!(
                    run.contains(".extraheader"),
                    "{name}: git gets no credentials"
                );
            }
        }
    }
    let stage = text.find("embargo run ").expect("stage");
    assert!(text[stage..].contains("tar -C .git -czf"));
    assert!(text.contains("embargo publish \"$EMBARGO_PIPELINE\" --wait"));
    assert!(text.contains("embargo publish \"$EMBARGO_PIPELINE\" --if-due --within 10m"));
    // Each pinned action says its version, for the reader and for updates.
    for line in text.lines().filter(|l| l.contains("uses: ")) {
        assert!(line.contains(" # v"), "`{line}` does not say its version");
    }
}
