//! The advisory as an OSV record (the format scanners read): the computed ranges as ECOSYSTEM
//! events, and a GIT range from the released line's first release commit to the release commit.
//! Written to the state folder as `osv.json` once the release commit is frozen, and attached to
//! the draft release under the same name at staging; from then on the file is what was uploaded
//! and is only proven unchanged, never written again.

use std::io::Write;
use std::path::Path;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Advisory, LineRange};
use crate::error::Error;
use crate::journal::Artifact;

/// The OSV schema version the record follows.
pub const SCHEMA_VERSION: &str = "1.7.0";

/// The file's name in the state folder, and the asset's name on the release: one name for the
/// file kept and the file published.
pub const FILE_NAME: &str = "osv.json";

/// What the record is built from besides the advisory.
pub struct ReleaseFacts<'a> {
    /// Names the record while it has neither a GHSA nor a CVE id (`x_` is OSV's private prefix).
    pub pipeline: &'a str,
    pub tag: &'a str,
    pub lines: &'a [LineRange],
    /// The public repository, for the GIT range; without it the range is left out.
    pub repository: Option<&'a str>,
    /// The frozen release commit: where the GIT range is fixed.
    pub release_commit: &'a str,
    /// The release commit's time (see [`modified_at`]).
    pub modified: Timestamp,
}

/// The record's `modified` time: the release commit's committer time, which is fixed by the fix
/// itself (see `stages::prepare`). The record is then a function of the advisory and the release
/// alone: the dry run previews the very bytes (and SHA-256) the run uploads, and a rerun that
/// writes it again writes the same bytes.
pub fn modified_at(release_commit: &git2::Commit<'_>) -> Timestamp {
    Timestamp::from_second(release_commit.committer().when().seconds())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The OSV record.
pub fn record(advisory: &Advisory, release: &ReleaseFacts<'_>) -> Value {
    let (id, aliases) = match (&advisory.ghsa_id, &advisory.cve_id) {
        (Some(ghsa), Some(cve)) => (ghsa.clone(), vec![cve.clone()]),
        (Some(ghsa), None) => (ghsa.clone(), Vec::new()),
        (None, Some(cve)) => (cve.clone(), Vec::new()),
        (None, None) => (
            format!("x_embargo-{}-{}", release.pipeline, release.tag),
            Vec::new(),
        ),
    };
    let severity: Vec<Value> = advisory
        .cvss_v3
        .iter()
        .map(|s| json!({"type": "CVSS_V3", "score": s.vector}))
        .chain(
            advisory
                .cvss_v4
                .iter()
                .map(|s| json!({"type": "CVSS_V4", "score": s.vector})),
        )
        .collect();
    let package = json!({"ecosystem": advisory.package.ecosystem, "name": advisory.package.name});
    // One entry per line: OSV keeps `fixed` and `last_affected` apart, one kind per range.
    let affected: Vec<Value> = release
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut events = vec![json!({"introduced": line.introduced})];
            match (&line.fixed, &line.last_affected) {
                (Some(fixed), _) => events.push(json!({"fixed": fixed})),
                (None, Some(last)) => events.push(json!({"last_affected": last})),
                (None, None) => {}
            }
            let mut ranges = vec![json!({"type": "ECOSYSTEM", "events": events})];
            // The release's own line (first) is fixed by the release commit; another line of a
            // release of several lines by its own, once known.
            let fixed_commit = match &line.fixed_commit {
                Some(commit) => Some(commit.as_str()),
                None => (i == 0).then_some(release.release_commit),
            };
            if line.fixed.is_some()
                && let (Some(repo), Some(first), Some(fixed)) =
                    (release.repository, line.introduced_commit, fixed_commit)
            {
                ranges.push(json!({
                    "type": "GIT",
                    "repo": repo,
                    "events": [{"introduced": first.to_string()}, {"fixed": fixed}],
                }));
            }
            json!({
                "package": package,
                "ranges": ranges,
                "database_specific": {"line": line.line},
            })
        })
        .collect();
    let mut record = json!({
        "schema_version": SCHEMA_VERSION,
        "id": id,
        "modified": release.modified.round(jiff::Unit::Second).unwrap_or(release.modified).to_string(),
        "summary": advisory.summary,
        "details": advisory.description,
        "severity": severity,
        "affected": affected,
        "references": advisory.references.iter().map(|url| json!({"type": "WEB", "url": url})).collect::<Vec<_>>(),
        "credits": advisory.credits.iter().map(credit).collect::<Vec<_>>(),
        "database_specific": {
            "cwe_ids": advisory.cwe,
            "severity": advisory.scores().iter().map(|s| s.severity).max_by_key(|s| rank(s)).unwrap_or("none").to_uppercase(),
        },
    });
    if let Some(map) = record.as_object_mut() {
        if !aliases.is_empty() {
            map.insert("aliases".into(), json!(aliases));
        }
        if let Some(m) = &advisory.mitigations
            && let Some(Value::Object(db)) = map.get_mut("database_specific")
        {
            db.insert("mitigations".into(), json!(m));
        }
    }
    record
}

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// A credit as OSV writes it: with the person's GitHub profile as the contact, when known.
fn credit(c: &super::Credit) -> Value {
    let mut credit = json!({"name": c.name, "type": osv_credit(c.kind)});
    if let Some(login) = &c.login {
        credit["contact"] = json!([format!("https://github.com/{login}")]);
    }
    credit
}

fn osv_credit(kind: super::CreditType) -> &'static str {
    use super::CreditType as C;
    match kind {
        C::Finder => "FINDER",
        C::Reporter => "REPORTER",
        C::Analyst => "ANALYST",
        C::Coordinator => "COORDINATOR",
        C::RemediationDeveloper => "REMEDIATION_DEVELOPER",
        C::RemediationReviewer => "REMEDIATION_REVIEWER",
        C::RemediationVerifier => "REMEDIATION_VERIFIER",
        C::Tool => "TOOL",
        C::Sponsor => "SPONSOR",
        C::Other => "OTHER",
    }
}

/// Writes the record into the state folder, whole or not at all, unless the file holds these
/// bytes already (it is not touched then). Returns the file as it is attached to the release.
pub fn write(state_dir: &Path, record: &Value) -> Result<Artifact, Error> {
    let path = state_dir.join(FILE_NAME);
    let fail =
        |e: std::io::Error| Error::stage_failed(format!("cannot write {}: {e}", path.display()));
    let mut text = serde_json::to_string_pretty(record)
        .map_err(|e| Error::stage_failed(format!("cannot encode the OSV record: {e}")))?;
    text.push('\n');
    let recorded = Artifact {
        name: FILE_NAME.to_string(),
        size: text.len() as u64,
        sha256: crate::checksum::sha256_bytes(text.as_bytes()),
    };
    if std::fs::read(&path).is_ok_and(|bytes| bytes == text.as_bytes()) {
        return Ok(recorded);
    }
    let mut tmp = tempfile::NamedTempFile::new_in(state_dir).map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(&path).map_err(|e| fail(e.error))?;
    Ok(recorded)
}

/// The state folder's record is the file staged onto the release: the same size and SHA-256.
pub fn prove(state_dir: &Path, staged: &Artifact) -> Result<(), Error> {
    let path = state_dir.join(FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::integrity(format!(
            "cannot read {}, the OSV record attached to the draft release: {e}",
            path.display()
        ))
        .with_hint("the state folder must be kept whole between runs; restore it from a copy")
    })?;
    let sha256 = crate::checksum::sha256_bytes(&bytes);
    if bytes.len() as u64 != staged.size || sha256 != staged.sha256 {
        return Err(Error::integrity(format!(
            "{} has sha256 {sha256} ({} bytes), but the OSV record staged onto the release has sha256 {} ({} bytes)",
            path.display(),
            bytes.len(),
            staged.sha256,
            staged.size
        ))
        .with_hint("the record is fixed once staged; find out who changed the file, and restore it from a copy"));
    }
    Ok(())
}

/// The public repository's web address for the GIT range: the GitHub repository when the
/// pipeline publishes there, else the public remote's first URL.
pub fn repository_url(
    pipeline: &crate::pipeline::Pipeline,
    public_urls: &[String],
) -> Option<String> {
    if let Some(github) = &pipeline.github {
        let web = match github.api_url.trim_end_matches('/') {
            "https://api.github.com" => "https://github.com".to_string(),
            other => other.trim_end_matches("/api/v3").to_string(),
        };
        return Some(format!("{web}/{}", github.repository));
    }
    public_urls.first().cloned()
}
