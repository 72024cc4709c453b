//! Fuzzes the pipeline reader: whatever the bytes, `embargo::pipeline::parse` must return a
//! `Pipeline` or a `PipelineError` with a message, never panic, hang, or let the YAML make it
//! allocate without bound.
//!
//! An input is read in one of two ways, by its first byte:
//! - a byte below 33 (a control character or a space, which hardly begins a YAML file) picks one
//!   value of the sample pipeline, or one command-line override, and the rest of the input is
//!   that value. Almost no mutated file gets past the YAML and the unknown-key checks, so this is
//!   what reaches the checks behind them (templates, ref names, globs, durations, embargo times,
//!   commit ids, URLs);
//! - anything else is a whole pipeline file: as `str` when it is UTF-8, else with the bad bytes
//!   replaced (`load` refuses a file that is not UTF-8 before it parses anything).

#![no_main]

use std::path::Path;

use embargo::pipeline::{self, Overrides};
use libfuzzer_sys::fuzz_target;

const SAMPLE: &str = include_str!("../../src/sample/pipeline.yaml");

/// Where a value goes: `from` (found once in the sample) is replaced by `to`, where `@` stands
/// for the value as a YAML double-quoted string.
const SLOTS: &[(&str, &str)] = &[
    ("name: security-release", "name: @"),
    ("path: .", "path: @"),
    ("private: security", "private: @"),
    ("public: origin", "public: @"),
    ("tag: \"v{major}.{minor}.{patch}\"", "tag: @"),
    ("branch: \"{tag}\"", "branch: @"),
    ("line: \"1.0\"", "line: @"),
    ("branch: security/CVE-2026-0001", "branch: @"),
    ("base: master", "base: @"),
    (
        "branch: security/CVE-2026-0001\n  base: master",
        "commits: [@]",
    ),
    (
        "base: master",
        "base: master\n  per_target: {release-1.0: @}",
    ),
    ("run: ./build.sh", "run: @"),
    ("timeout: 5m", "timeout: @"),
    ("timeout: 5m", "timeout: 5m\n      env: {X: @}"),
    ("timeout: 5m", "timeout: 5m\n      env: {@: x}"),
    ("artifacts: [\"dist/*.tar.gz\"]", "artifacts: [@]"),
    ("checksums: SHA256SUMS", "checksums: @"),
    (
        "checksums: SHA256SUMS",
        "checksums: SHA256SUMS\n  env_passthrough: [@]",
    ),
    ("expect_stdout: \"app {version}\"", "expect_stdout: @"),
    ("onto: [master, \"release-*\"]", "onto: [@]"),
    ("skip: [\"release-0.*\"]", "skip: [@]"),
    ("branch: \"cherry-pick/{tag}/{target}\"", "branch: @"),
    ("on_conflict: report", "on_conflict: @"),
    ("embargo: \"2026-12-01 16:00 UTC\"", "embargo: @"),
    ("repository: example/app", "repository: @"),
    (
        "repository: example/app",
        "repository: example/app\n    api_url: @",
    ),
    (
        "repository: example/app",
        "repository: example/app\n    notes_file: @",
    ),
    ("token_env: GITHUB_TOKEN", "token_env: @"),
    ("name: \"{tag}\"", "name: @"),
    ("make_latest: auto", "make_latest: @"),
];

fuzz_target!(|data: &[u8]| {
    let file = Path::new("fuzz.yaml");
    let defaults = Overrides::default();
    match data.split_first() {
        // One value.
        Some((&which, rest)) if usize::from(which) < SLOTS.len() + 3 => {
            let which = usize::from(which);
            let value = String::from_utf8_lossy(rest).into_owned();
            match which.checked_sub(SLOTS.len()) {
                None => {
                    let (from, to) = SLOTS[which];
                    assert!(SAMPLE.contains(from), "the sample pipeline has no `{from}`");
                    let text = SAMPLE.replacen(from, &to.replace('@', &quoted(&value)), 1);
                    check(pipeline::parse(file, &text, &defaults));
                }
                Some(flag) => {
                    let overrides = Overrides {
                        line: (flag == 0).then(|| value.clone()),
                        fix: (flag == 1).then(|| value.clone()),
                        embargo: (flag == 2).then(|| value.clone()),
                    };
                    check(pipeline::parse(file, SAMPLE, &overrides));
                }
            }
        }
        // The whole file.
        _ => match std::str::from_utf8(data) {
            Ok(text) => check(pipeline::parse(file, text, &defaults)),
            Err(_) => check(pipeline::parse(
                file,
                &String::from_utf8_lossy(data),
                &defaults,
            )),
        },
    }
});

/// `value` as a YAML double-quoted scalar, every character kept.
fn quoted(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn check(result: Result<pipeline::Pipeline, pipeline::PipelineError>) {
    if let Err(e) = result {
        // Every refusal says something, and renders.
        assert!(
            !e.message.trim().is_empty(),
            "an empty error message: {e:?}"
        );
        let _ = e.to_string();
    }
}
