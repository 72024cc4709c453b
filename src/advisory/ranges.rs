//! Which versions the vulnerability affects and which fix it, computed from the public tags the
//! plan already listed: the released line is affected from its first final release up to the
//! patch version, which fixes it; every other line with a final release is affected with no fix
//! in this release, unless `cherry_pick.skip` marks it end of life.

use std::collections::BTreeMap;

use git2::Oid;
use serde::Serialize;

use crate::pipeline::Pipeline;
use crate::plan::Plan;
use crate::version::{Line, Version};

/// The affected versions of one release line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineRange {
    pub line: String,
    /// The line's first final release. Nothing says when the flaw came in, so the whole line is
    /// taken as affected: the safe side for the users who read the advisory.
    pub introduced: String,
    /// The patch version, on the line being released.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// The line's latest final release, on a line this release does not fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    /// The range as GitHub writes it: `>= 1.0.0, < 1.0.2`.
    pub affected: String,
    /// The version that fixes the line (GitHub's `patched_versions`), if this release does.
    pub patched: Option<String>,
    /// The commit of the line's first release, where the GIT range starts.
    #[serde(skip)]
    pub introduced_commit: Option<Oid>,
    /// The release commit that fixes the line, on another line of a release of several lines
    /// once it is frozen (the plan's own line's is the release's).
    #[serde(skip)]
    pub fixed_commit: Option<String>,
}

/// The affected lines: the released one first, then the others from the newest down.
pub fn affected_lines(pipeline: &Pipeline, plan: &Plan) -> Vec<LineRange> {
    // Every final release by line, lowest version first, with its commit.
    let mut lines: BTreeMap<Line, BTreeMap<Version, Oid>> = BTreeMap::new();
    for (tag, tag_ref) in &plan.public.tags {
        if let Some(version) = pipeline.tag.parse(tag) {
            lines
                .entry(version.line())
                .or_default()
                .insert(version, tag_ref.commit);
        }
    }
    let released = plan.next_version.line();
    let skip = pipeline
        .cherry_pick
        .as_ref()
        .map(|c| c.skip.as_slice())
        .unwrap_or_default();

    // The plan's line first, then the other lines released with it (several lines at once).
    let fixed: Vec<(Line, String, Option<String>)> =
        std::iter::once((released, plan.version.clone(), None))
            .chain(
                plan.released_with
                    .iter()
                    .map(|r| (r.line, r.version.clone(), r.release_commit.clone())),
            )
            .collect();
    let mut out = Vec::new();
    for (line, version, fixed_commit) in &fixed {
        if let Some(releases) = lines.get(line)
            && let Some((first, commit)) = releases.iter().next()
        {
            out.push(LineRange {
                line: line.to_string(),
                introduced: first.to_string(),
                fixed: Some(version.clone()),
                last_affected: None,
                affected: format!(">= {first}, < {version}"),
                patched: Some(version.clone()),
                introduced_commit: Some(*commit),
                fixed_commit: fixed_commit.clone(),
            });
        }
    }
    for (line, releases) in lines.iter().rev() {
        if fixed.iter().any(|(l, _, _)| l == line)
            || end_of_life(*line, skip, plan.public.heads.keys())
        {
            continue;
        }
        let (Some((first, commit)), Some((last, _))) =
            (releases.iter().next(), releases.iter().next_back())
        else {
            continue;
        };
        out.push(LineRange {
            line: line.to_string(),
            introduced: first.to_string(),
            fixed: None,
            last_affected: Some(last.to_string()),
            affected: format!(">= {first}, <= {last}"),
            patched: None,
            introduced_commit: Some(*commit),
            fixed_commit: None,
        });
    }
    out
}

/// Whether `cherry_pick.skip` marks the line end of life: a skip glob matches the line itself
/// (`0.*`) or a public branch named after it (`release-0.*` matches `release-0.9`). The skip list
/// holds branch globs, and a line's branch is the one whose name ends in the line.
fn end_of_life<'a>(
    line: Line,
    skip: &[glob::Pattern],
    branches: impl Iterator<Item = &'a String>,
) -> bool {
    let name = line.to_string();
    if skip.iter().any(|g| g.matches(&name)) {
        return true;
    }
    branches
        // The one rule of which line a branch is the release branch of, as cherry-picks use it.
        .filter(|branch| crate::plan::line_of_branch(branch, &[line]).is_some())
        .any(|branch| skip.iter().any(|g| g.matches(branch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_globs_mark_lines_end_of_life_through_their_branches() {
        let skip = vec![glob::Pattern::new("release-0.*").expect("glob")];
        let branches = ["master", "release-0.9", "release-1.0"].map(String::from);
        let line = |major, minor| Line { major, minor };
        assert!(end_of_life(line(0, 9), &skip, branches.iter()));
        assert!(!end_of_life(line(1, 0), &skip, branches.iter()));
        // A line with no branch is end of life only if a glob matches the line itself.
        assert!(!end_of_life(line(0, 8), &skip, branches.iter()));
        // Spelt as cherry-picks read release branches: `release/0.7.x` is line 0.7's, and
        // `release-10.7` is not.
        let branches = ["release/0.7.x", "release-10.7"].map(String::from);
        let by_branch = vec![glob::Pattern::new("release*").expect("glob")];
        assert!(end_of_life(line(0, 7), &by_branch, branches.iter()));
        assert!(!end_of_life(line(0, 6), &by_branch, branches.iter()));
        let by_line = vec![glob::Pattern::new("0.*").expect("glob")];
        assert!(end_of_life(line(0, 8), &by_line, branches.iter()));
    }
}
