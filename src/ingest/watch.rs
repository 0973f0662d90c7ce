//! `bwv ingest --watch DIR`: for docks that copy files to a share. A file is taken once its size
//! and modification time have stopped changing for the settle time; after its catalogue commit it
//! moves to `DIR/.ingested/`. A file that fails stays where it is with a `.error` note beside it.
//! Bad input is tried again only when the file changes or the note is removed; a failure on our
//! side (catalogue or store unreachable, disk full) is retried after a pause.
//!
//! The folder is polled rather than watched with inotify: docks write to network shares (SMB,
//! NFS), where change notifications are unreliable or absent.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::files::{self, Found};
use super::{IngestOutcome, IngestRequest};
use crate::audit::record::Actor;
use crate::context::Context;
use crate::domain::Source;
use crate::error::{Code, Error, Result, ResultExt};
use crate::store::{Input, Progress};

pub const INGESTED_DIR: &str = ".ingested";
pub const ERROR_SUFFIX: &str = ".error";

pub struct WatchOptions {
    pub dir: PathBuf,
    pub officer: String,
    pub device: String,
    pub category: Option<String>,
    pub settle: Duration,
    pub poll: Duration,
    /// How long a file that failed through no fault of its own waits before another attempt.
    pub retry: Duration,
}

/// What happened to one file, for the caller to report.
pub enum WatchEvent {
    Ingested {
        path: PathBuf,
        moved_to: PathBuf,
        outcome: IngestOutcome,
    },
    Failed {
        path: PathBuf,
        error: Error,
    },
}

struct Seen {
    len: u64,
    mtime: SystemTime,
    since: Instant,
}

pub async fn run(
    ctx: &Context<'_>,
    opts: &WatchOptions,
    actor: Actor,
    shutdown: impl std::future::Future<Output = ()>,
    mut report: impl FnMut(WatchEvent),
) -> Result<()> {
    if !opts.dir.is_dir() {
        return Err(Error::bad_input(format!(
            "{} is not a directory",
            opts.dir.display()
        )));
    }
    let done_dir = opts.dir.join(INGESTED_DIR);
    std::fs::create_dir_all(&done_dir).context(|| format!("creating {}", done_dir.display()))?;
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    // Files whose last attempt failed for a reason of ours (catalogue or store down, disk full),
    // and when to try them again despite their error note.
    let mut retry_at: HashMap<PathBuf, Instant> = HashMap::new();
    tokio::pin!(shutdown);
    loop {
        let mut ready = Vec::new();
        let mut present = HashSet::new();
        for found in files::collect(std::slice::from_ref(&opts.dir)) {
            let Found::File(path) = found else { continue };
            if path.to_string_lossy().ends_with(ERROR_SUFFIX) {
                continue;
            }
            let retry_due = retry_at.get(&path).is_some_and(|t| Instant::now() >= *t);
            if has_current_error_note(&path) && !retry_due {
                present.insert(path);
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let (len, mtime) = (
                meta.len(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            );
            present.insert(path.clone());
            match seen.get_mut(&path) {
                Some(s) if s.len == len && s.mtime == mtime => {
                    if s.since.elapsed() >= opts.settle {
                        ready.push(path);
                    }
                }
                _ => {
                    seen.insert(
                        path,
                        Seen {
                            len,
                            mtime,
                            since: Instant::now(),
                        },
                    );
                }
            }
        }
        seen.retain(|p, _| present.contains(p));
        retry_at.retain(|p, _| present.contains(p));

        for path in ready {
            seen.remove(&path);
            let note = error_note_path(&path);
            match take(ctx, opts, &actor, &path).await {
                Ok((moved_to, outcome)) => {
                    retry_at.remove(&path);
                    if note.exists() {
                        let _ = std::fs::remove_file(&note);
                    }
                    report(WatchEvent::Ingested {
                        path,
                        moved_to,
                        outcome,
                    })
                }
                Err(error) => {
                    // Bad input stays put until the file changes or the note is removed; trouble
                    // on our side is retried, because the file itself may be fine.
                    let retry = error.code() != Code::BadInput;
                    let mut text = format!("{}\n{error}\n", chrono::Utc::now().to_rfc3339());
                    if retry {
                        retry_at.insert(path.clone(), Instant::now() + opts.retry);
                        text.push_str(&format!("will retry in {} s\n", opts.retry.as_secs()));
                    }
                    if let Err(e) = std::fs::write(&note, text) {
                        tracing::error!(note = %note.display(), error = %e, "cannot write error note");
                    }
                    report(WatchEvent::Failed { path, error });
                }
            }
        }

        if let Err(e) = ctx.audit.checkpoint_if_due(ctx.catalogue).await {
            tracing::error!(error = %e, "cannot sign checkpoint");
        }
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(opts.poll) => {}
        }
    }
}

fn error_note_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(ERROR_SUFFIX);
    PathBuf::from(name)
}

/// A note newer than the file means the file has not changed since it failed.
fn has_current_error_note(path: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(&error_note_path(path)), modified(path)) {
        (Some(note), Some(file)) => note >= file,
        _ => false,
    }
}

async fn take(
    ctx: &Context<'_>,
    opts: &WatchOptions,
    actor: &Actor,
    path: &Path,
) -> Result<(PathBuf, IngestOutcome)> {
    let (file, _, mtime) = files::open(path)?;
    let req = IngestRequest {
        recorded_at: mtime,
        recorded_at_source: crate::domain::TimeSource::FileMtime,
        category: opts.category.clone(),
        source_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        ..IngestRequest::new(&opts.officer, &opts.device, Source::Watch, actor.clone())
    };
    let outcome = ctx
        .ingest(&req, Input::File(file), Progress::default())
        .await?;
    let moved_to = move_done(&opts.dir, path)?;
    Ok((moved_to, outcome))
}

/// Moves a committed file under `.ingested/`, keeping its relative path and never replacing an
/// earlier file of the same name.
fn move_done(dir: &Path, path: &Path) -> Result<PathBuf> {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    let base = dir.join(INGESTED_DIR).join(rel);
    let parent = base.parent().unwrap_or(dir).to_owned();
    std::fs::create_dir_all(&parent).context(|| format!("creating {}", parent.display()))?;
    let mut dest = base.clone();
    let mut n = 1;
    while dest.exists() {
        let mut name = base.as_os_str().to_owned();
        name.push(format!(".{n}"));
        dest = PathBuf::from(name);
        n += 1;
    }
    std::fs::rename(path, &dest)
        .context(|| format!("moving {} to {}", path.display(), dest.display()))?;
    std::fs::File::open(&parent)
        .and_then(|d| d.sync_all())
        .context(|| format!("syncing {}", parent.display()))?;
    Ok(dest)
}
