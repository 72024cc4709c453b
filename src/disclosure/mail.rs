//! An announcement as an e-mail: a `text/plain` RFC 5322 message built with lettre, and handed
//! to the pipeline's SMTP server. The credentials are read from the environment variables the
//! pipeline names, once, and never printed. A server that answers "not now" (4xx) is asked again
//! a bounded number of times; anything else ends the attempt with the server's own words.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde::Serialize;

use super::announce::Announcement;
use crate::error::Error;
use crate::pipeline::disclosure::{AnnounceSpec, Security, SmtpSpec};

/// How many times a message is offered to a server that answers with a transient (4xx) reply.
pub const ATTEMPTS: u32 = 3;

/// The e-mail of an announcement.
pub fn message(spec: &AnnounceSpec, a: &Announcement) -> Result<Message, Error> {
    let mut builder = Message::builder()
        .from(spec.from.clone())
        .subject(a.subject.clone())
        .message_id(Some(a.message_id.clone()))
        .user_agent(format!("embargo {}", env!("CARGO_PKG_VERSION")))
        .header(ContentType::TEXT_PLAIN);
    for to in &spec.to {
        builder = builder.to(to.clone());
    }
    builder
        .body(a.markdown.clone())
        .map_err(|e| Error::bad_input(format!("cannot build the {} e-mail: {e}", a.kind.name())))
}

/// The domain of the sender's address, for the Message-ID.
pub fn from_domain(spec: Option<&AnnounceSpec>) -> String {
    spec.map(|s| s.from.email.domain().to_string())
        .unwrap_or_else(|| "embargo.invalid".to_string())
}

/// What the server said when it took the message.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub server: String,
    pub attempts: u32,
    /// The server's reply to the end of the message, like `250 2.0.0 queued as 1234`.
    pub reply: String,
}

/// Where a message is handed over, in words: `smtp.example.org:587 (starttls)`.
pub fn server(smtp: &SmtpSpec) -> String {
    format!("{}:{} ({})", smtp.host, smtp.port, smtp.security.name())
}

fn credential(key: &str, name: &str) -> Result<String, Error> {
    match crate::secret::take_env(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::bad_input(format!(
            "disclosure.announce.smtp.{key} names the environment variable {name}, which is not set"
        ))
        .with_hint(format!("export {name} before sending"))),
    }
}

fn transport(smtp: &SmtpSpec) -> Result<SmtpTransport, Error> {
    let tls = || {
        TlsParameters::new(smtp.host.clone()).map_err(|e| {
            Error::bad_input(format!(
                "cannot set up TLS for the SMTP server {}: {e}",
                smtp.host
            ))
        })
    };
    let mut builder = SmtpTransport::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(30)))
        .tls(match smtp.security {
            Security::Starttls => Tls::Required(tls()?),
            Security::Tls => Tls::Wrapper(tls()?),
            Security::None => Tls::None,
        });
    if let (Some(user), Some(password)) = (&smtp.username_env, &smtp.password_env) {
        builder = builder.credentials(Credentials::new(
            credential("username_env", user)?,
            credential("password_env", password)?,
        ));
    }
    Ok(builder.build())
}

/// The pause before attempt `n` (1-based, n >= 2). Tests shorten it through
/// `EMBARGO_SMTP_RETRY_BASE_MS`.
fn pause(n: u32) -> Duration {
    let base = std::env::var("EMBARGO_SMTP_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5_000);
    Duration::from_millis(base.saturating_mul(1 << (n.saturating_sub(2)).min(6)))
}

/// Why a message was not sent, and whether it may have been delivered all the same.
pub struct Failure {
    pub error: Error,
    /// The connection broke after the server had accepted the session (no refusal came back):
    /// the message may have gone out, and only the list's archive can tell.
    pub maybe_delivered: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            maybe_delivered: false,
        }
    }
}

/// Sends `message`; `on_retry` hears of each transient refusal before the next attempt.
pub fn send(
    smtp: &SmtpSpec,
    message: &Message,
    mut on_retry: impl FnMut(u32, &str),
) -> Result<Delivery, Failure> {
    let transport = transport(smtp)?;
    let mut attempt = 1;
    loop {
        match transport.send(message) {
            Ok(response) => {
                return Ok(Delivery {
                    server: server(smtp),
                    attempts: attempt,
                    reply: format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    )
                    .trim()
                    .to_string(),
                });
            }
            // 4xx: the server did not take the message and asks to try later.
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                on_retry(attempt, &e.to_string());
                std::thread::sleep(pause(attempt + 1));
                attempt += 1;
            }
            Err(e) => {
                let tried = if attempt > 1 {
                    format!(" (attempt {attempt} of {ATTEMPTS})")
                } else {
                    String::new()
                };
                let hint = if e.is_transient() {
                    "the server refused it for now; run the same command again later"
                } else if e.is_permanent() {
                    "the server refused the message: check disclosure.announce (from, to) and the credentials"
                } else if e.is_tls() {
                    "check disclosure.announce.smtp.security and port: starttls usually on 587, tls on 465"
                } else {
                    "check disclosure.announce.smtp (host, port) and that the server is reachable"
                };
                // A refusal (4xx, 5xx), a failed TLS handshake or a server that could not be
                // reached (lettre's connection error, said only in its text) means the message was
                // not taken; anything else broke the session midway, maybe after it was in.
                let unreached = e.to_string().starts_with("Connection error");
                let maybe_delivered =
                    !(e.is_transient() || e.is_permanent() || e.is_tls() || unreached);
                let hint = if maybe_delivered {
                    "the connection broke during the session: the message may have been delivered; look in the list's archive, and send it again with --resend only if it is not there"
                } else {
                    hint
                };
                return Err(Failure {
                    error: Error::stage_failed(format!(
                        "the SMTP server {} did not take the message{tried}: {e}",
                        server(smtp)
                    ))
                    .with_hint(hint),
                    maybe_delivered,
                });
            }
        }
    }
}
