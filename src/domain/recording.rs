use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::Sha256Digest;

/// Which door the footage came in through. Recorded on every recording and sighting because the
/// chain of custody starts at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Cli,
    Watch,
    Axis,
    Tus,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::Watch => "watch",
            Source::Axis => "axis",
            Source::Tus => "tus",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Classification {
    Unreviewed,
    Evidential,
    NonEvidential,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Unreviewed => "unreviewed",
            Classification::Evidential => "evidential",
            Classification::NonEvidential => "non-evidential",
        }
    }

    pub fn parse(s: &str) -> Option<Classification> {
        match s {
            "unreviewed" => Some(Classification::Unreviewed),
            "evidential" => Some(Classification::Evidential),
            "non-evidential" => Some(Classification::NonEvidential),
            _ => None,
        }
    }
}

/// Where a recording is in its life: still arriving, stored (originals durable), or processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingStatus {
    Incomplete,
    Stored,
    Playable,
    Unplayable,
}

impl RecordingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingStatus::Incomplete => "incomplete",
            RecordingStatus::Stored => "stored",
            RecordingStatus::Playable => "playable",
            RecordingStatus::Unplayable => "unplayable",
        }
    }
}

/// One recording as the catalogue knows it. Strings for the enumerated columns are kept as
/// stored so that a row written by a newer bwv still reads.
#[derive(Debug, Clone, Serialize)]
pub struct Recording {
    pub id: Uuid,
    pub officer_id: String,
    /// The docking station's name for the officer (a label; the force's record is the officer's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub officer_label: Option<String>,
    pub device_serial: String,
    pub source: String,
    pub external_ref: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_at_source: String,
    pub category: Option<String>,
    pub classification: String,
    pub status: String,
    pub flags: Vec<String>,
    pub retention_state: String,
    /// What retention does next (`keep`, `review`, `delete`), when, and by which rule.
    pub next_action: Option<String>,
    pub next_action_at: Option<DateTime<Utc>>,
    pub next_action_rule: Option<String>,
    /// Soft-deleted (recoverable until purged) and purged (only the tombstone is left).
    pub deleted_at: Option<DateTime<Utc>>,
    pub purged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub clips: Vec<Clip>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Clip {
    pub id: Uuid,
    pub seq: i64,
    pub sha256: Sha256Digest,
    pub size: u64,
    pub original_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `pending` until the media job settles it as `playable` or `unplayable`.
    pub media_state: String,
    /// Why it does not play, in the decoder's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_error: Option<String>,
    /// What the probe found (container, duration, streams).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<serde_json::Value>,
}
