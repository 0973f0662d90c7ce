//! Legal holds: on one recording, or on a case (every recording linked to it). A hold in force
//! (not released, not past its `until`) blocks deletion absolutely.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::error::{Result, ResultExt};

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct HoldRow {
    pub id: Uuid,
    pub recording_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    /// The case's URN, for holds on a case.
    pub urn: Option<String>,
    pub reason: String,
    pub until: Option<DateTime<Utc>>,
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    pub released_by: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
    pub release_reason: Option<String>,
}

const HOLD_COLUMNS: &str = "h.id, h.recording_id, h.case_id, c.urn, h.reason, h.until, \
    h.placed_by, h.placed_at, h.released_by, h.released_at, h.release_reason";

/// Holds in force at `$1`, as a condition on the alias `h`.
const IN_FORCE: &str = "h.released_at IS NULL AND (h.until IS NULL OR h.until > $1)";

impl Tx {
    /// Every stored object of a recording: its clips' originals, their derivatives, and what its
    /// dock sent with them (keys, bookmarks, tracks); not those a purge removed.
    pub async fn recording_objects(&mut self, recording: Uuid) -> Result<Vec<String>> {
        on_tx!(self, c => {
            sqlx::query_scalar(
                "SELECT x.sha256 FROM (SELECT sha256 FROM clips WHERE recording_id = $1 \
                 UNION SELECT d.sha256 FROM derivatives d JOIN clips c ON c.id = d.clip_id \
                 WHERE c.recording_id = $1 \
                 UNION SELECT a.sha256 FROM axis_objects a JOIN axis_containers k \
                 ON k.id = a.container_id WHERE k.recording_id = $1 \
                 UNION SELECT v.sha256 FROM axis_object_versions v JOIN axis_containers k \
                 ON k.id = v.container_id WHERE k.recording_id = $1) x \
                 JOIN objects o ON o.sha256 = x.sha256 WHERE o.purged_at IS NULL",
            )
            .bind(recording)
            .fetch_all(c)
            .await
        })
        .context(|| format!("listing the objects of recording {recording}"))
    }

    pub async fn insert_hold(
        &mut self,
        recording: Option<Uuid>,
        case: Option<Uuid>,
        reason: &str,
        until: Option<DateTime<Utc>>,
        actor: &str,
    ) -> Result<Uuid> {
        let id = Uuid::now_v7();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO holds (id, recording_id, case_id, reason, until, placed_by, placed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(recording)
            .bind(case)
            .bind(reason)
            .bind(until)
            .bind(actor)
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| "placing a hold".into())?;
        Ok(id)
    }

    /// Releases a hold that is not yet released; the row as it was, or None.
    pub async fn release_hold(
        &mut self,
        id: Uuid,
        actor: &str,
        reason: &str,
    ) -> Result<Option<HoldRow>> {
        let before = self.hold(id).await?;
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE holds SET released_by = $2, released_at = $3, release_reason = $4 \
                 WHERE id = $1 AND released_at IS NULL",
            )
            .bind(id)
            .bind(actor)
            .bind(crate::domain::now())
            .bind(reason)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("releasing hold {id}"))?;
        Ok(before.filter(|_| n == 1))
    }

    /// Whether a hold in force is on the case itself, as this transaction sees it.
    pub async fn case_held(&mut self, case: Uuid) -> Result<bool> {
        let n: i64 = on_tx!(self, c => {
            sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM holds h WHERE {IN_FORCE} AND h.case_id = $2"
            ))
            .bind(crate::domain::now())
            .bind(case)
            .fetch_one(c)
            .await
        })
        .context(|| format!("checking holds on case {case}"))?;
        Ok(n > 0)
    }

    /// The lapse dates of holds in force on the recording, directly or through its cases.
    pub async fn hold_lapses(&mut self, recording: Uuid) -> Result<Vec<Option<DateTime<Utc>>>> {
        on_tx!(self, c => {
            sqlx::query_scalar(&format!(
                "SELECT h.until FROM holds h WHERE {IN_FORCE} \
                 AND (h.recording_id = $2 OR h.case_id IN \
                      (SELECT case_id FROM exhibits WHERE recording_id = $2))"
            ))
            .bind(crate::domain::now())
            .bind(recording)
            .fetch_all(c)
            .await
        })
        .context(|| format!("reading holds on recording {recording}"))
    }

    pub async fn hold(&mut self, id: Uuid) -> Result<Option<HoldRow>> {
        let sql = format!(
            "SELECT {HOLD_COLUMNS} FROM holds h LEFT JOIN cases c ON c.id = h.case_id WHERE h.id = $1"
        );
        on_tx!(self, c => sqlx::query_as::<_, HoldRow>(&sql).bind(id).fetch_optional(c).await)
            .context(|| format!("reading hold {id}"))
    }
}

impl Catalogue {
    /// Every hold ever placed on the recording or on a case it is in, newest first.
    pub async fn holds_on(&self, recording: Uuid) -> Result<Vec<HoldRow>> {
        let sql = format!(
            "SELECT {HOLD_COLUMNS} FROM holds h LEFT JOIN cases c ON c.id = h.case_id \
             WHERE h.recording_id = $1 OR h.case_id IN \
             (SELECT e.case_id FROM exhibits e WHERE e.recording_id = $1) \
             ORDER BY h.placed_at DESC, h.id DESC"
        );
        on_pool!(self, p => sqlx::query_as::<_, HoldRow>(&sql).bind(recording).fetch_all(p).await)
            .context(|| format!("listing the holds on recording {recording}"))
    }

    /// Holds newest first: those in force, or all.
    pub async fn holds(&self, all: bool) -> Result<Vec<HoldRow>> {
        let filter = if all { "TRUE OR $1 IS NULL" } else { IN_FORCE };
        let sql = format!(
            "SELECT {HOLD_COLUMNS} FROM holds h LEFT JOIN cases c ON c.id = h.case_id \
             WHERE {filter} ORDER BY h.placed_at DESC, h.id DESC"
        );
        on_pool!(self, p => {
            sqlx::query_as::<_, HoldRow>(&sql).bind(crate::domain::now()).fetch_all(p).await
        })
        .context(|| "listing holds".into())
    }
}
