//! Carrying out a plan, and purging footage whose grace period is over.
//!
//! Every step re-reads the facts under the recording's lock and recomputes its answer, so a hold
//! placed or a case linked after the plan was made always wins. A purge runs in three steps that
//! can each be repeated: mark the objects only this recording needs as removed (so no row ever
//! claims bytes that may be gone), delete them from the store (deleting what is already gone is
//! not an error), then turn the recording into a tombstone with its certificate and erasure
//! record. A sweep killed anywhere and run again finishes what the last one started.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::rules::Action;
use crate::app::App;
use crate::audit::record::{Actor, EventDraft, ObjectRef, format_ts};
use crate::catalogue::{PlanItem, PlanRow, PurgeObject, Tx};
use crate::domain::Sha256Digest;
use crate::error::{Error, Result};

/// What became of one recording.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub recording_id: Uuid,
    /// `soft-deleted`, `sent-for-review`, `skipped`, `purged`, `restored`, `deferred`, `failed`.
    pub outcome: String,
    pub detail: String,
}

impl Outcome {
    fn new(recording_id: Uuid, outcome: &str, detail: impl Into<String>) -> Self {
        Outcome {
            recording_id,
            outcome: outcome.into(),
            detail: detail.into(),
        }
    }
}

fn stage_event(event: &str, actor: &Actor, recording: Uuid, result: Value) -> EventDraft {
    let mut e = EventDraft::new(event, actor.clone(), "recording", recording);
    e.result = Some(result);
    e
}

/// Carries out one plan item if the recording's fresh answer still agrees with the plan.
pub async fn carry_out(
    app: &App,
    plan: &PlanRow,
    item: &PlanItem,
    actor: &Actor,
) -> Result<Outcome> {
    let r = item.recording_id;
    let mut tx = app.catalogue.begin().await?;
    tx.lock_recording(r).await?;
    let state = tx.deletion_state(r).await?;
    if state.retention_state != "active" {
        let detail = format!("already {}", state.retention_state);
        tx.item_done(plan.id, r, &format!("skipped: {detail}"))
            .await?;
        tx.commit().await?;
        return Ok(Outcome::new(r, "skipped", detail));
    }
    let next = super::recompute(&mut tx, &app.policy, r).await?;
    let due = next.at.is_some_and(|at| at <= plan.as_of);
    let planned = match item.action.as_str() {
        "delete" => Action::Delete,
        _ => Action::Review,
    };
    if !due || next.action != planned {
        let detail = format!(
            "now {} {} (rule {})",
            next.action.as_str(),
            next.at
                .map_or("-".into(), |t| t.format("%Y-%m-%d").to_string()),
            next.rule
        );
        tx.item_done(plan.id, r, &format!("skipped: {detail}"))
            .await?;
        tx.commit().await?;
        return Ok(Outcome::new(r, "skipped", detail));
    }
    let common = json!({
        "rule": next.rule,
        "plan": plan.id,
        "as_of": format_ts(plan.as_of),
        "policy_sha256": app.policy.sha256,
    });
    let (new_state, event, outcome, mut result) = match planned {
        Action::Delete => ("soft-deleted", "recording_deleted", "soft-deleted", common),
        _ => ("review", "review_requested", "sent-for-review", common),
    };
    if planned == Action::Delete {
        let purge_after = crate::domain::now() + Duration::days(i64::from(app.policy.grace_days));
        result["stage"] = json!("soft-deleted");
        result["purge_after"] = json!(format_ts(purge_after));
    }
    tx.set_retention_state(r, new_state).await?;
    tx.append_audit(app.audit.origin(), stage_event(event, actor, r, result))
        .await?;
    tx.item_done(plan.id, r, outcome).await?;
    tx.commit().await?;
    Ok(Outcome::new(r, outcome, next.rule))
}

/// Brings a soft-deleted recording back, audited.
pub async fn restore(app: &App, recording: Uuid, reason: &str, actor: &Actor) -> Result<()> {
    let mut tx = app.catalogue.begin().await?;
    tx.lock_recording(recording).await?;
    let state = tx.deletion_state(recording).await?;
    if state.retention_state != "soft-deleted" || state.purge_started_at.is_some() {
        let why = if state.purge_started_at.is_some() {
            "its purge has begun".to_owned()
        } else {
            format!("it is {}", state.retention_state)
        };
        return Err(Error::new(
            crate::error::Code::Conflict,
            format!("cannot restore recording {recording}: {why}"),
        ));
    }
    restore_in(app, &mut tx, recording, reason, actor).await?;
    tx.commit().await
}

/// Brings back, in the caller's transaction, soft-deleted footage a change has just protected
/// (a hold, a case link, a classification): footage that must be kept does not wait in the
/// recycle bin until its purge notices. Returns whether it did.
pub async fn restore_if_protected(
    app: &App,
    tx: &mut Tx,
    r: Uuid,
    why: &str,
    actor: &Actor,
) -> Result<bool> {
    let state = tx.deletion_state(r).await?;
    if state.retention_state != "soft-deleted" || state.purge_started_at.is_some() {
        return Ok(false);
    }
    let next = super::recompute(tx, &app.policy, r).await?;
    if next.action == Action::Delete && next.at.is_some_and(|at| at <= crate::domain::now()) {
        return Ok(false);
    }
    restore_in(app, tx, r, why, actor).await?;
    Ok(true)
}

async fn restore_in(app: &App, tx: &mut Tx, r: Uuid, reason: &str, actor: &Actor) -> Result<()> {
    tx.set_retention_state(r, "active").await?;
    let next = super::recompute(tx, &app.policy, r).await?;
    let result = json!({
        "reason": reason,
        "next_action": next.action.as_str(),
        "next_action_at": next.at.map(format_ts),
        "rule": next.rule,
        "policy_sha256": app.policy.sha256,
    });
    tx.append_audit(
        app.audit.origin(),
        stage_event("recording_restored", actor, r, result),
    )
    .await?;
    Ok(())
}

/// Purges one soft-deleted recording whose grace period is over (or finishes a purge a killed
/// sweep began).
pub async fn purge(app: &App, recording: Uuid, actor: &Actor) -> Result<Outcome> {
    let r = recording;
    let now = crate::domain::now();
    // The store's own retention is asked first, outside any transaction (a network round trip
    // per object must not hold SQLite's write lock): a retained object defers the whole purge.
    let mut tx = app.catalogue.begin().await?;
    let objects = tx.purge_objects(r).await?;
    tx.commit().await?;
    if let Some(deferred) = retained(app, r, &unmarked_exclusive(&objects), now).await? {
        return Ok(deferred);
    }

    // Step 1: decide under the lock, and mark what goes.
    let mut tx = app.catalogue.begin().await?;
    tx.lock_recording(r).await?;
    let state = tx.deletion_state(r).await?;
    if state.retention_state != "soft-deleted" {
        tx.commit().await?;
        return Ok(moved_on(r, &state.retention_state));
    }
    if state.purge_started_at.is_none() {
        // Restored and deleted again since the list was made: a new grace period runs.
        let cutoff = purge_cutoff(now, app.policy.grace_days);
        if state.deleted_at.is_none_or(|d| d > cutoff) {
            tx.commit().await?;
            return Ok(Outcome::new(r, "skipped", "grace period not over"));
        }
        let next = super::recompute(&mut tx, &app.policy, r).await?;
        if next.action != Action::Delete || next.at.is_none_or(|at| at > now) {
            let why = format!("protected since deletion (rule {})", next.rule);
            restore_in(app, &mut tx, r, &why, actor).await?;
            tx.commit().await?;
            return Ok(Outcome::new(r, "restored", why));
        }
        let exclusive = unmarked_exclusive(&tx.purge_objects(r).await?);
        tx.start_purge(r, &exclusive).await?;
    }
    tx.commit().await?;

    let mut removed = 0u64;
    // Bytes another recording shared may have become ours alone meanwhile (its purge began):
    // marked and deleted in another round, so nothing is left behind.
    for _round in 0..3 {
        // Step 2: delete the marked bytes. Repeating this after a kill is harmless.
        let mut tx = app.catalogue.begin().await?;
        let objects = tx.purge_objects(r).await?;
        tx.commit().await?;
        removed += delete_marked(app, r, &objects).await?;

        // Step 3: the tombstone, its certificate, and the erasure record.
        let mut tx = app.catalogue.begin().await?;
        tx.lock_recording(r).await?;
        let state = tx.deletion_state(r).await?;
        if state.retention_state != "soft-deleted" {
            tx.commit().await?;
            return Ok(moved_on(r, &state.retention_state));
        }
        let objects = tx.purge_objects(r).await?;
        let left = unmarked_exclusive(&objects);
        if !left.is_empty() {
            tx.commit().await?; // nothing written: the store is asked outside the transaction
            if let Some(deferred) = retained(app, r, &left, now).await? {
                return Ok(deferred); // the next sweep carries on from here
            }
            let mut tx = app.catalogue.begin().await?;
            tx.lock_recording(r).await?;
            let left = unmarked_exclusive(&tx.purge_objects(r).await?);
            tx.start_purge(r, &left).await?;
            tx.commit().await?;
            continue;
        }
        let rule = finish(app, &mut tx, r, &state, &objects, now, actor).await?;
        tx.commit().await?;
        let bytes: i64 = objects.iter().filter(|o| o.purged).map(|o| o.size).sum();
        return Ok(Outcome::new(
            r,
            "purged",
            format!("{removed} objects, {bytes} bytes removed (rule {rule})"),
        ));
    }
    Err(Error::new(
        crate::error::Code::Busy,
        format!("purging recording {r}: its objects keep changing; run the sweep again"),
    ))
}

/// Someone else (a restore, a sweep running alongside) moved the recording on.
fn moved_on(r: Uuid, retention_state: &str) -> Outcome {
    Outcome::new(r, "skipped", format!("now {retention_state}"))
}

/// A purge the store would refuse (Object Lock retain-until in force) is deferred, not failed.
async fn retained(
    app: &App,
    r: Uuid,
    shas: &[String],
    now: DateTime<Utc>,
) -> Result<Option<Outcome>> {
    for sha in shas {
        let digest: Sha256Digest = sha.parse()?;
        if let Some(until) = app.store.retain_until(&digest).await?
            && until > now
        {
            return Ok(Some(Outcome::new(
                r,
                "deferred",
                format!(
                    "object {sha} is retained by the store until {}",
                    format_ts(until)
                ),
            )));
        }
    }
    Ok(None)
}

fn unmarked_exclusive(objects: &[PurgeObject]) -> Vec<String> {
    objects
        .iter()
        .filter(|o| !o.shared && !o.purged)
        .map(|o| o.sha256.clone())
        .collect()
}

/// Deletes the marked objects from the store; returns how many were still there.
async fn delete_marked(app: &App, r: Uuid, objects: &[PurgeObject]) -> Result<u64> {
    let mut removed = 0;
    for o in objects.iter().filter(|o| o.purged) {
        let digest: Sha256Digest = o.sha256.parse()?;
        // Under the object's row lock (the write lock on SQLite): bytes arriving again revive
        // the row in their own transaction, and are then either seen here and kept, or find
        // themselves deleted and are sent again.
        let mut tx = app.catalogue.begin().await?;
        if !tx.hold_purged_object(&o.sha256).await? {
            tx.commit().await?;
            continue;
        }
        // A stale mirror of a lapsed hold would make the store refuse; the catalogue, checked
        // in step 1, says no hold covers this recording, and the row lock says nothing else
        // needs these bytes.
        if app.store.has_object_lock() && app.store.exists(&digest).await? {
            app.store
                .set_legal_hold(&digest, false)
                .await
                .map_err(|e| e.context(format!("purging recording {r}")))?;
        }
        if app
            .store
            .delete(&digest)
            .await
            .map_err(|e| e.context(format!("purging recording {r}")))?
        {
            removed += 1;
        }
        tx.commit().await?;
    }
    Ok(removed)
}

/// Writes the erasure record, then the tombstone with a certificate naming that record.
async fn finish(
    app: &App,
    tx: &mut Tx,
    r: Uuid,
    state: &crate::catalogue::DeletionState,
    objects: &[PurgeObject],
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<String> {
    let rule = state.next_action_rule.clone().unwrap_or_else(|| "-".into());
    let deleted_at = state.deleted_at.unwrap_or(now);
    let mut event = stage_event(
        "recording_purged",
        actor,
        r,
        json!({
            "stage": "purged",
            "rule": rule,
            "deleted_at": format_ts(deleted_at),
            "grace_days": app.policy.grace_days,
            "policy_sha256": app.policy.sha256,
            "kept_shared": objects.iter().filter(|o| !o.purged).map(|o| &o.sha256).collect::<Vec<_>>(),
        }),
    );
    for o in objects.iter().filter(|o| o.purged) {
        let size = u64::try_from(o.size).map_err(|_| {
            Error::new(
                crate::error::Code::Catalogue,
                format!("object {} of recording {r} has a negative size", o.sha256),
            )
        })?;
        event.objects.push(ObjectRef {
            sha256: o.sha256.clone(),
            size,
            role: Some(o.role.clone()),
        });
    }
    let leaf = tx.append_audit(app.audit.origin(), event).await?;
    let certificate = json!({
        "certificate": "bwv deletion certificate",
        "recording_id": r,
        "officer_id": state.officer_id,
        "device_serial": state.device_serial,
        "recorded_at": format_ts(state.recorded_at),
        "classification": state.classification,
        "category": state.category,
        "rule": rule,
        "policy_sha256": app.policy.sha256,
        "deleted_at": format_ts(deleted_at),
        "purged_at": format_ts(now),
        "purged_by": actor.id,
        "store": app.store.describe(),
        "objects": objects.iter().map(certificate_object).collect::<Vec<_>>(),
        "audit": {
            "origin": app.audit.origin(),
            "index": leaf.index,
            "leaf_hash": hex::encode(leaf.leaf_hash),
        },
    });
    tx.finish_purge(r, &rule, objects, deleted_at, now, &certificate.to_string())
        .await?;
    Ok(rule)
}

fn certificate_object(o: &PurgeObject) -> Value {
    json!({
        "sha256": o.sha256,
        "size": o.size,
        "role": o.role,
        "disposition": if o.purged { "destroyed" } else { "kept: other footage holds the same bytes" },
    })
}

/// When the grace period of footage soft-deleted at `deleted_at` ends.
pub fn purge_cutoff(now: DateTime<Utc>, grace_days: u32) -> DateTime<Utc> {
    now - Duration::days(i64::from(grace_days))
}
