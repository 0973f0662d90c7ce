//! What the media pipeline learns and makes: a clip's probe and playability, the derivatives
//! (disclosure copy, poster, thumbnail strip) linked to the original they came from, and the
//! recording's overall status once every clip is settled.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::domain::{DerivativeKind, MediaState, RetentionState};
use crate::domain::{RecordingStatus, Sha256Digest};
use crate::error::{Result, ResultExt};

/// One clip as the media job needs it.
#[derive(Debug, Clone, FromRow)]
pub struct ClipMedia {
    pub id: Uuid,
    pub recording_id: Uuid,
    pub seq: i64,
    pub sha256: String,
    pub size: i64,
    pub original_name: Option<String>,
    pub media_state: MediaState,
    pub recording_status: RecordingStatus,
    pub retention_state: RetentionState,
    /// The recording's purge has begun: nothing more is made of it.
    pub purging: bool,
}

#[derive(Debug, Clone)]
pub struct NewDerivative {
    pub clip_id: Uuid,
    pub source_sha256: Sha256Digest,
    pub sha256: Sha256Digest,
    pub size: u64,
    pub kind: DerivativeKind,
    pub media_type: &'static str,
    pub params: serde_json::Value,
}

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct DerivativeRow {
    pub clip_id: Uuid,
    pub kind: DerivativeKind,
    pub sha256: String,
    pub source_sha256: String,
    pub media_type: String,
    pub size: i64,
    #[schema(value_type = Object)]
    pub params: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl Catalogue {
    pub async fn clip_media(&self, clip: Uuid) -> Result<Option<ClipMedia>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, ClipMedia>(
                "SELECT c.id, c.recording_id, c.seq, c.sha256, c.size, c.original_name, \
                 c.media_state, r.status AS recording_status, r.retention_state, \
                 r.purge_started_at IS NOT NULL AS purging \
                 FROM clips c JOIN recordings r ON r.id = c.recording_id WHERE c.id = $1",
            )
            .bind(clip)
            .fetch_optional(p)
            .await
        })
        .context(|| format!("reading clip {clip}"))
    }

    /// Every derivative of a recording's clips, in clip order.
    pub async fn derivatives(&self, recording: Uuid) -> Result<Vec<DerivativeRow>> {
        on_pool!(self, p => {
            sqlx::query_as::<_, DerivativeRow>(
                "SELECT d.clip_id, d.kind, d.sha256, d.source_sha256, d.media_type, o.size, \
                 d.params, d.created_at \
                 FROM derivatives d JOIN clips c ON c.id = d.clip_id \
                 JOIN objects o ON o.sha256 = d.sha256 \
                 WHERE c.recording_id = $1 ORDER BY c.seq, d.kind",
            )
            .bind(recording)
            .fetch_all(p)
            .await
        })
        .context(|| format!("listing derivatives of recording {recording}"))
    }
}

impl Tx {
    /// Links a stored derivative (its object already catalogued) to its clip; false when that
    /// kind already exists (a retried job made it before), which leaves the first one in place.
    pub async fn insert_derivative(&mut self, d: &NewDerivative) -> Result<bool> {
        let now = crate::domain::now();
        let inserted = on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO derivatives (id, clip_id, source_sha256, sha256, kind, media_type, \
                 params, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(d.clip_id)
            .bind(d.source_sha256.to_hex())
            .bind(d.sha256.to_hex())
            .bind(d.kind)
            .bind(d.media_type)
            .bind(Json(&d.params))
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("linking the {} of clip {}", d.kind, d.clip_id))?;
        Ok(inserted == 1)
    }

    /// Stores the probe and the verdict on one clip.
    pub async fn set_clip_media(
        &mut self,
        clip: Uuid,
        probe: Option<&serde_json::Value>,
        state: MediaState,
        error: Option<&str>,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "UPDATE clips SET probe = COALESCE($2, probe), media_state = $3, media_error = $4 \
                 WHERE id = $1",
            )
            .bind(clip)
            .bind(probe.map(Json))
            .bind(state)
            .bind(error)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("recording the media state of clip {clip}"))?;
        Ok(())
    }

    /// Once no clip is pending, the recording is `playable` if any clip plays (a clip that does
    /// not is flagged `clip-unplayable`) and `unplayable` if none does. Returns the new status
    /// and flags when the status changed.
    pub async fn settle_recording_media(
        &mut self,
        recording: Uuid,
    ) -> Result<Option<(RecordingStatus, Vec<String>)>> {
        let (status, flags, pending, playable, unplayable): (String, Json<Vec<String>>, i64, i64, i64) =
            on_tx!(self, c => {
                sqlx::query_as(
                    "SELECT r.status, r.flags, \
                     (SELECT COUNT(*) FROM clips WHERE recording_id = r.id AND media_state = 'pending'), \
                     (SELECT COUNT(*) FROM clips WHERE recording_id = r.id AND media_state = 'playable'), \
                     (SELECT COUNT(*) FROM clips WHERE recording_id = r.id AND media_state = 'unplayable') \
                     FROM recordings r WHERE r.id = $1",
                )
                .bind(recording)
                .fetch_one(c)
                .await
            })
            .context(|| format!("reading the clips of recording {recording}"))?;
        if pending > 0 || status == RecordingStatus::Incomplete.as_str() {
            return Ok(None);
        }
        let new = if playable > 0 {
            RecordingStatus::Playable
        } else {
            RecordingStatus::Unplayable
        };
        // The media flags follow the clips (a retried job can change a verdict); others stay.
        let before = flags.0;
        let mut flags: Vec<String> = before
            .iter()
            .filter(|f| *f != "clip-unplayable" && *f != "unplayable")
            .cloned()
            .collect();
        if playable > 0 && unplayable > 0 {
            flags.push("clip-unplayable".to_owned());
        }
        if playable == 0 {
            flags.push("unplayable".to_owned());
        }
        if status == new.as_str() && flags == before {
            return Ok(None);
        }
        on_tx!(self, c => {
            sqlx::query("UPDATE recordings SET status = $2, flags = $3 WHERE id = $1")
                .bind(recording)
                .bind(new.as_str())
                .bind(Json(&flags))
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("settling the status of recording {recording}"))?;
        Ok(Some((new, flags)))
    }
}
