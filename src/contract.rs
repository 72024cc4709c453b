//! The staged release is the contract. What a release was cut, built, checked and staged from is
//! recorded as each stage completes; every later `run` and `publish` compares the pipeline, the
//! flags and the remotes with that record and refuses, naming each difference, rather than
//! publishing something other than what was staged (or at another instant).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::Error;
use crate::journal::{Entry, Progress, Stage, last_of};
use crate::pipeline::{EmbargoSource, Pipeline};

/// What publishing depends on, as it was when the release was staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// The instant the release may become public (`None`: staged without one; `reschedule`
    /// sets it).
    pub embargo: Option<Timestamp>,
    /// Where that instant came from: the pipeline's `embargo:`, `--embargo`, `--embargo now`,
    /// or `embargo reschedule`.
    pub embargo_source: EmbargoSource,
    pub fix_commits: Vec<String>,
    /// The branches the fix was picked onto (or found to need a manual backport, or to have
    /// already), by name.
    pub targets: Vec<String>,
    /// The checks that passed, by name.
    pub checks: Vec<String>,
    pub github_repository: Option<String>,
    pub private_remote: String,
    pub public_remote: String,
    /// Where the private remote pushed to, after every rewrite (credentials removed).
    #[serde(default)]
    pub private_push: Vec<String>,
    /// Every URL of the public repository when the release was staged.
    #[serde(default)]
    pub public_urls: Vec<String>,
    /// What of the advisory file the staged draft advisory and OSV record say (`None`: staged
    /// without an advisory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<crate::advisory::Content>,
    /// Every line's tag when the release is one of several lines (this one's included): the line
    /// is never published, rescheduled or taken back alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub release_set: Vec<String>,
}

/// The one instant of a release of several lines, from each line's (tag, recorded instant):
/// lines staged for different instants are an integrity error, nothing is published.
pub fn one_instant(lines: &[(String, Option<Timestamp>)]) -> Result<Option<Timestamp>, Error> {
    let Some((first_tag, first)) = lines.first() else {
        return Ok(None);
    };
    if let Some((tag, at)) = lines.iter().find(|(_, at)| at != first) {
        let show = |t: &Option<Timestamp>| t.map(clock::display).unwrap_or_else(|| "none".into());
        return Err(Error::integrity(format!(
            "the lines are staged for different instants: {} for {first_tag}, {} for {tag}",
            show(first),
            show(at)
        ))
        .with_hint(
            "`embargo reschedule PIPELINE --embargo TIME` moves every line of the release to one instant",
        ));
    }
    Ok(*first)
}

/// A short fingerprint of a part of the pipeline, recorded with the stage that used it, so that
/// a change to that part afterwards is noticed.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = crate::checksum::Hasher::default();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finish()[..16].to_string()
}

/// The build section's fingerprint: steps (name, command, environment, timeout), artifact globs
/// and the checksums file name.
pub fn build_fingerprint(pipeline: &Pipeline) -> String {
    let mut parts: Vec<String> = Vec::new();
    for step in &pipeline.build.steps {
        parts.push(step_text(step));
    }
    parts.extend(
        pipeline
            .build
            .artifacts
            .iter()
            .map(|a| a.source().to_string()),
    );
    parts.push(pipeline.build.checksums.source().to_string());
    parts.extend(pipeline.build.env_passthrough.iter().cloned());
    // Each shard's name and environment (its runner is CI's business, not the build's). Left
    // out without a matrix, so that a build that is not split keeps its fingerprint.
    for shard in &pipeline.build.matrix {
        parts.push(format!("shard {}", shard.name));
        parts.extend(shard.env.iter().map(|(k, v)| format!("{k}={v}")));
    }
    fingerprint(&parts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The checks' fingerprint: each check's command, environment and expectation.
pub fn checks_fingerprint(pipeline: &Pipeline) -> String {
    let parts: Vec<String> = pipeline
        .verify
        .iter()
        .map(|c| {
            format!(
                "{}\n{}",
                step_text(&c.step),
                c.expect_stdout
                    .as_ref()
                    .map(|e| e.source().to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    fingerprint(&parts.iter().map(String::as_str).collect::<Vec<_>>())
}

fn step_text(step: &crate::pipeline::StepSpec) -> String {
    let env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}\n{}\n{}\n{}",
        step.name,
        step.run,
        env.join("\n"),
        step.timeout.as_secs()
    )
}

/// A journal entry that moved the instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescheduled {
    pub from: Option<Timestamp>,
    pub to: Timestamp,
    pub earlier: bool,
}

/// The instant now in force for a staged release: the one recorded at staging, or the last
/// `reschedule`. `None` when the release is not staged.
pub fn recorded_instant(entries: &[Entry]) -> Option<(Option<Timestamp>, EmbargoSource)> {
    let staged = last_of(entries, Stage::Stage).filter(|e| e.event == Progress::Completed)?;
    let contract: Option<Contract> = staged
        .detail
        .get("contract")
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    let mut instant = contract
        .map(|c| (c.embargo, c.embargo_source))
        .unwrap_or((None, EmbargoSource::Pipeline));
    for entry in entries {
        if entry.stage == Stage::Reschedule
            && entry.event == Progress::Completed
            && let Ok(r) = serde_json::from_value::<Rescheduled>(entry.detail.clone())
        {
            instant = (Some(r.to), EmbargoSource::Reschedule);
        }
    }
    Some(instant)
}

/// The instant a staged release publishes at, after checking what the pipeline and the flags
/// say now against the record. The recorded instant always wins; a different one given on the
/// command line, or in the pipeline when the record came from the pipeline, is refused so that
/// nobody publishes at an instant they did not mean.
pub fn staged_instant(
    pipeline: &Pipeline,
    entries: &[Entry],
    tag: &str,
) -> Result<Timestamp, Error> {
    let Some((recorded, source)) = recorded_instant(entries) else {
        return Err(Error::bad_input(format!("{tag} is not staged yet")));
    };
    let file = pipeline.file.display();
    let Some(recorded) = recorded else {
        return Err(Error::bad_input(format!(
            "{tag} was staged without an embargo instant, so there is nothing to publish at"
        ))
        .with_hint(format!(
            "set it with `embargo reschedule {file} --embargo \"YYYY-MM-DD HH:MM UTC\"`"
        )));
    };
    let Some(given) = pipeline.embargo else {
        return Ok(recorded);
    };
    let same = given == recorded
        || (pipeline.embargo_source == EmbargoSource::Now && source == EmbargoSource::Now);
    if same {
        return Ok(recorded);
    }
    let compared = match pipeline.embargo_source {
        EmbargoSource::Flag | EmbargoSource::Now => true,
        // The pipeline's value is what the release was staged from; once the instant was set by
        // a flag or moved by `reschedule`, the file is expected to be out of date.
        EmbargoSource::Pipeline | EmbargoSource::Reschedule => source == EmbargoSource::Pipeline,
    };
    if !compared {
        return Ok(recorded);
    }
    let (where_, fix) = match pipeline.embargo_source {
        EmbargoSource::Pipeline | EmbargoSource::Reschedule => (
            format!("{file} says `embargo: {}`", clock::display(given)),
            format!(
                "put `embargo:` back to {} in {file}",
                clock::display(recorded)
            ),
        ),
        _ => (
            format!("--embargo says {}", clock::display(given)),
            "leave --embargo out".to_string(),
        ),
    };
    let move_it = if given < recorded {
        format!(
            "`embargo reschedule {file} --embargo \"{}\" --earlier` (publishing earlier than announced breaks the embargo for everyone who was told the date)",
            clock::display(given)
        )
    } else {
        format!(
            "`embargo reschedule {file} --embargo \"{}\"`",
            clock::display(given)
        )
    };
    Err(Error::bad_input(format!(
        "{where_}, but {tag} was staged to be published at {} ({}): the staged instant is the contract",
        clock::display(recorded),
        if given < recorded {
            "the new one is earlier"
        } else {
            "the new one is later"
        },
    ))
    .with_hint(format!("to keep the staged instant, {fix}; to move it, {move_it}")))
}

/// The instant the journal gives must be the one the manifest holds: `reschedule` writes both,
/// so a difference means one of them was edited by hand.
pub fn record_agrees(entries: &[Entry], manifest: &crate::journal::Manifest) -> Result<(), Error> {
    let (Some((journal, _)), Some(contract)) = (recorded_instant(entries), &manifest.contract)
    else {
        return Ok(());
    };
    if journal == contract.embargo {
        return Ok(());
    }
    let show = |t: Option<Timestamp>| t.map(clock::display).unwrap_or_else(|| "none".into());
    if interrupted_reschedule(entries, manifest) {
        return Err(Error::bad_input(format!(
            "a reschedule to {} was interrupted before it was journaled",
            show(contract.embargo)
        ))
        .with_hint("run the same `embargo reschedule` again to finish it (or reschedule to the instant you want)"));
    }
    Err(Error::integrity(format!(
        "the state folder disagrees with itself about the embargo: the journal says {}, manifest.json says {}",
        show(journal),
        show(contract.embargo)
    ))
    .with_hint("one of them was edited by hand; restore the state folder from a copy you trust"))
}

/// Whether the journal ends its reschedules with one that started and did not finish, to the
/// instant the manifest already holds.
pub fn interrupted_reschedule(entries: &[Entry], manifest: &crate::journal::Manifest) -> bool {
    let Some(last) = last_of(entries, Stage::Reschedule) else {
        return false;
    };
    last.event == Progress::Started
        && serde_json::from_value::<Rescheduled>(last.detail.clone())
            .is_ok_and(|r| Some(r.to) == manifest.contract.as_ref().and_then(|c| c.embargo))
}

/// `run` must not stage a release whose embargo has already passed (a value left over from the
/// last release would put the fix out at the next cron run), unless the lead said `now`.
pub fn refuse_past_embargo(pipeline: &Pipeline) -> Result<(), Error> {
    let Some(at) = pipeline.embargo else {
        return Ok(());
    };
    if pipeline.embargo_source == EmbargoSource::Now || at > Timestamp::now() {
        return Ok(());
    }
    let said = match pipeline.embargo_source {
        EmbargoSource::Flag => "--embargo".to_string(),
        _ => format!("`embargo:` in {}", pipeline.file.display()),
    };
    Err(Error::bad_input(format!(
        "the embargo {} ({said}) has already passed ({}): staging now would let the next `publish --if-due` make the fix public at once",
        clock::display(at),
        clock::until(at)
    ))
    .with_hint(
        "give the instant announced for this release (`--embargo \"YYYY-MM-DD HH:MM UTC\"` or `embargo:`); \
         if the vulnerability is already public, pass `--embargo now` to publish right after staging",
    ))
}

/// One way the pipeline, the flags or the remotes differ from what a release was cut or staged
/// from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// What differs: `fix commits`, `targets`, `build`, `checks`, `GitHub repository`, ...
    pub what: String,
    pub recorded: String,
    pub now: String,
}

impl Drift {
    pub fn line(&self) -> String {
        format!(
            "{}: recorded {}; now {}",
            self.what, self.recorded, self.now
        )
    }
}

/// What a release was started from, per completed stage, compared with what the pipeline and
/// the remotes give now. `current` is built by the caller from the plan.
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub fix_commits: Vec<String>,
    /// `None` when the targets were not resolved (no cherry_pick section is `Some(vec![])`).
    pub targets: Option<Vec<String>>,
    pub build: String,
    pub checks: String,
    pub github_repository: Option<String>,
    pub private_remote: String,
    pub public_remote: String,
    pub public_urls: Vec<String>,
    /// The advisory file as it reads now (`None`: no advisory given).
    pub advisory: Option<crate::advisory::Content>,
}

/// Every difference between the journal's records and `current`, for the stages that completed.
pub fn drift(entries: &[Entry], current: &Current) -> Vec<Drift> {
    let completed = |stage| last_of(entries, stage).filter(|e| e.event == Progress::Completed);
    let mut out = Vec::new();
    if let Some(e) = completed(Stage::Prepare) {
        let then: Vec<String> = e.detail["fix_commits"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["sha"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if then != current.fix_commits {
            out.push(Drift {
                what: "fix commits".into(),
                recorded: commits(&then),
                now: commits(&current.fix_commits),
            });
        }
    }
    let field = |stage, key: &str| {
        completed(stage)
            .and_then(|e| e.detail.get(key))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(then) = field(Stage::Build, "spec")
        && then != current.build
    {
        out.push(Drift {
            what: "build (steps, artifacts or checksums file)".into(),
            recorded: format!("fingerprint {then}"),
            now: format!("fingerprint {}", current.build),
        });
    }
    if let Some(then) = field(Stage::Verify, "spec")
        && then != current.checks
    {
        out.push(Drift {
            what: "verify (the checks)".into(),
            recorded: format!("fingerprint {then}"),
            now: format!("fingerprint {}", current.checks),
        });
    }
    if let (Some(e), Some(now)) = (completed(Stage::CherryPick), &current.targets)
        && let Some(then) = e.detail.get("targets").and_then(|t| t.as_array())
    {
        let then: Vec<String> = then
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        if &then != now {
            out.push(Drift {
                what: "cherry-pick targets".into(),
                recorded: list(&then),
                now: list(now),
            });
        }
    }
    if let Some(e) = completed(Stage::Stage)
        && let Some(contract) = e
            .detail
            .get("contract")
            .and_then(|c| serde_json::from_value::<Contract>(c.clone()).ok())
    {
        if contract.github_repository != current.github_repository {
            out.push(Drift {
                what: "GitHub repository".into(),
                recorded: contract.github_repository.unwrap_or_else(|| "none".into()),
                now: current
                    .github_repository
                    .clone()
                    .unwrap_or_else(|| "none".into()),
            });
        }
        if !contract.public_urls.is_empty() && contract.public_urls != current.public_urls {
            out.push(Drift {
                what: "the public repository's URL".into(),
                recorded: contract.public_urls.join(", "),
                now: current.public_urls.join(", "),
            });
        }
        // The draft on GitHub is what becomes public: a file edited since staging must not
        // silently differ from it.
        match (&contract.advisory, &current.advisory) {
            (Some(then), Some(now)) => {
                out.extend(
                    then.changes(now)
                        .into_iter()
                        .map(|(what, recorded, now)| Drift {
                            what,
                            recorded,
                            now,
                        }),
                );
            }
            (Some(_), None) => out.push(Drift {
                what: "advisory".into(),
                recorded: "a draft advisory staged with the release".into(),
                now: "no advisory file given".into(),
            }),
            // A draft advisory staged before the contract recorded the file has nothing to be
            // compared with: it is not taken for a release staged without one.
            (None, Some(_)) if e.detail.get("advisory").is_none() => out.push(Drift {
                what: "advisory".into(),
                recorded: "staged without an advisory".into(),
                now: "an advisory file is given".into(),
            }),
            (None, _) => {}
        }
        for (what, then, now) in [
            (
                "repository.private",
                &contract.private_remote,
                &current.private_remote,
            ),
            (
                "repository.public",
                &contract.public_remote,
                &current.public_remote,
            ),
        ] {
            if then != now {
                out.push(Drift {
                    what: what.into(),
                    recorded: format!("`{then}`"),
                    now: format!("`{now}`"),
                });
            }
        }
    }
    out
}

fn commits(shas: &[String]) -> String {
    format!(
        "{} commit(s) [{}]",
        shas.len(),
        shas.iter()
            .map(|s| crate::git::abbrev(s).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        format!("[{}]", items.join(", "))
    }
}

/// The refusal for a release whose pipeline drifted, with both ways forward.
pub fn refuse_drift(drift: &[Drift], tag: &str, pipeline: &Pipeline, command: &str) -> Error {
    let file = pipeline.file.display();
    Error::bad_input(format!(
        "the pipeline no longer matches what {tag} was started from:\n{}",
        drift
            .iter()
            .map(|d| format!("  - {}", d.line()))
            .collect::<Vec<_>>()
            .join("\n")
    ))
    .with_hint(if command == "build" {
        // A shard builds what its prepare job recorded: it has no choice to make of its own.
        format!(
            "a shard is built with the pipeline its prepare job used: give this job the same pipeline and flags; \
             to release the change, `embargo abort {file}` and prepare again"
        )
    } else {
        format!(
            "to release the change, `embargo abort {file}` and run again (the same version is cut anew); \
             to go on with what was recorded, `embargo {command} {file} --keep-staged` (journaled)"
        )
    })
}
