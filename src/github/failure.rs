//! How a GitHub call failed: GitHub's answer (status and message, the token never in it), or a
//! request whose effect is unknown, mapped to the runner's errors.

use reqwest::blocking::Response;
use serde_json::Value;

use super::{GitHubError, GitHubErrorKind, Token};
use crate::error::Error;

/// How a request ended when it did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// GitHub answered with an error status (after retries where they are safe).
    Status {
        status: u16,
        body: Value,
        error: GitHubError,
    },
    /// The request may or may not have taken effect (a POST that got a 5xx or no answer).
    Unknown(GitHubError),
    /// Nothing happened (connection refused, retries exhausted on a GET, ...).
    Failed(GitHubError),
}

impl Failure {
    pub fn into_error(self) -> GitHubError {
        match self {
            Failure::Status { error, .. } | Failure::Unknown(error) | Failure::Failed(error) => {
                error
            }
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Error {
        f.into_error().into()
    }
}

/// reqwest's error text, without the URL (it says which call elsewhere).
pub(super) fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() {
        "the connection broke while sending"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({detail})")
    }
}

pub(super) fn read_body(response: Response, token: &Token) -> Value {
    body_value(&response.bytes().unwrap_or_default(), token)
}

pub(super) fn body_value(bytes: &[u8], token: &Token) -> Value {
    let text = token.scrub(&String::from_utf8_lossy(bytes));
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// GitHub's own words: `message` and each error's `code`.
pub(super) fn summary(body: &Value) -> String {
    let message = body.get("message").and_then(Value::as_str).unwrap_or("");
    let codes: Vec<String> = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e.get("code")
                        .and_then(Value::as_str)
                        .or_else(|| e.get("message").and_then(Value::as_str))
                        .unwrap_or("")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    let text = match (message.is_empty(), codes.is_empty()) {
        (true, true) => match body {
            Value::String(s) => s.chars().take(200).collect(),
            _ => String::new(),
        },
        (false, true) => message.to_string(),
        (_, false) => format!("{message} ({})", codes.join(", ")),
    };
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

pub(super) fn status_error(call: &str, status: u16, body: &Value, repository: &str) -> GitHubError {
    let said = summary(body);
    let (kind, hint) = match status {
        401 => (
            GitHubErrorKind::BadInput,
            "the token was refused: check that it is valid and not expired".to_string(),
        ),
        403 => (
            GitHubErrorKind::BadInput,
            format!(
                "the token may lack permission on {repository} (contents: write, pull-requests: write)"
            ),
        ),
        404 => (
            GitHubErrorKind::BadInput,
            format!("check publish.github.repository ({repository}) and that the token can see it"),
        ),
        _ => (
            GitHubErrorKind::Failed,
            "run again: every step looks at what GitHub already has before acting".to_string(),
        ),
    };
    GitHubError {
        kind,
        message: format!("{call}: GitHub answered {status}{said}"),
        hint: Some(hint),
        status: Some(status),
    }
}
