//! How late the release PATCH (the call that makes the draft public) and the public push arrive
//! after the embargo instant, against the fake GitHub of the tests, for the two ways a release is
//! published: `publish --wait` and `publish --if-due --within 10m` started before the instant.
//!
//! The sample project of `embargo demo` (a small repository: benches/publish_latency.sh measures
//! the push on a large one), the fake GitHub in this process, which records when each request
//! arrived; a post-receive hook on the public bare repository records when the push landed. Each
//! release is staged with `embargo run --embargo T`, T a few seconds ahead (EMBARGO_BENCH_LEAD,
//! default 6 s, whole seconds as the pipeline format has them), then published in the mode.
//! The push landed when the last ref it created became visible on the public bare repository:
//! the change time of its loose ref file, which the rename into place sets (no hook can tell:
//! embargo pushes to a repository on this machine with its hooks off).
//! EMBARGO_BENCH_RUNS runs per mode (default 5), min / median / max.
//!
//! Targets (issue "on the instant at any size"): push landed <= 250 ms, PATCH <= 300 ms; both
//! <= 400 ms with 300 pick targets.
//!
//! With EMBARGO_BENCH_REPO=DIR, the releases are made instead on a copy (one per run) of the
//! repositories benches/lib.sh generates and keeps (DIR holds public.git, security.git and work;
//! e.g. `BENCH_KEEP=1 BENCH_RUNS=1 BENCH_BASELINE_RUNS=1 benches/cherry_pick.sh`), the newest line
//! released and every master/release-* branch a pick target.
//!
//! EMBARGO_BENCH_MIB=128 (with EMBARGO_BENCH_REPO) builds 4 artifacts of that many MiB each, as
//! the release has, instead of one small one: the preflight hashes every byte before the
//! instant, the read-back after it uses GitHub's digests.
//!
//! Run: `cargo bench --bench patch_latency`. Without `--bench` (as under `cargo test --benches`)
//! it runs once per mode, only to prove that it works.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/fake_github.rs"]
mod fake_github;
#[path = "../tests/common/world.rs"]
mod world;

use world::{World, embargo_in};

const TARGET_PUSH_MS: i64 = 250;
/// The target with 300 pick targets (master and 299 release branches), push and PATCH.
const TARGET_300_MS: i64 = 400;

/// How many release branches the repository of EMBARGO_BENCH_REPO has (0 for the sample).
fn release_branches() -> usize {
    let Ok(dir) = std::env::var("EMBARGO_BENCH_REPO") else {
        return 0;
    };
    std::process::Command::new("git")
        .arg("-C")
        .arg(std::path::Path::new(&dir).join("public.git"))
        .args([
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads/release-*",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
        .unwrap_or(0)
}
const TARGET_PATCH_MS: i64 = 300;
const PATCH: &str = "PATCH /repos/{owner}/{repo}/releases/{release_id}";

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A copy of a generated repository (benches/lib.sh) to release from, in place of the sample
/// project: the folder it is in, the pipeline, and the git environment the generator used.
struct Large {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    pipeline: std::path::PathBuf,
}

fn large(from: &std::path::Path) -> Large {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path().join("copy");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(&root)
        .status()
        .expect("cp");
    assert!(status.success(), "copying {}", from.display());
    // The copy's pages written out now, not while the public repository (standing for GitHub)
    // writes the pushed refs at the instant: its fsyncs would wait for them.
    let _ = std::process::Command::new("sync").status();
    let work = root.join("work");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(&work)
            .args(args)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&[
        "remote",
        "set-url",
        "origin",
        &root.join("public.git").display().to_string(),
    ]);
    git(&[
        "remote",
        "set-url",
        "security",
        &root.join("security.git").display().to_string(),
    ]);
    let line = git(&["ls-remote", "--heads", "origin", "release-*"])
        .lines()
        .filter_map(|l| l.rsplit("refs/heads/release-").next())
        .filter_map(|v| Some((v.split_once('.')?.1.parse::<u32>().ok()?, v.to_string())))
        .max()
        .map(|(_, v)| v)
        .expect("release branches");
    // The release: 4 artifacts of EMBARGO_BENCH_MIB MiB each (0: one small artifact).
    let build = match env_number("EMBARGO_BENCH_MIB", 0) {
        0 => "mkdir -p dist && echo x > dist/app.tar.gz".to_string(),
        mib => format!(
            "mkdir -p dist && for i in 1 2 3 4; do head -c {mib}M /dev/urandom > dist/app-$i.tar.gz; done"
        ),
    };
    let pipeline = work.join("pipelines/latency.yaml");
    std::fs::create_dir_all(pipeline.parent().expect("a folder")).expect("pipelines/");
    std::fs::write(
        &pipeline,
        format!(
            "version: 1\nname: security-release\n\nrepository:\n  path: .\n  private: security\n  public: origin\n\n\
             versioning:\n  tag: \"v{{major}}.{{minor}}.{{patch}}\"\n  branch: \"{{tag}}\"\n  line: \"{line}\"\n\n\
             fix:\n  branch: security/CVE-2026-0001\n  base: master\n\n\
             build:\n  steps:\n    - name: artifact\n      run: {build}\n      timeout: 5m\n\
             \x20 artifacts: [\"dist/*.tar.gz\"]\n  checksums: SHA256SUMS\n\n\
             verify:\n  - name: artifact\n    run: ls \"$EMBARGO_DIST\"\n    expect_stdout: \"app\"\n    timeout: 1m\n\n\
             cherry_pick:\n  onto: [master, \"release-*\"]\n  branch: \"cherry-pick/{{tag}}/{{target}}\"\n  on_conflict: report\n\n\
             publish:\n  github:\n    repository: example/app\n    token_env: GITHUB_TOKEN\n    name: \"{{tag}}\"\n    make_latest: auto\n    pull_requests: true\n\n\
             embargo: \"2036-12-01 16:00 UTC\"\n"
        ),
    )
    .expect("the pipeline");
    Large {
        _dir: dir,
        root,
        pipeline,
    }
}

/// One release published in `mode`: (push landed, PATCH arrived), in ms after the instant.
fn release(mode: &[&str], lead: i64) -> (i64, i64) {
    let mut w = World::new();
    let large = std::env::var_os("EMBARGO_BENCH_REPO").map(|d| large(std::path::Path::new(&d)));
    let public = match &large {
        Some(l) => {
            w.f.sample.work = l.root.join("work");
            w.pipeline = l.pipeline.clone();
            l.root.join("public.git")
        }
        None => w.f.sample.public.clone(),
    };
    let instant = embargo_in(lead);
    w.embargo(&["run", w.p(), "--embargo", &instant]).expect(0);
    // What staging wrote (the artifacts, the state folder) written out now, not while the public
    // repository, standing for GitHub on another machine, fsyncs the pushed refs at the instant.
    let _ = std::process::Command::new("sync").status();
    let mut args = vec!["publish", w.p()];
    args.extend_from_slice(mode);
    args.extend_from_slice(&["--embargo", &instant]);
    w.embargo(&args).expect(0);
    let at: jiff::Timestamp = instant.parse().expect("an instant");
    let at_us = at.as_microsecond();
    let landed = landed_us(&public.join("refs"), at_us - 1_000_000).expect("the push landed");
    let patch =
        w.gh.requests_for(PATCH)
            .into_iter()
            .find(|r| r.json.as_ref().is_some_and(|j| j["draft"] == false))
            .expect("the release was published");
    (
        (landed - at_us) / 1000,
        (patch.arrived.as_microsecond() - at_us) / 1000,
    )
}

/// The latest change time, in microseconds, of a ref file under `dir` changed after `since`.
fn landed_us(dir: &std::path::Path, since: i64) -> Option<i64> {
    use std::os::unix::fs::MetadataExt;
    let mut latest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        let at = if meta.is_dir() {
            landed_us(&entry.path(), since)
        } else {
            Some(meta.ctime() * 1_000_000 + meta.ctime_nsec() / 1_000).filter(|t| *t >= since)
        };
        latest = latest.max(at);
    }
    latest
}

fn stats(mut v: Vec<i64>) -> (i64, i64, i64) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runs = if full {
        env_number("EMBARGO_BENCH_RUNS", 5).max(1)
    } else {
        1
    };
    let lead = env_number("EMBARGO_BENCH_LEAD", 6).max(3);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let repository = match std::env::var("EMBARGO_BENCH_REPO") {
        Ok(dir) => match env_number("EMBARGO_BENCH_MIB", 0) {
            0 => format!("a copy of {dir}"),
            mib => format!("a copy of {dir}, 4 artifacts of {mib} MiB"),
        },
        Err(_) => "the sample project".to_string(),
    };
    // "and at 300 pick branches <= 400 ms": for the push and the PATCH.
    let (target_push, target_patch) = if release_branches() + 1 >= 300 {
        (TARGET_300_MS, TARGET_300_MS)
    } else {
        (TARGET_PUSH_MS, TARGET_PATCH_MS)
    };
    println!("embargo PATCH latency benchmark ({repository}, fake GitHub, {runs} run(s) a mode)");
    println!(
        "  machine          load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (label, mode) in [
        ("--wait", &["--wait"][..]),
        (
            "--if-due --within 10m",
            &["--if-due", "--within", "10m"][..],
        ),
    ] {
        let (mut pushes, mut patches) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (push, patch) = release(mode, lead);
            pushes.push(push);
            patches.push(patch);
        }
        let (p0, p1, p2) = stats(pushes);
        let (q0, q1, q2) = stats(patches);
        println!("  {label}");
        println!(
            "    push landed    min {p0} ms, median {p1} ms, max {p2} ms after the instant; target <= {target_push} ms: {}",
            if p1 <= target_push { "met" } else { "NOT MET" }
        );
        println!(
            "    PATCH arrived  min {q0} ms, median {q1} ms, max {q2} ms after the instant; target <= {target_patch} ms: {}",
            if q1 <= target_patch { "met" } else { "NOT MET" }
        );
    }
}
