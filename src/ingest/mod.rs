//! The doors footage comes in through. Footage that arrives whole (CLI, watched folder, a
//! finished tus upload) is streamed into the store while it is hashed, then becomes a recording
//! in one catalogue transaction; the Axis door's recordings arrive clip by clip (`axis`). Both
//! take the same steps, owned by `recording`.
//!
//! Order matters for "nothing acknowledged is ever lost": bytes are durable before the catalogue
//! row that points at them commits. A crash in between leaves an object nobody points at (found
//! by `bwv fsck`, adopted when the same bytes arrive again), never a row without bytes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::record::{Actor, EventDraft, ObjectRef};
use crate::catalogue::{Ending, Tx};
use crate::context::Context;
use crate::domain::{Sha256Digest, Source, TimeSource, UploadState};
use crate::error::{Code, Error, Result};
use crate::recording::admission::{self, By};
use crate::recording::{self, Arrival, Begin, ClipArrived, Complete};
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
    pub recorded_at_source: TimeSource,
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
    /// The tus upload these bytes finish, and the name of the lease its finishing request
    /// holds; it is marked completed in the same transaction, only while that lease holds.
    pub upload: Option<(Uuid, String)>,
}

impl IngestRequest {
    /// A request with the defaults every door starts from.
    pub fn new(officer: &str, device: &str, source: Source, actor: Actor) -> Self {
        IngestRequest {
            officer: officer.to_owned(),
            device: device.to_owned(),
            recorded_at: crate::domain::now(),
            recorded_at_source: TimeSource::Arrival,
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

/// The `upload_completed` record: which recording a tus upload became.
#[derive(Serialize)]
struct UploadCompleted {
    recording: Uuid,
}

impl Context<'_> {
    async fn complete_upload(
        &self,
        tx: &mut Tx,
        req: &IngestRequest,
        recording: Uuid,
    ) -> Result<()> {
        let Some((upload, owner)) = &req.upload else {
            return Ok(());
        };
        let upload = *upload;
        if !tx
            .end_upload(
                upload,
                UploadState::Completed,
                Some(recording),
                Ending::Holder(owner),
            )
            .await?
        {
            return Err(Error::new(
                Code::Conflict,
                format!("upload {upload} is no longer receiving under this request's lease"),
            ));
        }
        let event = EventDraft::new("upload_completed", req.actor.clone(), "upload", upload)
            .with_result(&UploadCompleted { recording })?;
        tx.append_audit(self.audit.origin(), event).await?;
        Ok(())
    }

    /// Footage that arrives whole: its bytes are stored (hashed as they go), then it begins,
    /// gets its one clip and completes in one transaction (see `recording`).
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
        let dock_id = req.dock.as_ref().map(|d| d.id);
        let clip = ClipArrived {
            sha256: put.sha256,
            size: put.size,
            name: req.source_name.as_deref(),
            duplicate: !put.created,
            by: Arrival {
                source: req.source,
                officer: &req.officer,
                device: &req.device,
                dock: dock_id,
            },
        };
        let outcome = |recording_id, status, flags| IngestOutcome {
            recording_id,
            sha256: put.sha256,
            size: put.size,
            status,
            flags,
        };

        let mut tx = self.catalogue.begin().await?;
        let by = match &req.dock {
            Some(dock) => {
                tx.ensure_dock_active(dock).await?;
                By::Dock(dock, req.source)
            }
            None => By::Operator,
        };
        admission::admit(self, &mut tx, by, &req.officer, &req.device).await?;
        if let Some(existing) = tx.recording_with_object(&put.sha256).await? {
            recording::sighted_again(self, &mut tx, existing, &clip, req.actor.clone()).await?;
            self.complete_upload(&mut tx, req, existing).await?;
            tx.commit().await?;
            return Ok(outcome(existing, Disposition::Duplicate, Vec::new()));
        }

        let id = Uuid::now_v7();
        self.catalogue_object(&mut tx, &put.sha256, put.size, None)
            .await?;
        recording::begin(
            self,
            &mut tx,
            &Begin {
                id,
                officer: req.officer.clone(),
                officer_label: None,
                device: req.device.clone(),
                source: req.source,
                dock: dock_id,
                external_ref: None,
                recorded_at: req.recorded_at,
                recorded_at_source: req.recorded_at_source,
                category: req.category.clone(),
                flags: Vec::new(),
                metadata: serde_json::json!({}),
            },
        )
        .await?;
        // Bytes already in the store but in no recording were left by an attempt that died
        // before it catalogued them: not a copy of anything.
        let clip = ClipArrived {
            duplicate: false,
            ..clip
        };
        recording::add_clip(self, &mut tx, id, false, &clip).await?;
        let end = Complete {
            flags: if put.size == 0 {
                vec!["zero-length".into()]
            } else {
                Vec::new()
            },
            objects: vec![ObjectRef {
                sha256: put.sha256.to_hex(),
                size: put.size,
                role: Some("original".into()),
            }],
            ..Complete::default()
        };
        let completed = recording::complete(self, &mut tx, id, req.actor.clone(), end)
            .await?
            .ok_or_else(|| Error::new(Code::Conflict, format!("recording {id} completed twice")))?;
        self.complete_upload(&mut tx, req, id).await?;
        tx.commit().await?;
        Ok(outcome(id, Disposition::New, completed.flags))
    }
}
