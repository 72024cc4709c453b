//! Several release lines in one release (`versioning.lines`): the format, and `plan` of every
//! line with each line's fix tried in memory.

use crate::common::{self, Fixture, pin};

/// The sample with three lines (1.2, 1.1, 1.0) and line 1.0's own backport on the private remote.
pub(crate) fn three_lines() -> Fixture {
    let f = Fixture::new();
    f.sample.add_line_1_2().expect("line 1.2");
    f.sample.add_backport().expect("the 1.0 backport");
    f
}

/// The sample pipeline releasing `lines`, with `fix` appended to its `fix:` section.
fn pipeline(f: &Fixture, lines: &str, fix: &str) -> std::path::PathBuf {
    f.default_pipeline_with(&[
        ("  line: \"1.0\"\n", &format!("  lines: {lines}\n")),
        ("  base: master\n", &format!("  base: master\n{fix}")),
    ])
}

/// [`pipeline`], publishing to GitHub like the sample.
pub(crate) fn github_pipeline(f: &Fixture, lines: &str, fix: &str) -> std::path::PathBuf {
    f.pipeline(&common::replace_once(
        embargo::sample::PIPELINE,
        &[
            ("  line: \"1.0\"\n", &format!("  lines: {lines}\n")),
            ("  base: master\n", &format!("  base: master\n{fix}")),
        ],
    ))
}

/// The refs of one of the sample's bare repositories, a name a line.
fn refnames(f: &Fixture, bare: &std::path::Path) -> String {
    f.git_in(bare, &["for-each-ref", "--format=%(refname)"])
}

/// [`three_lines`] releasing all three with the 1.0 backport, publishing to a fake GitHub.
pub(crate) fn three_lines_on_github() -> crate::world::World {
    let f = three_lines();
    let gh = crate::fake_github::FakeGitHub::start();
    let pipeline = github_pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    crate::world::World { f, gh, pipeline }
}

pub(crate) const BACKPORT: &str = "  per_line:\n    \"1.0\": security/CVE-2026-0001-1.0\n";

#[test]
fn plan_of_three_lines_resolves_each_line_with_its_own_fix() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    let run = f.embargo(&["plan", p]);
    run.expect(0);
    pin::output(&run);
    let out = &run.stdout;
    for (line, latest, next) in [
        ("1.2", "v1.2.0", "v1.2.1"),
        ("1.1", "v1.1.0", "v1.1.1"),
        ("1.0", "v1.0.1", "v1.0.2"),
    ] {
        assert!(
            out.contains(&format!("line {line:<11} {latest} ("))
                && out.contains(&format!("-> {}", &next[1..])),
            "{line}: {out}"
        );
    }
    // The oldest line is cut from its backport, the others from the fix.
    assert!(out.contains("backport to 1.0"), "{out}");
    assert_eq!(out.matches("yes, cleanly onto").count(), 3, "{out}");
    // One target, one line: release-1.0 gets 1.0's backport, master the fix.
    assert!(
        out.contains("release-1.0  line 1.0's fix: security/CVE-2026-0001-1.0"),
        "{out}"
    );
    assert!(
        out.contains("master       the fix: master..security/CVE-2026-0001 on the private"),
        "{out}"
    );

    let json = f.embargo(&["plan", p, "--json"]);
    let value = pin::json_named("plan-set", "plan_of_three_lines_json", &json);
    let lines = value["lines"].as_array().unwrap();
    for line in lines {
        pin::assert_valid("plan", line);
        assert_eq!(line["trial"]["result"], "applies");
    }
    let tags: Vec<&str> = lines.iter().map(|l| l["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["v1.2.1", "v1.1.1", "v1.0.2"]);
    // Only the newest line's patch is the highest release: the one `make_latest: auto` marks.
    let latest: Vec<bool> = lines
        .iter()
        .map(|l| l["highest_release"].as_bool().unwrap())
        .collect();
    assert_eq!(latest, [true, false, false]);
    // Each target once, across the lines.
    let mut targets: Vec<&str> = lines
        .iter()
        .flat_map(|l| l["targets"].as_array().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        ["master", "release-1.0", "release-1.1", "release-1.2"]
    );
    // The set's state folder is named after the newest tag and the count of the others.
    assert!(
        value["state_dir"]
            .as_str()
            .unwrap()
            .ends_with("embargo/security-release/v1.2.1+v1.1.1+v1.0.2"),
        "{value:#}"
    );
    // Nothing was written: no ref, no state folder.
    assert!(!f.work().join(".git/embargo").exists());
}

#[test]
fn the_backport_is_the_commits_no_public_ref_contains_from_the_tag_or_the_release_branch() {
    let f = three_lines();
    // A second backport started from line 1.1's release branch (not its tag), two commits.
    f.git(&["checkout", "-q", "-b", "backport-1.1", "origin/release-1.1"]);
    f.sample
        .commit(
            "Backport part 1",
            &[("auth.conf", "allow_anonymous = false\n")],
        )
        .unwrap();
    f.sample
        .commit("Backport part 2", &[("NOTICE", "fixed\n")])
        .unwrap();
    f.git(&[
        "push",
        "-q",
        "security",
        "backport-1.1:refs/heads/security/CVE-2026-0001-1.1",
    ]);
    f.git(&["checkout", "-q", "master"]);
    let p = pipeline(
        &f,
        r#"["1.2", "1.1", "1.0"]"#,
        &format!("{BACKPORT}    \"1.1\": security/CVE-2026-0001-1.1\n"),
    );
    let run = f.embargo(&["plan", p.to_str().unwrap(), "--json"]);
    let value = pin::json_named("plan-set", "backport_commits_json", &run);
    let subjects = |i: usize| -> Vec<String> {
        value["lines"][i]["fix_commits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["subject"].as_str().unwrap().to_string())
            .collect()
    };
    // From the release branch: only the two commits no public ref has, oldest first (not the
    // release branch's own "Prepare 1.1.1-rc.0", which is public).
    assert_eq!(subjects(1), ["Backport part 1", "Backport part 2"]);
    assert_eq!(
        subjects(2),
        ["Deny anonymous access by default (CVE-2026-0001, backport to 1.0)"]
    );
    assert_eq!(
        subjects(0),
        ["Deny anonymous access by default (CVE-2026-0001)"]
    );
}

#[test]
fn plan_names_the_line_whose_fix_conflicts_and_exits_1() {
    let f = three_lines();
    // Without its backport, line 1.0 gets the fix, which a release-1.0 change makes conflict.
    f.git(&["checkout", "-q", "-b", "conflict", "v1.0.1"]);
    f.sample
        .commit(
            "Rename the setting",
            &[(
                "auth.conf",
                "# authentication\nanonymous = yes\n\n# sessions (minutes)\nsession_timeout = 15\n",
            )],
        )
        .unwrap();
    f.git(&["tag", "-a", "v1.0.2", "-m", "v1.0.2"]);
    f.git(&["push", "-q", "origin", "refs/tags/v1.0.2"]);
    f.git(&["checkout", "-q", "master"]);
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, "");
    let run = f.embargo(&["plan", p.to_str().unwrap()]);
    run.expect(1);
    pin::output(&run);
    assert!(run.stdout.contains("NO: fix commit"), "{}", run.stdout);
    assert!(run.stdout.contains("in: auth.conf"), "{}", run.stdout);
    assert!(
        run.stderr.contains("line 1.0 (onto v1.0.2)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("fix.per_line"), "{}", run.stderr);
    // The trial wrote nothing: no object of a picked commit is in the clone.
    let before = f.git(&["count-objects", "-v"]);
    f.embargo(&["plan", p.to_str().unwrap()]).expect(1);
    assert_eq!(before, f.git(&["count-objects", "-v"]));
}

#[test]
fn supported_n_takes_the_newest_lines_with_a_final_release() {
    let f = three_lines();
    // 1.1 has a pre-release only above v1.1.0; a line with only a pre-release does not count.
    f.git(&["tag", "-a", "v1.3.0-rc.0", "-m", "rc", "origin/release-1.2"]);
    f.git(&["push", "-q", "origin", "refs/tags/v1.3.0-rc.0"]);
    let p = pipeline(&f, "{supported: 2}", "");
    let run = f.embargo(&["plan", p.to_str().unwrap(), "--json"]);
    let value = pin::json_named("plan-set", "supported_json", &run);
    let lines: Vec<&str> = value["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["1.2", "1.1"]);

    let p = pipeline(&f, "{supported: 4}", "");
    let run = f.embargo(&["plan", p.to_str().unwrap()]);
    run.expect(2);
    pin::error(&run);
    assert!(
        run.stderr.contains("on 3 line(s) only (1.2, 1.1, 1.0)"),
        "{}",
        run.stderr
    );
}

#[test]
fn line_narrows_a_release_of_several_lines_to_one_with_that_lines_fix() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    let run = f.embargo(&["plan", p, "--line", "1.0", "--json"]);
    let value = pin::json_named("plan", "narrowed_json", &run);
    assert_eq!(value["tag"], "v1.0.2");
    assert_eq!(
        value["fix_commits"][0]["subject"],
        "Deny anonymous access by default (CVE-2026-0001, backport to 1.0)"
    );
    // A line the pipeline does not release is refused, by name.
    let run = f.embargo(&["plan", p, "--line", "1.3"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("--line 1.3: not one of the lines the pipeline releases (1.2, 1.1, 1.0)"),
        "{}",
        run.stderr
    );
    let s = pipeline(&f, "{supported: 2}", "");
    let run = f.embargo(&["plan", s.to_str().unwrap(), "--line", "1.0"]);
    run.expect(2);
    assert!(
        run.stderr.contains("not one of the 2 supported lines"),
        "{}",
        run.stderr
    );
    // Commands that work on one line refuse a set rather than quietly take its newest line.
    let run = f.embargo(&["team", p]);
    run.expect(2);
    assert!(run.stderr.contains("pass --line"), "{}", run.stderr);
}

#[test]
fn lines_and_per_line_mistakes_are_located() {
    let f = Fixture::new();
    for (lines, fix, expected) in [
        (
            r#"["1.2", "1.2"]"#,
            "",
            "versioning.lines: 1.2 is named twice",
        ),
        (r#"[]"#, "", "versioning.lines: the list is empty"),
        (
            r#"["1.2", "latest"]"#,
            "",
            "versioning.lines: `latest` is not a line here",
        ),
        (
            r#"["1.x"]"#,
            "",
            "versioning.lines: `1.x` is not a release line",
        ),
        (
            "{supported: 0}",
            "",
            "versioning.lines.supported: 0 is not a number of lines",
        ),
        ("{newest: 2}", "", "unknown field `newest`"),
        (
            r#"["1.1", "1.0"]"#,
            "  per_line:\n    \"1.7\": security/x\n",
            "fix.per_line: 1.7 is not one of the lines the pipeline releases (1.1, 1.0)",
        ),
        (
            r#"["1.1", "1.0"]"#,
            "  per_line:\n    one: security/x\n",
            "fix.per_line: `one` is not a release line",
        ),
        (
            r#"["1.1", "1.0"]"#,
            "  per_line:\n    \"1.0\": [xyz]\n",
            "fix.per_line.\"1.0\": `xyz` is not a commit id",
        ),
        (
            r#"["1.1", "1.0"]"#,
            "  per_line:\n    \"1.0\": \"-bad\"\n",
            "fix.per_line.\"1.0\"",
        ),
    ] {
        let p = pipeline(&f, lines, fix);
        let run = f.embargo(&["check", p.to_str().unwrap()]);
        run.expect(2);
        assert!(
            run.stderr.contains(expected) && run.stderr.contains("security-release.yaml:"),
            "{lines} {fix}: expected `{expected}` with its place, got:\n{}",
            run.stderr
        );
    }
    // `line` and `lines` together: the error points at `line`.
    let p =
        f.default_pipeline_with(&[("  line: \"1.0\"\n", "  line: \"1.0\"\n  lines: [\"1.0\"]\n")]);
    let run = f.embargo(&["check", p.to_str().unwrap()]);
    run.expect(2);
    let text = std::fs::read_to_string(&p).unwrap();
    let (line, column) = common::position(&text, "\"1.0\"\n  lines");
    assert!(
        run.stderr.contains(&format!(
            "security-release.yaml:{line}:{column}: versioning: give `line`"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dry_run_of_three_lines_builds_each_line_and_prints_one_push_to_each_remote() {
    let f = three_lines();
    let p = github_pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    let run = f.embargo(&["run", p, "--dry-run"]);
    run.expect(0);
    pin::output(&run);
    let out = &run.stdout;
    // One push to the private remote and one to the public, each with every line's refs.
    assert_eq!(
        out.matches("git push --atomic --porcelain").count(),
        2,
        "{out}"
    );
    for r in ["refs/tags/v1.2.1", "refs/tags/v1.1.1", "refs/tags/v1.0.2"] {
        assert_eq!(out.matches(&format!(":{r}")).count(), 2, "{r}: {out}");
    }
    // One pick branch per target, from the right line.
    for b in [
        "cherry-pick/v1.2.1/release-1.2",
        "cherry-pick/v1.1.1/release-1.1",
        "cherry-pick/v1.0.2/release-1.0",
    ] {
        assert_eq!(
            out.matches(&format!(":refs/heads/{b}")).count(),
            2,
            "{b}: {out}"
        );
    }
    assert!(!out.contains("cherry-pick/v1.1.1/release-1.2"), "{out}");
    // Three drafts, three releases published, only the newest as latest, and it last.
    assert_eq!(out.matches("draft=true").count(), 3, "{out}");
    let published: Vec<&str> = out.lines().filter(|l| l.contains("draft=false")).collect();
    assert_eq!(published.len(), 3, "{out}");
    assert!(published[2].contains("make_latest=true"), "{out}");
    assert!(
        published[..2]
            .iter()
            .all(|l| l.contains("make_latest=false")),
        "{out}"
    );
    // Nothing written to the clone or the remotes.
    assert!(!f.work().join(".git/embargo").exists());
    assert!(f.git(&["tag", "-l", "v1.2.1"]).is_empty());
}

/// A `git` first on PATH that logs the arguments of every `git push` (one line each), then runs
/// the real git. (A pre-receive hook cannot tell: embargo pushes to a local remote with its hooks
/// off, so that nothing in it runs code.)
fn log_pushes(f: &Fixture) -> (std::path::PathBuf, String) {
    let log = f.sample.root.join("pushes.log");
    let path = common::wrap_git(
        &f.sample.root.join("bin"),
        &format!(
            "for a in \"$@\"; do [ \"$a\" = push ] && echo \"$*\" >> '{}' && break; done\nexec \"$real\" \"$@\"",
            log.display()
        ),
    );
    (log, path)
}

#[test]
fn staging_three_lines_pushes_every_lines_refs_in_one_push_and_drafts_a_release_per_line() {
    let w = three_lines_on_github();
    let (pushes, path) = log_pushes(&w.f);
    let run = w.embargo_env(&["run", w.p()], &[("PATH", &path)]);
    run.expect(0);
    // What it says on stdout (the progress on stderr has uploads in parallel).
    pin::text("staging_three_lines_stdout", &run.stdout);

    // One push to the private remote, with the patch branch, tag and pick of every line.
    let log = std::fs::read_to_string(&pushes).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    // To the private remote's URL (no remote-tracking ref updated).
    let private_url = w.f.git(&["remote", "get-url", "--push", "security"]);
    assert!(
        log.contains(&format!(" receive-pack {} ", private_url.trim())),
        "{log}"
    );
    let private = refnames(&w.f, &w.f.sample.private);
    for r in [
        "refs/heads/v1.2.1",
        "refs/tags/v1.2.1",
        "refs/heads/cherry-pick/v1.2.1/release-1.2",
        "refs/heads/v1.1.1",
        "refs/tags/v1.1.1",
        "refs/heads/cherry-pick/v1.1.1/release-1.1",
        "refs/heads/v1.0.2",
        "refs/tags/v1.0.2",
        "refs/heads/cherry-pick/v1.0.2/release-1.0",
    ] {
        assert!(private.lines().any(|l| l == r), "{r}: {private}");
    }
    // Nothing on the public remote.
    let public = refnames(&w.f, &w.f.sample.public);
    assert!(
        !public.contains("v1.2.1") && !public.contains("cherry-pick"),
        "{public}"
    );
    // Each tag is its previous tag + its own fix, as `git cherry-pick -x` makes it.
    for (tag, previous, fix) in [
        ("v1.2.1", "v1.2.0", "security/CVE-2026-0001"),
        ("v1.1.1", "v1.1.0", "security/CVE-2026-0001"),
        ("v1.0.2", "v1.0.1", "security/CVE-2026-0001-1.0"),
    ] {
        let private = w.f.sample.private.to_str().unwrap().to_string();
        w.f.git(&[
            "fetch",
            "-q",
            &private,
            &format!("refs/heads/{fix}:refs/remotes/fix/{tag}"),
        ]);
        w.f.git(&["checkout", "-q", "--detach", previous]);
        w.f.git(&["cherry-pick", "-x", &format!("refs/remotes/fix/{tag}")]);
        let expected = w.f.git(&["rev-parse", "HEAD^{tree}"]);
        w.f.git(&["checkout", "-q", "master"]);
        assert_eq!(
            w.f.git(&["rev-parse", &format!("{tag}^{{tree}}")]),
            expected,
            "{tag} = {previous} + {fix}"
        );
        assert_eq!(
            w.f.git(&["rev-parse", &format!("{tag}^{{commit}}^")]),
            w.f.git(&["rev-parse", &format!("{previous}^{{commit}}")]),
            "{tag} sits right on {previous}"
        );
    }
    // A draft per line, each with its own line's assets, only the newest to become latest.
    let drafts = w.gh.releases();
    let mut tags: Vec<(&str, bool, Option<&str>)> = drafts
        .iter()
        .map(|r| (r.tag_name.as_str(), r.draft, r.make_latest.as_deref()))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        [
            ("v1.0.2", true, Some("false")),
            ("v1.1.1", true, Some("false")),
            ("v1.2.1", true, Some("true")),
        ]
    );
    // Every line's state in a folder of its own inside the set's, and `status` shows each.
    let set =
        w.f.work()
            .join(".git/embargo/security-release/v1.2.1+v1.1.1+v1.0.2");
    for tag in ["v1.2.1", "v1.1.1", "v1.0.2"] {
        assert!(set.join(tag).join("journal.jsonl").is_file(), "{tag}");
    }
    let status = w.embargo(&["status", w.p()]);
    status.expect(0);
    for tag in ["v1.2.1", "v1.1.1", "v1.0.2"] {
        assert!(status.stdout.contains(tag), "{tag}: {}", status.stdout);
    }
    assert_eq!(
        status
            .stdout
            .matches("part of      the release of v1.2.1, v1.1.1, v1.0.2")
            .count(),
        3,
        "{}",
        status.stdout
    );
    // A second run resumes: nothing is pushed again, no second draft.
    w.embargo_env(&["run", w.p()], &[("PATH", &path)]).expect(0);
    assert_eq!(std::fs::read_to_string(&pushes).unwrap().lines().count(), 1);
    assert_eq!(w.gh.releases().len(), 3);
}

/// Three lines staged for `--embargo now` (publishable at once), pushes logged.
fn staged_three_lines() -> (crate::world::World, std::path::PathBuf, String) {
    let w = three_lines_on_github();
    let (pushes, path) = log_pushes(&w.f);
    w.embargo_env(&["run", w.p(), "--embargo", "now"], &[("PATH", &path)])
        .expect(0);
    (w, pushes, path)
}

#[test]
fn publishing_three_lines_is_one_public_push_then_every_release_the_newest_last() {
    let (w, pushes, path) = staged_three_lines();
    let dry = w.embargo(&["publish", w.p(), "--dry-run"]);
    dry.expect(0);
    assert_eq!(
        dry.stdout.matches("git push --atomic").count(),
        1,
        "{}",
        dry.stdout
    );
    let run = w.embargo_env(&["publish", w.p(), "--if-due"], &[("PATH", &path)]);
    run.expect(0);
    pin::text("publishing_three_lines_stdout", &run.stdout);

    // One push to the public remote with every line's refs, the private push before it.
    let log = std::fs::read_to_string(&pushes).unwrap();
    let public: Vec<&str> = log
        .lines()
        .filter(|l| {
            let url = w.f.git(&["remote", "get-url", "--push", "origin"]);
            l.contains(&format!(" receive-pack {} ", url.trim()))
        })
        .collect();
    assert_eq!(public.len(), 1, "{log}");
    for r in [
        "refs/tags/v1.2.1",
        "refs/tags/v1.1.1",
        "refs/tags/v1.0.2",
        "refs/heads/cherry-pick/v1.2.1/release-1.2",
        "refs/heads/cherry-pick/v1.1.1/release-1.1",
        "refs/heads/cherry-pick/v1.0.2/release-1.0",
    ] {
        // Public after the one public push: it carried them.
        assert!(
            !w.f.git_in(&w.f.sample.public, &["rev-parse", "--verify", "-q", r])
                .is_empty(),
            "{r} is public"
        );
    }
    // Three releases published, only the highest as latest, and it last.
    let patches: Vec<(String, Option<String>)> =
        w.gh.requests_for("PATCH /repos/{owner}/{repo}/releases/{release_id}")
            .iter()
            .filter_map(|r| r.json.clone())
            .filter(|b| b["draft"] == false)
            .map(|b| (b["make_latest"].as_str().unwrap_or("").to_string(), None))
            .collect();
    assert_eq!(
        patches.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
        ["false", "false", "true"],
        "{patches:?}"
    );
    // Every release public before any line's pull requests and read-back: each GitHub call takes
    // a fraction of a second, and the last line's release must not wait for the others' calls.
    let publishing: Vec<std::time::Instant> =
        w.gh.requests_for("PATCH /repos/{owner}/{repo}/releases/{release_id}")
            .iter()
            .filter(|r| r.json.as_ref().is_some_and(|b| b["draft"] == false))
            .map(|r| r.arrived_at)
            .collect();
    let (first, last) = (publishing[0], publishing[publishing.len() - 1]);
    let between: Vec<String> =
        w.gh.requests()
            .iter()
            .filter(|r| r.arrived_at > first && r.arrived_at < last)
            .filter_map(|r| r.operation.clone())
            .filter(|o| !o.starts_with("PATCH"))
            .collect();
    assert!(
        between.is_empty(),
        "between the first and the last release made public: {between:?}"
    );
    let mut releases: Vec<(String, bool)> =
        w.gh.releases()
            .iter()
            .map(|r| (r.tag_name.clone(), r.draft))
            .collect();
    releases.sort();
    assert_eq!(
        releases,
        [
            ("v1.0.2".to_string(), false),
            ("v1.1.1".to_string(), false),
            ("v1.2.1".to_string(), false)
        ]
    );
    // One pull request per target, never one per line.
    let mut pulls: Vec<(String, String)> =
        w.gh.pulls()
            .iter()
            .map(|p| (p.base.clone(), p.head_ref.clone()))
            .collect();
    pulls.sort();
    assert_eq!(
        pulls,
        [
            (
                "release-1.0".into(),
                "cherry-pick/v1.0.2/release-1.0".into()
            ),
            (
                "release-1.1".into(),
                "cherry-pick/v1.1.1/release-1.1".into()
            ),
            (
                "release-1.2".into(),
                "cherry-pick/v1.2.1/release-1.2".into()
            ),
        ]
    );
    w.no_violations();
    // Every line says it is published; a second publish does nothing more.
    let again = w.embargo_env(&["publish", w.p(), "--if-due"], &[("PATH", &path)]);
    again.expect(0);
    assert_eq!(
        std::fs::read_to_string(&pushes).unwrap().lines().count(),
        2,
        "{}",
        again.all()
    );
}

#[test]
fn two_lines_that_would_share_a_patch_branch_are_refused_before_anything() {
    let f = three_lines();
    let p = f.default_pipeline_with(&[
        ("  line: \"1.0\"\n", "  lines: [\"1.2\", \"1.1\"]\n"),
        ("  branch: \"{tag}\"\n", "  branch: \"security-release\"\n"),
    ]);
    let text = std::fs::read_to_string(&p).unwrap();
    let (line, column) = common::position(&text, "\"security-release\"\n");
    for command in ["check", "plan", "run"] {
        let run = f.embargo(&[command, p.to_str().unwrap()]);
        run.expect(2);
        assert!(
            run.stderr.contains(&format!(
                "security-release.yaml:{line}:{column}: versioning.branch: `security-release` gives every line the same patch branch"
            )),
            "{command}: {}",
            run.stderr
        );
    }
    assert!(!f.work().join(".git/embargo").exists());
}

#[test]
fn reschedule_and_abort_work_on_every_line_of_the_release() {
    let w = three_lines_on_github();
    w.embargo(&["run", w.p()]).expect(0);
    // Not due: the pipeline's instant is years away.
    let early = w.embargo(&["publish", w.p()]);
    early.expect(2);
    assert!(
        early.stderr.contains("it is not time to publish"),
        "{}",
        early.stderr
    );
    // Moved for every line at once, to one instant, and then due.
    let moved = w.embargo(&["reschedule", w.p(), "--embargo", "now", "--earlier"]);
    moved.expect(0);
    assert_eq!(
        moved.stdout.matches("the embargo moved").count(),
        3,
        "{}",
        moved.stdout
    );
    // With --json: one document, an outcome per line.
    let json = pin::json_named(
        "reschedule",
        "reschedule_three_lines_json",
        &w.embargo(&[
            "reschedule",
            w.p(),
            "--embargo",
            "2036-12-02 16:00 UTC",
            "--json",
        ]),
    );
    assert_eq!(json["outcome"], "rescheduled");
    let tags: Vec<&str> = json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags.len(), 3, "{json}");
    w.embargo(&["reschedule", w.p(), "--embargo", "now", "--earlier"])
        .expect(0);
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    assert!(w.gh.releases().iter().all(|r| !r.draft));

    // A second set, staged and taken back: every line's private refs and draft go.
    let w = three_lines_on_github();
    w.embargo(&["run", w.p()]).expect(0);
    let aborted = w.embargo(&["abort", w.p(), "--json"]);
    let json = pin::json_named("abort", "abort_three_lines_json", &aborted);
    assert_eq!(json["outcome"], "aborted");
    assert_eq!(json["lines"].as_array().map(Vec::len), Some(3), "{json}");
    let private = refnames(&w.f, &w.f.sample.private);
    for gone in [
        "refs/tags/v1.2.1\n",
        "refs/tags/v1.1.1\n",
        "refs/tags/v1.0.2\n",
        "refs/heads/v1.2.1\n",
        "cherry-pick",
    ] {
        assert!(!private.contains(gone), "{gone}: {private}");
    }
    assert!(w.gh.releases().is_empty(), "{:?}", w.gh.releases());
    // Nothing left to publish.
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    assert!(w.gh.releases().is_empty());
}

/// Refused because a line of a release of several lines is never acted on alone: named as the
/// line of its release, or, with `--line`, as published with the others.
fn refused_as_one_line(stderr: &str) -> bool {
    stderr.contains("is one line of the release of several lines v1.2.1, v1.1.1, v1.0.2")
        || stderr.contains("it is published with the others")
}

/// `run --embargo now` of the three lines, then the state folder of the set and of line 1.0.
fn set_dirs(w: &crate::world::World) -> (std::path::PathBuf, std::path::PathBuf) {
    let set =
        w.f.work()
            .join(".git/embargo/security-release/v1.2.1+v1.1.1+v1.0.2");
    let line = set.join("v1.0.2");
    (set, line)
}

#[test]
fn one_line_of_a_release_is_never_published_rescheduled_or_taken_back_alone() {
    let w = three_lines_on_github();
    w.embargo(&["run", w.p()]).expect(0);
    let (set, line) = set_dirs(&w);
    let l = line.to_str().unwrap();
    for args in [
        vec![
            "reschedule",
            w.p(),
            "--state-dir",
            l,
            "--embargo",
            "now",
            "--earlier",
        ],
        vec![
            "publish",
            w.p(),
            "--line",
            "1.0",
            "--state-dir",
            l,
            "--if-due",
            "--keep-staged",
        ],
        vec!["publish", w.p(), "--state-dir", l, "--if-due"],
        vec!["abort", w.p(), "--state-dir", l],
    ] {
        let run = w.embargo(&args);
        run.expect(2);
        assert!(refused_as_one_line(&run.stderr), "{args:?}: {}", run.stderr);
    }
    pin::error(&w.embargo(&[
        "publish",
        w.p(),
        "--line",
        "1.0",
        "--state-dir",
        l,
        "--if-due",
    ]));
    // Nothing moved, nothing public.
    let public = refnames(&w.f, &w.f.sample.public);
    assert!(
        !public.contains("v1.0.2") && !public.contains("cherry-pick"),
        "{public}"
    );
    assert!(w.gh.releases().iter().all(|r| r.draft));
    let status = w.embargo(&["status", w.p()]);
    assert!(
        !status.stdout.contains("reschedule   completed"),
        "{}",
        status.stdout
    );
    // A line's folder lost between CI jobs: the others are not published without it.
    w.embargo(&["reschedule", w.p(), "--embargo", "now", "--earlier"])
        .expect(0);
    let away = w.f.sample.root.join("v1.1.1-away");
    std::fs::rename(set.join("v1.1.1"), &away).unwrap();
    let run = w.embargo(&["publish", w.p(), "--if-due"]);
    run.expect(2);
    assert!(
        run.stderr.contains("v1.1.1 is a line of the release in"),
        "{}",
        run.stderr
    );
    let public = refnames(&w.f, &w.f.sample.public);
    assert!(
        !public.contains("v1.2.1") && !public.contains("v1.0.2"),
        "{public}"
    );
    // Back in place: all three at once.
    std::fs::rename(&away, set.join("v1.1.1")).unwrap();
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    assert!(w.gh.releases().iter().all(|r| !r.draft));
    // And a run after that says the fix is out, exit 0.
    let again = w.embargo(&["run", w.p()]);
    again.expect(0);
    assert!(
        again
            .stdout
            .contains("the fix is already released in v1.2.1, v1.1.1, v1.0.2"),
        "{}",
        again.all()
    );
}

#[test]
fn lines_staged_by_a_rerun_take_the_instant_the_first_lines_were_staged_for() {
    let w = three_lines_on_github();
    // Killed once the first line is staged, for now; the rerun gives no --embargo (the pipeline
    // says 2036): the other lines are staged for the first line's instant all the same.
    let first = w.embargo_env(
        &["run", w.p(), "--embargo", "now"],
        &[("EMBARGO_TEST_CRASH_AT", "stage:completed")],
    );
    assert_eq!(first.code, -1, "{}", first.all());
    w.embargo(&["run", w.p()]).expect(0);
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    assert!(
        w.gh.releases().iter().all(|r| !r.draft),
        "{:?}",
        w.gh.releases()
    );
}

#[test]
fn two_sets_of_as_many_lines_have_folders_of_their_own() {
    let f = three_lines();
    let first = pipeline(&f, r#"["1.2", "1.1"]"#, "");
    f.embargo(&["run", first.to_str().unwrap()]).expect(0);
    let second = pipeline(&f, r#"["1.2", "1.0"]"#, BACKPORT);
    let run = f.embargo(&["plan", second.to_str().unwrap(), "--json"]);
    run.expect(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        value["state_dir"]
            .as_str()
            .unwrap()
            .ends_with("/v1.2.1+v1.0.2"),
        "{value:#}"
    );
}

#[test]
fn a_backport_for_a_line_the_supported_lines_leave_out_is_refused() {
    let f = three_lines();
    let p = pipeline(&f, "{supported: 2}", BACKPORT);
    let run = f.embargo(&["plan", p.to_str().unwrap()]);
    run.expect(2);
    assert!(
        run.stderr.contains(
            "fix.per_line has a backport for line 1.0, which this release does not include (lines: 1.2, 1.1)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn one_advisory_for_three_lines_lists_each_patched_version_and_is_published_after_every_release() {
    let f = three_lines();
    let gh = crate::fake_github::FakeGitHub::start();
    f.pipeline_named(
        "advisory.yaml",
        &crate::common::ADVISORY.replace("cve_id: CVE-2026-0001", "cve_id: null"),
    );
    let text = common::replace_once(
        embargo::sample::PIPELINE,
        &[
            (
                "  line: \"1.0\"\n",
                "  lines: [\"1.2\", \"1.1\", \"1.0\"]\n",
            ),
            ("  base: master\n", &format!("  base: master\n{BACKPORT}")),
        ],
    );
    let pipeline = f.pipeline(&format!("{text}\nadvisory: advisory.yaml\n"));
    let w = crate::world::World { f, gh, pipeline };
    let plan = w.embargo(&["plan", w.p()]);
    plan.expect(0);
    pin::output(&plan);
    for range in [
        ">= 1.2.0, < 1.2.1",
        ">= 1.1.0, < 1.1.1",
        ">= 1.0.0, < 1.0.2",
    ] {
        assert!(plan.stdout.contains(range), "{range}: {}", plan.stdout);
    }
    let dry = w.embargo(&["run", w.p(), "--dry-run"]);
    dry.expect(0);
    assert_eq!(
        dry.stdout.matches("security-advisories  summary=").count(),
        1,
        "{}",
        dry.stdout
    );
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    // One draft advisory, for every line.
    let advisories = w.gh.advisories();
    assert_eq!(advisories.len(), 1, "{advisories:?}");
    assert_eq!(advisories[0].state, "draft");
    let patched: Vec<String> = advisories[0]
        .vulnerabilities
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["patched_versions"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        patched,
        ["1.2.1", "1.1.1", "1.0.2"],
        "{:#}",
        advisories[0].vulnerabilities
    );

    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    assert_eq!(w.gh.advisories()[0].state, "published");
    // Published after the three releases, never before the last.
    let order: Vec<String> =
        w.gh.requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .filter_map(|r| {
                let body = r.json.as_ref()?;
                if body.get("draft") == Some(&serde_json::Value::Bool(false)) {
                    Some("release".to_string())
                } else if body.get("state").and_then(|s| s.as_str()) == Some("published") {
                    Some("advisory".to_string())
                } else {
                    None
                }
            })
            .collect();
    assert_eq!(order, ["release", "release", "release", "advisory"]);
    // Its OSV record, on the newest release, fixes each line at that line's release commit.
    let set =
        w.f.work()
            .join(".git/embargo/security-release/v1.2.1+v1.1.1+v1.0.2");
    let osv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.join("v1.2.1/osv.json")).unwrap())
            .unwrap();
    for tag in ["v1.2.1", "v1.1.1", "v1.0.2"] {
        let commit = w.f.git(&["rev-parse", &format!("{tag}^{{commit}}")]);
        assert!(
            osv.to_string()
                .contains(&format!("{{\"fixed\":\"{commit}\"}}")),
            "{tag} {commit}: {osv:#}"
        );
    }
    let newest = w.gh.releases_with_tag("v1.2.1");
    assert!(newest[0].asset("osv.json").is_some());
    w.no_violations();
}

#[test]
fn a_line_s_folder_by_any_other_path_or_copy_is_still_one_line_of_the_release() {
    let w = three_lines_on_github();
    w.embargo(&["run", w.p()]).expect(0);
    let (set, _) = set_dirs(&w);
    let dotted = format!("{}/v1.1.1/../v1.0.2", set.display());
    let link = w.f.sample.root.join("link");
    std::os::unix::fs::symlink(set.join("v1.0.2"), &link).unwrap();
    let copy = w.f.sample.root.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::process::Command::new("cp")
        .args([
            "-a",
            set.join("v1.0.2").to_str().unwrap(),
            copy.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    let copied = copy.join("v1.0.2");
    for dir in [
        dotted.as_str(),
        link.to_str().unwrap(),
        copied.to_str().unwrap(),
    ] {
        for args in [
            vec![
                "reschedule",
                w.p(),
                "--state-dir",
                dir,
                "--embargo",
                "now",
                "--earlier",
            ],
            vec![
                "publish",
                w.p(),
                "--line",
                "1.0",
                "--state-dir",
                dir,
                "--if-due",
                "--keep-staged",
            ],
            vec!["abort", w.p(), "--state-dir", dir],
        ] {
            let run = w.embargo(&args);
            run.expect(2);
            assert!(refused_as_one_line(&run.stderr), "{args:?}: {}", run.stderr);
        }
    }
    // Two of its lines copied into a folder of their own, the pipeline cut down to match:
    // still not a release of two lines.
    let fake = w.f.sample.root.join("fake/v1.2.1+v1.1.1");
    std::fs::create_dir_all(&fake).unwrap();
    for tag in ["v1.2.1", "v1.1.1"] {
        std::process::Command::new("cp")
            .args([
                "-a",
                set.join(tag).to_str().unwrap(),
                fake.to_str().unwrap(),
            ])
            .status()
            .unwrap();
    }
    let two = github_pipeline(&w.f, r#"["1.2", "1.1"]"#, "");
    w.embargo(&["reschedule", w.p(), "--embargo", "now", "--earlier"])
        .expect(0);
    let run = w.embargo(&[
        "publish",
        two.to_str().unwrap(),
        "--state-dir",
        fake.to_str().unwrap(),
        "--if-due",
        "--keep-staged",
    ]);
    assert_ne!(run.code, 0, "{}", run.all());
    let public = refnames(&w.f, &w.f.sample.public);
    assert!(
        !public.contains("refs/tags/v1.2.1") && !public.contains("refs/tags/v1.0.2"),
        "{public}"
    );
}

#[test]
fn a_run_of_a_staged_release_with_another_instant_is_refused_naming_both() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    f.embargo(&["run", p]).expect(0);
    for other in ["now", "2030-01-01 00:00 UTC"] {
        let run = f.embargo(&["run", p, "--embargo", other]);
        run.expect(2);
        assert!(
            run.stderr.contains("2036-12-01 16:00"),
            "{other}: {}",
            run.stderr
        );
    }
}

#[test]
fn istio_s_names_publish_and_publish_again_without_taking_patch_branches_for_targets() {
    // Patch branches `release-1.2.1` beside release branches `release-1.2`, all matched by
    // `release-*`: a published patch branch is not a target the next time round.
    let f = three_lines();
    let gh = crate::fake_github::FakeGitHub::start();
    let pipeline = f.pipeline(&common::replace_once(
        embargo::sample::PIPELINE,
        &[
            (
                "  line: \"1.0\"\n",
                "  lines: [\"1.2\", \"1.1\", \"1.0\"]\n",
            ),
            ("  branch: \"{tag}\"\n", "  branch: \"release-{version}\"\n"),
            ("  base: master\n", &format!("  base: master\n{BACKPORT}")),
        ],
    ));
    let w = crate::world::World { f, gh, pipeline };
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    // Killed right after the public push: the rerun finishes every line.
    let killed = w.embargo_env(
        &["publish", w.p(), "--if-due"],
        &[("EMBARGO_TEST_CRASH_AT", "publish:after-public-push")],
    );
    assert_eq!(killed.code, -1, "{}", killed.all());
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    assert!(w.gh.releases().iter().all(|r| !r.draft));
    let again = w.embargo(&["publish", w.p(), "--if-due"]);
    again.expect(0);
    assert!(
        again.stdout.contains("were already published"),
        "{}",
        again.all()
    );
    w.embargo(&["run", w.p()]).expect(0);
}

#[test]
fn a_line_released_alone_waits_for_no_release_of_all_lines_and_is_published_without_line() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    // Beside a release of all lines under way, no line goes alone.
    let killed = f.embargo_env(
        &["run", p],
        &[("EMBARGO_TEST_CRASH_AT", "cherry-pick:completed")],
    );
    assert_eq!(killed.code, -1, "{}", killed.all());
    let alone = f.embargo(&["run", p, "--line", "1.0", "--embargo", "now"]);
    alone.expect(2);
    assert!(alone.stderr.contains("is under way"), "{}", alone.stderr);
    f.embargo(&["abort", p]).expect(0);
    // Once it is taken back, a line may go alone, and a publish job that gives no line (as the
    // generated workflow's do) publishes it.
    f.embargo(&["run", p, "--line", "1.0", "--embargo", "now"])
        .expect(0);
    let published = f.embargo(&["publish", p, "--if-due"]);
    published.expect(0);
    assert!(
        published.stdout.contains("release v1.0.2 is public"),
        "{}",
        published.all()
    );
}

#[test]
fn a_line_without_its_release_set_file_is_still_known_by_its_contract() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    f.embargo(&["run", p]).expect(0);
    let set = f
        .work()
        .join(".git/embargo/security-release/v1.2.1+v1.1.1+v1.0.2");
    let line = set.join("v1.0.2");
    std::fs::remove_file(line.join("release-set")).unwrap();
    let l = line.to_str().unwrap();
    for args in [
        vec![
            "reschedule",
            p,
            "--state-dir",
            l,
            "--embargo",
            "now",
            "--earlier",
        ],
        vec![
            "publish",
            p,
            "--line",
            "1.0",
            "--state-dir",
            l,
            "--if-due",
            "--keep-staged",
        ],
        vec!["abort", p, "--state-dir", l],
    ] {
        let run = f.embargo(&args);
        run.expect(2);
        assert!(refused_as_one_line(&run.stderr), "{args:?}: {}", run.stderr);
    }
    // Nor is one line published with --line beside the release under way.
    let run = f.embargo(&["publish", p, "--line", "1.0", "--if-due"]);
    run.expect(2);
    assert!(
        run.stderr.contains("it is published with the others"),
        "{}",
        run.stderr
    );
    let public = refnames(&f, &f.sample.public);
    assert!(!public.contains("v1.0.2"), "{public}");
}

#[test]
fn a_release_public_after_a_crash_is_not_rescheduled_but_finished() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    f.embargo(&["run", p, "--embargo", "now"]).expect(0);
    let killed = f.embargo_env(
        &["publish", p, "--if-due"],
        &[("EMBARGO_TEST_CRASH_AT", "publish:after-public-push")],
    );
    assert_eq!(killed.code, -1, "{}", killed.all());
    let later = f.embargo(&["reschedule", p, "--embargo", "2040-01-01 00:00 UTC"]);
    later.expect(2);
    assert!(
        later.stderr.contains("the release is public"),
        "{}",
        later.stderr
    );
    let done = f.embargo(&["publish", p, "--if-due"]);
    done.expect(0);
    assert_eq!(
        done.stdout.matches("is public").count(),
        3,
        "{}",
        done.all()
    );
}

#[test]
fn an_abort_cut_short_is_finished_by_the_next_abort() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    f.embargo(&["run", p]).expect(0);
    let killed = f.embargo_env(
        &["abort", p],
        &[("EMBARGO_TEST_CRASH_AT", "abort:after-private-delete")],
    );
    assert_eq!(killed.code, -1, "{}", killed.all());
    // Meanwhile no line goes alone.
    let alone = f.embargo(&["run", p, "--line", "1.2", "--embargo", "now"]);
    alone.expect(2);
    f.embargo(&["abort", p]).expect(0);
    let private = refnames(&f, &f.sample.private);
    for gone in [
        "refs/tags/v1.2.1\n",
        "refs/tags/v1.1.1\n",
        "refs/tags/v1.0.2\n",
        "cherry-pick",
    ] {
        assert!(!private.contains(gone), "{gone}: {private}");
    }
    // And the release can be cut again.
    f.embargo(&["run", p]).expect(0);
}

#[test]
fn a_list_of_one_line_is_that_line_s_release() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.0"]"#, BACKPORT);
    let run = f.embargo(&["run", p.to_str().unwrap()]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("release v1.0.2 frozen and staged privately"),
        "{}",
        run.all()
    );
    assert!(f.state_dir("v1.0.2").join("journal.jsonl").is_file());
}

#[test]
fn a_frozen_tag_of_one_line_moved_before_the_instant_keeps_every_line_private() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    f.embargo(&["run", p, "--embargo", "now"]).expect(0);
    // Hooks off: the freeze hook is a guard rail, the proof before the push is the guarantee.
    f.git(&[
        "-c",
        "core.hooksPath=/dev/null",
        "tag",
        "-f",
        "v1.1.1",
        "master",
    ]);
    let run = f.embargo(&["publish", p, "--if-due"]);
    run.expect(3);
    assert!(run.stderr.contains("v1.1.1"), "{}", run.stderr);
    let public = refnames(&f, &f.sample.public);
    for tag in [
        "refs/tags/v1.2.1\n",
        "refs/tags/v1.1.1\n",
        "refs/tags/v1.0.2\n",
    ] {
        assert!(!public.contains(tag), "{tag}: {public}");
    }
}

#[test]
fn lines_run_at_once_with_jobs_stage_what_one_after_the_other_stages() {
    let staged = |jobs: &str| {
        let f = three_lines();
        let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
        let run = f.embargo(&["run", p.to_str().unwrap(), "--jobs", jobs]);
        run.expect(0);
        let private = f.git_in(
            &f.sample.private,
            &["for-each-ref", "--format=%(objectname) %(refname)"],
        );
        let mut frozen: Vec<String> =
            std::fs::read_to_string(f.work().join(".git/embargo/frozen-refs"))
                .unwrap()
                .lines()
                .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
                .collect();
        frozen.sort();
        (private, frozen)
    };
    let (one_by_one, frozen_one) = staged("1");
    let (at_once, frozen_all) = staged("3");
    assert_eq!(at_once, one_by_one);
    // Every line's branch and tag frozen, none lost to another line's freeze at the same time.
    assert_eq!(frozen_all.len(), 6, "{frozen_all:?}");
    assert_eq!(frozen_all, frozen_one);
    let f = Fixture::new();
    let run = f.embargo(&["run", f.default_pipeline().to_str().unwrap(), "--jobs", "0"]);
    run.expect(2);
}

/// A runner killed while it creates a ref leaves that ref's `.lock` file, empty: the rerun
/// clears it rather than fail on it forever. A lock with content is another git at work.
#[test]
fn an_empty_ref_lock_left_by_a_killed_runner_does_not_stop_the_rerun() {
    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let p = p.to_str().unwrap();
    let heads = f.work().join(".git/refs/heads");
    let stale = [
        heads.join("v1.1.1.lock"),
        heads.join("cherry-pick/v1.2.1/release-1.2.lock"),
    ];
    for lock in &stale {
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        std::fs::write(lock, "").unwrap();
    }
    f.embargo(&["run", p, "--jobs", "3"]).expect(0);
    assert!(stale.iter().all(|l| !l.exists()));

    let f = three_lines();
    let p = pipeline(&f, r#"["1.2", "1.1", "1.0"]"#, BACKPORT);
    let busy = f.work().join(".git/refs/heads/v1.1.1.lock");
    std::fs::write(&busy, "0123456789012345678901234567890123456789\n").unwrap();
    let run = f.embargo(&["run", p.to_str().unwrap()]);
    run.expect(2);
    assert!(
        run.stderr.contains("v1.1.1.lock holds it locked") && busy.exists(),
        "{}",
        run.stderr
    );
}

/// Every line or none: when one line cannot be taken back or moved (its tag is public), the
/// others are left exactly as they were, not changed before the refusal.
#[test]
fn a_line_that_cannot_be_taken_back_or_moved_stops_every_line_first() {
    let w = three_lines_on_github();
    w.embargo(&["run", w.p()]).expect(0);
    let f = &w.f;
    f.git(&["push", "-q", "origin", "refs/tags/v1.1.1"]);
    let private = refnames(f, &f.sample.private);
    let (set, _) = set_dirs(&w);
    let folders = |set: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(set)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = folders(&set);
    let manifests = |set: &std::path::Path| -> Vec<String> {
        ["v1.2.1", "v1.1.1", "v1.0.2"]
            .iter()
            .map(|t| std::fs::read_to_string(set.join(t).join("manifest.json")).unwrap())
            .collect()
    };
    let staged = manifests(&set);

    let abort = w.embargo(&["abort", w.p()]);
    abort.expect(2);
    assert!(
        abort.stderr.contains("v1.1.1 is public already"),
        "{}",
        abort.stderr
    );
    let moved = w.embargo(&[
        "reschedule",
        w.p(),
        "--embargo",
        "2038-01-01 10:00 UTC",
        "--json",
    ]);
    moved.expect(2);
    assert!(moved.stdout.contains("\"error\""), "{}", moved.stdout);

    assert_eq!(refnames(f, &f.sample.private), private);
    assert_eq!(folders(&set), before);
    assert_eq!(manifests(&set), staged);
    assert!(
        w.gh.releases().iter().all(|r| r.draft),
        "{:?}",
        w.gh.releases()
    );
}

/// A line's folder gone from a release under way: abort refuses before taking back any line
/// (the missing line's refs would be left behind), and run does not start that line afresh.
#[test]
fn a_missing_lines_folder_stops_abort_and_run_before_anything_changes() {
    let w = three_lines_on_github();
    w.embargo(&["run", w.p()]).expect(0);
    let (set, _) = set_dirs(&w);
    let away = w.f.sample.root.join("v1.1.1-away");
    std::fs::rename(set.join("v1.1.1"), &away).unwrap();
    let private = refnames(&w.f, &w.f.sample.private);
    let abort = w.embargo(&["abort", w.p()]);
    abort.expect(2);
    assert!(
        abort.stderr.contains("v1.1.1 is a line of the release in")
            && abort.stderr.contains("its folder is not there"),
        "{}",
        abort.stderr
    );
    let run = w.embargo(&["run", w.p()]);
    run.expect(2);
    assert!(
        run.stderr.contains("its folder is not there"),
        "{}",
        run.stderr
    );
    assert!(!set.join("v1.1.1").exists(), "run made a stub folder");
    assert_eq!(refnames(&w.f, &w.f.sample.private), private);
    // Back in place, the abort takes back every line.
    std::fs::rename(&away, set.join("v1.1.1")).unwrap();
    w.embargo(&["abort", w.p()]).expect(0);
    let left = refnames(&w.f, &w.f.sample.private);
    for gone in [
        "refs/tags/v1.1.1\n",
        "refs/heads/v1.1.1\n",
        "cherry-pick/v1.1.1",
    ] {
        assert!(!left.contains(gone), "{gone}: {left}");
    }
}

/// One line's tag pushed to the public remote before the instant (a leak): the release is not
/// stuck; moving the instant to now is allowed, and publishing finishes it.
#[test]
fn a_line_public_before_its_instant_can_be_published_at_once() {
    let w = three_lines_on_github();
    w.embargo(&["run", w.p()]).expect(0);
    w.f.git(&["push", "-q", "origin", "refs/tags/v1.0.2"]);
    let later = w.embargo(&["reschedule", w.p(), "--embargo", "2038-01-01 10:00 UTC"]);
    later.expect(2);
    assert!(
        later
            .stderr
            .contains("before its instant: the fix is out early")
            && later.stderr.contains("--embargo now --earlier"),
        "{}",
        later.stderr
    );
    w.embargo(&["reschedule", w.p(), "--embargo", "now", "--earlier"])
        .expect(0);
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    assert!(w.gh.releases().iter().all(|r| !r.draft));
}

/// The same versions cut again after an abort: the archive of the first cut's lines does not make
/// a line of the second cut, whose folder is gone, count as taken back.
#[test]
fn an_old_abort_of_the_same_versions_does_not_excuse_a_missing_line() {
    let w = three_lines_on_github();
    w.embargo(&["run", w.p()]).expect(0);
    w.embargo(&["abort", w.p()]).expect(0);
    // Archives are stamped to the second: the second cut starts a second later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    w.embargo(&["run", w.p()]).expect(0);
    let (set, _) = set_dirs(&w);
    std::fs::rename(set.join("v1.1.1"), w.f.sample.root.join("away")).unwrap();
    let abort = w.embargo(&["abort", w.p()]);
    abort.expect(2);
    assert!(
        abort.stderr.contains("its folder is not there"),
        "{}",
        abort.stderr
    );
}

#[test]
fn a_draft_of_one_line_changed_while_the_release_waits_stops_every_line_before_the_push() {
    let w = three_lines_on_github();
    let soon = crate::world::embargo_in(8);
    w.embargo(&["run", w.p(), "--embargo", &soon]).expect(0);
    let id = w.gh.releases_with_tag("v1.1.1")[0].id;
    let mut child = w.spawn(&["publish", w.p(), "--wait"]);
    // Two seconds before the instant, while the release waits for it; the push is made ready
    // before the wait: its refs are in the clone meanwhile.
    let instant: jiff::Timestamp = soon.parse().unwrap();
    let left = instant.as_millisecond() - jiff::Timestamp::now().as_millisecond() - 2000;
    assert!(left > 500, "staging took too long: {left} ms left");
    std::thread::sleep(std::time::Duration::from_millis(left as u64));
    let waiting =
        w.f.git(&["for-each-ref", "--format=%(refname)", "refs/embargo/push"]);
    assert!(waiting.contains("/tags/v1.0.2"), "{waiting}");
    w.gh.set_release_body(id, "Run app-installer.sh as root");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    for tag in ["v1.2.1", "v1.1.1", "v1.0.2"] {
        assert!(w.gh.releases_with_tag(tag)[0].draft, "{tag} published");
    }
    let public = refnames(&w.f, &w.f.sample.public);
    for tag in ["v1.2.1", "v1.1.1", "v1.0.2"] {
        assert!(
            !public
                .lines()
                .any(|r| r == format!("refs/tags/{tag}") || r.contains(&format!("/{tag}/"))),
            "{public}"
        );
    }
    // Nothing of the push it did not make is left in the clone.
    assert_eq!(
        w.f.git(&["for-each-ref", "--format=%(refname)", "refs/embargo/"]),
        ""
    );
}
