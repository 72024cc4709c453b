//! `embargo ci generate`: the workflow a pipeline gets, the committed examples kept in step with
//! the example pipelines, and the ways a stale file or a bad place to write it is refused.

use crate::common;
use crate::world;

use std::path::Path;
use std::process::Command;

use common::{Fixture, Run};
use embargo::sample::PIPELINE;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `embargo ARGS` in `cwd` with nothing of this machine's environment but `PATH`.
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

/// The example pipelines and the workflow committed for each.
const EXAMPLES: &[(&str, &str)] = &[
    ("pipelines/generic.yaml", "security-release.example.yml"),
    ("pipelines/istio.yaml", "istio-security-release.example.yml"),
];

#[test]
fn each_committed_example_workflow_is_what_its_pipeline_generates() {
    for (pipeline, file) in EXAMPLES {
        embargo_in(
            root(),
            &["ci", "generate", pipeline, "--file", file, "--check"],
        )
        .expect(0);

        // And generating afresh gives the committed bytes exactly.
        let out = tempfile::tempdir().expect("temporary folder");
        let dir = out.path().to_str().expect("utf-8");
        embargo_in(
            root(),
            &["ci", "generate", pipeline, "--file", file, "--output", dir],
        )
        .expect(0);
        let generated = std::fs::read(out.path().join(file)).expect("generated");
        let committed =
            std::fs::read(root().join(".github/workflows").join(file)).expect("committed");
        assert!(
            generated == committed,
            "{file} is not what {pipeline} generates"
        );
    }
}

#[test]
fn check_fails_on_a_one_line_edit_and_on_a_missing_file_and_says_how_to_fix_it() {
    let (pipeline, file) = EXAMPLES[0];
    let out = tempfile::tempdir().expect("temporary folder");
    let dir = out.path().to_str().expect("utf-8");
    let args = ["ci", "generate", pipeline, "--file", file, "--output", dir];

    // Nothing there yet.
    let run = embargo_in(root(), &[&args[..], &["--check"]].concat());
    run.expect(1);
    assert!(run.stderr.contains("no such workflow"), "{}", run.stderr);
    assert!(run.stderr.contains("embargo ci generate"), "{}", run.stderr);

    embargo_in(root(), &args).expect(0);
    embargo_in(root(), &[&args[..], &["--check"]].concat()).expect(0);

    // One line loosened by hand: the job may now cancel a pending release.
    let path = out.path().join(file);
    let text = std::fs::read_to_string(&path).expect("workflow");
    let edited = text.replacen("cancel-in-progress: false", "cancel-in-progress: true", 1);
    assert_ne!(text, edited);
    std::fs::write(&path, &edited).expect("edit");
    let line = text
        .lines()
        .position(|l| l.contains("cancel-in-progress"))
        .expect("line")
        + 1;
    let run = embargo_in(root(), &[&args[..], &["--check"]].concat());
    run.expect(1);
    assert!(
        run.stderr.contains(&format!("line {line}:"))
            && run.stderr.contains("cancel-in-progress: true")
            && run.stderr.contains("cancel-in-progress: false"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("embargo ci generate"), "{}", run.stderr);
    // --check wrote nothing.
    assert_eq!(std::fs::read_to_string(&path).expect("workflow"), edited);

    // A file cut short is stale too.
    std::fs::write(&path, &text[..text.len() / 2]).expect("truncate");
    embargo_in(root(), &[&args[..], &["--check"]].concat()).expect(1);
}

#[test]
fn a_bad_output_folder_or_file_name_is_refused_before_anything_is_written() {
    let fixture = Fixture::new();
    let pipeline = fixture.sample_pipeline();
    let p = pipeline.to_str().expect("utf-8");
    let blocker = fixture.work().join("not-a-folder");
    std::fs::write(&blocker, "x").expect("file");

    let run = fixture.embargo(&["ci", "generate", p, "--output", "not-a-folder"]);
    run.expect(2);
    assert!(run.stderr.contains("--output"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&blocker).expect("file"), "x");

    let run = fixture.embargo(&["ci", "generate", p, "--output", "not-a-folder/sub"]);
    run.expect(2);

    for name in ["../escape.yml", "a/b.yml", "workflow.txt", ".hidden.yml"] {
        let run = fixture.embargo(&["ci", "generate", p, "--file", name]);
        run.expect(2);
        assert!(run.stderr.contains("--file"), "{name}: {}", run.stderr);
    }
    assert!(!fixture.work().join(".github").exists());
    assert!(!fixture.work().join("escape.yml").exists());

    // The default: the clone's .github/workflows, named after the pipeline.
    fixture.embargo(&["ci", "generate", p]).expect(0);
    assert!(
        fixture
            .work()
            .join(".github/workflows/security-release.yml")
            .is_file()
    );
}

/// Reads the generated workflow of `pipeline_text` (written into the fixture's clone).
fn generate(fixture: &Fixture, pipeline_text: &str) -> (String, serde_json::Value) {
    let path = fixture.pipeline(pipeline_text);
    fixture
        .embargo(&["ci", "generate", path.to_str().expect("utf-8")])
        .expect(0);
    let text = std::fs::read_to_string(
        fixture
            .work()
            .join(".github/workflows/security-release.yml"),
    )
    .expect("workflow");
    let value = serde_saphyr::from_str(&text).expect("workflow YAML");
    (text, value)
}

/// What the workflow promises: it runs only in a private repository, holds least privilege,
/// pins actions, carries the state folder as an archive, fits 6 hours, never cancels a release.
#[test]
fn the_generated_workflow_runs_only_in_a_private_repository_with_least_privilege() {
    let fixture = Fixture::new();
    let (text, workflow) = generate(&fixture, PIPELINE);
    assert_eq!(workflow["permissions"], serde_json::json!({}));
    assert_eq!(
        workflow["env"]["EMBARGO_PIPELINE"],
        "pipelines/security-release.yaml"
    );
    let jobs = workflow["jobs"].as_object().expect("jobs");
    assert_eq!(jobs.len(), 3);
    let mut groups = std::collections::BTreeSet::new();
    for (name, job) in jobs {
        let guard = job["if"].as_str().expect("if");
        assert!(
            guard.contains("github.event.repository.private == true"),
            "{name} may run in a public repository: {guard}"
        );
        assert!(
            job["timeout-minutes"].as_u64().expect("timeout") < 360,
            "{name}"
        );
        let permissions = job["permissions"].as_object().expect("permissions");
        let writes: Vec<_> = permissions
            .iter()
            .filter(|(_, v)| *v == "write")
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            writes,
            if name == "stage" {
                vec!["contents"]
            } else {
                vec![]
            },
            "{name}"
        );
        assert_eq!(job["concurrency"]["cancel-in-progress"], false, "{name}");
        assert!(
            groups.insert(job["concurrency"]["group"].to_string()),
            "{name}"
        );
        for step in job["steps"].as_array().expect("steps") {
            if let Some(uses) = step["uses"].as_str() {
                let sha = uses.split_once('@').map(|(_, r)| r).unwrap_or("");
                assert!(sha.len() == 40, "{name}: {uses} is not pinned");
            }
            let run = step["run"].as_str().unwrap_or("");
            // No expression is ever spliced into a shell line.
            assert!(!run.contains("${{"), "{name}: {run}");
        }
    }
    assert!(text.contains("tar -C .git -czf"));
    // The run that publishes keeps the state folder that recorded it.
    assert_eq!(
        text.matches("name: embargo-state-published").count(),
        2,
        "{text}"
    );
    assert_eq!(
        jobs["publish"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["id"] == "publish")
            .count(),
        1
    );
    assert!(text.contains("secrets.EMBARGO_PUBLIC_TOKEN"));
    // The secret never reaches a job-wide or workflow-wide environment.
    assert!(workflow["env"].to_string().find("secrets").is_none());
    // The waiting job starts 30 minutes before the pipeline's instant (2036-12-01 16:00 UTC).
    assert!(text.contains("- cron: \"30 15 1 12 *\""), "{text}");
}

#[test]
fn the_private_repository_named_in_the_pipeline_is_the_only_place_jobs_run() {
    let fixture = Fixture::new();
    let text = PIPELINE.replace(
        "  github:\n",
        "  github:\n    private_repository: acme/app-security\n",
    );
    assert_ne!(text, PIPELINE);
    let (_, workflow) = generate(&fixture, &text);
    for (name, job) in workflow["jobs"].as_object().expect("jobs") {
        assert!(
            job["if"]
                .as_str()
                .unwrap_or("")
                .contains("github.repository == 'acme/app-security'"),
            "{name}"
        );
    }
}

#[test]
fn the_schedule_and_timeouts_follow_the_pipeline() {
    let fixture = Fixture::new();
    // Just after midnight on the first of a month: the waiting job starts the day before.
    let text = PIPELINE.replace("2036-12-01 16:00 UTC", "2037-03-01 00:10 UTC");
    assert_ne!(text, PIPELINE);
    let (yaml, workflow) = generate(&fixture, &text);
    assert!(yaml.contains("- cron: \"40 23 28 2 *\""), "{yaml}");
    assert!(workflow["jobs"]["stage"]["timeout-minutes"].as_u64() < Some(360));

    // Build steps that may take ten hours still give a job GitHub lets live.
    let long = PIPELINE.replacen("timeout: 5m", "timeout: 10h", 1);
    assert_ne!(long, PIPELINE);
    let (_, workflow) = generate(&fixture, &long);
    assert_eq!(workflow["jobs"]["stage"]["timeout-minutes"], 350);

    // No instant in the pipeline: no scheduled waiting job, only the fallback.
    let none = PIPELINE.replace("embargo: \"2036-12-01 16:00 UTC\"\n", "");
    assert_ne!(none, PIPELINE);
    let (yaml, _) = generate(&fixture, &none);
    assert_eq!(yaml.matches("- cron:").count(), 1, "{yaml}");
}

/// Values from the pipeline reach the workflow only as quoted YAML and environment variables:
/// a remote or repository that tries to break out is refused.
#[test]
fn pipeline_values_that_would_break_out_of_the_workflow_are_refused() {
    let fixture = Fixture::new();
    for (from, to) in [
        (
            "public: origin",
            "public: \"https://example.org/$(id).git\"",
        ),
        (
            "public: origin",
            "public: \"https://user:secret@example.org/app.git\"",
        ),
        ("public: origin", "public: \"git@example.org:app.git\""),
        ("private: security", "private: \"-c core.sshCommand=evil\""),
    ] {
        let text = PIPELINE.replace(from, to);
        assert_ne!(text, PIPELINE, "{from}");
        let path = fixture.pipeline(&text);
        let run = fixture.embargo(&["ci", "generate", path.to_str().expect("utf-8")]);
        assert_eq!(run.code, 2, "{to}: {}", run.all());
        assert!(!run.all().contains("secret@"), "{}", run.all());
    }
    assert!(!fixture.work().join(".github/workflows").exists());
}

/// A GitHub Actions job's files in the test's own temporary folder, and the variables that name
/// them (set for the child process only).
struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new(event: &str) -> Job {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(dir.path().join("event.json"), event).expect("event");
        Job { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_ACTIONS", "true".to_string()),
            ("CI", "true".to_string()),
            ("GITHUB_EVENT_PATH", self.path("event.json")),
            ("GITHUB_STEP_SUMMARY", self.path("summary.md")),
            ("GITHUB_OUTPUT", self.path("output")),
        ]
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn run_in_job(fixture: &Fixture, job: &Job, args: &[&str]) -> Run {
    let env = job.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fixture.embargo_env(args, &env)
}

const PUBLIC_EVENT: &str = r#"{"repository": {"full_name": "example/app", "private": false}}"#;
const PRIVATE_EVENT: &str =
    r#"{"repository": {"full_name": "example/app-security", "private": true}}"#;

#[test]
fn run_in_a_public_repository_job_is_refused_before_anything_is_pushed() {
    let fixture = Fixture::new();
    let pipeline = fixture.default_pipeline();
    let p = pipeline.to_str().expect("utf-8");
    let refs = |f: &Fixture| f.git_in(&f.sample.private, &["for-each-ref"]);
    let before = refs(&fixture);

    // Public, and a payload that says nothing of privacy, and one that is not JSON: all refused.
    for event in [PUBLIC_EVENT, r#"{"schedule": "*/5 * * * *"}"#, "not json"] {
        let job = Job::new(event);
        let run = run_in_job(&fixture, &job, &["run", p]);
        run.expect(2);
        assert!(run.stderr.contains("--allow-public-ci"), "{}", run.stderr);
        assert!(run.stderr.contains("nothing was done"), "{}", run.stderr);
        assert!(job.read("output").is_empty());
    }
    assert_eq!(
        refs(&fixture),
        before,
        "something reached the private remote"
    );
    assert!(!fixture.state_dir("v1.0.2").exists(), "state was written");
    assert!(fixture.git(&["tag", "--list", "v1.0.2"]).is_empty());

    // A dry run pushes nothing, but its log and summary would show the fix's subjects, the
    // conflicting files and the build: refused as well.
    let job = Job::new(PUBLIC_EVENT);
    let dry = run_in_job(&fixture, &job, &["run", p, "--dry-run"]);
    dry.expect(2);
    assert!(
        !dry.stderr.contains("Deny anonymous access"),
        "{}",
        dry.stderr
    );
    assert!(job.read("summary.md").is_empty());
    assert_eq!(refs(&fixture), before);

    // The lead's explicit choice goes on, with a warning.
    let run = run_in_job(&fixture, &job, &["run", p, "--allow-public-ci"]);
    run.expect(0);
    assert!(
        run.stderr
            .contains("warning: this GitHub Actions job runs in a public repository")
    );
    assert_ne!(refs(&fixture), before);
}

#[test]
fn run_in_a_private_repository_job_writes_the_summary_and_the_outputs() {
    let fixture = Fixture::new();
    let pipeline = fixture.default_pipeline();
    let job = Job::new(PRIVATE_EVENT);
    run_in_job(&fixture, &job, &["run", pipeline.to_str().expect("utf-8")]).expect(0);

    let outputs = job.read("output");
    assert_eq!(
        outputs.lines().collect::<Vec<_>>(),
        ["tag=v1.0.2", "version=1.0.2", "release_url="],
        "{outputs}"
    );
    let summary = job.read("summary.md");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.state_dir("v1.0.2").join("manifest.json"))
            .expect("manifest"),
    )
    .expect("manifest JSON");
    assert!(
        summary.contains("## embargo: v1.0.2 frozen and staged privately"),
        "{summary}"
    );
    assert!(
        summary.contains("| latest patch release | `v1.0.1` |"),
        "{summary}"
    );
    assert!(
        summary.contains("| embargo | 2036-12-01 16:00:00 UTC |"),
        "{summary}"
    );
    assert!(summary.contains("### Cherry-picks"), "{summary}");
    assert!(summary.contains("What publishing will do"), "{summary}");
    for artifact in manifest["artifacts"].as_array().expect("artifacts") {
        let line = format!(
            "{}  {}",
            artifact["sha256"].as_str().expect("sha"),
            artifact["name"].as_str().expect("name")
        );
        assert!(summary.contains(&line), "{line} not in\n{summary}");
    }
    // Appended, never overwritten: an earlier step's summary stays.
    let job2 = Job::new(PRIVATE_EVENT);
    std::fs::write(job2.dir.path().join("summary.md"), "earlier step\n").expect("summary");
    run_in_job(&fixture, &job2, &["run", pipeline.to_str().expect("utf-8")]).expect(0);
    assert!(
        job2.read("summary.md")
            .starts_with("earlier step\n## embargo")
    );
}

#[test]
fn a_pipeline_error_on_github_actions_is_annotated_on_its_line() {
    let fixture = Fixture::new();
    let pipeline = fixture.default_pipeline_with(&[("on_conflict:", "on_conflct:")]);
    let p = pipeline.to_str().expect("utf-8");
    let job = Job::new(PRIVATE_EVENT);
    let run = run_in_job(&fixture, &job, &["check", p]);
    run.expect(2);
    let text = std::fs::read_to_string(&pipeline).expect("pipeline");
    let line = text
        .lines()
        .position(|l| l.contains("on_conflct:"))
        .expect("line")
        + 1;
    let annotation = run
        .stderr
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation in\n{}", run.stderr));
    assert!(
        annotation.starts_with(&format!(
            "::error file={},line={line},col=",
            p.replace(':', "%3A")
        )),
        "{annotation}"
    );
    assert!(annotation.contains("on_conflct"), "{annotation}");

    // Off GitHub Actions, no workflow command.
    let run = fixture.embargo(&["check", p]);
    run.expect(2);
    assert!(!run.stderr.contains("::error"), "{}", run.stderr);
}

#[test]
fn the_draft_and_the_published_release_reach_the_job_outputs() {
    let w = world::World::new();
    let stage = Job::new(PRIVATE_EVENT);
    let env = stage.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.embargo_env(&["run", w.p(), "--embargo", "now"], &env)
        .expect(0);
    let draft = w.one_release_with_the_built_assets();
    assert!(draft.draft);
    let outputs = stage.read("output");
    let url = outputs
        .lines()
        .find_map(|l| l.strip_prefix("release_url="))
        .expect("release_url");
    assert!(!url.is_empty(), "{outputs}");
    assert!(
        stage
            .read("summary.md")
            .contains(&format!("| draft release | {url} |"))
    );

    let publish = Job::new(PRIVATE_EVENT);
    let env = publish.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env)
        .expect(0);
    let outputs = publish.read("output");
    let lines: Vec<&str> = outputs.lines().collect();
    assert_eq!(lines[..2], ["tag=v1.0.2", "version=1.0.2"], "{outputs}");
    assert!(
        lines[2].starts_with("release_url=") && lines[2].len() > "release_url=".len(),
        "{outputs}"
    );
    assert!(
        publish
            .read("summary.md")
            .contains("## embargo: v1.0.2 is public")
    );
    w.no_violations();
}

#[test]
fn a_pipeline_path_holding_an_expression_is_refused() {
    let fixture = Fixture::new();
    let text = std::fs::read_to_string(fixture.sample_pipeline()).unwrap();
    let p = fixture.pipeline_named("x${{ github.token }}.yaml", &text);
    let run = fixture.embargo(&[
        "ci",
        "generate",
        p.to_str().unwrap(),
        "--output",
        fixture.sample.root.join("out").to_str().unwrap(),
    ]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("which GitHub would evaluate as an expression"),
        "{}",
        run.stderr
    );
    assert!(!fixture.sample.root.join("out").exists());
}

/// A build split across runners: the prepare job, one build job per shard (on its own runner,
/// with no secret and a read-only token), the stage job taking every shard; each runs the very
/// command the fan-out tests run (tests/fanout.rs).
#[test]
fn a_split_build_gets_a_prepare_job_a_job_per_shard_and_a_stage_job_taking_them() {
    let fixture = Fixture::new();
    let text = common::replace_once(
        PIPELINE,
        &[
            (
                "  checksums: SHA256SUMS\n",
                "  checksums: SHA256SUMS\n  matrix:\n    - name: linux-amd64\n    - name: linux-arm64\n      runs_on: ubuntu-24.04-arm\n",
            ),
            (
                "  artifacts: [\"dist/*.tar.gz\"]",
                "  artifacts: [\"dist/app-{shard}.tar.gz\"]",
            ),
        ],
    );
    let (text, workflow) = generate(&fixture, &text);
    let jobs = workflow["jobs"].as_object().expect("jobs");
    let names: Vec<&str> = jobs.keys().map(String::as_str).collect();
    assert_eq!(names, ["build", "fallback", "prepare", "publish", "stage"]);

    let build = &jobs["build"];
    assert_eq!(build["needs"], "prepare");
    assert_eq!(
        build["strategy"]["matrix"]["include"],
        serde_json::json!([
            {"shard": "linux-amd64", "runs-on": "ubuntu-latest"},
            {"shard": "linux-arm64", "runs-on": "ubuntu-24.04-arm"},
        ])
    );
    assert_eq!(build["runs-on"], "${{ matrix.runs-on }}");
    assert_eq!(
        build["permissions"],
        serde_json::json!({"contents": "read"})
    );
    // No secret in a shard's job: its build steps may be anyone's.
    assert!(!build.to_string().contains("secrets."), "{build}");
    let step_runs = |job: &serde_json::Value| -> String {
        job["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(step_runs(build).contains(
        "embargo build \"$EMBARGO_PIPELINE\" --shard \"$EMBARGO_INPUT_SHARD\" --output \"$RUNNER_TEMP/shard\""
    ));
    assert!(
        step_runs(&jobs["prepare"]).contains("embargo run \"$EMBARGO_PIPELINE\" --until prepare")
    );
    let stage = &jobs["stage"];
    assert_eq!(stage["needs"], serde_json::json!(["prepare", "build"]));
    assert!(step_runs(stage).contains("--shards \"$RUNNER_TEMP/shards\""));
    // The state folder of the prepare job goes on to the shards and the stage job, the stage
    // job's to the publish jobs.
    assert!(text.contains("name: embargo-state-prepared"));
    assert!(text.contains("pattern: embargo-shard-*"));
    assert!(text.contains("name: embargo-shard-${{ matrix.shard }}"));
    for (name, job) in jobs {
        let writes = job["permissions"].to_string().contains("write");
        assert_eq!(writes, name == "prepare" || name == "stage", "{name}");
        for step in job["steps"].as_array().expect("steps") {
            assert!(
                !step["run"].as_str().unwrap_or("").contains("${{"),
                "{name}"
            );
        }
    }
}

/// The jobs of a split build in a GitHub Actions job: refused in a public repository like
/// `run`; otherwise each says in the job summary what it made, and the prepare job gives the
/// release commit to later steps.
#[test]
fn the_split_jobs_refuse_a_public_repository_and_write_their_summaries() {
    let fixture = Fixture::new();
    let pipeline = fixture.default_pipeline_with(&[
        (
            "  checksums: SHA256SUMS\n",
            "  checksums: SHA256SUMS\n  matrix:\n    - name: linux-amd64\n",
        ),
        (
            "  artifacts: [\"dist/*.tar.gz\"]",
            "  artifacts: [\"dist/app-{shard}.tar.gz\"]",
        ),
    ]);
    let p = pipeline.to_str().expect("utf-8");
    let out = fixture.sample.root.join("shard");
    let out = out.to_str().expect("utf-8");
    let public = Job::new(PUBLIC_EVENT);
    for args in [
        &["run", p, "--until", "prepare"][..],
        &["build", p, "--shard", "linux-amd64", "--output", out],
    ] {
        let run = run_in_job(&fixture, &public, args);
        run.expect(2);
        assert!(run.stderr.contains("public repository"), "{}", run.stderr);
    }
    assert!(!fixture.state_dir("v1.0.2").exists());

    let job = Job::new(PRIVATE_EVENT);
    run_in_job(&fixture, &job, &["run", p, "--until", "prepare"]).expect(0);
    let commit = fixture.git(&["rev-parse", "refs/heads/v1.0.2"]);
    assert!(
        job.read("output")
            .lines()
            .any(|l| l == format!("commit={commit}")),
        "{}",
        job.read("output")
    );
    let summary = job.read("summary.md");
    assert!(
        summary.contains("## embargo: v1.0.2 prepared for a split build"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("| release commit | `{commit}` |")),
        "{summary}"
    );
    assert!(summary.contains(":refs/heads/v1.0.2"), "{summary}");

    let shard = Job::new(PRIVATE_EVENT);
    run_in_job(
        &fixture,
        &shard,
        &["build", p, "--shard", "linux-amd64", "--output", out],
    )
    .expect(0);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(out).join("v1.0.2/linux-amd64/shard.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    let summary = shard.read("summary.md");
    assert!(
        summary.contains("## embargo: shard `linux-amd64` of v1.0.2 built from"),
        "{summary}"
    );
    let line = format!(
        "{}  app-linux-amd64.tar.gz",
        manifest["artifacts"][0]["sha256"].as_str().expect("sha")
    );
    assert!(summary.contains(&line), "{summary}");
}
