//! `/api/v1/retention` and `/api/v1/holds`: plans, approval, sweeps (in the background, with
//! progress), reviews, deletion certificates, and legal holds.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::tasks::TaskView;
use super::{JsonBody, QueryOf, need};
use crate::access::Permission;
use crate::catalogue::{DueRow, HoldRow, PlanRow};
use crate::error::Error;
use crate::holds::{self, Hold, Placed, Released};
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;
use crate::retention::plan::{self, Approved};
use crate::retention::review::{self, Decision, Reviewed};
use crate::retention::sweep::{self, Step, Sweep};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(make_plan))
        .routes(routes!(show_plan))
        .routes(routes!(approve))
        .routes(routes!(run_sweep))
        .routes(routes!(reviews))
        .routes(routes!(decide))
        .routes(routes!(certificate))
        .routes(routes!(list_holds, place))
        .routes(routes!(release))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    /// What is due as of this time (now when absent).
    as_of: Option<DateTime<Utc>>,
}

#[utoipa::path(
    post,
    path = "/api/v1/retention/plans",
    tag = "retention",
    summary = "Record a plan of what is due for deletion or review",
    request_body = PlanBody,
    responses((status = 201, description = "done", body = Object), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn make_plan(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(b): JsonBody<PlanBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    need(
        &caller,
        Permission::ManageRetention,
        "make a retention plan",
    )?;
    let as_of = b.as_of.unwrap_or_else(Utc::now);
    let p = plan::make(&state.app.context(), as_of, &caller.actor, true).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": p.id,
            "as_of": p.as_of,
            "recomputed": p.recomputed,
            "delete": p.deletes(),
            "review": p.reviews(),
            "due": p.due,
        })),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/retention/plans/{id}",
    tag = "retention",
    summary = "A recorded plan",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "done", body = PlanRow), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn show_plan(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<PlanRow>> {
    need(
        &caller,
        Permission::ManageRetention,
        "read a retention plan",
    )?;
    Ok(Json(state.app.catalogue.plan(id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/retention/plans/{id}/approval",
    tag = "retention",
    summary = "Approve a plan: a second person, signed in, not its maker",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "done", body = Approved), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn approve(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Approved>> {
    need(
        &caller,
        Permission::ApproveSweeps,
        "approve a retention plan",
    )?;
    Ok(Json(
        plan::approve(&state.app.context(), &caller, id).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SweepBody {
    /// A recorded plan; without one, a new plan as of `as_of` (refused under two-person
    /// approval, which needs an approved plan).
    plan: Option<Uuid>,
    as_of: Option<DateTime<Utc>>,
}

/// Starts a sweep; poll the task for its progress and counts.
#[utoipa::path(
    post,
    path = "/api/v1/retention/sweeps",
    tag = "retention",
    summary = "Carry out a plan in the background",
    request_body = SweepBody,
    responses((status = 202, description = "done", body = TaskView), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn run_sweep(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(b): JsonBody<SweepBody>,
) -> ApiResult<(StatusCode, Json<TaskView>)> {
    need(
        &caller,
        Permission::ApproveSweeps,
        "carry out a retention sweep",
    )?;
    let actor = caller.actor.clone();
    let st = state.clone();
    let task = state
        .tasks
        .spawn(&caller, "retention-sweep", move |bar| async move {
            let step = |s: Step| match s {
                Step::More(n) => bar.inc_length(n),
                Step::Done => bar.inc(1),
            };
            let request = Sweep {
                plan: b.plan,
                as_of: b.as_of,
            };
            let swept = sweep::run(&st.app.context(), &actor, request, &step).await?;
            Ok(json!({"swept": swept, "outcomes": swept.outcomes}))
        });
    Ok((StatusCode::ACCEPTED, Json(task)))
}

#[utoipa::path(
    get,
    path = "/api/v1/retention/reviews",
    tag = "retention",
    summary = "Recordings waiting for a retention review",
    responses((status = 200, description = "done", body = Vec<DueRow>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn reviews(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<DueRow>>> {
    need(
        &caller,
        Permission::ManageRetention,
        "read the review queue",
    )?;
    Ok(Json(review::queue(&state.app.context()).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DecideBody {
    /// `retain-until` (with `until`), `retain-for-group` (with `group`) or `dispose`.
    decision: String,
    until: Option<DateTime<Utc>>,
    group: Option<String>,
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/retention/reviews/{recording}",
    tag = "retention",
    summary = "Decide a retention review",
    params(("recording" = Uuid, Path)),
    request_body = DecideBody,
    responses((status = 200, description = "done", body = Reviewed), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn decide(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(recording): Path<Uuid>,
    JsonBody(b): JsonBody<DecideBody>,
) -> ApiResult<Json<Reviewed>> {
    need(
        &caller,
        Permission::ManageRetention,
        "decide a retention review",
    )?;
    let decision = match (b.decision.as_str(), b.until, b.group) {
        ("retain-until", Some(t), None) => Decision::RetainUntil(t),
        ("retain-for-group", None, Some(g)) => Decision::Group(g),
        ("dispose", None, None) => Decision::Dispose,
        _ => {
            return Err(Error::bad_input(
                "decision is retain-until (with until), retain-for-group (with group) or dispose",
            )
            .into());
        }
    };
    Ok(Json(
        review::decide(
            &state.app.context(),
            &caller.actor,
            recording,
            decision,
            &b.reason,
        )
        .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/retention/certificates/{recording}",
    tag = "retention",
    summary = "A purged recording's deletion certificate",
    params(("recording" = Uuid, Path)),
    responses((status = 200, description = "done", body = Object), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn certificate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(recording): Path<Uuid>,
) -> ApiResult<Json<Value>> {
    need(
        &caller,
        Permission::ManageRetention,
        "read a deletion certificate",
    )?;
    Ok(Json(
        sweep::certificate(&state.app.context(), recording).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct HoldsParams {
    /// Released and lapsed holds too.
    #[serde(default)]
    all: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/holds",
    tag = "retention",
    summary = "Legal holds in force (all=true: every hold ever placed)",
    params(HoldsParams),
    responses((status = 200, description = "done", body = Vec<HoldRow>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn list_holds(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryOf(p): QueryOf<HoldsParams>,
) -> ApiResult<Json<Vec<HoldRow>>> {
    need(&caller, Permission::ManageHolds, "list legal holds")?;
    Ok(Json(holds::list(&state.app.context(), p.all).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PlaceBody {
    /// A recording id or a case URN.
    target: String,
    reason: String,
    until: Option<DateTime<Utc>>,
}

#[utoipa::path(
    post,
    path = "/api/v1/holds",
    tag = "retention",
    summary = "Place a legal hold on a recording or a case",
    request_body = PlaceBody,
    responses((status = 201, description = "done", body = Placed), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn place(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(b): JsonBody<PlaceBody>,
) -> ApiResult<(StatusCode, Json<Placed>)> {
    need(&caller, Permission::ManageHolds, "place a legal hold")?;
    let placed = holds::place(
        &state.app.context(),
        &caller.actor,
        Hold {
            target: b.target,
            reason: b.reason,
            until: b.until,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(placed)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReleaseBody {
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/holds/{id}/release",
    tag = "retention",
    summary = "Release a legal hold",
    params(("id" = Uuid, Path)),
    request_body = ReleaseBody,
    responses((status = 200, description = "done", body = Released), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn release(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
    JsonBody(b): JsonBody<ReleaseBody>,
) -> ApiResult<Json<Released>> {
    need(&caller, Permission::ManageHolds, "release a legal hold")?;
    Ok(Json(
        holds::release(&state.app.context(), &caller, id, &b.reason).await?,
    ))
}
