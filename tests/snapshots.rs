//! Every text a user reads, pinned: `--help` of each command and `--version`, `check`, `plan`,
//! `status`, `reschedule`, `abort` and `retrospective` on the sample project (text and `--json`,
//! success and failure), and the demo. Each `--json` output must parse and match its committed
//! schema in `schema/output/`.
//!
//! Not pinned here: `run`'s dry-run preview and final summary, and `publish` (they have their
//! own). The errors that the bad-input and hostile tests provoke are pinned in those tests.
//!
//! Snapshots are in `tests/snapshots/`; README.md's Development section says how to update them.

use crate::common;

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use common::{Fixture, Run, pin};
use embargo::sample::PIPELINE;

/// `embargo ARGS` in `cwd` with nothing of this machine's environment but `PATH` and `TMPDIR`.
fn embargo_in(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_embargo"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMPDIR", std::env::temp_dir())
        .output()
        .expect("running embargo");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `args` followed by `more`.
fn and<'a>(args: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    [args, more].concat()
}

#[test]
fn help_of_the_binary_and_of_every_command_and_the_version() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let top = embargo_in(dir.path(), &["--help"]);
    top.expect(0);
    pin::text("help", &top.stdout);
    // Every subcommand clap knows, so a new one cannot go without its help pinned.
    let cli = embargo::cli::Cli::command();
    let names: Vec<String> = cli
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    assert!(names.len() >= 11, "{names:?}");
    for name in &names {
        let run = embargo_in(dir.path(), &[name, "--help"]);
        run.expect(0);
        assert!(run.stderr.is_empty(), "{}", run.stderr);
        pin::text(&format!("help_{name}"), &run.stdout);
    }
    let version = embargo_in(dir.path(), &["--version"]);
    version.expect(0);
    assert_eq!(
        version.stdout,
        format!("embargo {}\n", env!("CARGO_PKG_VERSION"))
    );
    pin::text(
        "version",
        &version
            .stdout
            .replace(env!("CARGO_PKG_VERSION"), "[VERSION]"),
    );
    // A usage error, as text and as JSON.
    let usage = embargo_in(dir.path(), &["plan", "--no-such-flag", "x.yaml"]);
    usage.expect(2);
    pin::text("usage_error", &pin::output_text(&usage));
    let usage = embargo_in(dir.path(), &["plan", "--json", "--no-such-flag", "x.yaml"]);
    usage.expect(2);
    pin::json_named("error", "usage_error_json", &usage);
}

#[test]
fn check_on_valid_passed_and_broken_pipelines() {
    let f = Fixture::new();
    let sample = f.sample_pipeline();
    let p = sample.to_str().unwrap();
    for (name, args) in [
        ("check", vec!["check", p]),
        (
            "check_passed_embargo",
            vec!["check", p, "--embargo", "2020-01-01 00:00 UTC"],
        ),
    ] {
        let text = f.embargo(&args);
        text.expect(0);
        pin::text(name, &pin::output_text(&text));
        let json = f.embargo(&and(&args, &["--json"]));
        json.expect(0);
        let value = pin::json_named("check", &format!("{name}_json"), &json);
        assert_eq!(value["outcome"], "ok");
    }
    // Without an embargo, without cherry-picks, one check.
    let bare = f.pipeline_named(
        "bare.yaml",
        &common::replace_once(
            &common::without_publish(PIPELINE),
            &[("embargo: \"2036-12-01 16:00 UTC\"\n", "")],
        ),
    );
    let run = f.embargo(&["check", bare.to_str().unwrap()]);
    run.expect(0);
    pin::text("check_without_embargo", &pin::output_text(&run));
    let run = f.embargo(&["check", bare.to_str().unwrap(), "--json"]);
    pin::json_named("check", "check_without_embargo_json", &run);

    let broken = f.pipeline_named(
        "broken.yaml",
        &common::replace_once(PIPELINE, &[("  artifacts: [", "  artifact: [")]),
    );
    let run = f.embargo(&["check", broken.to_str().unwrap()]);
    run.expect(2);
    pin::text("check_broken", &pin::output_text(&run));
    let run = f.embargo(&["check", broken.to_str().unwrap(), "--json"]);
    run.expect(2);
    let value = pin::json_named("check", "check_broken_json", &run);
    assert_eq!(value["error"]["kind"], "bad-input");
}

/// One sample project through a release's life, every command but `run` and `publish` pinned
/// at each point: before anything, after a dry run, staged, rescheduled, aborted.
#[test]
fn plan_status_reschedule_and_abort_through_a_release() {
    let f = Fixture::new();
    // The sample's pipeline with GitHub (no token here: plan says what it could not ask).
    let github = f.pipeline_named("github.yaml", PIPELINE);
    let github = github.to_str().unwrap();
    let plan = f.embargo(&["plan", github]);
    plan.expect(0);
    pin::text("plan_with_github", &pin::output_text(&plan));
    let plan = f.embargo(&["plan", github, "--json"]);
    pin::json_named("plan", "plan_with_github_json", &plan);

    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    let cases: [(&str, Vec<&str>); 2] = [("plan", vec!["plan", p]), ("status", vec!["status", p])];
    let pin_all = |when: &str| {
        for (name, args) in &cases {
            let text = f.embargo(args);
            text.expect(0);
            pin::text(&format!("{name}_{when}"), &pin::output_text(&text));
            let json = f.embargo(&and(args, &["--json"]));
            json.expect(0);
            pin::json_named(name, &format!("{name}_{when}_json"), &json);
        }
    };
    pin_all("before_anything");

    f.embargo(&["run", p, "--dry-run"]).expect(0);
    pin_all("after_a_dry_run");

    // Errors before anything is staged.
    for (name, args) in [
        (
            "reschedule_nothing_staged",
            vec!["reschedule", p, "--embargo", "2037-01-01 00:00 UTC"],
        ),
        ("abort_nothing_staged", vec!["abort", p]),
        ("retrospective_nothing_staged", vec!["retrospective", p]),
        ("plan_bad_line", vec!["plan", p, "--line", "9.9"]),
        (
            "status_missing_pipeline",
            vec!["status", "pipelines/nope.yaml"],
        ),
    ] {
        let run = f.embargo(&args);
        run.expect(2);
        pin::text(name, &pin::error_text(&run));
        let json = f.embargo(&and(&args, &["--json"]));
        json.expect(2);
        pin::json_named("error", &format!("{name}_json"), &json);
    }

    f.embargo(&["run", p]).expect(0);
    pin_all("staged");

    // Later is free; earlier needs --earlier; the same instant changes nothing.
    let later = ["reschedule", p, "--embargo", "2037-01-01 00:00 UTC"];
    let run = f.embargo(&later);
    run.expect(0);
    pin::text("reschedule_later", &pin::output_text(&run));
    let later_again = [
        "reschedule",
        p,
        "--embargo",
        "2037-02-01 00:00 UTC",
        "--json",
    ];
    let run = f.embargo(&later_again);
    pin::json_named("reschedule", "reschedule_later_json", &run);
    let run = f.embargo(&later_again);
    let value = pin::json_named("reschedule", "reschedule_unchanged_json", &run);
    assert_eq!(value["outcome"], "unchanged");
    let earlier = ["reschedule", p, "--embargo", "2036-06-01 00:00 UTC"];
    let run = f.embargo(&earlier);
    run.expect(2);
    pin::text("reschedule_earlier_refused", &pin::error_text(&run));
    let run = f.embargo(&and(&earlier, &["--json"]));
    pin::json_named("error", "reschedule_earlier_refused_json", &run);
    let run = f.embargo(&and(&earlier, &["--earlier", "--json"]));
    let value = pin::json_named("reschedule", "reschedule_earlier_json", &run);
    assert_eq!(value["earlier"], true);
    pin_all("rescheduled");

    let run = f.embargo(&["retrospective", p]);
    run.expect(0);
    pin::text("retrospective_staged", &pin::output_text(&run));
    let run = f.embargo(&["retrospective", p, "--json"]);
    pin::json_named("retrospective", "retrospective_staged_json", &run);

    let run = f.embargo(&["abort", p, "--json"]);
    run.expect(0);
    pin::json_named("abort", "abort_json", &run);
    pin_all("aborted");
    let run = f.embargo(&["abort", p]);
    run.expect(2);
    pin::text("abort_nothing_left", &pin::error_text(&run));
}

#[test]
fn plan_with_an_advisory() {
    let f = Fixture::new();
    f.pipeline_named("advisory.yaml", common::ADVISORY);
    let text = common::without_publish(PIPELINE);
    let p = f.pipeline(&format!("{text}advisory: advisory.yaml\n"));
    let p = p.to_str().unwrap();
    let run = f.embargo(&["plan", p]);
    run.expect(0);
    pin::text("plan_with_advisory", &pin::output_text(&run));
    let run = f.embargo(&["plan", p, "--json"]);
    let value = pin::json_named("plan", "plan_with_advisory_json", &run);
    assert!(value["advisory"].is_object(), "{value:#}");
    let run = f.embargo(&["team", p]);
    run.expect(0);
    pin::text("team_with_advisory", &pin::output_text(&run));
    let run = f.embargo(&["team", p, "--json"]);
    pin::json_named("team", "team_with_advisory_json", &run);
}

/// The demo, up to the pushes and API calls it would make: that part (from `what comes next:`,
/// or `what stages 6 and 7 would do:`) is the run's preview, pinned with `run` and `publish`.
#[test]
fn the_demo_whole() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let run = embargo_in(dir.path(), &["demo"]);
    run.expect(0);
    pin::text("demo_stdout", &run.stdout);
    pin::text("demo_stderr", &run.stderr);
}

/// Every committed output schema is a JSON Schema that compiles, and each is one a test above (or
/// in tests/disclosure.rs) validates outputs against.
#[test]
fn every_output_schema_compiles_and_is_used() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/output");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("schema/output")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let used = [
        "abort",
        "announce",
        "build",
        "check",
        "error",
        "plan-set",
        "plan",
        "publish",
        "reschedule",
        "retrospective",
        "run",
        "status",
        "team-access",
        "team",
    ];
    let expected: Vec<String> = used.iter().map(|n| format!("{n}.schema.json")).collect();
    assert_eq!(
        names, expected,
        "a schema in schema/output/ that no test checks, or the reverse"
    );
    for name in used {
        let schema = pin::schema(name);
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("schema/output/{name}.schema.json: {e}"));
    }
}

/// `run` and `publish`, with the pushes and GitHub calls they print: the dry run of the sample
/// with GitHub, then a release without GitHub staged, previewed, published and published again.
#[test]
fn run_and_publish_with_their_actions() {
    let f = Fixture::new();
    let github = f.pipeline_named("github.yaml", PIPELINE);
    let dry = f.embargo(&["run", github.to_str().unwrap(), "--dry-run"]);
    dry.expect(0);
    pin::text("run_dry_run_with_github", &pin::output_text(&dry));

    pin::json_named(
        "run",
        "run_dry_run_with_github_json",
        &f.embargo(&["run", github.to_str().unwrap(), "--dry-run", "--json"]),
    );

    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    // The scheduled job between releases: nothing to do, and green.
    pin::json_named(
        "publish",
        "publish_nothing_staged_json",
        &f.embargo(&["publish", p, "--if-due", "--json"]),
    );
    let run = f.embargo(&["run", p, "--embargo", "now", "--json"]);
    run.expect(0);
    pin::json_named("run", "run_staged_json", &run);
    let again = f.embargo(&["run", p, "--embargo", "now"]);
    again.expect(0);
    pin::text("run_staged", &pin::output_text(&again));
    let preview = f.embargo(&["publish", p, "--dry-run"]);
    preview.expect(0);
    pin::text("publish_dry_run", &pin::output_text(&preview));
    pin::json_named(
        "publish",
        "publish_dry_run_json",
        &f.embargo(&["publish", p, "--dry-run", "--json"]),
    );
    let published = f.embargo(&["publish", p, "--if-due"]);
    published.expect(0);
    pin::text("publish", &pin::output_text(&published));
    let again = f.embargo(&["publish", p, "--if-due"]);
    again.expect(0);
    pin::text("publish_again", &pin::output_text(&again));
    pin::json_named(
        "publish",
        "publish_again_json",
        &f.embargo(&["publish", p, "--if-due", "--json"]),
    );
    // A release already out: `run` says so, as one outcome.
    pin::json_named(
        "run",
        "run_released_json",
        &f.embargo(&["run", p, "--embargo", "now", "--json"]),
    );
}

/// `publish` before the instant: the scheduled job says when, and so does the refusal without
/// `--wait`.
#[test]
fn publish_before_the_instant() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline();
    let p = pipeline.to_str().unwrap();
    f.embargo(&["run", p]).expect(0);
    let cron = f.embargo(&["publish", p, "--if-due"]);
    cron.expect(0);
    pin::text("publish_not_due", &pin::output_text(&cron));
    pin::json_named(
        "publish",
        "publish_not_due_json",
        &f.embargo(&["publish", p, "--if-due", "--json"]),
    );
    let early = f.embargo(&["publish", p]);
    early.expect(2);
    pin::text("publish_too_early", &pin::error_text(&early));

    // A runner waiting for the instant holds the release: the scheduled job leaves it be.
    let mut waiting = Command::new(env!("CARGO_BIN_EXE_embargo"))
        .args(["publish", p, "--wait"])
        .current_dir(f.work())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(f.sample.env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting publish --wait");
    let lock = f.state_dir("v1.0.2").join("lock");
    let held = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("publish"))
    });
    let busy = f.embargo(&["publish", p, "--if-due"]);
    let _ = waiting.kill();
    let _ = waiting.wait();
    assert!(held, "publish --wait never took the lock");
    busy.expect(0);
    pin::text("publish_busy", &pin::output_text(&busy));
}
