//! `bwv ingest --watch DIR`: for docks that copy files to a share. A file is taken once its size
//! and modification time have stopped changing for the settle time; after its catalogue commit it
//! moves to `DIR/.ingested/`. A file that fails stays where it is with a `.error` note beside it,
//! and is tried again only when it changes or the note is removed.
//!
//! The folder is polled rather than watched with inotify: docks write to network shares (SMB,
//! NFS), where change notifications are unreliable or absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::files::{self, Found};
use super::{IngestOutcome, IngestRequest, Ingestor};
use crate::audit::record::Actor;
use crate::domain::Source;
use crate::error::{Error, Result, ResultExt};
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
    ingestor: &Ingestor<'_>,
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
    tokio::pin!(shutdown);
    loop {
        let mut ready = Vec::new();
        let mut present = Vec::new();
        for found in files::collect(std::slice::from_ref(&opts.dir)) {
            let Found::File(path) = found else { continue };
            if path.to_string_lossy().ends_with(ERROR_SUFFIX) || has_current_error_note(&path) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let (len, mtime) = (
                meta.len(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            );
            present.push(path.clone());
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

        for path in ready {
            seen.remove(&path);
            match take(ingestor, opts, &actor, &path).await {
                Ok((moved_to, outcome)) => report(WatchEvent::Ingested {
                    path,
                    moved_to,
                    outcome,
                }),
                Err(error) => {
                    let note = error_note_path(&path);
                    let text = format!("{}\n{error}\n", chrono::Utc::now().to_rfc3339());
                    if let Err(e) = std::fs::write(&note, text) {
                        tracing::error!(note = %note.display(), error = %e, "cannot write error note");
                    }
                    report(WatchEvent::Failed { path, error });
                }
            }
        }

        if let Err(e) = ingestor.audit.checkpoint_if_due(ingestor.catalogue).await {
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
    ingestor: &Ingestor<'_>,
    opts: &WatchOptions,
    actor: &Actor,
    path: &Path,
) -> Result<(PathBuf, IngestOutcome)> {
    let (file, _, mtime) = files::open(path)?;
    let req = IngestRequest {
        officer: opts.officer.clone(),
        device: opts.device.clone(),
        recorded_at: mtime,
        recorded_at_source: "file-mtime",
        category: opts.category.clone(),
        source: Source::Watch,
        source_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        actor: actor.clone(),
    };
    let outcome = ingestor
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
