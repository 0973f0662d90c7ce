//! Cases and their exhibits: footage linked to a case is relevant material (CPIA) and is kept
//! whatever its classification while the case needs it.
//!
//! What a disclosure reads of a case's material: `disclosure`.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, RowLock, Tx, on_pool, on_tx};
use crate::domain::{CaseStatus, Classification, RecordingStatus, Schedule};
use crate::error::{Error, Result, ResultExt};

pub(super) mod disclosure;

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct CaseRow {
    pub id: Uuid,
    pub urn: String,
    pub offence: String,
    pub oic: String,
    pub status: CaseStatus,
    pub sentence_release: Option<DateTime<Utc>>,
    pub appeal: bool,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ExhibitRow {
    pub reference: String,
    pub item_number: i64,
    pub recording_id: Uuid,
    pub officer_id: String,
    pub recorded_at: DateTime<Utc>,
    pub classification: Classification,
    pub status: RecordingStatus,
    pub created_at: DateTime<Utc>,
    pub schedule: Schedule,
    pub schedule_item: i64,
}

/// A recording joining a case, and the schedule it goes on.
pub struct NewExhibit<'a> {
    pub case: Uuid,
    pub recording: Uuid,
    pub reference: &'a str,
    pub item_number: i64,
    pub schedule: Schedule,
    pub schedule_item: i64,
    pub description: Option<&'a str>,
    pub sensitivity: Option<&'a str>,
    pub disclosure_note: Option<&'a str>,
}

const CASE_COLUMNS: &str =
    "id, urn, offence, oic, status, sentence_release, appeal, opened_at, updated_at";

impl Tx {
    pub async fn insert_case(&mut self, urn: &str, offence: &str, oic: &str) -> Result<CaseRow> {
        let now = crate::domain::now();
        let sql = format!(
            "INSERT INTO cases (id, urn, offence, oic, status, appeal, opened_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'open', FALSE, $5, $5) \
             ON CONFLICT (urn) DO NOTHING RETURNING {CASE_COLUMNS}"
        );
        let row = on_tx!(self, c => {
            sqlx::query_as::<_, CaseRow>(&sql)
                .bind(Uuid::now_v7())
                .bind(urn)
                .bind(offence)
                .bind(oic)
                .bind(now)
                .fetch_optional(c)
                .await
        })
        .context(|| format!("opening case {urn}"))?;
        row.ok_or_else(|| {
            Error::new(
                crate::error::Code::Conflict,
                format!("case {urn} already exists"),
            )
        })
    }

    /// The case, locked for the rest of the transaction on PostgreSQL (exhibit numbering and
    /// status changes are read-modify-write).
    pub async fn case_for_update(&mut self, urn: &str) -> Result<CaseRow> {
        let lock = self.row_lock(RowLock::Update);
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE urn = $1{lock}");
        let row = on_tx!(self, c => {
            sqlx::query_as::<_, CaseRow>(&sql).bind(urn).fetch_optional(c).await
        })
        .context(|| format!("reading case {urn}"))?;
        row.ok_or_else(|| Error::not_found(format!("no case {urn} (bwv case open {urn} ...)")))
    }

    pub async fn update_case(
        &mut self,
        id: Uuid,
        status: CaseStatus,
        sentence_release: Option<DateTime<Utc>>,
        appeal: bool,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                // The outcome date is when the case first left open/charged for an outcome;
                // moving between outcomes keeps it, back to open or charged clears it. (SET
                // expressions read the row as it was.)
                "UPDATE cases SET status = $2, sentence_release = $3, appeal = $4, updated_at = $5, \
                 concluded_at = CASE WHEN $2 IN ('open', 'charged') THEN NULL \
                                     WHEN concluded_at IS NOT NULL THEN concluded_at ELSE $5 END \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(status)
            .bind(sentence_release)
            .bind(appeal)
            .bind(crate::domain::now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("updating case {id}"))?;
        Ok(())
    }

    /// References already used in a case, and the highest item number.
    pub async fn exhibit_references(&mut self, case: Uuid) -> Result<(Vec<String>, i64)> {
        let refs: Vec<(String, i64)> = on_tx!(self, c => {
            sqlx::query_as("SELECT reference, item_number FROM exhibits WHERE case_id = $1")
                .bind(case)
                .fetch_all(c)
                .await
        })
        .context(|| format!("reading the exhibits of case {case}"))?;
        let top = refs.iter().map(|(_, n)| *n).max().unwrap_or(0);
        Ok((refs.into_iter().map(|(r, _)| r).collect(), top))
    }

    /// The exhibit reference a recording already has in a case, if linked.
    pub async fn exhibit_of(&mut self, case: Uuid, recording: Uuid) -> Result<Option<String>> {
        on_tx!(self, c => {
            sqlx::query_scalar("SELECT reference FROM exhibits WHERE case_id = $1 AND recording_id = $2")
                .bind(case)
                .bind(recording)
                .fetch_optional(c)
                .await
        })
        .context(|| format!("reading the exhibits of case {case}"))
    }

    /// The next number on one of the case's schedules (never one given before).
    pub async fn next_schedule_item(&mut self, case: Uuid, schedule: Schedule) -> Result<i64> {
        let top: Option<i64> = on_tx!(self, c => {
            sqlx::query_scalar(
                "SELECT MAX(schedule_item) FROM exhibits WHERE case_id = $1 AND schedule = $2",
            )
            .bind(case)
            .bind(schedule)
            .fetch_one(c)
            .await
        })
        .context(|| format!("numbering the {schedule} schedule of case {case}"))?;
        Ok(top.unwrap_or(0) + 1)
    }

    pub async fn insert_exhibit(&mut self, e: &NewExhibit<'_>) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO exhibits (id, case_id, recording_id, reference, item_number, created_at, \
                 schedule, schedule_item, description, sensitivity, disclosure_note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(Uuid::now_v7())
            .bind(e.case)
            .bind(e.recording)
            .bind(e.reference)
            .bind(e.item_number)
            .bind(crate::domain::now())
            .bind(e.schedule)
            .bind(e.schedule_item)
            .bind(e.description)
            .bind(e.sensitivity)
            .bind(e.disclosure_note)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| {
            format!(
                "linking recording {} to case {} as {}",
                e.recording, e.case, e.reference
            )
        })?;
        Ok(())
    }

    /// Every case the recording is linked to, with the schedule it is on there.
    pub async fn links_of(&mut self, recording: Uuid) -> Result<Vec<(String, String)>> {
        on_tx!(self, c => {
            sqlx::query_as(
                "SELECT c.urn, e.schedule FROM exhibits e JOIN cases c ON c.id = e.case_id \
                 WHERE e.recording_id = $1 ORDER BY c.urn",
            )
            .bind(recording)
            .fetch_all(c)
            .await
        })
        .context(|| format!("reading the cases of recording {recording}"))
    }

    /// The officer's display name, for exhibit initials.
    pub async fn officer_name(&mut self, officer: &str) -> Result<Option<String>> {
        let name: Option<Option<String>> = on_tx!(self, c => {
            sqlx::query_scalar("SELECT display_name FROM officers WHERE id = $1")
                .bind(officer)
                .fetch_optional(c)
                .await
        })
        .context(|| format!("reading officer {officer}"))?;
        Ok(name.flatten())
    }
}

/// A case a recording is part of, as the recording's page shows it.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct CaseLink {
    pub urn: String,
    pub reference: String,
    pub schedule: Schedule,
    pub status: CaseStatus,
}

impl Catalogue {
    /// The cases the recording is linked to, by URN.
    pub async fn case_links(&self, recording: Uuid) -> Result<Vec<CaseLink>> {
        on_pool!(self, p => {
            sqlx::query_as(
                "SELECT c.urn, e.reference, e.schedule, c.status FROM exhibits e \
                 JOIN cases c ON c.id = e.case_id WHERE e.recording_id = $1 ORDER BY c.urn",
            )
            .bind(recording)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading the cases of recording {recording}"))
    }

    /// The cases most recently changed first.
    pub async fn recent_cases(&self, limit: u32) -> Result<Vec<CaseRow>> {
        let sql =
            format!("SELECT {CASE_COLUMNS} FROM cases ORDER BY updated_at DESC, urn LIMIT $1");
        on_pool!(self, p => {
            sqlx::query_as::<_, CaseRow>(&sql).bind(i64::from(limit)).fetch_all(p).await
        })
        .context(|| "listing cases".into())
    }

    pub async fn case(&self, urn: &str) -> Result<Option<CaseRow>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE urn = $1");
        on_pool!(self, p => sqlx::query_as::<_, CaseRow>(&sql).bind(urn).fetch_optional(p).await)
            .context(|| format!("reading case {urn}"))
    }

    pub async fn exhibits(&self, case: Uuid) -> Result<Vec<ExhibitRow>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, ExhibitRow>(
                "SELECT e.reference, e.item_number, e.recording_id, r.officer_id, r.recorded_at, \
                 r.classification, r.status, e.created_at, e.schedule, e.schedule_item \
                 FROM exhibits e JOIN recordings r ON r.id = e.recording_id \
                 WHERE e.case_id = $1 ORDER BY e.item_number",
            )
            .bind(case)
            .fetch_all(p)
            .await
        })
        .context(|| format!("listing the exhibits of case {case}"))
    }
}
