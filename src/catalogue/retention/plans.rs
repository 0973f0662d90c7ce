//! Retention plans: what a sweep would do as of a date, recorded before anything is done.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::retention::rules::Action;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::error::{Result, ResultExt};

/// A recording due for action, with what a person needs to check the plan.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct DueRow {
    pub recording_id: Uuid,
    pub action: Action,
    pub rule: String,
    pub due_at: DateTime<Utc>,
    pub officer_id: String,
    pub recorded_at: DateTime<Utc>,
    pub classification: String,
    pub category: Option<String>,
}

/// The columns of a [`DueRow`], from `recordings`.
pub(super) const DUE_COLUMNS: &str = "id AS recording_id, next_action AS action, \
    next_action_rule AS rule, next_action_at AS due_at, officer_id, recorded_at, classification, \
    category";

impl Catalogue {
    /// Active recordings whose stored answer needs computing again: never computed, computed
    /// under another policy, or a keep whose date (a hold's lapse) has come. Each arm can use an
    /// index, so an up-to-date catalogue of a million recordings answers without a full scan.
    pub async fn stale_next_actions(
        &self,
        policy_sha256: &str,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<Uuid>> {
        const LIVE: &str = "retention_state = 'active' AND status <> 'incomplete'";
        let sql = format!(
            "SELECT id FROM recordings WHERE {LIVE} AND next_action_policy IS NULL \
             UNION ALL SELECT id FROM recordings WHERE {LIVE} AND next_action_policy < $1 \
             UNION ALL SELECT id FROM recordings WHERE {LIVE} AND next_action_policy > $1 \
             UNION ALL SELECT id FROM recordings WHERE {LIVE} AND next_action_at <= $2 \
                   AND next_action = 'keep'"
        );
        // Sorted and deduplicated here: an ORDER BY would make SQLite walk the primary key.
        let mut ids: Vec<Uuid> = on_pool!(self, p => {
            sqlx::query_scalar(&sql)
                .bind(policy_sha256)
                .bind(as_of)
                .fetch_all(p)
                .await
        })
        .context(|| "finding recordings to recompute".into())?;
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Active recordings due for deletion or review by `as_of`, soonest first.
    pub async fn due(&self, as_of: DateTime<Utc>) -> Result<Vec<DueRow>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, DueRow>(&format!(
                "SELECT {DUE_COLUMNS} FROM recordings WHERE next_action_at <= $1 \
                 AND retention_state = 'active' AND next_action IN ('delete', 'review') \
                 ORDER BY next_action_at, id"
            ))
            .bind(as_of)
            .fetch_all(p)
            .await
        })
        .context(|| "listing recordings due for retention".into())
    }
}

impl Tx {
    pub async fn insert_plan(
        &mut self,
        as_of: DateTime<Utc>,
        policy_sha256: &str,
        actor: &str,
        items: &[DueRow],
    ) -> Result<Uuid> {
        let id = Uuid::now_v7();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO retention_plans (id, as_of, policy_sha256, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(as_of)
            .bind(policy_sha256)
            .bind(actor)
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| "recording the retention plan".into())?;
        // Many rows per statement: a plan of 10,000 items is 20 round trips, not 10,000.
        for chunk in items.chunks(500) {
            on_tx!(self, c => {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO retention_plan_items (plan_id, recording_id, action, rule, due_at) ",
                );
                q.push_values(chunk, |mut b, item| {
                    b.push_bind(id)
                        .push_bind(item.recording_id)
                        .push_bind(item.action)
                        .push_bind(&item.rule)
                        .push_bind(item.due_at);
                });
                q.build().execute(c).await.map(|r| r.rows_affected())
            })
            .context(|| format!("recording the items of retention plan {id}"))?;
        }
        Ok(id)
    }
}
