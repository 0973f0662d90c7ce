//! `/api/v1/audit`: the auditor's view of the log, and of who consulted what (DPA 2018 s.62).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::QueryOf;
use crate::audit::reading::{self, Entry, Page, Status};
use crate::audit::verify::Report;
use crate::catalogue::{ConsultationQuery, LeafQuery};
use crate::consultation;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::people::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit/records", get(search))
        .route("/api/v1/audit/items/{id}", get(history))
        .route("/api/v1/audit/status", get(status))
        .route("/api/v1/audit/verify", get(verify))
        .route("/api/v1/audit/consultations", get(consultations))
}

#[derive(Deserialize)]
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

async fn history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<Entry>>> {
    Ok(Json(
        reading::history(&state.app.context(), &caller, id).await?,
    ))
}

async fn status(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<Json<Status>> {
    Ok(Json(reading::status(&state.app.context(), &caller).await?))
}

async fn verify(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<Json<Report>> {
    Ok(Json(reading::verify(&state.app.context(), &caller).await?))
}

#[derive(Deserialize)]
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
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"consultations.csv\"",
                ),
            ],
            consultation::csv(&rows)?,
        )
            .into_response()),
        None | Some("json") => Ok(Json(rows).into_response()),
        Some(other) => Err(crate::error::Error::bad_input(format!(
            "format {other:?}: ask for json or csv"
        ))
        .into()),
    }
}
