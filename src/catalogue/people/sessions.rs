//! Browser sessions, kept by the SHA-256 of their cookie value.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::error::{Result, ResultExt};

/// A session as stored: its data (JSON text) and when it ends.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub data: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Tx {
    /// Creates a session; false when its id is taken (the caller draws another).
    pub async fn insert_session(
        &mut self,
        id_sha256: &str,
        person: Option<Uuid>,
        data: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let inserted = on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO web_sessions (id_sha256, person_id, data, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id_sha256) DO NOTHING",
            )
            .bind(id_sha256)
            .bind(person)
            .bind(data)
            .bind(crate::domain::now())
            .bind(expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| "creating a session".into())?;
        Ok(inserted == 1)
    }

    /// Saves a live session's data. A session deleted meanwhile (signed out elsewhere) stays
    /// deleted: nothing is inserted.
    pub async fn update_session(
        &mut self,
        id_sha256: &str,
        person: Option<Uuid>,
        data: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "UPDATE web_sessions SET person_id = $2, data = $3, expires_at = $4 \
                 WHERE id_sha256 = $1",
            )
            .bind(id_sha256)
            .bind(person)
            .bind(data)
            .bind(expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| "saving a session".into())?;
        Ok(())
    }

    pub async fn delete_session(&mut self, id_sha256: &str) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("DELETE FROM web_sessions WHERE id_sha256 = $1")
                .bind(id_sha256)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| "deleting a session".into())?;
        Ok(())
    }

    /// Forgets sessions that have ended; how many.
    pub async fn delete_ended_sessions(&mut self, created_before: DateTime<Utc>) -> Result<u64> {
        on_tx!(self, c => {
            sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1 OR created_at <= $2")
                .bind(crate::domain::now())
                .bind(created_before)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| "forgetting ended sessions".into())
    }
}

impl Catalogue {
    /// A session still within both its idle and its absolute limit.
    pub async fn live_session(
        &self,
        id_sha256: &str,
        created_after: DateTime<Utc>,
    ) -> Result<Option<SessionRow>> {
        on_pool!(self, p => {
            sqlx::query_as(
                "SELECT data, created_at, expires_at FROM web_sessions \
                 WHERE id_sha256 = $1 AND expires_at > $2 AND created_at > $3",
            )
            .bind(id_sha256)
            .bind(crate::domain::now())
            .bind(created_after)
            .fetch_optional(p)
            .await
        })
        .context(|| "reading a session".into())
    }
}
