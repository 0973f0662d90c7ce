//! What a sweep reads and writes: plans and their items, the two stages of deletion (soft-delete,
//! then purge with a tombstone), and records-management review decisions.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::retention::rules::Action;

use crate::catalogue::{Catalogue, RowLock, Tx, on_pool, on_tx};
use crate::domain::{Classification, RetentionState, SweepOutcome};
use crate::error::{Code, Error, Result, ResultExt};

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PlanRow {
    pub id: Uuid,
    pub as_of: DateTime<Utc>,
    pub policy_sha256: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub executed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow)]
pub struct PlanItem {
    pub recording_id: Uuid,
    pub action: Action,
    pub rule: String,
}

/// Where a recording stands in deletion.
#[derive(Debug, Clone, FromRow)]
pub struct DeletionState {
    pub retention_state: RetentionState,
    pub deleted_at: Option<DateTime<Utc>>,
    pub purge_started_at: Option<DateTime<Utc>>,
    pub officer_id: String,
    pub device_serial: String,
    pub recorded_at: DateTime<Utc>,
    pub classification: Classification,
    pub category: Option<String>,
    pub next_action_rule: Option<String>,
}

/// One stored object of a recording, as a purge sees it.
#[derive(Debug, Clone, FromRow, serde::Serialize, serde::Deserialize)]
pub struct PurgeObject {
    pub sha256: String,
    pub size: i64,
    pub role: String,
    /// Another recording (or a disclosure excerpt) still needs these bytes: kept.
    pub shared: bool,
    /// Marked for removal (the store copy is being, or has been, deleted).
    pub purged: bool,
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct TombstoneRow {
    pub recording_id: Uuid,
    pub rule: String,
    pub deleted_at: DateTime<Utc>,
    pub purged_at: DateTime<Utc>,
    pub certificate: String,
}

const PLAN_COLUMNS: &str =
    "id, as_of, policy_sha256, created_by, created_at, approved_by, approved_at, executed_at";

impl Catalogue {
    pub async fn plan(&self, id: Uuid) -> Result<PlanRow> {
        let sql = format!("SELECT {PLAN_COLUMNS} FROM retention_plans WHERE id = $1");
        let row = on_pool!(self, p => {
            sqlx::query_as::<_, PlanRow>(&sql).bind(id).fetch_optional(p).await
        })
        .context(|| format!("reading retention plan {id}"))?;
        row.ok_or_else(|| Error::not_found(format!("no retention plan {id}")))
    }

    /// Plans not yet carried out, newest first.
    pub async fn open_plans(&self) -> Result<Vec<PlanRow>> {
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM retention_plans WHERE executed_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT 50"
        );
        on_pool!(self, p => sqlx::query_as::<_, PlanRow>(&sql).fetch_all(p).await)
            .context(|| "listing retention plans not carried out".into())
    }

    /// Items of a plan not yet carried out, in the plan's order.
    pub async fn pending_items(&self, plan: Uuid) -> Result<Vec<PlanItem>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, PlanItem>(
                "SELECT recording_id, action, rule FROM retention_plan_items \
                 WHERE plan_id = $1 AND done_at IS NULL ORDER BY due_at, recording_id",
            )
            .bind(plan)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading the items of retention plan {plan}"))
    }

    /// Soft-deleted recordings whose grace period ended by `cutoff`, and any purge a killed
    /// sweep left half done.
    pub async fn purgeable(&self, cutoff: DateTime<Utc>) -> Result<Vec<Uuid>> {
        on_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT id FROM recordings WHERE retention_state = 'soft-deleted' \
                 AND (deleted_at <= $1 OR purge_started_at IS NOT NULL) ORDER BY deleted_at, id",
            )
            .bind(cutoff)
            .fetch_all(p)
            .await
        })
        .context(|| "finding recordings to purge".into())
    }

    /// Recordings sent for review and not yet decided.
    pub async fn awaiting_review(&self) -> Result<Vec<crate::catalogue::DueRow>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, crate::catalogue::DueRow>(&format!(
                "SELECT {} FROM recordings WHERE retention_state = 'review' \
                 ORDER BY next_action_at, id",
                super::plans::DUE_COLUMNS
            ))
            .fetch_all(p)
            .await
        })
        .context(|| "listing recordings awaiting review".into())
    }

    pub async fn tombstone(&self, recording: Uuid) -> Result<Option<TombstoneRow>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, TombstoneRow>(
                "SELECT recording_id, rule, deleted_at, purged_at, certificate FROM tombstones \
                 WHERE recording_id = $1",
            )
            .bind(recording)
            .fetch_optional(p)
            .await
        })
        .context(|| format!("reading the tombstone of recording {recording}"))
    }
}

impl Tx {
    pub async fn plan_for_update(&mut self, id: Uuid) -> Result<PlanRow> {
        let lock = self.row_lock(RowLock::Update);
        let sql = format!("SELECT {PLAN_COLUMNS} FROM retention_plans WHERE id = $1{lock}");
        let row = on_tx!(self, c => {
            sqlx::query_as::<_, PlanRow>(&sql).bind(id).fetch_optional(c).await
        })
        .context(|| format!("reading retention plan {id}"))?;
        row.ok_or_else(|| Error::not_found(format!("no retention plan {id}")))
    }

    pub async fn approve_plan(&mut self, id: Uuid, actor: &str) -> Result<()> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE retention_plans SET approved_by = $2, approved_at = $3 WHERE id = $1 \
                 AND approved_by IS NULL AND executed_at IS NULL AND created_by <> $2",
            )
            .bind(id)
            .bind(actor)
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("approving retention plan {id}"))?;
        if n != 1 {
            return Err(Error::new(
                Code::Conflict,
                format!("plan {id} cannot be approved: approved or carried out meanwhile"),
            ));
        }
        Ok(())
    }

    /// Marks the plan carried out once no item is left.
    pub async fn finish_plan_if_done(&mut self, id: Uuid) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE retention_plans SET executed_at = $2 WHERE id = $1 AND executed_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM retention_plan_items \
                                 WHERE plan_id = $1 AND done_at IS NULL)",
            )
            .bind(id)
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("closing retention plan {id}"))?;
        Ok(n > 0)
    }

    /// Records what became of an item, once: a second sweep racing on the same plan does not
    /// overwrite the first one's outcome.
    pub async fn item_done(
        &mut self,
        plan: Uuid,
        recording: Uuid,
        outcome: SweepOutcome,
        detail: Option<&str>,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "UPDATE retention_plan_items SET done_at = $3, outcome = $4, outcome_detail = $5 \
                 WHERE plan_id = $1 AND recording_id = $2 AND done_at IS NULL",
            )
            .bind(plan)
            .bind(recording)
            .bind(crate::domain::now())
            .bind(outcome)
            .bind(detail)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording the outcome for recording {recording} in plan {plan}"))?;
        Ok(())
    }

    pub async fn deletion_state(&mut self, recording: Uuid) -> Result<DeletionState> {
        let row = on_tx!(self, c => {
            sqlx::query_as::<_, DeletionState>(
                "SELECT retention_state, deleted_at, purge_started_at, officer_id, device_serial, \
                 recorded_at, classification, category, next_action_rule FROM recordings WHERE id = $1",
            )
            .bind(recording)
            .fetch_optional(c)
            .await
        })
        .context(|| format!("reading recording {recording}"))?;
        row.ok_or_else(|| Error::not_found(format!("no recording {recording}")))
    }

    /// Refuses changes to footage that is gone or going: a purged recording has no footage
    /// left, and one whose purge has begun cannot be saved any more.
    pub async fn ensure_not_purged(&mut self, recording: Uuid) -> Result<()> {
        let s = self.deletion_state(recording).await?;
        let gone = if s.retention_state == RetentionState::Purged {
            "has been purged"
        } else if s.purge_started_at.is_some() {
            "is being purged"
        } else {
            return Ok(());
        };
        Err(Error::new(
            Code::Conflict,
            format!("recording {recording} {gone} under the retention policy"),
        ))
    }

    /// Moves a recording between retention states (`active`, `review`, `soft-deleted`);
    /// soft-deleting stamps the time its grace period counts from, anything else clears it.
    pub async fn set_retention_state(
        &mut self,
        recording: Uuid,
        state: RetentionState,
    ) -> Result<()> {
        let deleted_at = (state == RetentionState::SoftDeleted).then(crate::domain::now);
        on_tx!(self, c => {
            sqlx::query(
                "UPDATE recordings SET retention_state = $2, deleted_at = $3 WHERE id = $1",
            )
            .bind(recording)
            .bind(state)
            .bind(deleted_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("moving recording {recording} to {state}"))?;
        Ok(())
    }

    /// The recording's stored objects with whether anything else still needs them: another
    /// recording whose purge has not begun (a begun purge is never undone), or a disclosure
    /// excerpt.
    pub async fn purge_objects(&mut self, recording: Uuid) -> Result<Vec<PurgeObject>> {
        const OTHER: &str =
            "r2.id <> $1 AND r2.retention_state <> 'purged' AND r2.purge_started_at IS NULL";
        let sql = format!(
            "SELECT o.sha256, o.size, x.role, o.purged_at IS NOT NULL AS purged, \
             (EXISTS (SELECT 1 FROM clips c2 JOIN recordings r2 ON r2.id = c2.recording_id \
                      WHERE c2.sha256 = o.sha256 AND {OTHER}) \
              OR EXISTS (SELECT 1 FROM derivatives d2 JOIN clips c2 ON c2.id = d2.clip_id \
                      JOIN recordings r2 ON r2.id = c2.recording_id \
                      WHERE d2.sha256 = o.sha256 AND {OTHER}) \
              OR EXISTS (SELECT 1 FROM derivatives d3 WHERE d3.clip_id IS NULL \
                      AND (d3.sha256 = o.sha256 OR d3.source_sha256 = o.sha256)) \
              OR EXISTS (SELECT 1 FROM gnss_tracks g2 JOIN recordings r2 ON r2.id = g2.recording_id \
                      WHERE g2.sha256 = o.sha256 AND {OTHER}) \
              OR EXISTS (SELECT 1 FROM axis_objects a2 JOIN axis_containers k2 ON k2.id = a2.container_id \
                      JOIN recordings r2 ON r2.id = k2.recording_id \
                      WHERE a2.sha256 = o.sha256 AND {OTHER}) \
              OR EXISTS (SELECT 1 FROM axis_object_versions v2 JOIN axis_containers k2 ON k2.id = v2.container_id \
                      JOIN recordings r2 ON r2.id = k2.recording_id \
                      WHERE v2.sha256 = o.sha256 AND {OTHER}) \
             ) AS shared \
             FROM (SELECT sha256, 'original' AS role FROM clips WHERE recording_id = $1 \
                   UNION SELECT d.sha256, d.kind AS role FROM derivatives d \
                         JOIN clips c ON c.id = d.clip_id WHERE c.recording_id = $1 \
                   UNION SELECT sha256, 'gnss' AS role FROM gnss_tracks WHERE recording_id = $1 \
                   UNION SELECT a.sha256, CASE WHEN a.kind = 'clip' THEN 'original' ELSE a.kind END AS role \
                         FROM axis_objects a JOIN axis_containers k ON k.id = a.container_id \
                         WHERE k.recording_id = $1 \
                   UNION SELECT v.sha256, CASE WHEN v.kind = 'clip' THEN 'original' ELSE v.kind END AS role \
                         FROM axis_object_versions v JOIN axis_containers k ON k.id = v.container_id \
                         WHERE k.recording_id = $1) x \
             JOIN objects o ON o.sha256 = x.sha256 ORDER BY o.sha256, x.role"
        );
        let mut rows: Vec<PurgeObject> = on_tx!(self, c => {
            sqlx::query_as::<_, PurgeObject>(&sql)
            .bind(recording)
            .fetch_all(c)
            .await
        })
        .context(|| format!("listing the objects of recording {recording}"))?;
        rows.dedup_by(|a, b| a.sha256 == b.sha256);
        Ok(rows)
    }

    /// First stage of a purge: the objects only this recording needs are marked removed (so no
    /// row claims bytes that may be gone), and the recording is marked as being purged.
    pub async fn start_purge(&mut self, recording: Uuid, shas: &[String]) -> Result<()> {
        let now = crate::domain::now();
        for sha in shas {
            on_tx!(self, c => {
                sqlx::query(
                    "UPDATE objects SET purged_at = $2 WHERE sha256 = $1 AND purged_at IS NULL",
                )
                .bind(sha)
                .bind(now)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
            })
            .context(|| format!("marking object {sha} of recording {recording} purged"))?;
        }
        on_tx!(self, c => {
            sqlx::query("UPDATE recordings SET purge_started_at = $2 WHERE id = $1")
                .bind(recording)
                .bind(now)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("starting the purge of recording {recording}"))?;
        Ok(())
    }

    pub async fn object_catalogued(
        &mut self,
        sha256: &crate::domain::Sha256Digest,
    ) -> Result<bool> {
        let found: i64 = on_tx!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM objects WHERE sha256 = $1")
                .bind(sha256.to_hex())
                .fetch_one(c)
                .await
        })
        .context(|| format!("looking up object {sha256}"))?;
        Ok(found > 0)
    }

    /// Locks an object row a purge marked; false when it is no longer marked (the same bytes
    /// arrived again and were catalogued).
    pub async fn lock_purged_object(&mut self, sha256: &str) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE objects SET purged_at = purged_at WHERE sha256 = $1 AND purged_at IS NOT NULL",
            )
            .bind(sha256)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("locking object {sha256}"))?;
        Ok(n == 1)
    }

    /// Last stage: the recording becomes a tombstone. What the door, the probe and the GNSS
    /// track said about it (places, names) goes with the footage.
    pub async fn finish_purge(
        &mut self,
        recording: Uuid,
        rule: &str,
        objects: &[PurgeObject],
        deleted_at: DateTime<Utc>,
        now: DateTime<Utc>,
        certificate: &str,
    ) -> Result<()> {
        let context = || format!("purging recording {recording}");
        on_tx!(self, c => {
            sqlx::query(
                "UPDATE recordings SET retention_state = 'purged', purged_at = $2, \
                 metadata = '{}', next_action = NULL, next_action_at = NULL WHERE id = $1",
            )
            .bind(recording)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(context)?;
        for sql in [
            "UPDATE clips SET probe = NULL WHERE recording_id = $1",
            "UPDATE bookmarks SET note = NULL, raw = '{}' WHERE recording_id = $1",
            "DELETE FROM gnss_points WHERE recording_id = $1",
            "UPDATE axis_containers SET metadata = '{}' WHERE recording_id = $1",
            "UPDATE axis_objects SET metadata = '{}' WHERE container_id IN \
             (SELECT id FROM axis_containers WHERE recording_id = $1)",
            "UPDATE axis_object_versions SET metadata = '{}' WHERE container_id IN \
             (SELECT id FROM axis_containers WHERE recording_id = $1)",
        ] {
            on_tx!(self, c => {
                sqlx::query(sql)
                    .bind(recording)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected())
            })
            .context(context)?;
        }
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO tombstones (recording_id, rule, objects, deleted_at, purged_at, certificate) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(recording)
            .bind(rule)
            .bind(sqlx::types::Json(objects))
            .bind(deleted_at)
            .bind(now)
            .bind(certificate)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("writing the tombstone of recording {recording}"))?;
        Ok(())
    }

    pub async fn insert_review(
        &mut self,
        recording: Uuid,
        retain_until: Option<DateTime<Utc>>,
        group: Option<&str>,
        reason: &str,
        reviewer: &str,
    ) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let decision = if retain_until.is_some() {
            "retain"
        } else {
            "dispose"
        };
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO retention_reviews \
                 (id, recording_id, decision, retain_until, review_group, reason, reviewer, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(recording)
            .bind(decision)
            .bind(retain_until)
            .bind(group)
            .bind(reason)
            .bind(reviewer)
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording the review of recording {recording}"))?;
        Ok(id)
    }

    /// The latest review decision: when, and retain-until (none: dispose).
    pub async fn latest_review(
        &mut self,
        recording: Uuid,
    ) -> Result<Option<(DateTime<Utc>, Option<DateTime<Utc>>)>> {
        on_tx!(self, c => {
            sqlx::query_as(
                "SELECT decided_at, retain_until FROM retention_reviews WHERE recording_id = $1 \
                 ORDER BY decided_at DESC, id DESC LIMIT 1",
            )
            .bind(recording)
            .fetch_optional(c)
            .await
        })
        .context(|| format!("reading the reviews of recording {recording}"))
    }
}
