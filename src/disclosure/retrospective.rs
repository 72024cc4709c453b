//! The retrospective a release's team writes a few days after publishing: the facts come from
//! the journal, the manifest and the advisory, so only the judgement is left to write by hand.

use jiff::Timestamp;
use serde::Serialize;

use crate::advisory::Advisory;
use crate::error::Error;
use crate::journal::{Entry, Manifest, Progress, Stage};
use crate::stages::cherry_pick::Picked;
use crate::stages::publish::Published;

/// One moment of the release, in the order it happened.
#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    /// RFC 3339, UTC; a date alone for the report, which the advisory gives as a date.
    pub at: String,
    pub what: String,
    /// How long a stage ran, in seconds (its last run, the one that completed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub what: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backport {
    pub target: String,
    pub fix_commit: String,
    pub paths: Vec<String>,
}

/// Whether a pull request's fix reached its branch, as GitHub said when the retrospective was
/// written. A pick that was never merged leaves that branch vulnerable: it must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeState {
    Merged,
    Open,
    ClosedUnmerged,
    NotChecked,
}

/// A pull request publishing opened, from the journal, with its merge state.
#[derive(Debug, Clone, Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub target: String,
    pub head: String,
    pub url: String,
    pub merge_state: MergeState,
    /// When GitHub says it was merged.
    pub merged_at: Option<String>,
}

/// Whether GitHub was asked for the merge state, and if not, why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// GitHub answered for every pull request.
    Checked,
    /// No pull request was recorded.
    NothingToCheck,
    /// `--offline`, or written without the command (the demo).
    Offline,
    /// The pipeline has no `publish.github`.
    NoGitHub,
    /// The token's environment variable is not set.
    NoToken,
    /// GitHub failed or refused; the command ends with that error's exit code.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergeCheck {
    pub status: CheckStatus,
    /// The sentence the Markdown prints about it.
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retrospective {
    pub tag: String,
    pub previous_tag: String,
    pub cve_id: Option<String>,
    pub summary: Option<String>,
    pub timeline: Vec<Moment>,
    /// From the report (or the first stage, without an advisory) to publication.
    pub time_to_publication: Option<String>,
    pub people: Vec<Person>,
    pub links: Vec<Link>,
    pub pull_requests: Vec<PullRequest>,
    pub merge_check: MergeCheck,
    pub manual_backports: Vec<Backport>,
}

impl Retrospective {
    /// Records why the merge state was not asked for; every pull request stays `not_checked`.
    pub fn merge_not_checked(&mut self, status: CheckStatus, note: impl Into<String>) {
        for p in &mut self.pull_requests {
            p.merge_state = MergeState::NotChecked;
            p.merged_at = None;
        }
        self.merge_check = MergeCheck {
            status,
            note: note.into(),
        };
    }

    /// The pull requests GitHub says are not merged (open, or closed without merging).
    pub fn unmerged(&self) -> impl Iterator<Item = &PullRequest> {
        self.pull_requests
            .iter()
            .filter(|p| matches!(p.merge_state, MergeState::Open | MergeState::ClosedUnmerged))
    }
}

/// Builds the retrospective from what the release recorded.
pub fn gather(
    entries: &[Entry],
    manifest: &Manifest,
    advisory: Option<&Advisory>,
) -> Result<Retrospective, Error> {
    let mut timeline = Vec::new();
    let mut first: Option<Timestamp> = None;
    for stage in Stage::ALL {
        let Some((index, done)) = entries
            .iter()
            .enumerate()
            .rev()
            .find(|(_, e)| e.stage == stage && e.event == Progress::Completed)
        else {
            continue;
        };
        let end = instant(done)?;
        // The start of the run that completed it: a resumed stage counts from its last start.
        let start = entries[..index]
            .iter()
            .rev()
            .find(|e| e.stage == stage && e.event == Progress::Started)
            .map(instant)
            .transpose()?;
        if let Some(start) = start {
            first = Some(first.map_or(start, |f| f.min(start)));
        }
        timeline.push((
            end,
            Moment {
                at: end.to_string(),
                what: match stage {
                    Stage::Stage => "staged".to_string(),
                    Stage::Publish => "published".to_string(),
                    _ => format!("{} done", stage.name()),
                },
                seconds: start.map(|s| end.duration_since(s).as_secs()),
            },
        ));
        if let Some(start) = start {
            timeline.push((
                start,
                Moment {
                    at: start.to_string(),
                    what: format!("{} started", stage.name()),
                    seconds: None,
                },
            ));
        }
    }
    for e in entries
        .iter()
        .filter(|e| e.stage == Stage::Reschedule && e.event == Progress::Completed)
    {
        let to = e.detail.get("to").and_then(|v| v.as_str()).unwrap_or("?");
        let at = instant(e)?;
        timeline.push((
            at,
            Moment {
                at: at.to_string(),
                what: format!("rescheduled to {to}"),
                seconds: None,
            },
        ));
    }
    for (at, what) in disclosure_moments(entries)? {
        timeline.push((
            at,
            Moment {
                at: at.to_string(),
                what,
                seconds: None,
            },
        ));
    }
    // A stage's start sorts before its end (the end carries the duration) at the same instant.
    timeline.sort_by(|(a, ma), (b, mb)| {
        a.cmp(b)
            .then(ma.seconds.is_some().cmp(&mb.seconds.is_some()))
    });
    let mut timeline: Vec<Moment> = timeline.into_iter().map(|(_, m)| m).collect();
    let published = completed_detail::<Published>(entries, Stage::Publish)?;
    let picked = completed_detail::<Picked>(entries, Stage::CherryPick)?;
    let published_at = entries
        .iter()
        .rev()
        .find(|e| e.stage == Stage::Publish && e.event == Progress::Completed)
        .map(instant)
        .transpose()?;

    let received = advisory.map(|a| a.received);
    if let Some(date) = received {
        timeline.insert(
            0,
            Moment {
                at: date.to_string(),
                what: "report received".to_string(),
                seconds: None,
            },
        );
    }
    let since = match received {
        Some(date) => Some((
            date.to_zoned(jiff::tz::TimeZone::UTC)
                .map_err(|e| Error::bad_input(format!("received: {e}")))?
                .timestamp(),
            "the report",
        )),
        None => first.map(|f| (f, "the first stage")),
    };
    let time_to_publication = match (since, published_at) {
        (Some((from, what)), Some(to)) => Some(format!(
            "{} from {what} to publication",
            span_text(to.duration_since(from).as_secs())
        )),
        _ => None,
    };

    // One line per person, with every role they had, in the order the advisory names them.
    let mut people: Vec<Person> = Vec::new();
    let mut add = |name: &str, role: &str| match people.iter_mut().find(|p| p.name == name) {
        Some(p) => p.role = format!("{}, {role}", p.role),
        None => people.push(Person {
            name: name.to_string(),
            role: role.to_string(),
        }),
    };
    if let Some(a) = advisory {
        for (name, role) in [
            (&a.people.fix_lead, "fix lead"),
            (&a.people.release_lead, "release lead"),
            (&a.people.disclosure_lead, "disclosure lead"),
        ] {
            if let Some(name) = name {
                add(name, role);
            }
        }
        for name in &a.people.security_team {
            add(name, "security team");
        }
        for credit in &a.credits {
            let role = serde_json::to_value(credit.kind)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_else(|| "credited".to_string());
            add(&credit.name, &role);
        }
    }

    let mut links = Vec::new();
    let mut pull_requests = Vec::new();
    if let Some(p) = &published {
        if let Some(url) = &p.release_url {
            links.push(Link {
                what: format!("release {}", p.tag),
                url: url.clone(),
            });
        }
        for pull in &p.pulls {
            pull_requests.push(PullRequest {
                number: pull.number,
                target: pull.target.clone(),
                head: pull.head.clone(),
                url: pull.url.clone(),
                merge_state: MergeState::NotChecked,
                merged_at: None,
            });
        }
    }
    // Only the command asks GitHub; written from the records alone, nothing was asked.
    let merge_check = if pull_requests.is_empty() {
        MergeCheck {
            status: CheckStatus::NothingToCheck,
            note: "no pull request was recorded".to_string(),
        }
    } else {
        MergeCheck {
            status: CheckStatus::Offline,
            note: "not checked: written from the journal alone".to_string(),
        }
    };
    let manual_backports = picked
        .map(|p| {
            p.manual
                .into_iter()
                .map(|m| Backport {
                    target: m.target,
                    fix_commit: m.fix_commit,
                    paths: m.paths,
                })
                .collect()
        })
        .unwrap_or_default();

    Ok(Retrospective {
        tag: manifest.tag.clone(),
        previous_tag: manifest.previous_tag.clone(),
        cve_id: advisory.and_then(|a| a.cve_id.clone()),
        summary: advisory.map(|a| a.summary.clone()),
        timeline,
        time_to_publication,
        people,
        links,
        pull_requests,
        merge_check,
        manual_backports,
    })
}

/// The disclosure steps the journal holds: the team invited and removed, the messages sent.
fn disclosure_moments(entries: &[Entry]) -> Result<Vec<(Timestamp, String)>, Error> {
    let done = |stage: Stage| {
        entries
            .iter()
            .filter(move |e| e.stage == stage && e.event == Progress::Completed)
    };
    let mut out = Vec::new();
    let logins = |stage: Stage| -> Vec<String> {
        done(stage)
            .filter_map(|e| e.detail["login"].as_str().map(str::to_string))
            .collect()
    };
    // One moment per step, at its last record: the team is invited and removed person by person.
    for (stage, what) in [
        (Stage::TeamInvite, "fix team invited"),
        (Stage::TeamRevoke, "team revoked"),
    ] {
        if let Some(last) = done(stage).next_back() {
            out.push((
                instant(last)?,
                format!("{what} ({})", logins(stage).join(", ")),
            ));
        }
    }
    for (stage, what) in [
        (Stage::PreAnnounce, "pre-announced"),
        (Stage::Announce, "announced"),
    ] {
        if let Some(e) = done(stage).next_back() {
            let to = e.detail["to"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            out.push((instant(e)?, format!("{what} to {to}")));
        }
    }
    Ok(out)
}

fn instant(entry: &Entry) -> Result<Timestamp, Error> {
    entry.at.parse().map_err(|e| {
        Error::integrity(format!(
            "the journal's {} entry has a time that is not one: `{}` ({e})",
            entry.stage.name(),
            entry.at
        ))
    })
}

fn completed_detail<T: serde::de::DeserializeOwned>(
    entries: &[Entry],
    stage: Stage,
) -> Result<Option<T>, Error> {
    entries
        .iter()
        .rev()
        .find(|e| e.stage == stage && e.event == Progress::Completed)
        .map(|e| {
            serde_json::from_value(e.detail.clone()).map_err(|err| {
                Error::integrity(format!(
                    "the journal's {} record is damaged: {err}",
                    stage.name()
                ))
            })
        })
        .transpose()
}

/// A duration as people say it: `3d 4h`, `2h 5m`, `1m 30s`, `12s`.
pub fn span_text(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s:02}s"),
        (0, _, _) => format!("{h}h {m:02}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// The retrospective as Markdown, with the sections the team fills in left empty.
pub fn render(r: &Retrospective) -> String {
    let mut out = format!("# Retrospective: {}", r.tag);
    if let Some(cve) = &r.cve_id {
        out.push_str(&format!(" ({cve})"));
    }
    out.push_str("\n\n");
    if let Some(summary) = &r.summary {
        out.push_str(&format!("{summary}\n\n"));
    }
    out.push_str(&format!(
        "The security patch release of {} after {}.",
        r.tag, r.previous_tag
    ));
    if let Some(t) = &r.time_to_publication {
        out.push_str(&format!(" {t}."));
    }
    // A pick left unmerged leaves its branch without the fix: said first, not only in a list.
    let unmerged: Vec<String> = r
        .unmerged()
        .map(|p| {
            let how = if p.merge_state == MergeState::Open {
                "open"
            } else {
                "closed without being merged"
            };
            format!("#{} into {} ({how})", p.number, p.target)
        })
        .collect();
    if !unmerged.is_empty() {
        out.push_str(&format!(
            "\n\n**Not merged: {} of the {} pull requests carrying the fix to other branches: {}.**",
            unmerged.len(),
            r.pull_requests.len(),
            unmerged.join(", ")
        ));
    }
    out.push_str("\n\n## Timeline (UTC)\n\n");
    for m in &r.timeline {
        let took = m
            .seconds
            .map(|s| format!(" (took {})", span_text(s)))
            .unwrap_or_default();
        // Seconds are enough for people; the JSON keeps the exact instant.
        let at =
            m.at.parse::<Timestamp>()
                .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|_| m.at.clone());
        out.push_str(&format!("- {at}: {}{took}\n", m.what));
    }
    out.push_str("\n## People\n\n");
    if r.people.is_empty() {
        out.push_str("(no advisory file given)\n");
    }
    for p in &r.people {
        out.push_str(&format!("- {}: {}\n", p.name, p.role));
    }
    out.push_str("\n## Links\n\n");
    if r.links.is_empty() {
        out.push_str(if r.pull_requests.is_empty() {
            "(no GitHub release or pull request was recorded)\n"
        } else {
            "(no GitHub release was recorded)\n"
        });
    }
    for l in &r.links {
        out.push_str(&format!("- [{}]({})\n", l.what, l.url));
    }
    if !r.pull_requests.is_empty() {
        out.push_str("\n## Pull requests\n\n");
        out.push_str(&format!("Merge state {}.\n\n", r.merge_check.note));
        for p in &r.pull_requests {
            out.push_str(&format!(
                "- [#{}]({}) {} -> {}: {}\n",
                p.number,
                p.url,
                p.head,
                p.target,
                state_words(p)
            ));
        }
    }
    out.push_str("\n## Manual backports\n\n");
    if r.manual_backports.is_empty() {
        out.push_str("None: the fix was picked cleanly onto every target.\n");
    }
    for b in &r.manual_backports {
        out.push_str(&format!(
            "- {}: fix commit {} conflicts in {}\n",
            b.target,
            crate::git::abbrev(&b.fix_commit),
            b.paths.join(", ")
        ));
    }
    out.push_str("\n## What went well\n\n\n## What went wrong\n\n\n## Critiques\n\n");
    out
}

/// A pull request's merge state as the Markdown says it; the unmerged ones in bold.
fn state_words(p: &PullRequest) -> String {
    match p.merge_state {
        MergeState::Merged => match p.merged_at.as_deref().map(|at| at.parse::<Timestamp>()) {
            Some(Ok(at)) => format!("merged {}", at.strftime("%Y-%m-%d %H:%M:%S")),
            _ => "merged".to_string(),
        },
        MergeState::Open => "**open, not merged**".to_string(),
        MergeState::ClosedUnmerged => "**closed without being merged**".to_string(),
        MergeState::NotChecked => "merge state not checked".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(span_text(12), "12s");
        assert_eq!(span_text(90), "1m 30s");
        assert_eq!(span_text(2 * 3600 + 5 * 60), "2h 05m");
        assert_eq!(span_text(3 * 86_400 + 4 * 3600), "3d 4h");
        assert_eq!(span_text(-5), "0s");
    }
}
