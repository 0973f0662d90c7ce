//! Classification decisions: the current one on the recording, every one (with its basis,
//! reason and actor) in the history table.

use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::domain::Classification;
use crate::error::{Result, ResultExt};

impl Tx {
    /// Records a decision and makes it current.
    pub async fn classify(
        &mut self,
        recording: Uuid,
        classification: Classification,
        basis: &str,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("UPDATE recordings SET classification = $2 WHERE id = $1")
                .bind(recording)
                .bind(classification.as_str())
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("classifying recording {recording}"))?;
        self.record_classification(recording, classification, basis, reason, actor)
            .await
    }

    /// Adds a decision to the recording's classification history. A recording inserted with
    /// its classification already set needs only this; `classify` changes one.
    pub async fn record_classification(
        &mut self,
        recording: Uuid,
        classification: Classification,
        basis: &str,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        let now = crate::domain::now();
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO classifications (id, recording_id, classification, basis, reason, \
                 actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(Uuid::now_v7())
            .bind(recording)
            .bind(classification.as_str())
            .bind(basis)
            .bind(reason)
            .bind(actor)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording the classification of recording {recording}"))?;
        Ok(())
    }

    /// Asks for a review of the recording's classification; false when one is already asked.
    pub async fn request_review(
        &mut self,
        recording: Uuid,
        by: &str,
        reason: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let added = on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO review_requests (recording_id, requested_by, reason, requested_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (recording_id) DO NOTHING",
            )
            .bind(recording)
            .bind(by)
            .bind(reason)
            .bind(at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("requesting a review of recording {recording}"))?;
        Ok(added == 1)
    }

    /// A person's classification answers any request for a review.
    pub async fn answer_review_request(&mut self, recording: Uuid) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("DELETE FROM review_requests WHERE recording_id = $1")
                .bind(recording)
                .execute(c)
                .await
                .map(|_| ())
        })
        .context(|| format!("answering the review request of recording {recording}"))
    }

    /// URNs of the active cases (open, charged, or under appeal) the recording is an exhibit in.
    pub async fn active_cases_of(&mut self, recording: Uuid) -> Result<Vec<String>> {
        on_tx!(self, c => {
            sqlx::query_scalar(
                "SELECT cs.urn FROM exhibits e JOIN cases cs ON cs.id = e.case_id \
                 WHERE e.recording_id = $1 AND (cs.status IN ('open', 'charged') OR cs.appeal) \
                 ORDER BY cs.urn",
            )
            .bind(recording)
            .fetch_all(c)
            .await
        })
        .context(|| format!("finding the cases of recording {recording}"))
    }
}

/// One decision in a recording's history.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ClassificationRow {
    pub classification: String,
    pub basis: String,
    pub reason: Option<String>,
    pub actor: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Catalogue {
    pub async fn classification_history(&self, recording: Uuid) -> Result<Vec<ClassificationRow>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, ClassificationRow>(
                "SELECT classification, basis, reason, actor, created_at FROM classifications \
                 WHERE recording_id = $1 ORDER BY created_at, id",
            )
            .bind(recording)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading the classification history of recording {recording}"))
    }
}
