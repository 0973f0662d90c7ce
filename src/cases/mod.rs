//! Cases and the footage that is evidence in them: opening a case, linking recordings to it as
//! exhibits, unused or sensitive material, and recording its progress. Every change is written
//! with its audit records in one transaction, and moves the retention of the footage it touches.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::access::{Permission, Principal};
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::catalogue::{CaseRow, ExhibitRow, NewExhibit, Register};
use crate::context::Context;
use crate::domain::CaseStatus;
use crate::error::{Code, Error, Result};
use crate::holds::Recomputed;
use crate::ingest::check_identifier;
use crate::retention::Audited;

mod references;

pub use references::{check_reference, check_urn, exhibit_prefix, next_reference, optional_text};

/// A new case.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub urn: String,
    pub offence: String,
    /// The officer in the case (staff number).
    pub oic: String,
}

/// `case_opened`: the case's URN, offence and officer in the case, as opened.
#[derive(Debug, Serialize)]
struct CaseOpened<'a> {
    urn: &'a str,
    offence: &'a str,
    oic: &'a str,
}

pub async fn open(ctx: &Context<'_>, actor: &Actor, c: NewCase) -> Result<CaseRow> {
    check_urn(&c.urn)?;
    check_identifier("officer", &c.oic)?;
    let offence = c.offence.trim();
    if offence.is_empty() {
        return Err(Error::bad_input("the offence must not be empty"));
    }
    let mut tx = ctx.catalogue.begin().await?;
    tx.ensure_registered(Register::Officers, &c.oic, None, None)
        .await?;
    let case = tx.insert_case(&c.urn, offence, &c.oic).await?;
    let event = EventDraft::new("case_opened", actor.clone(), "case", case.id).with_result(
        &CaseOpened {
            urn: &c.urn,
            offence,
            oic: &c.oic,
        },
    )?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(case)
}

pub use crate::domain::Schedule;

/// A recording to link to a case.
#[derive(Debug, Clone)]
pub struct Link {
    pub urn: String,
    pub recording: Uuid,
    pub schedule: Schedule,
    /// An exhibit reference to use instead of the next one of the officer's initials.
    pub reference: Option<String>,
    /// Why sensitive material is sensitive (required for `Schedule::Sensitive`).
    pub sensitivity: Option<String>,
    pub description: Option<String>,
    /// For the disclosure officer's report: why it may undermine or assist.
    pub undermines: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Linked {
    pub case: String,
    pub recording: Uuid,
    pub exhibit: String,
    pub item_number: i64,
    pub schedule: Schedule,
    pub schedule_item: i64,
}

/// `case_linked`, on the recording's chain: the case and schedule it joined, its reference,
/// and the retention answer the link leads to.
#[derive(Debug, Serialize)]
struct CaseLinked<'a> {
    case: &'a str,
    exhibit: &'a str,
    schedule: Schedule,
    retention: Audited<'a>,
}

/// `exhibit_added`, on the case's chain: which recording became which item on which schedule.
#[derive(Debug, Serialize)]
struct ExhibitAdded<'a> {
    recording: Uuid,
    exhibit: &'a str,
    item_number: i64,
    schedule: Schedule,
}

/// Links a recording to a case. Sensitive footage may be linked to one case only (its audit
/// chain travels whole with every package it is an exhibit in, naming each case it joined);
/// footage joining a held case is held from now on, in the store first.
pub async fn link(ctx: &Context<'_>, actor: &Actor, l: Link) -> Result<Linked> {
    if let Some(r) = &l.reference {
        check_reference(r)?;
    }
    if l.schedule == Schedule::Sensitive && l.sensitivity.is_none() {
        return Err(Error::bad_input(
            "sensitive material needs the reason it is sensitive",
        ));
    }
    let (urn, recording, schedule) = (l.urn.as_str(), l.recording, l.schedule);
    let r = ctx
        .catalogue
        .recording(recording)
        .await?
        .ok_or_else(|| Error::not_found(format!("no recording {recording}")))?;
    let mut tx = ctx.catalogue.begin().await?;
    let case = tx.case_for_update(urn).await?;
    tx.lock_recording(recording).await?;
    tx.ensure_not_purged(recording).await?;
    if let Some(existing) = tx.exhibit_of(case.id, recording).await? {
        return Err(Error::new(
            Code::Conflict,
            format!("recording {recording} is already exhibit {existing} in case {urn}"),
        ));
    }
    let links = tx.links_of(recording).await?;
    if let Some((other, on)) = links
        .iter()
        .find(|(_, on)| schedule == Schedule::Sensitive || on == "sensitive")
    {
        let what = if on == "sensitive" {
            "sensitive material"
        } else {
            "linked"
        };
        return Err(Error::new(
            Code::Conflict,
            format!(
                "recording {recording} is {what} in case {other}: sensitive footage cannot be \
                 linked to a second case, whose packages would carry its history"
            ),
        ));
    }
    let (used, top) = tx.exhibit_references(case.id).await?;
    let schedule_item = tx.next_schedule_item(case.id, schedule).await?;
    let reference = match l.reference {
        Some(r) if used.iter().any(|u| u.eq_ignore_ascii_case(&r)) => {
            return Err(Error::new(
                Code::Conflict,
                format!("exhibit reference {r} is already used in case {urn}"),
            ));
        }
        Some(r) => r,
        // Unused and sensitive material is not produced as an exhibit: it is known by its
        // place on its schedule.
        None if schedule == Schedule::Unused => format!("MG6C-{schedule_item}"),
        None if schedule == Schedule::Sensitive => format!("MG6D-{schedule_item}"),
        None => {
            let name = tx.officer_name(&r.officer_id).await?;
            next_reference(&exhibit_prefix(name.as_deref(), &r.officer_id), &used)
        }
    };
    let item_number = top + 1;
    let held = tx.case_held(case.id).await?;
    if held {
        // Locked in the store before the catalogue says the footage is held. A store call
        // inside the transaction, on purpose: the case's row lock keeps the hold from being
        // released meanwhile.
        crate::holds::mirror(ctx, &mut tx, &[recording], true).await?;
    }
    tx.insert_exhibit(&NewExhibit {
        case: case.id,
        recording,
        reference: &reference,
        item_number,
        schedule,
        schedule_item,
        description: l.description.as_deref(),
        sensitivity: l.sensitivity.as_deref(),
        disclosure_note: l.undermines.as_deref(),
    })
    .await?;
    let why = format!("linked to case {urn}");
    crate::retention::sweep::restore_if_protected(ctx, &mut tx, recording, &why, actor).await?;
    let next = crate::retention::recompute(&mut tx, ctx.policy, recording).await?;
    let event = EventDraft::new("case_linked", actor.clone(), "recording", recording).with_result(
        &CaseLinked {
            case: urn,
            exhibit: &reference,
            schedule,
            retention: crate::retention::audited(&next, ctx.policy),
        },
    )?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    let event = EventDraft::new("exhibit_added", actor.clone(), "case", case.id).with_result(
        &ExhibitAdded {
            recording,
            exhibit: &reference,
            item_number,
            schedule,
        },
    )?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    if held {
        crate::holds::sync(ctx, &[recording]).await?;
    }
    Ok(Linked {
        case: urn.to_owned(),
        recording,
        exhibit: reference,
        item_number,
        schedule,
        schedule_item,
    })
}

/// Where a case has got to.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub status: Option<CaseStatus>,
    pub sentence_release: Option<DateTime<Utc>>,
    pub appeal: Option<bool>,
}

/// `case_updated`: the case's progress as now recorded, its status before, and how many
/// exhibits' retention was recomputed under which policy.
#[derive(Debug, Serialize)]
struct CaseUpdated<'a> {
    urn: &'a str,
    status: CaseStatus,
    previous_status: CaseStatus,
    appeal: bool,
    retention: Recomputed<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sentence_release: Option<String>,
}

/// Records a case's progress; the retention of every exhibit follows.
pub async fn update(ctx: &Context<'_>, actor: &Actor, urn: &str, p: Progress) -> Result<CaseRow> {
    if p.status.is_none() && p.sentence_release.is_none() && p.appeal.is_none() {
        return Err(Error::bad_input(
            "nothing to update: give a status, a sentence release date or the appeal",
        ));
    }
    let mut tx = ctx.catalogue.begin().await?;
    let case = tx.case_for_update(urn).await?;
    let new_status = p.status.unwrap_or(case.status);
    let release = p.sentence_release.or(case.sentence_release);
    let appeal = p.appeal.unwrap_or(case.appeal);
    tx.update_case(case.id, new_status, release, appeal).await?;
    let exhibits = tx.exhibit_recordings(case.id).await?;
    for r in &exhibits {
        crate::retention::recompute(&mut tx, ctx.policy, *r).await?;
    }
    let event = EventDraft::new("case_updated", actor.clone(), "case", case.id).with_result(
        &CaseUpdated {
            urn,
            status: new_status,
            previous_status: case.status,
            appeal,
            retention: Recomputed {
                recomputed: exhibits.len(),
                policy_sha256: &ctx.policy.sha256,
            },
            sentence_release: release.map(format_ts),
        },
    )?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    find(ctx, urn).await
}

pub async fn find(ctx: &Context<'_>, urn: &str) -> Result<CaseRow> {
    ctx.catalogue
        .case(urn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no case {urn}")))
}

/// A case with its material.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseFile {
    pub case: CaseRow,
    pub exhibits: Vec<ExhibitRow>,
}

/// The cases most recently changed, for a person choosing one.
pub async fn recent(ctx: &Context<'_>, who: &Principal, limit: u32) -> Result<Vec<CaseRow>> {
    who.require(Permission::ManageCases)?;
    ctx.catalogue.recent_cases(limit.clamp(1, 500)).await
}

pub async fn show(ctx: &Context<'_>, urn: &str) -> Result<CaseFile> {
    let case = find(ctx, urn).await?;
    let exhibits = ctx.catalogue.exhibits(case.id).await?;
    Ok(CaseFile { case, exhibits })
}
