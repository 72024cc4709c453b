//! `embargo retrospective`: the release's retrospective in Markdown, from what it recorded, with
//! the pull requests' merge state asked of GitHub when it can be.

use std::path::Path;

use super::{clone_path, print_json, staged_release};
use crate::cli::RetrospectiveArgs;
use crate::disclosure::retrospective::{self, CheckStatus, MergeState, Retrospective};
use crate::error::{Error, Exit};
use crate::git::LocalRepo;
use crate::github::client::Client;
use crate::github::pulls::{self, Standing};
use crate::journal::{self, Manifest};
use crate::pipeline::{self, Overrides, Pipeline};

pub fn execute(args: RetrospectiveArgs, cwd: &Path) -> Result<Exit, Error> {
    let overrides = Overrides {
        advisory: args.advisory.clone(),
        ..Overrides::default()
    };
    let pipeline = pipeline::load(&args.pipeline, &overrides)?;
    let advisory = pipeline
        .advisory
        .as_deref()
        .map(crate::advisory::load)
        .transpose()?;
    let clone = LocalRepo::open(&clone_path(&pipeline, cwd)?)?;
    // Usually written after publishing, so the last published release counts too.
    let dir = staged_release(&clone, &pipeline, args.state_dir.as_deref(), true)?;
    let entries = journal::read(&dir.join("journal.jsonl"))?;
    let manifest = Manifest::read(&dir)?;
    let mut retro = retrospective::gather(&entries, &manifest, advisory.as_ref())?;
    // A GitHub failure still gives the retrospective, saying so; the command then ends with
    // that failure's exit code, so a script does not take a partial answer for a whole one.
    let github_failure = check_merge_state(&pipeline, &manifest, &mut retro, args.offline).err();
    let markdown = retrospective::render(&retro);
    if let Some(file) = &args.output {
        std::fs::write(file, &markdown).map_err(|e| {
            Error::bad_input(format!("--output: cannot write {}: {e}", file.display()))
        })?;
    }
    if let Some(e) = github_failure {
        if !args.json {
            print!("{markdown}");
        }
        let what = if args.json && args.output.is_none() {
            "the pull requests' merge state could not be checked"
        } else {
            "the retrospective was written, but the pull requests' merge state could not be checked"
        };
        return Err(e.context(what));
    }
    if args.json {
        let mut value = serde_json::to_value(&retro)
            .map_err(|e| Error::stage_failed(format!("cannot encode the retrospective: {e}")))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("markdown".to_string(), markdown.into());
        }
        print_json(&value)?;
    } else {
        print!("{markdown}");
    }
    Ok(Exit::Done)
}

/// Asks GitHub where each recorded pull request stands, when there is one to ask about and
/// GitHub can be asked; otherwise records why not. Never asks with `--offline`.
fn check_merge_state(
    pipeline: &Pipeline,
    manifest: &Manifest,
    retro: &mut Retrospective,
    offline: bool,
) -> Result<(), Error> {
    if retro.pull_requests.is_empty() {
        return Ok(());
    }
    if offline {
        retro.merge_not_checked(CheckStatus::Offline, "not checked (--offline)");
        return Ok(());
    }
    let Some(spec) = &pipeline.github else {
        retro.merge_not_checked(
            CheckStatus::NoGitHub,
            "not checked: the pipeline has no publish.github",
        );
        return Ok(());
    };
    if crate::secret::take_env(&spec.token_env).is_none_or(|t| t.trim().is_empty()) {
        retro.merge_not_checked(
            CheckStatus::NoToken,
            format!(
                "not checked: {} (publish.github.token_env) is not set",
                spec.token_env
            ),
        );
        return Ok(());
    }
    // The pull requests were opened on the repository the release was staged with.
    let mut spec = spec.clone();
    if let Some(repository) = manifest
        .contract
        .as_ref()
        .and_then(|c| c.github_repository.clone())
    {
        spec.repository = repository;
    }
    let asked = Client::new(&spec).and_then(|client| {
        retro
            .pull_requests
            .iter()
            .map(|p| pulls::standing(&client, p.number))
            .collect::<Result<Vec<_>, Error>>()
    });
    match asked {
        Ok(standings) => {
            for (p, standing) in retro.pull_requests.iter_mut().zip(standings) {
                (p.merge_state, p.merged_at) = match standing {
                    Standing::Merged { at } => (MergeState::Merged, at),
                    Standing::Open => (MergeState::Open, None),
                    Standing::ClosedUnmerged => (MergeState::ClosedUnmerged, None),
                };
            }
            retro.merge_check = retrospective::MergeCheck {
                status: CheckStatus::Checked,
                note: format!(
                    "as GitHub ({}) reported it when this was written",
                    spec.repository
                ),
            };
            Ok(())
        }
        Err(e) => {
            retro.merge_not_checked(
                CheckStatus::Failed,
                format!("not checked: GitHub failed ({})", e.message),
            );
            let offline = "--offline writes it without asking GitHub";
            let hint = match &e.hint {
                Some(h) => format!("{h}; {offline}"),
                None => format!("run again when GitHub answers; {offline}"),
            };
            Err(e.with_hint(hint))
        }
    }
}
