//! The administrator's part in access: which officer record a person is (so "their own
//! footage" means something) and which team an officer belongs to (so a supervisor's reach
//! does). Both are recorded in the audit log; names never are.

use serde::Serialize;
use uuid::Uuid;

use super::{Permission, Principal};
use crate::audit::record::EventDraft;
use crate::catalogue::{AxisUser, DeviceRow, OfficerRow, PersonRow};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ingest::check_identifier;

/// `person_linked`: the officer record and team a person is now linked to.
#[derive(Debug, Serialize)]
struct PersonLinked<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    officer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a str>,
}

/// `officer_team_set`: the team an officer now belongs to.
#[derive(Debug, Serialize)]
struct OfficerTeamSet<'a> {
    officer: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a str>,
}

pub async fn list(ctx: &Context<'_>, who: &Principal) -> Result<Vec<PersonRow>> {
    who.require(Permission::Administer)?;
    ctx.catalogue.people().await
}

pub async fn officers(ctx: &Context<'_>, who: &Principal) -> Result<Vec<OfficerRow>> {
    who.require(Permission::Administer)?;
    ctx.catalogue.officers().await
}

/// Cameras in the register.
pub async fn devices(ctx: &Context<'_>, who: &Principal) -> Result<Vec<DeviceRow>> {
    who.require(Permission::Administer)?;
    ctx.catalogue.devices().await
}

/// The users each docking station's controller knows, by dock name, as bwv maps them to
/// officers.
pub async fn axis_users(ctx: &Context<'_>, who: &Principal) -> Result<Vec<(String, AxisUser)>> {
    who.require(Permission::Administer)?;
    ctx.catalogue.axis_users().await
}

/// Links a person to their officer record (which must be registered) and team.
pub async fn link(
    ctx: &Context<'_>,
    who: &Principal,
    person: Uuid,
    officer: Option<&str>,
    team: Option<&str>,
) -> Result<PersonRow> {
    who.require(Permission::Administer)?;
    if let Some(o) = officer {
        check_identifier("officer", o)?;
        if ctx.catalogue.officer_row(o).await?.is_none() {
            return Err(Error::not_found(format!(
                "no officer {o} is registered (bwv register officer {o})"
            )));
        }
    }
    if let Some(t) = team {
        check_identifier("team", t)?;
    }
    let mut tx = ctx.catalogue.begin().await?;
    if !tx.set_person_link(person, officer, team).await? {
        return Err(Error::not_found(format!("no person {person}")));
    }
    let event = EventDraft::new("person_linked", who.actor.clone(), "person", person)
        .with_result(&PersonLinked { officer, team })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    ctx.catalogue
        .person(person)
        .await?
        .ok_or_else(|| Error::not_found(format!("no person {person}")))
}

/// Puts an officer in a team (or none), on the register's chain.
pub async fn set_team(
    ctx: &Context<'_>,
    who: &Principal,
    officer: &str,
    team: Option<&str>,
) -> Result<()> {
    who.require(Permission::Administer)?;
    if let Some(t) = team {
        check_identifier("team", t)?;
    }
    let mut tx = ctx.catalogue.begin().await?;
    if !tx.set_officer_team(officer, team).await? {
        return Err(Error::not_found(format!("no officer {officer}")));
    }
    let event = EventDraft::new(
        "officer_team_set",
        who.actor.clone(),
        "registry",
        Uuid::nil(),
    )
    .with_result(&OfficerTeamSet { officer, team })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await
}
