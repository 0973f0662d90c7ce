//! `/api/v1/tokens`: a person's own API tokens. Created only from a browser session (a token
//! cannot breed tokens), shown once, listed without their secrets, revoked by id.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::access::tokens::{self, Created, NewToken};
use crate::catalogue::ApiTokenRow;
use crate::domain::Roles;
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::api::JsonBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    label: String,
    roles: Option<Roles>,
    valid_days: Option<u32>,
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "people",
    summary = "Create an API token (from a browser session only); its secret is shown once",
    request_body = CreateBody,
    responses((status = 201, description = "done", body = Created), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let created = tokens::create(
        &state.app.context(),
        &caller,
        NewToken {
            label: body.label,
            roles: body.roles,
            valid_days: body.valid_days,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "people",
    summary = "The caller's API tokens, without their secrets",
    responses((status = 200, description = "done", body = Vec<ApiTokenRow>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<ApiTokenRow>>> {
    Ok(Json(tokens::list(&state.app.context(), &caller).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "people",
    summary = "Revoke one of your API tokens",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "done"), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    tokens::revoke(&state.app.context(), &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
