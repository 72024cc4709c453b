//! Snapshots of what users read (insta), with what changes from run to run or machine to
//! machine redacted: temporary folders, SHAs, times, durations, loopback ports, the sandbox's
//! kind. Snapshots live in `tests/snapshots/`; see README.md's Development section for how to
//! update them.

use std::cell::Cell;

use crate::common::Run;

/// `text` with every regex metacharacter escaped, for a filter that matches it literally.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The temporary folder, as given and as the kernel resolves it (the sample canonicalizes it).
fn temp_dirs() -> Vec<String> {
    let given = std::env::temp_dir();
    // A command run with a cleared environment (no TMPDIR) uses /tmp whatever this process uses.
    let mut dirs = vec![given.display().to_string(), "/tmp".to_string()];
    if let Ok(real) = given.canonicalize() {
        dirs.push(real.display().to_string());
    }
    dirs.sort();
    dirs.dedup();
    // Longest first, so that a folder inside another is not cut short.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
    dirs.into_iter()
        .map(|d| d.trim_end_matches('/').to_string())
        .collect()
}

/// The instants (to the minute) the tests and the sample write: the sample's embargo, the example
/// in messages, the instants the tests reschedule to. A clock reading is kept only if it falls
/// on one of these minutes.
const WRITTEN_INSTANTS: &[(&str, &str)] = &[
    ("2020-01-01", "00:00"),
    ("2026-12-01", "16:00"),
    ("2026-13-01", "16:00"),
    ("2036-06-01", "00:00"),
    ("2036-12-01", "16:00"),
    ("2037-01-01", "00:00"),
    ("2037-02-01", "00:00"),
];

/// Stands for `-` in a written instant while the clock's instants are redacted.
const HIDDEN_DASH: &str = "\u{2011}";

/// The filters every snapshot goes through, in order.
pub fn filters() -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = Vec::new();
    let mut add = |from: &str, to: &str| f.push((from.to_string(), to.to_string()));
    for dir in temp_dirs() {
        let dir = literal(&dir);
        // A test's sample project (tempfile's `.tmpXXXXXX`) is the root of every path it prints.
        add(&format!(r"{dir}/\.tmp[A-Za-z0-9]{{6}}"), "[ROOT]");
        // The folders embargo makes for itself: embargo-build-XXXXXX, embargo-dry-run-XXXXXX.
        add(
            &format!(r"{dir}/embargo-([a-z]+(?:-[a-z]+)*)-[A-Za-z0-9]{{6}}"),
            "[TMP]/embargo-$1-[RANDOM]",
        );
        add(&dir, "[TMP]");
    }
    // SHA-256 digests, object names, and their abbreviations.
    add(r"\b[0-9a-f]{64}\b", "[SHA256]");
    add(r"\b[0-9a-f]{40}\b", "[SHA]");
    add(r"\b[0-9a-f]{12}\b", "[SHORT-SHA]");
    // The fingerprint of what a stage depends on: a hash, pinned by the drift tests, not here.
    add(r"\bfingerprint [0-9a-f]{16}\b", "fingerprint [FINGERPRINT]");
    // Instants: the ones the tests and the sample write stay as written (they are what the user
    // gave); every other is read from the clock (the journal's, embargoes hours from now):
    // RFC 3339 as `[TIME]`, `YYYY-MM-DD HH:MM[:SS]` as `[NOW]`, `YYYYMMDDTHHMMSSZ` in folder
    // names as `[COMPACT-TIME]`. The written ones are kept by hiding their dashes for a moment.
    for (date, time) in WRITTEN_INSTANTS {
        let hidden = date.replace('-', HIDDEN_DASH);
        add(
            &format!(r"\b{date}([ T]){time}\b"),
            &format!("{hidden}${{1}}{time}"),
        );
    }
    add(
        r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})",
        "[TIME]",
    );
    add(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?", "[NOW]");
    add(r"\b\d{8}T\d{6}Z", "[COMPACT-TIME]");
    add(HIDDEN_DASH, "-");
    // Durations: `3657d 15h`, `2h 05m`, `1m 30s`, `1h2m`, `0.12s`, `12s`, `123 ms`.
    add(
        r"\b\d+(?:d \d+h|h ?\d+m|m ?\d+s)\b|\b\d+(?:\.\d+)?s\b|\b\d+ ?ms\b",
        "[DURATION]",
    );
    // Loopback servers (the fake GitHub and SMTP) listen on a port the kernel picks.
    add(r"\b(127\.0\.0\.1|localhost|\[::1\]):\d+", "$1:[PORT]");
    add(r"\bpid \d+", "pid [PID]");
    // A changed file's sizes, when what was written holds a temporary path.
    add(
        r"\(\d+ bytes before, \d+ now\)",
        "([SIZE] bytes before, [SIZE] now)",
    );
    // Whether build steps run in namespaces depends on the kernel, not on embargo.
    add(
        r"steps run (?:in their own user, mount and PID namespaces|without namespaces \([^)]*\))[^\n]*",
        "steps run [SANDBOX]",
    );
    f
}

/// insta's settings for a snapshot of this test binary: the filters, no expression in the
/// file (it is always a redacted output), and `tests/snapshots/` whichever file pins.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (from, to) in filters() {
        settings.add_filter(&from, to);
    }
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

thread_local! {
    /// How many snapshots the running test has pinned, for the names of the second and later.
    static PINNED: Cell<usize> = const { Cell::new(0) };
}

/// The running test as libtest names its thread: `FILE::TEST` (the test file's module in
/// tests/all.rs, then the test).
fn test_path() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .expect("snapshots are pinned from a test thread, named after its test")
        .to_string()
}

/// The name of the next snapshot of the running test: `FILE__TEST`, then `-2`, `-3`, ...
fn next_name() -> String {
    let base = test_path().replace("::", "__");
    let n = PINNED.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    if n == 1 { base } else { format!("{base}-{n}") }
}

/// Pins `text` (redacted) as the snapshot `FILE__NAME`.
#[track_caller]
pub fn text(name: &str, text: &str) {
    let path = test_path();
    let file = path.split("::").next().unwrap_or_default();
    let name = format!("{file}__{name}");
    settings().bind(|| insta::assert_snapshot!(name, text));
}

/// What a failed command told the user: its exit code and, on stderr, the error from its first
/// `error: ` or `integrity violation: ` line on (the progress before it is a run's, not the
/// error's). A JSON error on stdout is included too.
pub fn error_text(run: &Run) -> String {
    let lines: Vec<&str> = run.stderr.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("error: ") || l.starts_with("integrity violation: "))
        .unwrap_or(0);
    let mut out = format!("exit {}\n", run.code);
    if !run.stdout.trim().is_empty() && run.stdout.trim_start().starts_with('{') {
        out.push_str("--- stdout\n");
        out.push_str(run.stdout.trim_end());
        out.push('\n');
    }
    out.push_str("--- stderr\n");
    out.push_str(&lines[start..].join("\n"));
    out.push('\n');
    out
}

/// Pins the error `run` ended with, named after the running test.
#[track_caller]
pub fn error(run: &Run) {
    let name = next_name();
    let text = error_text(run);
    settings().bind(|| insta::assert_snapshot!(name, text));
}

/// Everything a command printed: its exit code, then stdout and stderr, each when not empty.
pub fn output_text(run: &Run) -> String {
    let mut out = format!("exit {}\n", run.code);
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if !text.is_empty() {
            out.push_str(&format!("--- {name}\n{text}"));
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

/// Pins everything `run` printed, named after the running test.
#[track_caller]
pub fn output(run: &Run) {
    let name = next_name();
    let text = output_text(run);
    settings().bind(|| insta::assert_snapshot!(name, text));
}

/// The committed JSON Schema `schema/output/NAME.schema.json` of one command's `--json` output.
pub fn schema(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema/output")
        .join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Asserts that `value` is valid against the output schema `name`.
#[track_caller]
pub fn assert_valid(name: &str, value: &serde_json::Value) {
    let schema = schema(name);
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema/output/{name}.schema.json does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the output does not match schema/output/{name}.schema.json: {errors:#?}\n{value:#}"
    );
}

/// A `--json` run: its stdout must be one JSON document valid against the output schema `name`
/// (`error` for a failure, whatever the command). Pins the whole output, named after the running
/// test; returns the value.
#[track_caller]
pub fn json(name: &str, run: &Run) -> serde_json::Value {
    let value = parsed(name, run);
    output(run);
    value
}

/// [`json`], pinned as the snapshot `BINARY__SNAPSHOT`.
#[track_caller]
pub fn json_named(name: &str, snapshot: &str, run: &Run) -> serde_json::Value {
    let value = parsed(name, run);
    text(snapshot, &output_text(run));
    value
}

#[track_caller]
fn parsed(name: &str, run: &Run) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "--json printed something that is not one JSON document ({e}):\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        )
    });
    let name = if run.code == 0 { name } else { "error" };
    assert_valid(name, &value);
    value
}
