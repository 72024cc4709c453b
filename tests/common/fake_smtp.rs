//! A small but real SMTP server on loopback (RFC 5321: greeting, EHLO, AUTH PLAIN/LOGIN, MAIL,
//! RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT; RFC 3207 STARTTLS), one thread per
//! connection. It keeps every message it accepted, and can be told to refuse the next
//! connections the way real servers do: `421` at the greeting (busy) or `451` after the message
//! (greylisting). It speaks plain SMTP, STARTTLS or TLS from the first byte (rustls), with a
//! certificate from a CA made at test time ([`TestCa`]).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A certificate authority made for one test, and server certificates it signs.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    certificate: rcgen::Certificate,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params.self_signed(&key).expect("CA certificate");
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            certificate,
        }
    }

    /// The CA's certificate, PEM.
    pub fn pem(&self) -> String {
        self.certificate.pem()
    }

    /// Writes the CA's certificate to `path` (for `ca_file`).
    pub fn write_pem(&self, path: &Path) {
        std::fs::write(path, self.pem()).expect("CA file");
    }

    /// A server configuration with a certificate for `localhost` and 127.0.0.1, signed by this
    /// CA and sent with it.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let key = rcgen::KeyPair::generate().expect("server key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fake.smtp");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        let chain: Vec<CertificateDer<'static>> =
            vec![leaf.der().clone(), self.certificate.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate and key");
        Arc::new(config)
    }
}

/// How the server protects a connection.
#[derive(Clone)]
pub enum Security {
    /// Plain SMTP, no STARTTLS offered.
    Plain,
    /// STARTTLS offered and done with this configuration.
    Starttls(Arc<ServerConfig>),
    /// STARTTLS offered, then refused with `454` (what a server with a broken TLS setup, or
    /// someone in the way, answers).
    StarttlsRefused,
    /// TLS from the first byte.
    Tls(Arc<ServerConfig>),
}

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as it crossed the wire, dot-stuffing undone.
    pub data: String,
    /// `(user, password)` when the client authenticated.
    pub auth: Option<(String, String)>,
    /// Whether the message crossed a TLS connection.
    pub tls: bool,
}

impl Received {
    /// The value of header `name` (the first one, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_string());
            }
        }
        value
    }

    /// The body as sent (after the blank line).
    pub fn body(&self) -> String {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }
}

/// How the server refuses one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `421 4.3.2` instead of the greeting, then the connection is closed.
    Busy,
    /// `451 4.7.1` after the message's final dot: not taken, try later.
    Greylist,
    /// `554 5.7.1` after the message: refused for good.
    Reject,
    /// The message is taken, then the connection is closed without a reply (a reply lost on
    /// the way back).
    DropAfterData,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    refusals: VecDeque<Refusal>,
    connections: usize,
}

pub struct FakeSmtp {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl FakeSmtp {
    pub fn start() -> FakeSmtp {
        FakeSmtp::start_with(Security::Plain)
    }

    /// A server that offers STARTTLS with a certificate signed by `ca`.
    pub fn start_starttls(ca: &TestCa) -> FakeSmtp {
        FakeSmtp::start_with(Security::Starttls(ca.server_config()))
    }

    /// A server that speaks TLS from the first byte, with a certificate signed by `ca`.
    pub fn start_tls(ca: &TestCa) -> FakeSmtp {
        FakeSmtp::start_with(Security::Tls(ca.server_config()))
    }

    pub fn start_with(security: Security) -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                let security = security.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state, &security);
                });
            }
        });
        FakeSmtp { port, state }
    }

    /// The next connections are refused, one refusal each, in order.
    pub fn refuse_next(&self, refusals: &[Refusal]) {
        self.state
            .lock()
            .unwrap()
            .refusals
            .extend(refusals.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>, security: &Security) -> std::io::Result<()> {
    let refusal = {
        let mut s = state.lock().unwrap();
        s.connections += 1;
        s.refusals.pop_front()
    };
    let session = Session {
        state,
        refusal,
        offer_starttls: matches!(security, Security::Starttls(_) | Security::StarttlsRefused),
        refuse_starttls: matches!(security, Security::StarttlsRefused),
    };
    match security {
        Security::Tls(config) => {
            let tls = StreamOwned::new(
                ServerConnection::new(Arc::clone(config)).map_err(io)?,
                stream,
            );
            session.run(&mut BufReader::new(tls), true, true)?;
        }
        Security::Starttls(config) => {
            let mut plain = BufReader::new(stream);
            if session.run(&mut plain, true, false)? == End::StartTls {
                // The client waits for `220` before its handshake, so nothing is buffered.
                let stream = plain.into_inner();
                let tls = StreamOwned::new(
                    ServerConnection::new(Arc::clone(config)).map_err(io)?,
                    stream,
                );
                // RFC 3207: the session starts over, without a greeting; the client says EHLO.
                let after = Session {
                    offer_starttls: false,
                    ..session
                };
                after.run(&mut BufReader::new(tls), false, true)?;
            }
        }
        Security::Plain | Security::StarttlsRefused => {
            session.run(&mut BufReader::new(stream), true, false)?;
        }
    }
    Ok(())
}

fn io(e: rustls::Error) -> std::io::Error {
    std::io::Error::other(e)
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    Closed,
    /// The client asked for STARTTLS and was told to go ahead.
    StartTls,
}

#[derive(Clone, Copy)]
struct Session<'a> {
    state: &'a Mutex<State>,
    refusal: Option<Refusal>,
    offer_starttls: bool,
    /// Answer STARTTLS with `454`.
    refuse_starttls: bool,
}

impl Session<'_> {
    /// One SMTP session over `input` (read from, and written to through `get_mut`).
    fn run<S: Read + Write>(
        self,
        input: &mut BufReader<S>,
        greet: bool,
        tls: bool,
    ) -> std::io::Result<End> {
        let Session { state, refusal, .. } = self;
        let say = |input: &mut BufReader<S>, text: &str| -> std::io::Result<()> {
            let out = input.get_mut();
            out.write_all(text.as_bytes())?;
            out.write_all(b"\r\n")?;
            out.flush()
        };
        if greet {
            if refusal == Some(Refusal::Busy) {
                say(input, "421 4.3.2 fake.smtp busy, try again later")?;
                return Ok(End::Closed);
            }
            say(input, "220 fake.smtp ESMTP ready")?;
        }
        let mut from = String::new();
        let mut to = Vec::new();
        let mut auth = None;
        let mut line = String::new();
        loop {
            line.clear();
            if input.read_line(&mut line)? == 0 {
                return Ok(End::Closed);
            }
            let command = line.trim_end_matches(['\r', '\n']).to_string();
            let upper = command.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                say(input, "250-fake.smtp greets you")?;
                if self.offer_starttls {
                    say(input, "250-STARTTLS")?;
                }
                say(input, "250-AUTH PLAIN LOGIN")?;
                say(input, "250-8BITMIME")?;
                say(input, "250 SIZE 10485760")?;
            } else if upper == "STARTTLS" && self.offer_starttls {
                if self.refuse_starttls {
                    say(input, "454 4.7.0 TLS not available due to temporary reason")?;
                } else {
                    say(input, "220 2.0.0 ready to start TLS")?;
                    return Ok(End::StartTls);
                }
            } else if upper.starts_with("HELO") {
                say(input, "250 fake.smtp")?;
            } else if upper.starts_with("AUTH PLAIN") {
                let initial = command[10..].trim().to_string();
                let encoded = if initial.is_empty() {
                    say(input, "334 ")?;
                    line.clear();
                    input.read_line(&mut line)?;
                    line.trim().to_string()
                } else {
                    initial
                };
                let decoded = base64_decode(&encoded);
                let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                if parts.len() == 3 {
                    auth = Some((
                        String::from_utf8_lossy(parts[1]).into_owned(),
                        String::from_utf8_lossy(parts[2]).into_owned(),
                    ));
                    say(input, "235 2.7.0 authenticated")?;
                } else {
                    say(input, "501 5.5.2 bad AUTH PLAIN")?;
                }
            } else if upper.starts_with("AUTH LOGIN") {
                say(input, "334 VXNlcm5hbWU6")?;
                line.clear();
                input.read_line(&mut line)?;
                let user = String::from_utf8_lossy(&base64_decode(line.trim())).into_owned();
                say(input, "334 UGFzc3dvcmQ6")?;
                line.clear();
                input.read_line(&mut line)?;
                let password = String::from_utf8_lossy(&base64_decode(line.trim())).into_owned();
                auth = Some((user, password));
                say(input, "235 2.7.0 authenticated")?;
            } else if upper.starts_with("MAIL FROM:") {
                from = address(&command[10..]);
                to.clear();
                say(input, "250 2.1.0 sender ok")?;
            } else if upper.starts_with("RCPT TO:") {
                to.push(address(&command[8..]));
                say(input, "250 2.1.5 recipient ok")?;
            } else if upper == "DATA" {
                say(input, "354 end data with <CR><LF>.<CR><LF>")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if input.read_line(&mut line)? == 0 {
                        return Ok(End::Closed);
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                match refusal {
                    Some(Refusal::DropAfterData) => {
                        state.lock().unwrap().received.push(Received {
                            from: from.clone(),
                            to: to.clone(),
                            data,
                            auth: auth.clone(),
                            tls,
                        });
                        return Ok(End::Closed);
                    }
                    Some(Refusal::Greylist) => say(input, "451 4.7.1 greylisted, try again later")?,
                    Some(Refusal::Reject) => say(input, "554 5.7.1 message refused")?,
                    _ => {
                        let n = {
                            let mut s = state.lock().unwrap();
                            s.received.push(Received {
                                from: from.clone(),
                                to: to.clone(),
                                data,
                                auth: auth.clone(),
                                tls,
                            });
                            s.received.len()
                        };
                        say(input, &format!("250 2.0.0 queued as FAKE{n}"))?;
                    }
                }
            } else if upper == "RSET" {
                from.clear();
                to.clear();
                say(input, "250 2.0.0 reset")?;
            } else if upper == "NOOP" {
                say(input, "250 2.0.0 ok")?;
            } else if upper == "QUIT" {
                say(input, "221 2.0.0 bye")?;
                return Ok(End::Closed);
            } else {
                say(input, "502 5.5.2 command not recognized")?;
            }
        }
    }
}

/// `<a@b> SIZE=1` -> `a@b`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .strip_prefix('<')
        .and_then(|a| a.split_once('>'))
        .map(|(a, _)| a)
        .unwrap_or(arg);
    inner.to_string()
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}
