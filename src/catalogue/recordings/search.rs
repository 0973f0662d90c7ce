//! Finding recordings: any combination of filters, narrowed to the footage the asker reaches,
//! newest first, a page at a time from a cursor that stays put while footage keeps arriving.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CLIP_COLUMNS, ClipRow, RECORDING_COLUMNS, RecordingRow};
use crate::catalogue::{Catalogue, on_pool};
use crate::domain::{Classification, Clip, Recording, RecordingStatus, RetentionAction};
use crate::error::{Result, ResultExt};

/// What to look for; every field narrows.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingFilter {
    pub officer: Option<String>,
    pub device: Option<String>,
    pub dock: Option<Uuid>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub until: Option<DateTime<Utc>>,
    pub category: Option<String>,
    pub classification: Option<Classification>,
    pub status: Option<RecordingStatus>,
    /// A case URN the recording is an exhibit in.
    pub case: Option<String>,
    /// Words in a bookmark's note or category, case-insensitive.
    pub text: Option<String>,
}

/// Whose footage the asker reaches.
#[derive(Debug, Clone)]
pub enum Scope {
    All,
    /// One officer's own.
    Officer(String),
    /// A team's, and the asker's own.
    Team {
        team: Option<String>,
        officer: Option<String>,
    },
}

/// Where the previous page ended: the last recording's time and id.
pub type After = (DateTime<Utc>, Uuid);

enum Arg {
    Text(String),
    Id(Uuid),
    Time(DateTime<Utc>),
    Int(i64),
}

/// The statement and its arguments, `$n` numbered (SQLite accepts them too).
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn and(&mut self, clause: &str, args: impl IntoIterator<Item = Arg>) {
        let mut clause = clause.to_owned();
        for arg in args {
            self.args.push(arg);
            clause = clause.replacen("?", &format!("${}", self.args.len()), 1);
        }
        self.text.push_str(" AND ");
        self.text.push_str(&clause);
    }
}

/// `%` and `_` in the words are themselves, not wildcards.
fn like_pattern(words: &str) -> String {
    let mut p = String::from("%");
    for c in words.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Sql {
    fn recordings_within(scope: &Scope) -> Sql {
        let mut q = Sql {
            text: format!("SELECT {RECORDING_COLUMNS} FROM recordings r WHERE 1 = 1"),
            args: Vec::new(),
        };
        q.within(scope);
        q
    }

    fn within(&mut self, scope: &Scope) {
        match scope {
            Scope::All => {}
            Scope::Officer(o) => self.and("r.officer_id = ?", [Arg::Text(o.clone())]),
            Scope::Team { team, officer } => self.and(
                "(r.officer_id = ? OR r.officer_id IN (SELECT o.id FROM officers o WHERE o.team = ?))",
                [
                    Arg::Text(officer.clone().unwrap_or_default()),
                    Arg::Text(team.clone().unwrap_or_default()),
                ],
            ),
        }
    }

    fn limit(&mut self, order: &str, limit: u32) {
        self.args.push(Arg::Int(i64::from(limit)));
        self.text
            .push_str(&format!(" ORDER BY {order} LIMIT ${}", self.args.len()));
    }
}

/// Footage waiting for a supervisor: never reviewed, non-evidential and due for deletion
/// before `horizon` (the last chance to say it is evidence), or asked to be reviewed again;
/// oldest first.
fn review_statement(scope: &Scope, horizon: DateTime<Utc>, limit: u32) -> Sql {
    let mut q = Sql::recordings_within(scope);
    q.and(
        "r.deleted_at IS NULL AND (r.classification = ? OR (r.classification = ? \
         AND r.next_action = ? AND r.next_action_at < ?) \
         OR EXISTS (SELECT 1 FROM review_requests q WHERE q.recording_id = r.id))",
        [
            Arg::Text(Classification::Unreviewed.as_str().into()),
            Arg::Text(Classification::NonEvidential.as_str().into()),
            Arg::Text(RetentionAction::Delete.as_str().into()),
            Arg::Time(horizon),
        ],
    );
    q.limit("r.recorded_at ASC, r.id ASC", limit);
    q
}

fn statement(f: &RecordingFilter, scope: &Scope, after: Option<After>, limit: u32) -> Sql {
    let mut q = Sql::recordings_within(scope);
    let text = |s: &Option<String>| s.clone().map(Arg::Text);
    if let Some(a) = text(&f.officer) {
        q.and("r.officer_id = ?", [a]);
    }
    if let Some(a) = text(&f.device) {
        q.and("r.device_serial = ?", [a]);
    }
    if let Some(d) = f.dock {
        q.and("r.dock_id = ?", [Arg::Id(d)]);
    }
    if let Some(t) = f.from {
        q.and("r.recorded_at >= ?", [Arg::Time(t)]);
    }
    if let Some(t) = f.until {
        q.and("r.recorded_at < ?", [Arg::Time(t)]);
    }
    if let Some(a) = text(&f.category) {
        q.and("r.category = ?", [a]);
    }
    if let Some(c) = f.classification {
        q.and("r.classification = ?", [Arg::Text(c.as_str().into())]);
    }
    if let Some(s) = f.status {
        q.and("r.status = ?", [Arg::Text(s.as_str().into())]);
    }
    if let Some(a) = text(&f.case) {
        q.and(
            "EXISTS (SELECT 1 FROM exhibits e JOIN cases c ON c.id = e.case_id \
             WHERE e.recording_id = r.id AND c.urn = ?)",
            [a],
        );
    }
    if let Some(words) = f.text.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        let p = like_pattern(words);
        q.and(
            "EXISTS (SELECT 1 FROM bookmarks b WHERE b.recording_id = r.id AND \
             (LOWER(COALESCE(b.note, '')) LIKE ? ESCAPE '\\' \
             OR LOWER(COALESCE(b.category, '')) LIKE ? ESCAPE '\\'))",
            [Arg::Text(p.clone()), Arg::Text(p)],
        );
    }
    if let Some((t, id)) = after {
        q.and(
            "(r.recorded_at < ? OR (r.recorded_at = ? AND r.id < ?))",
            [Arg::Time(t), Arg::Time(t), Arg::Id(id)],
        );
    }
    q.limit("r.recorded_at DESC, r.id DESC", limit);
    q
}

impl Catalogue {
    /// Recordings matching `filter` within `scope`, newest first, after the cursor.
    pub async fn search_recordings(
        &self,
        filter: &RecordingFilter,
        scope: &Scope,
        after: Option<After>,
        limit: u32,
    ) -> Result<Vec<Recording>> {
        self.recordings_by(
            statement(filter, scope, after, limit),
            "searching recordings",
        )
        .await
    }

    /// Footage within `scope` waiting for a supervisor's classification, oldest first.
    pub async fn review_queue(
        &self,
        scope: &Scope,
        horizon: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Recording>> {
        self.recordings_by(
            review_statement(scope, horizon, limit),
            "reading the review queue",
        )
        .await
    }

    async fn recordings_by(&self, sql: Sql, doing: &'static str) -> Result<Vec<Recording>> {
        let rows: Vec<RecordingRow> = on_pool!(self, p => {
            let mut q = sqlx::query_as(&sql.text);
            for a in &sql.args {
                q = match a {
                    Arg::Text(s) => q.bind(s.clone()),
                    Arg::Id(u) => q.bind(*u),
                    Arg::Time(t) => q.bind(*t),
                    Arg::Int(n) => q.bind(*n),
                };
            }
            q.fetch_all(p).await
        })
        .context(|| doing.into())?;
        self.with_clips(rows).await
    }

    /// The recordings of these rows, each with its clips, in the rows' order.
    pub(super) async fn with_clips(&self, rows: Vec<RecordingRow>) -> Result<Vec<Recording>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=rows.len()).map(|i| format!("${i}")).collect();
        let text = format!(
            "SELECT {CLIP_COLUMNS} FROM clips WHERE recording_id IN ({}) ORDER BY recording_id, seq",
            marks.join(", ")
        );
        let clip_rows: Vec<ClipRow> = on_pool!(self, p => {
            let mut q = sqlx::query_as(&text);
            for r in &rows {
                q = q.bind(r.id);
            }
            q.fetch_all(p).await
        })
        .context(|| "reading the clips of recordings".into())?;
        let mut clips: std::collections::HashMap<Uuid, Vec<Clip>> = Default::default();
        for row in clip_rows {
            clips
                .entry(row.recording_id)
                .or_default()
                .push(row.into_clip()?);
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let c = clips.remove(&r.id).unwrap_or_default();
                r.into_recording(c)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_words_are_literal() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        let f = RecordingFilter {
            officer: Some("1234".into()),
            text: Some("knife".into()),
            ..Default::default()
        };
        let q = statement(&f, &Scope::Officer("1234".into()), None, 10);
        assert!(q.text.contains("r.officer_id = $1"));
        assert!(q.text.contains("r.officer_id = $2"));
        assert!(q.text.contains("LIKE $3") && q.text.contains("LIKE $4"));
        assert!(q.text.ends_with("LIMIT $5"));
        assert_eq!(q.args.len(), 5);
    }
}
