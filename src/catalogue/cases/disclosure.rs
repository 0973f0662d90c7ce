//! What a disclosure package needs from the catalogue: the case's material with what the
//! schedules say about it.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, on_pool};
use crate::domain::{RegisteredBy, Schedule};
use crate::error::{Result, ResultExt};

#[derive(Debug, Clone, FromRow)]
pub struct MaterialRow {
    pub schedule: Schedule,
    pub schedule_item: i64,
    pub reference: String,
    pub recording_id: Uuid,
    pub officer_id: String,
    /// The force's name for the officer (docks never write it).
    pub officer_name: Option<String>,
    /// `force`, or `dock` for an officer only a docking station announced.
    pub officer_registered_by: RegisteredBy,
    /// The docking station's name for the officer when the footage arrived.
    pub officer_label: Option<String>,
    pub device_serial: String,
    pub recorded_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub category: Option<String>,
    pub description: Option<String>,
    pub sensitivity: Option<String>,
    pub disclosure_note: Option<String>,
}

impl Catalogue {
    /// Every recording linked to the case, exhibits first, each schedule in item order.
    pub async fn case_material(&self, case: Uuid) -> Result<Vec<MaterialRow>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, MaterialRow>(
                "SELECT e.schedule, e.schedule_item, e.reference, e.recording_id, r.officer_id, \
                 o.display_name AS officer_name, o.registered_by AS officer_registered_by, \
                 r.officer_label, r.device_serial, r.recorded_at, r.ended_at, \
                 r.category, e.description, e.sensitivity, e.disclosure_note \
                 FROM exhibits e JOIN recordings r ON r.id = e.recording_id \
                 JOIN officers o ON o.id = r.officer_id \
                 WHERE e.case_id = $1 \
                 ORDER BY CASE e.schedule WHEN 'exhibit' THEN 0 WHEN 'unused' THEN 1 ELSE 2 END, \
                 e.schedule_item",
            )
            .bind(case)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading the material of case {case}"))
    }
}
