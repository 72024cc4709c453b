//! On a terminal: a spinner with the elapsed time while a step runs, its latest output line
//! beside it, and a line per finished stage.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{Event, Reporter};
use crate::process::humanize;

pub struct Terminal {
    verbose: bool,
    spinner: Mutex<Option<ProgressBar>>,
    /// Transfers run a few at a time: a bar each, by asset name, stacked.
    transfers: Mutex<Vec<(String, ProgressBar)>>,
    stack: MultiProgress,
}

impl Terminal {
    pub fn new(verbose: bool) -> Terminal {
        Terminal {
            verbose,
            spinner: Mutex::new(None),
            transfers: Mutex::new(Vec::new()),
            stack: MultiProgress::new(),
        }
    }

    /// Prints a line above the spinner or the transfers' bars; credentials in URLs are redacted
    /// (notes and summaries name remotes).
    fn println(&self, text: String) {
        let text = crate::redact::redact_url(&text);
        if !self
            .transfers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            if self.stack.println(&text).is_err() {
                eprintln!("{text}");
            }
            return;
        }
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
                let bar = self.stack.add(ProgressBar::new(total));
                if let Ok(style) = ProgressStyle::with_template(
                    "  {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(name.to_string());
                self.transfers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((name.to_string(), bar));
            }
            Event::TransferProgress { name, done } => {
                let transfers = self.transfers.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((_, bar)) = transfers.iter().find(|(n, _)| n == name) {
                    bar.set_position(done);
                }
            }
            Event::TransferFinished {
                name,
                total,
                elapsed,
            } => {
                let line = format!(
                    "  ✓ {name} {total} bytes ({}, {})",
                    humanize(elapsed),
                    super::rate(total, elapsed)
                );
                let mut transfers = self.transfers.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(at) = transfers.iter().position(|(n, _)| n == name) {
                    let (_, bar) = transfers.remove(at);
                    bar.finish_and_clear();
                    self.stack.remove(&bar);
                }
                // Above the bars still running, or plainly once none is.
                if transfers.is_empty() || self.stack.println(&line).is_err() {
                    eprintln!("{line}");
                }
            }
        }
    }
}
