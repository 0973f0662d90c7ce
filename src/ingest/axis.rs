//! The Axis Body Worn Integration API's rules (reference/axis-body-worn-api.md), apart from HTTP:
//! a recording arrives as a container of clip, bookmark, GNSS and key objects, and becomes
//! evidence when the dock sets the container's `Status` to `Complete`. Until then it is listed
//! as incomplete. Every object is stored, catalogued and audited as it arrives.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::record::{Actor, EventDraft, Instrument, ObjectRef};
use crate::catalogue::{
    AxisContainer, AxisObject, ContainerKind, Dock, GnssPoint, Metadata, Register, VersionOutcome,
};
use crate::context::Context;
use crate::domain::{RecordingStatus, Source, TimeSource};
use crate::error::{Code, Error, Result};
use crate::recording::admission;
use crate::recording::{self, Arrival, Begin, ClipArrived, Complete};
use crate::registry::{self, ControllerUser, Filed};
use crate::store::{Input, PutOptions, PutOutcome};

/// Metadata keys as the spec spells them; headers arrive lower-cased.
const KNOWN_KEYS: &[&str] = &[
    "Active",
    "BWCModel",
    "BWCSerialNumber",
    "CategoryID",
    "CategoryName",
    "ConnectionId",
    "ContainerName",
    "ContainerType",
    "EndTime",
    "FileType",
    "FirmwareVersion",
    "Model",
    "Name",
    "RejectedContentOriginalContainer",
    "RejectedContentReason",
    "RejectedContentTime",
    "SCUSerialNumber",
    "StartLocation",
    "StartTime",
    "StartTimeISO",
    "Status",
    "StopLocation",
    "StopTime",
    "StopTimeISO",
    "SystemName",
    "Tags",
    "TimeZone",
    "TriggerOff",
    "TriggerOffLocation",
    "TriggerOffTime",
    "TriggerOffTimeISO",
    "TriggerOn",
    "TriggerOnLocation",
    "TriggerOnTime",
    "TriggerOnTimeISO",
    "UserID",
];

/// Longest metadata value accepted (the spec's longest field is 100 characters).
pub const MAX_VALUE: usize = 256;
/// All metadata of one request together.
pub const MAX_METADATA: usize = 8192;

/// The spec's spelling of a lower-cased header key; unknown keys stay lower-case.
pub fn canonical_key(lower: &str) -> String {
    KNOWN_KEYS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(lower))
        .map(|k| (*k).to_owned())
        .unwrap_or_else(|| lower.to_owned())
}

/// Checks one metadata value (already URL-decoded).
pub fn check_metadata(meta: &Metadata) -> Result<()> {
    let mut total = 0;
    for (k, v) in meta {
        if v.len() > MAX_VALUE {
            return Err(Error::bad_input(format!(
                "metadata {k} is {} bytes; at most {MAX_VALUE}",
                v.len()
            )));
        }
        if v.chars().any(char::is_control) {
            return Err(Error::bad_input(format!(
                "metadata {k} holds control characters"
            )));
        }
        total += k.len() + v.len();
    }
    if total > MAX_METADATA {
        return Err(Error::bad_input(format!(
            "metadata totals {total} bytes; at most {MAX_METADATA}"
        )));
    }
    Ok(())
}

/// Container and object names become parts of paths and records: no separators, no dot
/// segments, no control characters.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && !name.starts_with('.')
        && !name.contains("..")
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(format!(
            "{what} name {name:?} is not allowed"
        )))
    }
}

/// Axis cameras write MKV or MP4; other docks speaking the same API send what their cameras make.
const VIDEO_EXTENSIONS: &[&str] = &[
    ".mkv", ".mp4", ".mov", ".avi", ".m4v", ".mts", ".ts", ".webm",
];

/// What an object in a recording container is.
pub use crate::domain::ObjectKind as Kind;

impl Kind {
    pub fn of(name: &str, meta: &Metadata) -> Kind {
        let file_type = meta.get("FileType").map(|s| s.to_ascii_lowercase());
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("bookmark_") {
            Kind::Bookmark
        } else if lower.ends_with(".key") || file_type.as_deref() == Some("key") {
            Kind::Key
        } else if lower.ends_with("gpstrail.json") || file_type.as_deref() == Some("json") {
            Kind::Gnss
        } else if VIDEO_EXTENSIONS.iter().any(|ext| lower.ends_with(ext)) {
            Kind::Clip
        } else {
            Kind::Other
        }
    }

    /// Small objects are read whole (they are parsed, and bounded); clips are streamed, and so
    /// is anything in a rejected-content container, which takes whatever comes.
    pub fn read_whole(self, recording_container: bool) -> bool {
        match self {
            Kind::Clip => false,
            Kind::Other => recording_container,
            Kind::Key | Kind::Bookmark | Kind::Gnss => true,
        }
    }
}

pub fn dock_actor(dock: &Dock) -> Actor {
    Actor::service(format!("dock:{}", dock.name))
}

fn parse_time(meta: &Metadata, iso: &str, epoch: &str) -> Option<DateTime<Utc>> {
    meta.get(iso)
        .and_then(|s| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
        .or_else(|| {
            meta.get(epoch)
                .and_then(|s| s.parse::<i64>().ok())
                .and_then(|e| Utc.timestamp_opt(e, 0).single())
        })
}

/// A registry object (`System/<id>`, `Users/<uuid>`, `Devices/<serial>`). A dock changes only
/// its own controller's mappings and labels (see `registry`).
pub async fn register(
    ctx: &Context<'_>,
    dock: &Dock,
    container: &str,
    name: &str,
    meta: &Metadata,
) -> Result<()> {
    check_name("object", name)?;
    check_metadata(meta)?;
    match container {
        "Users" => {
            let user = ControllerUser {
                uuid: name.to_owned(),
                name: meta.get("Name").cloned(),
                // Empty when the controller does not store the force's id for its users.
                user_id: meta
                    .get("UserID")
                    .filter(|id| !id.trim().is_empty())
                    .cloned(),
                active: meta
                    .get("Active")
                    .is_none_or(|a| !a.eq_ignore_ascii_case("false")),
            };
            registry::put_controller_user(ctx, dock, &user).await?;
            Ok(())
        }
        "Devices" => registry::put_controller_device(ctx, dock, name, meta).await,
        _ => registry::put_controller_system(ctx, dock, name, meta).await,
    }
}

/// Opens a recording container (or a rejected-content one). Returns it and whether it is new.
/// The container is named `<UserUUID>_<BWCSerialNumber>_<TriggerOnTime>`, where the UUID is the
/// controller's own id for the user (its `Users/` object); metadata, when sent, wins.
pub async fn open_container(
    ctx: &Context<'_>,
    dock: &Dock,
    name: &str,
    meta: Metadata,
) -> Result<(AxisContainer, bool)> {
    check_name("container", name)?;
    check_metadata(&meta)?;
    if let Some(existing) = ctx.catalogue.axis_container(dock.id, name).await? {
        update_metadata(ctx, dock, &existing, meta).await?;
        return Ok((existing, false));
    }
    let rejected = name.starts_with("RejectedContent_");
    let named = if rejected {
        None
    } else {
        match filed_under(name, &meta) {
            (Some(u), Some(d)) => Some((u.to_owned(), d.to_owned())),
            _ => {
                return Err(Error::bad_input(format!(
                    "container {name:?} names no user and camera"
                )));
            }
        }
    };
    let now = crate::domain::now();
    let recording = Uuid::now_v7();
    let container = AxisContainer {
        id: Uuid::now_v7(),
        dock_id: dock.id,
        name: name.to_owned(),
        kind: if rejected {
            ContainerKind::Rejected
        } else {
            ContainerKind::Recording
        },
        recording_id: recording,
        metadata: sqlx::types::Json(meta),
        created_at: now,
        updated_at: now,
    };
    let mut tx = ctx.catalogue.begin().await?;
    tx.ensure_dock_active(dock).await?;
    // Content the dock could not deliver normally is kept whatever it is, under placeholders.
    let (filed, device) = match &named {
        None => {
            tx.ensure_placeholders(UNKNOWN, UNKNOWN).await?;
            let filed = Filed {
                officer: UNKNOWN.to_owned(),
                label: None,
            };
            (filed, UNKNOWN.to_owned())
        }
        Some((user, device)) => {
            let filed = registry::officer_for_user(ctx, &mut tx, dock, user).await?;
            admission::admit_one(ctx, &mut tx, dock, Source::Axis, Register::Cameras, device)
                .await?;
            (filed, device.clone())
        }
    };
    let next = recording::begin(
        ctx,
        &mut tx,
        &Begin {
            id: recording,
            officer: filed.officer.clone(),
            officer_label: filed.label.clone(),
            device: device.clone(),
            source: Source::Axis,
            dock: Some(dock.id),
            external_ref: Some(format!("{}/{name}", dock.name)),
            recorded_at: parse_time(&container.metadata.0, "TriggerOnTimeISO", "TriggerOnTime")
                .unwrap_or(now),
            recorded_at_source: TimeSource::Camera,
            category: None,
            flags: if rejected {
                vec!["rejected-content".into()]
            } else {
                Vec::new()
            },
            metadata: serde_json::to_value(&container.metadata.0)
                .map_err(|e| Error::bad_input(format!("container {name} metadata: {e}")))?,
        },
    )
    .await?;
    if !tx.insert_axis_container(&container).await? {
        // The dock opened it through another request at the same moment: that one stands.
        drop(tx);
        let existing = ctx
            .catalogue
            .axis_container(dock.id, name)
            .await?
            .ok_or_else(|| Error::not_found(format!("container {name} vanished")))?;
        return Ok((existing, false));
    }
    let event = EventDraft::new("transfer_started", dock_actor(dock), "recording", recording)
        .with_instrument(&Instrument::door(Source::Axis.as_str(), &device))?
        .with_result(&TransferStarted {
            officer: &filed.officer,
            container: container.kind,
            status: RecordingStatus::Incomplete,
            retention: crate::retention::audited(&next, ctx.policy),
            controller_user: named.as_ref().map(|(user, _)| user.as_str()),
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok((container, true))
}

/// The `transfer_started` record: a dock opened a container; the recording is incomplete.
#[derive(Serialize)]
struct TransferStarted<'a> {
    officer: &'a str,
    container: ContainerKind,
    status: RecordingStatus,
    retention: crate::retention::Audited<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    controller_user: Option<&'a str>,
}

/// What rejected content is filed under: nobody can say whose or which camera's it is.
const UNKNOWN: &str = "unknown";

/// Parses a GNSS track: `{"CoordinateEntries": [{"LocationWKT": "POINT(lon lat)", ...}]}`.
pub fn parse_gnss(body: &[u8]) -> Result<Vec<GnssPoint>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Track {
        coordinate_entries: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        #[serde(rename = "LocationWKT")]
        location_wkt: String,
        seconds_from_start: Option<f64>,
        timestamp: Option<String>,
    }
    let track: Track = serde_json::from_slice(body)
        .map_err(|e| Error::bad_input(format!("GNSS track is not the expected JSON: {e}")))?;
    track
        .coordinate_entries
        .into_iter()
        .map(|e| {
            let inner = e
                .location_wkt
                .trim()
                .strip_prefix("POINT(")
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| {
                    Error::bad_input(format!(
                        "GNSS point {:?} is not POINT(lon lat)",
                        e.location_wkt
                    ))
                })?;
            let mut nums = inner.split_whitespace().map(str::parse::<f64>);
            let (Some(Ok(longitude)), Some(Ok(latitude)), None) =
                (nums.next(), nums.next(), nums.next())
            else {
                return Err(Error::bad_input(format!(
                    "GNSS point {:?} is not POINT(lon lat)",
                    e.location_wkt
                )));
            };
            if !(-180.0..=180.0).contains(&longitude) || !(-90.0..=90.0).contains(&latitude) {
                return Err(Error::bad_input(format!(
                    "GNSS point {:?} is off the globe",
                    e.location_wkt
                )));
            }
            let at = e
                .timestamp
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            Ok(GnssPoint {
                longitude,
                latitude,
                seconds_from_start: e.seconds_from_start,
                at,
            })
        })
        .collect()
}

/// An object's bytes: small ones (bookmarks, GNSS tracks, keys) in memory, to be parsed too;
/// clips as a stream.
pub enum Content {
    Small(Vec<u8>),
    Stream(Input),
}

/// Stores one object of a container and catalogues it by kind, audited, in one transaction.
/// `etag` is the MD5 a Swift client sent: a mismatch stores nothing.
///
/// Every byte a dock sends stays accounted for: an object sent again under the same name keeps
/// its earlier bytes as a superseded version (both may be evidence), and a clip that loses the
/// race with `Status: Complete` is refused but kept with the recording as refused content.
pub async fn put_object(
    ctx: &Context<'_>,
    dock: &Dock,
    container: &AxisContainer,
    name: &str,
    meta: Metadata,
    content: Content,
    etag: Option<[u8; 16]>,
) -> Result<PutOutcome> {
    check_name("object", name)?;
    check_metadata(&meta)?;
    let kind = Kind::of(name, &meta);
    let recording_container = container.kind == ContainerKind::Recording;
    let opts = PutOptions {
        want_md5: true,
        expected_md5: etag,
        // A zero-length clip can never be stored (400), except in a rejected-content container,
        // which must accept whatever comes.
        reject_empty: kind == Kind::Clip && recording_container,
        ..ctx.put_options()
    };
    let (input, small_body) = match content {
        Content::Small(bytes) => (
            Input::Stream(Box::new(std::io::Cursor::new(bytes.clone()))),
            Some(bytes),
        ),
        Content::Stream(input) => (input, None),
    };
    let small_body = small_body.as_deref();
    let recording = ctx
        .catalogue
        .recording(container.recording_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("recording of container {}", container.name)))?;
    if recording_container && recording.status != RecordingStatus::Incomplete {
        return Err(already_complete(container));
    }
    let gnss = match (kind, small_body) {
        (Kind::Gnss, Some(body)) if recording_container => Some(parse_gnss(body)?),
        _ => None,
    };
    // A dock revoked while its bytes arrived stores nothing (checked again at commit).
    if ctx.catalogue.dock_revoked(dock.id).await? {
        return Err(super::revoked(dock));
    }
    let put = ctx.store.put(input, &opts).await?;
    let md5 = put.md5.map(hex::encode).unwrap_or_default();
    let object = AxisObject {
        id: Uuid::now_v7(),
        container_id: container.id,
        name: name.to_owned(),
        kind,
        sha256: put.sha256.to_hex(),
        size: put.size as i64,
        md5: md5.clone(),
        metadata: sqlx::types::Json(meta.clone()),
        updated_at: crate::domain::now(),
    };
    let mut tx = ctx.catalogue.begin().await?;
    tx.ensure_dock_active(dock).await?;
    // Serialised with `finalize` on the recording row: a clip either lands before the recording
    // completes (and completion queues its media job) or sees it complete.
    tx.lock_recording(recording.id).await?;
    // A container whose recording the retention policy is purging takes nothing more.
    tx.ensure_not_purged(recording.id).await?;
    let completed = tx.recording_status(recording.id).await? != RecordingStatus::Incomplete;
    ctx.catalogue_object(&mut tx, &put.sha256, put.size, None)
        .await?;
    let received = |event: &str| {
        EventDraft::new(event, dock_actor(dock), "recording", recording.id).with_object(ObjectRef {
            sha256: put.sha256.to_hex(),
            size: put.size,
            role: Some(kind.as_str().into()),
        })
    };
    if recording_container && completed {
        tx.keep_axis_object_version(&object, VersionOutcome::RefusedAfterComplete)
            .await?;
        let event = received("object_refused").with_result(&ObjectRefused {
            name,
            kind,
            md5: &md5,
            reason: "the container completed before this object arrived",
        })?;
        tx.append_audit(ctx.audit.origin(), event).await?;
        tx.commit().await?;
        return Err(already_complete(container));
    }
    let previous = tx.axis_object(container.id, name).await?;
    let superseded = previous.filter(|p| p.sha256 != object.sha256);
    if let Some(prev) = &superseded {
        tx.keep_axis_object_version(prev, VersionOutcome::Superseded)
            .await?;
    }
    tx.put_axis_object(&object).await?;
    match kind {
        Kind::Clip => {
            let clip = ClipArrived {
                sha256: put.sha256,
                size: put.size,
                name: Some(name),
                duplicate: !put.created,
                by: Arrival {
                    source: Source::Axis,
                    officer: &recording.officer_id,
                    device: &recording.device_serial,
                    dock: Some(dock.id),
                },
            };
            recording::add_clip(ctx, &mut tx, recording.id, completed, &clip).await?;
        }
        Kind::Bookmark => {
            let note = small_body
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let at = meta
                .get("StartTime")
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc));
            tx.insert_bookmark(
                recording.id,
                at,
                meta.get("CategoryName").map(String::as_str),
                &note,
                &meta,
            )
            .await?;
        }
        Kind::Gnss => {
            if let Some(points) = &gnss {
                tx.put_gnss(recording.id, &put.sha256.to_hex(), points)
                    .await?;
            }
        }
        Kind::Key | Kind::Other => {}
    }
    let event = received("object_received").with_result(&ObjectReceived {
        name,
        kind,
        md5: &md5,
        duplicate: !put.created,
        replaces: superseded.as_ref().map(|p| p.sha256.as_str()),
        category: meta.get("CategoryName").map(String::as_str),
    })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(put)
}

/// The `object_received` record: one object of a container, stored and catalogued.
#[derive(Serialize)]
struct ObjectReceived<'a> {
    name: &'a str,
    kind: Kind,
    md5: &'a str,
    duplicate: bool,
    /// The hash of the bytes this object replaced (kept as a superseded version).
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
}

/// The `object_refused` record: bytes that arrived too late, kept but not part of the recording.
#[derive(Serialize)]
struct ObjectRefused<'a> {
    name: &'a str,
    kind: Kind,
    md5: &'a str,
    reason: &'static str,
}

fn already_complete(container: &AxisContainer) -> Error {
    Error::bad_input(format!("container {} is already complete", container.name))
}

/// After `Status: Complete` the dock sends nothing more (Axis spec): saying the same again is
/// a harmless repeat, anything else is refused rather than changing evidence silently.
fn refuse_change_after_complete(
    container: &AxisContainer,
    what: &str,
    stored: &Metadata,
    sent: &Metadata,
) -> Result<()> {
    match sent.iter().find(|(k, v)| stored.get(*k) != Some(*v)) {
        None => Ok(()),
        Some((key, _)) => Err(Error::new(
            Code::Forbidden,
            format!(
                "container {} is complete: {what} metadata {key} can no longer change",
                container.name
            ),
        )),
    }
}

/// The user and camera a recording container was filed under when it opened, from its
/// metadata or else its name (`<UserUUID>_<BWCSerialNumber>_<TriggerOnTime>`).
fn filed_under<'a>(name: &'a str, meta: &'a Metadata) -> (Option<&'a str>, Option<&'a str>) {
    let mut parts = name.rsplitn(3, '_');
    let (_, serial, user) = (parts.next(), parts.next(), parts.next());
    (
        meta.get("UserID").map(String::as_str).or(user),
        meta.get("BWCSerialNumber").map(String::as_str).or(serial),
    )
}

/// A recording is filed under its user and camera when its container opens; a later message
/// naming others would leave the container saying one thing and the recording another.
fn refuse_refiling(container: &AxisContainer, stored: &Metadata, sent: &Metadata) -> Result<()> {
    let (user, camera) = filed_under(&container.name, stored);
    for (key, was) in [("UserID", user), ("BWCSerialNumber", camera)] {
        if let Some(now) = sent.get(key)
            && Some(now.as_str()) != was
        {
            return Err(Error::bad_input(format!(
                "container {} was opened for {key} {}; it cannot change to {now}",
                container.name,
                was.unwrap_or("(none)")
            )));
        }
    }
    Ok(())
}

/// Replaces an object's metadata (POST on an object), audited; refused once the recording is
/// complete.
pub async fn set_object_metadata(
    ctx: &Context<'_>,
    dock: &Dock,
    container: &AxisContainer,
    name: &str,
    meta: Metadata,
) -> Result<()> {
    check_metadata(&meta)?;
    let mut tx = ctx.catalogue.begin().await?;
    tx.ensure_dock_active(dock).await?;
    tx.lock_recording(container.recording_id).await?;
    let Some(object) = tx.axis_object(container.id, name).await? else {
        return Err(Error::not_found(format!(
            "no object {name} in container {}",
            container.name
        )));
    };
    let complete =
        tx.recording_status(container.recording_id).await? != RecordingStatus::Incomplete;
    if complete && container.kind == ContainerKind::Recording {
        refuse_change_after_complete(container, "object", &object.metadata.0, &meta)?;
        if object.metadata.0 == meta {
            return Ok(());
        }
    }
    tx.set_axis_object_metadata(container.id, name, &meta)
        .await?;
    let event = EventDraft::new(
        "metadata_changed",
        dock_actor(dock),
        "recording",
        container.recording_id,
    )
    .with_result(&MetadataChanged {
        object: name,
        metadata: &meta,
    })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await
}

/// The `metadata_changed` record: a dock replaced an object's metadata while it could.
#[derive(Serialize)]
struct MetadataChanged<'a> {
    object: &'a str,
    metadata: &'a Metadata,
}

/// Updates a container's metadata (POST); `Status: Complete` finalises the recording.
pub async fn update_container(
    ctx: &Context<'_>,
    dock: &Dock,
    name: &str,
    meta: Metadata,
) -> Result<()> {
    check_name("container", name)?;
    check_metadata(&meta)?;
    let container = ctx
        .catalogue
        .axis_container(dock.id, name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no container {name}")))?;
    update_metadata(ctx, dock, &container, meta).await
}

/// Merges what the dock says into a container's metadata under the recording's lock, and
/// completes the recording when it says `Status: Complete`. Once complete, nothing changes.
async fn update_metadata(
    ctx: &Context<'_>,
    dock: &Dock,
    container: &AxisContainer,
    meta: Metadata,
) -> Result<()> {
    let mut tx = ctx.catalogue.begin().await?;
    tx.ensure_dock_active(dock).await?;
    tx.lock_recording(container.recording_id).await?;
    let mut stored = tx.axis_container_metadata(container.id).await?;
    let status = tx.recording_status(container.recording_id).await?;
    if status != RecordingStatus::Incomplete {
        return refuse_change_after_complete(container, "container", &stored, &meta);
    }
    if container.kind == ContainerKind::Recording {
        refuse_refiling(container, &stored, &meta)?;
    }
    if !meta.is_empty() {
        stored.extend(meta);
        tx.set_axis_container_metadata(container.id, &stored)
            .await?;
    }
    let complete = stored
        .get("Status")
        .is_some_and(|s| s.eq_ignore_ascii_case("complete"));
    if complete {
        let mut container = container.clone();
        container.metadata.0 = stored;
        finalize(ctx, &mut tx, dock, &container).await?;
    }
    tx.commit().await
}

/// Everything the recording consists of becomes evidence at once: times, the category chosen
/// on the camera (it arrives as a bookmark: classification at source), the container's metadata
/// with its object list, and every object and kept version in the `ingest` record.
async fn finalize(
    ctx: &Context<'_>,
    tx: &mut crate::catalogue::Tx,
    dock: &Dock,
    container: &AxisContainer,
) -> Result<()> {
    // Taken before reading the objects, so a clip arriving at the same moment is either read
    // here or sees the recording complete (see `put_object`).
    tx.lock_recording(container.recording_id).await?;
    if tx.recording_status(container.recording_id).await? != RecordingStatus::Incomplete {
        return Ok(()); // completed before: the dock repeated itself
    }
    let objects = tx.axis_objects(container.id).await?;
    let versions = tx.axis_object_versions(container.id).await?;
    if container.kind == ContainerKind::Recording && !objects.iter().any(|o| o.kind == Kind::Clip) {
        return Err(Error::bad_input(format!(
            "container {} is complete but holds no clip",
            container.name
        )));
    }
    let meta = &container.metadata.0;
    let info = ContainerInfo {
        container: &container.name,
        axis: meta,
        objects: objects
            .iter()
            .map(|o| Listed {
                name: &o.name,
                kind: o.kind,
                sha256: &o.sha256,
            })
            .collect(),
        kept_versions: &versions,
    };
    let end = Complete {
        started: parse_time(meta, "StartTimeISO", "StartTime")
            .or_else(|| parse_time(meta, "TriggerOnTimeISO", "TriggerOnTime")),
        ended: parse_time(meta, "StopTimeISO", "StopTime"),
        category: objects
            .iter()
            .filter(|o| o.kind == Kind::Bookmark)
            .filter_map(|o| o.metadata.0.get("CategoryName").cloned())
            .next_back(),
        flags: Vec::new(),
        metadata: Some(serde_json::to_value(&info).map_err(|e| {
            Error::bad_input(format!("container {} metadata: {e}", container.name))
        })?),
        objects: objects
            .iter()
            .map(|o| ObjectRef {
                sha256: o.sha256.clone(),
                size: o.size as u64,
                role: Some(o.kind.to_string()),
            })
            .chain(versions.iter().map(|v| ObjectRef {
                sha256: v.sha256.clone(),
                size: v.size as u64,
                role: Some(format!("{}-{}", v.outcome, v.kind)),
            }))
            .collect(),
    };
    recording::complete(ctx, tx, container.recording_id, dock_actor(dock), end).await?;
    Ok(())
}

/// What a completed recording keeps of its container: the dock's metadata and the object list.
#[derive(Serialize)]
struct ContainerInfo<'a> {
    container: &'a str,
    axis: &'a Metadata,
    objects: Vec<Listed<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    kept_versions: &'a [crate::catalogue::AxisObjectVersion],
}

#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    kind: Kind,
    sha256: &'a str,
}
