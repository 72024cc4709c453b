//! The journal (`journal.jsonl`: one event per line, appended, flushed and synced) and the
//! manifest (`manifest.json`: what was frozen). A rerun reads the journal to resume where the last
//! run stopped; a line torn by a crash at the very end is ignored.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The stages, always in this order. (`Stage::Stage` is the release process's own word for
/// staging privately.)
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Prepare,
    Build,
    Verify,
    Freeze,
    CherryPick,
    Stage,
    Publish,
    /// Not a stage: the recorded embargo instant was moved (`embargo reschedule`).
    Reschedule,
    /// Not a stage: the lead chose to go on with what was recorded although the pipeline
    /// changed (`--keep-staged`).
    KeepStaged,
    /// Not a stage: the staged release was taken back (`embargo abort`).
    Abort,
    /// Not a stage: the pre-announcement was sent (`embargo announce --pre --send`).
    PreAnnounce,
    /// Not a stage: the release announcement was sent (`embargo announce --release --send`).
    Announce,
    /// Not a stage: the fix team was invited to the private repository (`embargo team --invite`).
    TeamInvite,
    /// Not a stage: the fix team was removed from the private repository (`embargo team --revoke`).
    TeamRevoke,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Prepare,
        Stage::Build,
        Stage::Verify,
        Stage::Freeze,
        Stage::CherryPick,
        Stage::Stage,
        Stage::Publish,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Prepare => "prepare",
            Stage::Build => "build",
            Stage::Verify => "verify",
            Stage::Freeze => "freeze",
            Stage::CherryPick => "cherry-pick",
            Stage::Stage => "stage",
            Stage::Publish => "publish",
            Stage::Reschedule => "reschedule",
            Stage::KeepStaged => "keep-staged",
            Stage::Abort => "abort",
            Stage::PreAnnounce => "pre-announce",
            Stage::Announce => "announce",
            Stage::TeamInvite => "team-invite",
            Stage::TeamRevoke => "team-revoke",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Progress {
    Started,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub at: String,
    pub stage: Stage,
    pub event: Progress,
    /// What the stage produced (on `completed`), for resuming and for `status`.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
    /// Why it failed (on `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// The journal of one release, open for appending.
pub struct Journal {
    path: PathBuf,
    file: File,
    entries: Vec<Entry>,
}

impl Journal {
    pub fn open(state_dir: &Path) -> Result<Journal, Error> {
        fs::create_dir_all(state_dir).map_err(|e| {
            Error::stage_failed(format!(
                "cannot create the state folder {}: {e}",
                state_dir.display()
            ))
        })?;
        let path = state_dir.join("journal.jsonl");
        let entries = read(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::stage_failed(format!("cannot open {}: {e}", path.display())))?;
        let mut journal = Journal {
            path,
            file,
            entries,
        };
        journal.end_torn_line()?;
        Ok(journal)
    }

    /// A crash can leave a partial last line; start the next entry on a line of its own.
    fn end_torn_line(&mut self) -> Result<(), Error> {
        let bytes = fs::read(&self.path).unwrap_or_default();
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            self.file
                .write_all(b"\n")
                .and_then(|_| self.file.sync_data())
                .map_err(|e| self.write_error(e))?;
        }
        Ok(())
    }

    fn write_error(&self, e: std::io::Error) -> Error {
        Error::stage_failed(format!("cannot write {}: {e}", self.path.display()))
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn record(
        &mut self,
        stage: Stage,
        event: Progress,
        detail: serde_json::Value,
        message: Option<String>,
    ) -> Result<(), Error> {
        let entry = Entry {
            at: now(),
            stage,
            event,
            detail,
            message,
        };
        let mut line = serde_json::to_string(&entry)
            .map_err(|e| Error::stage_failed(format!("cannot encode a journal entry: {e}")))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| self.write_error(e))?;
        self.entries.push(entry);
        Ok(())
    }

    /// The `completed` entry of `stage`, if its last event is one.
    pub fn completed(&self, stage: Stage) -> Option<&Entry> {
        last_of(&self.entries, stage).filter(|e| e.event == Progress::Completed)
    }
}

/// Reads a journal; a missing file is an empty journal. Only the last line may be torn.
pub fn read(path: &Path) -> Result<Vec<Entry>, Error> {
    let text = match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::stage_failed(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut entries = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => entries.push(e),
            // A line torn by a crash is a JSON object cut short (and the next run starts its
            // first entry on a new line); anything else means the file was damaged some other
            // way, and resuming from it would be a guess.
            Err(e) if e.is_eof() => {}
            Err(e) => {
                return Err(Error::integrity(format!(
                    "{}:{}: the journal is damaged ({e})",
                    path.display(),
                    i + 1
                ))
                .with_hint("restore the state folder from a copy, or inspect the line by hand"));
            }
        }
    }
    Ok(entries)
}

pub fn last_of(entries: &[Entry], stage: Stage) -> Option<&Entry> {
    entries.iter().rev().find(|e| e.stage == stage)
}

/// One fix commit as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixCommit {
    pub sha: String,
    pub subject: String,
}

/// One artifact as built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// What was frozen: every SHA that later stages prove unchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub pipeline: String,
    pub line: String,
    pub previous_tag: String,
    pub tag: String,
    pub version: String,
    pub patch_branch: String,
    pub release_commit: String,
    pub tree: String,
    pub tag_object: String,
    pub fix_commits: Vec<FixCommit>,
    pub artifacts: Vec<Artifact>,
    pub checksums_file: String,
    pub checksums_sha256: String,
    pub prepared_at: String,
    pub built_at: String,
    pub verified_at: String,
    pub frozen_at: String,
    /// What the release was staged with (written when stage 6 completes; the instant is updated
    /// by `embargo reschedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<crate::contract::Contract>,
    /// The advisory's OSV record (`osv.json`) as attached to the draft release: recorded when it
    /// is written after the freeze, fixed once the release is staged, and read back at publishing
    /// like every other asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osv: Option<Artifact>,
}

impl Manifest {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("manifest.json")
    }

    pub fn write(&self, state_dir: &Path) -> Result<(), Error> {
        let path = Self::path(state_dir);
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::stage_failed(format!("cannot encode the manifest: {e}")))?;
        text.push('\n');
        let fail = |e: std::io::Error| {
            Error::stage_failed(format!("cannot write {}: {e}", path.display()))
        };
        let mut tmp = tempfile::NamedTempFile::new_in(state_dir).map_err(fail)?;
        tmp.write_all(text.as_bytes()).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        Ok(())
    }

    pub fn read(state_dir: &Path) -> Result<Manifest, Error> {
        let path = Self::path(state_dir);
        let text = fs::read_to_string(&path)
            .map_err(|e| Error::integrity(format!("cannot read {}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::integrity(format!("{} is damaged: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_ignored_and_the_next_entry_starts_clean() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut j = Journal::open(dir.path()).unwrap();
            j.record(
                Stage::Prepare,
                Progress::Started,
                serde_json::Value::Null,
                None,
            )
            .unwrap();
        }
        let path = dir.path().join("journal.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"at":"2026-01-01T00:00:00Z","stage":"prep"#)
            .unwrap();
        drop(f);
        let mut j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.entries().len(), 1);
        j.record(
            Stage::Prepare,
            Progress::Completed,
            serde_json::json!({"x": 1}),
            None,
        )
        .unwrap();
        let again = read(&path).unwrap();
        assert_eq!(again.len(), 2);
        assert!(
            Journal::open(dir.path())
                .unwrap()
                .completed(Stage::Prepare)
                .is_some()
        );
    }

    #[test]
    fn a_damaged_middle_line_is_an_integrity_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        fs::write(
            &path,
            "garbage\n{\"at\":\"x\",\"stage\":\"prepare\",\"event\":\"started\"}\n",
        )
        .unwrap();
        assert_eq!(
            read(&path).unwrap_err().exit_code(),
            crate::error::Exit::Integrity
        );
    }
}
