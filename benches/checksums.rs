//! Throughput and memory of the build stage's checksums (`embargo::checksum`).
//!
//! Writes 4 files of EMBARGO_BENCH_MIB MiB each (default 512) into a temporary folder, then
//! hashes them three ways and prints a short report:
//!
//!   * `sha256_files(&paths, 0)`: what `embargo run` does, one streamed file per core;
//!   * `sha256_file` on each file one after another, to show what the parallelism buys;
//!   * coreutils `sha256sum` on one file, as a reference point for the machine.
//!
//! Each embargo measurement runs in a child process (this binary re-executed with
//! EMBARGO_BENCH_CHILD set), so that the peak memory it reports is the hashing's own: the parent
//! has written gigabytes through buffers and is a poor witness of what hashing costs. The child
//! reads VmHWM (the peak resident set size) from /proc/self/status before and after hashing and
//! the increase is what is reported.
//!
//! The files are in the page cache when hashed (they were just written and synced), so this
//! measures the hashing and the read path, not the disk.
//!
//! Run: `cargo bench --bench checksums` (EMBARGO_BENCH_MIB=64 for a quick run). Without `--bench`
//! (as under `cargo test --benches`) it runs at 8 MiB per file, only to prove that it works.
//! TMPDIR chooses where the files go; they need 4 x EMBARGO_BENCH_MIB MiB of space.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use embargo::checksum::{FileSum, sha256_file, sha256_files};

const FILES: usize = 4;
const MIB: usize = 1024 * 1024;
/// Set (to `parallel` or `serial`) in the child process that does one measurement.
const CHILD_VAR: &str = "EMBARGO_BENCH_CHILD";
const TARGET_GBPS: f64 = 1.5;
const TARGET_PEAK_MIB: f64 = 32.0;

fn main() {
    if let Ok(mode) = std::env::var(CHILD_VAR) {
        let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
        child(&mode, &paths);
        return;
    }
    if let Err(e) = parent() {
        eprintln!("checksums bench failed: {e}");
        std::process::exit(1);
    }
}

/// What one child measured.
struct Measure {
    seconds: f64,
    bytes: u64,
    /// VmHWM before and after hashing, KiB.
    hwm_before: u64,
    hwm_after: u64,
    sums: Vec<String>,
}

impl Measure {
    fn gbps(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e9
    }

    fn peak_increase_mib(&self) -> f64 {
        self.hwm_after.saturating_sub(self.hwm_before) as f64 / 1024.0
    }
}

fn parent() -> Result<(), String> {
    // `cargo bench` passes --bench; `cargo test --benches` does not, and must not write 2 GiB.
    let benching = std::env::args().any(|a| a == "--bench");
    let mib: usize =
        match std::env::var("EMBARGO_BENCH_MIB") {
            Ok(v) => v.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                format!("EMBARGO_BENCH_MIB={v}: expected a positive number of MiB")
            })?,
            Err(_) if benching => 512,
            Err(_) => 8,
        };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();

    let dir = tempfile::Builder::new()
        .prefix("embargo-bench-checksums-")
        .tempdir()
        .map_err(|e| format!("temporary folder: {e}"))?;
    let started = Instant::now();
    let paths = write_files(dir.path(), mib)?;
    let write_secs = started.elapsed().as_secs_f64();

    let parallel = run_child("parallel", &paths)?;
    let serial = run_child("serial", &paths)?;
    if parallel.sums != serial.sums {
        return Err("sha256_files and sha256_file disagree on the digests".into());
    }
    let reference = sha256sum(&paths[0]);

    let total_mib = (mib * FILES) as f64;
    println!("embargo checksums benchmark");
    println!(
        "  machine      {cores} core(s), load average {} before the run",
        load.join(" ")
    );
    println!(
        "  input        {FILES} files x {mib} MiB = {total_mib:.0} MiB in {} (written in {write_secs:.1}s, hashed from the page cache)",
        dir.path().display()
    );
    for (name, m) in [
        ("sha256_files (parallel, all cores)", &parallel),
        ("sha256_file x4 (one after another)", &serial),
    ] {
        println!(
            "  {name:<36} {:>7.3}s  {:>5.2} GB/s  peak RSS +{:.1} MiB (VmHWM {:.1} MiB)",
            m.seconds,
            m.gbps(),
            m.peak_increase_mib(),
            m.hwm_after as f64 / 1024.0
        );
    }
    match reference {
        Some((seconds, sum)) => {
            let gbps = (mib * MIB) as f64 / seconds / 1e9;
            let agrees = if sum == parallel.sums[0] {
                "same digest"
            } else {
                "DIGEST DIFFERS"
            };
            println!(
                "  {:<36} {seconds:>7.3}s  {gbps:>5.2} GB/s  one file, reference ({agrees})",
                "sha256sum (coreutils)"
            );
            if sum != parallel.sums[0] {
                return Err("sha256sum disagrees with embargo on the first file".into());
            }
        }
        None => println!("  sha256sum (coreutils)                not found, no reference"),
    }
    println!(
        "  speed-up     {:.2}x from hashing files in parallel",
        serial.seconds / parallel.seconds
    );
    let met = parallel.gbps() >= TARGET_GBPS && parallel.peak_increase_mib() < TARGET_PEAK_MIB;
    println!(
        "  target       >= {TARGET_GBPS} GB/s aggregate and peak < {TARGET_PEAK_MIB:.0} MiB: {}",
        if met { "met" } else { "NOT MET" }
    );
    if !benching && std::env::var_os("EMBARGO_BENCH_MIB").is_none() {
        println!(
            "  (smoke run at {mib} MiB per file; `cargo bench --bench checksums` for real numbers)"
        );
    }
    // `dir` is removed when dropped here; say so if it cannot be.
    dir.close()
        .map_err(|e| format!("removing the temporary folder: {e}"))
}

/// Writes the input files: a xorshift64 stream, so the content is neither zeros (which a file
/// system may store sparsely or compress) nor the same block repeated, and costs little to make.
fn write_files(dir: &Path, mib: usize) -> Result<Vec<PathBuf>, String> {
    let mut chunk = vec![0u8; MIB];
    let mut paths = Vec::with_capacity(FILES);
    for i in 0..FILES {
        let path = dir.join(format!("artifact-{i}.bin"));
        let mut file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // A different non-zero seed per file, so no two files are alike.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1);
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
        // Flush to disk now, so that write-back does not compete with the hashing being timed.
        file.sync_all()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Re-executes this binary to hash `paths` the `mode` way and reads back what it measured.
fn run_child(mode: &str, paths: &[PathBuf]) -> Result<Measure, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this binary: {e}"))?;
    let out = Command::new(exe)
        .env(CHILD_VAR, mode)
        .args(paths)
        .output()
        .map_err(|e| format!("starting the {mode} child: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the {mode} child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut m = Measure {
        seconds: 0.0,
        bytes: 0,
        hwm_before: 0,
        hwm_after: 0,
        sums: Vec::new(),
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once(' ') else {
            continue;
        };
        let bad = || format!("the {mode} child printed `{line}`");
        match key {
            "seconds" => m.seconds = value.parse().map_err(|_| bad())?,
            "bytes" => m.bytes = value.parse().map_err(|_| bad())?,
            "hwm_before_kib" => m.hwm_before = value.parse().map_err(|_| bad())?,
            "hwm_after_kib" => m.hwm_after = value.parse().map_err(|_| bad())?,
            "sum" => m.sums.push(value.to_string()),
            _ => {}
        }
    }
    if m.sums.len() != paths.len() || m.seconds <= 0.0 {
        return Err(format!(
            "the {mode} child printed an incomplete result:\n{text}"
        ));
    }
    Ok(m)
}

/// The child: hash, then print `key value` lines for the parent.
fn child(mode: &str, paths: &[PathBuf]) {
    let hwm_before = vm_hwm_kib();
    let started = Instant::now();
    let sums: std::io::Result<Vec<FileSum>> = match mode {
        "parallel" => sha256_files(paths, 0),
        "serial" => paths.iter().map(|p| sha256_file(p)).collect(),
        other => {
            eprintln!("{CHILD_VAR}={other}: expected parallel or serial");
            std::process::exit(2);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let hwm_after = vm_hwm_kib();
    let sums = match sums {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hashing: {e}");
            std::process::exit(1);
        }
    };
    println!("seconds {seconds}");
    println!("bytes {}", sums.iter().map(|s| s.size).sum::<u64>());
    println!("hwm_before_kib {hwm_before}");
    println!("hwm_after_kib {hwm_after}");
    for s in &sums {
        println!("sum {}", s.sha256);
    }
}

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

/// Times coreutils `sha256sum` on one file; None if it is not installed or fails.
fn sha256sum(path: &Path) -> Option<(f64, String)> {
    let started = Instant::now();
    let out = Command::new("sha256sum").arg(path).output().ok()?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some((seconds, text.split_whitespace().next()?.to_string()))
}
