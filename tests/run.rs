//! `embargo run` end to end on the sample project: prepare, build, verify, freeze, resume and
//! the integrity checks.

use crate::common;

use common::Fixture;

#[test]
fn run_cuts_builds_verifies_and_freezes_the_patch_release() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(0);
    assert!(
        run.stdout.contains("release v1.0.2 frozen"),
        "{}",
        run.stdout
    );

    // The patch branch is v1.0.1 plus exactly the fix commit.
    let fix = f.git_in(&f.sample.private, &["rev-parse", "security/CVE-2026-0001"]);
    let log = f.git(&["log", "--format=%s", "v1.0.1..v1.0.2"]);
    assert_eq!(log, "Deny anonymous access by default (CVE-2026-0001)");
    let message = f.git(&["log", "-1", "--format=%B", "v1.0.2"]);
    assert!(
        message.contains(&format!("(cherry picked from commit {fix})")),
        "{message}"
    );
    assert_eq!(
        f.git(&["rev-parse", "v1.0.2^"]),
        f.git(&["rev-parse", "v1.0.1^{commit}"])
    );
    // The fix's author is kept.
    assert_eq!(f.git(&["log", "-1", "--format=%an", "v1.0.2"]), "Fix Lead");
    // The tag is annotated and names the release commit.
    assert_eq!(f.git(&["cat-file", "-t", "refs/tags/v1.0.2"]), "tag");
    assert_eq!(
        f.git(&["rev-parse", "refs/tags/v1.0.2^{commit}"]),
        f.git(&["rev-parse", "refs/heads/v1.0.2"])
    );

    // The manifest records the release commit, tree and checksums.
    let state = f.state_dir("v1.0.2");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["release_commit"],
        f.git(&["rev-parse", "refs/heads/v1.0.2"])
    );
    assert_eq!(manifest["tree"], f.git(&["rev-parse", "v1.0.2^{tree}"]));
    assert_eq!(
        manifest["tag_object"],
        f.git(&["rev-parse", "refs/tags/v1.0.2"])
    );
    assert_eq!(manifest["artifacts"][0]["name"], "app-linux-amd64.tar.gz");

    // Checksums verify with the real sha256sum.
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(state.join("dist"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("app-linux-amd64.tar.gz: OK"));

    // The user's working tree and branch were not touched.
    assert_eq!(f.git(&["symbolic-ref", "HEAD"]), "refs/heads/master");
    assert_eq!(
        f.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    // Nothing reached the public remote: no ref, and none of the fix's objects.
    let refs = f.git_in(&f.sample.public, &["for-each-ref", "--format=%(refname)"]);
    assert!(!refs.contains("v1.0.2"), "{refs}");
    let release = f.git(&["rev-parse", "refs/heads/v1.0.2"]);
    for object in [&fix, &release] {
        assert!(
            f.sample
                .git(&f.sample.public, &["cat-file", "-e", object])
                .is_err(),
            "{object} reached the public remote"
        );
    }
    // The private remote holds exactly what was staged.
    assert_eq!(
        f.git_in(&f.sample.private, &["rev-parse", "refs/heads/v1.0.2"]),
        release
    );
    assert_eq!(
        f.git_in(&f.sample.private, &["rev-parse", "refs/tags/v1.0.2"]),
        f.git(&["rev-parse", "refs/tags/v1.0.2"])
    );
    let picks = f.git_in(
        &f.sample.private,
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads/cherry-pick",
        ],
    );
    assert_eq!(
        picks,
        "refs/heads/cherry-pick/v1.0.2/release-1.0\nrefs/heads/cherry-pick/v1.0.2/release-1.1"
    );
    assert!(
        run.stdout
            .contains("master         needs a manual backport"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_freeze_hook_refuses_amend_force_tag_and_delete() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    let commit = f.git(&["rev-parse", "refs/heads/v1.0.2"]);
    let tag = f.git(&["rev-parse", "refs/tags/v1.0.2"]);

    f.git(&["checkout", "-q", "v1.0.2"]);
    let amend = f.git_fails(&["commit", "--amend", "-m", "Fix a typo in the CHANGELOG"]);
    assert!(
        amend.contains("refs/heads/v1.0.2 is frozen since"),
        "{amend}"
    );
    assert!(amend.contains("security release v1.0.2"), "{amend}");
    f.git(&["checkout", "-q", "master"]);
    let force_tag = f.git_fails(&["tag", "-f", "v1.0.2", "master"]);
    assert!(
        force_tag.contains("refs/tags/v1.0.2 is frozen"),
        "{force_tag}"
    );
    f.git_fails(&["branch", "-D", "v1.0.2"]);
    f.git_fails(&["update-ref", "refs/heads/v1.0.2", "master"]);

    assert_eq!(f.git(&["rev-parse", "refs/heads/v1.0.2"]), commit);
    assert_eq!(f.git(&["rev-parse", "refs/tags/v1.0.2"]), tag);
    // Other refs still move freely, and packing refs does not trip the hook.
    f.git(&["branch", "scratch", "master"]);
    f.git(&["branch", "-D", "scratch"]);
    f.git(&["pack-refs", "--all"]);
    assert_eq!(f.git(&["rev-parse", "refs/heads/v1.0.2"]), commit);
    // Once packed, the frozen refs still refuse to move or go.
    f.git_fails(&["branch", "-D", "v1.0.2"]);
    f.git_fails(&["tag", "-d", "v1.0.2"]);
    f.git_fails(&["tag", "-f", "v1.0.2", "master"]);
    assert_eq!(f.git(&["rev-parse", "refs/tags/v1.0.2"]), tag);
}

#[test]
fn a_rerun_resumes_at_the_failed_stage_without_redoing_the_others() {
    let f = Fixture::new();
    let broken = f.default_pipeline_with(&[("run: ./build.sh", "run: ./build.sh && exit 7")]);
    let run = f.embargo(&["run", broken.to_str().unwrap()]);
    run.expect(1);
    assert!(
        run.stderr.contains("`binaries` exited with status 7"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("built dist/app-linux-amd64.tar.gz"),
        "the last lines are shown: {}",
        run.stderr
    );
    let release_commit = f.git(&["rev-parse", "refs/heads/v1.0.2"]);

    // The step is fixed; the rerun keeps the prepared release commit and builds again.
    let fixed = f.default_pipeline();
    let run = f.embargo(&["run", fixed.to_str().unwrap()]);
    run.expect(0);
    assert!(
        run.stderr.contains("prepare: done in an earlier run"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("==> build"), "{}", run.stderr);
    assert_eq!(f.git(&["rev-parse", "refs/heads/v1.0.2"]), release_commit);

    let journal = std::fs::read_to_string(f.state_dir("v1.0.2").join("journal.jsonl")).unwrap();
    let prepares = journal
        .lines()
        .filter(|l| l.contains("\"stage\":\"prepare\"") && l.contains("\"completed\""))
        .count();
    let builds = journal
        .lines()
        .filter(|l| l.contains("\"stage\":\"build\"") && l.contains("\"failed\""))
        .count();
    assert_eq!((prepares, builds), (1, 1), "{journal}");

    // A third run does nothing but prove everything unchanged.
    let run = f.embargo(&["run", fixed.to_str().unwrap()]);
    run.expect(0);
    for stage in ["prepare", "build", "verify", "freeze"] {
        assert!(
            run.stderr
                .contains(&format!("{stage}: done in an earlier run")),
            "{}",
            run.stderr
        );
    }

    let status = f.embargo(&["status", fixed.to_str().unwrap()]);
    status.expect(0);
    assert!(status.stdout.contains("v1.0.2"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("freeze") && l.contains("completed")),
        "{}",
        status.stdout
    );
}

#[test]
fn a_tag_moved_on_the_private_remote_is_an_integrity_violation() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    // Someone pushes a different v1.0.2 tag to the private remote behind the runner's back.
    f.git_in(&f.sample.private, &["tag", "-f", "v1.0.2", "master"]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(3);
    assert!(
        run.stderr
            .contains("refs/tags/v1.0.2 on the private remote"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&f.git(&["rev-parse", "refs/tags/v1.0.2"])),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&f.git_in(&f.sample.private, &["rev-parse", "master"])),
        "{}",
        run.stderr
    );
}

#[test]
fn a_changed_artifact_after_the_freeze_is_an_integrity_violation() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    let artifact = f.state_dir("v1.0.2").join("dist/app-linux-amd64.tar.gz");
    std::fs::write(&artifact, b"not what was built").unwrap();
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(3);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);
}

#[test]
fn a_patch_branch_moved_with_hooks_bypassed_is_an_integrity_violation() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    let frozen = f.git(&["rev-parse", "refs/heads/v1.0.2"]);
    f.git(&[
        "-c",
        "core.hooksPath=/dev/null",
        "update-ref",
        "refs/heads/v1.0.2",
        "master",
    ]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(3);
    assert!(run.stderr.contains(&frozen), "{}", run.stderr);
    assert!(
        run.stderr.contains(&f.git(&["rev-parse", "master"])),
        "{}",
        run.stderr
    );
}

#[test]
fn a_conflicting_fix_stops_prepare_with_the_paths_and_the_commit() {
    let f = Fixture::new();
    // A new patch release of line 1.0 changes the very line the fix changes.
    f.git(&["checkout", "-q", "release-1.0"]);
    f.sample
        .commit(
            "Rename the setting",
            &[("auth.conf", "# authentication\nallow_anonymous = yes\n\n# sessions (minutes)\nsession_timeout = 15\n")],
        )
        .unwrap();
    f.git(&["tag", "-a", "v1.0.2", "-m", "v1.0.2"]);
    f.git(&["push", "-q", "origin", "release-1.0", "refs/tags/v1.0.2"]);
    f.git(&["checkout", "-q", "master"]);
    let pipeline = f.default_pipeline();
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(1);
    assert!(
        run.stderr.contains("conflicts with v1.0.2 in: auth.conf"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Deny anonymous access by default"),
        "{}",
        run.stderr
    );
    assert!(
        f.git(&["branch", "--list", "v1.0.3"]).is_empty(),
        "no branch is left behind"
    );
}

#[test]
fn plan_prints_the_release_and_changes_nothing() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let refs_before = f.git(&["for-each-ref"]);
    let fetch_head = f.work().join(".git/FETCH_HEAD");
    let fetch_head_before = std::fs::read(&fetch_head).ok();

    let run = f.embargo(&[
        "plan",
        pipeline.to_str().unwrap(),
        "--line",
        "1.0",
        "--fix",
        "security/CVE-2026-0001",
    ]);
    run.expect(0);
    for want in [
        "latest release   v1.0.1",
        "patch version    1.0.2",
        "Deny anonymous access by default",
        "2036-12-01 16:00:00 UTC",
        "freeze",
    ] {
        assert!(
            run.stdout.contains(want),
            "missing `{want}` in\n{}",
            run.stdout
        );
    }
    let json = f.embargo(&["plan", pipeline.to_str().unwrap(), "--json"]);
    json.expect(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["previous"]["tag"], "v1.0.1");
    assert_eq!(value["tag"], "v1.0.2");
    assert_eq!(value["fix_commits"].as_array().unwrap().len(), 1);
    assert_eq!(value["embargo"], "2036-12-01T16:00:00Z");

    assert_eq!(f.git(&["for-each-ref"]), refs_before);
    assert_eq!(std::fs::read(&fetch_head).ok(), fetch_head_before);
    assert!(!f.work().join(".git/embargo").exists());
}

#[test]
fn the_latest_patch_release_is_chosen_by_semver_among_final_tags() {
    let f = Fixture::new();
    // 1.0.10 is above 1.0.9 (and above 1.0.1); an rc of a higher patch does not count.
    f.git(&["checkout", "-q", "release-1.0"]);
    for tag in ["v1.0.9", "v1.0.10", "v1.0.11-rc.0"] {
        f.sample
            .commit(&format!("Release {tag}"), &[("VERSION", tag)])
            .unwrap();
        f.git(&["tag", "-a", tag, "-m", tag]);
    }
    f.git(&["push", "-q", "origin", "release-1.0", "--tags"]);
    f.git(&["checkout", "-q", "master"]);
    let pipeline = f.default_pipeline();
    let json = f.embargo(&["plan", pipeline.to_str().unwrap(), "--json"]);
    json.expect(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["previous"]["tag"], "v1.0.10");
    assert_eq!(value["tag"], "v1.0.11");
    // `latest` picks the highest line with a final release: 1.1 (1.1.1-rc.0 does not count).
    let json = f.embargo(&[
        "plan",
        pipeline.to_str().unwrap(),
        "--json",
        "--line",
        "latest",
    ]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["previous"]["tag"], "v1.1.0");
    assert_eq!(value["tag"], "v1.1.1");
}

#[test]
fn build_runs_in_a_clean_checkout_not_the_working_tree() {
    let f = Fixture::new();
    // A dirty working tree must not leak into the release.
    std::fs::write(f.work().join("app.sh"), "#!/bin/sh\necho compromised\n").unwrap();
    // The checkout is removed after the build: the step keeps what it saw, outside the clone.
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh",
        "run: cp -p app.sh build.sh \"$HOME/\" && ./build.sh",
    )]);
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    let text = std::fs::read_to_string(f.sample.root.join("app.sh")).unwrap();
    assert!(!text.contains("compromised"));
    assert!(
        std::fs::metadata(f.sample.root.join("build.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o111
            != 0
    );
}

use std::os::unix::fs::PermissionsExt;

#[test]
fn an_existing_reference_transaction_hook_is_kept_and_still_runs() {
    let f = Fixture::new();
    let hooks = f.work().join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let log = f.sample.root.join("user-hook.log");
    let hook = hooks.join("reference-transaction");
    std::fs::write(&hook, format!("#!/bin/sh\ncat >> '{}'\n", log.display())).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();

    let pipeline = f.default_pipeline();
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    assert!(hooks.join("reference-transaction.before-embargo").exists());
    let before = std::fs::read_to_string(&log).unwrap_or_default();
    f.git(&["branch", "after-freeze", "master"]);
    let after = std::fs::read_to_string(&log).unwrap();
    assert!(
        after.len() > before.len() && after.contains("refs/heads/after-freeze"),
        "{after}"
    );
    // And the freeze still holds.
    f.git_fails(&["tag", "-f", "v1.0.2", "master"]);
}

#[test]
fn demo_runs_the_whole_flow_and_shows_the_freeze() {
    let f = Fixture::new();
    let run = f.embargo(&["demo"]);
    run.expect(0);
    for want in [
        "latest release   v1.0.1",
        "old tag          v1.0.1",
        "new tag          v1.0.2",
        "release commit",
        "app-linux-amd64.tar.gz",
        "checks passed    version, fix-included",
        "was refused by the hook",
        "what comes next:",
        "head=cherry-pick/v1.0.2/release-1.1 base=release-1.1",
        "make_latest=false",
        "master gets no pull request: it needs a manual backport",
        // A release of two lines, line 1.0 from its own backport, staged in one push.
        "2 lines at one instant",
        "line 1.0         v1.0.1",
        "(CVE-2026-0001, backport to 1.0)",
        "release of 2 lines (v1.1.1, v1.0.2): frozen and staged privately",
        "staged           6 ref(s) of every line on the private remote in one atomic push",
        "releases/<id of the draft v1.1.1>  draft=false make_latest=true",
    ] {
        assert!(
            run.stdout.contains(want),
            "missing `{want}` in\n{}",
            run.stdout
        );
    }
    // The newest line's release is published last.
    let two = &run.stdout[run.stdout.find("2 lines at one instant").unwrap()..];
    assert!(
        two.find("draft v1.0.2>").unwrap() < two.find("draft v1.1.1>").unwrap(),
        "{two}"
    );
}

#[test]
fn run_json_reports_the_frozen_release() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let run = f.embargo(&["run", pipeline.to_str().unwrap(), "--json"]);
    run.expect(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["tag"], "v1.0.2");
    assert_eq!(value["previous_tag"], "v1.0.1");
    assert_eq!(
        value["release_commit"],
        f.git(&["rev-parse", "refs/heads/v1.0.2"])
    );
    assert_eq!(
        value["checks_passed"],
        serde_json::json!(["version", "fix-included"])
    );
    let status = f.embargo(&["status", pipeline.to_str().unwrap(), "--json"]);
    status.expect(0);
    let value: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(value[0]["stages"][3]["stage"], "freeze");
    assert_eq!(value[0]["stages"][3]["state"], "completed");
}

#[test]
fn a_failing_check_names_what_it_expected_and_what_it_got() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[(
        "expect_stdout: \"app {version}\"",
        "expect_stdout: \"app {previous_tag}\"",
    )]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("check `version`: its output does not contain `app v1.0.1`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("app 1.0.2"), "{}", run.stderr);
    assert!(
        f.git(&["tag", "--list", "v1.0.2"]).is_empty(),
        "nothing is frozen after a failed check"
    );
}

#[test]
fn a_build_step_past_its_timeout_is_killed_and_fails_the_stage() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh\n      timeout: 5m",
        "run: sleep 60\n      timeout: 1s",
    )]);
    let started = std::time::Instant::now();
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(
        run.stderr
            .contains("did not finish within its timeout of 1.0s"),
        "{}",
        run.stderr
    );
}

/// The pick's tree and message are exactly what `git cherry-pick -x` makes of the same commits.
#[test]
fn picks_match_git_cherry_pick_x() {
    let f = Fixture::new();
    // A richer history on release-1.1: a rename and an edit near the fixed line.
    f.git(&["checkout", "-q", "release-1.1"]);
    f.git(&["mv", "greeting.txt", "hello.txt"]);
    f.git(&["commit", "-q", "-m", "Rename the greeting"]);
    f.sample
        .commit("Longer sessions", &[("auth.conf", "# authentication\nallow_anonymous = true\n\n# sessions (minutes)\nsession_timeout = 45\n")])
        .unwrap();
    f.git(&["push", "-q", "origin", "release-1.1"]);
    f.git(&["checkout", "-q", "master"]);
    let pipeline = f.default_pipeline();
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);

    let fix = f.git_in(&f.sample.private, &["rev-parse", "security/CVE-2026-0001"]);
    f.git(&["fetch", "-q", "security", "security/CVE-2026-0001"]);
    for target in ["release-1.0", "release-1.1"] {
        let worktree = f.sample.root.join(format!("by-hand-{target}"));
        let wt = worktree.to_str().unwrap();
        f.git(&[
            "worktree",
            "add",
            "-q",
            "--detach",
            wt,
            &format!("origin/{target}"),
        ]);
        f.git_in(&worktree, &["cherry-pick", "-x", &fix]);
        let ours = format!("cherry-pick/v1.0.2/{target}");
        assert_eq!(
            f.git(&["rev-parse", &format!("{ours}^{{tree}}")]),
            f.git_in(&worktree, &["rev-parse", "HEAD^{tree}"]),
            "tree of the pick onto {target}"
        );
        assert_eq!(
            f.git(&["log", "-1", "--format=%B", &ours]),
            f.git_in(&worktree, &["log", "-1", "--format=%B", "HEAD"]),
            "message of the pick onto {target}"
        );
        assert_eq!(
            f.git(&["log", "-1", "--format=%an %ae", &ours]),
            "Fix Lead fix-lead@example.org"
        );
    }
}

#[test]
fn on_conflict_fail_stops_before_anything_is_pushed() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[("on_conflict: report", "on_conflict: fail")]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(1);
    assert!(
        run.stderr.contains("the fix conflicts with master"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("auth.conf"), "{}", run.stderr);
    let refs = f.git_in(&f.sample.private, &["for-each-ref", "--format=%(refname)"]);
    assert!(!refs.contains("v1.0.2"), "{refs}");
}

#[test]
fn a_rejected_ref_fails_the_whole_atomic_push_and_a_rerun_finishes_it() {
    let f = Fixture::new();
    // Somebody already has a branch of that name on the private remote.
    f.git_in(
        &f.sample.private,
        &["branch", "cherry-pick/v1.0.2/release-1.1", "master"],
    );
    let pipeline = f.default_pipeline();
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("refs/heads/cherry-pick/v1.0.2/release-1.1"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no ref was updated"), "{}", run.stderr);
    let refs = f.git_in(&f.sample.private, &["for-each-ref", "--format=%(refname)"]);
    assert!(
        !refs.contains("v1.0.2\n") && !refs.contains("refs/tags/v1.0.2"),
        "atomic: {refs}"
    );

    f.git_in(
        &f.sample.private,
        &["branch", "-D", "cherry-pick/v1.0.2/release-1.1"],
    );
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(0);
    assert!(
        run.stderr.contains("cherry-pick: done in an earlier run"),
        "{}",
        run.stderr
    );
    let picks = f.git_in(
        &f.sample.private,
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads/cherry-pick",
        ],
    );
    assert_eq!(picks.lines().count(), 2, "{picks}");
    assert_eq!(
        f.git_in(
            &f.sample.private,
            &["rev-parse", "cherry-pick/v1.0.2/release-1.1"]
        ),
        f.git(&["rev-parse", "cherry-pick/v1.0.2/release-1.1"])
    );
    // A third run pushes nothing new and proves the private remote unchanged.
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(0);
    assert!(
        run.stderr.contains("stage: done in an earlier run"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dry_run_cuts_the_release_in_a_scratch_repository_and_touches_nothing() {
    let f = Fixture::new();
    let pipeline = f.sample_pipeline();
    // A dirty working tree and an index with a staged change: both must survive byte for byte.
    std::fs::write(f.work().join("notes.txt"), "work in progress\n").unwrap();
    f.git(&["add", "notes.txt"]);
    let clone_before = common::snapshot(f.work());
    let public_before = common::snapshot(&f.sample.public);
    let private_before = common::snapshot(&f.sample.private);

    let run = f.embargo(&["run", pipeline.to_str().unwrap(), "--dry-run", "--keep"]);
    run.expect(0);
    assert!(
        run.stdout.contains("dry run of release v1.0.2"),
        "{}",
        run.stdout
    );
    // The exact pushes and calls stages 6 and 7 would make.
    let release = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("release commit   "))
        .expect("release commit line")
        .to_string();
    for want in [
        "git push --atomic --porcelain security \\".to_string(),
        format!("{release}:refs/heads/v1.0.2"),
        "git push --atomic --porcelain origin \\".to_string(),
        "POST https://api.github.com/repos/example/app/releases  tag_name=v1.0.2".to_string(),
        "POST <upload_url>?name=app-linux-amd64.tar.gz".to_string(),
    ] {
        assert!(
            run.stdout.contains(&want),
            "missing `{want}` in\n{}",
            run.stdout
        );
    }
    let folder = run
        .stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("dry run: nothing was written outside ")?
                .strip_suffix(" (kept: --keep)")
        })
        .expect("the dry run names its folder")
        .to_string();
    let folder = std::path::Path::new(&folder);
    // It holds the patched source and binaries: for this user only.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(folder).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(folder.join("state/manifest.json").is_file());
    assert!(folder.join("state/dist/SHA256SUMS").is_file());
    // The scratch repository really has the release, borrowing the clone's objects.
    let scratch = folder.join("scratch.git");
    assert_eq!(
        f.git_in(&scratch, &["rev-parse", "refs/heads/v1.0.2"]),
        release
    );
    assert_eq!(
        f.git_in(&scratch, &["cat-file", "-t", "refs/tags/v1.0.2"]),
        "tag"
    );
    assert!(
        f.git_in(&scratch, &["branch", "--list", "cherry-pick/*"])
            .contains("release-1.1")
    );

    // The clone and both remotes are exactly as they were: refs, packed-refs, config, hooks,
    // index, working tree, and no new objects.
    assert_eq!(common::snapshot(f.work()), clone_before);
    assert_eq!(common::snapshot(&f.sample.public), public_before);
    assert_eq!(common::snapshot(&f.sample.private), private_before);
    let tag_object = f.git_in(&scratch, &["rev-parse", "refs/tags/v1.0.2"]);
    let pick = f.git_in(&scratch, &["rev-parse", "cherry-pick/v1.0.2/release-1.1"]);
    std::fs::remove_dir_all(folder).unwrap();

    // And a real run afterwards works as if the dry run never happened, and makes the very
    // SHAs the dry run printed: "the exact pushes" is true.
    let pipeline = f.default_pipeline();
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    assert_eq!(f.git(&["rev-parse", "refs/heads/v1.0.2"]), release);
    assert_eq!(f.git(&["rev-parse", "refs/tags/v1.0.2"]), tag_object);
    assert_eq!(
        f.git(&["rev-parse", "cherry-pick/v1.0.2/release-1.1"]),
        pick
    );
}

#[test]
fn a_dry_run_removes_its_folder_unless_kept() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let tmp = f.sample.root.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let run = f.embargo_env(
        &["run", pipeline.to_str().unwrap(), "--dry-run"],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    run.expect(0);
    assert!(
        run.stdout
            .contains("dry run: nothing was written outside a temporary folder, now removed"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "left behind in {tmp:?}"
    );
}

fn embargo_in(seconds: i64) -> String {
    let at = jiff::Timestamp::now().as_second() + seconds;
    jiff::Timestamp::from_second(at).unwrap().to_string()
}

#[test]
fn publish_before_the_embargo_does_nothing_and_says_when() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    let later = embargo_in(3600);
    f.embargo(&["run", p, "--embargo", &later]).expect(0);
    let public_before = common::snapshot(&f.sample.public);

    let due = f.embargo(&["publish", p, "--if-due", "--embargo", &later]);
    due.expect(0);
    assert!(due.stdout.contains("is not due"), "{}", due.stdout);
    let now = f.embargo(&["publish", p, "--embargo", &later]);
    now.expect(2);
    assert!(
        now.stderr.contains("it is not time to publish"),
        "{}",
        now.stderr
    );
    assert!(now.stderr.contains("--wait"), "{}", now.stderr);
    assert_eq!(common::snapshot(&f.sample.public), public_before);
}

#[test]
fn publish_when_due_pushes_everything_public_once() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    let past = "now".to_string();
    f.embargo(&["run", p, "--embargo", &past]).expect(0);
    let run = f.embargo(&["publish", p, "--if-due", "--embargo", &past]);
    run.expect(0);
    assert!(
        run.stdout.contains("release v1.0.2 is public"),
        "{}",
        run.stdout
    );
    for r in [
        "refs/heads/v1.0.2",
        "refs/tags/v1.0.2",
        "refs/heads/cherry-pick/v1.0.2/release-1.1",
    ] {
        assert_eq!(
            f.git_in(&f.sample.public, &["rev-parse", r]),
            f.git(&["rev-parse", r]),
            "{r}"
        );
    }
    // A second cron run finds it done.
    let again = f.embargo(&["publish", p, "--if-due", "--embargo", &past]);
    again.expect(0);
    assert!(
        again.stdout.contains("was already published"),
        "{}",
        again.stdout
    );
    let status = f.embargo(&["status", p]);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("publish") && l.contains("completed")),
        "{}",
        status.stdout
    );
}

#[test]
fn publish_wait_is_never_early_and_close_to_the_instant() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    let soon = embargo_in(3);
    f.embargo(&["run", p, "--embargo", &soon]).expect(0);
    let run = f.embargo(&["publish", p, "--wait", "--json", "--embargo", &soon]);
    run.expect(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let at: jiff::Timestamp = value["published_at"].as_str().unwrap().parse().unwrap();
    let embargo: jiff::Timestamp = soon.parse().unwrap();
    let late = at.as_millisecond() - embargo.as_millisecond();
    assert!(late >= 0, "published {late} ms before the embargo");
    assert!(late < 1000, "published {late} ms after the embargo");
    assert!(
        run.stderr.contains("waiting for the embargo"),
        "{}",
        run.stderr
    );
}

#[test]
fn build_steps_and_checks_run_with_a_clean_environment() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[
        (
            "run: ./build.sh",
            "run: env > \"$HOME/build-env.txt\" && ./build.sh",
        ),
        (
            "  checksums: SHA256SUMS",
            "  checksums: SHA256SUMS\n  env_passthrough: [RELEASE_CHANNEL]",
        ),
    ]);
    let run = f.embargo_env(
        &["run", pipeline.to_str().unwrap()],
        &[
            ("GITHUB_TOKEN", "ghp_MustNotReachTheBuild"),
            ("RELEASE_CHANNEL", "stable"),
            ("AWS_SECRET_ACCESS_KEY", "nope"),
        ],
    );
    run.expect(0);
    let env = std::fs::read_to_string(f.sample.root.join("build-env.txt")).unwrap();
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert!(!env.contains("ghp_MustNotReachTheBuild"), "{env}");
    assert!(!env.contains("AWS_SECRET_ACCESS_KEY"), "{env}");
    assert!(env.contains("RELEASE_CHANNEL=stable"), "{env}");
    assert!(env.contains("EMBARGO_VERSION=1.0.2"), "{env}");
    for name in &names {
        assert!(
            [
                "PATH",
                "HOME",
                "RELEASE_CHANNEL",
                "PWD",
                "SHLVL",
                "_",
                "OLDPWD"
            ]
            .contains(name)
                || name.starts_with("EMBARGO_"),
            "{name} leaked into the build: {env}"
        );
    }
}

#[test]
fn a_tag_moved_on_the_public_remote_after_publishing_is_an_integrity_violation() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    let past = "now".to_string();
    f.embargo(&["run", p, "--embargo", &past]).expect(0);
    f.embargo(&["publish", p, "--if-due", "--embargo", &past])
        .expect(0);
    f.git_in(&f.sample.public, &["tag", "-f", "v1.0.2", "master"]);
    let run = f.embargo(&["publish", p, "--if-due", "--embargo", &past]);
    run.expect(3);
    assert!(
        run.stderr.contains("refs/tags/v1.0.2 on the public remote"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&f.git(&["rev-parse", "refs/tags/v1.0.2"])),
        "{}",
        run.stderr
    );
}

#[test]
fn a_per_target_backport_branch_is_picked_onto_its_target() {
    let f = Fixture::new();
    // The fix, backported by hand to master's reworked settings, on the private remote.
    f.git(&["checkout", "-q", "-b", "backport", "origin/master"]);
    f.sample
        .commit(
            "Deny anonymous access by default (CVE-2026-0001, master)",
            &[(
                "auth.conf",
                "# authentication\nanonymous = off\n\n# sessions (minutes)\nsession_timeout = 30\n",
            )],
        )
        .unwrap();
    f.git(&[
        "push",
        "-q",
        "security",
        "backport:refs/heads/security/CVE-2026-0001-master",
    ]);
    f.git(&["checkout", "-q", "master"]);
    let pipeline = f.default_pipeline_with(&[(
        "  base: master\n",
        "  base: master\n  per_target:\n    master: security/CVE-2026-0001-master\n",
    )]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(0);
    assert!(
        !run.stdout.contains("needs a manual backport"),
        "{}",
        run.stdout
    );
    let pick = "cherry-pick/v1.0.2/master";
    assert_eq!(
        f.git(&["rev-parse", &format!("{pick}^")]),
        f.git(&["rev-parse", "origin/master"])
    );
    assert_eq!(
        f.git(&["show", &format!("{pick}:auth.conf")])
            .lines()
            .nth(1),
        Some("anonymous = off")
    );
    assert_eq!(
        f.git_in(&f.sample.private, &["rev-parse", pick]),
        f.git(&["rev-parse", pick])
    );
}

/// The build's bytes are read once per process; a file changed after that is read again. A
/// check that rewrites one byte of an artifact in place (same size, where no sandbox makes the
/// artifacts read-only) is caught by the freeze in the same run.
#[test]
fn an_artifact_rewritten_in_place_by_a_check_is_caught_by_the_freeze_of_the_same_run() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[(
        r#""$EMBARGO_SCRATCH/app" check-auth"#,
        r#""$EMBARGO_SCRATCH/app" check-auth && printf X | dd of="$EMBARGO_DIST/app-linux-amd64.tar.gz" bs=1 count=1 conv=notrunc 2>/dev/null"#,
    )]);
    let run = f.embargo_env(
        &["run", pipeline.to_str().unwrap()],
        &[(embargo::sandbox::NO_NAMESPACES_ENV, "1")],
    );
    run.expect(3);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);
    assert!(
        run.stderr.contains("app-linux-amd64.tar.gz"),
        "{}",
        run.stderr
    );
    // Nothing left the machine.
    assert!(
        f.git_in(&f.sample.private, &["tag", "--list", "v1.0.2"])
            .is_empty()
    );
}

/// A dry run of a release this clone has staged says so (it used to say the version was taken
/// by somebody else), and changes nothing.
#[test]
fn a_dry_run_of_a_staged_release_says_it_is_staged() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    f.embargo(&["run", p]).expect(0);
    let private_before = common::snapshot(&f.sample.private);
    let dry = f.embargo(&["run", p, "--dry-run"]);
    dry.expect(2);
    assert!(
        dry.stderr.contains("v1.0.2 is staged already")
            && dry.stderr.contains("`embargo run` would resume it")
            && !dry.stderr.contains("taken"),
        "{}",
        dry.stderr
    );
    assert_eq!(common::snapshot(&f.sample.private), private_before);
    // The real run resumes it, as the message says.
    f.embargo(&["run", p]).expect(0);
}

/// Remotes given as paths relative to the clone (`../app-security.git`): the dry run names and
/// reaches the very repositories the real run does, and changes neither.
#[test]
fn a_dry_run_reaches_remotes_given_as_relative_paths_as_the_real_run_does() {
    let f = Fixture::new();
    let name = |p: &std::path::Path| format!("../{}", p.file_name().unwrap().to_string_lossy());
    assert_eq!(f.sample.private.parent(), f.work().parent());
    f.git(&["remote", "set-url", "security", &name(&f.sample.private)]);
    f.git(&["remote", "set-url", "origin", &name(&f.sample.public)]);
    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    let refs = |dir: &std::path::Path| f.git_in(dir, &["for-each-ref"]);
    let (private, public) = (refs(&f.sample.private), refs(&f.sample.public));

    let dry = f.embargo(&["run", p, "--dry-run"]);
    dry.expect(0);
    assert!(
        dry.stdout
            .contains("git push --atomic --porcelain security"),
        "{}",
        dry.stdout
    );
    assert_eq!(refs(&f.sample.private), private);
    assert_eq!(refs(&f.sample.public), public);
    assert!(!f.state_dir("v1.0.2").exists());

    // The real run pushes where the dry run said.
    f.embargo(&["run", p]).expect(0);
    assert_eq!(
        f.git_in(&f.sample.private, &["rev-parse", "refs/tags/v1.0.2"]),
        f.git(&["rev-parse", "refs/tags/v1.0.2"])
    );
}
