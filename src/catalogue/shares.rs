//! Shares of disclosure packages by link: who they are for, until when, and whether they were
//! revoked. The link's secret is kept only as its SHA-256 and the passcode only as an Argon2id
//! hash; what was done through a share is in the audit log, on the share's chain.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Tx, on_pool, on_tx};
use crate::error::{Result, ResultExt};

#[derive(Debug, Clone, FromRow)]
pub struct ShareRow {
    pub id: Uuid,
    pub package_id: Uuid,
    pub case_urn: String,
    pub recipient: String,
    pub token_sha256: String,
    pub passcode_hash: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

const COLUMNS: &str = "id, package_id, case_urn, recipient, token_sha256, passcode_hash, \
                       created_by, created_at, expires_at, revoked_at, revoked_by";

impl Tx {
    pub async fn insert_share(&mut self, s: &ShareRow) -> Result<()> {
        on_tx!(self, c => {
            sqlx::query(&format!(
                "INSERT INTO shares ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(s.id)
            .bind(s.package_id)
            .bind(&s.case_urn)
            .bind(&s.recipient)
            .bind(&s.token_sha256)
            .bind(&s.passcode_hash)
            .bind(&s.created_by)
            .bind(s.created_at)
            .bind(s.expires_at)
            .bind(s.revoked_at)
            .bind(&s.revoked_by)
            .execute(c)
            .await
            .map(|_| ())
        })
        .context(|| format!("recording share {} of package {}", s.id, s.package_id))
    }

    /// Marks the share revoked, unless it already was; whether this call revoked it.
    pub async fn revoke_share(&mut self, id: Uuid, by: &str, at: DateTime<Utc>) -> Result<bool> {
        let changed = on_tx!(self, c => {
            sqlx::query(
                "UPDATE shares SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
            )
            .bind(at)
            .bind(by)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context(|| format!("revoking share {id}"))?;
        Ok(changed == 1)
    }
}

impl Catalogue {
    pub async fn share_by_token(&self, token_sha256: &str) -> Result<Option<ShareRow>> {
        let sql = format!("SELECT {COLUMNS} FROM shares WHERE token_sha256 = $1");
        on_pool!(self, p => sqlx::query_as::<_, ShareRow>(&sql).bind(token_sha256).fetch_optional(p).await)
            .context(|| "looking up a share link".into())
    }

    pub async fn share(&self, id: Uuid) -> Result<Option<ShareRow>> {
        let sql = format!("SELECT {COLUMNS} FROM shares WHERE id = $1");
        on_pool!(self, p => sqlx::query_as::<_, ShareRow>(&sql).bind(id).fetch_optional(p).await)
            .context(|| format!("reading share {id}"))
    }

    /// The case's shares, newest first.
    pub async fn shares_of(&self, urn: &str) -> Result<Vec<ShareRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM shares WHERE case_urn = $1 ORDER BY created_at DESC, id DESC"
        );
        on_pool!(self, p => sqlx::query_as::<_, ShareRow>(&sql).bind(urn).fetch_all(p).await)
            .context(|| format!("listing the shares of case {urn}"))
    }
}
