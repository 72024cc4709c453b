//! The repository security advisory on GitHub: a draft made at staging (private to the
//! repository's maintainers and the fix team), a CVE requested through GitHub, and published at
//! the instant right after the release.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::Client;
use crate::error::Error;

/// A repository advisory as GitHub answers it (the fields the runner reads).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RepoAdvisory {
    pub ghsa_id: String,
    #[serde(default)]
    pub cve_id: Option<String>,
    pub html_url: String,
    pub state: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// What the draft says: everything but the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryBody {
    pub summary: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve_id: Option<String>,
    /// CVSS 3.1 when given, else 4.0 (GitHub takes a vector or a severity, not both).
    pub cvss_vector_string: Option<String>,
    pub cwe_ids: Vec<String>,
    pub vulnerabilities: Vec<Vulnerability>,
    /// The credits that have a GitHub login (GitHub credits users); the others are in the OSV
    /// record and the announcements only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credits: Vec<GitHubCredit>,
}

/// A credit as GitHub takes it: a user and what they did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitHubCredit {
    pub login: String,
    #[serde(rename = "type")]
    pub kind: crate::advisory::CreditType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// GitHub's ecosystem name (`go`, `rust`, `pip`, ...; `other` for the rest).
    pub ecosystem: String,
    pub package: String,
    pub vulnerable_version_range: String,
    pub patched_versions: Option<String>,
}

impl AdvisoryBody {
    fn to_json(&self, mark: &str) -> Value {
        let vulnerabilities: Vec<Value> = self
            .vulnerabilities
            .iter()
            .map(|v| {
                json!({
                    "package": {"ecosystem": v.ecosystem, "name": v.package},
                    "vulnerable_version_range": v.vulnerable_version_range,
                    "patched_versions": v.patched_versions,
                })
            })
            .collect();
        let mut body = json!({
            "summary": self.summary,
            "description": with_mark(&self.description, mark),
            "vulnerabilities": vulnerabilities,
            "cwe_ids": self.cwe_ids,
            "cvss_vector_string": self.cvss_vector_string,
        });
        if let Some(cve) = &self.cve_id {
            body["cve_id"] = json!(cve);
        }
        // Left out rather than empty: updating a draft named by `ghsa_id` keeps the credits a
        // maintainer gave on GitHub.
        if !self.credits.is_empty() {
            body["credits"] = json!(self.credits);
        }
        body
    }
}

/// The mark that makes a draft advisory this release's own (as for the draft release): a rerun
/// after a crash finds it instead of making a second one.
fn with_mark(description: &str, mark: &str) -> String {
    format!("{}\n\n<!-- embargo: {mark} -->\n", description.trim_end())
}

/// GitHub's ecosystem for an OSV ecosystem name.
pub fn github_ecosystem(osv: &str) -> &'static str {
    match osv {
        "Go" => "go",
        "crates.io" => "rust",
        "PyPI" => "pip",
        "npm" => "npm",
        "Maven" => "maven",
        "NuGet" => "nuget",
        "Packagist" => "composer",
        "RubyGems" => "rubygems",
        "Hex" => "erlang",
        "Pub" => "pub",
        "SwiftURL" => "swift",
        "GitHub Actions" => "actions",
        _ => "other",
    }
}

fn parse(value: Value, what: &str) -> Result<RepoAdvisory, Error> {
    serde_json::from_value(value).map_err(|e| {
        Error::stage_failed(format!(
            "GitHub's {what} is not what the API describes: {e}"
        ))
    })
}

/// The draft advisory carrying `mark`, if an earlier run made one.
pub fn find_marked(client: &Client, mark: &str) -> Result<Option<RepoAdvisory>, Error> {
    let all = client.list(&client.repo_url("/security-advisories?state=draft&per_page=100"))?;
    let needle = format!("<!-- embargo: {mark} -->");
    all.into_iter()
        .find(|a| {
            a.get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.contains(&needle))
        })
        .map(|a| parse(a, "security advisory"))
        .transpose()
}

/// Creates the draft, or (`ghsa_id` given) brings an existing draft up to `body`.
pub fn create_or_update(
    client: &Client,
    ghsa_id: Option<&str>,
    body: &AdvisoryBody,
    mark: &str,
) -> Result<RepoAdvisory, Error> {
    let (method, url) = match ghsa_id {
        Some(id) => (
            Method::PATCH,
            client.repo_url(&format!("/security-advisories/{id}")),
        ),
        None => (Method::POST, client.repo_url("/security-advisories")),
    };
    let value = client.json(method, &url, Some(body.to_json(mark)))?;
    parse(value, "security advisory")
}

pub fn get(client: &Client, ghsa_id: &str) -> Result<RepoAdvisory, Error> {
    let value = client.json(
        Method::GET,
        &client.repo_url(&format!("/security-advisories/{ghsa_id}")),
        None,
    )?;
    parse(value, "security advisory")
}

/// How a CVE request ended.
pub enum CveRequest {
    /// GitHub took it (the CVE appears on the advisory later).
    Accepted,
    /// GitHub refused it (422): requested already, or its spam protection; GitHub's words.
    Refused(String),
}

/// Asks GitHub to request a CVE for the draft.
pub fn request_cve(client: &Client, ghsa_id: &str) -> Result<CveRequest, Error> {
    match client.json(
        Method::POST,
        &client.repo_url(&format!("/security-advisories/{ghsa_id}/cve")),
        None,
    ) {
        Ok(_) => Ok(CveRequest::Accepted),
        Err(super::client::Failure::Status {
            status: 422, error, ..
        }) => Ok(CveRequest::Refused(error.message)),
        Err(other) => Err(other.into()),
    }
}

/// Closes a draft (abort): GitHub keeps it, closed, where a maintainer can reopen it.
pub fn close(client: &Client, ghsa_id: &str) -> Result<RepoAdvisory, Error> {
    let value = client.json(
        Method::PATCH,
        &client.repo_url(&format!("/security-advisories/{ghsa_id}")),
        Some(json!({"state": "closed"})),
    )?;
    parse(value, "closed security advisory")
}

pub fn publish(client: &Client, ghsa_id: &str) -> Result<RepoAdvisory, Error> {
    let value = client.json(
        Method::PATCH,
        &client.repo_url(&format!("/security-advisories/{ghsa_id}")),
        Some(json!({"state": "published"})),
    )?;
    parse(value, "published security advisory")
}

impl AdvisoryBody {
    /// The draft for `advisory`, with one vulnerability per affected line.
    pub fn from_advisory(
        advisory: &crate::advisory::Advisory,
        lines: &[crate::advisory::ranges::LineRange],
    ) -> AdvisoryBody {
        AdvisoryBody {
            summary: advisory.summary.clone(),
            description: advisory.description.clone(),
            cve_id: advisory.cve_id.clone(),
            cvss_vector_string: advisory
                .cvss_v3
                .as_ref()
                .or(advisory.cvss_v4.as_ref())
                .map(|s| s.vector.clone()),
            cwe_ids: advisory.cwe.clone(),
            vulnerabilities: lines
                .iter()
                .map(|l| Vulnerability {
                    ecosystem: github_ecosystem(&advisory.package.ecosystem).to_string(),
                    package: advisory.package.name.clone(),
                    vulnerable_version_range: l.affected.clone(),
                    patched_versions: l.patched.clone(),
                })
                .collect(),
            credits: advisory
                .credits
                .iter()
                .filter_map(|c| {
                    Some(GitHubCredit {
                        login: c.login.clone()?,
                        kind: c.kind,
                    })
                })
                .collect(),
        }
    }
}
