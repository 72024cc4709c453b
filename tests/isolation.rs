//! A hostile build, a hostile pipeline and a hostile network, tried against the real binary:
//! build steps and checks cannot reach the token, the clone or the runner, and leave nothing
//! running behind them; the runner's git runs no planted hook and takes no remote as an option;
//! credentials in remote URLs appear nowhere; the token goes only to GitHub's hosts.

use crate::common;
use crate::world;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Fixture, Run, replace_once, snapshot, without_publish};
use embargo::sample::PIPELINE;
use world::{UPLOAD, World};

/// Every file under `dir`, as text (lossy), with its path.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    out
}

#[track_caller]
fn assert_absent(what: &str, text: &str, secret: &str) {
    assert!(!text.contains(secret), "{what} holds `{secret}`:\n{text}");
}

/// The sample pipeline, `publish` included, with the first build step's command replaced.
fn with_step(w: &World, run: &str) -> String {
    let text = replace_once(PIPELINE, &[("run: ./build.sh", run)]);
    w.f.pipeline(&text).display().to_string()
}

// ---- 1. Builds and checks cannot reach the token, the clone or the runner ----

#[test]
fn a_build_step_cannot_read_the_token_from_the_runner() {
    let w = World::new();
    let token = w.gh.token().to_string();
    let seen = w.f.sample.root.join("seen");
    // Everything a step could try: its parent's environment and memory, every process it can
    // see, and its own environment.
    let p = with_step(
        &w,
        &format!(
            "run: |\n        {{ cat /proc/$PPID/environ; cat /proc/*/environ; env; \
             ls -l /proc/$PPID/cwd/; }} > '{}' 2>&1; ./build.sh",
            seen.display()
        ),
    );
    let run = w.embargo(&["run", &p, "-v"]);
    run.expect(0);
    let seen = std::fs::read_to_string(&seen).expect("the step ran");
    assert_absent("what the build step read", &seen, &token);
    // The verify checks run the same way.
    assert_absent("the output of run -v", &run.all(), &token);
}

#[test]
fn without_namespaces_a_step_still_cannot_read_the_token_or_leave_processes_behind() {
    let w = World::new();
    let token = w.gh.token().to_string();
    let seen = w.f.sample.root.join("seen");
    let marker = w.f.sample.root.join("survived");
    // The step's parent is the helper; the runner is the helper's parent. As root the runner's
    // environment is readable here (its block is scrubbed); as a user it is not (non-dumpable).
    let p = with_step(
        &w,
        &format!(
            "run: |
        R=$(cut -d' ' -f4 /proc/$PPID/stat);              (cat /proc/$PPID/environ; cat /proc/$R/environ; env) > '{}' 2>&1;              setsid sh -c 'sleep 2; touch {}' & ./build.sh",
            seen.display(),
            marker.display()
        ),
    );
    let run = w.embargo_env(&["run", &p], &[(embargo::sandbox::NO_NAMESPACES_ENV, "1")]);
    run.expect(0);
    assert!(
        run.stderr.contains("steps run without namespaces"),
        "{}",
        run.stderr
    );
    let seen = std::fs::read_to_string(&seen).expect("the step ran");
    assert!(seen.contains("EMBARGO_VERSION=1.0.2"), "{seen}");
    assert_absent("what the build step read", &seen, &token);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !marker.exists(),
        "a process the step left behind outlived it"
    );
}

#[test]
fn without_namespaces_a_setsid_child_is_gone_when_the_step_times_out() {
    let f = Fixture::new();
    let marker = f.sample.root.join("survived");
    let pipeline = f.default_pipeline_with(&[
        (
            "run: ./build.sh",
            &format!(
                "run: setsid sh -c 'sleep 3; touch {}' & sleep 60",
                marker.display()
            ),
        ),
        ("timeout: 5m", "timeout: 1s"),
    ]);
    let run = f.embargo_env(
        &["run", pipeline.to_str().unwrap()],
        &[(embargo::sandbox::NO_NAMESPACES_ENV, "1")],
    );
    run.expect(1);
    common::pin::error(&run);
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !marker.exists(),
        "a process of the step outlived its timeout"
    );
}

#[test]
fn a_build_step_cannot_reach_the_clone_or_push_the_fix_publicly() {
    let f = Fixture::new();
    let public = f.sample.public.display().to_string();
    let clone = f.work().display().to_string();
    // A hostile step points the private remote at the public one, by every path to the clone:
    // the folder it runs in, the runner's working folder, and the clone's own path.
    let attack = format!(
        "git config remote.security.url '{public}'; \
         git -C /proc/$PPID/cwd config remote.security.url '{public}'; \
         git -C '{clone}' config remote.security.url '{public}'; \
         echo hostile > '{clone}/planted'; ./build.sh"
    );
    let pipeline = f.default_pipeline_with(&[("run: ./build.sh", &format!("run: {attack}"))]);
    let before_url = f.git(&["config", "remote.security.url"]);
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    assert_eq!(f.git(&["config", "remote.security.url"]), before_url);
    assert!(!f.work().join("planted").exists());
    let public_refs = f.git_in(&f.sample.public, &["for-each-ref", "--format=%(refname)"]);
    assert!(!public_refs.contains("v1.0.2"), "{public_refs}");
    let private_refs = f.git_in(&f.sample.private, &["for-each-ref", "--format=%(refname)"]);
    assert!(private_refs.contains("refs/tags/v1.0.2"), "{private_refs}");
}

#[test]
fn a_dry_runs_build_cannot_change_the_clone() {
    let f = Fixture::new();
    let public = f.sample.public.display().to_string();
    let attack = format!(
        "git -C /proc/$PPID/cwd config remote.security.url '{public}'; \
         git -C '{}' config remote.security.url '{public}'; \
         touch /proc/$PPID/cwd/planted; ./build.sh",
        f.work().display()
    );
    let pipeline = f.default_pipeline_with(&[("run: ./build.sh", &format!("run: {attack}"))]);
    let before = snapshot(f.work());
    f.embargo(&["run", pipeline.to_str().unwrap(), "--dry-run"])
        .expect(0);
    assert_eq!(
        snapshot(f.work()),
        before,
        "the dry run's build changed the clone"
    );
}

#[test]
fn the_checkout_is_outside_the_clone_private_and_removed_after_the_build() {
    let f = Fixture::new();
    let record = f.sample.root.join("where");
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh",
        &format!(
            "run: (pwd; stat -c %a ..; git rev-parse --git-dir 2>&1) > '{}'; ./build.sh",
            record.display()
        ),
    )]);
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    let text = std::fs::read_to_string(&record).unwrap();
    let mut lines = text.lines();
    let checkout = PathBuf::from(lines.next().unwrap());
    assert!(
        !checkout.starts_with(f.work()),
        "the checkout {} is inside the clone",
        checkout.display()
    );
    assert_eq!(lines.next(), Some("700"), "{text}");
    assert!(text.contains("not a git repository"), "{text}");
    assert!(!checkout.exists(), "{} was left behind", checkout.display());
    assert!(!f.state_dir("v1.0.2").join("checkout").exists());
}

#[test]
fn a_build_step_cannot_redirect_the_private_push_through_git_configuration() {
    let f = Fixture::new();
    let gitconfig = f.sample.root.join("gitconfig");
    assert!(gitconfig.is_file(), "the sample's global git configuration");
    // The runner's git reads this file (GIT_CONFIG_GLOBAL): pushes meant for the private
    // remote would go to the public one.
    let attack = format!(
        "git config --file '{}' url.'{}'.pushInsteadOf '{}'; ./build.sh",
        gitconfig.display(),
        f.sample.public.display(),
        f.sample.private.display()
    );
    let pipeline = f.default_pipeline_with(&[("run: ./build.sh", &format!("run: {attack}"))]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(3);
    common::pin::error(&run);
    assert!(
        run.stderr
            .contains(&format!("`binaries` changed {}", gitconfig.display())),
        "{}",
        run.stderr
    );
    let public_refs = f.git_in(&f.sample.public, &["for-each-ref", "--format=%(refname)"]);
    assert!(!public_refs.contains("v1.0.2"), "{public_refs}");
}

#[test]
fn a_build_step_cannot_change_files_outside_its_folders() {
    let f = Fixture::new();
    // Where the runner's own binary lives: a step that could write there could replace a tool
    // the runner runs next.
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_embargo")).parent().unwrap();
    let planted = binary_dir.join(format!("planted-{}", std::process::id()));
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh",
        &format!("run: touch '{}'; ./build.sh", planted.display()),
    )]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    let written = planted.exists();
    let _ = std::fs::remove_file(&planted);
    run.expect(0);
    assert!(!written, "a build step wrote {}", planted.display());
}

/// Runs the sample's build with `step` as its only step (with `timeout`) and returns the run.
fn run_step(f: &Fixture, step: &str, timeout: &str) -> Run {
    let pipeline = f.default_pipeline_with(&[
        ("run: ./build.sh", &format!("run: {step}")),
        ("timeout: 5m", &format!("timeout: {timeout}")),
    ]);
    f.embargo(&["run", pipeline.to_str().unwrap()])
}

#[test]
fn a_setsid_child_of_a_build_step_is_gone_when_the_step_ends() {
    let f = Fixture::new();
    let marker = f.sample.root.join("survived");
    let step = format!(
        "setsid sh -c 'sleep 2; touch {}' & ./build.sh",
        marker.display()
    );
    run_step(&f, &step, "5m").expect(0);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !marker.exists(),
        "a process the step left behind outlived it"
    );
}

#[test]
fn a_setsid_child_of_a_build_step_is_gone_when_the_step_times_out() {
    let f = Fixture::new();
    let marker = f.sample.root.join("survived");
    let step = format!(
        "setsid sh -c 'sleep 3; touch {}' & sleep 60",
        marker.display()
    );
    let run = run_step(&f, &step, "1s");
    run.expect(1);
    common::pin::error(&run);
    assert!(
        run.stderr.contains("did not finish within its timeout"),
        "{}",
        run.stderr
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !marker.exists(),
        "a process of the step outlived its timeout"
    );
}

#[test]
fn a_build_log_keeps_its_first_and_last_mebibytes_and_marks_the_cut() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh",
        "run: echo FIRST-LINE; seq 1 4000000; echo LAST-LINE; ./build.sh",
    )]);
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    let log = std::fs::read_to_string(f.state_dir("v1.0.2").join("build.log")).unwrap();
    assert!(
        log.len() < 17 * 1024 * 1024,
        "build.log is {} bytes",
        log.len()
    );
    assert!(log.contains("FIRST-LINE") && log.contains("LAST-LINE"));
    assert!(log.contains("[log cut: "), "the cut is not marked");
}

#[test]
fn a_hard_link_to_a_file_outside_the_checkout_is_refused_as_an_artifact() {
    let f = Fixture::new();
    // Next to the checkout, outside it (in the sandbox, a file elsewhere is on another mount and
    // cannot be linked at all).
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh",
        "run: ./build.sh && echo PRIVATE KEY > ../signing.key && ln ../signing.key dist/key.tar.gz",
    )]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap()]);
    run.expect(2);
    common::pin::error(&run);
    assert!(
        run.stderr.contains("dist/key.tar.gz is a hard link"),
        "{}",
        run.stderr
    );
    assert!(!f.state_dir("v1.0.2").join("dist/key.tar.gz").exists());

    // Two names for one file, both inside the checkout, are fine.
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh",
        "run: ./build.sh && ln dist/app-linux-amd64.tar.gz dist/app-copy.tar.gz",
    )]);
    f.embargo(&["run", pipeline.to_str().unwrap()]).expect(0);
    assert!(f.state_dir("v1.0.2").join("dist/app-copy.tar.gz").is_file());
}

// ---- 2. The runner's own git runs no planted hook and gets no token ----

#[test]
fn a_pre_push_hook_planted_in_the_clone_neither_runs_nor_sees_the_token() {
    let w = World::new();
    let hooks = w.f.work().join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let seen = w.f.sample.root.join("hook-saw");
    let hook = hooks.join("pre-push");
    std::fs::write(&hook, format!("#!/bin/sh\nenv > '{}'\n", seen.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    w.embargo(&["run", w.p()]).expect(0);
    if let Ok(env) = std::fs::read_to_string(&seen) {
        assert_absent("the planted hook's environment", &env, w.gh.token());
        panic!("the planted pre-push hook ran:\n{env}");
    }
    // The freeze's own hook still guards the release against a person's `git tag -f`.
    let refused = w.f.git_fails(&["tag", "-f", "v1.0.2", "master"]);
    assert!(refused.contains("frozen"), "{refused}");
}

// ---- 3. No option injection ----

#[test]
fn remotes_and_a_fix_starting_with_a_dash_are_refused_and_run_nothing() {
    let f = Fixture::new();
    let pwned = f.sample.root.join("pwned");
    let injected = format!("--upload-pack=touch {};:@x:y", pwned.display());
    let pipelines = [
        ("private: security", format!("private: \"{injected}\"")),
        ("public: origin", format!("public: \"{injected}\"")),
        ("private: security", "private: -security".to_string()),
        ("public: origin", "public: --mirror".to_string()),
    ];
    for (from, to) in &pipelines {
        let pipeline = f.default_pipeline_with(&[(from, to)]);
        for command in ["plan", "run", "publish", "status"] {
            let run = f.embargo(&[command, pipeline.to_str().unwrap()]);
            run.expect(2);
            // publish's outputs are pinned with publish's own snapshots.
            if command != "publish" {
                common::pin::error(&run);
            }
            assert!(run.stderr.contains("starts with `-`"), "{}", run.stderr);
            assert!(
                !pwned.exists(),
                "`{to}` ran a command from `embargo {command}`"
            );
        }
    }
    let pipeline = f.default_pipeline();
    for fix in [injected.as_str(), "-security/CVE-2026-0001"] {
        let run = f.embargo(&["plan", pipeline.to_str().unwrap(), "--fix", fix]);
        run.expect(2);
        common::pin::error(&run);
        assert!(!pwned.exists(), "--fix `{fix}` ran a command");
    }
}

// ---- 4. No secret in any output or state file ----

#[test]
fn credentials_in_a_remote_url_appear_in_no_output_or_state_file() {
    let w = World::new();
    let secret = "SECRETx0123456789";
    let url = format!("http://x-access-token:{secret}@example.invalid/security.git");
    // git reaches the private bare repository through a rewrite; the URL stays in every message.
    w.f.git(&[
        "config",
        &format!("url.{}.insteadOf", w.f.sample.private.display()),
        &url,
    ]);
    let text = replace_once(
        PIPELINE,
        &[("private: security", &format!("private: \"{url}\""))],
    );
    let p = w.f.pipeline(&text).display().to_string();
    let mut outputs = Vec::new();
    for args in [
        vec!["plan", p.as_str()],
        vec!["plan", p.as_str(), "--json"],
        vec!["run", p.as_str(), "--dry-run", "--json"],
        vec!["run", p.as_str(), "-v"],
        vec!["run", p.as_str(), "--json"],
        vec!["status", p.as_str()],
        vec!["publish", p.as_str(), "--dry-run"],
    ] {
        let run = w.embargo(&args);
        assert!(run.code == 0, "{args:?}: {}", run.all());
        outputs.push((args.join(" "), run.all()));
    }
    // A failure that names the remote: the URL rewritten to nowhere.
    let missing = w.f.sample.root.join("missing.git");
    w.f.git(&[
        "config",
        &format!("url.{}.insteadOf", missing.display()),
        "http://x-access-token:SECRETx0123456789@example.invalid/gone.git",
    ]);
    let gone = replace_once(
        &without_publish(PIPELINE),
        &[(
            "private: security",
            "private: \"http://x-access-token:SECRETx0123456789@example.invalid/gone.git\"",
        )],
    );
    let p = w.f.pipeline_named("gone.yaml", &gone).display().to_string();
    let run = w.embargo(&["plan", &p]);
    run.expect(2);
    common::pin::error(&run);
    assert!(
        run.stderr.contains("http://***@example.invalid/gone.git"),
        "{}",
        run.stderr
    );
    outputs.push(("plan (failing)".into(), run.all()));
    for (what, text) in &outputs {
        assert_absent(what, text, secret);
    }
    let mut files = 0;
    for (path, text) in files_under(&w.f.work().join(".git/embargo")) {
        files += 1;
        for line in text.lines() {
            assert_absent(&path.display().to_string(), line, secret);
        }
    }
    assert!(files >= 5, "the state folder has only {files} files");
}

// ---- 5. The token goes only to GitHub's hosts ----

#[test]
fn an_upload_url_on_another_host_is_refused_and_gets_no_token() {
    let w = World::new();
    // Same machine, another host name: a proxy rewriting GitHub's answers would do this.
    w.gh.set_upload_url_host("localhost");
    let run = w.embargo(&["run", w.p()]);
    run.expect(3);
    common::pin::error(&run);
    assert!(
        run.stderr.contains("not the API's host or its upload host"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the token was not sent"),
        "{}",
        run.stderr
    );
    assert!(w.gh.requests_for(UPLOAD).is_empty(), "an upload was sent");
}

#[test]
fn plain_http_is_refused_for_an_api_url_that_is_not_this_machine() {
    let w = World::new();
    for (setting, url) in [
        ("EMBARGO_GITHUB_API_URL", "http://api.example.invalid"),
        (
            "EMBARGO_GITHUB_API_URL",
            "http://127.0.0.1.example.invalid:8080",
        ),
    ] {
        let run = w.embargo_env(&["run", w.p()], &[(setting, url)]);
        run.expect(2);
        common::pin::error(&run);
        assert!(
            run.stderr.contains(&format!("{setting}: `{url}`"))
                && run.stderr.contains("only accepted for this machine"),
            "{}",
            run.stderr
        );
    }
    let text = replace_once(
        PIPELINE,
        &[(
            "repository: example/app",
            "repository: example/app\n    api_url: http://ghe.example.invalid/api/v3",
        )],
    );
    let p = w.f.pipeline(&text).display().to_string();
    let run = w.f.embargo(&["plan", &p]);
    run.expect(2);
    common::pin::error(&run);
    assert!(
        run.stderr.contains("publish.github.api_url"),
        "{}",
        run.stderr
    );
    // The fake GitHub on another loopback port for uploads is this machine: accepted.
    w.f.pipeline(PIPELINE);
    w.embargo(&["run", w.p()]).expect(0);
}

#[test]
fn a_steps_terminal_escapes_are_shown_not_obeyed() {
    let f = Fixture::new();
    let pipeline = f.default_pipeline_with(&[(
        "      run: ./build.sh\n",
        "      run: ./build.sh && printf 'before\\033[2Jafter\\n'\n",
    )]);
    let run = f.embargo(&["run", pipeline.to_str().unwrap(), "-v"]);
    run.expect(0);
    assert!(!run.all().contains('\u{1b}'), "{:?}", run.stderr);
    assert!(
        run.stderr.contains("before\\u{1b}[2Jafter"),
        "{}",
        run.stderr
    );
}

/// A build step that writes a hook into a local bare remote (the sandbox may leave it writable)
/// never gets it run: the pushes to a remote on this machine run the receiving side without
/// hooks, where nothing would stand between the hook and the runner's token.
#[test]
fn a_hook_a_build_step_plants_in_a_local_remote_never_runs_at_the_push() {
    let f = Fixture::new();
    let ran = f.sample.root.join("hook-ran");
    let plant = |bare: &std::path::Path| {
        format!(
            "printf '#!/bin/sh\\necho $$ >> {ran}\\n' > {hooks}/pre-receive; chmod +x {hooks}/pre-receive; cp {hooks}/pre-receive {hooks}/post-receive; ",
            ran = ran.display(),
            hooks = bare.join("hooks").display()
        )
    };
    let pipeline = f.default_pipeline_with(&[(
        "run: ./build.sh",
        &format!(
            "run: {}{}./build.sh",
            plant(&f.sample.private),
            plant(&f.sample.public)
        ),
    )]);
    let p = pipeline.to_str().unwrap();
    f.embargo(&["run", p, "--embargo", "now"]).expect(0);
    assert!(
        f.sample.private.join("hooks/pre-receive").exists()
            && f.sample.public.join("hooks/pre-receive").exists(),
        "the step could not plant the hook: this test proves nothing here"
    );
    f.embargo(&["publish", p, "--if-due"]).expect(0);
    assert!(
        !f.git_in(&f.sample.public, &["tag", "--list", "v1.0.2"])
            .is_empty(),
        "published"
    );
    assert!(
        !ran.exists(),
        "a hook planted by a build step ran at a push: {}",
        std::fs::read_to_string(&ran).unwrap_or_default()
    );
}

/// A runner killed outright (SIGKILL: the CI job cancelled, the machine's OOM killer) cannot end
/// its steps itself; the step is ended with it all the same, with and without namespaces,
/// instead of building on behind nobody's back.
#[test]
fn a_build_step_ends_when_its_runner_is_killed() {
    for namespaces in [true, false] {
        let f = Fixture::new();
        let started = f.sample.root.join("started");
        let late = f.sample.root.join("late");
        let step = format!(
            "touch {s}; sleep 3; touch {l}; ./build.sh",
            s = started.display(),
            l = late.display()
        );
        let pipeline = f
            .default_pipeline_with(&[("      run: ./build.sh\n", &format!("      run: {step}\n"))]);
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_embargo"));
        command
            .args(["run", pipeline.to_str().unwrap()])
            .current_dir(f.work())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(f.sample.env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if !namespaces {
            command.env("EMBARGO_TEST_NO_NAMESPACES", "1");
        }
        let mut runner = command.spawn().expect("embargo");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !started.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the step never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        runner.kill().expect("SIGKILL");
        runner.wait().expect("reaped");
        std::thread::sleep(Duration::from_secs(4));
        assert!(
            !late.exists(),
            "the step went on after its runner was killed (namespaces: {namespaces})"
        );
    }
}
