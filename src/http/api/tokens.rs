//! `/api/v1/tokens`: a person's own API tokens. Created only from a browser session (a token
//! cannot breed tokens), shown once, listed without their secrets, revoked by id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::access::tokens::{self, Created, NewToken};
use crate::catalogue::ApiTokenRow;
use crate::domain::Roles;
use crate::http::AppState;
use crate::http::api::JsonBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{id}", delete(revoke))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    label: String,
    roles: Option<Roles>,
    valid_days: Option<u32>,
}

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

async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<ApiTokenRow>>> {
    Ok(Json(tokens::list(&state.app.context(), &caller).await?))
}

async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    tokens::revoke(&state.app.context(), &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
