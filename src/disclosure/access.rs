//! Access to the private repository for the fix team: who can be invited (GitHub users among the
//! owners; teams and e-mail addresses are named and left to the lead), and, from the journal,
//! whom embargo invited, so that `--revoke` removes exactly those and never anyone who had
//! access before, nor the permanent security team.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::team::Team;
use crate::journal::{Entry, Progress, Stage};

/// The permission the fix team gets: enough to push fix branches and review.
pub const PERMISSION: &str = "push";

/// An owner who is not invited, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub name: String,
    pub why: String,
}

/// GitHub's rule for a login: letters, digits and single inner hyphens, at most 39 characters.
pub fn is_login(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 39
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// The owners as GitHub logins to invite, and the ones that cannot be invited as users.
pub fn candidates(team: &Team) -> (Vec<String>, Vec<Skipped>) {
    let mut logins = Vec::new();
    let mut skipped = Vec::new();
    for owner in &team.owners {
        let name = owner.name.trim();
        let bare = name.strip_prefix('@').unwrap_or(name);
        let why = if bare.contains('/') {
            Some(
                "a GitHub team: the collaborator API takes users; give the team access in the repository's settings",
            )
        } else if bare.contains('@') {
            Some("an e-mail address, not a GitHub login")
        } else if !is_login(bare) {
            Some("not a GitHub login")
        } else {
            None
        };
        match why {
            Some(why) => skipped.push(Skipped {
                name: name.to_string(),
                why: why.to_string(),
            }),
            None => {
                if !logins.iter().any(|l: &String| l.eq_ignore_ascii_case(bare)) {
                    logins.push(bare.to_string());
                }
            }
        }
    }
    (logins, skipped)
}

/// One person's invitation as journaled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Invited {
    pub login: String,
    pub repository: String,
    /// `invited` (embargo opened an invitation) or `already-had-access`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<u64>,
    /// In the advisory's permanent security team when invited: never revoked, whatever the
    /// advisory says by the time of `--revoke`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub security_team: bool,
}

/// Whether two GitHub logins are the same person: GitHub's logins ignore case, and people write
/// them with a leading `@` as often as without.
pub fn same_login(a: &str, b: &str) -> bool {
    a.trim()
        .trim_start_matches('@')
        .eq_ignore_ascii_case(b.trim().trim_start_matches('@'))
}

fn completed(entries: &[Entry], stage: Stage) -> impl Iterator<Item = &Entry> {
    entries
        .iter()
        .filter(move |e| e.stage == stage && e.event == Progress::Completed)
}

/// Everyone journaled as invited (or found with access), first record per login.
pub fn invited(entries: &[Entry]) -> Vec<(String, Invited)> {
    let mut out: Vec<(String, Invited)> = Vec::new();
    for e in completed(entries, Stage::TeamInvite) {
        if let Ok(i) = serde_json::from_value::<Invited>(e.detail.clone())
            && !out
                .iter()
                .any(|(_, o)| o.login.eq_ignore_ascii_case(&i.login))
        {
            out.push((e.at.clone(), i));
        }
    }
    out
}

/// Whether an invitation of `login` was started and never recorded as done: the process may
/// have stopped after GitHub opened it.
pub fn started_unfinished(entries: &[Entry], login: &str) -> bool {
    entries
        .iter()
        .rev()
        .find(|e| {
            e.stage == Stage::TeamInvite
                && e.detail["login"]
                    .as_str()
                    .is_some_and(|l| l.eq_ignore_ascii_case(login))
        })
        .is_some_and(|e| e.event == Progress::Started)
}

/// Logins already removed, with when.
pub fn revoked(entries: &[Entry]) -> Vec<(String, String)> {
    completed(entries, Stage::TeamRevoke)
        .filter_map(|e| Some((e.detail["login"].as_str()?.to_string(), e.at.clone())))
        .collect()
}

/// Whom `--revoke` removes: the people embargo invited, less the permanent security team and
/// those already removed. People who had access before are left alone.
pub fn to_revoke(entries: &[Entry], security_team: &[String]) -> Vec<String> {
    let done: BTreeSet<String> = revoked(entries)
        .into_iter()
        .map(|(l, _)| l.to_ascii_lowercase())
        .collect();
    invited(entries)
        .into_iter()
        .map(|(_, i)| i)
        .filter(|i| i.outcome == "invited" && !i.security_team)
        .filter(|i| !security_team.iter().any(|s| same_login(s, &i.login)))
        .filter(|i| !done.contains(&i.login.to_ascii_lowercase()))
        .map(|i| i.login)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_follow_githubs_rule() {
        for ok in ["alice", "a-b", "A1", "x"] {
            assert!(is_login(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "a_b", "a.b", "a b", &"x".repeat(40)] {
            assert!(!is_login(bad), "{bad}");
        }
    }
}
