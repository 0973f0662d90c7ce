//! Background work on the durable queue ([`crate::catalogue`] holds the table): what kinds of job
//! exist, how their failures are classed, the worker loop that runs them, and the supervisor
//! that keeps worker processes alive under `bwv serve`.

use serde::Serialize;
use uuid::Uuid;

use crate::catalogue::{NewJob, Tx};
use crate::error::{Error, Result};

pub mod media_job;
pub mod supervisor;
pub mod worker;

/// Probe a clip, make its disclosure copy and stills.
pub const MEDIA: &str = "media";

/// How a job attempt failed.
#[derive(Debug)]
pub enum JobError {
    /// Our side failed (store, catalogue, disk): try again later.
    Retry(Error),
    /// Trying again cannot help (the job names something that does not exist).
    Abort(Error),
    /// The worker is stopping; the job goes back untouched.
    Cancelled,
}

/// Each failure says whether trying again can help, by its kind: our side failing (store,
/// catalogue, disk, busy) is retried; the job asking for something wrong or gone is not.
impl From<Error> for JobError {
    fn from(e: Error) -> Self {
        if e.code().transient() {
            JobError::Retry(e)
        } else {
            JobError::Abort(e)
        }
    }
}

/// Queues the media job for a clip, in the transaction that catalogues the clip: a clip is
/// never stored without the work that makes it playable being on the queue.
pub async fn enqueue_media(tx: &mut Tx, clip: Uuid, max_attempts: u32) -> Result<bool> {
    Ok(enqueue_media_all(tx, &[clip], max_attempts).await? == 1)
}

/// `enqueue_media` for many clips at once (a bulk ingest's batch); returns how many were new.
pub async fn enqueue_media_all(tx: &mut Tx, clips: &[Uuid], max_attempts: u32) -> Result<u64> {
    let jobs: Vec<NewJob> = clips
        .iter()
        .map(|clip| NewJob {
            kind: MEDIA,
            payload: serde_json::json!({"clip": clip.to_string()}),
            priority: 0,
            max_attempts: i64::from(max_attempts),
            unique_key: Some(format!("{MEDIA}:{clip}")),
        })
        .collect();
    tx.enqueue_all(&jobs).await
}

/// The clip a media job is about.
pub fn media_clip(payload: &serde_json::Value) -> std::result::Result<Uuid, Error> {
    payload
        .get("clip")
        .and_then(|c| c.as_str())
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error::bad_input(format!("media job payload {payload} names no clip")))
}

/// `job_retried`: the kind of job queued again by hand, and what it was to do.
#[derive(Debug, Serialize)]
struct JobRetried<'a> {
    kind: &'a str,
    payload: &'a serde_json::Value,
}

/// Queues a dead job again with fresh attempts, by hand, audited.
pub async fn retry(
    ctx: &crate::context::Context<'_>,
    actor: &crate::audit::record::Actor,
    id: Uuid,
) -> Result<crate::catalogue::JobRow> {
    let mut tx = ctx.catalogue.begin().await?;
    let j = tx.retry_job(id).await?;
    let event = crate::audit::record::EventDraft::new("job_retried", actor.clone(), "job", id)
        .with_result(&JobRetried {
            kind: &j.kind,
            payload: &j.payload.0,
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(j)
}
