//! The ingest path for footage that arrives whole (CLI, watched folder, a finished tus upload):
//! stream the bytes into the store while hashing them, then record the recording, its clip, the
//! sighting and the audit record in one catalogue transaction. (The Axis door's recordings
//! arrive clip by clip: `axis`.)
//!
//! Order matters for "nothing acknowledged is ever lost": bytes are durable before the catalogue
//! row that points at them commits. A crash in between leaves an object nobody points at (found
//! by `bwv fsck`, adopted when the same bytes arrive again), never a row without bytes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::record::{Actor, EventDraft, ObjectRef};
use crate::catalogue::Register;
use crate::catalogue::{NewClip, NewRecording, NewSighting, Tx};
use crate::context::Context;
use crate::domain::{Classification, RecordingStatus, Sha256Digest, Source};
use crate::error::{Code, Error, Result};
use crate::store::{Input, Progress, PutOptions};

pub mod axis;
pub mod files;
pub mod tus;
pub mod watch;

/// Who and what a recording is, as the door was told.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    pub officer: String,
    pub device: String,
    pub recorded_at: DateTime<Utc>,
    /// How `recorded_at` was learned: `operator`, `file-mtime`, `camera`, or `arrival` when
    /// nothing said.
    pub recorded_at_source: &'static str,
    pub category: Option<String>,
    pub source: Source,
    /// The name the bytes arrived under (file name), kept in the catalogue, not the audit log.
    pub source_name: Option<String>,
    pub actor: Actor,
    /// The dock that delivered it, for network doors.
    pub dock: Option<crate::catalogue::Dock>,
    /// What the sender says the SHA-256 is: a mismatch stores nothing.
    pub expected_sha256: Option<Sha256Digest>,
    /// Network doors refuse empty content (a dock then keeps the footage for a person to look
    /// at); an operator's CLI ingest keeps it as evidence, flagged.
    pub reject_empty: bool,
    /// The tus upload these bytes finish; it is marked completed in the same transaction.
    pub upload: Option<Uuid>,
}

impl IngestRequest {
    /// A request with the defaults every door starts from.
    pub fn new(officer: &str, device: &str, source: Source, actor: Actor) -> Self {
        IngestRequest {
            officer: officer.to_owned(),
            device: device.to_owned(),
            recorded_at: crate::domain::now(),
            recorded_at_source: "arrival",
            category: None,
            source,
            source_name: None,
            actor,
            dock: None,
            expected_sha256: None,
            reject_empty: false,
            upload: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    New,
    Duplicate,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestOutcome {
    pub recording_id: Uuid,
    pub sha256: Sha256Digest,
    pub size: u64,
    pub status: Disposition,
    pub flags: Vec<String>,
}

pub fn revoked(dock: &crate::catalogue::Dock) -> Error {
    Error::new(
        Code::Unauthorized,
        format!("dock {} was revoked", dock.name),
    )
}

/// Officer and device ids go into audit records and file names; keep them plain.
pub fn check_identifier(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(format!(
            "{what} {value:?} must be 1-64 characters of letters, digits and - _ . : @"
        )))
    }
}

impl Context<'_> {
    async fn complete_upload(
        &self,
        tx: &mut Tx,
        req: &IngestRequest,
        recording: Uuid,
    ) -> Result<()> {
        let Some(upload) = req.upload else {
            return Ok(());
        };
        if !tx.end_upload(upload, "completed", Some(recording)).await? {
            return Err(Error::new(
                Code::Conflict,
                format!("upload {upload} is no longer receiving"),
            ));
        }
        let mut event = EventDraft::new("upload_completed", req.actor.clone(), "upload", upload);
        event.result = Some(json!({"recording": recording.to_string()}));
        tx.append_audit(self.audit.origin(), event).await?;
        Ok(())
    }

    pub async fn ingest(
        &self,
        req: &IngestRequest,
        input: Input,
        progress: Progress,
    ) -> Result<IngestOutcome> {
        check_identifier("officer", &req.officer)?;
        check_identifier("device", &req.device)?;
        let opts = PutOptions {
            expected_sha256: req.expected_sha256,
            reject_empty: req.reject_empty,
            progress,
            ..self.put_options()
        };
        // A dock revoked while its bytes arrived stores nothing (checked again at commit).
        if let Some(dock) = &req.dock
            && self.catalogue.dock_revoked(dock.id).await?
        {
            return Err(revoked(dock));
        }
        let put = self.store.put(input, &opts).await?;
        let object = ObjectRef {
            sha256: put.sha256.to_hex(),
            size: put.size,
            role: Some("original".into()),
        };
        let instrument = json!({
            "name": "bwv",
            "version": env!("CARGO_PKG_VERSION"),
            "door": req.source.as_str(),
            "device": req.device,
        });

        let mut tx = self.catalogue.begin().await?;
        if let Some(dock) = &req.dock {
            tx.ensure_dock_active(dock).await?;
        }
        let dock_id = req.dock.as_ref().map(|d| d.id);
        tx.ensure_registered(Register::Officers, &req.officer, None, dock_id)
            .await?;
        tx.ensure_registered(Register::Cameras, &req.device, None, dock_id)
            .await?;
        let sighting = |recording_id, duplicate| NewSighting {
            sha256: put.sha256,
            recording_id,
            duplicate,
            source: req.source,
            source_name: req.source_name.clone(),
            officer_id: req.officer.clone(),
            device_serial: req.device.clone(),
            dock_id,
        };

        if let Some(existing) = tx.recording_with_object(&put.sha256).await? {
            tx.insert_sighting(&sighting(existing, true)).await?;
            let mut event = EventDraft::new("sighting", req.actor.clone(), "recording", existing);
            event.objects.push(object);
            event.instrument = Some(instrument);
            event.result = Some(json!({"duplicate": true, "officer": req.officer}));
            tx.append_audit(self.audit.origin(), event).await?;
            self.complete_upload(&mut tx, req, existing).await?;
            tx.commit().await?;
            return Ok(IngestOutcome {
                recording_id: existing,
                sha256: put.sha256,
                size: put.size,
                status: Disposition::Duplicate,
                flags: Vec::new(),
            });
        }

        let id = Uuid::now_v7();
        let mut flags: Vec<String> = Vec::new();
        if put.size == 0 {
            flags.push("zero-length".into());
        }
        if crate::retention::machine_clock(req.recorded_at_source)
            && !crate::retention::plausible_recording_time(
                req.recorded_at,
                crate::domain::now(),
                self.policy,
            )
        {
            flags.push(crate::retention::IMPLAUSIBLE_TIME.into());
        }
        let status = RecordingStatus::Stored.as_str();
        let classification = crate::config::classification_at_source(
            &self.config.categories,
            req.category.as_deref(),
        );
        self.catalogue_object(&mut tx, &put.sha256, put.size)
            .await?;
        tx.insert_recording(&NewRecording {
            id,
            officer_id: req.officer.clone(),
            officer_label: None,
            device_serial: req.device.clone(),
            source: req.source,
            dock_id,
            external_ref: None,
            recorded_at: req.recorded_at,
            recorded_at_source: req.recorded_at_source,
            category: req.category.clone(),
            classification,
            status,
            flags: flags.clone(),
            metadata: json!({}),
        })
        .await?;
        let clip_id = Uuid::now_v7();
        tx.insert_clip(&NewClip {
            id: clip_id,
            recording_id: id,
            seq: 1,
            sha256: put.sha256,
            size: put.size,
            original_name: req.source_name.clone(),
        })
        .await?;
        tx.insert_sighting(&sighting(id, false)).await?;
        if classification != Classification::Unreviewed {
            tx.classify(
                id,
                classification,
                "camera-category",
                req.category.as_deref(),
                &req.actor.id,
            )
            .await?;
        }
        crate::jobs::enqueue_media(&mut tx, clip_id, self.media_attempts()).await?;
        let next = crate::retention::recompute(&mut tx, self.policy, id).await?;
        let mut event = EventDraft::new("ingest", req.actor.clone(), "recording", id);
        event.objects.push(object);
        event.instrument = Some(instrument);
        event.result = Some(json!({
            "officer": req.officer,
            "recorded_at": crate::audit::record::format_ts(req.recorded_at),
            "classification": classification.as_str(),
            "status": status,
            "flags": flags,
            "retention": crate::retention::audited(&next, self.policy),
        }));
        tx.append_audit(self.audit.origin(), event).await?;
        self.complete_upload(&mut tx, req, id).await?;
        tx.commit().await?;
        Ok(IngestOutcome {
            recording_id: id,
            sha256: put.sha256,
            size: put.size,
            status: Disposition::New,
            flags,
        })
    }
}
