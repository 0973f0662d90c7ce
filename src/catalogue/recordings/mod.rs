//! Recordings, their clips, the objects that hold their bytes, and every sighting of those bytes.
//!
//! Around them: an Axis container's objects and what came with them (`axis`), how each clip
//! plays and what was made from it (`media`), and every classification decision
//! (`classification`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::catalogue::{Catalogue, ROWS_PER_STATEMENT, RowLock, Tx, on_pool, on_tx};
use crate::domain::TimeSource;
use crate::domain::{
    Classification, Clip, MediaState, Recording, RecordingStatus, RetentionState, Sha256Digest,
    Source,
};
use crate::error::{Code, Error, Result, ResultExt};
use crate::retention::rules::{Action, NextAction};

pub(super) mod axis;
pub(super) mod classification;
pub(super) mod media;
pub(super) mod search;

#[derive(Debug, Clone)]
pub struct NewRecording {
    pub id: Uuid,
    pub officer_id: String,
    /// The docking station's name for the officer, when it gave one (a label, not a record).
    pub officer_label: Option<String>,
    pub device_serial: String,
    pub source: Source,
    pub dock_id: Option<Uuid>,
    pub external_ref: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_at_source: TimeSource,
    pub category: Option<String>,
    pub classification: Classification,
    pub status: RecordingStatus,
    pub flags: Vec<String>,
    pub metadata: serde_json::Value,
    /// When it reached bwv (the start of periods counted from arrival).
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Its retention answer and the hash of the policy that gave it, when known as it is
    /// written (footage that arrived whole); otherwise the caller stores one in the same
    /// transaction.
    pub next: Option<(NextAction, String)>,
}

#[derive(Debug, Clone)]
pub struct NewClip {
    pub id: Uuid,
    pub recording_id: Uuid,
    pub seq: i64,
    pub sha256: Sha256Digest,
    pub size: u64,
    pub original_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSighting {
    pub sha256: Sha256Digest,
    pub recording_id: Uuid,
    pub duplicate: bool,
    pub source: Source,
    pub source_name: Option<String>,
    pub officer_id: String,
    pub device_serial: String,
    pub dock_id: Option<Uuid>,
}

#[derive(Debug, Clone, FromRow)]
pub struct ObjectRow {
    pub sha256: String,
    pub size: i64,
    pub purged_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct RecordingRow {
    id: Uuid,
    officer_id: String,
    officer_label: Option<String>,
    device_serial: String,
    source: Source,
    external_ref: Option<String>,
    recorded_at: DateTime<Utc>,
    recorded_at_source: TimeSource,
    category: Option<String>,
    classification: Classification,
    status: RecordingStatus,
    flags: Json<Vec<String>>,
    retention_state: RetentionState,
    next_action: Option<Action>,
    next_action_at: Option<DateTime<Utc>>,
    next_action_rule: Option<String>,
    deleted_at: Option<DateTime<Utc>>,
    purged_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct ClipRow {
    id: Uuid,
    recording_id: Uuid,
    seq: i64,
    sha256: String,
    size: i64,
    original_name: Option<String>,
    created_at: DateTime<Utc>,
    media_state: MediaState,
    media_error: Option<String>,
    probe: Option<Json<serde_json::Value>>,
}

const RECORDING_COLUMNS: &str = "id, officer_id, officer_label, device_serial, source, external_ref, recorded_at, \
     recorded_at_source, category, classification, status, flags, retention_state, created_at, \
     next_action, next_action_at, next_action_rule, deleted_at, purged_at";
const CLIP_COLUMNS: &str = "id, recording_id, seq, sha256, size, original_name, created_at, media_state, media_error, probe";

impl RecordingRow {
    fn into_recording(self, clips: Vec<Clip>) -> Recording {
        Recording {
            id: self.id,
            officer_id: self.officer_id,
            officer_label: self.officer_label,
            device_serial: self.device_serial,
            source: self.source,
            external_ref: self.external_ref,
            recorded_at: self.recorded_at,
            recorded_at_source: self.recorded_at_source,
            category: self.category,
            classification: self.classification,
            status: self.status,
            flags: self.flags.0,
            retention_state: self.retention_state,
            next_action: self.next_action,
            next_action_at: self.next_action_at,
            next_action_rule: self.next_action_rule,
            deleted_at: self.deleted_at,
            purged_at: self.purged_at,
            created_at: self.created_at,
            clips,
        }
    }
}

impl ClipRow {
    fn into_clip(self) -> Result<Clip> {
        Ok(Clip {
            id: self.id,
            seq: self.seq,
            sha256: self.sha256.parse().map_err(|e: Error| {
                e.context(format!(
                    "clip {} of recording {}",
                    self.id, self.recording_id
                ))
            })?,
            size: self.size as u64,
            original_name: self.original_name,
            created_at: self.created_at,
            media_state: self.media_state,
            media_error: self.media_error,
            probe: self.probe.map(|p| p.0),
        })
    }
}

impl Tx {
    /// The recording that first brought these bytes in, if any (one purged, or being purged, no
    /// longer counts: the same bytes arriving then are new footage).
    /// On PostgreSQL this also takes a transaction lock on the hash, so two doors receiving the
    /// same bytes at once cannot both decide they are new (SQLite writers are already serial).
    pub async fn recording_with_object(&mut self, sha256: &Sha256Digest) -> Result<Option<Uuid>> {
        self.lock_objects(&[sha256.to_hex()]).await?;
        on_tx!(self, c => {
            sqlx::query_scalar(
                "SELECT c.recording_id FROM clips c JOIN recordings r ON r.id = c.recording_id \
                 WHERE c.sha256 = $1 AND r.retention_state <> 'purged' AND r.purge_started_at IS NULL \
                 ORDER BY c.created_at, c.id LIMIT 1",
            )
            // Planned afresh each time: a plan cached while `clips` was empty (a new
            // catalogue's first bulk ingest) scans the whole table, a cost that grows with
            // every file until the table is next analysed.
            .persistent(false)
            .bind(sha256.to_hex())
            .fetch_optional(c)
            .await
        })
        .context(|| format!("looking up object {sha256}"))
    }

    /// A batch's `recording_with_object`, for the common case of a bulk ingest where most
    /// bytes are new: takes every hash's lock (in one order, so two batches cannot deadlock)
    /// and returns the hashes no live recording has. Those are new for as long as this
    /// transaction lasts; any other needs `recording_with_object` to say which recording.
    pub async fn objects_without_recording(
        &mut self,
        shas: &[Sha256Digest],
    ) -> Result<HashSet<Sha256Digest>> {
        let mut hexes: Vec<String> = shas.iter().map(Sha256Digest::to_hex).collect();
        hexes.sort_unstable();
        hexes.dedup();
        self.lock_objects(&hexes).await?;
        const LIVE: &str = "FROM clips c JOIN recordings r ON r.id = c.recording_id \
             WHERE r.retention_state <> 'purged' AND r.purge_started_at IS NULL";
        let held: Vec<String> = match self {
            Tx::Sqlite(t, _) => sqlx::query_scalar(&format!(
                "SELECT DISTINCT c.sha256 {LIVE} AND c.sha256 IN (SELECT value FROM json_each($1))"
            ))
            .persistent(false)
            .bind(json_list(&hexes)?)
            .fetch_all(&mut **t)
            .await,
            Tx::Postgres(t, _) => {
                sqlx::query_scalar(&format!(
                    "SELECT DISTINCT c.sha256 {LIVE} AND c.sha256 = ANY($1)"
                ))
                // Planned for each batch, as `recording_with_object` is for each file.
                .persistent(false)
                .bind(&hexes)
                .fetch_all(&mut **t)
                .await
            }
        }
        .context(|| format!("looking up {} objects", hexes.len()))?;
        let held: HashSet<&str> = held.iter().map(String::as_str).collect();
        Ok(shas
            .iter()
            .filter(|sha| !held.contains(sha.to_hex().as_str()))
            .copied()
            .collect())
    }

    /// The whole-arrival locks of these hashes, taken in the order given (PostgreSQL only).
    async fn lock_objects(&mut self, hexes: &[String]) -> Result<()> {
        if let Tx::Postgres(t, _) = self {
            sqlx::query(
                "SELECT pg_advisory_xact_lock(hashtextextended(h, 0)) FROM unnest($1::text[]) AS h",
            )
            .bind(hexes)
            .execute(&mut **t)
            .await
            .context(|| match hexes {
                [one] => format!("locking object {one}"),
                _ => format!("locking {} objects", hexes.len()),
            })?;
        }
        Ok(())
    }

    /// Catalogues stored bytes. Returns true when the row was a purge's tombstone: the caller
    /// must make sure the bytes it stored are still there (the purge may have deleted them after
    /// the store found them present). The revival goes first, so on PostgreSQL it waits for a
    /// purge holding the row and then counts it.
    pub async fn insert_object(
        &mut self,
        sha256: &Sha256Digest,
        size: u64,
        media_type: Option<&str>,
    ) -> Result<bool> {
        let revived = self.insert_objects(&[(*sha256, size, media_type)]).await?;
        Ok(!revived.is_empty())
    }

    /// `insert_object` for many objects at once, in two statements: returns the hashes that
    /// were a purge's tombstone.
    pub async fn insert_objects(
        &mut self,
        objects: &[(Sha256Digest, u64, Option<&str>)],
    ) -> Result<Vec<Sha256Digest>> {
        let now = crate::domain::now();
        let hexes: Vec<String> = objects.iter().map(|(sha, ..)| sha.to_hex()).collect();
        let what = || match objects {
            [(one, ..)] => format!("cataloguing object {one}"),
            _ => format!("cataloguing {} objects", objects.len()),
        };
        const REVIVE: &str = "UPDATE objects SET purged_at = NULL, stored_at = $2 \
             WHERE purged_at IS NOT NULL AND sha256";
        let revived: Vec<String> = match self {
            Tx::Sqlite(t, _) => {
                sqlx::query_scalar(&format!(
                    "{REVIVE} IN (SELECT value FROM json_each($1)) RETURNING sha256"
                ))
                .bind(json_list(&hexes)?)
                .bind(now)
                .fetch_all(&mut **t)
                .await
            }
            Tx::Postgres(t, _) => {
                sqlx::query_scalar(&format!("{REVIVE} = ANY($1) RETURNING sha256"))
                    // Planned afresh, as the lookup in `recording_with_object`: a generic plan
                    // made while `objects` was small may scan the table.
                    .persistent(false)
                    .bind(&hexes)
                    .bind(now)
                    .fetch_all(&mut **t)
                    .await
            }
        }
        .context(what)?;
        on_tx!(self, c => async {
            for rows in objects.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::new("INSERT INTO objects (sha256, size, media_type, stored_at) ")
                    .push_values(rows, |mut b, (sha, size, media_type)| {
                        b.push_bind(sha.to_hex())
                            .push_bind(*size as i64)
                            .push_bind(*media_type)
                            .push_bind(now);
                    })
                    .push(" ON CONFLICT (sha256) DO NOTHING")
                    .build()
                    .execute(&mut *c)
                    .await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .context(what)?;
        Ok(objects
            .iter()
            .map(|(sha, ..)| *sha)
            .filter(|sha| revived.contains(&sha.to_hex()))
            .collect())
    }

    pub async fn insert_recording(&mut self, r: &NewRecording) -> Result<()> {
        self.insert_recordings(std::slice::from_ref(r)).await
    }

    /// Recordings as they begin or arrive whole, a multi-row statement per few hundred.
    pub async fn insert_recordings(&mut self, recordings: &[NewRecording]) -> Result<()> {
        on_tx!(self, c => async {
            for rows in recordings.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::new(
                    "INSERT INTO recordings (id, officer_id, device_serial, source, external_ref, \
                     recorded_at, recorded_at_source, category, status, flags, metadata, \
                     created_at, dock_id, classification, officer_label, ended_at, next_action, \
                     next_action_at, next_action_rule, next_action_policy) ",
                )
                .push_values(rows, |mut b, r| {
                    let next = r.next.as_ref();
                    b.push_bind(r.id)
                        .push_bind(&r.officer_id)
                        .push_bind(&r.device_serial)
                        .push_bind(r.source)
                        .push_bind(&r.external_ref)
                        .push_bind(r.recorded_at)
                        .push_bind(r.recorded_at_source)
                        .push_bind(&r.category)
                        .push_bind(r.status)
                        .push_bind(Json(&r.flags))
                        .push_bind(Json(&r.metadata))
                        .push_bind(r.created_at)
                        .push_bind(r.dock_id)
                        .push_bind(r.classification.as_str())
                        .push_bind(&r.officer_label)
                        .push_bind(r.ended_at)
                        .push_bind(next.map(|(n, _)| n.action))
                        .push_bind(next.and_then(|(n, _)| n.at))
                        .push_bind(next.map(|(n, _)| n.rule))
                        .push_bind(next.map(|(_, policy)| policy.as_str()));
                })
                .build()
                .execute(&mut *c)
                .await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .context(|| match recordings {
            [one] => format!("cataloguing recording {}", one.id),
            _ => format!("cataloguing {} recordings", recordings.len()),
        })
    }

    pub async fn next_clip_seq(&mut self, recording: Uuid) -> Result<i64> {
        let max: Option<i64> = on_tx!(self, c => {
            sqlx::query_scalar("SELECT MAX(seq) FROM clips WHERE recording_id = $1")
                .bind(recording)
                .fetch_one(c)
                .await
        })
        .context(|| format!("numbering clips of {recording}"))?;
        Ok(max.unwrap_or(0) + 1)
    }

    /// Points a clip (by its name in the container) at new bytes, when a dock sends it again.
    pub async fn replace_clip(
        &mut self,
        recording: Uuid,
        name: &str,
        sha256: &str,
        size: u64,
    ) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query("UPDATE clips SET sha256 = $1, size = $2 WHERE recording_id = $3 AND original_name = $4")
                .bind(sha256)
                .bind(size as i64)
                .bind(recording)
                .bind(name)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("replacing clip {name}"))?;
        Ok(n > 0)
    }

    /// Turns an incomplete recording into a stored one, with what its door said at the end.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_recording(
        &mut self,
        id: Uuid,
        recorded_at: DateTime<Utc>,
        recorded_at_source: TimeSource,
        ended_at: Option<DateTime<Utc>>,
        category: Option<&str>,
        flags: &[String],
        metadata: Option<&serde_json::Value>,
    ) -> Result<bool> {
        let n = on_tx!(self, c => {
            sqlx::query(
                "UPDATE recordings SET status = 'stored', recorded_at = $1, recorded_at_source = $2, \
                 ended_at = $3, category = COALESCE($4, category), flags = $5, metadata = COALESCE($6, metadata) \
                 WHERE id = $7 AND status = 'incomplete'",
            )
            .bind(recorded_at)
            .bind(recorded_at_source)
            .bind(ended_at)
            .bind(category)
            .bind(Json(flags))
            .bind(metadata.map(Json))
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("completing recording {id}"))?;
        Ok(n == 1)
    }

    pub async fn insert_clip(&mut self, clip: &NewClip) -> Result<()> {
        self.insert_clips(std::slice::from_ref(clip)).await
    }

    pub async fn insert_clips(&mut self, clips: &[NewClip]) -> Result<()> {
        let now = crate::domain::now();
        on_tx!(self, c => async {
            for rows in clips.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::new(
                    "INSERT INTO clips (id, recording_id, seq, sha256, size, original_name, \
                     created_at) ",
                )
                .push_values(rows, |mut b, clip| {
                    b.push_bind(clip.id)
                        .push_bind(clip.recording_id)
                        .push_bind(clip.seq)
                        .push_bind(clip.sha256.to_hex())
                        .push_bind(clip.size as i64)
                        .push_bind(&clip.original_name)
                        .push_bind(now);
                })
                .build()
                .execute(&mut *c)
                .await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .context(|| match clips {
            [one] => format!(
                "cataloguing clip {} of recording {}",
                one.seq, one.recording_id
            ),
            _ => format!("cataloguing {} clips", clips.len()),
        })
    }

    pub async fn insert_sighting(&mut self, s: &NewSighting) -> Result<Uuid> {
        let id = Uuid::now_v7();
        self.write_sightings(&[(id, s)]).await?;
        Ok(id)
    }

    pub async fn insert_sightings(&mut self, sightings: &[NewSighting]) -> Result<()> {
        let rows: Vec<(Uuid, &NewSighting)> =
            sightings.iter().map(|s| (Uuid::now_v7(), s)).collect();
        self.write_sightings(&rows).await
    }

    async fn write_sightings(&mut self, rows: &[(Uuid, &NewSighting)]) -> Result<()> {
        let now = crate::domain::now();
        on_tx!(self, c => async {
            for rows in rows.chunks(ROWS_PER_STATEMENT) {
                QueryBuilder::new(
                    "INSERT INTO sightings (id, sha256, recording_id, duplicate, source, \
                     source_name, officer_id, device_serial, seen_at, dock_id) ",
                )
                .push_values(rows, |mut b, (id, s)| {
                    b.push_bind(*id)
                        .push_bind(s.sha256.to_hex())
                        .push_bind(s.recording_id)
                        .push_bind(s.duplicate)
                        .push_bind(s.source)
                        .push_bind(&s.source_name)
                        .push_bind(&s.officer_id)
                        .push_bind(&s.device_serial)
                        .push_bind(now)
                        .push_bind(s.dock_id);
                })
                .build()
                .execute(&mut *c)
                .await?;
            }
            Ok::<_, sqlx::Error>(())
        }
        .await)
        .context(|| match rows {
            [(_, one)] => format!("recording a sighting of {}", one.sha256),
            _ => format!("recording {} sightings", rows.len()),
        })
    }
}

/// Hashes as one SQLite parameter: a JSON array, read back with `json_each` (SQLite has no
/// array parameters; PostgreSQL takes the list itself, `= ANY($1)`).
fn json_list(hexes: &[String]) -> Result<String> {
    serde_json::to_string(hexes)
        .map_err(|e| Error::new(Code::Catalogue, format!("listing object hashes: {e}")))
}

/// Reads one recording with its clips: `$first` and `$second` are the executors for the two
/// statements (the pool twice, or a transaction's connection reborrowed).
macro_rules! read_recording {
    ($first:expr, $second:expr, $id:expr) => {{
        let id: Uuid = $id;
        let row: Option<RecordingRow> = sqlx::query_as(&format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional($first)
        .await
        .context(|| format!("reading recording {id}"))?;
        match row {
            None => Ok(None),
            Some(row) => {
                let clips: Vec<ClipRow> = sqlx::query_as(&format!(
                    "SELECT {CLIP_COLUMNS} FROM clips WHERE recording_id = $1 ORDER BY seq"
                ))
                .bind(id)
                .fetch_all($second)
                .await
                .context(|| format!("reading clips of recording {id}"))?;
                let clips = clips
                    .into_iter()
                    .map(ClipRow::into_clip)
                    .collect::<Result<_>>()?;
                Ok(Some(row.into_recording(clips)))
            }
        }
    }};
}

impl Tx {
    /// Locks a recording's row for the rest of the transaction (on PostgreSQL; SQLite's writer
    /// holds everything), so two changes to one recording (two clips settling, a clip arriving
    /// as the recording completes, a link racing a purge) happen one after the other.
    pub async fn lock_recording(&mut self, recording: Uuid) -> Result<()> {
        let lock = self.row_lock(RowLock::Update);
        if !lock.is_empty() {
            on_tx!(self, c => {
                sqlx::query(&format!("SELECT 1 FROM recordings WHERE id = $1{lock}"))
                    .bind(recording)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected())
            })
            .context(|| format!("locking recording {recording}"))?;
        }
        Ok(())
    }

    /// The recording's status as this transaction sees it (after `lock_recording`, current).
    pub async fn recording_status(&mut self, recording: Uuid) -> Result<RecordingStatus> {
        on_tx!(self, c => {
            sqlx::query_scalar("SELECT status FROM recordings WHERE id = $1")
                .bind(recording)
                .fetch_one(c)
                .await
        })
        .context(|| format!("reading the status of recording {recording}"))
    }

    /// A recording as this transaction sees it (after `lock_recording`, current).
    pub async fn recording(&mut self, id: Uuid) -> Result<Option<Recording>> {
        on_tx!(self, c => read_recording!(&mut *c, &mut *c, id))
    }
}

impl Catalogue {
    /// Whose footage a recording is: its officer and that officer's team, for reach checks.
    pub async fn recording_owner(&self, id: Uuid) -> Result<Option<(String, Option<String>)>> {
        on_pool!(self, p => {
            sqlx::query_as(
                "SELECT r.officer_id, o.team FROM recordings r \
                 LEFT JOIN officers o ON o.id = r.officer_id WHERE r.id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await
        })
        .context(|| format!("reading whose footage recording {id} is"))
    }

    pub async fn recording(&self, id: Uuid) -> Result<Option<Recording>> {
        on_pool!(self, p => read_recording!(p, p, id))
    }

    /// Recordings, newest first.
    pub async fn recordings(&self, limit: u32) -> Result<Vec<Recording>> {
        self.search_recordings(
            &search::RecordingFilter::default(),
            &search::Scope::All,
            None,
            limit,
        )
        .await
    }

    /// The bytes of every object still stored (not purged): what `bwv fsck` will re-read.
    pub async fn stored_bytes(&self) -> Result<u64> {
        let total: Option<i64> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT CAST(SUM(size) AS BIGINT) FROM objects WHERE purged_at IS NULL")
                .fetch_one(p)
                .await
        })
        .context(|| "summing stored object sizes".into())?;
        Ok(total.unwrap_or(0).max(0) as u64)
    }

    /// Up to `limit` catalogued objects after `after` in hash order (for `bwv fsck`). A page
    /// at a time, each its own short query, so a check of a large store holds no read
    /// transaction open for hours (SQLite could not checkpoint its WAL, PostgreSQL's vacuum
    /// could not clear behind it).
    pub async fn objects_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<ObjectRow>> {
        let after = after.unwrap_or("");
        on_pool!(self, p => {
            sqlx::query_as::<_, ObjectRow>(
                "SELECT sha256, size, purged_at FROM objects WHERE sha256 > $1 ORDER BY sha256 LIMIT $2",
            )
            .bind(after)
            .bind(limit as i64)
            .fetch_all(p)
            .await
        })
        .context(|| format!("reading catalogued objects after {after:?}"))
    }
}
