//! `embargo ci generate PIPELINE [--output DIR] [--file NAME] [--check]`: the GitHub Actions
//! workflow of a pipeline, written into the clone (or compared with the file there).

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::ci::workflow::{self, Source};
use crate::cli::CiGenerateArgs;
use crate::error::{Error, Exit};
use crate::pipeline::{self, Overrides};

pub fn generate(args: CiGenerateArgs, cwd: &Path) -> Result<Exit, Error> {
    // The pipeline as written: the workflow passes --line and --fix at run time, not here.
    let pipeline = pipeline::load(&args.pipeline, &Overrides::default())?;
    let clone = super::clone_path(&pipeline, cwd)?;
    let path_in_clone = path_in_clone(&super::resolve_path(cwd, &args.pipeline), &clone)?;
    let file_name = match &args.file {
        Some(name) => file_name(name)?,
        None => format!("{}.yml", pipeline.name),
    };
    let mut command = format!("embargo ci generate {path_in_clone}");
    if args.file.is_some() {
        command.push_str(&format!(" --file {file_name}"));
    }
    let text = workflow::render(&Source {
        pipeline: &pipeline,
        path_in_clone: path_in_clone.clone(),
        command: command.clone(),
        version: env!("CARGO_PKG_VERSION"),
    })?;
    let dir = match &args.output {
        Some(dir) => super::resolve_path(cwd, dir),
        None => clone.join(".github").join("workflows"),
    };
    let target = dir.join(&file_name);
    let regenerate = format!(
        "run `{command}{}` and commit the result",
        match &args.output {
            Some(dir) => format!(" --output {}", dir.display()),
            None => String::new(),
        }
    );

    if args.check {
        // A workflow is a small regular file: anything else (a FIFO, a device, a huge file) is
        // not the committed workflow and must not hang or fill memory.
        match std::fs::metadata(&target) {
            Ok(m) if !m.is_file() || m.len() > 1024 * 1024 => {
                return Err(Error::stage_failed(format!(
                    "{}: not a workflow file (a regular file under 1 MiB)",
                    target.display()
                ))
                .with_hint(regenerate));
            }
            _ => {}
        }
        let on_disk = match std::fs::read_to_string(&target) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::stage_failed(format!(
                    "{}: no such workflow (the pipeline {} generates one)",
                    target.display(),
                    path_in_clone
                ))
                .with_hint(regenerate));
            }
            Err(e) => {
                return Err(Error::bad_input(format!(
                    "cannot read {}: {e}",
                    target.display()
                )));
            }
        };
        if on_disk == text {
            println!(
                "ok: {} is what {} generates",
                target.display(),
                path_in_clone
            );
            return Ok(Exit::Done);
        }
        return Err(Error::stage_failed(format!(
            "{} differs from what {} generates: {}",
            target.display(),
            path_in_clone,
            first_difference(&on_disk, &text)
        ))
        .with_hint(regenerate));
    }

    write_atomically(&dir, &target, &text)?;
    println!(
        "wrote {} from {} (commit it to the PRIVATE security repository; README.md, \"Running it in CI\", says what to set up)",
        target.display(),
        path_in_clone
    );
    Ok(Exit::Done)
}

/// The pipeline's path relative to the clone, with `/`: the workflow names it so inside the
/// checkout, so it must live in the clone.
fn path_in_clone(pipeline: &Path, clone: &Path) -> Result<String, Error> {
    let canonical = |p: &Path| {
        p.canonicalize()
            .map_err(|e| Error::bad_input(format!("cannot resolve {}: {e}", p.display())))
    };
    let file = canonical(pipeline)?;
    let root = canonical(clone)?;
    let relative = file.strip_prefix(&root).map_err(|_| {
        Error::bad_input(format!(
            "{}: the pipeline is outside the clone {}; the workflow reads it from its checkout",
            pipeline.display(),
            clone.display()
        ))
        .with_hint("keep the pipeline in the private repository's clone, like pipelines/security-release.yaml")
    })?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| match c {
            Component::Normal(p) => p.to_str(),
            _ => None,
        })
        .collect();
    match parts {
        Some(parts) if !parts.is_empty() => Ok(parts.join("/")),
        _ => Err(Error::bad_input(format!(
            "{}: the pipeline's path is not plain UTF-8",
            pipeline.display()
        ))),
    }
}

/// A file name and nothing else: `--file` never points out of DIR.
fn file_name(name: &str) -> Result<String, Error> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains('/')
        && !name.chars().any(char::is_control);
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    if plain && yaml {
        Ok(name.to_string())
    } else {
        Err(Error::bad_input(format!(
            "--file: `{name}` is not a workflow file name"
        ))
        .with_hint("a plain name ending in .yml or .yaml, like security-release.yml; --output names the folder"))
    }
}

/// The first line where `on_disk` and `generated` part, for the message.
fn first_difference(on_disk: &str, generated: &str) -> String {
    let mut theirs = on_disk.lines();
    let mut ours = generated.lines();
    let mut number = 0;
    loop {
        number += 1;
        match (theirs.next(), ours.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => {
                return format!(
                    "line {number}: the file has\n  {a}\nwhere the pipeline gives\n  {b}"
                );
            }
            (Some(a), None) => return format!("line {number}: the file goes on with\n  {a}"),
            (None, Some(b)) => {
                return format!("line {number}: the file ends where the pipeline gives\n  {b}");
            }
            (None, None) => return "the line endings differ".to_string(),
        }
    }
}

/// Writes through a temporary file in the same folder, so a reader never sees half a workflow.
fn write_atomically(dir: &PathBuf, target: &Path, text: &str) -> Result<(), Error> {
    let bad_dir = |e: std::io::Error| {
        Error::bad_input(format!(
            "--output: cannot write into {}: {e}",
            dir.display()
        ))
        .with_hint("name a folder you can write, like .github/workflows in your clone")
    };
    if dir.exists() && !dir.is_dir() {
        return Err(bad_dir(std::io::Error::other("it is not a folder")));
    }
    std::fs::create_dir_all(dir).map_err(bad_dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(bad_dir)?;
    file.write_all(text.as_bytes()).map_err(bad_dir)?;
    file.persist(target).map_err(|e| bad_dir(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_stay_in_the_folder() {
        assert!(file_name("security-release.example.yml").is_ok());
        for bad in ["../ci.yml", "a/b.yml", ".hidden.yml", "x.txt", ""] {
            assert!(file_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_first_difference_names_its_line() {
        assert!(first_difference("a\nb\nc\n", "a\nx\nc\n").starts_with("line 2:"));
        assert!(first_difference("a\n", "a\nb\n").contains("ends where"));
        assert!(first_difference("a\nb\n", "a\n").contains("goes on with"));
    }
}
