//! API tokens: bound to a person and some of their roles, kept only by their SHA-256.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::domain::Roles;
use crate::error::{Result, ResultExt};

#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ApiTokenRow {
    pub id: Uuid,
    pub person_id: Uuid,
    pub label: String,
    #[serde(skip)]
    pub token_sha256: String,
    pub roles: Roles,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiTokenRow {
    /// Whether the token's use was noted lately enough not to be noted again now.
    pub fn touched_lately(&self) -> bool {
        self.last_used_at.is_some_and(|at| {
            crate::domain::now() - at < chrono::Duration::seconds(TOUCH_EVERY_SECS)
        })
    }
}

const TOKEN_COLUMNS: &str = "id, person_id, label, token_sha256, roles, created_at, expires_at, \
                             revoked_at, last_used_at";

/// How often a token's last use is written down: often enough to see which tokens are dead,
/// rarely enough that a busy script does not write on every request.
const TOUCH_EVERY_SECS: i64 = 60;

impl Tx {
    pub async fn insert_api_token(&mut self, t: &ApiTokenRow) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(
                "INSERT INTO api_tokens (id, person_id, label, token_sha256, roles, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(t.id)
            .bind(t.person_id)
            .bind(&t.label)
            .bind(&t.token_sha256)
            .bind(&t.roles)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("creating API token {:?} of person {}", t.label, t.person_id))?;
        Ok(())
    }

    /// Revokes one of a person's tokens; false when they hold no such live token.
    pub async fn revoke_api_token(&mut self, id: Uuid, person: Uuid) -> Result<bool> {
        let changed = on_tx!(self, c => {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 \
                 WHERE id = $2 AND person_id = $3 AND revoked_at IS NULL",
            )
            .bind(crate::domain::now())
            .bind(id)
            .bind(person)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("revoking API token {id}"))?;
        Ok(changed == 1)
    }

    /// Notes that a token was used, at most once a minute.
    pub async fn touch_api_token(&mut self, id: Uuid) -> Result<()> {
        let now = crate::domain::now();
        on_tx!(self, c => {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(now)
            .bind(id)
            .bind(now - chrono::Duration::seconds(TOUCH_EVERY_SECS))
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("noting the use of API token {id}"))?;
        Ok(())
    }
}

impl Catalogue {
    pub async fn api_token_by_hash(&self, token_sha256: &str) -> Result<Option<ApiTokenRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_sha256 = $1"))
                .bind(token_sha256)
                .fetch_optional(p)
                .await
        })
        .context(|| "looking up an API token".into())
    }

    /// A person's tokens, newest first, revoked and expired ones included.
    pub async fn api_tokens_of(&self, person: Uuid) -> Result<Vec<ApiTokenRow>> {
        on_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE person_id = $1 ORDER BY created_at DESC"
            ))
            .bind(person)
            .fetch_all(p)
            .await
        })
        .context(|| format!("listing the API tokens of person {person}"))
    }
}
