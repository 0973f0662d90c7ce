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
use crate::audit::record::{Actor, EventDraft, ObjectRef, format_ts};
use crate::catalogue::{Duty, PlanItem, PlanRow, PurgeObject, Tx};
use crate::context::Context;
use crate::domain::RetentionState;
use crate::domain::{Sha256Digest, SweepOutcome};
use crate::error::{Code, Error, Result};

/// What became of one recording.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub recording_id: Uuid,
    pub outcome: SweepOutcome,
    pub detail: String,
}

impl Outcome {
    fn new(recording_id: Uuid, outcome: SweepOutcome, detail: impl Into<String>) -> Self {
        Outcome {
            recording_id,
            outcome,
            detail: detail.into(),
        }
    }
}

/// What to sweep: a recorded plan, or a new one as of a date (now when none is given).
#[derive(Debug, Clone, Default)]
pub struct Sweep {
    pub plan: Option<Uuid>,
    pub as_of: Option<DateTime<Utc>>,
}

/// How far a sweep has got, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// This many more recordings are to be dealt with.
    More(u64),
    /// One more is done.
    Done,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub soft_deleted: usize,
    pub sent_for_review: usize,
    pub skipped: usize,
    pub purged: usize,
    pub restored: usize,
    pub deferred: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Swept {
    pub plan: Option<Uuid>,
    pub as_of: Option<String>,
    pub policy_sha256: String,
    #[serde(flatten)]
    pub counts: Counts,
    #[serde(skip)]
    pub outcomes: Vec<Outcome>,
}

/// Carries out a plan, then purges what is past its grace period. With two-person approval
/// configured only an approved recorded plan is carried out. Every recording's outcome is
/// reported; one that fails does not stop the others. A sweep with nothing to do writes nothing.
///
/// One sweep at a time across every node: a second is refused while one runs, rather than
/// racing it recording by recording.
pub async fn run(
    ctx: &Context<'_>,
    actor: &Actor,
    sweep: Sweep,
    progress: &(dyn Fn(Step) + Sync),
) -> Result<Swept> {
    let Some(turn) = ctx.catalogue.try_exclusive(Duty::Sweeping).await? else {
        return Err(Error::new(
            Code::Locked,
            "another retention sweep is running (here or on another node); run this one when \
             it has finished",
        ));
    };
    let swept = sweep_in_turn(ctx, actor, sweep, progress).await;
    turn.release().await;
    swept
}

async fn sweep_in_turn(
    ctx: &Context<'_>,
    actor: &Actor,
    sweep: Sweep,
    progress: &(dyn Fn(Step) + Sync),
) -> Result<Swept> {
    let now = Utc::now();
    let two_people = ctx.config.retention.two_person_approval;
    let plan = match sweep.plan {
        Some(id) => {
            let plan = ctx.catalogue.plan(id).await?;
            super::plan::check_policy(ctx, &plan)?;
            if plan.as_of > now {
                return Err(Error::bad_input(format!(
                    "plan {id} is as of {}, which is still in the future",
                    format_ts(plan.as_of)
                )));
            }
            if two_people && plan.approved_by.is_none() {
                return Err(Error::new(
                    Code::Forbidden,
                    format!(
                        "plan {id} needs approval by a second person first (`bwv retention approve {id}`)"
                    ),
                ));
            }
            Some(plan)
        }
        None => {
            if two_people {
                return Err(Error::new(
                    Code::Forbidden,
                    "two-person approval is configured: make a plan (`bwv retention plan`), have another person approve it, then sweep with --plan ID",
                ));
            }
            let as_of = sweep.as_of.unwrap_or(now);
            if as_of > now {
                return Err(Error::bad_input(format!(
                    "--as-of {} is in the future: a sweep cannot act before footage is due",
                    format_ts(as_of)
                )));
            }
            let made = super::plan::make(ctx, as_of, actor, false).await?;
            match made.id {
                Some(id) => Some(ctx.catalogue.plan(id).await?),
                None => None,
            }
        }
    };
    let failed = |r: Uuid, e: Error| Outcome::new(r, SweepOutcome::Failed, e.to_string());
    let mut outcomes: Vec<Outcome> = Vec::new();
    if let Some(p) = &plan {
        let items = ctx.catalogue.pending_items(p.id).await?;
        progress(Step::More(items.len() as u64));
        for item in &items {
            let o = carry_out(ctx, p, item, actor)
                .await
                .unwrap_or_else(|e| failed(item.recording_id, e));
            outcomes.push(o);
            progress(Step::Done);
        }
        let mut tx = ctx.catalogue.begin().await?;
        tx.finish_plan_if_done(p.id).await?;
        tx.commit().await?;
    }
    let purgeable = ctx
        .catalogue
        .purgeable(purge_cutoff(Utc::now(), ctx.policy.grace_days))
        .await?;
    progress(Step::More(purgeable.len() as u64));
    for r in &purgeable {
        let o = purge(ctx, *r, actor)
            .await
            .unwrap_or_else(|e| failed(*r, e));
        outcomes.push(o);
        progress(Step::Done);
    }
    let count = |what| outcomes.iter().filter(|o| o.outcome == what).count();
    let swept = Swept {
        plan: plan.as_ref().map(|p| p.id),
        as_of: plan.as_ref().map(|p| format_ts(p.as_of)),
        policy_sha256: ctx.policy.sha256.clone(),
        counts: Counts {
            soft_deleted: count(SweepOutcome::SoftDeleted),
            sent_for_review: count(SweepOutcome::SentForReview),
            skipped: count(SweepOutcome::Skipped),
            purged: count(SweepOutcome::Purged),
            restored: count(SweepOutcome::Restored),
            deferred: count(SweepOutcome::Deferred),
            failed: count(SweepOutcome::Failed),
        },
        outcomes,
    };
    // A sweep with nothing to do changes nothing, not even the log (a purge the store still
    // refuses is retried by every sweep; that alone is not worth a record each night).
    if swept
        .outcomes
        .iter()
        .any(|o| o.outcome != SweepOutcome::Deferred)
    {
        let (kind, item) = match &plan {
            Some(p) => ("retention-plan", p.id),
            None => ("retention-sweep", Uuid::now_v7()),
        };
        let mut tx = ctx.catalogue.begin().await?;
        let event =
            EventDraft::new("retention_swept", actor.clone(), kind, item).with_result(&swept)?;
        tx.append_audit(ctx.audit.origin(), event).await?;
        tx.commit().await?;
    }
    Ok(swept)
}

#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub recording: Uuid,
    pub restored: bool,
    /// It is still due for deletion: the next sweep deletes it again unless something changes.
    pub still_due: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Brings back soft-deleted footage by hand, with a reason.
pub async fn restore_by_hand(
    ctx: &Context<'_>,
    actor: &Actor,
    recording: Uuid,
    reason: &str,
) -> Result<Restored> {
    restore(ctx, recording, reason, actor).await?;
    let r = ctx
        .catalogue
        .recording(recording)
        .await?
        .ok_or_else(|| Error::not_found(format!("no recording {recording}")))?;
    let still_due =
        r.next_action == Some(Action::Delete) && r.next_action_at.is_some_and(|t| t <= Utc::now());
    Ok(Restored {
        recording,
        restored: true,
        still_due,
        rule: r.next_action_rule,
    })
}

/// The deletion certificate of a purged recording.
pub async fn certificate(ctx: &Context<'_>, recording: Uuid) -> Result<Value> {
    let Some(t) = ctx.catalogue.tombstone(recording).await? else {
        return Err(Error::not_found(format!(
            "recording {recording} has not been purged: there is no deletion certificate"
        )));
    };
    serde_json::from_str(&t.certificate).map_err(|e| {
        Error::with_source(
            crate::error::Code::Catalogue,
            format!("the certificate of recording {recording} is not JSON"),
            e,
        )
    })
}

fn stage_event(
    event: &str,
    actor: &Actor,
    recording: Uuid,
    result: &impl Serialize,
) -> Result<EventDraft> {
    EventDraft::new(event, actor.clone(), "recording", recording).with_result(result)
}

/// `review_requested`: the plan item a sweep carried out, and the rule and policy that still
/// called for it when the recording was looked at again under its lock.
#[derive(Debug, Serialize)]
struct PlanCarriedOut<'a> {
    rule: &'static str,
    plan: Uuid,
    as_of: String,
    policy_sha256: &'a str,
}

/// `recording_deleted`: a soft deletion by a sweep, under its plan item, and the end of the
/// grace period in which it can be restored.
#[derive(Debug, Serialize)]
struct SweepDeleted<'a> {
    #[serde(flatten)]
    carried_out: PlanCarriedOut<'a>,
    stage: RetentionState,
    purge_after: String,
}

/// Carries out one plan item if the recording's fresh answer still agrees with the plan.
pub async fn carry_out(
    ctx: &Context<'_>,
    plan: &PlanRow,
    item: &PlanItem,
    actor: &Actor,
) -> Result<Outcome> {
    let r = item.recording_id;
    let mut tx = ctx.catalogue.begin().await?;
    tx.lock_recording(r).await?;
    let state = tx.deletion_state(r).await?;
    if state.retention_state != RetentionState::Active {
        let detail = format!("already {}", state.retention_state);
        tx.item_done(plan.id, r, SweepOutcome::Skipped, Some(&detail))
            .await?;
        tx.commit().await?;
        return Ok(Outcome::new(r, SweepOutcome::Skipped, detail));
    }
    let next = super::recompute(&mut tx, ctx.policy, r).await?;
    let due = next.at.is_some_and(|at| at <= plan.as_of);
    let planned = item.action;
    if !due || next.action != planned {
        let detail = format!(
            "now {} {} (rule {})",
            next.action.as_str(),
            next.at
                .map_or("-".into(), |t| t.format("%Y-%m-%d").to_string()),
            next.rule
        );
        tx.item_done(plan.id, r, SweepOutcome::Skipped, Some(&detail))
            .await?;
        tx.commit().await?;
        return Ok(Outcome::new(r, SweepOutcome::Skipped, detail));
    }
    let carried_out = PlanCarriedOut {
        rule: next.rule,
        plan: plan.id,
        as_of: format_ts(plan.as_of),
        policy_sha256: &ctx.policy.sha256,
    };
    let (new_state, outcome, event) = match planned {
        Action::Delete => {
            let purge_after =
                crate::domain::now() + Duration::days(i64::from(ctx.policy.grace_days));
            let deleted = SweepDeleted {
                carried_out,
                stage: RetentionState::SoftDeleted,
                purge_after: format_ts(purge_after),
            };
            (
                RetentionState::SoftDeleted,
                SweepOutcome::SoftDeleted,
                stage_event("recording_deleted", actor, r, &deleted)?,
            )
        }
        _ => (
            RetentionState::Review,
            SweepOutcome::SentForReview,
            stage_event("review_requested", actor, r, &carried_out)?,
        ),
    };
    tx.set_retention_state(r, new_state).await?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.item_done(plan.id, r, outcome, None).await?;
    tx.commit().await?;
    Ok(Outcome::new(r, outcome, next.rule))
}

/// `recording_restored`: why soft-deleted footage came back, and its next action now under
/// which policy.
#[derive(Debug, Serialize)]
struct RecordingRestored<'a> {
    reason: &'a str,
    #[serde(flatten)]
    next: crate::retention::AuditedInline<'a>,
}

/// Brings a soft-deleted recording back, audited.
pub async fn restore(
    ctx: &Context<'_>,
    recording: Uuid,
    reason: &str,
    actor: &Actor,
) -> Result<()> {
    let mut tx = ctx.catalogue.begin().await?;
    tx.lock_recording(recording).await?;
    let state = tx.deletion_state(recording).await?;
    if state.retention_state != RetentionState::SoftDeleted || state.purge_started_at.is_some() {
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
    restore_in(ctx, &mut tx, recording, reason, actor).await?;
    tx.commit().await
}

/// Brings back, in the caller's transaction, soft-deleted footage a change has just protected
/// (a hold, a case link, a classification): footage that must be kept does not wait in the
/// recycle bin until its purge notices. Returns whether it did.
pub async fn restore_if_protected(
    ctx: &Context<'_>,
    tx: &mut Tx,
    r: Uuid,
    why: &str,
    actor: &Actor,
) -> Result<bool> {
    let state = tx.deletion_state(r).await?;
    if state.retention_state != RetentionState::SoftDeleted || state.purge_started_at.is_some() {
        return Ok(false);
    }
    let next = super::recompute(tx, ctx.policy, r).await?;
    if next.action == Action::Delete && next.at.is_some_and(|at| at <= crate::domain::now()) {
        return Ok(false);
    }
    restore_in(ctx, tx, r, why, actor).await?;
    Ok(true)
}

async fn restore_in(
    ctx: &Context<'_>,
    tx: &mut Tx,
    r: Uuid,
    reason: &str,
    actor: &Actor,
) -> Result<()> {
    tx.set_retention_state(r, RetentionState::Active).await?;
    let next = super::recompute(tx, ctx.policy, r).await?;
    let restored = RecordingRestored {
        reason,
        next: crate::retention::audited(&next, ctx.policy).into(),
    };
    tx.append_audit(
        ctx.audit.origin(),
        stage_event("recording_restored", actor, r, &restored)?,
    )
    .await?;
    Ok(())
}

/// Purges one soft-deleted recording whose grace period is over (or finishes a purge a killed
/// sweep began).
pub async fn purge(ctx: &Context<'_>, recording: Uuid, actor: &Actor) -> Result<Outcome> {
    let r = recording;
    let now = crate::domain::now();
    // The store's own retention is asked first, outside any transaction (a network round trip
    // per object must not hold SQLite's write lock): a retained object defers the whole purge.
    let mut tx = ctx.catalogue.begin().await?;
    let objects = tx.purge_objects(r).await?;
    tx.commit().await?;
    if let Some(deferred) = retained(ctx, r, &unmarked_exclusive(&objects), now).await? {
        return Ok(deferred);
    }

    // Step 1: decide under the lock, and mark what goes.
    let mut tx = ctx.catalogue.begin().await?;
    tx.lock_recording(r).await?;
    let state = tx.deletion_state(r).await?;
    if state.retention_state != RetentionState::SoftDeleted {
        tx.commit().await?;
        return Ok(moved_on(r, state.retention_state.as_str()));
    }
    if state.purge_started_at.is_none() {
        // Restored and deleted again since the list was made: a new grace period runs.
        let cutoff = purge_cutoff(now, ctx.policy.grace_days);
        if state.deleted_at.is_none_or(|d| d > cutoff) {
            tx.commit().await?;
            return Ok(Outcome::new(
                r,
                SweepOutcome::Skipped,
                "grace period not over",
            ));
        }
        let next = super::recompute(&mut tx, ctx.policy, r).await?;
        if next.action != Action::Delete || next.at.is_none_or(|at| at > now) {
            let why = format!("protected since deletion (rule {})", next.rule);
            restore_in(ctx, &mut tx, r, &why, actor).await?;
            tx.commit().await?;
            return Ok(Outcome::new(r, SweepOutcome::Restored, why));
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
        let mut tx = ctx.catalogue.begin().await?;
        let objects = tx.purge_objects(r).await?;
        tx.commit().await?;
        removed += delete_marked(ctx, r, &objects).await?;

        // Step 3: the tombstone, its certificate, and the erasure record.
        let mut tx = ctx.catalogue.begin().await?;
        tx.lock_recording(r).await?;
        let state = tx.deletion_state(r).await?;
        if state.retention_state != RetentionState::SoftDeleted {
            tx.commit().await?;
            return Ok(moved_on(r, state.retention_state.as_str()));
        }
        let objects = tx.purge_objects(r).await?;
        let left = unmarked_exclusive(&objects);
        if !left.is_empty() {
            tx.commit().await?; // nothing written: the store is asked outside the transaction
            if let Some(deferred) = retained(ctx, r, &left, now).await? {
                return Ok(deferred); // the next sweep carries on from here
            }
            let mut tx = ctx.catalogue.begin().await?;
            tx.lock_recording(r).await?;
            let left = unmarked_exclusive(&tx.purge_objects(r).await?);
            tx.start_purge(r, &left).await?;
            tx.commit().await?;
            continue;
        }
        let rule = finish(ctx, &mut tx, r, &state, &objects, now, actor).await?;
        tx.commit().await?;
        let bytes: i64 = objects.iter().filter(|o| o.purged).map(|o| o.size).sum();
        return Ok(Outcome::new(
            r,
            SweepOutcome::Purged,
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
    Outcome::new(r, SweepOutcome::Skipped, format!("now {retention_state}"))
}

/// A purge the store would refuse (Object Lock retain-until in force) is deferred, not failed.
async fn retained(
    ctx: &Context<'_>,
    r: Uuid,
    shas: &[String],
    now: DateTime<Utc>,
) -> Result<Option<Outcome>> {
    for sha in shas {
        let digest: Sha256Digest = sha.parse()?;
        if let Some(until) = ctx.store.retain_until(&digest).await?
            && until > now
        {
            return Ok(Some(Outcome::new(
                r,
                SweepOutcome::Deferred,
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
async fn delete_marked(ctx: &Context<'_>, r: Uuid, objects: &[PurgeObject]) -> Result<u64> {
    let mut removed = 0;
    for o in objects.iter().filter(|o| o.purged) {
        let digest: Sha256Digest = o.sha256.parse()?;
        // Under the object's row lock (the write lock on SQLite): bytes arriving again revive
        // the row in their own transaction, and are then either seen here and kept, or find
        // themselves deleted and are sent again.
        let mut tx = ctx.catalogue.begin().await?;
        if !tx.lock_purged_object(&o.sha256).await? {
            tx.commit().await?;
            continue;
        }
        // A stale mirror of a lapsed hold would make the store refuse; the catalogue, checked
        // in step 1, says no hold covers this recording, and the row lock says nothing else
        // needs these bytes.
        if ctx.store.has_object_lock() && ctx.store.exists(&digest).await? {
            ctx.store
                .set_legal_hold(&digest, false)
                .await
                .map_err(|e| e.context(format!("purging recording {r}")))?;
        }
        if ctx
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

/// `recording_purged`, the erasure record: the rule and policy the footage went under, when
/// it was deleted and its grace period, and the bytes kept because other footage shares them
/// (the objects destroyed are the record's objects).
#[derive(Debug, Serialize)]
struct SweepPurged<'a> {
    stage: RetentionState,
    rule: &'a str,
    deleted_at: String,
    grace_days: u32,
    policy_sha256: &'a str,
    kept_shared: Vec<&'a str>,
}

/// Writes the erasure record, then the tombstone with a certificate naming that record.
async fn finish(
    ctx: &Context<'_>,
    tx: &mut Tx,
    r: Uuid,
    state: &crate::catalogue::DeletionState,
    objects: &[PurgeObject],
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<String> {
    let rule = state.next_action_rule.clone().unwrap_or_else(|| "-".into());
    let deleted_at = state.deleted_at.unwrap_or(now);
    let purged = SweepPurged {
        stage: RetentionState::Purged,
        rule: &rule,
        deleted_at: format_ts(deleted_at),
        grace_days: ctx.policy.grace_days,
        policy_sha256: &ctx.policy.sha256,
        kept_shared: objects
            .iter()
            .filter(|o| !o.purged)
            .map(|o| o.sha256.as_str())
            .collect(),
    };
    let mut event = stage_event("recording_purged", actor, r, &purged)?;
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
    let leaf = tx.append_audit(ctx.audit.origin(), event).await?;
    let certificate = json!({
        "certificate": "bwv deletion certificate",
        "recording_id": r,
        "officer_id": state.officer_id,
        "device_serial": state.device_serial,
        "recorded_at": format_ts(state.recorded_at),
        "classification": state.classification,
        "category": state.category,
        "rule": rule,
        "policy_sha256": &ctx.policy.sha256,
        "deleted_at": format_ts(deleted_at),
        "purged_at": format_ts(now),
        "purged_by": actor.id,
        "store": ctx.store.describe(),
        "objects": objects.iter().map(certificate_object).collect::<Vec<_>>(),
        "audit": {
            "origin": ctx.audit.origin(),
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
