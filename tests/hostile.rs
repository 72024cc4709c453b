//! Hostile input: a pipeline built to hurt the reader (alias bombs, deep nesting, huge files,
//! bytes that are not UTF-8, control characters), templates that make dangerous ref names, and
//! build output that reaches outside the checkout. Each is refused cleanly: exit code 2, a message
//! that names the problem (and, for the file, its line and column), never a panic, and never a
//! partial action. A refusal before prepare leaves no new ref in the clone or on either remote;
//! a refusal at build pushes nothing and tags nothing.
//!
//! Most pipelines here are the sample's (without `publish`) with one edit, see [`edited`].

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Fixture, Run, position, without_publish};
use embargo::pipeline::{self, Overrides};

/// The sample pipeline without `publish`, with each `from` (which must occur exactly once)
/// replaced by its `to`. The same text `Fixture::default_pipeline_with` writes.
fn edited(replace: &[(&str, &str)]) -> String {
    common::replace_once(&without_publish(embargo::sample::PIPELINE), replace)
}

/// Every ref and what it points at, in the clone and both remotes.
#[derive(Debug, PartialEq, Eq)]
struct Refs {
    clone: String,
    public: String,
    private: String,
}

impl Refs {
    fn of(f: &Fixture) -> Refs {
        let list =
            |dir: &Path| f.git_in(dir, &["for-each-ref", "--format=%(objectname) %(refname)"]);
        Refs {
            clone: list(f.work()),
            public: list(&f.sample.public),
            private: list(&f.sample.private),
        }
    }
}

/// Exit code 2, no panic, and an `error: ` line, which is returned without its label.
#[track_caller]
fn refused(run: &Run) -> String {
    run.expect(2);
    for sign in ["panicked", "RUST_BACKTRACE"] {
        assert!(
            !run.stderr.contains(sign),
            "embargo panicked:\n{}",
            run.stderr
        );
    }
    common::pin::error(run);
    run.stderr
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| panic!("no `error: ` line in\n{}", run.stderr))
        .to_string()
}

/// Refused before prepare: nothing changed in the clone or on either remote, no state folder.
#[track_caller]
fn assert_untouched(f: &Fixture, before: &Refs) {
    assert_eq!(&Refs::of(f), before, "a ref was created or moved");
    assert!(
        !f.work().join(".git/embargo").exists(),
        "a state folder was left behind"
    );
    assert!(!f.work().join(".git/hooks/reference-transaction").exists());
}

/// Refused at build: prepare may have made the patch branch in the clone, but nothing reached
/// either remote, no tag exists anywhere and no freeze hook was installed.
#[track_caller]
fn assert_nothing_pushed_or_tagged(f: &Fixture, before: &Refs) {
    let after = Refs::of(f);
    assert_eq!(after.public, before.public, "the public remote changed");
    assert_eq!(after.private, before.private, "the private remote changed");
    let tags = |refs: &str| -> Vec<String> {
        refs.lines()
            .filter(|l| l.contains(" refs/tags/"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(tags(&after.clone), tags(&before.clone), "a tag was created");
    for line in after.clone.lines() {
        assert!(
            before.clone.contains(line) || line.ends_with(" refs/heads/v1.0.2"),
            "a ref other than the patch branch was created: {line}"
        );
    }
    assert!(!f.work().join(".git/hooks/reference-transaction").exists());
}

/// `run` and `plan` on a pipeline file that must be refused at `line` (and `column`, when given)
/// before anything is done. Returns the message after `PIPELINE:LINE:COLUMN: `.
#[track_caller]
fn file_refused(f: &Fixture, pipeline: &Path, line: usize, column: Option<usize>) -> String {
    let before = Refs::of(f);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    let error = refused(&run);
    let prefix = format!("{}:{line}:", pipeline.display());
    let rest = error
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the error does not start with `{prefix}`:\n{}", run.stderr));
    let (col, message) = rest
        .split_once(": ")
        .unwrap_or_else(|| panic!("no `COLUMN: ` after `{prefix}`:\n{}", run.stderr));
    if let Some(column) = column {
        assert_eq!(col, column.to_string(), "wrong column:\n{}", run.stderr);
    }
    // `plan` reads the file the same way (and so says the same: pinned once, with `run`).
    let plan = f.embargo(&["plan", pipeline.to_str().unwrap()]);
    plan.expect(2);
    assert_eq!(plan.stderr, run.stderr);
    assert_untouched(f, &before);
    message.to_string()
}

/// [`file_refused`] for pipeline text.
#[track_caller]
fn text_refused(f: &Fixture, text: &str, line: usize, column: Option<usize>) -> String {
    let pipeline = f.pipeline(text);
    file_refused(f, &pipeline, line, column)
}

#[track_caller]
fn assert_contains(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "missing `{part}` in\n{text}");
    }
}

/// Ten anchors, each a list of ten aliases of the previous: a billion `lol`s once expanded.
fn billion_laughs() -> String {
    let mut parts = vec![format!("&a0 [{}]", ["lol"; 10].join(", "))];
    for i in 1..10 {
        parts.push(format!(
            "&a{i} [{}]",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    format!("[{}]", parts.join(", "))
}

// 1. The YAML itself.

#[test]
fn a_yaml_alias_bomb_is_stopped_by_the_readers_budget() {
    let f = Fixture::new();
    // As the value of a step's environment variable: an untagged value that the reader must
    // take in whole before it can tell that it is not a string, so every alias is expanded.
    let bomb = billion_laughs();
    let text = edited(&[(
        "      timeout: 5m\n",
        &format!("      timeout: 5m\n      env:\n        LOL: {bomb}\n"),
    )]);
    let (line, _) = position(&text, "LOL:");
    let started = Instant::now();
    let message = text_refused(&f, &text, line, None);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the bomb took {:?}",
        started.elapsed()
    );
    assert_contains(
        &message,
        &["exceeds a limit of the reader", "aliases that expand"],
    );
    assert!(!message.ends_with("(used"), "{message}");
}

#[test]
fn a_deeply_nested_document_is_refused() {
    let f = Fixture::new();
    let depth = 10_000;
    let variants = [
        // Flow lists where the artifact globs belong.
        (
            r#"  artifacts: ["dist/*.tar.gz"]"#.to_string(),
            format!("  artifacts: {}{}", "[".repeat(depth), "]".repeat(depth)),
            "  artifacts:",
        ),
        // Flow maps as an environment value.
        (
            "      timeout: 5m\n".to_string(),
            format!(
                "      timeout: 5m\n      env: {{A: {}1{}}}\n",
                "{a: ".repeat(depth),
                "}".repeat(depth)
            ),
            "      env:",
        ),
        // Block lists (`- - - x`) as an environment value.
        (
            "      timeout: 5m\n".to_string(),
            format!(
                "      timeout: 5m\n      env:\n        A:\n          {}x\n",
                "- ".repeat(depth)
            ),
            "          - - ",
        ),
    ];
    for (from, to, key) in variants {
        let text = edited(&[(&from, &to)]);
        let (line, _) = position(&text, key);
        let message = text_refused(&f, &text, line, None);
        assert!(
            message.contains("limit") || message.contains("recursion"),
            "{message}"
        );
    }
}

#[test]
fn a_pipeline_over_a_mebibyte_is_refused_by_its_size() {
    let f = Fixture::new();
    let before = Refs::of(&f);
    // A valid pipeline, then a comment that takes it one byte over the limit.
    let mut text = edited(&[]);
    let pad = 1024 * 1024 + 1 - text.len() - 2;
    text.push('#');
    text.push_str(&"x".repeat(pad));
    text.push('\n');
    assert_eq!(text.len(), 1024 * 1024 + 1);
    let pipeline = f.pipeline(&text);
    for command in ["run", "plan"] {
        let run = f.embargo(&[command, pipeline.to_str().unwrap()]);
        let message = refused(&run);
        assert_eq!(
            message,
            format!(
                "{}: the file is 1048577 bytes; a pipeline may be at most 1048576 bytes",
                pipeline.display()
            )
        );
    }
    assert_untouched(&f, &before);

    // At the limit exactly, it is read.
    text.truncate(1024 * 1024 - 1);
    text.push('\n');
    let pipeline = f.pipeline(&text);
    f.embargo(&["plan", pipeline.to_str().unwrap()]).expect(0);
    assert_untouched(&f, &before);
}

#[test]
fn a_900_kib_document_of_junk_keys_is_refused_at_the_first_junk_key() {
    let f = Fixture::new();
    let junk: String = (0..33_000)
        .map(|i| format!("junk_{i:07}: value-{i:07}\n"))
        .collect();
    let text = format!("{}{junk}", edited(&[]));
    assert!(text.len() > 880 * 1024 && text.len() < 1024 * 1024);
    let (line, column) = position(&text, "junk_0000000:");
    let started = Instant::now();
    let message = text_refused(&f, &text, line, Some(column));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "reading took {:?}",
        started.elapsed()
    );
    assert_contains(
        &message,
        &["unknown field `junk_0000000`", "expected one of"],
    );
}

#[test]
fn bytes_that_are_not_utf8_are_refused_with_their_place() {
    let f = Fixture::new();
    let text = edited(&[]);
    let dir = f.work().join("pipelines");
    let cases: Vec<(&str, Vec<u8>, usize, usize, String)> = vec![
        // Saved as UTF-16 (with its byte order mark): the very first byte.
        (
            "utf16.yaml",
            [
                &[0xff, 0xfe][..],
                &text
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>(),
            ]
            .concat(),
            1,
            1,
            "invalid byte 0xff at offset 0".to_string(),
        ),
        // A Latin-1 `é` in a comment, after a UTF-8 `é` on the same line: columns count characters.
        (
            "latin1.yaml",
            [&b"# caf\xc3\xa9 caf\xe9\n"[..], text.as_bytes()].concat(),
            1,
            11,
            "invalid byte 0xe9 at offset 11".to_string(),
        ),
        // A multi-byte character cut off at the end of the file.
        (
            "cut.yaml",
            [text.as_bytes(), &b"# \xe2\x82"[..]].concat(),
            text.lines().count() + 1,
            3,
            format!("invalid byte 0xe2 at offset {}", text.len() + 2),
        ),
    ];
    for (name, bytes, line, column, offset) in cases {
        let pipeline = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&pipeline, &bytes).unwrap();
        let message = file_refused(&f, &pipeline, line, Some(column));
        assert_contains(&message, &["not UTF-8", &offset, "save it as UTF-8"]);
    }
}

#[test]
fn a_duplicate_key_at_a_nested_level_is_refused_where_it_repeats() {
    let f = Fixture::new();
    let cases = [
        // A field of `build`.
        (
            "  checksums: SHA256SUMS\n",
            "  checksums: SHA256SUMS\n  checksums: OTHERSUMS\n",
            "  checksums: OTHERSUMS",
            "checksums",
        ),
        // A field of a step, two levels down.
        (
            "      timeout: 5m\n",
            "      timeout: 5m\n      timeout: 1h\n",
            "      timeout: 1h",
            "timeout",
        ),
        // A key of a free-form map (a step's environment), block style...
        (
            "      timeout: 5m\n",
            "      timeout: 5m\n      env:\n        MODE: fast\n        MODE: safe\n",
            "        MODE: safe",
            "MODE",
        ),
        // ... and flow style.
        (
            "      timeout: 5m\n",
            "      timeout: 5m\n      env: {MODE: fast, OTHER: 1, MODE: safe}\n",
            "      env:",
            "MODE",
        ),
        // A target of fix.per_target: which backport would be picked?
        (
            "  base: master\n",
            "  base: master\n  per_target:\n    release-1.0: security/a\n    release-1.0: security/b\n",
            "    release-1.0: security/b",
            "release-1.0",
        ),
    ];
    for (from, to, at, key) in cases {
        let text = edited(&[(from, to)]);
        let (line, _) = position(&text, at);
        let message = text_refused(&f, &text, line, None);
        assert_eq!(
            message,
            format!("duplicate key `{key}`: a key may appear only once in a mapping")
        );
    }
}

#[test]
fn a_tab_in_the_indentation_is_refused_with_its_place() {
    let f = Fixture::new();
    for (from, to) in [
        ("  tag: \"v", "\ttag: \"v"),
        ("  steps:\n", "\tsteps:\n"),
        ("    - name: binaries\n", "\t- name: binaries\n"),
    ] {
        let text = edited(&[(from, to)]);
        let (line, _) = position(&text, to);
        let message = text_refused(&f, &text, line, None);
        assert_contains(&message, &["tab"]);
    }
}

#[test]
fn control_characters_in_the_file_are_refused_with_their_place() {
    let f = Fixture::new();
    for (from, to) in [
        // An escape sequence that would recolour the terminal when echoed.
        (
            "branch: security/CVE-2026-0001",
            "branch: security/CVE\x1b[31m-2026-0001",
        ),
        ("branch: security/CVE-2026-0001", "branch: security\0/x"),
        ("name: security-release", "name: security\x07release"),
        ("name: security-release", "name: security\x7frelease"),
        // A C1 control (CSI), which some terminals obey like ESC [.
        ("run: ./build.sh", "run: ./build.sh\u{9b}31m"),
        ("# The pipeline", "# The \x08\x08\x08 pipeline"),
    ] {
        let text = edited(&[(from, to)]);
        let (line, _) = position(&text, to);
        let message = text_refused(&f, &text, line, None);
        assert_contains(&message, &["unexpected character"]);
        // The character is named, not echoed to the terminal.
        assert!(
            !message.chars().any(|c| c.is_control()),
            "a control character is echoed: {message:?}"
        );
    }
}

#[test]
fn a_nul_written_as_an_escape_in_a_command_or_its_environment_is_refused_before_prepare() {
    let f = Fixture::new();
    // YAML's "\0" escape gets past the reader; no command line or environment can hold it, and
    // it must be refused before the patch branch is made, not when the build starts.
    let cases = [
        (
            "run: ./build.sh",
            r#"run: "./build.sh\0 --evil""#,
            r#""./build.sh\0"#,
            "build.steps.run: the command contains a NUL character",
        ),
        (
            "      timeout: 5m\n",
            "      timeout: 5m\n      env: {MODE: \"fast\\0slow\"}\n",
            "binaries",
            "build.steps.env: the value of `MODE` contains a NUL character",
        ),
        (
            r#"run: tar -xzf "$EMBARGO_DIST/app-linux-amd64.tar.gz" -C "$EMBARGO_SCRATCH" && "$EMBARGO_SCRATCH/app" check-auth"#,
            r#"run: "true\0""#,
            r#""true\0""#,
            "verify.run: the command contains a NUL character",
        ),
    ];
    for (from, to, at, expected) in cases {
        let text = edited(&[(from, to)]);
        let (line, column) = position(&text, at);
        let message = text_refused(&f, &text, line, Some(column));
        assert_contains(&message, &[expected]);
    }
}

// 2. Templates that make bad ref names: refused with their place, before anything is done.

/// `versioning.branch` set to `template` is refused at its line and column, naming the name it
/// gives for 1.0.2 and why.
#[track_caller]
fn branch_template_refused(template: &str, name: &str, why: &str) -> String {
    let f = Fixture::new();
    let value = format!("\"{template}\"");
    let text = edited(&[(r#"branch: "{tag}""#, &format!("branch: {value}"))]);
    let (line, column) = position(&text, &value);
    let message = text_refused(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &[
            "versioning.branch",
            &format!("the branch name `{name}` is refused"),
            why,
        ],
    );
    message
}

#[test]
fn a_branch_template_starting_with_a_dash_is_refused() {
    branch_template_refused("-{tag}", "-v1.0.2", "starts with `-`");
}

#[test]
fn a_branch_template_naming_a_tag_ref_is_refused() {
    branch_template_refused("refs/tags/{tag}", "refs/tags/v1.0.2", "is a full ref name");
}

#[test]
fn a_branch_template_with_a_space_is_refused() {
    branch_template_refused("a b{tag}", "a bv1.0.2", "white space");
}

#[test]
fn a_branch_template_with_a_range_is_refused() {
    branch_template_refused("{tag}..x", "v1.0.2..x", "`..`");
}

#[test]
fn a_branch_template_with_escaped_braces_is_the_literal_text_and_refused_for_its_at_brace() {
    // `{{` and `}}` are literal braces: `x@{{tag}}` is the text `x@{tag}`, not the tag, and
    // `@{` is git's reflog syntax.
    branch_template_refused("x@{{tag}}", "x@{tag}", "`@{`");
}

#[test]
fn a_branch_template_ending_in_lock_is_refused() {
    branch_template_refused("{tag}.lock", "v1.0.2.lock", "git does not accept it");
}

#[test]
fn a_tag_template_with_a_trailing_space_is_refused() {
    let f = Fixture::new();
    for (template, name, why) in [
        ("v{major}.{minor}.{patch} ", "v1.0.2 ", "white space"),
        ("v{major}.{minor}.{patch}\\t", "v1.0.2\t", "white space"),
        ("-{major}.{minor}.{patch}", "-1.0.2", "starts with `-`"),
        (
            "v{major}.{minor}.{patch}.lock",
            "v1.0.2.lock",
            "git does not accept",
        ),
    ] {
        let value = format!("\"{template}\"");
        let text = edited(&[(
            r#"tag: "v{major}.{minor}.{patch}""#,
            &format!("tag: {value}"),
        )]);
        let (line, column) = position(&text, &value);
        let message = text_refused(&f, &text, line, Some(column));
        assert_contains(
            &message,
            &[
                "versioning.tag",
                &format!("the tag name `{name}` is refused"),
                why,
            ],
        );
    }
}

#[test]
fn a_cherry_pick_branch_template_starting_with_a_dash_is_refused_before_anything_is_tagged() {
    // This one used to be found only at stage 5, after the release had been tagged and frozen.
    let f = Fixture::new();
    let text = edited(&[(
        r#"branch: "cherry-pick/{tag}/{target}""#,
        r#"branch: "-{target}""#,
    )]);
    let (line, column) = position(&text, r#""-{target}""#);
    let message = text_refused(&f, &text, line, Some(column));
    assert_contains(
        &message,
        &[
            "cherry_pick.branch",
            "the target master",
            "the branch name `-master` is refused",
            "starts with `-`",
        ],
    );
}

#[test]
fn ref_templates_that_only_look_odd_are_accepted() {
    // The check at read time tries a sample release; it must not refuse names git accepts.
    for (from, to) in [
        (
            r#"branch: "{tag}""#,
            r#"branch: "release/{line}/{tag}-patch""#,
        ),
        (r#"branch: "{tag}""#, r#"branch: "x{{{tag}}}""#),
        (
            r#"tag: "v{major}.{minor}.{patch}""#,
            r#"tag: "{major}.{minor}.{patch}""#,
        ),
        (
            r#"branch: "cherry-pick/{tag}/{target}""#,
            r#"branch: "backport/{previous_tag}-to-{tag}/{target}""#,
        ),
    ] {
        let text = edited(&[(from, to)]);
        if let Err(e) = pipeline::parse(Path::new("p.yaml"), &text, &Overrides::default()) {
            panic!("`{to}` was refused: {e}");
        }
    }
}

// 3. Artifacts outside the checkout or with names GitHub would change.

#[test]
fn artifact_globs_reaching_outside_the_checkout_are_refused_before_prepare() {
    let f = Fixture::new();
    for glob in ["../*", "/etc/*", "dist/../../*.tar.gz", "./../*"] {
        let value = format!("\"{glob}\"");
        let text = edited(&[(
            r#"artifacts: ["dist/*.tar.gz"]"#,
            &format!("artifacts: [{value}]"),
        )]);
        let (line, column) = position(&text, &value);
        let message = text_refused(&f, &text, line, Some(column));
        assert_eq!(
            message,
            format!(
                "build.artifacts: `{glob}` reaches outside the checkout; globs are relative to it"
            )
        );
    }
}

#[test]
fn an_artifact_glob_ending_in_a_double_star_is_refused_it_would_match_no_file() {
    let f = Fixture::new();
    for (glob, files) in [
        ("dist/**", "dist/**/*"),
        ("**", "**/*"),
        ("out/**/", "out/**/*"),
    ] {
        let value = format!("\"{glob}\"");
        let text = edited(&[(
            r#"artifacts: ["dist/*.tar.gz"]"#,
            &format!("artifacts: [{value}]"),
        )]);
        let (line, column) = position(&text, &value);
        let message = text_refused(&f, &text, line, Some(column));
        assert_eq!(
            message,
            format!(
                "build.artifacts: `{glob}` matches folders, not files; write `{files}` for every file below them"
            )
        );
    }
    // Every file below a folder is taken as written.
    let text = edited(&[(
        r#"artifacts: ["dist/*.tar.gz"]"#,
        r#"artifacts: ["dist/**/*"]"#,
    )]);
    pipeline::parse(Path::new("p.yaml"), &text, &Overrides::default()).expect("dist/**/*");
}

/// `embargo run` with the sample's build followed by `then`, and artifacts `artifacts`: refused
/// at build, with nothing pushed or tagged. Returns the error message.
#[track_caller]
fn build_refused(then: &str, artifacts: &str) -> (Fixture, String) {
    let f = Fixture::new();
    let before = Refs::of(&f);
    let pipeline = f.default_pipeline_with(&[
        ("run: ./build.sh", &format!("run: ./build.sh && {then}")),
        (
            r#"artifacts: ["dist/*.tar.gz"]"#,
            &format!("artifacts: {artifacts}"),
        ),
    ]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    let message = refused(&run);
    assert_contains(&run.stderr, &["FAILED build"]);
    assert!(!run.stderr.contains("==> verify"), "{}", run.stderr);
    assert_nothing_pushed_or_tagged(&f, &before);
    (f, message)
}

#[test]
fn a_symlink_from_the_checkout_to_outside_it_is_refused_and_named() {
    assert!(Path::new("/etc/hostname").is_file());
    let (f, message) = build_refused(
        "ln -s /etc/hostname dist/evil.tar.gz",
        r#"["dist/*.tar.gz"]"#,
    );
    assert_contains(
        &message,
        &[
            "build.artifacts:",
            "/checkout/dist/evil.tar.gz leads outside the checkout",
            "(to /etc/hostname)",
        ],
    );
    // What it points at was not collected.
    let dist = f.state_dir("v1.0.2").join("dist");
    assert!(!dist.join("evil.tar.gz").exists());
    assert!(!dist.join("SHA256SUMS").exists());
}

#[test]
fn a_symlinked_folder_leading_outside_the_checkout_is_refused_and_named() {
    let (_f, message) = build_refused(
        "ln -s /etc dist/etc",
        r#"["dist/*.tar.gz", "dist/etc/hostname"]"#,
    );
    assert_contains(
        &message,
        &[
            "/checkout/dist/etc/hostname leads outside the checkout",
            "(to /etc/hostname)",
        ],
    );
}

#[test]
fn an_artifact_name_github_would_rename_is_refused() {
    let (_f, message) = build_refused(
        "cp dist/app-linux-amd64.tar.gz 'dist/my app.tar.gz'",
        r#"["dist/*.tar.gz"]"#,
    );
    assert_contains(
        &message,
        &[
            "/checkout/dist/my app.tar.gz cannot be a release asset",
            "characters other than letters, digits",
        ],
    );
}

#[test]
fn an_artifact_name_starting_with_a_dot_is_refused() {
    // `*` matches a leading dot here (the glob crate's default), so the sample's own glob finds it.
    let (_f, message) = build_refused(
        "cp dist/app-linux-amd64.tar.gz dist/.app.tar.gz",
        r#"["dist/*.tar.gz"]"#,
    );
    assert_contains(
        &message,
        &[
            "/checkout/dist/.app.tar.gz cannot be a release asset",
            "starts with `.`",
        ],
    );
}

#[test]
fn the_yaml_readers_own_wording_never_reaches_the_user() {
    // serde-saphyr words some errors for the programmer (`use Option<String>`, `use
    // from_str_multiple`, `set ... in Options`, a debug dump of its budget); each is reworded.
    let f = Fixture::new();
    let cases = [
        (
            "  private: security\n",
            "  private:\n",
            "  private:",
            "a value is missing here",
        ),
        (
            "  private: security\n",
            "  private: ~\n",
            "  private:",
            "a value is missing here",
        ),
        (
            r#"artifacts: ["dist/*.tar.gz"]"#,
            "artifacts: [null]",
            "artifacts:",
            "a value is missing here",
        ),
        (
            "  private: security\n",
            "  private: !!binary /w==\n",
            "  private:",
            "!!binary value is not UTF-8 text",
        ),
        (
            "embargo: \"2036-12-01 16:00 UTC\"\n",
            "embargo: \"2036-12-01 16:00 UTC\"\n---\nversion: 1\n",
            "---\nversion",
            "a second YAML document (after a `---` line)",
        ),
    ];
    for (from, to, at, expected) in cases {
        let text = edited(&[(from, to)]);
        let (mut line, _) = position(&text, at);
        if at.starts_with("---") {
            // The error is where the second document's content begins.
            line += 1;
        }
        let message = text_refused(&f, &text, line, None);
        assert_contains(&message, &[expected]);
        for programmer in ["Option<", "from_str", "Options", "budget breached"] {
            assert!(!message.contains(programmer), "{message}");
        }
    }
}

// 4. The fuzzer's inputs (fuzz/, see its README): the seeds, and any input that once crashed
// the reader, added to fuzz/corpus/pipeline as a regression.

#[test]
fn the_fuzz_corpus_is_read_without_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/pipeline");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut parsed = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        // The fuzz target reads an input that starts with a byte below 33 as one value of the
        // sample pipeline; those are its business.
        if bytes.first().is_some_and(|&b| b < 33) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        if pipeline::parse(file, &text, &Overrides::default()).is_ok() {
            parsed.push(file.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    // The seeds that are whole, valid pipelines still are, so the fuzzer starts from them.
    for seed in ["commits.yaml", "istio.yaml", "minimal.yaml", "sample.yaml"] {
        assert!(parsed.iter().any(|p| p == seed), "{seed} no longer parses");
    }
}

#[test]
fn a_fix_branch_with_control_characters_is_refused_without_echoing_them() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[(
        "branch: security/CVE-2026-0001",
        "branch: \"security/\\e[31mred\"",
    )]);
    let run = f.embargo(&["plan", pipeline.to_str().unwrap()]);
    run.expect(2);
    common::pin::error(&run);
    assert!(run.stderr.contains("fix.branch"), "{}", run.stderr);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "the escape reached the terminal: {:?}",
        run.stderr
    );
    let run = f.embargo(&["plan", pipeline.to_str().unwrap(), "--fix", "bad\u{7}name"]);
    run.expect(2);
    common::pin::error(&run);
    assert!(!run.stderr.contains('\u{7}'), "{:?}", run.stderr);
}

#[test]
fn two_artifacts_whose_names_differ_only_in_case_are_refused() {
    let (_f, message) = build_refused(
        "mkdir -p other && cp dist/app-linux-amd64.tar.gz other/APP-linux-amd64.tar.gz",
        r#"["dist/*.tar.gz", "other/*.tar.gz"]"#,
    );
    assert_contains(
        &message,
        &[
            "two artifacts are named `APP-linux-amd64.tar.gz`",
            "whatever their case",
        ],
    );
}
