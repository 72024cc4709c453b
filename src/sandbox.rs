//! Where build steps and checks run: out of reach of the runner, its token and the clone.
//!
//! Each step is started through a small helper, this same binary started again with
//! [`HELPER_ARG`]: a fresh process that never held the token. The helper makes itself a child
//! subreaper, so that every process of the step, even one that left with `setsid`, ends up as
//! its child and is killed when the step ends or times out. Where the kernel allows it (Linux
//! user namespaces, also without root), the helper first moves into new user, mount and PID
//! namespaces: the step sees a `/proc` holding only its own processes (not the runner's
//! environment, memory or working directory), the clone, the state folder and the dry run's
//! scratch repository are covered by empty read-only folders, the artifacts are visible
//! read-only, and the step runs as an unprivileged user without capabilities, so it can
//! neither undo those mounts nor gain privileges (`no_new_privs`). When the PID namespace's
//! first process ends, the kernel kills every other process in it.
//!
//! The runner itself is made non-dumpable ([`harden_runner`]): another process of the same user
//! cannot read its memory or its `/proc/PID/environ`, namespaces or not. What is left without
//! namespaces, and for a step running as root, is in `docs/guarantees.md`.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The first argument that makes the binary the step helper instead of the CLI.
pub const HELPER_ARG: &str = "__embargo-step-sandbox";
/// What the helper prints when probed, so that a binary that is not the helper is recognised.
const PROBE_MARK: &str = "embargo step helper";
/// For the tests of the fallback only: steps run without namespaces, as where the kernel
/// refuses them.
pub const NO_NAMESPACES_ENV: &str = "EMBARGO_TEST_NO_NAMESPACES";

/// The user a step runs as inside the namespaces when the runner is root: not root, so the
/// step has no capability in its namespace and cannot remove the mounts that hide the clone.
const UNPRIVILEGED_ID: u32 = 1000;

/// Makes the runner non-dumpable: processes of the same user (a build step among them) can no
/// longer read its memory, its environment or attach to it. Call first thing in `main`.
pub fn harden_runner() {
    // SAFETY: prctl(PR_SET_DUMPABLE) only changes a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// How the steps of one stage are contained.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The helper program (this binary).
    pub program: PathBuf,
    /// New user, mount and PID namespaces for each step (else only the subreaper).
    pub namespaces: bool,
    /// Folders covered by an empty read-only folder inside the namespaces.
    pub hide: Vec<PathBuf>,
    /// `(source, target)`: `source` visible read-only at `target` inside the namespaces.
    pub read_only: Vec<(PathBuf, PathBuf)>,
    /// Folders that stay writable; every other mount is made read-only inside the namespaces.
    pub writable: Vec<PathBuf>,
}

impl Sandbox {
    /// A sandbox through this binary, with namespaces when the kernel allows them here, and the
    /// reason when it does not. `None` when this binary cannot be the helper (a program that
    /// embeds the library): steps then run as plain `sh -c` in their own process group.
    pub fn detect() -> (Option<Sandbox>, Option<String>) {
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        let probe = Command::new(&program)
            .arg(HELPER_ARG)
            .arg("--probe")
            .env_clear()
            .stdin(std::process::Stdio::null())
            .output();
        let out = match probe {
            Ok(out) if String::from_utf8_lossy(&out.stdout).contains(PROBE_MARK) => out,
            Ok(_) => {
                return (
                    None,
                    Some(format!("{} is not the step helper", program.display())),
                );
            }
            Err(e) => {
                return (
                    None,
                    Some(format!("cannot start {}: {e}", program.display())),
                );
            }
        };
        let reason = if !std::env::var_os(NO_NAMESPACES_ENV)
            .unwrap_or_default()
            .is_empty()
        {
            Some(format!("turned off by {NO_NAMESPACES_ENV}"))
        } else if out.status.success() {
            None
        } else {
            Some(
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("the namespaces could not be set up")
                    .to_string(),
            )
        };
        (
            Some(Sandbox {
                program,
                namespaces: reason.is_none(),
                hide: Vec::new(),
                read_only: Vec::new(),
                writable: Vec::new(),
            }),
            reason,
        )
    }

    /// The command that runs `sh -c command` in the sandbox.
    pub fn command(&self, command: &str) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg(HELPER_ARG);
        cmd.arg("--runner").arg(std::process::id().to_string());
        if self.namespaces {
            cmd.arg("--namespaces");
            for dir in &self.hide {
                cmd.arg("--hide").arg(dir);
            }
            for (source, target) in &self.read_only {
                cmd.arg("--read-only").arg(source).arg(target);
            }
            for dir in &self.writable {
                cmd.arg("--writable").arg(dir);
            }
        }
        cmd.arg("--").arg("/bin/sh").arg("-c").arg(command);
        cmd
    }
}

/// Set by SIGTERM: the runner asks the helper to end the step (its timeout passed).
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Runs the step helper when the binary was started as one; `None` otherwise.
pub fn helper_main() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != HELPER_ARG {
        return None;
    }
    let args: Vec<OsString> = args.collect();
    Some(match helper(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("embargo sandbox: {e}");
            ExitCode::from(125)
        }
    })
}

struct HelperArgs {
    probe: bool,
    namespaces: bool,
    hide: Vec<PathBuf>,
    read_only: Vec<(PathBuf, PathBuf)>,
    writable: Vec<PathBuf>,
    /// The runner's process: when it dies (killed, say), the step is ended with it.
    runner: Option<i32>,
    program: Vec<OsString>,
}

fn parse(args: &[OsString]) -> Result<HelperArgs, String> {
    let mut parsed = HelperArgs {
        probe: false,
        namespaces: false,
        hide: Vec::new(),
        read_only: Vec::new(),
        writable: Vec::new(),
        runner: None,
        program: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        let value = |n: usize| {
            args.get(i + n)
                .map(PathBuf::from)
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_ref() {
            "--probe" => parsed.probe = true,
            "--namespaces" => parsed.namespaces = true,
            "--hide" => {
                parsed.hide.push(value(1)?);
                i += 1;
            }
            "--read-only" => {
                parsed.read_only.push((value(1)?, value(2)?));
                i += 2;
            }
            "--writable" => {
                parsed.writable.push(value(1)?);
                i += 1;
            }
            "--runner" => {
                let pid = value(1)?;
                parsed.runner =
                    Some(pid.to_string_lossy().parse().map_err(|_| {
                        format!("--runner needs a process id, not {}", pid.display())
                    })?);
                i += 1;
            }
            "--" => {
                parsed.program = args[i + 1..].to_vec();
                break;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
        i += 1;
    }
    Ok(parsed)
}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{} has a NUL byte", path.display()))
}

fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), String> {
    let source = source.map(c_path).transpose()?;
    let target_c = c_path(target)?;
    let fstype = fstype.map(|t| CString::new(t).unwrap_or_default());
    let data = data.map(|d| CString::new(d).unwrap_or_default());
    // SAFETY: every pointer is a NUL-terminated string that outlives the call, or null.
    let rc = unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target_c.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr().cast()),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(os_error(&format!("mounting on {}", target.display())))
    }
}

/// New user, mount and PID namespaces for the helper's next child, with the clone hidden and the
/// artifacts read-only. The helper stays outside the PID namespace; its next child is its first
/// process.
fn enter_namespaces(args: &HelperArgs) -> Result<(), String> {
    // SAFETY: plain system calls on this single-threaded process.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID) };
    if rc != 0 {
        return Err(os_error("creating user, mount and PID namespaces"));
    }
    let inside = |id: u32| if id == 0 { UNPRIVILEGED_ID } else { id };
    let write = |file: &str, text: String| {
        std::fs::write(file, text).map_err(|e| format!("writing {file}: {e}"))
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("{} {uid} 1\n", inside(uid)))?;
    write("/proc/self/gid_map", format!("{} {gid} 1\n", inside(gid)))?;
    // Nothing mounted here may propagate back to the runner's namespace.
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    for (source, target) in &args.read_only {
        mount(
            Some(source),
            target,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )?;
        mount(
            None,
            target,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            None,
        )?;
    }
    for dir in &args.hide {
        // A folder inside one already hidden is gone from view already.
        if !dir.is_dir() {
            continue;
        }
        mount(
            Some(Path::new("tmpfs")),
            dir,
            Some("tmpfs"),
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            Some("mode=000,size=4k"),
        )?;
    }
    // The step may write its own folders, the temporary folders and its home; the rest of the
    // file system (the tools the runner runs next, the system's git configuration) is
    // read-only, which matters when the runner is root and so is the step's owner outside.
    let mut writable: Vec<PathBuf> = Vec::new();
    for dir in &args.writable {
        if dir.is_dir() && !writable.contains(dir) {
            mount(Some(dir), dir, None, libc::MS_BIND | libc::MS_REC, None)?;
            writable.push(dir.clone());
        }
    }
    for point in mount_points() {
        let skip = point.starts_with("/proc")
            || point.starts_with("/dev")
            || writable.iter().any(|w| point.starts_with(w))
            || args.hide.iter().any(|h| point.starts_with(h))
            || args.read_only.iter().any(|(_, t)| point.starts_with(t));
        if skip {
            continue;
        }
        let result = mount(
            None,
            &point,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | kept_flags(&point),
            None,
        );
        // The root must be read-only; a mount below a hidden folder is out of reach anyway.
        if point == Path::new("/") {
            result?;
        }
    }
    Ok(())
}

/// Every mount point of this mount namespace, outermost first.
fn mount_points() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect();
    points.sort_by_key(|p| p.components().count());
    points.dedup();
    points
}

/// mountinfo writes a space, tab, newline and backslash in a path as `\040` and so on.
fn unescape(path: &str) -> OsString {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .and_then(|t| u8::from_str_radix(t, 8).ok())
        {
            out.push(b);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    OsString::from(std::ffi::OsStr::from_bytes(&out))
}

/// The flags of the mount at `point` that a remount must repeat: the kernel refuses to drop
/// `nosuid`, `nodev` or `noexec` from a mount inherited from a more privileged namespace.
fn kept_flags(point: &Path) -> libc::c_ulong {
    let Ok(path) = c_path(point) else {
        return 0;
    };
    // SAFETY: statvfs writes into the zeroed struct we pass; the path is NUL-terminated.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return 0;
    }
    let mut flags = 0;
    for (st, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if stat.f_flag & st != 0 {
            flags |= ms;
        }
    }
    flags
}

/// In the first process of the new PID namespace: a `/proc` that shows only the step's own
/// processes.
fn mount_own_proc() -> Result<(), String> {
    mount(
        Some(Path::new("proc")),
        Path::new("/proc"),
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )
}

fn helper(args: &[OsString]) -> Result<ExitCode, String> {
    let args = parse(args)?;
    if args.probe {
        println!("{PROBE_MARK}");
        enter_namespaces(&args)?;
        // SAFETY: fork in a single-threaded process; the child only mounts and exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(os_error("fork"));
        }
        if pid == 0 {
            let code = match mount_own_proc() {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("embargo sandbox: {e}");
                    1
                }
            };
            // SAFETY: ends the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(code) };
        }
        return Ok(match wait_for(pid) {
            Ended::Exited(0) => ExitCode::SUCCESS,
            _ => ExitCode::from(1),
        });
    }
    let Some((program, rest)) = args.program.split_first() else {
        return Err("no command to run".into());
    };
    // SAFETY: prctl and signal only change this process's own settings.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::signal(
            libc::SIGTERM,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    if args.namespaces {
        enter_namespaces(&args)?;
    }
    // (After the namespaces: a change of credentials would clear the setting.)
    if let Some(runner) = args.runner {
        // A runner killed outright (SIGKILL) cannot end its steps: the kernel tells the helper,
        // which ends the step as on a timeout.
        // SAFETY: prctl and getppid only concern this process.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
            if libc::getppid() != runner {
                return Err("the runner ended before the step started".into());
            }
        }
    }
    // SAFETY: getpid has no preconditions.
    let helper_pid = unsafe { libc::getpid() };
    // SAFETY: the helper is single-threaded, so the child may run any code until it execs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(os_error("fork"));
    }
    if pid == 0 {
        // SAFETY: prctl and getppid only concern this process.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            // The helper died before the line above: nobody would end this step. (In a PID
            // namespace the parent is outside it and shows as 0.)
            if !args.namespaces && libc::getppid() != helper_pid {
                libc::_exit(125);
            }
        }
        if args.namespaces
            && let Err(e) = mount_own_proc()
        {
            eprintln!("embargo sandbox: {e}");
            // SAFETY: ends the forked child.
            unsafe { libc::_exit(125) };
        }
        // The working folder was entered before the mounts: enter it again through them, or
        // the step would see it read-only.
        if let Ok(cwd) = std::env::current_dir() {
            let _ = std::env::set_current_dir(cwd);
        }
        let e = Command::new(program).args(rest).exec();
        eprintln!(
            "embargo sandbox: cannot run {}: {e}",
            program.to_string_lossy()
        );
        // SAFETY: ends the forked child.
        unsafe { libc::_exit(127) };
    }
    let mut ended = None;
    while ended.is_none() {
        if STOP.load(Ordering::SeqCst) {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        ended = try_wait(pid);
        if ended.is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // In the namespaces, the kernel ended every process of the step with its first one (and
    // `/proc` here now shows the step's PID namespace, whose numbers mean nothing outside it).
    if !args.namespaces {
        kill_descendants();
    }
    Ok(match ended {
        Some(Ended::Exited(code)) => ExitCode::from(code.clamp(0, 255) as u8),
        Some(Ended::Signalled(sig)) => {
            // Die of the same signal, so that the runner reports it as the step's.
            // SAFETY: resets a handler and signals ourselves.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                libc::kill(libc::getpid(), sig);
            }
            ExitCode::from(128u8.saturating_add(sig as u8))
        }
        None => ExitCode::from(125),
    })
}

enum Ended {
    Exited(i32),
    Signalled(i32),
}

fn decode(status: libc::c_int) -> Ended {
    if libc::WIFEXITED(status) {
        Ended::Exited(libc::WEXITSTATUS(status))
    } else {
        Ended::Signalled(libc::WTERMSIG(status))
    }
}

fn try_wait(pid: libc::pid_t) -> Option<Ended> {
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    match rc {
        0 => None,
        r if r == pid => Some(decode(status)),
        _ => Some(Ended::Exited(125)),
    }
}

fn wait_for(pid: libc::pid_t) -> Ended {
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid pointer.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    if rc == pid {
        decode(status)
    } else {
        Ended::Exited(125)
    }
}

/// Every process below `root`, from `/proc`.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; the name may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
        {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for (pid, ppid) in &parents {
            if *ppid == parent && !found.contains(pid) {
                found.push(*pid);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

/// Kills every remaining descendant of the helper (they are its children once their parents
/// died, as it is their subreaper) and reaps them, until none is left.
fn kill_descendants() {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as u32;
    for _ in 0..1000 {
        let left = descendants(me);
        if left.is_empty() {
            return;
        }
        for pid in &left {
            // SAFETY: kill(2) on a process below us.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
        // Reap whatever has become our child; the rest is reparented to us as its parent dies.
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid pointer.
            let rc = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if rc <= 0 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
