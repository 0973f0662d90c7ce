//! tus uploads: what a dock declared, and how far its acknowledged, durable bytes go.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use super::Dock;
use super::{Catalogue, RowLock, Tx, on_pool, on_tx};
use crate::domain::UploadState;
use crate::error::{Result, ResultExt};

#[derive(Debug, Clone, FromRow)]
pub struct UploadRow {
    pub id: Uuid,
    pub dock_id: Uuid,
    pub length: i64,
    pub upload_offset: i64,
    pub metadata: Json<BTreeMap<String, String>>,
    pub state: UploadState,
    pub recording_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a dock, and every dock, has open.
#[derive(Debug, Clone, Copy)]
pub struct OpenUploads {
    pub count: u64,
    /// Bytes this dock's unfinished uploads have yet to send.
    pub unsent: u64,
    /// The same for every dock.
    pub all_unsent: u64,
}

const UPLOAD_COLUMNS: &str = "id, dock_id, length, upload_offset, metadata, state, recording_id, \
     created_at, updated_at, expires_at";

impl Tx {
    pub async fn insert_upload(&mut self, u: &UploadRow) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(&format!(
                "INSERT INTO uploads ({UPLOAD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(u.id)
            .bind(u.dock_id)
            .bind(u.length)
            .bind(u.upload_offset)
            .bind(&u.metadata)
            .bind(u.state)
            .bind(u.recording_id)
            .bind(u.created_at)
            .bind(u.updated_at)
            .bind(u.expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording upload {}", u.id))?;
        Ok(())
    }

    /// The dock's unfinished uploads and the bytes they have yet to send, and the same for
    /// every dock. The dock's row is locked first (on PostgreSQL; SQLite writers are one at a
    /// time), so two creations by one dock count each other, and a dock revoked meanwhile is
    /// refused: this lock is the only one taken on the row, so it is never upgraded.
    pub async fn open_uploads(&mut self, dock: &Dock) -> Result<OpenUploads> {
        let lock = self.row_lock(RowLock::Update);
        let revoked: Option<Option<DateTime<Utc>>> = on_tx!(self, c => {
            sqlx::query_scalar(&format!("SELECT revoked_at FROM docks WHERE id = $1{lock}"))
                .bind(dock.id)
                .fetch_optional(c)
                .await
        })
        .context(|| format!("locking dock {}", dock.name))?;
        if !matches!(revoked, Some(None)) {
            return Err(crate::ingest::revoked(dock));
        }
        let (count, unsent, all_unsent): (i64, i64, i64) = on_tx!(self, c => {
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(CASE WHEN dock_id = $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN dock_id = $1 THEN length - upload_offset ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(length - upload_offset), 0) AS BIGINT) \
                 FROM uploads WHERE state = 'receiving'",
            )
            .bind(dock.id)
            .fetch_one(c)
            .await
        })
        .context(|| "counting unfinished uploads".into())?;
        Ok(OpenUploads {
            count: count.max(0) as u64,
            unsent: unsent.max(0) as u64,
            all_unsent: all_unsent.max(0) as u64,
        })
    }

    /// Ends an upload (completed, terminated, expired); only a receiving upload can end.
    pub async fn end_upload(
        &mut self,
        id: Uuid,
        state: UploadState,
        recording: Option<Uuid>,
    ) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE uploads SET state = $1, recording_id = $2, updated_at = $3 \
                 WHERE id = $4 AND state = 'receiving'",
            )
            .bind(state)
            .bind(recording)
            .bind(crate::domain::now())
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("ending upload {id}"))?;
        Ok(n == 1)
    }
}

impl Catalogue {
    pub async fn upload(&self, id: Uuid) -> Result<Option<UploadRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })
        .context(|| format!("reading upload {id}"))
    }

    /// Moves the durable offset of a receiving upload forward and pushes its expiry out.
    pub async fn advance_upload(
        &self,
        id: Uuid,
        offset: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, p => {
            sqlx::query(
                "UPDATE uploads SET upload_offset = $1, expires_at = $2, updated_at = $3 \
                 WHERE id = $4 AND state = 'receiving' AND upload_offset <= $1",
            )
            .bind(offset as i64)
            .bind(expires_at)
            .bind(crate::domain::now())
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("saving the offset of upload {id}"))?;
        Ok(())
    }

    pub async fn expired_uploads(&self, now: DateTime<Utc>) -> Result<Vec<UploadRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE state = 'receiving' AND expires_at < $1"
            ))
            .bind(now)
            .fetch_all(p)
            .await
        })
        .context(|| "finding expired uploads".into())
    }
}
