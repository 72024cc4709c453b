//! Sending an announcement over STARTTLS and over TLS from the first byte, to a real SMTP server
//! on loopback (tests/common/fake_smtp.rs) whose certificate comes from a CA made for the test
//! and named by `disclosure.announce.smtp.ca_file`. A certificate from any other CA is refused,
//! and a server that will not do TLS never gets the message in the clear.

use crate::common;
use crate::fake_smtp;

use std::path::PathBuf;

use common::{Fixture, Run};
use embargo::sample::PIPELINE;
use fake_smtp::{FakeSmtp, Security, TestCa};

const CREDENTIALS: [(&str, &str); 3] = [
    ("SMTP_USER", "announcer"),
    ("SMTP_PASSWORD", "s3cret-pass"),
    ("EMBARGO_SMTP_RETRY_BASE_MS", "20"),
];

/// The sample's pipeline (no GitHub) with the advisory and an announce section for the server
/// on loopback `port`; `smtp_extra` is added to the `smtp` mapping.
fn pipeline(f: &Fixture, port: u16, security: &str, smtp_extra: &str) -> String {
    f.pipeline_named("advisory.yaml", common::ADVISORY);
    let text = format!(
        "{}advisory: advisory.yaml\n\
         disclosure:\n  announce:\n    smtp: {{host: 127.0.0.1, port: {port}, security: {security}, username_env: SMTP_USER, password_env: SMTP_PASSWORD{smtp_extra}}}\n    from: \"Security Team <security@example.org>\"\n    to: [\"announce@example.org\"]\n",
        common::without_publish(PIPELINE)
    );
    f.pipeline(&text).display().to_string()
}

/// Writes `ca`'s certificate beside the pipeline as `name`.
fn ca_file(f: &Fixture, ca: &TestCa, name: &str) -> PathBuf {
    let path = f.work().join("pipelines").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ca.write_pem(&path);
    path
}

fn send(f: &Fixture, p: &str) -> Run {
    f.embargo_env(&["announce", p, "--pre", "--send"], &CREDENTIALS)
}

#[test]
fn a_starttls_and_a_tls_send_arrive_over_tls_with_the_message() {
    let ca = TestCa::new("Example Corp internal CA");
    for security in ["starttls", "tls"] {
        let smtp = match security {
            "starttls" => FakeSmtp::start_starttls(&ca),
            _ => FakeSmtp::start_tls(&ca),
        };
        let f = Fixture::new();
        ca_file(&f, &ca, "corp-ca.pem");
        // Relative to the pipeline file, wherever the command runs from.
        let p = pipeline(&f, smtp.port, security, ", ca_file: corp-ca.pem");
        f.embargo(&["check", &p]).expect(0);
        f.embargo(&["run", &p]).expect(0);
        let expected = f.embargo(&["announce", &p, "--pre", "--format", "email"]);
        expected.expect(0);
        let run = send(&f, &p);
        run.expect(0);
        let received = smtp.received();
        assert_eq!(received.len(), 1, "{security}: {}", run.all());
        let message = &received[0];
        assert!(message.tls, "{security}: the message crossed in the clear");
        assert_eq!(
            message.auth,
            Some(("announcer".to_string(), "s3cret-pass".to_string())),
            "{security}"
        );
        assert_eq!(message.from, "security@example.org");
        assert_eq!(message.to, ["announce@example.org"]);
        let subject = message.header("Subject").unwrap_or_default();
        assert!(
            subject.contains("example.org/app v1.0.2"),
            "{security}: {subject}"
        );
        // The message that arrived is the one the command renders: same Message-ID.
        let id = message.header("Message-ID").expect("Message-ID");
        assert!(
            expected.stdout.contains(&id),
            "{security}: {id} not in\n{}",
            expected.stdout
        );
        assert!(
            message.body().contains("A fix will be made available at"),
            "{security}: {}",
            message.body()
        );
        // Sent once: a rerun sends nothing.
        let again = send(&f, &p);
        again.expect(0);
        assert_eq!(smtp.received().len(), 1, "{security}: sent twice");
    }
}

#[test]
fn a_server_certificate_from_another_ca_is_refused_and_nothing_is_sent() {
    let ours = TestCa::new("Example Corp internal CA");
    let theirs = TestCa::new("Someone in the way");
    for security in ["starttls", "tls"] {
        // With our CA trusted, and with the Web PKI roots alone (no ca_file).
        for extra in [", ca_file: corp-ca.pem", ""] {
            let smtp = match security {
                "starttls" => FakeSmtp::start_starttls(&theirs),
                _ => FakeSmtp::start_tls(&theirs),
            };
            let f = Fixture::new();
            ca_file(&f, &ours, "corp-ca.pem");
            let p = pipeline(&f, smtp.port, security, extra);
            f.embargo(&["run", &p]).expect(0);
            let run = send(&f, &p);
            run.expect(1);
            common::pin::error(&run);
            assert!(
                run.stderr.contains("did not take the message")
                    && run.stderr.contains("certificate"),
                "{security}{extra}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains("disclosure.announce.smtp.ca_file"),
                "{security}{extra}: the hint names the key: {}",
                run.stderr
            );
            assert!(smtp.received().is_empty(), "{security}{extra}: sent");
            assert!(
                smtp.connections() >= 1,
                "{security}{extra}: never connected"
            );
            assert!(!run.all().contains("s3cret-pass"), "{}", run.all());
            // Nothing went out, and the run knows it: a rerun tries again (and is refused
            // again) instead of asking for --resend as after a session broken midway.
            let again = send(&f, &p);
            again.expect(1);
            assert!(
                again.stderr.contains("UnknownIssuer") && !again.stderr.contains("--resend"),
                "{security}{extra}: {}",
                again.stderr
            );
            assert!(smtp.received().is_empty(), "{security}{extra}: sent");
        }
    }
}

#[test]
fn starttls_that_the_server_does_not_offer_or_refuses_never_falls_back_to_plain() {
    let ca = TestCa::new("Example Corp internal CA");
    for (what, server) in [
        ("not offered", Security::Plain),
        ("refused with 454", Security::StarttlsRefused),
    ] {
        let smtp = FakeSmtp::start_with(server);
        let f = Fixture::new();
        ca_file(&f, &ca, "corp-ca.pem");
        let p = pipeline(&f, smtp.port, "starttls", ", ca_file: corp-ca.pem");
        f.embargo(&["run", &p]).expect(0);
        let run = send(&f, &p);
        run.expect(1);
        assert!(
            run.stderr.contains("did not take the message"),
            "{what}: {}",
            run.stderr
        );
        assert!(smtp.received().is_empty(), "{what}: sent in the clear");
        assert!(smtp.connections() >= 1, "{what}: never connected");
    }
}

#[test]
fn a_ca_file_that_is_missing_empty_or_pointless_is_bad_input() {
    let smtp = FakeSmtp::start();
    let f = Fixture::new();

    // Missing: said by `check` and at sending, naming the key and the file; nothing connects.
    let p = pipeline(&f, smtp.port, "starttls", ", ca_file: nowhere.pem");
    let check = f.embargo(&["check", &p]);
    check.expect(2);
    assert!(
        check
            .stderr
            .contains("disclosure.announce.smtp.ca_file: cannot read "),
        "{}",
        check.stderr
    );
    f.embargo(&["run", &p]).expect(0);
    let missing = send(&f, &p);
    missing.expect(2);
    common::pin::error(&missing);
    assert!(
        missing
            .stderr
            .contains("disclosure.announce.smtp.ca_file: cannot read ")
            && missing.stderr.contains("nowhere.pem"),
        "{}",
        missing.stderr
    );

    // A file with no certificate in it (a key, a typo'd file) is not "trust nothing more".
    std::fs::write(
        f.work().join("pipelines/not-a-ca.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let p = pipeline(&f, smtp.port, "starttls", ", ca_file: not-a-ca.pem");
    f.embargo(&["check", &p]).expect(2);
    let empty = send(&f, &p);
    empty.expect(2);
    assert!(
        empty.stderr.contains("holds no certificate"),
        "{}",
        empty.stderr
    );
    assert_eq!(smtp.connections(), 0);

    // With `security: none` there is no certificate to check: refused where it is written.
    let p = pipeline(&f, smtp.port, "none", ", ca_file: corp-ca.pem");
    let text = std::fs::read_to_string(&p).unwrap();
    let check = f.embargo(&["check", &p]);
    check.expect(2);
    let (line, column) = common::position(&text, "corp-ca.pem");
    assert!(
        check
            .stderr
            .contains(&format!("security-release.yaml:{line}:{column}")),
        "{}",
        check.stderr
    );
    assert!(
        check.stderr.contains("security is none"),
        "{}",
        check.stderr
    );
}
