//! The media job for one clip: probe it, and for a playable clip make the disclosure copy, the
//! poster and the thumbnail strip; store each like an original (hashed, content-addressed,
//! write-once), link it to its source and record in the audit chain how it was made. A clip
//! FFmpeg cannot play is flagged `unplayable` with the reason; that is an answer, not a failure,
//! so the job succeeds and is not retried.
//!
//! Idempotent: a retried job skips a clip already playable and keeps derivatives already linked;
//! a clip judged unplayable is looked at again (a retry by hand after an FFmpeg upgrade may
//! change the verdict).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::{JobError, media_clip};
use crate::app::App;
use crate::audit::record::{Actor, EventDraft, ObjectRef};
use crate::catalogue::{ClipMedia, JobRow, NewDerivative};
use crate::domain::{DerivativeKind, Sha256Digest};
use crate::domain::{JobStatus, MediaState, RecordingStatus, RetentionState};
use crate::error::{Code, Error, Result, ResultExt};
use crate::media::{self, Cancel, MediaError, Plan, Probe, transcode};
use crate::store::{Input, PutOptions};

/// What the blocking part made, in scratch files.
enum Made {
    Unplayable {
        probe: Option<Probe>,
        reason: String,
    },
    Playable {
        probe: Probe,
        plan: Plan,
        outputs: Vec<Output>,
    },
}

struct Output {
    kind: DerivativeKind,
    media_type: &'static str,
    path: PathBuf,
    params: serde_json::Value,
}

fn worker_actor() -> Actor {
    Actor::service("media-worker")
}

pub async fn run(
    app: &App,
    job: &JobRow,
    owner: &str,
    cancel: Cancel,
) -> std::result::Result<(), JobError> {
    let clip_id = media_clip(&job.payload.0).map_err(JobError::Abort)?;
    let Some(clip) = app.catalogue.clip_media(clip_id).await? else {
        return Err(JobError::Abort(Error::not_found(format!(
            "clip {clip_id} is not in the catalogue"
        ))));
    };
    if clip.media_state == MediaState::Playable {
        return Ok(()); // made by an earlier attempt that lost its lease at the very end
    }
    if clip.purging || clip.retention_state == RetentionState::Purged {
        return Ok(()); // the footage is being destroyed: nothing to make copies of
    }
    let sha: Sha256Digest = clip.sha256.parse().map_err(JobError::Abort)?;
    remove_earlier_attempts(app, job);
    // A directory of this attempt's own: an attempt that lost its lease may still be writing
    // in another one.
    let scratch = scratch_root(app).join(format!(
        "{}-{}-{}",
        job.id,
        job.attempts,
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    std::fs::create_dir_all(&scratch)
        .context(|| format!("creating scratch directory {}", scratch.display()))?;
    let result = process(app, &clip, &sha, &scratch, (job.id, owner), cancel).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn scratch_root(app: &App) -> PathBuf {
    app.config.data_dir.join("work")
}

/// Earlier attempts of a job we now hold are over (their leases were taken back, and one that
/// lost its lease can no longer record anything): their scratch directories, left by a worker
/// that crashed, go.
fn remove_earlier_attempts(app: &App, job: &JobRow) {
    let Ok(entries) = std::fs::read_dir(scratch_root(app)) else {
        return;
    };
    let prefix = format!("{}-", job.id);
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes scratch directories of attempts that are over (their worker crashed or was killed):
/// with S3 each holds a full copy of an original.
pub async fn sweep_scratch(app: &App) {
    let Ok(entries) = std::fs::read_dir(scratch_root(app)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let live = match name.get(..36).and_then(|id| id.parse::<uuid::Uuid>().ok()) {
            Some(id) => {
                matches!(app.catalogue.job(id).await, Ok(Some(j)) if j.status == JobStatus::Running)
            }
            None => false,
        };
        if !live {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

async fn process(
    app: &App,
    clip: &ClipMedia,
    sha: &Sha256Digest,
    scratch: &Path,
    lease: (uuid::Uuid, &str),
    cancel: Cancel,
) -> std::result::Result<(), JobError> {
    let made = if clip.size == 0 {
        Made::Unplayable {
            probe: None,
            reason: "zero-length".into(),
        }
    } else {
        let original = app.store.fetch(sha, scratch).await?;
        let (src, dir) = (original.path.clone(), scratch.to_owned());
        let settings = transcode::Settings {
            preset: app.config.worker.x264_preset.clone(),
            crf: app.config.worker.x264_crf,
            ..Default::default()
        };
        let made = tokio::task::spawn_blocking(move || make(&src, &dir, &settings, &cancel))
            .await
            .map_err(|e| {
                JobError::Retry(Error::new(Code::Io, format!("media task failed: {e}")))
            })?;
        drop(original);
        match made {
            Ok(made) => made,
            Err(MediaError::Cancelled) => return Err(JobError::Cancelled),
            Err(MediaError::Failed(m)) => {
                return Err(JobError::Retry(Error::new(
                    Code::Io,
                    format!("clip {} of recording {}: {m}", clip.seq, clip.recording_id),
                )));
            }
            Err(MediaError::Unplayable(reason)) => Made::Unplayable {
                probe: None,
                reason,
            },
        }
    };
    match record(app, clip, sha, made, Some(lease)).await {
        Ok(true) => Ok(()),
        // Lost the lease (the attempt that has it decides), or the footage is being purged.
        Ok(false) => Err(JobError::Cancelled),
        Err(e) => Err(JobError::Retry(e)),
    }
}

/// The blocking part: probe, then copy or transcode, then stills. A verdict of unplayable at
/// any step keeps the probe if there was one.
fn make(
    src: &Path,
    dir: &Path,
    settings: &transcode::Settings,
    cancel: &Cancel,
) -> media::MediaResult<Made> {
    let probe = media::probe(src, cancel)?;
    let unplayable = |probe: &Probe, reason: String| Made::Unplayable {
        probe: Some(probe.clone()),
        reason,
    };
    if probe.video.is_none() {
        return Ok(unplayable(&probe, "no video stream".into()));
    }
    let plan = media::plan(&probe);
    let disclosure = dir.join("disclosure.mp4");
    let copied = match plan {
        Plan::Remux => media::remux::remux(src, &disclosure, &probe, cancel),
        Plan::Transcode => transcode::transcode(src, &disclosure, &probe, settings, cancel),
    };
    let params = match copied {
        Ok(p) => p,
        Err(MediaError::Unplayable(reason)) => return Ok(unplayable(&probe, reason)),
        Err(e) => return Err(e),
    };
    let mut outputs = vec![Output {
        kind: DerivativeKind::Disclosure,
        media_type: "video/mp4",
        path: disclosure,
        params,
    }];
    for (kind, file, cut) in [
        (
            DerivativeKind::Poster,
            "poster.jpg",
            media::stills::poster as StillFn,
        ),
        (
            DerivativeKind::Thumbstrip,
            "thumbstrip.jpg",
            media::stills::strip as StillFn,
        ),
    ] {
        let path = dir.join(file);
        match cut(src, &path, &probe, cancel) {
            Ok(still) => outputs.push(Output {
                kind,
                media_type: "image/jpeg",
                path,
                params: still.params,
            }),
            Err(MediaError::Unplayable(reason)) => return Ok(unplayable(&probe, reason)),
            Err(e) => return Err(e),
        }
    }
    Ok(Made::Playable {
        probe,
        plan,
        outputs,
    })
}

type StillFn = fn(&Path, &Path, &Probe, &Cancel) -> media::MediaResult<media::stills::Still>;

/// Stores the outputs and records everything in one transaction with its audit record, if this
/// attempt still holds the job's lease (`Ok(false)` when it does not: nothing is recorded).
async fn record(
    app: &App,
    clip: &ClipMedia,
    sha: &Sha256Digest,
    made: Made,
    lease: Option<(uuid::Uuid, &str)>,
) -> Result<bool> {
    let versions = media::tool_versions();
    let mut derivatives = Vec::new();
    let (probe, state, reason, plan) = match &made {
        Made::Unplayable { probe, reason } => (
            probe.as_ref(),
            MediaState::Unplayable,
            Some(reason.as_str()),
            None,
        ),
        Made::Playable {
            probe,
            plan,
            outputs,
        } => {
            let opts = PutOptions {
                retain_until: app.context().put_options().retain_until,
                ..PutOptions::default()
            };
            for out in outputs {
                let file = std::fs::File::open(&out.path)
                    .context(|| format!("opening {}", out.path.display()))?;
                let put = app.store.put(Input::File(file), &opts).await.map_err(|e| {
                    e.context(format!(
                        "storing the {} of clip {} of recording {}",
                        out.kind, clip.seq, clip.recording_id
                    ))
                })?;
                derivatives.push(NewDerivative {
                    clip_id: clip.id,
                    source_sha256: *sha,
                    sha256: put.sha256,
                    size: put.size,
                    kind: out.kind,
                    media_type: out.media_type,
                    params: json!({"tool": versions, "parameters": out.params}),
                });
            }
            (Some(probe), MediaState::Playable, None, Some(*plan))
        }
    };
    let probe_json = probe.map(|p| serde_json::to_value(p).unwrap_or_default());

    let mut tx = app.catalogue.begin().await?;
    if let Some((job, owner)) = lease
        && !tx.still_leased(job, owner).await?
    {
        return Ok(false);
    }
    tx.lock_recording(clip.recording_id).await?;
    if tx.ensure_not_purged(clip.recording_id).await.is_err() {
        // Its purge began while we worked: what we made is not catalogued, and must not
        // outlive the footage (where the store still retains it, fsck lists it unreferenced).
        // The store is asked once the transaction has ended.
        let mut orphans = Vec::new();
        for d in &derivatives {
            if !tx.object_catalogued(&d.sha256).await? {
                orphans.push(d.sha256);
            }
        }
        drop(tx);
        for sha in orphans {
            if let Err(e) = app.store.delete(&sha).await {
                tracing::warn!("derivative {sha} of purged clip {}: {e}", clip.id);
            }
        }
        return Ok(false);
    }
    // New derivatives of held footage are held in the store too.
    let held = app.store.has_object_lock() && !tx.hold_lapses(clip.recording_id).await?.is_empty();
    let ctx = app.context();
    let mut linked = Vec::new();
    for d in &derivatives {
        // Bytes a purge was deleting may be gone since we stored them: the job makes them again.
        ctx.catalogue_object(&mut tx, &d.sha256, d.size, Some(d.media_type))
            .await?;
        if tx.insert_derivative(d).await? {
            linked.push(d);
        }
    }
    tx.set_clip_media(clip.id, probe_json.as_ref(), state, reason)
        .await?;
    let settled = tx.settle_recording_media(clip.recording_id).await?;

    let mut event = EventDraft::new(
        "media_processed",
        worker_actor(),
        "recording",
        clip.recording_id,
    );
    event.objects.push(ObjectRef {
        sha256: sha.to_hex(),
        size: clip.size as u64,
        role: Some("original".into()),
    });
    for d in &linked {
        event.objects.push(ObjectRef {
            sha256: d.sha256.to_hex(),
            size: d.size,
            role: Some(d.kind.to_string()),
        });
    }
    let event = event
        .with_instrument(&MediaWorker {
            name: "bwv media worker",
            tool: &versions,
            derivatives: linked
                .iter()
                .map(|d| DerivativeMade {
                    kind: d.kind,
                    parameters: &d.params["parameters"],
                })
                .collect(),
        })?
        .with_result(&MediaProcessed {
            clip: clip.seq,
            media_state: state,
            reason,
            disclosure: plan,
            recording_status: settled.as_ref().map(|(status, _)| *status),
            flags: settled.as_ref().map(|(_, flags)| flags.as_slice()),
        })?;
    tx.append_audit(app.audit.origin(), event).await?;
    tx.commit().await?;
    if held {
        crate::holds::sync(&app.context(), &[clip.recording_id]).await?;
    }
    tracing::info!(recording = %clip.recording_id, clip = clip.seq, state = %state, reason, "clip settled");
    Ok(true)
}

/// `media_processed`'s instrument: the worker, its tool versions, and how each derivative it
/// linked was made.
#[derive(Debug, Serialize)]
struct MediaWorker<'a> {
    name: &'static str,
    tool: &'a Value,
    derivatives: Vec<DerivativeMade<'a>>,
}

/// One derivative the media worker linked: its kind and the parameters it was made with.
#[derive(Debug, Serialize)]
struct DerivativeMade<'a> {
    kind: DerivativeKind,
    parameters: &'a Value,
}

/// `media_processed`: how a clip was settled (playable, or not and why), how its disclosure
/// copy was made, and where that leaves the recording once its last clip is settled.
#[derive(Debug, Serialize)]
struct MediaProcessed<'a> {
    clip: i64,
    media_state: MediaState,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disclosure: Option<Plan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recording_status: Option<RecordingStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<&'a [String]>,
}

/// A media job that died because the file kept taking its workers down (crash, kill, hang, panic):
/// the clip is settled as unplayable so the recording does not wait forever, and the audit chain
/// says why. A job that died of failures on our side (store, disk) leaves the clip pending: the
/// footage is not at fault, and `bwv jobs retry` finishes it once the fault is fixed.
pub async fn dead(app: &App, job: &JobRow) -> Result<()> {
    if !matches!(
        job.last_error_code.as_deref(),
        Some("lease-expired" | "panic")
    ) {
        return Ok(());
    }
    let clip_id = media_clip(&job.payload.0)?;
    let Some(clip) = app.catalogue.clip_media(clip_id).await? else {
        return Ok(());
    };
    if clip.media_state != MediaState::Pending {
        return Ok(());
    }
    let reason = format!(
        "processing failed {} times (job {}): {}",
        job.attempts,
        job.id,
        job.last_error.as_deref().unwrap_or("no error recorded")
    );
    let sha: Sha256Digest = clip.sha256.parse()?;
    record(
        app,
        &clip,
        &sha,
        Made::Unplayable {
            probe: None,
            reason,
        },
        None,
    )
    .await
    .map(|_| ())
}
