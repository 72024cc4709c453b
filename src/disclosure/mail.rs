//! An announcement as an e-mail: a `text/plain` RFC 5322 message built with lettre, and handed
//! to the pipeline's SMTP server. The credentials are read from the environment variables the
//! pipeline names, once, and never printed. A server that answers "not now" (4xx) is asked again
//! a bounded number of times; anything else ends the attempt with the server's own words.

use std::path::Path;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
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

/// The certificates of `disclosure.announce.smtp.ca_file`, each trusted as a root in addition
/// to the Web PKI's. A file with no certificate in it is refused rather than taken as "trust
/// nothing more": a mistyped file would otherwise only show as a failed handshake.
pub fn ca_certificates(file: &Path) -> Result<Vec<Certificate>, Error> {
    let key = "disclosure.announce.smtp.ca_file";
    let pem = std::fs::read(file)
        .map_err(|e| Error::bad_input(format!("{key}: cannot read {}: {e}", file.display())))?;
    let ders = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::bad_input(format!(
                "{key}: {} is not a PEM file of certificates ({e})",
                file.display()
            ))
        })?;
    if ders.is_empty() {
        return Err(Error::bad_input(format!(
            "{key}: {} holds no certificate (no -----BEGIN CERTIFICATE----- block)",
            file.display()
        ))
        .with_hint("give the PEM file of the CA that signed the SMTP server's certificate"));
    }
    ders.into_iter()
        .map(|der| {
            Certificate::from_der(der.to_vec()).map_err(|e| {
                Error::bad_input(format!(
                    "{key}: a certificate in {} cannot be read: {e}",
                    file.display()
                ))
            })
        })
        .collect()
}

/// TLS for the server: its name checked against its certificate, which must chain to a Web PKI
/// root or to a CA of `ca_file`. Nothing here accepts an invalid certificate or name.
fn tls_parameters(smtp: &SmtpSpec) -> Result<TlsParameters, Error> {
    let mut builder = TlsParameters::builder(smtp.host.clone());
    if let Some(file) = &smtp.ca_file {
        for certificate in ca_certificates(file)? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| {
        let from = smtp
            .ca_file
            .as_ref()
            .map(|f| format!(" (with the CA certificates of {})", f.display()))
            .unwrap_or_default();
        Error::bad_input(format!(
            "cannot set up TLS for the SMTP server {}{from}: {e}",
            smtp.host
        ))
    })
}

fn transport(smtp: &SmtpSpec) -> Result<SmtpTransport, Error> {
    let tls = || tls_parameters(smtp);
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

/// Whether the TLS handshake refused the server's certificate (unknown issuer, wrong name,
/// expired): the handshake comes before any SMTP command, so nothing was sent.
fn certificate_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let refused = |r: &rustls::Error| {
        matches!(
            r,
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
        )
    };
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<rustls::Error>() {
            return refused(r);
        }
        // An io::Error's `source` skips the error it wraps: look at that one too.
        if let Some(inner) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return refused(inner);
        }
        source = s.source();
    }
    false
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
                let untrusted = certificate_refused(&e);
                let maybe_delivered =
                    !(e.is_transient() || e.is_permanent() || e.is_tls() || unreached || untrusted);
                let hint = if untrusted {
                    "the server's certificate is not one this machine trusts, so nothing was sent: if a private CA signed it, name that CA's PEM file in disclosure.announce.smtp.ca_file; if not, someone may be in the way"
                } else {
                    hint
                };
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
