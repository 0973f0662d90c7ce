//! Legal holds: nothing under a hold in force is deleted. A hold covers one recording, or a case
//! and every recording linked to it (also ones linked later); it may lapse at a date. Placing
//! and releasing are audited and move retention; the store mirrors them (see `store`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::access::{Permission, Principal};
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::catalogue::HoldRow;
use crate::context::Context;
use crate::error::{Code, Error, Result};

mod store;

pub use store::{mirror, sync};

/// What a hold is placed on: a recording by its id, or a case by its URN.
#[derive(Debug, Clone)]
pub struct Hold {
    pub target: String,
    pub reason: String,
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Placed {
    pub hold: Uuid,
    pub recordings: Vec<Uuid>,
    pub objects_locked: usize,
    /// Exhibits of the case whose purge had already begun: beyond any hold.
    pub already_purged: Vec<Uuid>,
}

/// How many recordings' retention a change recomputed, and under which policy (by its hash).
#[derive(Debug, Clone, Serialize)]
pub struct Recomputed<'a> {
    pub recomputed: usize,
    pub policy_sha256: &'a str,
}

/// `hold_placed`: the hold, why, how many objects the store locked, what it now covers for
/// retention, the case's exhibits already beyond it, and when it lapses.
#[derive(Debug, Clone, Serialize)]
pub struct HoldPlaced<'a> {
    pub hold: Uuid,
    pub reason: &'a str,
    pub objects_locked: usize,
    pub retention: Recomputed<'a>,
    #[serde(skip_serializing_if = "<[Uuid]>::is_empty")]
    pub already_purged: &'a [Uuid],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

fn reason_given(reason: &str) -> Result<&str> {
    let r = reason.trim();
    if r.is_empty() {
        Err(Error::bad_input("a hold needs a reason"))
    } else {
        Ok(r)
    }
}

pub async fn place(ctx: &Context<'_>, actor: &Actor, h: Hold) -> Result<Placed> {
    let reason = reason_given(&h.reason)?;
    if h.until.is_some_and(|u| u <= Utc::now()) {
        return Err(Error::bad_input(
            "a hold's lapse date must be in the future",
        ));
    }
    let target = h.target.as_str();
    let mut tx = ctx.catalogue.begin().await?;
    // A recording id, or else a case URN; the target is locked, and a case's exhibits read,
    // inside the transaction, so a link racing with the hold is covered.
    let (recording, case) = match target.parse::<Uuid>() {
        Ok(id) => {
            tx.lock_recording(id).await?;
            tx.ensure_not_purged(id).await?;
            (Some(id), None)
        }
        Err(_) => match tx.case_for_update(target).await {
            Ok(case) => (None, Some(case)),
            Err(e) if e.code() == Code::NotFound => {
                return Err(Error::not_found(format!("no recording or case {target:?}")));
            }
            Err(e) => return Err(e),
        },
    };
    let (kind, item, mut covered) = match (&recording, &case) {
        (Some(r), _) => ("recording", *r, vec![*r]),
        (None, Some(c)) => ("case", c.id, tx.exhibit_recordings(c.id).await?),
        _ => return Err(Error::bad_input("a hold needs a recording or a case")),
    };
    // Exhibits whose purge has begun are beyond any hold: said so, not pretended.
    covered.sort();
    let mut gone = Vec::new();
    if case.is_some() {
        let mut live = Vec::new();
        for r in covered {
            tx.lock_recording(r).await?;
            match tx.ensure_not_purged(r).await {
                Ok(()) => live.push(r),
                Err(e) if e.code() == Code::Conflict => gone.push(r),
                Err(e) => return Err(e),
            }
        }
        covered = live;
    }
    // Locked in the store before the catalogue says so: store calls inside the transaction,
    // on purpose, so the footage cannot be purged between the lock and the hold's commit.
    let objects = mirror(ctx, &mut tx, &covered, true).await?;
    let id = tx
        .insert_hold(
            recording,
            case.as_ref().map(|c| c.id),
            reason,
            h.until,
            &actor.id,
        )
        .await?;
    for r in &covered {
        crate::retention::recompute(&mut tx, ctx.policy, *r).await?;
        let why = format!("held: {reason}");
        crate::retention::sweep::restore_if_protected(ctx, &mut tx, *r, &why, actor).await?;
    }
    let event =
        EventDraft::new("hold_placed", actor.clone(), kind, item).with_result(&HoldPlaced {
            hold: id,
            reason,
            objects_locked: objects,
            retention: Recomputed {
                recomputed: covered.len(),
                policy_sha256: &ctx.policy.sha256,
            },
            already_purged: &gone,
            until: h.until.map(format_ts),
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    sync(ctx, &covered).await?;
    Ok(Placed {
        hold: id,
        recordings: covered,
        objects_locked: objects,
        already_purged: gone,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Released {
    pub hold: Uuid,
    /// Recordings no hold covers any more.
    pub released_recordings: Vec<Uuid>,
}

/// `hold_released`: the hold, why, and how many recordings' retention was recomputed.
#[derive(Debug, Clone, Serialize)]
pub struct HoldReleased<'a> {
    pub hold: Uuid,
    pub reason: &'a str,
    pub retention: Recomputed<'a>,
}

/// Lifts a hold. With `retention.two_person_hold_release`, only an authenticated records
/// manager who did not place it may: lifting a hold lets footage be deleted, so a second person
/// confirms it, and the machine's operator is no second person.
pub async fn release(
    ctx: &Context<'_>,
    who: &Principal,
    hold: Uuid,
    reason: &str,
) -> Result<Released> {
    who.require(Permission::ManageHolds)?;
    let actor = &who.actor;
    let reason = reason_given(reason)?;
    let mut tx = ctx.catalogue.begin().await?;
    if ctx.config.retention.two_person_hold_release
        && let Some(h) = tx.hold(hold).await?
    {
        who.require_second_person(&format!("release hold {hold}"), &h.placed_by, true)?;
    }
    let h = tx
        .release_hold(hold, &actor.id, reason)
        .await?
        .ok_or_else(|| Error::not_found(format!("no hold {hold} in force")))?;
    let (kind, item, covered) = match (h.recording_id, h.case_id) {
        (Some(r), _) => ("recording", r, vec![r]),
        (None, Some(c)) => ("case", c, tx.exhibit_recordings(c).await?),
        _ => return Err(Error::bad_input(format!("hold {hold} has no target"))),
    };
    for r in &covered {
        crate::retention::recompute(&mut tx, ctx.policy, *r).await?;
    }
    let event =
        EventDraft::new("hold_released", actor.clone(), kind, item).with_result(&HoldReleased {
            hold,
            reason,
            retention: Recomputed {
                recomputed: covered.len(),
                policy_sha256: &ctx.policy.sha256,
            },
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    // Lifted in the store only after the release is committed.
    let free = sync(ctx, &covered).await?;
    Ok(Released {
        hold,
        released_recordings: free,
    })
}

/// Where a hold stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    InForce,
    /// Its date passed: it protects nothing any more.
    Lapsed,
    Released,
}

/// Where hold `h` stands at `now`: the same test the catalogue's "in force" query makes.
pub fn standing(h: &HoldRow, now: DateTime<Utc>) -> Standing {
    if h.released_at.is_some() {
        Standing::Released
    } else if h.until.is_some_and(|u| u <= now) {
        Standing::Lapsed
    } else {
        Standing::InForce
    }
}

/// Holds in force, or every hold ever placed.
pub async fn list(ctx: &Context<'_>, all: bool) -> Result<Vec<HoldRow>> {
    ctx.catalogue.holds(all).await
}
