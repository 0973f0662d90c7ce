//! Turning what the identity provider says about a person into a [`Principal`]: their roles
//! (the provider's app-role values, mapped by `identity.roles`), their officer record and team,
//! and a `signed_in` audit record naming them by id only.

use serde::Serialize;

use super::{Principal, Via};
use crate::audit::record::EventDraft;
use crate::catalogue::{PersonRow, SignedIn};
use crate::context::Context;
use crate::domain::Roles;
use crate::error::Result;

/// What a verified ID token says, in the provider's own terms.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    pub issuer: String,
    /// Entra ID's `oid` where it is sent (stable across applications), else `sub`.
    pub subject: String,
    pub name: Option<String>,
    /// App-role values, as the provider spells them.
    pub roles: Vec<String>,
    pub staff_number: Option<String>,
    pub team: Option<String>,
}

/// `signed_in`: the roles the person came with; no name.
#[derive(Debug, Serialize)]
struct SignedInRecord<'a> {
    roles: &'a Roles,
    #[serde(skip_serializing_if = "Option::is_none")]
    officer: Option<&'a str>,
}

/// Records a sign-in and says who it is. A staff number the register does not know links
/// nothing (an administrator can link the person later): an identity provider must not be able
/// to make someone the owner of footage by inventing an officer.
pub async fn sign_in(ctx: &Context<'_>, claims: &Claims) -> Result<Principal> {
    let roles: Roles = claims
        .roles
        .iter()
        .filter_map(|value| ctx.config.identity.role_for(value))
        .collect();
    let mut tx = ctx.catalogue.begin().await?;
    let officer = match claims.staff_number.as_deref() {
        Some(staff) => tx.officer(staff).await?.map(|o| o.id),
        None => None,
    };
    let person = tx
        .sign_in_person(&SignedIn {
            issuer: &claims.issuer,
            subject: &claims.subject,
            name: claims.name.as_deref(),
            roles: &roles,
            officer_id: officer.as_deref(),
            team: claims.team.as_deref(),
        })
        .await?;
    let event = EventDraft::new(
        "signed_in",
        Principal::person_actor(person.id),
        "person",
        person.id,
    )
    .with_result(&SignedInRecord {
        roles: &roles,
        officer: person.officer_id.as_deref(),
    })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(principal(&person, person.roles.clone(), Via::Session))
}

/// The principal a person is, acting with `roles` (all theirs, or a token's share of them).
pub fn principal(person: &PersonRow, roles: Roles, via: Via) -> Principal {
    Principal {
        person: Some(person.id),
        actor: Principal::person_actor(person.id),
        name: person.name.clone(),
        roles,
        officer: person.officer_id.clone(),
        team: person.team.clone(),
        via,
    }
}
