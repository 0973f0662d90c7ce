//! API tokens for scripts and integrations. A signed-in person creates one for some of their
//! roles; it is shown once and kept only as its SHA-256 (it is 256 random bits, so a fast hash
//! is enough), expires, and can be revoked. A token never holds more than its person holds now:
//! roles the provider has since taken away are gone from the token at the person's next sign-in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use uuid::Uuid;

use super::{Principal, Via, sign_in};
use crate::audit::record::EventDraft;
use crate::catalogue::ApiTokenRow;
use crate::context::Context;
use crate::docks::token_digest;
use crate::domain::Roles;
use crate::error::{Code, Error, Result};

/// Every token starts so, which lets secret scanners and people recognise one.
const PREFIX: &str = "bwv_";

/// What a person asks for.
pub struct NewToken {
    pub label: String,
    /// None: all the roles the person holds now.
    pub roles: Option<Roles>,
    pub valid_days: Option<u32>,
}

/// A new token, with its secret: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    #[serde(flatten)]
    pub token: ApiTokenRow,
    pub secret: String,
}

#[derive(Debug, Serialize)]
struct TokenCreated<'a> {
    roles: &'a Roles,
    expires_at: DateTime<Utc>,
}

fn signed_in_person(principal: &Principal) -> Result<Uuid> {
    match (principal.via, principal.person) {
        (Via::Session, Some(person)) => Ok(person),
        _ => Err(Error::new(
            Code::Forbidden,
            "API tokens are created by a person signed in through the browser, not with another token",
        )),
    }
}

pub async fn create(ctx: &Context<'_>, principal: &Principal, new: NewToken) -> Result<Created> {
    let person = signed_in_person(principal)?;
    let label = new.label.trim();
    if label.is_empty() || label.len() > 100 || label.chars().any(char::is_control) {
        return Err(Error::bad_input(
            "a token needs a label of 1 to 100 printable characters saying what uses it",
        ));
    }
    let roles = new.roles.unwrap_or_else(|| principal.roles.clone());
    if roles.is_empty() || !roles.is_subset(&principal.roles) {
        return Err(Error::new(
            Code::Forbidden,
            format!(
                "a token may hold only roles you hold ({}); asked for {roles}",
                principal.roles
            ),
        ));
    }
    let most = ctx.config.identity.token_max_days;
    let days = new.valid_days.unwrap_or(most);
    if days == 0 || days > most {
        return Err(Error::bad_input(format!(
            "a token is valid for 1 to {most} days; asked for {days}"
        )));
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let now = crate::domain::now();
    let token = ApiTokenRow {
        id: Uuid::now_v7(),
        person_id: person,
        label: label.to_owned(),
        token_sha256: token_digest(&secret),
        roles,
        created_at: now,
        expires_at: now + Duration::days(i64::from(days)),
        revoked_at: None,
        last_used_at: None,
    };
    let mut tx = ctx.catalogue.begin().await?;
    tx.insert_api_token(&token).await?;
    let event = EventDraft::new(
        "api_token_created",
        principal.actor.clone(),
        "api_token",
        token.id,
    )
    .with_result(&TokenCreated {
        roles: &token.roles,
        expires_at: token.expires_at,
    })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(Created { token, secret })
}

/// The person's own tokens.
pub async fn list(ctx: &Context<'_>, principal: &Principal) -> Result<Vec<ApiTokenRow>> {
    let person = principal
        .person
        .ok_or_else(|| Error::new(Code::Forbidden, "only people hold API tokens"))?;
    ctx.catalogue.api_tokens_of(person).await
}

/// Revokes one of the caller's own tokens (a token may revoke itself).
pub async fn revoke(ctx: &Context<'_>, principal: &Principal, id: Uuid) -> Result<()> {
    let person = principal
        .person
        .ok_or_else(|| Error::new(Code::Forbidden, "only people hold API tokens"))?;
    let mut tx = ctx.catalogue.begin().await?;
    if !tx.revoke_api_token(id, person).await? {
        return Err(Error::not_found(format!("you hold no live API token {id}")));
    }
    tx.append_audit(
        ctx.audit.origin(),
        EventDraft::new(
            "api_token_revoked",
            principal.actor.clone(),
            "api_token",
            id,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Who a presented token speaks for; None when it is not a bwv token at all (the caller may
/// try other schemes), an error when it is one that does not work.
pub async fn authenticate(ctx: &Context<'_>, presented: &str) -> Result<Option<Principal>> {
    if !presented.starts_with(PREFIX) {
        return Ok(None);
    }
    let refused = || Error::new(Code::Unauthorized, "unknown, expired or revoked API token");
    let token = ctx
        .catalogue
        .api_token_by_hash(&token_digest(presented))
        .await?
        .ok_or_else(refused)?;
    if token.revoked_at.is_some() || token.expires_at <= crate::domain::now() {
        return Err(refused());
    }
    let person = ctx
        .catalogue
        .person(token.person_id)
        .await?
        .ok_or_else(refused)?;
    if !token.touched_lately() {
        let mut tx = ctx.catalogue.begin().await?;
        tx.touch_api_token(token.id).await?;
        tx.commit().await?;
    }
    let roles = token.roles.intersection(&person.roles);
    Ok(Some(sign_in::principal(
        &person,
        roles,
        Via::Token(token.id),
    )))
}
