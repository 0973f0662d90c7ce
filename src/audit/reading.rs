//! The audit log as the auditor reads it: an item's history, a search by actor, event and
//! time, the log's size and signed checkpoint, and a full verification. Only the auditor's role
//! reads it; reading it is not a consultation of footage (the records hold hashes and ids,
//! never pictures or names).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use uuid::Uuid;

use super::record::Record;
use super::verify::{self, Report};
use crate::access::{Permission, Principal};
use crate::catalogue::{LeafQuery, LeafRow};
use crate::context::Context;
use crate::error::{Code, Error, Result};

/// The most records one page of a search holds.
pub const MAX_PAGE: u32 = 1_000;

/// One record as stored, with where it sits in the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub index: i64,
    pub item_seq: i64,
    pub leaf_hash: String,
    pub record: Record,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub records: Vec<Entry>,
    /// Present when there may be more: pass it back as `before`.
    pub next: Option<i64>,
}

/// The log's state: its size and root now, and the latest signed checkpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub origin: String,
    pub verifier_key: String,
    pub size: i64,
    pub root: String,
    pub checkpoint_size: Option<i64>,
    /// The signed note itself, to check with any tlog tool.
    pub checkpoint: Option<String>,
}

fn entry(l: LeafRow) -> Result<Entry> {
    let record = Record::parse(&l.leaf).map_err(|e| {
        Error::new(
            Code::Audit,
            format!("audit record #{} does not parse: {e}", l.idx),
        )
    })?;
    Ok(Entry {
        index: l.idx,
        item_seq: l.item_seq,
        leaf_hash: B64.encode(&l.leaf_hash),
        record,
    })
}

/// Every record about one item, in its chain's order.
pub async fn history(ctx: &Context<'_>, who: &Principal, item: Uuid) -> Result<Vec<Entry>> {
    who.require(Permission::ReadAudit)?;
    let leaves = ctx.catalogue.item_leaves(item).await?;
    if leaves.is_empty() {
        return Err(Error::not_found(format!(
            "no audit records for item {item}"
        )));
    }
    leaves.into_iter().map(entry).collect()
}

pub async fn search(ctx: &Context<'_>, who: &Principal, mut q: LeafQuery) -> Result<Page> {
    who.require(Permission::ReadAudit)?;
    q.limit = q.limit.clamp(1, MAX_PAGE);
    let rows = ctx.catalogue.search_leaves(&q).await?;
    let next = match rows.last() {
        Some(l) if rows.len() == q.limit as usize => Some(l.idx),
        _ => None,
    };
    Ok(Page {
        records: rows.into_iter().map(entry).collect::<Result<_>>()?,
        next,
    })
}

/// Records as CSV for a spreadsheet, one per row, the record's own JSON in the last column so
/// nothing of it is lost; every cell made inert, never a formula.
pub fn csv(records: &[Entry]) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| Error::new(Code::Io, format!("writing CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "index",
        "ts",
        "event",
        "actor",
        "item_kind",
        "item_id",
        "item_seq",
        "leaf_hash",
        "record",
    ])
    .map_err(|e| fail(&e))?;
    for e in records {
        let r = &e.record;
        let cells = [
            e.index.to_string(),
            r.ts.clone(),
            r.event.clone(),
            r.actor.id.clone(),
            r.item.kind.clone(),
            r.item.id.to_string(),
            e.item_seq.to_string(),
            e.leaf_hash.clone(),
            serde_json::to_string(r).map_err(|e| fail(&e))?,
        ];
        w.write_record(cells.iter().map(|c| crate::disclosure::schedules::inert(c)))
            .map_err(|e| fail(&e))?;
    }
    w.into_inner().map_err(|e| fail(&e))
}

pub async fn status(ctx: &Context<'_>, who: &Principal) -> Result<Status> {
    who.require(Permission::ReadAudit)?;
    let state = ctx.catalogue.log_state().await?;
    let latest = ctx.catalogue.latest_checkpoint().await?;
    Ok(Status {
        origin: state.origin,
        verifier_key: ctx.audit.vkey().to_owned(),
        size: state.size,
        root: B64.encode(&state.root),
        checkpoint_size: latest.as_ref().map(|c| c.size),
        checkpoint: latest.map(|c| String::from_utf8_lossy(&c.note).into_owned()),
    })
}

/// Recomputes every record, chain and checkpoint against the log's own key.
pub async fn verify(ctx: &Context<'_>, who: &Principal) -> Result<Report> {
    who.require(Permission::ReadAudit)?;
    verify::verify(
        ctx.catalogue,
        ctx.audit.origin(),
        &ctx.audit.trusted(),
        ctx.audit.last_signed()?,
        |_| {},
    )
    .await
}
