//! What the repository itself says: whether GitHub's immutable releases are on (with them, a
//! published release's assets and tag can no longer change, which closes the last window in
//! which a published asset could differ from the built one).

use reqwest::Method;

use super::client::Client;
use crate::error::Error;
use crate::pipeline::GitHubSpec;

/// `GET /repos/{owner}/{repo}/immutable-releases`: 200 with `enabled` when on, 404 when off.
pub fn immutable_releases(client: &Client) -> Result<bool, Error> {
    match client.json(Method::GET, &client.repo_url("/immutable-releases"), None) {
        Ok(value) => Ok(value
            .get("enabled")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)),
        Err(f) if f.status() == Some(404) => Ok(false),
        Err(f) => Err(f.into()),
    }
}

/// What GitHub says of a repository's visibility: `public`, `private` or `internal`; `None` when
/// GitHub has no such repository that this token can see.
pub fn visibility(client: &Client, repository: &str) -> Result<Option<String>, Error> {
    match client.json(
        Method::GET,
        &client.api_path(&format!("/repos/{repository}")),
        None,
    ) {
        Ok(value) => Ok(Some(
            value
                .get("visibility")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    match value.get("private").and_then(serde_json::Value::as_bool) {
                        Some(false) => "public".to_string(),
                        _ => "private".to_string(),
                    }
                }),
        )),
        Err(f) if f.status() == Some(404) => Ok(None),
        Err(f) => Err(f.into()),
    }
}

/// Proves, when the pipeline names the GitHub repository behind the private remote, that GitHub
/// says it is private or internal. Returns what GitHub said, or `None` when there is nothing to
/// ask (no `private_repository`).
pub fn prove_private(spec: &GitHubSpec) -> Result<Option<String>, Error> {
    let Some(private) = &spec.private_repository else {
        return Ok(None);
    };
    let client = Client::new(spec)?;
    match visibility(&client, private)?.as_deref() {
        Some(v @ ("private" | "internal")) => Ok(Some(v.to_string())),
        Some(other) => Err(Error::bad_input(format!(
            "GitHub says publish.github.private_repository {private} is {other}: staging there would publish the fix"
        ))
        .with_hint("make the security repository private on GitHub (or name the right one) before staging")),
        None => Err(Error::bad_input(format!(
            "GitHub has no repository {private} that this token can see (publish.github.private_repository)"
        ))
        .with_hint("check the name, and give the token read access to the private security repository")),
    }
}
