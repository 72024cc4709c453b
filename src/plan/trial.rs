//! Trying a line's fix on its latest release in memory, before anything is written: `plan` says
//! for every line whether the fix applies, and where it does not, which files conflict.

use serde::Serialize;

use super::Plan;
use crate::error::Error;
use crate::git::LocalRepo;
use crate::git::apply::{self, ApplyError};

/// What applying a line's fix onto its latest release gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Trial {
    /// Every fix commit applies cleanly.
    Applies,
    /// A fix commit conflicts with the release in these files.
    Conflict {
        commit: String,
        subject: String,
        paths: Vec<String>,
    },
    /// A fix commit changes nothing there: the fix may be in that release already.
    Empty { commit: String, subject: String },
}

impl Trial {
    pub fn applies(&self) -> bool {
        matches!(self, Trial::Applies)
    }

    /// In words, for `plan`: onto which release, and what stands in the way.
    pub fn describe(&self, onto: &str) -> String {
        match self {
            Trial::Applies => format!("yes, cleanly onto {onto} (tried in memory)"),
            Trial::Conflict {
                commit,
                subject,
                paths,
            } => format!(
                "NO: fix commit {} `{subject}` conflicts with {onto} in: {}",
                crate::git::abbrev(commit),
                paths.join(", ")
            ),
            Trial::Empty { commit, subject } => format!(
                "NO: fix commit {} `{subject}` changes nothing on {onto} (is the fix in that release already?)",
                crate::git::abbrev(commit)
            ),
        }
    }
}

/// Applies the plan's fix onto its latest release in memory; nothing is written to the clone.
pub fn try_fix(plan: &Plan, repo: &LocalRepo) -> Result<Trial, Error> {
    match apply::trial(repo, plan.previous_commit, &plan.fix_oids)? {
        Ok(_) => Ok(Trial::Applies),
        Err(ApplyError::Conflict {
            commit,
            subject,
            paths,
        }) => Ok(Trial::Conflict {
            commit: commit.to_string(),
            subject,
            paths,
        }),
        Err(ApplyError::Empty { commit, subject }) => Ok(Trial::Empty {
            commit: commit.to_string(),
            subject,
        }),
        Err(ApplyError::Merge { commit, subject }) => Err(Error::bad_input(format!(
            "fix commit {} `{subject}` is a merge; a security fix must be a series of plain commits",
            crate::git::short(commit)
        ))),
        Err(ApplyError::Git(e)) => Err(e.into()),
    }
}
