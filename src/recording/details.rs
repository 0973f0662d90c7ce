//! One recording in full: what the catalogue knows of it and its audit history. Reading it is a
//! consultation (DPA 2018 s.62), so it needs a justification and is logged, whichever door asks.

use serde::Serialize;
use uuid::Uuid;

use crate::access::{Permission, Principal};
use crate::audit::record::Record;
use crate::catalogue::{
    AxisObjectVersion, BookmarkRow, CaseLink, ClassificationRow, DerivativeRow, GnssPoint, HoldRow,
};
use crate::context::Context;
use crate::domain::{ConsultationUse, ConsultedItem, Recording};
use crate::error::{Error, Result};
use crate::registry::{OfficerName, RegisteredBy};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Details {
    pub recording: Recording,
    /// The officer as people read it: staff number, and the force's or the dock's name.
    pub officer: String,
    pub derivatives: Vec<DerivativeRow>,
    pub classifications: Vec<ClassificationRow>,
    pub kept_versions: Vec<AxisObjectVersion>,
    pub bookmarks: Vec<BookmarkRow>,
    /// Where the camera was (GNSS), point by point: personal data like the footage, so only
    /// for those who may watch it; empty when the camera did not say.
    pub track: Vec<GnssPoint>,
    /// The cases it is material in, for those who manage cases (a schedule can say it is
    /// sensitive).
    pub cases: Vec<CaseLink>,
    /// Holds on the recording or its cases, in force or not, for those who place holds or
    /// manage retention: a hold's reason (an IOPC investigation, say) is not the officer's to
    /// read on their own footage.
    pub holds: Vec<HoldRow>,
    pub audit: Vec<Event>,
}

/// One audit record about the recording.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub index: i64,
    pub seq: i64,
    pub event: String,
    pub ts: chrono::DateTime<chrono::Utc>,
    /// Who did it, as the log names them (a person's id, never their name).
    pub actor: Option<String>,
}

/// The recording's details, logged as consulted under `consultation`.
pub async fn show(
    ctx: &Context<'_>,
    who: &Principal,
    id: Uuid,
    consultation: Option<Uuid>,
) -> Result<Details> {
    crate::consultation::record(
        ctx,
        who,
        consultation,
        ConsultedItem::Recording,
        id,
        ConsultationUse::Details,
    )
    .await?;
    let recording = ctx
        .catalogue
        .recording(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no recording {id}")))?;
    let may = |p: Permission| who.require(p).is_ok();
    let may_read_audit = may(Permission::ReadAudit);
    let audit = ctx
        .catalogue
        .item_leaves(id)
        .await?
        .into_iter()
        // Who looked at footage is the auditor's to know, not everyone's who may look.
        .filter(|l| l.event != "consulted" || may_read_audit)
        .map(|l| Event {
            index: l.idx,
            seq: l.item_seq,
            actor: Record::parse(&l.leaf).ok().map(|r| r.actor.id),
            event: l.event,
            ts: l.ts,
        })
        .collect();
    let officer = ctx.catalogue.officer_row(&recording.officer_id).await?;
    let officer = OfficerName {
        id: &recording.officer_id,
        force_name: officer.as_ref().and_then(|o| o.display_name.as_deref()),
        registered_by: match &officer {
            Some(o) => o.registered_by,
            None => RegisteredBy::Dock,
        },
        dock_label: recording.officer_label.as_deref(),
    }
    .display();
    Ok(Details {
        officer,
        derivatives: ctx.catalogue.derivatives(id).await?,
        classifications: ctx.catalogue.classification_history(id).await?,
        kept_versions: ctx.catalogue.axis_object_versions_of(id).await?,
        bookmarks: ctx.catalogue.bookmarks(id).await?,
        track: if may(Permission::ViewFootage) {
            ctx.catalogue.gnss_track(id).await?
        } else {
            Vec::new()
        },
        cases: if may(Permission::ManageCases) {
            ctx.catalogue.case_links(id).await?
        } else {
            Vec::new()
        },
        holds: if may(Permission::ManageHolds) || may(Permission::ManageRetention) {
            ctx.catalogue.holds_on(id).await?
        } else {
            Vec::new()
        },
        audit,
        recording,
    })
}
