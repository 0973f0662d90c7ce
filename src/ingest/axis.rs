//! The Axis Body Worn Integration API's rules (reference/axis-body-worn-api.md), apart from HTTP:
//! a recording arrives as a container of clip, bookmark, GNSS and key objects, and becomes
//! evidence when the dock sets the container's `Status` to `Complete`. Until then it is listed
//! as incomplete. Every object is stored, catalogued and audited as it arrives.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Ingestor, check_identifier};
use crate::audit::record::{Actor, EventDraft, ObjectRef};
use crate::catalogue::{
    AxisContainer, AxisObject, Dock, GnssPoint, Metadata, NewClip, NewRecording, NewSighting,
};
use crate::config::AxisConfig;
use crate::domain::{Classification, RecordingStatus, Source};
use crate::error::{Code, Error, Result};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Clip,
    Key,
    Bookmark,
    Gnss,
    Other,
}

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

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Clip => "clip",
            Kind::Key => "key",
            Kind::Bookmark => "bookmark",
            Kind::Gnss => "gnss",
            Kind::Other => "other",
        }
    }

    /// Small objects are read whole (they are parsed); clips are streamed.
    pub fn read_whole(self) -> bool {
        !matches!(self, Kind::Clip | Kind::Other)
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

/// A registry object (`System/<id>`, `Users/<uuid>`, `Devices/<serial>`).
pub async fn register(
    ingestor: &Ingestor<'_>,
    cfg: &AxisConfig,
    dock: &Dock,
    container: &str,
    name: &str,
    meta: &Metadata,
) -> Result<()> {
    check_name("object", name)?;
    let active = meta
        .get("Active")
        .is_none_or(|a| !a.eq_ignore_ascii_case("false"));
    let (officers, devices) = ingestor.catalogue.registered_counts().await?;
    let mut tx = ingestor.catalogue.begin().await?;
    let result = match container {
        "Users" => {
            let officer = meta
                .get("UserID")
                .cloned()
                .unwrap_or_else(|| name.to_owned());
            check_identifier("officer", &officer)?;
            let new = ingestor.catalogue.officer_active(&officer).await?.is_none();
            if new && cfg.max_users > 0 && officers >= cfg.max_users {
                return Err(Error::new(
                    Code::LimitReached,
                    format!("the licence allows {} users", cfg.max_users),
                ));
            }
            tx.put_officer(&officer, meta.get("Name").map(String::as_str), active)
                .await?;
            json!({"registry": "Users", "officer": officer, "active": active})
        }
        "Devices" => {
            check_identifier("device", name)?;
            let new = ingestor.catalogue.device_active(name).await?.is_none();
            if new && cfg.max_devices > 0 && devices >= cfg.max_devices {
                return Err(Error::new(
                    Code::LimitReached,
                    format!("the licence allows {} cameras", cfg.max_devices),
                ));
            }
            let model = meta
                .get("Model")
                .or_else(|| meta.get("Name"))
                .map(String::as_str);
            tx.put_device(name, model, active).await?;
            json!({"registry": "Devices", "device": name, "active": active})
        }
        _ => json!({"registry": "System", "system": name}),
    };
    tx.put_axis_registry(dock.id, container, name, meta).await?;
    let mut event = EventDraft::new("registry_updated", dock_actor(dock), "dock", dock.id);
    event.result = Some(result);
    tx.append_audit(ingestor.audit.origin(), event).await?;
    tx.commit().await
}

/// Makes sure an officer or camera may upload: known and active, or registered now when docks
/// may do that (within the licence limits).
async fn admit(
    ingestor: &Ingestor<'_>,
    cfg: &AxisConfig,
    officer: &str,
    device: &str,
) -> Result<()> {
    check_identifier("officer", officer)?;
    check_identifier("device", device)?;
    let (officers, devices) = ingestor.catalogue.registered_counts().await?;
    for (what, id, active, count, max) in [
        (
            "user",
            officer,
            ingestor.catalogue.officer_active(officer).await?,
            officers,
            cfg.max_users,
        ),
        (
            "camera",
            device,
            ingestor.catalogue.device_active(device).await?,
            devices,
            cfg.max_devices,
        ),
    ] {
        match active {
            Some(true) => {}
            Some(false) => return Err(Error::bad_input(format!("{what} {id} is not active"))),
            None if !cfg.auto_register => {
                return Err(Error::bad_input(format!("unknown {what} {id}")));
            }
            None if max > 0 && count >= max => {
                return Err(Error::new(
                    Code::LimitReached,
                    format!("the licence allows {max} {what}s"),
                ));
            }
            None => {}
        }
    }
    Ok(())
}

/// Opens a recording container (or a rejected-content one). Returns it and whether it is new.
pub async fn open_container(
    ingestor: &Ingestor<'_>,
    cfg: &AxisConfig,
    dock: &Dock,
    name: &str,
    meta: Metadata,
) -> Result<(AxisContainer, bool)> {
    check_name("container", name)?;
    check_metadata(&meta)?;
    if let Some(mut existing) = ingestor.catalogue.axis_container(dock.id, name).await? {
        existing.metadata.0.extend(meta);
        let mut tx = ingestor.catalogue.begin().await?;
        tx.set_axis_container_metadata(existing.id, &existing.metadata.0)
            .await?;
        tx.commit().await?;
        return Ok((existing, false));
    }
    let rejected = name.starts_with("RejectedContent_");
    // <UserID>_<BWCSerialNumber>_<TriggerOnTime>; metadata, when sent, wins.
    let mut parts = name.rsplitn(3, '_');
    let (_, serial_from_name, user_from_name) = (parts.next(), parts.next(), parts.next());
    let (officer, device) = if rejected {
        ("unknown".to_owned(), "unknown".to_owned())
    } else {
        let officer = meta.get("UserID").map(String::as_str).or(user_from_name);
        let device = meta
            .get("BWCSerialNumber")
            .map(String::as_str)
            .or(serial_from_name);
        match (officer, device) {
            (Some(o), Some(d)) => (o.to_owned(), d.to_owned()),
            _ => {
                return Err(Error::bad_input(format!(
                    "container {name:?} names no user and camera"
                )));
            }
        }
    };
    if !rejected {
        admit(ingestor, cfg, &officer, &device).await?;
    }
    let now = crate::domain::now();
    let recording = Uuid::now_v7();
    let container = AxisContainer {
        id: Uuid::now_v7(),
        dock_id: dock.id,
        name: name.to_owned(),
        kind: if rejected { "rejected" } else { "recording" }.into(),
        recording_id: recording,
        metadata: sqlx::types::Json(meta),
        created_at: now,
        updated_at: now,
    };
    let mut tx = ingestor.catalogue.begin().await?;
    if rejected {
        // Content the dock could not deliver normally: kept whatever it is, under placeholders.
        tx.put_officer(&officer, Some("unknown (rejected content)"), false)
            .await?;
        tx.put_device(&device, Some("unknown (rejected content)"), false)
            .await?;
    } else {
        tx.ensure_officer(&officer).await?;
        tx.ensure_device(&device).await?;
    }
    tx.insert_recording(&NewRecording {
        id: recording,
        officer_id: officer.clone(),
        device_serial: device.clone(),
        source: Source::Axis,
        dock_id: Some(dock.id),
        external_ref: Some(format!("{}/{name}", dock.name)),
        recorded_at: parse_time(&container.metadata.0, "TriggerOnTimeISO", "TriggerOnTime")
            .unwrap_or(now),
        recorded_at_source: "camera",
        category: None,
        classification: Classification::Unreviewed,
        status: RecordingStatus::Incomplete.as_str(),
        flags: if rejected {
            vec!["rejected-content".into()]
        } else {
            Vec::new()
        },
        metadata: json!(container.metadata.0),
    })
    .await?;
    tx.insert_axis_container(&container).await?;
    // Footage still arriving has a deadline too: a container never completed is unreviewed.
    let next = crate::retention::recompute(&mut tx, ingestor.policy, recording).await?;
    let mut event = EventDraft::new("transfer_started", dock_actor(dock), "recording", recording);
    event.instrument = Some(
        json!({"name": "bwv", "version": env!("CARGO_PKG_VERSION"), "door": "axis", "device": device}),
    );
    event.result = Some(json!({
        "officer": officer,
        "container": container.kind,
        "status": "incomplete",
        "retention": crate::retention::audited(&next, ingestor.policy),
    }));
    tx.append_audit(ingestor.audit.origin(), event).await?;
    tx.commit().await?;
    Ok((container, true))
}

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
pub async fn put_object(
    ingestor: &Ingestor<'_>,
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
    let opts = PutOptions {
        want_md5: true,
        expected_md5: etag,
        // A zero-length clip can never be stored (400), except in a rejected-content container,
        // which must accept whatever comes.
        reject_empty: kind == Kind::Clip && container.kind == "recording",
        ..ingestor.put_options()
    };
    let (input, small_body) = match content {
        Content::Small(bytes) => (
            Input::Stream(Box::new(std::io::Cursor::new(bytes.clone()))),
            Some(bytes),
        ),
        Content::Stream(input) => (input, None),
    };
    let small_body = small_body.as_deref();
    let recording = ingestor
        .catalogue
        .recording(container.recording_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("recording of container {}", container.name)))?;
    if container.kind == "recording" && recording.status != RecordingStatus::Incomplete.as_str() {
        return Err(Error::bad_input(format!(
            "container {} is already complete",
            container.name
        )));
    }
    let gnss = match (kind, small_body) {
        (Kind::Gnss, Some(body)) if container.kind == "recording" => Some(parse_gnss(body)?),
        _ => None,
    };
    let put = ingestor.store.put(input, &opts).await?;
    let md5 = put.md5.map(hex::encode).unwrap_or_default();
    let mut tx = ingestor.catalogue.begin().await?;
    // Serialised with `finalize` on the recording row: a clip either lands before the recording
    // completes (and completion queues its media job) or sees it complete (and queues its own).
    tx.lock_recording(recording.id).await?;
    // A container whose recording the retention policy is purging takes nothing more.
    tx.ensure_not_purged(recording.id).await?;
    let completed =
        tx.recording_status(recording.id).await? != RecordingStatus::Incomplete.as_str();
    if container.kind == "recording" && completed {
        return Err(Error::bad_input(format!(
            "container {} is already complete",
            container.name
        )));
    }
    ingestor
        .catalogue_object(&mut tx, &put.sha256, put.size)
        .await?;
    let previous = tx
        .put_axis_object(&AxisObject {
            id: Uuid::now_v7(),
            container_id: container.id,
            name: name.to_owned(),
            kind: kind.as_str().into(),
            sha256: put.sha256.to_hex(),
            size: put.size as i64,
            md5: md5.clone(),
            metadata: sqlx::types::Json(meta.clone()),
        })
        .await?;
    match kind {
        Kind::Clip => {
            if previous.is_none()
                || !tx
                    .replace_clip(recording.id, name, &put.sha256.to_hex(), put.size)
                    .await?
            {
                let seq = tx.next_clip_seq(recording.id).await?;
                let clip_id = Uuid::now_v7();
                tx.insert_clip(&NewClip {
                    id: clip_id,
                    recording_id: recording.id,
                    seq,
                    sha256: put.sha256,
                    size: put.size,
                    original_name: Some(name.to_owned()),
                })
                .await?;
                if completed {
                    crate::jobs::enqueue_media(&mut tx, clip_id, ingestor.media_attempts).await?;
                }
            }
            tx.insert_sighting(&NewSighting {
                sha256: put.sha256,
                recording_id: recording.id,
                duplicate: !put.created,
                source: Source::Axis,
                source_name: Some(name.to_owned()),
                officer_id: recording.officer_id.clone(),
                device_serial: recording.device_serial.clone(),
                dock_id: Some(dock.id),
            })
            .await?;
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
    let mut event = EventDraft::new(
        "object_received",
        dock_actor(dock),
        "recording",
        recording.id,
    );
    event.objects.push(ObjectRef {
        sha256: put.sha256.to_hex(),
        size: put.size,
        role: Some(kind.as_str().into()),
    });
    let mut result =
        json!({"name": name, "kind": kind.as_str(), "md5": md5, "duplicate": !put.created});
    if let Some(prev) = previous {
        result["replaces"] = json!(prev);
    }
    if let Some(category) = meta.get("CategoryName") {
        result["category"] = json!(category);
    }
    event.result = Some(result);
    tx.append_audit(ingestor.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(put)
}

/// Replaces an object's metadata (POST on an object).
pub async fn set_object_metadata(
    ingestor: &Ingestor<'_>,
    dock: &Dock,
    container: &AxisContainer,
    name: &str,
    meta: Metadata,
) -> Result<()> {
    check_metadata(&meta)?;
    let mut tx = ingestor.catalogue.begin().await?;
    if !tx
        .set_axis_object_metadata(container.id, name, &meta)
        .await?
    {
        return Err(Error::not_found(format!(
            "no object {name} in container {}",
            container.name
        )));
    }
    let mut event = EventDraft::new(
        "metadata_changed",
        dock_actor(dock),
        "recording",
        container.recording_id,
    );
    event.result = Some(json!({"object": name}));
    tx.append_audit(ingestor.audit.origin(), event).await?;
    tx.commit().await
}

/// Updates a container's metadata (POST); `Status: Complete` finalises the recording.
pub async fn update_container(
    ingestor: &Ingestor<'_>,
    dock: &Dock,
    name: &str,
    meta: Metadata,
) -> Result<()> {
    check_name("container", name)?;
    check_metadata(&meta)?;
    let mut container = ingestor
        .catalogue
        .axis_container(dock.id, name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no container {name}")))?;
    container.metadata.0.extend(meta);
    let complete = container
        .metadata
        .0
        .get("Status")
        .is_some_and(|s| s.eq_ignore_ascii_case("complete"));
    let mut tx = ingestor.catalogue.begin().await?;
    tx.set_axis_container_metadata(container.id, &container.metadata.0)
        .await?;
    if complete {
        finalize(ingestor, &mut tx, dock, &container).await?;
    }
    tx.commit().await
}

/// Everything the recording consists of becomes evidence at once: status, times, category
/// (a category chosen on the camera arrives as a bookmark: classification at source), and the
/// ingest record listing every object, in the caller's transaction.
async fn finalize(
    ingestor: &Ingestor<'_>,
    tx: &mut crate::catalogue::Tx,
    dock: &Dock,
    container: &AxisContainer,
) -> Result<()> {
    // Taken before reading the clips, so a clip arriving at the same moment is either read
    // here or sees the recording complete (see `put_object`).
    tx.lock_recording(container.recording_id).await?;
    tx.ensure_not_purged(container.recording_id).await?;
    let Some(recording) = ingestor.catalogue.recording(container.recording_id).await? else {
        return Err(Error::not_found(format!(
            "recording of container {}",
            container.name
        )));
    };
    if recording.status != RecordingStatus::Incomplete.as_str() {
        return Ok(()); // completed before: the dock repeated itself
    }
    let objects = ingestor.catalogue.axis_objects(container.id).await?;
    let clips = objects.iter().filter(|o| o.kind == "clip").count();
    if clips == 0 && container.kind == "recording" {
        return Err(Error::bad_input(format!(
            "container {} is complete but holds no clip",
            container.name
        )));
    }
    let meta = &container.metadata.0;
    let started = parse_time(meta, "StartTimeISO", "StartTime")
        .or_else(|| parse_time(meta, "TriggerOnTimeISO", "TriggerOnTime"));
    let ended = parse_time(meta, "StopTimeISO", "StopTime");
    let category = objects
        .iter()
        .filter(|o| o.kind == "bookmark")
        .filter_map(|o| o.metadata.0.get("CategoryName").cloned())
        .next_back();
    let mut info: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    info.insert("container".into(), json!(container.name));
    info.insert("axis".into(), json!(meta));
    info.insert(
        "objects".into(),
        json!(
            objects
                .iter()
                .map(|o| json!({"name": o.name, "kind": o.kind, "sha256": o.sha256}))
                .collect::<Vec<_>>()
        ),
    );
    let flags = recording.flags.clone();
    tx.complete_recording(
        recording.id,
        started.unwrap_or(recording.recorded_at),
        if started.is_some() {
            "camera"
        } else {
            recording.recorded_at_source.as_str()
        },
        ended,
        category.as_deref(),
        &flags,
        &json!(info),
    )
    .await?;
    for clip in &recording.clips {
        crate::jobs::enqueue_media(tx, clip.id, ingestor.media_attempts).await?;
    }
    let category = category.or_else(|| recording.category.clone());
    let classification =
        crate::config::classification_at_source(ingestor.categories, category.as_deref());
    let actor = dock_actor(dock);
    if classification != Classification::Unreviewed {
        tx.classify(
            recording.id,
            classification,
            "camera-category",
            category.as_deref(),
            &actor.id,
        )
        .await?;
    }
    let next = crate::retention::recompute(tx, ingestor.policy, recording.id).await?;
    let mut event = EventDraft::new("ingest", actor, "recording", recording.id);
    event.objects = objects
        .iter()
        .map(|o| ObjectRef {
            sha256: o.sha256.clone(),
            size: o.size as u64,
            role: Some(o.kind.clone()),
        })
        .collect();
    event.instrument = Some(
        json!({"name": "bwv", "version": env!("CARGO_PKG_VERSION"), "door": "axis", "device": recording.device_serial}),
    );
    let mut result = json!({
        "officer": recording.officer_id,
        "recorded_at": crate::audit::record::format_ts(started.unwrap_or(recording.recorded_at)),
        "classification": classification.as_str(),
        "status": "stored",
        "clips": clips,
        "flags": flags,
        "retention": crate::retention::audited(&next, ingestor.policy),
    });
    if let Some(c) = &category {
        result["category"] = json!(c);
    }
    event.result = Some(result);
    tx.append_audit(ingestor.audit.origin(), event).await?;
    Ok(())
}
