//! Throughput and memory of stage 6's asset upload (`embargo::github::releases::upload`).
//!
//! Writes one file of EMBARGO_BENCH_MIB MiB (default 2048) into a temporary folder, starts the
//! fake GitHub of the tests (tests/common/fake_github.rs) in this process with a draft release
//! example/app v9.9.9, and uploads the file to it the way `embargo run` does:
//!
//!   * the runner, in a child process (this binary re-executed with EMBARGO_BENCH_CHILD set): a
//!     pipeline with `publish.github` parsed by `embargo::pipeline::parse`, an
//!     `embargo::github::client::Client` pointed at the fake by EMBARGO_GITHUB_API_URL, the
//!     draft found by `releases::find_by_tag`, then `releases::upload` timed. The child reads
//!     VmHWM (peak resident set size) from /proc/self/status at its start, just before the
//!     upload and after it, so the peak is the runner's own: the fake, which reads and hashes
//!     every byte, runs in the parent and its memory does not count.
//!
//! The parent then checks that the fake holds exactly one asset, with the file's size and
//! SHA-256 (`embargo::checksum::sha256_file`), and that the fake saw no request that breaks
//! GitHub's API description.
//!
//! The fake (tiny_http, SHA-256 of the body on its own thread) may be the bottleneck, so four
//! references follow, to tell the runner's cost from the fake's and from reqwest's:
//!
//!   * plain reqwest blocking client, `Body::sized(File)`, in a child, to the fake;
//!   * raw HTTP/1.1 request, body by `std::io::copy` from the file (sendfile on Linux), to the
//!     fake: the fake's ceiling;
//!   * plain reqwest, in a child, to a sink that reads with a 1 MiB buffer and discards:
//!     reqwest's own ceiling, without the fake;
//!   * raw request to the sink: the loopback ceiling of the machine.
//!
//! For each, the CPU seconds of the client process (for the children) and of this process
//! (which holds the fake or the sink) are printed beside the wall time: on a machine with few
//! cores they show who is busy. The file is in the page cache when uploaded (it was just written,
//! synced and hashed), so this measures HTTP on loopback, not the disk.
//!
//! The five uploads are repeated EMBARGO_BENCH_RUNS times (default 3), each round against a
//! fresh fake, and reported as median and min-max: reqwest's blocking client hands the body to
//! its runtime thread 8 KiB at a time, and its speed depends on whether the scheduler puts the
//! two threads on one core or two, so single runs vary several-fold. The speed target is judged
//! on the median (with the rounds below it named), the memory target on the highest VmHWM.
//!
//! Run: `cargo bench --bench upload` (EMBARGO_BENCH_MIB=256 for a quick run). Without `--bench`
//! (as under `cargo test --benches`) it runs one round at 16 MiB, only to prove that it works.
//! TMPDIR chooses where the file goes; it needs EMBARGO_BENCH_MIB MiB of space.

#[path = "../tests/common/fake_github.rs"]
mod fake_github;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use embargo::checksum::sha256_file;
use embargo::github::client::{API_URL_ENV, Client};
use embargo::github::releases::{self, Progress, UploadError};
use embargo::pipeline::{Overrides, parse};
use fake_github::FakeGitHub;

const MIB: u64 = 1024 * 1024;
/// Set (to `runner` or `reqwest`) in the child process that does one upload.
const CHILD_VAR: &str = "EMBARGO_BENCH_CHILD";
const TARGET_MBPS: f64 = 300.0;
const TARGET_PEAK_MIB: f64 = 64.0;
const OWNER: &str = "example";
const REPO: &str = "app";
const TAG: &str = "v9.9.9";
/// The asset the runner uploads; the references upload under other names.
const ASSET: &str = "app-9.9.9-linux-amd64.tar.gz";
const TOKEN_ENV: &str = "GITHUB_TOKEN";
/// Just enough pipeline for `publish.github`; nothing else in it is used.
const PIPELINE: &str = r#"
version: 1
name: upload-bench
repository:
  private: security
  public: origin
fix:
  branch: security/CVE-2026-0001
build:
  steps:
    - name: build
      run: "true"
  artifacts: ["dist/*"]
publish:
  github:
    repository: example/app
    token_env: GITHUB_TOKEN
"#;
/// Proxy variables reqwest would honour: the children must talk to 127.0.0.1 directly.
const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

fn main() {
    if let Ok(mode) = std::env::var(CHILD_VAR) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if let Err(e) = child(&mode, &args) {
            eprintln!("upload bench child ({mode}): {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = parent() {
        eprintln!("upload bench failed: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: file, fake, children, checks, report.

/// One upload, as measured.
struct Measure {
    label: &'static str,
    seconds: f64,
    bytes: u64,
    /// CPU seconds (user + system) of the client process during the upload; None when the
    /// client is this process.
    client_cpu: Option<f64>,
    /// CPU seconds of this process (the fake's or the sink's, and the raw client's when there is
    /// no child) while the child ran or the raw upload lasted.
    server_cpu: f64,
    /// VmHWM of the child at its start, before and after the upload, KiB.
    hwm: Option<(u64, u64, u64)>,
}

impl Measure {
    fn mbps(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e6
    }
}

/// The same upload over several rounds: medians, spread, worst memory.
struct Summary {
    label: &'static str,
    /// MB/s, sorted.
    mbps: Vec<f64>,
    client_cpu: Option<f64>,
    /// The client CPU seconds of the slowest round.
    slowest_cpu: Option<f64>,
    server_cpu: f64,
    seconds: f64,
    /// The highest VmHWM after the upload and the largest growth during it, KiB; and VmHWM at
    /// the child's start.
    hwm: Option<(u64, u64, u64)>,
}

impl Summary {
    fn of(measures: &[&Measure]) -> Summary {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        let mut mbps: Vec<f64> = measures.iter().map(|m| m.mbps()).collect();
        mbps.sort_by(f64::total_cmp);
        let client_cpu = measures
            .iter()
            .map(|m| m.client_cpu)
            .collect::<Option<Vec<f64>>>()
            .map(median);
        let hwm = measures
            .iter()
            .filter_map(|m| m.hwm)
            .reduce(|a, b| (a.0.max(b.0), a.1.max(b.1), a.2.max(b.2)));
        let growth = measures
            .iter()
            .filter_map(|m| m.hwm.map(|h| h.2.saturating_sub(h.1)))
            .max();
        let slowest = measures
            .iter()
            .min_by(|a, b| a.mbps().total_cmp(&b.mbps()))
            .expect("at least one round");
        Summary {
            label: measures[0].label,
            mbps,
            client_cpu,
            slowest_cpu: slowest.client_cpu,
            server_cpu: median(measures.iter().map(|m| m.server_cpu).collect()),
            seconds: median(measures.iter().map(|m| m.seconds).collect()),
            hwm: hwm.zip(growth).map(|(h, g)| (h.2, g, h.0)),
        }
    }

    fn median(&self) -> f64 {
        let n = self.mbps.len();
        if n % 2 == 1 {
            self.mbps[n / 2]
        } else {
            (self.mbps[n / 2 - 1] + self.mbps[n / 2]) / 2.0
        }
    }

    fn min(&self) -> f64 {
        self.mbps[0]
    }

    fn max(&self) -> f64 {
        self.mbps[self.mbps.len() - 1]
    }
}

fn parent() -> Result<(), String> {
    // `cargo bench` passes --bench; `cargo test --benches` does not, and must not write 2 GiB.
    let benching = std::env::args().any(|a| a == "--bench");
    let positive = |var: &str, default: u64| -> Result<u64, String> {
        match std::env::var(var) {
            Ok(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{var}={v}: expected a positive number")),
            Err(_) => Ok(default),
        }
    };
    let mib = positive("EMBARGO_BENCH_MIB", if benching { 2048 } else { 16 })?;
    let runs = positive("EMBARGO_BENCH_RUNS", if benching { 3 } else { 1 })?;
    let size = mib * MIB;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_before = loadavg();

    let dir = tempfile::Builder::new()
        .prefix("embargo-bench-upload-")
        .tempdir()
        .map_err(|e| format!("temporary folder: {e}"))?;
    let path = dir.path().join(ASSET);
    let started = Instant::now();
    write_file(&path, mib)?;
    let write_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let want = sha256_file(&path).map_err(|e| format!("hashing {}: {e}", path.display()))?;
    let hash_secs = started.elapsed().as_secs_f64();
    if want.size != size {
        return Err(format!("wrote {} bytes, expected {size}", want.size));
    }

    let started = Instant::now();
    let mut rounds = Vec::new();
    for _ in 0..runs {
        rounds.push(round(&path, size, &want.sha256)?);
    }
    let total_secs = started.elapsed().as_secs_f64();
    let summaries: Vec<Summary> = (0..rounds[0].len())
        .map(|i| Summary::of(&rounds.iter().map(|r| &r[i]).collect::<Vec<_>>()))
        .collect();
    let [runner, plain_fake, raw_fake, plain_sink, raw_sink] = summaries.as_slice() else {
        unreachable!("a round is five uploads");
    };

    let load_after = loadavg();
    println!("embargo upload benchmark (stage 6: releases::upload to the fake GitHub on loopback)");
    println!(
        "  machine      {cores} core(s), load average {load_before} before the run, {load_after} after ({total_secs:.0}s of uploads)"
    );
    println!(
        "  input        1 file x {mib} MiB in {} (written in {write_secs:.1}s, sha256 in {hash_secs:.1}s; uploaded from the page cache)",
        dir.path().display()
    );
    println!(
        "  check        each round, a fresh fake holds exactly one asset {ASSET}: uploaded, {size} bytes, sha256 {}..., the digest the runner was told; no request broke GitHub's API description",
        &want.sha256[..16]
    );
    println!(
        "  {:<34} {:>8} {:>6} {:>12} {:>10} {:>10}  client peak RSS (VmHWM)",
        format!("upload ({runs} round(s), median)"),
        "seconds",
        "MB/s",
        "(min-max)",
        "client CPU",
        "server CPU"
    );
    for m in &summaries {
        let client_cpu = m
            .client_cpu
            .map_or_else(|| "(parent)".to_string(), |c| format!("{c:.2}s"));
        let rss = match m.hwm {
            Some((peak, growth, start)) => format!(
                "{:.1} MiB (+{:.1} MiB during the upload; {:.1} MiB at start)",
                peak as f64 / 1024.0,
                growth as f64 / 1024.0,
                start as f64 / 1024.0
            ),
            None => "-".to_string(),
        };
        println!(
            "  {:<34} {:>7.2}s {:>6.0} {:>12} {:>10} {:>9.2}s  {rss}",
            m.label,
            m.seconds,
            m.median(),
            format!("({:.0}-{:.0})", m.min(), m.max()),
            client_cpu,
            m.server_cpu
        );
    }
    let peak_mib = runner.hwm.map_or(0, |h| h.0) as f64 / 1024.0;
    let small = peak_mib < TARGET_PEAK_MIB;
    let slow_rounds = runner.mbps.iter().filter(|&&v| v < TARGET_MBPS).count();
    let fast = if slow_rounds == 0 {
        "met".to_string()
    } else if runner.median() >= TARGET_MBPS {
        format!("met at the median, NOT MET in {slow_rounds} of {runs} rounds")
    } else {
        "NOT MET".to_string()
    };
    println!(
        "  target       runner peak RSS < {TARGET_PEAK_MIB:.0} MiB: {} ({peak_mib:.1} MiB, the highest of {runs}); >= {TARGET_MBPS:.0} MB/s on loopback: {fast} (median {:.0} MB/s, slowest round {:.0})",
        if small { "met" } else { "NOT MET" },
        runner.median(),
        runner.min()
    );
    // Whose speed the runner's number is. The fake: what a raw client gets through it.
    let fake_ceiling = raw_fake.median();
    let share = runner.median() / fake_ceiling;
    println!(
        "  fake         a raw client gets {fake_ceiling:.0} MB/s through the fake (a sink that costs nothing: {:.0} MB/s); the runner's median is {:.0}% of that: {}",
        raw_sink.median(),
        100.0 * share,
        if share >= 0.8 {
            "the fake (tiny_http, SHA-256 on the same thread) limits the runner's number"
        } else {
            "the fake is not what limits the runner"
        }
    );
    // embargo's code: the runner against plain reqwest doing the same upload.
    let same =
        runner.median() >= 0.8 * plain_fake.median() || runner.max() >= 0.8 * plain_fake.max();
    println!(
        "  runner       median {:.0} MB/s, best {:.0}; plain reqwest Body::sized(File) to the fake: median {:.0}, best {:.0}; to the sink: median {:.0}, best {:.0}: {}",
        runner.median(),
        runner.max(),
        plain_fake.median(),
        plain_fake.max(),
        plain_sink.median(),
        plain_sink.max(),
        if same {
            "embargo's code costs nothing measurable over reqwest's own blocking upload"
        } else {
            "the runner is slower than plain reqwest: the cost is in embargo's upload path"
        }
    );
    let spread: Vec<String> = summaries
        .iter()
        .filter(|m| m.client_cpu.is_some() && m.max() > 2.0 * m.min())
        .map(|m| {
            format!(
                "{} {:.0}-{:.0} MB/s (client CPU {:.2}s in the slowest round, median {:.2}s)",
                m.label,
                m.min(),
                m.max(),
                m.slowest_cpu.unwrap_or(0.0),
                m.client_cpu.unwrap_or(0.0)
            )
        })
        .collect();
    if !spread.is_empty() {
        println!(
            "  spread       slow rounds, with the client's CPU time up: {}. reqwest's blocking client hands the body from the calling thread to its runtime thread 8 KiB at a time; when the two threads sit on different cores, each hand-off is a cross-core wake-up",
            spread.join("; ")
        );
    }
    if !benching && std::env::var_os("EMBARGO_BENCH_MIB").is_none() {
        println!("  (smoke run at {mib} MiB; `cargo bench --bench upload` for real numbers)");
    }
    // `dir` is removed when dropped here; say so if it cannot be.
    dir.close()
        .map_err(|e| format!("removing the temporary folder: {e}"))
}

/// One round, against a fresh fake and sink: the runner, then the four references.
fn round(path: &Path, size: u64, sha256: &str) -> Result<Vec<Measure>, String> {
    let fake = FakeGitHub::start();
    let release_id = fake.seed_release(OWNER, REPO, TAG, true);

    // The runner.
    let (runner, out) = run_child(
        "runner (embargo releases::upload)",
        "runner",
        &fake,
        &[path.display().to_string(), size.to_string()],
    )?;
    let assets = fake
        .release(release_id)
        .ok_or("the fake lost the release")?
        .assets;
    let [asset] = assets.as_slice() else {
        return Err(format!(
            "the fake holds {} assets after the runner's upload, expected 1: {:?}",
            assets.len(),
            assets.iter().map(|a| &a.name).collect::<Vec<_>>()
        ));
    };
    if asset.name != ASSET
        || asset.state != "uploaded"
        || asset.size != size
        || asset.sha256 != sha256
    {
        return Err(format!(
            "the fake holds {} ({}, {} bytes, sha256 {}); expected {ASSET} (uploaded, {size} bytes, sha256 {sha256})",
            asset.name, asset.state, asset.size, asset.sha256
        ));
    }
    if value(&out, "asset_id")? != asset.id.to_string() {
        return Err("the runner's asset id is not the fake's".into());
    }
    let digest = value(&out, "asset_digest")?;
    if digest != format!("sha256:{sha256}") {
        return Err(format!(
            "the runner got digest {digest} back, expected sha256:{sha256}"
        ));
    }
    let violations = fake.violations();
    if !violations.is_empty() {
        return Err(format!(
            "the fake saw requests that break GitHub's API description:\n{}",
            violations.join("\n")
        ));
    }

    // The references: what the fake and reqwest cost on their own.
    let upload_path = format!("/repos/{OWNER}/{REPO}/releases/{release_id}/assets");
    let uploads_addr = addr_of(&fake.uploads_url())?;
    let (plain_fake, _) = run_child(
        "plain reqwest -> fake",
        "reqwest",
        &fake,
        &[
            format!("{}{upload_path}?name=plain-reqwest.bin", fake.uploads_url()),
            path.display().to_string(),
            size.to_string(),
        ],
    )?;
    check_asset(&fake, release_id, "plain-reqwest.bin", size, sha256)?;
    let raw_fake = raw_upload(
        "raw HTTP, sendfile -> fake",
        "fake",
        uploads_addr,
        &format!("{upload_path}?name=raw.bin"),
        fake.token(),
        path,
        size,
    )?;
    check_asset(&fake, release_id, "raw.bin", size, sha256)?;

    let sink = Sink::start(2)?;
    let (plain_sink, _) = run_child(
        "plain reqwest -> sink",
        "reqwest",
        &fake,
        &[
            format!("http://{}/upload", sink.addr),
            path.display().to_string(),
            size.to_string(),
        ],
    )?;
    let raw_sink = raw_upload(
        "raw HTTP, sendfile -> sink",
        "sink",
        sink.addr,
        "/upload",
        fake.token(),
        path,
        size,
    )?;
    let received = sink.finish()?;
    if received != [size, size] {
        return Err(format!(
            "the sink received {received:?} bytes, expected {size} twice"
        ));
    }
    Ok(vec![runner, plain_fake, raw_fake, plain_sink, raw_sink])
}

/// Writes the input: a xorshift64 stream, so the content is neither zeros (which a file system
/// may store sparsely or compress) nor the same block repeated, and costs little to make.
fn write_file(path: &Path, mib: u64) -> Result<(), String> {
    let mut chunk = vec![0u8; MIB as usize];
    let mut file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..mib {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&chunk)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // Flush to disk now, so that write-back does not compete with the uploads being timed.
    file.sync_all()
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn check_asset(
    fake: &FakeGitHub,
    release_id: u64,
    name: &str,
    size: u64,
    sha256: &str,
) -> Result<(), String> {
    let release = fake
        .release(release_id)
        .ok_or("the fake lost the release")?;
    match release.asset(name) {
        Some(a) if a.state == "uploaded" && a.size == size && a.sha256 == sha256 => Ok(()),
        Some(a) => Err(format!(
            "the fake holds {name} as {} bytes, sha256 {} ({}); expected {size} bytes, sha256 {sha256}",
            a.size, a.sha256, a.state
        )),
        None => Err(format!("the fake holds no asset {name}")),
    }
}

/// Re-executes this binary to do one upload the `mode` way; returns what it measured and all
/// that it printed.
fn run_child(
    label: &'static str,
    mode: &str,
    fake: &FakeGitHub,
    args: &[String],
) -> Result<(Measure, String), String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this binary: {e}"))?;
    let mut command = Command::new(exe);
    command
        .env(CHILD_VAR, mode)
        .env(TOKEN_ENV, fake.token())
        .env(API_URL_ENV, fake.api_url())
        .args(args);
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    let cpu_before = cpu_seconds();
    let out = command
        .output()
        .map_err(|e| format!("starting the {mode} child: {e}"))?;
    let server_cpu = cpu_seconds() - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "the {mode} child failed ({}): {}\n{text}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let num = |key: &str| -> Result<f64, String> {
        value(&text, key)?
            .parse()
            .map_err(|_| format!("the {mode} child printed a bad {key}:\n{text}"))
    };
    let kib = |key: &str| num(key).map(|v| v as u64);
    let m = Measure {
        label,
        seconds: num("seconds")?,
        bytes: kib("bytes")?,
        client_cpu: Some(num("cpu_seconds")?),
        server_cpu,
        hwm: Some((
            kib("hwm_start_kib")?,
            kib("hwm_before_kib")?,
            kib("hwm_after_kib")?,
        )),
    };
    let want: u64 = args.last().and_then(|s| s.parse().ok()).unwrap_or(0);
    if m.bytes != want || m.seconds <= 0.0 {
        return Err(format!(
            "the {mode} child sent {} of {want} bytes:\n{text}",
            m.bytes
        ));
    }
    Ok((m, text))
}

/// The value of a `key value` line a child printed.
fn value(text: &str, key: &str) -> Result<String, String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .map(str::to_string)
        .ok_or_else(|| format!("no `{key}` in the child's output:\n{text}"))
}

fn addr_of(url: &str) -> Result<SocketAddr, String> {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("{url}: {e}"))
}

/// A hand-written HTTP/1.1 upload: headers, then the file through `std::io::copy` (which uses
/// sendfile from a file to a socket on Linux), then the answer. The fake needs the token and
/// the headers GitHub asks for; the sink ignores them. `to` names the server in errors.
fn raw_upload(
    label: &'static str,
    to: &str,
    addr: SocketAddr,
    target: &str,
    token: &str,
    path: &Path,
    size: u64,
) -> Result<Measure, String> {
    let err = |what: &str, e: std::io::Error| format!("raw upload to the {to}: {what}: {e}");
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut file = File::open(path).map_err(|e| err("opening the file", e))?;
    let mut stream = TcpStream::connect(addr).map_err(|e| err("connecting", e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .map_err(|e| err("socket", e))?;
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: embargo-bench\r\n\
         Authorization: Bearer {token}\r\nAccept: application/vnd.github+json\r\n\
         X-GitHub-Api-Version: 2022-11-28\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|e| err("sending the headers", e))?;
    let sent = std::io::copy(&mut file, &mut stream).map_err(|e| err("sending the body", e))?;
    let (status, body) = read_response(&mut stream).map_err(|e| err("reading the answer", e))?;
    let seconds = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds() - cpu_before;
    if sent != size || status != 201 {
        return Err(format!(
            "raw upload to the {to}: sent {sent} of {size} bytes, answer {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(Measure {
        label,
        seconds,
        bytes: sent,
        client_cpu: None,
        server_cpu,
        hwm: None,
    })
}

/// Reads an HTTP/1.1 answer with a Content-Length: status and body.
fn read_response(stream: &mut impl Read) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(bad(
                "the connection closed before the answer's headers ended",
            ));
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = data[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Ok((status, body))
}

/// An HTTP server that reads each request's body with a 1 MiB buffer, throws it away, and
/// answers `201 {}`: what an upload costs the client when the server costs nothing.
struct Sink {
    addr: SocketAddr,
    thread: JoinHandle<std::io::Result<Vec<u64>>>,
}

impl Sink {
    /// Serves `requests` requests, one after another, then stops.
    fn start(requests: usize) -> Result<Sink, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("sink: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("sink: {e}"))?;
        let thread = std::thread::spawn(move || {
            let mut received = Vec::new();
            for _ in 0..requests {
                let (mut stream, _) = listener.accept()?;
                received.push(Sink::serve(&mut stream)?);
            }
            Ok(received)
        });
        Ok(Sink { addr, thread })
    }

    fn serve(stream: &mut TcpStream) -> std::io::Result<u64> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        let mut buf = vec![0u8; MIB as usize];
        let mut filled = 0;
        let end = loop {
            if let Some(i) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if filled == buf.len() {
                return Err(bad("headers longer than 1 MiB"));
            }
            let n = stream.read(&mut buf[filled..])?;
            if n == 0 {
                return Err(bad("the client closed before its headers ended"));
            }
            filled += n;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let length: u64 = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| bad("no Content-Length"))?;
        let mut got = (filled - end) as u64;
        while got < length {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        stream.write_all(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        )?;
        stream.flush()?;
        Ok(got)
    }

    /// The body sizes received, in order.
    fn finish(self) -> Result<Vec<u64>, String> {
        self.thread
            .join()
            .map_err(|_| "the sink panicked".to_string())?
            .map_err(|e| format!("sink: {e}"))
    }
}

// ---------------------------------------------------------------------------------------------
// The child: one upload, then `key value` lines for the parent.

fn child(mode: &str, args: &[String]) -> Result<(), String> {
    let hwm_start = vm_hwm_kib();
    match mode {
        "runner" => {
            let [path, size] = args else {
                return Err("usage: runner PATH SIZE".into());
            };
            let size: u64 = size.parse().map_err(|_| format!("bad size {size}"))?;
            runner(Path::new(path), size, hwm_start)
        }
        "reqwest" => {
            let [url, path, size] = args else {
                return Err("usage: reqwest URL PATH SIZE".into());
            };
            let size: u64 = size.parse().map_err(|_| format!("bad size {size}"))?;
            plain_reqwest(url, Path::new(path), size, hwm_start)
        }
        other => Err(format!("{CHILD_VAR}={other}: expected runner or reqwest")),
    }
}

/// What stage 6 does for one asset, without the stage around it: the pipeline's GitHub settings,
/// the client, the draft by its tag, the streamed upload.
fn runner(path: &Path, size: u64, hwm_start: u64) -> Result<(), String> {
    let pipeline = parse(
        Path::new("upload-bench.yaml"),
        PIPELINE,
        &Overrides::default(),
    )
    .map_err(|e| e.to_string())?;
    let spec = pipeline
        .github
        .ok_or("the bench's pipeline has no publish.github")?;
    let client = Client::new(&spec).map_err(|e| e.to_string())?;
    let release = releases::find_by_tag(&client, TAG)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no release {TAG} on the fake"))?;
    if !release.draft {
        return Err(format!("the release {TAG} is not a draft"));
    }
    let progress: Progress = Arc::default();
    let hwm_before = vm_hwm_kib();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let uploaded =
        releases::upload(&client, &release, path, ASSET, size, &progress).map_err(|e| match e {
            UploadError::AlreadyExists => format!("{ASSET} is already on the release"),
            UploadError::Other(e) => e.to_string(),
        })?;
    let seconds = started.elapsed().as_secs_f64();
    let hwm_after = vm_hwm_kib();
    println!("seconds {seconds}");
    println!("bytes {}", progress.load(Ordering::Relaxed));
    println!("cpu_seconds {}", cpu_seconds() - cpu_before);
    println!("hwm_start_kib {hwm_start}");
    println!("hwm_before_kib {hwm_before}");
    println!("hwm_after_kib {hwm_after}");
    let asset = uploaded.asset;
    println!("asset_id {}", asset.id);
    println!("asset_size {}", asset.size);
    println!("asset_digest {}", asset.digest.as_deref().unwrap_or("none"));
    Ok(())
}

/// The same bytes with a plain reqwest blocking client: `Body::sized` over the bare file.
fn plain_reqwest(url: &str, path: &Path, size: u64, hwm_start: u64) -> Result<(), String> {
    let token = std::env::var(TOKEN_ENV).unwrap_or_default();
    let http = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .map_err(|e| e.to_string())?;
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let hwm_before = vm_hwm_kib();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let response = http
        .post(url)
        .header("User-Agent", "embargo-bench")
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", size.to_string())
        .body(reqwest::blocking::Body::sized(file, size))
        .send()
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.text().unwrap_or_default();
    let seconds = started.elapsed().as_secs_f64();
    let hwm_after = vm_hwm_kib();
    if status != 201 {
        return Err(format!("answer {status}: {body}"));
    }
    println!("seconds {seconds}");
    println!("bytes {size}");
    println!("cpu_seconds {}", cpu_seconds() - cpu_before);
    println!("hwm_start_kib {hwm_start}");
    println!("hwm_before_kib {hwm_before}");
    println!("hwm_after_kib {hwm_after}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measuring.

/// The process's peak resident set size so far, in KiB (0 where /proc is not there).
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) this process has used, all threads.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
