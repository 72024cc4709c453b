//! Checking a pipeline as read (`wire`) into the [`Pipeline`] the program works from: every
//! value checked where it is written, each error with its file, line and column.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde_saphyr::{Location, Spanned};

use super::template::{Template, Var};
use super::*;
use crate::version::{LineSpec, TagPattern, Version};

/// Names a template can use, by where it stands.
const TAG_VARS: &[Var] = &[Var::Major, Var::Minor, Var::Patch];
const BRANCH_VARS: &[Var] = &[
    Var::Major,
    Var::Minor,
    Var::Patch,
    Var::Version,
    Var::Tag,
    Var::PreviousTag,
    Var::Line,
];
const RELEASE_VARS: &[Var] = &[
    Var::Major,
    Var::Minor,
    Var::Patch,
    Var::Version,
    Var::Tag,
    Var::PreviousTag,
    Var::Line,
    Var::Commit,
];
const PICK_VARS: &[Var] = &[
    Var::Major,
    Var::Minor,
    Var::Patch,
    Var::Version,
    Var::Tag,
    Var::PreviousTag,
    Var::Line,
    Var::Commit,
    Var::Target,
];

/// The release that ref-name templates are tried on when the file is read (see
/// [`Checker::ref_name`]): 1.0.2 after 1.0.1, picked onto `master`.
const SAMPLE_PREVIOUS: Version = Version {
    major: 1,
    minor: 0,
    patch: 1,
};
const SAMPLE_NEXT: Version = Version {
    major: 1,
    minor: 0,
    patch: 2,
};
const SAMPLE_TARGET: &str = "master";

/// `template` expanded with the sample release's values.
fn sample_name(template: &Template, tag: &TagPattern) -> String {
    let (next, previous) = (tag.format(SAMPLE_NEXT), tag.format(SAMPLE_PREVIOUS));
    let values = super::template::Values {
        next: SAMPLE_NEXT,
        tag: &next,
        previous_tag: &previous,
        commit: Some("0123456789abcdef0123456789abcdef01234567"),
        target: Some(SAMPLE_TARGET),
    };
    template.expand(|var| values.get(var))
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub(super) struct Checker<'a> {
    pub(super) file: &'a Path,
}

impl Checker<'_> {
    fn at(&self, location: Location, message: impl Into<String>) -> PipelineError {
        PipelineError {
            file: self.file.to_path_buf(),
            line: location.line(),
            column: location.column(),
            message: message.into(),
        }
    }

    fn whole(&self, message: impl Into<String>) -> PipelineError {
        PipelineError {
            file: self.file.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }

    /// Refuses a ref-name template whose name for [`SAMPLE_NEXT`] git would refuse or that would
    /// surprise (`-{tag}`, `{tag}.lock`, `a b{tag}`): the fault is in the template's own text, so
    /// it is named here, with its line, before any stage runs; not at the stage that makes the
    /// ref, after earlier stages have created and frozen the release. The real names are
    /// checked again when they are made.
    fn ref_name(
        &self,
        key: &str,
        kind: &str,
        value: &Spanned<String>,
        name: String,
    ) -> Result<(), PipelineError> {
        match crate::git::bad_short_ref(kind, &name) {
            None => Ok(()),
            Some(why) => Err(self.at(
                value.referenced,
                format!(
                    "{key}: `{}` makes bad ref names: for the release {SAMPLE_NEXT}{}, {why}",
                    value.value,
                    if value.value.contains("{target}") {
                        format!(" and the target {SAMPLE_TARGET}")
                    } else {
                        String::new()
                    }
                ),
            )),
        }
    }

    fn template(
        &self,
        key: &str,
        value: &Spanned<String>,
        allowed: &[Var],
    ) -> Result<Template, PipelineError> {
        Template::parse(&value.value, allowed)
            .map_err(|e| self.at(value.referenced, format!("{key}: {e}")))
    }

    fn non_empty(&self, key: &str, value: &Spanned<String>) -> Result<String, PipelineError> {
        if value.value.trim().is_empty() {
            return Err(self.at(value.referenced, format!("{key} must not be empty")));
        }
        Ok(value.value.clone())
    }

    /// A remote name or URL. One starting with `-` would reach git as an option
    /// (`--upload-pack=...` runs a command), whichever command reads the pipeline.
    fn remote(&self, key: &str, value: &Spanned<String>) -> Result<String, PipelineError> {
        let remote = self.non_empty(key, value)?;
        if remote.starts_with('-') {
            return Err(self.at(
                value.referenced,
                format!(
                    "{key}: `{}` starts with `-`, so git would read it as an option; give a remote name of the clone or the repository's URL",
                    crate::redact::redact_url(&remote)
                ),
            ));
        }
        Ok(remote)
    }

    pub(super) fn check(
        &self,
        raw: wire::PipelineFile,
        overrides: &Overrides,
    ) -> Result<Pipeline, PipelineError> {
        if raw.version.value != 1 {
            return Err(self.at(
                raw.version.referenced,
                format!(
                    "version: {} is not a pipeline format version this embargo knows; only 1 exists",
                    raw.version.value
                ),
            ));
        }
        let name = &raw.name.value;
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(self.at(
                raw.name.referenced,
                format!("name: `{name}` must be lowercase letters, digits and dashes ([a-z0-9-]+)"),
            ));
        }

        let repository = RepositorySpec {
            path: raw
                .repository
                .path
                .as_ref()
                .map(|p| PathBuf::from(&p.value)),
            private: self.remote("repository.private", &raw.repository.private)?,
            public: self.remote("repository.public", &raw.repository.public)?,
        };

        let tag = match &raw.versioning.tag {
            Some(t) => {
                let template = self.template("versioning.tag", t, TAG_VARS)?;
                TagPattern::new(template)
                    .map_err(|e| self.at(t.referenced, format!("versioning.tag: {e}")))?
            }
            None => TagPattern::new(
                Template::parse("v{major}.{minor}.{patch}", TAG_VARS)
                    .map_err(|e| self.whole(e.to_string()))?,
            )
            .map_err(|e| self.whole(e))?,
        };
        if let Some(t) = &raw.versioning.tag {
            self.ref_name("versioning.tag", "tag", t, tag.format(SAMPLE_NEXT))?;
        }
        let branch = match &raw.versioning.branch {
            Some(b) => {
                let t = self.template("versioning.branch", b, BRANCH_VARS)?;
                self.ref_name("versioning.branch", "branch", b, sample_name(&t, &tag))?;
                t
            }
            None => Template::parse("{tag}", BRANCH_VARS).map_err(|e| self.whole(e.to_string()))?,
        };
        let line = match (&overrides.line, &raw.versioning.line) {
            (Some(cli), _) => {
                LineSpec::parse(cli).map_err(|e| self.whole(format!("--line: {e}")))?
            }
            (None, Some(l)) => LineSpec::parse(&l.value)
                .map_err(|e| self.at(l.referenced, format!("versioning.line: {e}")))?,
            (None, None) => LineSpec::Latest,
        };

        let lines = raw
            .versioning
            .lines
            .as_ref()
            .map(|l| self.lines(l, raw.versioning.line.as_ref()))
            .transpose()?;
        let narrowed = lines.is_some() && overrides.line.is_some();
        // A list of one line is that line's release, as `line:` would give it.
        let line = match &lines {
            Some(LinesSpec::Named(one)) if one.len() == 1 && !narrowed => LineSpec::Exact(one[0]),
            _ => line,
        };
        if narrowed {
            match (&lines, line) {
                (_, LineSpec::Latest) => {
                    return Err(self.whole(
                        "--line latest: the pipeline releases several lines (versioning.lines); \
                         name the one to release alone, like --line 1.29",
                    ));
                }
                (Some(LinesSpec::Named(named)), LineSpec::Exact(l)) if !named.contains(&l) => {
                    return Err(self.whole(format!(
                        "--line {l}: not one of the lines the pipeline releases ({})",
                        LinesSpec::Named(named.clone())
                    )));
                }
                _ => {}
            }
        }
        // Several lines go in one push: each needs a patch branch of its own.
        let per_line = |v: Var| branch.uses(v);
        if lines.is_some()
            && !(per_line(Var::Version)
                || per_line(Var::Tag)
                || per_line(Var::PreviousTag)
                || per_line(Var::Line)
                || (per_line(Var::Major) && per_line(Var::Minor)))
        {
            let message = format!(
                "versioning.branch: `{}` gives every line the same patch branch; with versioning.lines it must name the line, like \"release-{{version}}\" or \"{{tag}}\"",
                branch.source()
            );
            return Err(match &raw.versioning.branch {
                Some(b) => self.at(b.referenced, message),
                None => self.whole(message),
            });
        }
        let fix = self.fix(&raw.fix, overrides, lines.as_ref())?;
        let build = self.build(&raw.build)?;
        let verify = self.verify(&raw.verify)?;
        let cherry_pick = raw
            .cherry_pick
            .as_ref()
            .map(|c| self.cherry_pick(c, &tag))
            .transpose()?;

        let (embargo, embargo_source) = match (&overrides.embargo, &raw.embargo) {
            (Some(cli), _) if cli.trim().eq_ignore_ascii_case("now") => {
                (Some(Timestamp::now()), EmbargoSource::Now)
            }
            (Some(cli), _) => (
                Some(
                    crate::clock::parse_embargo(cli)
                        .map_err(|e| self.whole(format!("--embargo: {e}")))?,
                ),
                EmbargoSource::Flag,
            ),
            (None, Some(e)) if e.value.trim().eq_ignore_ascii_case("now") => {
                return Err(self.at(
                    e.referenced,
                    "embargo: `now` is only taken from the command line (`--embargo now`), so that \
                     a value left in the file can never publish a fix right after staging"
                        .to_string(),
                ));
            }
            (None, Some(e)) => (
                Some(
                    crate::clock::parse_embargo(&e.value)
                        .map_err(|m| self.at(e.referenced, format!("embargo: {m}")))?,
                ),
                EmbargoSource::Pipeline,
            ),
            (None, None) => (None, EmbargoSource::Pipeline),
        };

        let github = raw
            .publish
            .as_ref()
            .and_then(|p| p.github.as_ref())
            .map(|g| self.github(g))
            .transpose()?;

        let advisory = match (&overrides.advisory, &raw.advisory) {
            (Some(cli), _) => Some(cli.clone()),
            (None, Some(a)) => {
                let path = self.non_empty("advisory", a)?;
                Some(
                    self.file
                        .parent()
                        .map(|folder| folder.join(&path))
                        .unwrap_or_else(|| PathBuf::from(&path)),
                )
            }
            (None, None) => None,
        };

        let announce = match &raw.disclosure {
            Some(d) => disclosure::check(
                d,
                self.file.parent().unwrap_or(std::path::Path::new("")),
                &|location, message| self.at(location, message),
            )?,
            None => None,
        };

        Ok(Pipeline {
            file: self.file.to_path_buf(),
            name: name.clone(),
            repository,
            tag,
            branch,
            line,
            lines,
            narrowed,
            fix,
            build,
            verify,
            cherry_pick,
            embargo,
            embargo_source,
            github,
            advisory,
            announce,
        })
    }

    /// `versioning.lines`: the lines by name (newest first once checked), or how many.
    fn lines(
        &self,
        raw: &Spanned<wire::Lines>,
        line: Option<&Spanned<String>>,
    ) -> Result<LinesSpec, PipelineError> {
        if let Some(line) = line {
            return Err(self.at(
                line.referenced,
                "versioning: give `line` (one line) or `lines` (several at one instant), not both",
            ));
        }
        match &raw.value {
            wire::Lines::Supported(n) => match usize::try_from(n.value) {
                Ok(n) if n >= 1 => Ok(LinesSpec::Supported(n)),
                _ => Err(self.at(
                    n.referenced,
                    format!(
                        "versioning.lines.supported: {} is not a number of lines; write 1 or more",
                        n.value
                    ),
                )),
            },
            wire::Lines::Named(names) => {
                if names.is_empty() {
                    return Err(self.at(
                        raw.referenced,
                        "versioning.lines: the list is empty; name the lines to release, like [\"1.30\", \"1.29\"]",
                    ));
                }
                let mut lines: Vec<Line> = Vec::new();
                for name in names {
                    let line = match LineSpec::parse(&name.value) {
                        Ok(LineSpec::Exact(line)) => line,
                        Ok(LineSpec::Latest) => {
                            return Err(self.at(
                                name.referenced,
                                "versioning.lines: `latest` is not a line here; name each line \
                                 (MAJOR.MINOR), or write {supported: N}",
                            ));
                        }
                        Err(e) => {
                            return Err(self.at(name.referenced, format!("versioning.lines: {e}")));
                        }
                    };
                    if lines.contains(&line) {
                        return Err(self.at(
                            name.referenced,
                            format!("versioning.lines: {line} is named twice"),
                        ));
                    }
                    lines.push(line);
                }
                lines.sort_by(|a, b| b.cmp(a));
                Ok(LinesSpec::Named(lines))
            }
        }
    }

    /// `fix.per_line`: each line's own backport.
    fn per_line(
        &self,
        raw: &wire::Fix,
        lines: Option<&LinesSpec>,
    ) -> Result<BTreeMap<Line, FixSource>, PipelineError> {
        let mut per_line = BTreeMap::new();
        for (key, value) in raw.per_line.iter().flatten() {
            let line = match LineSpec::parse(key) {
                Ok(LineSpec::Exact(line)) => line,
                _ => {
                    return Err(self.at(
                        value.referenced,
                        format!(
                            "fix.per_line: `{}` is not a release line; key each backport by its line, MAJOR.MINOR (like \"1.28\")",
                            printable(key)
                        ),
                    ));
                }
            };
            if let Some(LinesSpec::Named(named)) = lines
                && !named.contains(&line)
            {
                return Err(self.at(
                    value.referenced,
                    format!(
                        "fix.per_line: {line} is not one of the lines the pipeline releases ({})",
                        LinesSpec::Named(named.clone())
                    ),
                ));
            }
            let source = match &value.value {
                wire::Backport::Branch(branch) => {
                    if let Some(why) = crate::git::bad_short_ref("branch", branch) {
                        return Err(self.at(
                            value.referenced,
                            format!("fix.per_line.\"{line}\": {}", printable(&why)),
                        ));
                    }
                    FixSource::Backport {
                        branch: branch.clone(),
                    }
                }
                wire::Backport::Commits(commits) => {
                    let key = format!("fix.per_line.\"{line}\"");
                    if commits.is_empty() {
                        return Err(self.at(
                            value.referenced,
                            format!("{key}: the list is empty; name at least one commit"),
                        ));
                    }
                    FixSource::Commits(self.commits(&key, commits)?)
                }
            };
            per_line.insert(line, source);
        }
        Ok(per_line)
    }

    /// Explicit fix commits: each a commit id.
    fn commits(
        &self,
        key: &str,
        commits: &[Spanned<String>],
    ) -> Result<Vec<String>, PipelineError> {
        for c in commits {
            let v = &c.value;
            if v.len() < 7 || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(self.at(
                    c.referenced,
                    format!(
                        "{key}: `{}` is not a commit id (7 to 40 hex digits)",
                        printable(v)
                    ),
                ));
            }
        }
        Ok(commits.iter().map(|c| c.value.to_lowercase()).collect())
    }

    fn fix(
        &self,
        raw: &wire::Fix,
        overrides: &Overrides,
        lines: Option<&LinesSpec>,
    ) -> Result<FixSpec, PipelineError> {
        let per_line = self.per_line(raw, lines)?;
        let per_target = raw
            .per_target
            .iter()
            .flatten()
            .map(|(target, branch)| {
                self.existing_branch("fix.per_target", branch)?;
                Ok((target.clone(), branch.value.clone()))
            })
            .collect::<Result<BTreeMap<_, _>, PipelineError>>()?;
        if let Some(b) = &raw.base {
            self.existing_branch("fix.base", b)?;
        }
        let base = raw.base.as_ref().map(|b| b.value.clone());
        if let Some(branch) = &overrides.fix {
            if branch.trim().is_empty() {
                return Err(self.whole("--fix: the fix branch name must not be empty"));
            }
            if let Some(why) = crate::git::bad_short_ref("branch", branch) {
                return Err(self.whole(format!("--fix: {}", printable(&why))));
            }
            return Ok(FixSpec {
                source: FixSource::Branch {
                    branch: branch.clone(),
                    base,
                },
                per_target,
                per_line,
            });
        }
        let source = match (&raw.branch, &raw.commits) {
            (Some(b), Some(_)) => {
                return Err(self.at(
                    b.referenced,
                    "fix: give either `branch` (with `base`) or `commits`, not both",
                ));
            }
            (Some(b), None) => {
                self.existing_branch("fix.branch", b)?;
                FixSource::Branch {
                    branch: b.value.clone(),
                    base,
                }
            }
            (None, Some(commits)) => {
                if commits.is_empty() {
                    return Err(
                        self.whole("fix.commits: the list is empty; name at least one commit")
                    );
                }
                FixSource::Commits(self.commits("fix.commits", commits)?)
            }
            (None, None) => {
                return Err(self.whole(
                    "the fix is not named: set fix.branch (the private branch holding the fix) \
                     or fix.commits in the pipeline, or pass --fix BRANCH",
                ));
            }
        };
        Ok(FixSpec {
            source,
            per_target,
            per_line,
        })
    }

    /// A branch name the pipeline refers to (it exists already): it must be a plain ref name,
    /// so that no later message echoes control characters or oddities back to the terminal.
    fn existing_branch(&self, key: &str, value: &Spanned<String>) -> Result<(), PipelineError> {
        match crate::git::bad_short_ref("branch", &value.value) {
            None => Ok(()),
            Some(why) => Err(self.at(value.referenced, format!("{key}: {}", printable(&why)))),
        }
    }

    fn timeout(&self, key: &str, raw: &Option<Spanned<String>>) -> Result<Duration, PipelineError> {
        match raw {
            None => Ok(DEFAULT_TIMEOUT),
            Some(t) => {
                parse_duration(&t.value).map_err(|e| self.at(t.referenced, format!("{key}: {e}")))
            }
        }
    }

    fn step(
        &self,
        what: &str,
        name: &Spanned<String>,
        run: &Spanned<String>,
        timeout: &Option<Spanned<String>>,
        env: &BTreeMap<String, wire::EnvValue>,
        seen: &mut HashSet<String>,
    ) -> Result<StepSpec, PipelineError> {
        let step_name = self.non_empty(&format!("{what}.name"), name)?;
        if !seen.insert(step_name.clone()) {
            return Err(self.at(
                name.referenced,
                format!("{what}.name: `{step_name}` is used twice; names must be unique"),
            ));
        }
        let command = self.non_empty(&format!("{what}.run"), run)?;
        // No command line or environment can hold a NUL: refuse it here rather than when the
        // build starts, after the patch branch was made.
        if command.contains('\0') {
            return Err(self.at(
                run.referenced,
                format!("{what}.run: the command contains a NUL character (\\0)"),
            ));
        }
        if let Some(var) = template::templates_in_shell(&command).first() {
            let instead = match var.env_name() {
                Some(env_name) => format!("use the environment variable \"${env_name}\" instead"),
                // {major}, {minor}, {patch} and {target} have no variable of their own.
                None => "use the environment variables instead: \"$EMBARGO_VERSION\" (MAJOR.MINOR.PATCH), \
                         \"$EMBARGO_TAG\", \"$EMBARGO_PREVIOUS_TAG\", \"$EMBARGO_LINE\", \"$EMBARGO_COMMIT\""
                    .to_string(),
            };
            return Err(self.at(
                run.referenced,
                format!(
                    "{what}.run: `{{{}}}` is a template, and templates are never expanded inside `run` \
                     (no value is spliced into a shell line); {instead}",
                    var.name()
                ),
            ));
        }
        for (key, value) in env {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(self.at(
                    name.referenced,
                    format!("{what}.env: `{key}` is not a valid environment variable name"),
                ));
            }
            if value.to_text().contains('\0') {
                return Err(self.at(
                    name.referenced,
                    format!("{what}.env: the value of `{key}` contains a NUL character (\\0)"),
                ));
            }
        }
        Ok(StepSpec {
            name: step_name,
            run: command,
            timeout: self.timeout(&format!("{what}.timeout"), timeout)?,
            env: env.iter().map(|(k, v)| (k.clone(), v.to_text())).collect(),
        })
    }

    fn build(&self, raw: &wire::Build) -> Result<BuildSpec, PipelineError> {
        if raw.steps.is_empty() {
            return Err(self
                .whole("build.steps: the list is empty; a release needs at least one build step"));
        }
        let mut seen = HashSet::new();
        let steps = raw
            .steps
            .iter()
            .map(|s| {
                self.step(
                    "build.steps",
                    &s.name,
                    &s.run,
                    &s.timeout,
                    &s.env,
                    &mut seen,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if raw.artifacts.is_empty() {
            return Err(self.whole("build.artifacts: the list is empty; name the files to release with globs like \"dist/*.tar.gz\""));
        }
        let matrix = self.matrix(raw.matrix.as_ref())?;
        // `{shard}` names the shard's own files: known only where the build is split.
        let artifact_vars: Vec<Var> = RELEASE_VARS
            .iter()
            .copied()
            .chain((!matrix.is_empty()).then_some(Var::Shard))
            .collect();
        let mut artifacts = Vec::new();
        for a in &raw.artifacts {
            let glob_text = a.value.trim();
            if glob_text.is_empty() {
                return Err(self.at(a.referenced, "build.artifacts: an artifact glob is empty"));
            }
            if glob_text.starts_with('/') || glob_text.split('/').any(|part| part == "..") {
                return Err(self.at(
                    a.referenced,
                    format!("build.artifacts: `{glob_text}` reaches outside the checkout; globs are relative to it"),
                ));
            }
            glob::Pattern::new(glob_text).map_err(|e| {
                self.at(
                    a.referenced,
                    format!("build.artifacts: `{glob_text}` is not a valid glob: {e}"),
                )
            })?;
            // `**` as the last part matches folders, never a file: the build would find nothing.
            if glob_text.trim_end_matches('/').rsplit('/').next() == Some("**") {
                let files = format!("{}/*", glob_text.trim_end_matches('/'));
                return Err(self.at(
                    a.referenced,
                    format!("build.artifacts: `{glob_text}` matches folders, not files; write `{files}` for every file below them"),
                ));
            }
            let template = self.template("build.artifacts", a, &artifact_vars)?;
            // Each shard's files are told from the others' by their path: a glob without the
            // shard's name would let one shard's manifest claim another's files.
            if !matrix.is_empty() && !template.uses(Var::Shard) {
                return Err(self.at(
                    a.referenced,
                    format!(
                        "build.artifacts: `{glob_text}` has no {{shard}}; with build.matrix every artifact glob names the shard whose files it matches (like \"dist/app-{{shard}}.tar.gz\" or \"out/{{shard}}/*\")"
                    ),
                ));
            }
            artifacts.push(template);
        }
        let checksums = match &raw.checksums {
            Some(c) => {
                let t = self.template("build.checksums", c, RELEASE_VARS)?;
                if c.value.trim().is_empty() || c.value.contains('/') || c.value.contains('\\') {
                    return Err(self.at(
                        c.referenced,
                        "build.checksums: give a file name (it is written beside the artifacts), not a path",
                    ));
                }
                t
            }
            None => Template::parse("SHA256SUMS", RELEASE_VARS)
                .map_err(|e| self.whole(e.to_string()))?,
        };
        let mut env_passthrough = Vec::new();
        for v in &raw.env_passthrough {
            let name = v.value.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(self.at(
                    v.referenced,
                    format!("build.env_passthrough: `{name}` is not an environment variable name"),
                ));
            }
            if let Some(why) = credential_carrier(name) {
                return Err(self.at(
                    v.referenced,
                    format!(
                        "build.env_passthrough: `{name}` {why}: a build step must never see it"
                    ),
                ));
            }
            env_passthrough.push(name.to_string());
        }
        Ok(BuildSpec {
            steps,
            artifacts,
            checksums,
            env_passthrough,
            matrix,
        })
    }

    /// `build.matrix`: unique names fit for a file name and a job, and environments a shell can
    /// carry; no shard may set what decides where git pushes or what steps must never see.
    fn matrix(
        &self,
        raw: Option<&Spanned<Vec<wire::Shard>>>,
    ) -> Result<Vec<ShardSpec>, PipelineError> {
        let Some(raw) = raw else {
            return Ok(Vec::new());
        };
        if raw.value.is_empty() {
            return Err(self.at(
                raw.referenced,
                "build.matrix: the list is empty; leave the key out for a build that is not split, or name one shard per platform",
            ));
        }
        let mut shards: Vec<ShardSpec> = Vec::new();
        for shard in &raw.value {
            let name = shard.name.value.trim();
            if name.is_empty()
                || name.len() > 64
                || name.starts_with(['.', '-'])
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            {
                return Err(self.at(
                    shard.name.referenced,
                    format!(
                        "build.matrix.name: `{name}` cannot name a shard: use 1 to 64 letters, digits, `.`, `-` and `_`, not starting with `.` or `-` (it names files and a CI job)"
                    ),
                ));
            }
            if shards.iter().any(|s| s.name.eq_ignore_ascii_case(name)) {
                return Err(self.at(
                    shard.name.referenced,
                    format!("build.matrix.name: `{name}` is used twice; each shard needs its own name, whatever its case"),
                ));
            }
            let runs_on = match &shard.runs_on {
                Some(r) => {
                    let label = r.value.trim();
                    if label.is_empty()
                        || !label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                    {
                        return Err(self.at(
                            r.referenced,
                            format!("build.matrix.runs_on: `{label}` is not a runner label (letters, digits, `.`, `-` and `_`, like ubuntu-24.04)"),
                        ));
                    }
                    label.to_string()
                }
                None => "ubuntu-latest".to_string(),
            };
            let mut env = BTreeMap::new();
            for (key, value) in &shard.env {
                let text = value.to_text();
                if key.is_empty()
                    || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    || key.starts_with(|c: char| c.is_ascii_digit())
                {
                    return Err(self.at(
                        shard.name.referenced,
                        format!("build.matrix.env: `{key}` of shard `{name}` is not an environment variable name"),
                    ));
                }
                if key.starts_with("EMBARGO_") {
                    return Err(self.at(
                        shard.name.referenced,
                        format!("build.matrix.env: `{key}` of shard `{name}`: the EMBARGO_* variables are embargo's own"),
                    ));
                }
                if text.contains('\0') || text.contains('\n') {
                    return Err(self.at(
                        shard.name.referenced,
                        format!("build.matrix.env: the value of `{key}` of shard `{name}` holds a NUL or a line break"),
                    ));
                }
                env.insert(key.clone(), text);
            }
            shards.push(ShardSpec {
                name: name.to_string(),
                runs_on,
                env,
            });
        }
        Ok(shards)
    }

    fn verify(&self, raw: &[wire::Check]) -> Result<Vec<CheckSpec>, PipelineError> {
        let mut seen = HashSet::new();
        raw.iter()
            .map(|c| {
                Ok(CheckSpec {
                    step: self.step("verify", &c.name, &c.run, &c.timeout, &c.env, &mut seen)?,
                    expect_stdout: c
                        .expect_stdout
                        .as_ref()
                        .map(|e| self.template("verify.expect_stdout", e, RELEASE_VARS))
                        .transpose()?,
                })
            })
            .collect()
    }

    fn globs(
        &self,
        key: &str,
        raw: &[Spanned<String>],
    ) -> Result<Vec<glob::Pattern>, PipelineError> {
        raw.iter()
            .map(|g| {
                glob::Pattern::new(&g.value).map_err(|e| {
                    self.at(
                        g.referenced,
                        format!("{key}: `{}` is not a valid glob: {e}", g.value),
                    )
                })
            })
            .collect()
    }

    fn cherry_pick(
        &self,
        raw: &wire::CherryPick,
        tag: &TagPattern,
    ) -> Result<CherryPickSpec, PipelineError> {
        if raw.onto.is_empty() {
            return Err(self.whole("cherry_pick.onto: the list is empty; name the target branches (like master and \"release-*\")"));
        }
        let branch = match &raw.branch {
            Some(b) => {
                let t = self.template("cherry_pick.branch", b, PICK_VARS)?;
                if !t.uses(Var::Target) {
                    return Err(self.at(
                        b.referenced,
                        "cherry_pick.branch: must contain `{target}`, or every target's pick would get the same branch",
                    ));
                }
                let sample = sample_name(&t, tag);
                if sample == SAMPLE_TARGET {
                    return Err(self.at(
                        b.referenced,
                        "cherry_pick.branch: gives each target's own name, so the pick would be pushed onto the target branch itself; \
                         add the release to it, like \"cherry-pick/{tag}/{target}\"",
                    ));
                }
                self.ref_name("cherry_pick.branch", "branch", b, sample)?;
                t
            }
            None => Template::parse("cherry-pick/{tag}/{target}", PICK_VARS)
                .map_err(|e| self.whole(e.to_string()))?,
        };
        Ok(CherryPickSpec {
            onto: self.globs("cherry_pick.onto", &raw.onto)?,
            skip: self.globs("cherry_pick.skip", &raw.skip)?,
            branch,
            on_conflict: raw.on_conflict,
        })
    }

    fn github(&self, raw: &wire::GitHub) -> Result<GitHubSpec, PipelineError> {
        let repository = raw.repository.value.trim();
        let parts: Vec<&str> = repository.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(self.at(
                raw.repository.referenced,
                format!(
                    "publish.github.repository: `{repository}` must be OWNER/REPO, like example/app"
                ),
            ));
        }
        let api_url = match &raw.api_url {
            Some(u) => {
                let url = u.value.trim().trim_end_matches('/');
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(self.at(
                        u.referenced,
                        format!("publish.github.api_url: `{url}` must be an http(s) URL, like https://api.github.com"),
                    ));
                }
                if let Some(why) = crate::github::api_url_problem(url) {
                    return Err(self.at(
                        u.referenced,
                        format!(
                            "publish.github.api_url: `{}` cannot be sent the GitHub token: {why}",
                            crate::redact::redact_url(url)
                        ),
                    ));
                }
                url.to_string()
            }
            None => "https://api.github.com".to_string(),
        };
        let token_env = match &raw.token_env {
            Some(t) => {
                let v = t.value.trim();
                let looks_like_token = ["ghp_", "gho_", "ghs_", "ghu_", "github_pat_"]
                    .iter()
                    .any(|p| v.starts_with(p));
                if looks_like_token {
                    return Err(self.at(
                        t.referenced,
                        "publish.github.token_env: this looks like a token; give the NAME of the environment variable that holds it (like GITHUB_TOKEN), never the token itself, and revoke this token",
                    ));
                }
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(self.at(
                        t.referenced,
                        format!(
                            "publish.github.token_env: `{v}` is not an environment variable name"
                        ),
                    ));
                }
                v.to_string()
            }
            None => "GITHUB_TOKEN".to_string(),
        };
        let private_repository = match &raw.private_repository {
            Some(p) => {
                let name = p.value.trim();
                let parts: Vec<&str> = name.split('/').collect();
                if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                    return Err(self.at(
                        p.referenced,
                        format!(
                            "publish.github.private_repository: `{name}` must be OWNER/REPO, like example/app-security"
                        ),
                    ));
                }
                if name.eq_ignore_ascii_case(repository) {
                    return Err(self.at(
                        p.referenced,
                        format!(
                            "publish.github.private_repository: `{name}` is publish.github.repository, the public one"
                        ),
                    ));
                }
                Some(name.to_string())
            }
            None => None,
        };
        Ok(GitHubSpec {
            repository: repository.to_string(),
            private_repository,
            api_url,
            token_env,
            name: match &raw.name {
                Some(n) => self.template("publish.github.name", n, RELEASE_VARS)?,
                None => {
                    Template::parse("{tag}", RELEASE_VARS).map_err(|e| self.whole(e.to_string()))?
                }
            },
            notes_file: raw
                .notes_file
                .as_ref()
                .map(|n| self.template("publish.github.notes_file", n, RELEASE_VARS))
                .transpose()?,
            make_latest: raw.make_latest,
            prerelease: raw.prerelease,
            pull_requests: raw.pull_requests,
        })
    }
}

/// Text with control characters shown as escapes, safe to print on a terminal.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Why an environment variable must not reach a build step: git reads its configuration or
/// credentials from it (the generated workflows give git the tokens as `GIT_CONFIG_*`), or it is
/// where GitHub's tools look for a token.
fn credential_carrier(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("GIT_CONFIG") {
        Some("carries git configuration, where the runner's git credentials are")
    } else if ["GIT_ASKPASS", "SSH_ASKPASS", "SSH_AUTH_SOCK"].contains(&upper.as_str()) {
        Some("hands out git or ssh credentials")
    } else if [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
    ]
    .contains(&upper.as_str())
    {
        Some("is where GitHub's tools find a token")
    } else {
        None
    }
}
