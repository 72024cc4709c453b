//! Stage 6, its GitHub half: the release as a **draft** (invisible to the public), with every
//! artifact and the checksums file uploaded to it, streamed from the state folder's `dist/`.
//!
//! Safe to run again at any point: the draft is found by its tag before one is created, and an
//! asset already there is kept only if its bytes are the built bytes (GitHub's digest, or a
//! download hashed here); a half-uploaded (`starter`) or different one is replaced while the
//! release is a draft.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Built, Context, Prepared};
use crate::actions::Action;
use crate::error::Error;
use crate::github::at_once;
use crate::github::client::Client;
use crate::github::releases::{self, Asset, DraftSpec, Release, UploadError, Uploaded};
use crate::pipeline::GitHubSpec;
use crate::report::{Event, Reporter};

/// An asset as staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedAsset {
    pub name: String,
    pub id: u64,
    pub size: u64,
    pub sha256: String,
}

/// The draft release as staged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    pub release_id: u64,
    pub html_url: String,
    pub make_latest: bool,
    pub assets: Vec<StagedAsset>,
    /// The release's name and the SHA-256 of its body as created, for the read-back at the
    /// instant (empty in journals written before they were recorded).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub body_sha256: String,
    /// The tag and the prerelease flag it was created with: publishing a draft retargeted to
    /// another tag would make GitHub create that tag (empty and `None` in older journals).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prerelease: Option<bool>,
}

/// The mark at the end of the notes that makes a draft this release's own: a random value kept
/// in the state folder (`draft.mark`), written before the draft is created, so that a rerun after
/// a crash finds its own draft and never adopts one somebody else made for the tag.
pub(crate) fn ownership_mark(state_dir: &Path) -> Result<String, Error> {
    let path = state_dir.join("draft.mark");
    if let Ok(text) = std::fs::read_to_string(&path)
        && text.trim().len() == 32
    {
        return Ok(text.trim().to_string());
    }
    let mut bytes = [0u8; 16];
    let fail =
        |e: std::io::Error| Error::stage_failed(format!("cannot write {}: {e}", path.display()));
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(fail)?,
        &mut bytes,
    )
    .map_err(fail)?;
    let mark: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::File::create(&path).map_err(fail)?;
    std::io::Write::write_all(&mut file, mark.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    Ok(mark)
}

pub fn sha256_text(text: &str) -> String {
    crate::checksum::sha256_bytes(text.as_bytes())
}

/// A file to publish: an artifact or the checksums file, from `dist/`.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

pub fn uploads(dist: &Path, built: &Built) -> Vec<Upload> {
    let mut files: Vec<Upload> = built
        .artifacts
        .iter()
        .map(|a| Upload {
            name: a.name.clone(),
            path: dist.join(&a.name),
            size: a.size,
            sha256: a.sha256.clone(),
        })
        .collect();
    let sums = dist.join(&built.checksums_file);
    files.push(Upload {
        name: built.checksums_file.clone(),
        size: std::fs::metadata(&sums).map(|m| m.len()).unwrap_or(0),
        path: sums,
        sha256: built.checksums_sha256.clone(),
    });
    files
}

/// Every file the release carries: the artifacts, the advisory's OSV record (`osv`, kept in the
/// state folder itself, not in `dist/`) when the release has one, and the checksums file last.
pub fn release_files(
    state_dir: &Path,
    built: &Built,
    osv: Option<&crate::journal::Artifact>,
) -> Vec<Upload> {
    let mut files = uploads(&state_dir.join("dist"), built);
    if let Some(osv) = osv {
        files.insert(
            files.len().saturating_sub(1),
            Upload {
                name: osv.name.clone(),
                path: state_dir.join(crate::advisory::osv::FILE_NAME),
                size: osv.size,
                sha256: osv.sha256.clone(),
            },
        );
    }
    files
}

/// The release notes: `notes_file` (a path in the clone), or a short default naming the fix.
fn notes(ctx: &Context<'_>, spec: &GitHubSpec, prepared: &Prepared) -> Result<String, Error> {
    match &spec.notes_file {
        Some(template) => {
            let rel = template.expand(|v| ctx.plan.value(v, Some(&prepared.release_commit)));
            let path = ctx.clone_dir.join(&rel);
            std::fs::read_to_string(&path).map_err(|e| {
                Error::bad_input(format!(
                    "publish.github.notes_file: cannot read {}: {e}",
                    path.display()
                ))
                .with_hint("write the release notes there (the path is relative to the clone), or remove notes_file")
            })
        }
        None => Ok(format!(
            "Security patch release {} of line {}.\n\nFixes:\n{}",
            ctx.plan.version,
            ctx.plan.line,
            prepared
                .fix_commits
                .iter()
                .map(|c| format!("- {}\n", c.subject))
                .collect::<String>()
        )),
    }
}

/// Whether the bytes GitHub holds are `want`: GitHub's digest when it has one, else a download.
pub fn asset_matches(client: &Client, asset: &Asset, want: &Upload) -> Result<bool, Error> {
    if asset.state != "uploaded" || asset.size != want.size {
        return Ok(false);
    }
    match asset.sha256() {
        Some(sha) => Ok(sha == want.sha256),
        None => Ok(releases::download_sha256(client, asset.id)?.1 == want.sha256),
    }
}

/// Executes staging's GitHub actions: the draft release, then every upload, each exactly as the
/// action value says (what the dry run printed).
pub fn run(
    ctx: &Context<'_>,
    spec: &GitHubSpec,
    prepared: &Prepared,
    actions: &[&Action],
) -> Result<Draft, Error> {
    let client = Client::new(spec)?;
    let Some(Action::CreateDraft {
        tag,
        name,
        prerelease,
        make_latest,
        ..
    }) = actions.first()
    else {
        return Err(Error::stage_failed(
            "staging has GitHub actions but no draft release to create first",
        ));
    };
    let files: Vec<Upload> = actions[1..]
        .iter()
        .map(|action| match action {
            Action::Upload { name, size, sha256 } => Ok(Upload {
                name: name.clone(),
                path: match ctx.osv {
                    Some(osv) if osv.name == *name => {
                        ctx.state_dir().join(crate::advisory::osv::FILE_NAME)
                    }
                    _ => ctx.dist_dir().join(name),
                },
                size: *size,
                sha256: sha256.clone(),
            }),
            other => Err(Error::stage_failed(format!(
                "not an upload: {}",
                other.lines().join(" ")
            ))),
        })
        .collect::<Result<_, _>>()?;
    let body = format!(
        "{}\n\n<!-- embargo: {} -->\n",
        notes(ctx, spec, prepared)?.trim_end(),
        ownership_mark(ctx.state_dir())?
    );
    // Kept before the draft is made, so that a draft someone changed can be put back exactly
    // as staged (`publish --restore-draft`).
    let kept = ctx.state_dir().join(NOTES_FILE);
    std::fs::write(&kept, &body)
        .map_err(|e| Error::stage_failed(format!("cannot write {}: {e}", kept.display())))?;
    let release = releases::find_or_create_draft(
        &client,
        &DraftSpec {
            tag,
            name,
            body: &body,
            prerelease: *prerelease,
            make_latest: *make_latest,
        },
    )?;
    if !release.draft {
        return Err(Error::integrity(format!(
            "a published release for {} already exists on GitHub ({}): the fix is public before the embargo",
            tag, release.html_url
        ))
        .with_hint("this needs a person: find out who published it"));
    }
    crate::failpoint::hit("stage:after-draft-created");
    ctx.reporter.emit(Event::Note(&format!(
        "draft release {} (id {}) on {}",
        tag, release.id, client.repository
    )));
    let assets = upload_all(&client, &release, &files, true, ctx.reporter)?;
    Ok(Draft {
        release_id: release.id,
        html_url: release.html_url,
        make_latest: *make_latest,
        assets,
        name: name.clone(),
        body_sha256: sha256_text(&body),
        tag: tag.clone(),
        prerelease: Some(*prerelease),
    })
}

/// The draft's notes as staged, in the state folder.
pub const NOTES_FILE: &str = "draft.notes.md";

/// Puts a draft someone changed back exactly as staged: its tag, name, notes (as kept in the
/// state folder when it was made) and prerelease flag, and exactly the built files as assets
/// (others deleted, changed ones uploaded again). A published release is never changed.
pub fn restore(
    client: &Client,
    state_dir: &Path,
    tag: &str,
    draft: &Draft,
    files: &[Upload],
    reporter: &dyn Reporter,
) -> Result<(), Error> {
    let release = releases::find(client, draft.release_id)?.ok_or_else(|| {
        Error::bad_input(format!(
            "the draft release {} is gone from GitHub: there is nothing to put back",
            draft.html_url
        ))
        .with_hint("before the embargo, `embargo abort` and `embargo run` stage the release again")
    })?;
    if !release.draft {
        return Err(Error::bad_input(format!(
            "the release {} is published: it is not changed",
            release.html_url
        ))
        .with_hint("embargo never changes a published release: if it is not as staged, correct it on GitHub by hand (its notes as staged are in the state folder's draft.notes.md), then run `embargo publish --if-due` without --restore-draft"));
    }
    let path = state_dir.join(NOTES_FILE);
    let body = std::fs::read_to_string(&path).map_err(|e| {
        Error::bad_input(format!(
            "cannot read the notes {tag} was staged with ({}): {e}",
            path.display()
        ))
        .with_hint("a state folder staged by an older embargo did not keep them: put the notes back by hand")
    })?;
    if !draft.body_sha256.is_empty() && sha256_text(&body) != draft.body_sha256 {
        return Err(Error::integrity(format!(
            "{} is not the notes {tag} was staged with (its SHA-256 differs from the journal's)",
            path.display()
        ))
        .with_hint("the state folder was changed since staging: take the file from an earlier copy of the state folder (the CI job's artifact), or correct the draft on GitHub by hand; nothing was changed on GitHub"));
    }
    releases::restore_draft(
        client,
        release.id,
        &DraftSpec {
            tag: if draft.tag.is_empty() {
                tag
            } else {
                &draft.tag
            },
            name: &draft.name,
            body: &body,
            prerelease: draft.prerelease.unwrap_or(release.prerelease),
            make_latest: draft.make_latest,
        },
    )?;
    for asset in releases::list_assets(client, release.id)? {
        if !files.iter().any(|f| f.name == asset.name) {
            releases::delete_asset(client, asset.id)?;
            reporter.emit(Event::Note(&format!(
                "deleted {} from the draft: it was not staged",
                asset.name
            )));
        }
    }
    upload_all(client, &release, files, true, reporter)?;
    reporter.emit(Event::Note(&format!(
        "the draft release {} is back as staged",
        draft.html_url
    )));
    Ok(())
}

/// Makes the release hold exactly `files` (by name and bytes), uploading what is missing.
/// `replace` allows replacing an asset whose bytes differ (only while the release is a draft).
pub fn upload_all(
    client: &Client,
    release: &Release,
    files: &[Upload],
    replace: bool,
    reporter: &dyn Reporter,
) -> Result<Vec<StagedAsset>, Error> {
    let existing = releases::list_assets(client, release.id)?;
    // A few at a time: each asset is its own request (and, without GitHub's digest, its own
    // download), so many small assets would otherwise cost a round trip each, one after another.
    at_once::each(files, at_once::TRANSFERS_AT_ONCE, |file| {
        if let Some(asset) = existing.iter().find(|a| a.name == file.name) {
            if asset_matches(client, asset, file)? {
                reporter.emit(Event::Note(&format!(
                    "{} is already on the draft, same bytes",
                    file.name
                )));
                return Ok(staged_asset(asset.id, file));
            }
            if asset.state == "uploaded" && !replace {
                return Err(mismatch(release, file));
            }
            // Half-uploaded, or other bytes on a draft: replace it.
            releases::delete_asset(client, asset.id)?;
        }
        let asset = upload_one(client, release, file, reporter)?;
        crate::failpoint::hit(&format!("upload:after:{}", file.name));
        Ok(staged_asset(asset.id, file))
    })
}

fn staged_asset(id: u64, file: &Upload) -> StagedAsset {
    StagedAsset {
        name: file.name.clone(),
        id,
        size: file.size,
        sha256: file.sha256.clone(),
    }
}

fn mismatch(release: &Release, file: &Upload) -> Error {
    Error::integrity(format!(
        "the asset {} on the release {} does not hold the built bytes (sha256 {})",
        file.name, release.tag_name, file.sha256
    ))
    .with_hint("someone replaced it; it cannot be replaced on a published release: investigate before anything else")
}

fn upload_one(
    client: &Client,
    release: &Release,
    file: &Upload,
    reporter: &dyn Reporter,
) -> Result<Asset, Error> {
    let progress = releases::Progress::default();
    reporter.emit(Event::TransferStarted {
        name: &file.name,
        total: file.size,
    });
    let started = Instant::now();
    // The progress reporter ticks every 100 ms and stops the moment the upload ends (the
    // channel closes), so a small asset costs its transfer and nothing more.
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let result = std::thread::scope(|scope| {
        let progress = &progress;
        scope.spawn(move || {
            loop {
                reporter.emit(Event::TransferProgress {
                    name: &file.name,
                    done: progress.load(Ordering::Relaxed),
                });
                match stopped.recv_timeout(Duration::from_millis(100)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
        });
        let result = releases::upload(client, release, &file.path, &file.name, file.size, progress);
        drop(stop);
        result
    });
    match result {
        Ok(Uploaded { asset, sent_sha256 }) => {
            reporter.emit(Event::TransferFinished {
                name: &file.name,
                total: file.size,
                elapsed: started.elapsed(),
            });
            // What was sent was hashed on its way: a file changed in `dist/` since the build (and
            // its checksum) is caught here, without reading it again.
            if let Some(sent) = &sent_sha256
                && *sent != file.sha256
            {
                return Err(Error::integrity(format!(
                    "{} is not the built file any more: the bytes uploaded hash to {sent}, {} was built",
                    file.path.display(),
                    file.sha256
                ))
                .with_hint("something changed the state folder's dist/ after the build: find out what, then build again"));
            }
            match asset.sha256() {
                Some(sha) if sha != file.sha256 => return Err(mismatch(release, file)),
                Some(_) => {}
                // No digest from GitHub: what the upload sent is proven above; an asset that an
                // earlier attempt turned out to have made is read back once.
                None if sent_sha256.is_none() && !asset_matches(client, &asset, file)? => {
                    return Err(mismatch(release, file));
                }
                None => {}
            }
            Ok(asset)
        }
        Err(UploadError::AlreadyExists) => {
            // Someone (or an earlier attempt) uploaded it meanwhile: it must be the same bytes.
            let assets = releases::list_assets(client, release.id)?;
            match assets.iter().find(|a| a.name == file.name) {
                Some(a) if asset_matches(client, a, file)? => Ok(a.clone()),
                _ => Err(mismatch(release, file)),
            }
        }
        Err(UploadError::Other(e)) => Err(e.context(format!("uploading {}", file.name))),
    }
}
