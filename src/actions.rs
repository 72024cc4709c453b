//! What a release does to the world, as values. Every push and GitHub call that staging (stage 6)
//! and publishing (stage 7) make is an [`Action`], built by one function from the release's
//! record ([`staging`], [`publishing`]). The dry run, `--json` and `publish --dry-run` print
//! those values; the run executes the very same values and journals each one once it is done,
//! so what was shown and what was done cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::git::cli::{self, GitCli, Output};
use crate::pipeline::Pipeline;

/// A ref as pushed: exactly this object, whatever the local ref says by the time of the push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRef {
    pub refname: String,
    pub target: String,
}

/// Which of the pipeline's two remotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Private,
    Public,
}

impl Side {
    /// The remote as the pipeline names it (a remote name or a URL, possibly with credentials:
    /// used to push, never recorded).
    fn remote(self, pipeline: &Pipeline) -> &str {
        match self {
            Side::Private => &pipeline.repository.private,
            Side::Public => &pipeline.repository.public,
        }
    }
}

/// One thing done to the world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// One `git push --atomic` of exact objects: every ref lands or none does.
    Push {
        to: Side,
        /// The remote as written for people: without credentials.
        remote: String,
        refs: Vec<PushedRef>,
    },
    /// The draft release (found instead of created when an earlier run made it).
    CreateDraft {
        api: String,
        repository: String,
        tag: String,
        name: String,
        prerelease: bool,
        make_latest: bool,
    },
    /// One file on the draft: from `dist/`, or the advisory's OSV record from the state folder
    /// (kept when the same bytes are there already).
    Upload {
        name: String,
        size: u64,
        sha256: String,
    },
    /// The repository security advisory as a draft (or an existing draft, `ghsa_id`, updated).
    DraftAdvisory {
        api: String,
        repository: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ghsa_id: Option<String>,
        advisory: crate::github::advisories::AdvisoryBody,
    },
    /// A CVE requested through GitHub for the draft advisory (when the advisory names none).
    RequestCve { api: String, repository: String },
    /// The draft advisory made public, right after the release.
    PublishAdvisory { api: String, repository: String },
    /// The draft made public.
    PublishRelease {
        api: String,
        repository: String,
        tag: String,
        make_latest: bool,
    },
    /// A pull request of a pick branch onto its target (found when one is open already).
    OpenPull {
        api: String,
        repository: String,
        head: String,
        base: String,
        title: String,
    },
    /// Every asset downloaded back from the published release and checked.
    ReadBack { assets: Vec<String> },
    /// `embargo abort`: refs deleted from a remote in one atomic push, each only while it still
    /// holds what the release put there (`--force-with-lease`), never someone else's.
    DeleteRefs {
        from: Side,
        remote: String,
        refs: Vec<PushedRef>,
    },
    /// `embargo abort`: the draft release deleted, with its assets.
    DeleteDraft {
        api: String,
        repository: String,
        release_id: u64,
        tag: String,
    },
    /// `embargo abort`: the draft security advisory closed (GitHub deletes none).
    CloseAdvisory {
        api: String,
        repository: String,
        ghsa_id: String,
    },
}

impl Action {
    /// The action as the dry run prints it, one or more lines.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Action::Push { remote, refs, .. } => {
                let mut lines = vec![format!("git push --atomic --porcelain {remote} \\")];
                let last = refs.len().saturating_sub(1);
                for (i, r) in refs.iter().enumerate() {
                    lines.push(format!(
                        "    {}:{}{}",
                        r.target,
                        r.refname,
                        if i == last { "" } else { " \\" }
                    ));
                }
                lines
            }
            Action::CreateDraft {
                api,
                repository,
                tag,
                name,
                prerelease,
                make_latest,
            } => vec![format!(
                "POST {api}/repos/{repository}/releases  tag_name={tag} name={name:?} draft=true prerelease={prerelease} make_latest={make_latest}"
            )],
            Action::Upload { name, size, sha256 } => vec![format!(
                "POST <upload_url>?name={name}  {size} bytes, sha256 {sha256}"
            )],
            Action::DraftAdvisory {
                api,
                repository,
                ghsa_id,
                advisory,
            } => {
                let mut lines = vec![match ghsa_id {
                    Some(id) => format!(
                        "PATCH {api}/repos/{repository}/security-advisories/{id}  summary={:?} (a draft)",
                        advisory.summary
                    ),
                    None => format!(
                        "POST {api}/repos/{repository}/security-advisories  summary={:?} (a draft)",
                        advisory.summary
                    ),
                }];
                if let Some(vector) = &advisory.cvss_vector_string {
                    lines.push(format!("    cvss_vector_string={vector}"));
                }
                if !advisory.credits.is_empty() {
                    let credits: Vec<String> = advisory
                        .credits
                        .iter()
                        .map(|c| format!("{} ({})", c.login, c.kind.name()))
                        .collect();
                    lines.push(format!("    credits={}", credits.join(", ")));
                }
                for v in &advisory.vulnerabilities {
                    lines.push(format!(
                        "    {} {}: {}{}",
                        v.ecosystem,
                        v.package,
                        v.vulnerable_version_range,
                        v.patched_versions
                            .as_deref()
                            .map(|p| format!(", patched in {p}"))
                            .unwrap_or_default()
                    ));
                }
                lines
            }
            Action::RequestCve { api, repository } => vec![format!(
                "POST {api}/repos/{repository}/security-advisories/<ghsa id>/cve  (GitHub requests the CVE)"
            )],
            Action::PublishAdvisory { api, repository } => vec![format!(
                "PATCH {api}/repos/{repository}/security-advisories/<ghsa id>  state=published"
            )],
            Action::PublishRelease {
                api,
                repository,
                tag,
                make_latest,
            } => vec![format!(
                "PATCH {api}/repos/{repository}/releases/<id of the draft {tag}>  draft=false make_latest={make_latest}"
            )],
            Action::OpenPull {
                api,
                repository,
                head,
                base,
                title,
            } => vec![format!(
                "POST {api}/repos/{repository}/pulls  head={head} base={base} title={title:?}"
            )],
            Action::ReadBack { assets } => vec![format!(
                "read each asset back ({}: GitHub's digest, or one GET) and check it against the checksums",
                assets.join(", ")
            )],
            Action::DeleteRefs { remote, refs, .. } => {
                let mut lines = vec!["git push --atomic --porcelain \\".to_string()];
                lines.extend(
                    refs.iter()
                        .map(|r| format!("    --force-with-lease={}:{} \\", r.refname, r.target)),
                );
                lines.push(format!("    {remote} \\"));
                let last = refs.len().saturating_sub(1);
                for (i, r) in refs.iter().enumerate() {
                    lines.push(format!(
                        "    :{}{}",
                        r.refname,
                        if i == last { "" } else { " \\" }
                    ));
                }
                lines
            }
            Action::DeleteDraft {
                api,
                repository,
                release_id,
                tag,
            } => vec![format!(
                "DELETE {api}/repos/{repository}/releases/{release_id}  (the draft {tag} and its assets)"
            )],
            Action::CloseAdvisory {
                api,
                repository,
                ghsa_id,
            } => vec![format!(
                "PATCH {api}/repos/{repository}/security-advisories/{ghsa_id}  state=closed"
            )],
        }
    }

    /// The refs of a push (none for an API call).
    pub fn pushed_refs(&self) -> &[PushedRef] {
        match self {
            Action::Push { refs, .. } => refs,
            _ => &[],
        }
    }
}

/// What staging and publishing do, as printed by a dry run and `--json`, and as executed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actions {
    /// Stage 6: the private push, the draft release and its uploads.
    pub stage: Vec<Action>,
    /// Stage 7, at the embargo and never before.
    pub publish: Vec<Action>,
    /// The instant publishing waits for (RFC 3339), when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embargo: Option<String>,
    /// Targets that get no pull request: the fix needs a manual backport there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manual_backports: Vec<String>,
}

impl Actions {
    /// Stage 7's lines under their heading, as `publish --dry-run` and the run summary print them.
    pub fn publish_lines(&self) -> Vec<String> {
        let when = match self.embargo.as_deref().map(str::parse::<jiff::Timestamp>) {
            Some(Ok(e)) => crate::clock::display(e),
            _ => "the embargo (not set yet: give `embargo` or --embargo)".to_string(),
        };
        let mut lines = vec![format!("publish (at {when}, never before):")];
        lines.extend(indent(&self.publish));
        for target in &self.manual_backports {
            lines.push(format!(
                "  {target} gets no pull request: it needs a manual backport"
            ));
        }
        lines
    }

    /// Stage 6's lines under `heading`: every action, or only the GitHub calls (`github_only`,
    /// for a run that pushed but has no GitHub to talk to).
    pub fn stage_lines(&self, heading: &str, github_only: bool) -> Vec<String> {
        let shown: Vec<Action> = self
            .stage
            .iter()
            .filter(|a| !(github_only && matches!(a, Action::Push { .. })))
            .cloned()
            .collect();
        if shown.is_empty() {
            return Vec::new();
        }
        let mut lines = vec![heading.to_string()];
        lines.extend(indent(&shown));
        lines
    }
}

fn indent(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .flat_map(Action::lines)
        .map(|l| format!("  {l}"))
        .collect()
}

/// What stage 6 is made of.
pub struct Staging<'a> {
    pub pipeline: &'a Pipeline,
    pub refs: Vec<PushedRef>,
    /// The release's name on GitHub, expanded.
    pub release_name: String,
    pub tag: &'a str,
    pub make_latest: bool,
    /// Every file to upload: (name, size, sha256), the OSV record among them when the release
    /// has an advisory, the checksums file last.
    pub files: Vec<(String, u64, String)>,
    /// The security advisory's draft, when the release has an advisory: the existing draft to
    /// update (`ghsa_id`), and what it says.
    pub advisory: Option<(Option<String>, crate::github::advisories::AdvisoryBody)>,
}

/// Stage 6's actions, in order: the atomic private push, then the draft and its uploads.
pub fn staging(s: &Staging<'_>) -> Vec<Action> {
    let mut actions = vec![push(s.pipeline, Side::Private, s.refs.clone())];
    if let Some(github) = &s.pipeline.github {
        actions.push(Action::CreateDraft {
            api: crate::github::client::api_url(github),
            repository: github.repository.clone(),
            tag: s.tag.to_string(),
            name: s.release_name.clone(),
            prerelease: github.prerelease,
            make_latest: s.make_latest,
        });
        actions.extend(s.files.iter().map(|(name, size, sha256)| Action::Upload {
            name: name.clone(),
            size: *size,
            sha256: sha256.clone(),
        }));
        if let Some((ghsa_id, advisory)) = &s.advisory {
            actions.push(Action::DraftAdvisory {
                api: crate::github::client::api_url(github),
                repository: github.repository.clone(),
                ghsa_id: ghsa_id.clone(),
                advisory: advisory.clone(),
            });
            if advisory.cve_id.is_none() {
                actions.push(Action::RequestCve {
                    api: crate::github::client::api_url(github),
                    repository: github.repository.clone(),
                });
            }
        }
    }
    actions
}

/// What stage 7 is made of.
pub struct Publishing<'a> {
    pub pipeline: &'a Pipeline,
    pub version: &'a str,
    pub tag: &'a str,
    pub refs: Vec<PushedRef>,
    pub make_latest: bool,
    /// (pick branch, target) for every target the fix was picked onto.
    pub picks: Vec<(String, String)>,
    /// Every file of the release, the checksums file last.
    pub assets: Vec<String>,
    /// Whether a draft security advisory was (or is to be) staged.
    pub advisory: bool,
}

/// Stage 7's actions, in order: the atomic public push, the release published, one pull request
/// per pick, every asset read back.
pub fn publishing(p: &Publishing<'_>) -> Vec<Action> {
    let mut actions = vec![push(p.pipeline, Side::Public, p.refs.clone())];
    if let Some(github) = &p.pipeline.github {
        actions.push(Action::PublishRelease {
            api: crate::github::client::api_url(github),
            repository: github.repository.clone(),
            tag: p.tag.to_string(),
            make_latest: p.make_latest,
        });
        if p.advisory {
            actions.push(Action::PublishAdvisory {
                api: crate::github::client::api_url(github),
                repository: github.repository.clone(),
            });
        }
        if github.pull_requests {
            actions.extend(p.picks.iter().map(|(head, base)| Action::OpenPull {
                api: crate::github::client::api_url(github),
                repository: github.repository.clone(),
                head: head.clone(),
                base: base.clone(),
                title: pull_title(p.version, base),
            }));
        }
        actions.push(Action::ReadBack {
            assets: p.assets.clone(),
        });
    }
    actions
}

pub fn pull_title(version: &str, target: &str) -> String {
    format!("Security fix {version} for {target}")
}

pub fn push(pipeline: &Pipeline, to: Side, refs: Vec<PushedRef>) -> Action {
    Action::Push {
        to,
        remote: crate::redact::redact_url(to.remote(pipeline)),
        refs,
    }
}

/// Executes a push action: one `git push --atomic` of exactly its refs to its remote.
pub fn execute_push(
    git: &GitCli,
    pipeline: &Pipeline,
    action: &Action,
    reporter: &dyn crate::report::Reporter,
) -> Result<(), Error> {
    prepare_push(git, pipeline, action)?.execute(reporter)
}

/// A push action made ready (its remote checked, its refs written, its command built): at the
/// embargo instant, executing it costs the push alone.
pub struct ReadyPush {
    action: Action,
    push: crate::git::exact_push::ExactPush,
    to: Side,
    remote: String,
    summary: String,
    destination: Destination,
}

/// Where a push made ready goes, as git resolved it then: read again before the push (and
/// alongside it, at the instant), since a `pushInsteadOf`, a `pushurl` or the remote's URL
/// changed meanwhile would send the same command elsewhere.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The remote as the pipeline names it.
    remote: String,
    /// What the push command names: the remote's one push URL, or the remote itself.
    named: String,
    /// Every URL git pushes to for `named`, after every rewrite (credentials removed).
    urls: Vec<String>,
}

impl Destination {
    fn resolve(git: &GitCli, remote: &str) -> Result<Destination, Error> {
        let named = crate::git::privacy::push_destination(git, remote)?;
        let urls = crate::git::privacy::push_urls(git, &named)?;
        Ok(Destination {
            remote: remote.to_string(),
            named,
            urls,
        })
    }

    /// The configuration still sends the push where it was made ready to go.
    pub fn unchanged(&self, git: &GitCli) -> Result<(), Error> {
        let now = Destination::resolve(git, &self.remote)?;
        if now.named == self.named && now.urls == self.urls {
            return Ok(());
        }
        Err(Error::integrity(format!(
            "where a push to `{}` goes changed since it was made ready: {} then, {} now",
            crate::redact::redact_url(&self.remote),
            self.urls.join(", "),
            now.urls.join(", ")
        ))
        .with_hint("the clone's configuration (a remote's url or pushurl, a url.*.insteadOf or pushInsteadOf) was changed while embargo waited; find out who changed it, put it back, then run again"))
    }
}

/// Everything a push action needs before it is executed: the remote it was planned for is the
/// pipeline's, where git will send it is known, the exact objects have refs to push from.
pub fn prepare_push(
    git: &GitCli,
    pipeline: &Pipeline,
    action: &Action,
) -> Result<ReadyPush, Error> {
    let Action::Push { to, remote, refs } = action else {
        return Err(Error::stage_failed(format!(
            "not a push: {}",
            action.lines().join(" ")
        )));
    };
    let url = planned_remote(pipeline, *to, remote, "push")?;
    let receive_pack = crate::git::privacy::local_receive_pack(git, url)?;
    // Exactly the recorded objects, whatever the local refs say by the time of the push.
    let exact: Vec<(String, String)> = refs
        .iter()
        .map(|r| (r.refname.clone(), r.target.clone()))
        .collect();
    // To the remote's URL rather than its name, where that is the same push: no remote-tracking
    // ref is updated between the push landing and the release being published.
    let destination = Destination::resolve(git, url)?;
    let push = crate::git::exact_push::ExactPush::prepare(
        // No bitmap walk: the remote's refs are marked uninteresting faster by walking the
        // commit graph (30 ms fewer at 31 refs, 80 ms at 300, on 20,000 commits and 2,000 tags).
        &git.clone().with_config("pack.useBitmaps", "false"),
        &destination.named,
        receive_pack,
        &exact,
    )?;
    Ok(ReadyPush {
        action: action.clone(),
        push,
        to: *to,
        remote: remote.clone(),
        summary: format!(
            "pushing {} ref(s) to the {} remote `{remote}` in one atomic push",
            refs.len(),
            side_name(*to)
        ),
        destination,
    })
}

impl ReadyPush {
    /// The push action this was made ready for.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// Where it goes, to check again before it is made.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// The push, now.
    pub fn execute(self, reporter: &dyn crate::report::Reporter) -> Result<(), Error> {
        self.announce(reporter);
        self.push().map(drop)
    }

    /// Says what is being pushed.
    pub fn announce(&self, reporter: &dyn crate::report::Reporter) {
        reporter.emit(crate::report::Event::Note(&self.summary));
    }

    /// The push, now, without a word (see [`ReadyPush::announce`]). What it returns holds the
    /// refs the push was made from until it is dropped: removing them can wait until the release
    /// is published.
    pub fn push(mut self) -> Result<Pushed, Error> {
        let (ok, output) = self.push.push(&self.summary)?;
        // Refused, yet every ref is there as it was to be: another run (the scheduled fallback
        // in another job, say) pushed the same refs at the same moment.
        if ok || self.all_there() {
            Ok(Pushed {
                _made_from: self.push,
            })
        } else {
            Err(explain_push(
                &self.summary,
                &self.push.args(),
                &output,
                self.to,
                &self.remote,
                self.destination.urls.len(),
            ))
        }
    }

    /// Whether the remote holds every ref of the push, each at its object. Asked only of a push
    /// to one URL, named as such: a remote's name could list another URL than the one pushed to.
    fn all_there(&self) -> bool {
        let Action::Push { refs, .. } = &self.action else {
            return false;
        };
        if self.destination.urls.len() != 1 || self.destination.named == self.destination.remote {
            return false;
        }
        let role = side_name(self.to);
        crate::git::remote::list(self.push.git(), role, &self.destination.named)
            .is_ok_and(|found| crate::stages::stage::held_by(&found, refs).len() == refs.len())
    }
}

/// A push made; dropping it removes the refs it was made from.
pub struct Pushed {
    _made_from: crate::git::exact_push::ExactPush,
}

/// Executes a delete action: one `git push --atomic` deleting exactly its refs, each leased on
/// the value the release gave it.
pub fn execute_delete(
    git: &GitCli,
    pipeline: &Pipeline,
    action: &Action,
    reporter: &dyn crate::report::Reporter,
) -> Result<(), Error> {
    let Action::DeleteRefs { from, remote, refs } = action else {
        return Err(Error::stage_failed(format!(
            "not a deletion: {}",
            action.lines().join(" ")
        )));
    };
    let url = planned_remote(pipeline, *from, remote, "deletion")?;
    let mut args: Vec<String> = vec!["push".into(), "--atomic".into(), "--porcelain".into()];
    // No hook of a local remote runs (see `privacy::local_receive_pack`).
    args.extend(crate::git::privacy::local_receive_pack(git, url)?.map(str::to_string));
    args.extend(
        refs.iter()
            .map(|r| format!("--force-with-lease={}:{}", r.refname, r.target)),
    );
    args.push(url.to_string());
    args.extend(refs.iter().map(|r| format!(":{}", r.refname)));
    let summary = format!(
        "deleting {} ref(s) from the {} remote `{remote}` in one atomic push",
        refs.len(),
        side_name(*from)
    );
    reporter.emit(crate::report::Event::Note(&summary));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git.run(&summary, &args).map(|_| ()).map_err(|e| {
        Error::from(e)
            .with_hint("nothing was deleted (the push is atomic); run `embargo abort` again")
    })
}

/// The remote an action goes to, as the pipeline names it (with credentials, to use), once it is
/// proven to be the one the action was planned for and printed with.
fn planned_remote<'p>(
    pipeline: &'p Pipeline,
    side: Side,
    planned: &str,
    what: &str,
) -> Result<&'p str, Error> {
    let url = side.remote(pipeline);
    if crate::redact::redact_url(url) != planned {
        return Err(Error::integrity(format!(
            "the {what} was planned on `{planned}`, but the pipeline's {} remote is `{}`",
            side_name(side),
            crate::redact::redact_url(url)
        )));
    }
    Ok(url)
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Private => "private",
        Side::Public => "public",
    }
}

/// Names the refs the remote rejected (from `--porcelain` on stdout:
/// `!\t<src>:<dst>\t[rejected] (why)`).
fn explain_push(
    summary: &str,
    args: &[&str],
    output: &Output,
    side: Side,
    remote: &str,
    urls: usize,
) -> Error {
    let rejected: Vec<String> = output
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("!\t"))
        .map(|l| {
            let mut parts = l.split('\t');
            let dst = parts
                .next()
                .and_then(|spec| spec.split_once(':'))
                .map(|(_, dst)| dst)
                .unwrap_or(l);
            format!("{dst} {}", parts.collect::<Vec<_>>().join(" "))
        })
        .collect();
    let side = side_name(side);
    // git pushes to each push URL in turn, each push atomic on its own.
    let what_landed = if urls > 1 {
        format!(
            "the {side} remote `{remote}` has {urls} push URLs, which git pushes to one after another: the refs may be on those before the one that failed (`git remote get-url --push --all {remote}`)"
        )
    } else {
        "nothing was pushed (the push is atomic)".to_string()
    };
    if rejected.is_empty() {
        let error: Error = cli::failure(summary, args, output).into();
        return error.with_hint(format!(
            "{what_landed}; check access to the {side} remote `{remote}` and run again"
        ));
    }
    Error::stage_failed(format!(
        "the {side} remote `{remote}` rejected the push, so no ref was updated{}: {}",
        if urls > 1 { " there" } else { "" },
        rejected.join("; ")
    ))
    .with_hint(if urls > 1 {
        format!("{what_landed}; a ref of the same name exists there with other content: find out whose it is, then run again")
    } else {
        "a ref of the same name already exists there with other content; find out whose it is, then run again".to_string()
    })
}
