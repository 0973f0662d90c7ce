//! `/api/v1/audit`: the auditor's view of the log, and of who consulted what (DPA 2018 s.62).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::QueryOf;
use crate::audit::reading::{self, Entry, Page, Status};
use crate::audit::verify::Report;
use crate::catalogue::{ConsultationQuery, ConsultedRow, LeafQuery};
use crate::consultation;
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;
use crate::http::stream::{CSV, attachment};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(history))
        .routes(routes!(status))
        .routes(routes!(verify))
        .routes(routes!(consultations))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    actor: Option<String>,
    event: Option<String>,
    item: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    before: Option<i64>,
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/records",
    tag = "audit",
    summary = "Search the audit log by actor, event, item and time, newest first",
    params(SearchParams),
    responses((status = 200, description = "done", body = Page), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn search(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryOf(p): QueryOf<SearchParams>,
) -> ApiResult<Json<Page>> {
    let q = LeafQuery {
        actor: p.actor,
        event: p.event,
        item: p.item,
        from: p.from,
        until: p.until,
        before: p.before,
        limit: p.limit.unwrap_or(100),
    };
    Ok(Json(
        reading::search(&state.app.context(), &caller, q).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/items/{id}",
    tag = "audit",
    summary = "One item's audit history, in its chain's order",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "done", body = Vec<Entry>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Entry>>> {
    Ok(Json(
        reading::history(&state.app.context(), &caller, id).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/status",
    tag = "audit",
    summary = "The log's size, root and latest signed checkpoint",
    responses((status = 200, description = "done", body = Status), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn status(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<Json<Status>> {
    Ok(Json(reading::status(&state.app.context(), &caller).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    summary = "Verify every record, chain and checkpoint",
    responses((status = 200, description = "done", body = Report), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn verify(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<Json<Report>> {
    Ok(Json(reading::verify(&state.app.context(), &caller).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ConsultationParams {
    item: Option<Uuid>,
    actor: Option<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<u32>,
    /// `csv` for a spreadsheet; JSON otherwise.
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/consultations",
    tag = "audit",
    summary = "Who consulted what, when and why (JSON, or CSV with format=csv)",
    params(ConsultationParams),
    responses((status = 200, description = "done", body = Vec<ConsultedRow>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn consultations(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryOf(p): QueryOf<ConsultationParams>,
) -> ApiResult<Response> {
    let q = ConsultationQuery {
        item: p.item,
        actor: p.actor,
        from: p.from,
        until: p.until,
        limit: p.limit.unwrap_or(1_000).clamp(1, 100_000),
    };
    let rows = consultation::list(&state.app.context(), &caller, &q).await?;
    match p.format.as_deref() {
        Some("csv") => Ok(attachment(
            CSV,
            "consultations.csv",
            consultation::csv(&rows)?.into(),
            None,
        )?),
        None | Some("json") => Ok(Json(rows).into_response()),
        Some(other) => Err(crate::error::Error::bad_input(format!(
            "format {other:?}: ask for json or csv"
        ))
        .into()),
    }
}
