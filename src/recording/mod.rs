//! A recording's arrival, whatever the door: it begins, clips are added, it is complete. Every
//! door (the CLI, the watched folder, tus, the Axis API) goes through these three steps, in its
//! own catalogue transaction, after its bytes are durable in the store. Footage that arrives
//! whole takes all three at once (`arrive_whole`); an Axis container takes them as the dock
//! sends it.
//!
//! Completion is where footage becomes evidence: classification at source, the media jobs, the
//! retention answer and the `ingest` audit record are made here and nowhere else, so a recording
//! means the same thing whichever door it came through.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::record::{Actor, EventDraft, Instrument, ObjectRef};
use crate::catalogue::{NewClip, NewRecording, NewSighting, Tx};
use crate::context::Context;
use crate::domain::{Classification, RecordingStatus, Sha256Digest, Source, TimeSource};
use crate::error::{Error, Result};
use crate::retention::NextAction;

pub mod admission;
pub mod details;
pub mod footage;
pub mod search;

/// A recording as it begins: whose, which camera's, through which door.
#[derive(Debug, Clone)]
pub struct Begin {
    pub id: Uuid,
    /// The officer it is filed under (admitted by [`admission`]).
    pub officer: String,
    /// The docking station's name for the officer, when it gave one (a label, not a record).
    pub officer_label: Option<String>,
    pub device: String,
    pub source: Source,
    pub dock: Option<Uuid>,
    /// The door's own name for it (an Axis container), when it has one.
    pub external_ref: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_at_source: TimeSource,
    pub category: Option<String>,
    pub flags: Vec<String>,
    pub metadata: serde_json::Value,
}

/// Starts a recording, incomplete, and gives it a retention answer at once: footage still
/// arriving has a deadline too (a container never completed is unreviewed footage).
pub async fn begin(ctx: &Context<'_>, tx: &mut Tx, b: &Begin) -> Result<NextAction> {
    tx.insert_recording(&new_recording(b)).await?;
    crate::retention::recompute(tx, ctx.policy, b.id).await
}

/// The row of a recording as it begins: incomplete, unreviewed, arriving now.
fn new_recording(b: &Begin) -> NewRecording {
    NewRecording {
        id: b.id,
        officer_id: b.officer.clone(),
        officer_label: b.officer_label.clone(),
        device_serial: b.device.clone(),
        source: b.source,
        dock_id: b.dock,
        external_ref: b.external_ref.clone(),
        recorded_at: b.recorded_at,
        recorded_at_source: b.recorded_at_source,
        category: b.category.clone(),
        classification: Classification::Unreviewed,
        status: RecordingStatus::Incomplete,
        flags: b.flags.clone(),
        metadata: b.metadata.clone(),
        created_at: crate::domain::now(),
        ended_at: None,
        next: None,
    }
}

/// Who delivered a clip, through which door.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub source: Source,
    pub officer: &'a str,
    pub device: &'a str,
    pub dock: Option<Uuid>,
}

/// A clip's bytes, stored, and how they arrived.
#[derive(Debug, Clone, Copy)]
pub struct ClipArrived<'a> {
    pub sha256: Sha256Digest,
    pub size: u64,
    /// The name the door received it under; a clip sent again under the same name replaces
    /// the recording's clip of that name (the door keeps the earlier bytes as a version).
    pub name: Option<&'a str>,
    /// The store already held these bytes.
    pub duplicate: bool,
    pub by: Arrival<'a>,
}

impl ClipArrived<'_> {
    fn sighting(&self, recording: Uuid, duplicate: bool) -> NewSighting {
        NewSighting {
            sha256: self.sha256,
            recording_id: recording,
            duplicate,
            source: self.by.source,
            source_name: self.name.map(str::to_owned),
            officer_id: self.by.officer.to_owned(),
            device_serial: self.by.device.to_owned(),
            dock_id: self.by.dock,
        }
    }
}

/// Adds a clip to a recording and records the sighting of its bytes. A clip added after the
/// recording completed gets its media job now; before, completion queues it.
pub async fn add_clip(
    ctx: &Context<'_>,
    tx: &mut Tx,
    recording: Uuid,
    recording_complete: bool,
    clip: &ClipArrived<'_>,
) -> Result<()> {
    let replaced = match clip.name {
        Some(name) => {
            tx.replace_clip(recording, name, &clip.sha256.to_hex(), clip.size)
                .await?
        }
        None => false,
    };
    if !replaced {
        let id = Uuid::now_v7();
        let seq = tx.next_clip_seq(recording).await?;
        tx.insert_clip(&NewClip {
            id,
            recording_id: recording,
            seq,
            sha256: clip.sha256,
            size: clip.size,
            original_name: clip.name.map(str::to_owned),
        })
        .await?;
        if recording_complete {
            crate::jobs::enqueue_media(tx, id, ctx.media_attempts()).await?;
        }
    }
    tx.insert_sighting(&clip.sighting(recording, clip.duplicate))
        .await?;
    Ok(())
}

/// What the door knows at the end, beyond what the recording already holds.
#[derive(Debug, Clone, Default)]
pub struct Complete {
    /// The camera's start and stop times, when it said them (they win over what was known at
    /// the start).
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    /// A category chosen on the camera (classification at source).
    pub category: Option<String>,
    /// Flags the door adds (empty content, say).
    pub flags: Vec<String>,
    /// Replaces the recording's metadata (an Axis container's, with its object list).
    pub metadata: Option<serde_json::Value>,
    /// Every object the recording consists of, by role, for the `ingest` record.
    pub objects: Vec<ObjectRef>,
}

/// The `ingest` record: what the recording is as it becomes evidence.
#[derive(Serialize)]
struct Ingested<'a> {
    officer: &'a str,
    recorded_at: String,
    classification: Classification,
    status: RecordingStatus,
    clips: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    flags: &'a [String],
    retention: crate::retention::Audited<'a>,
}

/// How a recording ended up when it completed.
#[derive(Debug, Clone)]
pub struct Completed {
    pub classification: Classification,
    pub flags: Vec<String>,
}

/// What a recording was before it completed, as far as completing it depends on.
struct Started<'a> {
    recorded_at: DateTime<Utc>,
    recorded_at_source: TimeSource,
    created_at: DateTime<Utc>,
    flags: &'a [String],
    category: Option<&'a str>,
}

/// What completing a recording makes of it: the one place its times, flags, category and
/// classification at source are decided, whether it was read back (`complete`) or is being
/// written whole (`arrive_whole`).
struct Ending {
    recorded_at: DateTime<Utc>,
    recorded_at_source: TimeSource,
    flags: Vec<String>,
    category: Option<String>,
    classification: Classification,
}

fn ending(ctx: &Context<'_>, started: &Started<'_>, end: &Complete) -> Ending {
    let recorded_at = end.started.unwrap_or(started.recorded_at);
    let recorded_at_source = if end.started.is_some() {
        TimeSource::Camera
    } else {
        started.recorded_at_source
    };
    let mut flags = started.flags.to_vec();
    for flag in &end.flags {
        if !flags.contains(flag) {
            flags.push(flag.clone());
        }
    }
    let implausible = crate::retention::machine_clock(recorded_at_source)
        && !crate::retention::plausible_recording_time(recorded_at, started.created_at, ctx.policy);
    if implausible
        && !flags
            .iter()
            .any(|f| f == crate::retention::IMPLAUSIBLE_TIME)
    {
        flags.push(crate::retention::IMPLAUSIBLE_TIME.into());
    }
    let category = end
        .category
        .clone()
        .or_else(|| started.category.map(str::to_owned));
    let classification =
        crate::config::classification_at_source(&ctx.config.categories, category.as_deref());
    Ending {
        recorded_at,
        recorded_at_source,
        flags,
        category,
        classification,
    }
}

/// Who the completed recording is and how it came, for its `ingest` record.
struct Whose<'a> {
    id: Uuid,
    officer: &'a str,
    source: Source,
    device: &'a str,
    clips: usize,
}

/// Appends the `ingest` record of a completed recording.
async fn audit_ingest(
    ctx: &Context<'_>,
    tx: &mut Tx,
    actor: Actor,
    whose: Whose<'_>,
    ending: &Ending,
    next: &NextAction,
    objects: Vec<ObjectRef>,
) -> Result<()> {
    let record = Ingested {
        officer: whose.officer,
        recorded_at: crate::audit::record::format_ts(ending.recorded_at),
        classification: ending.classification,
        status: RecordingStatus::Stored,
        clips: whose.clips,
        category: ending.category.as_deref(),
        flags: &ending.flags,
        retention: crate::retention::audited(next, ctx.policy),
    };
    let mut event = EventDraft::new("ingest", actor, "recording", whose.id)
        .with_instrument(&Instrument::door(whose.source.as_str(), whose.device))?
        .with_result(&record)?;
    event.objects = objects;
    tx.append_audit(ctx.audit.origin(), event).await?;
    Ok(())
}

/// Completes a recording in the caller's transaction: status, times, category and flags; the
/// media job of every clip; classification at source; the retention answer; and the `ingest`
/// audit record. Returns none when it had completed before (the door repeated itself).
pub async fn complete(
    ctx: &Context<'_>,
    tx: &mut Tx,
    id: Uuid,
    actor: Actor,
    end: Complete,
) -> Result<Option<Completed>> {
    // Taken before reading the clips, so a clip arriving at the same moment is either read
    // here or sees the recording complete.
    tx.lock_recording(id).await?;
    tx.ensure_not_purged(id).await?;
    let recording = tx
        .recording(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no recording {id}")))?;
    if recording.status != RecordingStatus::Incomplete {
        return Ok(None);
    }
    let ending = ending(
        ctx,
        &Started {
            recorded_at: recording.recorded_at,
            recorded_at_source: recording.recorded_at_source,
            created_at: recording.created_at,
            flags: &recording.flags,
            category: recording.category.as_deref(),
        },
        &end,
    );
    tx.complete_recording(
        id,
        ending.recorded_at,
        ending.recorded_at_source,
        end.ended,
        ending.category.as_deref(),
        &ending.flags,
        end.metadata.as_ref(),
    )
    .await?;
    for clip in &recording.clips {
        crate::jobs::enqueue_media(tx, clip.id, ctx.media_attempts()).await?;
    }
    if ending.classification != Classification::Unreviewed {
        tx.classify(
            id,
            ending.classification,
            CLASSIFIED_AT_SOURCE,
            ending.category.as_deref(),
            &actor.id,
        )
        .await?;
    }
    let next = crate::retention::recompute(tx, ctx.policy, id).await?;
    let whose = Whose {
        id,
        officer: &recording.officer_id,
        source: recording.source,
        device: &recording.device_serial,
        clips: recording.clips.len(),
    };
    audit_ingest(ctx, tx, actor, whose, &ending, &next, end.objects).await?;
    Ok(Some(Completed {
        classification: ending.classification,
        flags: ending.flags,
    }))
}

/// The basis of a classification made from the category chosen on the camera.
const CLASSIFIED_AT_SOURCE: &str = "camera-category";

/// One whole arrival for `arrive_whole`: a recording of one clip, new in this transaction.
pub struct WholeArrival<'a> {
    pub begin: Begin,
    pub clip: ClipArrived<'a>,
    pub actor: Actor,
    pub end: Complete,
}

/// Footage that arrives whole, as one clip: what `begin`, `add_clip` and `complete` make of
/// it, written at once as a stored recording. The recording is new in this transaction, so
/// nothing can lock, hold, exhibit, review or add to it meanwhile: there is nothing to read
/// back, and its row is written once instead of written and then updated twice. A bulk ingest
/// spends most of its catalogue time here, so a batch's arrivals are written together, a
/// multi-row statement per table, in the order one arrival's would be.
pub async fn arrive_whole(
    ctx: &Context<'_>,
    tx: &mut Tx,
    arrivals: Vec<WholeArrival<'_>>,
) -> Result<Vec<Completed>> {
    let mut rows = Vec::with_capacity(arrivals.len());
    let mut decided = Vec::with_capacity(arrivals.len());
    for a in &arrivals {
        let row = new_recording(&a.begin);
        let ending = ending(
            ctx,
            &Started {
                recorded_at: row.recorded_at,
                recorded_at_source: row.recorded_at_source,
                created_at: row.created_at,
                flags: &row.flags,
                category: row.category.as_deref(),
            },
            &a.end,
        );
        let next = crate::retention::answer_for_new(
            ctx.policy,
            ending.recorded_at,
            ending.recorded_at_source,
            row.created_at,
            ending.classification,
        );
        rows.push(NewRecording {
            recorded_at: ending.recorded_at,
            recorded_at_source: ending.recorded_at_source,
            category: ending.category.clone(),
            classification: ending.classification,
            status: RecordingStatus::Stored,
            flags: ending.flags.clone(),
            metadata: a
                .end
                .metadata
                .clone()
                .unwrap_or_else(|| row.metadata.clone()),
            ended_at: a.end.ended,
            next: Some((next.clone(), ctx.policy.sha256.clone())),
            ..row
        });
        decided.push((ending, next));
    }
    tx.insert_recordings(&rows).await?;
    for (a, (ending, _)) in arrivals.iter().zip(&decided) {
        tx.audit_item_is_new(a.begin.id);
        if ending.classification != Classification::Unreviewed {
            tx.record_classification(
                a.begin.id,
                ending.classification,
                CLASSIFIED_AT_SOURCE,
                ending.category.as_deref(),
                &a.actor.id,
            )
            .await?;
        }
    }
    let clips: Vec<NewClip> = arrivals
        .iter()
        .map(|a| NewClip {
            id: Uuid::now_v7(),
            recording_id: a.begin.id,
            seq: 1,
            sha256: a.clip.sha256,
            size: a.clip.size,
            original_name: a.clip.name.map(str::to_owned),
        })
        .collect();
    tx.insert_clips(&clips).await?;
    let sightings: Vec<NewSighting> = arrivals
        .iter()
        .map(|a| a.clip.sighting(a.begin.id, a.clip.duplicate))
        .collect();
    tx.insert_sightings(&sightings).await?;
    let clip_ids: Vec<Uuid> = clips.iter().map(|c| c.id).collect();
    crate::jobs::enqueue_media_all(tx, &clip_ids, ctx.media_attempts()).await?;
    let mut completed = Vec::with_capacity(arrivals.len());
    for (a, (ending, next)) in arrivals.into_iter().zip(decided) {
        let whose = Whose {
            id: a.begin.id,
            officer: &a.begin.officer,
            source: a.begin.source,
            device: &a.begin.device,
            clips: 1,
        };
        audit_ingest(ctx, tx, a.actor, whose, &ending, &next, a.end.objects).await?;
        completed.push(Completed {
            classification: ending.classification,
            flags: ending.flags,
        });
    }
    Ok(completed)
}

/// The `sighting` record: bytes already evidence arrived again, through some door.
#[derive(Serialize)]
struct SightedAgain<'a> {
    duplicate: bool,
    officer: &'a str,
}

/// Footage that is already a recording arrived again, whole: the sighting is recorded and
/// audited against the recording it already is; nothing else changes.
pub async fn sighted_again(
    ctx: &Context<'_>,
    tx: &mut Tx,
    existing: Uuid,
    clip: &ClipArrived<'_>,
    actor: Actor,
) -> Result<()> {
    tx.insert_sighting(&clip.sighting(existing, true)).await?;
    let event = EventDraft::new("sighting", actor, "recording", existing)
        .with_object(ObjectRef {
            sha256: clip.sha256.to_hex(),
            size: clip.size,
            role: Some("original".into()),
        })
        .with_instrument(&Instrument::door(clip.by.source.as_str(), clip.by.device))?
        .with_result(&SightedAgain {
            duplicate: true,
            officer: clip.by.officer,
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    Ok(())
}
