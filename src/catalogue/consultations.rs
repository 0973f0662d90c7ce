//! Consultations (DPA 2018 s.62): each justification a person gave for looking at an item, and
//! each kind of use made under it. The audit log carries the same facts (with the free text
//! only as its hash); these tables are what the auditor's lists and the once-per-use rule read.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::domain::{ConsultationUse, ConsultedItem};
use crate::error::{Result, ResultExt};

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ConsultationRow {
    pub id: Uuid,
    pub item_kind: ConsultedItem,
    pub item_id: Uuid,
    pub actor: String,
    pub person_id: Option<Uuid>,
    pub reason: String,
    pub case_urn: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One use under a justification, as the auditor lists it.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ConsultedRow {
    pub at: DateTime<Utc>,
    pub what: ConsultationUse,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub consultation: ConsultationRow,
}

/// Which consultations to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct ConsultationQuery {
    pub item: Option<Uuid>,
    pub actor: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
}

const COLUMNS: &str = "c.id, c.item_kind, c.item_id, c.actor, c.person_id, c.reason, c.case_urn, \
                       c.detail, c.created_at, c.expires_at";

impl Tx {
    pub async fn insert_consultation(&mut self, r: &ConsultationRow) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO consultations (id, item_kind, item_id, actor, person_id, reason, \
                 case_urn, detail, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(r.id)
            .bind(r.item_kind)
            .bind(r.item_id)
            .bind(&r.actor)
            .bind(r.person_id)
            .bind(&r.reason)
            .bind(&r.case_urn)
            .bind(&r.detail)
            .bind(r.created_at)
            .bind(r.expires_at)
            .execute(c)
            .await
            .map(|_| ())
        })
        .context(|| {
            format!(
                "recording the justification for {} {}",
                r.item_kind, r.item_id
            )
        })?;
        Ok(())
    }

    /// Notes a use under a justification; false when it was already noted (so already logged).
    pub async fn insert_consultation_use(
        &mut self,
        consultation: Uuid,
        what: ConsultationUse,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO consultation_uses (consultation_id, what, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (consultation_id, what) DO NOTHING",
            )
            .bind(consultation)
            .bind(what)
            .bind(at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("noting {what} under consultation {consultation}"))?;
        Ok(n == 1)
    }
}

impl Catalogue {
    pub async fn consultation(&self, id: Uuid) -> Result<Option<ConsultationRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM consultations c WHERE c.id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await
        })
        .context(|| format!("reading consultation {id}"))
    }

    /// Whether this use was already noted under the justification (the common case for a
    /// player's range requests, answered without a write).
    pub async fn consultation_used(&self, id: Uuid, what: ConsultationUse) -> Result<bool> {
        let n: i64 = on_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM consultation_uses WHERE consultation_id = $1 AND what = $2",
            )
            .bind(id)
            .bind(what)
            .fetch_one(p)
            .await
        })
        .context(|| format!("reading the uses of consultation {id}"))?;
        Ok(n > 0)
    }

    /// Uses of footage under their justifications, newest first.
    pub async fn consultations(&self, q: &ConsultationQuery) -> Result<Vec<ConsultedRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT u.at, u.what, {COLUMNS} FROM consultation_uses u \
                 JOIN consultations c ON c.id = u.consultation_id \
                 WHERE ($1 IS NULL OR c.item_id = $1) AND ($2 IS NULL OR c.actor = $2) \
                 AND ($3 IS NULL OR u.at >= $3) AND ($4 IS NULL OR u.at < $4) \
                 ORDER BY u.at DESC, c.id, u.what LIMIT $5"
            ))
            .bind(q.item)
            .bind(&q.actor)
            .bind(q.from)
            .bind(q.until)
            .bind(i64::from(q.limit))
            .fetch_all(p)
            .await
        })
        .context(|| "listing consultations".into())
    }
}
