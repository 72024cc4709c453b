//! The staged release is the contract: the instant, the fix, the targets and the checks it was
//! staged with hold until it is published, whatever the pipeline or the flags say later; the
//! ways to change it (`reschedule`, `abort`, `--keep-staged`) are explicit and journaled. Each
//! test is an attack a careless operator or a stale file would make.

use crate::common;

use common::{Fixture, Run};

fn at(seconds: i64) -> String {
    let at = jiff::Timestamp::now().as_second() + seconds;
    jiff::Timestamp::from_second(at).unwrap().to_string()
}

fn public_refs(f: &Fixture) -> String {
    f.git_in(&f.sample.public, &["for-each-ref", "--format=%(refname)"])
}

#[track_caller]
fn says(run: &Run, words: &[&str]) {
    for w in words {
        assert!(run.all().contains(w), "missing `{w}` in\n{}", run.all());
    }
}

/// A pipeline whose `embargo:` is `embargo`.
fn pipeline_at(f: &Fixture, embargo: &str) -> String {
    let text =
        common::without_publish(embargo::sample::PIPELINE).replace("2036-12-01 16:00 UTC", embargo);
    f.pipeline(&text).to_str().unwrap().to_string()
}

/// Adds a commit to the private fix branch (the fix team pushed more after staging).
fn push_another_fix_commit(f: &Fixture) -> String {
    let fix = embargo::sample::FIX_BRANCH;
    f.git(&[
        "fetch",
        "-q",
        "security",
        &format!("{fix}:refs/heads/{fix}"),
    ]);
    f.git(&["checkout", "-q", fix]);
    std::fs::write(
        f.work().join("HARDENING.md"),
        "also check the token's audience\n",
    )
    .unwrap();
    f.git(&["add", "HARDENING.md"]);
    f.git(&["commit", "-q", "-m", "Check the token's audience too"]);
    f.git(&["push", "-q", "security", fix]);
    let sha = f.git(&["rev-parse", "HEAD"]);
    f.git(&["checkout", "-q", "master"]);
    f.git(&["branch", "-q", "-D", fix]);
    sha
}

#[test]
fn publish_never_goes_earlier_than_the_staged_instant_whatever_the_flag_says() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(3 * 86400));
    f.embargo(&["run", &p]).expect(0);
    let before = public_refs(&f);

    // The attack seen on main: a flag a minute in the past published at once, 3 days early.
    let early = f.embargo(&["publish", &p, "--if-due", "--embargo", &at(-60)]);
    early.expect(2);
    says(
        &early,
        &["--embargo says", "the new one is earlier", "--earlier"],
    );
    let now = f.embargo(&["publish", &p, "--embargo", "now"]);
    now.expect(2);
    // Without the flag the cron path waits for the recorded instant.
    let cron = f.embargo(&["publish", &p, "--if-due"]);
    cron.expect(0);
    says(&cron, &["is not due"]);
    assert_eq!(public_refs(&f), before);
}

#[test]
fn an_embargo_edited_in_the_pipeline_after_staging_is_refused() {
    let f = Fixture::new();
    let staged_for = at(3 * 86400);
    let p = pipeline_at(&f, &staged_for);
    f.embargo(&["run", &p]).expect(0);
    let before = public_refs(&f);
    let p = pipeline_at(&f, &at(-60));
    let cron = f.embargo(&["publish", &p, "--if-due"]);
    cron.expect(2);
    says(
        &cron,
        &[
            "says `embargo:",
            "was staged to be published at",
            "reschedule",
        ],
    );
    // Later is refused too: publishing at the recorded instant would be earlier than the file says.
    let p = pipeline_at(&f, &at(9 * 86400));
    f.embargo(&["publish", &p, "--if-due"]).expect(2);
    let run = f.embargo(&["run", &p]);
    run.expect(2);
    assert_eq!(public_refs(&f), before);
}

#[test]
fn a_release_staged_with_a_later_flag_waits_for_it_though_the_file_says_earlier() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(-3600));
    f.embargo(&["run", &p, "--embargo", &at(3600)]).expect(0);
    let cron = f.embargo(&["publish", &p, "--if-due"]);
    cron.expect(0);
    says(&cron, &["is not due"]);
    assert!(!public_refs(&f).contains("v1.0.2"));
}

#[test]
fn run_refuses_an_embargo_that_has_passed_unless_it_is_now() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(-3600));
    let run = f.embargo(&["run", &p]);
    run.expect(2);
    common::pin::error(&run);
    says(&run, &["has already passed", "--embargo now"]);
    assert!(
        !f.work()
            .join(".git/embargo/security-release/v1.0.2/manifest.json")
            .exists()
    );
    assert!(f.git(&["branch", "--list", "v1.0.2"]).is_empty());

    // `now`: the vulnerability is public; publish right after staging.
    f.embargo(&["run", &p, "--embargo", "now"]).expect(0);
    let publish = f.embargo(&["publish", &p, "--if-due"]);
    publish.expect(0);
    says(&publish, &["release v1.0.2 is public"]);
}

#[test]
fn now_is_taken_only_from_the_command_line() {
    let f = Fixture::new();
    let p = pipeline_at(&f, "now");
    let run = f.embargo(&["run", &p]);
    run.expect(2);
    common::pin::error(&run);
    says(&run, &["`now` is only taken from the command line"]);
}

#[test]
fn reschedule_moves_the_instant_later_freely_and_earlier_only_when_told() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);

    let later = f.embargo(&["reschedule", &p, "--embargo", &at(2 * 86400 + 1800)]);
    later.expect(0);
    says(&later, &["the embargo moved from"]);
    // The file is now out of date; the rescheduled instant rules.
    let cron = f.embargo(&["publish", &p, "--if-due"]);
    cron.expect(0);
    says(&cron, &["is not due", "(in 2d 0h)"]);

    let earlier = f.embargo(&["reschedule", &p, "--embargo", &at(3600)]);
    earlier.expect(2);
    common::pin::error(&earlier);
    says(&earlier, &["is earlier than the instant", "--earlier"]);
    let past = f.embargo(&["reschedule", &p, "--embargo", &at(-60), "--earlier"]);
    past.expect(2);
    common::pin::error(&past);
    says(&past, &["has already passed", "--embargo now --earlier"]);

    let status = f.embargo(&["status", &p]);
    says(&status, &["reschedule"]);

    f.embargo(&["reschedule", &p, "--embargo", "now", "--earlier"])
        .expect(0);
    let publish = f.embargo(&["publish", &p, "--if-due"]);
    publish.expect(0);
    says(&publish, &["release v1.0.2 is public"]);
    let after = f.embargo(&["reschedule", &p, "--embargo", &at(3600)]);
    after.expect(2);
    common::pin::error(&after);
    let journal = std::fs::read_to_string(f.state_dir("v1.0.2").join("journal.jsonl")).unwrap();
    assert_eq!(
        journal
            .matches("\"stage\":\"reschedule\",\"event\":\"completed\"")
            .count(),
        2,
        "{journal}"
    );
}

#[test]
fn a_fix_that_moved_after_staging_is_named_and_refused() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    let third = push_another_fix_commit(&f);

    let plan = f.embargo(&["plan", &p]);
    plan.expect(0);
    says(&plan, &["Check the token's audience too"]);
    for args in [vec!["run", &p], vec!["publish", &p, "--if-due"]] {
        let run = f.embargo(&args);
        run.expect(2);
        // publish's outputs are pinned with publish's own snapshots.
        if args[0] == "run" {
            common::pin::error(&run);
        }
        says(
            &run,
            &[
                "no longer matches what v1.0.2 was started from",
                "fix commits: recorded 1 commit(s)",
                "now 2 commit(s) [",
                &third[..7],
                "embargo abort",
                "--keep-staged",
            ],
        );
    }
    // Keeping what was staged is explicit and journaled, and asked once.
    let keep = f.embargo(&["run", &p, "--keep-staged"]);
    keep.expect(0);
    says(&keep, &["going on with what was recorded"]);
    f.embargo(&["run", &p]).expect(0);
    let journal = std::fs::read_to_string(f.state_dir("v1.0.2").join("journal.jsonl")).unwrap();
    assert!(journal.contains("\"stage\":\"keep-staged\""), "{journal}");
    assert!(
        !f.git(&["log", "--format=%s", "v1.0.2"])
            .contains("audience")
    );
}

#[test]
fn targets_and_checks_changed_after_staging_are_named() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    let text = std::fs::read_to_string(&p).unwrap();

    // master left out of `onto` after its pick branch was staged.
    std::fs::write(
        &p,
        text.replace("onto: [master, \"release-*\"]", "onto: [\"release-*\"]"),
    )
    .unwrap();
    let run = f.embargo(&["run", &p]);
    run.expect(2);
    common::pin::error(&run);
    says(
        &run,
        &["cherry-pick targets: recorded [master, release-1.0, release-1.1]"],
    );

    // A new check that would fail must not be reported as passed.
    std::fs::write(
        &p,
        text.replace(
            "verify:\n",
            "verify:\n  - name: new-check\n    run: \"false\"\n",
        ),
    )
    .unwrap();
    let run = f.embargo(&["run", &p]);
    run.expect(2);
    common::pin::error(&run);
    says(&run, &["verify (the checks)"]);
    assert!(!run.all().contains("checks passed on these artifacts"));
}

#[test]
fn a_typo_in_onto_is_refused_with_the_branches_that_look_close() {
    let f = Fixture::new();
    let text = common::without_publish(embargo::sample::PIPELINE).replace(
        "onto: [master, \"release-*\"]",
        "onto: [master, \"relase-*\"]",
    );
    let p = f.pipeline(&text);
    let plan = f.embargo(&["plan", p.to_str().unwrap()]);
    plan.expect(2);
    common::pin::error(&plan);
    says(&plan, &["`relase-*` matches no branch", "release-1.0"]);
    // And plan shows what each glob matched.
    let p = f.default_pipeline();
    let plan = f.embargo(&["plan", p.to_str().unwrap()]);
    plan.expect(0);
    says(&plan, &["master, release-1.0, release-1.1"]);
}

#[test]
fn abort_takes_back_a_staged_release_and_the_same_version_can_be_cut_again() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    assert!(f.git_in(&f.sample.private, &["tag"]).contains("v1.0.2"));
    // The freeze refuses deleting the tag by hand: abort is the way back.
    f.git_fails(&["tag", "-d", "v1.0.2"]);

    let abort = f.embargo(&["abort", &p]);
    abort.expect(0);
    says(&abort, &["aborted v1.0.2", "can be cut again"]);
    for refname in ["v1.0.2", "cherry-pick/v1.0.2/release-1.1"] {
        let private = f.git_in(&f.sample.private, &["for-each-ref", "--format=%(refname)"]);
        assert!(!private.contains(refname), "{private}");
        assert!(
            !f.git(&["for-each-ref", "--format=%(refname)"])
                .contains(refname)
        );
    }
    let archived = f.work().join(".git/embargo/security-release/aborted");
    assert_eq!(std::fs::read_dir(&archived).unwrap().count(), 1);
    assert!(!f.state_dir("v1.0.2").exists());

    // Cut again with a new fix: v1.0.2 once more, now with both fix commits.
    push_another_fix_commit(&f);
    let again = f.embargo(&["run", &p]);
    again.expect(0);
    says(&again, &["release v1.0.2 frozen"]);
    assert!(
        f.git(&["log", "--format=%s", "v1.0.2"])
            .contains("audience")
    );
    // Once public, abort is refused.
    f.embargo(&["reschedule", &p, "--embargo", "now", "--earlier"])
        .expect(0);
    f.embargo(&["publish", &p, "--if-due"]).expect(0);
    let late = f.embargo(&["abort", &p]);
    late.expect(2);
    common::pin::error(&late);
    assert!(f.git_in(&f.sample.public, &["tag"]).contains("v1.0.2"));
}

#[test]
fn abort_leaves_no_ref_in_the_clone_that_names_the_fix() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    // The lead fetched the private remote (remote-tracking refs of the release's branches), and
    // a publish killed while it waited for the instant left the refs of its prepared push.
    f.git(&["fetch", "-q", "security"]);
    let tracking = f.git(&[
        "for-each-ref",
        "--format=%(refname)",
        "refs/remotes/security",
    ]);
    assert!(
        tracking.contains("refs/remotes/security/cherry-pick/v1.0.2/release-1.1"),
        "{tracking}"
    );
    let tag = f.git(&["rev-parse", "refs/tags/v1.0.2"]);
    f.git(&[
        "update-ref",
        "refs/embargo/push/999999999-1/tags/v1.0.2",
        &tag,
    ]);

    f.embargo(&["abort", &p]).expect(0);
    let left = f.git(&["for-each-ref", "--format=%(refname)"]);
    assert!(!left.contains("cherry-pick/v1.0.2"), "{left}");
    assert!(!left.contains("refs/embargo/push"), "{left}");
    assert!(!left.contains("refs/tags/v1.0.2"), "{left}");
    assert!(left.contains("refs/remotes/security/master"), "{left}");
}

#[test]
fn a_pick_branch_pushed_publicly_before_the_instant_is_a_leak_that_keeps_the_instant() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    // By hand, to the public remote: the fix is out, though the tag is not.
    f.git(&[
        "push",
        "-q",
        "origin",
        "refs/heads/cherry-pick/v1.0.2/release-1.1",
    ]);
    let later = f.embargo(&["reschedule", &p, "--embargo", &at(2 * 86400)]);
    later.expect(2);
    says(
        &later,
        &[
            "refs/heads/cherry-pick/v1.0.2/release-1.1 (of v1.0.2) is on the public remote",
            "the fix is out early",
            "--embargo now --earlier",
        ],
    );
    f.embargo(&["reschedule", &p, "--embargo", "now", "--earlier"])
        .expect(0);
    f.embargo(&["publish", &p, "--if-due"]).expect(0);
    assert!(f.git_in(&f.sample.public, &["tag"]).contains("v1.0.2"));
}

#[test]
fn a_run_after_publishing_says_the_fix_is_released_and_writes_nothing() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p, "--embargo", "now"]).expect(0);
    f.embargo(&["publish", &p, "--if-due"]).expect(0);
    let again = f.embargo(&["run", &p]);
    again.expect(0);
    says(&again, &["the fix is already released in v1.0.2"]);
    assert!(!f.state_dir("v1.0.3").exists());
    let json = f.embargo(&["run", &p, "--json"]);
    json.expect(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["outcome"], "released");
    assert_eq!(value["tag"], "v1.0.2");
}

/// What a CI publish job does: a fresh clone of the public repository, the private remote
/// added, the state folder copied in from the job that staged.
fn fresh_clone_with_state(f: &Fixture) -> std::path::PathBuf {
    let clone = f.sample.root.join("ci-job");
    let url = f.sample.public.display().to_string();
    f.git_in(
        &f.sample.root,
        &["clone", "-q", &url, clone.to_str().unwrap()],
    );
    f.git_in(
        &clone,
        &[
            "remote",
            "add",
            "security",
            f.sample.private.to_str().unwrap(),
        ],
    );
    common::copy_dir(&f.work().join(".git/embargo"), &clone.join(".git/embargo"));
    std::fs::create_dir_all(clone.join("pipelines")).unwrap();
    clone
}

#[test]
fn a_later_job_resumes_and_publishes_from_a_copy_of_the_state_folder() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p, "--embargo", "now"]).expect(0);
    let clone = fresh_clone_with_state(&f);
    let pipeline = clone.join("pipelines/security-release.yaml");
    std::fs::copy(&p, &pipeline).unwrap();
    let p = pipeline.to_str().unwrap();

    let run = f.embargo(&["run", p, "--embargo", "now"]);
    run.expect(0);
    says(&run, &["brought back", "release v1.0.2 frozen"]);
    let publish = f.embargo(&["publish", p, "--if-due", "--embargo", "now"]);
    publish.expect(0);
    says(&publish, &["release v1.0.2 is public"]);
    for r in [
        "refs/tags/v1.0.2",
        "refs/heads/cherry-pick/v1.0.2/release-1.1",
    ] {
        assert_eq!(
            f.git_in(&f.sample.public, &["rev-parse", r]),
            f.git(&["rev-parse", r]),
            "{r}"
        );
    }
}

#[test]
fn a_fresh_clone_whose_private_remote_lost_the_staged_refs_is_an_integrity_violation() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    let clone = fresh_clone_with_state(&f);
    let pipeline = clone.join("pipelines/security-release.yaml");
    std::fs::copy(&p, &pipeline).unwrap();
    f.git_in(
        &f.sample.private,
        &[
            "update-ref",
            "-d",
            "refs/heads/cherry-pick/v1.0.2/release-1.1",
        ],
    );
    let publish = f.embargo(&["publish", pipeline.to_str().unwrap(), "--if-due"]);
    publish.expect(3);
    says(
        &publish,
        &["refs/heads/cherry-pick/v1.0.2/release-1.1", "was staged"],
    );
}

#[test]
fn the_pipeline_finds_its_clone_wherever_embargo_is_run_from() {
    let f = Fixture::new();
    let text = common::without_publish(embargo::sample::PIPELINE);
    // No repository.path: the repository that holds the pipeline file.
    let p = f.pipeline(&text.replace("  path: .\n", ""));
    let elsewhere = f.sample.root.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_embargo"))
        .args(["plan", p.to_str().unwrap()])
        .current_dir(&elsewhere)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(f.sample.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("patch version    1.0.2"));
    // A relative repository.path is relative to the pipeline's folder, not the current one.
    let p = f.pipeline(&text.replace("  path: .\n", "  path: ..\n"));
    let plan = f.embargo(&["plan", p.to_str().unwrap()]);
    plan.expect(0);
}

#[test]
fn errors_are_json_on_stdout_with_json() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(-3600));
    let run = f.embargo(&["run", &p, "--json"]);
    run.expect(2);
    common::pin::error(&run);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["error"]["exit_code"], 2);
    assert_eq!(value["error"]["kind"], "bad-input");
    assert!(
        value["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--embargo now")
    );

    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    for (args, outcome) in [
        (vec!["publish", &p, "--if-due", "--json"], "not-due"),
        (vec!["publish", &p, "--dry-run", "--json"], "dry-run"),
    ] {
        let run = f.embargo(&args);
        run.expect(0);
        let value: serde_json::Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
        assert_eq!(value["outcome"], outcome);
    }
}

#[test]
fn a_dry_run_makes_the_same_shas_as_the_real_run_without_a_fixed_committer_date() {
    let f = Fixture::new();
    // Who commits comes from the clone's config, and when from the fix: no GIT_COMMITTER_*.
    f.git(&["config", "user.name", "Release Lead"]);
    f.git(&["config", "user.email", "lead@example.org"]);
    let p = f.default_pipeline();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_embargo"))
            .args(args)
            .current_dir(f.work())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(
                f.sample
                    .env
                    .iter()
                    .filter(|(k, _)| !k.starts_with("GIT_COMMITTER_"))
                    .map(|(k, v)| (k, v)),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            value["release_commit"].as_str().unwrap().to_string(),
            value["tag_object"].as_str().unwrap().to_string(),
        )
    };
    let dry = run(&["run", p.to_str().unwrap(), "--dry-run", "--json"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let real = run(&["run", p.to_str().unwrap(), "--json"]);
    assert_eq!(dry, real);
    assert!(
        f.git(&["log", "-1", "--format=%cn", "v1.0.2"])
            .contains("Release Lead")
    );
}

/// Sets up the clone for one attack and returns what `repository.private` says.
type Attack = Box<dyn Fn(&Fixture) -> String>;

/// Every way the clone's configuration can send a "private" push to the public repository.
#[test]
fn a_private_remote_that_leads_to_the_public_repository_is_refused_before_any_push() {
    let attacks: Vec<(&str, Attack)> = vec![
        (
            "the same remote",
            Box::new(|_f: &Fixture| "origin".to_string()),
        ),
        (
            "the public URL",
            Box::new(|f: &Fixture| format!("file://{}/", f.sample.public.display())),
        ),
        (
            "a relative pushurl",
            Box::new(|f: &Fixture| {
                f.git(&["config", "remote.security.pushurl", "../public.git"]);
                "security".to_string()
            }),
        ),
        (
            "file://localhost",
            Box::new(|f: &Fixture| format!("file://localhost{}", f.sample.public.display())),
        ),
        (
            "a folder whose .git file points at the public repository",
            Box::new(|f: &Fixture| {
                let door = f.sample.root.join("door");
                std::fs::create_dir(&door).unwrap();
                std::fs::write(
                    door.join(".git"),
                    format!("gitdir: {}\n", f.sample.public.display()),
                )
                .unwrap();
                door.display().to_string()
            }),
        ),
        (
            "a folder whose refs and objects are the public repository's",
            Box::new(|f: &Fixture| {
                let twin = f.sample.root.join("twin.git");
                f.git_in(
                    &f.sample.root,
                    &["init", "-q", "--bare", twin.to_str().unwrap()],
                );
                for dir in ["refs", "objects"] {
                    std::fs::remove_dir_all(twin.join(dir)).unwrap();
                    std::os::unix::fs::symlink(f.sample.public.join(dir), twin.join(dir)).unwrap();
                }
                twin.display().to_string()
            }),
        ),
        (
            "a pushurl",
            Box::new(|f: &Fixture| {
                let public = f.sample.public.display().to_string();
                f.git(&["config", "remote.security.pushurl", &public]);
                "security".to_string()
            }),
        ),
        (
            "an insteadOf rewrite",
            Box::new(|f: &Fixture| {
                let public = f.sample.public.display().to_string();
                let private = f.sample.private.display().to_string();
                f.git(&["config", &format!("url.{public}.insteadOf"), &private]);
                "security".to_string()
            }),
        ),
        (
            "a pushInsteadOf rewrite",
            Box::new(|f: &Fixture| {
                let public = f.sample.public.display().to_string();
                let private = f.sample.private.display().to_string();
                f.git(&["config", &format!("url.{public}.pushInsteadOf"), &private]);
                "security".to_string()
            }),
        ),
    ];
    for (what, attack) in attacks {
        let f = Fixture::new();
        let private = attack(&f);
        let text = common::without_publish(embargo::sample::PIPELINE)
            .replace("private: security", &format!("private: \"{private}\""));
        let p = f.pipeline(&text);
        let before = public_refs(&f);
        for args in [vec!["plan"], vec!["run"], vec!["run", "--dry-run"]] {
            let mut args = args.clone();
            args.push(p.to_str().unwrap());
            let run = f.embargo(&args);
            assert_eq!(run.code, 2, "{what}: {args:?}\n{}", run.all());
            assert!(
                run.stderr.contains("which is the public repository"),
                "{what}: {}",
                run.stderr
            );
        }
        assert_eq!(public_refs(&f), before, "{what}");
        // Not even the fix's objects reached it.
        let fix = f.git_in(
            &f.sample.private,
            &[
                "rev-parse",
                &format!("refs/heads/{}", embargo::sample::FIX_BRANCH),
            ],
        );
        assert!(
            f.sample
                .git(&f.sample.public, &["cat-file", "-e", &fix])
                .is_err(),
            "{what}"
        );
    }
}

#[test]
fn a_build_step_that_reroutes_the_private_remote_cannot_push_publicly() {
    let f = Fixture::new();
    let public = f.sample.public.display().to_string();
    let text = common::without_publish(embargo::sample::PIPELINE).replace(
        "      run: ./build.sh\n",
        &format!(
            "      run: ./build.sh && git -C \"$EMBARGO_CLONE_FOR_TEST\" config remote.security.pushurl {public}\n      env: {{ EMBARGO_CLONE_FOR_TEST: {} }}\n",
            f.work().display()
        ),
    );
    let p = f.pipeline(&text);
    let run = f.embargo(&["run", p.to_str().unwrap()]);
    assert_ne!(run.code, 0, "{}", run.all());
    // Refused before the push, or (where builds cannot see the clone) the step itself failed.
    assert!(
        run.all().contains("which is the public repository") || run.code == 1,
        "{}",
        run.all()
    );
    assert!(!public_refs(&f).contains("v1.0.2"));
}

#[test]
fn publish_proves_the_picks_instead_of_trusting_an_edited_journal() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p, "--embargo", "now"]).expect(0);
    // Any commit of the clone, put where the journal names the release-1.1 pick.
    let pick = f.git(&["rev-parse", "cherry-pick/v1.0.2/release-1.1"]);
    let other = f.git(&["rev-parse", "master"]);
    let journal = f.state_dir("v1.0.2").join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains(&pick));
    std::fs::write(&journal, text.replace(&pick, &other)).unwrap();
    let before = public_refs(&f);
    let publish = f.embargo(&["publish", &p, "--if-due"]);
    publish.expect(3);
    says(&publish, &["picking the fix onto release-1.1"]);
    assert_eq!(public_refs(&f), before);
}

#[test]
fn a_pick_branch_deleted_from_the_private_remote_is_noticed_before_publishing() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p, "--embargo", "now"]).expect(0);
    f.git_in(
        &f.sample.private,
        &[
            "update-ref",
            "-d",
            "refs/heads/cherry-pick/v1.0.2/release-1.1",
        ],
    );
    let before = public_refs(&f);
    let publish = f.embargo(&["publish", &p, "--if-due"]);
    publish.expect(3);
    says(
        &publish,
        &["refs/heads/cherry-pick/v1.0.2/release-1.1", "missing"],
    );
    assert_eq!(public_refs(&f), before);
}

#[test]
fn a_state_dir_that_is_not_a_releases_is_refused_and_left_alone() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    let decoy = f.sample.root.join("decoy");
    std::fs::create_dir(&decoy).unwrap();
    std::fs::write(decoy.join("precious.txt"), "keep me\n").unwrap();
    let before = common::snapshot(&decoy);
    for command in ["abort", "publish", "reschedule", "status"] {
        let mut args = vec![command, &p, "--state-dir", decoy.to_str().unwrap()];
        if command == "reschedule" {
            args.extend(["--embargo", "now", "--earlier"]);
        }
        let run = f.embargo(&args);
        assert_eq!(run.code, 2, "{command}: {}", run.all());
        says(&run, &["is not the state folder of a release"]);
        assert_eq!(common::snapshot(&decoy), before, "{command}");
    }
    assert!(f.state_dir("v1.0.2").join("manifest.json").is_file());
}

#[test]
fn a_reschedule_added_to_the_journal_by_hand_is_an_integrity_violation() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p]).expect(0);
    let journal = f.state_dir("v1.0.2").join("journal.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str(&format!(
        "{{\"at\":\"{}\",\"stage\":\"reschedule\",\"event\":\"completed\",\"detail\":{{\"earlier\":true,\"from\":null,\"to\":\"{}\"}}}}\n",
        at(0),
        at(-60)
    ));
    std::fs::write(&journal, text).unwrap();
    let publish = f.embargo(&["publish", &p, "--if-due"]);
    publish.expect(3);
    says(&publish, &["disagrees with itself about the embargo"]);
    assert!(!public_refs(&f).contains("v1.0.2"));
}

#[test]
fn a_staged_ref_edited_in_the_journal_is_never_pushed() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p, "--embargo", "now"]).expect(0);
    // The journal's patch branch now names the bare fix commit instead of the release commit.
    let release = f.git(&["rev-parse", "v1.0.2^{commit}"]);
    let fix = f.git_in(
        &f.sample.private,
        &[
            "rev-parse",
            &format!("refs/heads/{}", embargo::sample::FIX_BRANCH),
        ],
    );
    let journal = f.state_dir("v1.0.2").join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let last = text.lines().last().unwrap().replace(&release, &fix);
    std::fs::write(&journal, format!("{text}{last}\n")).unwrap();
    let publish = f.embargo(&["publish", &p, "--if-due"]);
    publish.expect(3);
    says(&publish, &["not the frozen release"]);
    assert!(!public_refs(&f).contains("v1.0.2"));
}

#[test]
fn a_public_remote_pointed_elsewhere_after_staging_is_drift() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p, "--embargo", "now"]).expect(0);
    let elsewhere = f.sample.root.join("elsewhere.git");
    f.git_in(
        &f.sample.root,
        &[
            "clone",
            "-q",
            "--bare",
            f.sample.public.to_str().unwrap(),
            elsewhere.to_str().unwrap(),
        ],
    );
    f.git(&["remote", "set-url", "origin", elsewhere.to_str().unwrap()]);
    let publish = f.embargo(&["publish", &p, "--if-due"]);
    publish.expect(2);
    says(&publish, &["the public repository's URL: recorded"]);
    assert!(
        !f.git_in(&elsewhere, &["for-each-ref", "--format=%(refname)"])
            .contains("v1.0.2")
    );
}

#[test]
fn an_abort_cut_short_blocks_publishing_until_it_is_finished() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    f.embargo(&["run", &p, "--embargo", "now"]).expect(0);
    let crashed = f.embargo_env(
        &["abort", &p],
        &[("EMBARGO_TEST_CRASH_AT", "abort:after-private-delete")],
    );
    assert_ne!(crashed.code, 0);
    let publish = f.embargo(&["publish", &p, "--if-due"]);
    publish.expect(2);
    says(&publish, &["is being taken back", "embargo abort"]);
    assert!(!public_refs(&f).contains("v1.0.2"));
    f.embargo(&["abort", &p]).expect(0);
    assert!(
        !f.git(&["for-each-ref", "--format=%(refname)"])
            .contains("v1.0.2")
    );
    // The archive can never be published or rescheduled.
    let archive = std::fs::read_dir(f.work().join(".git/embargo/security-release/aborted"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let archive = archive.to_str().unwrap();
    let reschedule = f.embargo(&[
        "reschedule",
        &p,
        "--state-dir",
        archive,
        "--embargo",
        "now",
        "--earlier",
    ]);
    reschedule.expect(2);
    common::pin::error(&reschedule);
    says(&reschedule, &["was aborted"]);
    f.embargo(&["publish", &p, "--state-dir", archive, "--if-due"])
        .expect(2);
    assert!(!public_refs(&f).contains("v1.0.2"));
}

#[test]
fn a_usage_error_with_json_is_json() {
    let f = Fixture::new();
    let run = f.embargo(&["run", "--json", "--no-such-flag", "x.yaml"]);
    run.expect(2);
    common::pin::error(&run);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["error"]["exit_code"], 2);
}

#[test]
fn a_cron_run_shortly_before_the_instant_waits_for_it_and_is_on_time() {
    let f = Fixture::new();
    let soon = at(4);
    let p = pipeline_at(&f, &soon);
    f.embargo(&["run", &p]).expect(0);
    // Far from the instant by --within: not due, nothing waits.
    let far = f.embargo(&["publish", &p, "--if-due", "--within", "1s"]);
    far.expect(0);
    says(&far, &["is not due"]);
    let run = f.embargo(&["publish", &p, "--if-due", "--json"]);
    run.expect(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let at: jiff::Timestamp = value["published_at"].as_str().unwrap().parse().unwrap();
    let embargo: jiff::Timestamp = soon.parse().unwrap();
    let late = at.as_millisecond() - embargo.as_millisecond();
    assert!(
        (0..1000).contains(&late),
        "published {late} ms after the embargo"
    );
    // --wait needs no --within, and --within needs --if-due.
    f.embargo(&["publish", &p, "--within", "5m"]).expect(2);
}

#[test]
fn a_cron_run_with_nothing_staged_is_green() {
    let f = Fixture::new();
    let p = pipeline_at(&f, &at(86400));
    let cron = f.embargo(&["publish", &p, "--if-due"]);
    cron.expect(0);
    says(&cron, &["no release is staged; nothing to do"]);
    // Without --if-due it is still an error: someone expected something to publish.
    f.embargo(&["publish", &p, "--wait"]).expect(2);
}

#[test]
fn a_private_repository_that_is_the_public_one_is_refused_where_it_is_written() {
    let f = Fixture::new();
    let text = embargo::sample::PIPELINE.replace(
        "    repository: example/app\n",
        "    repository: example/app\n    private_repository: Example/App\n",
    );
    let p = f.pipeline(&text);
    let check = f.embargo(&["check", p.to_str().unwrap()]);
    check.expect(2);
    common::pin::error(&check);
    let (line, column) = common::position(&text, "Example/App");
    says(
        &check,
        &[
            &format!(":{line}:{column}: publish.github.private_repository"),
            "is publish.github.repository, the public one",
        ],
    );
}

#[test]
fn a_pick_branch_named_like_a_target_is_refused_before_anything_is_written() {
    let f = Fixture::new();
    // At load time: the target's own name.
    let text = common::without_publish(embargo::sample::PIPELINE).replace(
        "branch: \"cherry-pick/{tag}/{target}\"",
        "branch: \"{target}\"",
    );
    let p = f.pipeline(&text);
    let check = f.embargo(&["check", p.to_str().unwrap()]);
    check.expect(2);
    common::pin::error(&check);
    says(
        &check,
        &["the pick would be pushed onto the target branch itself"],
    );
    // At plan time: a name that is another target's.
    f.git(&["push", "-q", "origin", "master:refs/heads/x/master"]);
    let text = common::without_publish(embargo::sample::PIPELINE)
        .replace("onto: [master, \"release-*\"]", "onto: [master, \"x/*\"]")
        .replace(
            "branch: \"cherry-pick/{tag}/{target}\"",
            "branch: \"x/{target}\"",
        );
    let p = f.pipeline(&text);
    for args in [vec!["plan"], vec!["run"], vec!["run", "--dry-run"]] {
        let mut args = args.clone();
        args.push(p.to_str().unwrap());
        let run = f.embargo(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.all());
        says(&run, &["gives `x/master` for the target master"]);
    }
    assert!(f.git(&["branch", "--list", "v1.0.2"]).is_empty());
    assert!(
        !f.git_in(&f.sample.private, &["branch", "--list"])
            .contains("v1.0.2")
    );
}

/// The cron fallback goes on starting from the stage job's state folder after the waiting job
/// published: that copy knows nothing of the publication. Its run must find the release public
/// and change nothing: no second push, no release or pull request made or changed twice.
#[test]
fn a_publish_job_from_the_stage_jobs_state_after_the_release_went_out_changes_nothing() {
    let w = crate::world::World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    // The state folder as the stage job uploaded it, before any publish job ran.
    let clone = fresh_clone_with_state(&w.f);
    let pipeline = clone.join("pipelines/security-release.yaml");
    std::fs::copy(&w.pipeline, &pipeline).unwrap();
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    let published = w.end_state();
    let public = public_refs(&w.f);
    let seen = w.gh.requests().len();

    let late = w.embargo(&["publish", pipeline.to_str().unwrap(), "--if-due"]);
    late.expect(0);
    assert_eq!(w.end_state(), published);
    assert_eq!(public_refs(&w.f), public);
    let writes: Vec<String> = w.gh.requests()[seen..]
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "{writes:?}\n{}", late.all());
    assert!(w.gh.violations().is_empty(), "{:?}", w.gh.violations());
}
