//! What the repository itself says: whether GitHub's immutable releases are on (with them, a
//! published release's assets and tag can no longer change, which closes the last window in
//! which a published asset could differ from the built one).

use reqwest::Method;

use super::client::Client;
use crate::error::Error;

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
