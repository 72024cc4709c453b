//! The security advisory of a release: the advisory file read and checked with the location of
//! every mistake, its CVSS vectors scored, the affected versions computed from the tags, and what
//! `plan` shows of it for review before anything is written. Nothing here touches git or the
//! network.

pub mod cvss;
pub mod osv;
pub mod ranges;
pub mod schema;
pub mod wire;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_saphyr::{Location, Spanned};

use crate::error::Error;
use crate::pipeline::{Pipeline, PipelineError, yaml};
use crate::plan::Plan;
pub use cvss::Scored;
pub use ranges::LineRange;
pub use wire::CreditType;

/// An advisory whose every value has been checked.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub file: PathBuf,
    pub summary: String,
    pub description: String,
    pub cvss_v3: Option<Scored>,
    pub cvss_v4: Option<Scored>,
    pub cwe: Vec<String>,
    pub package: Package,
    pub ghsa_id: Option<String>,
    pub cve_id: Option<String>,
    pub received: jiff::civil::Date,
    pub credits: Vec<Credit>,
    pub mitigations: Option<String>,
    pub references: Vec<String>,
    pub people: People,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credit {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: CreditType,
    /// The GitHub user name: set, the credit goes onto GitHub's advisory too.
    pub login: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct People {
    pub fix_lead: Option<String>,
    pub release_lead: Option<String>,
    pub disclosure_lead: Option<String>,
    pub security_team: Vec<String>,
}

impl Advisory {
    /// The scores given, CVSS 3 first.
    pub fn scores(&self) -> Vec<&Scored> {
        self.cvss_v3.iter().chain(self.cvss_v4.iter()).collect()
    }
}

/// OSV's ecosystems (`affected[].package.ecosystem`, from its schema), which GitHub maps to its own.
const ECOSYSTEMS: &[&str] = &[
    "AlmaLinux",
    "Alpaquita",
    "Alpine",
    "Android",
    "Azure Linux",
    "BellSoft Hardened Containers",
    "Bioconductor",
    "Bitnami",
    "Chainguard",
    "CleanStart",
    "ConanCenter",
    "CRAN",
    "crates.io",
    "Debian",
    "Docker Hardened Images",
    "Echo",
    "FreeBSD",
    "GHC",
    "GitHub Actions",
    "Go",
    "Hackage",
    "Hex",
    "Julia",
    "Kubernetes",
    "Linux",
    "Mageia",
    "Maven",
    "MinimOS",
    "npm",
    "NuGet",
    "opam",
    "openEuler",
    "openSUSE",
    "OSS-Fuzz",
    "Packagist",
    "Photon OS",
    "Pub",
    "PyPI",
    "Red Hat",
    "Rocky Linux",
    "Root",
    "RubyGems",
    "SUSE",
    "SwiftURL",
    "TuxCare",
    "Ubuntu",
    "VSCode",
    "Wolfi",
];

/// Reads and checks an advisory file.
pub fn load(file: &Path) -> Result<Advisory, Error> {
    let text = yaml::read_text(
        file,
        "advisory",
        "give the path of an advisory YAML file (`advisory:` in the pipeline, relative to it, or --advisory)",
    )?;
    Ok(parse(file, &text)?)
}

/// Parses and checks advisory text; `file` is only used in messages.
pub fn parse(file: &Path, text: &str) -> Result<Advisory, PipelineError> {
    let raw: wire::AdvisoryFile = yaml::parse(file, text, "advisory")?;
    Checker { file, text }.check(raw)
}

struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
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

    /// The place `offset` bytes into a one-line scalar that starts at `location`: where in a CVSS
    /// vector the wrong metric stands. A value spread over lines is located at its start.
    fn inside(&self, value: &Spanned<String>, offset: usize) -> (u64, u64) {
        let (line, column) = (value.referenced.line(), value.referenced.column());
        let source = self
            .text
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("");
        let rest: String = source
            .chars()
            .skip(column.saturating_sub(1) as usize)
            .collect();
        let (quote, rest) = match rest.strip_prefix(['"', '\'']) {
            Some(r) => (1, r),
            None => (0, rest.as_str()),
        };
        match value.value.get(..offset) {
            Some(before) if rest.starts_with(before) => {
                (line, column + quote + before.chars().count() as u64)
            }
            _ => (line, column),
        }
    }

    fn text(&self, key: &str, value: &Spanned<String>) -> Result<String, PipelineError> {
        let text = value.value.trim();
        if text.is_empty() {
            return Err(self.at(value.referenced, format!("{key} must not be empty")));
        }
        Ok(text.to_string())
    }

    /// A value that goes on one line of a message (an e-mail header, a subject): no control
    /// character, so nothing in the file can add a header or a line of its own.
    fn one_line(&self, key: &str, value: &Spanned<String>) -> Result<String, PipelineError> {
        let text = self.text(key, value)?;
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(self.at(
                value.referenced,
                format!(
                    "{key}: one line of text; it holds the control character {}",
                    c.escape_default()
                ),
            ));
        }
        Ok(text)
    }

    fn check(&self, raw: wire::AdvisoryFile) -> Result<Advisory, PipelineError> {
        if raw.version.value != 1 {
            return Err(self.at(
                raw.version.referenced,
                format!(
                    "version: {} is not an advisory format version this embargo knows; only 1 exists",
                    raw.version.value
                ),
            ));
        }
        if raw.summary.value.trim().contains('\n') {
            return Err(self.at(
                raw.summary.referenced,
                "summary: one line; the details go into `description`",
            ));
        }
        let summary = self.one_line("summary", &raw.summary)?;
        // GitHub refuses a longer summary, and it would only be found out at staging.
        if summary.chars().count() > 1024 {
            return Err(self.at(
                raw.summary.referenced,
                "summary: at most 1024 characters; the details go into `description`",
            ));
        }
        let description = self.text("description", &raw.description)?;

        let severity = &raw.severity;
        let cvss_v3 = severity
            .value
            .cvss_v3
            .as_ref()
            .map(|v| self.vector("severity.cvss_v3", v, cvss::score_v3))
            .transpose()?;
        let cvss_v4 = severity
            .value
            .cvss_v4
            .as_ref()
            .map(|v| self.vector("severity.cvss_v4", v, cvss::score_v4))
            .transpose()?;
        if cvss_v3.is_none() && cvss_v4.is_none() {
            return Err(self.at(
                severity.referenced,
                "severity: give a CVSS vector: cvss_v3 (like CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N), cvss_v4, or both",
            ));
        }

        let cwe = raw
            .cwe
            .iter()
            .map(|c| {
                let id = c.value.trim();
                match id.strip_prefix("CWE-") {
                    Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                        Ok(id.to_string())
                    }
                    _ => Err(self.at(
                        c.referenced,
                        format!("cwe: `{id}` is not a CWE id; write it like CWE-287"),
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;

        let package = self.package(&raw.package)?;
        let ghsa_id = raw.ghsa_id.as_ref().map(|g| self.ghsa_id(g)).transpose()?;
        let cve_id = raw.cve_id.as_ref().map(|c| self.cve_id(c)).transpose()?;
        let received = raw
            .received
            .value
            .trim()
            .parse::<jiff::civil::Date>()
            .map_err(|_| {
                self.at(
                    raw.received.referenced,
                    format!(
                        "received: `{}` is not a date; write it like 2026-11-02",
                        raw.received.value.trim()
                    ),
                )
            })?;
        let credits = raw
            .credits
            .iter()
            .map(|c| {
                Ok(Credit {
                    name: self.one_line("credits.name", &c.name)?,
                    kind: c.kind,
                    login: c.login.as_ref().map(|l| self.login(l)).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        let mitigations = raw
            .mitigations
            .as_ref()
            .map(|m| self.text("mitigations", m))
            .transpose()?;
        let references = raw
            .references
            .iter()
            .map(|r| self.url(r))
            .collect::<Result<Vec<_>, _>>()?;
        let people = match &raw.people {
            Some(p) => People {
                fix_lead: p.fix_lead.as_ref().map(|v| v.value.trim().to_string()),
                release_lead: p.release_lead.as_ref().map(|v| v.value.trim().to_string()),
                disclosure_lead: p
                    .disclosure_lead
                    .as_ref()
                    .map(|v| v.value.trim().to_string()),
                security_team: p
                    .security_team
                    .iter()
                    .map(|v| self.text("people.security_team", v))
                    .collect::<Result<Vec<_>, _>>()?,
            },
            None => People::default(),
        };

        Ok(Advisory {
            file: self.file.to_path_buf(),
            summary,
            description,
            cvss_v3,
            cvss_v4,
            cwe,
            package,
            ghsa_id,
            cve_id,
            received,
            credits,
            mitigations,
            references,
            people,
        })
    }

    fn vector(
        &self,
        key: &str,
        value: &Spanned<String>,
        score: fn(&str) -> Result<Scored, cvss::VectorError>,
    ) -> Result<Scored, PipelineError> {
        score(value.value.trim()).map_err(|e| {
            // The offset is into the trimmed text; the value starts where its text does.
            let lead = value.value.len() - value.value.trim_start().len();
            let (line, column) = self.inside(value, lead + e.offset);
            PipelineError {
                file: self.file.to_path_buf(),
                line,
                column,
                message: format!("{key}: {}", e.message),
            }
        })
    }

    fn package(&self, raw: &wire::Package) -> Result<Package, PipelineError> {
        let ecosystem = self.one_line("package.ecosystem", &raw.ecosystem)?;
        if !ECOSYSTEMS.contains(&ecosystem.as_str()) {
            let close = ECOSYSTEMS
                .iter()
                .find(|e| e.eq_ignore_ascii_case(&ecosystem))
                .map(|e| format!("did you mean `{e}`? "))
                .unwrap_or_default();
            return Err(self.at(
                raw.ecosystem.referenced,
                format!(
                    "package.ecosystem: `{ecosystem}` is not an OSV ecosystem; {close}write it as OSV does, like Go, crates.io, npm, PyPI, Maven, NuGet, RubyGems, Packagist, Hex, Pub"
                ),
            ));
        }
        Ok(Package {
            ecosystem,
            name: self.one_line("package.name", &raw.name)?,
        })
    }

    fn ghsa_id(&self, value: &Spanned<String>) -> Result<String, PipelineError> {
        let id = value.value.trim();
        // GHSA-xxxx-xxxx-xxxx, each x from GitHub's own alphabet.
        let alphabet = |part: &str| {
            part.len() == 4 && part.bytes().all(|b| b"23456789cfghjmpqrvwx".contains(&b))
        };
        let parts: Vec<&str> = id.split('-').collect();
        if parts.len() == 4 && parts[0] == "GHSA" && parts[1..].iter().all(|p| alphabet(p)) {
            return Ok(id.to_string());
        }
        Err(self.at(
            value.referenced,
            format!("ghsa_id: `{id}` is not a GitHub advisory id (GHSA-xxxx-xxxx-xxxx); null to have one created"),
        ))
    }

    fn cve_id(&self, value: &Spanned<String>) -> Result<String, PipelineError> {
        let id = value.value.trim();
        let ok = match id.strip_prefix("CVE-").and_then(|r| r.split_once('-')) {
            Some((year, number)) => {
                year.len() == 4
                    && year.bytes().all(|b| b.is_ascii_digit())
                    && number.len() >= 4
                    && number.bytes().all(|b| b.is_ascii_digit())
            }
            None => false,
        };
        if ok {
            return Ok(id.to_string());
        }
        Err(self.at(
            value.referenced,
            format!("cve_id: `{id}` is not a CVE id (CVE-YYYY-NNNN); null to have one requested at staging"),
        ))
    }

    /// A GitHub user name as GitHub allows new ones: letters, digits and single hyphens, not at
    /// either end, at most 39 characters. The error stands where the first wrong character does.
    fn login(&self, value: &Spanned<String>) -> Result<String, PipelineError> {
        let login = value.value.trim();
        let lead = value.value.len() - value.value.trim_start().len();
        let refuse = |offset: usize, why: String| {
            let (line, column) = self.inside(value, lead + offset);
            PipelineError {
                file: self.file.to_path_buf(),
                line,
                column,
                message: format!("credits.login: `{login}` is not a GitHub user name: {why}"),
            }
        };
        if let Some(bare) = login.strip_prefix('@') {
            return Err(refuse(0, format!("write it without the @, as `{bare}`")));
        }
        if login.is_empty() {
            return Err(refuse(
                0,
                "it is empty; leave `login` out to credit a name only".into(),
            ));
        }
        let rule = "letters, digits and single hyphens, not starting or ending with a hyphen";
        if let Some((at, c)) = login
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(refuse(at, format!("`{c}` is not allowed ({rule})")));
        }
        if login.starts_with('-') {
            return Err(refuse(0, format!("it starts with a hyphen ({rule})")));
        }
        if let Some(at) = login.find("--") {
            return Err(refuse(at, format!("two hyphens in a row ({rule})")));
        }
        if login.ends_with('-') {
            return Err(refuse(
                login.len() - 1,
                format!("it ends with a hyphen ({rule})"),
            ));
        }
        if login.len() > 39 {
            return Err(refuse(39, "longer than GitHub's 39 characters".into()));
        }
        Ok(login.to_string())
    }

    fn url(&self, value: &Spanned<String>) -> Result<String, PipelineError> {
        let url = value.value.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(r)
                if !r.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                Ok(url.to_string())
            }
            _ => Err(self.at(
                value.referenced,
                format!("references: `{url}` is not an http(s) URL"),
            )),
        }
    }
}

/// What of the advisory becomes public with the release, as the file said it when the release
/// was staged: the draft advisory on GitHub and the OSV record attached to the draft are made from
/// it. Recorded in the contract at staging, so that `publish` (and a later `run`) can name every
/// change made to the file since, instead of publishing a draft that silently differs from it.
/// The description is kept as a fingerprint; `received`, `mitigations` and `people` are left
/// out: they are read again when they are used (announcements, retrospective, team).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Content {
    pub summary: String,
    /// [`crate::contract::fingerprint`] of the description.
    pub description: String,
    /// The CVSS vectors, 3 first.
    pub severity: Vec<String>,
    pub cwe: Vec<String>,
    /// `ecosystem name`.
    pub package: String,
    pub ghsa_id: Option<String>,
    pub cve_id: Option<String>,
    /// `name (type)`, or `name (type, GitHub login)`.
    pub credits: Vec<String>,
    pub references: Vec<String>,
}

impl Content {
    pub fn of(advisory: &Advisory) -> Content {
        Content {
            summary: advisory.summary.clone(),
            description: crate::contract::fingerprint(&[&advisory.description]),
            severity: advisory.scores().iter().map(|s| s.vector.clone()).collect(),
            cwe: advisory.cwe.clone(),
            package: format!("{} {}", advisory.package.ecosystem, advisory.package.name),
            ghsa_id: advisory.ghsa_id.clone(),
            cve_id: advisory.cve_id.clone(),
            credits: advisory
                .credits
                .iter()
                .map(|c| match &c.login {
                    Some(login) => format!("{} ({}, GitHub {login})", c.name, c.kind.name()),
                    None => format!("{} ({})", c.name, c.kind.name()),
                })
                .collect(),
            references: advisory.references.clone(),
        }
    }

    /// Each field that differs in `now`: (what, as recorded, as now), in words.
    pub fn changes(&self, now: &Content) -> Vec<(String, String, String)> {
        let list = |items: &[String]| {
            if items.is_empty() {
                "none".to_string()
            } else {
                format!("[{}]", items.join(", "))
            }
        };
        let id = |id: &Option<String>| id.clone().unwrap_or_else(|| "null".to_string());
        let mut out = Vec::new();
        let mut differ = |what: &str, then: String, now: String| {
            if then != now {
                out.push((format!("advisory {what}"), then, now));
            }
        };
        differ(
            "summary",
            format!("{:?}", self.summary),
            format!("{:?}", now.summary),
        );
        differ(
            "description",
            format!("fingerprint {}", self.description),
            format!("fingerprint {}", now.description),
        );
        differ("severity", list(&self.severity), list(&now.severity));
        differ("cwe", list(&self.cwe), list(&now.cwe));
        differ("package", self.package.clone(), now.package.clone());
        differ("ghsa_id", id(&self.ghsa_id), id(&now.ghsa_id));
        differ("cve_id", id(&self.cve_id), id(&now.cve_id));
        differ("credits", list(&self.credits), list(&now.credits));
        differ("references", list(&self.references), list(&now.references));
        out
    }
}

/// What `plan` shows of the advisory, for review before anything is written.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub file: PathBuf,
    pub summary: String,
    pub package: Package,
    pub scores: Vec<Scored>,
    /// The process's threshold rule: every score below 4.0 (low).
    pub may_slow_down: bool,
    /// The threshold rule's outcome, in words.
    pub threshold: String,
    pub cve_id: Option<String>,
    pub ghsa_id: Option<String>,
    pub cwe: Vec<String>,
    pub affected: Vec<LineRange>,
    /// Everyone credited, and whether each goes onto GitHub's advisory.
    pub credits: Vec<ReviewedCredit>,
}

/// A credit as `plan` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewedCredit {
    #[serde(flatten)]
    pub credit: Credit,
    /// Credited on GitHub's advisory too: the credit has a login and the pipeline publishes to
    /// GitHub. Otherwise it is in the OSV record and the announcements only.
    pub github: bool,
}

/// The advisory as this release will carry it: the affected lines computed from the plan.
pub fn review(advisory: &Advisory, pipeline: &Pipeline, plan: &Plan) -> Review {
    let scores = advisory.scores();
    let may_slow_down = cvss::may_slow_down(&scores);
    let highest = scores.iter().map(|s| s.score).fold(0.0, f64::max);
    let threshold = if may_slow_down {
        format!("{highest:.1} is below 4.0 (low): the fix team may slow the release down")
    } else {
        format!("{highest:.1} is 4.0 or above: the release keeps its pace")
    };
    Review {
        file: advisory.file.clone(),
        summary: advisory.summary.clone(),
        package: advisory.package.clone(),
        scores: scores.into_iter().cloned().collect(),
        may_slow_down,
        threshold,
        cve_id: advisory.cve_id.clone(),
        ghsa_id: advisory.ghsa_id.clone(),
        cwe: advisory.cwe.clone(),
        affected: ranges::affected_lines(pipeline, plan),
        credits: advisory
            .credits
            .iter()
            .map(|c| ReviewedCredit {
                credit: c.clone(),
                github: c.login.is_some() && pipeline.github.is_some(),
            })
            .collect(),
    }
}
