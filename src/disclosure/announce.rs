//! The two messages to the users' announce list, written from what the release recorded: the
//! pre-announcement (a fix is coming at the instant; what to do until then) and the release
//! announcement (the CVE, the score, the patched versions, where the binaries are, their
//! checksums, how to upgrade).
//!
//! The pre-announcement goes out while the fix is still private, so it is built from
//! [`PreFacts`], a value that can only hold what is safe before the instant: the product, the
//! versions, the instant, where the release will appear, the severity band and the advisory's
//! `mitigations` (the one field the advisory marks as safe). The fix's commits, files and
//! subjects, the advisory's summary, description and CVSS vector are not in it, so no change to
//! the wording can let them slip into the message.

use jiff::Timestamp;
use serde::Serialize;

use crate::advisory::Advisory;
use crate::clock;
use crate::journal::Manifest;
use crate::stages::publish::Published;

/// Which of the two messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Before the instant: a fix is coming.
    Pre,
    /// After publishing: the fix is out.
    Release,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pre => "pre-announcement",
            Kind::Release => "release announcement",
        }
    }
}

/// One release line's affected versions, as users read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffectedLine {
    pub line: String,
    /// Like `>= 1.0.0, < 1.0.2`.
    pub range: String,
    /// The version of this release that fixes the line, if it does.
    pub fixed: Option<String>,
}

/// One file of the release, with where to download it once public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct File {
    pub name: String,
    pub size: Option<u64>,
    pub sha256: String,
    pub url: Option<String>,
}

/// What the release recorded, gathered once for both messages.
#[derive(Debug, Clone)]
pub struct ReleaseFacts<'a> {
    pub manifest: &'a Manifest,
    /// The instant in force (recorded at staging, or moved by `reschedule`).
    pub instant: Timestamp,
    /// The publish stage's record, once public.
    pub published: Option<&'a Published>,
    pub advisory: Option<&'a Advisory>,
    /// The GitHub repository (`OWNER/REPO`) and its web address, when the pipeline publishes there.
    pub github: Option<(String, String)>,
    pub affected: Vec<AffectedLine>,
    /// The pipeline's name, for a product name when neither the advisory nor GitHub gives one.
    pub pipeline: &'a str,
}

/// A rendered message.
#[derive(Debug, Clone, Serialize)]
pub struct Announcement {
    pub kind: Kind,
    pub subject: String,
    pub markdown: String,
    /// Stable for a release and kind, so that a resend after an interrupted attempt is known to
    /// the list as the same message.
    pub message_id: String,
    /// A release announcement rendered before the release is public: to read, never to send.
    pub preview: bool,
}

/// Everything the pre-announcement may say. Built by [`PreFacts::from_release`], which copies
/// only the fields that are safe while the fix is private.
#[derive(Debug, Clone)]
pub struct PreFacts {
    pub product: String,
    pub tag: String,
    pub previous_tag: String,
    pub instant: Timestamp,
    pub releases_page: Option<String>,
    pub affected: Vec<AffectedLine>,
    /// `low`, `medium`, `high` or `critical`: how soon to plan the upgrade, without the vector
    /// (which would tell an attacker where to look: over the network, without privileges...).
    pub severity: Option<&'static str>,
    pub mitigations: Option<String>,
}

impl PreFacts {
    pub fn from_release(r: &ReleaseFacts<'_>) -> PreFacts {
        PreFacts {
            product: product(r),
            tag: r.manifest.tag.clone(),
            previous_tag: r.manifest.previous_tag.clone(),
            instant: r.instant,
            releases_page: r
                .github
                .as_ref()
                .map(|(repo, web)| format!("{web}/{repo}/releases")),
            affected: r.affected.clone(),
            severity: r.advisory.and_then(severity_band),
            mitigations: r.advisory.and_then(|a| a.mitigations.clone()),
        }
    }
}

/// The product's name, on one line: it goes into the subject and the first heading, where a
/// line break would start a header or a paragraph of its own.
fn product(r: &ReleaseFacts<'_>) -> String {
    r.advisory
        .map(|a| a.package.name.clone())
        .or_else(|| r.github.as_ref().map(|(repo, _)| repo.clone()))
        .unwrap_or_else(|| r.pipeline.to_string())
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The highest severity among the advisory's scores.
fn severity_band(a: &Advisory) -> Option<&'static str> {
    a.scores()
        .into_iter()
        .max_by(|x, y| x.score.total_cmp(&y.score))
        .map(|s| s.severity)
}

/// The web address of the GitHub behind an API URL: github.com for api.github.com, the host
/// itself for GitHub Enterprise (`https://HOST/api/v3`) and for a test server.
pub fn web_url(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if api == "https://api.github.com" {
        return "https://github.com".to_string();
    }
    api.strip_suffix("/api/v3").unwrap_or(api).to_string()
}

/// `Message-ID` of a release's message: the same for every render and every attempt. The
/// pre-announcement's also depends on the instant it announces: after `embargo reschedule` it is
/// a new message, which is sent once in its turn.
pub fn message_id(r: &ReleaseFacts<'_>, kind: Kind, from_domain: &str) -> String {
    let mut hash = crate::checksum::Hasher::default();
    let instant = match kind {
        Kind::Pre => r.instant.to_string(),
        Kind::Release => String::new(),
    };
    for part in [
        r.pipeline,
        &r.manifest.tag,
        &r.manifest.release_commit,
        match kind {
            Kind::Pre => "pre",
            Kind::Release => "release",
        },
        &instant,
    ] {
        hash.update(part.as_bytes());
        hash.update(&[0]);
    }
    let hex = hash.finish()[..16].to_string();
    let kind = match kind {
        Kind::Pre => "pre-announce",
        Kind::Release => "announce",
    };
    format!(
        "<embargo.{kind}.{}.{hex}@{from_domain}>",
        r.manifest
            .tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || ".-_".contains(*c))
            .collect::<String>()
    )
}

/// Affected versions from the OSV record written at freeze (`osv.json`), or, without one, the
/// released line up to the patch version.
pub fn affected_lines(osv: Option<&serde_json::Value>, manifest: &Manifest) -> Vec<AffectedLine> {
    let mut out = Vec::new();
    for entry in osv
        .and_then(|v| v["affected"].as_array())
        .into_iter()
        .flatten()
    {
        let line = entry["database_specific"]["line"]
            .as_str()
            .unwrap_or_default();
        let Some(range) = entry["ranges"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["type"] == "ECOSYSTEM"))
        else {
            continue;
        };
        let mut introduced = None;
        let mut fixed = None;
        let mut last = None;
        for event in range["events"].as_array().into_iter().flatten() {
            if let Some(v) = event["introduced"].as_str() {
                introduced = Some(v.to_string());
            }
            if let Some(v) = event["fixed"].as_str() {
                fixed = Some(v.to_string());
            }
            if let Some(v) = event["last_affected"].as_str() {
                last = Some(v.to_string());
            }
        }
        let Some(introduced) = introduced else {
            continue;
        };
        let range = match (&fixed, &last) {
            (Some(f), _) => format!(">= {introduced}, < {f}"),
            (None, Some(l)) => format!(">= {introduced}, <= {l}"),
            (None, None) => format!(">= {introduced}"),
        };
        out.push(AffectedLine {
            line: line.to_string(),
            range,
            fixed,
        });
    }
    if out.is_empty() {
        out.push(AffectedLine {
            line: manifest.line.clone(),
            range: format!("< {}", manifest.version),
            fixed: Some(manifest.version.clone()),
        });
    }
    out
}

fn affected_section(out: &mut String, affected: &[AffectedLine], tag: &str) {
    out.push_str("## Affected versions\n\n");
    for a in affected {
        let fix = match &a.fixed {
            Some(v) => format!("fixed in {v} ({tag})"),
            None => "no fix in this release".to_string(),
        };
        out.push_str(&format!("- {} line: {}; {fix}\n", a.line, a.range));
    }
    out.push('\n');
}

/// The pre-announcement, from the safe facts only.
pub fn render_pre(f: &PreFacts, message_id: String) -> Announcement {
    let when = f.instant.strftime("%Y-%m-%d %H:%M UTC").to_string();
    let subject = format!(
        "[SECURITY] Upcoming security release of {} {} on {when}",
        f.product, f.tag
    );
    let mut out = format!("# Upcoming security release: {} {}\n\n", f.product, f.tag);
    out.push_str(&format!(
        "A security vulnerability in {} has been disclosed to its security team. A fix will be \
         made available at **{when}** as a new release, {}",
        f.product, f.tag
    ));
    match &f.releases_page {
        Some(page) => out.push_str(&format!(", on {page}.\n\n")),
        None => out.push_str(".\n\n"),
    }
    if let Some(severity) = f.severity {
        out.push_str(&format!("Severity: {severity}.\n\n"));
    }
    affected_section(&mut out, &f.affected, &f.tag);
    out.push_str("## What to do until the release\n\n");
    match &f.mitigations {
        Some(m) => {
            out.push_str(m.trim_end());
            out.push_str("\n\n");
        }
        None => out
            .push_str("No mitigation is known: plan to upgrade as soon as the release is out.\n\n"),
    }
    out.push_str("## At the release\n\n");
    out.push_str(&format!(
        "Upgrade from {} (or earlier) to {} at {when}. The release announcement will then give \
         the details of the vulnerability, its CVE, the checksums of the release's files and \
         the steps to upgrade.\n\n",
        f.previous_tag, f.tag
    ));
    out.push_str(
        "The details stay private until then, so that nobody can use them before a fix is \
         available.\n",
    );
    Announcement {
        kind: Kind::Pre,
        subject,
        markdown: out,
        message_id,
        preview: false,
    }
}

/// The release's files with their checksums and download addresses.
pub fn files(r: &ReleaseFacts<'_>, release_url: Option<&str>) -> Vec<File> {
    let download = |name: &str| {
        release_url
            .and_then(|u| u.rsplit_once("/releases/tag/"))
            .map(|(base, tag)| format!("{base}/releases/download/{tag}/{name}"))
    };
    let m = r.manifest;
    let mut files: Vec<File> = m
        .artifacts
        .iter()
        .map(|a| File {
            name: a.name.clone(),
            size: Some(a.size),
            sha256: a.sha256.clone(),
            url: download(&a.name),
        })
        .collect();
    files.push(File {
        name: m.checksums_file.clone(),
        size: None,
        sha256: m.checksums_sha256.clone(),
        url: download(&m.checksums_file),
    });
    files
}

/// The release announcement. `preview`: the release is not public yet (the addresses are the
/// ones it will have).
pub fn render_release(r: &ReleaseFacts<'_>, message_id: String, preview: bool) -> Announcement {
    let product = product(r);
    let tag = &r.manifest.tag;
    let cve = r.advisory.and_then(|a| a.cve_id.clone());
    let severity = r.advisory.and_then(severity_band);
    let release_url = r.published.and_then(|p| p.release_url.clone()).or_else(|| {
        r.github
            .as_ref()
            .map(|(repo, web)| format!("{web}/{repo}/releases/tag/{tag}"))
    });
    let when = r
        .published
        .and_then(|p| p.published_at.parse::<Timestamp>().ok())
        .unwrap_or(r.instant);

    let mut subject = format!("[SECURITY] {product} {tag} fixes ");
    subject.push_str(cve.as_deref().unwrap_or("a security vulnerability"));
    if let Some(s) = severity {
        subject.push_str(&format!(" ({s})"));
    }
    if preview {
        subject = format!("[PREVIEW] {subject}");
    }

    let mut out = String::new();
    if preview {
        out.push_str(
            "> PREVIEW: the release is not public yet. Do not forward: this text holds the \
             details of a fix that is still private.\n\n",
        );
    }
    out.push_str(&format!("# Security release: {product} {tag}"));
    if let Some(cve) = &cve {
        out.push_str(&format!(" ({cve})"));
    }
    out.push_str("\n\n");
    if let Some(a) = r.advisory {
        out.push_str(&format!("{}\n\n", a.summary));
    }
    out.push_str(&format!(
        "{product} {tag} fixes a security vulnerability. It {} released at {}",
        if r.published.is_some() {
            "was"
        } else {
            "will be"
        },
        clock::display(when)
    ));
    match &release_url {
        Some(url) => out.push_str(&format!(": {url}\n\n")),
        None => out.push_str(".\n\n"),
    }

    if let Some(a) = r.advisory {
        out.push_str("## Severity\n\n");
        for s in a.scores() {
            out.push_str(&format!(
                "- CVSS {}: {:.1} ({}), `{}`\n",
                s.version, s.score, s.severity, s.vector
            ));
        }
        if let Some(cve) = &cve {
            out.push_str(&format!(
                "- CVE: [{cve}](https://www.cve.org/CVERecord?id={cve})\n"
            ));
        }
        if !a.cwe.is_empty() {
            out.push_str(&format!("- Weakness: {}\n", a.cwe.join(", ")));
        }
        out.push('\n');
    }

    affected_section(&mut out, &r.affected, tag);
    out.push_str("## Patched versions\n\n");
    out.push_str(&format!(
        "- {tag} (the {} line), after {}\n\n",
        r.manifest.line, r.manifest.previous_tag
    ));

    if let Some(a) = r.advisory {
        out.push_str("## Description\n\n");
        out.push_str(a.description.trim_end());
        out.push_str("\n\n");
    }

    let files = files(r, release_url.as_deref());
    out.push_str("## How to upgrade\n\n");
    match &release_url {
        Some(url) => out.push_str(&format!(
            "1. Download the files for your platform from {url}:\n"
        )),
        None => out.push_str("1. Download the files for your platform:\n"),
    }
    for f in &files {
        match &f.url {
            Some(u) => out.push_str(&format!("   - [{}]({u})\n", f.name)),
            None => out.push_str(&format!("   - {}\n", f.name)),
        }
    }
    out.push_str(&format!(
        "2. Check them against the checksums below, or with the release's own file: \
         `sha256sum --ignore-missing -c {}`.\n",
        r.manifest.checksums_file
    ));
    out.push_str(&format!(
        "3. Replace the installed version (any release before {tag} on the {} line) with {tag}, \
         and restart it.\n",
        r.manifest.line
    ));
    if let Some((repo, web)) = &r.github {
        out.push_str(&format!(
            "4. Building from source: the tag {tag} of {web}/{repo} (commit {}).\n",
            r.manifest.release_commit
        ));
    }
    out.push('\n');

    out.push_str("## Checksums (SHA-256)\n\n```\n");
    for f in &files {
        out.push_str(&format!("{}  {}\n", f.sha256, f.name));
    }
    // Attached to the release too, though no platform's download: scanners read it.
    if let Some(osv) = &r.manifest.osv {
        out.push_str(&format!("{}  {}\n", osv.sha256, osv.name));
    }
    out.push_str("```\n\n");

    if let Some(m) = r.advisory.and_then(|a| a.mitigations.as_deref()) {
        out.push_str("## If you cannot upgrade at once\n\n");
        out.push_str(m.trim_end());
        out.push_str("\n\n");
    }
    if let Some(a) = r.advisory
        && !a.credits.is_empty()
    {
        out.push_str("## Credits\n\n");
        for c in &a.credits {
            let role = serde_json::to_value(c.kind)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_else(|| "credited".to_string());
            out.push_str(&format!("- {} ({role})\n", c.name));
        }
        out.push('\n');
    }
    let mut links: Vec<String> = Vec::new();
    if let Some(url) = &release_url {
        links.push(format!("- Release: {url}"));
    }
    for p in r.published.map(|p| p.pulls.as_slice()).unwrap_or_default() {
        links.push(format!("- The fix for {}: {}", p.target, p.url));
    }
    for reference in r
        .advisory
        .map(|a| a.references.as_slice())
        .unwrap_or_default()
    {
        links.push(format!("- {reference}"));
    }
    if !links.is_empty() {
        out.push_str("## References\n\n");
        out.push_str(&links.join("\n"));
        out.push('\n');
    }
    Announcement {
        kind: Kind::Release,
        subject,
        markdown: out,
        message_id,
        preview,
    }
}
