//! Review decisions: what footage is (evidential or not), decided by a person with a reason.
//! The decision is recorded with its audit record and the retention answer it leads to.

use serde::Serialize;
use uuid::Uuid;

use crate::access::{Permission, Principal};
use crate::audit::record::{Actor, EventDraft};
use crate::context::Context;
use crate::domain::Classification;
use crate::error::{Code, Error, Result};
use crate::retention::Audited;

/// A person's decision about one recording.
#[derive(Debug, Clone)]
pub struct Decision {
    pub recording: Uuid,
    pub to: Classification,
    pub reason: Option<String>,
}

/// What the decision changed.
#[derive(Debug, Clone, Serialize)]
pub struct Classified<'a> {
    pub recording: Uuid,
    pub from: Classification,
    pub to: Classification,
    pub basis: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub retention: Audited<'a>,
}

/// `classification`: who decided what footage is, from what, on what basis and why, and the
/// retention answer that follows.
#[derive(Debug, Serialize)]
struct ClassificationDecided<'a> {
    from: Classification,
    to: Classification,
    basis: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    retention: &'a Audited<'a>,
}

/// Classifies a recording after review. Making footage non-evidential needs a reason (it may
/// then be deleted) and is refused while the recording is an exhibit in an active case.
pub async fn classify<'a>(ctx: &Context<'a>, actor: &Actor, d: Decision) -> Result<Classified<'a>> {
    let reason = d
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let recording = d.recording;
    if d.to == Classification::NonEvidential && reason.is_none() {
        return Err(Error::bad_input(
            "making footage non-evidential needs a reason: it may then be deleted",
        ));
    }
    let mut tx = ctx.catalogue.begin().await?;
    // Locked and read inside the transaction: a concurrent link or reclassification waits.
    tx.lock_recording(recording).await?;
    tx.ensure_not_purged(recording).await?;
    let (_, _, _, from) = tx.retention_basics(recording).await?;
    if d.to == Classification::NonEvidential {
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
    tx.classify(recording, d.to, "review", reason.as_deref(), &actor.id)
        .await?;
    tx.answer_review_request(recording).await?;
    let why = format!("classified {}", d.to.as_str());
    crate::retention::sweep::restore_if_protected(ctx, &mut tx, recording, &why, actor).await?;
    let next = crate::retention::recompute(&mut tx, ctx.policy, recording).await?;
    let done = Classified {
        recording,
        from,
        to: d.to,
        basis: "review",
        reason,
        retention: crate::retention::audited(&next, ctx.policy),
    };
    let event = EventDraft::new("classification", actor.clone(), "recording", recording)
        .with_result(&ClassificationDecided {
            from: done.from,
            to: done.to,
            basis: done.basis,
            reason: done.reason.as_deref(),
            retention: &done.retention,
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(done)
}

/// `review_requested`: why someone asks for the recording's classification to be reviewed.
#[derive(Debug, Serialize)]
struct ReviewRequested<'a> {
    reason: &'a str,
}

/// Asks a supervisor to review a recording's classification (its officer may, on their own
/// footage): it joins the review queue until someone classifies it.
pub async fn request_review(
    ctx: &Context<'_>,
    who: &Principal,
    recording: Uuid,
    reason: &str,
) -> Result<()> {
    crate::access::footage::require_recording(ctx, who, Permission::SearchRecordings, recording)
        .await?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2_000 {
        return Err(Error::bad_input(
            "say why the recording needs a review (at most 2,000 characters)",
        ));
    }
    let mut tx = ctx.catalogue.begin().await?;
    tx.ensure_not_purged(recording).await?;
    if !tx
        .request_review(recording, &who.actor.id, reason, crate::domain::now())
        .await?
    {
        return Err(Error::new(
            Code::Conflict,
            format!("a review of recording {recording} is already requested"),
        ));
    }
    let event = EventDraft::new(
        "review_requested",
        who.actor.clone(),
        "recording",
        recording,
    )
    .with_result(&ReviewRequested { reason })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await
}
