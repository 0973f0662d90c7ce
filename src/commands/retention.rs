//! `bwv retention`: plans (what is due, and why, recorded before anything happens), their
//! approval, sweeps that carry them out, restores, reviews and deletion certificates.

use chrono::{DateTime, Months, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::output::Output;
use crate::app::App;
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::cli::RetentionCommand;
use crate::error::{Code, Error, Result};
use crate::retention::sweep::{self, Outcome};

pub async fn run(app: App, cmd: RetentionCommand, out: &Output) -> Result<bool> {
    let ok = match cmd {
        RetentionCommand::Plan { as_of, csv } => {
            plan(&app, as_of.unwrap_or_else(Utc::now), csv, out).await?;
            true
        }
        RetentionCommand::Approve { plan } => {
            approve(&app, plan, out).await?;
            true
        }
        RetentionCommand::Sweep {
            execute,
            plan,
            as_of,
        } => sweep_cmd(&app, execute, plan, as_of, out).await?,
        RetentionCommand::Restore { recording, reason } => {
            restore(&app, recording, reason, out).await?;
            true
        }
        RetentionCommand::Certificate { recording } => {
            certificate(&app, recording, out).await?;
            true
        }
        RetentionCommand::Review {
            recording,
            retain_until,
            group,
            dispose,
            reason,
        } => {
            let decision = match (retain_until, group) {
                _ if dispose => Decision::Dispose,
                (Some(until), _) => Decision::RetainUntil(until),
                (None, Some(g)) => Decision::Group(g),
                (None, None) => {
                    return Err(Error::bad_input("say --retain-until, --group or --dispose"));
                }
            };
            review(&app, recording, decision, &reason, out).await?;
            true
        }
        RetentionCommand::Reviews => {
            reviews(&app, out).await?;
            true
        }
    };
    app.finish().await?;
    Ok(ok)
}

async fn plan(app: &App, as_of: DateTime<Utc>, csv: bool, out: &Output) -> Result<()> {
    let actor = Actor::user(app.config.actor());
    let made = crate::retention::plan::make(app, as_of, &actor, true).await?;
    let (due, recomputed) = (&made.due, made.recomputed);
    let (deletes, reviews) = (made.deletes(), made.reviews());
    let id = made.id.map(|i| i.to_string()).unwrap_or_default();
    if csv {
        let mut w = csv::Writer::from_writer(std::io::stdout());
        let header = [
            "recording_id",
            "action",
            "rule",
            "due_at",
            "officer_id",
            "recorded_at",
            "classification",
            "category",
        ];
        let write = |w: &mut csv::Writer<std::io::Stdout>, row: &[String]| {
            w.write_record(row)
                .map_err(|e| Error::with_source(Code::Io, "writing CSV", e))
        };
        write(&mut w, &header.map(str::to_owned))?;
        for d in due {
            write(
                &mut w,
                &[
                    d.recording_id.to_string(),
                    d.action.clone(),
                    d.rule.clone(),
                    d.due_at.to_rfc3339(),
                    d.officer_id.clone(),
                    d.recorded_at.to_rfc3339(),
                    d.classification.clone(),
                    d.category.clone().unwrap_or_default(),
                ],
            )?;
        }
        w.flush()
            .map_err(|e| Error::with_source(Code::Io, "writing CSV", e))?;
        return Ok(());
    }
    print_due(out, due);
    let summary = json!({
        "plan": id,
        "as_of": as_of,
        "policy_sha256": app.policy.sha256,
        "policy": app.policy.source,
        "delete": deletes,
        "review": reviews,
        "recomputed": recomputed,
    });
    out.record(&summary, || {
        format!(
            "plan {id} as of {}: {deletes} to delete, {reviews} to review (policy {}, sha256 {})",
            as_of.format("%Y-%m-%d %H:%M"),
            app.policy.source,
            &app.policy.sha256[..16]
        )
    });
    Ok(())
}

fn print_due(out: &Output, due: &[crate::catalogue::DueRow]) {
    for d in due {
        out.record(d, || {
            format!(
                "{:<7} {}  due {}  rule {:<20} officer {:<8} recorded {}  {}",
                d.action,
                d.recording_id,
                d.due_at.format("%Y-%m-%d"),
                d.rule,
                d.officer_id,
                d.recorded_at.format("%Y-%m-%d %H:%M"),
                d.classification
            )
        });
    }
}

/// A plan made under another policy says nothing about what this one requires.
fn check_policy(app: &App, plan: &crate::catalogue::PlanRow) -> Result<()> {
    if plan.policy_sha256 != app.policy.sha256 {
        return Err(Error::new(
            Code::Conflict,
            format!(
                "plan {} was made under policy sha256 {}, but the policy in force is {} ({}): make a new plan",
                plan.id,
                plan.policy_sha256.get(..16).unwrap_or(&plan.policy_sha256),
                app.policy.sha256.get(..16).unwrap_or(&app.policy.sha256),
                app.policy.source
            ),
        ));
    }
    Ok(())
}

async fn approve(app: &App, id: Uuid, out: &Output) -> Result<()> {
    let actor = Actor::user(app.config.actor());
    let mut tx = app.catalogue.begin().await?;
    let plan = tx.plan_for_update(id).await?;
    check_policy(app, &plan)?;
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
    if plan.created_by == actor.id {
        return Err(Error::new(
            Code::Forbidden,
            format!(
                "plan {id} was made by {}: a second person must approve it",
                plan.created_by
            ),
        ));
    }
    tx.approve_plan(id, &actor.id).await?;
    let mut event = EventDraft::new(
        "retention_plan_approved",
        actor.clone(),
        "retention-plan",
        id,
    );
    event.result = Some(json!({
        "made_by": plan.created_by,
        "as_of": format_ts(plan.as_of),
        "policy_sha256": plan.policy_sha256,
    }));
    tx.append_audit(app.audit.origin(), event).await?;
    tx.commit().await?;
    out.record(&json!({"plan": id, "approved_by": actor.id}), || {
        format!("plan {id} approved by {}", actor.id)
    });
    Ok(())
}

async fn sweep_cmd(
    app: &App,
    execute: bool,
    plan_id: Option<Uuid>,
    as_of: Option<DateTime<Utc>>,
    out: &Output,
) -> Result<bool> {
    if !execute {
        return Err(Error::bad_input(
            "a sweep deletes footage: add --execute to carry it out (`bwv retention plan` shows what it would do)",
        ));
    }
    let now = Utc::now();
    let actor = Actor::user(app.config.actor());
    let plan = match plan_id {
        Some(id) => {
            let plan = app.catalogue.plan(id).await?;
            check_policy(app, &plan)?;
            if plan.as_of > now {
                return Err(Error::bad_input(format!(
                    "plan {id} is as of {}, which is still in the future",
                    format_ts(plan.as_of)
                )));
            }
            if app.config.retention.two_person_approval && plan.approved_by.is_none() {
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
            if app.config.retention.two_person_approval {
                return Err(Error::new(
                    Code::Forbidden,
                    "two-person approval is configured: make a plan (`bwv retention plan`), have another person approve it, then sweep with --plan ID",
                ));
            }
            let as_of = as_of.unwrap_or(now);
            if as_of > now {
                return Err(Error::bad_input(format!(
                    "--as-of {} is in the future: a sweep cannot act before footage is due",
                    format_ts(as_of)
                )));
            }
            let made = crate::retention::plan::make(app, as_of, &actor, false).await?;
            match made.id {
                Some(id) => Some(app.catalogue.plan(id).await?),
                None => None,
            }
        }
    };

    let items = match &plan {
        Some(p) => app.catalogue.pending_items(p.id).await?,
        None => Vec::new(),
    };
    let bar = out.progress_items(items.len() as u64, "sweep");
    let mut outcomes: Vec<Outcome> = Vec::new();
    let failed = |r: Uuid, e: Error| Outcome {
        recording_id: r,
        outcome: "failed".into(),
        detail: e.to_string(),
    };
    if let Some(p) = &plan {
        for item in &items {
            let o = sweep::carry_out(app, p, item, &actor)
                .await
                .unwrap_or_else(|e| failed(item.recording_id, e));
            outcomes.push(o);
            bar.inc(1);
        }
        let mut tx = app.catalogue.begin().await?;
        tx.finish_plan_if_done(p.id).await?;
        tx.commit().await?;
    }
    let purgeable = app
        .catalogue
        .purgeable(sweep::purge_cutoff(Utc::now(), app.policy.grace_days))
        .await?;
    bar.inc_length(purgeable.len() as u64);
    for r in &purgeable {
        let o = sweep::purge(app, *r, &actor)
            .await
            .unwrap_or_else(|e| failed(*r, e));
        outcomes.push(o);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let count = |what: &str| outcomes.iter().filter(|o| o.outcome == what).count();
    let summary = json!({
        "plan": plan.as_ref().map(|p| p.id),
        "as_of": plan.as_ref().map(|p| format_ts(p.as_of)),
        "policy_sha256": app.policy.sha256,
        "soft_deleted": count("soft-deleted"),
        "sent_for_review": count("sent-for-review"),
        "skipped": count("skipped"),
        "purged": count("purged"),
        "restored": count("restored"),
        "deferred": count("deferred"),
        "failed": count("failed"),
    });
    // A sweep with nothing to do changes nothing, not even the log (a purge the store still
    // refuses is retried by every sweep; that alone is not worth a record each night).
    if outcomes.iter().any(|o| o.outcome != "deferred") {
        let (kind, item) = match &plan {
            Some(p) => ("retention-plan", p.id),
            None => ("retention-sweep", Uuid::now_v7()),
        };
        let mut tx = app.catalogue.begin().await?;
        let mut event = EventDraft::new("retention_swept", actor.clone(), kind, item);
        event.result = Some(summary.clone());
        tx.append_audit(app.audit.origin(), event).await?;
        tx.commit().await?;
    }
    for o in &outcomes {
        out.record(o, || {
            format!("{:<15} {}  {}", o.outcome, o.recording_id, o.detail)
        });
    }
    out.record(&summary, || {
        let s = &summary;
        match &plan {
            None if outcomes.is_empty() => "nothing due: nothing done".to_owned(),
            _ => format!(
                "sweep{}: {} soft-deleted, {} sent for review, {} skipped, {} purged, {} restored, {} deferred, {} failed",
                plan.as_ref().map(|p| format!(" of plan {}", p.id)).unwrap_or_default(),
                s["soft_deleted"], s["sent_for_review"], s["skipped"], s["purged"],
                s["restored"], s["deferred"], s["failed"]
            ),
        }
    });
    let failures = count("failed");
    if failures > 0 {
        eprintln!(
            "error: {failures} recordings could not be processed; run the sweep again once the cause is fixed"
        );
    }
    Ok(failures == 0)
}

async fn restore(app: &App, recording: Uuid, reason: Option<String>, out: &Output) -> Result<()> {
    let actor = Actor::user(app.config.actor());
    let reason = reason.unwrap_or_else(|| "restored by hand".into());
    sweep::restore(app, recording, &reason, &actor).await?;
    let r = app
        .catalogue
        .recording(recording)
        .await?
        .ok_or_else(|| Error::not_found(format!("no recording {recording}")))?;
    let due = r.next_action.as_deref() == Some("delete")
        && r.next_action_at.is_some_and(|t| t <= Utc::now());
    out.record(&json!({"recording": recording, "restored": true, "still_due": due}), || {
        let mut s = format!("recording {recording} restored");
        if due {
            s.push_str(&format!(
                "; it is still due for deletion (rule {}): classify it, link it to a case or hold it, or the next sweep deletes it again",
                r.next_action_rule.as_deref().unwrap_or("-")
            ));
        }
        s
    });
    Ok(())
}

async fn certificate(app: &App, recording: Uuid, out: &Output) -> Result<()> {
    let Some(t) = app.catalogue.tombstone(recording).await? else {
        return Err(Error::not_found(format!(
            "recording {recording} has not been purged: there is no deletion certificate"
        )));
    };
    let cert: Value = serde_json::from_str(&t.certificate).map_err(|e| {
        Error::with_source(
            Code::Catalogue,
            format!("the certificate of recording {recording} is not JSON"),
            e,
        )
    })?;
    out.record(&cert, || {
        let c = &cert;
        let mut s = format!(
            "DELETION CERTIFICATE\nrecording   {}\nofficer     {}  device {}\nrecorded    {}\nclassified  {}  category {}\nrule        {}  (policy sha256 {})\ndeleted     {}\npurged      {}  by {}\nstore       {}",
            recording,
            c["officer_id"].as_str().unwrap_or("-"),
            c["device_serial"].as_str().unwrap_or("-"),
            c["recorded_at"].as_str().unwrap_or("-"),
            c["classification"].as_str().unwrap_or("-"),
            c["category"].as_str().unwrap_or("-"),
            c["rule"].as_str().unwrap_or("-"),
            c["policy_sha256"].as_str().unwrap_or("-"),
            c["deleted_at"].as_str().unwrap_or("-"),
            c["purged_at"].as_str().unwrap_or("-"),
            c["purged_by"].as_str().unwrap_or("-"),
            c["store"].as_str().unwrap_or("-"),
        );
        for o in c["objects"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "\n  {:<11} sha256:{} {} bytes  {}",
                o["role"].as_str().unwrap_or("-"),
                o["sha256"].as_str().unwrap_or("-"),
                o["size"],
                o["disposition"].as_str().unwrap_or("-"),
            ));
        }
        s.push_str(&format!(
            "\naudit       erasure record {} in log {} (leaf hash {}); check with `bwv audit verify`",
            c["audit"]["index"],
            c["audit"]["origin"].as_str().unwrap_or("-"),
            c["audit"]["leaf_hash"].as_str().unwrap_or("-"),
        ));
        s
    });
    Ok(())
}

enum Decision {
    RetainUntil(DateTime<Utc>),
    Group(String),
    Dispose,
}

async fn review(
    app: &App,
    recording: Uuid,
    decision: Decision,
    reason: &str,
    out: &Output,
) -> Result<()> {
    let actor = Actor::user(app.config.actor());
    if reason.trim().is_empty() {
        return Err(Error::bad_input("a review decision needs a --reason"));
    }
    let now = Utc::now();
    let (retain_until, group) = match &decision {
        Decision::Dispose => (None, None),
        Decision::RetainUntil(t) => (Some(*t), None),
        Decision::Group(name) => {
            let Some(g) = app.policy.review_groups.iter().find(|g| g.name == *name) else {
                let names: Vec<&str> = app
                    .policy
                    .review_groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect();
                return Err(Error::bad_input(format!(
                    "no review group {name:?} in the retention policy ({}); groups: {}",
                    app.policy.source,
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
            "--retain-until {} is not in the future",
            format_ts(until)
        )));
    }
    let mut tx = app.catalogue.begin().await?;
    tx.lock_recording(recording).await?;
    tx.ensure_not_purged(recording).await?;
    let state = tx.deletion_state(recording).await?;
    if state.retention_state == "soft-deleted" {
        return Err(Error::new(
            Code::Conflict,
            format!(
                "recording {recording} is deleted (awaiting purge): restore it first with `bwv retention restore {recording}`"
            ),
        ));
    }
    let next = crate::retention::recompute(&mut tx, &app.policy, recording).await?;
    let due =
        next.action == crate::retention::rules::Action::Review && next.at.is_some_and(|t| t <= now);
    if state.retention_state != "review" && !due {
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
    tx.set_retention_state(recording, "active").await?;
    let next = crate::retention::recompute(&mut tx, &app.policy, recording).await?;
    let mut event = EventDraft::new("retention_reviewed", actor.clone(), "recording", recording);
    event.result = Some(json!({
        "review": id,
        "decision": if retain_until.is_some() { "retain" } else { "dispose" },
        "retain_until": retain_until.map(format_ts),
        "group": group,
        "reason": reason,
        "next_action": next.action.as_str(),
        "next_action_at": next.at.map(format_ts),
        "rule": next.rule,
        "policy_sha256": app.policy.sha256,
    }));
    tx.append_audit(app.audit.origin(), event).await?;
    tx.commit().await?;
    out.record(
        &json!({"recording": recording, "review": id, "next_action": next}),
        || {
            format!(
                "recording {recording}: next {} {} (rule {})",
                next.action.as_str(),
                next.at
                    .map_or("-".into(), |t| t.format("%Y-%m-%d").to_string()),
                next.rule
            )
        },
    );
    Ok(())
}

async fn reviews(app: &App, out: &Output) -> Result<()> {
    let waiting = app.catalogue.awaiting_review().await?;
    print_due(out, &waiting);
    if !out.json() {
        println!("{} recordings awaiting review", waiting.len());
    }
    Ok(())
}
