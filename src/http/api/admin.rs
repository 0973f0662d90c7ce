//! Administration over the API: docking stations, the officer register and teams, and which
//! officer record each signed-in person is.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{JsonBody, need};
use crate::access::{Permission, people};
use crate::catalogue::{Dock, OfficerRow, PersonRow, Register};
use crate::docks;
use crate::http::AppState;
use crate::http::api::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::people::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_docks, add_dock))
        .routes(routes!(rotate))
        .routes(routes!(revoke))
        .routes(routes!(officers, register))
        .routes(routes!(set_team))
        .routes(routes!(list_people))
        .routes(routes!(link))
}

#[utoipa::path(
    get,
    path = "/api/v1/docks",
    tag = "administration",
    summary = "Docking stations",
    responses((status = 200, description = "done", body = Vec<Dock>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn list_docks(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<Dock>>> {
    need(&caller, Permission::Administer, "list docking stations")?;
    Ok(Json(docks::list(&state.app.context(), &caller).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DockBody {
    name: String,
}

/// The dock's secret is in the answer this once; only its hash is kept.
#[utoipa::path(
    post,
    path = "/api/v1/docks",
    tag = "administration",
    summary = "Add a docking station; its secret is in the answer this once",
    request_body = DockBody,
    responses((status = 201, description = "done", body = Object), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn add_dock(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(b): JsonBody<DockBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    need(&caller, Permission::Administer, "add a docking station")?;
    let app = &state.app;
    let (dock, secret) = docks::add(&app.catalogue, &app.audit, &caller.actor, &b.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"dock": dock, "secret": secret})),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/docks/{name}/secret",
    tag = "administration",
    summary = "Issue a dock a new secret",
    params(("name" = String, Path)),
    responses((status = 200, description = "done", body = Object), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn rotate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    need(&caller, Permission::Administer, "rotate a dock's secret")?;
    let app = &state.app;
    let secret = docks::rotate_secret(&app.catalogue, &app.audit, &caller.actor, &name).await?;
    Ok(Json(json!({"dock": name, "secret": secret})))
}

#[utoipa::path(
    post,
    path = "/api/v1/docks/{name}/revocation",
    tag = "administration",
    summary = "Revoke a docking station",
    params(("name" = String, Path)),
    responses((status = 200, description = "done", body = Dock), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Dock>> {
    need(&caller, Permission::Administer, "revoke a docking station")?;
    let app = &state.app;
    Ok(Json(
        docks::revoke(&app.catalogue, &app.audit, &caller.actor, &name).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/officers",
    tag = "administration",
    summary = "The officer register, with teams",
    responses((status = 200, description = "done", body = Vec<OfficerRow>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn officers(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<OfficerRow>>> {
    need(&caller, Permission::Administer, "list officers")?;
    Ok(Json(people::officers(&state.app.context(), &caller).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OfficerBody {
    /// Staff number.
    id: String,
    name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/officers",
    tag = "administration",
    summary = "Register an officer",
    request_body = OfficerBody,
    responses((status = 204, description = "done"), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn register(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(b): JsonBody<OfficerBody>,
) -> ApiResult<StatusCode> {
    need(&caller, Permission::Administer, "register an officer")?;
    crate::registry::register(
        &state.app.context(),
        &caller.actor,
        Register::Officers,
        &b.id,
        b.name.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TeamBody {
    team: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v1/officers/{id}/team",
    tag = "administration",
    summary = "Set an officer's team",
    params(("id" = String, Path)),
    request_body = TeamBody,
    responses((status = 204, description = "done"), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn set_team(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<TeamBody>,
) -> ApiResult<StatusCode> {
    need(&caller, Permission::Administer, "set an officer's team")?;
    people::set_team(&state.app.context(), &caller, &id, b.team.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/people",
    tag = "administration",
    summary = "People who have signed in",
    responses((status = 200, description = "done", body = Vec<PersonRow>), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn list_people(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<PersonRow>>> {
    need(&caller, Permission::Administer, "list people")?;
    Ok(Json(people::list(&state.app.context(), &caller).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    officer: Option<String>,
    team: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v1/people/{id}/link",
    tag = "administration",
    summary = "Link a person to their officer record and team",
    params(("id" = Uuid, Path)),
    request_body = LinkBody,
    responses((status = 200, description = "done", body = PersonRow), (status = "4XX", description = "refused; the code says why", body = ErrorBody))
)]
async fn link(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
    JsonBody(b): JsonBody<LinkBody>,
) -> ApiResult<Json<PersonRow>> {
    need(
        &caller,
        Permission::Administer,
        "link a person to an officer record",
    )?;
    Ok(Json(
        people::link(
            &state.app.context(),
            &caller,
            id,
            b.officer.as_deref(),
            b.team.as_deref(),
        )
        .await?,
    ))
}
