//! One HTTP client for GitHub: the headers GitHub asks for, retries with backoff on 5xx and
//! network errors, waits on rate limits (`retry-after`, `x-ratelimit-reset`), and the server's
//! clock as read from its `Date` header.
//!
//! A POST is never retried blindly: `send` reports whether a failed request may have taken
//! effect, and the caller looks before trying again.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

pub use super::failure::Failure;
use super::failure::{read_body, status_error, summary, without_url};
use super::{GitHubError, GitHubErrorKind, Token};
use crate::error::Error;
use crate::pipeline::GitHubSpec;

const API_VERSION: &str = "2022-11-28";
const USER_AGENT: &str = concat!("embargo/", env!("CARGO_PKG_VERSION"));
/// How much of a file an upload hands to the HTTP stack at a time.
/// The longest rate-limit wait honoured before giving up: a publish must not hang for an hour.
pub(super) const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(300);

/// The environment variable that overrides `publish.github.api_url`.
pub const API_URL_ENV: &str = "EMBARGO_GITHUB_API_URL";
/// The first backoff delay in milliseconds (doubling each retry); for slow networks and tests.
pub const RETRY_BASE_ENV: &str = "EMBARGO_GITHUB_RETRY_BASE_MS";

/// How long one API call (not a transfer of an asset's bytes) may take before it is given up
/// and, when it is safe to, tried again: a call GitHub never answers must not hold the release's
/// lock, and with it the scheduled fallback, for ever. Tests shorten it.
pub const API_TIMEOUT_ENV: &str = "EMBARGO_GITHUB_TIMEOUT_MS";
const API_TIMEOUT: Duration = Duration::from_secs(30);

/// The API the calls go to: `EMBARGO_GITHUB_API_URL` when set, else `publish.github.api_url`.
/// What the dry run prints and what the client calls come from here alike.
pub fn api_url(spec: &crate::pipeline::GitHubSpec) -> String {
    std::env::var(API_URL_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| spec.api_url.clone())
        .trim_end_matches('/')
        .to_string()
}

pub struct Client {
    pub(super) http: Http,
    /// Uploads only: reqwest's async client on a runtime of its own (see `upload`).
    pub(super) uploads: reqwest::Client,
    pub(super) runtime: tokio::runtime::Runtime,
    pub api: String,
    /// Where the token may go: the API's host and the host GitHub takes uploads on.
    pub(super) token_hosts: Vec<String>,
    pub repository: String,
    pub(super) token: Token,
    pub(super) attempts: u32,
    pub(super) base_delay: Duration,
    /// How long one API call may take (see [`API_TIMEOUT_ENV`]).
    api_timeout: Duration,
    /// Seconds GitHub's clock is ahead of ours (negative: behind), from the last `Date` header.
    pub(super) skew: Mutex<Option<i64>>,
}

/// A request body.
pub enum Payload {
    None,
    Json(Value),
}

impl Client {
    /// A client for the pipeline's GitHub repository; the token comes from `token_env`.
    pub fn new(spec: &GitHubSpec) -> Result<Client, Error> {
        let token = crate::secret::take_env(&spec.token_env).unwrap_or_default();
        if token.trim().is_empty() {
            return Err(Error::bad_input(format!(
                "the GitHub token is missing: the environment variable {} (publish.github.token_env) is not set",
                spec.token_env
            ))
            .with_hint("export a token with contents and pull-requests write access (in Actions: GITHUB_TOKEN or an app token)"));
        }
        let from_env = std::env::var(API_URL_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let setting = if from_env.is_some() {
            API_URL_ENV
        } else {
            "publish.github.api_url"
        };
        let api = api_url(spec);
        if let Some(why) = super::api_url_problem(&api) {
            return Err(Error::bad_input(format!(
                "{setting}: `{}` cannot be sent the GitHub token: {why}",
                crate::redact::redact_url(&api)
            ))
            .with_hint(
                "use https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise",
            ));
        }
        let token_hosts = token_hosts(&api);
        let base_delay = std::env::var(RETRY_BASE_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(1));
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-GitHub-Api-Version",
            HeaderValue::from_static(API_VERSION),
        );
        let setup = |e: &dyn std::fmt::Display| {
            Error::stage_failed(format!("cannot set up the HTTP client: {e}"))
        };
        let http = Http::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers.clone())
            .connect_timeout(Duration::from_secs(30))
            .timeout(None)
            .build()
            .map_err(|e| setup(&e))?;
        let uploads = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| setup(&e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(&e))?;
        Ok(Client {
            http,
            uploads,
            runtime,
            api,
            token_hosts,
            repository: spec.repository.clone(),
            token: Token::new(token),
            attempts: 5,
            base_delay,
            api_timeout: std::env::var(API_TIMEOUT_ENV)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis)
                .unwrap_or(API_TIMEOUT),
            skew: Mutex::new(None),
        })
    }

    /// `https://api.github.com/repos/OWNER/REPO` + `path`.
    /// A URL of the API itself (`path` starts with `/`).
    pub fn api_path(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    pub fn repo_url(&self, path: &str) -> String {
        format!("{}/repos/{}{path}", self.api, self.repository)
    }

    /// Seconds GitHub's clock is ahead of ours, as last seen.
    pub fn skew(&self) -> Option<i64> {
        *self.skew.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn note_date(&self, headers: &HeaderMap) {
        let Some(date) = headers.get("date").and_then(|d| d.to_str().ok()) else {
            return;
        };
        if let Ok(server) = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(date) {
            let local = jiff::Timestamp::now();
            *self.skew.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(server.as_second() - local.as_second());
        }
    }

    pub(super) fn build(
        &self,
        method: &Method,
        url: &str,
        payload: &Payload,
        accept: &str,
    ) -> RequestBuilder {
        let request = self
            .http
            .request(method.clone(), url)
            .header("Authorization", self.token.bearer())
            .header("Accept", accept);
        // Asset bytes (`application/octet-stream`) may take long; an API call may not.
        let request = if accept.contains("json") {
            request.timeout(self.api_timeout)
        } else {
            request
        };
        match payload {
            Payload::None => request,
            Payload::Json(v) => request.json(v),
        }
    }

    /// Refuses to send the token to `url` unless it is on the API's host or GitHub's upload
    /// host for it, over https (or http to this machine). A URL from an answer (an
    /// `upload_url`, a `Link` header) pointing elsewhere means someone rewrote GitHub's answer:
    /// nothing is sent.
    pub(super) fn check_destination(&self, call: &str, url: &str) -> Result<(), Failure> {
        let parsed = reqwest::Url::parse(url).ok();
        let host = parsed
            .as_ref()
            .and_then(|u| u.host_str())
            .map(str::to_ascii_lowercase);
        let allowed = match (&parsed, &host) {
            (Some(u), Some(h)) => {
                self.token_hosts.contains(h)
                    && (u.scheme() == "https" || (u.scheme() == "http" && super::is_loopback(u)))
            }
            _ => false,
        };
        if allowed {
            return Ok(());
        }
        Err(Failure::Failed(GitHubError {
            kind: GitHubErrorKind::Integrity,
            message: format!(
                "{call}: GitHub's answer sends this request to `{}`, which is not the API's host or its upload host ({}); the token was not sent",
                crate::redact::redact_url(url.split('?').next().unwrap_or(url)),
                self.token_hosts.join(", ")
            ),
            hint: Some(
                "something between this machine and GitHub rewrites its answers (a proxy?); find it before running again".into(),
            ),
            status: None,
        }))
    }

    pub(super) fn describe(&self, method: &Method, url: &str) -> String {
        // Query strings can be long (upload names); the path says which call it was.
        let path = url.split('?').next().unwrap_or(url);
        format!("{method} {}", crate::redact::redact_url(path))
    }

    /// Sends a request, retrying where that is safe; returns the response of a 2xx or 3xx.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        payload: Payload,
        accept: &str,
    ) -> Result<Response, Failure> {
        let idempotent = method != Method::POST;
        let call = self.describe(&method, url);
        self.check_destination(&call, url)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.build(&method, url, &payload, accept);
            let outcome = request.send();
            let last = attempt >= self.attempts;
            match outcome {
                Err(e) => {
                    let message = self.token.scrub(&format!("{call}: {}", without_url(&e)));
                    if !idempotent {
                        return Err(Failure::Unknown(GitHubError::failed(message, None)));
                    }
                    if last {
                        return Err(Failure::Failed(
                            GitHubError::failed(format!("{message} (gave up after {attempt} attempts)"), None)
                                .with_hint("check the network and api_url, then run again: nothing is done twice"),
                        ));
                    }
                    std::thread::sleep(self.backoff(attempt));
                }
                Ok(response) => {
                    self.note_date(response.headers());
                    let status = response.status().as_u16();
                    if response.status().is_success() || response.status().is_redirection() {
                        return Ok(response);
                    }
                    if let Some(wait) = rate_limit_wait(status, response.headers())
                        && !last
                    {
                        // Rate limited: the request was not processed, whatever its method.
                        std::thread::sleep(wait.min(MAX_RATE_LIMIT_WAIT));
                        continue;
                    }
                    if status >= 500 {
                        if !idempotent {
                            let body = read_body(response, &self.token);
                            return Err(Failure::Unknown(GitHubError::failed(
                                format!("{call}: GitHub answered {status}{}", summary(&body)),
                                Some(status),
                            )));
                        }
                        if !last {
                            std::thread::sleep(self.backoff(attempt));
                            continue;
                        }
                    }
                    let body = read_body(response, &self.token);
                    let error = status_error(&call, status, &body, &self.repository);
                    return Err(Failure::Status {
                        status,
                        body,
                        error,
                    });
                }
            }
        }
    }

    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        self.base_delay * 2u32.saturating_pow(attempt.saturating_sub(1)).min(32)
    }

    /// A JSON call; `Ok(None)` for 404 when `missing_ok`.
    pub fn json(&self, method: Method, url: &str, body: Option<Value>) -> Result<Value, Failure> {
        let payload = body.map(Payload::Json).unwrap_or(Payload::None);
        let response = self.send(method, url, payload, "application/vnd.github+json")?;
        let text = response.text().unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| {
            Failure::Failed(GitHubError::failed(
                format!("GitHub's answer to {url} is not JSON: {e}"),
                None,
            ))
        })
    }

    /// Every item of a paginated list, following the `Link: <...>; rel="next"` headers.
    pub fn list(&self, url: &str) -> Result<Vec<Value>, Failure> {
        let separator = if url.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{url}{separator}per_page=100"));
        let mut items = Vec::new();
        while let Some(page) = next.take() {
            let response = self.send(
                Method::GET,
                &page,
                Payload::None,
                "application/vnd.github+json",
            )?;
            next = next_link(response.headers());
            let value: Value = response.json().map_err(|e| {
                Failure::Failed(GitHubError::failed(
                    format!("GitHub's answer to {page} is not JSON: {e}"),
                    None,
                ))
            })?;
            match value {
                Value::Array(page_items) => items.extend(page_items),
                other => {
                    return Err(Failure::Failed(GitHubError::failed(
                        format!(
                            "GitHub's answer to {page} is not a list: {}",
                            summary(&other)
                        ),
                        None,
                    )));
                }
            }
        }
        Ok(items)
    }
}

/// The hosts the token may be sent to for the API at `api`: its own host, and for github.com the
/// upload host GitHub documents (`uploads.github.com`). GitHub Enterprise takes uploads on the
/// API's own host. (Redirects need no entry: reqwest drops `Authorization` when a redirect
/// leaves the host, as for asset downloads.)
fn token_hosts(api: &str) -> Vec<String> {
    let host = reqwest::Url::parse(api)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    if host == "api.github.com" {
        vec![host, "uploads.github.com".to_string()]
    } else {
        vec![host]
    }
}

/// How long a 403/429 asks us to wait, if it is a rate limit.
pub(super) fn rate_limit_wait(status: u16, headers: &HeaderMap) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(seconds) = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    if header("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok())
    {
        let now = jiff::Timestamp::now().as_second();
        return Some(Duration::from_secs((reset - now).max(1) as u64));
    }
    // A secondary rate limit without headers: GitHub asks for at least a minute.
    if status == 429 {
        return Some(Duration::from_secs(60));
    }
    None
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        if rel.contains("rel=\"next\"") {
            Some(
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
            )
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_next_page_link() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/x?page=3>; rel=\"next\", <https://api.github.com/x?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/x?page=3")
        );
    }

    #[test]
    fn rate_limits_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(rate_limit_wait(429, &headers), Some(Duration::from_secs(2)));
        assert_eq!(rate_limit_wait(403, &headers), Some(Duration::from_secs(2)));
        assert_eq!(rate_limit_wait(403, &HeaderMap::new()), None);
        assert_eq!(rate_limit_wait(500, &headers), None);
    }

    #[test]
    fn the_token_goes_to_the_api_host_and_its_upload_host_only() {
        assert_eq!(
            token_hosts("https://api.github.com"),
            ["api.github.com", "uploads.github.com"]
        );
        assert_eq!(
            token_hosts("https://ghe.example.com/api/v3"),
            ["ghe.example.com"]
        );
        assert_eq!(token_hosts("http://127.0.0.1:8080"), ["127.0.0.1"]);
        assert_eq!(
            super::super::api_url_problem("https://ghe.example.com/api/v3"),
            None
        );
        assert_eq!(super::super::api_url_problem("http://127.0.0.1:9"), None);
        assert_eq!(super::super::api_url_problem("http://[::1]:9"), None);
        assert_eq!(super::super::api_url_problem("http://localhost:9"), None);
        assert!(super::super::api_url_problem("http://api.example.com").is_some());
        assert!(super::super::api_url_problem("http://127.0.0.1.example.com").is_some());
        assert!(super::super::api_url_problem("ftp://api.github.com").is_some());
    }

    #[test]
    fn the_token_never_prints() {
        let token = Token::new("ghp_secret".into());
        assert_eq!(format!("{token} {token:?}"), "*** Token(***)");
        assert_eq!(token.scrub("bad ghp_secret here"), "bad *** here");
    }
}
