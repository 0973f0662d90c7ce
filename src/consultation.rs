//! Consultation of footage, as DPA 2018 Part 3 s.62 requires it be logged: who looked at what,
//! when, and why. A person first justifies looking at an item (a reason from the configured
//! list, or a case URN, with free text if they wish); each kind of use under that justification
//! (the details page, playback, a download) is then logged once, so a player's thousand range
//! requests are one consultation. Every door calls these: the API for people, the command line
//! for the machine's operator.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::{Permission, Principal, Via};
use crate::audit::record::EventDraft;
use crate::catalogue::{ConsultationQuery, ConsultationRow, ConsultedRow};
use crate::config::CASE_REASON;
use crate::context::Context;
use crate::domain::{ConsultationUse, ConsultedItem};
use crate::error::{Code, Error, Result};

/// Free text longer than this is refused: a justification, not a statement.
const MAX_DETAIL: usize = 2_000;

/// Why a person wants to look.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Justification {
    /// A reason code from `consultation.reasons`.
    pub reason: Option<String>,
    /// A case URN: a justification on its own.
    pub case: Option<String>,
    /// Free text; kept in the catalogue, its SHA-256 in the audit log.
    pub detail: Option<String>,
}

/// A justification accepted: its id is what later requests for the item present.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Grant {
    pub consultation: Uuid,
    pub item_kind: ConsultedItem,
    pub item_id: Uuid,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// `consulted`: one kind of use of an item under a justification.
#[derive(Debug, Serialize)]
struct Consulted<'a> {
    consultation: Uuid,
    what: ConsultationUse,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    case: Option<&'a str>,
    /// The free text stays in the catalogue, where the Act lets it be corrected; its hash here
    /// shows it was not changed since.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail_sha256: Option<String>,
    via: Via,
}

/// Accepts a justification for looking at an item and returns the grant later uses present.
pub async fn justify(
    ctx: &Context<'_>,
    who: &Principal,
    item_kind: ConsultedItem,
    item_id: Uuid,
    j: Justification,
) -> Result<Grant> {
    match item_kind {
        ConsultedItem::Recording => {
            crate::access::footage::require_recording(
                ctx,
                who,
                Permission::SearchRecordings,
                item_id,
            )
            .await?
        }
        ConsultedItem::Package => {
            who.require(Permission::Disclose)?;
        }
    }
    let (reason, case) = reason_of(ctx, &j).await?;
    let detail = detail_of(j.detail)?;
    let now = crate::domain::now();
    let minutes = i64::try_from(ctx.config.consultation.grant_mins).unwrap_or(i64::MAX / 60_000);
    let row = ConsultationRow {
        id: Uuid::now_v7(),
        item_kind,
        item_id,
        actor: who.actor.id.clone(),
        person_id: who.person,
        reason,
        case_urn: case,
        detail,
        created_at: now,
        expires_at: now + Duration::minutes(minutes),
    };
    let mut tx = ctx.catalogue.begin().await?;
    tx.insert_consultation(&row).await?;
    tx.commit().await?;
    Ok(Grant {
        consultation: row.id,
        item_kind,
        item_id,
        reason: row.reason,
        case: row.case_urn,
        expires_at: row.expires_at,
    })
}

/// Logs one kind of use of an item under a justification, once; refuses without a live
/// justification by the same person for the same item, and refuses footage to those whose role
/// does not reach it.
pub async fn record(
    ctx: &Context<'_>,
    who: &Principal,
    consultation: Option<Uuid>,
    item_kind: ConsultedItem,
    item_id: Uuid,
    what: ConsultationUse,
) -> Result<()> {
    check(ctx, who, consultation, item_kind, item_id, what)
        .await?
        .log(ctx, who)
        .await
}

/// A use found justified and within reach, not yet logged: for a door that first makes sure
/// there is something to show (a refusal shows nothing, so is no use).
pub struct Justified {
    row: ConsultationRow,
    what: ConsultationUse,
}

/// Checks a use as [`record`] does, without logging it yet.
pub async fn check(
    ctx: &Context<'_>,
    who: &Principal,
    consultation: Option<Uuid>,
    item_kind: ConsultedItem,
    item_id: Uuid,
    what: ConsultationUse,
) -> Result<Justified> {
    let Some(id) = consultation else {
        return Err(unjustified(item_id));
    };
    let row = ctx
        .catalogue
        .consultation(id)
        .await?
        .filter(|r| r.actor == who.actor.id && r.item_kind == item_kind && r.item_id == item_id)
        .ok_or_else(|| unjustified(item_id))?;
    if row.expires_at <= crate::domain::now() {
        return Err(Error::new(
            Code::Forbidden,
            format!(
                "the justification for {} {item_id} expired at {}: give it again",
                row.item_kind,
                row.expires_at.to_rfc3339()
            ),
        ));
    }
    if row.item_kind == ConsultedItem::Recording {
        let permission = match what {
            ConsultationUse::Details => Permission::SearchRecordings,
            _ => Permission::ViewFootage,
        };
        crate::access::footage::require_recording(ctx, who, permission, item_id).await?;
    }
    Ok(Justified { row, what })
}

impl Justified {
    /// Appends the `consulted` record, unless this use was already logged under the
    /// justification (a player's next range request, say).
    pub async fn log(self, ctx: &Context<'_>, who: &Principal) -> Result<()> {
        let (row, what) = (self.row, self.what);
        if ctx.catalogue.consultation_used(row.id, what).await? {
            return Ok(());
        }
        let mut tx = ctx.catalogue.begin().await?;
        if tx
            .insert_consultation_use(row.id, what, crate::domain::now())
            .await?
        {
            let event = EventDraft::new(
                "consulted",
                who.actor.clone(),
                row.item_kind.as_str(),
                row.item_id,
            )
            .with_result(&Consulted {
                consultation: row.id,
                what,
                reason: &row.reason,
                case: row.case_urn.as_deref(),
                detail_sha256: row
                    .detail
                    .as_deref()
                    .map(|d| hex::encode(Sha256::digest(d.as_bytes()))),
                via: who.via,
            })?;
            tx.append_audit(ctx.audit.origin(), event).await?;
        }
        tx.commit().await
    }
}

/// Justifies and logs in one step: for the command line, where one command is one use.
pub async fn consult(
    ctx: &Context<'_>,
    who: &Principal,
    item_kind: ConsultedItem,
    item_id: Uuid,
    j: Justification,
    what: ConsultationUse,
) -> Result<Grant> {
    let grant = justify(ctx, who, item_kind, item_id, j).await?;
    record(ctx, who, Some(grant.consultation), item_kind, item_id, what).await?;
    Ok(grant)
}

/// Consultations for the auditor: of one item, by one actor, in a time window.
pub async fn list(
    ctx: &Context<'_>,
    who: &Principal,
    q: &ConsultationQuery,
) -> Result<Vec<ConsultedRow>> {
    who.require(Permission::ReadAudit)?;
    ctx.catalogue.consultations(q).await
}

/// Consultations as CSV for a spreadsheet: free text is made inert, never a formula.
pub fn csv(rows: &[ConsultedRow]) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| Error::new(Code::Io, format!("writing CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "at",
        "what",
        "item_kind",
        "item_id",
        "actor",
        "reason",
        "case",
        "detail",
        "consultation",
    ])
    .map_err(|e| fail(&e))?;
    for r in rows {
        let c = &r.consultation;
        let cells = [
            r.at.to_rfc3339(),
            r.what.to_string(),
            c.item_kind.to_string(),
            c.item_id.to_string(),
            c.actor.clone(),
            c.reason.clone(),
            c.case_urn.clone().unwrap_or_default(),
            c.detail.clone().unwrap_or_default(),
            c.id.to_string(),
        ];
        w.write_record(cells.iter().map(|c| crate::disclosure::schedules::inert(c)))
            .map_err(|e| fail(&e))?;
    }
    w.into_inner().map_err(|e| fail(&e))
}

fn unjustified(item: Uuid) -> Error {
    Error::new(
        Code::Forbidden,
        format!(
            "footage and its details are shown only with a justification (DPA 2018 s.62): give \
             a reason or a case URN for {item} first"
        ),
    )
}

/// The reason recorded: a configured code, or `case` when a case URN (which must exist) is the
/// justification.
async fn reason_of(ctx: &Context<'_>, j: &Justification) -> Result<(String, Option<String>)> {
    let case = match j.case.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(urn) => Some(crate::cases::find(ctx, urn).await?.urn),
        None => None,
    };
    let reasons = &ctx.config.consultation.reasons;
    match j.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(code) if reasons.contains_key(code) => Ok((code.to_owned(), case)),
        Some(code) if code == CASE_REASON && case.is_some() => Ok((code.to_owned(), case)),
        Some(code) => Err(Error::bad_input(format!(
            "{code:?} is not a reason here; give one of {} or a case URN",
            reasons.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
        None if case.is_some() => Ok((CASE_REASON.to_owned(), case)),
        None => Err(Error::bad_input(format!(
            "a justification needs a reason ({}) or a case URN",
            reasons.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn detail_of(detail: Option<String>) -> Result<Option<String>> {
    let Some(d) = detail
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
    else {
        return Ok(None);
    };
    if d.chars().count() > MAX_DETAIL {
        return Err(Error::bad_input(format!(
            "the justification's free text is longer than {MAX_DETAIL} characters"
        )));
    }
    if d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::bad_input(
            "the justification's free text holds control characters",
        ));
    }
    Ok(Some(d))
}
