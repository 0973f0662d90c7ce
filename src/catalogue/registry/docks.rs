//! Docking stations: their credentials and the session tokens they are given.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, RowLock, Tx, on_pool, on_tx};
use crate::error::{Result, ResultExt};

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Dock {
    pub id: Uuid,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const DOCK_COLUMNS: &str = "id, name, secret_hash, created_at, revoked_at";

impl Tx {
    pub async fn insert_dock(&mut self, id: Uuid, name: &str, secret_hash: &str) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query("INSERT INTO docks (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(name)
                .bind(secret_hash)
                .bind(crate::domain::now())
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context(|| format!("adding dock {name}"))?;
        Ok(())
    }

    pub async fn set_dock_secret(&mut self, id: Uuid, secret_hash: &str) -> Result<()> {
        on_tx!(self, c => async {
            sqlx::query("UPDATE docks SET secret_hash = $1 WHERE id = $2")
                .bind(secret_hash)
                .bind(id)
                .execute(&mut *c)
                .await?;
                        sqlx::query("DELETE FROM dock_tokens WHERE dock_id = $1")
                .bind(id)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected())
        }
        .await)
        .context(|| format!("changing the secret of dock {id}"))?;
        Ok(())
    }

    /// Refuses work for a dock revoked since its request began. Checked in the transaction that
    /// commits the work; on PostgreSQL the dock's row is share-locked, so a revocation waits for
    /// the work to commit (it came first) rather than being outrun by it.
    pub async fn ensure_dock_active(&mut self, dock: &Dock) -> Result<()> {
        let lock = self.row_lock(RowLock::Share);
        let revoked: Option<Option<DateTime<Utc>>> = on_tx!(self, c => {
            sqlx::query_scalar(&format!("SELECT revoked_at FROM docks WHERE id = $1{lock}"))
                .bind(dock.id)
                .fetch_optional(c)
                .await
        })
        .context(|| format!("checking dock {}", dock.name))?;
        match revoked {
            Some(None) => Ok(()),
            _ => Err(crate::ingest::revoked(dock)),
        }
    }

    /// Marks the dock revoked and drops its tokens; true when it was active.
    pub async fn revoke_dock(&mut self, id: Uuid) -> Result<bool> {
        let changed = on_tx!(self, c => async {
            let r = sqlx::query("UPDATE docks SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(crate::domain::now())
                .bind(id)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM dock_tokens WHERE dock_id = $1").bind(id).execute(&mut *c).await?;
            Ok::<_, sqlx::Error>(r.rows_affected())
        }
        .await)
        .context(|| format!("revoking dock {id}"))?;
        Ok(changed == 1)
    }
}

impl Catalogue {
    pub async fn dock_by_name(&self, name: &str) -> Result<Option<Dock>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {DOCK_COLUMNS} FROM docks WHERE name = $1"))
                .bind(name)
                .fetch_optional(p)
                .await
        })
        .context(|| format!("looking up dock {name}"))
    }

    pub async fn docks(&self) -> Result<Vec<Dock>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {DOCK_COLUMNS} FROM docks ORDER BY name"))
                .fetch_all(p)
                .await
        })
        .context(|| "listing docks".into())
    }

    pub async fn insert_token(
        &self,
        token_sha256: &str,
        dock_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = crate::domain::now();
        on_pool!(self, p => async {
            // Expired tokens are kept a day, so a dock presenting one is told it expired
            // rather than counted as guessing.
            sqlx::query("DELETE FROM dock_tokens WHERE expires_at < $1")
                .bind(now - chrono::Duration::days(1))
                .execute(p)
                .await?;
            sqlx::query(
                "INSERT INTO dock_tokens (token_sha256, dock_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_sha256)
            .bind(dock_id)
            .bind(now)
            .bind(expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        }
        .await)
        .context(|| "issuing a dock token".into())?;
        Ok(())
    }

    /// Whether a dock has been revoked (long uploads ask again as they go).
    pub async fn dock_revoked(&self, dock: Uuid) -> Result<bool> {
        let revoked: Option<Option<DateTime<Utc>>> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT revoked_at FROM docks WHERE id = $1")
                .bind(dock)
                .fetch_optional(p)
                .await
        })
        .context(|| format!("checking dock {dock}"))?;
        Ok(!matches!(revoked, Some(None)))
    }

    /// What a token is: live (with its active dock), expired lately, or unknown.
    pub async fn token_state(&self, token_sha256: &str) -> Result<TokenState> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            dock: Dock,
            expires_at: DateTime<Utc>,
        }
        let row: Option<Row> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT d.id, d.name, d.secret_hash, d.created_at, d.revoked_at, t.expires_at \
                 FROM dock_tokens t JOIN docks d ON d.id = t.dock_id WHERE t.token_sha256 = $1",
            )
            .bind(token_sha256)
            .fetch_optional(p)
            .await
        })
        .context(|| "checking a dock token".into())?;
        Ok(match row {
            None => TokenState::Unknown,
            Some(r) if r.dock.revoked_at.is_some() || r.expires_at <= crate::domain::now() => {
                TokenState::Expired
            }
            Some(r) => TokenState::Live(r.dock),
        })
    }
}

/// What a presented token turned out to be.
#[derive(Debug)]
pub enum TokenState {
    Live(Dock),
    /// It was ours but has expired, or its dock was revoked: the dock signs in again.
    Expired,
    /// It was never ours.
    Unknown,
}
