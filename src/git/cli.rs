//! The git CLI, for everything that talks to a remote. Every call carries a one-line summary of
//! what it is for; its output is kept so that a failure can show what git said.
//!
//! git runs with a minimal environment (never the publishing token: a hook or a credential
//! helper must not find it) and with hooks turned off: a build step could have planted a
//! `pre-push` hook, and the runner's own commands need none. The freeze's
//! `reference-transaction` hook stays installed for the people working in the clone.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::GitError;

/// Runs `git` in one repository.
#[derive(Debug, Clone)]
pub struct GitCli {
    dir: PathBuf,
    env: Vec<(OsString, OsString)>,
    /// `-c key=value` settings given to every command.
    config: Vec<String>,
}

/// What a successful git command printed.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl GitCli {
    pub fn new(dir: &Path) -> GitCli {
        GitCli {
            dir: dir.to_path_buf(),
            env: Vec::new(),
            config: Vec::new(),
        }
    }

    /// The same git (environment and settings) in another repository.
    pub fn in_dir(&self, dir: &Path) -> GitCli {
        GitCli {
            dir: dir.to_path_buf(),
            ..self.clone()
        }
    }

    /// Adds a `-c key=value` setting to every command.
    pub fn with_config(mut self, key: &str, value: &str) -> GitCli {
        self.config.push(format!("{key}={value}"));
        self
    }

    /// Adds an environment variable to every git command (the demo uses this to keep the user's
    /// own git configuration out of its sample repositories).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> GitCli {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.dir);
        for setting in &self.config {
            cmd.arg("-c").arg(setting);
        }
        // Last, so that no included configuration can turn hooks back on.
        cmd.arg("-c").arg("core.hooksPath=/dev/null");
        cmd.args(args);
        cmd.env_clear();
        cmd.envs(passed_environment(std::env::vars_os()));
        // Never stop to ask for a password: a CI job would hang until its timeout.
        cmd.env("GIT_TERMINAL_PROMPT", "0");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs git and returns whether it succeeded with what it printed; fails only when git
    /// cannot be started.
    pub fn output(&self, summary: &str, args: &[&str]) -> Result<(bool, Output), GitError> {
        let output = self
            .command(args)
            .output()
            .map_err(|e| cannot_run(summary, e))?;
        Ok((output.status.success(), Output::of(&output)))
    }

    /// Runs git with `input` on its standard input (written from a thread of its own, so that
    /// a large output cannot block it); fails as [`GitCli::run`] does.
    pub fn run_with_input(
        &self,
        summary: &str,
        args: &[&str],
        input: String,
    ) -> Result<Output, GitError> {
        use std::io::Write;
        use std::process::Stdio;
        let cannot = |e| cannot_run(summary, e);
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(cannot)?;
        let mut stdin = child.stdin.take();
        let writer = std::thread::spawn(move || {
            // A git that stopped reading (it failed) says why on stderr; that is the error.
            if let Some(stdin) = stdin.as_mut() {
                let _ = stdin.write_all(input.as_bytes());
            }
        });
        let output = child.wait_with_output().map_err(cannot)?;
        let _ = writer.join();
        let output = Output::of(&output);
        if output.code != Some(0) {
            return Err(failure(summary, args, &output));
        }
        Ok(output)
    }

    /// Runs git; `summary` says what the call is for, in the words of the release.
    pub fn run(&self, summary: &str, args: &[&str]) -> Result<Output, GitError> {
        let (ok, output) = self.output(summary, args)?;
        if !ok {
            return Err(failure(summary, args, &output));
        }
        Ok(output)
    }
}

impl Output {
    fn of(output: &std::process::Output) -> Output {
        Output {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            code: output.status.code(),
        }
    }
}

fn cannot_run(summary: &str, e: std::io::Error) -> GitError {
    GitError::failed(format!("{summary}: cannot run git: {e}"))
        .with_hint("install git (2.29 or later) and make sure it is on PATH")
}

/// The variables of the runner's environment git gets: what it needs to find itself, its
/// configuration, the user's identity, SSH agents, proxies and certificates. Nothing else, so
/// no token and no variable a build could have meant for a hook.
pub fn passed_environment(
    vars: impl Iterator<Item = (OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    const NAMES: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "XDG_CONFIG_HOME",
        "SSH_AUTH_SOCK",
        "SSH_AGENT_PID",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ];
    // GIT_CONFIG_COUNT/KEY_n/VALUE_n (how CI passes `http.extraheader`), GIT_SSH_COMMAND,
    // GIT_CONFIG_GLOBAL, GIT_AUTHOR_*, GIT_COMMITTER_*, ...
    let wanted = |name: &str| {
        (NAMES.contains(&name) || name.starts_with("LC_") || name.starts_with("GIT_"))
            && !name.contains("TOKEN")
            && !crate::secret::is_secret(name)
    };
    vars.filter(|(k, _)| k.to_str().is_some_and(wanted))
        .collect()
}

/// The error for a git command that failed: the command, its exit code and its last words.
/// Credentials in URLs, in the arguments or in what git said, are redacted.
pub fn failure(summary: &str, args: &[&str], output: &Output) -> GitError {
    let said = crate::redact::redact_url(&last_lines(&output.stderr, 8));
    let summary = crate::redact::redact_url(summary);
    GitError::failed(format!(
        "{summary} failed: `git {}` exited with {}{}",
        crate::redact::redact_url(&args.join(" ")),
        output
            .code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "a signal".into()),
        if said.is_empty() {
            String::new()
        } else {
            format!("\n{said}")
        }
    ))
}

/// The last `n` non-empty lines of some output, indented for an error message.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
