//! Release versions, release lines, and the tag pattern that spells them.
//!
//! Only *final* releases count: a tag matches the pattern only if every placeholder is a plain
//! number and nothing follows, so `v1.30.0-rc.0` is never a patch release. Versions compare
//! numerically, so `1.28.10` is above `1.28.9`.

use std::fmt;

use crate::pipeline::template::{Segment, Template, Var};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub fn line(self) -> Line {
        Line {
            major: self.major,
            minor: self.minor,
        }
    }

    pub fn next_patch(self) -> Option<Version> {
        Some(Version {
            patch: self.patch.checked_add(1)?,
            ..self
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A release line `MAJOR.MINOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Line {
    pub major: u64,
    pub minor: u64,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Which line to release: a given one, or the highest line that has a final release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSpec {
    Latest,
    Exact(Line),
}

impl LineSpec {
    pub fn parse(text: &str) -> Result<LineSpec, String> {
        let text = text.trim();
        if text == "latest" {
            return Ok(LineSpec::Latest);
        }
        let bad = || {
            format!("`{text}` is not a release line: write MAJOR.MINOR (like `1.29`) or `latest`")
        };
        let (major, minor) = text.split_once('.').ok_or_else(bad)?;
        Ok(LineSpec::Exact(Line {
            major: parse_number(major).ok_or_else(bad)?,
            minor: parse_number(minor).ok_or_else(bad)?,
        }))
    }
}

impl fmt::Display for LineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineSpec::Latest => f.write_str("latest"),
            LineSpec::Exact(line) => line.fmt(f),
        }
    }
}

/// A plain decimal number: digits only, no sign, no leading zero (so `01` is not `1`).
fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// `versioning.tag`, checked to contain `{major}`, `{minor}` and `{patch}` once each, separated
/// by literal text so that a tag name can be read back unambiguously.
#[derive(Debug, Clone)]
pub struct TagPattern {
    template: Template,
}

impl TagPattern {
    pub fn new(template: Template) -> Result<TagPattern, String> {
        for var in [Var::Major, Var::Minor, Var::Patch] {
            let count = template
                .segments()
                .iter()
                .filter(|s| **s == Segment::Var(var))
                .count();
            if count != 1 {
                return Err(format!(
                    "the tag pattern must contain `{{{}}}` exactly once (it has it {count} times)",
                    var.name()
                ));
            }
        }
        let mut previous_was_var = false;
        for segment in template.segments() {
            match segment {
                Segment::Var(_) if previous_was_var => {
                    return Err("two placeholders in a row cannot be read back from a tag name; put a separator such as `.` between them".into());
                }
                Segment::Var(_) => previous_was_var = true,
                Segment::Literal(l) => {
                    if previous_was_var && l.starts_with(|c: char| c.is_ascii_digit()) {
                        return Err(
                            "a placeholder cannot be followed by a digit in the tag pattern".into(),
                        );
                    }
                    previous_was_var = false;
                }
            }
        }
        Ok(TagPattern { template })
    }

    pub fn source(&self) -> &str {
        self.template.source()
    }

    pub fn format(&self, version: Version) -> String {
        self.template.expand(|var| match var {
            Var::Major => version.major.to_string(),
            Var::Minor => version.minor.to_string(),
            Var::Patch => version.patch.to_string(),
            _ => String::new(),
        })
    }

    /// Reads a tag name back into a final version, or `None` if it is not one.
    pub fn parse(&self, tag: &str) -> Option<Version> {
        let mut rest = tag;
        let (mut major, mut minor, mut patch) = (None, None, None);
        for segment in self.template.segments() {
            match segment {
                Segment::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Segment::Var(var) => {
                    let end = rest
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(rest.len());
                    let number = parse_number(&rest[..end])?;
                    rest = &rest[end..];
                    match var {
                        Var::Major => major = Some(number),
                        Var::Minor => minor = Some(number),
                        Var::Patch => patch = Some(number),
                        _ => return None,
                    }
                }
            }
        }
        if !rest.is_empty() {
            return None;
        }
        Some(Version {
            major: major?,
            minor: minor?,
            patch: patch?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> TagPattern {
        TagPattern::new(Template::parse(s, &[Var::Major, Var::Minor, Var::Patch]).unwrap()).unwrap()
    }

    #[test]
    fn reads_final_tags_only() {
        let p = pattern("v{major}.{minor}.{patch}");
        let v = |major, minor, patch| Version {
            major,
            minor,
            patch,
        };
        assert_eq!(p.parse("v1.28.10"), Some(v(1, 28, 10)));
        assert_eq!(p.parse("v1.30.0-rc.0"), None);
        assert_eq!(p.parse("1.30.0"), None);
        assert_eq!(p.parse("v1.01.0"), None);
        assert!(p.parse("v1.28.10") > p.parse("v1.28.9"));
        let istio = pattern("{major}.{minor}.{patch}");
        assert_eq!(istio.parse("1.29.3"), Some(v(1, 29, 3)));
        assert_eq!(istio.parse("v1.29.3"), None);
        assert_eq!(istio.format(v(1, 29, 4)), "1.29.4");
    }

    #[test]
    fn refuses_ambiguous_patterns() {
        let t = |s| Template::parse(s, &[Var::Major, Var::Minor, Var::Patch]).unwrap();
        assert!(TagPattern::new(t("v{major}.{minor}")).is_err());
        assert!(TagPattern::new(t("{major}{minor}.{patch}")).is_err());
        assert!(TagPattern::new(t("{major}.{minor}.{patch}.{patch}")).is_err());
    }

    #[test]
    fn parses_lines() {
        assert_eq!(LineSpec::parse("latest"), Ok(LineSpec::Latest));
        assert_eq!(
            LineSpec::parse("1.29"),
            Ok(LineSpec::Exact(Line {
                major: 1,
                minor: 29
            }))
        );
        assert!(LineSpec::parse("1").is_err());
        assert!(LineSpec::parse("1.x").is_err());
        assert!(LineSpec::parse("1.2.3").is_err());
    }
}
