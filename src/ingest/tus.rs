//! The tus door's rules, apart from HTTP: what an upload may declare, where its bytes wait while
//! they arrive, and how a finished upload becomes a recording through the shared ingest path.
//!
//! A staging file holds the bytes received so far. The catalogue's `upload_offset` is the
//! acknowledged, fsync'd end of it; anything past it after a crash was never acknowledged and is
//! cut off when the upload resumes. Each write is read back and compared with the bytes that
//! arrived, and the SHA-256 of the recording is computed from those as they arrive; the running
//! state lives in memory, with the file's stamp (`FileStamp`) when its last writer was done, and
//! is rebuilt from the staging file after a restart or whenever the stamp no longer matches.
//!
//! Several nodes share the staging directory and the catalogue. A request writes to an upload
//! only under its lease in the catalogue, so one PATCH at a time writes to an upload across every
//! node, and the lease holder's name fences the offset and the completion. A node that dies holds
//! the lease until it runs out; the next holder then writes to a fresh copy of the acknowledged
//! bytes, so nothing the dead (or merely stalled) node still had in flight can reach the bytes
//! that are adopted. The store hashes them once more as it adopts them unless the file still has
//! the stamp its last writer took.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use uuid::Uuid;

use super::buffered::Batch;
use super::{IngestOutcome, IngestRequest, check_identifier};
use crate::audit::record::{Actor, EventDraft};
use crate::catalogue::{Catalogue, Claimed, Dock, Ending, UploadRow};
use crate::context::Context;
use crate::domain::{Sha256Digest, Source, TimeSource, UploadState};
use crate::error::{Code, Error, Result, ResultExt};
use crate::store::{FileStamp, Input, Progress};

/// `Upload-Metadata` larger than this is refused: it is a header, and docks send a few fields.
pub const MAX_METADATA_BYTES: usize = 4096;

/// What a dock declared about an upload, checked.
#[derive(Debug, Clone)]
pub struct Declared {
    pub officer: String,
    pub device: String,
    pub recorded_at: Option<DateTime<Utc>>,
    pub category: Option<String>,
    pub filename: Option<String>,
    pub sha256: Option<Sha256Digest>,
}

/// Parses `Upload-Metadata`: comma-separated `key base64(value)` pairs.
pub fn parse_metadata(header: &str) -> Result<BTreeMap<String, String>> {
    if header.len() > MAX_METADATA_BYTES {
        return Err(Error::bad_input(format!(
            "Upload-Metadata is {} bytes; at most {MAX_METADATA_BYTES} are accepted",
            header.len()
        )));
    }
    let mut out = BTreeMap::new();
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (pair, ""),
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::bad_input(format!(
                "Upload-Metadata key {key:?} is not allowed"
            )));
        }
        let bytes = B64.decode(value).map_err(|_| {
            Error::bad_input(format!("Upload-Metadata value of {key} is not base64"))
        })?;
        let value = String::from_utf8(bytes).map_err(|_| {
            Error::bad_input(format!("Upload-Metadata value of {key} is not UTF-8"))
        })?;
        if value.chars().any(char::is_control) {
            return Err(Error::bad_input(format!(
                "Upload-Metadata value of {key} holds control characters"
            )));
        }
        if out.insert(key.to_owned(), value).is_some() {
            return Err(Error::bad_input(format!(
                "Upload-Metadata names {key} twice"
            )));
        }
    }
    Ok(out)
}

/// A file name a dock gave: kept as a label, so it may not smuggle in a path.
pub fn check_file_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(format!(
            "file name {name:?} is not allowed"
        )))
    }
}

pub fn declared(meta: &BTreeMap<String, String>) -> Result<Declared> {
    let need = |k: &str| {
        meta.get(k)
            .cloned()
            .ok_or_else(|| Error::bad_input(format!("Upload-Metadata must carry {k}")))
    };
    let officer = need("officer")?;
    let device = need("device")?;
    check_identifier("officer", &officer)?;
    check_identifier("device", &device)?;
    let recorded_at = meta
        .get("recorded_at")
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| Error::bad_input(format!("recorded_at {s:?} is not RFC 3339: {e}")))
        })
        .transpose()?;
    let filename = meta.get("filename").cloned();
    if let Some(name) = &filename {
        check_file_name(name)?;
    }
    let category = meta.get("category").cloned();
    if category.as_ref().is_some_and(|c| c.len() > 100) {
        return Err(Error::bad_input("category is longer than 100 characters"));
    }
    let sha256 = meta
        .get("sha256")
        .map(|s| s.parse::<Sha256Digest>())
        .transpose()?;
    Ok(Declared {
        officer,
        device,
        recorded_at,
        category,
        filename,
        sha256,
    })
}

/// The shortest lease: a quarter of it is the renewal period and the clock margin.
const MIN_LEASE: Duration = Duration::from_secs(4);

/// A request's lease on an upload. Its holder writes only while [`Lease::alive`]: past that,
/// another node may hold the upload.
pub struct Lease {
    pub upload: Uuid,
    pub owner: String,
    length: Duration,
    started: Instant,
    /// Milliseconds after `started` until which writing is safe.
    safe_until: AtomicU64,
}

impl Lease {
    /// Takes the lease on upload `id` for `length` unless another request holds a live one
    /// (`Locked`). `None` when there is no such upload.
    pub async fn claim(
        catalogue: &Catalogue,
        id: Uuid,
        length: Duration,
    ) -> Result<Option<(Lease, Claimed)>> {
        let lease = Lease {
            upload: id,
            length: length.max(MIN_LEASE),
            owner: format!(
                "{}:{}:{}",
                crate::config::hostname(),
                std::process::id(),
                &Uuid::new_v4().simple().to_string()[..8]
            ),
            started: Instant::now(),
            safe_until: AtomicU64::new(0),
        };
        let sent = Instant::now();
        let mut tx = catalogue.begin().await?;
        let claimed = tx.claim_upload(id, &lease.owner, lease.end()).await?;
        tx.commit().await?;
        lease.extend_from(sent);
        Ok(claimed.map(|c| (lease, c)))
    }

    /// Whether this holder may still write.
    pub fn alive(&self) -> bool {
        (self.started.elapsed().as_millis() as u64) < self.safe_until.load(Ordering::Acquire)
    }

    /// Renews the lease; false (and no longer alive) when another request has it now. A
    /// catalogue that does not answer leaves the lease to run out by the clock.
    pub async fn renew(&self, catalogue: &Catalogue) -> Result<bool> {
        let sent = Instant::now();
        let held = catalogue
            .renew_upload_lease(self.upload, &self.owner, self.end())
            .await?;
        if held {
            self.extend_from(sent);
        } else {
            self.safe_until.store(0, Ordering::Release);
        }
        Ok(held)
    }

    /// Lets go at once, so the dock's next request need not wait for the lease to run out.
    pub async fn release(&self, catalogue: &Catalogue) {
        self.safe_until.store(0, Ordering::Release);
        if let Err(e) = catalogue.release_upload(self.upload, &self.owner).await {
            tracing::warn!(upload = %self.upload, error = %e, "cannot release the upload's lease; it runs out by itself");
        }
    }

    /// How often the holder renews: a quarter of the lease.
    pub fn renew_every(&self) -> Duration {
        self.length / 4
    }

    /// The lease counts from when the request that took or renewed it was sent, less a quarter
    /// for the clocks of nodes that disagree a little (they must be kept in step, by NTP).
    fn extend_from(&self, sent: Instant) {
        let safe = (sent + self.length - self.length / 4).saturating_duration_since(self.started);
        self.safe_until
            .fetch_max(safe.as_millis() as u64, Ordering::AcqRel);
    }

    fn end(&self) -> DateTime<Utc> {
        crate::domain::now() + chrono::Duration::from_std(self.length).unwrap_or_default()
    }
}

pub fn staging_path(dir: &Path, id: Uuid) -> PathBuf {
    dir.join(format!("{id}.upload"))
}

/// What a dock may hold open: unfinished uploads, the bytes they declared but have not sent,
/// and, for every dock together, no more unsent bytes than there is room for.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub max_open_per_dock: u64,
    pub max_unsent_per_dock: u64,
    /// Bytes the staging area and the store can take now and keep their reserve.
    pub room: u64,
}

/// Creates an upload: its staging file, its row and its audit record, within the dock's quota.
pub async fn create(
    ctx: &Context<'_>,
    staging_dir: &Path,
    dock: &Dock,
    length: u64,
    meta: BTreeMap<String, String>,
    expires_at: DateTime<Utc>,
    quota: Quota,
) -> Result<UploadRow> {
    let id = Uuid::now_v7();
    let path = staging_path(staging_dir, id);
    std::fs::create_dir_all(staging_dir)
        .context(|| format!("creating {}", staging_dir.display()))?;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .context(|| format!("creating staging file {}", path.display()))?;
    let now = crate::domain::now();
    let row = UploadRow {
        id,
        dock_id: dock.id,
        length: length as i64,
        upload_offset: 0,
        metadata: Json(meta),
        state: UploadState::Receiving,
        recording_id: None,
        created_at: now,
        updated_at: now,
        expires_at,
    };
    let result = async {
        let mut tx = ctx.catalogue.begin().await?;
        let open = tx.open_uploads(dock).await?;
        if open.count >= quota.max_open_per_dock {
            return Err(Error::new(
                Code::RateLimited,
                format!(
                    "dock {} already has {} unfinished uploads (at most {}): finish or \
                     terminate some first",
                    dock.name, open.count, quota.max_open_per_dock
                ),
            ));
        }
        if open.unsent.saturating_add(length) > quota.max_unsent_per_dock {
            return Err(Error::new(
                Code::RateLimited,
                format!(
                    "dock {}'s unfinished uploads still have {} bytes to send; {length} more \
                     would pass its limit of {}",
                    dock.name, open.unsent, quota.max_unsent_per_dock
                ),
            ));
        }
        if open.all_unsent.saturating_add(length) > quota.room {
            return Err(Error::new(
                Code::StorageFull,
                format!(
                    "there is room for {} bytes, unfinished uploads still have {} to \
                     send, and {length} more do not fit",
                    quota.room, open.all_unsent
                ),
            ));
        }
        tx.insert_upload(&row).await?;
        let mut event = EventDraft::new("upload_started", dock_actor(dock), "upload", id);
        event.result = Some(json!({"length": length, "door": "tus"}));
        tx.append_audit(ctx.audit.origin(), event).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(row)
}

pub fn dock_actor(dock: &Dock) -> Actor {
    Actor::service(format!("dock:{}", dock.name))
}

/// Where an upload's last writer on this node left it: the running hash up to `offset`, valid
/// while the staging file keeps `stamp`. Without a stamp (a PATCH failed after writing past
/// `offset`, or the stamp could not be taken) the hash is still known right: the next resume
/// rebuilds it from the file and compares.
pub struct Running {
    pub offset: u64,
    pub hasher: Sha256,
    pub stamp: Option<FileStamp>,
}

impl Running {
    /// The same hash, to be checked against the file rather than trusted.
    pub fn unstamped(&self) -> Running {
        Running {
            offset: self.offset,
            hasher: self.hasher.clone(),
            stamp: None,
        }
    }
}

/// Opens the staging file at the acknowledged offset, dropping bytes past it (received before a
/// crash but never acknowledged), and rebuilds the running hash unless `running` is at that
/// offset and the file is as its writer left it. An upload `taken_over` from a holder that never
/// let go is first copied to a new file: the old holder's open file then no longer leads
/// anywhere that is kept.
pub fn resume(
    path: &Path,
    offset: u64,
    running: Option<Running>,
    taken_over: bool,
) -> Result<(File, Sha256)> {
    if taken_over {
        replace_staging_file(path, offset)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .context(|| format!("opening staging file {}", path.display()))?;
    let stamp = FileStamp::of(&file).context(|| format!("reading {}", path.display()))?;
    let len = stamp.size();
    if len < offset {
        return Err(Error::new(
            Code::Io,
            format!(
                "staging file {} holds {len} bytes but {offset} were acknowledged",
                path.display()
            ),
        ));
    }
    if len > offset {
        file.set_len(offset)
            .context(|| format!("trimming {}", path.display()))?;
    }
    let hasher = match running {
        Some(r) if r.offset == offset && r.stamp == Some(stamp) => r.hasher,
        running => {
            let rebuilt = hash_prefix(&mut file, offset, path)?;
            // Another node's writer, or the trimming above, also changes the stamp; the bytes
            // acknowledged before `offset` must not have changed all the same.
            if let Some(r) = running.filter(|r| r.offset == offset)
                && r.hasher.finalize() != rebuilt.clone().finalize()
            {
                return Err(Error::new(
                    Code::ChecksumMismatch,
                    format!(
                        "staging file {} no longer holds the {offset} bytes acknowledged: \
                         something else wrote to it",
                        path.display()
                    ),
                ));
            }
            rebuilt
        }
    };
    file.seek(SeekFrom::Start(offset))
        .context(|| format!("seeking {}", path.display()))?;
    Ok((file, hasher))
}

/// The running hash of the first `len` bytes of a staging file.
fn hash_prefix(file: &mut File, len: u64, path: &Path) -> Result<Sha256> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = len;
    file.seek(SeekFrom::Start(0))
        .context(|| format!("reading {}", path.display()))?;
    while left > 0 {
        let want = buf.len().min(left as usize);
        file.read_exact(&mut buf[..want])
            .context(|| format!("reading {}", path.display()))?;
        h.update(&buf[..want]);
        left -= want as u64;
    }
    Ok(h)
}

/// Copies the first `offset` bytes of a staging file to a new file that takes its name.
fn replace_staging_file(path: &Path, offset: u64) -> Result<()> {
    let fresh = path.with_extension(format!("upload.{}", Uuid::new_v4().simple()));
    let copy = || -> std::io::Result<()> {
        let mut from = File::open(path)?.take(offset);
        let mut to = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&fresh)?;
        let copied = std::io::copy(&mut from, &mut to)?;
        if copied != offset {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("only {copied} of {offset} acknowledged bytes are there"),
            ));
        }
        to.sync_all()?;
        std::fs::rename(&fresh, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    copy().map_err(|e| {
        let _ = std::fs::remove_file(&fresh);
        Error::with_source(
            Code::Io,
            format!(
                "taking over staging file {} from a node that stopped",
                path.display()
            ),
            e,
        )
    })
}

/// Opens an upload's staging file for the next PATCH (`resume`). Acknowledged bytes found changed
/// since this node's writer left them cannot be trusted: the upload goes back to offset 0 and
/// the dock sends it again, as when the store finds them changed (`finish`).
pub async fn reopen(
    ctx: &Context<'_>,
    staging_dir: &Path,
    upload: &UploadRow,
    lease: &Lease,
    running: Option<Running>,
    taken_over: bool,
) -> Result<(File, Sha256)> {
    let path = staging_path(staging_dir, upload.id);
    let offset = upload.upload_offset as u64;
    let opened = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || resume(&path, offset, running, taken_over))
            .await
            .map_err(|e| Error::new(Code::Io, format!("staging task failed: {e}")))?
    };
    if let Err(e) = &opened
        && e.code() == Code::ChecksumMismatch
    {
        restart(ctx, &path, upload, lease, &e.to_string())
            .await
            .map_err(|failed| failed.context(format_args!("sending back to 0 after {e}")))?;
    }
    opened
}

/// What an append's failure means for its upload. A staging file found holding other bytes than
/// those just written to it (`read_back`) cannot be trusted anywhere: the upload goes back to
/// offset 0, as in `reopen`.
pub async fn append_failed(
    ctx: &Context<'_>,
    staging_dir: &Path,
    upload: &UploadRow,
    lease: &Lease,
    e: std::io::Error,
) -> Error {
    let context = format!("writing upload {}", upload.id);
    match e.kind() {
        std::io::ErrorKind::StorageFull => Error::with_source(Code::StorageFull, context, e),
        std::io::ErrorKind::InvalidData => {
            let e = Error::with_source(Code::ChecksumMismatch, context, e);
            let path = staging_path(staging_dir, upload.id);
            match restart(ctx, &path, upload, lease, &e.to_string()).await {
                Ok(()) => e,
                Err(failed) => failed.context(format_args!("sending back to 0 after {e}")),
            }
        }
        _ => Error::with_source(Code::Io, context, e),
    }
}

/// Work for the thread that appends a PATCH body to the staging file.
pub enum Append {
    /// Received buffers, batched so one `writev` covers many small network reads.
    Data(Batch),
    /// fsync now and answer with the durable length.
    Sync(tokio::sync::oneshot::Sender<std::io::Result<u64>>),
}

/// What an append thread ends with.
pub struct Appended {
    pub offset: u64,
    pub hasher: Sha256,
    /// SHA-256 of just this request's body, when an `Upload-Checksum` asked for it.
    pub body_sha256: Option<[u8; 32]>,
    /// The file's stamp once everything written was read back, compared and made durable.
    pub stamp: Option<FileStamp>,
    pub error: Option<std::io::Error>,
}

/// Appends everything sent on `rx` to `file` (positioned at `offset`), reading each write back
/// to compare it with what arrived, while a second thread hashes the same buffers (shared, not
/// copied) and a third makes checkpoints durable, so neither hashing nor fsync holds up the
/// disk. Always fsyncs before it returns, so `offset` in the result is durable unless `error`
/// is set. Nothing is written once `lease` may have run out.
pub fn append(
    file: File,
    mut offset: u64,
    hasher: Sha256,
    hash_body: bool,
    lease: &Lease,
    mut rx: tokio::sync::mpsc::Receiver<Append>,
) -> Appended {
    // Batches, not single buffers, so the queue is bounded in bytes (a few MiB), whatever
    // size the network reads come in.
    let (to_hasher, batches) = std::sync::mpsc::sync_channel::<Batch>(4);
    let (to_syncer, syncs) = std::sync::mpsc::channel::<(u64, SyncReply)>();
    let file = &file;
    let sync_failed = std::sync::Mutex::new(None::<std::io::Error>);
    std::thread::scope(|scope| {
        let hashing = scope.spawn(move || {
            let mut hasher = hasher;
            let mut body = hash_body.then(Sha256::new);
            for batch in batches.iter() {
                for chunk in &batch.chunks {
                    hasher.update(chunk);
                    if let Some(body) = &mut body {
                        body.update(chunk);
                    }
                }
            }
            (hasher, body.map(|b| b.finalize().into()))
        });
        // fdatasync makes durable at least everything written before it was called, so the
        // writer goes on while a checkpoint is synced. A failure is kept for the writer too:
        // the kernel reports a failed writeback to one fsync only, so its own last one could
        // succeed over bytes that never reached the disk.
        let take_sync_failure = || sync_failed.lock().unwrap_or_else(|e| e.into_inner()).take();
        let syncing = scope.spawn(|| {
            for (at, reply) in syncs {
                let synced = file.sync_data().map(|()| at);
                if let Err(e) = &synced {
                    *sync_failed.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(std::io::Error::new(e.kind(), e.to_string()));
                }
                let _ = reply.send(synced);
            }
        });
        let mut error: Option<std::io::Error> = None;
        let mut back = Vec::new();
        while let Some(msg) = rx.blocking_recv() {
            if error.is_none() {
                error = take_sync_failure();
            }
            match msg {
                Append::Data(batch) => {
                    if error.is_some() {
                        continue;
                    }
                    let len = batch.bytes();
                    if !lease.alive() {
                        error = Some(std::io::Error::other(LEASE_LOST));
                        continue;
                    }
                    let written = write_all_vectored(file, &batch.chunks)
                        .and_then(|()| read_back(file, offset, &batch.chunks, &mut back))
                        .and_then(|()| {
                            crate::store::write_behind(
                                file,
                                offset,
                                len,
                                crate::store::STAGING_WINDOW,
                            )
                        });
                    match written {
                        Ok(()) => {
                            offset += len;
                            let _ = to_hasher.send(batch);
                        }
                        Err(e) => error = Some(e),
                    }
                }
                Append::Sync(reply) => match &error {
                    Some(e) => {
                        let _ = reply.send(Err(std::io::Error::new(e.kind(), e.to_string())));
                    }
                    None => {
                        let _ = to_syncer.send((offset, reply));
                    }
                },
            }
        }
        drop(to_syncer);
        let _ = syncing.join();
        if error.is_none() {
            error = take_sync_failure();
        }
        if error.is_none()
            && let Err(e) = file.sync_data()
        {
            error = Some(e);
        }
        drop(to_hasher);
        let (hasher, body_sha256) = match hashing.join() {
            Ok(hashed) => hashed,
            Err(_) => {
                error.get_or_insert_with(|| std::io::Error::other("the hashing thread failed"));
                (Sha256::new(), None)
            }
        };
        let stamp = match error {
            Some(_) => None,
            None => FileStamp::of(file)
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "cannot stamp a staging file; it will be hashed again");
                })
                .ok(),
        };
        Appended {
            offset,
            hasher,
            body_sha256,
            stamp,
            error,
        }
    })
}

/// How the syncing thread answers a checkpoint: the durable length.
type SyncReply = tokio::sync::oneshot::Sender<std::io::Result<u64>>;

/// Why an append stopped writing when its lease may have run out.
pub const LEASE_LOST: &str = "the upload's lease ran out: another request may hold it now";

fn write_all_vectored(mut file: &File, batch: &[Bytes]) -> std::io::Result<()> {
    let mut slices: Vec<std::io::IoSlice<'_>> =
        batch.iter().map(|b| std::io::IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads back the batch just written at `at` and compares it with what arrived: the hash is of
/// what arrived, and this is what makes it the hash of what the file holds. From the page cache,
/// a fraction of the cost of hashing the file again; `back` is reused, at most `READ_BACK` long.
/// Other bytes there are an `InvalidData` error, which nothing else in an append gives.
fn read_back(file: &File, at: u64, batch: &[Bytes], back: &mut Vec<u8>) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut pos = at;
    for piece in batch.iter().flat_map(|chunk| chunk.chunks(READ_BACK)) {
        back.resize(piece.len(), 0);
        file.read_exact_at(back, pos)?;
        if back.as_slice() != piece {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the staging file does not hold the {} bytes just written at offset \
                     {pos}: something else writes to it",
                    piece.len()
                ),
            ));
        }
        pos += piece.len() as u64;
    }
    Ok(())
}

/// Read back in pieces this size: twenty uploads at once hold twenty of them.
const READ_BACK: usize = 256 * 1024;

/// A finished upload becomes a recording through the shared ingest path: the staging file is
/// adopted by the store, and the upload is marked completed in the same transaction.
pub async fn finish(
    ctx: &Context<'_>,
    staging_dir: &Path,
    dock: &Dock,
    upload: &UploadRow,
    lease: &Lease,
    sha256: Sha256Digest,
    stamp: Option<FileStamp>,
) -> Result<IngestOutcome> {
    let d = declared(&upload.metadata.0)?;
    let path = staging_path(staging_dir, upload.id);
    let req = IngestRequest {
        recorded_at: d.recorded_at.unwrap_or(upload.created_at),
        recorded_at_source: if d.recorded_at.is_some() {
            TimeSource::Camera
        } else {
            TimeSource::Arrival
        },
        category: d.category.clone(),
        source_name: d.filename.clone(),
        dock: Some(dock.clone()),
        expected_sha256: d.sha256,
        reject_empty: true,
        upload: Some((upload.id, lease.owner.clone())),
        ..IngestRequest::new(&d.officer, &d.device, Source::Tus, dock_actor(dock))
    };
    if let Some(want) = d.sha256
        && want != sha256
    {
        // The dock's own hash disagrees: nothing is stored; the upload cannot succeed.
        let e = Error::new(
            Code::ChecksumMismatch,
            format!("the upload hashes to SHA-256 {sha256}, but the dock said {want}"),
        );
        end(
            ctx,
            staging_dir,
            upload,
            UploadState::Terminated,
            "upload_rejected",
            (dock_actor(dock), Ending::Holder(&lease.owner)),
            Some(e.to_string()),
        )
        .await?;
        return Err(e);
    }
    let input = Input::Staged {
        path: path.clone(),
        sha256,
        size: upload.length as u64,
        stamp,
    };
    let outcome = ctx.ingest(&req, input, Progress::default()).await;
    match &outcome {
        Ok(_) => {
            // Stored, or a duplicate of a stored object: the staging name is no longer needed.
            // Through tokio: unlinking the last name of a GiB (a duplicate) frees every extent
            // before it returns, a fifth of a second that no runtime thread may block for.
            if let Err(e) = tokio::fs::remove_file(&path).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "could not remove staging file");
            }
        }
        Err(e) if e.code() == Code::ChecksumMismatch => {
            // The staged bytes are not the ones that were hashed as they arrived: nothing was
            // stored, and none of them can be trusted, so the dock sends the upload again.
            restart(ctx, &path, upload, lease, &e.to_string()).await?;
        }
        Err(_) => {}
    }
    outcome
}

/// The `upload_restarted` record: an upload's staged bytes could not be trusted.
#[derive(Serialize)]
struct UploadRestarted<'a> {
    /// The offset that had been acknowledged, now 0.
    offset: i64,
    length: i64,
    reason: &'a str,
}

/// Sends an upload back to offset 0 and empties its staging file, under the request's lease.
async fn restart(
    ctx: &Context<'_>,
    path: &Path,
    upload: &UploadRow,
    lease: &Lease,
    reason: &str,
) -> Result<()> {
    tracing::error!(upload = %upload.id, reason, "staged upload damaged; the dock must send it again");
    let mut tx = ctx.catalogue.begin().await?;
    if !tx.restart_upload(upload.id, &lease.owner).await? {
        return Ok(()); // no longer ours: whoever holds it now finds the same when it finishes
    }
    let event = EventDraft::new(
        "upload_restarted",
        Actor::service(format!("svc:tus@{}", crate::config::hostname())),
        "upload",
        upload.id,
    )
    .with_result(&UploadRestarted {
        offset: upload.upload_offset,
        length: upload.length,
        reason,
    })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    // Through tokio: emptying a GiB frees its extents as unlinking it would.
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .await
        .context(|| format!("opening staging file {}", path.display()))?;
    file.set_len(0)
        .await
        .context(|| format!("emptying staging file {}", path.display()))
}

/// Ends an unfinished upload (terminated by the dock, expired, rejected): row, audit, file.
pub async fn end(
    ctx: &Context<'_>,
    staging_dir: &Path,
    upload: &UploadRow,
    state: UploadState,
    event: &str,
    (actor, by): (Actor, Ending<'_>),
    reason: Option<String>,
) -> Result<bool> {
    let mut tx = ctx.catalogue.begin().await?;
    let ended = tx.end_upload(upload.id, state, None, by).await?;
    if ended {
        let mut draft = EventDraft::new(event, actor, "upload", upload.id);
        let mut result = json!({"offset": upload.upload_offset, "length": upload.length});
        if let Some(reason) = reason {
            result["reason"] = json!(reason.chars().take(200).collect::<String>());
        }
        draft.result = Some(result);
        tx.append_audit(ctx.audit.origin(), draft).await?;
    }
    tx.commit().await?;
    if ended {
        let path = staging_path(staging_dir, upload.id);
        if let Err(e) = tokio::fs::remove_file(&path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove staging file");
        }
    }
    Ok(ended)
}

/// Removes unfinished uploads whose time ran out; each removal is audited.
pub async fn expire_due(ctx: &Context<'_>, staging_dir: &Path) -> Result<usize> {
    let mut n = 0;
    let now = crate::domain::now();
    for upload in ctx.catalogue.expired_uploads(now).await? {
        let actor = Actor::service(format!("svc:tus-expiry@{}", crate::config::hostname()));
        if end(
            ctx,
            staging_dir,
            &upload,
            UploadState::Expired,
            "upload_expired",
            (actor, Ending::Unheld(now)),
            None,
        )
        .await?
        {
            n += 1;
        }
    }
    Ok(n)
}

/// A staging file no younger than this that no unfinished upload owns is a stray. An upload's
/// file is made just before its row, and a takeover's copy is written to as it is made, so
/// neither is ever this old while still wanted.
const STRAY_AGE: Duration = Duration::from_secs(3600);

/// Removes staging files that no unfinished upload owns: what a node stopped between committing
/// an upload's end (stored, refused or expired) and removing its file left behind, and copies a
/// takeover stopped half way through. Without this they would stay for ever, footage of the
/// public out of retention's reach. Only names the tus door makes are touched.
pub async fn remove_strays(catalogue: &Catalogue, staging_dir: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(staging_dir) {
        Ok(entries) => entries,
        // Made by the first upload; until then there is nothing to remove.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(e)
                .context(|| format!("listing staging directory {}", staging_dir.display()));
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((id, copy)) = name.to_str().and_then(staged_name) else {
            continue;
        };
        let old = entry
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= STRAY_AGE);
        if !old {
            continue;
        }
        if !copy
            && catalogue
                .upload(id)
                .await?
                .is_some_and(|u| u.state == UploadState::Receiving)
        {
            continue;
        }
        let path = entry.path();
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                tracing::warn!(path = %path.display(), "removed a staging file no unfinished upload owns");
                removed += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a stray staging file")
            }
        }
    }
    Ok(removed)
}

/// The upload a staging file name belongs to, and whether it is a takeover's copy
/// (`<id>.upload.<hex>`) rather than the upload's own file (`<id>.upload`).
fn staged_name(name: &str) -> Option<(Uuid, bool)> {
    let (id, rest) = name.split_once(".upload")?;
    let id = Uuid::parse_str(id).ok()?;
    match rest.strip_prefix('.') {
        None if rest.is_empty() => Some((id, false)),
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some((id, true))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_answer_with_what_was_written_before_them_as_writing_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staged");
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let lease = Lease {
            upload: Uuid::nil(),
            owner: "test".into(),
            length: Duration::from_secs(60),
            started: Instant::now(),
            safe_until: AtomicU64::new(60_000),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let piece = Bytes::from(vec![7u8; 1 << 20]);
        let budget = crate::ingest::buffered::Budget::new(16 << 20);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        std::thread::scope(|scope| {
            let appending = scope.spawn(|| append(file, 0, Sha256::new(), false, &lease, rx));
            let mut answers = Vec::new();
            // 40 MiB: past the write-behind window, a checkpoint every 10 MiB.
            for i in 1..=40 {
                let share = runtime.block_on(budget.share(piece.len()));
                let batch = Batch::new(vec![piece.clone()], share);
                tx.blocking_send(Append::Data(batch)).unwrap();
                if i % 10 == 0 {
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    tx.blocking_send(Append::Sync(reply)).unwrap();
                    answers.push(answer);
                }
            }
            drop(tx);
            let done = appending.join().unwrap();
            assert!(done.error.is_none(), "{:?}", done.error);
            assert_eq!(done.offset, 40 << 20);
            let durable: Vec<u64> = answers
                .into_iter()
                .map(|a| a.blocking_recv().unwrap().unwrap())
                .collect();
            assert_eq!(durable, [10 << 20, 20 << 20, 30 << 20, 40 << 20]);
            assert_eq!(
                done.hasher.finalize(),
                Sha256::digest(vec![7u8; 40 << 20]),
                "every byte hashed once, in order"
            );
            let now = FileStamp::of(&File::open(&path).unwrap()).unwrap();
            assert_eq!(done.stamp, Some(now));
        });
    }

    #[test]
    fn reading_back_names_the_piece_that_differs() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("staged"))
            .unwrap();
        let batch = [Bytes::from_static(b"first "), Bytes::from_static(b"second")];
        file.write_all_at(b"header", 0).unwrap();
        file.write_all_at(b"first second", 6).unwrap();
        let mut back = Vec::new();
        read_back(&file, 6, &batch, &mut back).expect("the file holds what was written");
        file.write_all_at(b"X", 14).unwrap();
        let err = read_back(&file, 6, &batch, &mut back).unwrap_err();
        assert!(
            err.to_string()
                .contains("6 bytes just written at offset 12"),
            "{err}"
        );
        file.set_len(10).unwrap();
        assert_eq!(
            read_back(&file, 6, &batch, &mut back).unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn only_the_names_the_door_makes_are_staging_files() {
        let id = Uuid::now_v7();
        assert_eq!(staged_name(&format!("{id}.upload")), Some((id, false)));
        let copy = format!("{id}.upload.{}", Uuid::new_v4().simple());
        assert_eq!(staged_name(&copy), Some((id, true)));
        for other in [
            format!("{id}.upload."),
            format!("{id}.upload.tmp~"),
            format!("{id}.uploaded"),
            format!("{id}.txt"),
            "notes.upload".to_owned(),
            ".upload".to_owned(),
        ] {
            assert_eq!(staged_name(&other), None, "{other}");
        }
    }
}
