//! `embargo init` on repositories of the two shapes the example pipelines stand for: a small
//! project (v-tags, release-X.Y branches, a private remote) and one shaped like Istio's (tags
//! without a `v`, release-X.Y and release-X.Y.Z branches on the remote, no private remote yet).

use crate::common;

use std::path::Path;
use std::process::Command;

use common::Run;

fn embargo_in(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_embargo"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("running embargo");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A repository with one commit, `tags` on it, `local` branches, `remote_branches` under
/// `refs/remotes/origin/`, and `remotes` (name, URL).
fn repository(
    dir: &Path,
    tags: &[&str],
    local: &[&str],
    remote_branches: &[&str],
    remotes: &[(&str, &str)],
) -> git2::Repository {
    let repo = git2::Repository::init(dir).expect("init");
    let sig = git2::Signature::new(
        "Test",
        "test@example.org",
        &git2::Time::new(1_700_000_000, 0),
    )
    .expect("signature");
    let tree = {
        let mut index = repo.index().expect("index");
        index.write_tree().expect("tree")
    };
    let tree = repo.find_tree(tree).expect("tree");
    let commit = repo
        .commit(Some("refs/heads/master"), &sig, &sig, "start", &tree, &[])
        .expect("commit");
    let commit = repo.find_commit(commit).expect("commit");
    for tag in tags {
        repo.tag_lightweight(tag, commit.as_object(), false)
            .expect("tag");
    }
    for branch in local {
        repo.branch(branch, &commit, false).expect("branch");
    }
    for (name, url) in remotes {
        repo.remote(name, url).expect("remote");
    }
    for branch in remote_branches {
        repo.reference(
            &format!("refs/remotes/origin/{branch}"),
            commit.id(),
            false,
            "test",
        )
        .expect("remote branch");
    }
    drop(tree);
    drop(commit);
    repo
}

#[test]
fn init_writes_a_v_tag_pipeline_for_a_small_project_that_check_accepts() {
    let dir = tempfile::tempdir().expect("temporary folder");
    repository(
        dir.path(),
        &["v1.0.0", "v1.1.0", "v1.1.1", "v1.2.0-rc.0", "not-a-release"],
        &["release-1.0", "release-1.1"],
        &[],
        &[
            ("origin", "https://github.com/Acme/App.git"),
            ("security", "https://github.com/acme/app-security.git"),
        ],
    );
    let run = embargo_in(dir.path(), &["init"]);
    run.expect(0);
    let file = dir.path().join("pipelines/security-release.yaml");
    let text = std::fs::read_to_string(&file).expect("pipeline");
    assert!(text.contains("tag: \"v{major}.{minor}.{patch}\""), "{text}");
    assert!(text.contains("branch: \"{tag}\""), "{text}");
    assert!(text.contains("private: security "), "{text}");
    assert!(text.contains("public: origin "), "{text}");
    assert!(text.contains("onto: [master, \"release-*\"]"), "{text}");
    assert!(text.contains("repository: acme/app "), "{text}");
    assert!(text.contains("3 release tag(s)"), "{text}");

    let check = embargo_in(dir.path(), &["check", "pipelines/security-release.yaml"]);
    check.expect(0);

    // Never over a file that is there, not even an identical one.
    std::fs::write(&file, "version: 1 # mine\n").expect("edit");
    let again = embargo_in(dir.path(), &["init"]);
    again.expect(2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(&file).expect("file"),
        "version: 1 # mine\n"
    );
    embargo_in(dir.path(), &["init", "--force"]).expect(0);
    assert_eq!(std::fs::read_to_string(&file).expect("file"), text);
}

#[test]
fn init_follows_an_istio_shaped_repository_from_a_subfolder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    repository(
        dir.path(),
        &["1.23.0", "1.23.4", "1.24.0", "1.24.2", "v0.1.0"],
        &[],
        &["master", "release-1.23", "release-1.24", "release-1.24.2"],
        &[("origin", "https://gitlab.example.org/mesh/mesh.git")],
    );
    let sub = dir.path().join("tools");
    std::fs::create_dir(&sub).expect("subfolder");
    let run = embargo_in(&sub, &["init", "--output", "security.yaml"]);
    run.expect(0);
    assert!(
        run.stdout.contains("git remote add security"),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(sub.join("security.yaml")).expect("pipeline");
    assert!(text.contains("tag: \"{major}.{minor}.{patch}\""), "{text}");
    assert!(text.contains("branch: \"release-{version}\""), "{text}");
    assert!(text.contains("skip: [\"release-*.*.*\"]"), "{text}");
    assert!(text.contains("private: security "), "{text}");
    // Not on github.com: the GitHub release is left to the lead, commented out.
    assert!(text.contains("# publish:"), "{text}");
    embargo_in(&sub, &["check", "security.yaml"]).expect(0);
}

#[test]
fn init_outside_a_repository_is_refused() {
    let dir = tempfile::tempdir().expect("temporary folder");
    assert!(
        git2::Repository::discover(dir.path()).is_err(),
        "the temporary folder must not be inside a git repository"
    );
    let run = embargo_in(dir.path(), &["init"]);
    run.expect(2);
    assert!(
        run.stderr.contains("not inside a git repository"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("pipelines").exists());
}
