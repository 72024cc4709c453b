//! Attacks on publishing at the instant, each by name: what a person, another process or a
//! tampered GitHub can do to the prepared push, its destination and the draft between staging
//! and the instant, and what embargo must do then (nothing public, or said and stopped).

use crate::world::World;

/// A `git` first on PATH that runs `before` (a shell snippet, given the public push's pattern
/// refspec prefix as `$prefix`) when it is asked to make embargo's pattern push, then runs git.
fn git_wrapper(w: &World, before: &str) -> String {
    let dir = w.f.sample.root.join("wrapper-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let real = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do\n  case \"$a\" in\n    refs/embargo/push/*'*:refs/*') prefix=${{a%\\*:refs/*}}; {before} ;;\n  esac\ndone\nexec {} \"$@\"\n",
        real.trim()
    );
    let wrapper = dir.join("git");
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn public_refs(w: &World) -> String {
    w.f.git_in(&w.f.sample.public, &["for-each-ref", "--format=%(refname)"])
}

/// A ref written into the push's namespace after it was read back, while git starts (a window
/// of milliseconds): git sends it too. It cannot be taken back, but the run says so, exit 3, and
/// the release is not published.
#[test]
fn a_ref_slipped_into_the_push_while_git_starts_is_said_and_nothing_is_published() {
    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    let fix =
        w.f.git(&["rev-parse", "refs/remotes/security/security/CVE-2026-0001"]);
    let git_dir = w.f.work().join(".git");
    let path = git_wrapper(
        &w,
        &format!(
            "mkdir -p \"{g}/${{prefix}}heads\" && echo {fix} > \"{g}/${{prefix}}heads/leak\"",
            g = git_dir.display(),
            fix = fix.trim()
        ),
    );
    let run = w.embargo_env(&["publish", w.p(), "--if-due"], &[("PATH", &path)]);
    run.expect(3);
    assert!(
        run.stderr
            .contains("the push sent refs that were not to be pushed: refs/heads/leak"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--delete refs/heads/leak"),
        "{}",
        run.stderr
    );
    assert!(public_refs(&w).contains("refs/heads/leak"));
    assert!(w.gh.releases_with_tag("v1.0.2")[0].draft, "published");
    assert!(w.gh.pulls().is_empty());
}

/// `push.followTags` in the configuration would push every annotated tag pointing into the
/// pushed commits: a private triage tag on the fix, say. The public push sends exactly its refs.
#[test]
fn follow_tags_in_the_configuration_pushes_no_other_tag() {
    let w = World::new();
    w.embargo(&["run", w.p(), "--embargo", "now"]).expect(0);
    w.f.git(&["config", "push.followTags", "true"]);
    w.f.git(&[
        "tag",
        "-a",
        "-m",
        "triage notes",
        "internal/triage",
        "refs/tags/v1.0.2^{commit}",
    ]);
    w.embargo(&["publish", w.p(), "--if-due"]).expect(0);
    let public = public_refs(&w);
    assert!(public.contains("refs/tags/v1.0.2"), "{public}");
    assert!(!public.contains("internal/triage"), "{public}");
}
