//! The error every layer is finally mapped to, and the exit codes of the contract.
//!
//! Each layer has its own error type (`pipeline::PipelineError`, `git::GitError`, ...); they
//! convert into [`Error`], whose [`Kind`] decides the exit code with one exhaustive match.

use std::fmt;

/// The exit codes documented in the pipeline format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done (or, with `--if-due`, not yet due).
    Done,
    /// A stage failed.
    StageFailed,
    /// Bad input: pipeline, flags, repository state.
    BadInput,
    /// Integrity violation: frozen commit or tag moved, checksum mismatch, clock in doubt.
    Integrity,
}

impl Exit {
    pub fn as_u8(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::StageFailed => 1,
            Exit::BadInput => 2,
            Exit::Integrity => 3,
        }
    }
}

/// What went wrong, as far as the exit code is concerned.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The user can fix it by changing the pipeline, the flags or the repository.
    BadInput,
    /// A stage ran and failed (a build step, a check, a git command).
    StageFailed,
    /// Something that was frozen or checksummed is not what it was.
    Integrity,
}

/// An error with enough context to tell the user what failed and what to do next.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    /// What failed, naming the exact file, ref, remote or command.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Kind::BadInput, message)
    }

    pub fn stage_failed(message: impl Into<String>) -> Self {
        Self::new(Kind::StageFailed, message)
    }

    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(Kind::Integrity, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with where it happened (a stage, a file).
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    pub fn exit_code(&self) -> Exit {
        match self.kind {
            Kind::BadInput => Exit::BadInput,
            Kind::StageFailed => Exit::StageFailed,
            Kind::Integrity => Exit::Integrity,
        }
    }

    /// The error as `--json` prints it on stdout.
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "error": {
                "exit_code": self.exit_code().as_u8(),
                "kind": match self.kind {
                    Kind::BadInput => "bad-input",
                    Kind::StageFailed => "stage-failed",
                    Kind::Integrity => "integrity",
                },
                "message": crate::redact::redact_url(&self.message),
                "hint": self.hint.as_deref().map(crate::redact::redact_url),
            }
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    /// The text shown on stderr, with credentials in URLs redacted whatever their source.
    pub fn render(&self) -> String {
        let label = match self.kind {
            Kind::BadInput => "error",
            Kind::StageFailed => "error",
            Kind::Integrity => "integrity violation",
        };
        let mut out = format!("{label}: {}", self.message);
        if let Some(hint) = &self.hint {
            out.push_str("\n  hint: ");
            out.push_str(hint);
        }
        if self.kind == Kind::Integrity {
            out.push_str("\n  nothing further was done.");
        }
        crate::redact::redact_url(&out)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
