//! `disclosure:` in the pipeline: where the announcements go (`announce`: the SMTP server, the
//! sender, the list) and whether publishing sends the release announcement by itself. The wire
//! types are read like the rest of the file (`deny_unknown_fields`, every value located); the
//! credentials are only ever named by environment variable.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::PipelineError;

/// What the disclosure process around the release needs from the pipeline.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    pub announce: Option<Announce>,
}

/// The pre-announcement and the release announcement (`embargo announce`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Announce {
    /// The SMTP server `--send` hands the message to; without it the messages are only rendered.
    pub smtp: Option<Smtp>,
    /// The sender, like `Security Team <security@example.org>`.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// The announce list(s).
    #[schemars(with = "Vec<String>")]
    pub to: Vec<Spanned<String>>,
    /// `embargo publish` sends the release announcement once the release is verified public.
    #[serde(default)]
    #[schemars(with = "bool")]
    pub send_release_after_publish: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    /// The server's host name (or address).
    #[schemars(with = "String")]
    pub host: Spanned<String>,
    /// Default 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[schemars(with = "Option<u16>")]
    pub port: Option<Spanned<i64>>,
    /// `starttls` (default), `tls` (TLS from the first byte) or `none` (only for a server on this
    /// machine: 127.0.0.1, ::1, localhost).
    #[schemars(with = "Option<Security>")]
    pub security: Option<Spanned<String>>,
    /// The environment variable holding the user name (never the name itself).
    #[schemars(with = "Option<String>")]
    pub username_env: Option<Spanned<String>>,
    /// The environment variable holding the password (never the password itself).
    #[schemars(with = "Option<String>")]
    pub password_env: Option<Spanned<String>>,
    /// A PEM file of CA certificates to trust for this server, in addition to the Web PKI roots
    /// (a company's private CA); relative to the pipeline file. The server's certificate is still
    /// checked: name, validity, chain.
    #[schemars(with = "Option<String>")]
    pub ca_file: Option<Spanned<String>>,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which must succeed.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption: only for a server on this machine.
    None,
}

impl Security {
    pub fn name(self) -> &'static str {
        match self {
            Security::Starttls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }
}

/// The announcement settings, checked.
#[derive(Debug, Clone)]
pub struct AnnounceSpec {
    pub smtp: Option<SmtpSpec>,
    pub from: lettre::message::Mailbox,
    pub to: Vec<lettre::message::Mailbox>,
    pub send_release_after_publish: bool,
}

#[derive(Debug, Clone)]
pub struct SmtpSpec {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    /// `ca_file`, resolved against the pipeline's folder; read when a message is sent.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Whether `host` is this machine: the only place an unencrypted connection may go.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks `disclosure:`; `at` locates a value in the pipeline file.
pub fn check(
    raw: &Disclosure,
    folder: &std::path::Path,
    at: &dyn Fn(serde_saphyr::Location, String) -> PipelineError,
) -> Result<Option<AnnounceSpec>, PipelineError> {
    let Some(announce) = &raw.announce else {
        return Ok(None);
    };
    let mailbox = |key: &str, value: &Spanned<String>| {
        value
            .value
            .trim()
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| {
                at(
                    value.referenced,
                    format!(
                        "disclosure.announce.{key}: `{}` is not a mail address ({e}); write it like \"Security Team <security@example.org>\"",
                        value.value.trim()
                    ),
                )
            })
    };
    let from = mailbox("from", &announce.from)?;
    if announce.to.is_empty() {
        return Err(at(
            announce.from.referenced,
            "disclosure.announce.to: the list is empty; name the announce list, like [\"announce@example.org\"]".into(),
        ));
    }
    let to = announce
        .to
        .iter()
        .map(|t| mailbox("to", t))
        .collect::<Result<Vec<_>, _>>()?;
    let smtp = announce
        .smtp
        .as_ref()
        .map(|s| smtp(s, folder, at))
        .transpose()?;
    let send_release_after_publish = match &announce.send_release_after_publish {
        Some(flag) if flag.value && smtp.is_none() => {
            return Err(at(
                flag.referenced,
                "disclosure.announce.send_release_after_publish: there is no disclosure.announce.smtp to send it through".into(),
            ));
        }
        Some(flag) => flag.value,
        None => false,
    };
    Ok(Some(AnnounceSpec {
        smtp,
        from,
        to,
        send_release_after_publish,
    }))
}

fn smtp(
    raw: &Smtp,
    folder: &std::path::Path,
    at: &dyn Fn(serde_saphyr::Location, String) -> PipelineError,
) -> Result<SmtpSpec, PipelineError> {
    let host = raw.host.value.trim();
    // A URL or `user@host` here would be misread; the port and security have keys of their own.
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/@?#".contains(c))
    {
        return Err(at(
            raw.host.referenced,
            format!(
                "disclosure.announce.smtp.host: `{}` is not a host name; give the server's name alone, like smtp.example.org",
                host.escape_default()
            ),
        ));
    }
    let security = match &raw.security {
        None => Security::Starttls,
        Some(s) => match s.value.trim() {
            "starttls" => Security::Starttls,
            "tls" => Security::Tls,
            "none" => Security::None,
            other => {
                return Err(at(
                    s.referenced,
                    format!(
                        "disclosure.announce.smtp.security: `{}` is not one of starttls, tls, none",
                        other.escape_default()
                    ),
                ));
            }
        },
    };
    if security == Security::None && !is_loopback_host(host) {
        let location = raw
            .security
            .as_ref()
            .map(|s| s.referenced)
            .unwrap_or(raw.host.referenced);
        return Err(at(
            location,
            format!(
                "disclosure.announce.smtp.security: `none` sends the message (and any password) readable by anyone on the way to `{host}`; it is only accepted for a server on this machine (127.0.0.1, ::1, localhost): use starttls or tls"
            ),
        ));
    }
    let port = match &raw.port {
        None => security.default_port(),
        Some(p) => u16::try_from(p.value)
            .ok()
            .filter(|n| *n != 0)
            .ok_or_else(|| {
                at(
                    p.referenced,
                    format!(
                        "disclosure.announce.smtp.port: {} is not a TCP port (1 to 65535)",
                        p.value
                    ),
                )
            })?,
    };
    let env_name = |key: &str,
                    value: &Option<Spanned<String>>|
     -> Result<Option<String>, PipelineError> {
        let Some(v) = value else { return Ok(None) };
        let name = v.value.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(at(
                v.referenced,
                format!(
                    "disclosure.announce.smtp.{key}: `{}` is not an environment variable name; give the NAME of the variable that holds the credential (like SMTP_PASSWORD), never the credential itself",
                    name.escape_default()
                ),
            ));
        }
        Ok(Some(name.to_string()))
    };
    let ca_file = match &raw.ca_file {
        Some(f) if f.value.trim().is_empty() => {
            return Err(at(
                f.referenced,
                "disclosure.announce.smtp.ca_file: the path is empty; name a PEM file of CA certificates, or leave the key out to trust the Web PKI roots alone".into(),
            ));
        }
        Some(f) if security == Security::None => {
            return Err(at(
                f.referenced,
                "disclosure.announce.smtp.ca_file: security is none, so no certificate is checked; use starttls or tls with a CA file".into(),
            ));
        }
        Some(f) => Some(folder.join(f.value.trim())),
        None => None,
    };
    let username_env = env_name("username_env", &raw.username_env)?;
    let password_env = env_name("password_env", &raw.password_env)?;
    match (&raw.username_env, &raw.password_env) {
        (Some(u), None) => Err(at(
            u.referenced,
            "disclosure.announce.smtp: username_env is given without password_env; give both or neither".into(),
        )),
        (None, Some(p)) => Err(at(
            p.referenced,
            "disclosure.announce.smtp: password_env is given without username_env; give both or neither".into(),
        )),
        _ => Ok(SmtpSpec {
            host: host.to_string(),
            port,
            security,
            username_env,
            password_env,
            ca_file,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_counts_as_loopback() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["smtp.example.org", "10.0.0.1", "localhost.example.org", ""] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
