//! The facts retention rules read, and where their answer is kept (indexed by date, so a sweep
//! finds what is due without looking at everything).
//!
//! What retention acts on: legal holds (`holds`), recorded plans (`plans`), and sweeps with
//! their deletion certificates (`sweeps`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalogue::{Tx, on_tx};
use crate::domain::{CaseStatus, Classification, TimeSource};
use crate::error::{Error, Result, ResultExt};
use crate::retention::rules::Action;

pub(super) mod holds;
pub(super) mod plans;
pub(super) mod sweeps;

/// Recording start, who gave it, arrival and classification.
pub type RetentionBasics = (DateTime<Utc>, TimeSource, DateTime<Utc>, Classification);

/// A linked case as retention sees it: status, outcome date, release date, appeal.
pub type CaseOutcome = (
    CaseStatus,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    bool,
);

impl Tx {
    /// Recording start, who gave it, arrival and classification.
    pub async fn retention_basics(&mut self, recording: Uuid) -> Result<RetentionBasics> {
        let row: Option<RetentionBasics> = on_tx!(self, c => {
            sqlx::query_as("SELECT recorded_at, recorded_at_source, created_at, classification FROM recordings WHERE id = $1")
                .bind(recording)
                .fetch_optional(c)
                .await
        })
        .context(|| format!("reading recording {recording}"))?;
        row.ok_or_else(|| Error::not_found(format!("no recording {recording}")))
    }

    pub async fn case_outcomes(&mut self, recording: Uuid) -> Result<Vec<CaseOutcome>> {
        on_tx!(self, c => {
            sqlx::query_as(
                "SELECT cs.status, cs.concluded_at, cs.sentence_release, cs.appeal \
                 FROM exhibits e JOIN cases cs ON cs.id = e.case_id WHERE e.recording_id = $1",
            )
            .bind(recording)
            .fetch_all(c)
            .await
        })
        .context(|| format!("reading the cases of recording {recording}"))
    }

    /// The recordings linked to a case, as this transaction sees them.
    pub async fn exhibit_recordings(&mut self, case: Uuid) -> Result<Vec<Uuid>> {
        on_tx!(self, c => {
            sqlx::query_scalar("SELECT recording_id FROM exhibits WHERE case_id = $1")
                .bind(case)
                .fetch_all(c)
                .await
        })
        .context(|| format!("reading the exhibits of case {case}"))
    }

    pub async fn set_next_action(
        &mut self,
        recording: Uuid,
        action: Action,
        at: Option<DateTime<Utc>>,
        rule: &str,
        policy_sha256: &str,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "UPDATE recordings SET next_action = $2, next_action_at = $3, next_action_rule = $4, \
                 next_action_policy = $5 WHERE id = $1 AND retention_state <> 'purged'",
            )
            .bind(recording)
            .bind(action)
            .bind(at)
            .bind(rule)
            .bind(policy_sha256)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording the next action of recording {recording}"))?;
        Ok(())
    }
}
