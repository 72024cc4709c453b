//! `embargo team`: who owns what the fix touches, read from the release's base.

use std::path::Path;

use crate::cli::TeamArgs;
use crate::disclosure::team::{self, Team};
use crate::error::{Error, Exit};
use crate::pipeline;
use crate::plan;

use super::{open_workspace, overrides, print_json};

pub fn execute(args: TeamArgs, cwd: &Path) -> Result<Exit, Error> {
    let pipeline = pipeline::load(&args.pipeline, &overrides(&args.common))?;
    // Read before the remotes are listed: a mistake in it is found at once.
    let advisory = pipeline
        .advisory
        .as_deref()
        .map(crate::advisory::load)
        .transpose()?;
    let workspace = open_workspace(&pipeline, cwd, None)?;
    let plan = plan::resolve(&pipeline, &workspace, args.common.state_dir.as_deref())?;
    let repo = &workspace.repo.repo;
    let paths = team::changed_paths(repo, &plan.fix_oids)?;
    let security_team = advisory.map(|a| a.people.security_team).unwrap_or_default();
    let team = team::owners(
        repo,
        plan.previous_commit,
        &plan.previous.tag,
        &paths,
        &security_team,
    )?;
    if args.common.json {
        print_json(&team)?;
    } else {
        print!("{}", render(&team));
    }
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
