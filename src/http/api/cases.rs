//! `/api/v1/cases`: cases, their exhibits and schedules, and disclosure packages built in the
//! background and then downloaded.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::tasks::TaskView;
use super::{JsonBody, need};
use crate::access::Permission;
use crate::cases::{self, CaseFile, Link, Linked, NewCase, Progress, Schedule};
use crate::catalogue::CaseRow;
use crate::disclosure::drafts;
use crate::disclosure::kept::{self, Order};
use crate::domain::CaseStatus;
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;
use crate::http::stream::{CSV, attachment};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open))
        .routes(routes!(show, update))
        .routes(routes!(link))
        .routes(routes!(schedule))
        .routes(routes!(package))
        .routes(routes!(download))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    urn: String,
    offence: String,
    /// The officer in the case (staff number).
    oic: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases",
    tag = "cases",
    summary = "Open a case",
    request_body = OpenBody,
    responses((status = 201, description = "done", body = CaseRow), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn open(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(b): JsonBody<OpenBody>,
) -> ApiResult<(StatusCode, Json<CaseRow>)> {
    need(&caller, Permission::ManageCases, "open a case")?;
    let case = cases::open(
        &state.app.context(),
        &caller.actor,
        NewCase {
            urn: b.urn,
            offence: b.offence,
            oic: b.oic,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(case)))
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{urn}",
    tag = "cases",
    summary = "A case with its material and schedules",
    params(("urn" = String, Path)),
    responses((status = 200, description = "done", body = CaseFile), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(urn): Path<String>,
) -> ApiResult<Json<CaseFile>> {
    need(&caller, Permission::ManageCases, "show a case")?;
    Ok(Json(cases::show(&state.app.context(), &urn).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: Option<CaseStatus>,
    sentence_release: Option<DateTime<Utc>>,
    appeal: Option<bool>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/cases/{urn}",
    tag = "cases",
    summary = "Record a case's progress; its exhibits' retention follows",
    params(("urn" = String, Path)),
    request_body = UpdateBody,
    responses((status = 200, description = "done", body = CaseRow), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(urn): Path<String>,
    JsonBody(b): JsonBody<UpdateBody>,
) -> ApiResult<Json<CaseRow>> {
    need(&caller, Permission::ManageCases, "update a case")?;
    let progress = Progress {
        status: b.status,
        sentence_release: b.sentence_release,
        appeal: b.appeal,
    };
    Ok(Json(
        cases::update(&state.app.context(), &caller.actor, &urn, progress).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    recording: Uuid,
    /// `exhibit` (the default), `unused` (MG6C) or `sensitive` (MG6D, with `sensitivity`).
    schedule: Option<Schedule>,
    /// The exhibit reference (`AB/1`); the next free one when absent.
    reference: Option<String>,
    sensitivity: Option<String>,
    description: Option<String>,
    /// Why it may undermine the prosecution or assist the defence (MG6E).
    undermines: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/cases/{urn}/exhibits",
    tag = "cases",
    summary = "Put a recording on a schedule of the case",
    params(("urn" = String, Path)),
    request_body = LinkBody,
    responses((status = 201, description = "done", body = Linked), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn link(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(urn): Path<String>,
    JsonBody(b): JsonBody<LinkBody>,
) -> ApiResult<(StatusCode, Json<Linked>)> {
    need(&caller, Permission::ManageCases, "link footage to a case")?;
    let text = |flag: &str, v| cases::optional_text(flag, v, 2000);
    let link = Link {
        urn,
        recording: b.recording,
        schedule: b.schedule.unwrap_or(Schedule::Exhibit),
        reference: b.reference,
        sensitivity: text("sensitivity", b.sensitivity)?,
        description: text("description", b.description)?,
        undermines: text("undermines", b.undermines)?,
    };
    let linked = cases::link(&state.app.context(), &caller.actor, link).await?;
    Ok((StatusCode::CREATED, Json(linked)))
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{urn}/schedules/{form}",
    tag = "cases",
    summary = "A schedule of the case as it stands, as CSV: mg6c, mg6d, mg6e or mg6e-sensitive",
    params(("urn" = String, Path), ("form" = String, Path)),
    responses((status = 200, description = "the schedule", content_type = "text/csv"), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn schedule(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((urn, form)): Path<(String, String)>,
) -> ApiResult<Response> {
    need(&caller, Permission::ManageCases, "read a case's schedules")?;
    let csv = drafts::schedule_csv(&state.app.context(), &urn, &form).await?;
    Ok(attachment(
        CSV,
        &format!("{urn}-{form}.csv"),
        Body::from(csv),
        None,
    )?)
}

/// Starts building a package; poll the task, then download the package it names.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{urn}/packages",
    tag = "cases",
    summary = "Build a disclosure package in the background",
    params(("urn" = String, Path)),
    request_body = Order,
    responses((status = 202, description = "done", body = TaskView), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn package(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(urn): Path<String>,
    JsonBody(order): JsonBody<Order>,
) -> ApiResult<(StatusCode, Json<TaskView>)> {
    need(&caller, Permission::Disclose, "build a disclosure package")?;
    let who = caller.clone();
    let st = state.clone();
    let task = state
        .tasks
        .spawn(&caller, "disclosure-package", move |bar| async move {
            let kept = kept::build(&st.app.context(), &who, &urn, order, &bar).await?;
            serde_json::to_value(&kept)
                .map_err(|e| crate::error::Error::bad_input(format!("describing the package: {e}")))
        });
    Ok((StatusCode::ACCEPTED, Json(task)))
}

#[utoipa::path(
    get,
    path = "/api/v1/packages/{id}/download",
    tag = "cases",
    summary = "Download a package built here (logged as a consultation under its case)",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "the package", content_type = "application/zip"), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn download(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    need(
        &caller,
        Permission::Disclose,
        "download a disclosure package",
    )?;
    let (k, path) = kept::download(&state.app.context(), &caller, id).await?;
    Ok(crate::http::stream::package_zip(&k, &path).await?)
}
