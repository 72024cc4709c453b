//! `embargo retrospective`: the release's retrospective in Markdown, from what it recorded.

use std::path::Path;

use super::{clone_path, print_json, staged_release};
use crate::cli::RetrospectiveArgs;
use crate::disclosure::retrospective;
use crate::error::{Error, Exit};
use crate::git::LocalRepo;
use crate::journal::{self, Manifest};
use crate::pipeline::{self, Overrides};

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
    let retro = retrospective::gather(&entries, &manifest, advisory.as_ref())?;
    let markdown = retrospective::render(&retro);
    if let Some(file) = &args.output {
        std::fs::write(file, &markdown).map_err(|e| {
            Error::bad_input(format!("--output: cannot write {}: {e}", file.display()))
        })?;
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
