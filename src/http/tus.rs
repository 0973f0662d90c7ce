//! tus 1.0 under `/files/`: core, creation, creation-with-upload, checksum (sha256), termination
//! and expiration. One PATCH at a time per upload across every node (a second gets 423, see
//! `ingest::tus::Lease`); bytes are fsync'd before the offset that acknowledges them is saved,
//! and saved every 64 MiB within a long PATCH, so an upload resumes after a node is killed, on
//! any node that shares the staging directory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::options;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::future::OptionFuture;
use sha2::Digest;
use uuid::Uuid;

use super::AppState;
use super::auth::DockAuth;
use super::error::{ApiError, ApiResult};
use super::health::record_upload;
use crate::catalogue::{Dock, Ending, UploadRow};
use crate::domain::{Sha256Digest, Source, UploadState};
use crate::error::{Code, Error, Result};
use crate::ingest::buffered::{Batch, Budget};
use crate::ingest::tus as door;

const VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,checksum,termination,expiration";
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// Network reads are handed to the writer in batches of about this size (one `writev` each).
const BATCH_BYTES: usize = 1 << 20;
/// Within one long PATCH, the offset is saved this often, so a kill loses at most this much.
const CHECKPOINT_BYTES: u64 = 64 << 20;

/// The running hash of each upload between PATCHes on this node. Another node may have moved
/// an upload on since: a hash is used only when its offset is the upload's offset and the
/// staging file is as this node left it (`door::resume`). And what the node's uploads hold in
/// memory on the way to the disk, all together.
pub struct TusState {
    hashes: Mutex<HashMap<Uuid, (Instant, door::Running)>>,
    budget: Budget,
}

impl TusState {
    /// `buffered_mib`: `tus.buffered_mib`, what every upload on the node may hold received but
    /// not yet written and hashed (`buffered::Budget`).
    pub fn new(buffered_mib: u64) -> Self {
        let bytes = usize::try_from(buffered_mib << 20).unwrap_or(usize::MAX);
        TusState {
            hashes: Mutex::default(),
            budget: Budget::new(bytes),
        }
    }

    fn take_hash(&self, id: Uuid) -> Option<door::Running> {
        self.hashes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
            .map(|(_, running)| running)
    }

    /// Keeps `running` for the upload's next PATCH here.
    fn keep_hash(&self, id: Uuid, running: door::Running, expiry: Duration) {
        self.kept(expiry).insert(id, (Instant::now(), running));
    }

    /// Puts back the hash a PATCH started from, unless a later request has kept a newer one.
    fn put_back_hash(&self, id: Uuid, running: door::Running, expiry: Duration) {
        self.kept(expiry)
            .entry(id)
            .or_insert_with(|| (Instant::now(), running));
    }

    /// The hashes kept, less those kept longer ago than `expiry`: their uploads were abandoned
    /// (each PATCH pushes an upload's expiry that far ahead) or went on elsewhere, and a node
    /// runs for years.
    fn kept(
        &self,
        expiry: Duration,
    ) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, door::Running)>> {
        let mut hashes = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        hashes.retain(|_, (kept, _)| kept.elapsed() < expiry);
        hashes
    }
}

/// The hash a PATCH started from, put back on this node however the PATCH ends short of keeping
/// a newer one: with an error, or dropped unfinished (an HTTP/2 client resetting its stream,
/// shutdown's grace running out). The next PATCH then checks the bytes acknowledged before
/// against it, rather than trust whatever the file holds by then.
struct PutBack<'a> {
    tus: &'a TusState,
    id: Uuid,
    expiry: Duration,
    running: Option<door::Running>,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.tus.put_back_hash(self.id, running, self.expiry);
        }
    }
}

/// Takes the upload's lease for this request: one writer at a time across every node.
async fn hold(state: &AppState, id: Uuid) -> Result<(Arc<door::Lease>, UploadRow, bool)> {
    let length = Duration::from_secs(state.app.config.tus.lease_secs);
    let (lease, claimed) = door::Lease::claim(&state.app.catalogue, id, length)
        .await?
        .ok_or_else(|| Error::not_found(format!("no upload {id}")))?;
    Ok((Arc::new(lease), claimed.upload, claimed.taken_over))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/files", options(capabilities).post(create))
        .route("/files/", options(capabilities).post(create))
        .route(
            "/files/{id}",
            options(capabilities)
                .head(head)
                .patch(patch)
                .delete(terminate),
        )
        .layer(axum::middleware::map_response(
            |mut resp: Response| async move {
                resp.headers_mut()
                    .insert("tus-resumable", HeaderValue::from_static(VERSION));
                resp
            },
        ))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn require_version(headers: &HeaderMap) -> Result<()> {
    match header(headers, "tus-resumable") {
        Some(VERSION) => Ok(()),
        _ => Err(Error::bad_input(
            "this server speaks Tus-Resumable 1.0.0 only",
        )),
    }
}

fn u64_header(headers: &HeaderMap, name: &str) -> Result<Option<u64>> {
    header(headers, name)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| Error::bad_input(format!("{name} {v:?} is not a number")))
        })
        .transpose()
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn set(resp: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        resp.headers_mut().insert(name, v);
    }
}

async fn capabilities(State(state): State<AppState>) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    set(&mut resp, "tus-version", VERSION);
    set(&mut resp, "tus-extension", EXTENSIONS);
    set(&mut resp, "tus-checksum-algorithm", "sha256");
    set(
        &mut resp,
        "tus-max-size",
        state.app.config.tus.max_size_gib << 30,
    );
    resp
}

fn expiry(state: &AppState) -> DateTime<Utc> {
    crate::domain::now() + chrono::Duration::seconds(state.app.config.tus.expiry_secs as i64)
}

/// How long an upload nobody sends to lasts.
fn expiry_after(state: &AppState) -> Duration {
    Duration::from_secs(state.app.config.tus.expiry_secs)
}

async fn create(
    State(state): State<AppState>,
    DockAuth(dock): DockAuth,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_version(&headers)?;
    if header(&headers, "upload-defer-length").is_some() {
        return Err(
            Error::bad_input("Upload-Defer-Length is not supported: send Upload-Length").into(),
        );
    }
    let length = u64_header(&headers, "upload-length")?
        .ok_or_else(|| Error::bad_input("Upload-Length is required"))?;
    if length == 0 {
        return Err(Error::bad_input("an upload of zero bytes cannot be a recording").into());
    }
    let max = state.app.config.tus.max_size_gib << 30;
    if length > max {
        return Err(Error::new(
            Code::TooLarge,
            format!("Upload-Length {length} is over the limit of {max}"),
        )
        .into());
    }
    let meta = door::parse_metadata(header(&headers, "upload-metadata").unwrap_or(""))?;
    let declared = door::declared(&meta)?;
    crate::recording::admission::precheck(
        &state.app.catalogue,
        &state.app.config,
        &dock,
        Source::Tus,
        &declared.officer,
        &declared.device,
    )
    .await?;
    let quota = door::Quota {
        max_open_per_dock: state.app.config.tus.max_open_uploads_per_dock.max(1),
        max_unsent_per_dock: state.app.config.tus.max_unsent_gib_per_dock << 30,
        room: state.staging_room()?,
    };
    let upload = door::create(
        &state.app.context(),
        &state.staging_dir,
        &dock,
        length,
        meta,
        expiry(&state),
        quota,
    )
    .await?;
    let location = format!("{}/files/{}", state.public_url, upload.id);

    // creation-with-upload: the POST may carry the first bytes.
    let has_body = header(&headers, "content-type") == Some(OFFSET_CONTENT_TYPE)
        && (u64_header(&headers, "content-length")?.unwrap_or(0) > 0
            || header(&headers, "transfer-encoding").is_some());
    let mut resp = if has_body {
        // The client learns where the upload is only from this answer: if the bytes do not go
        // in, nobody can ever resume it, so it is ended at once rather than left to expire.
        let first = upload.clone();
        match write_and_maybe_finish(&state, &dock, upload, &headers, body).await {
            Ok((resp, Ended::Whole | Ended::Stopping)) => resp,
            Ok((_, Ended::ClientGone)) => {
                abandon(
                    &state,
                    &dock,
                    &first,
                    "the client went away before the first bytes arrived",
                )
                .await;
                return Err(Error::bad_input("the upload's body was cut short").into());
            }
            Err(e) => {
                abandon(&state, &dock, &first, &e.0.to_string()).await;
                return Err(e);
            }
        }
    } else {
        let mut resp = StatusCode::CREATED.into_response();
        set(&mut resp, "upload-offset", 0);
        set(&mut resp, "upload-expires", http_date(expiry(&state)));
        resp
    };
    // Created, whatever the first bytes did; a refusal keeps its status (with Location, so
    // the client can resume once the server is back).
    if resp.status().is_success() {
        *resp.status_mut() = StatusCode::CREATED;
    }
    set(&mut resp, "location", location);
    Ok(resp)
}

/// Ends an upload created with a first body that did not go in (its creator never learnt where
/// it is).
async fn abandon(state: &AppState, dock: &Dock, upload: &UploadRow, reason: &str) {
    let Ok(Some(current)) = state.app.catalogue.upload(upload.id).await else {
        return;
    };
    if let Err(e) = door::end(
        &state.app.context(),
        &state.staging_dir,
        &current,
        UploadState::Terminated,
        "upload_abandoned",
        (door::dock_actor(dock), Ending::Unheld(crate::domain::now())),
        Some(reason.to_owned()),
    )
    .await
    {
        tracing::error!(upload = %upload.id, error = %e, "cannot end an abandoned upload");
    }
}

/// How a request body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Every byte the client meant to send this time arrived.
    Whole,
    /// The server is stopping; progress is saved.
    Stopping,
    /// The connection broke (or went quiet) before the body was complete.
    ClientGone,
}

/// The upload, if this dock owns it; another dock's upload does not exist for it.
async fn owned(state: &AppState, dock: &Dock, id: &str) -> Result<UploadRow> {
    let id: Uuid = id
        .parse()
        .map_err(|_| Error::not_found(format!("no upload {id}")))?;
    match state.app.catalogue.upload(id).await? {
        Some(u) if u.dock_id == dock.id => Ok(u),
        _ => Err(Error::not_found(format!("no upload {id}"))),
    }
}

fn gone_unless_receiving(u: &UploadRow) -> Result<()> {
    match u.state {
        UploadState::Receiving | UploadState::Completed => Ok(()),
        other => Err(Error::new(
            Code::Gone,
            format!("upload {} was {other}", u.id),
        )),
    }
}

async fn head(
    State(state): State<AppState>,
    DockAuth(dock): DockAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_version(&headers)?;
    let u = owned(&state, &dock, &id).await?;
    gone_unless_receiving(&u)?;
    let mut resp = StatusCode::OK.into_response();
    set(&mut resp, "upload-offset", u.upload_offset);
    set(&mut resp, "upload-length", u.length);
    set(&mut resp, "cache-control", "no-store");
    let meta: Vec<String> = u
        .metadata
        .0
        .iter()
        .map(|(k, v)| format!("{k} {}", B64.encode(v)))
        .collect();
    set(&mut resp, "upload-metadata", meta.join(","));
    if u.state == UploadState::Receiving {
        set(&mut resp, "upload-expires", http_date(u.expires_at));
    }
    if let Some(rec) = u.recording_id {
        set(&mut resp, "bwv-recording-id", rec);
    }
    Ok(resp)
}

async fn patch(
    State(state): State<AppState>,
    DockAuth(dock): DockAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_version(&headers)?;
    if header(&headers, "content-type") != Some(OFFSET_CONTENT_TYPE) {
        return Ok(ApiError(Error::bad_input(format!(
            "Content-Type must be {OFFSET_CONTENT_TYPE}"
        )))
        .response(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let u = owned(&state, &dock, &id).await?;
    gone_unless_receiving(&u)?;
    Ok(write_and_maybe_finish(&state, &dock, u, &headers, body)
        .await?
        .0)
}

/// Appends a request body at the client's offset; when the upload is whole, turns it into a
/// recording before answering.
async fn write_and_maybe_finish(
    state: &AppState,
    dock: &Dock,
    u: UploadRow,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(Response, Ended)> {
    let (lease, u, taken_over) = hold(state, u.id).await?;
    let written = write_held(state, dock, &lease, u, taken_over, headers, body).await;
    lease.release(&state.app.catalogue).await;
    written
}

async fn write_held(
    state: &AppState,
    dock: &Dock,
    lease: &Arc<door::Lease>,
    u: UploadRow,
    taken_over: bool,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(Response, Ended)> {
    if u.state != UploadState::Receiving {
        return Err(Error::new(Code::Conflict, format!("upload {} is {}", u.id, u.state)).into());
    }
    let offset = u64_header(headers, "upload-offset")?.unwrap_or(0);
    if offset != u.upload_offset as u64 {
        return Err(Error::new(
            Code::Conflict,
            format!(
                "Upload-Offset {offset} does not match the upload's offset {}",
                u.upload_offset
            ),
        )
        .into());
    }
    let checksum = header(headers, "upload-checksum")
        .map(parse_checksum)
        .transpose()?;
    let remaining = (u.length - u.upload_offset) as u64;
    if let Some(len) = u64_header(headers, "content-length")?
        && len > remaining
    {
        return Err(Error::bad_input(format!(
            "the body is {len} bytes but only {remaining} remain"
        ))
        .into());
    }
    let _slot = state.upload_slot(dock).await?;
    state.check_space(remaining)?;
    let started = Instant::now();

    let (done, ended) = append(state, dock, lease, &u, taken_over, body, checksum).await?;
    let new_offset = done.offset;
    let mut resp = if new_offset == u.length as u64 {
        let sha256 = Sha256Digest(done.hasher.finalize().into());
        let outcome = door::finish(
            &state.app.context(),
            &state.staging_dir,
            dock,
            &u,
            lease,
            sha256,
            done.stamp,
        )
        .await?;
        record_upload("tus", u.length as u64, started.elapsed().as_secs_f64());
        let mut resp = StatusCode::NO_CONTENT.into_response();
        set(&mut resp, "bwv-recording-id", outcome.recording_id);
        set(&mut resp, "bwv-sha256", outcome.sha256);
        resp
    } else if ended == Ended::Stopping {
        // Stopping: progress is saved; the dock resumes from Upload-Offset later.
        let mut resp = ApiError(Error::new(
            Code::Busy,
            "the server is stopping; resume later",
        ))
        .response(StatusCode::SERVICE_UNAVAILABLE);
        set(&mut resp, "upload-expires", http_date(expiry(state)));
        resp
    } else {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        set(&mut resp, "upload-expires", http_date(expiry(state)));
        resp
    };
    set(&mut resp, "upload-offset", new_offset);
    Ok((resp, ended))
}

/// `Upload-Checksum: sha256 <base64>`.
fn parse_checksum(value: &str) -> Result<[u8; 32]> {
    let (alg, b64) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| Error::bad_input("Upload-Checksum must be `sha256 <base64>`"))?;
    if !alg.eq_ignore_ascii_case("sha256") {
        return Err(Error::bad_input(format!(
            "checksum algorithm {alg:?} is not supported; use sha256"
        )));
    }
    B64.decode(b64.trim())
        .ok()
        .and_then(|d| d.try_into().ok())
        .ok_or_else(|| Error::bad_input("Upload-Checksum is not a base64 SHA-256"))
}

/// Whether the dock was revoked meanwhile. A catalogue that does not answer does not end a long
/// PATCH (the commit checks again).
async fn revoked_now(state: &AppState, dock: &Dock) -> bool {
    match state.app.catalogue.dock_revoked(dock.id).await {
        Ok(revoked) => revoked,
        Err(e) => {
            tracing::warn!(dock = %dock.name, error = %e, "cannot check the dock during an upload");
            false
        }
    }
}

/// Streams the body into the staging file. Returns the durable offset reached, the running hash
/// and the file's stamp there, and how the body ended. A dock revoked meanwhile is stopped at the
/// next checkpoint. The lease is renewed as the body arrives; once it cannot be, nothing more is
/// written and the request ends (the dock resumes, on whichever node, from the offset saved
/// last). Checkpoints are saved as their fsync answers, while the body goes on arriving. The
/// whole upload's offset is saved only as it completes (see `end_upload`).
async fn append(
    state: &AppState,
    dock: &Dock,
    lease: &Arc<door::Lease>,
    u: &UploadRow,
    taken_over: bool,
    body: Body,
    checksum: Option<[u8; 32]>,
) -> Result<(door::Appended, Ended)> {
    let cached = state.tus.take_hash(u.id);
    let mut put_back = PutBack {
        tus: &state.tus,
        id: u.id,
        expiry: expiry_after(state),
        running: cached.as_ref().map(door::Running::unstamped),
    };
    let opened = door::reopen(
        &state.app.context(),
        &state.staging_dir,
        u,
        lease,
        cached,
        taken_over,
    )
    .await;
    let (file, hasher) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            if e.code() == Code::ChecksumMismatch {
                put_back.running = None; // the upload went back to 0
            }
            return Err(e);
        }
    };
    // From here the file moves on past the offset, so the hash goes back without a stamp. (A
    // checkpoint that saves a later offset before the PATCH fails leaves it unused: the next
    // PATCH starts there, and rebuilds the hash without a comparison.)
    put_back.running = Some(door::Running {
        offset: u.upload_offset as u64,
        hasher: hasher.clone(),
        stamp: None,
    });
    let appended = write_body(state, dock, lease, u, (file, hasher), body, checksum).await;
    if appended.is_ok() {
        put_back.running = None; // `write_body` kept the hash it ended with
    }
    appended
}

/// `append` once the staging file is open at the upload's offset with its running hash there.
async fn write_body(
    state: &AppState,
    dock: &Dock,
    lease: &Arc<door::Lease>,
    u: &UploadRow,
    (file, hasher): (std::fs::File, sha2::Sha256),
    body: Body,
    checksum: Option<[u8; 32]>,
) -> Result<(door::Appended, Ended)> {
    let start = u.upload_offset as u64;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let hash_body = checksum.is_some();
    let lost_error = || {
        Error::new(
            Code::Locked,
            format!(
                "upload {}: {}; resume from its offset",
                u.id,
                door::LEASE_LOST
            ),
        )
    };
    let writer = {
        let lease = lease.clone();
        tokio::task::spawn_blocking(move || {
            door::append(file, start, hasher, hash_body, &lease, rx)
        })
    };
    let limit = (u.length - u.upload_offset) as u64;
    let mut stream = body.into_data_stream();
    let (mut received, mut since_save) = (0u64, 0u64);
    let (mut batch, mut batch_len) = (Vec::new(), 0usize);
    let mut ended = Ended::Whole;
    let (mut too_long, mut revoked, mut lost) = (false, false, false);
    let mut renew = tokio::time::interval_at(
        tokio::time::Instant::now() + lease.renew_every(),
        lease.renew_every(),
    );
    // The checkpoint being made durable, if any: the body goes on arriving meanwhile.
    let mut saving: Option<tokio::sync::oneshot::Receiver<std::io::Result<u64>>> = None;
    // A full batch waiting for its share of the node's budget: the body is not read meanwhile,
    // but the lease is still renewed, checkpoints saved and shutdown heeded.
    let mut waiting = None;
    loop {
        let frame = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => { ended = Ended::Stopping; break }
            _ = renew.tick() => {
                match still_ours(state, dock, lease).await {
                    Held::Yes => continue,
                    Held::Lost => { lost = true; break }
                    Held::Revoked => { revoked = true; break }
                }
            }
            Some(saved) = OptionFuture::from(saving.as_mut()), if saving.is_some() => {
                saving = None;
                match saved {
                    Ok(Ok(durable))
                        if durable < u.length as u64
                            && !state
                                .app
                                .catalogue
                                .advance_upload(u.id, &lease.owner, durable, expiry(state))
                                .await? =>
                    {
                        lost = true;
                        break;
                    }
                    Ok(Err(_)) => break, // the writer keeps the failure and ends with it (below)
                    _ => {}
                }
                continue;
            }
            Some(share) = OptionFuture::from(waiting.as_mut()), if waiting.is_some() => {
                waiting = None;
                let held = Batch::new(std::mem::take(&mut batch), share);
                batch_len = 0;
                if tx.send(door::Append::Data(held)).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
                if checksum.is_none() && since_save >= CHECKPOINT_BYTES && saving.is_none() {
                    since_save = 0;
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    if tx.send(door::Append::Sync(reply)).await.is_ok() {
                        saving = Some(answer);
                    }
                }
                continue;
            }
            frame = stream.next(), if waiting.is_none() => frame,
        };
        let bytes = match frame {
            None => break,
            Some(Ok(bytes)) => bytes,
            Some(Err(_)) => {
                ended = Ended::ClientGone; // keep what arrived; the dock resumes from there
                break;
            }
        };
        if !lease.alive() {
            lost = true;
            break;
        }
        received += bytes.len() as u64;
        if received > limit {
            too_long = true;
            break;
        }
        since_save += bytes.len() as u64;
        batch_len += bytes.len();
        batch.push(bytes);
        if batch_len >= BATCH_BYTES {
            waiting = Some(Box::pin(state.tus.budget.share(batch_len)));
        }
    }
    // A wait left in the budget's queue would stand before the one below, never to be served.
    drop(waiting);
    if !batch.is_empty() && !lost {
        let share = state.tus.budget.share(batch_len).await;
        let _ = tx.send(door::Append::Data(Batch::new(batch, share))).await;
    }
    drop(tx);
    let done = writer
        .await
        .map_err(|e| Error::new(Code::Io, format!("staging writer failed: {e}")))?;
    if lost || !lease.alive() {
        return Err(lost_error());
    }
    if let Some(e) = done.error {
        return Err(
            door::append_failed(&state.app.context(), &state.staging_dir, u, lease, e).await,
        );
    }
    if revoked {
        return Err(crate::ingest::revoked(dock));
    }
    if too_long {
        return Err(Error::bad_input(format!(
            "the body runs past Upload-Length {}",
            u.length
        )));
    }
    if let Some(want) = checksum {
        // A checksummed PATCH counts whole or not at all.
        if ended != Ended::Whole || done.body_sha256 != Some(want) {
            return Err(Error::new(
                Code::ChecksumMismatch,
                format!(
                    "the PATCH body does not match Upload-Checksum sha256 {}",
                    B64.encode(want)
                ),
            ));
        }
    }
    // The whole upload's offset is saved as it completes; anything short of it now.
    if done.offset < u.length as u64 {
        if !state
            .app
            .catalogue
            .advance_upload(u.id, &lease.owner, done.offset, expiry(state))
            .await?
        {
            return Err(lost_error());
        }
        let running = door::Running {
            offset: done.offset,
            hasher: done.hasher.clone(),
            stamp: done.stamp,
        };
        state.tus.keep_hash(u.id, running, expiry_after(state));
    }
    Ok((done, ended))
}

/// Whether a request may go on writing: its lease renewed, its dock not revoked.
enum Held {
    Yes,
    Lost,
    Revoked,
}

/// Renews the lease and checks the dock. A catalogue that does not answer ends neither: the
/// lease then runs out by the clock, and writing stops with it.
async fn still_ours(state: &AppState, dock: &Dock, lease: &door::Lease) -> Held {
    match lease.renew(&state.app.catalogue).await {
        Ok(true) => {}
        Ok(false) => return Held::Lost,
        Err(e) => {
            tracing::warn!(upload = %lease.upload, error = %e, "cannot renew the upload's lease");
        }
    }
    if revoked_now(state, dock).await {
        Held::Revoked
    } else {
        Held::Yes
    }
}

async fn terminate(
    State(state): State<AppState>,
    DockAuth(dock): DockAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_version(&headers)?;
    let u = owned(&state, &dock, &id).await?;
    let (lease, u, _) = hold(&state, u.id).await?;
    let ended = async {
        if u.state != UploadState::Receiving {
            return Err(Error::new(
                Code::Gone,
                format!("upload {} was {}", u.id, u.state),
            ));
        }
        door::end(
            &state.app.context(),
            &state.staging_dir,
            &u,
            UploadState::Terminated,
            "upload_terminated",
            (door::dock_actor(&dock), Ending::Holder(&lease.owner)),
            None,
        )
        .await
    }
    .await;
    if ended.is_err() {
        lease.release(&state.app.catalogue).await;
    }
    ended?;
    state.tus.take_hash(u.id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
