//! `/api/v1/.../shares`: sharing a kept package with a named recipient by link and passcode,
//! what was done through each share, and revoking one. The recipient's side is the web page the
//! link opens (`/s/<token>`), not this API: a recipient has no account.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{JsonBody, need};
use crate::access::Permission;
use crate::disclosure::shares::{self, Created, NewShare, Shared};
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(list))
        .routes(routes!(revoke))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ShareBody {
    /// A named person: "CPS, lawyer J. Smith".
    recipient: String,
    /// How long the link works, 1 to 90 days (never past the package's removal).
    days: u32,
}

#[utoipa::path(
    post,
    path = "/api/v1/packages/{id}/shares",
    tag = "cases",
    summary = "Share a kept package by link: the link and passcode are in this answer only",
    params(("id" = Uuid, Path)),
    request_body = ShareBody,
    responses((status = 201, description = "done", body = Created), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
    JsonBody(b): JsonBody<ShareBody>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    need(&caller, Permission::Disclose, "share a package")?;
    let mut made = shares::create(
        &state.app.context(),
        &caller,
        NewShare {
            package: id,
            recipient: b.recipient,
            days: b.days,
        },
    )
    .await?;
    made.path = format!("{}{}", state.public_url, made.path);
    Ok((StatusCode::CREATED, Json(made)))
}

#[utoipa::path(
    get,
    path = "/api/v1/cases/{urn}/shares",
    tag = "cases",
    summary = "A case's shares and what was done through each",
    params(("urn" = String, Path)),
    responses((status = 200, description = "done", body = Vec<Shared>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(urn): Path<String>,
) -> ApiResult<Json<Vec<Shared>>> {
    need(&caller, Permission::Disclose, "list a case's shares")?;
    Ok(Json(
        shares::list(&state.app.context(), &caller, &urn).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/shares/{id}/revocation",
    tag = "cases",
    summary = "Revoke a share: its link stops opening at once",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "done", body = Object), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<serde_json::Value>> {
    need(&caller, Permission::Disclose, "revoke a share")?;
    let share = shares::revoke(&state.app.context(), &caller, id).await?;
    Ok(Json(
        serde_json::json!({"share": share.id, "revoked": true}),
    ))
}
