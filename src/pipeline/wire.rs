//! The pipeline file as it is written: a flat wire format read with `deny_unknown_fields`, so a
//! misspelt key is an error with its line and column rather than a silently ignored setting.
//! Values that are validated after parsing keep their location (`Spanned`) for the error message.
//! The JSON Schema committed in `schema/pipeline.schema.json` is generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// An `embargo` pipeline: one security patch release of a project.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// The format version; only 1 exists.
    #[schemars(with = "u32")]
    pub version: Spanned<u32>,
    /// Names the state folder: lowercase letters, digits and dashes.
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9-]+$"))]
    pub name: Spanned<String>,
    pub repository: Repository,
    #[serde(default)]
    pub versioning: Versioning,
    #[serde(default)]
    pub fix: Fix,
    pub build: Build,
    /// Checks that the built binaries actually run; each gets a fresh scratch folder.
    #[serde(default)]
    pub verify: Vec<Check>,
    pub cherry_pick: Option<CherryPick>,
    /// The instant, in UTC, at which the fix may become public: `YYYY-MM-DD HH:MM UTC` or RFC 3339.
    #[schemars(with = "Option<String>")]
    pub embargo: Option<Spanned<String>>,
    pub publish: Option<Publish>,
    /// The security advisory of the release (an advisory YAML file), relative to this file.
    #[schemars(with = "Option<String>")]
    pub advisory: Option<Spanned<String>>,
    /// The disclosure process around the release: where the announcements go.
    pub disclosure: Option<super::disclosure::Disclosure>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// The local clone to work in (default: the current directory).
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Remote name or URL of the private security repository.
    #[schemars(with = "String")]
    pub private: Spanned<String>,
    /// Remote name or URL of the public repository.
    #[schemars(with = "String")]
    pub public: Spanned<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Versioning {
    /// How release tags are spelled, with `{major}`, `{minor}` and `{patch}` (default `v{major}.{minor}.{patch}`).
    #[schemars(with = "Option<String>")]
    pub tag: Option<Spanned<String>>,
    /// The patch branch's name (default `{tag}`).
    #[schemars(with = "Option<String>")]
    pub branch: Option<Spanned<String>>,
    /// The release line, `MAJOR.MINOR` or `latest` (default `latest`).
    #[schemars(with = "Option<String>")]
    pub line: Option<Spanned<String>>,
    /// Several lines released together, at one instant: a list of `MAJOR.MINOR`
    /// (`["1.30", "1.29"]`), or `{supported: N}` for the N newest lines with a final release.
    /// Not together with `line`; `--line` narrows a run to one of them.
    #[schemars(with = "Option<LinesSchema>")]
    pub lines: Option<Spanned<Lines>>,
}

/// `versioning.lines` as written: the lines by name, or how many of the newest.
#[derive(Debug)]
pub enum Lines {
    Named(Vec<Spanned<String>>),
    Supported(Spanned<u64>),
}

/// The lines to release: by name, or how many of the newest. (The schema of [`Lines`], which
/// is read by hand to keep each entry's place.)
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Lines")]
enum LinesSchema {
    /// The lines, newest first by convention, like `["1.30", "1.29", "1.28"]`.
    Named(Vec<String>),
    Supported(SupportedSchema),
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SupportedLines")]
struct SupportedSchema {
    /// The N newest lines that have a final release (a line with only pre-releases does not count).
    #[schemars(range(min = 1))]
    supported: u64,
}

impl<'de> Deserialize<'de> for Lines {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Lines;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"a list of release lines like ["1.30", "1.29"], or {supported: N}"#)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Lines, A::Error> {
                let mut lines = Vec::new();
                while let Some(line) = seq.next_element::<Spanned<String>>()? {
                    lines.push(line);
                }
                Ok(Lines::Named(lines))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Lines, A::Error> {
                let mut supported = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "supported" || supported.is_some() {
                        return Err(serde::de::Error::unknown_field(&key, &["supported"]));
                    }
                    supported = Some(map.next_value::<Spanned<u64>>()?);
                }
                supported
                    .map(Lines::Supported)
                    .ok_or_else(|| serde::de::Error::missing_field("supported"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// The branch in the private repository holding the fix.
    #[schemars(with = "Option<String>")]
    pub branch: Option<Spanned<String>>,
    /// Fix commits are `base..branch`, oldest first (default: the public default branch).
    #[schemars(with = "Option<String>")]
    pub base: Option<Spanned<String>>,
    /// Instead of branch/base: explicit commits, applied in this order.
    #[schemars(with = "Option<Vec<String>>")]
    pub commits: Option<Vec<Spanned<String>>>,
    /// A target that needs its own backport of the fix: target branch -> private fix branch.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub per_target: Option<BTreeMap<String, Spanned<String>>>,
    /// A release line's own backport of the fix: `MAJOR.MINOR` -> a private branch (its commits
    /// that no public branch or tag contains, oldest first) or a list of commits.
    #[schemars(with = "Option<BTreeMap<String, BackportSchema>>")]
    pub per_line: Option<BTreeMap<String, Spanned<Backport>>>,
}

/// A line's backport as written: a private branch, or explicit commits.
#[derive(Debug)]
pub enum Backport {
    Branch(String),
    Commits(Vec<Spanned<String>>),
}

#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Backport")]
enum BackportSchema {
    /// A branch of the private repository holding the backport.
    Branch(String),
    /// The backport's commits, applied in this order.
    Commits(Vec<String>),
}

impl<'de> Deserialize<'de> for Backport {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Backport;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a private branch holding the line's backport, or a list of commits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Backport, E> {
                Ok(Backport::Branch(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Backport, A::Error> {
                let mut commits = Vec::new();
                while let Some(c) = seq.next_element::<Spanned<String>>()? {
                    commits.push(c);
                }
                Ok(Backport::Commits(commits))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Run in order, in a clean checkout of the release commit.
    pub steps: Vec<Step>,
    /// Globs relative to the checkout; each must match at least one file.
    #[schemars(with = "Vec<String>")]
    pub artifacts: Vec<Spanned<String>>,
    /// The checksums file written beside the artifacts (default `SHA256SUMS`).
    #[schemars(with = "Option<String>")]
    pub checksums: Option<Spanned<String>>,
    /// Variables of embargo's own environment that build steps and checks may see. They run
    /// with a clean environment otherwise: PATH, HOME, the EMBARGO_* values and their own `env`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub env_passthrough: Vec<Spanned<String>>,
    /// Builds split into shards (a platform each, say): every step runs once per shard, in a
    /// clean checkout of its own, with the shard's `env` and EMBARGO_SHARD. `embargo run` builds
    /// them one after another; on GitHub Actions, `embargo ci generate` gives each its own job.
    #[serde(default)]
    #[schemars(with = "Option<Vec<Shard>>")]
    pub matrix: Option<Spanned<Vec<Shard>>>,
}

/// One shard of the build.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Letters, digits, `.`, `-` and `_`: `{shard}` in build.artifacts, $EMBARGO_SHARD in the steps.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The GitHub Actions runner the shard's job runs on (`ci generate`; default ubuntu-latest).
    #[schemars(with = "Option<String>")]
    pub runs_on: Option<Spanned<String>>,
    /// Environment variables of this shard's steps (GOOS, GOARCH, a target triple...).
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Passed to `sh -c`. Templates are not expanded here: use the EMBARGO_* variables.
    #[schemars(with = "String")]
    pub run: Spanned<String>,
    /// Like `30m`, `90s` or `1h30m` (default 60m).
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Extra environment variables for this step.
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Passed to `sh -c` in a fresh scratch folder ($EMBARGO_SCRATCH).
    #[schemars(with = "String")]
    pub run: Spanned<String>,
    /// Standard output must contain this, after template expansion.
    #[schemars(with = "Option<String>")]
    pub expect_stdout: Option<Spanned<String>>,
    /// Like `2m` (default 60m).
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
}

/// An environment value: YAML scalars such as `0` or `true` are passed as their text.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
}

impl EnvValue {
    pub fn to_text(&self) -> String {
        match self {
            EnvValue::Text(s) => s.clone(),
            EnvValue::Integer(i) => i.to_string(),
            EnvValue::Boolean(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CherryPick {
    /// Globs over the public repository's branches.
    #[schemars(with = "Vec<String>")]
    pub onto: Vec<Spanned<String>>,
    /// Globs to leave out (end-of-life lines).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub skip: Vec<Spanned<String>>,
    /// The branch holding each pick (default `cherry-pick/{tag}/{target}`).
    #[schemars(with = "Option<String>")]
    pub branch: Option<Spanned<String>>,
    #[serde(default)]
    pub on_conflict: OnConflict,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// List the conflicted files, leave that target for a hand-made backport, go on.
    #[default]
    Report,
    /// Stop the run.
    Fail,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    pub github: Option<GitHub>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitHub {
    /// `OWNER/REPO`.
    #[schemars(with = "String")]
    pub repository: Spanned<String>,
    /// Default `https://api.github.com`; GitHub Enterprise: `https://HOST/api/v3`.
    #[schemars(with = "Option<String>")]
    pub api_url: Option<Spanned<String>>,
    /// The environment variable that holds the token (never the token itself). Default `GITHUB_TOKEN`.
    #[schemars(with = "Option<String>")]
    pub token_env: Option<Spanned<String>>,
    /// The release's name (default `{tag}`).
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// Release notes, a path relative to the clone.
    #[schemars(with = "Option<String>")]
    pub notes_file: Option<Spanned<String>>,
    #[serde(default)]
    pub make_latest: MakeLatest,
    #[serde(default)]
    pub prerelease: bool,
    /// Open a pull request for each cherry-pick branch at publish (default true).
    #[serde(default = "default_true")]
    pub pull_requests: bool,
    /// `OWNER/REPO` of the GitHub repository behind the private remote: GitHub is asked, before
    /// every push to it, that it is private (or internal).
    #[schemars(with = "Option<String>")]
    pub private_repository: Option<Spanned<String>>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MakeLatest {
    /// `true` only when the patch version is the highest final release.
    #[default]
    Auto,
    True,
    False,
}
