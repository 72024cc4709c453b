//! Templates such as `v{major}.{minor}.{patch}` or `cherry-pick/{tag}/{target}`.
//!
//! A template is parsed once, when the pipeline is loaded, against the names that are known where
//! it stands; expanding it later cannot fail for a missing name. `{{` and `}}` stand for braces.

use std::fmt;

/// A value a template can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    Major,
    Minor,
    Patch,
    Version,
    Tag,
    PreviousTag,
    Line,
    Target,
    Commit,
    /// The build shard whose files an artifact glob names (`build.matrix`).
    Shard,
}

/// What a template's variables stand for in one release: the one map from [`Var`] to text.
#[derive(Debug, Clone)]
pub struct Values<'a> {
    /// The patch version being released.
    pub next: crate::version::Version,
    pub tag: &'a str,
    pub previous_tag: &'a str,
    /// The release commit, once it exists.
    pub commit: Option<&'a str>,
    /// The cherry-pick target, when expanding a pick branch.
    pub target: Option<&'a str>,
}

impl Values<'_> {
    pub fn get(&self, var: Var) -> String {
        match var {
            Var::Major => self.next.major.to_string(),
            Var::Minor => self.next.minor.to_string(),
            Var::Patch => self.next.patch.to_string(),
            Var::Version => self.next.to_string(),
            Var::Tag => self.tag.to_string(),
            Var::PreviousTag => self.previous_tag.to_string(),
            Var::Line => self.next.line().to_string(),
            Var::Commit => self.commit.unwrap_or("").to_string(),
            Var::Target => self.target.unwrap_or("").to_string(),
            // Known only while a shard's files are collected, which expands it itself.
            Var::Shard => String::new(),
        }
    }
}

impl Var {
    pub const ALL: [Var; 10] = [
        Var::Major,
        Var::Minor,
        Var::Patch,
        Var::Version,
        Var::Tag,
        Var::PreviousTag,
        Var::Line,
        Var::Target,
        Var::Commit,
        Var::Shard,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Var::Major => "major",
            Var::Minor => "minor",
            Var::Patch => "patch",
            Var::Version => "version",
            Var::Tag => "tag",
            Var::PreviousTag => "previous_tag",
            Var::Line => "line",
            Var::Target => "target",
            Var::Commit => "commit",
            Var::Shard => "shard",
        }
    }

    fn from_name(name: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The environment variable that carries the same value into `run` commands.
    pub fn env_name(self) -> Option<&'static str> {
        match self {
            Var::Version => Some("EMBARGO_VERSION"),
            Var::Tag => Some("EMBARGO_TAG"),
            Var::PreviousTag => Some("EMBARGO_PREVIOUS_TAG"),
            Var::Line => Some("EMBARGO_LINE"),
            Var::Commit => Some("EMBARGO_COMMIT"),
            Var::Shard => Some("EMBARGO_SHARD"),
            Var::Major | Var::Minor | Var::Patch | Var::Target => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
}

/// Why a template was refused; the caller adds the file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    Unknown { name: String, allowed: Vec<Var> },
    NotHere { var: Var, allowed: Vec<Var> },
    Unclosed,
    StrayBrace,
}

fn list(allowed: &[Var]) -> String {
    if allowed.is_empty() {
        return "none".to_string();
    }
    allowed
        .iter()
        .map(|v| format!("{{{}}}", v.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Unknown { name, allowed } => write!(
                f,
                "unknown template name `{{{name}}}`; the names known here are {}",
                list(allowed)
            ),
            TemplateError::NotHere { var, allowed } => write!(
                f,
                "`{{{}}}` has no value here; the names known here are {}",
                var.name(),
                list(allowed)
            ),
            TemplateError::Unclosed => {
                f.write_str("a `{` is not closed; write `{{` for a literal brace")
            }
            TemplateError::StrayBrace => {
                f.write_str("a `}` has no opening `{`; write `}}` for a literal brace")
            }
        }
    }
}

impl Template {
    /// Parses `source`, accepting only the names in `allowed`.
    pub fn parse(source: &str, allowed: &[Var]) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::StrayBrace),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(TemplateError::Unclosed),
                        }
                    }
                    let var =
                        Var::from_name(name.trim()).ok_or_else(|| TemplateError::Unknown {
                            name: name.clone(),
                            allowed: allowed.to_vec(),
                        })?;
                    if !allowed.contains(&var) {
                        return Err(TemplateError::NotHere {
                            var,
                            allowed: allowed.to_vec(),
                        });
                    }
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Var(var));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Template {
            source: source.to_string(),
            segments,
        })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn uses(&self, var: Var) -> bool {
        self.segments.contains(&Segment::Var(var))
    }

    /// Expands the template; `value` gives each name's value (every name was checked at parse).
    pub fn expand(&self, value: impl Fn(Var) -> String) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => out.push_str(s),
                Segment::Var(v) => out.push_str(&value(*v)),
            }
        }
        out
    }
}

/// The template names that a `run` line mentions as `{name}` (not `${name}`): they would not be
/// expanded, so the command would see the braces. Shell `${VAR}` and awk's `{print}` are fine.
pub fn templates_in_shell(run: &str) -> Vec<Var> {
    let mut found = Vec::new();
    let bytes = run.as_bytes();
    for (i, _) in run.match_indices('{') {
        if i > 0 && bytes[i - 1] == b'$' {
            continue;
        }
        if let Some(end) = run[i + 1..].find('}')
            && let Some(var) = Var::from_name(&run[i + 1..i + 1 + end])
            && !found.contains(&var)
        {
            found.push(var);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &[Var] = &[Var::Version, Var::Tag, Var::Line];

    #[test]
    fn expands_names_and_escaped_braces() {
        let t = Template::parse("{tag}-{{x}}", RELEASE).unwrap();
        assert_eq!(t.expand(|_| "v1.0.1".into()), "v1.0.1-{x}");
    }

    #[test]
    fn refuses_unknown_and_misplaced_names() {
        assert!(matches!(
            Template::parse("{versoin}", RELEASE),
            Err(TemplateError::Unknown { .. })
        ));
        assert!(matches!(
            Template::parse("{target}", RELEASE),
            Err(TemplateError::NotHere {
                var: Var::Target,
                ..
            })
        ));
        assert_eq!(
            Template::parse("{tag", RELEASE),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(
            Template::parse("a}", RELEASE),
            Err(TemplateError::StrayBrace)
        );
    }

    #[test]
    fn finds_templates_in_shell_but_not_shell_variables() {
        assert_eq!(
            templates_in_shell("echo {version} ${tag}"),
            vec![Var::Version]
        );
        assert!(templates_in_shell("awk '{print}' ${EMBARGO_TAG}").is_empty());
    }
}
