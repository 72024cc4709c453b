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
