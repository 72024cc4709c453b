//! The private repository's collaborators: adding the fix team (`PUT .../collaborators/{user}`,
//! which opens an invitation for someone without access) and taking it away again (the open
//! invitations withdrawn, `DELETE .../collaborators/{user}`).

use reqwest::Method;
use serde_json::json;

use super::client::{Client, Payload};
use crate::error::Error;

/// What GitHub did when asked to add someone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// 201: an invitation is open; access begins when the person accepts it.
    Invited { invitation_id: Option<u64> },
    /// 204: the person already had access.
    AlreadyHadAccess,
}

fn url(client: &Client, repository: &str, rest: &str) -> String {
    client.api_path(&format!("/repos/{repository}{rest}"))
}

/// The call that adds `login`, in words, for the dry run.
pub fn add_call(client_api: &str, repository: &str, login: &str, permission: &str) -> String {
    format!(
        "PUT {client_api}/repos/{repository}/collaborators/{login}  {{\"permission\":\"{permission}\"}}"
    )
}

/// `PUT /repos/{owner}/{repo}/collaborators/{username}`.
pub fn add(
    client: &Client,
    repository: &str,
    login: &str,
    permission: &str,
) -> Result<Added, Error> {
    let response = client.send(
        Method::PUT,
        &url(client, repository, &format!("/collaborators/{login}")),
        Payload::Json(json!({ "permission": permission })),
        "application/vnd.github+json",
    )?;
    if response.status().as_u16() == 204 {
        return Ok(Added::AlreadyHadAccess);
    }
    let body: serde_json::Value = response.json().unwrap_or_default();
    Ok(Added::Invited {
        invitation_id: body.get("id").and_then(serde_json::Value::as_u64),
    })
}

/// The open invitations to `repository`, as (id, invitee login).
pub fn open_invitations(client: &Client, repository: &str) -> Result<Vec<(u64, String)>, Error> {
    Ok(client
        .list(&url(client, repository, "/invitations"))?
        .iter()
        .filter_map(|i| {
            Some((
                i.get("id")?.as_u64()?,
                i.get("invitee")?.get("login")?.as_str()?.to_string(),
            ))
        })
        .collect())
}

/// `DELETE /repos/{owner}/{repo}/invitations/{invitation_id}`; one already gone (accepted,
/// declined or withdrawn) is not an error.
pub fn withdraw_invitation(client: &Client, repository: &str, id: u64) -> Result<(), Error> {
    match client.json(
        Method::DELETE,
        &url(client, repository, &format!("/invitations/{id}")),
        None,
    ) {
        Ok(_) => Ok(()),
        Err(f) if f.status() == Some(404) => Ok(()),
        Err(f) => Err(f.into()),
    }
}

/// `DELETE /repos/{owner}/{repo}/collaborators/{username}`.
pub fn remove(client: &Client, repository: &str, login: &str) -> Result<(), Error> {
    match client.json(
        Method::DELETE,
        &url(client, repository, &format!("/collaborators/{login}")),
        None,
    ) {
        Ok(_) => Ok(()),
        Err(f) if f.status() == Some(404) => Ok(()),
        Err(f) => Err(f.into()),
    }
}
