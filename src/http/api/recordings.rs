//! `/api/v1/recordings`: search, a justification before anything is shown, the details page,
//! and the footage itself (played with ranges, or downloaded).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::stream::{self, Disposition};
use super::{JsonBody, QueryOf};
use crate::access::Permission;
use crate::access::footage::require_recording;
use crate::catalogue::RecordingFilter;
use crate::classification::{self, Decision};
use crate::consultation::{self, Grant, Justification};
use crate::domain::{Classification, ConsultedItem, RecordingStatus};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::people::Caller;
use crate::recording::details::{self, Details};
use crate::recording::footage::{self, Wanted};
use crate::recording::search::{self, Page};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/recordings", get(find))
        .route("/api/v1/recordings/{id}", get(show))
        .route("/api/v1/recordings/{id}/consultations", post(justify))
        .route("/api/v1/recordings/{id}/clips/{seq}/{kind}", get(media))
        .route("/api/v1/recordings/{id}/classification", post(classify))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    officer: Option<String>,
    device: Option<String>,
    dock: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    category: Option<String>,
    classification: Option<Classification>,
    status: Option<RecordingStatus>,
    case: Option<String>,
    text: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

async fn find(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryOf(p): QueryOf<SearchParams>,
) -> ApiResult<Json<Page>> {
    let filter = RecordingFilter {
        officer: p.officer,
        device: p.device,
        dock: p.dock,
        from: p.from,
        until: p.until,
        category: p.category,
        classification: p.classification,
        status: p.status,
        case: p.case,
        text: p.text,
    };
    let page = search::search(
        &state.app.context(),
        &caller,
        &filter,
        p.after.as_deref(),
        p.limit.unwrap_or(50),
    )
    .await?;
    Ok(Json(page))
}

async fn justify(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
    JsonBody(j): JsonBody<Justification>,
) -> ApiResult<(StatusCode, Json<Grant>)> {
    let grant = consultation::justify(
        &state.app.context(),
        &caller,
        ConsultedItem::Recording,
        id,
        j,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Consulting {
    consultation: Option<Uuid>,
    #[serde(default)]
    download: bool,
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
    QueryOf(q): QueryOf<Consulting>,
) -> ApiResult<Json<Details>> {
    Ok(Json(
        details::show(&state.app.context(), &caller, id, q.consultation).await?,
    ))
}

async fn media(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, seq, kind)): Path<(Uuid, i64, String)>,
    QueryOf(q): QueryOf<Consulting>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (wanted, disposition) = match kind.as_str() {
        "copy" if q.download => (Wanted::Copy { download: true }, Disposition::Attachment),
        "copy" => (Wanted::Copy { download: false }, Disposition::Inline),
        "poster" => (Wanted::Poster, Disposition::Inline),
        "thumbstrip" => (Wanted::Thumbstrip, Disposition::Inline),
        "original" => (Wanted::Original, Disposition::Attachment),
        other => {
            return Err(crate::error::Error::not_found(format!(
                "no {other:?} of a clip: ask for copy, poster, thumbstrip or original"
            ))
            .into());
        }
    };
    let ctx = state.app.context();
    let f = footage::open(&ctx, &caller, id, seq, wanted, q.consultation).await?;
    Ok(stream::serve(ctx.store, &f, &headers, disposition).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyBody {
    classification: Classification,
    /// Needed to make footage non-evidential (it may then be deleted).
    reason: Option<String>,
}

async fn classify(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
    JsonBody(b): JsonBody<ClassifyBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let ctx = state.app.context();
    require_recording(&ctx, &caller, Permission::Classify, id).await?;
    let done = classification::classify(
        &ctx,
        &caller.actor,
        Decision {
            recording: id,
            to: b.classification,
            reason: b.reason,
        },
    )
    .await?;
    Ok(Json(serde_json::to_value(&done).map_err(|e| {
        crate::error::Error::bad_input(format!("describing the classification: {e}"))
    })?))
}
