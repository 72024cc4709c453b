//! `embargo team --invite` and `--revoke`: the fix team given access to the private repository
//! on the fake GitHub (collaborators and invitations as GitHub's REST description has them), and
//! taken away after publishing: exactly the people embargo invited, never the permanent security
//! team, never anyone who had access before, open invitations withdrawn, each step once.

use crate::common;
use crate::world;

use embargo::sample::PIPELINE;
use world::World;

const PUT: &str = "PUT /repos/{owner}/{repo}/collaborators/{username}";
const DELETE: &str = "DELETE /repos/{owner}/{repo}/collaborators/{username}";
const WITHDRAW: &str = "DELETE /repos/{owner}/{repo}/invitations/{invitation_id}";

const ADVISORY: &str = r#"version: 1
summary: "Anonymous access with an expired token"
description: |
  The proxy accepts an expired token as anonymous access.
severity:
  cvss_v3: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
package: {ecosystem: Go, name: example.org/app}
received: "2026-11-02"
people:
  security_team: [alice, bob, carol]
"#;

/// The sample with a private repository on the fake GitHub, an advisory, and ownership files
/// in the base release: `auth.conf` (what the fix changes) is owned by alice, a team and an
/// e-mail address in CODEOWNERS, and by carol, dave, frank and erin in OWNERS.
fn world() -> World {
    let w = World::new();
    w.gh.set_visibility("example", "app-security", "private");
    let f = &w.f;
    // The pipeline files are written after the commit, which would take them along.
    std::fs::remove_dir_all(f.work().join("pipelines")).expect("pipelines");
    f.git(&["checkout", "-q", "release-1.0"]);
    f.sample
        .commit(
            "Record who owns what",
            &[
                (
                    ".github/CODEOWNERS",
                    "*          @bob\nauth.conf  @alice @example/auth jane@example.org\n",
                ),
                (
                    "OWNERS",
                    "approvers: [carol, dave, frank]\nreviewers: [erin]\n",
                ),
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
    f.git(&["checkout", "-q", "master"]);
    f.pipeline_named("advisory.yaml", ADVISORY);
    let text = common::replace_once(
        PIPELINE,
        &[(
            "    pull_requests: true\n",
            "    pull_requests: true\n    private_repository: example/app-security\n",
        )],
    );
    f.pipeline(&format!("{text}advisory: advisory.yaml\n"));
    w
}

#[test]
fn invite_adds_the_owners_once_and_revoke_removes_only_those_it_added() {
    let w = world();
    // dave had access before the release: he is no part of what embargo gives and takes.
    w.gh.add_collaborator("example", "app-security", "dave");

    let dry = w.embargo(&["team", w.p(), "--invite", "--dry-run"]);
    dry.expect(0);
    assert!(
        dry.stdout.contains(&format!(
            "PUT {}/repos/example/app-security/collaborators/frank  {{\"permission\":\"push\"}}",
            w.gh.api_url()
        )),
        "{}",
        dry.stdout
    );
    assert!(
        w.gh.requests_for(PUT).is_empty(),
        "a dry run must not invite"
    );

    let invited = w.embargo(&["team", w.p(), "--invite"]);
    invited.expect(0);
    let out = invited.stdout.clone();
    for words in [
        "not invited: @example/auth (a GitHub team",
        "not invited: jane@example.org (an e-mail address",
        "frank: invited",
        "dave: had access already",
    ] {
        assert!(out.contains(words), "missing `{words}` in\n{out}");
    }
    let mut logins: Vec<String> =
        w.gh.requests_for(PUT)
            .iter()
            .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_string())
            .collect();
    logins.sort();
    // bob is in CODEOWNERS' `*` rule, which a later rule overrides for auth.conf.
    assert_eq!(logins, ["alice", "carol", "dave", "erin", "frank"]);
    assert_eq!(
        w.gh.invitees("example", "app-security"),
        ["alice", "carol", "erin", "frank"]
    );

    // A rerun invites nobody twice.
    let again = w.embargo(&["team", w.p(), "--invite"]);
    again.expect(0);
    assert!(again.stdout.contains("frank: invited"), "{}", again.stdout);
    assert_eq!(w.gh.requests_for(PUT).len(), 5);

    // Revoking before the release is public is refused, and touches nothing.
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let early = w.embargo(&["team", w.p(), "--revoke"]);
    early.expect(2);
    assert!(early.stderr.contains("not public yet"), "{}", early.stderr);
    assert!(w.gh.requests_for(DELETE).is_empty());

    w.embargo(&["publish", w.p(), "--if-due", "--embargo", "now"])
        .expect(0);
    // alice and frank accepted; carol and erin never did.
    for login in ["alice", "frank"] {
        w.gh.accept_invitation("example", "app-security", login);
    }
    let dry = w.embargo(&["team", w.p(), "--revoke", "--dry-run"]);
    dry.expect(0);
    assert!(
        dry.stdout
            .contains("kept (permanent security team): alice, carol"),
        "{}",
        dry.stdout
    );
    assert!(
        w.gh.requests_for(DELETE).is_empty(),
        "a dry run must not remove"
    );

    let revoked = w.embargo(&["team", w.p(), "--revoke"]);
    revoked.expect(0);
    assert!(
        revoked
            .stdout
            .contains("erin: removed, open invitation withdrawn")
            && revoked.stdout.contains("frank: removed"),
        "{}",
        revoked.stdout
    );
    assert_eq!(
        w.gh.collaborators("example", "app-security"),
        ["alice", "dave"]
    );
    // carol's invitation stays: the security team keeps its way in.
    assert_eq!(w.gh.invitees("example", "app-security"), ["carol"]);
    let removed: Vec<String> =
        w.gh.requests_for(DELETE)
            .iter()
            .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_string())
            .collect();
    assert_eq!(removed, ["erin", "frank"]);
    assert_eq!(w.gh.requests_for(WITHDRAW).len(), 1);

    // A rerun removes nobody again, and the team is not invited back.
    let again = w.embargo(&["team", w.p(), "--revoke"]);
    again.expect(0);
    assert!(
        again
            .stdout
            .contains("removed from example/app-security already"),
        "{}",
        again.stdout
    );
    assert_eq!(w.gh.requests_for(DELETE).len(), 2);
    let dir = w.f.state_dir("v1.0.2").display().to_string();
    let back = w.embargo(&["team", w.p(), "--invite", "--state-dir", &dir]);
    back.expect(2);
    assert!(
        back.stderr.contains("is not invited again"),
        "{}",
        back.stderr
    );
    let retro = w.embargo(&["retrospective", w.p()]);
    retro.expect(0);
    let text = &retro.stdout;
    for what in [
        ": fix team invited (alice, carol, dave, erin, frank)",
        ": published",
        ": team revoked (erin, frank)",
    ] {
        assert!(text.contains(what), "missing `{what}` in\n{text}");
    }
    assert!(
        text.find(": published") < text.find(": team revoked"),
        "{text}"
    );
    w.no_violations();
}

#[test]
fn an_invitation_accepted_after_a_crash_is_still_embargos_to_take_back() {
    let w = world();
    let crashed = w.embargo_env(
        &["team", w.p(), "--invite"],
        &[("EMBARGO_TEST_CRASH_AT", "team:after-invite")],
    );
    assert_ne!(crashed.code, 0);
    // The first invitation was opened, then the process died before recording it; the person
    // accepts before the rerun, so GitHub now answers "already has access".
    let first = w.gh.invitees("example", "app-security");
    assert_eq!(first.len(), 1, "{first:?}");
    let login = first[0].clone();
    w.gh.accept_invitation("example", "app-security", &login);
    w.embargo(&["team", w.p(), "--invite"]).expect(0);
    let journal =
        std::fs::read_to_string(w.f.state_dir("v1.0.2").join("journal.jsonl")).expect("journal");
    let line = journal
        .lines()
        .filter(|l| l.contains("\"team-invite\"") && l.contains("\"completed\""))
        .find(|l| l.contains(&format!("\"login\":\"{login}\"")))
        .unwrap_or_else(|| panic!("{login} not recorded:\n{journal}"));
    assert!(line.contains("\"outcome\":\"invited\""), "{line}");
}

#[test]
fn an_unknown_login_fails_with_exit_1_and_the_others_are_invited() {
    let w = world();
    w.gh.unknown_user("frank");
    let run = w.embargo(&["team", w.p(), "--invite"]);
    run.expect(1);
    assert!(
        run.stderr.contains("could not be invited: frank"),
        "{}",
        run.stderr
    );
    assert!(
        w.gh.invitees("example", "app-security")
            .contains(&"erin".to_string())
    );
    let puts = w.gh.requests_for(PUT).len();
    // The rerun asks only for frank again.
    w.embargo(&["team", w.p(), "--invite"]).expect(1);
    assert_eq!(w.gh.requests_for(PUT).len(), puts + 1);
}

#[test]
fn without_a_private_repository_invite_is_bad_input() {
    let w = World::new();
    let run = w.embargo(&["team", w.p(), "--invite"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("publish.github.private_repository is not set"),
        "{}",
        run.stderr
    );
    w.embargo(&["team", w.p(), "--dry-run"]).expect(2);
    w.embargo(&["team", w.p(), "--invite", "--revoke"])
        .expect(2);
}

/// Who was in the permanent security team when invited stays, whatever the advisory says by
/// the time of `--revoke`: edited out, or written `@Alice`.
#[test]
fn the_security_team_as_it_was_at_invite_time_is_never_revoked() {
    let w = world();
    w.embargo(&["team", w.p(), "--invite"]).expect(0);
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    w.embargo(&["publish", w.p(), "--if-due", "--embargo", "now"])
        .expect(0);
    for login in ["alice", "frank"] {
        w.gh.accept_invitation("example", "app-security", login);
    }
    let file = w.f.work().join("pipelines/advisory.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "security_team: [alice, bob, carol]",
            "security_team: [\"@Bob\"]",
        ),
    )
    .unwrap();
    w.embargo(&["team", w.p(), "--revoke"]).expect(0);
    let removed: Vec<String> =
        w.gh.requests_for(DELETE)
            .iter()
            .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_string())
            .collect();
    assert!(
        !removed.iter().any(|l| l == "alice" || l == "carol"),
        "the security team was revoked: {removed:?}"
    );
    assert!(
        w.gh.collaborators("example", "app-security")
            .contains(&"alice".to_string())
    );
}

/// Every path of `team --invite|--revoke --json` is one JSON document valid against
/// `schema/output/team-access.schema.json`.
#[test]
fn every_invite_and_revoke_json_path_matches_its_schema() {
    let w = world();
    let valid = |args: &[&str], outcome: &str| {
        let run = w.embargo(args);
        run.expect(0);
        let value: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", run.stdout));
        common::pin::assert_valid("team-access", &value);
        assert_eq!(value["outcome"], outcome, "{args:?}");
    };
    valid(
        &["team", w.p(), "--invite", "--dry-run", "--json"],
        "dry-run",
    );
    valid(&["team", w.p(), "--invite", "--json"], "invited");
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    w.embargo(&["publish", w.p(), "--if-due", "--embargo", "now"])
        .expect(0);
    valid(
        &["team", w.p(), "--revoke", "--dry-run", "--json"],
        "dry-run",
    );
    valid(&["team", w.p(), "--revoke", "--json"], "revoked");
    valid(&["team", w.p(), "--revoke", "--json"], "nothing-to-do");
}
