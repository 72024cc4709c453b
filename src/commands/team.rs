//! `embargo team`: who owns what the fix touches, read from the release's base; and, with
//! `--invite`/`--revoke`, their access to the private repository.

use std::path::Path;

use crate::cli::TeamArgs;
use crate::disclosure::access::{self, Invited};
use crate::disclosure::team::{self, Team};
use crate::error::{Error, Exit};
use crate::github::client::Client;
use crate::github::collaborators::{self, Added};
use crate::journal::{self, Journal, Progress, Stage};
use crate::pipeline::{self, GitHubSpec, Pipeline};
use crate::plan;

use super::{clone_path, open_workspace, overrides, print_json, say, staged_release};

pub fn execute(args: TeamArgs, cwd: &Path) -> Result<Exit, Error> {
    if args.dry_run && !args.invite && !args.revoke {
        return Err(Error::bad_input(
            "--dry-run goes with --invite or --revoke (listing the team changes nothing)",
        ));
    }
    let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
    // Read before the remotes are listed: a mistake in it is found at once.
    let advisory = pipeline
        .advisory
        .as_deref()
        .map(crate::advisory::load)
        .transpose()?;
    let security_team = advisory.map(|a| a.people.security_team).unwrap_or_default();
    if args.revoke {
        return revoke(&args, &pipeline, &security_team, cwd);
    }
    let workspace = open_workspace(&pipeline, cwd, None)?;
    let plan = plan::resolve(&pipeline, &workspace, args.common.state_dir.as_deref())?;
    let repo = &workspace.repo.repo;
    let paths = team::changed_paths(repo, &plan.fix_oids)?;
    let team = team::owners(
        repo,
        plan.previous_commit,
        &plan.previous.tag,
        &paths,
        &security_team,
    )?;
    if args.invite {
        return invite(&args, &pipeline, &team, &plan.state_dir);
    }
    if args.common.json {
        print_json(&team)?;
    } else {
        print!("{}", render(&team));
    }
    Ok(Exit::Done)
}

/// The GitHub settings and the private repository's name, or why there are none.
fn private_repository(pipeline: &Pipeline) -> Result<(&GitHubSpec, &str), Error> {
    let github = pipeline.github.as_ref();
    match github.and_then(|g| g.private_repository.as_deref().map(|p| (g, p))) {
        Some(found) => Ok(found),
        None => Err(Error::bad_input(format!(
            "{}: publish.github.private_repository is not set, so there is no repository to give the fix team access to",
            pipeline.file.display()
        ))
        .with_hint("set publish.github.private_repository: OWNER/REPO, the GitHub repository behind the private remote")),
    }
}

/// The API address the calls go to, for the dry run.
fn api_url(github: &GitHubSpec) -> String {
    std::env::var(crate::github::client::API_URL_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| github.api_url.clone())
        .trim_end_matches('/')
        .to_string()
}

fn invite(
    args: &TeamArgs,
    pipeline: &Pipeline,
    team: &Team,
    state_dir: &Path,
) -> Result<Exit, Error> {
    let (github, private) = private_repository(pipeline)?;
    let (logins, skipped) = access::candidates(team);
    let entries = journal::read(&state_dir.join("journal.jsonl"))?;
    if let Some((login, at)) = access::revoked(&entries).into_iter().next() {
        return Err(Error::bad_input(format!(
            "the fix team of this release was removed from {private} ({login} at {at}); it is not invited again"
        )));
    }
    let before = access::invited(&entries);
    let known = |login: &str| {
        before
            .iter()
            .find(|(_, i)| i.login.eq_ignore_ascii_case(login))
    };
    let todo: Vec<&String> = logins.iter().filter(|l| known(l).is_none()).collect();
    let mut lines = Vec::new();
    for s in &skipped {
        lines.push(format!("not invited: {} ({})", s.name, s.why));
    }
    for login in &logins {
        if let Some((at, i)) = known(login) {
            lines.push(format!("{login}: {} at {at}", outcome_words(i)));
        }
    }
    if args.dry_run {
        let api = api_url(github);
        let calls: Vec<String> = todo
            .iter()
            .map(|l| collaborators::add_call(&api, private, l, access::PERMISSION))
            .collect();
        if args.common.json {
            print_json(&serde_json::json!({
                "outcome": "dry-run",
                "repository": private,
                "calls": calls,
                "skipped": skipped,
            }))?;
        } else {
            println!("dry run: nobody is invited; the calls `--invite` would make:");
            for c in &calls {
                println!("  {c}");
            }
            if calls.is_empty() {
                println!("  none: every owner is invited already");
            }
            for l in &lines {
                println!("{l}");
            }
        }
        return Ok(Exit::Done);
    }
    let _lock = crate::lock::lock(state_dir, "team --invite")?;
    let client = Client::new(github)?;
    let mut journal = Journal::open(state_dir)?;
    let mut failures = Vec::new();
    for login in todo {
        // A start without an end: GitHub may have opened the invitation and the person accepted
        // it since, so a 204 now still means embargo gave the access.
        let unfinished = access::started_unfinished(journal.entries(), login);
        journal.record(
            Stage::TeamInvite,
            Progress::Started,
            serde_json::json!({ "login": login, "repository": private }),
            None,
        )?;
        match collaborators::add(&client, private, login, access::PERMISSION) {
            Ok(added) => {
                crate::failpoint::hit("team:after-invite");
                let record = Invited {
                    login: login.clone(),
                    repository: private.to_string(),
                    outcome: match (&added, unfinished) {
                        (Added::AlreadyHadAccess, false) => "already-had-access",
                        _ => "invited",
                    }
                    .to_string(),
                    invitation_id: match added {
                        Added::Invited { invitation_id } => invitation_id,
                        Added::AlreadyHadAccess => None,
                    },
                    security_team: team
                        .security_team
                        .iter()
                        .any(|s| access::same_login(s, login)),
                };
                let value = serde_json::to_value(&record).map_err(|e| {
                    Error::stage_failed(format!("cannot record the invitation: {e}"))
                })?;
                journal.record(Stage::TeamInvite, Progress::Completed, value, None)?;
                lines.push(format!("{login}: {}", outcome_words(&record)));
            }
            Err(e) => {
                journal.record(
                    Stage::TeamInvite,
                    Progress::Failed,
                    serde_json::json!({ "login": login, "repository": private }),
                    Some(e.message.clone()),
                )?;
                lines.push(format!("{login}: NOT invited: {}", e.message));
                failures.push(login.clone());
            }
        }
    }
    let text = format!(
        "the fix team on {private}:\n{}",
        lines
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    if !failures.is_empty() {
        return Err(Error::stage_failed(format!(
            "{text}\n{} of the owners could not be invited: {}",
            failures.len(),
            failures.join(", ")
        ))
        .with_hint("check the logins and the token's admin access to the repository, then run again: the others are not invited twice"));
    }
    say(
        args.common.json,
        "invited",
        &text,
        serde_json::json!({ "repository": private, "skipped": skipped }),
    )?;
    Ok(Exit::Done)
}

fn outcome_words(i: &Invited) -> String {
    match i.outcome.as_str() {
        "invited" => format!("invited ({} access once accepted)", access::PERMISSION),
        _ => "had access already (left alone by --revoke)".to_string(),
    }
}

fn revoke(
    args: &TeamArgs,
    pipeline: &Pipeline,
    security_team: &[String],
    cwd: &Path,
) -> Result<Exit, Error> {
    let (github, private) = private_repository(pipeline)?;
    let clone = crate::git::LocalRepo::open(&clone_path(pipeline, cwd)?)?;
    let dir = staged_release(&clone, pipeline, args.common.state_dir.as_deref(), true)?;
    let entries = journal::read(&dir.join("journal.jsonl"))?;
    let public =
        journal::last_of(&entries, Stage::Publish).is_some_and(|e| e.event == Progress::Completed);
    if !public {
        return Err(Error::bad_input(format!(
            "the release in {} is not public yet: the fix team keeps its access until it is published",
            dir.display()
        ))
        .with_hint(format!(
            "run `embargo team {} --revoke` after `embargo publish`",
            pipeline.file.display()
        )));
    }
    let logins = access::to_revoke(&entries, security_team);
    let kept: Vec<String> = access::invited(&entries)
        .into_iter()
        .map(|(_, i)| i.login)
        .filter(|l| security_team.iter().any(|s| access::same_login(s, l)))
        .collect();
    if args.dry_run {
        let api = api_url(github);
        let mut calls = Vec::new();
        if !logins.is_empty() {
            calls.push(format!(
                "GET {api}/repos/{private}/invitations  (then DELETE {api}/repos/{private}/invitations/{{id}} for each open invitation to the people below)"
            ));
        }
        for l in &logins {
            calls.push(format!("DELETE {api}/repos/{private}/collaborators/{l}"));
        }
        if args.common.json {
            print_json(&serde_json::json!({
                "outcome": "dry-run",
                "repository": private,
                "calls": calls,
                "kept": kept,
            }))?;
        } else {
            println!("dry run: nobody is removed; the calls `--revoke` would make:");
            for c in &calls {
                println!("  {c}");
            }
            if calls.is_empty() {
                println!("  none: nobody embargo invited is left to remove");
            }
            if !kept.is_empty() {
                println!("kept (permanent security team): {}", kept.join(", "));
            }
        }
        return Ok(Exit::Done);
    }
    if logins.is_empty() {
        let done = access::revoked(&entries);
        let text = if done.is_empty() {
            format!("nobody embargo invited to {private} is left to remove; nothing was done")
        } else {
            format!(
                "the fix team was removed from {private} already ({}); nothing was done",
                done.iter()
                    .map(|(l, at)| format!("{l} at {at}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        say(
            args.common.json,
            "nothing-to-do",
            &text,
            serde_json::json!({}),
        )?;
        return Ok(Exit::Done);
    }
    let _lock = crate::lock::lock(&dir, "team --revoke")?;
    let client = Client::new(github)?;
    let mut journal = Journal::open(&dir)?;
    // An invitation not yet accepted would give access after the removal: withdraw it too.
    let open = collaborators::open_invitations(&client, private)?;
    let mut lines = Vec::new();
    for login in &logins {
        let mut withdrawn = Vec::new();
        for (id, _) in open.iter().filter(|(_, l)| l.eq_ignore_ascii_case(login)) {
            collaborators::withdraw_invitation(&client, private, *id)?;
            withdrawn.push(*id);
        }
        collaborators::remove(&client, private, login)?;
        journal.record(
            Stage::TeamRevoke,
            Progress::Completed,
            serde_json::json!({
                "login": login,
                "repository": private,
                "withdrawn_invitations": withdrawn,
            }),
            None,
        )?;
        lines.push(if withdrawn.is_empty() {
            format!("{login}: removed")
        } else {
            format!("{login}: removed, open invitation withdrawn")
        });
    }
    if !kept.is_empty() {
        lines.push(format!(
            "kept (permanent security team): {}",
            kept.join(", ")
        ));
    }
    let text = format!(
        "the fix team on {private}:\n{}",
        lines
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    say(
        args.common.json,
        "revoked",
        &text,
        serde_json::json!({ "repository": private, "removed": logins, "kept": kept }),
    )?;
    Ok(Exit::Done)
}

fn render(team: &Team) -> String {
    let mut out = format!(
        "The fix changes {} path(s); owners as recorded in {}:\n",
        team.paths.len(),
        team.base
    );
    if team.owners.is_empty() {
        out.push_str("  nobody: no CODEOWNERS rule or OWNERS file covers these paths\n");
    }
    for owner in &team.owners {
        let mark = if owner.security_team {
            " (permanent security team)"
        } else {
            ""
        };
        out.push_str(&format!("  {}{mark}\n", owner.name));
        for claim in &owner.claims {
            out.push_str(&format!(
                "    {}: {} ({})\n",
                claim.path,
                claim.role.name(),
                claim.source
            ));
        }
    }
    if !team.unowned.is_empty() {
        out.push_str(&format!("Owned by nobody: {}\n", team.unowned.join(", ")));
    }
    if !team.security_team.is_empty() {
        out.push_str(&format!(
            "Permanent security team (from the advisory): {}\n",
            team.security_team.join(", ")
        ));
    }
    out
}
