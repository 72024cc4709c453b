//! Pull requests from each pick branch to its target, opened once.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{Client, Failure};
use crate::error::Error;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub html_url: String,
    #[serde(default)]
    pub state: String,
}

fn owner(client: &Client) -> &str {
    client.repository.split('/').next().unwrap_or("")
}

/// The pull request from `head` to `base`, whatever its state.
pub fn find(client: &Client, head: &str, base: &str) -> Result<Option<PullRequest>, Error> {
    let url = client.repo_url(&format!(
        "/pulls?state=all&head={}:{}&base={}",
        owner(client),
        head,
        base
    ));
    let all = client.list(&url)?;
    all.into_iter()
        .find(|p| p.pointer("/head/ref").and_then(Value::as_str) == Some(head))
        .map(|p| {
            serde_json::from_value(p).map_err(|e| {
                Error::stage_failed(format!(
                    "GitHub's pull request is not what the API describes: {e}"
                ))
            })
        })
        .transpose()
}

/// Opens the pull request unless it exists.
pub fn find_or_open(
    client: &Client,
    head: &str,
    base: &str,
    title: &str,
    body: &str,
) -> Result<PullRequest, Error> {
    if let Some(existing) = find(client, head, base)? {
        return Ok(existing);
    }
    let request = json!({"title": title, "head": head, "base": base, "body": body});
    match client.json(Method::POST, &client.repo_url("/pulls"), Some(request)) {
        Ok(value) => serde_json::from_value(value).map_err(|e| {
            Error::stage_failed(format!(
                "GitHub's new pull request is not what the API describes: {e}"
            ))
        }),
        Err(Failure::Unknown(e)) => match find(client, head, base)? {
            Some(p) => Ok(p),
            None => Err(Error::from(e).with_hint("no pull request was opened; run again")),
        },
        Err(other) => Err(other.into()),
    }
}

/// Where a pull request stands on GitHub now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Merged, at this instant (RFC 3339, as GitHub gives it).
    Merged {
        at: Option<String>,
    },
    Open,
    /// Closed without being merged: the fix never reached its branch through it.
    ClosedUnmerged,
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}`: one call answers both questions (`merged`
/// and `state`), where `GET .../merge` (204 or 404) could not tell open from closed.
pub fn standing(client: &Client, number: u64) -> Result<Standing, Error> {
    let value = client
        .json(
            Method::GET,
            &client.repo_url(&format!("/pulls/{number}")),
            None,
        )
        .map_err(Error::from)?;
    let merged_at = value
        .get("merged_at")
        .and_then(Value::as_str)
        .map(str::to_string);
    let merged = value.get("merged").and_then(Value::as_bool) == Some(true);
    if merged || merged_at.is_some() {
        return Ok(Standing::Merged { at: merged_at });
    }
    match value.get("state").and_then(Value::as_str) {
        Some("open") => Ok(Standing::Open),
        Some("closed") => Ok(Standing::ClosedUnmerged),
        other => Err(Error::stage_failed(format!(
            "GitHub's pull request #{number} has a state that is neither open nor closed: {other:?}"
        ))),
    }
}
