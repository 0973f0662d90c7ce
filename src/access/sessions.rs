//! Browser sessions as the catalogue keeps them: by the SHA-256 of the cookie value (the table
//! cannot be used to sign in), ending after an idle limit (the expiry the caller renews) and
//! an absolute one (`identity.session_max_hours` from creation). The HTTP session layer
//! adapts these to its own types.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::catalogue::{Catalogue, SessionRow};
use crate::context::Context;
use crate::error::Result;

/// The key a session is stored under: the SHA-256 of its cookie value.
pub fn key(cookie_value: &str) -> String {
    hex::encode(Sha256::digest(cookie_value.as_bytes()))
}

/// Stores a new session; false when its id is taken (the caller draws another).
pub async fn create(
    catalogue: &Catalogue,
    cookie_value: &str,
    person: Option<Uuid>,
    data: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool> {
    let mut tx = catalogue.begin().await?;
    let made = tx
        .insert_session(&key(cookie_value), person, data, expires_at)
        .await?;
    tx.commit().await?;
    Ok(made)
}

/// Saves a live session; one deleted meanwhile (signed out elsewhere) stays deleted.
pub async fn save(
    catalogue: &Catalogue,
    cookie_value: &str,
    person: Option<Uuid>,
    data: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let mut tx = catalogue.begin().await?;
    tx.update_session(&key(cookie_value), person, data, expires_at)
        .await?;
    tx.commit().await
}

/// A session within its idle limit and `max_age` of its creation.
pub async fn load(
    catalogue: &Catalogue,
    cookie_value: &str,
    max_age: chrono::Duration,
) -> Result<Option<SessionRow>> {
    catalogue
        .live_session(&key(cookie_value), crate::domain::now() - max_age)
        .await
}

pub async fn delete(catalogue: &Catalogue, cookie_value: &str) -> Result<()> {
    let mut tx = catalogue.begin().await?;
    tx.delete_session(&key(cookie_value)).await?;
    tx.commit().await
}

/// Deletes sessions past either limit (they no longer work; this keeps the table small).
/// How many.
pub async fn forget_ended(ctx: &Context<'_>) -> Result<u64> {
    let max_age = ctx.config.identity.session_max_age();
    let mut tx = ctx.catalogue.begin().await?;
    let n = tx
        .delete_ended_sessions(crate::domain::now() - max_age)
        .await?;
    tx.commit().await?;
    Ok(n)
}
