//! `/api/v1/recordings`: search, a justification before anything is shown, the details page,
//! and the footage itself (played with ranges, or downloaded).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{JsonBody, QueryOf};
use crate::access::Permission;
use crate::access::footage::require_recording;
use crate::catalogue::RecordingFilter;
use crate::classification::{self, Decision};
use crate::consultation::{self, Grant, Justification};
use crate::domain::{Classification, ConsultedItem, Recording, RecordingStatus};
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;
use crate::http::stream::{self, Disposition, Source};
use crate::recording::details::{self, Details};
use crate::recording::footage::{self, Wanted};
use crate::recording::search::{self, Page};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(find))
        .routes(routes!(review_queue))
        .routes(routes!(show))
        .routes(routes!(justify))
        .routes(routes!(media))
        .routes(routes!(classify))
        .routes(routes!(request_review))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

#[utoipa::path(
    get,
    path = "/api/v1/recordings",
    tag = "recordings",
    summary = "Search recordings within your reach, newest first, a page at a time",
    params(SearchParams),
    responses((status = 200, description = "done", body = Page), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/review-queue",
    tag = "recordings",
    summary = "Footage waiting for a classification within your reach: never reviewed, or non-evidential and due for deletion within 7 days; oldest first",
    responses((status = 200, description = "done", body = Vec<Recording>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn review_queue(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<Recording>>> {
    Ok(Json(
        search::review_queue(&state.app.context(), &caller, search::MAX_PAGE).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/recordings/{id}/consultations",
    tag = "recordings",
    summary = "Justify looking at a recording (DPA 2018 s.62): a reason code or a case URN",
    params(("id" = Uuid, Path)),
    request_body = Justification,
    responses((status = 201, description = "done", body = Grant), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Consulting {
    consultation: Option<Uuid>,
    #[serde(default)]
    download: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}",
    tag = "recordings",
    summary = "One recording in full: a consultation, logged under its justification",
    params(("id" = Uuid, Path), Consulting),
    responses((status = 200, description = "done", body = Details), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/clips/{seq}/{kind}",
    tag = "recordings",
    summary = "Footage: the disclosure copy (`copy`), `poster`, `thumbstrip` or `original`; HTTP ranges",
    params(("id" = Uuid, Path), ("seq" = i64, Path), ("kind" = String, Path), Consulting),
    responses((status = 200, description = "the bytes (206 with a Range request)", content_type = "application/octet-stream"), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
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
    Ok(stream::serve(Source::Store(ctx.store), &f, &headers, disposition).await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ClassifyBody {
    classification: Classification,
    /// Needed to make footage non-evidential (it may then be deleted).
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/recordings/{id}/classification",
    tag = "recordings",
    summary = "Classify a recording after review",
    params(("id" = Uuid, Path)),
    request_body = ClassifyBody,
    responses((status = 200, description = "done", body = Object), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    /// Why the classification needs a review.
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/recordings/{id}/review-request",
    tag = "recordings",
    summary = "Ask a supervisor to review a recording's classification (it joins the review queue)",
    params(("id" = Uuid, Path)),
    request_body = ReviewBody,
    responses((status = 201, description = "done", body = Object), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn request_review(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
    JsonBody(b): JsonBody<ReviewBody>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    classification::request_review(&state.app.context(), &caller, id, &b.reason).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"recording": id, "review_requested": true})),
    ))
}
