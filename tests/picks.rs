//! Picks made from the fix's own changes (src/git/narrow.rs) against `git cherry-pick -x`: each
//! case is a small repository where the target and the fix differ in one way that could lead the
//! narrow pick astray, and the pick must make the very tree git makes (or conflict where git
//! does). Each case also says whether the narrow pick may answer it or must leave it to the full
//! merge, so a shortcut that grows bolder than it can prove fails here.

use std::path::{Path, PathBuf};
use std::process::Command;

use embargo::git::LocalRepo;
use embargo::git::apply::{ApplyError, apply};
use embargo::git::narrow::picked_tree;

const EPOCH: i64 = 1_767_225_600;

struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
    work: PathBuf,
}

/// What a pick gave: the tree, or the conflict's paths.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Tree(String),
    Conflict,
}

/// Which of the two ways picked.
#[derive(Debug, PartialEq, Eq)]
enum Way {
    Narrow,
    Full,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().canonicalize().expect("canonical path");
        std::fs::write(root.join("gitconfig"), "").expect("gitconfig");
        let work = root.join("work");
        let repo = Repo {
            _dir: dir,
            root,
            work,
        };
        repo.git_in(&repo.root, &["init", "-q", "-b", "master", "work"]);
        repo
    }

    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.command(dir, args).output().expect("running git");
        assert!(
            out.status.success(),
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.work, args)
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let date = format!("@{EPOCH} +0000");
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.root.join("gitconfig"))
            .env("HOME", &self.root)
            .env("GIT_AUTHOR_NAME", "Fix Lead")
            .env("GIT_AUTHOR_EMAIL", "fix-lead@example.org")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_NAME", "Release Lead")
            .env("GIT_COMMITTER_EMAIL", "release-lead@example.org")
            .env("GIT_COMMITTER_DATE", &date);
        command
    }

    fn write(&self, path: &str, text: &str) {
        let full = self.work.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("folder");
        std::fs::write(full, text).expect("file");
    }

    fn make_executable(&self, path: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.work.join(path), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// The base commit on master from `files`, then the branch `target` with `on_target`, then the
    /// fix (on master) with `in_fix`; picks the fix onto the target both ways and with git, and
    /// checks that all agree. Returns the outcome and which way embargo took.
    fn pick(
        &self,
        files: &[(&str, &str)],
        on_target: impl FnOnce(&Repo),
        in_fix: impl FnOnce(&Repo),
    ) -> (Outcome, Way) {
        for (path, text) in files {
            self.write(path, text);
        }
        self.commit("Base");
        self.git(&["checkout", "-q", "-b", "target"]);
        on_target(self);
        let target = self.commit("On the target");
        self.git(&["checkout", "-q", "-b", "fix", "master"]);
        in_fix(self);
        let fix = self.commit("The fix");

        let local = LocalRepo::open(&self.work).expect("open the clone");
        let target_oid = git2::Oid::from_str(&target).unwrap();
        let fix_oid = git2::Oid::from_str(&fix).unwrap();
        let narrow = {
            let pick = local.repo.find_commit(fix_oid).unwrap();
            let onto = local.repo.find_commit(target_oid).unwrap();
            picked_tree(&local.repo, &pick, &onto).expect("narrow pick")
        };
        let committer = git2::Signature::new(
            "Release Lead",
            "release-lead@example.org",
            &git2::Time::new(EPOCH, 0),
        )
        .unwrap();
        let ours = match apply(&local, target_oid, &[fix_oid], &committer) {
            Ok(commit) => Outcome::Tree(
                local
                    .repo
                    .find_commit(commit)
                    .unwrap()
                    .tree_id()
                    .to_string(),
            ),
            Err(ApplyError::Conflict { .. }) => Outcome::Conflict,
            Err(other) => panic!("the pick failed: {other:?}"),
        };
        let by_hand = self.root.join("by-hand");
        self.git(&[
            "worktree",
            "add",
            "-q",
            "--detach",
            by_hand.to_str().unwrap(),
            "target",
        ]);
        let git = match self
            .command(&by_hand, &["cherry-pick", "-x", &fix])
            .output()
            .expect("git cherry-pick")
            .status
            .success()
        {
            true => Outcome::Tree(self.git_in(&by_hand, &["rev-parse", "HEAD^{tree}"])),
            false => Outcome::Conflict,
        };
        assert_eq!(ours, git, "embargo's pick against git cherry-pick -x");
        if let Some(tree) = narrow {
            assert_eq!(
                Outcome::Tree(tree.to_string()),
                ours,
                "the narrow pick answered differently"
            );
        }
        (
            ours,
            if narrow.is_some() {
                Way::Narrow
            } else {
                Way::Full
            },
        )
    }

    fn tree_entry(&self, outcome: &Outcome, path: &str) -> String {
        let Outcome::Tree(tree) = outcome else {
            panic!("no tree: {outcome:?}")
        };
        self.git(&["ls-tree", tree, path])
    }
}

fn lines(n: usize, changed: &[(usize, &str)]) -> String {
    (1..=n)
        .map(|i| {
            changed
                .iter()
                .find(|(at, _)| *at == i)
                .map(|(_, text)| format!("{text}\n"))
                .unwrap_or_else(|| format!("setting_{i} = {i}\n"))
        })
        .collect()
}

#[test]
fn a_fix_to_a_file_the_target_changed_elsewhere_is_merged_as_git_merges_it() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("src/auth.conf", &lines(30, &[])), ("README", "app\n")],
        |r| {
            r.write(
                "src/auth.conf",
                &lines(30, &[(2, "setting_2 = backported")]),
            )
        },
        |r| {
            r.write(
                "src/auth.conf",
                &lines(30, &[(25, "allow_anonymous = false")]),
            )
        },
    );
    assert_eq!(
        way,
        Way::Narrow,
        "a clean content merge needs no full merge"
    );
    let merged = repo.git(&["show", &format!("{}:src/auth.conf", tree_of(&outcome))]);
    assert!(
        merged.contains("setting_2 = backported") && merged.contains("allow_anonymous = false")
    );
}

#[test]
fn a_fix_to_a_file_the_target_deleted_conflicts_as_with_git() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("src/auth.conf", &lines(10, &[])), ("README", "app\n")],
        |r| {
            r.git(&["rm", "-q", "src/auth.conf"]);
        },
        |r| {
            r.write(
                "src/auth.conf",
                &lines(10, &[(5, "allow_anonymous = false")]),
            )
        },
    );
    assert_eq!((outcome, way), (Outcome::Conflict, Way::Full));
}

#[test]
fn a_file_the_target_deleted_and_the_fix_leaves_alone_stays_deleted() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("src/auth.conf", &lines(10, &[])), ("src/old.c", "old\n")],
        |r| {
            r.git(&["rm", "-q", "src/old.c"]);
        },
        |r| {
            r.write(
                "src/auth.conf",
                &lines(10, &[(5, "allow_anonymous = false")]),
            )
        },
    );
    assert_eq!(way, Way::Narrow);
    assert_eq!(repo.tree_entry(&outcome, "src/old.c"), "");
}

#[test]
fn a_fix_to_a_file_the_target_renamed_follows_the_rename_as_git_does() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("src/auth.conf", &lines(20, &[])), ("README", "app\n")],
        |r| {
            r.git(&["mv", "src/auth.conf", "src/authentication.conf"]);
        },
        |r| {
            r.write(
                "src/auth.conf",
                &lines(20, &[(5, "allow_anonymous = false")]),
            )
        },
    );
    assert_eq!(way, Way::Full, "only the full merge sees renames");
    let moved = repo.git(&[
        "show",
        &format!("{}:src/authentication.conf", tree_of(&outcome)),
    ]);
    assert!(moved.contains("allow_anonymous = false"), "{moved}");
    assert_eq!(repo.tree_entry(&outcome, "src/auth.conf"), "");
}

#[test]
fn a_fix_that_renames_a_file_is_picked_as_git_picks_it() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("src/auth.conf", &lines(20, &[])), ("README", "app\n")],
        |r| r.write("README", "app, backported\n"),
        |r| {
            r.git(&["mv", "src/auth.conf", "src/access.conf"]);
            r.write(
                "src/access.conf",
                &lines(20, &[(5, "allow_anonymous = false")]),
            );
        },
    );
    assert_eq!(way, Way::Narrow, "the target left the renamed file alone");
    assert_eq!(repo.tree_entry(&outcome, "src/auth.conf"), "");
    assert_ne!(repo.tree_entry(&outcome, "src/access.conf"), "");
}

#[test]
fn a_fix_that_renames_a_file_the_target_changed_is_left_to_the_full_merge() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("src/auth.conf", &lines(20, &[])), ("README", "app\n")],
        |r| r.write("src/auth.conf", &lines(20, &[(15, "session_timeout = 45")])),
        |r| {
            r.git(&["mv", "src/auth.conf", "src/access.conf"]);
            r.write(
                "src/access.conf",
                &lines(20, &[(5, "allow_anonymous = false")]),
            );
        },
    );
    assert_eq!(way, Way::Full);
    let moved = repo.git(&["show", &format!("{}:src/access.conf", tree_of(&outcome))]);
    assert!(moved.contains("session_timeout = 45") && moved.contains("allow_anonymous = false"));
}

#[test]
fn an_executable_bit_set_by_the_fix_is_kept() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("bin/run.sh", "#!/bin/sh\nexec app\n"), ("README", "app\n")],
        |r| r.write("README", "app, backported\n"),
        |r| {
            r.make_executable("bin/run.sh");
        },
    );
    assert_eq!(way, Way::Narrow);
    assert!(
        repo.tree_entry(&outcome, "bin/run.sh")
            .starts_with("100755 "),
        "{}",
        repo.tree_entry(&outcome, "bin/run.sh")
    );
}

#[test]
fn an_executable_bit_set_by_the_fix_on_a_file_the_target_changed_is_left_to_the_full_merge() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("bin/run.sh", &lines(20, &[])), ("README", "app\n")],
        |r| r.write("bin/run.sh", &lines(20, &[(2, "exec app --backported")])),
        |r| {
            r.write("bin/run.sh", &lines(20, &[(18, "exec app --safe")]));
            r.make_executable("bin/run.sh");
        },
    );
    assert_eq!(way, Way::Full);
    assert!(
        repo.tree_entry(&outcome, "bin/run.sh")
            .starts_with("100755 ")
    );
}

#[test]
fn a_fix_that_conflicts_with_the_target_is_reported_as_git_reports_it() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("src/auth.conf", &lines(10, &[])), ("README", "app\n")],
        |r| {
            r.write(
                "src/auth.conf",
                &lines(10, &[(5, "allow_anonymous = maybe")]),
            )
        },
        |r| {
            r.write(
                "src/auth.conf",
                &lines(10, &[(5, "allow_anonymous = false")]),
            )
        },
    );
    assert_eq!((outcome, way), (Outcome::Conflict, Way::Full));
}

#[test]
fn a_fix_that_adds_and_empties_folders_is_picked_as_git_picks_it() {
    let repo = Repo::new();
    let (outcome, way) = repo.pick(
        &[("src/legacy/only.c", "legacy\n"), ("README", "app\n")],
        |r| r.write("README", "app, backported\n"),
        |r| {
            r.git(&["rm", "-q", "src/legacy/only.c"]);
            r.write("src/new/deep/guard.c", "guard\n");
        },
    );
    assert_eq!(way, Way::Narrow);
    assert_eq!(repo.tree_entry(&outcome, "src/legacy"), "");
    assert_ne!(repo.tree_entry(&outcome, "src/new/deep/guard.c"), "");
}

#[test]
fn a_fix_adding_a_file_where_the_target_has_a_folder_is_left_to_the_full_merge() {
    let repo = Repo::new();
    let (_, way) = repo.pick(
        &[("README", "app\n")],
        |r| r.write("src/guard/impl.c", "impl\n"),
        |r| r.write("src/guard", "guard\n"),
    );
    assert_eq!(way, Way::Full);
}

#[test]
fn a_fix_adding_a_file_under_what_the_target_has_as_a_file_is_left_to_the_full_merge() {
    let repo = Repo::new();
    let (_, way) = repo.pick(
        &[("README", "app\n")],
        |r| r.write("src/guard", "guard\n"),
        |r| r.write("src/guard/impl.c", "impl\n"),
    );
    assert_eq!(way, Way::Full);
}

#[test]
fn a_merge_attribute_leaves_the_content_merge_to_the_full_merge() {
    let repo = Repo::new();
    // In the base, so that the clone's working tree (where libgit2 reads attributes) and git's
    // worktree at the target both have it.
    let (outcome, way) = repo.pick(
        &[
            (".gitattributes", "*.list merge=union\n"),
            ("allowed.list", "alice\nbob\n"),
        ],
        |r| r.write("allowed.list", "alice\nbob\ncarol\n"),
        |r| r.write("allowed.list", "alice\nbob\ndave\n"),
    );
    assert_eq!(way, Way::Full);
    let merged = repo.git(&["show", &format!("{}:allowed.list", tree_of(&outcome))]);
    assert!(
        merged.contains("carol") && merged.contains("dave"),
        "{merged}"
    );
}

#[test]
fn a_fix_partly_on_the_target_already_is_picked_as_git_picks_it() {
    let repo = Repo::new();
    let fixed = lines(10, &[(5, "allow_anonymous = false")]);
    let (outcome, way) = repo.pick(
        &[("src/auth.conf", &lines(10, &[])), ("README", "app\n")],
        |r| r.write("src/auth.conf", &fixed),
        |r| {
            r.write("src/auth.conf", &fixed);
            r.write("README", "app, fixed\n");
        },
    );
    assert_eq!(way, Way::Narrow);
    let readme = repo.git(&["show", &format!("{}:README", tree_of(&outcome))]);
    assert_eq!(readme, "app, fixed");
}

#[test]
fn a_file_renamed_by_both_the_fix_and_the_target_is_left_to_the_full_merge() {
    let repo = Repo::new();
    let (_, way) = repo.pick(
        &[("src/auth.conf", &lines(20, &[])), ("README", "app\n")],
        |r| {
            r.git(&["mv", "src/auth.conf", "src/authentication.conf"]);
        },
        |r| {
            r.git(&["mv", "src/auth.conf", "src/access.conf"]);
        },
    );
    assert_eq!(way, Way::Full);
}

fn tree_of(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Tree(tree) => tree,
        Outcome::Conflict => panic!("the pick conflicted"),
    }
}
