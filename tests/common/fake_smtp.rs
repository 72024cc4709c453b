//! A small but real SMTP server on loopback (RFC 5321: greeting, EHLO, AUTH PLAIN/LOGIN, MAIL,
//! RCPT, DATA with dot-stuffing, RSET, NOOP, QUIT), one thread per connection. It keeps every
//! message it accepted, and can be told to refuse the next connections the way real servers do:
//! `421` at the greeting (busy) or `451` after the message (greylisting).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as it crossed the wire, dot-stuffing undone.
    pub data: String,
    /// `(user, password)` when the client authenticated.
    pub auth: Option<(String, String)>,
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
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
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

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let refusal = {
        let mut s = state.lock().unwrap();
        s.connections += 1;
        s.refusals.pop_front()
    };
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut say = |text: &str| -> std::io::Result<()> {
        out.write_all(text.as_bytes())?;
        out.write_all(b"\r\n")?;
        out.flush()
    };
    if refusal == Some(Refusal::Busy) {
        return say("421 4.3.2 fake.smtp busy, try again later");
    }
    say("220 fake.smtp ESMTP ready")?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut auth = None;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']).to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            say("250-fake.smtp greets you")?;
            say("250-AUTH PLAIN LOGIN")?;
            say("250-8BITMIME")?;
            say("250 SIZE 10485760")?;
        } else if upper.starts_with("HELO") {
            say("250 fake.smtp")?;
        } else if upper.starts_with("AUTH PLAIN") {
            let initial = command[10..].trim().to_string();
            let encoded = if initial.is_empty() {
                say("334 ")?;
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
                say("235 2.7.0 authenticated")?;
            } else {
                say("501 5.5.2 bad AUTH PLAIN")?;
            }
        } else if upper.starts_with("AUTH LOGIN") {
            say("334 VXNlcm5hbWU6")?;
            line.clear();
            input.read_line(&mut line)?;
            let user = String::from_utf8_lossy(&base64_decode(line.trim())).into_owned();
            say("334 UGFzc3dvcmQ6")?;
            line.clear();
            input.read_line(&mut line)?;
            let password = String::from_utf8_lossy(&base64_decode(line.trim())).into_owned();
            auth = Some((user, password));
            say("235 2.7.0 authenticated")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command[10..]);
            to.clear();
            say("250 2.1.0 sender ok")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&command[8..]));
            say("250 2.1.5 recipient ok")?;
        } else if upper == "DATA" {
            say("354 end data with <CR><LF>.<CR><LF>")?;
            let mut data = String::new();
            loop {
                line.clear();
                if input.read_line(&mut line)? == 0 {
                    return Ok(());
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
                    });
                    return Ok(());
                }
                Some(Refusal::Greylist) => say("451 4.7.1 greylisted, try again later")?,
                Some(Refusal::Reject) => say("554 5.7.1 message refused")?,
                _ => {
                    let n = {
                        let mut s = state.lock().unwrap();
                        s.received.push(Received {
                            from: from.clone(),
                            to: to.clone(),
                            data,
                            auth: auth.clone(),
                        });
                        s.received.len()
                    };
                    say(&format!("250 2.0.0 queued as FAKE{n}"))?;
                }
            }
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            say("250 2.0.0 reset")?;
        } else if upper == "NOOP" {
            say("250 2.0.0 ok")?;
        } else if upper == "QUIT" {
            say("221 2.0.0 bye")?;
            return Ok(());
        } else {
            say("502 5.5.2 command not recognized")?;
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
