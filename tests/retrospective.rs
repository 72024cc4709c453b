//! `embargo retrospective` asks GitHub where each pull request publishing opened stands: merged,
//! open, or closed without being merged. A pick that never got merged must show; without a token
//! or with `--offline` the retrospective is written from the journal alone and says the merge
//! state was not checked; a failing GitHub still gives the retrospective and a contract exit code.

use crate::common;
use crate::world;

use world::World;

const GET_PULL: &str = "GET /repos/{owner}/{repo}/pulls/{pull_number}";

/// The sample published on the fake GitHub with a third release branch, so that publishing opens
/// three pull requests (release-1.0, release-1.1, release-1.2; master needs a manual backport).
fn published() -> World {
    let w = World::with_advisory();
    w.f.git(&["branch", "release-1.2", "release-1.1"]);
    w.f.git(&["push", "-q", "origin", "refs/heads/release-1.2"]);
    w.f.git(&["push", "-q", "security", "refs/heads/release-1.2"]);
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    w.embargo(&["publish", w.p(), "--if-due", "--embargo", "now"])
        .expect(0);
    assert_eq!(w.gh.pulls().len(), 3, "{:#?}", w.gh.pulls());
    w
}

/// The number of the pull request into `base`.
fn pull_into(w: &World, base: &str) -> u64 {
    w.gh.pulls()
        .iter()
        .find(|p| p.base == base)
        .unwrap_or_else(|| panic!("no pull request into {base}"))
        .number
}

#[test]
fn retrospective_asks_github_which_pull_requests_are_merged_open_or_closed_unmerged() {
    let w = published();
    let merged = pull_into(&w, "release-1.0");
    let open = pull_into(&w, "release-1.1");
    let closed = pull_into(&w, "release-1.2");
    w.gh.merge_pull("example", "app", merged);
    w.gh.set_pull_state("example", "app", closed, "closed");
    let before = w.gh.requests().len();

    let run = w.embargo(&["retrospective", w.p()]);
    run.expect(0);
    common::pin::output(&run);
    let text = &run.stdout;
    assert!(
        text.contains(&format!(
            "**Not merged: 2 of the 3 pull requests carrying the fix to other branches: \
             #{open} into release-1.1 (open), #{closed} into release-1.2 (closed without being merged).**"
        )),
        "{text}"
    );
    for (number, line) in [
        (
            merged,
            "cherry-pick/v1.0.2/release-1.0 -> release-1.0: merged ",
        ),
        (
            open,
            "cherry-pick/v1.0.2/release-1.1 -> release-1.1: **open, not merged**",
        ),
        (
            closed,
            "cherry-pick/v1.0.2/release-1.2 -> release-1.2: **closed without being merged**",
        ),
    ] {
        let url = format!("{}/example/app/pull/{number}", w.gh.api_url());
        assert!(
            text.contains(&format!("- [#{number}]({url}) {line}")),
            "#{number} `{line}` missing in\n{text}"
        );
    }
    assert!(
        text.contains("Merge state as GitHub (example/app) reported it when this was written."),
        "{text}"
    );
    // Asked with one read per pull request, and nothing else: a retrospective changes nothing.
    let asked: Vec<String> =
        w.gh.requests()
            .iter()
            .skip(before)
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
    let mut expected: Vec<String> = [merged, open, closed]
        .iter()
        .map(|n| format!("GET /repos/example/app/pulls/{n}"))
        .collect();
    let mut sorted = asked.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "{asked:?}");

    let json = w.embargo(&["retrospective", w.p(), "--json"]);
    json.expect(0);
    let value = common::pin::json("retrospective", &json);
    assert_eq!(value["merge_check"]["status"], "checked");
    let state = |n: u64| {
        value["pull_requests"]
            .as_array()
            .expect("pull_requests")
            .iter()
            .find(|p| p["number"] == n)
            .map(|p| (p["merge_state"].clone(), p["merged_at"].is_string()))
            .expect("the pull request")
    };
    assert_eq!(state(merged), (serde_json::json!("merged"), true));
    assert_eq!(state(open), (serde_json::json!("open"), false));
    assert_eq!(state(closed), (serde_json::json!("closed_unmerged"), false));
    assert_eq!(value["markdown"], text.as_str());
    w.no_violations();
}

#[test]
fn retrospective_offline_or_without_a_token_says_the_merge_state_was_not_checked() {
    let w = published();
    w.gh.merge_pull("example", "app", pull_into(&w, "release-1.0"));
    let before = w.gh.requests().len();

    let offline = w.embargo(&["retrospective", w.p(), "--offline"]);
    offline.expect(0);
    common::pin::output(&offline);
    assert_eq!(w.gh.requests().len(), before, "--offline asked GitHub");
    let text = &offline.stdout;
    assert!(
        text.contains("Merge state not checked (--offline).\n"),
        "{text}"
    );
    // Nothing is claimed either way: not merged, and not "not merged" either.
    assert_eq!(
        text.matches(": merge state not checked\n").count(),
        3,
        "{text}"
    );
    assert!(!text.contains("Not merged"), "{text}");
    assert!(!text.contains(": merged"), "{text}");

    // No token: the same, saying which variable to set.
    let no_token = w.f.embargo_env(
        &["retrospective", w.p(), "--json"],
        &[("EMBARGO_GITHUB_API_URL", w.gh.api_url().as_str())],
    );
    no_token.expect(0);
    let value = common::pin::json("retrospective", &no_token);
    assert_eq!(
        w.gh.requests().len(),
        before,
        "asked GitHub without a token"
    );
    assert_eq!(value["merge_check"]["status"], "no_token");
    assert!(
        value["markdown"].as_str().unwrap_or_default().contains(
            "Merge state not checked: GITHUB_TOKEN (publish.github.token_env) is not set.\n"
        ),
        "{value}"
    );
    assert!(
        value["pull_requests"]
            .as_array()
            .expect("pull_requests")
            .iter()
            .all(|p| p["merge_state"] == "not_checked" && p["merged_at"].is_null()),
        "{value}"
    );
}

#[test]
fn retrospective_with_a_failing_github_is_written_and_ends_with_githubs_exit_code() {
    let w = published();
    let out = w.f.work().join("retrospective.md");
    let out_arg = out.display().to_string();

    // GitHub failing (every retry): the retrospective is written, says why, and the run fails
    // with exit 1.
    w.gh.fail_next(GET_PULL, 5, 502);
    let failed = w.embargo(&["retrospective", w.p(), "--output", &out_arg]);
    failed.expect(1);
    common::pin::output(&failed);
    let text = &failed.stdout;
    assert!(text.starts_with("# Retrospective: v1.0.2"), "{text}");
    assert!(
        text.contains("Merge state not checked: GitHub failed (GET ")
            && text.contains("GitHub answered 502"),
        "{text}"
    );
    assert!(!text.contains(": merged"), "{text}");
    assert!(
        failed.stderr.contains(
            "the retrospective was written, but the pull requests' merge state could not be checked"
        ),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("--offline"), "{}", failed.stderr);
    assert_eq!(
        std::fs::read_to_string(&out).expect("--output"),
        *text,
        "--output holds what was printed"
    );
    w.gh.clear_faults();

    // A token GitHub refuses is bad input (exit 2); with --json, the error document.
    let refused = w.f.embargo_env(
        &["retrospective", w.p(), "--json"],
        &[
            ("GITHUB_TOKEN", "not-the-token"),
            ("EMBARGO_GITHUB_API_URL", w.gh.api_url().as_str()),
        ],
    );
    refused.expect(2);
    let value = common::pin::json("retrospective", &refused);
    let message = value["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("GitHub answered 401"), "{value}");
    assert!(
        value["error"]["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("the token was refused"),
        "{value}"
    );
    assert!(
        !refused.all().contains("not-the-token"),
        "{}",
        refused.all()
    );
}
