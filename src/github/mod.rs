//! GitHub's REST API: releases, assets and pull requests, with retries that never duplicate a
//! release, an asset or a pull request, and a token that never appears in any output.

pub mod advisories;
pub mod at_once;
pub mod client;
pub mod collaborators;
pub mod failure;
pub mod pulls;
pub mod releases;
pub mod repository;
mod upload;

use std::fmt;

use crate::error::Error;

/// Whether `host` is this machine (127.0.0.0/8, ::1, `localhost`): the only place plain
/// `http://` may carry the token.
pub fn is_loopback(host: &reqwest::Url) -> bool {
    let Some(name) = host.host_str() else {
        return false;
    };
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why `api_url` cannot be used to send the token to, if it cannot: not an http(s) URL with a
/// host, or plain `http://` to a host other than this machine (anyone on the way would read
/// the token).
pub fn api_url_problem(api_url: &str) -> Option<String> {
    let url = match reqwest::Url::parse(api_url) {
        Ok(url) if url.host_str().is_some() => url,
        _ => return Some("it is not an http(s) URL with a host".into()),
    };
    match url.scheme() {
        "https" => None,
        "http" if is_loopback(&url) => None,
        "http" => Some(
            "plain http:// is only accepted for this machine (127.0.0.1, ::1, localhost): the token would cross the network readable".into(),
        ),
        _ => Some("it is not an http(s) URL".into()),
    }
}

/// The API token. It is only ever written into the `Authorization` header; every way of
/// printing it prints `***`.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: String) -> Token {
        Token(value)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Removes the token from text that might quote it (an echoed error body, say).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A GitHub problem, naming the API call.
#[derive(Debug)]
pub struct GitHubError {
    pub kind: GitHubErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// The HTTP status, when GitHub answered.
    pub status: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitHubErrorKind {
    /// The token, the repository or the request is wrong: the user must fix it.
    BadInput,
    /// GitHub failed or could not be reached, after retries.
    Failed,
    /// What GitHub holds is not what was built.
    Integrity,
}

impl GitHubError {
    pub fn failed(message: impl Into<String>, status: Option<u16>) -> GitHubError {
        GitHubError {
            kind: GitHubErrorKind::Failed,
            message: message.into(),
            hint: None,
            status,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for GitHubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<GitHubError> for Error {
    fn from(e: GitHubError) -> Error {
        let error = match e.kind {
            GitHubErrorKind::BadInput => Error::bad_input(e.message),
            GitHubErrorKind::Failed => Error::stage_failed(e.message),
            GitHubErrorKind::Integrity => Error::integrity(e.message),
        };
        match e.hint {
            Some(h) => error.with_hint(h),
            None => error,
        }
    }
}
