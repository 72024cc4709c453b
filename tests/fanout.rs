//! A build split across runners (`build.matrix`), run as the generated workflow runs it: the
//! prepare job (`run --until prepare`), one job per shard (`build --shard`), the assemble job
//! (`run --shards`), each a separate process in a separate clone, the state folder and the
//! shards' folders passed through folders as the workflow passes them through artifacts. Then
//! every way a shard's folder can be wrong: another commit, another build section, a changed
//! byte, a file added, a shard missing or given twice, two shards making one name.

use crate::common;

use std::path::PathBuf;

use common::{Fixture, Run, replace_once, without_publish};
use embargo::sample::PIPELINE;

/// The sample's build, split in two shards that differ by name only: each renames the archive
/// after itself, so the verify checks find the linux-amd64 one.
const SPLIT: &[(&str, &str)] = &[
    (
        "      run: ./build.sh\n",
        "      run: ./build.sh && if [ \"$EMBARGO_SHARD\" != linux-amd64 ]; then mv dist/app-linux-amd64.tar.gz \"dist/app-$EMBARGO_SHARD.tar.gz\"; fi; echo \"arch=$ARCH\" > \"dist/arch-$EMBARGO_SHARD.txt\"\n",
    ),
    (
        "  artifacts: [\"dist/*.tar.gz\"]\n",
        "  artifacts: [\"dist/app-{shard}.tar.gz\", \"dist/arch-{shard}.txt\"]\n  matrix:\n    - name: linux-amd64\n      env: {ARCH: amd64}\n    - name: linux-arm64\n      runs_on: ubuntu-24.04-arm\n      env: {ARCH: arm64}\n",
    ),
];

const SHARDS: [&str; 2] = ["linux-amd64", "linux-arm64"];

/// The sample's pipeline whose build step runs `then` after ./build.sh, with `artifacts` (and
/// whatever follows it in the build section) as its artifacts.
fn built_as(then: &str, artifacts: &str) -> String {
    replace_once(
        &without_publish(PIPELINE),
        &[
            (
                "      run: ./build.sh\n",
                &format!("      run: ./build.sh && {then}\n"),
            ),
            (
                "  artifacts: [\"dist/*.tar.gz\"]\n",
                &format!("  artifacts: {artifacts}\n"),
            ),
        ],
    )
}

fn split_pipeline(f: &Fixture) -> String {
    let text = replace_once(&without_publish(PIPELINE), SPLIT);
    f.pipeline(&text).to_str().unwrap().to_string()
}

/// A job's runner: a fresh clone of the private repository, its remotes named as the pipeline
/// names them, the pipeline copied in, and the prepare job's state folder restored.
fn job_clone(f: &Fixture, name: &str, pipeline: &str) -> (PathBuf, String) {
    let clone = f.sample.root.join(name);
    let private = f.sample.private.display().to_string();
    f.git_in(
        &f.sample.root,
        &["clone", "-q", &private, clone.to_str().unwrap()],
    );
    f.git_in(&clone, &["remote", "rename", "origin", "security"]);
    f.git_in(
        &clone,
        &["remote", "add", "origin", f.sample.public.to_str().unwrap()],
    );
    common::copy_dir(&f.work().join(".git/embargo"), &clone.join(".git/embargo"));
    std::fs::create_dir_all(clone.join("pipelines")).unwrap();
    let copy = clone.join("pipelines/security-release.yaml");
    std::fs::copy(pipeline, &copy).unwrap();
    (clone, copy.to_str().unwrap().to_string())
}

fn says(run: &Run, parts: &[&str]) {
    let all = run.all();
    for part in parts {
        assert!(all.contains(part), "missing `{part}` in:\n{all}");
    }
}

/// The prepare job, then one job per shard, each uploading its folder as the workflow does
/// (`<artifacts>/embargo-shard-<name>/`). Returns the folder the assemble job downloads into.
fn prepare_and_build_shards(f: &Fixture, p: &str, pin: bool) -> PathBuf {
    let prepared = f.embargo(&["run", p, "--until", "prepare"]);
    prepared.expect(0);
    if pin {
        common::pin::output(&prepared);
    }
    says(
        &prepared,
        &[
            "release v1.0.2 prepared for a split build",
            "embargo build",
            "--shard linux-arm64",
        ],
    );
    let artifacts = f.sample.root.join("artifacts");
    for shard in SHARDS {
        let (_clone, cp) = job_clone(f, &format!("job-{shard}"), p);
        let output = f.sample.root.join(format!("out-{shard}"));
        let built = f.embargo(&[
            "build",
            &cp,
            "--shard",
            shard,
            "--output",
            output.to_str().unwrap(),
        ]);
        built.expect(0);
        if pin {
            common::pin::text(&format!("build_{shard}"), &built.stdout);
        }
        says(
            &built,
            &[
                &format!("shard {shard} of v1.0.2 built from"),
                "brought back the patch branch v1.0.2",
            ],
        );
        common::copy_dir(&output, &artifacts.join(format!("embargo-shard-{shard}")));
    }
    artifacts
}

/// A shard's job: `embargo build --shard SHARD --output OUT`.
fn build_shard(f: &Fixture, p: &str, shard: &str, out: &std::path::Path) -> Run {
    f.embargo(&[
        "build",
        p,
        "--shard",
        shard,
        "--output",
        out.to_str().unwrap(),
    ])
}

fn private_has(f: &Fixture, refname: &str) -> bool {
    f.sample
        .git(
            &f.sample.private,
            &["rev-parse", "--verify", "--quiet", refname],
        )
        .is_ok()
}

#[test]
fn a_split_build_stages_what_one_machine_stages_each_job_in_its_own_clone() {
    let f = Fixture::new();
    let p = split_pipeline(&f);
    let artifacts = prepare_and_build_shards(&f, &p, true);
    // The prepare job pushed the release commit alone, and only privately.
    let release_commit = f.git(&["rev-parse", "refs/heads/v1.0.2"]);
    assert_eq!(
        f.git_in(&f.sample.private, &["rev-parse", "refs/heads/v1.0.2"]),
        release_commit
    );
    assert!(!private_has(&f, "refs/tags/v1.0.2"));
    assert!(
        f.sample
            .git(
                &f.sample.public,
                &["rev-parse", "--verify", "--quiet", "refs/heads/v1.0.2"]
            )
            .is_err(),
        "the public remote got the patch branch"
    );
    // Each shard's folder: its files and the manifest naming the release commit.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(artifacts.join("embargo-shard-linux-arm64/v1.0.2/linux-arm64/shard.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["shard"], "linux-arm64");
    assert_eq!(manifest["release_commit"], release_commit.as_str());
    assert_eq!(
        std::fs::read_to_string(
            artifacts.join("embargo-shard-linux-arm64/v1.0.2/linux-arm64/arch-linux-arm64.txt")
        )
        .unwrap(),
        "arch=arm64\n"
    );

    // The assemble job, in a clone of its own with the prepare job's state folder.
    let (clone, cp) = job_clone(&f, "job-assemble", &p);
    let staged = f.embargo(&["run", &cp, "--shards", artifacts.to_str().unwrap()]);
    staged.expect(0);
    common::pin::text("assemble_progress", &staged.stderr);
    says(
        &staged,
        &[
            "took 4 artifact(s) from 2 shard(s) built elsewhere",
            "release v1.0.2 frozen and staged privately",
        ],
    );
    assert!(private_has(&f, "refs/tags/v1.0.2"));
    let state = clone.join(".git/embargo/security-release/v1.0.2");
    let split_sums = std::fs::read_to_string(state.join("dist/SHA256SUMS")).unwrap();
    for name in [
        "app-linux-amd64.tar.gz",
        "app-linux-arm64.tar.gz",
        "arch-linux-amd64.txt",
        "arch-linux-arm64.txt",
    ] {
        assert!(split_sums.contains(name), "{split_sums}");
    }
    // A rerun resumes: the build is re-checked, not taken again.
    let again = f.embargo(&["run", &cp]);
    again.expect(0);
    says(&again, &["artifacts match their checksums"]);

    // The same pipeline run whole on one machine builds the same bytes.
    let g = Fixture::new();
    let q = split_pipeline(&g);
    g.embargo(&["run", &q]).expect(0);
    let whole_sums =
        std::fs::read_to_string(g.state_dir("v1.0.2").join("dist/SHA256SUMS")).unwrap();
    assert_eq!(split_sums, whole_sums);
}

/// A copy of the shards' folders to spoil, and the assemble job's clone.
struct Assemble {
    f: Fixture,
    artifacts: PathBuf,
    pipeline: String,
}

impl Assemble {
    fn new() -> Assemble {
        Assemble::of(&replace_once(&without_publish(PIPELINE), SPLIT))
    }

    /// The split of `text`, a pipeline with the two shards of [`SHARDS`].
    fn of(text: &str) -> Assemble {
        let f = Fixture::new();
        let p = f.pipeline(text).to_str().unwrap().to_string();
        let artifacts = prepare_and_build_shards(&f, &p, false);
        let (_clone, cp) = job_clone(&f, "job-assemble", &p);
        Assemble {
            f,
            artifacts,
            pipeline: cp,
        }
    }

    fn shard(&self, name: &str) -> PathBuf {
        self.artifacts
            .join(format!("embargo-shard-{name}"))
            .join("v1.0.2")
            .join(name)
    }

    /// The assemble job's run; whatever it refused, nothing reached the private remote.
    fn refused(&self, code: i32, parts: &[&str]) {
        let run = self.f.embargo(&[
            "run",
            &self.pipeline,
            "--shards",
            self.artifacts.to_str().unwrap(),
        ]);
        run.expect(code);
        says(&run, parts);
        common::pin::error(&run);
        assert!(!private_has(&self.f, "refs/tags/v1.0.2"));
    }

    fn edit_manifest(&self, name: &str, edit: impl Fn(&mut serde_json::Value)) {
        let path = self.shard(name).join("shard.json");
        let mut value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut value);
        std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    }
}

#[test]
fn a_shard_built_from_another_commit_is_an_integrity_violation() {
    let a = Assemble::new();
    let other = a.f.git(&["rev-parse", "v1.0.1^{commit}"]);
    a.edit_manifest("linux-arm64", |m| {
        m["release_commit"] = other.clone().into()
    });
    a.refused(
        3,
        &[
            "the shard linux-arm64 of v1.0.2 was built from commit",
            &other,
        ],
    );
}

#[test]
fn a_changed_byte_in_a_shards_file_is_an_integrity_violation() {
    let a = Assemble::new();
    let file = a.shard("linux-amd64").join("app-linux-amd64.tar.gz");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    a.refused(
        3,
        &["app-linux-amd64.tar.gz is not the file its shard built"],
    );
}

#[test]
fn a_file_added_to_a_shards_folder_is_an_integrity_violation() {
    let a = Assemble::new();
    std::fs::write(a.shard("linux-arm64").join("extra.sh"), "#!/bin/sh\n").unwrap();
    a.refused(3, &["`extra.sh` is in the shard linux-arm64's folder"]);
}

#[test]
fn a_shard_of_another_build_section_or_release_is_an_integrity_violation() {
    let a = Assemble::new();
    a.edit_manifest("linux-amd64", |m| m["build"] = "0".repeat(64).into());
    a.refused(3, &["built with another build section"]);
    a.edit_manifest("linux-amd64", |m| m["tag"] = "v9.9.9".into());
    a.refused(3, &["built for v9.9.9, which is not part of this release"]);
}

#[test]
fn a_missing_or_doubled_shard_is_refused_naming_it() {
    let a = Assemble::new();
    let twin = a.artifacts.join("again/v1.0.2/linux-arm64");
    common::copy_dir(&a.shard("linux-arm64"), &twin);
    a.refused(
        2,
        &[
            "the shard linux-arm64 of v1.0.2 is in",
            "each shard is taken once",
        ],
    );
    std::fs::remove_dir_all(a.artifacts.join("again")).unwrap();
    std::fs::remove_dir_all(a.artifacts.join("embargo-shard-linux-arm64")).unwrap();
    a.refused(2, &["no folder holds the shard(s) linux-arm64 of v1.0.2"]);
}

#[test]
fn two_shards_making_one_name_are_refused_on_one_machine_and_split() {
    // Both shards make app-linux-amd64.tar.gz, each in a folder of its own.
    let f = Fixture::new();
    let text = built_as(
        "mkdir -p \"dist/$EMBARGO_SHARD\" && mv dist/*.tar.gz \"dist/$EMBARGO_SHARD/\"",
        "[\"dist/{shard}/*.tar.gz\"]\n  matrix:\n    - name: one\n    - name: two",
    );
    let p = f.pipeline(&text).to_str().unwrap().to_string();
    let whole = f.embargo(&["run", &p]);
    whole.expect(2);
    says(
        &whole,
        &[
            "two shards made an artifact named `app-linux-amd64.tar.gz`",
            "{shard}",
        ],
    );

    // Split: each shard alone is fine; taken together they collide.
    let g = Fixture::new();
    let p = g.pipeline(&text).to_str().unwrap().to_string();
    g.embargo(&["run", &p, "--until", "prepare"]).expect(0);
    let artifacts = g.sample.root.join("artifacts");
    for shard in ["one", "two"] {
        g.embargo(&[
            "build",
            &p,
            "--shard",
            shard,
            "--output",
            artifacts.join(shard).to_str().unwrap(),
        ])
        .expect(0);
    }
    let run = g.embargo(&["run", &p, "--shards", artifacts.to_str().unwrap()]);
    run.expect(2);
    says(
        &run,
        &["two shards made an artifact named `app-linux-amd64.tar.gz`"],
    );
    common::pin::error(&whole);
    common::pin::error(&run);
}

#[test]
fn the_split_commands_refuse_what_they_cannot_do_before_touching_anything() {
    let f = Fixture::new();
    // No matrix: nothing to split.
    let plain = f.default_pipeline();
    let plain = plain.to_str().unwrap();
    let run = f.embargo(&["run", plain, "--until", "prepare"]);
    run.expect(2);
    says(
        &run,
        &[
            "--until prepare is for a build split across runners",
            "build.matrix",
        ],
    );
    assert!(!f.state_dir("v1.0.2").exists());
    let run = f.embargo(&["run", plain, "--shards", "."]);
    run.expect(2);
    assert!(!f.state_dir("v1.0.2").exists());

    let p = split_pipeline(&f);
    let out = f.sample.root.join("out");
    let out = out.to_str().unwrap();
    // A shard before the prepare job.
    let early = f.embargo(&["build", &p, "--shard", "linux-amd64", "--output", out]);
    early.expect(2);
    says(&early, &["v1.0.2 is not prepared", "--until prepare"]);
    common::pin::error(&early);
    f.embargo(&["run", &p, "--until", "prepare"]).expect(0);
    // A shard the matrix does not name.
    let unknown = f.embargo(&["build", &p, "--shard", "windows", "--output", out]);
    unknown.expect(2);
    says(
        &unknown,
        &["no shard `windows`", "linux-amd64, linux-arm64"],
    );
    common::pin::error(&unknown);
    // An output folder that is the clone, or holds someone's files.
    let clone = f.work().to_str().unwrap().to_string();
    let into_clone = f.embargo(&["build", &p, "--shard", "linux-amd64", "--output", &clone]);
    into_clone.expect(2);
    says(&into_clone, &["it is the clone"]);
    let busy = f.sample.root.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let refused = f.embargo(&[
        "build",
        &p,
        "--shard",
        "linux-amd64",
        "--output",
        busy.to_str().unwrap(),
    ]);
    refused.expect(2);
    says(&refused, &["notes.txt, which no shard wrote"]);
    common::pin::error(&refused);
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "mine"
    );
    // Nothing but the prepare job's push reached the private remote.
    assert!(!private_has(&f, "refs/tags/v1.0.2"));
}

#[test]
fn a_dry_run_of_the_prepare_job_describes_its_push_and_makes_none() {
    let f = Fixture::new();
    let p = split_pipeline(&f);
    let dry = f.embargo(&["run", &p, "--until", "prepare", "--dry-run"]);
    dry.expect(0);
    common::pin::text("prepare_dry_run", &dry.stdout);
    says(
        &dry,
        &[
            "dry run of release v1.0.2: prepared in a scratch repository",
            "would push",
            "refs/heads/v1.0.2",
        ],
    );
    assert!(!private_has(&f, "refs/heads/v1.0.2"));
    assert!(!f.state_dir("v1.0.2").exists());
}

#[test]
fn the_split_commands_speak_json_as_their_schemas_say() {
    let f = Fixture::new();
    let p = split_pipeline(&f);
    let prepared = common::pin::json_named(
        "run",
        "prepare_json",
        &f.embargo(&["run", &p, "--until", "prepare", "--json"]),
    );
    assert_eq!(prepared["shards"], serde_json::json!(SHARDS));
    assert_eq!(prepared["handoff"]["to"], "private");
    let output = f.sample.root.join("out");
    let built = common::pin::json_named(
        "build",
        "build_json",
        &f.embargo(&[
            "build",
            &p,
            "--shard",
            "linux-amd64",
            "--output",
            output.to_str().unwrap(),
            "--json",
        ]),
    );
    let written: serde_json::Value = serde_json::from_slice(
        &std::fs::read(output.join("v1.0.2/linux-amd64/shard.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(built["manifests"], serde_json::json!([written]));
    assert_eq!(
        built["manifests"][0]["release_commit"],
        prepared["release_commit"]
    );
}

/// The split of a release of three lines: one prepare job (one push carrying every line's
/// release commit), each shard's job building every line, one stage job taking them all.
#[test]
fn a_split_build_of_three_lines_stages_what_one_machine_stages() {
    let pipeline_of = |f: &Fixture| -> String {
        let text = replace_once(
            &replace_once(&without_publish(PIPELINE), SPLIT),
            &[
                (
                    "  line: \"1.0\"\n",
                    "  lines: [\"1.2\", \"1.1\", \"1.0\"]\n",
                ),
                (
                    "  base: master\n",
                    &format!("  base: master\n{}", crate::lines::BACKPORT),
                ),
            ],
        );
        f.pipeline(&text).to_str().unwrap().to_string()
    };
    let tags = ["v1.2.1", "v1.1.1", "v1.0.2"];
    let f = crate::lines::three_lines();
    let p = pipeline_of(&f);
    let dry = common::pin::json_named(
        "run",
        "three_lines_prepared_dry_run_json",
        &f.embargo(&["run", &p, "--until", "prepare", "--dry-run", "--json"]),
    );
    assert_eq!(dry["handoff"]["refs"].as_array().map(Vec::len), Some(3));
    let prepared = f.embargo(&["run", &p, "--until", "prepare"]);
    prepared.expect(0);
    common::pin::text("three_lines_prepared", &prepared.stdout);
    for tag in tags {
        assert!(private_has(&f, &format!("refs/heads/{tag}")), "{tag}");
        assert!(!private_has(&f, &format!("refs/tags/{tag}")), "{tag}");
    }
    let artifacts = f.sample.root.join("artifacts");
    for shard in SHARDS {
        let (_clone, cp) = job_clone(&f, &format!("job-{shard}"), &p);
        let output = f.sample.root.join(format!("out-{shard}"));
        let built = f.embargo(&[
            "build",
            &cp,
            "--shard",
            shard,
            "--output",
            output.to_str().unwrap(),
        ]);
        built.expect(0);
        for tag in tags {
            assert!(
                output.join(tag).join(shard).join("shard.json").is_file(),
                "{tag}"
            );
        }
        common::copy_dir(&output, &artifacts.join(format!("embargo-shard-{shard}")));
    }
    let (clone, cp) = job_clone(&f, "job-assemble", &p);
    let staged = f.embargo(&["run", &cp, "--shards", artifacts.to_str().unwrap()]);
    staged.expect(0);
    for tag in tags {
        assert!(private_has(&f, &format!("refs/tags/{tag}")), "{tag}");
    }

    let g = crate::lines::three_lines();
    let q = pipeline_of(&g);
    g.embargo(&["run", &q]).expect(0);
    let sums = |root: &std::path::Path| -> Vec<String> {
        let set = std::fs::read_dir(root.join(".git/embargo/security-release"))
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().contains('+'))
            .expect("the release's folder")
            .path();
        tags.iter()
            .map(|tag| std::fs::read_to_string(set.join(tag).join("dist/SHA256SUMS")).unwrap())
            .collect()
    };
    let split = sums(&clone);
    assert!(split[2].contains("app-linux-arm64.tar.gz"), "{}", split[2]);
    assert_eq!(split, sums(g.work()));
}

/// A manifest that lists a file the shard's globs do not make, drops every file of its shard,
/// or takes another shard's file, is refused: the names must be what the build could make.
#[test]
fn a_manifest_adding_dropping_or_taking_files_is_an_integrity_violation() {
    let a = Assemble::new();
    let sha = |bytes: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    // Adds a file, named and hashed as the shard's own would be.
    std::fs::write(a.shard("linux-amd64").join("evil.sh"), "evil\n").unwrap();
    a.edit_manifest("linux-amd64", |m| {
        m["artifacts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "name": "evil.sh", "path": "dist/evil.sh", "size": 5, "sha256": sha(b"evil\n")
            }))
    });
    a.refused(
        3,
        &["names evil.sh (built at `dist/evil.sh`), which none of the shard's artifact globs"],
    );
    std::fs::remove_file(a.shard("linux-amd64").join("evil.sh")).unwrap();
    a.edit_manifest("linux-amd64", |m| {
        m["artifacts"].as_array_mut().unwrap().pop();
    });

    // Drops its files: the release would ship without them.
    let arm = a.shard("linux-arm64");
    let kept = std::fs::read(arm.join("shard.json")).unwrap();
    for entry in std::fs::read_dir(&arm).unwrap().flatten() {
        if entry.file_name() != "shard.json" {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    a.edit_manifest("linux-arm64", |m| m["artifacts"] = serde_json::json!([]));
    a.refused(
        3,
        &["names no file that `dist/app-linux-arm64.tar.gz` matches"],
    );
    std::fs::write(arm.join("shard.json"), kept).unwrap();

    // Twice the same file in one manifest, and a hash that is not one.
    a.edit_manifest("linux-amd64", |m| {
        let first = m["artifacts"][0].clone();
        m["artifacts"].as_array_mut().unwrap().push(first);
    });
    a.refused(3, &["names `app-linux-amd64.tar.gz` twice"]);
    a.edit_manifest("linux-amd64", |m| {
        m["artifacts"].as_array_mut().unwrap().pop();
        let upper = m["artifacts"][0]["sha256"].as_str().unwrap().to_uppercase();
        m["artifacts"][0]["sha256"] = upper.into();
    });
    a.refused(3, &["which is not 64 lowercase hexadecimal digits"]);
}

#[test]
fn a_shard_taking_another_shards_file_is_an_integrity_violation() {
    let a = Assemble::new();
    let (amd, arm) = (a.shard("linux-amd64"), a.shard("linux-arm64"));
    let moved: Vec<serde_json::Value> = {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(arm.join("shard.json")).unwrap()).unwrap();
        m["artifacts"].as_array().unwrap().clone()
    };
    for file in &moved {
        let name = file["name"].as_str().unwrap();
        std::fs::rename(arm.join(name), amd.join(name)).unwrap();
    }
    a.edit_manifest("linux-arm64", |m| m["artifacts"] = serde_json::json!([]));
    a.edit_manifest("linux-amd64", |m| {
        m["artifacts"].as_array_mut().unwrap().extend(moved.clone())
    });
    a.refused(
        3,
        &["the manifest of the shard linux-amd64 names app-linux-arm64.tar.gz"],
    );
}

/// The manifest is read only as the plain, small file `embargo build` writes: a link to a
/// device or a pipe is refused at once instead of read forever.
#[test]
fn a_manifest_that_is_a_link_a_device_or_a_pipe_is_refused_without_reading_it() {
    let a = Assemble::new();
    let manifest = a.shard("linux-arm64").join("shard.json");
    let kept = std::fs::read(&manifest).unwrap();
    std::fs::remove_file(&manifest).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &manifest).unwrap();
    a.refused(3, &["shard.json is not a plain file"]);
    std::fs::remove_file(&manifest).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&manifest)
        .status()
        .unwrap();
    assert!(status.success());
    a.refused(3, &["shard.json is not a plain file"]);
    std::fs::remove_file(&manifest).unwrap();
    std::fs::write(&manifest, kept).unwrap();
}

/// A build step that plants links in the output folder (where the manifest and the files will
/// be written) writes nothing through them: the shard's folder is made after the steps.
#[test]
fn links_a_build_step_plants_in_the_output_folder_are_never_written_through() {
    let f = Fixture::new();
    let out = f.sample.root.join("out");
    let config = f.work().join(".git/config");
    let elsewhere = f.sample.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // Each shard's step plants a link where its own output goes: the manifest's name pointing
    // at the clone's git configuration, or the shard's folder pointing elsewhere.
    let plant = format!(
        "case \"$EMBARGO_SHARD\" in linux-amd64) mkdir -p {o}/v1.0.2/linux-amd64 && ln -sf {c} {o}/v1.0.2/linux-amd64/shard.json;; *) mkdir -p {o}/v1.0.2 && ln -sfn {e} {o}/v1.0.2/linux-arm64;; esac && ./build.sh",
        o = out.display(),
        c = config.display(),
        e = elsewhere.display()
    );
    let text = replace_once(
        &replace_once(&without_publish(PIPELINE), SPLIT),
        &[(
            "      run: ./build.sh && if",
            &format!("      run: {plant} && if"),
        )],
    );
    let p = f.pipeline(&text).to_str().unwrap().to_string();
    f.embargo(&["run", &p, "--until", "prepare"]).expect(0);
    let config_before = std::fs::read(&config).unwrap();
    for shard in SHARDS {
        build_shard(&f, &p, shard, &out).expect(0);
        let folder = out.join("v1.0.2").join(shard);
        assert!(
            !std::fs::symlink_metadata(&folder)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{shard}"
        );
        let manifest = std::fs::symlink_metadata(folder.join("shard.json")).unwrap();
        assert!(manifest.is_file(), "{shard}");
    }
    assert_eq!(std::fs::read(&config).unwrap(), config_before);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    // Both shards built into one folder are both there, and taken together.
    let run = f.embargo(&["run", &p, "--shards", out.to_str().unwrap()]);
    run.expect(0);
    says(&run, &["took 4 artifact(s) from 2 shard(s)"]);
}

#[test]
fn an_artifact_named_like_the_manifest_is_refused_in_a_split_build() {
    let f = Fixture::new();
    let text = replace_once(
        &replace_once(&without_publish(PIPELINE), SPLIT),
        &[
            // In upper case: a runner whose file system ignores case would make it the manifest.
            (
                "; echo \"arch=$ARCH\"",
                "; mkdir -p \"dist/$EMBARGO_SHARD\"; echo '{}' > \"dist/$EMBARGO_SHARD/SHARD.JSON\"; echo \"arch=$ARCH\"",
            ),
            (
                "\"dist/arch-{shard}.txt\"]",
                "\"dist/arch-{shard}.txt\", \"dist/{shard}/*.JSON\"]",
            ),
        ],
    );
    let p = f.pipeline(&text).to_str().unwrap().to_string();
    f.embargo(&["run", &p, "--until", "prepare"]).expect(0);
    let out = f.sample.root.join("out");
    let run = f.embargo(&[
        "build",
        &p,
        "--shard",
        "linux-amd64",
        "--output",
        out.to_str().unwrap(),
    ]);
    run.expect(2);
    says(
        &run,
        &["is named SHARD.JSON, the name of a shard's manifest"],
    );
}

/// The prepare job run again after someone moved the patch branch on the private remote, and
/// the stage job run without the prepare job's state folder: each says what is wrong, with the
/// contract's code, before anything is pushed.
#[test]
fn a_moved_patch_branch_or_a_missing_state_folder_is_named_before_anything_is_pushed() {
    let f = Fixture::new();
    let p = split_pipeline(&f);
    let first = f.embargo(&["run", &p, "--until", "prepare", "--line", "1.0"]);
    first.expect(0);
    // The commands of the next jobs repeat the flags that chose the release.
    says(
        &first,
        &[
            "--shard linux-amd64 --output DIR --line 1.0",
            "--shards FOLDER --line 1.0",
        ],
    );
    let other = f.git(&["rev-parse", "v1.0.1^{commit}"]);
    f.git_in(
        &f.sample.private,
        &["update-ref", "refs/heads/v1.0.2", &other],
    );
    let again = f.embargo(&["run", &p, "--until", "prepare"]);
    again.expect(3);
    says(
        &again,
        &[
            "refs/heads/v1.0.2 on the private remote `security` is",
            "nothing was pushed",
        ],
    );
    common::pin::error(&again);
    assert_eq!(
        f.git_in(&f.sample.private, &["rev-parse", "refs/heads/v1.0.2"]),
        other
    );

    // A new prepare job (a new workflow run, without the old state folder) over the branch an
    // earlier one pushed: it says how to go on.
    let g = Fixture::new();
    let q = split_pipeline(&g);
    g.embargo(&["run", &q, "--until", "prepare"]).expect(0);
    let (clone, cq) = job_clone(&g, "job-new-run", &q);
    std::fs::remove_dir_all(clone.join(".git/embargo")).unwrap();
    let taken = g.embargo(&["run", &cq, "--until", "prepare"]);
    taken.expect(2);
    says(
        &taken,
        &["is taken", "re-run its failed jobs", "embargo abort"],
    );
    common::pin::error(&taken);
    // The stage job without the prepare job's state folder.
    let out = g.sample.root.join("shards");
    std::fs::create_dir_all(&out).unwrap();
    let stage = g.embargo(&["run", &cq, "--shards", out.to_str().unwrap()]);
    stage.expect(2);
    says(
        &stage,
        &["v1.0.2 is not prepared in", "embargo-state-prepared"],
    );
    common::pin::error(&stage);
}

/// The lead's clone prepared the release; a split build's stage job staged it with its own copy
/// of the state. An abort from the lead's clone would take back the patch branch alone and
/// leave the tag and picks: refused, naming where to abort instead.
#[test]
fn an_abort_from_the_prepare_jobs_state_refuses_a_release_staged_elsewhere() {
    let f = Fixture::new();
    let p = split_pipeline(&f);
    let artifacts = prepare_and_build_shards(&f, &p, false);
    let (clone, cp) = job_clone(&f, "job-assemble", &p);
    f.embargo(&["run", &cp, "--shards", artifacts.to_str().unwrap()])
        .expect(0);
    let abort = f.embargo(&["abort", &p]);
    abort.expect(2);
    says(
        &abort,
        &["v1.0.2 was staged by another run", "refs/tags/v1.0.2"],
    );
    common::pin::error(&abort);
    assert!(private_has(&f, "refs/tags/v1.0.2"));
    assert!(private_has(&f, "refs/heads/v1.0.2"));
    // From the stage job's state, it is taken back whole.
    f.embargo(&["abort", &cp]).expect(0);
    assert!(!private_has(&f, "refs/tags/v1.0.2"));
    assert!(!private_has(&f, "refs/heads/v1.0.2"));
    drop(clone);
}

/// The prepare job and the shards' jobs hold no token for GitHub (the workflow gives them none
/// unless the pipeline names a private repository to prove private): they need none.
#[test]
fn the_prepare_and_shard_jobs_need_no_github_token() {
    let f = Fixture::new();
    let text = replace_once(PIPELINE, SPLIT);
    assert!(text.contains("token_env: GITHUB_TOKEN"));
    let p = f.pipeline(&text).to_str().unwrap().to_string();
    // The sample's environment has no GITHUB_TOKEN.
    f.embargo(&["run", &p, "--until", "prepare"]).expect(0);
    let out = f.sample.root.join("out");
    for shard in SHARDS {
        build_shard(&f, &p, shard, &out).expect(0);
    }
}

/// `*` in an artifact glob matches within one folder, as the build's own search does: a
/// manifest cannot add a file from a folder below by a path the glob would match only if `*`
/// crossed a `/`.
#[test]
fn a_star_in_a_glob_never_crosses_a_folder_in_a_manifest() {
    let text = replace_once(
        &replace_once(&without_publish(PIPELINE), SPLIT),
        &[("\"dist/app-{shard}.tar.gz\"", "\"dist/*-{shard}.tar.gz\"")],
    );
    let a = Assemble::of(&text);
    let amd = a.shard("linux-amd64");
    let bytes = std::fs::read(amd.join("app-linux-amd64.tar.gz")).unwrap();
    std::fs::write(amd.join("extra-linux-amd64.tar.gz"), &bytes).unwrap();
    a.edit_manifest("linux-amd64", |m| {
        let mut extra = m["artifacts"][0].clone();
        extra["name"] = "extra-linux-amd64.tar.gz".into();
        extra["path"] = "dist/sub/extra-linux-amd64.tar.gz".into();
        m["artifacts"].as_array_mut().unwrap().push(extra);
    });
    a.refused(
        3,
        &["names extra-linux-amd64.tar.gz (built at `dist/sub/extra-linux-amd64.tar.gz`), which none of the shard's artifact globs"],
    );
}

/// A shard whose bytes pass the build's proof but fail a check: the stage job, run again in the
/// same clone with the shards built anew, takes them (the build taken before was never
/// verified); once verified, a build is never taken again.
#[test]
fn shards_given_again_replace_a_build_that_failed_its_checks_and_never_a_verified_one() {
    let a = Assemble::new();
    let good = a.f.sample.root.join("good");
    common::copy_dir(&a.artifacts, &good);
    let file = a.shard("linux-amd64").join("app-linux-amd64.tar.gz");
    std::fs::write(&file, "not an archive\n").unwrap();
    a.edit_manifest("linux-amd64", |m| {
        m["artifacts"][0]["size"] = 15.into();
        m["artifacts"][0]["sha256"] =
            "ec8e1f7ab0c2ea8d12a8b7c0b2d6ac4bf9e0ac1ea5bc3bd0cfd3da2d1a2e42ab".into();
    });
    // Made consistent with the file, as someone able to rewrite the manifest would.
    let sha = embargo::checksum::sha256_file(&file).unwrap().sha256;
    a.edit_manifest("linux-amd64", |m| {
        m["artifacts"][0]["sha256"] = sha.clone().into()
    });
    let bad = a.f.embargo(&[
        "run",
        &a.pipeline,
        "--shards",
        a.artifacts.to_str().unwrap(),
    ]);
    bad.expect(1);
    says(&bad, &["version"]);
    let again =
        a.f.embargo(&["run", &a.pipeline, "--shards", good.to_str().unwrap()]);
    again.expect(0);
    says(
        &again,
        &[
            "the build taken in an earlier run was never verified: taking the shards in",
            "release v1.0.2 frozen and staged privately",
        ],
    );
    let last = a.f.embargo(&[
        "run",
        &a.pipeline,
        "--shards",
        a.artifacts.to_str().unwrap(),
    ]);
    last.expect(0);
    says(&last, &["is re-checked, not taken again"]);
}

/// The dry run has no prepare job's state: with --shards it is refused, and after a prepare it
/// says the release is under way rather than naming a scratch folder about to be removed.
#[test]
fn a_dry_run_of_a_split_under_way_says_so() {
    let f = Fixture::new();
    let p = split_pipeline(&f);
    let refused = f.embargo(&["run", &p, "--shards", ".", "--dry-run"]);
    refused.expect(2);
    says(&refused, &["--dry-run with --shards"]);
    f.embargo(&["run", &p, "--until", "prepare"]).expect(0);
    for args in [
        &["run", &p, "--dry-run"][..],
        &["run", &p, "--until", "prepare", "--dry-run"],
    ] {
        let dry = f.embargo(args);
        dry.expect(2);
        says(&dry, &["v1.0.2 is under way (its state is in", "abort"]);
        assert!(!dry.stderr.contains("embargo-dry-run-"), "{}", dry.stderr);
    }
}

/// Shards built into one folder: a step of the second shard that rewrites the first shard's
/// file (and could rewrite its manifest to match) is caught before anything is written.
#[test]
fn a_step_changing_another_shards_folder_in_a_shared_output_is_an_integrity_violation() {
    let f = Fixture::new();
    let out = f.sample.root.join("out");
    let tamper = format!(
        "if [ \"$EMBARGO_SHARD\" = linux-arm64 ]; then echo x >> {}/v1.0.2/linux-amd64/app-linux-amd64.tar.gz; fi && ./build.sh",
        out.display()
    );
    let text = replace_once(
        &replace_once(&without_publish(PIPELINE), SPLIT),
        &[(
            "      run: ./build.sh && if",
            &format!("      run: {tamper} && if"),
        )],
    );
    let p = f.pipeline(&text).to_str().unwrap().to_string();
    f.embargo(&["run", &p, "--until", "prepare"]).expect(0);
    build_shard(&f, &p, "linux-amd64", &out).expect(0);
    let run = build_shard(&f, &p, "linux-arm64", &out);
    run.expect(3);
    says(
        &run,
        &[
            "a build step of the shard linux-arm64 changed",
            "app-linux-amd64.tar.gz",
        ],
    );
    assert!(!out.join("v1.0.2/linux-arm64").exists());
    // The shard whose file was rewritten is removed, to be built again, not taken.
    assert!(!out.join("v1.0.2/linux-amd64").exists());
    says(&run, &["removed, to be built again"]);
}

/// Shards `linux` and `linux-arm64` with `app-{shard}*`: linux's glob matches linux-arm64's file,
/// so a file's path would not tell which shard made it. Refused at the build, on one machine as
/// in a shard's job, naming both shards.
#[test]
fn a_file_two_shards_globs_match_is_refused_naming_both() {
    let f = Fixture::new();
    let text = built_as(
        "mv dist/app-linux-amd64.tar.gz \"dist/app-$EMBARGO_SHARD.tar.gz\"",
        "[\"dist/app-{shard}*.tar.gz\"]\n  matrix:\n    - name: linux\n    - name: linux-arm64",
    );
    let p = f.pipeline(&text).to_str().unwrap().to_string();
    let run = f.embargo(&["run", &p]);
    run.expect(2);
    says(
        &run,
        &[
            "dist/app-linux-arm64.tar.gz, made by the shard linux-arm64, is matched by the globs of the shard linux too",
        ],
    );
    common::pin::error(&run);
}

/// A glob written `./dist/...` matches a shard's files as the build matched them.
#[test]
fn a_glob_written_with_a_leading_dot_slash_takes_its_shards() {
    let text = replace_once(
        &replace_once(&without_publish(PIPELINE), SPLIT),
        &[(
            "\"dist/app-{shard}.tar.gz\"",
            "\"./dist/app-{shard}.tar.gz\"",
        )],
    );
    let a = Assemble::of(&text);
    let run = a.f.embargo(&[
        "run",
        &a.pipeline,
        "--shards",
        a.artifacts.to_str().unwrap(),
    ]);
    run.expect(0);
    says(&run, &["took 4 artifact(s) from 2 shard(s)"]);
}
