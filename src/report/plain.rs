//! Plain lines on stderr, for CI logs and pipes: no cursor movement, every line timestamped by
//! the log viewer, build output shown as it comes (inside a collapsible group on GitHub Actions).

use std::io::Write;

use super::{Event, Reporter};
use crate::process::humanize;

pub struct Plain {
    show_output: bool,
    github: bool,
}

impl Plain {
    pub fn new(show_output: bool, github: bool) -> Plain {
        Plain {
            show_output,
            github,
        }
    }
}

use crate::redact::redact_url;

impl Reporter for Plain {
    fn emit(&self, event: Event<'_>) {
        let mut err = std::io::stderr().lock();
        let _ = match event {
            Event::StageStarted(stage) => writeln!(err, "==> {}", stage.name()),
            Event::StageResumed(stage, note) => writeln!(
                err,
                "==> {}: done in an earlier run ({})",
                stage.name(),
                redact_url(note)
            ),
            Event::StageFinished {
                stage,
                elapsed,
                summary,
            } => writeln!(
                err,
                "  ok {} in {}: {}",
                stage.name(),
                humanize(elapsed),
                redact_url(summary)
            ),
            Event::StageFailed(stage) => writeln!(err, "  FAILED {}", stage.name()),
            Event::StepStarted { name } => {
                if self.github {
                    writeln!(err, "::group::{name}")
                } else {
                    writeln!(err, "  -> {name}")
                }
            }
            Event::StepOutput { line, .. } => {
                if self.show_output || self.github {
                    writeln!(err, "     | {}", super::printable(line))
                } else {
                    Ok(())
                }
            }
            Event::StepFinished { name, elapsed, ok } => {
                if self.github {
                    let _ = writeln!(err, "::endgroup::");
                }
                writeln!(
                    err,
                    "  {} {name} ({})",
                    if ok { "ok" } else { "FAILED" },
                    humanize(elapsed)
                )
            }
            Event::Note(text) => writeln!(err, "     {}", redact_url(text)),
            Event::TransferStarted { name, total } => {
                writeln!(err, "     uploading {name} ({total} bytes)")
            }
            Event::TransferProgress { .. } => Ok(()),
            Event::TransferFinished {
                name,
                total,
                elapsed,
            } => writeln!(
                err,
                "     {name}: {total} bytes in {} ({})",
                humanize(elapsed),
                super::rate(total, elapsed)
            ),
        };
    }
}
