//! `bwv retention plan`: what a sweep would do as of a date, and why, recorded before anything
//! happens (with the policy's SHA-256 in the plan and its audit record).

use chrono::Utc;
use serde_json::json;

use super::output::Output;
use crate::app::App;
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::cli::RetentionCommand;
use crate::error::{Code, Error, Result};

/// Recomputes stale answers a batch (one transaction) at a time.
const RECOMPUTE_BATCH: i64 = 1000;

pub async fn run(app: App, cmd: RetentionCommand, out: &Output) -> Result<bool> {
    match cmd {
        RetentionCommand::Plan { as_of, csv } => {
            plan(&app, as_of.unwrap_or_else(Utc::now), csv, out).await?
        }
    }
    app.finish().await?;
    Ok(true)
}

async fn plan(app: &App, as_of: chrono::DateTime<Utc>, csv: bool, out: &Output) -> Result<()> {
    let actor = Actor::user(app.config.actor());
    // Answers computed under another policy, never computed, or a hold lapsed: redo them first.
    // Each is visited once, in id order (a hold lapsing after `as_of` stays a keep).
    let mut recomputed = 0usize;
    let mut after = None;
    loop {
        let stale = app
            .catalogue
            .stale_next_actions(&app.policy.sha256, as_of, after, RECOMPUTE_BATCH)
            .await?;
        let Some(last) = stale.last().copied() else {
            break;
        };
        let mut tx = app.catalogue.begin().await?;
        for r in &stale {
            crate::retention::recompute(&mut tx, &app.policy, *r).await?;
        }
        tx.commit().await?;
        recomputed += stale.len();
        after = Some(last);
    }
    let due = app.catalogue.due(as_of).await?;
    let deletes = due.iter().filter(|d| d.action == "delete").count();
    let reviews = due.len() - deletes;
    let mut tx = app.catalogue.begin().await?;
    let id = tx
        .insert_plan(as_of, &app.policy.sha256, &actor.id, &due)
        .await?;
    let mut event = EventDraft::new("retention_planned", actor, "retention-plan", id);
    event.result = Some(json!({
        "as_of": format_ts(as_of),
        "policy_sha256": app.policy.sha256,
        "delete": deletes,
        "review": reviews,
    }));
    tx.append_audit(app.audit.origin(), event).await?;
    tx.commit().await?;

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
        for d in &due {
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
    for d in &due {
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
