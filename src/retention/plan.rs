//! Making a plan: bring every stored answer up to date, then record what is due as of a date,
//! under which policy, before anything is done about it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::rules::Action;
use crate::access::{Permission, Principal};
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::catalogue::{DueRow, PlanRow};
use crate::context::Context;
use crate::error::{Code, Error, Result};

/// Recomputes stale answers a batch (one transaction) at a time.
const RECOMPUTE_BATCH: usize = 1000;

pub struct Plan {
    /// None when nothing was due and the caller asked not to record an empty plan.
    pub id: Option<Uuid>,
    pub as_of: DateTime<Utc>,
    pub due: Vec<DueRow>,
    pub recomputed: usize,
}

impl Plan {
    pub fn deletes(&self) -> usize {
        self.due
            .iter()
            .filter(|d| d.action == Action::Delete)
            .count()
    }

    pub fn reviews(&self) -> usize {
        self.due.len() - self.deletes()
    }
}

/// Answers computed under another policy, never computed, or whose hold lapsed by `as_of` are
/// computed again first, in id order. Where a hold has lapsed, the store's legal hold (S3
/// Object Lock) is lifted too, once the catalogue says no other hold covers the footage.
pub async fn refresh(ctx: &Context<'_>, as_of: DateTime<Utc>) -> Result<usize> {
    let stale = ctx
        .catalogue
        .stale_next_actions(&ctx.policy.sha256, as_of)
        .await?;
    let mut lapsed = Vec::new();
    for batch in stale.chunks(RECOMPUTE_BATCH) {
        let mut tx = ctx.catalogue.begin().await?;
        for r in batch {
            let was_held = ctx.store.has_object_lock()
                && tx.deletion_state(*r).await?.next_action_rule.as_deref() == Some("legal-hold");
            let next = super::recompute(&mut tx, ctx.policy, *r).await?;
            if was_held && next.rule != "legal-hold" {
                lapsed.push(*r);
            }
        }
        tx.commit().await?;
    }
    crate::holds::sync(ctx, &lapsed).await?;
    Ok(stale.len())
}

/// `retention_planned`: the date a plan is as of, the policy it applies, and how many
/// recordings it finds due for deletion and for review.
#[derive(Debug, Serialize)]
struct RetentionPlanned<'a> {
    as_of: String,
    policy_sha256: &'a str,
    delete: usize,
    review: usize,
}

/// What a sweep as of `as_of` would do, for a person deciding whether to record a plan: read
/// as the catalogue stands, changing nothing (recording the plan first refreshes any answer a
/// policy change or a lapsed hold left stale, so it may differ by those).
pub async fn preview(ctx: &Context<'_>, who: &Principal, as_of: DateTime<Utc>) -> Result<Plan> {
    who.require(Permission::ManageRetention)?;
    Ok(Plan {
        id: None,
        as_of,
        due: ctx.catalogue.due(as_of).await?,
        recomputed: 0,
    })
}

/// Recorded plans not yet carried out, newest first: those waiting for a second person, and
/// those approved and waiting for a sweep.
pub async fn open_plans(ctx: &Context<'_>, who: &Principal) -> Result<Vec<PlanRow>> {
    who.require(Permission::ManageRetention)?;
    ctx.catalogue.open_plans().await
}

pub async fn make(
    ctx: &Context<'_>,
    as_of: DateTime<Utc>,
    actor: &Actor,
    record_empty: bool,
) -> Result<Plan> {
    let recomputed = refresh(ctx, as_of).await?;
    let due = ctx.catalogue.due(as_of).await?;
    let mut plan = Plan {
        id: None,
        as_of,
        due,
        recomputed,
    };
    if plan.due.is_empty() && !record_empty {
        return Ok(plan);
    }
    let mut tx = ctx.catalogue.begin().await?;
    let id = tx
        .insert_plan(as_of, &ctx.policy.sha256, &actor.id, &plan.due)
        .await?;
    let event = EventDraft::new("retention_planned", actor.clone(), "retention-plan", id)
        .with_result(&RetentionPlanned {
            as_of: format_ts(as_of),
            policy_sha256: &ctx.policy.sha256,
            delete: plan.deletes(),
            review: plan.reviews(),
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    plan.id = Some(id);
    Ok(plan)
}

/// A plan made under another policy says nothing about what this one requires.
pub fn check_policy(ctx: &Context<'_>, plan: &PlanRow) -> Result<()> {
    if plan.policy_sha256 != ctx.policy.sha256 {
        return Err(Error::new(
            Code::Conflict,
            format!(
                "plan {} was made under policy sha256 {}, but the policy in force is {} ({}): make a new plan",
                plan.id,
                plan.policy_sha256.get(..16).unwrap_or(&plan.policy_sha256),
                ctx.policy.sha256.get(..16).unwrap_or(&ctx.policy.sha256),
                ctx.policy.source
            ),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Approved {
    pub plan: Uuid,
    pub approved_by: String,
}

/// `retention_plan_approved`: who made the plan the approver is not, its date and its policy.
#[derive(Debug, Serialize)]
struct PlanApproved<'a> {
    made_by: &'a str,
    as_of: String,
    policy_sha256: &'a str,
}

/// A second person approves a recorded plan: never its maker, once, before it is carried out,
/// and only under the policy it was made under.
/// With `retention.two_person_approval` the approver must be a person signed in to bwv (the
/// machine's operator is no second person), and a person's API tokens are that same person.
pub async fn approve(ctx: &Context<'_>, who: &Principal, id: Uuid) -> Result<Approved> {
    who.require(Permission::ApproveSweeps)?;
    let actor = &who.actor;
    let mut tx = ctx.catalogue.begin().await?;
    let plan = tx.plan_for_update(id).await?;
    check_policy(ctx, &plan)?;
    if let Some(by) = &plan.approved_by {
        return Err(Error::new(
            Code::Conflict,
            format!("plan {id} is already approved (by {by})"),
        ));
    }
    if plan.executed_at.is_some() {
        return Err(Error::new(
            Code::Conflict,
            format!("plan {id} has been carried out"),
        ));
    }
    who.require_second_person(
        &format!("approve plan {id}"),
        &plan.created_by,
        ctx.config.retention.two_person_approval,
    )?;
    tx.approve_plan(id, &actor.id).await?;
    let event = EventDraft::new(
        "retention_plan_approved",
        actor.clone(),
        "retention-plan",
        id,
    )
    .with_result(&PlanApproved {
        made_by: &plan.created_by,
        as_of: format_ts(plan.as_of),
        policy_sha256: &plan.policy_sha256,
    })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(Approved {
        plan: id,
        approved_by: actor.id.clone(),
    })
}
