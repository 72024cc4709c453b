//! The fix team: the people who own the paths the fix touches, from `CODEOWNERS` (GitHub's
//! format) and from Kubernetes/Istio-style `OWNERS` files.
//!
//! Everything is read from the tree of the release's base (the latest patch release), never from
//! the working tree: the owners of a release line are the ones recorded in it, and a dirty or
//! checked-out-elsewhere working tree must not change who is invited to a private fix.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{Oid, Repository, Tree};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Where GitHub looks for `CODEOWNERS`, in its order: the first that exists is the only one used.
const CODEOWNERS_PLACES: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// How a person came to own a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Named by the `CODEOWNERS` rule that matched last.
    CodeOwner,
    /// In `approvers` of an `OWNERS` file.
    Approver,
    /// In `reviewers` of an `OWNERS` file.
    Reviewer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::CodeOwner => "code owner",
            Role::Approver => "approver",
            Role::Reviewer => "reviewer",
        }
    }
}

/// One path one person owns, and the file (and line, for `CODEOWNERS`) that says so.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Claim {
    pub path: String,
    pub role: Role,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Owner {
    pub name: String,
    /// In the advisory's `people.security_team`: stays on the private repository for good.
    pub security_team: bool,
    pub claims: Vec<Claim>,
}

/// The fix team of one release.
#[derive(Debug, Clone, Serialize)]
pub struct Team {
    /// The release the owners were read from (the latest patch release tag).
    pub base: String,
    /// Every path the fix commits change, sorted.
    pub paths: Vec<String>,
    pub owners: Vec<Owner>,
    /// Paths no file names an owner for.
    pub unowned: Vec<String>,
    /// The advisory's permanent security team.
    pub security_team: Vec<String>,
}

/// The paths the fix commits change, each commit against its first parent, sorted and unique.
pub fn changed_paths(repo: &Repository, fix: &[Oid]) -> Result<Vec<String>, Error> {
    let failed = |what: String| {
        move |e: git2::Error| Error::stage_failed(format!("{what}: {}", e.message()))
    };
    let mut paths = std::collections::BTreeSet::new();
    for oid in fix {
        let commit = repo
            .find_commit(*oid)
            .map_err(failed(format!("cannot read fix commit {oid}")))?;
        let tree = commit
            .tree()
            .map_err(failed(format!("cannot read the tree of {oid}")))?;
        // A root commit has no parent: every path in it is new.
        let parent = match commit.parent(0) {
            Ok(p) => Some(
                p.tree()
                    .map_err(failed(format!("cannot read the parent tree of {oid}")))?,
            ),
            Err(_) => None,
        };
        let diff = repo
            .diff_tree_to_tree(parent.as_ref(), Some(&tree), None)
            .map_err(failed(format!("cannot diff fix commit {oid}")))?;
        for delta in diff.deltas() {
            for file in [delta.old_file(), delta.new_file()] {
                if let Some(path) = file.path().and_then(Path::to_str) {
                    paths.insert(path.to_string());
                }
            }
        }
    }
    Ok(paths.into_iter().collect())
}

/// Finds the owners of `paths` in the tree of `base`.
pub fn owners(
    repo: &Repository,
    base: Oid,
    base_name: &str,
    paths: &[String],
    security_team: &[String],
) -> Result<Team, Error> {
    let tree = repo.find_commit(base).and_then(|c| c.tree()).map_err(|e| {
        Error::stage_failed(format!(
            "cannot read the tree of {base_name}: {}",
            e.message()
        ))
    })?;
    let codeowners = match CODEOWNERS_PLACES
        .iter()
        .find_map(|place| blob_text(repo, &tree, place).map(|text| (place, text)))
    {
        Some((place, text)) => Some(CodeOwners::parse(place, &text?)),
        None => None,
    };
    let mut owned: BTreeMap<String, Vec<Claim>> = BTreeMap::new();
    let mut unowned = Vec::new();
    for path in paths {
        let mut claims = Vec::new();
        if let Some(rule) = codeowners.as_ref().and_then(|c| c.owner_rule(path)) {
            for name in &rule.owners {
                claims.push((
                    name.clone(),
                    Claim {
                        path: path.clone(),
                        role: Role::CodeOwner,
                        source: format!("{}:{} `{}`", rule.file, rule.line, rule.pattern),
                    },
                ));
            }
        }
        for file in owners_files(repo, &tree, path)? {
            for (names, role) in [
                (&file.approvers, Role::Approver),
                (&file.reviewers, Role::Reviewer),
            ] {
                for name in names {
                    claims.push((
                        name.clone(),
                        Claim {
                            path: path.clone(),
                            role,
                            source: file.path.clone(),
                        },
                    ));
                }
            }
        }
        if claims.is_empty() {
            unowned.push(path.clone());
        }
        for (name, claim) in claims {
            owned.entry(name).or_default().push(claim);
        }
    }
    let owners = owned
        .into_iter()
        .map(|(name, mut claims)| {
            claims.sort();
            claims.dedup();
            Owner {
                security_team: security_team
                    .iter()
                    .any(|s| super::access::same_login(s, &name)),
                name,
                claims,
            }
        })
        .collect();
    Ok(Team {
        base: base_name.to_string(),
        paths: paths.to_vec(),
        owners,
        unowned,
        security_team: security_team.to_vec(),
    })
}

/// The text of the file at `path` in `tree`, if there is one (a folder or a link is not a file).
fn blob_text(repo: &Repository, tree: &Tree<'_>, path: &str) -> Option<Result<String, Error>> {
    let entry = tree.get_path(Path::new(path)).ok()?;
    if entry.kind() != Some(git2::ObjectType::Blob) {
        return None;
    }
    Some(
        repo.find_blob(entry.id())
            .map_err(|e| Error::stage_failed(format!("cannot read {path}: {}", e.message())))
            .and_then(|blob| {
                String::from_utf8(blob.content().to_vec())
                    .map_err(|_| Error::bad_input(format!("{path} is not UTF-8")))
            }),
    )
}

/// One `CODEOWNERS` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub file: String,
    pub line: usize,
    pub pattern: String,
    pub owners: Vec<String>,
}

/// A `CODEOWNERS` file: rules in file order, the last matching one wins.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    pub rules: Vec<Rule>,
}

impl CodeOwners {
    pub fn parse(file: &str, text: &str) -> CodeOwners {
        let rules = text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| {
                // `#` starts a comment; `\#` at the start is a literal (a file named `#x`).
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    return None;
                }
                let mut words = line.split_whitespace();
                let pattern = words.next()?.replace("\\#", "#");
                let owners = words
                    .take_while(|w| !w.starts_with('#'))
                    .map(str::to_string)
                    .collect();
                Some(Rule {
                    file: file.to_string(),
                    line: i + 1,
                    pattern,
                    owners,
                })
            })
            .collect();
        CodeOwners { rules }
    }

    /// The rule that decides who owns `path`: the last one whose pattern matches. A rule with no
    /// owners still wins, and then nobody owns the path (GitHub's way to carve out a folder).
    pub fn owner_rule(&self, path: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .rev()
            .find(|r| pattern_matches(&r.pattern, path))
            .filter(|r| !r.owners.is_empty())
    }
}

/// Whether a gitignore-style `pattern` matches the file `path` (relative to the repository's
/// root, `/`-separated): a leading or inner `/` anchors it to the root, otherwise it matches at
/// any depth; a trailing `/` matches only a folder (and so everything in it); a pattern that
/// matches a folder owns every file under it; `*` and `?` stay within one name, `**` crosses
/// folders.
pub fn pattern_matches(pattern: &str, path: &str) -> bool {
    let (pattern, folder_only) = match pattern.strip_suffix('/') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let anchored = pattern.contains('/');
    let pattern = pattern.trim_start_matches('/');
    if pattern.is_empty() {
        return false;
    }
    let mut segments: Vec<&str> = pattern.split('/').collect();
    if !anchored {
        segments.insert(0, "**");
    }
    let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
    // The folders holding the file, then (unless the pattern is for folders only) the file.
    let last = if folder_only {
        names.len().saturating_sub(1)
    } else {
        names.len()
    };
    (1..=last).any(|n| segments_match(&segments, &names[..n]))
}

fn segments_match(pattern: &[&str], names: &[&str]) -> bool {
    match pattern.split_first() {
        None => names.is_empty(),
        Some((&"**", rest)) => (0..=names.len()).any(|skip| segments_match(rest, &names[skip..])),
        Some((first, rest)) => match names.split_first() {
            Some((name, names)) => name_matches(first, name) && segments_match(rest, names),
            None => false,
        },
    }
}

/// `*` and `?` within one name; `[...]` is taken literally (rare in `CODEOWNERS`, and GitHub
/// documents no character classes).
fn name_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|skip| go(rest, &n[skip..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(&p, &n)
}

/// An `OWNERS` file as Kubernetes and Istio write it. Other keys (labels, emeritus approvers,
/// filters) are accepted and not used.
#[derive(Debug, Default, Deserialize)]
struct OwnersWire {
    #[serde(default)]
    approvers: Vec<String>,
    #[serde(default)]
    reviewers: Vec<String>,
    #[serde(default)]
    options: OwnersOptions,
}

#[derive(Debug, Default, Deserialize)]
struct OwnersOptions {
    #[serde(default)]
    no_parent_owners: bool,
}

/// One `OWNERS` file that applies to a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnersFile {
    pub path: String,
    pub approvers: Vec<String>,
    pub reviewers: Vec<String>,
}

/// The `OWNERS` files that apply to `path`: the one in its folder and in each parent folder up
/// to the root, nearest first, stopping after a file that sets `options.no_parent_owners`.
pub fn owners_files(
    repo: &Repository,
    tree: &Tree<'_>,
    path: &str,
) -> Result<Vec<OwnersFile>, Error> {
    owners_chain(path, |file| blob_text(repo, tree, file).transpose())
}

/// [`owners_files`] over any way of reading a file (a tree, or a map in the tests).
pub fn owners_chain(
    path: &str,
    mut read: impl FnMut(&str) -> Result<Option<String>, Error>,
) -> Result<Vec<OwnersFile>, Error> {
    let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
    let mut found = Vec::new();
    for depth in (0..names.len()).rev() {
        let file = names[..depth]
            .iter()
            .chain(std::iter::once(&"OWNERS"))
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let Some(text) = read(&file)? else {
            continue;
        };
        let wire: OwnersWire = crate::pipeline::yaml::parse(Path::new(&file), &text, "OWNERS")?;
        found.push(OwnersFile {
            path: file,
            approvers: wire.approvers,
            reviewers: wire.reviewers,
        });
        if wire.options.no_parent_owners {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_slash_anchors_and_a_bare_name_matches_at_any_depth() {
        assert!(pattern_matches("/auth.conf", "auth.conf"));
        assert!(!pattern_matches("/auth.conf", "etc/auth.conf"));
        assert!(pattern_matches("auth.conf", "etc/auth.conf"));
        assert!(pattern_matches("*.conf", "etc/deep/auth.conf"));
        assert!(pattern_matches("*", "anything/at/all"));
    }

    #[test]
    fn a_trailing_slash_matches_a_folder_and_everything_in_it() {
        assert!(pattern_matches("apps/", "apps/x"));
        assert!(pattern_matches("apps/", "src/apps/deep/x"));
        assert!(!pattern_matches("apps/", "apps"));
        assert!(pattern_matches("/src/auth/", "src/auth/login.rs"));
        assert!(!pattern_matches("/src/auth/", "lib/src/auth/login.rs"));
        assert!(pattern_matches("/src/auth", "src/auth/login.rs"));
    }

    #[test]
    fn a_star_stays_in_one_folder_and_two_stars_cross_folders() {
        assert!(pattern_matches("docs/*", "docs/a.md"));
        assert!(!pattern_matches("docs/*.md", "docs/deep/a.md"));
        assert!(pattern_matches("docs/**/*.md", "docs/deep/er/a.md"));
        assert!(pattern_matches("docs/**/*.md", "docs/a.md"));
        assert!(pattern_matches("**/logs", "a/b/logs/x"));
        assert!(pattern_matches("src/**", "src/a/b"));
        assert!(pattern_matches("a?c", "abc"));
        assert!(!pattern_matches("a?c", "a/c"));
    }

    #[test]
    fn the_last_matching_rule_wins_and_an_empty_rule_unowns() {
        let c = CodeOwners::parse(
            "CODEOWNERS",
            "# owners\n*       @global\n/src/  @src-team # inline\n/src/auth/ @auth-team\n/src/vendor/\n",
        );
        let rule = |p| c.owner_rule(p).map(|r| (r.line, r.owners.clone()));
        assert_eq!(rule("README.md"), Some((2, vec!["@global".to_string()])));
        assert_eq!(rule("src/x.rs"), Some((3, vec!["@src-team".to_string()])));
        assert_eq!(
            rule("src/auth/login.rs"),
            Some((4, vec!["@auth-team".to_string()]))
        );
        assert_eq!(rule("src/vendor/lib.rs"), None);
    }

    fn files(
        map: &'static [(&'static str, &'static str)],
    ) -> impl FnMut(&str) -> Result<Option<String>, Error> {
        move |path| {
            Ok(map
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, t)| t.to_string()))
        }
    }

    #[test]
    fn owners_files_are_inherited_until_no_parent_owners() {
        const TREE: &[(&str, &str)] = &[
            ("OWNERS", "approvers: [root]\n"),
            (
                "pkg/OWNERS",
                "approvers: [pkg-lead]\nreviewers: [pkg-rev]\n",
            ),
            (
                "pkg/auth/OWNERS",
                "approvers: [auth-lead]\noptions:\n  no_parent_owners: true\n",
            ),
            (
                "pkg/auth/deep/OWNERS",
                "reviewers: [deep-rev]\nlabels: [x]\n",
            ),
        ];
        let chain = |path| {
            owners_chain(path, files(TREE))
                .unwrap()
                .into_iter()
                .map(|f| f.path)
                .collect::<Vec<_>>()
        };
        assert_eq!(chain("pkg/x.go"), ["pkg/OWNERS", "OWNERS"]);
        assert_eq!(
            chain("pkg/auth/deep/a.go"),
            ["pkg/auth/deep/OWNERS", "pkg/auth/OWNERS"]
        );
        assert_eq!(chain("top.go"), ["OWNERS"]);
        let deep = owners_chain("pkg/auth/deep/a.go", files(TREE)).unwrap();
        assert_eq!(deep[0].reviewers, ["deep-rev"]);
        assert_eq!(deep[1].approvers, ["auth-lead"]);
    }

    #[test]
    fn a_malformed_owners_file_is_named() {
        const TREE: &[(&str, &str)] = &[("OWNERS", "approvers: nobody: here\n")];
        let e = owners_chain("x", files(TREE)).unwrap_err();
        assert!(e.message.contains("OWNERS"), "{}", e.message);
    }
}
