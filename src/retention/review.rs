//! Records-management review: for footage due for review, a person decides to retain it until
//! a date, retain it for a review group's period, or dispose of it, always with a reason. The
//! decision is audited and moves the next action (never before what the rules require).

use chrono::{DateTime, Months, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::rules::{Action, NextAction};
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::catalogue::DueRow;
use crate::context::Context;
use crate::domain::RetentionState;
use crate::error::{Code, Error, Result};

#[derive(Debug, Clone)]
pub enum Decision {
    RetainUntil(DateTime<Utc>),
    /// Retain for a review group's period (named in the policy).
    Group(String),
    Dispose,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reviewed {
    pub recording: Uuid,
    pub review: Uuid,
    pub next_action: NextAction,
}

/// `retention_reviewed`: a person's review decision (retain, until when or for which group,
/// or dispose), why, and the next action it leads to under which policy.
#[derive(Debug, Serialize)]
struct RetentionReviewed<'a> {
    review: Uuid,
    decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retain_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    reason: &'a str,
    #[serde(flatten)]
    next: crate::retention::AuditedInline<'a>,
}

pub async fn decide(
    ctx: &Context<'_>,
    actor: &Actor,
    recording: Uuid,
    decision: Decision,
    reason: &str,
) -> Result<Reviewed> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::bad_input("a review decision needs a reason"));
    }
    let now = Utc::now();
    let (retain_until, group) = match &decision {
        Decision::Dispose => (None, None),
        Decision::RetainUntil(t) => (Some(*t), None),
        Decision::Group(name) => {
            let Some(g) = ctx.policy.review_groups.iter().find(|g| g.name == *name) else {
                let names: Vec<&str> = ctx
                    .policy
                    .review_groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect();
                return Err(Error::bad_input(format!(
                    "no review group {name:?} in the retention policy ({}); groups: {}",
                    ctx.policy.source,
                    names.join(", ")
                )));
            };
            let until = now
                .checked_add_months(Months::new(g.retain_years * 12))
                .ok_or_else(|| Error::bad_input("retain-until date out of range"))?;
            (Some(until), Some(g.name.clone()))
        }
    };
    if let Some(until) = retain_until
        && until <= now
    {
        return Err(Error::bad_input(format!(
            "retain until {} is not in the future",
            format_ts(until)
        )));
    }
    let mut tx = ctx.catalogue.begin().await?;
    tx.lock_recording(recording).await?;
    tx.ensure_not_purged(recording).await?;
    let state = tx.deletion_state(recording).await?;
    if state.retention_state == RetentionState::SoftDeleted {
        return Err(Error::new(
            Code::Conflict,
            format!(
                "recording {recording} is deleted (awaiting purge): restore it first with `bwv retention restore {recording}`"
            ),
        ));
    }
    let next = super::recompute(&mut tx, ctx.policy, recording).await?;
    let due = next.action == Action::Review && next.at.is_some_and(|t| t <= now);
    if state.retention_state != RetentionState::Review && !due {
        return Err(Error::new(
            Code::Conflict,
            format!(
                "recording {recording} is not due for review (next: {} {}, rule {})",
                next.action.as_str(),
                next.at
                    .map_or("-".into(), |t| t.format("%Y-%m-%d").to_string()),
                next.rule
            ),
        ));
    }
    let id = tx
        .insert_review(recording, retain_until, group.as_deref(), reason, &actor.id)
        .await?;
    tx.set_retention_state(recording, RetentionState::Active)
        .await?;
    let next = super::recompute(&mut tx, ctx.policy, recording).await?;
    let event = EventDraft::new("retention_reviewed", actor.clone(), "recording", recording)
        .with_result(&RetentionReviewed {
            review: id,
            decision: if retain_until.is_some() {
                "retain"
            } else {
                "dispose"
            },
            retain_until: retain_until.map(format_ts),
            group: group.as_deref(),
            reason,
            next: crate::retention::audited(&next, ctx.policy).into(),
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(Reviewed {
        recording,
        review: id,
        next_action: next,
    })
}

/// Footage waiting for a review decision.
pub async fn queue(ctx: &Context<'_>) -> Result<Vec<DueRow>> {
    ctx.catalogue.awaiting_review().await
}
