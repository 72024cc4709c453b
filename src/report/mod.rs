//! How progress reaches the user. Stages never print: they emit [`Event`]s to a [`Reporter`].
//! Only this module knows about terminals, spinners and CI log groups.

mod plain;
pub mod summary;
mod terminal;

use std::io::IsTerminal;
use std::time::Duration;

use crate::journal::Stage;

pub use plain::Plain;
pub use terminal::Terminal;

#[derive(Debug, Clone)]
pub enum Event<'a> {
    StageStarted(Stage),
    /// The stage finished in an earlier run; its outputs were re-checked.
    StageResumed(Stage, &'a str),
    StageFinished {
        stage: Stage,
        elapsed: Duration,
        summary: &'a str,
    },
    StageFailed(Stage),
    /// A build step or check starts.
    StepStarted {
        name: &'a str,
    },
    StepOutput {
        name: &'a str,
        line: &'a str,
    },
    StepFinished {
        name: &'a str,
        elapsed: Duration,
        ok: bool,
    },
    /// A line worth showing inside the current stage.
    Note(&'a str),
    /// An upload or download of `total` bytes starts, goes on, ends.
    TransferStarted {
        name: &'a str,
        total: u64,
    },
    TransferProgress {
        name: &'a str,
        done: u64,
    },
    TransferFinished {
        name: &'a str,
        total: u64,
        elapsed: Duration,
    },
}

/// Reporters are shared with the threads that watch uploads.
pub trait Reporter: Sync {
    fn emit(&self, event: Event<'_>);
}

/// The reporter that fits where we run: a spinner on a terminal, plain lines elsewhere (with log
/// groups on GitHub Actions). With `json`, progress goes to stderr so stdout stays parseable.
pub fn choose(verbose: bool, json: bool) -> Box<dyn Reporter> {
    let ci = std::env::var_os("CI").is_some();
    if !json && !ci && std::io::stderr().is_terminal() {
        Box::new(Terminal::new(verbose))
    } else {
        let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        Box::new(Plain::new(verbose || ci, github))
    }
}

/// `123.4 MB/s`.
pub fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-6);
    format!("{:.1} MB/s", bytes as f64 / secs / 1e6)
}

/// A line of a build step's or check's output as it may be shown on a terminal: control
/// characters (escape sequences that clear the screen, move the cursor or retitle the window)
/// written as escapes, so a step cannot forge or hide what the runner says. Tabs stay.
pub fn printable(line: &str) -> String {
    line.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
