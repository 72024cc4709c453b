//! `embargo demo`: the sample project (`src/sample/`), then `plan` and `run` on it as a user
//! would, the freeze shown at work, and the announcements of its release.

use std::fs;
use std::path::Path;

use crate::error::{Error, Exit};
use crate::git::LocalRepo;
use crate::git::workspace::Workspace;
use crate::pipeline::{self, Overrides};
use crate::report;
use crate::sample::{ADVISORY, BACKPORT_BRANCH, FIX_BRANCH, PIPELINE, SampleProject};

/// The two messages of the staged release: the pre-announcement as it would be sent now, and the
/// release announcement as a preview (the demo does not publish).
fn show_announcements(pipeline: &crate::pipeline::Pipeline, dir: &Path) -> Result<(), Error> {
    use crate::disclosure::announce::Kind;
    let rule = "-".repeat(72);
    let pre = crate::commands::announcement(pipeline, dir, Kind::Pre, false)?;
    println!("the pre-announcement (`embargo announce PIPELINE --pre`), safe before the embargo:");
    println!("{rule}\nSubject: {}\n\n{}{rule}", pre.subject, pre.markdown);
    println!();
    let release = crate::commands::announcement(pipeline, dir, Kind::Release, true)?;
    println!(
        "the release announcement (`embargo announce PIPELINE --release --preview`; sent once the release is public):"
    );
    println!(
        "{rule}\nSubject: {}\n\n{}{rule}",
        release.subject, release.markdown
    );
    Ok(())
}

/// The retrospective of the demo's release so far (`embargo retrospective PIPELINE`): staged,
/// not yet published, so its timeline ends at staging.
fn show_retrospective(pipeline: &crate::pipeline::Pipeline, dir: &Path) -> Result<(), Error> {
    use crate::disclosure::retrospective;
    let advisory = pipeline
        .advisory
        .as_deref()
        .map(crate::advisory::load)
        .transpose()?;
    let entries = crate::journal::read(&dir.join("journal.jsonl"))?;
    let manifest = crate::journal::Manifest::read(dir)?;
    let retro = retrospective::gather(&entries, &manifest, advisory.as_ref())?;
    let rule = "-".repeat(72);
    println!("the retrospective so far (`embargo retrospective PIPELINE`):");
    println!("{rule}\n{}{rule}", retrospective::render(&retro));
    Ok(())
}

/// A release of two lines at one instant, line 1.0 with its own backport of the fix: `plan`
/// tries each line's fix, `run` stages both in one private push, in a second sample project.
fn show_two_lines(root: &Path, verbose: bool) -> Result<(), Error> {
    fs::create_dir_all(root).map_err(|e| crate::sample::sample_error("two-lines folder", e))?;
    let sample = SampleProject::create(root)?;
    sample.add_backport()?;
    let text = PIPELINE
        .replace("  line: \"1.0\"\n", "  lines: [\"1.1\", \"1.0\"]\n")
        .replace(
            "  base: master\n",
            &format!("  base: master\n  per_line:\n    \"1.0\": {BACKPORT_BRANCH}\n"),
        );
    let pipeline_path = sample.write_pipeline(&text)?;
    println!(
        "two lines at one instant: the same sample in {}, whose private remote also holds line 1.0's own backport {BACKPORT_BRANCH}; the pipeline says:",
        sample.root.display()
    );
    println!("  versioning: {{lines: [\"1.1\", \"1.0\"]}}");
    println!("  fix: {{per_line: {{\"1.0\": {BACKPORT_BRANCH}}}}}");
    println!();
    let pipeline = pipeline::load(&pipeline_path, &Overrides::default())?;
    let workspace = Workspace::real(LocalRepo::open(&sample.work)?, sample.git_cli())?;
    let mut set = crate::plan::resolve_set(&pipeline, &workspace, None)?;
    for line in &mut set.lines {
        line.trial = Some(crate::plan::try_fix(line, &workspace.repo)?);
    }
    print!("{}", report::summary::release_set_text(&pipeline, &set));
    let reporter = report::choose(verbose, false);
    let options = crate::commands::RunOptions {
        github_offline: true,
        ..Default::default()
    };
    match super::run_set::run(&pipeline, &workspace, &options, reporter.as_ref())? {
        super::run_set::SetOutcome::Ran(done) => print!("{}", report::summary::set_run_text(&done)),
        super::run_set::SetOutcome::Prepared(_) => {
            return Err(Error::bad_input("the demo runs every stage"));
        }
        super::run_set::SetOutcome::Released(_) => {
            return Err(Error::bad_input("the sample's fix is already released"));
        }
    }
    Ok(())
}

/// `embargo demo`: the sample project, then plan and run on it, then the freeze shown at work.
pub fn execute(keep: bool, verbose: bool) -> Result<Exit, Error> {
    let started = std::time::Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("embargo-demo-")
        .tempdir()
        .map_err(|e| crate::sample::sample_error("temporary folder", e))?;
    let sample = SampleProject::create(dir.path())?;
    let pipeline_path = sample.write_pipeline(PIPELINE)?;
    println!(
        "embargo demo: a sample project in {}",
        sample.root.display()
    );
    println!("  public remote   {}", sample.public.display());
    println!(
        "  private remote  {} (holds the fix branch {FIX_BRANCH})",
        sample.private.display()
    );
    println!("  clone           {}", sample.work.display());
    println!();

    // Beside the clone, not in it: the advisory is the security team's, not the project's.
    let advisory = sample.root.join("CVE-2026-0001.yaml");
    fs::write(&advisory, ADVISORY).map_err(|e| crate::sample::sample_error("advisory", e))?;
    let overrides = Overrides {
        advisory: Some(advisory),
        ..Overrides::default()
    };
    let pipeline = pipeline::load(&pipeline_path, &overrides)?;
    let workspace = Workspace::real(LocalRepo::open(&sample.work)?, sample.git_cli())?;
    let mut plan = crate::plan::resolve(&pipeline, &workspace, None)?;
    // As `embargo plan` shows it: the fix tried in memory, the advisory for review.
    plan.trial = Some(crate::plan::try_fix(&plan, &workspace.repo)?);
    if let Some(file) = &pipeline.advisory {
        let advisory = crate::advisory::load(file)?;
        plan.advisory = Some(crate::advisory::review(&advisory, &pipeline, &plan));
    }
    print!("{}", report::summary::plan_text(&pipeline, &plan));
    println!();

    let reporter = report::choose(verbose, false);
    let options = crate::commands::RunOptions {
        github_offline: true,
        ..Default::default()
    };
    let summary = match crate::commands::run(&pipeline, &workspace, &options, reporter.as_ref())? {
        crate::commands::RunOutcome::Ran(_, summary) => summary,
        crate::commands::RunOutcome::Released(done) => {
            return Err(Error::bad_input(format!(
                "the sample's fix is already released in {}",
                done.tag
            )));
        }
        crate::commands::RunOutcome::Prepared(_) => {
            return Err(Error::bad_input("the demo runs every stage"));
        }
    };
    print!("{}", report::summary::run_text(&summary));

    // Show the freeze at work: the frozen tag cannot be moved, even by force.
    let refused = sample
        .git(&sample.work, &["tag", "-f", &summary.tag, "HEAD"])
        .is_err();
    let unchanged = workspace
        .repo
        .ref_target(&format!("refs/tags/{}", summary.tag))
        .map(|o| o.to_string())
        == Some(summary.tag_object.clone());
    println!();
    println!(
        "freeze check: `git tag -f {} HEAD` {}",
        summary.tag,
        if refused && unchanged {
            "was refused by the hook; the tag is unchanged"
        } else {
            "WAS NOT REFUSED"
        }
    );
    println!();
    show_announcements(&pipeline, &plan.state_dir)?;
    println!();
    show_retrospective(&pipeline, &plan.state_dir)?;
    println!();
    show_two_lines(&dir.path().join("two-lines"), verbose)?;
    println!();
    println!("demo finished in {:.1}s", started.elapsed().as_secs_f64());
    if keep {
        let kept = dir.keep();
        println!("the sample project is kept in {}", kept.display());
    }
    if refused && unchanged {
        Ok(Exit::Done)
    } else {
        Err(Error::integrity(
            "the freeze hook did not refuse a forced move of the release tag",
        ))
    }
}
