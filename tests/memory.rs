//! Peak memory of the runner, measured with wait4 on its own process. In a test binary of its
//! own: a child's peak resident memory counts the memory of the process that started it, so
//! beside the other tests (tests/all.rs, one large process) the figure would be theirs.

mod common;

use common::Fixture;

/// The peak resident memory of `embargo ARGS`, in KiB, and how it ended.
fn peak_memory(f: &Fixture, args: &[&str]) -> (i64, i32) {
    // Waited for below with wait4, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_embargo"))
        .args(args)
        .current_dir(f.work())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(f.sample.env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    (usage.ru_maxrss, libc::WEXITSTATUS(status))
}

#[test]
fn a_build_printing_a_300_mb_line_keeps_memory_and_its_log_bounded() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh",
        "run: head -c 300000000 /dev/zero | tr '\\0' a; echo; ./build.sh",
    )]);
    let (peak_kib, code) = peak_memory(&f, &["run", pipeline.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        peak_kib < 150 * 1024,
        "the runner used {} MiB for a 300 MB line",
        peak_kib / 1024
    );
    let log = f.state_dir("v1.0.2").join("build.log");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size < 20 * 1024 * 1024, "build.log is {size} bytes");
    let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(text.contains("[line cut: "), "the cut line is not marked");
}
