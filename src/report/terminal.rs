//! On a terminal: a spinner with the elapsed time while a step runs, its latest output line
//! beside it, and a line per finished stage.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Event, Reporter};
use crate::process::humanize;

pub struct Terminal {
    verbose: bool,
    spinner: Mutex<Option<ProgressBar>>,
}

impl Terminal {
    pub fn new(verbose: bool) -> Terminal {
        Terminal {
            verbose,
            spinner: Mutex::new(None),
        }
    }

    /// Prints a line above the spinner; credentials in URLs are redacted (notes and summaries
    /// name remotes).
    fn println(&self, text: String) {
        let text = crate::redact::redact_url(&text);
        let guard = self.spinner.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}

impl Reporter for Terminal {
    fn emit(&self, event: Event<'_>) {
        match event {
            Event::StageStarted(stage) => self.println(format!("▸ {}", stage.name())),
            Event::StageResumed(stage, note) => self.println(format!(
                "✓ {} (done in an earlier run; {note})",
                stage.name()
            )),
            Event::StageFinished {
                stage,
                elapsed,
                summary,
            } => self.println(format!(
                "✓ {} {summary} ({})",
                stage.name(),
                humanize(elapsed)
            )),
            Event::StageFailed(stage) => self.println(format!("✗ {}", stage.name())),
            Event::StepStarted { name } => {
                let bar = ProgressBar::new_spinner();
                if let Ok(style) =
                    ProgressStyle::with_template("  {spinner} {prefix} [{elapsed}] {wide_msg}")
                {
                    bar.set_style(style);
                }
                bar.set_prefix(name.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                *self.spinner.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
            }
            Event::StepOutput { line, .. } => {
                let guard = self.spinner.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(bar) = guard.as_ref() {
                    if self.verbose {
                        bar.println(format!("    | {}", super::printable(line)));
                    }
                    bar.set_message(super::printable(line));
                }
            }
            Event::StepFinished { name, elapsed, ok } => {
                if let Some(bar) = self
                    .spinner
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                {
                    bar.finish_and_clear();
                }
                eprintln!(
                    "  {} {name} ({})",
                    if ok { "✓" } else { "✗" },
                    humanize(elapsed)
                );
            }
            Event::Note(text) => self.println(format!("    {text}")),
            Event::TransferStarted { name, total } => {
                let bar = ProgressBar::new(total);
                if let Ok(style) = ProgressStyle::with_template(
                    "  {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(name.to_string());
                *self.spinner.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
            }
            Event::TransferProgress { done, .. } => {
                if let Some(bar) = self
                    .spinner
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                {
                    bar.set_position(done);
                }
            }
            Event::TransferFinished {
                name,
                total,
                elapsed,
            } => {
                if let Some(bar) = self
                    .spinner
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                {
                    bar.finish_and_clear();
                }
                eprintln!(
                    "  ✓ {name} {total} bytes ({}, {})",
                    humanize(elapsed),
                    super::rate(total, elapsed)
                );
            }
        }
    }
}
