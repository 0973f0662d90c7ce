//! Retention, for records managers: what a sweep would do as of a date, plans waiting for a
//! second person's approval, sweeps carried out in the background with progress, the review
//! queue with its decisions, and deletion certificates. Legal holds have their own page.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::form::{Form, Query, day, given};
use super::view::{day as date, when, when_maybe, words};
use super::{Chrome, PageResult, Viewer};
use crate::access::Permission;
use crate::error::Error;
use crate::http::AppState;
use crate::retention::plan;
use crate::retention::review::{self, Decision};
use crate::retention::sweep::{self, Step, Sweep};

/// Rows of a plan shown on the page; the counts cover them all.
const SHOWN: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/retention", get(page))
        .route("/retention/plans", post(make))
        .route("/retention/plans/{id}/approval", post(approve))
        .route("/retention/plans/{id}/sweep", post(run))
        .route("/retention/reviews/{id}", post(decide))
}

pub struct DueLine {
    pub recording: Uuid,
    pub action: String,
    pub rule: String,
    pub due: String,
    pub recorded: String,
    pub classification: String,
}

pub struct PlanLine {
    pub id: Uuid,
    pub as_of: String,
    pub made_by: String,
    pub made: String,
    pub approved_by: Option<String>,
    pub approved: String,
    /// The signed-in person made it, so cannot approve it when two people are required.
    pub mine: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "retention.html")]
struct RetentionPage {
    chrome: Chrome,
    as_of: String,
    deletes: usize,
    reviews: usize,
    due: Vec<DueLine>,
    more: usize,
    plans: Vec<PlanLine>,
    two_person: bool,
    queue: Vec<DueLine>,
    may_approve: bool,
    certificate: Option<String>,
    certificate_for: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RetentionQuery {
    as_of: String,
    certificate: String,
}

fn due_line(d: &crate::catalogue::DueRow) -> DueLine {
    DueLine {
        recording: d.recording_id,
        action: words(d.action.as_str()),
        rule: d.rule.clone(),
        due: when(d.due_at),
        recorded: when(d.recorded_at),
        classification: words(&d.classification),
    }
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<RetentionQuery>,
) -> PageResult<RetentionPage> {
    viewer.who.require(Permission::ManageRetention)?;
    let ctx = state.app.context();
    let as_of = day("as of", &q.as_of, false)?.unwrap_or_else(crate::domain::now);
    let preview = plan::preview(&ctx, &viewer.who, as_of).await?;
    let queue = review::queue(&ctx).await?;
    let me = &viewer.who.actor.id;
    let certificate = match given(&q.certificate) {
        Some(id) => {
            let id = Uuid::parse_str(&id)
                .map_err(|_| Error::bad_input(format!("{id:?} is not a recording id")))?;
            let c = sweep::certificate(&ctx, id).await?;
            Some(serde_json::to_string_pretty(&c).unwrap_or_else(|_| c.to_string()))
        }
        None => None,
    };
    Ok(RetentionPage {
        chrome: viewer.chrome.at("/retention"),
        as_of: date(as_of),
        deletes: preview.deletes(),
        reviews: preview.reviews(),
        more: preview.due.len().saturating_sub(SHOWN),
        due: preview.due.iter().take(SHOWN).map(due_line).collect(),
        plans: plan::open_plans(&ctx, &viewer.who)
            .await?
            .into_iter()
            .map(|p| PlanLine {
                mine: &p.created_by == me,
                id: p.id,
                as_of: when(p.as_of),
                made: when(p.created_at),
                made_by: p.created_by,
                approved: when_maybe(p.approved_at),
                approved_by: p.approved_by,
            })
            .collect(),
        two_person: ctx.config.retention.two_person_approval,
        queue: queue.iter().map(due_line).collect(),
        may_approve: viewer.who.require(Permission::ApproveSweeps).is_ok(),
        certificate,
        certificate_for: q.certificate,
    })
}

#[derive(Deserialize)]
struct MakeForm {
    #[serde(default)]
    as_of: String,
}

async fn make(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<MakeForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ManageRetention)?;
    let as_of = day("as of", &f.as_of, false)?.unwrap_or_else(crate::domain::now);
    let p = plan::make(&state.app.context(), as_of, &viewer.who.actor, true).await?;
    viewer
        .tell(format!(
            "Plan recorded: {} to delete, {} to review. A second person approves it before a sweep.",
            p.deletes(),
            p.reviews()
        ))
        .await?;
    Ok(Redirect::to("/retention"))
}

async fn approve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ApproveSweeps)?;
    plan::approve(&state.app.context(), &viewer.who, id).await?;
    viewer.tell(format!("Plan {id} approved.")).await?;
    Ok(Redirect::to("/retention"))
}

async fn run(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ApproveSweeps)?;
    let actor = viewer.who.actor.clone();
    let st = state.clone();
    let task = state
        .tasks
        .spawn(&viewer.who, "retention-sweep", move |bar| async move {
            let step = |s: Step| match s {
                Step::More(n) => bar.inc_length(n),
                Step::Done => bar.inc(1),
            };
            let request = Sweep {
                plan: Some(id),
                as_of: None,
            };
            let swept = sweep::run(&st.app.context(), &actor, request, &step).await?;
            Ok(json!({"swept": swept}))
        });
    Ok(Redirect::to(&format!("/tasks/{}", task.id)))
}

#[derive(Deserialize)]
struct DecideForm {
    decision: String,
    #[serde(default)]
    until: String,
    reason: String,
}

async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    Form(f): Form<DecideForm>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::ManageRetention)?;
    let decision = match f.decision.as_str() {
        "dispose" => Decision::Dispose,
        "retain-until" => {
            let until: DateTime<Utc> = day("keep until", &f.until, false)?
                .ok_or_else(|| Error::bad_input("give the date to keep it until"))?;
            Decision::RetainUntil(until)
        }
        other => {
            return Err(Error::bad_input(format!(
                "decision {other:?} is not dispose or retain-until"
            ))
            .into());
        }
    };
    review::decide(
        &state.app.context(),
        &viewer.who.actor,
        id,
        decision,
        &f.reason,
    )
    .await?;
    viewer.tell(format!("Review of {id} decided.")).await?;
    Ok(Redirect::to("/retention"))
}
