//! What each asset costs beyond its transfer, end to end: `embargo run` (which stages the draft
//! release and uploads every asset) and `embargo publish --if-due` (which reads the draft back,
//! publishes it and downloads every asset back), with 200 small artifacts against 1, beside curl
//! uploading and downloading the same files one after the other to the same fake GitHub.
//!
//! The fake GitHub of the tests (tests/common/fake_github.rs) runs in this process; the sample
//! project of `embargo demo` is made in a temporary folder for each release, its build step
//! extended to write EMBARGO_BENCH_ASSETS (default 200) files of 4 KiB into `dist/`; the real
//! binary runs as a child, as a release lead runs it. Each measure is taken EMBARGO_BENCH_RUNS
//! times (default 3) and reported as a median.
//!
//!   per asset, staging  = ((run with N) - (run with 1) - (curl's N uploads - curl's 1)) / (N - 1)
//!   per asset, publish  = ((publish with N) - (publish with 1) - (curl's N downloads - its 1)) / (N - 1)
//!
//! Target (issue "on the instant at any size"): at most 10 ms per asset beyond the transfer.
//!
//! Run: `cargo bench --bench many_assets`. Without `--bench` (as under `cargo test --benches`) it
//! runs once with 5 assets, only to prove that it works. Needs `curl` on PATH.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/fake_github.rs"]
mod fake_github;
#[path = "../tests/common/world.rs"]
mod world;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use world::World;

const TARGET_MS: f64 = 10.0;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One release with `assets` artifacts: the time of `run` and of `publish --if-due`.
fn release(assets: usize) -> (f64, f64) {
    let w = World::new();
    let text = std::fs::read_to_string(&w.pipeline).expect("the sample pipeline");
    let text = text.replace(
        "      run: ./build.sh\n",
        &format!(
            "      run: ./build.sh && for i in $(seq 1 {assets}); do head -c 4096 /dev/urandom > dist/extra-$i.tar.gz; done\n"
        ),
    );
    std::fs::write(&w.pipeline, text).expect("writing the pipeline");
    let started = Instant::now();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let run = ms(started.elapsed());
    let started = Instant::now();
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    let publish = ms(started.elapsed());
    let release = w.gh.releases_with_tag("v1.0.2");
    assert_eq!(release.len(), 1);
    // The sample's own artifact, the checksums file and the extra ones.
    assert_eq!(release[0].assets.len(), assets + 2);
    (run, publish)
}

/// curl uploading `files` one after the other to a fresh draft on a fresh fake, then
/// downloading each back: the two times.
fn curl(files: &[PathBuf]) -> (f64, f64) {
    let gh = fake_github::FakeGitHub::start();
    let id = gh.seed_release("example", "app", "v9.9.9", true);
    let auth = format!("Authorization: Bearer {}", gh.token());
    let started = Instant::now();
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("asset");
        let url = format!(
            "{}/repos/example/app/releases/{id}/assets?name={name}",
            gh.uploads_url()
        );
        run_curl(&[
            "-sS",
            "-f",
            "-o",
            "/dev/null",
            "-H",
            &auth,
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", file.display()),
            &url,
        ]);
    }
    let upload = ms(started.elapsed());
    let assets = gh.releases_with_tag("v9.9.9")[0].assets.clone();
    assert_eq!(assets.len(), files.len());
    let started = Instant::now();
    for asset in &assets {
        let url = format!(
            "{}/repos/example/app/releases/assets/{}",
            gh.api_url(),
            asset.id
        );
        run_curl(&[
            "-sS",
            "-f",
            "-L",
            "-o",
            "/dev/null",
            "-H",
            &auth,
            "-H",
            "Accept: application/octet-stream",
            &url,
        ]);
    }
    (upload, ms(started.elapsed()))
}

fn run_curl(args: &[&str]) {
    let status = Command::new("curl")
        .args(args)
        .status()
        .expect("curl must be on PATH");
    assert!(status.success(), "curl {args:?} failed");
}

fn files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let path = dir.join(format!("extra-{i}.tar.gz"));
            std::fs::write(&path, vec![(i % 251) as u8; 4096]).expect("writing a file");
            path
        })
        .collect()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full {
        env_number("EMBARGO_BENCH_ASSETS", 200)
    } else {
        5
    };
    let runs = if full {
        env_number("EMBARGO_BENCH_RUNS", 3)
    } else {
        1
    };
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let many_files = files(tmp.path(), n);
    let (mut run1, mut runn, mut pub1, mut pubn) = (vec![], vec![], vec![], vec![]);
    let (mut up1, mut upn, mut down1, mut downn) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let (r, p) = release(1);
        run1.push(r);
        pub1.push(p);
        let (r, p) = release(n);
        runn.push(r);
        pubn.push(p);
        let (u, d) = curl(&many_files[..1]);
        up1.push(u);
        down1.push(d);
        let (u, d) = curl(&many_files);
        upn.push(u);
        downn.push(d);
    }
    let extra = (n - 1).max(1) as f64;
    let (run1, runn, pub1, pubn) = (median(run1), median(runn), median(pub1), median(pubn));
    let (up1, upn, down1, downn) = (median(up1), median(upn), median(down1), median(downn));
    let stage = (runn - run1 - (upn - up1)) / extra;
    let publish = (pubn - pub1 - (downn - down1)) / extra;
    let verdict = |v: f64| if v <= TARGET_MS { "met" } else { "NOT MET" };
    println!(
        "embargo many-assets benchmark ({n} extra assets of 4 KiB against 1, medians of {runs} run(s))"
    );
    println!(
        "  machine          load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );
    println!("  embargo run      1: {run1:.0} ms, {n}: {runn:.0} ms");
    println!(
        "  curl uploads     1: {up1:.0} ms, {n}: {upn:.0} ms ({:.1} ms a file)",
        upn / n as f64
    );
    println!("  embargo publish  1: {pub1:.0} ms, {n}: {pubn:.0} ms");
    println!(
        "  curl downloads   1: {down1:.0} ms, {n}: {downn:.0} ms ({:.1} ms a file)",
        downn / n as f64
    );
    println!(
        "  per asset beyond curl's transfer: staging {stage:.1} ms, publishing {publish:.1} ms; target <= {TARGET_MS} ms: {} / {}",
        verdict(stage),
        verdict(publish)
    );
}
