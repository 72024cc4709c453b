//! The text and JSON a command prints when it is done: the plan, the run's outcome, the status.

use std::fmt::Write;
use std::path::PathBuf;

use serde_json::json;

use crate::clock;
use crate::journal::{Entry, Progress, Stage, last_of};
use crate::pipeline::Pipeline;
use crate::plan::{Plan, ReleaseSet};
use crate::stages::RunSummary;

fn until(embargo: jiff::Timestamp) -> String {
    let now = jiff::Timestamp::now();
    let secs = embargo.as_second() - now.as_second();
    let (sign, secs) = if secs < 0 {
        ("passed ", -secs)
    } else {
        ("in ", secs)
    };
    let (d, h, m) = (secs / 86400, (secs % 86400) / 3600, (secs % 3600) / 60);
    let text = if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m {}s", secs % 60)
    };
    if sign == "passed " {
        format!("passed {text} ago")
    } else {
        format!("in {text}")
    }
}

/// What each stage will do, in words.
fn stage_lines(pipeline: &Pipeline, plan: &Plan) -> Vec<(Stage, String)> {
    let steps: Vec<&str> = pipeline
        .build
        .steps
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let artifacts: Vec<String> = pipeline
        .build
        .artifacts
        .iter()
        .map(|t| {
            t.expand(|v| match v {
                // Each shard's own name: shown as the name the glob holds.
                crate::pipeline::template::Var::Shard => "{shard}".to_string(),
                _ => plan.value(v, Some("{commit}")),
            })
        })
        .collect();
    let checks: Vec<&str> = pipeline
        .verify
        .iter()
        .map(|c| c.step.name.as_str())
        .collect();
    let mut lines = vec![
        (
            Stage::Prepare,
            format!(
                "branch {} = {} + {} fix commit(s), applied in memory",
                plan.patch_branch,
                plan.previous.tag,
                plan.fix_commits.len()
            ),
        ),
        (
            Stage::Build,
            format!(
                "{} in a clean checkout{}; artifacts {}; checksums {}",
                steps.join(", "),
                if pipeline.build.matrix.is_empty() {
                    String::new()
                } else {
                    format!(" for each shard ({})", pipeline.build.shard_names())
                },
                artifacts.join(", "),
                pipeline.build.checksums.expand(|v| plan.value(v, None))
            ),
        ),
        (
            Stage::Verify,
            if checks.is_empty() {
                "no checks configured".to_string()
            } else {
                format!("{} check(s): {}", checks.len(), checks.join(", "))
            },
        ),
        (
            Stage::Freeze,
            format!(
                "annotated tag {}; the branch and tag refuse any move from then on",
                plan.tag
            ),
        ),
    ];
    let picks = match &pipeline.cherry_pick {
        Some(c) => format!(
            "onto {}{}",
            c.onto
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if c.skip.is_empty() {
                String::new()
            } else {
                format!(
                    " except {}",
                    c.skip
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
        None => "no cherry_pick section: no targets".to_string(),
    };
    let picks = if pipeline.cherry_pick.is_some() {
        format!(
            "{picks}: {}",
            if plan.targets.is_empty() {
                "no branch left".to_string()
            } else {
                plan.targets.join(", ")
            }
        )
    } else {
        picks
    };
    lines.push((Stage::CherryPick, picks));
    lines.push((
        Stage::Stage,
        format!(
            "one atomic push to the private remote `{}`{}",
            pipeline.repository.private,
            match &pipeline.github {
                Some(g) => format!("; a draft release on {} with every asset", g.repository),
                None => String::new(),
            }
        ),
    ));
    lines.push((
        Stage::Publish,
        match plan.embargo {
            Some(e) => format!(
                "at {}, never before: one atomic push to the public remote `{}`{}",
                clock::display(e),
                pipeline.repository.public,
                if pipeline.github.is_some() {
                    ", the release published, every asset read back"
                } else {
                    ""
                }
            ),
            None => "needs an embargo instant (`embargo:` or --embargo)".to_string(),
        },
    ));
    lines
}

/// What `plan` prints, with credentials in remote URLs redacted.
pub fn plan_text(pipeline: &Pipeline, plan: &Plan) -> String {
    crate::redact::redact_url(&plan_text_unredacted(pipeline, plan))
}

fn plan_text_unredacted(pipeline: &Pipeline, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for {} ({})",
        plan.pipeline,
        pipeline.file.display()
    );
    let _ = writeln!(out, "  line             {}", plan.line);
    let _ = writeln!(
        out,
        "  latest release   {} ({})",
        plan.previous.tag,
        crate::git::abbrev(&plan.previous.commit)
    );
    let _ = writeln!(
        out,
        "  patch version    {} (tag {}, patch branch {})",
        plan.version, plan.tag, plan.patch_branch
    );
    let _ = writeln!(out, "  fix              {}", plan.fix_source);
    fix_commit_lines(&mut out, plan, "                     ");
    if let Some(trial) = &plan.trial {
        let _ = writeln!(
            out,
            "  applies?         {}",
            trial.describe(&plan.previous.tag)
        );
    }
    let _ = writeln!(
        out,
        "  embargo          {}",
        match plan.embargo {
            Some(e) => format!("{} ({})", clock::display(e), until(e)),
            None => "not set (needed to publish)".to_string(),
        }
    );
    let _ = writeln!(
        out,
        "  private pushes   to {} (not the public repository)",
        plan.private_push.join(", ")
    );
    if let Some(private) = &plan.private_repository {
        let _ = writeln!(out, "  private repo     {private}");
    }
    if let Some(immutable) = &plan.immutable_releases {
        let _ = writeln!(out, "  immutable        {immutable}");
    }
    if let Some(advisory) = &plan.advisory {
        advisory_text(&mut out, advisory);
    }
    let _ = writeln!(out, "  state            {}", plan.state_dir.display());
    let _ = writeln!(out, "  stages");
    for (i, (stage, text)) in stage_lines(pipeline, plan).iter().enumerate() {
        let _ = writeln!(out, "    {} {:<12} {text}", i + 1, stage.name());
    }
    for e in &plan.already_exists {
        let _ = writeln!(
            out,
            "  note: {e} already exists; `embargo run` resumes only a release it started itself (see `embargo status`)"
        );
    }
    out
}

fn fix_commit_lines(out: &mut String, plan: &Plan, indent: &str) {
    for c in &plan.fix_commits {
        let _ = writeln!(out, "{indent}{} {}", crate::git::abbrev(&c.sha), c.subject);
    }
}

/// What `plan` prints for a release of several lines.
pub fn release_set_text(pipeline: &Pipeline, set: &ReleaseSet) -> String {
    crate::redact::redact_url(&release_set_text_unredacted(pipeline, set))
}

fn release_set_text_unredacted(pipeline: &Pipeline, set: &ReleaseSet) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan for {} ({}): {} lines at one instant",
        set.pipeline,
        pipeline.file.display(),
        set.lines.len()
    );
    for plan in &set.lines {
        let _ = writeln!(
            out,
            "  line {:<11} {} ({}) -> {} (tag {}, patch branch {}){}",
            plan.line,
            plan.previous.tag,
            crate::git::abbrev(&plan.previous.commit),
            plan.version,
            plan.tag,
            plan.patch_branch,
            if plan.highest_release {
                ", the latest release"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "    fix            {}", plan.fix_source);
        fix_commit_lines(&mut out, plan, "                     ");
        if let Some(trial) = &plan.trial {
            let _ = writeln!(
                out,
                "    applies?       {}",
                trial.describe(&plan.previous.tag)
            );
            if !trial.applies() {
                let _ = writeln!(
                    out,
                    "                   give line {} its own backport: fix.per_line: {{\"{}\": <private branch>}}",
                    plan.line, plan.line
                );
            }
        }
    }
    if !set.targets.is_empty() {
        let _ = writeln!(
            out,
            "  cherry-picks     one branch and one pull request per target"
        );
        let width = set
            .targets
            .iter()
            .map(|t| t.target.len())
            .max()
            .unwrap_or(0);
        for t in &set.targets {
            let _ = writeln!(
                out,
                "    {:<width$}  {}{}",
                t.target,
                match &t.line {
                    Some(line) => format!("line {line}'s fix: "),
                    None => "the fix: ".to_string(),
                },
                t.fix_source
            );
        }
    }
    let _ = writeln!(
        out,
        "  embargo          {}",
        match set.embargo {
            Some(e) => format!("{} ({}), for every line", clock::display(e), until(e)),
            None => "not set (needed to publish)".to_string(),
        }
    );
    if let Some(first) = set.lines.first() {
        let _ = writeln!(
            out,
            "  private pushes   to {} (not the public repository)",
            first.private_push.join(", ")
        );
        if let Some(advisory) = &first.advisory {
            advisory_text(&mut out, advisory);
        }
    }
    let _ = writeln!(
        out,
        "  state            {} (a folder per line inside)",
        set.state_dir.display()
    );
    for plan in &set.lines {
        for e in &plan.already_exists {
            let _ = writeln!(
                out,
                "  note: {e} already exists; `embargo run` resumes only a release it started itself (see `embargo status`)"
            );
        }
    }
    out
}

/// What `plan --json` prints for a release of several lines.
pub fn release_set_json(pipeline: &Pipeline, set: &ReleaseSet) -> serde_json::Value {
    json!({
        "pipeline": set.pipeline,
        "lines": set.lines.iter().map(|p| plan_json(pipeline, p)).collect::<Vec<_>>(),
        "targets": set.targets,
        "embargo": set.embargo.map(|e| e.to_string()),
        "state_dir": set.state_dir,
    })
}

/// The advisory section of `plan`: what the advisory will say, for review before anything is
/// written.
fn advisory_text(out: &mut String, advisory: &crate::advisory::Review) {
    let _ = writeln!(
        out,
        "  advisory         {} ({})",
        advisory.summary,
        advisory.file.display()
    );
    for (i, s) in advisory.scores.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}{:.1} {:<9} {}{}",
            if i == 0 {
                "    score          "
            } else {
                "                   "
            },
            s.score,
            s.severity,
            s.vector,
            s.nomenclature
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(out, "    threshold      {}", advisory.threshold);
    let _ = writeln!(
        out,
        "    CVE            {}",
        advisory.cve_id.as_deref().unwrap_or("requested at staging")
    );
    let _ = writeln!(
        out,
        "    GHSA           {}",
        advisory
            .ghsa_id
            .as_deref()
            .unwrap_or("a draft advisory created at staging")
    );
    if !advisory.cwe.is_empty() {
        let _ = writeln!(out, "    CWE            {}", advisory.cwe.join(", "));
    }
    let _ = writeln!(
        out,
        "    package        {} {}",
        advisory.package.ecosystem, advisory.package.name
    );
    if advisory.affected.is_empty() {
        let _ = writeln!(out, "    affected       no line with a final release");
    }
    let width = advisory
        .affected
        .iter()
        .map(|l| l.affected.len())
        .max()
        .unwrap_or(0);
    for (i, line) in advisory.affected.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}{:<5} {:<width$}  {}",
            if i == 0 {
                "    affected       "
            } else {
                "                   "
            },
            line.line,
            line.affected,
            match &line.patched {
                Some(v) => format!("patched in {v}"),
                None => "no fix in this release".to_string(),
            }
        );
    }
    for (i, c) in advisory.credits.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}{} ({}): {}",
            if i == 0 {
                "    credits        "
            } else {
                "                   "
            },
            c.credit.name,
            c.credit.kind.name(),
            match (&c.credit.login, c.github) {
                (Some(login), true) => {
                    format!("on GitHub as {login}, in the OSV record and announcements")
                }
                (Some(_), false) => {
                    "in the OSV record and announcements (no publish.github)".to_string()
                }
                (None, _) => {
                    "in the OSV record and announcements; not on GitHub (no login)".to_string()
                }
            }
        );
    }
}

pub fn plan_json(pipeline: &Pipeline, plan: &Plan) -> serde_json::Value {
    let mut value = serde_json::to_value(plan).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("embargo".into(), json!(plan.embargo.map(|e| e.to_string())));
        map.insert(
            "stages".into(),
            stage_lines(pipeline, plan)
                .into_iter()
                .map(|(s, text)| json!({"stage": s.name(), "does": text}))
                .collect(),
        );
    }
    value
}

/// What `run` prints, with credentials in remote URLs redacted.
/// The patch branch, the release commit and the fix commits it was cut from.
fn release_lines(
    out: &mut String,
    patch_branch: &str,
    release_commit: &str,
    fix_commits: &[crate::journal::FixCommit],
) {
    let _ = writeln!(out, "  patch branch     {patch_branch}");
    let _ = writeln!(out, "  release commit   {release_commit}");
    let _ = writeln!(out, "  fix commits      {}", fix_commits.len());
    for c in fix_commits {
        let _ = writeln!(
            out,
            "                     {} {}",
            crate::git::abbrev(&c.sha),
            c.subject
        );
    }
}

/// `embargo run --until prepare`: the release commit, where it went, and the commands of the
/// jobs that follow.
pub fn prepared_text(
    pipeline: &crate::pipeline::Pipeline,
    p: &crate::stages::PrepareSummary,
    flags: &str,
) -> String {
    let mut out = prepared_line(p);
    out.push_str(&handoff_text(
        pipeline, &p.handoff, p.dry_run, &p.shards, flags,
    ));
    crate::redact::redact_url(&out)
}

/// `embargo run --until prepare` of a release of several lines: each line, then the one push.
pub fn set_prepared_text(
    pipeline: &crate::pipeline::Pipeline,
    set: &crate::commands::SetPrepared,
    flags: &str,
) -> String {
    let mut out = String::new();
    for line in &set.lines {
        out.push_str(&prepared_line(line));
    }
    if let Some(first) = set.lines.first() {
        out.push_str(&handoff_text(
            pipeline,
            &set.handoff,
            first.dry_run,
            &first.shards,
            flags,
        ));
    }
    crate::redact::redact_url(&out)
}

fn prepared_line(p: &crate::stages::PrepareSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    if p.dry_run {
        let _ = writeln!(
            out,
            "dry run of release {}: prepared in a scratch repository",
            p.tag
        );
    } else {
        let _ = writeln!(out, "release {} prepared for a split build", p.tag);
    }
    let _ = writeln!(out, "  old tag          {}", p.previous_tag);
    let _ = writeln!(
        out,
        "  new tag          {} (not made yet: made at the freeze)",
        p.tag
    );
    release_lines(&mut out, &p.patch_branch, &p.release_commit, &p.fix_commits);
    let _ = writeln!(out, "  state            {}", p.state_dir.display());
    out
}

/// The push of the release commit(s) for the shards' jobs, and the commands those jobs run.
fn handoff_text(
    pipeline: &crate::pipeline::Pipeline,
    handoff: &crate::actions::Action,
    dry_run: bool,
    shards: &[String],
    flags: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    let verb = if dry_run { "would push" } else { "pushed" };
    let _ = writeln!(
        out,
        "{verb}, for the shards' jobs (the private remote only):"
    );
    for line in handoff.lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out);
    let file = pipeline.file.display();
    let _ = writeln!(
        out,
        "next, in a clone of the private remote holding this state folder, one job per shard:"
    );
    for shard in shards {
        let _ = writeln!(
            out,
            "  embargo build {file} --shard {shard} --output DIR{flags}"
        );
    }
    let _ = writeln!(
        out,
        "then, with every shard's DIR under one folder: embargo run {file} --shards FOLDER{flags}"
    );
    out
}

/// `embargo build --shard`: what the shard built for one line, and where its folder goes next.
pub fn shard_text(
    pipeline: &crate::pipeline::Pipeline,
    m: &crate::stages::shards::Manifest,
    folder: &std::path::Path,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "shard {} of {} built from {}",
        m.shard,
        m.tag,
        crate::git::abbrev(&m.release_commit)
    );
    for a in &m.artifacts {
        let _ = writeln!(out, "  {}  {} ({} bytes)", a.sha256, a.name, a.size);
    }
    let _ = writeln!(
        out,
        "  manifest         {}",
        folder.join(crate::stages::shards::MANIFEST).display()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "next: put {} (whole, as it is) under one folder with the other shards' and run `embargo run {} --shards FOLDER`",
        folder.display(),
        pipeline.file.display()
    );
    out
}

pub fn run_text(run: &RunSummary) -> String {
    crate::redact::redact_url(&run_text_unredacted(run))
}

fn run_text_unredacted(run: &RunSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out);
    if run.dry_run {
        let _ = writeln!(
            out,
            "dry run of release {}: stages 1 to 5 ran in a scratch repository",
            run.tag
        );
    } else {
        let _ = writeln!(out, "release {} frozen and staged privately", run.tag);
    }
    let _ = writeln!(out, "  old tag          {}", run.previous_tag);
    let _ = writeln!(
        out,
        "  new tag          {} ({})",
        run.tag,
        crate::git::abbrev(&run.tag_object)
    );
    release_lines(
        &mut out,
        &run.patch_branch,
        &run.release_commit,
        &run.fix_commits,
    );
    let _ = writeln!(out, "  checksums        {}", run.checksums_file);
    for a in &run.artifacts {
        let _ = writeln!(
            out,
            "                     {}  {} ({} bytes)",
            a.sha256, a.name, a.size
        );
    }
    let _ = writeln!(
        out,
        "  checks passed    {}",
        if run.checks_passed.is_empty() {
            "none configured".to_string()
        } else {
            run.checks_passed.join(", ")
        }
    );
    let _ = writeln!(out, "  freeze hook      {}", run.hook);
    if let Some(osv) = &run.osv {
        let _ = writeln!(out, "  OSV record       {}", osv.display());
    }
    let _ = writeln!(out, "  cherry-picks     {}", run.picks.len());
    pick_lines(&mut out, &run.picks, &run.manual_backports);
    if !run.dry_run {
        let _ = writeln!(
            out,
            "  staged           {} ref(s) on the private remote `{}` (one atomic push)",
            run.staged.refs.len(),
            run.staged.remote
        );
    }
    let _ = writeln!(out, "  state            {}", run.state_dir.display());
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        if run.dry_run {
            "what stages 6 and 7 would do:"
        } else {
            "what comes next:"
        }
    );
    next_actions(
        &mut out,
        &run.actions,
        run.dry_run,
        run.staged.draft.is_none(),
        "stage (the draft release, described, not created):",
    );
    out
}

/// Stages 6 and 7 as the run leaves them: what a dry run would do, or what publishing will do
/// (with the drafts, when they were only described: there is no GitHub to talk to in the demo).
fn next_actions(
    out: &mut String,
    actions: &crate::actions::Actions,
    dry_run: bool,
    drafts_described: bool,
    described: &str,
) {
    let staging = if dry_run {
        actions.stage_lines("stage (now, private):", false)
    } else if drafts_described && actions.stage.len() > 1 {
        actions.stage_lines(described, true)
    } else {
        Vec::new()
    };
    for line in staging.iter().chain(&actions.publish_lines()) {
        let _ = writeln!(out, "  {line}");
    }
}

/// The picks, and the targets left for a manual backport.
fn pick_lines(
    out: &mut String,
    picks: &[crate::stages::cherry_pick::Pick],
    manual: &[crate::stages::cherry_pick::Manual],
) {
    for p in picks {
        let _ = writeln!(
            out,
            "                     {:<14} -> {} ({})",
            p.target,
            p.branch,
            crate::git::abbrev(&p.commit)
        );
    }
    for m in manual {
        let _ = writeln!(
            out,
            "                     {:<14} needs a manual backport: {} conflicts in {}",
            m.target,
            crate::git::abbrev(&m.fix_commit),
            m.paths.join(", ")
        );
    }
}

/// What `run` prints for a release of several lines.
pub fn set_run_text(set: &crate::commands::SetSummary) -> String {
    crate::redact::redact_url(&set_run_text_unredacted(set))
}

fn set_run_text_unredacted(set: &crate::commands::SetSummary) -> String {
    let mut out = String::new();
    let tags: Vec<&str> = set.lines.iter().map(|l| l.tag.as_str()).collect();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} of {} lines ({}){}",
        if set.dry_run { "dry run" } else { "release" },
        set.lines.len(),
        tags.join(", "),
        if set.dry_run {
            ": stages 1 to 5 ran in a scratch repository, line by line"
        } else {
            ": frozen and staged privately"
        }
    );
    for run in &set.lines {
        let _ = writeln!(
            out,
            "  {} -> {}  release commit {}, {} fix commit(s), {} artifact(s), checks passed: {}",
            run.previous_tag,
            run.tag,
            crate::git::abbrev(&run.release_commit),
            run.fix_commits.len(),
            run.artifacts.len(),
            if run.checks_passed.is_empty() {
                "none configured".to_string()
            } else {
                run.checks_passed.join(", ")
            }
        );
        for c in &run.fix_commits {
            let _ = writeln!(
                out,
                "                     {} {}",
                crate::git::abbrev(&c.sha),
                c.subject
            );
        }
    }
    let picks: Vec<crate::stages::cherry_pick::Pick> =
        set.lines.iter().flat_map(|l| l.picks.clone()).collect();
    let manual: Vec<crate::stages::cherry_pick::Manual> = set
        .lines
        .iter()
        .flat_map(|l| l.manual_backports.clone())
        .collect();
    let _ = writeln!(out, "  cherry-picks     {} (one per target)", picks.len());
    pick_lines(&mut out, &picks, &manual);
    if !set.dry_run {
        let refs: usize = set.lines.iter().map(|l| l.staged.refs.len()).sum();
        let _ = writeln!(
            out,
            "  staged           {refs} ref(s) of every line on the private remote in one atomic push"
        );
    }
    let _ = writeln!(
        out,
        "  state            {} (a folder per line inside)",
        set.state_dir.display()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        if set.dry_run {
            "what stages 6 and 7 would do, for every line at once:"
        } else {
            "what comes next, for every line at once:"
        }
    );
    next_actions(
        &mut out,
        &set.actions,
        set.dry_run,
        set.lines.iter().any(|l| l.staged.draft.is_none()),
        "stage (the draft releases, described, not created):",
    );
    out
}

fn describe(entry: Option<&Entry>) -> (String, String) {
    match entry {
        None => ("-".into(), String::new()),
        Some(e) => (
            match e.event {
                Progress::Started => "started (did not finish)",
                Progress::Completed => "completed",
                Progress::Failed => "failed",
            }
            .to_string(),
            format!(
                "{}{}",
                e.at,
                e.message
                    .as_deref()
                    .map(|m| format!(": {}", m.lines().next().unwrap_or("")))
                    .unwrap_or_default()
            ),
        ),
    }
}

/// What `status` prints, with credentials in remote URLs redacted.
pub fn status_text(pipeline: &Pipeline, releases: &[(PathBuf, Vec<Entry>)]) -> String {
    crate::redact::redact_url(&status_text_unredacted(pipeline, releases))
}

fn status_text_unredacted(pipeline: &Pipeline, releases: &[(PathBuf, Vec<Entry>)]) -> String {
    let mut out = String::new();
    if releases.is_empty() {
        let _ = writeln!(
            out,
            "{}: no release started yet (`embargo run {}` starts one)",
            pipeline.name,
            pipeline.file.display()
        );
        return out;
    }
    for (dir, entries) in releases {
        let tag = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(out, "{} {tag} ({})", pipeline.name, dir.display());
        if let Some(set) = dir
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy())
            .filter(|n| n.contains('+'))
        {
            let _ = writeln!(
                out,
                "  part of      the release of {}: its lines are staged and published together",
                set.replace('+', ", ")
            );
        }
        for stage in Stage::ALL {
            let (state, detail) = describe(last_of(entries, stage));
            // A stage that has not run has no detail: no padding left at the end of its line.
            let line = format!("  {:<12} {:<26} {detail}", stage.name(), state);
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if let Some((instant, source)) = crate::contract::recorded_instant(entries) {
            let _ = writeln!(
                out,
                "  embargo      {}",
                match instant {
                    Some(at) => format!(
                        "{} ({}; set by {})",
                        clock::display(at),
                        clock::until(at),
                        source_words(source)
                    ),
                    None => "none recorded (`embargo reschedule` sets it)".to_string(),
                }
            );
        }
        if let Some(advisory) = last_of(entries, Stage::Stage)
            .filter(|e| e.event == Progress::Completed)
            .and_then(|e| e.detail.get("advisory"))
        {
            let published = last_of(entries, Stage::Publish).is_some_and(|e| {
                e.event == Progress::Completed && e.detail.get("advisory_url").is_some()
            });
            let cve = match advisory.get("cve_id").and_then(|c| c.as_str()) {
                Some(cve) => cve.to_string(),
                None if advisory.get("cve_requested").and_then(|c| c.as_bool()) == Some(true) => {
                    "CVE requested".to_string()
                }
                None => "no CVE".to_string(),
            };
            let _ = writeln!(
                out,
                "  advisory     {} ({}; {cve}) {}",
                advisory
                    .get("ghsa_id")
                    .and_then(|g| g.as_str())
                    .unwrap_or("?"),
                if published { "published" } else { "a draft" },
                advisory
                    .get("html_url")
                    .and_then(|g| g.as_str())
                    .unwrap_or("")
            );
        }
        let last_reschedule = entries.iter().rposition(|e| e.stage == Stage::Reschedule);
        let shown = entries.iter().enumerate().filter(|(i, e)| {
            !Stage::ALL.contains(&e.stage)
                // A reschedule's `started` matters only when it did not finish.
                && (e.stage != Stage::Reschedule
                    || e.event == Progress::Completed
                    || last_reschedule == Some(*i))
        });
        for (_, e) in shown {
            let _ = writeln!(
                out,
                "  {:<12} {:<26} {}",
                e.stage.name(),
                event_words(e),
                e.at
            );
        }
    }
    out
}

fn source_words(source: crate::pipeline::EmbargoSource) -> &'static str {
    use crate::pipeline::EmbargoSource;
    match source {
        EmbargoSource::Pipeline => "the pipeline at staging",
        EmbargoSource::Flag => "--embargo at staging",
        EmbargoSource::Now => "--embargo now at staging",
        EmbargoSource::Reschedule => "embargo reschedule",
    }
}

/// A journal event that is not a stage, in words.
fn event_words(e: &Entry) -> String {
    match e.stage {
        Stage::Reschedule if e.event == Progress::Completed => {
            format!("moved to {}", e.detail["to"].as_str().unwrap_or("?"))
        }
        Stage::Reschedule => format!(
            "moving to {} did not finish",
            e.detail["to"].as_str().unwrap_or("?")
        ),
        Stage::PreAnnounce | Stage::Announce if e.event == Progress::Completed => {
            format!("sent {}", e.detail["message_id"].as_str().unwrap_or("?"))
        }
        Stage::TeamInvite | Stage::TeamRevoke if e.event == Progress::Completed => {
            e.detail["login"].as_str().unwrap_or("?").to_string()
        }
        Stage::KeepStaged => format!(
            "kept the record over {} change(s)",
            e.detail["drift"].as_array().map(Vec::len).unwrap_or(0)
        ),
        _ => describe(Some(e)).0,
    }
}

pub fn status_json(releases: &[(PathBuf, Vec<Entry>)]) -> serde_json::Value {
    releases
        .iter()
        .map(|(dir, entries)| {
            let (embargo, source) = match crate::contract::recorded_instant(entries) {
                Some((at, source)) => (at.map(|t| t.to_string()), Some(source)),
                None => (None, None),
            };
            json!({
                "state_dir": dir,
                "embargo": embargo,
                "embargo_source": source,
                "events": entries
                    .iter()
                    .filter(|e| !Stage::ALL.contains(&e.stage))
                    .collect::<Vec<_>>(),
                "stages": Stage::ALL.iter().map(|s| {
                    let last = last_of(entries, *s);
                    json!({
                        "stage": s.name(),
                        "state": last.map(|e| e.event),
                        "at": last.map(|e| e.at.clone()),
                        "message": last.and_then(|e| e.message.clone()),
                    })
                }).collect::<Vec<_>>(),
            })
        })
        .collect()
}
