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
        &std::fs::read(artifacts.join("embargo-shard-linux-arm64/v1.0.2/shard.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["shard"], "linux-arm64");
    assert_eq!(manifest["release_commit"], release_commit.as_str());
    assert_eq!(
        std::fs::read_to_string(
            artifacts.join("embargo-shard-linux-arm64/v1.0.2/arch-linux-arm64.txt")
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
        let f = Fixture::new();
        let p = split_pipeline(&f);
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
    let twin = a.artifacts.join("again/v1.0.2");
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
    // Both shards make app-linux-amd64.tar.gz: the globs do not tell the shards apart.
    let f = Fixture::new();
    let text = replace_once(
        &without_publish(PIPELINE),
        &[(
            "  artifacts: [\"dist/*.tar.gz\"]\n",
            "  artifacts: [\"dist/*.tar.gz\"]\n  matrix:\n    - name: one\n    - name: two\n",
        )],
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
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(output.join("v1.0.2/shard.json")).unwrap()).unwrap();
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
            assert!(output.join(tag).join("shard.json").is_file(), "{tag}");
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
