//! `bwv retention`: parsed here, carried out by `retention` (plans, approval, sweeps, restores,
//! reviews, deletion certificates).

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::output::Output;
use crate::app::App;
use crate::audit::record::Actor;
use crate::cli::RetentionCommand;
use crate::error::{Code, Error, Result};
use crate::retention::plan;
use crate::retention::review::{self, Decision};
use crate::retention::sweep::{self, Step, Sweep};

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
                    return Err(Error::usage("say --retain-until, --group or --dispose"));
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
    let made = crate::retention::plan::make(&app.context(), as_of, &actor, true).await?;
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
                    d.action.to_string(),
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

async fn approve(app: &App, id: Uuid, out: &Output) -> Result<()> {
    let a = plan::approve(&app.context(), &app.operator(), id).await?;
    out.record(&a, || format!("plan {id} approved by {}", a.approved_by));
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
        return Err(Error::usage(
            "a sweep deletes footage: add --execute to carry it out (`bwv retention plan` shows what it would do)",
        ));
    }
    let actor = Actor::user(app.config.actor());
    let bar = out.progress_items(0, "sweep");
    let step = |s: Step| match s {
        Step::More(n) => bar.inc_length(n),
        Step::Done => bar.inc(1),
    };
    let request = Sweep {
        plan: plan_id,
        as_of,
    };
    let swept = sweep::run(&app.context(), &actor, request, &step).await?;
    bar.finish_and_clear();
    for o in &swept.outcomes {
        out.record(o, || {
            format!("{:<15} {}  {}", o.outcome, o.recording_id, o.detail)
        });
    }
    out.record(&swept, || {
        let c = &swept.counts;
        match swept.plan {
            None if swept.outcomes.is_empty() => "nothing due: nothing done".to_owned(),
            _ => format!(
                "sweep{}: {} soft-deleted, {} sent for review, {} skipped, {} purged, {} restored, {} deferred, {} failed",
                swept.plan.map(|p| format!(" of plan {p}")).unwrap_or_default(),
                c.soft_deleted, c.sent_for_review, c.skipped, c.purged, c.restored, c.deferred,
                c.failed
            ),
        }
    });
    let failures = swept.counts.failed;
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
    let r = sweep::restore_by_hand(&app.context(), &actor, recording, &reason).await?;
    out.record(&r, || {
        let mut s = format!("recording {recording} restored");
        if r.still_due {
            s.push_str(&format!(
                "; it is still due for deletion (rule {}): classify it, link it to a case or hold it, or the next sweep deletes it again",
                r.rule.as_deref().unwrap_or("-")
            ));
        }
        s
    });
    Ok(())
}

async fn certificate(app: &App, recording: Uuid, out: &Output) -> Result<()> {
    let cert = sweep::certificate(&app.context(), recording).await?;
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

async fn review(
    app: &App,
    recording: Uuid,
    decision: Decision,
    reason: &str,
    out: &Output,
) -> Result<()> {
    let actor = Actor::user(app.config.actor());
    let r = review::decide(&app.context(), &actor, recording, decision, reason).await?;
    out.record(&r, || {
        let next = &r.next_action;
        format!(
            "recording {recording}: next {} {} (rule {})",
            next.action.as_str(),
            next.at
                .map_or("-".into(), |t| t.format("%Y-%m-%d").to_string()),
            next.rule
        )
    });
    Ok(())
}

async fn reviews(app: &App, out: &Output) -> Result<()> {
    let waiting = review::queue(&app.context()).await?;
    print_due(out, &waiting);
    if !out.json() {
        println!("{} recordings awaiting review", waiting.len());
    }
    Ok(())
}
