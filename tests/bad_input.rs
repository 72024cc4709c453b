//! Bad input (the pipeline file, the flags, the state of the repositories) ends with exit code 2
//! and a message that names the problem and where it is; nothing is written.
//!
//! Every pipeline here is [`BASE`] with one edit, so the expected line numbers are computed from
//! the YAML the test writes, and a control test proves that `BASE` itself is valid.

use crate::common;

use std::path::Path;

use common::{Fixture, Run, position};

/// A valid pipeline for the sample project. Tests edit it with [`edit`].
const BASE: &str = r#"version: 1
name: security-release

repository:
  path: .
  private: security
  public: origin

versioning:
  tag: "v{major}.{minor}.{patch}"
  branch: "{tag}"
  line: "1.0"

fix:
  branch: security/CVE-2026-0001
  base: master

build:
  steps:
    - name: binaries
      run: ./build.sh
      timeout: 5m
  artifacts: ["dist/*.tar.gz"]
  checksums: SHA256SUMS

verify:
  - name: version
    run: tar -xzf "$EMBARGO_DIST/app-linux-amd64.tar.gz" -C "$EMBARGO_SCRATCH" && "$EMBARGO_SCRATCH/app" --version
    expect_stdout: "app {version}"
    timeout: 2m

embargo: "2026-12-01 16:00 UTC"
"#;

/// `BASE` with each `from` (which must occur exactly once) replaced by its `to`.
fn edit(replace: &[(&str, &str)]) -> String {
    common::replace_once(BASE, replace)
}

/// The first line of `embargo`'s error, without the `error: ` label.
fn first_error_line(run: &Run) -> &str {
    let line = run.stderr.lines().next().unwrap_or("");
    line.strip_prefix("error: ").unwrap_or_else(|| {
        panic!(
            "stderr does not start with `error: `\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        )
    })
}

/// Asserts that the error starts with `PIPELINE:LINE:COLUMN: ` (with `column`, when given, as
/// the column) and returns the message after that prefix.
#[track_caller]
fn located<'r>(run: &'r Run, pipeline: &Path, line: usize, column: Option<usize>) -> &'r str {
    let first = first_error_line(run);
    let prefix = format!("{}:{line}:", pipeline.display());
    let rest = first
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the error does not start with `{prefix}`:\n{}", run.stderr));
    let (col, message) = rest
        .split_once(": ")
        .unwrap_or_else(|| panic!("no `COLUMN: ` after `{prefix}`:\n{}", run.stderr));
    let col: usize = col
        .parse()
        .unwrap_or_else(|_| panic!("`{col}` is not a column number:\n{}", run.stderr));
    assert!(col >= 1, "columns count from 1:\n{}", run.stderr);
    if let Some(column) = column {
        assert_eq!(col, column, "wrong column:\n{}", run.stderr);
    }
    message
}

/// Asserts that the error starts with `PIPELINE: ` (no line: the problem is not in the file) and
/// returns the rest.
#[track_caller]
fn whole_file<'r>(run: &'r Run, pipeline: &Path) -> &'r str {
    let first = first_error_line(run);
    let prefix = format!("{}: ", pipeline.display());
    first
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the error does not start with `{prefix}`:\n{}", run.stderr))
}

#[track_caller]
fn assert_contains(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "missing `{part}` in\n{text}");
    }
}

/// `embargo run PIPELINE ARGS...`, which must end with exit code 2.
#[track_caller]
fn run_bad(f: &Fixture, pipeline: &Path, args: &[&str]) -> Run {
    let mut all = vec!["run", pipeline.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = f.embargo(&all);
    run.expect(2);
    assert!(
        !run.stderr.contains("panicked"),
        "embargo panicked:\n{}",
        run.stderr
    );
    common::pin::error(&run);
    run
}

/// The refs of a repository, one `refname` a line.
fn refs(f: &Fixture, dir: &Path) -> String {
    f.git_in(dir, &["for-each-ref", "--format=%(refname)"])
}

/// Nothing of the patch release v1.0.2 exists: no ref in the clone or on either remote, and no
/// state folder.
#[track_caller]
fn assert_nothing_written(f: &Fixture) {
    for dir in [f.work(), &f.sample.public, &f.sample.private] {
        let refs = refs(f, dir);
        assert!(
            !refs.contains("v1.0.2"),
            "a ref was left behind in {}:\n{refs}",
            dir.display()
        );
    }
    assert!(
        !f.work().join(".git/embargo").exists(),
        "a state folder was left behind"
    );
    assert!(!f.work().join(".git/hooks/reference-transaction").exists());
}

/// A pipeline-file error: exit 2, `PIPELINE:LINE:COLUMN: `, nothing written. Returns the message.
#[track_caller]
fn file_error(f: &Fixture, text: &str, line: usize, column: Option<usize>) -> String {
    let pipeline = f.pipeline(text);
    let run = run_bad(f, &pipeline, &[]);
    let message = located(&run, &pipeline, line, column).to_string();
    // `plan` reads the file the same way.
    let plan = f.embargo(&["plan", pipeline.to_str().unwrap()]);
    plan.expect(2);
    assert_eq!(plan.stderr, run.stderr);
    assert_nothing_written(f);
    message
}

#[test]
fn the_base_pipeline_is_valid() {
    let f = Fixture::new();
    let pipeline = f.pipeline(BASE);
    let plan = f.embargo(&["plan", pipeline.to_str().unwrap()]);
    plan.expect(0);
    assert_contains(&plan.stdout, &["v1.0.1", "1.0.2"]);
    assert_eq!(position(BASE, "artifacts:"), (23, 3));
}

// 1. Unknown keys.

#[test]
fn a_misspelt_key_is_named_with_its_line_and_column() {
    let f = Fixture::new();
    let text = edit(&[("  artifacts: [", "  artifact: [")]);
    let (line, column) = position(&text, "artifact:");
    assert_eq!(line, 23);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["unknown field `artifact`", "artifacts"]);
}

#[test]
fn an_unknown_top_level_key_is_named() {
    let f = Fixture::new();
    let text = edit(&[("embargo: \"2026", "embargoo: \"2026")]);
    let (line, column) = position(&text, "embargoo:");
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["unknown field `embargoo`"]);
}

// 2. Wrong types.

#[test]
fn a_number_where_a_list_belongs_is_a_type_error() {
    let f = Fixture::new();
    let text = edit(&[(
        r#"verify:
  - name: version
    run: tar -xzf "$EMBARGO_DIST/app-linux-amd64.tar.gz" -C "$EMBARGO_SCRATCH" && "$EMBARGO_SCRATCH/app" --version
    expect_stdout: "app {version}"
    timeout: 2m
"#,
        "verify: 3\n",
    )]);
    let (line, column) = position(&text, "3\n");
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["expected sequence"]);
}

#[test]
fn a_list_where_a_duration_belongs_is_a_type_error() {
    let f = Fixture::new();
    let text = edit(&[("timeout: 5m", "timeout: [1]")]);
    let (line, column) = position(&text, "[1]");
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["expected string"]);
}

#[test]
fn a_malformed_duration_is_named_with_its_place() {
    let f = Fixture::new();
    let text = edit(&[("timeout: 2m", "timeout: 2 minutes")]);
    let (line, column) = position(&text, "2 minutes");
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &["verify.timeout", "`2 minutes` is not a duration"],
    );
}

#[test]
fn an_unknown_on_conflict_value_is_named() {
    let f = Fixture::new();
    let text = format!("{BASE}\ncherry_pick:\n  onto: [master]\n  on_conflict: ignore\n");
    let (line, _) = position(&text, "on_conflict: ignore");
    let message = file_error(&f, &text, line, None);
    assert_contains(&message, &["ignore", "report", "fail"]);
}

// 3. Missing required keys.

#[test]
fn a_missing_private_remote_is_named() {
    let f = Fixture::new();
    let text = edit(&[("  private: security\n", "")]);
    // The error points into the `repository` mapping (serde-saphyr names its last key).
    let (line, column) = position(&text, "public: origin");
    let message = file_error(&f, &text, line, Some(column));
    assert_eq!(message, "missing field `private`");
}

#[test]
fn a_missing_build_section_is_named() {
    let f = Fixture::new();
    let start = BASE.find("build:").unwrap();
    let end = BASE.find("verify:").unwrap();
    let text = format!("{}{}", &BASE[..start], &BASE[end..]);
    let pipeline = f.pipeline(&text);
    let run = run_bad(&f, &pipeline, &[]);
    assert!(
        run.stderr
            .starts_with(&format!("error: {}:", pipeline.display())),
        "{}",
        run.stderr
    );
    assert_contains(&run.stderr, &["missing field `build`"]);
    assert_nothing_written(&f);
}

// 4. Templates.

#[test]
fn an_unknown_template_name_is_named_with_the_known_ones() {
    let f = Fixture::new();
    let text = edit(&[(
        r#"expect_stdout: "app {version}""#,
        r#"expect_stdout: "{versoin}""#,
    )]);
    let (line, column) = position(&text, r#""{versoin}""#);
    assert_eq!(line, 29);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &[
            "verify.expect_stdout",
            "unknown template name `{versoin}`",
            "{version}",
        ],
    );
}

#[test]
fn a_template_name_without_a_value_in_that_place_is_refused() {
    let f = Fixture::new();
    let text = edit(&[(
        r#"artifacts: ["dist/*.tar.gz"]"#,
        r#"artifacts: ["dist/*-{target}.tar.gz"]"#,
    )]);
    let (line, column) = position(&text, r#""dist/*-{target}.tar.gz""#);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &["build.artifacts", "`{target}` has no value here", "{tag}"],
    );
    assert!(
        !message.contains("{target},") && !message.ends_with("{target}"),
        "{{target}} is not known here: {message}"
    );
}

#[test]
fn an_unclosed_brace_in_a_template_is_refused() {
    let f = Fixture::new();
    let text = edit(&[(r#"branch: "{tag}""#, r#"branch: "{tag""#)]);
    let (line, _) = position(&text, r#""{tag""#);
    let message = file_error(&f, &text, line, None);
    assert_contains(&message, &["versioning.branch", "not closed"]);
}

// 5. The embargo time.

#[test]
fn a_malformed_embargo_time_in_the_file_is_named() {
    let f = Fixture::new();
    let text = edit(&[("2026-12-01 16:00 UTC", "2026-13-01 16:00 UTC")]);
    let (line, column) = position(&text, "\"2026-13-01 16:00 UTC\"");
    assert_eq!(line, 32);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &[
            "embargo:",
            "`2026-13-01 16:00 UTC` is not an embargo time",
            "YYYY-MM-DD HH:MM UTC",
        ],
    );
}

#[test]
fn a_malformed_embargo_flag_is_named() {
    let f = Fixture::new();
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &["--embargo", "tomorrow"]);
    let message = whole_file(&run, &pipeline);
    assert_contains(message, &["--embargo", "`tomorrow` is not an embargo time"]);
    assert_nothing_written(&f);
}

#[test]
fn an_embargo_without_a_time_zone_is_refused() {
    let f = Fixture::new();
    let text = edit(&[("2026-12-01 16:00 UTC", "2026-12-01 16:00")]);
    let (line, _) = position(&text, "\"2026-12-01 16:00\"");
    let message = file_error(&f, &text, line, None);
    assert_contains(&message, &["`2026-12-01 16:00` is not an embargo time"]);
}

// 6. The release line.

#[test]
fn a_malformed_line_in_the_file_is_named() {
    let f = Fixture::new();
    let text = edit(&[(r#"line: "1.0""#, r#"line: "1.x""#)]);
    let (line, column) = position(&text, r#""1.x""#);
    assert_eq!(line, 12);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &[
            "versioning.line",
            "`1.x` is not a release line",
            "MAJOR.MINOR",
        ],
    );
}

#[test]
fn a_malformed_line_flag_is_named() {
    let f = Fixture::new();
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &["--line", "1"]);
    let message = whole_file(&run, &pipeline);
    assert_contains(message, &["--line", "`1` is not a release line"]);
    assert_nothing_written(&f);
}

#[test]
fn a_line_without_releases_lists_the_lines_that_have_them() {
    let f = Fixture::new();
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &["--line", "7.3"]);
    assert_contains(
        &run.stderr,
        &[
            "line 7.3",
            "the public remote `origin`",
            "no final release tag",
            "lines with releases: 1.0, 1.1",
        ],
    );
    assert_nothing_written(&f);
}

// 7. The fix branch.

#[test]
fn a_fix_branch_that_does_not_exist_names_the_branch_and_the_private_remote() {
    let f = Fixture::new();
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &["--fix", "security/nope"]);
    assert_contains(
        &run.stderr,
        &[
            "the fix branch `security/nope` does not exist on the private remote `security`",
            "security/CVE-2026-0001",
        ],
    );
    assert_nothing_written(&f);
}

#[test]
fn an_empty_fix_flag_is_refused() {
    let f = Fixture::new();
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &["--fix", ""]);
    let message = whole_file(&run, &pipeline);
    assert_contains(message, &["--fix", "must not be empty"]);
    assert_nothing_written(&f);
}

#[test]
fn a_fix_base_that_exists_nowhere_is_named() {
    let f = Fixture::new();
    let text = edit(&[("base: master", "base: mastre")]);
    let pipeline = f.pipeline(&text);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[
            "fix.base",
            "`mastre`",
            "the private remote `security`",
            "the public remote `origin`",
        ],
    );
    assert_nothing_written(&f);
}

// 8. The remotes.

#[test]
fn a_remote_that_does_not_exist_is_named_with_the_clones_remotes() {
    let f = Fixture::new();
    let text = edit(&[("private: security", "private: nosuchremote")]);
    let pipeline = f.pipeline(&text);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[
            "repository.private: `nosuchremote` is not a remote of",
            &f.work().display().to_string(),
            "(its remotes: origin, security)",
        ],
    );
    assert_nothing_written(&f);
}

#[test]
fn a_remote_url_that_cannot_be_read_is_bad_input() {
    let f = Fixture::new();
    let missing = f.sample.root.join("no-such-remote.git");
    let missing = missing.display().to_string();
    let text = edit(&[("public: origin", &format!("public: {missing}"))]);
    let pipeline = f.pipeline(&text);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[&format!("the public remote `{missing}`"), "ls-remote"],
    );
    assert_nothing_written(&f);
}

// 10. The state of the clone.

#[test]
fn a_shallow_clone_is_refused() {
    let f = Fixture::new();
    let url = format!("file://{}", f.sample.public.display());
    let root = &f.sample.root;
    f.git_in(root, &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let shallow = root.join("shallow");
    assert_eq!(
        f.git_in(&shallow, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    let text = edit(&[("path: .", &format!("path: {}", shallow.display()))]);
    let pipeline = f.pipeline(&text);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[
            &format!("{} is a shallow clone", shallow.display()),
            "git fetch --unshallow",
        ],
    );
    assert!(!refs(&f, &shallow).contains("v1.0.2"));
    assert!(!shallow.join(".git/embargo").exists());
    assert_nothing_written(&f);
}

#[test]
fn a_repository_path_that_is_not_a_clone_is_named() {
    let f = Fixture::new();
    let nowhere = f.sample.root.join("not-a-clone");
    std::fs::create_dir(&nowhere).unwrap();
    let text = edit(&[("path: .", &format!("path: {}", nowhere.display()))]);
    let pipeline = f.pipeline(&text);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[&format!(
            "repository.path: {} is not a git repository",
            nowhere.display()
        )],
    );
    assert_nothing_written(&f);
}

/// Fetches the fix into the clone (as FETCH_HEAD only): master changed the same lines, so
/// picking or rebasing onto it conflicts.
fn fetch_fix(f: &Fixture) {
    f.git(&[
        "fetch",
        "-q",
        "security",
        "refs/heads/security/CVE-2026-0001",
    ]);
}

#[test]
fn a_cherry_pick_in_progress_is_refused() {
    let f = Fixture::new();
    fetch_fix(&f);
    f.git_fails(&["cherry-pick", "FETCH_HEAD"]);
    assert!(f.work().join(".git/CHERRY_PICK_HEAD").exists());
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[
            &f.work().display().to_string(),
            "a cherry-pick is in progress in the clone",
            "`git cherry-pick --abort`",
        ],
    );
    assert_nothing_written(&f);
    // The user's cherry-pick is left as it was.
    assert!(f.work().join(".git/CHERRY_PICK_HEAD").exists());
}

#[test]
fn a_rebase_in_progress_is_refused() {
    let f = Fixture::new();
    fetch_fix(&f);
    f.git_fails(&["rebase", "FETCH_HEAD"]);
    assert!(f.work().join(".git/rebase-merge").exists());
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[
            &f.work().display().to_string(),
            "a rebase is in progress in the clone",
            "`git rebase --abort`",
        ],
    );
    assert_nothing_written(&f);
    assert!(f.work().join(".git/rebase-merge").exists());
}

// 11. Templates in `run`.

#[test]
fn a_template_in_run_says_to_use_the_environment_variable() {
    let f = Fixture::new();
    let text = edit(&[("run: ./build.sh", "run: echo {version}")]);
    let (line, column) = position(&text, "echo {version}");
    assert_eq!(line, 21);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &[
            "build.steps.run",
            "`{version}` is a template",
            "never expanded inside `run`",
            "$EMBARGO_VERSION",
        ],
    );
}

#[test]
fn a_template_without_a_variable_in_run_points_at_the_embargo_variables() {
    let f = Fixture::new();
    let text = edit(&[("run: ./build.sh", "run: ./build.sh --major {major}")]);
    let (line, _) = position(&text, "./build.sh --major {major}");
    let message = file_error(&f, &text, line, None);
    assert_contains(
        &message,
        &[
            "`{major}` is a template",
            "\"$EMBARGO_VERSION\" (MAJOR.MINOR.PATCH)",
        ],
    );
    assert!(!message.contains("$the"), "{message}");
}

// 12. The file itself.

#[test]
fn a_duplicate_key_is_named_where_it_repeats() {
    let f = Fixture::new();
    let text = edit(&[(
        "name: security-release\n",
        "name: security-release\nname: other-release\n",
    )]);
    let (line, _) = position(&text, "name: other-release");
    assert_eq!(line, 3);
    let message = file_error(&f, &text, line, None);
    assert_eq!(
        message,
        "duplicate key `name`: a key may appear only once in a mapping"
    );
}

#[test]
fn an_unknown_format_version_is_refused() {
    let f = Fixture::new();
    let text = edit(&[("version: 1\n", "version: 2\n")]);
    let (line, column) = position(&text, "2\nname:");
    assert_eq!((line, column), (1, 10));
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["version: 2", "only 1 exists"]);
}

#[test]
fn a_tag_pattern_without_patch_is_refused() {
    let f = Fixture::new();
    let text = edit(&[(
        r#"tag: "v{major}.{minor}.{patch}""#,
        r#"tag: "v{major}.{minor}""#,
    )]);
    let (line, column) = position(&text, r#""v{major}.{minor}""#);
    assert_eq!(line, 10);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["versioning.tag", "`{patch}` exactly once"]);
}

#[test]
fn an_empty_artifact_glob_is_refused() {
    let f = Fixture::new();
    let text = edit(&[(
        r#"artifacts: ["dist/*.tar.gz"]"#,
        r#"artifacts: ["dist/*.tar.gz", ""]"#,
    )]);
    let (line, column) = position(&text, r#""""#);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["build.artifacts", "empty"]);
}

#[test]
fn an_artifact_glob_outside_the_checkout_is_refused() {
    let f = Fixture::new();
    let text = edit(&[(
        r#"artifacts: ["dist/*.tar.gz"]"#,
        r#"artifacts: ["../*.tar.gz"]"#,
    )]);
    let (line, column) = position(&text, r#""../*.tar.gz""#);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["build.artifacts", "outside the checkout"]);
}

#[test]
fn a_bad_pipeline_name_is_refused() {
    let f = Fixture::new();
    let text = edit(&[("name: security-release", "name: Security_Release")]);
    let (line, column) = position(&text, "Security_Release");
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["name:", "`Security_Release`", "[a-z0-9-]+"]);
}

#[test]
fn a_yaml_syntax_error_is_located() {
    let f = Fixture::new();
    // The quote opened on line 11 closes at the first quote of line 12; what follows is the error.
    let text = edit(&[(r#"branch: "{tag}""#, r#"branch: "{tag}"#)]);
    let (line, column) = position(&text, "1.0\"");
    assert_eq!(line, 12);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["trailing content"]);
}

#[test]
fn a_file_that_is_not_utf8_is_refused_with_the_place_of_the_bad_byte() {
    let f = Fixture::new();
    let mut bytes = BASE.as_bytes().to_vec();
    let at = BASE.find("security-release").unwrap() + "security".len();
    bytes.insert(at, 0xff);
    let dir = f.work().join("pipelines");
    std::fs::create_dir_all(&dir).unwrap();
    let pipeline = dir.join("latin1.yaml");
    std::fs::write(&pipeline, &bytes).unwrap();
    let run = run_bad(&f, &pipeline, &[]);
    // Line 2, column 15: `name: security` is 14 characters.
    let message = located(&run, &pipeline, 2, Some(15));
    assert_contains(
        message,
        &["not UTF-8", &format!("invalid byte 0xff at offset {at}")],
    );
    assert_nothing_written(&f);
}

#[test]
fn a_pipeline_that_does_not_exist_is_named() {
    let f = Fixture::new();
    let run = run_bad(&f, Path::new("pipelines/nope.yaml"), &[]);
    assert_contains(
        &run.stderr,
        &["cannot read pipeline pipelines/nope.yaml", "hint:"],
    );
    let plan = f.embargo(&["plan", "pipelines/nope.yaml"]);
    plan.expect(2);
    let status = f.embargo(&["status", "pipelines/nope.yaml"]);
    status.expect(2);
    assert_nothing_written(&f);
}

#[test]
fn a_token_in_place_of_its_variable_name_is_refused() {
    let f = Fixture::new();
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
    let text = format!(
        "{BASE}\npublish:\n  github:\n    repository: example/app\n    token_env: {token}\n"
    );
    let (line, column) = position(&text, token);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &["publish.github.token_env", "looks like a token"],
    );
    assert!(!message.contains(token), "the token is echoed: {message}");
}

#[test]
fn a_cherry_pick_branch_without_target_is_refused() {
    let f = Fixture::new();
    let text = format!("{BASE}\ncherry_pick:\n  onto: [master]\n  branch: \"pick/{{tag}}\"\n");
    let (line, column) = position(&text, "\"pick/{tag}\"");
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(&message, &["cherry_pick.branch", "{target}"]);
}

// 13. The patch version already exists.

#[test]
fn a_patch_branch_that_exists_on_the_private_remote_stops_the_run() {
    let f = Fixture::new();
    // v1.0.1 stays the latest release; only the private remote has a branch named v1.0.2.
    f.git_in(&f.sample.private, &["branch", "v1.0.2", "release-1.0"]);
    let private_refs = refs(&f, &f.sample.private);
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[
            "the patch version v1.0.2 is taken",
            "branch v1.0.2 on the private remote `security`",
        ],
    );
    assert!(
        !run.stderr.contains("on the public remote `origin`"),
        "{}",
        run.stderr
    );
    // Nothing was created or moved: not in the clone, not on either remote.
    assert!(!refs(&f, f.work()).contains("v1.0.2"));
    assert!(!refs(&f, &f.sample.public).contains("v1.0.2"));
    assert_eq!(refs(&f, &f.sample.private), private_refs);
    // And no state folder was started for somebody else's release.
    assert!(!f.work().join(".git/embargo").exists());
}

#[test]
fn a_patch_tag_that_exists_in_the_clone_stops_the_run() {
    let f = Fixture::new();
    f.git(&["tag", "v1.0.2", "release-1.0"]);
    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &[]);
    assert_contains(
        &run.stderr,
        &[
            "the patch version v1.0.2 is taken",
            "tag v1.0.2 in the clone",
        ],
    );
    assert!(f.git(&["branch", "--list", "v1.0.2"]).is_empty());
    assert_eq!(
        f.git(&["rev-parse", "v1.0.2"]),
        f.git(&["rev-parse", "release-1.0"])
    );
}

// 14. A fix branch with a merge commit.

#[test]
fn a_fix_branch_with_a_merge_commit_is_refused() {
    let f = Fixture::new();
    f.git(&["checkout", "-q", "-b", "security/merged", "master"]);
    f.sample
        .commit("Fix part one", &[("part-one.txt", "one\n")])
        .unwrap();
    f.git(&["checkout", "-q", "-b", "side", "master"]);
    f.sample
        .commit("Fix part two", &[("part-two.txt", "two\n")])
        .unwrap();
    f.git(&["checkout", "-q", "security/merged"]);
    f.git(&["merge", "-q", "--no-ff", "-m", "Merge part two", "side"]);
    f.git(&["push", "-q", "security", "security/merged"]);
    f.git(&["checkout", "-q", "master"]);
    f.git(&["branch", "-q", "-D", "security/merged", "side"]);

    let pipeline = f.pipeline(BASE);
    let run = run_bad(&f, &pipeline, &["--fix", "security/merged"]);
    assert_contains(
        &run.stderr,
        &[
            "`Merge part two` is a merge",
            "a series of plain commits",
            "hint:",
        ],
    );
    assert_nothing_written(&f);
}

#[test]
fn a_passthrough_of_a_variable_that_carries_credentials_is_refused_where_it_is_written() {
    for name in ["GIT_CONFIG_VALUE_0", "GH_TOKEN", "GIT_ASKPASS"] {
        let f = Fixture::new();
        let text = common::without_publish(embargo::sample::PIPELINE).replace(
            "  checksums: SHA256SUMS\n",
            &format!("  checksums: SHA256SUMS\n  env_passthrough: [GOFLAGS, {name}]\n"),
        );
        let pipeline = f.pipeline(&text);
        let run = f.embargo(&["plan", pipeline.to_str().unwrap()]);
        run.expect(2);
        assert!(
            run.stderr
                .contains(&format!("build.env_passthrough: `{name}`"))
                && run.stderr.contains("a build step must never see it"),
            "{}",
            run.stderr
        );
    }
}

// build.matrix

#[test]
fn a_bad_build_matrix_is_named_with_its_line_and_column() {
    let f = Fixture::new();
    let matrix = |shards: &str| {
        edit(&[(
            "  checksums: SHA256SUMS\n",
            &format!("  checksums: SHA256SUMS\n  matrix:{shards}\n"),
        )])
    };
    // An empty list, a name that cannot be a file or job name, one name twice (whatever its
    // case), embargo's own variables, a runner label a workflow cannot carry.
    let cases: [(&str, &str, &[&str]); 5] = [
        (" []", "[]", &["build.matrix: the list is empty"]),
        (
            "\n    - name: \"linux/amd64\"",
            "\"linux/amd64\"",
            &["build.matrix.name: `linux/amd64` cannot name a shard"],
        ),
        (
            "\n    - name: linux\n    - name: Linux",
            "Linux",
            &["build.matrix.name: `Linux` is used twice"],
        ),
        (
            "\n    - name: linux\n      env: {EMBARGO_VERSION: \"9.9.9\"}",
            "linux\n      env",
            &[
                "build.matrix.env: `EMBARGO_VERSION` of shard `linux`",
                "embargo's own",
            ],
        ),
        (
            "\n    - name: linux\n      runs_on: \"ubuntu-latest ${{ secrets.X }}\"",
            "\"ubuntu-latest ${{ secrets.X }}\"",
            &["build.matrix.runs_on", "is not a runner label"],
        ),
    ];
    for (shards, at, says) in cases {
        let text = matrix(shards);
        let (line, column) = position(&text, at);
        let message = file_error(&f, &text, line, Some(column));
        assert_contains(&message, says);
    }
}

/// With a matrix, a glob that does not name the shard would let one shard's manifest claim
/// another shard's files: refused where it is written.
#[test]
fn every_artifact_glob_of_a_split_build_names_the_shard() {
    let f = Fixture::new();
    let text = edit(&[(
        "  checksums: SHA256SUMS\n",
        "  checksums: SHA256SUMS\n  matrix:\n    - name: one\n    - name: two\n",
    )]);
    let (line, column) = position(&text, r#""dist/*.tar.gz""#);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &["build.artifacts: `dist/*.tar.gz` has no {shard}"],
    );
}

#[test]
fn shard_in_an_artifact_glob_needs_a_build_matrix() {
    let f = Fixture::new();
    let text = edit(&[(
        r#"artifacts: ["dist/*.tar.gz"]"#,
        r#"artifacts: ["dist/app-{shard}.tar.gz"]"#,
    )]);
    let (line, column) = position(&text, r#""dist/app-{shard}.tar.gz""#);
    let message = file_error(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &["build.artifacts", "`{shard}` has no value here"],
    );
}
