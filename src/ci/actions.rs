//! GitHub Actions' conventions inside a job: error annotations, the job's Markdown summary
//! (`$GITHUB_STEP_SUMMARY`), step outputs (`$GITHUB_OUTPUT`), and the refusal to run a release in
//! a public repository, whose logs and artifacts everyone can read.
//!
//! Everything here is inert unless `GITHUB_ACTIONS=true`: on a laptop nothing changes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::error::Error;
use crate::stages::RunSummary;

/// The flag that lets `run` go on in a public repository's job.
pub const ALLOW_PUBLIC_FLAG: &str = "--allow-public-ci";

/// The files GitHub Actions gives a step, read from its environment.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub event_path: Option<PathBuf>,
}

impl Actions {
    /// The job's files when running on GitHub Actions, else `None`.
    pub fn from_env() -> Option<Actions> {
        if std::env::var("GITHUB_ACTIONS").ok().as_deref() != Some("true") {
            return None;
        }
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Some(Actions {
            step_summary: path("GITHUB_STEP_SUMMARY"),
            output: path("GITHUB_OUTPUT"),
            event_path: path("GITHUB_EVENT_PATH"),
        })
    }

    /// Appends Markdown to the job's summary page.
    pub fn append_summary(&self, markdown: &str) -> Result<(), Error> {
        match &self.step_summary {
            Some(path) => append(path, "GITHUB_STEP_SUMMARY", markdown),
            None => Ok(()),
        }
    }

    /// Sets the step's outputs (`steps.<id>.outputs.<name>`). Values are single lines: anything
    /// after a line break is dropped, so no value can add an output of its own.
    pub fn set_outputs(&self, outputs: &[(&str, &str)]) -> Result<(), Error> {
        let Some(path) = &self.output else {
            return Ok(());
        };
        let mut text = String::new();
        for (name, value) in outputs {
            let value = value.lines().next().unwrap_or("");
            let _ = writeln!(text, "{name}={value}");
        }
        append(path, "GITHUB_OUTPUT", &text)
    }

    /// Refuses a release in a job whose repository is public, or whose privacy the event
    /// payload does not tell, unless the lead passed [`ALLOW_PUBLIC_FLAG`].
    pub fn refuse_public_repository(&self, allowed: bool) -> Result<(), Error> {
        let visibility = self.repository_private();
        let reason = match &visibility {
            Ok(Some(true)) => return Ok(()),
            Ok(Some(false)) => "this GitHub Actions job runs in a public repository (the event \
                payload says repository.private: false): its logs and artifacts are public, and \
                they would show the fix's commits, build output and binaries before the embargo"
                .to_string(),
            Ok(None) => "this GitHub Actions job's event payload does not say whether the \
                repository is private (no repository.private in GITHUB_EVENT_PATH): its logs \
                could be public"
                .to_string(),
            Err(why) => format!(
                "cannot tell whether this GitHub Actions job's repository is private: {why}"
            ),
        };
        if allowed {
            eprintln!("warning: {reason}; going on because of {ALLOW_PUBLIC_FLAG}");
            return Ok(());
        }
        Err(
            Error::bad_input(format!("{reason}; nothing was done")).with_hint(format!(
                "run the release from a workflow in the private security repository (`embargo ci \
             generate` writes it); {ALLOW_PUBLIC_FLAG} runs it here anyway"
            )),
        )
    }

    /// `repository.private` from the event payload.
    fn repository_private(&self) -> Result<Option<bool>, String> {
        let Some(path) = &self.event_path else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read GITHUB_EVENT_PATH {}: {e}", path.display()))?;
        let event: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "GITHUB_EVENT_PATH {} is not a JSON event payload: {e}",
                path.display()
            )
        })?;
        Ok(event
            .get("repository")
            .and_then(|r| r.get("private"))
            .and_then(serde_json::Value::as_bool))
    }
}

fn append(path: &Path, variable: &str, text: &str) -> Result<(), Error> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| {
            Error::stage_failed(format!("cannot write {variable} {}: {e}", path.display()))
        })
}

/// Escapes a workflow command's message: a line break would end the command and start a line
/// the runner reads as another one.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property (`file=`, `title=`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `path:line:column: message`, as pipeline errors are written.
fn located(message: &str) -> Option<(&str, &str, &str, &str)> {
    let first = message.lines().next()?;
    // The path may hold `:` itself: the location is the first `:LINE:COLUMN: ` after it.
    let mut from = 0;
    while let Some(i) = first[from..].find(':').map(|i| i + from) {
        let rest = &first[i + 1..];
        let line_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if line_len > 0 && rest[line_len..].starts_with(':') {
            let after = &rest[line_len + 1..];
            let col_len = after.bytes().take_while(u8::is_ascii_digit).count();
            if col_len > 0 && after[col_len..].starts_with(": ") && i > 0 {
                let body = &message[i + 1 + line_len + 1 + col_len + 2..];
                return Some((&first[..i], &rest[..line_len], &after[..col_len], body));
            }
        }
        from = i + 1;
    }
    None
}

/// The `::error` annotation for an error: with the pipeline's file, line and column when the
/// error names them, so GitHub marks the very line.
pub fn annotation(error: &Error) -> String {
    let text = error.render();
    let message = text
        .strip_prefix("error: ")
        .or_else(|| text.strip_prefix("integrity violation: "))
        .unwrap_or(&text);
    match located(message) {
        Some((file, line, col, body)) => format!(
            "::error file={},line={line},col={col}::{}",
            escape_property(file),
            escape_data(body)
        ),
        None => format!("::error::{}", escape_data(&text)),
    }
}

/// Prints the annotation for `error` on stderr when running on GitHub Actions.
pub fn annotate(error: &Error) {
    if Actions::from_env().is_some() {
        eprintln!("{}", annotation(error));
    }
}

/// Markdown cells and list items hold user text (commit subjects, file names): no table or
/// HTML can be opened from it.
fn md(text: &str) -> String {
    crate::redact::redact_url(text)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "'")
        .replace(['\n', '\r'], " ")
}

/// The job summary of a run: the plan, the picks and conflicts, the checksums, what publishing
/// will do, and the instant.
pub fn run_summary(run: &RunSummary, instant: Option<Timestamp>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## embargo: {} {}\n",
        md(&run.tag),
        if run.dry_run {
            "(dry run: nothing was pushed)"
        } else {
            "frozen and staged privately"
        }
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| latest patch release | `{}` |",
        md(&run.previous_tag)
    );
    let _ = writeln!(
        out,
        "| patch version | `{}` (tag `{}`, patch branch `{}`) |",
        md(&run.version),
        md(&run.tag),
        md(&run.patch_branch)
    );
    let _ = writeln!(out, "| release commit | `{}` |", md(&run.release_commit));
    let _ = writeln!(
        out,
        "| embargo | {} |",
        instant
            .map(crate::clock::display)
            .unwrap_or_else(|| "not set (needed to publish)".to_string())
    );
    if let Some(draft) = &run.staged.draft {
        let _ = writeln!(out, "| draft release | {} |", md(&draft.html_url));
    }
    let _ = writeln!(out, "\n### Fix commits\n");
    for c in &run.fix_commits {
        let _ = writeln!(out, "- `{}` {}", crate::git::abbrev(&c.sha), md(&c.subject));
    }
    let _ = writeln!(out, "\n### Cherry-picks\n");
    if run.picks.is_empty() && run.manual_backports.is_empty() {
        let _ = writeln!(out, "none");
    }
    for p in &run.picks {
        let _ = writeln!(
            out,
            "- `{}` → `{}` (`{}`)",
            md(&p.target),
            md(&p.branch),
            crate::git::abbrev(&p.commit)
        );
    }
    for m in &run.manual_backports {
        let _ = writeln!(
            out,
            "- **`{}` needs a manual backport**: conflicts in {}",
            md(&m.target),
            m.paths
                .iter()
                .map(|p| format!("`{}`", md(p)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(out, "\n### Checksums ({})\n", md(&run.checksums_file));
    let _ = writeln!(out, "```");
    for a in &run.artifacts {
        let _ = writeln!(out, "{}  {}", a.sha256, md(&a.name));
    }
    let _ = writeln!(out, "```");
    let _ = writeln!(
        out,
        "\n### {}\n",
        if run.dry_run {
            "What staging and publishing would do"
        } else {
            "What publishing will do, at the instant"
        }
    );
    // The very actions the run executes and publishing will execute, as `run` prints them.
    let staging = if run.dry_run {
        run.actions.stage_lines("stage (now, private):", false)
    } else {
        Vec::new()
    };
    let _ = writeln!(out, "```");
    for line in staging.iter().chain(&run.actions.publish_lines()) {
        let _ = writeln!(out, "{}", crate::redact::redact_url(line).replace('`', "'"));
    }
    let _ = writeln!(out, "```");
    out
}

/// The job summary of `embargo run --until prepare`: each line's release commit, and the push
/// that hands it to the shards' jobs.
pub fn prepared_summary(
    lines: &[crate::stages::PrepareSummary],
    handoff: &crate::actions::Action,
) -> String {
    let mut out = String::new();
    for p in lines {
        let _ = writeln!(
            out,
            "## embargo: {} prepared for a split build{}\n",
            md(&p.tag),
            if p.dry_run {
                " (dry run: nothing was pushed)"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| latest patch release | `{}` |", md(&p.previous_tag));
        let _ = writeln!(
            out,
            "| patch branch | `{}` |\n| release commit | `{}` |",
            md(&p.patch_branch),
            md(&p.release_commit)
        );
        let _ = writeln!(
            out,
            "| shards | {} |\n",
            p.shards
                .iter()
                .map(|s| format!("`{}`", md(s)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        out,
        "### Pushed for the shards' jobs (the private remote only)\n"
    );
    let _ = writeln!(out, "```");
    for line in handoff.lines() {
        let _ = writeln!(
            out,
            "{}",
            crate::redact::redact_url(&line).replace('`', "'")
        );
    }
    let _ = writeln!(out, "```");
    out
}

/// The job summary of `embargo build --shard`: what the shard built, per line.
pub fn shard_summary(manifests: &[crate::stages::shards::Manifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        let _ = writeln!(
            out,
            "## embargo: shard `{}` of {} built from `{}`\n",
            md(&m.shard),
            md(&m.tag),
            md(&m.release_commit)
        );
        let _ = writeln!(out, "```");
        for a in &m.artifacts {
            let _ = writeln!(out, "{}  {}", a.sha256, md(&a.name));
        }
        let _ = writeln!(out, "```");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipeline_error_becomes_an_annotation_on_its_line() {
        let error = Error::bad_input("pipelines/a:b.yaml:12:5: unknown key `bulid`");
        assert_eq!(
            annotation(&error),
            "::error file=pipelines/a%3Ab.yaml,line=12,col=5::unknown key `bulid`"
        );
        let plain = Error::stage_failed("push failed\n::add-mask::x");
        assert_eq!(
            annotation(&plain),
            "::error::error: push failed%0A::add-mask::x"
        );
    }

    #[test]
    fn markdown_from_user_text_cannot_open_a_table_cell_or_html() {
        assert_eq!(md("a | b <img>\nc"), "a \\| b &lt;img&gt; c");
    }
}
