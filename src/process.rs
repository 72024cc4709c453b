//! Running a build step or a check: `sh -c` in its own process group (through the sandbox, see
//! `crate::sandbox`), with a timeout that ends every process of the step, the output passed on
//! live and kept in a log file. Memory stays bounded whatever the step prints: a line is cut at
//! [`MAX_LINE`], and a step's log keeps its first and last [`LOG_KEEP`] bytes with the cut marked.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How many of the last lines of output an error message shows.
pub const TAIL_LINES: usize = 20;
/// The most standard output kept in memory for `expect_stdout`.
const MAX_CAPTURE: usize = 16 * 1024 * 1024;
/// How long to wait for output pipes after the step ended and its group was killed.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// The longest line kept whole; the rest of a longer line is dropped and the cut marked.
pub const MAX_LINE: usize = 64 * 1024;
/// How much of a step's output its log keeps from the start, and again from the end.
pub const LOG_KEEP: usize = 8 * 1024 * 1024;
/// Lines in flight between the pipes and the log: with [`MAX_LINE`], a bound on memory.
const QUEUE: usize = 256;
/// How long the sandbox gets to end a timed-out step before its process group is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// One command to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The step's or check's name, for the log.
    pub name: String,
    pub command: String,
    pub cwd: PathBuf,
    /// The command's whole environment: nothing of the runner's own is inherited.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// The log file the output is appended to.
    pub log: PathBuf,
    /// How the step is contained; `None` runs `sh -c` directly in its own process group.
    pub sandbox: Option<crate::sandbox::Sandbox>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signalled(i32),
    TimedOut,
}

impl Status {
    pub fn success(self) -> bool {
        self == Status::Exited(0)
    }

    pub fn describe(self, timeout: Duration) -> String {
        match self {
            Status::Exited(c) => format!("exited with status {c}"),
            Status::Signalled(s) => format!("was killed by signal {s}"),
            Status::TimedOut => format!(
                "did not finish within its timeout of {} and was killed with every process it started",
                humanize(timeout)
            ),
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub status: Status,
    pub stdout: String,
    /// The last lines of standard output and error, interleaved as they came.
    pub tail: Vec<String>,
    pub elapsed: Duration,
}

enum Line {
    Out(Vec<u8>),
    Err(Vec<u8>),
}

/// Reads lines from a pipe; a line longer than [`MAX_LINE`] is cut there and the rest of it
/// dropped, so a step printing gigabytes without a newline costs no memory.
fn pump(stream: impl Read, tx: mpsc::SyncSender<Line>, wrap: fn(Vec<u8>) -> Line) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut line: Vec<u8> = Vec::new();
    let mut dropped: u64 = 0;
    loop {
        let (consumed, ended) = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(chunk) => {
                let (body, ended) = match chunk.iter().position(|b| *b == b'\n') {
                    Some(i) => (&chunk[..i], true),
                    None => (chunk, false),
                };
                let keep = body.len().min(MAX_LINE.saturating_sub(line.len()));
                line.extend_from_slice(&body[..keep]);
                dropped += (body.len() - keep) as u64;
                if ended {
                    line.push(b'\n');
                }
                (body.len() + usize::from(ended), ended)
            }
        };
        reader.consume(consumed);
        if ended && !send_line(&tx, wrap, &mut line, &mut dropped) {
            return;
        }
    }
    if !line.is_empty() || dropped > 0 {
        send_line(&tx, wrap, &mut line, &mut dropped);
    }
}

fn send_line(
    tx: &mpsc::SyncSender<Line>,
    wrap: fn(Vec<u8>) -> Line,
    line: &mut Vec<u8>,
    dropped: &mut u64,
) -> bool {
    let mut whole = std::mem::take(line);
    if *dropped > 0 {
        if whole.last() == Some(&b'\n') {
            whole.pop();
        }
        whole.extend_from_slice(
            format!(" [line cut: {} more bytes not kept]\n", *dropped).as_bytes(),
        );
        *dropped = 0;
    }
    tx.send(wrap(whole)).is_ok()
}

/// A step's log: the first [`LOG_KEEP`] bytes go to the file as they come, then only the last
/// [`LOG_KEEP`] bytes are held, and written after a line saying how much was cut.
struct CappedLog {
    file: File,
    written: usize,
    tail: VecDeque<u8>,
    cut: u64,
}

impl CappedLog {
    fn new(file: File) -> CappedLog {
        CappedLog {
            file,
            written: 0,
            tail: VecDeque::new(),
            cut: 0,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.written < LOG_KEEP {
            self.written += bytes.len();
            return self.file.write_all(bytes);
        }
        self.tail.extend(bytes);
        if self.tail.len() > LOG_KEEP {
            let over = self.tail.len() - LOG_KEEP;
            self.tail.drain(..over);
            self.cut += over as u64;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<File> {
        if self.cut > 0 {
            writeln!(
                self.file,
                "\n=== [log cut: {} bytes of output left out here; the first and last {} MiB are kept] ===",
                self.cut,
                LOG_KEEP / (1024 * 1024)
            )?;
        }
        let (a, b) = self.tail.as_slices();
        self.file.write_all(a)?;
        self.file.write_all(b)?;
        Ok(self.file)
    }
}

/// Asks the sandbox helper to end the step with every process of it.
fn stop(pid: u32) {
    // SAFETY: kill(2) on the helper we started; it touches no memory of ours.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
}

fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group we created for the step; it
    // touches no memory of ours.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

/// Runs `job`, calling `on_line` with every line of output as it arrives.
pub fn run(job: &Job, on_line: &mut dyn FnMut(&str)) -> std::io::Result<Outcome> {
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&job.log)?;
    writeln!(log, "=== {} ===\n$ {}", job.name, job.command)?;

    let mut cmd = match &job.sandbox {
        Some(sandbox) => sandbox.command(&job.command),
        None => {
            let mut cmd = Command::new("/bin/sh");
            cmd.arg("-c").arg(&job.command);
            cmd
        }
    };
    cmd.env_clear()
        .current_dir(&job.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in &job.env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        std::thread::spawn(move || pump(out, tx, Line::Out));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        std::thread::spawn(move || pump(err, tx, Line::Err));
    }
    drop(tx);

    let mut log = CappedLog::new(log);
    let mut stdout = Vec::new();
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut status = None;
    let mut timed_out = false;
    let mut stopping: Option<Instant> = None;
    let mut exited_at = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                let bytes = match &line {
                    Line::Out(b) | Line::Err(b) => b,
                };
                log.write(bytes)?;
                if !bytes.ends_with(b"\n") {
                    log.write(b"\n")?;
                }
                if let Line::Out(b) = &line
                    && stdout.len() < MAX_CAPTURE
                {
                    stdout.extend_from_slice(b);
                }
                let text = String::from_utf8_lossy(bytes);
                let text = text.trim_end_matches(['\n', '\r']);
                on_line(text);
                tail.push_back(text.to_string());
                if tail.len() > TAIL_LINES {
                    tail.pop_front();
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if status.is_some() {
                    break;
                }
                // Both pipes closed; wait for the process itself.
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if status.is_none() {
            if let Some(s) = child.try_wait()? {
                // Leftover background processes of the step must not outlive it.
                kill_group(pid);
                status = Some(s);
                exited_at = Some(Instant::now());
            } else if started.elapsed() > job.timeout {
                timed_out = true;
                match (&job.sandbox, stopping) {
                    // The sandbox ends every process of the step, even those that left the group.
                    (Some(_), None) => {
                        stop(pid);
                        stopping = Some(Instant::now());
                    }
                    (Some(_), Some(at)) if at.elapsed() < STOP_GRACE => {}
                    _ => kill_group(pid),
                }
            }
        } else if exited_at.is_some_and(|t| t.elapsed() > DRAIN_GRACE) {
            break;
        }
    }
    let elapsed = started.elapsed();
    let mut log = log.finish()?;
    let status = match status {
        _ if timed_out => Status::TimedOut,
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => Status::Exited(c),
            (None, Some(sig)) => Status::Signalled(sig),
            (None, None) => Status::Exited(-1),
        },
        None => Status::Exited(-1),
    };
    writeln!(
        log,
        "=== {}: {} after {} ===",
        job.name,
        status.describe(job.timeout),
        humanize(elapsed)
    )?;
    log.sync_all()?;
    Ok(Outcome {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        tail: tail.into(),
        elapsed,
    })
}

/// `1h2m`, `3m4s`, `5.2s`.
pub fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}h{}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn job(dir: &Path, command: &str, timeout: Duration) -> Job {
        Job {
            name: "t".into(),
            command: command.into(),
            cwd: dir.to_path_buf(),
            env: vec![
                ("EMBARGO_VERSION".into(), "1.0.1".into()),
                ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ],
            timeout,
            log: dir.join("log"),
            sandbox: None,
        }
    }

    #[test]
    fn passes_environment_and_keeps_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = Vec::new();
        let out = run(
            &job(
                dir.path(),
                "echo v=$EMBARGO_VERSION; echo oops >&2; exit 3",
                Duration::from_secs(30),
            ),
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap();
        assert_eq!(out.status, Status::Exited(3));
        assert_eq!(out.stdout, "v=1.0.1\n");
        assert!(lines.contains(&"oops".to_string()));
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert!(log.contains("v=1.0.1") && log.contains("oops"));
    }

    #[test]
    fn a_long_line_is_cut_and_the_cut_marked() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = Vec::new();
        let command = "head -c 1000000 /dev/zero | tr '\\0' a; echo; echo next";
        let out = run(
            &job(dir.path(), command, Duration::from_secs(30)),
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap();
        assert_eq!(out.status, Status::Exited(0));
        assert_eq!(
            lines.len(),
            2,
            "{:?}",
            lines.iter().map(|l| l.len()).collect::<Vec<_>>()
        );
        assert!(lines[0].starts_with(&"a".repeat(MAX_LINE)));
        assert!(lines[0].ends_with(&format!(
            "[line cut: {} more bytes not kept]",
            1_000_000 - MAX_LINE
        )));
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn the_log_keeps_the_first_and_last_part_and_marks_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        let command = "echo FIRST; yes 0123456789abcdef | head -n 2000000; echo LAST";
        let out = run(
            &job(dir.path(), command, Duration::from_secs(60)),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(out.status, Status::Exited(0));
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert!(log.len() < 2 * LOG_KEEP + 4096, "{} bytes", log.len());
        let cut = 2_000_000 * 17 + 11 - 2 * LOG_KEEP;
        assert!(log.contains("FIRST") && log.contains("LAST"));
        let marker = log.find("[log cut: ").expect("the cut is marked");
        let said: usize = log[marker + 10..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(said.abs_diff(cut) < 200, "cut {said}, expected about {cut}");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let command = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let out = run(
            &job(dir.path(), &command, Duration::from_millis(300)),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(out.status, Status::TimedOut);
        assert!(out.elapsed < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(
            !marker.exists(),
            "a process of the step outlived its timeout"
        );
    }
}
