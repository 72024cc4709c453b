//! Releases and their assets: find a release by tag (drafts included), create the draft, upload
//! each asset streamed from disk, publish, and read assets back.
//!
//! Each operation that creates something first looks whether it exists already, and looks again
//! after a failure whose effect is unknown, so that a rerun or a retry never makes a second
//! release or a second copy of an asset.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::GitHubError;
use super::client::{Client, Failure, Payload};
use crate::error::Error;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    pub upload_url: String,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub published_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub state: String,
    pub size: u64,
    /// `sha256:<hex>`, where GitHub has computed it.
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub browser_download_url: String,
}

impl Asset {
    pub fn sha256(&self) -> Option<&str> {
        self.digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
    }
}

fn parse<T: for<'de> Deserialize<'de>>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| {
        Error::stage_failed(format!(
            "GitHub's {what} is not what the API describes: {e}"
        ))
    })
}

/// The release for `tag`, drafts included (`GET /releases/tags/{tag}` does not return drafts).
pub fn find_by_tag(client: &Client, tag: &str) -> Result<Option<Release>, Error> {
    let all = client.list(&client.repo_url("/releases"))?;
    let mut matching: Vec<Release> = all
        .into_iter()
        .filter(|r| r.get("tag_name").and_then(Value::as_str) == Some(tag))
        .map(|r| parse::<Release>(r, "release"))
        .collect::<Result<_, _>>()?;
    // Published first, then the oldest draft: the one a retry would have found first.
    matching.sort_by_key(|r| (r.draft, r.id));
    Ok(matching.into_iter().next())
}

/// What the draft is created with.
pub struct DraftSpec<'a> {
    pub tag: &'a str,
    pub name: &'a str,
    pub body: &'a str,
    pub prerelease: bool,
    pub make_latest: bool,
}

/// Finds the release for the tag or creates it as a draft. A draft is taken as ours only if
/// its body carries `spec.body`'s ownership mark (see `stages::draft`): a draft somebody else
/// made for the tag, with their notes and assets, is never adopted.
pub fn find_or_create_draft(client: &Client, spec: &DraftSpec<'_>) -> Result<Release, Error> {
    if let Some(existing) = find_by_tag(client, spec.tag)? {
        if existing.draft && existing.body.as_deref() != Some(spec.body) {
            return Err(foreign_draft(&existing));
        }
        return Ok(existing);
    }
    let body = json!({
        "tag_name": spec.tag,
        "name": spec.name,
        "body": spec.body,
        "draft": true,
        "prerelease": spec.prerelease,
        "make_latest": if spec.make_latest { "true" } else { "false" },
    });
    match client.json(Method::POST, &client.repo_url("/releases"), Some(body)) {
        Ok(value) => parse(value, "new release"),
        Err(Failure::Unknown(e)) => {
            // The draft may have been created before the connection broke: look first.
            match find_by_tag(client, spec.tag)? {
                Some(r) if r.draft && r.body.as_deref() != Some(spec.body) => {
                    Err(foreign_draft(&r))
                }
                Some(r) => Ok(r),
                None => Err(Error::from(e).with_hint("no draft was created; run again")),
            }
        }
        Err(other) => Err(other.into()),
    }
}

fn foreign_draft(release: &Release) -> Error {
    Error::bad_input(format!(
        "a draft release for {} exists on GitHub that this release did not create (id {}, {}): \
         its notes and assets would be published as ours",
        release.tag_name, release.id, release.html_url
    ))
    .with_hint("find out who made it and delete it, then run again")
}

pub fn list_assets(client: &Client, release: u64) -> Result<Vec<Asset>, Error> {
    client
        .list(&client.repo_url(&format!("/releases/{release}/assets")))?
        .into_iter()
        .map(|a| parse(a, "asset"))
        .collect()
}

pub fn delete_asset(client: &Client, asset: u64) -> Result<(), Error> {
    match client.json(
        Method::DELETE,
        &client.repo_url(&format!("/releases/assets/{asset}")),
        None,
    ) {
        Ok(_) => Ok(()),
        Err(f) if f.status() == Some(404) => Ok(()),
        Err(f) => Err(f.into()),
    }
}

/// `upload_url` without its `{?name,label}` template.
fn upload_base(release: &Release) -> &str {
    release
        .upload_url
        .split('{')
        .next()
        .unwrap_or(&release.upload_url)
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Bytes sent so far, for a progress bar.
pub type Progress = Arc<AtomicU64>;

/// An asset uploaded, with the SHA-256 of the bytes sent for it when this upload made it (not
/// when a failed attempt turned out to have made it after all).
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub asset: Asset,
    pub sent_sha256: Option<String>,
}

/// Uploads `path` as `name`, streamed with its length. An upload whose outcome is unknown (a
/// 502, a broken connection) is followed by a look at the release's assets: an asset left in
/// state `starter` is deleted and the upload tried again.
pub fn upload(
    client: &Client,
    release: &Release,
    path: &Path,
    name: &str,
    size: u64,
    progress: &Progress,
) -> Result<Uploaded, UploadError> {
    let url = format!("{}?name={}", upload_base(release), encode(name));
    let mut attempts = 0;
    loop {
        attempts += 1;
        match client.upload(&url, path, size, "application/octet-stream", progress) {
            Ok((value, sent_sha256)) => {
                let asset = parse(value, "uploaded asset").map_err(UploadError::Other)?;
                return Ok(Uploaded { asset, sent_sha256 });
            }
            Err(Failure::Status {
                status: 422, body, ..
            }) if body.to_string().contains("already_exists") => {
                return Err(UploadError::AlreadyExists);
            }
            Err(Failure::Unknown(_)) if attempts < 4 => {
                // Look at what the failed upload left behind before trying again.
                let assets = list_assets(client, release.id).map_err(UploadError::Other)?;
                if let Some(a) = assets.iter().find(|a| a.name == name) {
                    if a.state == "uploaded" && a.size == size {
                        return Ok(Uploaded {
                            asset: a.clone(),
                            sent_sha256: None,
                        });
                    }
                    delete_asset(client, a.id).map_err(UploadError::Other)?;
                }
            }
            Err(other) => return Err(UploadError::Other(other.into())),
        }
    }
}

#[derive(Debug)]
pub enum UploadError {
    /// The release already has an asset of that name.
    AlreadyExists,
    Other(Error),
}

/// Publishes a draft: `draft=false` and whether it becomes "latest".
/// Sets a draft's tag, name, notes and prerelease flag (`PATCH`, `draft` left as it is).
pub fn restore_draft(
    client: &Client,
    release: u64,
    spec: &DraftSpec<'_>,
) -> Result<Release, Error> {
    let body = json!({
        "tag_name": spec.tag,
        "name": spec.name,
        "body": spec.body,
        "prerelease": spec.prerelease,
    });
    let value = client.json(
        Method::PATCH,
        &client.repo_url(&format!("/releases/{release}")),
        Some(body),
    )?;
    parse(value, "restored draft")
}

/// Makes a draft public. With `staged`, the same request sets its tag, name, notes and
/// prerelease flag to the staged ones: a change made between the last read and this request is
/// overwritten rather than published.
pub fn publish(
    client: &Client,
    release: u64,
    make_latest: bool,
    staged: Option<&DraftSpec<'_>>,
) -> Result<Release, Error> {
    let mut body = json!({
        "draft": false,
        "make_latest": if make_latest { "true" } else { "false" },
    });
    if let Some(spec) = staged {
        body["tag_name"] = json!(spec.tag);
        body["name"] = json!(spec.name);
        body["body"] = json!(spec.body);
        body["prerelease"] = json!(spec.prerelease);
    }
    let value = client.json(
        Method::PATCH,
        &client.repo_url(&format!("/releases/{release}")),
        Some(body),
    )?;
    parse(value, "published release")
}

pub fn get(client: &Client, release: u64) -> Result<Release, Error> {
    let value = client.json(
        Method::GET,
        &client.repo_url(&format!("/releases/{release}")),
        None,
    )?;
    parse(value, "release")
}

/// The release, or `None` when GitHub has none of that id (deleted).
pub fn find(client: &Client, release: u64) -> Result<Option<Release>, Error> {
    match client.json(
        Method::GET,
        &client.repo_url(&format!("/releases/{release}")),
        None,
    ) {
        Ok(value) => parse(value, "release").map(Some),
        Err(f) if f.status() == Some(404) => Ok(None),
        Err(f) => Err(f.into()),
    }
}

/// Assets this process has downloaded and hashed, by URL: GitHub has no call that rewrites an
/// asset's bytes (a replacement is a new upload, with a new id), so one download proves an asset
/// for the staging, the check before publishing and the read-back after it alike.
static HASHED: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, (u64, String)>>,
> = std::sync::LazyLock::new(Default::default);

/// Downloads an asset and returns its size and SHA-256, streamed (never held in memory); an asset
/// this process has read already is not downloaded again.
pub fn download_sha256(client: &Client, asset: u64) -> Result<(u64, String), Error> {
    let url = client.repo_url(&format!("/releases/assets/{asset}"));
    let known = HASHED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&url)
        .cloned();
    if let Some(read) = known {
        return Ok(read);
    }
    let read = download_and_hash(client, &url, asset)?;
    HASHED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(url, read.clone());
    Ok(read)
}

fn download_and_hash(client: &Client, url: &str, asset: u64) -> Result<(u64, String), Error> {
    let mut response = client.send(Method::GET, url, Payload::None, "application/octet-stream")?;
    let mut hasher = crate::checksum::Hasher::default();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = response
            .read(&mut buf)
            .map_err(|e| Error::stage_failed(format!("downloading asset {asset}: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finish()))
}

impl From<GitHubError> for UploadError {
    fn from(e: GitHubError) -> Self {
        UploadError::Other(e.into())
    }
}

/// Deletes a release with its assets (only ever a draft: `embargo abort` checks first). A
/// release already gone is fine: a rerun after a crash finds nothing to delete.
pub fn delete(client: &Client, release: u64) -> Result<(), Error> {
    match client.json(
        Method::DELETE,
        &client.repo_url(&format!("/releases/{release}")),
        None,
    ) {
        Ok(_) => Ok(()),
        Err(f) if f.status() == Some(404) => Ok(()),
        Err(f) => Err(f.into()),
    }
}
