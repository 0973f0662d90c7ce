//! Administration over the API: docking stations, the officer register and teams, and which
//! officer record each signed-in person is.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{JsonBody, need};
use crate::access::{Permission, people};
use crate::catalogue::{Dock, OfficerRow, PersonRow, Register};
use crate::docks;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::people::Caller;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/docks", get(list_docks).post(add_dock))
        .route("/api/v1/docks/{name}/secret", post(rotate))
        .route("/api/v1/docks/{name}/revocation", post(revoke))
        .route("/api/v1/officers", get(officers).post(register))
        .route("/api/v1/officers/{id}/team", put(set_team))
        .route("/api/v1/people", get(list_people))
        .route("/api/v1/people/{id}/link", put(link))
}

async fn list_docks(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<Dock>>> {
    need(&caller, Permission::Administer, "list docking stations")?;
    Ok(Json(state.app.catalogue.docks().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DockBody {
    name: String,
}

/// The dock's secret is in the answer this once; only its hash is kept.
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

async fn officers(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<OfficerRow>>> {
    need(&caller, Permission::Administer, "list officers")?;
    Ok(Json(people::officers(&state.app.context(), &caller).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficerBody {
    /// Staff number.
    id: String,
    name: Option<String>,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamBody {
    team: Option<String>,
}

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

async fn list_people(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<PersonRow>>> {
    need(&caller, Permission::Administer, "list people")?;
    Ok(Json(people::list(&state.app.context(), &caller).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    officer: Option<String>,
    team: Option<String>,
}

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
