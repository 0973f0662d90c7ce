//! tus uploads: what a dock declared, and how far its acknowledged, durable bytes go.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use super::Dock;
use super::{Catalogue, RowLock, Tx, on_pool, on_tx};
use crate::domain::UploadState;
use crate::error::{Code, Error, Result, ResultExt};

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

/// Who may end an upload: the request holding its lease, or anyone once nobody holds it.
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// The PATCH or DELETE holding the lease under this name.
    Holder(&'a str),
    /// Expiry and clean-up: only when no live lease is held at `now`.
    Unheld(DateTime<Utc>),
}

/// An upload a request now holds the lease on.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub upload: UploadRow,
    /// The last holder never let go (its node died, or lost its link): it may still have writes
    /// on their way to the staging file, so the file is replaced before anything more is added.
    pub taken_over: bool,
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

    /// Ends an upload (completed, terminated, expired); only a receiving upload can end, and
    /// only by `by`. A completed upload's offset is its length: it is saved as whole only
    /// together with the recording it became, so a node dying in between leaves the dock a
    /// tail to send again, never an upload that looks whole and is not.
    pub async fn end_upload(
        &mut self,
        id: Uuid,
        state: UploadState,
        recording: Option<Uuid>,
        by: Ending<'_>,
    ) -> Result<bool> {
        let (holder, unheld_at) = match by {
            Ending::Holder(owner) => (Some(owner), None),
            Ending::Unheld(now) => (None, Some(now)),
        };
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE uploads SET state = $1, recording_id = $2, updated_at = $3, \
                 upload_offset = CASE WHEN $1 = 'completed' THEN length ELSE upload_offset END, \
                 lease_owner = NULL, lease_until = NULL \
                 WHERE id = $4 AND state = 'receiving' \
                 AND ($5 IS NULL OR lease_owner = $5) \
                 AND ($6 IS NULL OR lease_owner IS NULL OR lease_until < $6)",
            )
            .bind(state)
            .bind(recording)
            .bind(crate::domain::now())
            .bind(id)
            .bind(holder)
            .bind(unheld_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("ending upload {id}"))?;
        Ok(n == 1)
    }

    /// Sends a receiving upload back to offset 0, for its lease holder only.
    pub async fn restart_upload(&mut self, id: Uuid, owner: &str) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE uploads SET upload_offset = 0, updated_at = $1 \
                 WHERE id = $2 AND state = 'receiving' AND lease_owner = $3",
            )
            .bind(crate::domain::now())
            .bind(id)
            .bind(owner)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("restarting upload {id}"))?;
        Ok(n == 1)
    }

    /// Takes the lease on a receiving upload for `owner` until `until`, unless a live lease is
    /// held. `None` when the upload does not exist; a finished upload is returned as it is,
    /// unleased, for the caller to refuse.
    pub async fn claim_upload(
        &mut self,
        id: Uuid,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<Option<Claimed>> {
        let lock = self.row_lock(RowLock::Update);
        let row: Option<(UploadRow, Option<String>, Option<DateTime<Utc>>)> = on_tx!(self, c => {
            sqlx::query_as::<_, UploadLeaseRow>(&format!(
                "SELECT {UPLOAD_COLUMNS}, lease_owner, lease_until FROM uploads WHERE id = $1{lock}"
            ))
            .bind(id)
            .fetch_optional(c)
            .await
        })
        .context(|| format!("reading upload {id}"))?
        .map(|r| (r.upload, r.lease_owner, r.lease_until));
        let Some((upload, holder, held_until)) = row else {
            return Ok(None);
        };
        if upload.state != UploadState::Receiving {
            return Ok(Some(Claimed {
                upload,
                taken_over: false,
            }));
        }
        let now = crate::domain::now();
        if holder.is_some() && held_until.is_some_and(|t| t >= now) {
            return Err(Error::new(
                Code::Locked,
                format!("upload {id} is already being written to"),
            ));
        }
        on_tx!(self, c => {
            sqlx::query("UPDATE uploads SET lease_owner = $1, lease_until = $2 WHERE id = $3")
                .bind(owner)
                .bind(until)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("taking the lease on upload {id}"))?;
        Ok(Some(Claimed {
            upload,
            taken_over: holder.is_some(),
        }))
    }
}

#[derive(FromRow)]
struct UploadLeaseRow {
    #[sqlx(flatten)]
    upload: UploadRow,
    lease_owner: Option<String>,
    lease_until: Option<DateTime<Utc>>,
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

    /// Moves the durable offset of a receiving upload forward and pushes its expiry out, for
    /// the lease holder only: false when `owner` no longer holds the lease (it ran out and
    /// another request took it), and nothing changed.
    pub async fn advance_upload(
        &self,
        id: Uuid,
        owner: &str,
        offset: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let n = on_pool!(self, p => {
            sqlx::query(
                "UPDATE uploads SET upload_offset = $1, expires_at = $2, updated_at = $3 \
                 WHERE id = $4 AND state = 'receiving' AND upload_offset <= $1 \
                 AND lease_owner = $5",
            )
            .bind(offset as i64)
            .bind(expires_at)
            .bind(crate::domain::now())
            .bind(id)
            .bind(owner)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("saving the offset of upload {id}"))?;
        Ok(n == 1)
    }

    /// Keeps `owner`'s lease until `until`; false when it is no longer `owner`'s.
    pub async fn renew_upload_lease(
        &self,
        id: Uuid,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let n = on_pool!(self, p => {
            sqlx::query(
                "UPDATE uploads SET lease_until = $1 \
                 WHERE id = $2 AND state = 'receiving' AND lease_owner = $3",
            )
            .bind(until)
            .bind(id)
            .bind(owner)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("renewing the lease on upload {id}"))?;
        Ok(n == 1)
    }

    /// Lets go of `owner`'s lease, so the next request need not wait for it to run out.
    pub async fn release_upload(&self, id: Uuid, owner: &str) -> Result<()> {
        on_pool!(self, p => {
            sqlx::query(
                "UPDATE uploads SET lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("releasing the lease on upload {id}"))?;
        Ok(())
    }

    /// Receiving uploads past their expiry that nobody is writing to.
    pub async fn expired_uploads(&self, now: DateTime<Utc>) -> Result<Vec<UploadRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE state = 'receiving' AND expires_at < $1 \
                 AND (lease_owner IS NULL OR lease_until < $1)"
            ))
            .bind(now)
            .fetch_all(p)
            .await
        })
        .context(|| "finding expired uploads".into())
    }
}
