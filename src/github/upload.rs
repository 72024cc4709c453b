//! Uploads: a file streamed from disk to GitHub's upload host in 1 MiB chunks, hashed as it goes.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::Value;

use super::GitHubError;
use super::client::{Client, MAX_RATE_LIMIT_WAIT, rate_limit_wait};
use super::failure::{Failure, body_value, status_error, summary, without_url};

/// Bytes handed to the HTTP client at a time.
const UPLOAD_CHUNK: usize = 1024 * 1024;

impl Client {
    /// Uploads a file as the body of a POST to `url`, streamed from disk in 1 MiB chunks with
    /// its `Content-Length` (never read whole into memory). `sent` counts the bytes handed over,
    /// for a progress bar. Like every POST, it is never retried blindly: a failure whose effect
    /// is unknown is returned as such and the caller looks first.
    ///
    /// The bytes are hashed as they flow: with GitHub's answer comes the SHA-256 of exactly what
    /// was sent (`None` if the file did not end where its length said), so that the caller knows
    /// what went out without reading the file again.
    pub fn upload(
        &self,
        url: &str,
        path: &Path,
        len: u64,
        content_type: &str,
        sent: &Arc<AtomicU64>,
    ) -> Result<(Value, Option<String>), Failure> {
        let call = self.describe(&Method::POST, url);
        self.check_destination(&call, url)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let file = File::open(path).map_err(|e| {
                Failure::Failed(GitHubError::failed(
                    format!("{call}: cannot read {}: {e}", path.display()),
                    None,
                ))
            })?;
            sent.store(0, Ordering::Relaxed);
            let counter = sent.clone();
            let sent_sha256 = Arc::new(Mutex::new(None::<String>));
            let finished = sent_sha256.clone();
            // Hashed up to the announced length, where the body ends: the HTTP client stops
            // asking for more once it has sent `len` bytes.
            let start = Some((file, crate::checksum::Hasher::default(), 0u64));
            let chunks = futures_util::stream::unfold(start, move |state| {
                let counter = counter.clone();
                let finished = finished.clone();
                async move {
                    let (mut file, mut hasher, read) = state?;
                    let mut buf = vec![0u8; UPLOAD_CHUNK];
                    match file.read(&mut buf) {
                        Ok(0) => None,
                        Ok(n) => {
                            buf.truncate(n);
                            hasher.update(&buf);
                            counter.fetch_add(n as u64, Ordering::Relaxed);
                            let read = read + n as u64;
                            if read == len {
                                let hex = hasher.clone().finish();
                                *finished.lock().unwrap_or_else(|p| p.into_inner()) = Some(hex);
                            }
                            Some((Ok(bytes::Bytes::from(buf)), Some((file, hasher, read))))
                        }
                        Err(e) => Some((Err(e), None)),
                    }
                }
            });
            let request = self
                .uploads
                .post(url)
                .header("Authorization", self.token.bearer())
                .header("Accept", "application/vnd.github+json")
                .header("Content-Type", content_type)
                .header("Content-Length", len.to_string())
                .body(reqwest::Body::wrap_stream(chunks));
            let outcome = self.runtime.block_on(async {
                let response = request.send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            });
            let (status, headers, body) = match outcome {
                Ok(answer) => answer,
                Err(e) => {
                    let message = self.token.scrub(&format!("{call}: {}", without_url(&e)));
                    return Err(Failure::Unknown(GitHubError::failed(message, None)));
                }
            };
            self.note_date(&headers);
            let code = status.as_u16();
            if status.is_success() {
                let value = serde_json::from_slice(&body).map_err(|e| {
                    Failure::Failed(GitHubError::failed(
                        format!("{call}: GitHub's answer is not JSON: {e}"),
                        Some(code),
                    ))
                })?;
                // Only a body that was the whole file, to its announced length, was sent.
                let hashed = sent_sha256
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .filter(|_| sent.load(Ordering::Relaxed) == len);
                return Ok((value, hashed));
            }
            if let Some(wait) = rate_limit_wait(code, &headers)
                && attempt < self.attempts
            {
                std::thread::sleep(wait.min(MAX_RATE_LIMIT_WAIT));
                continue;
            }
            let body = body_value(&body, &self.token);
            if code >= 500 {
                return Err(Failure::Unknown(GitHubError::failed(
                    format!("{call}: GitHub answered {code}{}", summary(&body)),
                    Some(code),
                )));
            }
            let error = status_error(&call, code, &body, &self.repository);
            return Err(Failure::Status {
                status: code,
                body,
                error,
            });
        }
    }
}
