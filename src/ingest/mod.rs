//! The doors footage comes in through. Footage that arrives whole (CLI, watched folder, a
//! finished tus upload) is streamed into the store while it is hashed, then becomes a recording
//! in one catalogue transaction; the Axis door's recordings arrive clip by clip (`axis`). Both
//! take the same steps, owned by `recording`.
//!
//! Order matters for "nothing acknowledged is ever lost": bytes are durable before the catalogue
//! row that points at them commits. A crash in between leaves an object nobody points at (found
//! by `bwv fsck`, adopted when the same bytes arrive again), never a row without bytes.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::record::{Actor, EventDraft, ObjectRef};
use crate::catalogue::{Ending, Tx};
use crate::context::Context;
use crate::domain::{Sha256Digest, Source, TimeSource, UploadState};
use crate::error::{Code, Error, Result};
use crate::recording::admission::{self, By};
use crate::recording::{self, Arrival, Begin, ClipArrived, Complete, WholeArrival};
use crate::store::{Batched, Input, Progress, PutOptions, PutOutcome};

pub mod axis;
pub mod buffered;
pub mod files;
pub mod tus;
pub mod watch;

/// Files written to the store at once by `ingest_batch`: enough to keep the disk and a core busy
/// while another waits, few enough that a batch's open files stay well under the usual limit.
const FILES_IN_FLIGHT: usize = 4;

/// How many files `ingest_batch` should be given at a time, and how many bytes at most: the
/// fsyncs and the transaction are shared by this many, and a failure delays this much.
pub const BATCH_FILES: usize = 128;
pub const BATCH_BYTES: u64 = 64 << 20;

/// One whole arrival for `Context::ingest_batch`.
pub struct Whole {
    pub req: IngestRequest,
    pub input: Input,
    pub progress: Progress,
}

/// A batch whose files are durable in the store and not yet catalogued: each file's result so
/// far (set where it already failed), and where the stored ones are.
pub struct StoredBatch {
    reqs: Vec<IngestRequest>,
    results: Vec<Option<Result<IngestOutcome>>>,
    puts: Vec<(usize, PutOutcome)>,
}

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

    /// What every whole arrival is checked against before its bytes are stored, and the options
    /// they are stored with.
    async fn store_options(&self, req: &IngestRequest, progress: Progress) -> Result<PutOptions> {
        check_identifier("officer", &req.officer)?;
        check_identifier("device", &req.device)?;
        // A dock revoked while its bytes arrived stores nothing (checked again at commit).
        if let Some(dock) = &req.dock
            && self.catalogue.dock_revoked(dock.id).await?
        {
            return Err(revoked(dock));
        }
        Ok(PutOptions {
            expected_sha256: req.expected_sha256,
            reject_empty: req.reject_empty,
            progress,
            ..self.put_options()
        })
    }

    /// Footage that arrives whole: its bytes are stored (hashed as they go), then it begins,
    /// gets its one clip and completes in one transaction (see `recording`).
    pub async fn ingest(
        &self,
        req: &IngestRequest,
        input: Input,
        progress: Progress,
    ) -> Result<IngestOutcome> {
        let opts = self.store_options(req, progress).await?;
        let put = self.store.put(input, &opts).await?;
        let mut tx = self.catalogue.begin().await?;
        let outcome = self.record_whole(&mut tx, req, &put).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Many arrivals at once (a folder of an old archive, a dock share): the same steps as
    /// `ingest` for each, with the costs shared. A few files are written at a time, the store
    /// makes them all durable with one sync (see `Store::publish`), and all of them are
    /// catalogued in one transaction; if that transaction fails, each file is catalogued in its
    /// own, so one bad file fails alone. A result is `Ok` only once its file is durable and
    /// committed, as for `ingest`. Results are in the order of `batch`.
    pub async fn ingest_batch(&self, batch: Vec<Whole>) -> Vec<Result<IngestOutcome>> {
        let stored = self.store_batch(batch).await;
        self.record_batch(stored).await
    }

    /// The first half of `ingest_batch`: the batch's bytes stored and durable. A caller with
    /// many batches stores the next while the last one's transaction runs (`record_batch`).
    pub async fn store_batch(&self, batch: Vec<Whole>) -> StoredBatch {
        let mut reqs = Vec::with_capacity(batch.len());
        let mut inputs = Vec::with_capacity(batch.len());
        for whole in batch {
            reqs.push(whole.req);
            inputs.push((whole.input, whole.progress));
        }
        let mut results: Vec<Option<Result<IngestOutcome>>> = reqs.iter().map(|_| None).collect();
        let mut puts = Vec::new();
        if reqs.len() == 1
            && let Some((input, progress)) = inputs.pop()
        {
            // Nothing to share: one fsync of its own beats syncing the whole filesystem.
            let put = async {
                let opts = self.store_options(&reqs[0], progress).await?;
                self.store.put(input, &opts).await
            };
            match put.await {
                Ok(put) => puts.push((0, put)),
                Err(e) => results[0] = Some(Err(e)),
            }
            return StoredBatch {
                reqs,
                results,
                puts,
            };
        }
        let stored: Vec<Result<Batched>> = futures_util::stream::iter(reqs.iter().zip(inputs))
            .map(|(req, (input, progress))| async move {
                let opts = self.store_options(req, progress).await?;
                self.store.put_batched(input, &opts).await
            })
            .buffered(FILES_IN_FLIGHT)
            .collect()
            .await;
        let (mut written, mut written_at) = (Vec::new(), Vec::new());
        for (i, s) in stored.into_iter().enumerate() {
            match s {
                Ok(w) => {
                    written.push(w);
                    written_at.push(i);
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        for (i, put) in written_at
            .into_iter()
            .zip(self.store.publish(written).await)
        {
            match put {
                Ok(put) => puts.push((i, put)),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        StoredBatch {
            reqs,
            results,
            puts,
        }
    }

    /// The second half of `ingest_batch`: the stored files catalogued, in one transaction, or
    /// one by one if that fails.
    pub async fn record_batch(&self, stored: StoredBatch) -> Vec<Result<IngestOutcome>> {
        let StoredBatch {
            reqs,
            mut results,
            puts,
        } = stored;
        match self.record_all(&reqs, &puts).await {
            Ok(outcomes) => {
                for ((i, _), outcome) in puts.iter().zip(outcomes) {
                    results[*i] = Some(Ok(outcome));
                }
            }
            Err(e) if puts.len() == 1 => {
                results[puts[0].0] = Some(Err(e));
            }
            Err(e) => {
                tracing::info!(error = %e, files = puts.len(), "a batch did not commit; cataloguing its files one by one");
                for (i, put) in &puts {
                    results[*i] = Some(self.record_alone(&reqs[*i], put).await);
                }
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::new(
                        Code::Store,
                        "a file of the batch was lost track of",
                    ))
                })
            })
            .collect()
    }

    /// Catalogues every stored file of a batch in one transaction. Every file is admitted
    /// first, then the batch's hashes are locked and looked up at once. A bulk ingest's files
    /// are mostly new: those are written together (`recording::arrive_whole`), a multi-row
    /// statement per table; the rest follow one by one, since a file may be a copy of one just
    /// written. (Admission first keeps the lock order of a single arrival: register, then
    /// object.)
    async fn record_all(
        &self,
        reqs: &[IngestRequest],
        puts: &[(usize, PutOutcome)],
    ) -> Result<Vec<IngestOutcome>> {
        if puts.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.catalogue.begin().await?;
        for (i, _) in puts {
            self.admit_whole(&mut tx, &reqs[*i]).await?;
        }
        let shas: Vec<Sha256Digest> = puts.iter().map(|(_, put)| put.sha256).collect();
        let mut new = tx.objects_without_recording(&shas).await?;
        // Only the first file with these bytes is new: a later one is its duplicate.
        let (fresh, rest): (Vec<usize>, Vec<usize>) =
            (0..puts.len()).partition(|&k| new.remove(&puts[k].1.sha256));
        let mut outcomes: Vec<Option<IngestOutcome>> = vec![None; puts.len()];
        let files: Vec<(&IngestRequest, &PutOutcome)> = fresh
            .iter()
            .map(|&k| (&reqs[puts[k].0], &puts[k].1))
            .collect();
        for (k, outcome) in fresh.iter().zip(self.arrive_new(&mut tx, &files).await?) {
            outcomes[*k] = Some(outcome);
        }
        for k in rest {
            let (i, put) = &puts[k];
            outcomes[k] = Some(self.catalogue_whole(&mut tx, &reqs[*i], put).await?);
        }
        tx.commit().await?;
        outcomes
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::new(Code::Catalogue, "a file of the batch was lost track of"))
    }

    /// Catalogues one stored file in its own transaction.
    async fn record_alone(&self, req: &IngestRequest, put: &PutOutcome) -> Result<IngestOutcome> {
        let mut tx = self.catalogue.begin().await?;
        let outcome = self.record_whole(&mut tx, req, put).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// The catalogue's half of a whole arrival whose bytes are durable: a duplicate sighting of
    /// the recording that has them, or a new recording with its one clip, completed.
    async fn record_whole(
        &self,
        tx: &mut Tx,
        req: &IngestRequest,
        put: &PutOutcome,
    ) -> Result<IngestOutcome> {
        self.admit_whole(tx, req).await?;
        self.catalogue_whole(tx, req, put).await
    }

    /// Whether the door that delivered it (a dock still active) and the officer and camera it
    /// names may bring footage in.
    async fn admit_whole(&self, tx: &mut Tx, req: &IngestRequest) -> Result<()> {
        let by = match &req.dock {
            Some(dock) => {
                tx.ensure_dock_active(dock).await?;
                By::Dock(dock, req.source)
            }
            None => By::Operator,
        };
        admission::admit(self, tx, by, &req.officer, &req.device).await
    }

    /// `record_whole` once admitted.
    async fn catalogue_whole(
        &self,
        tx: &mut Tx,
        req: &IngestRequest,
        put: &PutOutcome,
    ) -> Result<IngestOutcome> {
        let Some(existing) = tx.recording_with_object(&put.sha256).await? else {
            return self
                .arrive_new(tx, &[(req, put)])
                .await?
                .pop()
                .ok_or_else(|| Error::new(Code::Catalogue, "a new recording was lost track of"));
        };
        let clip = arrived(req, put);
        recording::sighted_again(self, tx, existing, &clip, req.actor.clone()).await?;
        self.complete_upload(tx, req, existing).await?;
        Ok(IngestOutcome {
            recording_id: existing,
            sha256: put.sha256,
            size: put.size,
            status: Disposition::Duplicate,
            flags: Vec::new(),
        })
    }

    /// New recordings, one for each file: no live recording has their bytes, and this
    /// transaction holds their locks.
    async fn arrive_new(
        &self,
        tx: &mut Tx,
        files: &[(&IngestRequest, &PutOutcome)],
    ) -> Result<Vec<IngestOutcome>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let objects: Vec<_> = files
            .iter()
            .map(|(_, put)| (put.sha256, put.size, None))
            .collect();
        self.catalogue_objects(tx, &objects).await?;
        let arrivals: Vec<WholeArrival> = files
            .iter()
            .map(|(req, put)| WholeArrival {
                begin: Begin {
                    id: Uuid::now_v7(),
                    officer: req.officer.clone(),
                    officer_label: None,
                    device: req.device.clone(),
                    source: req.source,
                    dock: req.dock.as_ref().map(|d| d.id),
                    external_ref: None,
                    recorded_at: req.recorded_at,
                    recorded_at_source: req.recorded_at_source,
                    category: req.category.clone(),
                    flags: Vec::new(),
                    metadata: serde_json::json!({}),
                },
                // Bytes already in the store but in no recording were left by an attempt that
                // died before it catalogued them: not a copy of anything.
                clip: ClipArrived {
                    duplicate: false,
                    ..arrived(req, put)
                },
                actor: req.actor.clone(),
                end: Complete {
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
                },
            })
            .collect();
        let ids: Vec<Uuid> = arrivals.iter().map(|a| a.begin.id).collect();
        let completed = recording::arrive_whole(self, tx, arrivals).await?;
        let mut outcomes = Vec::with_capacity(files.len());
        for ((req, put), (id, done)) in files.iter().zip(ids.into_iter().zip(completed)) {
            self.complete_upload(tx, req, id).await?;
            outcomes.push(IngestOutcome {
                recording_id: id,
                sha256: put.sha256,
                size: put.size,
                status: Disposition::New,
                flags: done.flags,
            });
        }
        Ok(outcomes)
    }
}

/// A whole arrival's one clip, as its door delivered it.
fn arrived<'a>(req: &'a IngestRequest, put: &PutOutcome) -> ClipArrived<'a> {
    ClipArrived {
        sha256: put.sha256,
        size: put.size,
        name: req.source_name.as_deref(),
        duplicate: !put.created,
        by: Arrival {
            source: req.source,
            officer: &req.officer,
            device: &req.device,
            dock: req.dock.as_ref().map(|d| d.id),
        },
    }
}
