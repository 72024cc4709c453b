//! The disclosure commands over the sample project: `team` (who owns what the fix touches, from
//! the release's base) and `retrospective` (the timeline and facts of a published release).

use crate::common;

use std::path::PathBuf;

use common::Fixture;
use embargo::sample::PIPELINE;

use common::ADVISORY;

/// A pipeline (the sample's without GitHub, `fix` replaced as given) naming the advisory.
fn pipeline_with_advisory(f: &Fixture, replace: &[(&str, &str)]) -> PathBuf {
    f.pipeline_named("advisory.yaml", ADVISORY);
    let text = common::replace_once(&common::without_publish(PIPELINE), replace);
    f.pipeline(&format!("{text}advisory: advisory.yaml\n"))
}

/// Gives the base release (v1.0.1) a tree with ownership files, and puts a fix touching owned
/// and unowned paths on the private remote as `security/team`.
fn owned_tree(f: &Fixture) {
    f.git(&["checkout", "-q", "release-1.0"]);
    f.sample
        .commit(
            "Record who owns what",
            &[
                (
                    ".github/CODEOWNERS",
                    "# the last matching rule wins\n\
                     *            @org/everyone\n\
                     /src/        @org/src\n\
                     /src/auth/   @org/auth alice\n\
                     docs/*       @org/docs\n",
                ),
                ("OWNERS", "approvers: [root-approver]\n"),
                (
                    "src/auth/OWNERS",
                    "approvers: [auth-approver]\nreviewers: [auth-reviewer]\noptions:\n  no_parent_owners: true\n",
                ),
                ("src/ui/OWNERS", "reviewers: [ui-reviewer]\n"),
                ("src/auth/login.rs", "// login\n"),
                ("src/ui/page.rs", "// page\n"),
                ("docs/guide.md", "# guide\n"),
            ],
        )
        .expect("commit");
    f.git(&["tag", "-f", "-a", "v1.0.1", "-m", "v1.0.1"]);
    for remote in ["origin", "security"] {
        f.git(&[
            "push",
            "-q",
            "-f",
            remote,
            "refs/heads/release-1.0",
            "refs/tags/v1.0.1",
        ]);
    }
    f.git(&["checkout", "-q", "-b", "security/team"]);
    f.sample
        .commit(
            "Check the session in login and page (CVE-2026-0001)",
            &[
                ("src/auth/login.rs", "// login, checked\n"),
                ("src/ui/page.rs", "// page, checked\n"),
                ("docs/guide.md", "# guide\n\nUpgrade.\n"),
            ],
        )
        .expect("commit");
    f.git(&["push", "-q", "security", "refs/heads/security/team"]);
    f.git(&["checkout", "-q", "master"]);
    f.git(&["branch", "-q", "-D", "security/team"]);
}

/// `(owner, path, role, source)` for every claim in `embargo team --json`.
fn claims(json: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for owner in json["owners"].as_array().expect("owners") {
        for c in owner["claims"].as_array().expect("claims") {
            out.push((
                owner["name"].as_str().unwrap_or_default().to_string(),
                c["path"].as_str().unwrap_or_default().to_string(),
                c["role"].as_str().unwrap_or_default().to_string(),
                c["source"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

#[test]
fn team_lists_the_owners_of_the_fixs_paths_from_the_base_release() {
    let f = Fixture::new();
    owned_tree(&f);
    let p = pipeline_with_advisory(
        &f,
        &[(
            "branch: security/CVE-2026-0001\n  base: master",
            "branch: security/team\n  base: release-1.0",
        )],
    );
    // The working tree says otherwise: it must play no part.
    std::fs::write(f.work().join("OWNERS"), "approvers: [not-from-the-tree]\n").expect("write");
    let p = p.display().to_string();
    let run = f.embargo(&["team", &p, "--json"]);
    run.expect(0);
    common::pin::json("team", &run);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["base"], "v1.0.1");
    assert_eq!(
        json["paths"],
        serde_json::json!(["docs/guide.md", "src/auth/login.rs", "src/ui/page.rs"])
    );
    let claims = claims(&json);
    let has = |owner: &str, path: &str, role: &str, source: &str| {
        claims
            .iter()
            .any(|c| c.0 == owner && c.1 == path && c.2 == role && c.3.starts_with(source))
    };
    // CODEOWNERS: the later `/src/auth/` rule overrides `/src/`, which overrides `*`.
    assert!(has(
        "@org/auth",
        "src/auth/login.rs",
        "code-owner",
        ".github/CODEOWNERS:4"
    ));
    assert!(has(
        "alice",
        "src/auth/login.rs",
        "code-owner",
        ".github/CODEOWNERS:4"
    ));
    assert!(!has("@org/src", "src/auth/login.rs", "code-owner", ""));
    assert!(has(
        "@org/src",
        "src/ui/page.rs",
        "code-owner",
        ".github/CODEOWNERS:3"
    ));
    assert!(has(
        "@org/docs",
        "docs/guide.md",
        "code-owner",
        ".github/CODEOWNERS:5"
    ));
    assert!(!claims.iter().any(|c| c.0 == "@org/everyone"), "{claims:?}");
    // OWNERS: inherited from the root, except below `no_parent_owners`.
    assert!(has(
        "auth-approver",
        "src/auth/login.rs",
        "approver",
        "src/auth/OWNERS"
    ));
    assert!(has(
        "auth-reviewer",
        "src/auth/login.rs",
        "reviewer",
        "src/auth/OWNERS"
    ));
    assert!(has(
        "ui-reviewer",
        "src/ui/page.rs",
        "reviewer",
        "src/ui/OWNERS"
    ));
    assert!(has("root-approver", "src/ui/page.rs", "approver", "OWNERS"));
    assert!(has("root-approver", "docs/guide.md", "approver", "OWNERS"));
    assert!(!has("root-approver", "src/auth/login.rs", "approver", ""));
    assert!(!claims.iter().any(|c| c.0 == "not-from-the-tree"));
    // The permanent security team is marked.
    let alice = json["owners"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["name"] == "alice"))
        .expect("alice");
    assert_eq!(alice["security_team"], true);

    let text = f.embargo(&["team", &p]);
    text.expect(0);
    common::pin::output(&text);
    assert!(
        text.stdout.contains("alice (permanent security team)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("src/auth/login.rs: approver (src/auth/OWNERS)"),
        "{}",
        text.stdout
    );
}

#[test]
fn team_without_ownership_files_says_nobody_owns_the_fix() {
    let f = Fixture::new();
    let p = f.default_pipeline().display().to_string();
    let run = f.embargo(&["team", &p]);
    run.expect(0);
    common::pin::output(&run);
    assert!(run.stdout.contains("nobody"), "{}", run.stdout);
    let json = f.embargo(&["team", &p, "--json"]);
    json.expect(0);
    common::pin::json("team", &json);
    assert!(
        run.stdout.contains("Owned by nobody: auth.conf"),
        "{}",
        run.stdout
    );
}

#[test]
fn retrospective_after_a_reschedule_and_publish_has_the_timeline_the_backport_and_empty_critiques()
{
    let f = Fixture::new();
    let p = pipeline_with_advisory(&f, &[]).display().to_string();
    // Staged for the pipeline's instant years away, then brought forward: the move is part
    // of the timeline.
    f.embargo(&["run", &p]).expect(0);
    f.embargo(&["reschedule", &p, "--embargo", "now", "--earlier"])
        .expect(0);
    f.embargo(&["publish", &p, "--if-due"]).expect(0);
    let out = f.work().join("retrospective.md");
    let out = out.display().to_string();
    let run = f.embargo(&["retrospective", &p, "--output", &out]);
    run.expect(0);
    common::pin::output(&run);
    let text = &run.stdout;
    assert!(
        text.starts_with("# Retrospective: v1.0.2 (CVE-2026-0001)\n"),
        "{text}"
    );
    let order = [
        "2026-11-02: report received",
        "prepare started",
        "prepare done",
        "build started",
        "build done (took",
        "verify done",
        "freeze done",
        "cherry-pick done",
        "staged (took",
        "rescheduled to ",
        "published (took",
    ];
    let mut at = 0;
    for what in order {
        let found = text[at..]
            .find(what)
            .unwrap_or_else(|| panic!("`{what}` missing or out of order:\n{text}"));
        at += found + what.len();
    }
    assert!(text.contains("from the report to publication"), "{text}");
    assert!(
        text.contains("- alice: fix lead, security team\n"),
        "{text}"
    );
    assert!(text.contains("- Jane Doe: finder\n"), "{text}");
    assert!(text.contains("- master: fix commit "), "{text}");
    assert!(text.contains("conflicts in auth.conf"), "{text}");
    assert!(
        text.ends_with("## What went well\n\n\n## What went wrong\n\n\n## Critiques\n\n"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(f.work().join("retrospective.md")).expect("--output"),
        *text
    );

    let json = f.embargo(&["retrospective", &p, "--json"]);
    json.expect(0);
    common::pin::json("retrospective", &json);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(value["tag"], "v1.0.2");
    assert_eq!(value["manual_backports"][0]["target"], "master");
    assert_eq!(value["markdown"], text.as_str());
}

#[test]
fn retrospective_with_nothing_run_is_bad_input() {
    let f = Fixture::new();
    let p = f.default_pipeline().display().to_string();
    let run = f.embargo(&["retrospective", &p]);
    run.expect(2);
    common::pin::error(&run);
    let json = f.embargo(&["retrospective", &p, "--json"]);
    json.expect(2);
    common::pin::json("retrospective", &json);
    assert!(
        run.stderr.contains("no release is staged"),
        "{}",
        run.stderr
    );
}
