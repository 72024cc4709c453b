//! The advisory file as it is written, read like the pipeline: a flat wire format with
//! `deny_unknown_fields`, so a misspelt key is an error with its line and column, and values that
//! are checked after parsing keep their location. The JSON Schema committed in
//! `schema/advisory.schema.json` is generated from these types.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A security advisory: one vulnerability, the one the release fixes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvisoryFile {
    /// The format version; only 1 exists.
    #[schemars(with = "u32")]
    pub version: Spanned<u32>,
    /// One line: what the vulnerability lets an attacker do.
    #[schemars(with = "String")]
    pub summary: Spanned<String>,
    /// Markdown; published at the instant only.
    #[schemars(with = "String")]
    pub description: Spanned<String>,
    #[schemars(with = "Severity")]
    pub severity: Spanned<Severity>,
    /// CWE ids, like `CWE-287`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub cwe: Vec<Spanned<String>>,
    pub package: Package,
    /// An existing (draft) GitHub advisory to update, like `GHSA-8f2x-7cw5-q3mh`; null: one is created.
    #[schemars(with = "Option<String>")]
    pub ghsa_id: Option<Spanned<String>>,
    /// The CVE, like `CVE-2026-1234`; null: one is requested through GitHub at staging.
    #[schemars(with = "Option<String>")]
    pub cve_id: Option<Spanned<String>>,
    /// When the report came in, `YYYY-MM-DD` (for the retrospective).
    #[schemars(with = "String")]
    pub received: Spanned<String>,
    /// Who found, reported or fixed it.
    #[serde(default)]
    pub credits: Vec<Credit>,
    /// What users can do before they upgrade; safe to say before the instant.
    #[schemars(with = "Option<String>")]
    pub mitigations: Option<Spanned<String>>,
    /// URLs about the vulnerability.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub references: Vec<Spanned<String>>,
    pub people: Option<People>,
}

/// The CVSS vectors; at least one.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Severity {
    /// A CVSS 3.1 (or 3.0) vector, like `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N`.
    #[schemars(with = "Option<String>", regex(pattern = r"^CVSS:3\.[01]/"))]
    pub cvss_v3: Option<Spanned<String>>,
    /// A CVSS 4.0 vector, like `CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N`.
    #[schemars(with = "Option<String>", regex(pattern = r"^CVSS:4\.0/"))]
    pub cvss_v4: Option<Spanned<String>>,
}

/// The affected package, as OSV names it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// The OSV ecosystem, like `Go`, `crates.io`, `npm`, `PyPI`, `Maven`.
    #[schemars(with = "String")]
    pub ecosystem: Spanned<String>,
    /// The package's name in that ecosystem, like `istio.io/istio`.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
}

/// Someone credited for the advisory.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credit {
    /// The name as the OSV record and the announcements give it.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: CreditType,
    /// The person's GitHub user name, without `@`: the credit then goes onto GitHub's advisory
    /// too (GitHub credits users, not names). Without it the credit is only in the OSV record
    /// and the announcements.
    #[serde(default)]
    #[schemars(
        with = "Option<String>",
        regex(pattern = r"^[A-Za-z0-9](?:-?[A-Za-z0-9])*$"),
        length(max = 39)
    )]
    pub login: Option<Spanned<String>>,
}

/// What a credited person did (GitHub's and OSV's credit types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditType {
    Finder,
    Reporter,
    Analyst,
    Coordinator,
    RemediationDeveloper,
    RemediationReviewer,
    RemediationVerifier,
    Tool,
    Sponsor,
    Other,
}

impl CreditType {
    /// The type as written in the advisory file and sent to GitHub.
    pub fn name(self) -> &'static str {
        match self {
            CreditType::Finder => "finder",
            CreditType::Reporter => "reporter",
            CreditType::Analyst => "analyst",
            CreditType::Coordinator => "coordinator",
            CreditType::RemediationDeveloper => "remediation_developer",
            CreditType::RemediationReviewer => "remediation_reviewer",
            CreditType::RemediationVerifier => "remediation_verifier",
            CreditType::Tool => "tool",
            CreditType::Sponsor => "sponsor",
            CreditType::Other => "other",
        }
    }
}

/// Who did what, for the retrospective and `team`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct People {
    #[schemars(with = "Option<String>")]
    pub fix_lead: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub release_lead: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub disclosure_lead: Option<Spanned<String>>,
    /// Never revoked by `team --revoke`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub security_team: Vec<Spanned<String>>,
}
