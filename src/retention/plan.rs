//! Making a plan: bring every stored answer up to date, then record what is due as of a date,
//! under which policy, before anything is done about it.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::app::App;
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::catalogue::DueRow;
use crate::error::Result;

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
        self.due.iter().filter(|d| d.action == "delete").count()
    }

    pub fn reviews(&self) -> usize {
        self.due.len() - self.deletes()
    }
}

/// Answers computed under another policy, never computed, or whose hold lapsed by `as_of` are
/// computed again first, in id order. Where a hold has lapsed, the store's legal hold (S3
/// Object Lock) is lifted too, once the catalogue says no other hold covers the footage.
pub async fn refresh(app: &App, as_of: DateTime<Utc>) -> Result<usize> {
    let stale = app
        .catalogue
        .stale_next_actions(&app.policy.sha256, as_of)
        .await?;
    let mut lapsed = Vec::new();
    for batch in stale.chunks(RECOMPUTE_BATCH) {
        let mut tx = app.catalogue.begin().await?;
        for r in batch {
            let was_held = app.store.has_object_lock()
                && tx.deletion_state(*r).await?.next_action_rule.as_deref() == Some("legal-hold");
            let next = super::recompute(&mut tx, &app.policy, *r).await?;
            if was_held && next.rule != "legal-hold" {
                lapsed.push(*r);
            }
        }
        tx.commit().await?;
    }
    crate::holds::sync(app, &lapsed).await?;
    Ok(stale.len())
}

pub async fn make(
    app: &App,
    as_of: DateTime<Utc>,
    actor: &Actor,
    record_empty: bool,
) -> Result<Plan> {
    let recomputed = refresh(app, as_of).await?;
    let due = app.catalogue.due(as_of).await?;
    let mut plan = Plan {
        id: None,
        as_of,
        due,
        recomputed,
    };
    if plan.due.is_empty() && !record_empty {
        return Ok(plan);
    }
    let mut tx = app.catalogue.begin().await?;
    let id = tx
        .insert_plan(as_of, &app.policy.sha256, &actor.id, &plan.due)
        .await?;
    let mut event = EventDraft::new("retention_planned", actor.clone(), "retention-plan", id);
    event.result = Some(json!({
        "as_of": format_ts(as_of),
        "policy_sha256": app.policy.sha256,
        "delete": plan.deletes(),
        "review": plan.reviews(),
    }));
    tx.append_audit(app.audit.origin(), event).await?;
    tx.commit().await?;
    plan.id = Some(id);
    Ok(plan)
}
