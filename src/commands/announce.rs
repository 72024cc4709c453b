//! `embargo announce`: the pre-announcement and the release announcement, rendered from the
//! release's record, and sent once. Also the small step `publish` takes after publishing when
//! `send_release_after_publish` is set.

use std::path::Path;

use super::{clone_path, print_json, staged_release};
use crate::advisory::Advisory;
use crate::cli::{AnnounceArgs, AnnounceFormat};
use crate::clock;
use crate::disclosure::announce::{self, Announcement, Kind, PreFacts, ReleaseFacts};
use crate::disclosure::mail;
use crate::error::{Error, Exit};
use crate::git::LocalRepo;
use crate::journal::{self, Entry, Journal, Manifest, Progress, Stage};
use crate::pipeline::{self, Overrides, Pipeline};
use crate::stages::publish::Published;

pub fn execute(args: AnnounceArgs, cwd: &Path) -> Result<Exit, Error> {
    let overrides = Overrides {
        advisory: args.advisory.clone(),
        ..Overrides::default()
    };
    let pipeline = pipeline::load(&args.pipeline, &overrides)?;
    let advisory = load_advisory(&pipeline)?;
    let clone = LocalRepo::open(&clone_path(&pipeline, cwd)?)?;
    let dir = staged_release(&clone, &pipeline, args.state_dir.as_deref(), true)?;
    let kind = if args.pre { Kind::Pre } else { Kind::Release };
    let entries = journal::read(&dir.join("journal.jsonl"))?;
    super::refuse_aborted(&entries, &dir)?;
    let manifest = Manifest::read(&dir)?;
    let published = published(&entries)?;
    let record = Record {
        pipeline: &pipeline,
        dir: &dir,
        entries: &entries,
        manifest: &manifest,
        published: published.as_ref(),
        advisory: advisory.as_ref(),
    };
    let announcement = record.render(kind, args.preview)?;

    if args.send {
        let spec = sending_spec(&pipeline)?;
        if kind == Kind::Pre {
            refuse_late_pre(&record)?;
        }
        let message = mail::message(spec, &announcement)?;
        if args.dry_run {
            let to = spec.to.iter().map(|m| m.to_string()).collect::<Vec<_>>();
            let sent = sent_before(&entries, kind);
            let head = match &sent {
                Some(e) => format!(
                    "dry run: the {} was sent at {} (Message-ID {}); a run would send nothing",
                    kind.name(),
                    e.at,
                    e.detail["message_id"].as_str().unwrap_or("?")
                ),
                None => format!(
                    "dry run: would send the {} through {} from {} to {}, Message-ID {}",
                    kind.name(),
                    spec.smtp.as_ref().map(mail::server).unwrap_or_default(),
                    spec.from,
                    to.join(", "),
                    announcement.message_id
                ),
            };
            let email = String::from_utf8_lossy(&message.formatted()).into_owned();
            if args.json {
                print_json(&serde_json::json!({
                    "outcome": "dry-run",
                    "message": head,
                    "kind": kind,
                    "subject": announcement.subject,
                    "message_id": announcement.message_id,
                    "to": to,
                    "already_sent": sent.is_some(),
                    "email": email,
                }))?;
            } else {
                println!("{head}\n");
                print!("{email}");
            }
            return Ok(Exit::Done);
        }
        let _lock = crate::lock::lock(&dir, "announce")?;
        let mut journal = Journal::open(&dir)?;
        let outcome = send_once(
            &mut journal,
            spec,
            &announcement,
            &message,
            args.resend,
            &|line| eprintln!("{line}"),
        )?;
        let text = outcome.text(&announcement);
        if args.json {
            print_json(&serde_json::json!({
                "outcome": if outcome.sent_now { "sent" } else { "already-sent" },
                "message": text,
                "kind": kind,
                "subject": announcement.subject,
                "message_id": outcome.message_id,
                "sent_at": outcome.at,
                "reply": outcome.reply,
            }))?;
        } else {
            println!("{text}");
        }
        return Ok(Exit::Done);
    }

    let text = match args.format {
        AnnounceFormat::Markdown => announcement.markdown.clone(),
        AnnounceFormat::Email => {
            let spec = pipeline.announce.as_ref().ok_or_else(|| {
                Error::bad_input(format!(
                    "{}: --format email needs disclosure.announce (from, to) in the pipeline",
                    pipeline.file.display()
                ))
                .with_hint(
                    "add disclosure: {announce: {from: \"Security Team <security@example.org>\", to: [\"announce@example.org\"]}}",
                )
            })?;
            String::from_utf8_lossy(&mail::message(spec, &announcement)?.formatted()).into_owned()
        }
    };
    if let Some(file) = &args.output {
        std::fs::write(file, &text).map_err(|e| {
            Error::bad_input(format!("--output: cannot write {}: {e}", file.display()))
        })?;
    }
    if args.json {
        let mut value = serde_json::to_value(&announcement)
            .map_err(|e| Error::stage_failed(format!("cannot encode the announcement: {e}")))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("text".to_string(), text.into());
        }
        print_json(&value)?;
    } else {
        print!("{text}");
    }
    Ok(Exit::Done)
}

/// `publish`'s last step when `send_release_after_publish` is set: the release announcement,
/// sent once, right after the release was verified public. Progress goes to stderr, so that
/// `publish --json` keeps its output.
pub fn after_publish(pipeline: &Pipeline, dir: &Path) -> Result<(), Error> {
    let Some(spec) = pipeline
        .announce
        .as_ref()
        .filter(|a| a.send_release_after_publish)
    else {
        return Ok(());
    };
    let failed = |e: Error| {
        e.context("the release is public, but its announcement was not sent")
            .with_hint(format!(
                "send it with `embargo announce {} --release --send` (it is sent once, whoever sends it)",
                pipeline.file.display()
            ))
    };
    let advisory = load_advisory(pipeline).map_err(failed)?;
    let mut journal = Journal::open(dir)?;
    let entries = journal.entries().to_vec();
    let manifest = Manifest::read(dir)?;
    let published = published(&entries)?;
    let record = Record {
        pipeline,
        dir,
        entries: &entries,
        manifest: &manifest,
        published: published.as_ref(),
        advisory: advisory.as_ref(),
    };
    let announcement = record.render(Kind::Release, false).map_err(failed)?;
    // An earlier attempt broke off with the message maybe delivered: that takes a person (the
    // list's archive, then --resend), not a red scheduled job on every run.
    if let Some(at) = in_doubt(&entries, stage_of(Kind::Release), &announcement.message_id) {
        eprintln!(
            "note: sending the release announcement (Message-ID {}) broke off at {at} and it may have been delivered; look in the list's archive, and if it is not there: `embargo announce {} --release --send --resend`",
            announcement.message_id,
            pipeline.file.display()
        );
        return Ok(());
    }
    let message = mail::message(spec, &announcement).map_err(failed)?;
    let outcome = send_once(
        &mut journal,
        spec,
        &announcement,
        &message,
        false,
        &|line| eprintln!("{line}"),
    )
    .map_err(|e| {
        if in_doubt(
            journal.entries(),
            stage_of(Kind::Release),
            &announcement.message_id,
        )
        .is_some()
        {
            e.context("the release is public; its announcement may have been delivered")
                .with_hint(format!(
                    "look in the list's archive; if it is not there: `embargo announce {} --release --send --resend`",
                    pipeline.file.display()
                ))
        } else {
            failed(e)
        }
    })?;
    eprintln!("{}", outcome.text(&announcement));
    Ok(())
}

/// When sending `message_id` last broke off with the message maybe delivered: a start without an
/// end, or a failure after the session began.
fn in_doubt(entries: &[journal::Entry], stage: Stage, message_id: &str) -> Option<String> {
    let e = journal::last_of(entries, stage)
        .filter(|e| e.detail["message_id"].as_str() == Some(message_id))?;
    let doubt = e.event == Progress::Started
        || (e.event == Progress::Failed && e.detail["maybe_delivered"] == true);
    doubt.then(|| e.at.clone())
}

/// A message of the release in `dir`, rendered (the demo shows both).
pub fn render(
    pipeline: &Pipeline,
    dir: &Path,
    kind: Kind,
    preview: bool,
) -> Result<Announcement, Error> {
    let advisory = load_advisory(pipeline)?;
    let entries = journal::read(&dir.join("journal.jsonl"))?;
    let manifest = Manifest::read(dir)?;
    let published = published(&entries)?;
    Record {
        pipeline,
        dir,
        entries: &entries,
        manifest: &manifest,
        published: published.as_ref(),
        advisory: advisory.as_ref(),
    }
    .render(kind, preview)
}

fn load_advisory(pipeline: &Pipeline) -> Result<Option<Advisory>, Error> {
    pipeline
        .advisory
        .as_deref()
        .map(crate::advisory::load)
        .transpose()
}

fn published(entries: &[Entry]) -> Result<Option<Published>, Error> {
    journal::last_of(entries, Stage::Publish)
        .filter(|e| e.event == Progress::Completed)
        .map(|e| {
            serde_json::from_value(e.detail.clone()).map_err(|err| {
                Error::integrity(format!("the journal's publish record is damaged: {err}"))
            })
        })
        .transpose()
}

fn sending_spec(pipeline: &Pipeline) -> Result<&crate::pipeline::disclosure::AnnounceSpec, Error> {
    match &pipeline.announce {
        Some(spec) if spec.smtp.is_some() => Ok(spec),
        _ => Err(Error::bad_input(format!(
            "{}: --send needs disclosure.announce.smtp in the pipeline",
            pipeline.file.display()
        ))
        .with_hint(
            "add disclosure.announce with smtp (host, port, security, username_env, password_env), from and to",
        )),
    }
}

/// What the release recorded, read for the messages.
struct Record<'a> {
    pipeline: &'a Pipeline,
    dir: &'a Path,
    entries: &'a [Entry],
    manifest: &'a Manifest,
    published: Option<&'a Published>,
    advisory: Option<&'a Advisory>,
}

impl Record<'_> {
    fn instant(&self) -> Result<jiff::Timestamp, Error> {
        match crate::contract::recorded_instant(self.entries) {
            Some((Some(at), _)) => Ok(at),
            Some((None, _)) => Err(Error::bad_input(format!(
                "{} was staged without an embargo instant, so there is no date to announce",
                self.manifest.tag
            ))
            .with_hint(format!(
                "set it with `embargo reschedule {} --embargo \"YYYY-MM-DD HH:MM UTC\"`",
                self.pipeline.file.display()
            ))),
            // The instant recorded at staging is the one publish keeps: announcing any other
            // would promise users a date nobody holds to.
            None => Err(Error::bad_input(format!(
                "{} is not staged yet: the instant to announce is the one recorded at staging",
                self.manifest.tag
            ))
            .with_hint(format!(
                "run `embargo run {}` first",
                self.pipeline.file.display()
            ))),
        }
    }

    fn release(&self) -> Result<ReleaseFacts<'_>, Error> {
        let osv = std::fs::read_to_string(self.dir.join(crate::advisory::osv::FILE_NAME))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        let github = self.pipeline.github.as_ref().map(|g| {
            let api = std::env::var(crate::github::client::API_URL_ENV)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| g.api_url.clone());
            (g.repository.clone(), announce::web_url(&api))
        });
        Ok(ReleaseFacts {
            manifest: self.manifest,
            instant: self.instant()?,
            published: self.published,
            advisory: self.advisory,
            github,
            affected: announce::affected_lines(osv.as_ref(), self.manifest),
            pipeline: &self.pipeline.name,
        })
    }

    fn render(&self, kind: Kind, preview: bool) -> Result<Announcement, Error> {
        let release = self.release()?;
        let domain = mail::from_domain(self.pipeline.announce.as_ref());
        let id = announce::message_id(&release, kind, &domain);
        match kind {
            Kind::Pre => Ok(announce::render_pre(
                &PreFacts::from_release(&release),
                id,
            )),
            Kind::Release if self.published.is_none() && !preview => Err(Error::bad_input(
                format!(
                    "{} is not public yet (its embargo is at {}): the release announcement is only written once the release is published",
                    self.manifest.tag,
                    clock::display(release.instant)
                ),
            )
            .with_hint(format!(
                "publish it with `embargo publish {}`; to read the announcement before, add --preview (a preview is never sent)",
                self.pipeline.file.display()
            ))),
            Kind::Release => Ok(announce::render_release(
                &release,
                id,
                self.published.is_none(),
            )),
        }
    }
}

/// A pre-announcement announces a date: once the release is public or the date has passed,
/// sending it would only mislead.
fn refuse_late_pre(record: &Record<'_>) -> Result<(), Error> {
    let instant = record.instant()?;
    let file = record.pipeline.file.display();
    if record.published.is_some() {
        return Err(Error::bad_input(format!(
            "{} is already public: a pre-announcement is no longer sent",
            record.manifest.tag
        ))
        .with_hint(format!(
            "send the release announcement: `embargo announce {file} --release --send`"
        )));
    }
    if instant <= jiff::Timestamp::now() {
        return Err(Error::bad_input(format!(
            "the embargo of {} was at {}: a pre-announcement of a date that has passed is not sent",
            record.manifest.tag,
            clock::display(instant)
        ))
        .with_hint(format!(
            "publish it (`embargo publish {file}`), or move the date with `embargo reschedule` and announce the new one"
        )));
    }
    Ok(())
}

fn stage_of(kind: Kind) -> Stage {
    match kind {
        Kind::Pre => Stage::PreAnnounce,
        Kind::Release => Stage::Announce,
    }
}

fn sent_before(entries: &[Entry], kind: Kind) -> Option<&Entry> {
    journal::last_of(entries, stage_of(kind)).filter(|e| e.event == Progress::Completed)
}

struct Outcome {
    sent_now: bool,
    message_id: String,
    at: String,
    to: Vec<String>,
    reply: Option<String>,
}

impl Outcome {
    fn text(&self, a: &Announcement) -> String {
        if self.sent_now {
            format!(
                "sent the {} to {} (Message-ID {}); the server said: {}",
                a.kind.name(),
                self.to.join(", "),
                self.message_id,
                self.reply.as_deref().unwrap_or("")
            )
        } else {
            format!(
                "the {} was already sent at {} to {} (Message-ID {}); nothing was sent",
                a.kind.name(),
                self.at,
                self.to.join(", "),
                self.message_id
            )
        }
    }
}

/// Sends the message unless the journal says it was sent: the Message-ID is journaled before
/// the attempt and with the server's reply after it, so a rerun never sends twice.
fn send_once(
    journal: &mut Journal,
    spec: &crate::pipeline::disclosure::AnnounceSpec,
    a: &Announcement,
    message: &lettre::Message,
    resend: bool,
    say: &dyn Fn(&str),
) -> Result<Outcome, Error> {
    let stage = stage_of(a.kind);
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    // Only this very message counts: a pre-announcement of an instant moved since is another.
    if let Some(e) = journal::last_of(journal.entries(), stage)
        .filter(|e| e.detail["message_id"].as_str() == Some(a.message_id.as_str()))
    {
        match e.event {
            Progress::Completed => {
                return Ok(Outcome {
                    sent_now: false,
                    message_id: e.detail["message_id"].as_str().unwrap_or("?").to_string(),
                    at: e.at.clone(),
                    to: strings(&e.detail["to"]),
                    reply: e.detail["reply"].as_str().map(str::to_string),
                });
            }
            // Started and never finished: the process died while the server had the message,
            // and only the list's archive can tell whether it went out. The same when the
            // connection broke midway.
            Progress::Started if !resend => {
                return Err(Error::bad_input(format!(
                    "sending the {} (Message-ID {}) started at {} and did not finish: it may have been delivered",
                    a.kind.name(),
                    e.detail["message_id"].as_str().unwrap_or("?"),
                    e.at
                ))
                .with_hint(
                    "look for it in the list's archive; if it is not there, send it with --send --resend",
                ));
            }
            Progress::Failed if !resend && e.detail["maybe_delivered"] == true => {
                return Err(Error::bad_input(format!(
                    "sending the {} (Message-ID {}) broke off at {} after the server had the session: it may have been delivered",
                    a.kind.name(),
                    e.detail["message_id"].as_str().unwrap_or("?"),
                    e.at
                ))
                .with_hint(
                    "look for it in the list's archive; if it is not there, send it with --send --resend",
                ));
            }
            _ => {}
        }
    }
    let smtp = spec
        .smtp
        .as_ref()
        .ok_or_else(|| Error::bad_input("disclosure.announce.smtp is not set"))?;
    let to: Vec<String> = spec.to.iter().map(|m| m.to_string()).collect();
    let detail = serde_json::json!({
        "message_id": a.message_id,
        "subject": a.subject,
        "to": to,
        "server": mail::server(smtp),
    });
    journal.record(stage, Progress::Started, detail.clone(), None)?;
    crate::failpoint::hit("announce:before-send");
    match mail::send(smtp, message, |attempt, why| {
        say(&format!(
            "the SMTP server refused attempt {attempt} of {}: {why}; trying again",
            mail::ATTEMPTS
        ))
    }) {
        Ok(delivery) => {
            let mut done = detail;
            done["reply"] = delivery.reply.clone().into();
            done["attempts"] = delivery.attempts.into();
            journal.record(stage, Progress::Completed, done, None)?;
            Ok(Outcome {
                sent_now: true,
                message_id: a.message_id.clone(),
                at: journal::now(),
                to,
                reply: Some(delivery.reply),
            })
        }
        Err(failure) => {
            let mut detail = detail;
            if failure.maybe_delivered {
                detail["maybe_delivered"] = true.into();
            }
            journal.record(
                stage,
                Progress::Failed,
                detail,
                Some(failure.error.message.clone()),
            )?;
            Err(failure.error)
        }
    }
}
