//! Crash anywhere, rerun, same result. The runner is killed with SIGKILL at every stage boundary,
//! inside the build, between the private push and the journal, between uploads, between the
//! public push and the release, between the release and the pull requests; then it is run again
//! to the end, and everything it leaves (both remotes' refs, the release and its assets, the pull
//! requests) must equal what an uninterrupted run leaves.

use crate::world;

use world::World;

/// Every crash point, in the order a release passes them.
const RUN_POINTS: &[&str] = &[
    "prepare:started",
    "prepare:before-journal",
    "prepare:completed",
    "build:started",
    "build:after-step:binaries",
    "build:before-journal",
    "build:completed",
    "verify:started",
    "verify:before-journal",
    "verify:completed",
    "freeze:started",
    "freeze:before-journal",
    "freeze:completed",
    "cherry-pick:started",
    "cherry-pick:before-journal",
    "cherry-pick:completed",
    "stage:started",
    "stage:after-private-push",
    "stage:after-draft-created",
    "upload:after:app-linux-amd64.tar.gz",
    "upload:after:SHA256SUMS",
    "stage:before-journal",
    "stage:completed",
];

const PUBLISH_POINTS: &[&str] = &[
    "publish:prepared",
    "publish:after-public-push",
    "publish:after-release-published",
    "publish:after-pull:release-1.0",
    "publish:after-pull:release-1.1",
    "publish:before-journal",
];

/// The crash points a release with a security advisory adds.
const ADVISORY_POINTS: &[&str] = &[
    "stage:after-advisory-created",
    "stage:before-journal",
    "publish:after-release-published",
    "publish:after-advisory-published",
];

/// The whole release, with an optional crash at `point` followed by a plain rerun.
fn release(point: Option<&str>, past: &str) -> String {
    release_of(World::new(), point, past)
}

fn release_of(w: World, point: Option<&str>, past: &str) -> String {
    let crash = point
        .map(|p| vec![("EMBARGO_TEST_CRASH_AT", p)])
        .unwrap_or_default();
    let run_args = ["run", w.p(), "--embargo", past];
    let publish_args = ["publish", w.p(), "--if-due", "--embargo", past];
    let in_run = point.is_some_and(|p| p.starts_with("stage:") || RUN_POINTS.contains(&p));

    let first = w.embargo_env(&run_args, if in_run { &crash } else { &[] });
    if in_run {
        assert_eq!(
            first.code,
            -1,
            "{point:?}: the runner was not killed\n{}",
            first.all()
        );
        w.embargo(&run_args).expect(0);
    } else {
        first.expect(0);
    }
    let publish = w.embargo_env(&publish_args, if in_run { &[] } else { &crash });
    if point.is_some() && !in_run {
        assert_eq!(
            publish.code,
            -1,
            "{point:?}: the runner was not killed\n{}",
            publish.all()
        );
        w.embargo(&publish_args).expect(0);
    } else {
        publish.expect(0);
    }
    // A further run of each finds nothing to do.
    w.embargo(&publish_args).expect(0);
    w.no_violations();
    w.end_state()
}

/// The uninterrupted release, then one interrupted release per point, all compared.
fn crash_at(points: &[&str]) {
    let past = "now".to_string();
    let reference = release(None, &past);
    assert!(
        reference.contains("release v1.0.2 draft=false"),
        "{reference}"
    );
    assert!(reference.contains("refs/tags/v1.0.2"), "{reference}");
    for point in points {
        let state = release(Some(point), &past);
        assert_eq!(state, reference, "after a crash at {point}");
    }
}

// Split so that the test runner can use both cores.
#[test]
fn a_crash_in_prepare_build_or_verify_then_a_rerun_ends_as_an_uninterrupted_release() {
    crash_at(&RUN_POINTS[..10]);
}

#[test]
fn a_crash_in_freeze_or_cherry_pick_then_a_rerun_ends_as_an_uninterrupted_release() {
    crash_at(&RUN_POINTS[10..16]);
}

#[test]
fn a_crash_while_staging_then_a_rerun_ends_as_an_uninterrupted_release() {
    crash_at(&RUN_POINTS[16..]);
}

#[test]
fn a_crash_while_publishing_then_a_rerun_ends_as_an_uninterrupted_release() {
    crash_at(PUBLISH_POINTS);
}

#[test]
fn a_crash_around_the_security_advisory_then_a_rerun_ends_with_one_advisory_published() {
    let past = "now".to_string();
    let reference = release_of(World::with_advisory(), None, &past);
    assert!(
        reference.contains(
            "advisory published Anonymous access with an expired token cve_requested=true"
        ),
        "{reference}"
    );
    assert_eq!(reference.matches("advisory ").count(), 1, "{reference}");
    for point in ADVISORY_POINTS {
        let state = release_of(World::with_advisory(), Some(point), &past);
        assert_eq!(state, reference, "after a crash at {point}");
    }
}

/// Three lines released together (one with its own backport), crashed at each point where a
/// release of several lines does something of its own: the one private push, the drafts, the one
/// public push, the releases published one after the other, the pull requests.
#[test]
fn a_crash_while_staging_or_publishing_three_lines_then_a_rerun_ends_as_an_uninterrupted_release() {
    let three = crate::lines::three_lines_on_github;
    let reference = release_of(three(), None, "now");
    for tag in ["v1.2.1", "v1.1.1", "v1.0.2"] {
        assert!(
            reference.contains(&format!("release {tag} draft=false")),
            "{reference}"
        );
    }
    for point in [
        "cherry-pick:completed",
        "stage:after-private-push",
        "stage:after-draft-created",
        "stage:completed",
        "publish:prepared",
        "publish:after-public-push",
        "publish:after-release-published",
        "publish:after-pull:release-1.1",
        "publish:before-journal",
    ] {
        let state = release_of(three(), Some(point), "now");
        assert_eq!(state, reference, "after a crash at {point}");
    }
}
