//! What staging to GitHub and publishing at the embargo will do, in words: the pushes (remote,
//! refs, SHAs) and the API calls (method, path, the body's key fields). A dry run prints this
//! instead of acting, and the demo ends with it.

use super::cherry_pick::Picked;
use super::stage;
use super::{Built, Context, Frozen, Prepared};
use crate::clock;
use crate::pipeline::MakeLatest;

/// Whether the release becomes GitHub's "latest": with `auto`, only when the patch version is
/// above every final release, so a patch on an older line never takes "latest" from a newer one.
pub fn make_latest(ctx: &Context<'_>) -> bool {
    match ctx.pipeline.github.as_ref().map(|g| g.make_latest) {
        Some(MakeLatest::True) => true,
        Some(MakeLatest::False) => false,
        Some(MakeLatest::Auto) | None => ctx.plan.highest_release,
    }
}

fn push_lines(remote: &str, refs: &[stage::PushedRef]) -> Vec<String> {
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

/// Stage 6 as it would run now.
pub fn stage_preview(
    ctx: &Context<'_>,
    prepared: &Prepared,
    built: &Built,
    frozen: &Frozen,
    picked: &Picked,
) -> Vec<String> {
    let refs = stage::refs(prepared, frozen, picked);
    let mut lines = vec!["stage (now, private):".to_string()];
    lines.extend(
        push_lines(&ctx.pipeline.repository.private, &refs)
            .into_iter()
            .map(|l| format!("  {l}")),
    );
    if let Some(github) = &ctx.pipeline.github {
        let name = github
            .name
            .expand(|v| ctx.plan.value(v, Some(&prepared.release_commit)));
        lines.push(format!(
            "  POST {}/repos/{}/releases  tag_name={} name={name:?} draft=true prerelease={} make_latest={}",
            github.api_url,
            github.repository,
            prepared.tag,
            github.prerelease,
            make_latest(ctx)
        ));
        for a in &built.artifacts {
            lines.push(format!(
                "  POST <upload_url>?name={}  {} bytes, sha256 {}",
                a.name, a.size, a.sha256
            ));
        }
        lines.push(format!(
            "  POST <upload_url>?name={}  the checksums file",
            built.checksums_file
        ));
        lines.push("  (the GitHub half of staging is not in this version yet)".to_string());
    }
    lines
}

/// Stage 7 as it would run at the embargo.
pub fn publish_preview(
    ctx: &Context<'_>,
    prepared: &Prepared,
    built: &Built,
    frozen: &Frozen,
    picked: &Picked,
) -> Vec<String> {
    let when = match ctx.plan.embargo {
        Some(e) => clock::display(e),
        None => "the embargo (not set yet: give `embargo` or --embargo)".to_string(),
    };
    let mut lines = vec![format!("publish (at {when}, never before):")];
    let refs = stage::refs(prepared, frozen, picked);
    lines.extend(
        push_lines(&ctx.pipeline.repository.public, &refs)
            .into_iter()
            .map(|l| format!("  {l}")),
    );
    if let Some(github) = &ctx.pipeline.github {
        let api = format!("{}/repos/{}", github.api_url, github.repository);
        lines.push(format!(
            "  PATCH {api}/releases/<draft id>  draft=false make_latest={}",
            make_latest(ctx)
        ));
        if github.pull_requests {
            for p in &picked.picks {
                lines.push(format!(
                    "  POST {api}/pulls  head={} base={} title=\"Security fix {} for {}\"",
                    p.branch, p.target, ctx.plan.version, p.target
                ));
            }
        }
        lines.push(format!(
            "  GET each asset back ({} and {}) and check it against the checksums",
            built
                .artifacts
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            built.checksums_file
        ));
    }
    for m in &picked.manual {
        lines.push(format!(
            "  {} gets no pull request: it needs a manual backport",
            m.target
        ));
    }
    lines.push("  (`embargo publish` is not in this version yet)".to_string());
    lines
}
