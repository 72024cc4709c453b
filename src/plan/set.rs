//! A release of several lines at one instant (`versioning.lines`): one plan per line, every
//! line resolved from the same listing of the remotes, and each cherry-pick target given to the
//! line whose fix it receives.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::{Plan, Remotes, final_releases, newest_lines, remotes, resolve_line};
use crate::error::Error;
use crate::git::workspace::Workspace;
use crate::pipeline::{LinesSpec, Pipeline};
use crate::version::Line;

/// What a release of several lines would do.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseSet {
    pub pipeline: String,
    /// One plan per line, the newest line first.
    pub lines: Vec<Plan>,
    /// Every target of the cherry-picks, once, with the fix it receives.
    pub targets: Vec<SetTarget>,
    pub embargo: Option<Timestamp>,
    /// The set's state folder; each line's records are in a folder of its own inside it.
    pub state_dir: PathBuf,
}

/// A target of the cherry-picks in a release of several lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetTarget {
    pub target: String,
    /// The released line whose release branch this is, if any: it receives that line's fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// Where the fix picked onto it comes from, in words.
    pub fix_source: String,
}

/// Resolves every line of `versioning.lines`. `state_dir` overrides where the set's state lives.
pub fn resolve_set(
    pipeline: &Pipeline,
    workspace: &Workspace,
    state_dir: Option<&Path>,
) -> Result<ReleaseSet, Error> {
    let remotes: Remotes = remotes(pipeline, workspace)?;
    let releases = final_releases(pipeline, &remotes.public)?;
    let lines: Vec<Line> = match &pipeline.lines {
        Some(LinesSpec::Named(lines)) => lines.clone(),
        Some(LinesSpec::Supported(n)) => newest_lines(&releases, *n, &remotes.public, pipeline)?,
        None => {
            return Err(Error::bad_input(format!(
                "{}: the pipeline releases one line (versioning.line), not several",
                pipeline.file.display()
            )));
        }
    };
    // Each line's folder is named after its tag, inside the set's, which is named after the
    // newest line's tag: known once that line is resolved.
    let mut plans = lines
        .iter()
        .map(|line| {
            resolve_line(pipeline, workspace, &remotes, &releases, *line, &|tag| {
                PathBuf::from(tag)
            })
        })
        .collect::<Result<Vec<Plan>, Error>>()?;
    let folder = plans
        .iter()
        .map(|p| p.tag.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let state_dir = super::release_state_dir(pipeline, workspace, state_dir, &folder);
    for plan in &mut plans {
        plan.state_dir = state_dir.join(&plan.tag);
    }
    refuse_shared_names(pipeline, &plans)?;
    refuse_backports_of_other_lines(pipeline, &lines)?;
    let targets = assign_targets(pipeline, &mut plans);
    // The newest line carries the release's advisory, which lists every line as patched.
    let others: Vec<super::ReleasedWith> = plans[1..]
        .iter()
        .map(|p| super::ReleasedWith {
            line: p.next_version.line(),
            version: p.version.clone(),
            release_commit: None,
        })
        .collect();
    plans[0].released_with = others;
    let tags: Vec<String> = plans.iter().map(|p| p.tag.clone()).collect();
    for plan in &mut plans {
        plan.release_set = tags.clone();
    }
    for plan in &mut plans {
        super::pick_the_fix_elsewhere(pipeline, workspace, &remotes, plan)?;
    }
    Ok(ReleaseSet {
        pipeline: pipeline.name.clone(),
        lines: plans,
        targets,
        embargo: pipeline.embargo,
        state_dir,
    })
}

/// A backport in `fix.per_line` for a line the release leaves out (`{supported: N}` moved on) is
/// a mistake to fix, not a key to ignore: that line's release branch would get the fix itself.
fn refuse_backports_of_other_lines(pipeline: &Pipeline, lines: &[Line]) -> Result<(), Error> {
    for line in pipeline.fix.per_line.keys() {
        if !lines.contains(line) {
            return Err(Error::bad_input(format!(
                "{}: fix.per_line has a backport for line {line}, which this release does not include (lines: {})",
                pipeline.file.display(),
                lines.iter().map(Line::to_string).collect::<Vec<_>>().join(", ")
            ))
            .with_hint("remove that backport from fix.per_line, or include the line in versioning.lines"));
        }
    }
    Ok(())
}

/// Each line's tag and patch branch must be its own: one push carries them all, and a name two
/// lines share would be one line's release under the other's name.
fn refuse_shared_names(pipeline: &Pipeline, plans: &[Plan]) -> Result<(), Error> {
    for (i, a) in plans.iter().enumerate() {
        for b in &plans[i + 1..] {
            for (what, x, y) in [
                ("tag", &a.tag, &b.tag),
                ("patch branch", &a.patch_branch, &b.patch_branch),
            ] {
                if x == y {
                    return Err(Error::bad_input(format!(
                        "{}: lines {} and {} would both have the {what} `{x}`",
                        pipeline.file.display(),
                        a.line,
                        b.line
                    ))
                    .with_hint("name the patch branch after the version, like \"release-{version}\" or \"{tag}\""));
                }
            }
        }
    }
    Ok(())
}

/// Gives each target to one line, so that it gets one pick and one pull request, never one per
/// line: a line's release branch gets that line's fix; master and the release branches of lines
/// not in the release get the fix itself, through the newest line. Each plan is left with its
/// own targets.
fn assign_targets(pipeline: &Pipeline, plans: &mut [Plan]) -> Vec<SetTarget> {
    let patch_branches: Vec<String> = plans.iter().map(|p| p.patch_branch.clone()).collect();
    let mut all: Vec<String> = plans
        .iter()
        .flat_map(|p| p.targets.iter().cloned())
        .filter(|t| !patch_branches.contains(t))
        .collect();
    all.sort();
    all.dedup();
    let lines: Vec<Line> = plans.iter().map(|p| p.next_version.line()).collect();
    // The fix itself, as resolved for a line that has no backport of its own.
    let the_fix = plans
        .iter()
        .zip(&lines)
        .find(|(_, line)| !pipeline.fix.per_line.contains_key(line))
        .map(|(plan, _)| plan.fix_source.clone())
        .unwrap_or_else(|| super::describe_source(&pipeline.fix.source));
    let mut owned: Vec<Vec<String>> = vec![Vec::new(); plans.len()];
    let mut targets = Vec::new();
    for target in all {
        let line = line_of_branch(&target, &lines);
        let index = line
            .and_then(|l| lines.iter().position(|x| *x == l))
            .unwrap_or(0);
        let fix_source = match pipeline.fix.per_target.get(&target) {
            Some(branch) => format!("{branch} (fix.per_target)"),
            None => match line {
                Some(_) => plans[index].fix_source.clone(),
                None => the_fix.clone(),
            },
        };
        owned[index].push(target.clone());
        targets.push(SetTarget {
            target,
            line: line.map(|l| l.to_string()),
            fix_source,
        });
    }
    for (plan, targets) in plans.iter_mut().zip(owned) {
        plan.targets = targets;
    }
    targets
}

/// The line of `lines` a branch is the release branch of: `release-1.28`, `release/1.28.x` or
/// `1.28` name line 1.28; `release-1.2` does not, nor does `1.28.1` (a patch branch).
pub fn line_of_branch(branch: &str, lines: &[Line]) -> Option<Line> {
    let bytes = branch.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            && (i == 0 || !(bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.'));
        if starts_number {
            let rest = &branch[i..];
            let major_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let after_major = &rest[major_len..];
            if let Some(minor_text) = after_major.strip_prefix('.') {
                let minor_len = minor_text.bytes().take_while(u8::is_ascii_digit).count();
                let next = minor_text.as_bytes().get(minor_len).copied();
                let ends_here = match next {
                    None => true,
                    Some(b'.') => !minor_text
                        .as_bytes()
                        .get(minor_len + 1)
                        .is_some_and(u8::is_ascii_digit),
                    Some(c) => !c.is_ascii_digit(),
                };
                if minor_len > 0 && ends_here {
                    let line = crate::version::LineSpec::parse(&rest[..major_len + 1 + minor_len]);
                    if let Ok(crate::version::LineSpec::Exact(line)) = line
                        && lines.contains(&line)
                    {
                        return Some(line);
                    }
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        match crate::version::LineSpec::parse(text) {
            Ok(crate::version::LineSpec::Exact(l)) => l,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn a_release_branch_names_its_line_and_nothing_else() {
        let lines = [line("1.30"), line("1.29"), line("1.2")];
        for (branch, expected) in [
            ("release-1.29", Some("1.29")),
            ("release/1.29.x", Some("1.29")),
            ("1.30", Some("1.30")),
            ("release-1.2", Some("1.2")),
            ("release-1.28", None),
            ("release-1.29.1", None),
            ("release-11.29", None),
            ("release-1.299", None),
            ("master", None),
            ("v1.30-branch", Some("1.30")),
        ] {
            assert_eq!(
                line_of_branch(branch, &lines)
                    .map(|l| l.to_string())
                    .as_deref(),
                expected,
                "{branch}"
            );
        }
    }
}
