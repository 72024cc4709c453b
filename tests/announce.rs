//! `embargo announce`: the pre-announcement (which must never carry the fix), the release
//! announcement (refused until the release is public), and sending each once through a real SMTP
//! server on loopback (tests/common/fake_smtp.rs), including servers that refuse at first.

use crate::common;
use crate::fake_smtp;
use crate::world;

use std::path::PathBuf;

use common::{Fixture, Run};
use embargo::sample::{FIX_BRANCH, PIPELINE};
use fake_smtp::{FakeSmtp, Refusal};
use world::World;

/// Words that only the fix and the advisory's private parts contain.
const SUMMARY: &str = "Anonymous access with an expired token";
const DESCRIPTION: &str = "The proxy accepts an expired token as anonymous access";

fn advisory() -> String {
    format!(
        r#"version: 1
summary: "{SUMMARY}"
description: |
  {DESCRIPTION}.
severity:
  cvss_v3: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
cwe: [CWE-287]
package: {{ecosystem: Go, name: example.org/app}}
ghsa_id: null
cve_id: CVE-2026-0001
received: "2026-11-02"
credits: [{{name: Jane Doe, type: finder}}]
mitigations: |
  Put the proxy in front of the service and refuse requests without a token there.
references: ["https://example.org/security"]
people:
  fix_lead: alice
  release_lead: bob
  disclosure_lead: carol
  security_team: [alice, bob, carol]
"#
    )
}

/// The announce section for a server on loopback `port`.
fn disclosure(port: u16, after_publish: bool) -> String {
    format!(
        "disclosure:\n  announce:\n    smtp: {{host: 127.0.0.1, port: {port}, security: none, username_env: SMTP_USER, password_env: SMTP_PASSWORD}}\n    from: \"Security Team <security@example.org>\"\n    to: [\"announce@example.org\", \"distributors@example.org\"]\n    send_release_after_publish: {after_publish}\n"
    )
}

/// The sample's pipeline (without GitHub unless `github`), the advisory, and `extra` appended.
fn pipeline(f: &Fixture, github: bool, extra: &str) -> PathBuf {
    f.pipeline_named("advisory.yaml", &advisory());
    let base = if github {
        PIPELINE.to_string()
    } else {
        common::without_publish(PIPELINE)
    };
    f.pipeline(&format!("{base}advisory: advisory.yaml\n{extra}"))
}

const CREDENTIALS: [(&str, &str); 3] = [
    ("SMTP_USER", "announcer"),
    ("SMTP_PASSWORD", "s3cret-pass"),
    ("EMBARGO_SMTP_RETRY_BASE_MS", "20"),
];

fn send(f: &Fixture, args: &[&str]) -> Run {
    f.embargo_env(args, &CREDENTIALS)
}

/// A message body as the reader sees it: the transfer encoding lettre chose undone.
fn decoded_body(r: &fake_smtp::Received) -> String {
    let body = r.body();
    match r
        .header("Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "quoted-printable" => {
            let joined = body.replace("=\r\n", "");
            let bytes = joined.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'='
                    && i + 2 < bytes.len()
                    && let Ok(b) =
                        u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16)
                {
                    out.push(b);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8_lossy(&out).replace("\r\n", "\n")
        }
        "base64" => panic!("a text body should not need base64"),
        _ => body.replace("\r\n", "\n"),
    }
}

/// Every line the fix adds or removes, its files, its subject and its SHA, read from the private
/// remote: none of it may appear in a pre-announcement.
fn secrets_of_the_fix(f: &Fixture) -> Vec<String> {
    let private = &f.sample.private;
    let range = format!("master..{FIX_BRANCH}");
    let mut secrets = vec![SUMMARY.to_string(), DESCRIPTION.to_string()];
    let diff = f.git_in(private, &["log", "-p", "--format=%H%n%h%n%s", &range]);
    let mut lines = diff.lines();
    secrets.extend(lines.by_ref().take(3).map(str::to_string));
    for line in lines {
        if let Some(file) = line.strip_prefix("+++ b/") {
            secrets.push(file.to_string());
        } else if (line.starts_with('+') || line.starts_with('-'))
            && !line.starts_with("+++")
            && !line.starts_with("---")
        {
            let text = line[1..].trim();
            if !text.is_empty() && !text.starts_with('#') {
                secrets.push(text.to_string());
            }
        }
    }
    // The CVSS vector and the CVE: where to look and what to search for.
    secrets.extend(["AV:N".to_string(), "CVE-2026-0001".to_string()]);
    secrets
}

#[test]
fn the_pre_announcement_gives_the_date_and_mitigations_and_nothing_of_the_fix() {
    let smtp = FakeSmtp::start();
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false));
    let p = p.display().to_string();
    f.embargo(&["run", &p]).expect(0);

    let markdown = f.embargo(&["announce", &p, "--pre"]);
    markdown.expect(0);
    let text = &markdown.stdout;
    assert!(
        text.starts_with("# Upcoming security release: example.org/app v1.0.2\n"),
        "{text}"
    );
    for wanted in [
        "at **2036-12-01 16:00 UTC** as a new release, v1.0.2",
        "Severity: high.",
        "- 1.0 line: >= 1.0.0, < 1.0.2; fixed in 1.0.2 (v1.0.2)",
        "Put the proxy in front of the service and refuse requests without a token there.",
        "Upgrade from v1.0.1 (or earlier) to v1.0.2 at 2036-12-01 16:00 UTC",
    ] {
        assert!(text.contains(wanted), "missing `{wanted}` in\n{text}");
    }

    let email = f.embargo(&["announce", &p, "--pre", "--format", "email"]);
    email.expect(0);
    let json = f.embargo(&["announce", &p, "--pre", "--json"]);
    json.expect(0);
    let sent = send(&f, &["announce", &p, "--pre", "--send"]);
    sent.expect(0);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let on_the_wire = format!("{}\n{}", received[0].data, decoded_body(&received[0]));

    let secrets = secrets_of_the_fix(&f);
    assert!(
        secrets
            .iter()
            .any(|s| s.contains("allow_anonymous = false")),
        "the fix's diff was not read: {secrets:?}"
    );
    assert!(secrets.iter().any(|s| s == "auth.conf"), "{secrets:?}");
    for (what, output) in [
        ("markdown", &markdown.stdout),
        ("email", &email.stdout),
        ("json", &json.stdout),
        ("the sent message", &on_the_wire),
    ] {
        for secret in &secrets {
            assert!(
                !output.contains(secret.as_str()),
                "the pre-announcement ({what}) gives away `{secret}`:\n{output}"
            );
        }
    }
}

#[test]
fn the_email_is_a_text_plain_message_with_a_stable_message_id() {
    let smtp = FakeSmtp::start();
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);
    let once = f.embargo(&["announce", &p, "--pre", "--format", "email"]);
    once.expect(0);
    let twice = f.embargo(&["announce", &p, "--pre", "--format", "email"]);
    let header = |text: &str, name: &str| {
        text.split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {name} header in\n{text}"))
    };
    let text = &once.stdout;
    assert_eq!(
        header(text, "From"),
        "\"Security Team\" <security@example.org>"
    );
    assert_eq!(
        header(text, "To"),
        "announce@example.org, distributors@example.org"
    );
    assert!(header(text, "Subject").contains("v1.0.2"), "{text}");
    assert_eq!(
        header(text, "Content-Type"),
        "text/plain; charset=utf-8",
        "{text}"
    );
    header(text, "Date");
    let id = header(text, "Message-ID");
    assert!(
        id.starts_with("<embargo.pre-announce.v1.0.2.") && id.ends_with("@example.org>"),
        "{id}"
    );
    assert_eq!(header(&twice.stdout, "Message-ID"), id);

    // Without disclosure.announce there is no sender to write the e-mail from.
    let bare = pipeline(&f, false, "").display().to_string();
    let refused = f.embargo(&["announce", &bare, "--pre", "--format", "email"]);
    refused.expect(2);
    assert!(
        refused.stderr.contains("needs disclosure.announce"),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_release_announcement_is_refused_until_published_unless_previewed() {
    let f = Fixture::new();
    let p = pipeline(&f, false, "").display().to_string();
    // Nothing staged: there is no instant to announce.
    f.embargo(&["announce", &p, "--pre"]).expect(2);
    f.embargo(&["run", &p]).expect(0);

    let refused = f.embargo(&["announce", &p, "--release"]);
    refused.expect(2);
    assert!(
        refused.stderr.contains("v1.0.2 is not public yet") && refused.stderr.contains("--preview"),
        "{}",
        refused.stderr
    );
    f.embargo(&["announce", &p, "--release", "--format", "email"])
        .expect(2);

    let preview = f.embargo(&["announce", &p, "--release", "--preview"]);
    preview.expect(0);
    assert!(
        preview
            .stdout
            .starts_with("> PREVIEW: the release is not public yet."),
        "{}",
        preview.stdout
    );
    // A preview is never sent; clap refuses the combination.
    let both = f.embargo(&["announce", &p, "--release", "--preview", "--send"]);
    both.expect(2);
    // And one of --pre and --release is required.
    f.embargo(&["announce", &p]).expect(2);
    f.embargo(&["announce", &p, "--pre", "--release"]).expect(2);
}

#[test]
fn the_release_announcement_has_the_cve_scores_checksums_and_upgrade_steps() {
    let f = Fixture::new();
    let p = pipeline(&f, false, "").display().to_string();
    f.embargo(&["run", &p]).expect(0);
    f.embargo(&["reschedule", &p, "--embargo", "now", "--earlier"])
        .expect(0);
    f.embargo(&["publish", &p, "--if-due"]).expect(0);
    let run = f.embargo(&["announce", &p, "--release"]);
    run.expect(0);
    let text = &run.stdout;
    assert!(
        text.starts_with("# Security release: example.org/app v1.0.2 (CVE-2026-0001)\n"),
        "{text}"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(f.state_dir("v1.0.2").join("manifest.json")).unwrap(),
    )
    .unwrap();
    let mut wanted = vec![
        SUMMARY.to_string(),
        DESCRIPTION.to_string(),
        "- CVSS 3.1: 7.5 (high), `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N`".to_string(),
        "- CVE: [CVE-2026-0001](https://www.cve.org/CVERecord?id=CVE-2026-0001)".to_string(),
        "- Weakness: CWE-287".to_string(),
        "- 1.0 line: >= 1.0.0, < 1.0.2; fixed in 1.0.2 (v1.0.2)".to_string(),
        "- v1.0.2 (the 1.0 line), after v1.0.1".to_string(),
        "`sha256sum --ignore-missing -c SHA256SUMS`".to_string(),
        "Put the proxy in front of the service".to_string(),
        "- Jane Doe (finder)".to_string(),
        "- https://example.org/security".to_string(),
        format!(
            "{}  SHA256SUMS",
            manifest["checksums_sha256"].as_str().unwrap()
        ),
    ];
    for a in manifest["artifacts"].as_array().unwrap() {
        wanted.push(format!(
            "{}  {}",
            a["sha256"].as_str().unwrap(),
            a["name"].as_str().unwrap()
        ));
    }
    for w in &wanted {
        assert!(text.contains(w.as_str()), "missing `{w}` in\n{text}");
    }
    // Once public, a pre-announcement is no longer sent.
    let smtp = FakeSmtp::start();
    let p2 = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    let late = send(&f, &["announce", &p2, "--pre", "--send"]);
    late.expect(2);
    assert!(late.stderr.contains("already public"), "{}", late.stderr);
    assert_eq!(smtp.connections(), 0);
}

#[test]
fn send_sends_once_and_a_rerun_says_when_with_the_message_id() {
    let smtp = FakeSmtp::start();
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);

    let dry = send(&f, &["announce", &p, "--pre", "--send", "--dry-run"]);
    dry.expect(0);
    assert!(
        dry.stdout
            .contains("dry run: would send the pre-announcement through 127.0.0.1:")
            && dry
                .stdout
                .contains("Subject: [SECURITY] Upcoming security release"),
        "{}",
        dry.stdout
    );
    assert_eq!(smtp.connections(), 0, "a dry run must not connect");

    let first = send(&f, &["announce", &p, "--pre", "--send"]);
    first.expect(0);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m.from, "security@example.org");
    assert_eq!(m.to, ["announce@example.org", "distributors@example.org"]);
    assert_eq!(
        m.auth,
        Some(("announcer".to_string(), "s3cret-pass".to_string()))
    );
    let id = m.header("Message-ID").expect("Message-ID");
    assert!(first.stdout.contains(&id), "{}", first.stdout);
    assert!(first.stdout.contains("queued as FAKE1"), "{}", first.stdout);
    assert!(
        !first.all().contains("s3cret-pass"),
        "the password was printed"
    );
    assert!(
        decoded_body(m).starts_with("# Upcoming security release: example.org/app v1.0.2"),
        "{}",
        decoded_body(m)
    );
    let journal = std::fs::read_to_string(f.state_dir("v1.0.2").join("journal.jsonl")).unwrap();
    assert!(journal.contains(&id), "{journal}");
    assert!(!journal.contains("s3cret-pass"));

    let connections = smtp.connections();
    let again = send(&f, &["announce", &p, "--pre", "--send", "--json"]);
    again.expect(0);
    let value: serde_json::Value = serde_json::from_str(&again.stdout).expect("JSON");
    assert_eq!(value["outcome"], "already-sent");
    assert_eq!(value["message_id"], id.as_str());
    let text = send(&f, &["announce", &p, "--pre", "--send"]);
    assert!(
        text.stdout.contains("was already sent at") && text.stdout.contains(&id),
        "{}",
        text.stdout
    );
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(smtp.connections(), connections, "a rerun must not connect");
    // The dry run now says it would send nothing.
    let dry = send(&f, &["announce", &p, "--pre", "--send", "--dry-run"]);
    assert!(
        dry.stdout.contains("a run would send nothing"),
        "{}",
        dry.stdout
    );
    let status = f.embargo(&["status", &p]);
    assert!(
        status.stdout.contains(&format!("sent {id}")),
        "{}",
        status.stdout
    );
    // The retrospective has it in its timeline.
    let retro = f.embargo(&["retrospective", &p]);
    retro.expect(0);
    assert!(
        retro
            .stdout
            .contains(": pre-announced to announce@example.org, distributors@example.org\n"),
        "{}",
        retro.stdout
    );
}

#[test]
fn a_server_that_refuses_at_first_is_asked_again_and_takes_it_once() {
    let smtp = FakeSmtp::start();
    smtp.refuse_next(&[Refusal::Busy, Refusal::Greylist]);
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);
    let run = send(&f, &["announce", &p, "--pre", "--send"]);
    run.expect(0);
    assert_eq!(smtp.connections(), 3);
    assert_eq!(smtp.received().len(), 1);
    assert!(
        run.stderr.contains("refused attempt 1 of 3") && run.stderr.contains("421"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("refused attempt 2 of 3"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_that_keeps_refusing_fails_with_exit_1_and_a_rerun_sends_exactly_once() {
    let smtp = FakeSmtp::start();
    smtp.refuse_next(&[Refusal::Greylist, Refusal::Greylist, Refusal::Greylist]);
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);
    let failed = send(&f, &["announce", &p, "--pre", "--send"]);
    failed.expect(1);
    assert!(
        failed
            .stderr
            .contains("did not take the message (attempt 3 of 3)")
            && failed.stderr.contains("451"),
        "{}",
        failed.stderr
    );
    assert_eq!(smtp.received().len(), 0);

    let rerun = send(&f, &["announce", &p, "--pre", "--send"]);
    rerun.expect(0);
    send(&f, &["announce", &p, "--pre", "--send"]).expect(0);
    assert_eq!(smtp.received().len(), 1);

    // A permanent refusal is not asked again.
    let f2 = Fixture::new();
    let smtp2 = FakeSmtp::start();
    smtp2.refuse_next(&[Refusal::Reject]);
    let p2 = pipeline(&f2, false, &disclosure(smtp2.port, false))
        .display()
        .to_string();
    f2.embargo(&["run", &p2]).expect(0);
    let rejected = send(&f2, &["announce", &p2, "--pre", "--send"]);
    rejected.expect(1);
    assert_eq!(smtp2.connections(), 1);
    assert!(rejected.stderr.contains("554"), "{}", rejected.stderr);
}

#[test]
fn a_send_interrupted_by_a_crash_is_not_repeated_without_resend() {
    let smtp = FakeSmtp::start();
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);
    let mut env = CREDENTIALS.to_vec();
    env.push(("EMBARGO_TEST_CRASH_AT", "announce:before-send"));
    let crashed = f.embargo_env(&["announce", &p, "--pre", "--send"], &env);
    assert_ne!(crashed.code, 0);
    let refused = send(&f, &["announce", &p, "--pre", "--send"]);
    refused.expect(2);
    assert!(
        refused
            .stderr
            .contains("did not finish: it may have been delivered")
            && refused.stderr.contains("--resend"),
        "{}",
        refused.stderr
    );
    assert_eq!(smtp.connections(), 0);
    send(&f, &["announce", &p, "--pre", "--send", "--resend"]).expect(0);
    send(&f, &["announce", &p, "--pre", "--send", "--resend"]).expect(0);
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn publish_sends_the_release_announcement_once_when_the_pipeline_asks() {
    let smtp = FakeSmtp::start();
    let w = World::new();
    pipeline(&w.f, true, &disclosure(smtp.port, true));
    let env: Vec<(&str, &str)> = CREDENTIALS.to_vec();
    w.embargo_env(&["run", w.p(), "--embargo", "now"], &env)
        .expect(0);
    assert_eq!(smtp.connections(), 0, "nothing is sent at staging");
    let published = w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env);
    published.expect(0);
    let received = smtp.received();
    assert_eq!(received.len(), 1, "{}", published.all());
    let m = &received[0];
    let subject = m.header("Subject").unwrap_or_default();
    assert!(
        subject.contains("v1.0.2 fixes CVE-2026-0001 (high)"),
        "{subject}"
    );
    let body = decoded_body(m);
    let release = w.one_release_with_the_built_assets();
    let url = format!("{}/example/app/releases/tag/v1.0.2", w.gh.api_url());
    assert!(body.contains(&url), "{url} not in\n{body}");
    assert!(
        body.contains(&format!(
            "{}/example/app/releases/download/v1.0.2/app-linux-amd64.tar.gz",
            w.gh.api_url()
        )),
        "{body}"
    );
    for asset in &release.assets {
        assert!(
            body.contains(&format!("{}  {}", asset.sha256, asset.name)),
            "{body}"
        );
    }
    assert!(
        published.stderr.contains("sent the release announcement"),
        "{}",
        published.stderr
    );

    // Publishing again, and announcing by hand, send nothing more.
    w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env)
        .expect(0);
    let by_hand = w.embargo_env(&["announce", w.p(), "--release", "--send"], &env);
    by_hand.expect(0);
    assert!(
        by_hand.stdout.contains("already sent"),
        "{}",
        by_hand.stdout
    );
    assert_eq!(smtp.received().len(), 1);
    let retro = w.embargo(&["retrospective", w.p()]);
    retro.expect(0);
    let text = &retro.stdout;
    let published = text.find(": published").expect("published");
    let announced = text
        .find(": announced to announce@example.org")
        .unwrap_or_else(|| panic!("not announced in\n{text}"));
    assert!(published < announced, "{text}");
}

#[test]
fn publish_that_cannot_announce_says_so_and_a_rerun_announces() {
    let smtp = FakeSmtp::start();
    smtp.refuse_next(&[Refusal::Reject]);
    let w = World::new();
    pipeline(&w.f, true, &disclosure(smtp.port, true));
    let env: Vec<(&str, &str)> = CREDENTIALS.to_vec();
    w.embargo_env(&["run", w.p(), "--embargo", "now"], &env)
        .expect(0);
    let published = w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env);
    published.expect(1);
    assert!(
        published
            .stderr
            .contains("the release is public, but its announcement was not sent"),
        "{}",
        published.stderr
    );
    w.one_release_with_the_built_assets();
    w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env)
        .expect(0);
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn bad_announce_settings_are_located_in_the_pipeline() {
    let f = Fixture::new();
    let good = "disclosure:\n  announce:\n    smtp: {host: smtp.example.org, port: 587, security: starttls, username_env: SMTP_USER, password_env: SMTP_PASSWORD}\n    from: \"Security Team <security@example.org>\"\n    to: [\"announce@example.org\"]\n    send_release_after_publish: true\n";
    let p = pipeline(&f, false, good).display().to_string();
    let ok = f.embargo(&["check", &p]);
    ok.expect(0);

    for (from, to, needle, words) in [
        (
            "security: starttls",
            "security: none",
            "security: none",
            "only accepted for a server on this machine",
        ),
        (
            "security: starttls",
            "security: ssl",
            "security: ssl",
            "not one of starttls, tls, none",
        ),
        ("port: 587", "port: 70000", "port: 70000", "not a TCP port"),
        ("port: 587", "port: 0", "port: 0", "not a TCP port"),
        (
            "password_env: SMTP_PASSWORD",
            "password_env: \"hunter2!\"",
            "password_env: \"hunter2!\"",
            "never the credential itself",
        ),
        (
            ", password_env: SMTP_PASSWORD",
            "",
            "username_env: SMTP_USER",
            "without password_env",
        ),
        (
            "host: smtp.example.org",
            "host: \"smtp://smtp.example.org\"",
            "host: \"smtp://smtp.example.org\"",
            "not a host name",
        ),
        (
            "from: \"Security Team <security@example.org>\"",
            "from: \"Security Team\"",
            "from: \"Security Team\"",
            "not a mail address",
        ),
        (
            "to: [\"announce@example.org\"]",
            "to: [\"announce at example.org\"]",
            "\"announce at example.org\"",
            "not a mail address",
        ),
        (
            "security: starttls,",
            "security: starttls, password: hunter2,",
            "password: hunter2",
            "password",
        ),
    ] {
        let text = good.replacen(from, to, 1);
        let p = pipeline(&f, false, &text);
        let whole = std::fs::read_to_string(&p).unwrap();
        let (line, column) = common::position(&whole, needle);
        let run = f.embargo(&["check", &p.display().to_string()]);
        run.expect(2);
        // The value's own place (the key's, for an unknown key).
        let key_col = column;
        let value_col = column + needle.find(':').map(|i| i + 2).unwrap_or(0);
        let located = [key_col, value_col].iter().any(|c| {
            run.stderr
                .contains(&format!("security-release.yaml:{line}:{c}:"))
        });
        assert!(
            located && run.stderr.contains(words),
            "`{to}`: expected {words} at {line}:{value_col}\n{}",
            run.stderr
        );
    }

    // send_release_after_publish with nothing to send through.
    let no_smtp = "disclosure:\n  announce:\n    from: security@example.org\n    to: [announce@example.org]\n    send_release_after_publish: true\n";
    let p = pipeline(&f, false, no_smtp);
    let whole = std::fs::read_to_string(&p).unwrap();
    let (line, _) = common::position(&whole, "send_release_after_publish");
    let run = f.embargo(&["check", &p.display().to_string()]);
    run.expect(2);
    assert!(
        run.stderr.contains(&format!(":{line}:"))
            && run.stderr.contains("no disclosure.announce.smtp"),
        "{}",
        run.stderr
    );

    // --send without smtp is bad input, not a crash.
    let render_only = "disclosure:\n  announce:\n    from: security@example.org\n    to: [announce@example.org]\n";
    let p = pipeline(&f, false, render_only).display().to_string();
    f.embargo(&["run", &p]).expect(0);
    let run = f.embargo(&["announce", &p, "--pre", "--send"]);
    run.expect(2);
    assert!(
        run.stderr.contains("needs disclosure.announce.smtp"),
        "{}",
        run.stderr
    );
    f.embargo(&["announce", &p, "--pre", "--format", "email"])
        .expect(0);
}

#[test]
fn a_missing_credential_is_bad_input_naming_the_variable() {
    let smtp = FakeSmtp::start();
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);
    let run = f.embargo(&["announce", &p, "--pre", "--send"]);
    run.expect(2);
    assert!(
        run.stderr.contains("SMTP_USER, which is not set"),
        "{}",
        run.stderr
    );
    assert_eq!(smtp.connections(), 0);
}

#[test]
fn the_committed_schema_takes_the_documented_announce_section() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/pipeline.schema.json")).expect("schema");
    let announce = &schema["$defs"]["Announce"];
    for key in ["smtp", "from", "to", "send_release_after_publish"] {
        assert!(
            announce["properties"].get(key).is_some(),
            "{key}: {announce:#}"
        );
    }
    let smtp = &schema["$defs"]["Smtp"];
    for key in [
        "host",
        "port",
        "security",
        "username_env",
        "password_env",
        "ca_file",
    ] {
        assert!(smtp["properties"].get(key).is_some(), "{key}: {smtp:#}");
    }
    assert_eq!(smtp["additionalProperties"], false);
}

#[test]
fn the_demo_shows_the_pre_announcement_and_a_preview_of_the_release_announcement() {
    let f = Fixture::new();
    let run = f.embargo(&["demo"]);
    run.expect(0);
    let out = &run.stdout;
    let pre = out
        .find("# Upcoming security release: example.org/app v1.0.2")
        .unwrap_or_else(|| panic!("no pre-announcement in\n{out}"));
    let release = out
        .find("# Security release: example.org/app v1.0.2 (CVE-2026-0001)")
        .unwrap_or_else(|| panic!("no release announcement in\n{out}"));
    assert!(pre < release);
    assert!(
        out.contains("Subject: [PREVIEW] [SECURITY] example.org/app v1.0.2 fixes CVE-2026-0001"),
        "{out}"
    );
    // What the demo shows as safe before the embargo is safe.
    let end = pre
        + out[pre..]
            .find(&"-".repeat(72))
            .expect("the end of the message");
    let pre_text = &out[pre..end];
    for secret in [
        "allow_anonymous",
        "CVE-2026-0001",
        "AV:N",
        "allowed by default",
    ] {
        assert!(!pre_text.contains(secret), "`{secret}` in\n{pre_text}");
    }
}

#[test]
fn a_server_without_tls_never_gets_the_message_when_tls_is_asked_for() {
    // A server (or someone in the way) that offers no STARTTLS, or speaks no TLS at all: the
    // message and the password must not cross in the clear.
    for security in ["starttls", "tls"] {
        let smtp = FakeSmtp::start();
        let f = Fixture::new();
        let text = disclosure(smtp.port, false)
            .replace("security: none", &format!("security: {security}"));
        let p = pipeline(&f, false, &text).display().to_string();
        f.embargo(&["run", &p]).expect(0);
        let run = send(&f, &["announce", &p, "--pre", "--send"]);
        run.expect(1);
        assert!(
            run.stderr.contains("did not take the message"),
            "{security}: {}",
            run.stderr
        );
        assert!(smtp.received().is_empty(), "{security}: sent in the clear");
        assert!(smtp.connections() >= 1, "{security}: never connected");
    }
}

/// A CI job restores the state folder as staging left it (the generated workflow's publish and
/// fallback jobs do) and runs `publish` after another job published and announced: the release
/// is found public, and the announcement is not sent a second time from the stale state.
#[test]
fn a_publish_from_a_state_older_than_the_release_does_not_announce_again() {
    let smtp = FakeSmtp::start();
    let w = World::new();
    pipeline(&w.f, true, &disclosure(smtp.port, true));
    let env: Vec<(&str, &str)> = CREDENTIALS.to_vec();
    w.embargo_env(&["run", w.p(), "--embargo", "now"], &env)
        .expect(0);
    let state = w.f.state_dir("v1.0.2");
    let staged_copy = w.f.sample.root.join("state-as-staged");
    common::copy_dir(&state, &staged_copy);
    w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env)
        .expect(0);
    assert_eq!(smtp.received().len(), 1);
    for _ in 0..2 {
        std::fs::remove_dir_all(&state).unwrap();
        common::copy_dir(&staged_copy, &state);
        let again = w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env);
        again.expect(0);
        assert!(
            again
                .stderr
                .contains("the release announcement is not sent from here"),
            "{}",
            again.stderr
        );
    }
    assert_eq!(smtp.received().len(), 1, "the announcement was sent again");
}

/// The server takes the message and the connection breaks before its reply comes back: the
/// message may be out, so a rerun refuses to send it again unless told to with --resend.
#[test]
fn a_reply_lost_after_the_message_is_not_taken_as_not_sent() {
    let smtp = FakeSmtp::start();
    smtp.refuse_next(&[Refusal::DropAfterData]);
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);
    let broke = send(&f, &["announce", &p, "--pre", "--send"]);
    broke.expect(1);
    assert!(
        broke.stderr.contains("the message may have been delivered"),
        "{}",
        broke.stderr
    );
    assert_eq!(smtp.received().len(), 1);
    let rerun = send(&f, &["announce", &p, "--pre", "--send"]);
    rerun.expect(2);
    assert!(
        rerun.stderr.contains("it may have been delivered"),
        "{}",
        rerun.stderr
    );
    assert_eq!(smtp.received().len(), 1, "sent again without --resend");
    send(&f, &["announce", &p, "--pre", "--send", "--resend"]).expect(0);
    assert_eq!(smtp.received().len(), 2);
}

/// A rescheduled release gets a new pre-announcement with the new date, sent once in its turn;
/// the old one is not sent again.
#[test]
fn after_a_reschedule_the_new_date_is_pre_announced_once() {
    let smtp = FakeSmtp::start();
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);
    send(&f, &["announce", &p, "--pre", "--send"]).expect(0);
    f.embargo(&["reschedule", &p, "--embargo", "2037-01-05 16:00 UTC"])
        .expect(0);
    let moved = send(&f, &["announce", &p, "--pre", "--send"]);
    moved.expect(0);
    send(&f, &["announce", &p, "--pre", "--send"]).expect(0);
    let received = smtp.received();
    assert_eq!(received.len(), 2, "{}", moved.all());
    assert!(received[1].body().contains("2037-01-05 16:00 UTC"));
    assert_ne!(
        received[0].header("Message-ID"),
        received[1].header("Message-ID")
    );
}

/// The announcement after publishing broke off with the message maybe delivered: the scheduled
/// publish that comes next stays green, sends nothing, and says what a person must check.
#[test]
fn an_announcement_in_doubt_after_publishing_is_left_to_a_person_and_the_cron_stays_green() {
    let smtp = FakeSmtp::start();
    smtp.refuse_next(&[Refusal::DropAfterData]);
    let w = World::new();
    pipeline(&w.f, true, &disclosure(smtp.port, true));
    let env: Vec<(&str, &str)> = CREDENTIALS.to_vec();
    w.embargo_env(&["run", w.p(), "--embargo", "now"], &env)
        .expect(0);
    let first = w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env);
    first.expect(1);
    assert!(
        first.stderr.contains("may have been delivered"),
        "{}",
        first.stderr
    );
    let cron = w.embargo_env(&["publish", w.p(), "--if-due", "--embargo", "now"], &env);
    cron.expect(0);
    assert!(
        cron.stderr.contains("--release --send --resend"),
        "{}",
        cron.stderr
    );
    assert_eq!(smtp.received().len(), 1, "sent again without --resend");
}

/// Every path of `announce --json` is one JSON document valid against
/// `schema/output/announce.schema.json`: rendered, a send's dry run, sent, already sent.
#[test]
fn every_announce_json_path_matches_its_schema() {
    let smtp = FakeSmtp::start();
    let f = Fixture::new();
    let p = pipeline(&f, false, &disclosure(smtp.port, false))
        .display()
        .to_string();
    f.embargo(&["run", &p]).expect(0);
    for (args, outcome) in [
        (vec!["announce", &p, "--pre", "--json"], None),
        (
            vec!["announce", &p, "--pre", "--send", "--dry-run", "--json"],
            Some("dry-run"),
        ),
        (
            vec!["announce", &p, "--pre", "--send", "--json"],
            Some("sent"),
        ),
        (
            vec!["announce", &p, "--pre", "--send", "--json"],
            Some("already-sent"),
        ),
        (
            vec!["announce", &p, "--release", "--preview", "--json"],
            None,
        ),
    ] {
        let run = send(&f, &args);
        run.expect(0);
        let value: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", run.stdout));
        common::pin::assert_valid("announce", &value);
        assert_eq!(value["outcome"].as_str(), outcome, "{args:?}");
    }
    assert_eq!(smtp.received().len(), 1);
}
