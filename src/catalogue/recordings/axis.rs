//! The Axis door's rows: recording containers and their objects, the System/Users/Devices
//! registry, bookmarks and GNSS points.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::error::{Result, ResultExt};

pub type Metadata = BTreeMap<String, String>;

#[derive(Debug, Clone, FromRow)]
pub struct AxisContainer {
    pub id: Uuid,
    pub dock_id: Uuid,
    pub name: String,
    pub kind: ContainerKind,
    pub recording_id: Uuid,
    pub metadata: Json<Metadata>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromRow)]
pub struct AxisObject {
    pub id: Uuid,
    pub container_id: Uuid,
    pub name: String,
    pub kind: ObjectKind,
    pub sha256: String,
    pub size: i64,
    pub md5: String,
    pub metadata: Json<Metadata>,
    /// When these bytes arrived under this name.
    pub updated_at: DateTime<Utc>,
}

pub use crate::domain::{ContainerKind, ObjectKind, VersionOutcome};

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AxisObjectVersion {
    pub name: String,
    pub kind: ObjectKind,
    pub sha256: String,
    pub size: i64,
    pub received_at: DateTime<Utc>,
    pub outcome: VersionOutcome,
    pub outcome_at: DateTime<Utc>,
}

const VERSION_QUERY: &str = "SELECT name, kind, sha256, size, received_at, outcome, outcome_at \
     FROM axis_object_versions WHERE container_id = $1 ORDER BY outcome_at, id";
const VERSION_BY_RECORDING: &str = "SELECT v.name, v.kind, v.sha256, v.size, v.received_at, \
     v.outcome, v.outcome_at FROM axis_object_versions v \
     JOIN axis_containers k ON k.id = v.container_id WHERE k.recording_id = $1 \
     ORDER BY v.outcome_at, v.id";

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct GnssPoint {
    pub longitude: f64,
    pub latitude: f64,
    pub seconds_from_start: Option<f64>,
    pub at: Option<DateTime<Utc>>,
}

/// A moment an officer marked while recording.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct BookmarkRow {
    pub marked_at: Option<DateTime<Utc>>,
    /// From the start of the recording.
    pub offset_ms: Option<i64>,
    pub category: Option<String>,
    pub note: Option<String>,
}

const CONTAINER_COLUMNS: &str =
    "id, dock_id, name, kind, recording_id, metadata, created_at, updated_at";
const OBJECT_COLUMNS: &str =
    "id, container_id, name, kind, sha256, size, md5, metadata, updated_at";

impl Tx {
    /// Inserts a container; false when the dock opened one of that name at the same moment.
    pub async fn insert_axis_container(&mut self, c: &AxisContainer) -> Result<bool> {
        let n = on_tx!(self, conn => {
            sqlx::query(&format!(
                "INSERT INTO axis_containers ({CONTAINER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (dock_id, name) DO NOTHING"
            ))
            .bind(c.id)
            .bind(c.dock_id)
            .bind(&c.name)
            .bind(c.kind)
            .bind(c.recording_id)
            .bind(&c.metadata)
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording container {}", c.name))?;
        Ok(n == 1)
    }

    /// A container's metadata as this transaction sees it.
    pub async fn axis_container_metadata(&mut self, id: Uuid) -> Result<Metadata> {
        let meta: Json<Metadata> = on_tx!(self, c => {
            sqlx::query_scalar("SELECT metadata FROM axis_containers WHERE id = $1")
                .bind(id)
                .fetch_one(c)
                .await
        })
        .context(|| format!("reading container {id}"))?;
        Ok(meta.0)
    }

    pub async fn set_axis_container_metadata(
        &mut self,
        id: Uuid,
        metadata: &Metadata,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE axis_containers SET metadata = $1, updated_at = $2 WHERE id = $3")
                .bind(Json(metadata))
                .bind(crate::domain::now())
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("updating container {id}"))?;
        Ok(())
    }

    /// The object of that name in a container, as this transaction sees it.
    pub async fn axis_object(&mut self, container: Uuid, name: &str) -> Result<Option<AxisObject>> {
        on_tx!(self, c => {
            sqlx::query_as(&format!(
                "SELECT {OBJECT_COLUMNS} FROM axis_objects WHERE container_id = $1 AND name = $2"
            ))
            .bind(container)
            .bind(name)
            .fetch_optional(c)
            .await
        })
        .context(|| format!("looking up object {name}"))
    }

    /// Every object of a container, as this transaction sees it.
    pub async fn axis_objects(&mut self, container: Uuid) -> Result<Vec<AxisObject>> {
        on_tx!(self, c => {
            sqlx::query_as(&format!(
                "SELECT {OBJECT_COLUMNS} FROM axis_objects WHERE container_id = $1 ORDER BY name"
            ))
            .bind(container)
            .fetch_all(c)
            .await
        })
        .context(|| format!("listing objects of container {container}"))
    }

    /// Records an object as current under its name (a version it replaces is kept by the
    /// caller with [`Tx::keep_axis_object_version`] first).
    pub async fn put_axis_object(&mut self, o: &AxisObject) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO axis_objects (id, container_id, name, kind, sha256, size, md5, metadata, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                 ON CONFLICT (container_id, name) DO UPDATE SET kind = excluded.kind, \
                 sha256 = excluded.sha256, size = excluded.size, md5 = excluded.md5, \
                 metadata = excluded.metadata, updated_at = excluded.updated_at",
            )
            .bind(o.id)
            .bind(o.container_id)
            .bind(&o.name)
            .bind(o.kind)
            .bind(&o.sha256)
            .bind(o.size)
            .bind(&o.md5)
            .bind(&o.metadata)
            .bind(o.updated_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording object {}", o.name))?;
        Ok(())
    }

    /// Keeps bytes a dock sent under an object's name that are not the object (any more):
    /// `superseded` by a later PUT, or `refused-after-complete`.
    pub async fn keep_axis_object_version(
        &mut self,
        o: &AxisObject,
        outcome: VersionOutcome,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO axis_object_versions (id, container_id, name, kind, sha256, size, md5, \
                 metadata, received_at, outcome, outcome_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(Uuid::now_v7())
            .bind(o.container_id)
            .bind(&o.name)
            .bind(o.kind)
            .bind(&o.sha256)
            .bind(o.size)
            .bind(&o.md5)
            .bind(&o.metadata)
            .bind(o.updated_at)
            .bind(outcome)
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("keeping an earlier version of object {}", o.name))?;
        Ok(())
    }

    /// The versions kept for a container's objects, oldest first.
    pub async fn axis_object_versions(
        &mut self,
        container: Uuid,
    ) -> Result<Vec<AxisObjectVersion>> {
        on_tx!(self, c => {
            sqlx::query_as(VERSION_QUERY).bind(container).fetch_all(c).await
        })
        .context(|| format!("listing kept versions in container {container}"))
    }

    pub async fn set_axis_object_metadata(
        &mut self,
        container: Uuid,
        name: &str,
        metadata: &Metadata,
    ) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query("UPDATE axis_objects SET metadata = $1, updated_at = $2 WHERE container_id = $3 AND name = $4")
                .bind(Json(metadata))
                .bind(crate::domain::now())
                .bind(container)
                .bind(name)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("updating object {name}"))?;
        Ok(n == 1)
    }

    pub async fn put_axis_registry(
        &mut self,
        dock: Uuid,
        container: &str,
        name: &str,
        metadata: &Metadata,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO axis_registry (dock_id, container, name, metadata, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (dock_id, container, name) DO UPDATE SET metadata = excluded.metadata, \
                 updated_at = excluded.updated_at",
            )
            .bind(dock)
            .bind(container)
            .bind(name)
            .bind(Json(metadata))
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording {container}/{name}"))?;
        Ok(())
    }

    pub async fn insert_bookmark(
        &mut self,
        recording: Uuid,
        marked_at: Option<DateTime<Utc>>,
        category: Option<&str>,
        note: &str,
        raw: &Metadata,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO bookmarks (id, recording_id, marked_at, category, note, raw) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(Uuid::now_v7())
            .bind(recording)
            .bind(marked_at)
            .bind(category)
            .bind(note)
            .bind(Json(raw))
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording a bookmark of {recording}"))?;
        Ok(())
    }

    pub async fn put_gnss(
        &mut self,
        recording: Uuid,
        sha256: &str,
        points: &[GnssPoint],
    ) -> Result<()> {
        on_tx!(self, c => async {
            sqlx::query("DELETE FROM gnss_points WHERE recording_id = $1").bind(recording).execute(&mut *c).await?;
            sqlx::query(
                "INSERT INTO gnss_tracks (recording_id, sha256, points) VALUES ($1, $2, $3) \
                 ON CONFLICT (recording_id) DO UPDATE SET sha256 = excluded.sha256, points = excluded.points",
            )
            .bind(recording)
            .bind(sha256)
            .bind(points.len() as i64)
            .execute(&mut *c)
            .await?;
            for (seq, p) in points.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO gnss_points (recording_id, seq, longitude, latitude, seconds_from_start, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(recording)
                .bind(seq as i64 + 1)
                .bind(p.longitude)
                .bind(p.latitude)
                .bind(p.seconds_from_start)
                .bind(p.at)
                .execute(&mut *c)
                .await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .context(|| format!("recording the GNSS track of {recording}"))
    }
}

impl Catalogue {
    pub async fn axis_container(&self, dock: Uuid, name: &str) -> Result<Option<AxisContainer>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {CONTAINER_COLUMNS} FROM axis_containers WHERE dock_id = $1 AND name = $2"
            ))
            .bind(dock)
            .bind(name)
            .fetch_optional(p)
            .await
        })
        .context(|| format!("looking up container {name}"))
    }

    pub async fn axis_objects(&self, container: Uuid) -> Result<Vec<AxisObject>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {OBJECT_COLUMNS} FROM axis_objects WHERE container_id = $1 ORDER BY name"
            ))
            .bind(container)
            .fetch_all(p)
            .await
        })
        .context(|| format!("listing objects of container {container}"))
    }

    pub async fn axis_registry(
        &self,
        dock: Uuid,
        container: &str,
        name: &str,
    ) -> Result<Option<Metadata>> {
        let row: Option<Json<Metadata>> = on_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT metadata FROM axis_registry WHERE dock_id = $1 AND container = $2 AND name = $3",
            )
            .bind(dock)
            .bind(container)
            .bind(name)
            .fetch_optional(p)
            .await
        })
        .context(|| format!("reading {container}/{name}"))?;
        Ok(row.map(|j| j.0))
    }

    /// The recording's bookmarks, in the order they were marked.
    pub async fn bookmarks(&self, recording: Uuid) -> Result<Vec<BookmarkRow>> {
        on_pool!(self, p => {
            sqlx::query_as(
                "SELECT marked_at, offset_ms, category, note FROM bookmarks \
                 WHERE recording_id = $1 ORDER BY marked_at, offset_ms, id",
            )
            .bind(recording)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading the bookmarks of recording {recording}"))
    }

    /// Where the camera was while recording, point by point.
    pub async fn gnss_track(&self, recording: Uuid) -> Result<Vec<GnssPoint>> {
        on_pool!(self, p => {
            sqlx::query_as(
                "SELECT longitude, latitude, seconds_from_start, at FROM gnss_points \
                 WHERE recording_id = $1 ORDER BY seq",
            )
            .bind(recording)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading the GNSS track of recording {recording}"))
    }

    /// The versions kept for a recording's container objects, oldest first.
    pub async fn axis_object_versions_of(&self, recording: Uuid) -> Result<Vec<AxisObjectVersion>> {
        on_pool!(self, p => {
            sqlx::query_as(VERSION_BY_RECORDING).bind(recording).fetch_all(p).await
        })
        .context(|| format!("listing kept versions of recording {recording}"))
    }
}
