//! `bwv hold`: placing, releasing and listing legal holds (the store mirroring is in
//! `crate::holds`).

use serde_json::json;
use uuid::Uuid;

use super::output::Output;
use crate::app::App;
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::catalogue::HoldRow;
use crate::cli::HoldCommand;
use crate::error::{Error, Result};
use crate::holds::{mirror, sync};

fn line(h: &HoldRow) -> String {
    let target = match (&h.recording_id, &h.urn) {
        (Some(r), _) => format!("recording {r}"),
        (None, Some(urn)) => format!("case {urn}"),
        _ => "?".into(),
    };
    let mut s = format!(
        "{}  {target}  placed by {} at {}: {}",
        h.id,
        h.placed_by,
        h.placed_at.format("%Y-%m-%d %H:%M"),
        h.reason
    );
    if let Some(u) = h.until {
        s.push_str(&format!("  until {}", u.format("%Y-%m-%d")));
    }
    if let Some(at) = h.released_at {
        s.push_str(&format!(
            "  released by {} at {}: {}",
            h.released_by.as_deref().unwrap_or("?"),
            at.format("%Y-%m-%d %H:%M"),
            h.release_reason.as_deref().unwrap_or("")
        ));
    }
    s
}

fn reason_given(reason: &str) -> Result<&str> {
    let r = reason.trim();
    if r.is_empty() {
        Err(Error::bad_input("--reason must not be empty"))
    } else {
        Ok(r)
    }
}

pub async fn run(app: App, cmd: HoldCommand, out: &Output) -> Result<bool> {
    let actor = Actor::user(app.config.actor());
    match cmd {
        HoldCommand::Place {
            target,
            reason,
            until,
        } => {
            let reason = reason_given(&reason)?;
            if until.is_some_and(|u| u <= chrono::Utc::now()) {
                return Err(Error::bad_input("--until must be in the future"));
            }
            let mut tx = app.catalogue.begin().await?;
            // A recording id, or else a case URN; the target is locked, and a case's exhibits
            // read, inside the transaction, so a link racing with the hold is covered.
            let (recording, case) = match target.parse::<Uuid>() {
                Ok(id) => {
                    tx.lock_recording(id).await?;
                    tx.ensure_not_purged(id).await?;
                    (Some(id), None)
                }
                Err(_) => {
                    let case = match tx.case_for_update(&target).await {
                        Ok(case) => case,
                        Err(e) if e.code() == crate::error::Code::NotFound => {
                            return Err(Error::not_found(format!(
                                "no recording or case {target:?}"
                            )));
                        }
                        Err(e) => return Err(e),
                    };
                    (None, Some(case))
                }
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
                        Err(e) if e.code() == crate::error::Code::Conflict => gone.push(r),
                        Err(e) => return Err(e),
                    }
                }
                covered = live;
            }
            // Locked in the store before the catalogue says so.
            let objects = mirror(&app, &covered, true).await?;
            let id = tx
                .insert_hold(
                    recording,
                    case.as_ref().map(|c| c.id),
                    reason,
                    until,
                    &actor.id,
                )
                .await?;
            for r in &covered {
                crate::retention::recompute(&mut tx, &app.policy, *r).await?;
                let why = format!("held: {reason}");
                crate::retention::sweep::restore_if_protected(&app, &mut tx, *r, &why, &actor)
                    .await?;
            }
            let mut event = EventDraft::new("hold_placed", actor, kind, item);
            let mut result = json!({
                "hold": id.to_string(),
                "reason": reason,
                "objects_locked": objects,
                "retention": {"recomputed": covered.len(), "policy_sha256": app.policy.sha256},
            });
            if !gone.is_empty() {
                result["already_purged"] =
                    json!(gone.iter().map(Uuid::to_string).collect::<Vec<_>>());
            }
            if let Some(u) = until {
                result["until"] = json!(format_ts(u));
            }
            event.result = Some(result);
            tx.append_audit(app.audit.origin(), event).await?;
            tx.commit().await?;
            sync(&app, &covered).await?;
            let v = json!({"hold": id, "recordings": covered, "objects_locked": objects, "already_purged": gone});
            out.record(&v, || {
                format!(
                    "hold {id} placed on {} recording(s){}{}",
                    covered.len(),
                    if app.store.has_object_lock() {
                        format!(", {objects} object(s) under S3 legal hold")
                    } else {
                        String::new()
                    },
                    if gone.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; {} exhibit(s) already purged under the retention policy",
                            gone.len()
                        )
                    }
                )
            });
        }
        HoldCommand::Release { hold, reason } => {
            let reason = reason_given(&reason)?;
            let mut tx = app.catalogue.begin().await?;
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
                crate::retention::recompute(&mut tx, &app.policy, *r).await?;
            }
            let mut event = EventDraft::new("hold_released", actor, kind, item);
            event.result = Some(json!({
                "hold": hold.to_string(),
                "reason": reason,
                "retention": {"recomputed": covered.len(), "policy_sha256": app.policy.sha256},
            }));
            tx.append_audit(app.audit.origin(), event).await?;
            tx.commit().await?;
            // Lifted in the store only after the release is committed.
            let free = sync(&app, &covered).await?;
            let v = json!({"hold": hold, "released_recordings": free});
            out.record(&v, || {
                format!(
                    "hold {hold} released; {} recording(s) no longer held",
                    free.len()
                )
            });
        }
        HoldCommand::List { all } => {
            let holds = app.catalogue.holds(all).await?;
            if holds.is_empty() && !out.json() {
                println!("no holds{}", if all { "" } else { " in force" });
            }
            for h in &holds {
                out.record(h, || line(h));
            }
        }
    }
    app.finish().await?;
    Ok(true)
}
