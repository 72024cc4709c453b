//! The private remote must really be private: where git will push for `repository.private`,
//! after every rewrite the clone's configuration applies (`remote.<name>.pushurl`,
//! `url.<base>.insteadOf`, `url.<base>.pushInsteadOf`), must not be the public repository under any
//! spelling. A fix pushed "privately" to the public repository is the leak this tool exists to
//! prevent, so this is proven before the first push and again right before every push.

use std::path::Path;

use super::GitError;
use super::cli::GitCli;
use crate::redact::redact_url as redact;

/// Where git sends a push to `remote` (a remote name or a URL), after all rewrites: one URL per
/// push destination, credentials removed.
pub fn push_urls(git: &GitCli, remote: &str) -> Result<Vec<String>, GitError> {
    urls(git, remote, true)
}

/// Where git fetches `remote` from, and pushes it to: every URL that means that repository.
pub fn all_urls(git: &GitCli, remote: &str) -> Result<Vec<String>, GitError> {
    let mut out = urls(git, remote, false)?;
    out.extend(urls(git, remote, true)?);
    out.sort();
    out.dedup();
    Ok(out)
}

fn urls(git: &GitCli, remote: &str, push: bool) -> Result<Vec<String>, GitError> {
    if remote.starts_with('-') {
        return Err(GitError::bad_input(format!(
            "the remote `{remote}` starts with `-`: git would read it as an option"
        )));
    }
    let configured = git
        .output(
            "reading the clone's remotes",
            &["config", "--get", &format!("remote.{remote}.url")],
        )
        .map(|(ok, _)| ok)
        .unwrap_or(false);
    if !configured {
        // A URL: git applies the same rewrites to it on a push as to a remote's URL.
        return Ok(vec![redact(&rewrite(git, remote, push)?)]);
    }
    let mut args = vec!["remote", "get-url", "--all"];
    if push {
        args.push("--push");
    }
    args.push(remote);
    let out = git.run(
        &format!(
            "finding where the remote `{remote}` {}",
            if push { "pushes to" } else { "fetches from" }
        ),
        &args,
    )?;
    Ok(out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(redact)
        .collect())
}

/// Where to push for `remote` so that git does what a push to it does but update no
/// remote-tracking ref: its one push URL (credentials kept), when it is a configured remote with
/// one push URL, nothing configured that only a push to the name would use (a helper, a proxy, a
/// `receivepack`, push options), and a URL that no rewrite changes again. Otherwise `remote`
/// itself. (Updating a tracking ref per pushed branch cost 150-270 ms at 300 branches, between
/// the public push landing and the release being published.)
pub fn push_destination(git: &GitCli, remote: &str) -> Result<String, GitError> {
    if remote.starts_with('-') {
        return Ok(remote.to_string());
    }
    let escaped = regex_escape(remote);
    let (named, _) = git.output(
        "reading the clone's remotes",
        &["config", "--get", &format!("remote.{remote}.url")],
    )?;
    if !named {
        return Ok(remote.to_string());
    }
    let (_, special) = git.output(
        "reading the clone's remotes",
        &[
            "config",
            "--get-regexp",
            &format!(r"^remote\.{escaped}\.(vcs|proxy|proxyauthmethod|receivepack|pushoption)$"),
        ],
    )?;
    if !special.stdout.trim().is_empty() {
        return Ok(remote.to_string());
    }
    let (ok, out) = git.output(
        &format!("finding where the remote `{remote}` pushes to"),
        &["remote", "get-url", "--push", "--all", remote],
    )?;
    let urls: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match urls.as_slice() {
        [url] if ok && !url.starts_with('-') && rewrite(git, url, true)? == *url => {
            Ok(url.to_string())
        }
        _ => Ok(remote.to_string()),
    }
}

/// `text` with the characters of a POSIX extended regular expression escaped.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = r"\.^$|?*+()[]{}".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// `url` after the clone's `url.<base>.insteadOf` (and, for a push, `pushInsteadOf`, which wins)
/// rules, as git applies them: the longest matching prefix is replaced by its base.
fn rewrite(git: &GitCli, url: &str, push: bool) -> Result<String, GitError> {
    let (_, out) = git.output(
        "reading the clone's URL rewrites",
        &["config", "--get-regexp", r"^url\..*\.(push)?insteadof$"],
    )?;
    let mut rules: Vec<(bool, String, String)> = Vec::new();
    for line in out.stdout.lines() {
        let Some((key, prefix)) = line.split_once(' ') else {
            continue;
        };
        let Some(key) = key.strip_prefix("url.") else {
            continue;
        };
        if let Some(base) = key.strip_suffix(".pushinsteadof") {
            rules.push((true, base.to_string(), prefix.to_string()));
        } else if let Some(base) = key.strip_suffix(".insteadof") {
            rules.push((false, base.to_string(), prefix.to_string()));
        }
    }
    let longest = |for_push: bool| {
        rules
            .iter()
            .filter(|(p, _, prefix)| *p == for_push && url.starts_with(prefix.as_str()))
            .max_by_key(|(_, _, prefix)| prefix.len())
            .map(|(_, base, prefix)| format!("{base}{}", &url[prefix.len()..]))
    };
    Ok(push
        .then(|| longest(true))
        .flatten()
        .or_else(|| longest(false))
        .unwrap_or_else(|| url.to_string()))
}

/// One spelling per repository: `git@github.com:org/app.git`, `ssh://git@github.com/org/app`,
/// `https://GitHub.com/org/app/` all become `github.com/org/app`; a local path becomes its
/// canonical path.
pub fn same_repository_key(url: &str) -> String {
    let url = redact(url);
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if scheme == "file" {
            return local_key(rest);
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        // A port is part of where, not of what: the same host on another port is the same
        // server in every case that matters here.
        let host = host.split(':').next().unwrap_or(host);
        (host.to_ascii_lowercase(), path.to_string())
    } else if let Some((left, path)) = url.split_once(':')
        && !left.contains('/')
        && !Path::new(&url).exists()
    {
        let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
        (host.to_ascii_lowercase(), format!("/{path}"))
    } else {
        return local_key(&url);
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let path = path.trim_end_matches('/');
    let path = if host.contains("github") {
        path.to_ascii_lowercase()
    } else {
        path.to_string()
    };
    format!("{host}{path}")
}

fn local_key(path: &str) -> String {
    let p = Path::new(path);
    let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let text = p.display().to_string();
    let text = text.trim_end_matches('/');
    text.strip_suffix(".git").unwrap_or(text).to_string()
}

/// The folder a URL names on this machine, as git reads it from `base` (the clone): a path,
/// relative or not, or `file://` with no host or `localhost`. `None` for another machine.
fn local_path(url: &str, base: &Path) -> Option<std::path::PathBuf> {
    let path = if let Some(rest) = url.strip_prefix("file://") {
        match rest.strip_prefix("localhost") {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ if rest.starts_with('/') => rest.to_string(),
            _ => return None,
        }
    } else if url.contains("://")
        || url
            .split_once(':')
            .is_some_and(|(left, _)| !left.contains('/') && !base.join(url).exists())
    {
        return None;
    } else {
        url.to_string()
    };
    Some(base.join(path))
}

/// What makes a local repository the repository it is, whatever the path that names it: its git
/// folder (following a `.git` file or a `commondir`), and the folders its refs and objects
/// really are in (following symbolic links), all canonical. Two paths that share any of these
/// reach the same refs or objects.
fn local_identity(url: &str, base: &Path) -> Vec<std::path::PathBuf> {
    let Some(path) = local_path(url, base) else {
        return Vec::new();
    };
    let canonical = |p: &Path| p.canonicalize().ok();
    let mut out: Vec<std::path::PathBuf> = Vec::new();
    let git_dir = git2::Repository::open(&path)
        .map(|r| r.commondir().to_path_buf())
        .unwrap_or_else(|_| path.clone());
    for p in [
        git_dir.clone(),
        git_dir.join("refs"),
        git_dir.join("objects"),
    ] {
        if let Some(c) = canonical(&p) {
            out.push(c);
        }
    }
    if let Some(c) = canonical(&path) {
        out.push(c);
    }
    out
}

/// Proves that a push to `private` cannot land in the repository behind `public`, and returns
/// where it pushes (credentials removed), for the record and for the re-check before each push.
pub fn prove_private(git: &GitCli, private: &str, public: &str) -> Result<Vec<String>, GitError> {
    let pushes = push_urls(git, private)?;
    let public_urls = all_urls(git, public)?;
    let base = git.dir();
    for push in &pushes {
        let key = same_repository_key(push);
        let here = local_identity(push, base);
        let same = |u: &String| {
            same_repository_key(u) == key
                || (!here.is_empty() && local_identity(u, base).iter().any(|p| here.contains(p)))
        };
        if let Some(public_url) = public_urls.iter().find(|u| same(u)) {
            return Err(GitError::bad_input(format!(
                "repository.private `{}` pushes to {push}, which is the public repository \
                 (repository.public `{}` is {public_url}): staging there would publish the fix",
                redact(private),
                redact(public)
            ))
            .with_hint(
                "point repository.private at the private security repository, and check \
                 `git remote -v` and any remote.<name>.pushurl, url.<base>.insteadOf or \
                 url.<base>.pushInsteadOf in the clone's git configuration",
            ));
        }
    }
    Ok(pushes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_one_github_repository_is_the_same_key() {
        let key = same_repository_key("https://github.com/acme/app");
        for url in [
            "git@github.com:acme/app.git",
            "ssh://git@github.com/acme/app.git",
            "https://x-access-token:secret@GitHub.com/acme/app.git/",
            "https://github.com/ACME/App",
        ] {
            assert_eq!(same_repository_key(url), key, "{url}");
        }
        assert_ne!(
            same_repository_key("git@github.com:acme/app-security.git"),
            key
        );
    }

    #[test]
    fn credentials_never_survive_redaction() {
        assert_eq!(
            redact("https://x-access-token:s3cret@example.org/a.git"),
            "https://***@example.org/a.git"
        );
        assert_eq!(redact("git@example.org:a.git"), "git@example.org:a.git");
    }
}

/// The `--receive-pack` option for a push to `remote` when git would carry it out on this
/// machine (a path or a `file://` URL): the receiving side then runs without hooks. A local
/// push starts `git receive-pack` in the remote's folder with that repository's hooks and
/// configuration, as this user, outside any sandbox, and git clears `-c` settings for it; a build
/// step that could write a hook into a local remote would otherwise run code there, next to the
/// runner and its token. `None` for a push over the network, where the server's hooks are the
/// server's business.
pub fn local_receive_pack(git: &GitCli, remote: &str) -> Result<Option<&'static str>, GitError> {
    let urls = push_urls(git, remote)?;
    Ok((!urls.is_empty() && urls.iter().all(|u| is_local(u)))
        .then_some("--receive-pack=git -c core.hooksPath=/dev/null receive-pack"))
}

/// Whether git reaches `url` on this machine: a path, or a `file://` URL (not `host:path`,
/// which is ssh).
fn is_local(url: &str) -> bool {
    if url.starts_with("file://") {
        return true;
    }
    if url.contains("://") {
        return false;
    }
    match (url.find(':'), url.find('/')) {
        // `host:path` is ssh, unless a slash comes before the colon (`./a:b` is a path).
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

#[cfg(test)]
mod local_tests {
    use super::is_local;

    #[test]
    fn paths_and_file_urls_are_local_and_network_urls_are_not() {
        for local in [
            "/srv/app.git",
            "../app.git",
            "app.git",
            "file:///srv/app.git",
            "./a:b",
        ] {
            assert!(is_local(local), "{local}");
        }
        for remote in [
            "https://github.com/acme/app.git",
            "ssh://git@github.com/acme/app.git",
            "git@github.com:acme/app.git",
            "host:app.git",
        ] {
            assert!(!is_local(remote), "{remote}");
        }
    }
}

#[cfg(test)]
mod destination_tests {
    use super::push_destination;
    use crate::git::cli::GitCli;

    fn git(dir: &std::path::Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn a_remote_with_one_push_url_is_pushed_to_by_url_anything_else_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let clone = dir.path();
        git(clone, &["init", "-q"]);
        git(clone, &["remote", "add", "origin", "/srv/public.git"]);
        let cli = GitCli::new(clone).with_env("GIT_CONFIG_GLOBAL", "/dev/null");
        let at = |remote: &str| push_destination(&cli, remote).unwrap();
        assert_eq!(at("origin"), "/srv/public.git");
        assert_eq!(at("/srv/other.git"), "/srv/other.git");
        // The push URL wins over the fetch URL, as in git.
        git(
            clone,
            &["remote", "set-url", "--push", "origin", "/srv/push.git"],
        );
        assert_eq!(at("origin"), "/srv/push.git");
        // Two push URLs: git pushes to both; only the name does that.
        git(
            clone,
            &[
                "remote",
                "set-url",
                "--add",
                "--push",
                "origin",
                "/srv/b.git",
            ],
        );
        assert_eq!(at("origin"), "origin");
        git(
            clone,
            &[
                "remote",
                "set-url",
                "--delete",
                "--push",
                "origin",
                "/srv/b.git",
            ],
        );
        assert_eq!(at("origin"), "/srv/push.git");
        // Something only a push to the name uses.
        git(
            clone,
            &["config", "remote.origin.receivepack", "git receive-pack"],
        );
        assert_eq!(at("origin"), "origin");
        git(clone, &["config", "--unset", "remote.origin.receivepack"]);
        // A URL that a rewrite would change again once given on the command line.
        git(clone, &["config", "url./mirror/.pushInsteadOf", "/srv/"]);
        assert_eq!(at("origin"), "origin");
    }
}
