//! The pipeline format: reading a file, checking every value with its location, and the resolved
//! [`Pipeline`] the rest of the program works from. Nothing here touches git or the network.

mod check;
pub mod disclosure;
mod duration;
pub mod schema;
pub mod template;
pub mod wire;
pub mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use crate::error::Error;
use crate::version::{Line, LineSpec, TagPattern};
use template::Template;
pub use wire::{MakeLatest, OnConflict};

/// A problem in the pipeline file, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineError {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl From<PipelineError> for Error {
    fn from(e: PipelineError) -> Error {
        Error::bad_input(e.to_string())
    }
}

/// Values given on the command line, which take precedence over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub line: Option<String>,
    pub fix: Option<String>,
    pub embargo: Option<String>,
    /// `--advisory FILE`, relative to the current directory like every path on the command line.
    pub advisory: Option<PathBuf>,
}

/// A pipeline whose every value has been checked.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub file: PathBuf,
    pub name: String,
    pub repository: RepositorySpec,
    pub tag: TagPattern,
    pub branch: Template,
    /// The line of a one-line release (`versioning.line`, or `--line`).
    pub line: LineSpec,
    /// `versioning.lines`: the lines released together, at one instant. `--line` narrows them to
    /// one (then `line` is that line and [`Pipeline::narrowed`] is true).
    pub lines: Option<LinesSpec>,
    /// `--line` picked one line out of `versioning.lines`.
    pub narrowed: bool,
    pub fix: FixSpec,
    pub build: BuildSpec,
    pub verify: Vec<CheckSpec>,
    pub cherry_pick: Option<CherryPickSpec>,
    pub embargo: Option<Timestamp>,
    /// Where `embargo` came from (the staged record compares it differently by source).
    pub embargo_source: EmbargoSource,
    pub github: Option<GitHubSpec>,
    /// The advisory file (`--advisory`, or `advisory:` resolved against the pipeline's folder);
    /// read by the commands that show or write the advisory, so that a mistake in it never stops
    /// `status`, `abort` or `reschedule`.
    pub advisory: Option<PathBuf>,
    /// `disclosure.announce`: where the announcements go (`embargo announce`).
    pub announce: Option<disclosure::AnnounceSpec>,
}

impl Pipeline {
    /// The release is a set of lines: `versioning.lines`, not narrowed by `--line`.
    pub fn several_lines(&self) -> bool {
        !self.narrowed
            && match &self.lines {
                Some(LinesSpec::Named(lines)) => lines.len() > 1,
                Some(LinesSpec::Supported(n)) => *n > 1,
                None => false,
            }
    }
}

/// `versioning.lines`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinesSpec {
    /// These lines, newest first.
    Named(Vec<Line>),
    /// The N newest lines that have a final release.
    Supported(usize),
}

impl fmt::Display for LinesSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinesSpec::Named(lines) => f.write_str(
                &lines
                    .iter()
                    .map(Line::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            LinesSpec::Supported(n) => write!(f, "the {n} newest lines with a final release"),
        }
    }
}

/// Where an embargo instant came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbargoSource {
    /// `embargo:` in the pipeline file.
    #[default]
    Pipeline,
    /// `--embargo TIME`.
    Flag,
    /// `--embargo now`: the vulnerability is already public.
    Now,
    /// `embargo reschedule`.
    Reschedule,
}

#[derive(Debug, Clone)]
pub struct RepositorySpec {
    /// `repository.path` as written (`None`: the repository that holds the pipeline file).
    pub path: Option<PathBuf>,
    pub private: String,
    pub public: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixSource {
    /// `base..branch` in the private repository; `base` defaults to the public default branch.
    Branch {
        branch: String,
        base: Option<String>,
    },
    /// Explicit commits, applied in this order.
    Commits(Vec<String>),
    /// A line's own backport (`fix.per_line`): the branch's commits that no public branch or tag
    /// contains, oldest first, so that it may start from the line's tag or its release branch.
    Backport { branch: String },
}

#[derive(Debug, Clone)]
pub struct FixSpec {
    pub source: FixSource,
    pub per_target: BTreeMap<String, String>,
    /// A line's own backport, used for that line's patch branch and its release branch's pick.
    pub per_line: BTreeMap<Line, FixSource>,
}

impl FixSpec {
    /// The fix a line is released with: its own backport, or the fix.
    pub fn for_line(&self, line: Line) -> &FixSource {
        self.per_line.get(&line).unwrap_or(&self.source)
    }
}

#[derive(Debug, Clone)]
pub struct StepSpec {
    pub name: String,
    pub run: String,
    pub timeout: Duration,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct BuildSpec {
    pub steps: Vec<StepSpec>,
    pub artifacts: Vec<Template>,
    pub checksums: Template,
    /// Variables of embargo's environment that build steps and checks may see.
    pub env_passthrough: Vec<String>,
    /// The build's shards; empty for a build that is not split.
    pub matrix: Vec<ShardSpec>,
}

impl BuildSpec {
    /// The shards' names, in the matrix's order, for messages: `a, b, c`.
    pub fn shard_names(&self) -> String {
        self.matrix
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One shard of a split build: the steps run once for it, with its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSpec {
    pub name: String,
    /// The GitHub Actions runner of its job (`embargo ci generate`).
    pub runs_on: String,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub step: StepSpec,
    pub expect_stdout: Option<Template>,
}

#[derive(Debug, Clone)]
pub struct CherryPickSpec {
    pub onto: Vec<glob::Pattern>,
    pub skip: Vec<glob::Pattern>,
    pub branch: Template,
    pub on_conflict: OnConflict,
}

#[derive(Debug, Clone)]
pub struct GitHubSpec {
    pub repository: String,
    /// The GitHub repository behind the private remote, proven private before every push.
    pub private_repository: Option<String>,
    pub api_url: String,
    pub token_env: String,
    pub name: Template,
    pub notes_file: Option<Template>,
    pub make_latest: MakeLatest,
    pub prerelease: bool,
    pub pull_requests: bool,
}

/// Reads and checks a pipeline file.
pub fn load(file: &Path, overrides: &Overrides) -> Result<Pipeline, Error> {
    let text = yaml::read_text(
        file,
        "pipeline",
        "give the path of a pipeline YAML file, like pipelines/security-release.yaml",
    )?;
    Ok(parse(file, &text, overrides)?)
}

/// Parses and checks pipeline text; `file` is only used in messages.
pub fn parse(file: &Path, text: &str, overrides: &Overrides) -> Result<Pipeline, PipelineError> {
    let raw: wire::PipelineFile = yaml::parse(file, text, "pipeline")?;
    check::Checker { file }.check(raw, overrides)
}

pub use duration::parse_duration;
