use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{
    Classification, MediaState, RecordingStatus, RetentionAction, RetentionState, Sha256Digest,
    Source, TimeSource,
};

/// One recording as the catalogue knows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Recording {
    pub id: Uuid,
    pub officer_id: String,
    /// The docking station's name for the officer (a label; the force's record is the officer's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub officer_label: Option<String>,
    pub device_serial: String,
    pub source: Source,
    pub external_ref: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_at_source: TimeSource,
    pub category: Option<String>,
    pub classification: Classification,
    pub status: RecordingStatus,
    pub flags: Vec<String>,
    pub retention_state: RetentionState,
    /// What retention does next (`keep`, `review`, `delete`), when, and by which rule.
    pub next_action: Option<RetentionAction>,
    pub next_action_at: Option<DateTime<Utc>>,
    pub next_action_rule: Option<String>,
    /// Soft-deleted (recoverable until purged) and purged (only the tombstone is left).
    pub deleted_at: Option<DateTime<Utc>>,
    pub purged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub clips: Vec<Clip>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clip {
    pub id: Uuid,
    pub seq: i64,
    pub sha256: Sha256Digest,
    pub size: u64,
    pub original_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `pending` until the media job settles it as `playable` or `unplayable`.
    pub media_state: MediaState,
    /// Why it does not play, in the decoder's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_error: Option<String>,
    /// What the probe found (container, duration, streams).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<serde_json::Value>,
}
