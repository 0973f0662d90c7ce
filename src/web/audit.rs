//! The audit log for professional-standards auditors: records searched by person, item, event
//! and date, who consulted footage and why (DPA 2018 s.62), the log's checkpoint and a full
//! verification, and both lists as CSV.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use uuid::Uuid;

use super::form::{Query, day, given};
use super::view::when;
use super::{Chrome, PageResult, Viewer};
use crate::audit::reading;
use crate::catalogue::{ConsultationQuery, LeafQuery};
use crate::consultation;
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::http::stream::{CSV, attachment};

/// Records on one page; the CSV holds up to the reading's own maximum.
const PAGE: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit", get(page))
        .route("/audit/records.csv", get(records_csv))
        .route("/audit/consultations.csv", get(consultations_csv))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditForm {
    actor: String,
    event: String,
    item: String,
    from: String,
    until: String,
    before: String,
    verify: String,
}

impl AuditForm {
    fn item(&self) -> Result<Option<Uuid>> {
        given(&self.item)
            .map(|i| {
                Uuid::parse_str(&i)
                    .map_err(|_| Error::bad_input(format!("item {i:?} is not an id")))
            })
            .transpose()
    }

    fn records(&self, limit: u32) -> Result<LeafQuery> {
        Ok(LeafQuery {
            actor: given(&self.actor),
            event: given(&self.event),
            item: self.item()?,
            from: day("from", &self.from, false)?,
            until: day("until", &self.until, true)?,
            before: given(&self.before)
                .map(|b| {
                    b.parse().map_err(|_| {
                        Error::bad_input(format!("before {b:?} is not a record index"))
                    })
                })
                .transpose()?,
            limit,
        })
    }

    fn consultations(&self) -> Result<ConsultationQuery> {
        Ok(ConsultationQuery {
            item: self.item()?,
            actor: given(&self.actor),
            from: day("from", &self.from, false)?,
            until: day("until", &self.until, true)?,
            limit: PAGE,
        })
    }

    /// The search's query string, for the CSV links and the next page.
    fn query(&self) -> String {
        [
            ("actor", &self.actor),
            ("event", &self.event),
            ("item", &self.item),
            ("from", &self.from),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v.trim(), NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

pub struct RecordLine {
    pub index: i64,
    pub when: String,
    pub event: String,
    pub actor: String,
    pub item: String,
    pub detail: String,
}

pub struct ConsultLine {
    pub when: String,
    pub what: String,
    pub actor: String,
    pub item: String,
    pub reason: String,
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    form: AuditForm,
    query: String,
    records: Vec<RecordLine>,
    next: Option<String>,
    consultations: Vec<ConsultLine>,
    size: i64,
    root: String,
    checkpoint_size: String,
    verifier_key: String,
    verified: Option<(bool, String)>,
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(form): Query<AuditForm>,
) -> PageResult<AuditPage> {
    let ctx = state.app.context();
    let found = reading::search(&ctx, &viewer.who, form.records(PAGE)?).await?;
    let consulted = consultation::list(&ctx, &viewer.who, &form.consultations()?).await?;
    let status = reading::status(&ctx, &viewer.who).await?;
    let verified = if given(&form.verify).is_some() {
        let r = reading::verify(&ctx, &viewer.who).await?;
        let said = if r.ok {
            format!(
                "Every one of {} records, {} item chains and {} checkpoints verifies.",
                r.records, r.items, r.checkpoints
            )
        } else {
            format!(
                "{} problems found: {}",
                r.problems.len() + r.problems_not_listed,
                r.problems
                    .iter()
                    .map(|p| format!("{p:?}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        Some((r.ok, said))
    } else {
        None
    };
    let query = form.query();
    Ok(AuditPage {
        chrome: viewer.chrome.at("/audit"),
        next: found.next.map(|n| {
            format!(
                "/audit?{query}{}before={n}",
                if query.is_empty() { "" } else { "&" }
            )
        }),
        records: found
            .records
            .iter()
            .map(|e| {
                let r = &e.record;
                RecordLine {
                    index: e.index,
                    when: r.ts.clone(),
                    event: r.event.replace('_', " "),
                    actor: r.actor.id.clone(),
                    item: format!("{} {}", r.item.kind, r.item.id),
                    detail: r.result.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                }
            })
            .collect(),
        consultations: consulted
            .iter()
            .map(|c| ConsultLine {
                when: when(c.at),
                what: c.what.to_string(),
                actor: c.consultation.actor.clone(),
                item: format!("{} {}", c.consultation.item_kind, c.consultation.item_id),
                reason: match &c.consultation.case_urn {
                    Some(urn) => format!("case {urn}"),
                    None => c.consultation.reason.clone(),
                },
                detail: c.consultation.detail.clone().unwrap_or_default(),
            })
            .collect(),
        size: status.size,
        root: status.root,
        checkpoint_size: status
            .checkpoint_size
            .map_or_else(|| "none signed yet".into(), |s| s.to_string()),
        verifier_key: status.verifier_key,
        verified,
        query,
        form,
    })
}

async fn records_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(form): Query<AuditForm>,
) -> PageResult<Response> {
    let found = reading::search(
        &state.app.context(),
        &viewer.who,
        form.records(reading::MAX_PAGE)?,
    )
    .await?;
    Ok(attachment(
        CSV,
        "audit-records.csv",
        reading::csv(&found.records)?.into(),
        None,
    )?)
}

async fn consultations_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(form): Query<AuditForm>,
) -> PageResult<Response> {
    let mut q = form.consultations()?;
    q.limit = 100_000;
    let rows = consultation::list(&state.app.context(), &viewer.who, &q).await?;
    Ok(attachment(
        CSV,
        "consultations.csv",
        consultation::csv(&rows)?.into(),
        None,
    )?)
}
