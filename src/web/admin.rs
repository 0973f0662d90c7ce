//! Docking stations and people, for administrators: docks added, revoked and given their
//! connection file; officers with their teams; the users each dock's controller knows, shown
//! as the Axis specification asks ("Name (UserID)"); cameras; and the people who sign in.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::form::{Form, given};
use super::view::{when, when_maybe};
use super::{Chrome, PageResult, Viewer};
use crate::access::{Permission, people};
use crate::docks;
use crate::http::AppState;
use crate::http::stream::attachment;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/docks", post(add_dock))
        .route("/admin/docks/{name}/revocation", post(revoke_dock))
        .route("/admin/docks/{name}/connection-file", post(connection_file))
        .route("/admin/officers/{id}/team", post(set_team))
}

pub struct DockLine {
    pub name: String,
    pub added: String,
    pub revoked: Option<String>,
}

pub struct OfficerLine {
    pub id: String,
    pub name: String,
    pub team: String,
    pub registered_by: String,
    pub active: bool,
}

pub struct AxisLine {
    pub dock: String,
    /// "Name (UserID)", as the Axis specification recommends showing a user.
    pub shown: String,
    pub officer: String,
    pub active: bool,
}

pub struct PersonLine {
    pub name: String,
    pub roles: String,
    pub officer: String,
    pub team: String,
    pub last: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    docks: Vec<DockLine>,
    officers: Vec<OfficerLine>,
    axis: Vec<AxisLine>,
    cameras: Vec<(String, String, bool)>,
    people: Vec<PersonLine>,
    /// A new dock's secret, shown once.
    secret: Option<(String, String)>,
}

async fn page(State(state): State<AppState>, viewer: Viewer) -> PageResult<AdminPage> {
    render(&state, viewer, None).await
}

async fn render(
    state: &AppState,
    viewer: Viewer,
    secret: Option<(String, String)>,
) -> PageResult<AdminPage> {
    viewer.who.require(Permission::Administer)?;
    let ctx = state.app.context();
    let who = &viewer.who;
    Ok(AdminPage {
        docks: docks::list(&ctx, who)
            .await?
            .into_iter()
            .map(|d| DockLine {
                name: d.name,
                added: when(d.created_at),
                revoked: d.revoked_at.map(when),
            })
            .collect(),
        officers: people::officers(&ctx, who)
            .await?
            .into_iter()
            .map(|o| OfficerLine {
                name: o.display_name.unwrap_or_default(),
                team: o.team.unwrap_or_default(),
                registered_by: o.registered_by.to_string(),
                active: o.active,
                id: o.id,
            })
            .collect(),
        axis: people::axis_users(&ctx, who)
            .await?
            .into_iter()
            .map(|(dock, u)| AxisLine {
                dock,
                shown: match (u.name.as_deref(), u.user_id.as_deref()) {
                    (Some(n), Some(id)) => format!("{n} ({id})"),
                    (Some(n), None) => n.to_owned(),
                    (None, Some(id)) => format!("({id})"),
                    (None, None) => u.uuid.clone(),
                },
                officer: u.officer_id.unwrap_or_else(|| "not mapped".into()),
                active: u.active,
            })
            .collect(),
        cameras: people::devices(&ctx, who)
            .await?
            .into_iter()
            .map(|d| (d.serial, d.model.unwrap_or_default(), d.active))
            .collect(),
        people: people::list(&ctx, who)
            .await?
            .into_iter()
            .map(|p| PersonLine {
                name: p.name.unwrap_or_else(|| p.subject.clone()),
                roles: p.roles.to_string(),
                officer: p.officer_id.unwrap_or_default(),
                team: p.team.unwrap_or_default(),
                last: when_maybe(p.last_sign_in),
            })
            .collect(),
        chrome: viewer.chrome.at("/admin"),
        secret,
    })
}

#[derive(Deserialize)]
struct DockForm {
    name: String,
}

async fn add_dock(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<DockForm>,
) -> PageResult<AdminPage> {
    viewer.who.require(Permission::Administer)?;
    let app = &state.app;
    let (dock, secret) =
        docks::add(&app.catalogue, &app.audit, &viewer.who.actor, f.name.trim()).await?;
    // Shown on this response only: the page is not cached, and the secret is kept nowhere.
    render(&state, viewer, Some((dock.name, secret))).await
}

async fn revoke_dock(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> PageResult<Redirect> {
    viewer.who.require(Permission::Administer)?;
    let app = &state.app;
    docks::revoke(&app.catalogue, &app.audit, &viewer.who.actor, &name).await?;
    viewer
        .tell(format!(
            "Dock {name} revoked: its secret and tokens no longer work."
        ))
        .await?;
    Ok(Redirect::to("/admin"))
}

async fn connection_file(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> PageResult<Response> {
    viewer.who.require(Permission::Administer)?;
    let text =
        docks::connection_file(&state.app, &viewer.who.actor, &name, &state.public_url).await?;
    Ok(attachment(
        "application/json",
        &format!("{name}.connection.json"),
        text.into(),
        None,
    )?)
}

#[derive(Deserialize)]
struct TeamForm {
    #[serde(default)]
    team: String,
}

async fn set_team(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<TeamForm>,
) -> PageResult<Redirect> {
    let team = given(&f.team);
    people::set_team(&state.app.context(), &viewer.who, &id, team.as_deref()).await?;
    viewer.tell(format!("Officer {id}'s team set.")).await?;
    Ok(Redirect::to("/admin"))
}
