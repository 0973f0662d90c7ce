//! `bwv classify` and `bwv case`: review decisions and the cases footage is evidence in. Every
//! change is written with its audit record in one transaction.

use serde_json::json;
use uuid::Uuid;

use super::output::Output;
use crate::app::App;
use crate::audit::record::{Actor, EventDraft, format_ts};
use crate::cases::{check_reference, check_urn, exhibit_prefix, next_reference, optional_text};
use crate::catalogue::Register;
use crate::catalogue::{CaseRow, NewExhibit};
use crate::cli::CaseCommand;
use crate::domain::Classification;
use crate::error::{Code, Error, Result};
use crate::ingest::check_identifier;

pub async fn classify(
    app: App,
    recording: Uuid,
    classification: &str,
    reason: Option<&str>,
    out: &Output,
) -> Result<bool> {
    let to = Classification::parse(classification)
        .ok_or_else(|| Error::bad_input(format!("unknown classification {classification:?}")))?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if to == Classification::NonEvidential && reason.is_none() {
        return Err(Error::bad_input(
            "making footage non-evidential needs --reason: it may then be deleted",
        ));
    }
    let actor = Actor::user(app.config.actor());
    let mut tx = app.catalogue.begin().await?;
    // Locked and read inside the transaction: a concurrent link or reclassification waits.
    tx.lock_recording(recording).await?;
    tx.ensure_not_purged(recording).await?;
    let (_, _, _, from) = tx.retention_basics(recording).await?;
    if to == Classification::NonEvidential {
        let cases = tx.active_cases_of(recording).await?;
        if !cases.is_empty() {
            return Err(Error::new(
                Code::Conflict,
                format!(
                    "recording {recording} is an exhibit in active case(s) {}: it cannot be made \
                     non-evidential while the case needs it",
                    cases.join(", ")
                ),
            ));
        }
    }
    tx.classify(recording, to, "review", reason, &actor.id)
        .await?;
    let why = format!("classified {}", to.as_str());
    crate::retention::sweep::restore_if_protected(&app, &mut tx, recording, &why, &actor).await?;
    let next = crate::retention::recompute(&mut tx, &app.policy, recording).await?;
    let mut event = EventDraft::new("classification", actor, "recording", recording);
    let mut result = json!({
        "from": from,
        "to": to.as_str(),
        "basis": "review",
        "retention": crate::retention::audited(&next, &app.policy),
    });
    if let Some(reason) = reason {
        result["reason"] = json!(reason);
    }
    event.result = Some(result.clone());
    tx.append_audit(app.audit.origin(), event).await?;
    tx.commit().await?;
    result["recording"] = json!(recording);
    out.record(&result, || {
        format!("recording {recording}: {from} -> {}", to.as_str())
    });
    app.finish().await?;
    Ok(true)
}

fn case_line(c: &CaseRow) -> String {
    let mut s = format!(
        "case {}  {}  status {}  OIC {}  opened {}",
        c.urn,
        c.offence,
        c.status,
        c.oic,
        c.opened_at.format("%Y-%m-%d")
    );
    if let Some(d) = c.sentence_release {
        s.push_str(&format!("  sentence release {}", d.format("%Y-%m-%d")));
    }
    if c.appeal {
        s.push_str("  under appeal");
    }
    s
}

pub async fn run(app: App, cmd: CaseCommand, out: &Output) -> Result<bool> {
    let actor = Actor::user(app.config.actor());
    match cmd {
        CaseCommand::Open { urn, offence, oic } => {
            check_urn(&urn)?;
            check_identifier("officer", &oic)?;
            let offence = offence.trim();
            if offence.is_empty() {
                return Err(Error::bad_input("--offence must not be empty"));
            }
            let mut tx = app.catalogue.begin().await?;
            tx.ensure_registered(Register::Officers, &oic, None, None)
                .await?;
            let case = tx.insert_case(&urn, offence, &oic).await?;
            let mut event = EventDraft::new("case_opened", actor, "case", case.id);
            event.result = Some(json!({"urn": urn, "offence": offence, "oic": oic}));
            tx.append_audit(app.audit.origin(), event).await?;
            tx.commit().await?;
            out.record(&case, || format!("opened {}", case_line(&case)));
        }
        CaseCommand::Link {
            urn,
            recording,
            exhibit,
            unused,
            sensitive,
            description,
            undermines,
        } => {
            if let Some(r) = &exhibit {
                check_reference(r)?;
            }
            let sensitive = optional_text("--sensitive", sensitive, 2000)?;
            let description = optional_text("--description", description, 2000)?;
            let undermines = optional_text("--undermines", undermines, 2000)?;
            let schedule = match (unused, &sensitive) {
                (_, Some(_)) => "sensitive",
                (true, None) => "unused",
                (false, None) => "exhibit",
            };
            let r = app
                .catalogue
                .recording(recording)
                .await?
                .ok_or_else(|| Error::not_found(format!("no recording {recording}")))?;
            let mut tx = app.catalogue.begin().await?;
            let case = tx.case_for_update(&urn).await?;
            tx.lock_recording(recording).await?;
            tx.ensure_not_purged(recording).await?;
            if let Some(existing) = tx.exhibit_of(case.id, recording).await? {
                return Err(Error::new(
                    Code::Conflict,
                    format!("recording {recording} is already exhibit {existing} in case {urn}"),
                ));
            }
            // A recording's audit chain travels whole with every package it is an exhibit in, and
            // names each case it joined: sensitive footage must not share a chain with exhibits.
            let links = tx.links_of(recording).await?;
            if let Some((other, on)) = links
                .iter()
                .find(|(_, on)| schedule == "sensitive" || on == "sensitive")
            {
                let what = if on == "sensitive" {
                    "sensitive material"
                } else {
                    "linked"
                };
                return Err(Error::new(
                    Code::Conflict,
                    format!(
                        "recording {recording} is {what} in case {other}: sensitive footage cannot \
                         be linked to a second case, whose packages would carry its history"
                    ),
                ));
            }
            let (used, top) = tx.exhibit_references(case.id).await?;
            let schedule_item = tx.next_schedule_item(case.id, schedule).await?;
            let reference = match exhibit {
                Some(r) if used.iter().any(|u| u.eq_ignore_ascii_case(&r)) => {
                    return Err(Error::new(
                        Code::Conflict,
                        format!("exhibit reference {r} is already used in case {urn}"),
                    ));
                }
                Some(r) => r,
                // Unused and sensitive material is not produced as an exhibit: it is known by
                // its place on its schedule.
                None if schedule == "unused" => format!("MG6C-{schedule_item}"),
                None if schedule == "sensitive" => format!("MG6D-{schedule_item}"),
                None => {
                    let name = tx.officer_name(&r.officer_id).await?;
                    next_reference(&exhibit_prefix(name.as_deref(), &r.officer_id), &used)
                }
            };
            let item_number = top + 1;
            // Footage joining a held case is held from now on: locked in the store first.
            let held = tx.case_held(case.id).await?;
            if held {
                crate::holds::mirror(&app, &[recording], true).await?;
            }
            tx.insert_exhibit(&NewExhibit {
                case: case.id,
                recording,
                reference: &reference,
                item_number,
                schedule,
                schedule_item,
                description: description.as_deref(),
                sensitivity: sensitive.as_deref(),
                disclosure_note: undermines.as_deref(),
            })
            .await?;
            let why = format!("linked to case {urn}");
            crate::retention::sweep::restore_if_protected(&app, &mut tx, recording, &why, &actor)
                .await?;
            let next = crate::retention::recompute(&mut tx, &app.policy, recording).await?;
            let mut event = EventDraft::new("case_linked", actor.clone(), "recording", recording);
            event.result = Some(json!({
                "case": urn,
                "exhibit": reference,
                "schedule": schedule,
                "retention": crate::retention::audited(&next, &app.policy),
            }));
            tx.append_audit(app.audit.origin(), event).await?;
            let mut event = EventDraft::new("exhibit_added", actor, "case", case.id);
            event.result = Some(json!({
                "recording": recording.to_string(),
                "exhibit": reference,
                "item_number": item_number,
                "schedule": schedule,
            }));
            tx.append_audit(app.audit.origin(), event).await?;
            tx.commit().await?;
            if held {
                crate::holds::sync(&app, &[recording]).await?;
            }
            let v = json!({"case": urn, "recording": recording, "exhibit": reference,
                "item_number": item_number, "schedule": schedule, "schedule_item": schedule_item});
            out.record(&v, || match schedule {
                "exhibit" => format!(
                    "recording {recording} is exhibit {reference} (item {item_number}) in case {urn}"
                ),
                "unused" => format!(
                    "recording {recording} is unused material, MG6C item {schedule_item}, in case {urn}"
                ),
                _ => format!(
                    "recording {recording} is sensitive material, MG6D item {schedule_item}, in \
                     case {urn} (never in a defence-facing package)"
                ),
            });
        }
        CaseCommand::Update {
            urn,
            status,
            sentence_release,
            appeal,
        } => {
            if status.is_none() && sentence_release.is_none() && appeal.is_none() {
                return Err(Error::bad_input(
                    "nothing to update: give --status, --sentence-release or --appeal",
                ));
            }
            let mut tx = app.catalogue.begin().await?;
            let case = tx.case_for_update(&urn).await?;
            let new_status = status.unwrap_or_else(|| case.status.clone());
            let release = sentence_release.or(case.sentence_release);
            let appeal = appeal.map(|a| a == "on").unwrap_or(case.appeal);
            tx.update_case(case.id, &new_status, release, appeal)
                .await?;
            let exhibits = tx.exhibit_recordings(case.id).await?;
            for r in &exhibits {
                crate::retention::recompute(&mut tx, &app.policy, *r).await?;
            }
            let mut event = EventDraft::new("case_updated", actor, "case", case.id);
            let mut result = json!({
                "urn": urn,
                "status": new_status,
                "previous_status": case.status,
                "appeal": appeal,
                "retention": {"recomputed": exhibits.len(), "policy_sha256": app.policy.sha256},
            });
            if let Some(d) = release {
                result["sentence_release"] = json!(format_ts(d));
            }
            event.result = Some(result);
            tx.append_audit(app.audit.origin(), event).await?;
            tx.commit().await?;
            let updated = app
                .catalogue
                .case(&urn)
                .await?
                .ok_or_else(|| Error::not_found(format!("no case {urn}")))?;
            out.record(&updated, || format!("updated {}", case_line(&updated)));
        }
        CaseCommand::Show { urn } => {
            let case = app
                .catalogue
                .case(&urn)
                .await?
                .ok_or_else(|| Error::not_found(format!("no case {urn}")))?;
            let exhibits = app.catalogue.exhibits(case.id).await?;
            let v = json!({"case": case, "exhibits": exhibits});
            out.record(&v, || {
                let mut s = case_line(&case);
                if exhibits.is_empty() {
                    s.push_str("\n  no exhibits");
                }
                for e in &exhibits {
                    s.push_str(&format!(
                        "\n  {:<3} {:<10} {:<9} recording {}  officer {}  recorded {}  {}  {}",
                        e.item_number,
                        e.reference,
                        e.schedule,
                        e.recording_id,
                        e.officer_id,
                        e.recorded_at.format("%Y-%m-%d %H:%M"),
                        e.classification,
                        e.status
                    ));
                }
                s
            });
        }
    }
    app.finish().await?;
    Ok(true)
}
